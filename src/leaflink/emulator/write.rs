//! The emulator's writes, as `../shared/B2B-API.md` §4 describes them: an order
//! read and patched (`delivery_info`, notes; `status` is not writable), its status
//! moved by `transition/{action}/` along LeafLink's state machine (an illegal move is
//! a DRF 400), and a line item read and patched (`is_packed`, `packed_at`, `notes`,
//! ...; `package_tags` is read-only and ignored, as DRF ignores read-only fields).
//! Every write is recorded, and bumps the order's `modified`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Emulator, detail, now};

/// One write the emulator received.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Write {
    pub method: String,
    pub path: String,
    pub body: Value,
    /// The answer's status.
    pub status: u16,
}

/// A line item's writable fields (LineItemUpdate).
const LINE_WRITABLE: [&str; 10] = [
    "ordered_unit_price",
    "quantity",
    "notes",
    "is_sample",
    "sale_price",
    "is_packed",
    "packed_at",
    "packed_by",
    "position",
    "batch",
];

/// An order's writable fields (OrderUpdate, the ones tagtally might touch and a few
/// more; `status` and `line_items` are not among them).
const ORDER_WRITABLE: [&str; 9] = [
    "ship_date",
    "shipping_details",
    "notes",
    "internal_notes",
    "delivery_preferences",
    "delivery_info",
    "external_ids",
    "delivery_provider",
    "paid",
];

/// LeafLink's state machine (B2B-API.md §4c): from a status, an action, the target.
fn transition_of(status: &str, action: &str) -> Option<&'static str> {
    Some(match (status.to_ascii_lowercase().as_str(), action) {
        ("draft", "submit") => "Submitted",
        ("submitted" | "backorder", "accept") => "Accepted",
        ("submitted" | "backorder" | "accepted", "reject") => "Rejected",
        ("submitted", "cancel") => "Cancelled",
        ("accepted", "fulfill") => "Fulfilled",
        ("fulfilled", "ship") => "Shipped",
        ("shipped", "complete") => "Complete",
        _ => return None,
    })
}

fn available(status: &str) -> Vec<&'static str> {
    [
        "submit", "accept", "reject", "cancel", "fulfill", "ship", "complete",
    ]
    .into_iter()
    .filter_map(|a| transition_of(status, a))
    .map(|t| match t {
        "Submitted" => "submitted",
        "Accepted" => "accepted",
        "Rejected" => "rejected",
        "Cancelled" => "cancelled",
        "Fulfilled" => "fulfilled",
        "Shipped" => "shipped",
        _ => "complete",
    })
    .collect()
}

fn with_transitions(mut o: Value) -> Value {
    let status = o["status"].as_str().unwrap_or("").to_string();
    o["available_transitions"] = json!(available(&status));
    o
}

impl Emulator {
    fn record(&self, method: &str, path: &str, body: Value, status: StatusCode) {
        self.writes.lock().expect("lock").push(Write {
            method: method.into(),
            path: path.into(),
            body,
            status: status.as_u16(),
        });
    }

    fn refused(&self, target: &str) -> Option<String> {
        self.refuse.lock().expect("lock").get(target).cloned()
    }
}

async fn answer(stall: Option<std::time::Duration>, r: Response) -> Response {
    if let Some(d) = stall {
        tokio::time::sleep(d).await;
    }
    r
}

fn body_object(body: &Bytes) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(detail(
            StatusCode::BAD_REQUEST,
            "Invalid data. Expected a dictionary.",
        )),
        Err(e) => Err(detail(
            StatusCode::BAD_REQUEST,
            &format!("JSON parse error - {e}"),
        )),
    }
}

pub(super) async fn order(
    State(emu): State<Arc<Emulator>>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> Response {
    let stall = match emu.gate(&headers, &format!("/api/v2/orders-received/{number}/")) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let r = match emu.order(&number) {
        Some(o) => axum::Json(with_transitions(o)).into_response(),
        None => detail(StatusCode::NOT_FOUND, "Not found."),
    };
    answer(stall, r).await
}

pub(super) async fn patch_order(
    State(emu): State<Arc<Emulator>>,
    Path(number): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/api/v2/orders-received/{number}/");
    let stall = match emu.gate(&headers, &path) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let fields = match body_object(&body) {
        Ok(f) => f,
        Err(r) => {
            emu.record("PATCH", &path, sent, r.status());
            return r;
        }
    };
    let r = if let Some(m) = emu.refused(&number) {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"non_field_errors": [m]})),
        )
            .into_response()
    } else {
        let mut orders = emu.orders.lock().expect("lock");
        match orders.iter_mut().find(|o| o["number"] == number.as_str()) {
            None => detail(StatusCode::NOT_FOUND, "Not found."),
            Some(o) => {
                for (k, v) in fields {
                    if ORDER_WRITABLE.contains(&k.as_str()) {
                        o[k.as_str()] = v;
                    }
                }
                o["modified"] = json!(now());
                axum::Json(with_transitions(o.clone())).into_response()
            }
        }
    };
    emu.record("PATCH", &path, sent, r.status());
    answer(stall, r).await
}

pub(super) async fn transition(
    State(emu): State<Arc<Emulator>>,
    Path((number, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/api/v2/orders-received/{number}/transition/{action}/");
    let stall = match emu.gate(&headers, &path) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let r = if let Some(m) = emu.refused(&number) {
        detail(StatusCode::BAD_REQUEST, &m)
    } else {
        let mut orders = emu.orders.lock().expect("lock");
        match orders.iter_mut().find(|o| o["number"] == number.as_str()) {
            None => detail(StatusCode::NOT_FOUND, "Not found."),
            Some(o) => {
                let status = o["status"].as_str().unwrap_or("").to_string();
                match transition_of(&status, &action) {
                    Some(to) => {
                        o["status"] = json!(to);
                        o["modified"] = json!(now());
                        axum::Json(with_transitions(o.clone())).into_response()
                    }
                    None => detail(
                        StatusCode::BAD_REQUEST,
                        &format!("Cannot {action} an order that is {status}."),
                    ),
                }
            }
        }
    };
    emu.record("POST", &path, Value::Null, r.status());
    answer(stall, r).await
}

fn find_line<'a>(orders: &'a mut [Value], id: &str) -> Option<(&'a mut Value, usize)> {
    orders.iter_mut().find_map(|o| {
        let i = o["line_items"].as_array()?.iter().position(|l| {
            l["id"].as_i64().map(|n| n.to_string()).as_deref() == Some(id)
                || l["id"].as_str() == Some(id)
        })?;
        Some((o, i))
    })
}

pub(super) async fn line_item(
    State(emu): State<Arc<Emulator>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let stall = match emu.gate(&headers, &format!("/api/v2/line-items/{id}/")) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let r = {
        let mut orders = emu.orders.lock().expect("lock");
        match find_line(&mut orders, &id) {
            Some((o, i)) => axum::Json(o["line_items"][i].clone()).into_response(),
            None => detail(StatusCode::NOT_FOUND, "Not found."),
        }
    };
    answer(stall, r).await
}

pub(super) async fn patch_line_item(
    State(emu): State<Arc<Emulator>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/api/v2/line-items/{id}/");
    let stall = match emu.gate(&headers, &path) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let fields = match body_object(&body) {
        Ok(f) => f,
        Err(r) => {
            emu.record("PATCH", &path, sent, r.status());
            return r;
        }
    };
    let r = if let Some(m) = emu.refused(&id) {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"is_packed": [m]})),
        )
            .into_response()
    } else if fields
        .get("is_packed")
        .is_some_and(|v| !v.is_boolean() && !v.is_null())
    {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"is_packed": ["Must be a valid boolean."]})),
        )
            .into_response()
    } else {
        let mut orders = emu.orders.lock().expect("lock");
        match find_line(&mut orders, &id) {
            None => detail(StatusCode::NOT_FOUND, "Not found."),
            Some((o, i)) => {
                let line = &mut o["line_items"][i];
                for (k, v) in fields {
                    if LINE_WRITABLE.contains(&k.as_str()) {
                        line[k.as_str()] = v;
                    }
                }
                let line = line.clone();
                o["modified"] = json!(now());
                axum::Json(line).into_response()
            }
        }
    };
    emu.record("PATCH", &path, sent, r.status());
    answer(stall, r).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine_goes_forward_only() {
        assert_eq!(transition_of("Accepted", "fulfill"), Some("Fulfilled"));
        assert_eq!(transition_of("Fulfilled", "ship"), Some("Shipped"));
        assert_eq!(transition_of("Shipped", "complete"), Some("Complete"));
        assert_eq!(transition_of("Fulfilled", "fulfill"), None);
        assert_eq!(transition_of("Complete", "ship"), None);
        assert_eq!(transition_of("Cancelled", "fulfill"), None);
        assert_eq!(available("Accepted"), vec!["rejected", "fulfilled"]);
    }
}

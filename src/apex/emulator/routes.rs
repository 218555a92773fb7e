//! The emulator's handlers, one a route: each passes [`Emulator::gate`] first.

// A refusal is the answer itself, as axum handlers write it.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Value, json};

use super::{Emulator, Write, answer, invalid, login_page, message, now};
use crate::import::apex::int;

/// Anything else: the web app's page outside `/api`, Apex's 404 inside it.
pub(super) async fn fallback(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        return message(StatusCode::NOT_FOUND, "Resource Not Found");
    }
    login_page()
}

fn path_of(req_path: &str, q: &[(String, String)]) -> String {
    let mut url = reqwest::Url::parse("http://emulator").expect("a URL");
    url.set_path(req_path);
    if !q.is_empty() {
        url.query_pairs_mut().extend_pairs(q);
    }
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    }
}

fn time_of(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|t| t.and_utc())
        })
        .or_else(|| {
            s.parse::<NaiveDate>()
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
}

pub(super) async fn welcome(State(emu): State<Arc<Emulator>>, headers: HeaderMap) -> Response {
    let rate = match emu.gate(&headers, "/api/v1/welcome".into()).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let access = emu.abilities.lock().expect("lock").clone();
    answer(
        rate,
        StatusCode::OK,
        json!({"name": "tagtally emulator token", "api-version": "v1", "access": access}),
    )
    .await
}

pub(super) async fn shipping_orders(
    State(emu): State<Arc<Emulator>>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let path = "/api/v1/shipping-orders";
    let rate = match emu.gate(&headers, path_of(path, &q)).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    if !emu.has("view:shipping-orders") {
        return message(StatusCode::FORBIDDEN, "This action is unauthorized.");
    }
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(from) = get("updated_at_from").filter(|f| !f.trim().is_empty()) else {
        return invalid("updated_at_from", "The updated at from field is required.");
    };
    let Some(from) = time_of(from) else {
        return invalid(
            "updated_at_from",
            "The updated at from field must be a valid date.",
        );
    };
    let per_page = match get("per_page").map(|p| p.trim().parse::<usize>()) {
        None => 15,
        Some(Ok(n)) if (1..=500).contains(&n) => n,
        Some(Ok(n)) if n > 500 => {
            return invalid(
                "per_page",
                "The per page field must not be greater than 500.",
            );
        }
        Some(_) => return invalid("per_page", "The per page field must be at least 1."),
    };
    let page = match get("page").map(|p| p.trim().parse::<usize>()) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => return invalid("page", "The page field must be at least 1."),
    };
    let with_items = get("with_items").is_some_and(|w| matches!(w, "true" | "1"));
    let (orders, total) = {
        let all = emu.orders.lock().expect("lock");
        let mut matching: Vec<&Value> = all
            .iter()
            .filter(|o| {
                o["updated_at"]
                    .as_str()
                    .and_then(time_of)
                    .is_some_and(|t| t >= from)
            })
            .collect();
        matching.sort_by_key(|o| (o["updated_at"].as_str().and_then(time_of), int(&o["id"])));
        let total = matching.len();
        let page: Vec<Value> = matching
            .into_iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|o| {
                let mut o = o.clone();
                if !with_items && let Value::Object(m) = &mut o {
                    m.remove("items");
                }
                o
            })
            .collect();
        (page, total)
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let base = format!("http://{host}{path}");
    let link = |n: usize| {
        let mut params: Vec<(String, String)> =
            q.iter().filter(|(k, _)| k != "page").cloned().collect();
        params.push(("page".into(), n.to_string()));
        let mut url = reqwest::Url::parse(&base).expect("a URL");
        url.query_pairs_mut().extend_pairs(params);
        url.to_string()
    };
    let last = total.div_ceil(per_page).max(1);
    let from_n = (!orders.is_empty()).then(|| (page - 1) * per_page + 1);
    let to_n = from_n.map(|f| f + orders.len() - 1);
    let links_list: Vec<Value> = (1..=last)
        .map(|n| json!({"url": link(n), "label": n.to_string(), "active": n == page}))
        .collect();
    answer(
        rate,
        StatusCode::OK,
        json!({
            "orders": orders,
            "links": {"first": link(1), "last": link(last),
                      "prev": (page > 1).then(|| link(page - 1)),
                      "next": (page < last).then(|| link(page + 1))},
            "meta": {"current_page": page, "from": from_n, "last_page": last, "links": links_list,
                     "path": base, "per_page": per_page, "to": to_n, "total": total}
        }),
    )
    .await
}

pub(super) async fn shipping_order(
    State(emu): State<Arc<Emulator>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let rate = match emu
        .gate(&headers, format!("/api/v1/shipping-orders/{id}"))
        .await
    {
        Ok(r) => r,
        Err(r) => return r,
    };
    if !emu.has("view:shipping-orders") {
        return message(StatusCode::FORBIDDEN, "This action is unauthorized.");
    }
    match id.parse::<i64>().ok().and_then(|id| emu.order(id)) {
        Some(o) => answer(rate, StatusCode::OK, json!({"order": o})).await,
        None => message(StatusCode::NOT_FOUND, "Order not found"),
    }
}

pub(super) async fn put_shipping_order(
    State(emu): State<Arc<Emulator>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rate = match emu
        .gate(&headers, format!("PUT /api/v1/shipping-orders/{id}"))
        .await
    {
        Ok(r) => r,
        Err(r) => return r,
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let order_id = id.parse::<i64>().unwrap_or(-1);
    let (status, response) = put_status(&emu, order_id, &body);
    emu.writes.lock().expect("lock").push(Write {
        order_id,
        body,
        status: status.as_u16(),
    });
    match status {
        StatusCode::OK => answer(rate, status, response).await,
        _ => (status, axum::Json(response)).into_response(),
    }
}

/// What the PUT does and answers.
fn put_status(emu: &Emulator, id: i64, body: &Value) -> (StatusCode, Value) {
    if !emu.has("update:shipping-orders") {
        return (
            StatusCode::FORBIDDEN,
            json!({"message": "This action is unauthorized."}),
        );
    }
    let Some(status_id) = body.get("order_status_id").and_then(int) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": "The given data was invalid.",
                   "errors": {"order_status_id": ["The order status id field is required."]}}),
        );
    };
    let mut orders = emu.orders.lock().expect("lock");
    let Some(o) = orders.iter_mut().find(|o| o["id"] == id) else {
        return (StatusCode::NOT_FOUND, json!({"message": "Order not found"}));
    };
    let flow = o.get("deal_flow_id").and_then(int).unwrap_or(7);
    let Some(status) = emu.status_in_flow(flow, status_id) else {
        return (
            StatusCode::BAD_REQUEST,
            json!({"error": format!(
                "The order status {status_id} does not belong to this order's deal flow."
            )}),
        );
    };
    o["order_status_id"] = json!(status_id);
    o["order_status"] = status;
    o["updated_at"] = json!(now());
    (StatusCode::OK, json!({"order": o.clone()}))
}

pub(super) async fn deal_flows(
    State(emu): State<Arc<Emulator>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let rate = match emu.gate(&headers, "/api/v1/deal-flows".into()).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let with = q
        .get("with_order_statuses")
        .is_some_and(|w| matches!(w.as_str(), "true" | "1"));
    let flows: Vec<Value> = emu
        .flows
        .iter()
        .map(|f| {
            let mut f = f.clone();
            if !with && let Value::Object(m) = &mut f {
                m.remove("order_statuses");
            }
            f
        })
        .collect();
    answer(rate, StatusCode::OK, json!({"dealflows": flows})).await
}

pub(super) async fn one_deal_flow(
    State(emu): State<Arc<Emulator>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let rate = match emu.gate(&headers, format!("/api/v1/deal-flows/{id}")).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let id = id.parse::<i64>().unwrap_or(-1);
    match emu.flows.iter().find(|f| f["id"] == id) {
        Some(f) => answer(rate, StatusCode::OK, json!({"dealflow": f})).await,
        None => message(StatusCode::NOT_FOUND, "Deal flow not found"),
    }
}

//! The emulator's reads: the orders received (pages, filters, line items inline),
//! customers and batches by id.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Emulator, detail};

pub(super) fn modified(o: &Value) -> Option<DateTime<Utc>> {
    o["modified"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

pub(super) async fn orders_received(
    State(emu): State<Arc<Emulator>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    match emu.gate(&headers, "/api/v2/orders-received/") {
        Err(r) => return r,
        Ok(Some(stall)) => tokio::time::sleep(stall).await,
        Ok(None) => {}
    }
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 50,
        Some(Ok(n)) if n >= 1 => n.min(1000),
        Some(_) => {
            return detail(
                StatusCode::BAD_REQUEST,
                "limit: A valid integer is required.",
            );
        }
    };
    let offset = match q.get("offset").map(|l| l.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(_) => {
            return detail(
                StatusCode::BAD_REQUEST,
                "offset: A valid integer is required.",
            );
        }
    };
    let since = match q
        .get("modified__gte")
        .map(|s| DateTime::parse_from_rfc3339(s))
    {
        None => None,
        Some(Ok(t)) => Some(t.with_timezone(&Utc)),
        Some(Err(_)) => {
            return detail(
                StatusCode::BAD_REQUEST,
                "modified__gte: Enter a valid date/time.",
            );
        }
    };
    let statuses: Option<Vec<String>> = q.get("status").map(|s| {
        s.split(',')
            .map(|x| x.trim().to_ascii_lowercase())
            .filter(|x| !x.is_empty())
            .collect()
    });
    let with_lines = q
        .get("include_children")
        .is_some_and(|c| c.split(',').any(|x| x.trim() == "line_items"));
    let ids_only = *emu.customer_ids_only.lock().expect("lock");
    let (page, count) = {
        let all = emu.orders.lock().expect("lock");
        let mut matching: Vec<&Value> = all
            .iter()
            .filter(|o| {
                statuses.as_ref().is_none_or(|s| {
                    s.contains(&o["status"].as_str().unwrap_or("").to_ascii_lowercase())
                })
            })
            .filter(|o| since.is_none_or(|t| modified(o).is_some_and(|m| m >= t)))
            .collect();
        matching.sort_by_key(|o| (modified(o), o["number"].as_str().map(str::to_string)));
        let count = matching.len();
        let page: Vec<Value> = matching
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|o| {
                let mut o = o.clone();
                if !with_lines && let Value::Object(m) = &mut o {
                    m.remove("line_items");
                }
                if ids_only && let Some(id) = o["customer"].get("id").cloned() {
                    o["customer"] = id;
                }
                o
            })
            .collect();
        (page, count)
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let link = |off: usize| {
        let mut params: Vec<(String, String)> = q
            .iter()
            .filter(|(k, _)| *k != "offset" && *k != "limit")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        params.sort();
        params.push(("limit".into(), limit.to_string()));
        params.push(("offset".into(), off.to_string()));
        let mut url =
            reqwest::Url::parse(&format!("http://{host}/api/v2/orders-received/")).expect("a URL");
        url.query_pairs_mut().extend_pairs(params);
        url.to_string()
    };
    let next = (offset + limit < count).then(|| link(offset + limit));
    let previous = (offset > 0).then(|| link(offset.saturating_sub(limit)));
    axum::Json(json!({"count": count, "next": next, "previous": previous, "results": page}))
        .into_response()
}

pub(super) async fn customer(
    State(emu): State<Arc<Emulator>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match emu.gate(&headers, &format!("/api/v2/customers/{id}/")) {
        Err(r) => return r,
        Ok(Some(stall)) => tokio::time::sleep(stall).await,
        Ok(None) => {}
    }
    let found = id
        .parse::<i64>()
        .ok()
        .and_then(|id| emu.customers.lock().expect("lock").get(&id).cloned());
    match found {
        Some(c) => axum::Json(c).into_response(),
        None => detail(StatusCode::NOT_FOUND, "Not found."),
    }
}

pub(super) async fn batch(
    State(emu): State<Arc<Emulator>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match emu.gate(&headers, &format!("/api/v2/batches/{id}/")) {
        Err(r) => return r,
        Ok(Some(stall)) => tokio::time::sleep(stall).await,
        Ok(None) => {}
    }
    let found = id
        .parse::<i64>()
        .ok()
        .and_then(|id| emu.batches.lock().expect("lock").get(&id).cloned());
    match found {
        Some(b) => axum::Json(b).into_response(),
        None => detail(StatusCode::NOT_FOUND, "Not found."),
    }
}

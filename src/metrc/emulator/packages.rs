//! The package lists: `/packages/v2/{active,onhold,inactive,intransit}`, paged and
//! windowed as Metrc does.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Emulator, envelope, paging};

/// Which list a package is on: on hold, finished or archived, else active.
fn list_of(p: &Value) -> &'static str {
    let archived = p["ArchivedDate"]
        .as_str()
        .is_some_and(|d| !d.starts_with("0001-01-01"));
    if p["InTransit"] == true {
        // (The emulator's own mark: on an outgoing transfer.)
        "intransit"
    } else if p["IsOnHold"] == true {
        "onhold"
    } else if p["IsFinished"] == true || archived {
        "inactive"
    } else {
        "active"
    }
}

fn modified(p: &Value) -> Option<DateTime<Utc>> {
    p["LastModified"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

pub(super) async fn packages(
    State(emu): State<Arc<Emulator>>,
    Path(list): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = emu.gate(&headers).await {
        return r;
    }
    if !["active", "onhold", "inactive", "intransit"].contains(&list.as_str()) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"Message": "No such resource."})),
        )
            .into_response();
    }
    if let Err(r) = emu.licensed(&q) {
        return r;
    }
    let (page, page_size) = match paging(&q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (start, end) = match super::window(&emu, &q) {
        Ok(w) => w,
        Err(r) => return r,
    };
    if emu.malformed.lock().expect("lock").as_ref() == Some(&(list.clone(), page as u32)) {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"Data\": [{\"Id\": 1, \"Label\": ",
        )
            .into_response();
    }
    // Filtered and sorted by reference; only the page asked for is copied.
    let (data, total, size) = {
        let all = emu.packages.lock().expect("lock");
        let mut matching: Vec<_> = all
            .iter()
            .filter(|p| list_of(p) == list)
            .filter_map(|p| {
                let m = modified(p)?;
                (m >= start && m <= end).then(|| (Some(m), p["Id"].as_i64(), p))
            })
            .collect();
        matching.sort_by_key(|(m, id, _)| (*m, *id));
        let total = matching.len();
        let size = page_size.unwrap_or(total.max(1));
        let data: Vec<Value> = matching
            .into_iter()
            .skip((page - 1) * size)
            .take(size)
            .map(|(_, _, p)| p.clone())
            .collect();
        (data, total, size)
    };
    let answer = Json(envelope(data, page, size, total)).into_response();
    let due = {
        let mut c = emu.change_after.lock().expect("lock");
        match c.as_ref() {
            Some(((l, p), _, _)) if *l == list && *p == page as u32 => c.take(),
            _ => None,
        }
    };
    if let Some((_, label, changes)) = due {
        emu.change(&label, changes);
    }
    answer
}

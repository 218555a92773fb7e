//! The hub's HTTP side: the router built from [`ROUTES`], the [`Device`] extractor
//! that authenticates a request by its bearer token, and one handler a route.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast;

use super::api::{
    BODY_LIMIT, Feed, JoinRequest, JoinResponse, MAX_PUSH_EVENTS, OrderRow, OrderSnapshot,
    PushRequest, PushResponse, Snapshot,
};
use super::error::{ApiError, ApiJson};
use super::{Fault, Hub, Job, LiveUpdate, PushJob, ROUTES, openapi};
use crate::domain::EventKind;
use crate::domain::merge::MergedOrder;

/// The hub's router over its state, built from [`ROUTES`].
pub(super) fn router(hub: Arc<Hub>) -> Router {
    let mut by_path: Vec<(&str, MethodRouter<Arc<Hub>>)> = vec![];
    for (method, path) in ROUTES {
        let m: MethodRouter<Arc<Hub>> = match (*method, *path) {
            ("GET", "/health") => get(health),
            ("GET", "/openapi.json") => get(openapi_doc),
            ("POST", "/devices/join") => post(join),
            ("GET", "/sync/snapshot") => get(snapshot),
            ("GET", "/orders") => get(orders),
            ("GET", "/orders/{number}") => get(order_state),
            ("GET", "/orders/{number}/events") => get(feed),
            ("POST", "/orders/{number}/events") => post(push),
            ("GET", "/orders/{number}/live") => get(live),
            ("GET", "/orders/{number}/outcome") => get(outcome),
            ("GET", "/orders/{number}/manifest") => get(manifest),
            ("GET", "/orders/{number}/report") => get(report),
            other => unreachable!("route {other:?} has no handler"),
        };
        match by_path.iter_mut().find(|(p, _)| p == path) {
            Some((_, r)) => *r = std::mem::take(r).merge(m),
            None => by_path.push((path, m)),
        }
    }
    let mut router = Router::new();
    for (path, m) in by_path {
        router = router.route(path, m);
    }
    router
        .merge(super::desk::routes())
        .fallback(|method: Method, uri: axum::http::Uri| async move {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_such_route",
                format!("no route {method} {uri}; GET /openapi.json lists the routes"),
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(hub)
}

// ---- authentication ----

/// An enrolled, not revoked device, from the request's bearer token.
pub(super) struct Device {
    pub(super) name: String,
    pub(super) device_id: Option<String>,
}

impl Device {
    /// The id the device's events must carry; refused until the device has joined.
    fn joined_id(&self) -> Result<&str, ApiError> {
        self.device_id.as_deref().ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "not_joined",
                format!(
                    "device {} has not joined: run `tagtally device join URL TOKEN` on it",
                    self.name
                ),
            )
        })
    }
}

impl FromRequestParts<Arc<Hub>> for Device {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, hub: &Arc<Hub>) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "send the device token as `Authorization: Bearer TOKEN` (from `tagtally hub enroll-device NAME`)",
                )
            })?;
        let path = parts.uri.path().to_string();
        hub.with(move |inner, _| inner.authenticate(&token, &path))
            .await
    }
}

// ---- handlers ----

/// Up, and where the Metrc pulls stand when the hub polls Metrc.
async fn health(State(hub): State<Arc<Hub>>) -> Json<serde_json::Value> {
    if hub.options.metrc.is_none() {
        return Json(serde_json::json!({ "ok": true }));
    }
    let metrc = hub
        .with(|inner, _| {
            Ok(crate::metrc::pull::status(&inner.store, chrono::Utc::now())
                .map_err(|e| e.to_string()))
        })
        .await;
    Json(match metrc {
        Ok(Ok(s)) => serde_json::json!({ "ok": true, "metrc": s }),
        Ok(Err(e)) => serde_json::json!({ "ok": true, "metrc": { "last_error": e } }),
        Err(e) => serde_json::json!({ "ok": true, "metrc": { "last_error": format!("{e:?}") } }),
    })
}

async fn openapi_doc() -> Json<serde_json::Value> {
    Json(openapi::document())
}

async fn join(
    State(hub): State<Arc<Hub>>,
    device: Device,
    ApiJson(req): ApiJson<JoinRequest>,
) -> Result<Json<JoinResponse>, ApiError> {
    let id = req.device_id.trim().to_string();
    if id.is_empty() || id.len() > 128 {
        return Err(ApiError::bad_request(
            "device_id must be 1 to 128 characters",
        ));
    }
    hub.with(move |inner, _| {
        inner
            .store
            .bind_device(&device.name, &id)
            .map_err(|e| match e {
                crate::store::DeviceError::Store(s) => ApiError::from(s),
                other => ApiError::new(StatusCode::CONFLICT, "join_refused", other.to_string()),
            })?;
        inner.devices.clear();
        Ok(Json(JoinResponse {
            name: device.name,
            last_seq: inner.store.last_seq_of(&id)?,
            device_id: id,
            hub: inner.store.instance_id()?,
        }))
    })
    .await
}

#[derive(Deserialize)]
struct SnapshotQuery {
    #[serde(default)]
    packages_since: String,
}

async fn snapshot(
    State(hub): State<Arc<Hub>>,
    device: Device,
    Query(q): Query<SnapshotQuery>,
) -> Result<Json<Snapshot>, ApiError> {
    hub.with(move |inner, _| {
        let last = inner.store.last_event_ids()?;
        let full = inner.store.open_orders_full()?;
        let licenses = inner.store.register_facts_for(&full)?;
        let orders = full
            .into_iter()
            .map(|order| OrderSnapshot {
                last_event: last.get(&order.number).copied().unwrap_or(0),
                order,
            })
            .collect();
        let (packages, packages_cursor) = inner.store.packages_since(&q.packages_since)?;
        Ok(Json(Snapshot {
            orders,
            packages,
            packages_cursor,
            // A coordinator works at the desk only: their PIN hash stays on the hub.
            people: inner
                .store
                .person_records()?
                .into_iter()
                .filter(|p| p.role != crate::domain::people::Role::Coordinator)
                .collect(),
            hub: inner.store.instance_id()?,
            your_last_seq: match device.device_id.as_deref() {
                Some(id) => Some(inner.store.last_seq_of(id)?),
                None => None,
            },
            licenses,
        }))
    })
    .await
}

async fn orders(
    State(hub): State<Arc<Hub>>,
    _device: Device,
) -> Result<Json<Vec<OrderRow>>, ApiError> {
    hub.with(|inner, _| {
        Ok(Json(
            inner
                .store
                .open_orders()?
                .into_iter()
                .map(|o| OrderRow {
                    number: o.number,
                    short_id: o.short_id,
                    buyer: o.buyer,
                    status: o.status,
                    ship_date: o.ship_date,
                    total: o.total,
                })
                .collect(),
        ))
    })
    .await
}

async fn order_state(
    State(hub): State<Arc<Hub>>,
    _device: Device,
    Path(key): Path<String>,
) -> Result<Json<MergedOrder>, ApiError> {
    hub.with(move |inner, opts| {
        let (_, c) = inner.merged(&key, &opts.rules)?;
        Ok(Json(c.view()))
    })
    .await
}

/// What came of an order: stage, load, delivery, returns.
async fn outcome(
    State(hub): State<Arc<Hub>>,
    _device: Device,
    Path(key): Path<String>,
) -> Result<Json<crate::app::docs::OrderOutcome>, ApiError> {
    let metrc = hub.options.metrc.as_ref().is_some_and(|m| m.is_set());
    hub.with(move |inner, _| Ok(Json(crate::app::docs::outcome(&inner.store, &key, metrc)?)))
        .await
}

#[derive(Deserialize)]
struct DocQuery {
    #[serde(default)]
    format: Option<String>,
}

fn pdf_response(bytes: Vec<u8>, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}.pdf\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// The Metrc transfer template (JSON, default) or the manifest PDF of the order's
/// confirmed load.
async fn manifest(
    State(hub): State<Arc<Hub>>,
    _device: Device,
    Path(key): Path<String>,
    Query(q): Query<DocQuery>,
) -> Result<Response, ApiError> {
    hub.with(move |inner, opts| {
        let doc = crate::app::docs::manifest_doc(&inner.store, &opts.ship, &key)?;
        Ok(match q.format.as_deref().unwrap_or("metrc-template") {
            "metrc-template" => Json(crate::export::metrc_template(&doc)).into_response(),
            "pdf" => pdf_response(crate::export::manifest_pdf(&doc), &doc.load_id),
            other => {
                return Err(ApiError::bad_request(format!(
                    "format {other:?}: use metrc-template or pdf"
                )));
            }
        })
    })
    .await
}

/// The delivery report of a finished delivery: JSON (default) or PDF.
async fn report(
    State(hub): State<Arc<Hub>>,
    _device: Device,
    Path(key): Path<String>,
    Query(q): Query<DocQuery>,
) -> Result<Response, ApiError> {
    hub.with(move |inner, opts| {
        let doc = crate::app::docs::delivery_report_doc(&inner.store, &opts.ship, &key)?;
        Ok(match q.format.as_deref().unwrap_or("json") {
            "json" => Json(crate::export::delivery_report_json(&doc)).into_response(),
            "pdf" => pdf_response(crate::export::delivery_report_pdf(&doc), &doc.order),
            other => {
                return Err(ApiError::bad_request(format!(
                    "format {other:?}: use json or pdf"
                )));
            }
        })
    })
    .await
}

#[derive(Deserialize)]
struct FeedQuery {
    #[serde(default)]
    since: i64,
    /// Also the asking device's own events (a reinstalled device restoring them).
    #[serde(default)]
    mine: bool,
}

async fn feed(
    State(hub): State<Arc<Hub>>,
    device: Device,
    Path(key): Path<String>,
    Query(q): Query<FeedQuery>,
) -> Result<Json<Feed>, ApiError> {
    hub.with(move |inner, opts| {
        let own = if q.mine {
            None
        } else {
            device.device_id.as_deref()
        };
        let (_, f) = inner.feed(&key, q.since, own, &opts.rules)?;
        Ok(Json(f))
    })
    .await
}

async fn push(
    State(hub): State<Arc<Hub>>,
    device: Device,
    Path(key): Path<String>,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    let id = device.joined_id()?.to_string();
    if req.events.len() > MAX_PUSH_EVENTS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_events",
            format!(
                "{} events in one push; send at most {MAX_PUSH_EVENTS}",
                req.events.len()
            ),
        ));
    }
    let mut last = 0;
    for e in &req.events {
        if e.device != id {
            let detail = format!(
                "device {} ({id}) pushed an event of device {}",
                device.name, e.device
            );
            hub.with(move |inner, _| {
                inner
                    .store
                    .log_security(Some(&id), "foreign_device", &detail)?;
                Ok(())
            })
            .await?;
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "foreign_device",
                "a device may push only its own events: refused and logged",
            ));
        }
        if e.seq <= last {
            return Err(ApiError::bad_request(format!(
                "events must be in rising sequence order without repeats (seq {} after {last})",
                e.seq
            )));
        }
        last = e.seq;
        if chrono::DateTime::parse_from_rfc3339(&e.at).is_err() {
            return Err(ApiError::bad_request(format!(
                "event {} has time {:?}; expected RFC 3339 like 2026-11-27T10:00:00.000Z",
                e.seq, e.at
            )));
        }
        if let EventKind::Scan { raw, .. }
        | EventKind::LoadScan { raw, .. }
        | EventKind::DeliverScan { raw, .. } = &e.kind
            && raw.len() > crate::domain::event::RAW_KEEP
        {
            return Err(ApiError::bad_request(format!(
                "event {} keeps {} raw bytes; at most {}",
                e.seq,
                raw.len(),
                crate::domain::event::RAW_KEEP
            )));
        }
    }
    if hub.options.fault == Some(Fault::StallBeforeCommit) {
        std::future::pending::<()>().await;
    }
    // Serialise the merged state for live streams only if someone watches.
    let live_watched = hub.live.receiver_count() > 0;
    let (reply, answer) = tokio::sync::oneshot::channel();
    hub.jobs
        .send(Job::Push(PushJob {
            key,
            device: id,
            req,
            live_watched,
            reply,
        }))
        .map_err(|_| ApiError::internal("the hub's store thread has stopped".into()))?;
    let (number, response, update) = answer
        .await
        .map_err(|_| ApiError::internal("a hub job failed (see the hub's log)".into()))??;
    if let Some(json) = update {
        let _ = hub.live.send(LiveUpdate {
            order: number,
            json: json.into(),
        });
    }
    if hub.options.fault == Some(Fault::StallAfterCommit) {
        std::future::pending::<()>().await;
    }
    Ok(Json(response))
}

/// Server-sent events: the order's merged state now, then after every push that
/// changed it (event name `progress`, data a `MergedOrder`).
async fn live(
    State(hub): State<Arc<Hub>>,
    _device: Device,
    Path(key): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    // Subscribe before reading the state, so no update falls between the two.
    let rx = hub.live.subscribe();
    let (number, first) = hub
        .with(move |inner, opts| {
            let (number, c) = inner.merged(&key, &opts.rules)?;
            let json = serde_json::to_string(&c.view()).expect("serialises");
            Ok((number, json))
        })
        .await?;
    let closing = hub.closing.clone();
    let state = (Some(first), rx, closing, number);
    let stream =
        futures_util::stream::unfold(state, |(first, mut rx, mut closing, number)| async move {
            if let Some(json) = first {
                let ev = SseEvent::default().event("progress").data(json);
                return Some((Ok(ev), (None, rx, closing, number)));
            }
            loop {
                if *closing.borrow() {
                    return None;
                }
                tokio::select! {
                    msg = rx.recv() => match msg {
                        Ok(u) if u.order == number => {
                            let ev = SseEvent::default().event("progress").data(&*u.json);
                            return Some((Ok(ev), (None, rx, closing, number)));
                        }
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = closing.changed() => return None,
                }
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

//! The facility hub: an axum service that holds the orders, serves devices their pick
//! lists, takes their events and merges them into one truth per order.
//!
//! [`run`] takes its listener, its store and its shutdown signal as arguments, so
//! tests start a real hub on `127.0.0.1:0`. The hub stores everything with the same
//! [`Store`] as a device, in its own database file. One connection serves all
//! requests, on blocking threads; pushes commit durably (`synchronous=FULL`) before
//! the 200 that acknowledges them.
//!
//! Architecture Invariant: an acknowledged event is on disk. A push is all or
//! nothing, idempotent by (device, seq); a resend with other contents is refused
//! with 409 and written to the security log.

pub mod api;
pub mod cli;
pub mod openapi;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use chrono::{Local, NaiveDate};
use futures_util::Stream;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

use crate::domain::merge::{MergedOrder, Merger};
use crate::domain::{Event, EventKind, Package, PickList, Rules, Verdict};
use crate::store::{PushRefused, Store, StoreError};
use crate::tag::MetrcTag;
use api::{
    BODY_LIMIT, ErrorBody, FEED_LIMIT, Feed, JoinRequest, JoinResponse, MAX_PUSH_EVENTS, OrderRow,
    OrderSnapshot, PushRequest, PushResponse, Snapshot,
};

/// A fault to inject, for crash tests: the push handler stops for good at that point
/// (the test then kills the process).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Received and checked, nothing committed.
    StallBeforeCommit,
    /// Committed, not answered.
    StallAfterCommit,
}

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "stall-before-commit" => Ok(Fault::StallBeforeCommit),
            "stall-after-commit" => Ok(Fault::StallAfterCommit),
            other => Err(format!(
                "unknown fault {other:?} (stall-before-commit, stall-after-commit)"
            )),
        }
    }
}

/// How the hub behaves.
#[derive(Clone, Debug, Default)]
pub struct HubOptions {
    pub rules: Rules,
    pub fault: Option<Fault>,
}

/// Every route the hub serves: (method, path). The router is built from this table
/// and `/openapi.json` documents each entry (checked by a test).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/openapi.json"),
    ("POST", "/devices/join"),
    ("GET", "/sync/snapshot"),
    ("GET", "/orders"),
    ("GET", "/orders/{number}"),
    ("GET", "/orders/{number}/events"),
    ("POST", "/orders/{number}/events"),
    ("GET", "/orders/{number}/live"),
];

/// Serve the hub on `listener` until `shutdown` completes, then finish the requests
/// in flight and end live streams.
pub async fn run(
    listener: TcpListener,
    store: Store,
    options: HubOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (closing_tx, closing) = watch::channel(false);
    let data_version = store.data_version().unwrap_or_default();
    let (live, _) = broadcast::channel(1024);
    let hub = Arc::new(Hub {
        inner: Mutex::new(Inner {
            store,
            orders: HashMap::new(),
            aliases: HashMap::new(),
            data_version,
        }),
        live,
        options,
        closing,
    });
    tracing::info!(addr = ?listener.local_addr().ok(), "hub listening");
    axum::serve(listener, router(hub))
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = closing_tx.send(true);
        })
        .await
}

/// The hub's router over its state, built from [`ROUTES`].
fn router(hub: Arc<Hub>) -> Router {
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

struct Hub {
    inner: Mutex<Inner>,
    live: broadcast::Sender<LiveUpdate>,
    options: HubOptions,
    closing: watch::Receiver<bool>,
}

#[derive(Clone, Debug)]
struct LiveUpdate {
    order: String,
    json: Arc<str>,
}

struct Inner {
    store: Store,
    /// Merged orders by number, folded incrementally as events arrive.
    orders: HashMap<String, Cached>,
    /// Order keys as asked (number or short id) to numbers.
    aliases: HashMap<String, String>,
    /// The store's data version when the caches were filled: another process (an
    /// import on the hub's database) changes it, and the caches are dropped.
    data_version: i64,
}

struct Cached {
    list: PickList,
    packages: HashMap<MetrcTag, Package>,
    merger: Merger,
    last_id: i64,
    today: NaiveDate,
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `f` on the store, on a blocking thread.
    async fn with<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Inner, &HubOptions) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let hub = self.clone();
        tokio::task::spawn_blocking(move || f(&mut hub.lock(), &hub.options))
            .await
            .map_err(|e| ApiError::internal(format!("hub worker failed: {e}")))?
    }
}

impl Inner {
    /// The merged order for `key` (number or short id), brought up to date.
    fn merged(&mut self, key: &str, rules: &Rules) -> Result<(String, &mut Cached), ApiError> {
        let version = self.store.data_version()?;
        if version != self.data_version {
            self.orders.clear();
            self.aliases.clear();
            self.data_version = version;
        }
        let number = match self.aliases.get(key) {
            Some(n) => n.clone(),
            None => {
                let order = self.store.find_order(key)?;
                self.aliases.insert(key.to_string(), order.number.clone());
                order.number
            }
        };
        let today = Local::now().date_naive();
        if self.orders.get(&number).is_none_or(|c| c.today != today) {
            let order = self.store.find_order(&number)?;
            let tags: Vec<MetrcTag> = order.allocations().map(|a| a.tag).collect();
            let packages = self.store.packages(&tags)?;
            let list = PickList::new(&order, &packages);
            self.orders.insert(
                number.clone(),
                Cached {
                    list,
                    packages,
                    merger: Merger::new(),
                    last_id: 0,
                    today,
                },
            );
        }
        let cached = self.orders.get_mut(&number).expect("just inserted");
        loop {
            let batch = self
                .store
                .order_events_after(&number, cached.last_id, 10_000)?;
            let Some((last, _)) = batch.last() else { break };
            cached.last_id = *last;
            for (_, e) in &batch {
                cached
                    .merger
                    .apply(&cached.list, &cached.packages, rules, today, e);
            }
        }
        Ok((number, cached))
    }

    /// The merged order and other devices' state-changing events after `since`.
    fn feed(
        &mut self,
        key: &str,
        since: i64,
        device: Option<&str>,
        rules: &Rules,
    ) -> Result<(String, Feed), ApiError> {
        let (number, cached) = self.merged(key, rules)?;
        let merged = cached.merger.view(&cached.list);
        let rows = self.store.order_events_after(&number, since, FEED_LIMIT)?;
        let more = rows.len() == FEED_LIMIT;
        let cursor = rows.last().map(|(id, _)| *id).unwrap_or(since);
        let events = rows
            .into_iter()
            .map(|(_, e)| e)
            .filter(|e| Some(e.device.as_str()) != device && changes_state(e))
            .collect();
        Ok((
            number,
            Feed {
                merged,
                events,
                cursor,
                more,
            },
        ))
    }
}

/// Picks, shorts and undos change an order's state; rejected scans do not.
fn changes_state(e: &Event) -> bool {
    match &e.kind {
        EventKind::Scan { verdict, .. } => matches!(verdict, Verdict::Accepted { .. }),
        EventKind::Short { .. } | EventKind::Undo { .. } => true,
    }
}

// ---- errors ----

/// A refusal: status, a stable word, a sentence.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error,
            message: message.into(),
        }
    }

    fn internal(message: String) -> Self {
        tracing::error!(message, "hub internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSuchOrder(o) => ApiError::new(
                StatusCode::NOT_FOUND,
                "no_such_order",
                format!("the hub has no order {o}; import it on the hub first"),
            ),
            StoreError::DiskFull { .. } | StoreError::Locked { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("{e}; nothing was stored, retry later"),
            ),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.error.to_string(),
            message: self.message,
        };
        let mut r = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

/// JSON body whose refusals are [`ApiError`]s: 400 with what is wrong, 413 if too big.
struct ApiJson<T>(T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(r) => {
                let status = r.status();
                Err(if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        status,
                        "too_large",
                        format!(
                            "request body over {} MiB: push fewer events at a time",
                            BODY_LIMIT >> 20
                        ),
                    )
                } else if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                    ApiError::new(
                        status,
                        "not_json",
                        "send the body as JSON with content-type: application/json",
                    )
                } else {
                    ApiError::bad_request(format!("malformed JSON body: {}", r.body_text()))
                })
            }
        }
    }
}

// ---- authentication ----

/// An enrolled, not revoked device, from the request's bearer token.
struct Device {
    name: String,
    device_id: Option<String>,
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
        hub.with(move |inner, _| {
            match inner.store.device_by_token(&token)? {
                Some(d) if !d.is_revoked() => Ok(Device {
                    name: d.name,
                    device_id: d.device_id,
                }),
                Some(d) => {
                    inner.store.log_security(
                        d.device_id.as_deref(),
                        "revoked_device",
                        &format!("revoked device {} called {path}", d.name),
                    )?;
                    Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "revoked",
                        format!(
                            "device {} was revoked; enrol it again to use it",
                            d.name
                        ),
                    ))
                }
                None => {
                    inner
                        .store
                        .log_security(None, "unknown_token", &format!("unknown token on {path}"))?;
                    Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "bad_token",
                        "unknown device token: enrol the device on the hub (`tagtally hub enroll-device NAME`)",
                    ))
                }
            }
        })
        .await
    }
}

// ---- handlers ----

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true }))
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
        Ok(Json(JoinResponse {
            name: device.name,
            device_id: id,
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
    _device: Device,
    Query(q): Query<SnapshotQuery>,
) -> Result<Json<Snapshot>, ApiError> {
    hub.with(move |inner, _| {
        let last = inner.store.last_event_ids()?;
        let orders = inner
            .store
            .open_orders_full()?
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
        Ok(Json(c.merger.view(&c.list)))
    })
    .await
}

#[derive(Deserialize)]
struct FeedQuery {
    #[serde(default)]
    since: i64,
}

async fn feed(
    State(hub): State<Arc<Hub>>,
    device: Device,
    Path(key): Path<String>,
    Query(q): Query<FeedQuery>,
) -> Result<Json<Feed>, ApiError> {
    hub.with(move |inner, opts| {
        let (_, f) = inner.feed(&key, q.since, device.device_id.as_deref(), &opts.rules)?;
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
        if let EventKind::Scan { raw, .. } = &e.kind
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
    let (number, response, update) = hub
        .with(move |inner, opts| {
            // Resolve the order first: a push for an unknown order stores nothing.
            let (number, _) = inner.merged(&key, &opts.rules)?;
            if let Some(e) = req.events.iter().find(|e| e.order != number) {
                return Err(ApiError::bad_request(format!(
                    "event {} is for order {}, pushed to order {number}",
                    e.seq, e.order
                )));
            }
            let receipt = match inner.store.receive_events(&req.events) {
                Ok(r) => r,
                Err(PushRefused::Altered { device, seq }) => {
                    inner.store.log_security(
                        Some(&device),
                        "altered_replay",
                        &format!(
                            "event {device}/{seq} resent on order {number} with different contents"
                        ),
                    )?;
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "altered_replay",
                        format!(
                            "event {device}/{seq} was already received with different contents: refused and logged as a security event"
                        ),
                    ));
                }
                Err(PushRefused::Store(e)) => return Err(e.into()),
            };
            let (_, feed) = inner.feed(&number, req.since, Some(&id), &opts.rules)?;
            let update = (receipt.new > 0).then(|| {
                serde_json::to_string(&feed.merged).expect("merged orders serialise")
            });
            Ok((
                number,
                PushResponse {
                    accepted: receipt.new,
                    duplicates: receipt.duplicates,
                    acked: receipt.acked,
                    feed,
                },
                update,
            ))
        })
        .await?;
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
            let json = serde_json::to_string(&c.merger.view(&c.list)).expect("serialises");
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

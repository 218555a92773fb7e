//! An Apex Trading emulator: ordinary code serving the endpoints tagtally reads and
//! writes, the way `../shared/B2B-API.md` §7-11 describes them: the Bearer token (401
//! `{"message":"Unauthenticated."}`), an HTML page when `Accept: application/json` is
//! missing, `updated_at_from` required (Laravel's 422), `page`/`per_page` (15 by
//! default, at most 500) with absolute `links` and a `meta`, `with_items`, 15 requests
//! a second a token with the `X-RateLimit-*` headers and a 429 with `Retry-After: 1`,
//! deal flows with statuses under each parent, one order by id (404 `{"message":"Order
//! not found"}`), and the status PUT, checked against the order's deal flow (400
//! `{"error": ...}`), which moves `updated_at`. Every write received is recorded
//! ([`Emulator::writes`]); faults are injected on purpose ([`Fault`],
//! [`Emulator::set_down`]). The tests run the real client against it on a loopback
//! port; `tagtally apex-emulator` serves it for a demo.

// A refusal is the answer itself (`Result<_, Response>`), as axum handlers write it.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::import::apex::int;

mod routes;

/// A fault the next request meets (in the order injected).
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Apex's 429: `Retry-After: 1` and its message.
    TooMany,
    /// 500 `{"message":"Server Error"}`.
    ServerError,
    /// The answer (and what the request does) only after this long: longer than
    /// the client's timeout, a write lands although its answer never arrives.
    Delay(Duration),
    Pass,
}

/// One write received (a `PUT /v1/shipping-orders/{id}` past the token check).
#[derive(Clone, Debug, PartialEq)]
pub struct Write {
    pub order_id: i64,
    pub body: Value,
    /// The status answered.
    pub status: u16,
}

/// Requests a token may make per window.
struct Throttle {
    limit: u32,
    window: Duration,
    seen: HashMap<String, (Instant, u32)>,
}

/// The emulated Apex of one seller.
pub struct Emulator {
    token: String,
    abilities: Mutex<Vec<String>>,
    orders: Mutex<Vec<Value>>,
    flows: Vec<Value>,
    faults: Mutex<VecDeque<Fault>>,
    down: AtomicBool,
    throttle: Mutex<Throttle>,
    requests: AtomicU64,
    paths: Mutex<Vec<String>>,
    writes: Mutex<Vec<Write>>,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn message(status: StatusCode, words: &str) -> Response {
    (status, axum::Json(json!({"message": words}))).into_response()
}

fn invalid(field: &str, words: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(json!({"message": "The given data was invalid.", "errors": {field: [words]}})),
    )
        .into_response()
}

const PARENTS: [&str; 6] = [
    "Submitted",
    "Accepted",
    "Pending Shipment",
    "In Transit",
    "Delivered",
    "Complete",
];

/// Deal flow `id` with a status under each parent (ids `base` to `base + 5`, in
/// `PARENTS` order: Submitted `base`, Accepted `base + 1`, Pending Shipment
/// `base + 2`, ...), the company's own names, and under Pending Shipment an archived
/// status (`base + 9`) and a second one placed later (`base + 6`).
pub fn deal_flow(id: i64, name: &str, base: i64) -> Value {
    let status = |sid: i64, name: &str, parent: usize, position: i64, archived: bool| {
        json!({"id": sid, "name": name, "payment_percentage": 0, "archived": archived,
               "position": position,
               "parent_status": {"id": parent + 1, "name": PARENTS[parent]}})
    };
    json!({"id": id, "name": name, "order_statuses": [
        status(base, "New", 0, 1, false),
        status(base + 1, "Approved", 1, 2, false),
        status(base + 9, "Staged (old)", 2, 0, true),
        status(base + 2, "Packed", 2, 3, false),
        status(base + 6, "Ready for pickup", 2, 4, false),
        status(base + 3, "Out for delivery", 3, 5, false),
        status(base + 4, "Delivered", 4, 6, false),
        status(base + 5, "Paid", 5, 7, false),
    ]})
}

impl Emulator {
    /// Serve `orders` (Apex shipping orders with `items`) to the token `token`, with
    /// deal flows 7 (statuses 300-306, 301 Accepted) and 8 (400-406), as
    /// [`deal_flow`] makes them. An order without
    /// `updated_at` is updated now; one without `deal_flow_id` is in deal flow 7; one
    /// without an `order_status` key gets its status object from its deal flow.
    pub fn new(token: &str, orders: Vec<Value>) -> Arc<Emulator> {
        let emu = Emulator {
            token: token.into(),
            abilities: Mutex::new(
                [
                    "view:shipping-orders",
                    "update:shipping-orders",
                    "view:dealflows",
                ]
                .map(String::from)
                .to_vec(),
            ),
            orders: Mutex::new(vec![]),
            flows: vec![deal_flow(7, "Wholesale", 300), deal_flow(8, "Samples", 400)],
            faults: Mutex::new(VecDeque::new()),
            down: AtomicBool::new(false),
            throttle: Mutex::new(Throttle {
                limit: 15,
                window: Duration::from_secs(1),
                seen: HashMap::new(),
            }),
            requests: AtomicU64::new(0),
            paths: Mutex::new(vec![]),
            writes: Mutex::new(vec![]),
        };
        let orders = orders.into_iter().map(|o| emu.filled(o, false)).collect();
        *emu.orders.lock().expect("lock") = orders;
        Arc::new(emu)
    }

    /// The orders of an Apex file: an `orders` page, one `order`, an object or a list.
    pub fn orders_of(bytes: &[u8]) -> Result<Vec<Value>, String> {
        let doc: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        crate::import::apex::orders_of("the data", &doc).map_err(|e| e.to_string())
    }

    fn status_in_flow(&self, flow: i64, status: i64) -> Option<Value> {
        self.flows
            .iter()
            .find(|f| f["id"] == flow)?
            .get("order_statuses")?
            .as_array()?
            .iter()
            .find(|s| s["id"] == status)
            .cloned()
    }

    fn filled(&self, mut o: Value, touch: bool) -> Value {
        if touch || o.get("updated_at").is_none_or(Value::is_null) {
            o["updated_at"] = json!(now());
        }
        if o.get("deal_flow_id").is_none_or(Value::is_null) {
            o["deal_flow_id"] = json!(7);
        }
        if o.get("order_status").is_none()
            && let (Some(flow), Some(sid)) = (
                o.get("deal_flow_id").and_then(int),
                o.get("order_status_id").and_then(int),
            )
            && let Some(s) = self.status_in_flow(flow, sid)
        {
            o["order_status"] = s;
        }
        o
    }

    /// Add or replace the order of the same `id` (its `updated_at` now).
    pub fn put_order(&self, order: Value) {
        let order = self.filled(order, true);
        let mut orders = self.orders.lock().expect("lock");
        match orders.iter_mut().find(|o| o["id"] == order["id"]) {
            Some(o) => *o = order,
            None => orders.push(order),
        }
    }

    /// Change order `id` as Apex would: fields replaced, `updated_at` now; a new
    /// `order_status_id` brings its status object along (as Apex's UI does).
    pub fn change(&self, id: i64, changes: Value) -> bool {
        let mut orders = self.orders.lock().expect("lock");
        let Some(o) = orders.iter_mut().find(|o| o["id"] == id) else {
            return false;
        };
        let status_changed =
            changes.get("order_status_id").is_some() && changes.get("order_status").is_none();
        if let (Value::Object(m), Value::Object(c)) = (&mut *o, changes) {
            for (k, v) in c {
                m.insert(k, v);
            }
            m.insert("updated_at".into(), json!(now()));
        }
        if status_changed
            && let (Some(flow), Some(sid)) = (
                o.get("deal_flow_id").and_then(int),
                o.get("order_status_id").and_then(int),
            )
            && let Some(s) = self.status_in_flow(flow, sid)
        {
            o["order_status"] = s;
        }
        true
    }

    /// Order `id` as held now.
    pub fn order(&self, id: i64) -> Option<Value> {
        let orders = self.orders.lock().expect("lock");
        orders.iter().find(|o| o["id"] == id).cloned()
    }

    pub fn inject(&self, fault: Fault) {
        self.faults.lock().expect("lock").push_back(fault);
    }

    /// While down, every request is answered 503 (Apex in maintenance). A host that
    /// does not answer at all is a closed port, not an emulator.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::Relaxed);
    }

    /// The token's abilities, as `/v1/welcome` lists them; a PUT needs
    /// `update:shipping-orders`, a read `view:shipping-orders`.
    pub fn set_abilities(&self, abilities: &[&str]) {
        *self.abilities.lock().expect("lock") = abilities.iter().map(|a| a.to_string()).collect();
    }

    /// At most `limit` requests a token in a window starting at its first request
    /// (Apex: 15 a second).
    pub fn throttle(&self, limit: u32, window: Duration) {
        let mut t = self.throttle.lock().expect("lock");
        t.limit = limit;
        t.window = window;
        t.seen.clear();
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The path and query of every request answered so far.
    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().expect("lock").clone()
    }

    /// Every write received, in order.
    pub fn writes(&self) -> Vec<Write> {
        self.writes.lock().expect("lock").clone()
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/api/v1/welcome", get(routes::welcome))
            .route("/api/v1/shipping-orders", get(routes::shipping_orders))
            .route(
                "/api/v1/shipping-orders/{id}",
                get(routes::shipping_order).put(routes::put_shipping_order),
            )
            .route("/api/v1/deal-flows", get(routes::deal_flows))
            .route("/api/v1/deal-flows/{id}", get(routes::one_deal_flow))
            .fallback(routes::fallback)
            .with_state(self.clone())
    }

    pub async fn serve(self: &Arc<Self>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }

    /// Serve on a loopback port of its own thread; returns the API root URL
    /// (`http://127.0.0.1:PORT/api`).
    pub fn spawn(self: &Arc<Self>) -> String {
        let addr = crate::periodic::serve_on_loopback(self.router());
        format!("http://{addr}/api")
    }

    fn has(&self, ability: &str) -> bool {
        self.abilities
            .lock()
            .expect("lock")
            .iter()
            .any(|a| a == ability)
    }

    /// Every request: count it, meet the next fault, check the headers and the
    /// token, throttle; the rate headers for the answer.
    async fn gate(&self, headers: &HeaderMap, path: String) -> Result<Passed, Response> {
        let mut delay = Duration::ZERO;
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.paths.lock().expect("lock").push(path);
        if self.down.load(Ordering::Relaxed) {
            return Err(message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
            ));
        }
        let fault = self.faults.lock().expect("lock").pop_front();
        match fault {
            Some(Fault::TooMany) => return Err(too_many(1)),
            Some(Fault::ServerError) => {
                return Err(message(StatusCode::INTERNAL_SERVER_ERROR, "Server Error"));
            }
            Some(Fault::Delay(d)) => delay = d,
            Some(Fault::Pass) | None => {}
        }
        let json = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"));
        if !json {
            return Err(login_page());
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(self.token.as_str()) {
            return Err(message(StatusCode::UNAUTHORIZED, "Unauthenticated."));
        }
        let mut t = self.throttle.lock().expect("lock");
        let (limit, window) = (t.limit, t.window);
        let at = Instant::now();
        let seen = t.seen.entry(self.token.clone()).or_insert((at, 0));
        if at.duration_since(seen.0) >= window {
            *seen = (at, 0);
        }
        seen.1 += 1;
        if seen.1 > limit {
            let left = window.saturating_sub(at.duration_since(seen.0));
            return Err(too_many(left.as_secs_f64().ceil().max(1.0) as u64));
        }
        let mut rate = HeaderMap::new();
        rate.insert(rate_limit(), HeaderValue::from(limit));
        rate.insert(rate_remaining(), HeaderValue::from(limit - seen.1));
        Ok(Passed { rate, delay })
    }
}

fn rate_limit() -> HeaderName {
    HeaderName::from_static("x-ratelimit-limit")
}

fn rate_remaining() -> HeaderName {
    HeaderName::from_static("x-ratelimit-remaining")
}

fn too_many(retry_after: u64) -> Response {
    let mut r = message(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded. Maximum 15 requests per second allowed.",
    );
    let reset = Utc::now().timestamp() + retry_after as i64;
    let h = r.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    h.insert(rate_limit(), HeaderValue::from(15));
    h.insert(rate_remaining(), HeaderValue::from(0));
    h.insert(
        HeaderName::from_static("x-ratelimit-reset"),
        HeaderValue::from(reset),
    );
    r
}

/// What Apex's web app answers a request that does not ask for JSON.
fn login_page() -> Response {
    Html(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><title>Apex Trading</title></head>\
         <body><h1>Sign in to Apex Trading</h1><form method=\"post\" action=\"/login\">\
         </form></body></html>\n",
    )
    .into_response()
}

/// A request let through: the rate headers for its answer, and how long the answer
/// waits (a [`Fault::Delay`]: what the request does is done first).
struct Passed {
    rate: HeaderMap,
    delay: Duration,
}

async fn answer(passed: Passed, status: StatusCode, body: Value) -> Response {
    if !passed.delay.is_zero() {
        tokio::time::sleep(passed.delay).await;
    }
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut().extend(passed.rate);
    r
}

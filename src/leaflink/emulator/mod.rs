//! A LeafLink emulator: ordinary code serving the Marketplace V2 endpoints tagtally
//! reads, the way `../shared/B2B-API.md` §6 describes them: `App`/`Token` keys
//! (401 otherwise), every path ending in a slash (400 otherwise), limit/offset pages
//! with absolute `next` links and a `count`, `status` as a case-insensitive comma
//! list, `modified__gte`, `include_children=line_items`, customers and batches by id,
//! and faults on purpose (429 with and without `Retry-After`, 500). The tests run the
//! real client against it on a loopback port; `tagtally leaflink-emulator` serves it
//! for a demo.

// A refusal is the answer itself (`Result<_, Response>`), as axum handlers write it.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use chrono::Utc;
use serde_json::{Value, json};

mod read;
mod write;
use read::{batch, customer, orders_received};
pub use write::Write;

/// A fault the next request meets (in the order injected).
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    TooMany {
        retry_after: Option<u64>,
    },
    ServerError,
    /// The request is done, then its answer waits this long (longer than the
    /// client's timeout: the answer is lost, the write happened).
    LoseAnswer {
        seconds: u64,
    },
    Pass,
}

/// The emulated LeafLink of one seller.
pub struct Emulator {
    key: String,
    orders: Mutex<Vec<Value>>,
    customers: Mutex<HashMap<i64, Value>>,
    batches: Mutex<HashMap<i64, Value>>,
    /// Orders answer their customer as an id only.
    customer_ids_only: Mutex<bool>,
    faults: Mutex<VecDeque<Fault>>,
    requests: AtomicU64,
    paths: Mutex<Vec<String>>,
    /// Every write received (PATCH, POST), in order, whether it changed anything.
    writes: Mutex<Vec<Write>>,
    /// Down: every request answers 503 until it is up again.
    down: std::sync::atomic::AtomicBool,
    /// A write of these (line id or order number) is refused with 400.
    refuse: Mutex<HashMap<String, String>>,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

fn detail(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"detail": message}))).into_response()
}

impl Emulator {
    /// Serve `orders` (LeafLink order objects with `line_items`) to the key `key`.
    /// Each order's customer object is kept as a customer record too.
    pub fn new(key: &str, orders: Vec<Value>) -> Arc<Emulator> {
        let mut customers = HashMap::new();
        let orders: Vec<Value> = orders
            .into_iter()
            .map(|mut o| {
                if let Some(c) = o.get("customer").filter(|c| c.is_object())
                    && let Some(id) = c.get("id").and_then(Value::as_i64)
                {
                    customers.insert(id, c.clone());
                }
                if o.get("modified").is_none() {
                    o["modified"] = json!(now());
                }
                o
            })
            .collect();
        Arc::new(Emulator {
            key: key.into(),
            orders: Mutex::new(orders),
            customers: Mutex::new(customers),
            batches: Mutex::new(HashMap::new()),
            customer_ids_only: Mutex::new(false),
            faults: Mutex::new(VecDeque::new()),
            requests: AtomicU64::new(0),
            paths: Mutex::new(vec![]),
            writes: Mutex::new(vec![]),
            down: std::sync::atomic::AtomicBool::new(false),
            refuse: Mutex::new(HashMap::new()),
        })
    }

    /// The orders of a LeafLink file: one order, a list, or a `results` page.
    pub fn orders_of(bytes: &[u8]) -> Result<Vec<Value>, String> {
        match serde_json::from_slice::<Value>(bytes).map_err(|e| e.to_string())? {
            Value::Array(a) => Ok(a),
            Value::Object(mut o) => match o.remove("results") {
                Some(Value::Array(a)) => Ok(a),
                Some(_) => Err("`results` is not a list".into()),
                None => Ok(vec![Value::Object(o)]),
            },
            _ => Err("expected LeafLink orders".into()),
        }
    }

    /// Add or replace order `number` (its `modified` now).
    pub fn put_order(&self, mut order: Value) {
        order["modified"] = json!(now());
        let mut orders = self.orders.lock().expect("lock");
        let number = order["number"].clone();
        match orders.iter_mut().find(|o| o["number"] == number) {
            Some(o) => *o = order,
            None => orders.push(order),
        }
    }

    /// Change order `number` as LeafLink would: fields replaced, `modified` now.
    pub fn change(&self, number: &str, changes: Value) -> bool {
        let mut orders = self.orders.lock().expect("lock");
        let Some(o) = orders.iter_mut().find(|o| o["number"] == number) else {
            return false;
        };
        if let (Value::Object(o), Value::Object(c)) = (o, changes) {
            for (k, v) in c {
                o.insert(k, v);
            }
            o.insert("modified".into(), json!(now()));
        }
        true
    }

    /// A customer record (`GET /customers/{id}/`).
    pub fn put_customer(&self, id: i64, customer: Value) {
        self.customers.lock().expect("lock").insert(id, customer);
    }

    /// A batch record (`GET /batches/{id}/`).
    pub fn put_batch(&self, id: i64, batch: Value) {
        self.batches.lock().expect("lock").insert(id, batch);
    }

    /// Answer each order's customer as its id only (`true`), or as an object.
    pub fn customer_ids_only(&self, on: bool) {
        *self.customer_ids_only.lock().expect("lock") = on;
    }

    pub fn inject(&self, fault: Fault) {
        self.faults.lock().expect("lock").push_back(fault);
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The path of every request answered so far.
    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().expect("lock").clone()
    }

    /// Every write received so far, in order.
    pub fn writes(&self) -> Vec<Write> {
        self.writes.lock().expect("lock").clone()
    }

    /// Down (every request answers 503) or up again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::Relaxed);
    }

    /// Refuse every write to `target` (a line id or an order number) with a 400
    /// carrying `message` (DRF's `{"field": ["message"]}`).
    pub fn refuse_writes(&self, target: &str, message: &str) {
        self.refuse
            .lock()
            .expect("lock")
            .insert(target.into(), message.into());
    }

    /// Delete order `number` (as LeafLink does a draft): it is gone from every route.
    pub fn remove_order(&self, number: &str) -> bool {
        let mut orders = self.orders.lock().expect("lock");
        let before = orders.len();
        orders.retain(|o| o["number"] != number);
        orders.len() < before
    }

    /// Refuse no write any more.
    pub fn clear_refusals(&self) {
        self.refuse.lock().expect("lock").clear();
    }

    /// Order `number` as it stands (its status, lines and delivery info).
    pub fn order(&self, number: &str) -> Option<Value> {
        self.orders
            .lock()
            .expect("lock")
            .iter()
            .find(|o| o["number"] == number)
            .cloned()
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/api/v2/orders-received/", get(orders_received))
            .route(
                "/api/v2/orders-received/{number}/",
                get(write::order).patch(write::patch_order),
            )
            .route(
                "/api/v2/orders-received/{number}/transition/{action}/",
                axum::routing::post(write::transition),
            )
            .route(
                "/api/v2/line-items/{id}/",
                get(write::line_item).patch(write::patch_line_item),
            )
            .route("/api/v2/customers/{id}/", get(customer))
            .route("/api/v2/batches/{id}/", get(batch))
            .fallback(fallback)
            .with_state(self.clone())
    }

    pub async fn serve(self: &Arc<Self>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }

    /// Serve on a loopback port of its own thread; returns the API root URL
    /// (`http://127.0.0.1:PORT/api/v2/`).
    pub fn spawn(self: &Arc<Self>) -> String {
        let addr = crate::periodic::serve_on_loopback(self.router());
        format!("http://{addr}/api/v2/")
    }

    /// Every request: count it, check the key, meet the next fault. `Ok(Some(d))`:
    /// do the request, then wait `d` before answering (the answer is lost).
    fn gate(
        &self,
        headers: &HeaderMap,
        path: &str,
    ) -> Result<Option<std::time::Duration>, Response> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.paths.lock().expect("lock").push(path.to_string());
        if self.down.load(Ordering::Relaxed) {
            return Err(detail(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service temporarily unavailable.",
            ));
        }
        let mut stall = None;
        match self.faults.lock().expect("lock").pop_front() {
            Some(Fault::TooMany { retry_after }) => {
                let mut r = detail(StatusCode::TOO_MANY_REQUESTS, "Request was throttled.");
                if let Some(s) = retry_after {
                    r.headers_mut().insert(
                        header::RETRY_AFTER,
                        HeaderValue::from_str(&s.to_string()).expect("digits"),
                    );
                }
                return Err(r);
            }
            Some(Fault::ServerError) => {
                return Err(detail(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "A server error occurred.",
                ));
            }
            Some(Fault::LoseAnswer { seconds }) => {
                stall = Some(std::time::Duration::from_secs(seconds));
            }
            Some(Fault::Pass) | None => {}
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("App ").or(v.strip_prefix("Token ")));
        if given != Some(self.key.as_str()) {
            return Err(detail(
                StatusCode::UNAUTHORIZED,
                "Authentication credentials were not provided.",
            ));
        }
        Ok(stall)
    }
}

/// Anything else: a path without its trailing slash is LeafLink's 400.
async fn fallback(req: Request) -> Response {
    if !req.uri().path().ends_with('/') {
        return detail(
            StatusCode::BAD_REQUEST,
            "Request paths must end in a slash character ('/').",
        );
    }
    detail(StatusCode::NOT_FOUND, "Not found.")
}

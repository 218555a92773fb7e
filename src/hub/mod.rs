//! The facility hub: an axum service that holds the orders, serves devices their pick
//! lists, takes their events and merges them into one truth per order.
//!
//! [`run`] takes its listener, its store and its shutdown signal as arguments, so
//! tests start a real hub on `127.0.0.1:0`. The hub stores everything with the same
//! [`Store`] as a device, in its own database file. One connection serves all
//! requests, on one store thread; pushes commit durably (`synchronous=FULL`) before
//! the 200 that acknowledges them. Pushes waiting together are committed together
//! (group commit: one transaction, one fsync, a savepoint per push), each answered
//! with its own result only after that commit.
//!
//! Architecture Invariant: an acknowledged event is on disk. A push is all or
//! nothing, idempotent by (device, seq); a resend with other contents is refused
//! with 409 and written to the security log.

pub mod api;
pub mod cli;
pub mod openapi;
pub mod tls;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

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

use crate::domain::merge::{MergedOrder, Merger, merge};
use crate::domain::{Event, EventKind, Package, PickList, Rules};
use crate::store::{DeviceRecord, PushRefused, Store, StoreError};
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
    /// The shipper on manifests and templates the hub exports.
    pub ship: crate::config::ShipSettings,
    pub fault: Option<Fault>,
    /// Serve HTTPS with this certificate (rustls); `None`: plain HTTP.
    pub tls: Option<tls::TlsConfig>,
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
    ("GET", "/orders/{number}/outcome"),
    ("GET", "/orders/{number}/manifest"),
    ("GET", "/orders/{number}/report"),
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
    let (jobs, queue) = tokio::sync::mpsc::unbounded_channel::<Job>();
    let tls = options.tls.clone();
    let hub = Arc::new(Hub {
        jobs,
        live,
        options,
        closing,
    });
    let store_thread = spawn_store_thread(
        Inner {
            store,
            orders: HashMap::new(),
            aliases: HashMap::new(),
            devices: HashMap::new(),
            data_version,
        },
        hub.options.clone(),
        queue,
    )?;
    tracing::info!(addr = ?listener.local_addr().ok(), tls = tls.is_some(), "hub listening");
    let app = router(hub);
    let shutdown = async move {
        shutdown.await;
        let _ = closing_tx.send(true);
    };
    let served = match tls {
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(config) => {
            axum::serve(tls::TlsListener::new(listener, &config)?, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    };
    // The router (and with it every job sender) is gone: the store thread finishes
    // its queue, closes the database and ends.
    let _ = tokio::task::spawn_blocking(move || store_thread.join()).await;
    served
}

/// A store job slower than this is logged: requests queue behind it.
const SLOW_JOB: std::time::Duration = std::time::Duration::from_millis(50);

/// Most pushes committed together in one transaction (group commit): bounds the
/// time the first of them waits for the last.
const MAX_GROUP: usize = 256;
/// Most jobs taken from the queue in one round, pushes and others.
const MAX_ROUND: usize = 1024;

/// Work on the store other than a push.
type Task = Box<dyn FnOnce(&mut Inner, &HubOptions) + Send>;

/// One unit of work on the store, run on the store thread.
enum Job {
    /// Anything but a push: run alone, in its own transactions if it writes.
    Run(Task),
    /// A push: committed together with the other pushes waiting (group commit).
    Push(PushJob),
}

/// A checked push waiting for the store thread.
struct PushJob {
    /// The order as asked (number or short id).
    key: String,
    /// The pushing device's id (all its events carry it).
    device: String,
    req: PushRequest,
    /// Serialise the merged state for live streams (someone watches).
    live_watched: bool,
    reply: tokio::sync::oneshot::Sender<Result<Pushed, ApiError>>,
}

/// A push's answer: the order's number, the response, the live update to send.
type Pushed = (String, PushResponse, Option<String>);

/// The one thread that owns the hub's store, off the async workers. Each round takes
/// every job waiting (up to [`MAX_ROUND`], [`MAX_GROUP`] pushes): the other jobs run
/// one at a time in arrival order, then the pushes are committed in one transaction
/// (one fsync) and each is answered with its own result after that commit.
fn spawn_store_thread(
    mut inner: Inner,
    options: HubOptions,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<Job>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("tagtally-hub-store".into())
        .spawn(move || {
            while let Some(first) = queue.blocking_recv() {
                let started = std::time::Instant::now();
                let mut pushes = vec![];
                let mut taken = 0;
                let mut next = Some(first);
                while let Some(job) = next.take() {
                    taken += 1;
                    match job {
                        Job::Run(job) => {
                            let run = std::panic::AssertUnwindSafe(|| job(&mut inner, &options));
                            if std::panic::catch_unwind(run).is_err() {
                                tracing::error!("a hub job panicked; its request got a 500");
                            }
                        }
                        Job::Push(p) => pushes.push(p),
                    }
                    if pushes.len() < MAX_GROUP && taken < MAX_ROUND {
                        next = queue.try_recv().ok();
                    }
                }
                let group = pushes.len();
                if !pushes.is_empty() {
                    let run = std::panic::AssertUnwindSafe(|| inner.push_group(pushes, &options));
                    if std::panic::catch_unwind(run).is_err() {
                        // Nothing of the group is kept; its requests got a 500.
                        inner.store.abort_group();
                        inner.orders.clear();
                        inner.aliases.clear();
                        tracing::error!("a hub push group panicked; its requests got a 500");
                    }
                }
                let took = started.elapsed();
                if took > SLOW_JOB {
                    tracing::warn!(?took, group, queued = queue.len(), "slow hub store round");
                }
            }
        })
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
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
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
    /// Devices by token hash, as last read.
    devices: HashMap<String, DeviceRecord>,
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
    /// Events that reached the hub after the order was closed here.
    late: Vec<crate::domain::merge::Exception>,
}

impl Cached {
    /// The merged order, with the exceptions of events that came after its close.
    fn view(&self) -> MergedOrder {
        let mut v = self.merger.view(&self.list);
        v.exceptions.extend(self.late.iter().cloned());
        v
    }
}

impl Hub {
    /// Run `f` on the store thread and wait for its answer.
    async fn with<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Inner, &HubOptions) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Job::Run(Box::new(move |inner, options| {
                let _ = tx.send(f(inner, options));
            })))
            .map_err(|_| ApiError::internal("the hub's store thread has stopped".into()))?;
        rx.await
            .map_err(|_| ApiError::internal("a hub job failed (see the hub's log)".into()))?
    }
}

impl Inner {
    /// Drop the caches if another process wrote to the database (an import, a
    /// revocation): they are rebuilt from the store on demand.
    fn check_version(&mut self) -> Result<(), StoreError> {
        let version = self.store.data_version()?;
        if version != self.data_version {
            self.orders.clear();
            self.aliases.clear();
            self.devices.clear();
            self.data_version = version;
        }
        Ok(())
    }

    /// The enrolled, not revoked device holding `token`; refusals are logged.
    fn authenticate(&mut self, token: &str, path: &str) -> Result<Device, ApiError> {
        self.check_version()?;
        let hash = crate::store::token_hash(token);
        let found = match self.devices.get(&hash) {
            Some(d) => Some(d.clone()),
            None => {
                let d = self.store.device_by_token(token)?;
                if let Some(d) = &d {
                    self.devices.insert(hash, d.clone());
                }
                d
            }
        };
        match found {
            Some(d) if !d.is_revoked() => Ok(Device {
                name: d.name,
                device_id: d.device_id,
            }),
            Some(d) => {
                self.store.log_security(
                    d.device_id.as_deref(),
                    "revoked_device",
                    &format!("revoked device {} called {path}", d.name),
                )?;
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "revoked",
                    format!("device {} was revoked; enrol it again to use it", d.name),
                ))
            }
            None => {
                self.store.log_security(
                    None,
                    "unknown_token",
                    &format!("unknown token on {path}"),
                )?;
                Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "bad_token",
                    "unknown device token: enrol the device on the hub (`tagtally hub enroll-device NAME`)",
                ))
            }
        }
    }

    /// The merged order for `key` (number or short id), brought up to date.
    fn merged(&mut self, key: &str, rules: &Rules) -> Result<(String, &mut Cached), ApiError> {
        self.check_version()?;
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
                    late: Vec::new(),
                },
            );
        }
        let cached = self.orders.get_mut(&number).expect("just inserted");
        // New events fold in place while they come after the last one folded (the
        // usual case); one that sorts earlier (a device back from offline) means the
        // order is folded again from all its events.
        let mut refold = false;
        loop {
            let batch = self
                .store
                .order_events_after(&number, cached.last_id, 10_000)?;
            let (ids, events): (Vec<i64>, Vec<Event>) = batch.into_iter().unzip();
            let Some(&last) = ids.last() else { break };
            refold = refold
                || !cached
                    .merger
                    .fold_in(&cached.list, &cached.packages, rules, today, &events);
            cached.last_id = last;
        }
        if refold {
            let events = self.store.events_for_order(&number)?;
            cached.merger = merge(&cached.list, &cached.packages, rules, today, &events);
        }
        cached.late = if self.store.order_open(&number)? {
            Vec::new()
        } else {
            self.store
                .events_after_close(&number)?
                .iter()
                .filter_map(crate::domain::merge::closed_order)
                .collect()
        };
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
        let merged = cached.view();
        let last = cached.last_id;
        let rows = self
            .store
            .order_feed(&number, since, device.unwrap_or(""), FEED_LIMIT)?;
        let more = rows.len() == FEED_LIMIT;
        let cursor = match rows.last() {
            Some((id, _)) if more => *id,
            _ => last.max(since),
        };
        let events: Vec<Event> = rows.into_iter().map(|(_, e)| e).collect();
        let mut attachments = vec![];
        for sha in events.iter().flat_map(|e| e.kind.attachments()) {
            if let Some(a) = self.store.attachment(sha)? {
                attachments.push(api::WireAttachment::encode(&a));
            }
        }
        Ok((
            number,
            Feed {
                merged,
                events,
                cursor,
                more,
                attachments,
            },
        ))
    }
}

impl Inner {
    /// Group commit: every push of `jobs` in one transaction, each in its own
    /// savepoint (a refused push rolls back alone, its neighbours stay), one commit
    /// (one fsync), then each push answered with its own result. No push is answered
    /// before the commit; if the commit fails, every push of the group is refused and
    /// nothing of it is kept.
    fn push_group(&mut self, jobs: Vec<PushJob>, opts: &HubOptions) {
        if let Err(e) = self.store.begin_group() {
            let e = ApiError::from(e);
            for job in jobs {
                let _ = job.reply.send(Err(e.clone()));
            }
            return;
        }
        let mut done = Vec::with_capacity(jobs.len());
        let mut lost: Option<ApiError> = None;
        for job in jobs {
            let r = match &lost {
                Some(e) => Err(e.clone()),
                None => self.push_one(&job, opts),
            };
            if lost.is_none() && !self.store.in_group() {
                // SQLite rolled back the whole transaction (a full disk, an I/O
                // error): nothing of the group is kept, every push of it is refused.
                lost = Some(match &r {
                    Err(e) => e.clone(),
                    Ok(_) => ApiError::internal("the hub's transaction was rolled back".into()),
                });
            }
            done.push((job, r));
        }
        let committed = match lost {
            Some(e) => Err(e),
            None => self.store.commit_group().map_err(ApiError::from),
        };
        if let Err(e) = committed {
            // The merged orders may have folded events that are not kept.
            self.orders.clear();
            self.aliases.clear();
            for (job, _) in done {
                let _ = job.reply.send(Err(e.clone()));
            }
            return;
        }
        for (job, r) in done {
            let answer =
                r.and_then(|(number, receipt)| self.push_answer(&job, number, receipt, opts));
            let _ = job.reply.send(answer);
        }
    }

    /// One push inside the group's transaction, all or nothing in its own savepoint.
    /// A refusal's security-log row is kept (outside the savepoint).
    fn push_one(
        &mut self,
        job: &PushJob,
        opts: &HubOptions,
    ) -> Result<(String, crate::store::Receipt), ApiError> {
        self.store.push_savepoint()?;
        let result = self.push_in_savepoint(job, opts);
        if !self.store.in_group() {
            // SQLite rolled back the whole transaction (a full disk, an I/O error).
            return Err(match result {
                Err(Refusal::Plain(e)) => e,
                _ => ApiError::internal("the hub's transaction was rolled back".into()),
            });
        }
        if let Err(e) = self.store.end_push_savepoint(result.is_ok()) {
            // This push's writes could not be kept or undone alone: the group is
            // rolled back whole (every push of it refused) rather than committed.
            self.store.abort_group();
            return Err(e.into());
        }
        match result {
            Ok(done) => Ok(done),
            Err(Refusal::Plain(e)) => Err(e),
            Err(Refusal::Altered { device, seq, order }) => {
                self.store.log_security(
                    Some(&device),
                    "altered_replay",
                    &format!(
                        "event {device}/{seq} resent on order {order} with different contents"
                    ),
                )?;
                Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "altered_replay",
                    format!(
                        "event {device}/{seq} was already received with different contents: refused and logged as a security event"
                    ),
                ))
            }
            Err(Refusal::Role { device, message }) => {
                self.store.log_security(Some(&device), "role", &message)?;
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "role",
                    format!("{message}: refused and logged as a security event"),
                ))
            }
        }
    }

    fn push_in_savepoint(
        &mut self,
        job: &PushJob,
        opts: &HubOptions,
    ) -> Result<(String, crate::store::Receipt), Refusal> {
        let events = &job.req.events;
        // Resolve the order first: a push for an unknown order stores nothing.
        let (number, _) = self.merged(&job.key, &opts.rules).map_err(Refusal::Plain)?;
        if let Some(e) = events.iter().find(|e| e.order != number) {
            return Err(ApiError::bad_request(format!(
                "event {} is for order {}, pushed to order {number}",
                e.seq, e.order
            ))
            .into());
        }
        let attachments = job
            .req
            .attachments
            .iter()
            .map(|w| w.decode())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_attachment", m))?;
        let receipt = match self.store.receive_with(events, &attachments) {
            Ok(r) => r,
            Err(PushRefused::Altered { device, seq }) => {
                return Err(Refusal::Altered {
                    device,
                    seq,
                    order: number,
                });
            }
            Err(e @ PushRefused::MissingAttachment { .. }) => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "missing_attachment",
                    e.to_string(),
                )
                .into());
            }
            Err(e @ PushRefused::Role { .. }) => {
                return Err(Refusal::Role {
                    device: job.device.clone(),
                    message: e.to_string(),
                });
            }
            Err(PushRefused::Store(e)) => return Err(ApiError::from(e).into()),
        };
        if receipt.new > 0
            && let Some((e, days)) = clock_skew(events)
        {
            // Merging goes by arrival, not by device time: the events are kept as
            // recorded, and the wrong clock is reported.
            self.store.log_security(
                Some(&job.device),
                "clock_skew",
                &format!(
                    "event {}/{} says {} ({days:+} days from the hub's clock): check the device's clock",
                    e.device, e.seq, e.at
                ),
            ).map_err(ApiError::from)?;
        }
        Ok((number, receipt))
    }

    /// A committed push's answer: the order's merged state and feed as they are now.
    fn push_answer(
        &mut self,
        job: &PushJob,
        number: String,
        receipt: crate::store::Receipt,
        opts: &HubOptions,
    ) -> Result<Pushed, ApiError> {
        let (_, feed) = self.feed(&number, job.req.since, Some(&job.device), &opts.rules)?;
        let update = (receipt.new > 0 && job.live_watched)
            .then(|| serde_json::to_string(&feed.merged).expect("merged orders serialise"));
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
    }
}

/// Why one push of a group was refused (its savepoint is rolled back).
enum Refusal {
    Plain(ApiError),
    /// An altered replay: logged after the rollback, so the log row is kept.
    Altered {
        device: String,
        seq: i64,
        order: String,
    },
    /// An event whose person may not do it: logged after the rollback too.
    Role {
        device: String,
        message: String,
    },
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Plain(e)
    }
}

/// The first event whose time is more than a day off the hub's clock (or unreadable),
/// with the difference in whole days.
fn clock_skew(events: &[Event]) -> Option<(&Event, i64)> {
    let now = chrono::Utc::now();
    events.iter().find_map(|e| {
        let days = match chrono::DateTime::parse_from_rfc3339(&e.at) {
            Ok(t) => (t.with_timezone(&chrono::Utc) - now).num_days(),
            Err(_) => i64::MAX,
        };
        (days.abs() >= 1).then_some((e, days))
    })
}

// ---- errors ----

/// A refusal: status, a stable word, a sentence.
#[derive(Clone, Debug)]
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

impl From<crate::app::docs::DocError> for ApiError {
    fn from(e: crate::app::docs::DocError) -> Self {
        match e {
            crate::app::docs::DocError::Store(s) => s.into(),
            crate::app::docs::DocError::Refused(m) => {
                ApiError::new(StatusCode::CONFLICT, "not_ready", m)
            }
        }
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
        let announced = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        // Refuse an announced oversize body at once, without reading it.
        let result = match announced {
            Some(n) if n > BODY_LIMIT => Err(None),
            _ => Json::<T>::from_request(req, state).await.map_err(Some),
        };
        match result {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(r) => {
                let status = r
                    .as_ref()
                    .map_or(StatusCode::PAYLOAD_TOO_LARGE, JsonRejection::status);
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
                    let why = r.map(|r| r.body_text()).unwrap_or_default();
                    ApiError::bad_request(format!("malformed JSON body: {why}"))
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
        hub.with(move |inner, _| inner.authenticate(&token, &path))
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
            people: inner.store.person_records()?,
            hub: inner.store.instance_id()?,
            your_last_seq: match device.device_id.as_deref() {
                Some(id) => Some(inner.store.last_seq_of(id)?),
                None => None,
            },
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
    hub.with(move |inner, _| Ok(Json(crate::app::docs::outcome(&inner.store, &key)?)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Verdict;
    use crate::tag::NotATag;
    use std::time::Duration;

    fn inner() -> (tempfile::TempDir, Inner) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("hub.db"), Duration::from_secs(1)).unwrap();
        crate::app::load_demo(&mut store).unwrap();
        let data_version = store.data_version().unwrap();
        let inner = Inner {
            store,
            orders: HashMap::new(),
            aliases: HashMap::new(),
            devices: HashMap::new(),
            data_version,
        };
        (dir, inner)
    }

    fn ev(device: &str, seq: i64, raw: &str) -> Event {
        Event {
            person: None,
            device: device.into(),
            seq,
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            order: "SO-1001".into(),
            kind: EventKind::scan(
                raw.as_bytes(),
                raw.len(),
                None,
                Verdict::NotATag {
                    reason: NotATag::OtherBarcode,
                },
            ),
        }
    }

    type Answer = tokio::sync::oneshot::Receiver<Result<Pushed, ApiError>>;

    fn job(key: &str, events: Vec<Event>) -> (PushJob, Answer) {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = PushJob {
            key: key.into(),
            device: events[0].device.clone(),
            req: PushRequest {
                events,
                since: 0,
                attachments: vec![],
            },
            live_watched: false,
            reply,
        };
        (job, answer)
    }

    /// (status, accepted, duplicates, acked) of one answer.
    fn outcome(mut a: Answer) -> (u16, usize, usize, Vec<i64>) {
        match a.try_recv().expect("answered when the group ends") {
            Ok((_, r, _)) => (200, r.accepted, r.duplicates, r.acked),
            Err(e) => (e.status.as_u16(), 0, 0, vec![]),
        }
    }

    #[test]
    fn a_group_commits_once_and_answers_each_push_with_its_own_result() {
        let (_d, mut inner) = inner();
        let opts = HubOptions::default();
        let held = ev("d1", 1, "a");
        let (first, a) = job("SO-1001", vec![held.clone()]);
        inner.push_group(vec![first], &opts);
        assert_eq!(outcome(a), (200, 1, 0, vec![1]));

        let pushes = vec![
            job("SO-1001", vec![ev("d2", 1, "b")]),
            // An altered replay of d1/1, with a new event: refused whole.
            job("SO-1001", vec![ev("d1", 1, "CHANGED"), ev("d1", 2, "c")]),
            job("SO-1001", vec![ev("d3", 1, "d")]),
            job("SO-9999", vec![ev("d4", 1, "e")]),
            job("SO-1001", vec![ev("d2", 2, "f")]),
            // A plain resend of d1/1: a duplicate, acknowledged again.
            job("SO-1001", vec![held]),
        ];
        let (jobs, answers): (Vec<_>, Vec<_>) = pushes.into_iter().unzip();
        inner.push_group(jobs, &opts);
        assert!(!inner.store.in_group(), "the group's transaction is closed");
        let got: Vec<_> = answers.into_iter().map(outcome).collect();
        assert_eq!(
            got,
            vec![
                (200, 1, 0, vec![1]),
                (409, 0, 0, vec![]),
                (200, 1, 0, vec![1]),
                (404, 0, 0, vec![]),
                (200, 1, 0, vec![2]),
                (200, 0, 1, vec![1]),
            ]
        );
        // d1/1, d2/1, d3/1, d2/2: the refused push kept nothing (not d1/2).
        assert_eq!(inner.store.event_count().unwrap(), 4);
        let log = inner.store.security_log().unwrap();
        assert!(
            log.iter()
                .any(|e| e.kind == "altered_replay" && e.detail.contains("d1/1")),
            "{log:?}"
        );
        // The merged order counts what was kept, nothing of the refused push.
        let (_, c) = inner.merged("SO-1001", &opts.rules).unwrap();
        let last = c.last_id;
        let held = inner.store.order_events_after("SO-1001", 0, 100).unwrap();
        assert_eq!(held.len(), 4);
        assert_eq!(held.last().unwrap().0, last);
    }
}

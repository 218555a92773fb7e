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
mod desk;
mod error;
pub mod openapi;
mod push;
mod routes;
pub mod tls;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{Local, NaiveDate};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

use crate::domain::merge::{MergedOrder, Merger, merge};
use crate::domain::{Event, Package, PickList, Rules};
use crate::store::{DeviceRecord, Store, StoreError};
use crate::tag::MetrcTag;
use api::{FEED_LIMIT, Feed, PushRequest, PushResponse};

pub use desk::ROUTES as DESK_ROUTES;
pub use error::ApiError;
use routes::{Device, router};

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
    /// Pull package facts from Metrc while serving (when set up, `poll_seconds > 0`),
    /// and post confirmed loads' templates (`push_templates`).
    pub metrc: Option<crate::config::MetrcSettings>,
    /// Pull orders from LeafLink while serving (when set up, `poll_seconds > 0`).
    pub leaflink: Option<crate::config::LeafLinkSettings>,
    /// Pull shipping orders from Apex while serving (when set up, `poll_seconds > 0`).
    pub apex: Option<crate::config::ApexSettings>,
    /// The coordinator's desk: session idle time and the PIN lock-out.
    pub desk: DeskOptions,
}

/// How the desk (`/desk`) signs people in and keeps them signed in.
#[derive(Clone, Debug)]
pub struct DeskOptions {
    /// A session ends after this long without a request (`[desk] idle_minutes`).
    pub idle: std::time::Duration,
    /// Wrong PINs and lock-out, as on the floor (`[people]`).
    pub lockout: crate::store::Lockout,
}

impl Default for DeskOptions {
    fn default() -> Self {
        DeskOptions::from_settings(&crate::config::Settings::default())
    }
}

impl DeskOptions {
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        DeskOptions {
            idle: s.desk.idle(),
            lockout: s.people.lockout(),
        }
    }
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
    let poller = match &options.metrc {
        Some(m) if m.is_set() && (m.poll_seconds > 0 || m.push_templates) => Some(
            crate::metrc::poll::Poller::start(
                store.path().to_path_buf(),
                std::time::Duration::from_secs(5),
                m.clone(),
                options.ship.clone(),
            )
            .map_err(std::io::Error::other)?,
        ),
        _ => None,
    };
    let leaflink = match &options.leaflink {
        Some(l) if l.is_set() && l.poll_seconds > 0 => Some(
            crate::leaflink::poll::Poller::start(
                store.path().to_path_buf(),
                std::time::Duration::from_secs(5),
                l.clone(),
            )
            .map_err(std::io::Error::other)?,
        ),
        _ => None,
    };
    let apex = match &options.apex {
        Some(a) if a.is_set() && a.poll_seconds > 0 => Some(
            crate::apex::poll::Poller::start(
                store.path().to_path_buf(),
                std::time::Duration::from_secs(5),
                a.clone(),
            )
            .map_err(std::io::Error::other)?,
        ),
        _ => None,
    };
    let hub = Arc::new(Hub {
        jobs,
        live,
        desk: desk::Sessions::default(),
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
    // The poller finishes the pull in progress, if any.
    let _ = tokio::task::spawn_blocking(move || {
        drop(poller);
        drop(leaflink);
        drop(apex);
    })
    .await;
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

struct Hub {
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    /// Every order's merged state after each change: the order's live stream and
    /// the desk's board both listen.
    live: broadcast::Sender<LiveUpdate>,
    /// The desk's signed-in sessions (in memory: a restart signs everyone out).
    desk: desk::Sessions,
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
    /// The order as imported, its lines and allocation.
    order: crate::domain::Order,
    list: PickList,
    packages: HashMap<MetrcTag, Package>,
    merger: Merger,
    last_id: i64,
    today: NaiveDate,
    /// Events that reached the hub after the order was closed here.
    late: Vec<crate::domain::merge::Exception>,
    /// The load and delivery, and who works on the order: folded with the merge
    /// from the same counted events (for the desk's board).
    ship: crate::domain::Shipment,
    workers: crate::domain::stage::Workers,
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
                    order,
                    list,
                    packages,
                    merger: Merger::new(),
                    last_id: 0,
                    today,
                    late: Vec::new(),
                    ship: Default::default(),
                    workers: Default::default(),
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
            if !refold {
                // In order and none a hold or a ruling: every one counts.
                for e in &events {
                    cached.ship.apply(e);
                    cached.workers.apply(e);
                }
            }
            cached.last_id = last;
        }
        if refold {
            let events = self.store.events_for_order(&number)?;
            cached.merger = merge(&cached.list, &cached.packages, rules, today, &events);
            cached.ship = Default::default();
            cached.workers = Default::default();
            for e in crate::domain::counted(events) {
                cached.ship.apply(&e);
                cached.workers.apply(&e);
            }
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

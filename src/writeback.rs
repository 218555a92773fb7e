//! What the floor did, written back to the B2B platform each order came from: one
//! round decides again, order by order, what should be true at the platform
//! ([`reconcile`]: `domain::writeback` on the order's counted events), queues what
//! is new or changed, then works the queue ([`work`]): each write leased by this
//! process, its try counted before it is sent, the platform read before it is
//! written, so a retry after a lost answer, a kill or a second push sends nothing
//! the platform already has. A platform's client implements [`Sink`]; this module
//! knows no platform.

use std::collections::HashSet;
use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::domain::writeback::{
    Failure, FloorFacts, Platform, Queued, Wanted, backoff_seconds, reconcile as decide, wanted,
};
use crate::store::{OrderSource, PlatformWrite, PlatformWriteState, Store, StoreError};

/// How long a lease on a write lasts: longer than any one write's requests.
const LEASE: Duration = Duration::minutes(5);

/// How one write ended at the platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// Something was sent (`false`: the platform had it already).
    pub sent: bool,
    /// The platform's status of the order after it, when the answer said.
    pub status: Option<String>,
}

/// Why a write did not go through, in the platform's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkError {
    pub failure: Failure,
    pub message: String,
}

/// A platform's side of the write-back: make `wanted` true for the order the
/// platform knows as `source`, reading before writing.
pub trait Sink {
    fn platform(&self) -> Platform;
    fn apply(
        &self,
        source: &OrderSource,
        wanted: &Wanted,
    ) -> impl Future<Output = Result<Applied, SinkError>>;
}

/// The statuses after which nothing is written back (the order left the platform):
/// LeafLink's words, and the status the Apex pull gives a cancelled order.
fn closed_on_platform(status: Option<&str>) -> bool {
    let s = status.unwrap_or("").trim().to_ascii_lowercase();
    matches!(s.as_str(), "cancelled" | "rejected" | "combined")
}

/// The floor's facts of one order, from the store.
pub fn floor_facts(store: &Store, order: &crate::domain::Order) -> Result<FloorFacts, StoreError> {
    let (shipment, events) = store.shipment_and_events(order)?;
    let manifest = store
        .metrc_deliveries_of(&order.number)?
        .into_iter()
        .find_map(|d| d.manifest_number);
    Ok(FloorFacts::of(&shipment, &events, manifest))
}

/// The writes `order` calls for beside what is queued: what a round would queue.
pub fn pending(
    store: &Store,
    platform: Platform,
    order: &crate::domain::Order,
) -> Result<Vec<Wanted>, StoreError> {
    let facts = floor_facts(store, order)?;
    let queued = queued(store.platform_writes_of(&order.number)?);
    Ok(decide(&wanted(platform, &facts), &queued)
        .into_iter()
        .map(|e| match e {
            crate::domain::writeback::Enqueue::New(w)
            | crate::domain::writeback::Enqueue::Changed(w) => w,
        })
        .collect())
}

fn queued(rows: Vec<PlatformWrite>) -> Vec<Queued> {
    rows.into_iter()
        .map(|w| Queued {
            kind: w.kind,
            subject: w.subject,
            wanted: w.wanted,
        })
        .collect()
}

/// Decide again for every order from `platform` what should be true there, and
/// queue what is new or changed; how many writes were queued.
pub fn reconcile(
    store: &mut Store,
    platform: Platform,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for source in store.orders_to_write_back(platform)? {
        if closed_on_platform(source.status.as_deref()) {
            continue;
        }
        let order = match store.find_order(&source.order) {
            Ok(o) => o,
            Err(StoreError::NoSuchOrder(_)) => continue,
            Err(e) => return Err(e),
        };
        // Cancelled or rejected on the platform (as the pull imported it; a
        // Shipped or Complete there is this module's own doing and writes on).
        if closed_on_platform(Some(&order.status.0)) {
            continue;
        }
        let facts = floor_facts(store, &order)?;
        let queued = queued(store.platform_writes_of(&order.number)?);
        let writes = decide(&wanted(platform, &facts), &queued);
        n += writes.len();
        store.enqueue_platform_writes(platform, &order.number, &writes, now)?;
    }
    Ok(n)
}

/// What one round of the queue did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct WorkReport {
    /// Writes sent and answered.
    pub sent: usize,
    /// Writes the platform had already (read before sending).
    pub already: usize,
    /// Writes to try again later, each with why.
    pub retry: Vec<String>,
    /// Writes refused by the platform, each with its words: for a person.
    pub refused: Vec<String>,
    /// The key was refused: nothing more was tried this round.
    pub key: Option<String>,
    /// Writes left for their order's earlier writes, or leased by another process.
    pub waiting: usize,
}

impl WorkReport {
    pub fn line(&self, platform: Platform) -> String {
        let mut s = format!(
            "{} push: {} sent, {} already there, {} to retry, {} refused, {} waiting",
            platform.as_str(),
            self.sent,
            self.already,
            self.retry.len(),
            self.refused.len(),
            self.waiting
        );
        for r in &self.refused {
            s.push_str(&format!("\n  refused: {r}"));
        }
        for r in &self.retry {
            s.push_str(&format!("\n  retry: {r}"));
        }
        if let Some(k) = &self.key {
            s.push_str(&format!("\n  {k}"));
        }
        s
    }
}

fn what(w: &PlatformWrite) -> String {
    format!("{} {}", w.order, w.wanted.describe())
}

/// Work the queue of `sink`'s platform at `now`: every due write, order by order,
/// each order's in turn (a write waits while an earlier one of its order is still
/// queued).
pub async fn work(
    store: &mut Store,
    sink: &impl Sink,
    now: DateTime<Utc>,
) -> Result<WorkReport, StoreError> {
    let platform = sink.platform();
    let mut report = WorkReport::default();
    let mut held: HashSet<String> = HashSet::new();
    for w in store.due_platform_writes(platform, now)? {
        if held.contains(&w.order) {
            report.waiting += 1;
            continue;
        }
        let earlier_queued = store
            .platform_writes_of(&w.order)?
            .iter()
            .any(|e| e.id != w.id && e.state == PlatformWriteState::Queued && e.kind < w.kind);
        if earlier_queued {
            report.waiting += 1;
            held.insert(w.order.clone());
            continue;
        }
        let Some(source) = store.order_source(&w.order)? else {
            store.platform_write_failed(w.id, "the order no longer names its platform", now)?;
            report.refused.push(format!(
                "{}: the order no longer names its platform",
                what(&w)
            ));
            continue;
        };
        if !store.lease_platform_write(w.id, now, now + LEASE)? {
            report.waiting += 1;
            held.insert(w.order.clone());
            continue;
        }
        if !store.platform_write_attempt(w.id, now, now + LEASE)? {
            report.waiting += 1;
            held.insert(w.order.clone());
            continue;
        }
        let result = sink.apply(&source, &w.wanted).await;
        match result {
            Ok(applied) => {
                let outcome = if applied.sent { "sent" } else { "already" };
                store.platform_write_done(w.id, outcome, now)?;
                if let Some(s) = &applied.status {
                    store.set_platform_status(&w.order, s)?;
                }
                if applied.sent {
                    report.sent += 1;
                } else {
                    report.already += 1;
                }
                tracing::info!(
                    order = w.order,
                    write = w.wanted.describe(),
                    outcome,
                    platform = platform.as_str(),
                    "written back"
                );
            }
            Err(e) => {
                let next = now + Duration::seconds(backoff_seconds(w.attempts + 1) as i64);
                match e.failure {
                    Failure::Retry => {
                        store.platform_write_retry(w.id, &e.message, next, true)?;
                        report.retry.push(format!("{}: {}", what(&w), e.message));
                        held.insert(w.order.clone());
                    }
                    Failure::Refused => {
                        store.platform_write_failed(w.id, &e.message, now)?;
                        tracing::warn!(
                            order = w.order,
                            write = w.wanted.describe(),
                            error = e.message,
                            "the platform refused a write back"
                        );
                        report.refused.push(format!("{}: {}", what(&w), e.message));
                    }
                    Failure::Key => {
                        store.platform_write_retry(w.id, &e.message, next, false)?;
                        store.release_platform_write(w.id)?;
                        report.key = Some(e.message);
                        return Ok(report);
                    }
                }
            }
        }
        store.release_platform_write(w.id)?;
    }
    Ok(report)
}

/// One round: reconcile, then work the queue.
pub async fn round(
    store: &mut Store,
    sink: &impl Sink,
    now: DateTime<Utc>,
) -> Result<WorkReport, StoreError> {
    reconcile(store, sink.platform(), now)?;
    work(store, sink, now).await
}

//! Posting a confirmed load's transfer template to Metrc, exactly once, from the
//! durable queue of `metrc_writes`: `tagtally metrc push ORDER` works one write now;
//! the hub's writer ([`super::poll`]) queues every load it learns was confirmed (with
//! `[metrc] push_templates`) and works what is due. [`super::decide`] says what to do;
//! this module does it and records each step before the next.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};

use super::client::Client;
use super::decide::{self, Listed, LoadPrint, Record, Step};
use super::plan::{self, MetrcError};
use crate::app::docs::{DocError, manifest_doc};
use crate::config::{MetrcSettings, ShipSettings};
use crate::store::{MetrcWrite, Store, StoreError, WriteState};

/// When the hub's writer first ran on this database (loads confirmed before it
/// are not posted by the hub).
pub const PUSH_SINCE: &str = "metrc_push_templates_since";

/// What a push did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Posted now; Metrc gave it this id.
    Posted { id: i64, name: String },
    /// Posted before (as this id): nothing was sent.
    Already { id: i64, name: String },
    /// A try whose answer was lost had reached Metrc: its id kept, nothing sent
    /// again. `duplicates`: other templates of that name in Metrc.
    Found {
        id: i64,
        name: String,
        duplicates: Vec<i64>,
    },
    /// Not posted yet: Metrc failed or did not answer; the queue tries again at `next`.
    Later {
        name: String,
        error: String,
        next: DateTime<Utc>,
    },
}

impl Pushed {
    /// In words, for `tagtally metrc push` and the hub's log.
    pub fn line(&self) -> String {
        match self {
            Pushed::Posted { id, name } => {
                format!("metrc push: template {name:?} posted; Metrc's id {id}")
            }
            Pushed::Already { id, name } => format!(
                "metrc push: template {name:?} was already posted (Metrc's id {id}); nothing posted"
            ),
            Pushed::Found {
                id,
                name,
                duplicates,
            } => {
                let mut s = format!(
                    "metrc push: template {name:?} was already in Metrc (id {id}) from an earlier try whose answer was lost; nothing posted again"
                );
                if !duplicates.is_empty() {
                    let d: Vec<String> = duplicates.iter().map(i64::to_string).collect();
                    s.push_str(&format!(
                        "; Metrc also holds templates {} of the same name: archive them in Metrc",
                        d.join(", ")
                    ));
                }
                s
            }
            Pushed::Later { name, error, next } => format!(
                "metrc push: template {name:?} not posted yet ({error}); it stays queued and is tried again at {}",
                plan::stamp(*next)
            ),
        }
    }
}

/// Why a push cannot go on without a person.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Doc(#[from] DocError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the load of order {order} changed after its template went to Metrc (load {load}{}): {}; nothing was posted. Fix the template in Metrc by hand, or archive it there and confirm the load again",
        .id.map(|i| format!(", template {i}")).unwrap_or_else(|| ", perhaps received".into()),
        .changes.join("; ")
    )]
    Changed {
        order: String,
        load: String,
        id: Option<i64>,
        changes: Vec<String>,
    },
    #[error("Metrc refused template {name:?}: {error}; nothing was posted")]
    Refused { name: String, error: MetrcError },
    #[error(
        "template {name:?} is being posted by another process (the hub's writer?); try again in a minute, or see `tagtally metrc status`"
    )]
    Busy { name: String },
}

/// How long one process may hold a write while it looks: a listing's requests.
fn lease(metrc: &MetrcSettings) -> Duration {
    Duration::seconds(metrc.timeout_seconds.max(1) as i64 * 4 + 30)
}

/// How long one process holds a write from the moment its try is counted: the post
/// with every try the client makes of it, and every 429 it may sit out (12 of a
/// minute at most), so no other process takes the write while it may still be sent.
fn post_lease(metrc: &MetrcSettings) -> Duration {
    Duration::seconds(metrc.timeout_seconds.max(1) as i64 * 5 + 13 * 60)
}

/// How long after a try whose answer was lost its template may still reach Metrc's
/// listing (a server that commits after the client gave up): nothing is listed, and
/// so nothing posted again, before then.
pub fn settle(metrc: &MetrcSettings) -> Duration {
    Duration::seconds((metrc.timeout_seconds.max(1) as i64 * 2).max(2))
}

/// How far before its first try a template is looked for: Metrc's clock and this
/// one may disagree.
const SKEW: Duration = Duration::hours(1);

/// The wait before try `attempts + 1`: 5 s doubling, at most 10 minutes.
pub fn backoff(attempts: u32) -> Duration {
    let secs = 5u64.saturating_mul(1 << attempts.saturating_sub(1).min(8));
    Duration::seconds(secs.min(600) as i64)
}

fn record(w: &MetrcWrite) -> Record {
    Record {
        load: w.load_id.clone(),
        attempts: w.attempts,
        metrc_id: w.metrc_id,
        acknowledged: w.acknowledged,
        print: LoadPrint::from_text(&w.print).unwrap_or(LoadPrint {
            load: w.load_id.clone(),
            destinations: vec![],
        }),
    }
}

/// The template of `order`'s confirmed load as it is now: the write's key, name,
/// body (exactly `tagtally manifest --format metrc-template`) and print.
fn current(store: &Store, ship: &ShipSettings, order: &str) -> Result<Current, PushError> {
    let doc = manifest_doc(store, ship, order)?;
    let body = crate::export::metrc_template(&doc);
    Ok(Current {
        confirmed_at: plan::parse_time(&doc.loaded_at),
        order: doc
            .destinations
            .first()
            .map(|d| d.order.clone())
            .unwrap_or_else(|| order.to_string()),
        name: doc.name.clone(),
        print: LoadPrint::of(&doc),
        body,
    })
}

struct Current {
    order: String,
    /// When the load was confirmed.
    confirmed_at: Option<DateTime<Utc>>,
    name: String,
    print: LoadPrint,
    body: serde_json::Value,
}

/// Queue the template of `order`'s confirmed load (once per load).
fn queue(store: &mut Store, c: &Current, now: DateTime<Utc>) -> Result<MetrcWrite, PushError> {
    let orders: Vec<String> = c.print.orders().map(str::to_string).collect();
    Ok(store.queue_template(
        &c.print.load,
        &c.name,
        &serde_json::to_string(&c.body).expect("a JSON value serialises"),
        &c.print.to_text(),
        &orders,
        now,
    )?)
}

/// `tagtally metrc push ORDER`: queue the template of ORDER's confirmed load and
/// work it now, whatever `push_templates` says. A write that failed before is tried
/// again; one the hub's writer is working is waited for (a minute at most).
pub async fn push_order(
    store: &mut Store,
    client: &Client,
    ship: &ShipSettings,
    metrc: &MetrcSettings,
    order: &str,
) -> Result<Pushed, PushError> {
    let c = current(store, ship, order)?;
    let w = queue(store, &c, Utc::now())?;
    let mut waited = 0;
    loop {
        let now = Utc::now();
        if store.lease_metrc_write(w.id, now, now + lease(metrc))? {
            break;
        }
        if waited >= 300 {
            return Err(PushError::Busy { name: w.name });
        }
        waited += 1;
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    let result = work(store, client, metrc, w.id, &c).await;
    store.release_metrc_write(w.id)?;
    result
}

/// The hub's writer, one round: queue the template of every confirmed load not
/// queued yet, then work each write that is due. Failures are recorded on their
/// writes (and logged); the round goes on with the next.
pub async fn drain(
    store: &mut Store,
    client: &Client,
    ship: &ShipSettings,
    metrc: &MetrcSettings,
    scan_loads: bool,
) -> Result<Vec<(String, Result<Pushed, String>)>, StoreError> {
    let now = Utc::now();
    // Loads confirmed before the hub first posted templates were sent to Metrc by
    // hand, if at all: not posted again now.
    let since = match store.meta(PUSH_SINCE)? {
        Some(s) => plan::parse_time(&s).unwrap_or(now),
        None => {
            store.set_meta(&[(PUSH_SINCE, &now.to_rfc3339())])?;
            now
        }
    };
    if scan_loads {
        for (order, _, stage) in store.order_stages()? {
            if stage != "loaded" && stage != "delivered" {
                continue;
            }
            match current(store, ship, &order) {
                Ok(c) => {
                    if c.confirmed_at.is_none_or(|at| at < since) {
                        continue;
                    }
                    if store.metrc_write(&c.print.load)?.is_none()
                        && let Err(e) = queue(store, &c, now)
                    {
                        tracing::warn!(%e, order, "cannot queue the transfer template");
                    }
                }
                // Not a whole load here yet (another order of it not synced, say).
                Err(e) => tracing::debug!(%e, order, "no template to queue yet"),
            }
        }
    }
    let mut out = vec![];
    for w in store.due_metrc_writes(now)? {
        let now = Utc::now();
        if !store.lease_metrc_write(w.id, now, now + lease(metrc))? {
            continue;
        }
        let order = w.orders.first().cloned().unwrap_or_default();
        let result = match current(store, ship, &order) {
            Ok(c) => work(store, client, metrc, w.id, &c).await,
            // The database was busy, say: the next round tries again.
            Err(PushError::Store(e)) | Err(PushError::Doc(DocError::Store(e))) => {
                let next = now + backoff(w.attempts.max(1));
                store.metrc_write_retry(w.id, &e.to_string(), next)?;
                Ok(Pushed::Later {
                    name: w.name.clone(),
                    error: e.to_string(),
                    next,
                })
            }
            Err(e) => {
                store.metrc_write_failed(w.id, &e.to_string(), now)?;
                Err(e)
            }
        };
        store.release_metrc_write(w.id)?;
        match &result {
            Ok(p) => tracing::info!("{}", p.line()),
            Err(e) => tracing::warn!(%e, "a transfer template waits for a person"),
        }
        out.push((w.name, result.map_err(|e| e.to_string())));
    }
    Ok(out)
}

/// Work write `id` (leased by this process) for the load as it is now (`c`).
async fn work(
    store: &mut Store,
    client: &Client,
    metrc: &MetrcSettings,
    id: i64,
    c: &Current,
) -> Result<Pushed, PushError> {
    let mut listed = Listed::NotAsked;
    loop {
        let w = store
            .metrc_writes()?
            .into_iter()
            .find(|w| w.id == id)
            .ok_or_else(|| StoreError::Invalid(format!("metrc write {id} is gone")))?;
        let orders: Vec<&str> = c.print.orders().collect();
        let others: Vec<Record> = store
            .metrc_writes_of_orders(&orders)?
            .iter()
            .filter(|o| o.id != w.id && (o.attempts > 0 || o.metrc_id.is_some()))
            .map(record)
            .collect();
        let now = Utc::now();
        let step = decide::template_step(&c.print, Some(&record(&w)), &others, &listed);
        // A try whose answer was lost may still be on its way into Metrc: looking
        // for it now could miss it, and posting after that would make two.
        if matches!(step, Step::List)
            && let Some(last) = w.last_attempt_at
            && last + settle(metrc) > now
        {
            let next = last + settle(metrc);
            store.metrc_write_retry(
                w.id,
                w.last_error
                    .as_deref()
                    .unwrap_or("the last try may still reach Metrc"),
                next,
            )?;
            return Ok(Pushed::Later {
                name: w.name,
                error: format!(
                    "the last try, {} s ago, may still reach Metrc; it is looked for first",
                    (now - last).num_seconds()
                ),
                next,
            });
        }
        match step {
            Step::Done { id: metrc_id } => {
                return Ok(Pushed::Already {
                    id: metrc_id,
                    name: w.name,
                });
            }
            Step::Changed { load, id, changes } => {
                let e = PushError::Changed {
                    order: c.order.clone(),
                    load,
                    id,
                    changes,
                };
                store.metrc_write_failed(w.id, &e.to_string(), now)?;
                return Err(e);
            }
            Step::List => {
                listed = match find(client, metrc, &w, now).await {
                    Ok(ids) if ids.is_empty() => Listed::Absent,
                    Ok(ids) => Listed::Found(ids),
                    Err(e) => return later(store, metrc, &w, &e, now),
                };
            }
            Step::Adopt {
                id: metrc_id,
                duplicates,
            } => {
                store.metrc_write_posted(w.id, metrc_id, now)?;
                if record(&w).print != c.print {
                    // Metrc has the template as it was sent; the load says otherwise now.
                    continue;
                }
                return Ok(Pushed::Found {
                    id: metrc_id,
                    name: w.name,
                    duplicates,
                });
            }
            Step::Wait => {
                let next = now + backoff(w.attempts.max(1)).max(settle(metrc));
                let error = "Metrc took it without saying its id, and does not list it yet";
                store.metrc_write_retry(w.id, error, next)?;
                return Ok(Pushed::Later {
                    name: w.name,
                    error: error.into(),
                    next,
                });
            }
            Step::Post => {
                // What goes: once tried, what was sent (the same name the listing
                // looks for), unless the load changed and Metrc does not have it;
                // never tried, what the load says now.
                let body: serde_json::Value = if w.attempts > 0 && record(&w).print == c.print {
                    serde_json::from_str(&w.body).map_err(|e| {
                        StoreError::Invalid(format!(
                            "metrc write {id} holds a body that is not JSON: {e}"
                        ))
                    })?
                } else {
                    store.replace_template_body(
                        w.id,
                        &c.name,
                        &serde_json::to_string(&c.body).expect("a JSON value serialises"),
                        &c.print.to_text(),
                    )?;
                    c.body.clone()
                };
                // Counted before it is sent, with the lease renewed for the whole post:
                // a crash from here on leaves a try that may have reached Metrc, and
                // the next one looks first. Not counted: another process has it.
                if !store.metrc_write_attempt(w.id, now, now + post_lease(metrc))? {
                    return Err(PushError::Busy { name: w.name });
                }
                match client.post_template(&body).await {
                    Ok(ids) => match ids.first() {
                        Some(&metrc_id) => {
                            store.metrc_write_posted(w.id, metrc_id, Utc::now())?;
                            return Ok(Pushed::Posted {
                                id: metrc_id,
                                name: w.name,
                            });
                        }
                        // Stored, but no id said: never sent again; the listing
                        // finds it, now or later.
                        None => {
                            store.metrc_write_acknowledged(w.id)?;
                            listed = Listed::NotAsked;
                        }
                    },
                    Err(e) if permanent(&e) => {
                        store.metrc_write_refused(w.id)?;
                        store.metrc_write_failed(w.id, &e.to_string(), Utc::now())?;
                        return Err(PushError::Refused {
                            name: w.name,
                            error: e,
                        });
                    }
                    Err(e) => {
                        let w = MetrcWrite {
                            attempts: w.attempts + 1,
                            ..w
                        };
                        return later(store, metrc, &w, &e, Utc::now());
                    }
                }
            }
        }
    }
}

/// A failure another try can mend: queued again after a backoff (never sooner than
/// a lost answer may still reach Metrc).
fn later(
    store: &mut Store,
    metrc: &MetrcSettings,
    w: &MetrcWrite,
    e: &MetrcError,
    now: DateTime<Utc>,
) -> Result<Pushed, PushError> {
    let next = now + backoff(w.attempts.max(1)).max(settle(metrc));
    store.metrc_write_retry(w.id, &e.to_string(), next)?;
    Ok(Pushed::Later {
        name: w.name.clone(),
        error: e.to_string(),
        next,
    })
}

/// Refusals that another try will meet again: the keys, the license, a 4xx.
fn permanent(e: &MetrcError) -> bool {
    matches!(
        e,
        MetrcError::WrongKeys { .. }
            | MetrcError::V1Only { .. }
            | MetrcError::License { .. }
            | MetrcError::NotAllowed { .. }
            | MetrcError::Refused { .. }
            | MetrcError::NotConfigured(_)
    )
}

/// The ids of Metrc's templates named as `w`, modified since its first try (less
/// the overlap), in windows no wider than `window_hours`.
async fn find(
    client: &Client,
    metrc: &MetrcSettings,
    w: &MetrcWrite,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, MetrcError> {
    let from = w.first_attempt_at.unwrap_or(w.created_at) - SKEW;
    let width = Duration::hours(i64::from(metrc.window_hours.max(1)));
    let mut ids = vec![];
    for win in plan::windows(from, now, width) {
        for t in client.templates(&win).await? {
            if t.name.as_deref().map(str::trim) == Some(w.name.trim()) {
                ids.push(t.id);
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Where the writes stand, for `tagtally metrc status`.
pub fn queue_lines(store: &Store) -> Result<Vec<String>, StoreError> {
    Ok(store
        .metrc_writes()?
        .iter()
        .map(|w| {
            let what = match (w.state, w.metrc_id) {
                (WriteState::Posted, Some(id)) => format!("posted as {id}"),
                (WriteState::Posted, None) => "posted".into(),
                (WriteState::Queued, _) => format!(
                    "queued, {} tries, next at {}",
                    w.attempts,
                    plan::stamp(w.next_attempt_at)
                ),
                (WriteState::Failed, _) => "waits for a person".into(),
            };
            let error = match (&w.last_error, w.state) {
                (Some(e), WriteState::Queued | WriteState::Failed) => format!(": {e}"),
                _ => String::new(),
            };
            format!(
                "template {:?} ({}): {what}{error}",
                w.name,
                w.orders.join(", ")
            )
        })
        .collect())
}

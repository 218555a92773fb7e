//! Orders' B2B platforms (`order_sources`: where an order was pulled from, and the
//! platform's own id of it) and the durable queue of writes back to them
//! (`platform_writes`: a try counted before it is sent, a lease per process, as the
//! Metrc queue). Times are RFC 3339 UTC with milliseconds, so they compare as text.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Row, params};

use super::lease::{Queue, me};
use super::{Store, StoreError, classify};
use crate::domain::writeback::{Enqueue, Platform, Wanted, WriteKind};

/// Where an order came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderSource {
    pub order: String,
    pub platform: Platform,
    /// The platform's id of the order (LeafLink's `number`, Apex's `id`).
    pub platform_id: String,
    /// The platform's status as last read.
    pub status: Option<String>,
    pub pulled_at: DateTime<Utc>,
}

/// Where a write back stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformWriteState {
    /// Waiting for its (next) try.
    Queued,
    /// The platform has it (`outcome` says whether tagtally sent it or found it so).
    Done,
    /// Refused by the platform in a way another try cannot mend: for a person, with
    /// `last_error`.
    Failed,
}

impl PlatformWriteState {
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformWriteState::Queued => "queued",
            PlatformWriteState::Done => "done",
            PlatformWriteState::Failed => "failed",
        }
    }

    fn of(s: &str) -> Option<PlatformWriteState> {
        match s {
            "queued" => Some(PlatformWriteState::Queued),
            "done" => Some(PlatformWriteState::Done),
            "failed" => Some(PlatformWriteState::Failed),
            _ => None,
        }
    }
}

/// One write of the queue.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformWrite {
    pub id: i64,
    pub platform: Platform,
    pub order: String,
    pub kind: WriteKind,
    pub subject: String,
    pub wanted: Wanted,
    pub state: PlatformWriteState,
    /// `sent`, or `already` (the platform had it when read before sending).
    pub outcome: Option<String>,
    pub attempts: u32,
    /// The last try was counted and never answered.
    pub uncertain: bool,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn time(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
}

const COLUMNS: &str = "id, platform, order_number, kind, subject, body, state, outcome, attempts,
     uncertain, last_attempt_at, next_attempt_at, last_error, created_at, done_at";

/// The kinds in the order they are sent.
const KIND_ORDER: &str = "CASE kind WHEN 'packed' THEN 0 WHEN 'fulfilled' THEN 1
     WHEN 'shipped' THEN 2 WHEN 'manifest' THEN 3 ELSE 4 END";

/// A row with its texts as stored, checked by the caller.
type RawWrite = (String, String, String, String, PlatformWrite);

fn write_of(r: &Row) -> rusqlite::Result<RawWrite> {
    let platform: String = r.get(1)?;
    let kind: String = r.get(3)?;
    let body: String = r.get(5)?;
    let state: String = r.get(6)?;
    let id: i64 = r.get(0)?;
    Ok((
        platform.clone(),
        kind.clone(),
        body,
        state.clone(),
        PlatformWrite {
            id,
            platform: Platform::of(&platform).unwrap_or(Platform::LeafLink),
            order: r.get(2)?,
            kind: WriteKind::of(&kind).unwrap_or(WriteKind::Packed),
            subject: r.get(4)?,
            wanted: Wanted::Manifest {
                number: String::new(),
            },
            state: PlatformWriteState::of(&state).unwrap_or(PlatformWriteState::Failed),
            outcome: r.get(7)?,
            attempts: r.get(8)?,
            uncertain: r.get(9)?,
            last_attempt_at: time(r.get(10)?),
            next_attempt_at: time(r.get(11)?).unwrap_or_default(),
            last_error: r.get(12)?,
            created_at: time(r.get(13)?).unwrap_or_default(),
            done_at: time(r.get(14)?),
        },
    ))
}

/// Keep where order `order` came from, inside `tx` (with its import).
pub(super) fn write_source(
    tx: &rusqlite::Transaction,
    path: &std::path::Path,
    order: &str,
    s: &OrderSource,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO order_sources (order_number, platform, platform_id, platform_status, pulled_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (order_number) DO UPDATE SET platform = ?2, platform_id = ?3,
             platform_status = COALESCE(?4, platform_status), pulled_at = ?5",
        params![order, s.platform.as_str(), s.platform_id, s.status, text(s.pulled_at)],
    )
    .map_err(|e| classify(path, e))?;
    Ok(())
}

impl Store {
    /// Keep where order `order` came from (a pull does, with each order it imports).
    pub fn set_order_source(
        &mut self,
        order: &str,
        platform: Platform,
        platform_id: &str,
        status: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO order_sources (order_number, platform, platform_id, platform_status, pulled_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (order_number) DO UPDATE SET platform = ?2, platform_id = ?3,
                     platform_status = COALESCE(?4, platform_status), pulled_at = ?5",
                params![order, platform.as_str(), platform_id, status, text(now)],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// The platform's status of `order` as a write back just read it.
    pub fn set_platform_status(&mut self, order: &str, status: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE order_sources SET platform_status = ?2 WHERE order_number = ?1",
                params![order, status],
            )
            .map_err(self.err())?;
        Ok(())
    }

    fn sources_where(
        &self,
        clause: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<OrderSource>, StoreError> {
        let sql = format!(
            "SELECT order_number, platform, platform_id, platform_status, pulled_at
             FROM order_sources {clause}"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(args, |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        rows.into_iter()
            .map(|(order, platform, platform_id, status, pulled_at)| {
                let platform = Platform::of(&platform).ok_or_else(|| {
                    self.corrupt(format!("order {order} comes from platform {platform:?}"))
                })?;
                Ok(OrderSource {
                    order,
                    platform,
                    platform_id,
                    status,
                    pulled_at: time(pulled_at).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Where order `order` came from, if it was pulled from a platform.
    pub fn order_source(&self, order: &str) -> Result<Option<OrderSource>, StoreError> {
        Ok(self
            .sources_where("WHERE order_number = ?1", &[&order])?
            .pop())
    }

    /// The order a platform's id stands for, if it was pulled before.
    pub fn order_of_source(
        &self,
        platform: Platform,
        platform_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .sources_where(
                "WHERE platform = ?1 AND platform_id = ?2",
                &[&platform.as_str(), &platform_id],
            )?
            .pop()
            .map(|s| s.order))
    }

    /// The orders of `platform` a write back may still be due for: every one but
    /// those whose delivery the platform already has.
    pub fn orders_to_write_back(&self, platform: Platform) -> Result<Vec<OrderSource>, StoreError> {
        self.sources_where(
            "WHERE platform = ?1 AND order_number NOT IN (
                 SELECT order_number FROM platform_writes
                 WHERE platform = ?1 AND kind = 'delivered' AND state = 'done')
             ORDER BY order_number",
            &[&platform.as_str()],
        )
    }

    fn platform_writes_where(
        &self,
        clause: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<PlatformWrite>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM platform_writes {clause}");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(args, write_of)
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        rows.into_iter()
            .map(|(platform, kind, body, state, mut w)| {
                let id = w.id;
                if Platform::of(&platform).is_none()
                    || WriteKind::of(&kind).is_none()
                    || PlatformWriteState::of(&state).is_none()
                {
                    return Err(self.corrupt(format!(
                        "platform write {id} is {platform:?} {kind:?} {state:?}"
                    )));
                }
                w.wanted = serde_json::from_str(&body)
                    .map_err(|e| self.corrupt(format!("platform write {id} has a body of {e}")))?;
                Ok(w)
            })
            .collect()
    }

    /// Every write back of `order`, in the order they are sent.
    pub fn platform_writes_of(&self, order: &str) -> Result<Vec<PlatformWrite>, StoreError> {
        self.platform_writes_where(
            &format!("WHERE order_number = ?1 ORDER BY {KIND_ORDER}, subject"),
            &[&order],
        )
    }

    /// Every write back to `platform`, oldest first.
    pub fn platform_writes(&self, platform: Platform) -> Result<Vec<PlatformWrite>, StoreError> {
        self.platform_writes_where("WHERE platform = ?1 ORDER BY id", &[&platform.as_str()])
    }

    /// The writes to `platform` waiting for a try at `now`: order by order, each
    /// order's in the order they are sent.
    pub fn due_platform_writes(
        &self,
        platform: Platform,
        now: DateTime<Utc>,
    ) -> Result<Vec<PlatformWrite>, StoreError> {
        self.platform_writes_where(
            &format!(
                "WHERE platform = ?1 AND state = 'queued' AND next_attempt_at <= ?2
                 ORDER BY order_number, {KIND_ORDER}, subject"
            ),
            &[&platform.as_str(), &text(now)],
        )
    }

    /// Queue what [`crate::domain::writeback::reconcile`] decided for `order`: a new
    /// row, or a row's body replaced and queued again (from now, its failures
    /// forgotten).
    pub fn enqueue_platform_writes(
        &mut self,
        platform: Platform,
        order: &str,
        writes: &[Enqueue],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let tx = self.write_tx()?;
        for w in writes {
            let (Enqueue::New(wanted) | Enqueue::Changed(wanted)) = w;
            let body = serde_json::to_string(wanted).expect("a write body serialises");
            tx.execute(
                "INSERT INTO platform_writes (platform, order_number, kind, subject, body,
                     state, next_attempt_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?6)
                 ON CONFLICT (platform, order_number, kind, subject) DO UPDATE SET
                     body = ?5, state = 'queued', next_attempt_at = ?6, last_error = NULL,
                     outcome = NULL, done_at = NULL
                 WHERE body != ?5",
                params![
                    platform.as_str(),
                    order,
                    wanted.kind().as_str(),
                    wanted.subject(),
                    body,
                    text(now)
                ],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(())
    }

    /// Queue again the writes to `platform` that were refused (a person asked, after
    /// mending the order on the platform); how many.
    pub fn requeue_failed_platform_writes(
        &mut self,
        platform: Platform,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "UPDATE platform_writes SET state = 'queued', next_attempt_at = ?2
                 WHERE platform = ?1 AND state = 'failed'",
                params![platform.as_str(), text(now)],
            )
            .map_err(self.err())
    }

    /// Take the lease of write `id` until `until` for this process: one process at a
    /// time works a write. Refused (`false`) while another process holds it.
    pub fn lease_platform_write(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.take_lease(Queue::Platform, id, now, until)
    }

    /// Give the lease of write `id` back (if this process holds it).
    pub fn release_platform_write(&mut self, id: i64) -> Result<(), StoreError> {
        self.give_lease_back(Queue::Platform, id)
    }

    /// A try of write `id` starts: counted, and marked unanswered, durably before
    /// the request is sent. `false` (nothing counted): this process no longer holds
    /// the lease, and must not send.
    pub fn platform_write_attempt(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE platform_writes SET attempts = attempts + 1, uncertain = 1,
                     last_attempt_at = ?2, lease_until = ?3
                 WHERE id = ?1 AND lease_owner = ?4 AND state = 'queued'",
                params![id, text(now), text(until), me()],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// The platform has write `id`: `outcome` is `sent` or `already`.
    pub fn platform_write_done(
        &mut self,
        id: i64,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE platform_writes SET state = 'done', outcome = ?2, done_at = ?3,
                     uncertain = 0, last_error = NULL
                 WHERE id = ?1",
                params![id, outcome, text(now)],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Write `id` is tried again at `next`; `error` says why; `uncertain` whether
    /// the platform may have acted on the try (a timeout) or surely did not.
    pub fn platform_write_retry(
        &mut self,
        id: i64,
        error: &str,
        next: DateTime<Utc>,
        uncertain: bool,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE platform_writes SET state = 'queued', last_error = ?2,
                     next_attempt_at = ?3, uncertain = ?4
                 WHERE id = ?1 AND state = 'queued'",
                params![id, error, text(next), uncertain],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Write `id` waits for a person: the platform refused it, in `error`'s words.
    pub fn platform_write_failed(
        &mut self,
        id: i64,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE platform_writes SET state = 'failed', last_error = ?2,
                     next_attempt_at = ?3, uncertain = 0
                 WHERE id = ?1 AND state = 'queued'",
                params![id, error, text(now)],
            )
            .map_err(self.err())?;
        Ok(())
    }
}

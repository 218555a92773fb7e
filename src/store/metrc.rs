//! What tagtally writes to Metrc (the durable queue of `metrc_writes`, one transfer
//! template a load) and what it reads back of its deliveries. Times are stored as
//! RFC 3339 UTC with milliseconds, so they compare as text.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::lease::{Queue, me};
use super::{Store, StoreError, classify};

/// Where a write stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteState {
    /// Waiting for its (next) try.
    Queued,
    /// Metrc has it; `metrc_id` says as what.
    Posted,
    /// Refused in a way another try cannot mend (the keys, a refusal, a changed
    /// load): for a person, with `last_error`.
    Failed,
}

impl WriteState {
    fn as_str(self) -> &'static str {
        match self {
            WriteState::Queued => "queued",
            WriteState::Posted => "posted",
            WriteState::Failed => "failed",
        }
    }

    fn of(s: &str) -> Option<WriteState> {
        match s {
            "queued" => Some(WriteState::Queued),
            "posted" => Some(WriteState::Posted),
            "failed" => Some(WriteState::Failed),
            _ => None,
        }
    }
}

/// One write of the queue.
#[derive(Clone, Debug, PartialEq)]
pub struct MetrcWrite {
    pub id: i64,
    pub load_id: String,
    pub name: String,
    pub body: String,
    pub print: String,
    pub orders: Vec<String>,
    pub state: WriteState,
    pub attempts: u32,
    pub first_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: DateTime<Utc>,
    /// Metrc answered a try with success but no id: it has the template.
    pub acknowledged: bool,
    pub last_error: Option<String>,
    pub metrc_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

/// Metrc's side of one delivery, as last read.
#[derive(Clone, Debug, PartialEq)]
pub struct MetrcDelivery {
    pub delivery_id: i64,
    pub transfer_id: i64,
    pub manifest_number: Option<String>,
    pub order: String,
    pub recipient_license: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
    pub read_at: DateTime<Utc>,
    /// `(tag, ShipmentPackageState)`, by tag.
    pub packages: Vec<(String, String)>,
}

fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn time(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
}

const COLUMNS: &str = "id, load_id, name, body, print, state, attempts, first_attempt_at,
     next_attempt_at, last_error, metrc_id, created_at, done_at, last_attempt_at, acknowledged";

fn write_of(r: &Row) -> rusqlite::Result<(MetrcWrite, String)> {
    let state: String = r.get(5)?;
    Ok((
        MetrcWrite {
            id: r.get(0)?,
            load_id: r.get(1)?,
            name: r.get(2)?,
            body: r.get(3)?,
            print: r.get(4)?,
            orders: vec![],
            state: WriteState::of(&state).unwrap_or(WriteState::Failed),
            attempts: r.get(6)?,
            first_attempt_at: time(r.get(7)?),
            next_attempt_at: time(r.get(8)?).unwrap_or_default(),
            last_error: r.get(9)?,
            metrc_id: r.get(10)?,
            created_at: time(r.get(11)?).unwrap_or_default(),
            done_at: time(r.get(12)?),
            last_attempt_at: time(r.get(13)?),
            acknowledged: r.get(14)?,
        },
        state,
    ))
}

impl Store {
    fn writes_where(
        &self,
        clause: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<MetrcWrite>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM metrc_writes {clause}");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(args, write_of)
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        let mut out = Vec::with_capacity(rows.len());
        for (mut w, state) in rows {
            if WriteState::of(&state).is_none() {
                return Err(self.corrupt(format!("metrc write {} has state {state:?}", w.id)));
            }
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT order_number FROM metrc_write_orders WHERE write_id = ?1 ORDER BY rowid",
                )
                .map_err(self.err())?;
            w.orders = stmt
                .query_map([w.id], |r| r.get(0))
                .map_err(self.err())?
                .collect::<Result<_, _>>()
                .map_err(self.err())?;
            out.push(w);
        }
        Ok(out)
    }

    /// The template write of load `load`, if queued ever.
    pub fn metrc_write(&self, load: &str) -> Result<Option<MetrcWrite>, StoreError> {
        Ok(self
            .writes_where("WHERE kind = 'template' AND load_id = ?1", &[&load])?
            .pop())
    }

    /// Every write, oldest first.
    pub fn metrc_writes(&self) -> Result<Vec<MetrcWrite>, StoreError> {
        self.writes_where("ORDER BY id", &[])
    }

    /// The writes that name any of `orders`, oldest first.
    pub fn metrc_writes_of_orders(&self, orders: &[&str]) -> Result<Vec<MetrcWrite>, StoreError> {
        let mut out: Vec<MetrcWrite> = vec![];
        for o in orders {
            for w in self.writes_where(
                "WHERE id IN (SELECT write_id FROM metrc_write_orders WHERE order_number = ?1) ORDER BY id",
                &[o],
            )? {
                if !out.iter().any(|x| x.id == w.id) {
                    out.push(w);
                }
            }
        }
        out.sort_by_key(|w| w.id);
        Ok(out)
    }

    /// The writes waiting for a try at `now`, oldest first.
    pub fn due_metrc_writes(&self, now: DateTime<Utc>) -> Result<Vec<MetrcWrite>, StoreError> {
        self.writes_where(
            "WHERE state = 'queued' AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id",
            &[&text(now)],
        )
    }

    /// Queue the template of load `load` (once: a load queued before keeps its row,
    /// and its body is brought up to date only while it was never sent).
    pub fn queue_template(
        &mut self,
        load: &str,
        name: &str,
        body: &str,
        print: &str,
        orders: &[String],
        now: DateTime<Utc>,
    ) -> Result<MetrcWrite, StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let tx = self.write_tx()?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM metrc_writes WHERE kind = 'template' AND load_id = ?1",
                [load],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        let id = match existing {
            Some(id) => {
                tx.execute(
                    "UPDATE metrc_writes SET name = ?2, body = ?3, print = ?4
                     WHERE id = ?1 AND attempts = 0 AND state != 'posted'",
                    params![id, name, body, print],
                )
                .map_err(err)?;
                id
            }
            None => {
                tx.execute(
                    "INSERT INTO metrc_writes (kind, load_id, name, body, print, state,
                         next_attempt_at, created_at)
                     VALUES ('template', ?1, ?2, ?3, ?4, 'queued', ?5, ?5)",
                    params![load, name, body, print, text(now)],
                )
                .map_err(err)?;
                let id = tx.last_insert_rowid();
                for o in orders {
                    tx.execute(
                        "INSERT OR IGNORE INTO metrc_write_orders (write_id, order_number)
                         VALUES (?1, ?2)",
                        params![id, o],
                    )
                    .map_err(err)?;
                }
                id
            }
        };
        tx.commit().map_err(err)?;
        self.writes_where("WHERE id = ?1", &[&id])?
            .pop()
            .ok_or_else(|| self.corrupt(format!("metrc write {id} vanished")))
    }

    /// Take the lease of write `id` until `until` for this process: one process at a
    /// time works a write. Refused (`false`) while another process holds it.
    pub fn lease_metrc_write(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.take_lease(Queue::Metrc, id, now, until)
    }

    /// Give the lease of write `id` back (if this process holds it).
    pub fn release_metrc_write(&mut self, id: i64) -> Result<(), StoreError> {
        self.give_lease_back(Queue::Metrc, id)
    }

    /// What write `id` is to send, replaced: only for a write Metrc does not have
    /// (never sent, or listed and absent).
    pub fn replace_template_body(
        &mut self,
        id: i64,
        name: &str,
        body: &str,
        print: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE metrc_writes SET name = ?2, body = ?3, print = ?4
                 WHERE id = ?1 AND state != 'posted'",
                params![id, name, body, print],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// A try of write `id` starts: counted, durably, before the request is sent, and
    /// the lease renewed to `until` in the same statement. `false` (nothing counted):
    /// this process no longer holds the lease, and must not send.
    pub fn metrc_write_attempt(
        &mut self,
        id: i64,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE metrc_writes SET attempts = attempts + 1,
                     first_attempt_at = COALESCE(first_attempt_at, ?2),
                     last_attempt_at = ?2, lease_until = ?3
                 WHERE id = ?1 AND lease_owner = ?4 AND state != 'posted'",
                params![id, text(now), text(until), me()],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// Metrc refused the last try of write `id` outright: it did not act on it, so
    /// there is no lost answer to wait for.
    pub fn metrc_write_refused(&mut self, id: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE metrc_writes SET last_attempt_at = NULL WHERE id = ?1",
                [id],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Metrc answered a try of write `id` with success but no id.
    pub fn metrc_write_acknowledged(&mut self, id: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE metrc_writes SET acknowledged = 1 WHERE id = ?1",
                [id],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Metrc has write `id` as `metrc_id`.
    pub fn metrc_write_posted(
        &mut self,
        id: i64,
        metrc_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE metrc_writes SET state = 'posted', metrc_id = ?2, done_at = ?3,
                     last_error = NULL
                 WHERE id = ?1",
                params![id, metrc_id, text(now)],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Write `id` is tried again at `next` (it stays queued); `error` says why.
    pub fn metrc_write_retry(
        &mut self,
        id: i64,
        error: &str,
        next: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.set_write_state(id, WriteState::Queued, error, next)
    }

    /// Write `id` waits for a person; `error` says why. A `metrc push` queues it again.
    pub fn metrc_write_failed(
        &mut self,
        id: i64,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.set_write_state(id, WriteState::Failed, error, now)
    }

    fn set_write_state(
        &mut self,
        id: i64,
        state: WriteState,
        error: &str,
        next: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE metrc_writes SET state = ?2, last_error = ?3, next_attempt_at = ?4
                 WHERE id = ?1 AND state != 'posted'",
                params![id, state.as_str(), error, text(next)],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Keep Metrc's side of a delivery (replacing what was read before).
    pub fn store_metrc_delivery(&mut self, d: &MetrcDelivery) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let tx = self.write_tx()?;
        tx.execute(
            "INSERT INTO metrc_deliveries (delivery_id, transfer_id, manifest_number,
                 order_number, recipient_license, received_at, read_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (delivery_id) DO UPDATE SET transfer_id = excluded.transfer_id,
                 manifest_number = excluded.manifest_number,
                 order_number = excluded.order_number,
                 recipient_license = excluded.recipient_license,
                 received_at = excluded.received_at, read_at = excluded.read_at",
            params![
                d.delivery_id,
                d.transfer_id,
                d.manifest_number,
                d.order,
                d.recipient_license,
                d.received_at.map(text),
                text(d.read_at)
            ],
        )
        .map_err(err)?;
        tx.execute(
            "DELETE FROM metrc_delivery_packages WHERE delivery_id = ?1",
            [d.delivery_id],
        )
        .map_err(err)?;
        for (tag, state) in &d.packages {
            tx.execute(
                "INSERT OR REPLACE INTO metrc_delivery_packages (delivery_id, tag, state)
                 VALUES (?1, ?2, ?3)",
                params![d.delivery_id, tag, state],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Metrc's deliveries of order `order`, as last read, oldest first.
    pub fn metrc_deliveries_of(&self, order: &str) -> Result<Vec<MetrcDelivery>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT delivery_id, transfer_id, manifest_number, order_number,
                        recipient_license, received_at, read_at
                 FROM metrc_deliveries WHERE order_number = ?1 ORDER BY delivery_id",
            )
            .map_err(self.err())?;
        let mut out: Vec<MetrcDelivery> = stmt
            .query_map([order], |r| {
                Ok(MetrcDelivery {
                    delivery_id: r.get(0)?,
                    transfer_id: r.get(1)?,
                    manifest_number: r.get(2)?,
                    order: r.get(3)?,
                    recipient_license: r.get(4)?,
                    received_at: time(r.get(5)?),
                    read_at: time(r.get(6)?).unwrap_or_default(),
                    packages: vec![],
                })
            })
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        for d in &mut out {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT tag, state FROM metrc_delivery_packages WHERE delivery_id = ?1 ORDER BY tag",
                )
                .map_err(self.err())?;
            d.packages = stmt
                .query_map([d.delivery_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(self.err())?
                .collect::<Result<_, _>>()
                .map_err(self.err())?;
        }
        Ok(out)
    }
}

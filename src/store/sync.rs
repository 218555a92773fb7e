//! The store's part of sync, for both sides: the hub's devices, receipts and security
//! log, and the device's outbox, acknowledgements and copies of other devices' events.
//!
//! Events pushed to the hub go into the same `events` table as a device's own, with
//! the pushing device's id and sequence number: `UNIQUE (device, seq)` makes a resend
//! a no-op, and a resend with different contents is found and refused here.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use tracing::instrument;

use super::{
    EVENT_COLUMNS, PACKAGE_COLUMNS, Store, StoreError, classify, event_row, now, package_row,
    read_order,
};
use crate::domain::{Event, EventKind, Order, Package};
use crate::tag::MetrcTag;

/// An enrolled device, as the hub knows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DeviceRecord {
    pub name: String,
    /// The id its events carry; `None` until it joins.
    pub device_id: Option<String>,
    pub enrolled_at: String,
    pub revoked_at: Option<String>,
}

impl DeviceRecord {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// What the hub made of one push.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Receipt {
    /// Sequence numbers now held by the hub (new and already held), in push order.
    pub acked: Vec<i64>,
    pub new: usize,
    pub duplicates: usize,
}

/// Why a push was refused. Nothing of it was stored.
#[derive(Debug, thiserror::Error)]
pub enum PushRefused {
    #[error(
        "event {device}/{seq} was already received with different contents: refused, and logged as a security event"
    )]
    Altered { device: String, seq: i64 },
    /// An event refers to a file the push did not bring and the hub does not hold.
    #[error(
        "event {device}/{seq} refers to attachment {sha256}, which was not sent: nothing of the push was stored"
    )]
    MissingAttachment {
        device: String,
        seq: i64,
        sha256: String,
    },
    /// On a hub with people: the event's person is unknown or may not do this.
    #[error("event {device}/{seq} ({kind}): {why}")]
    Role {
        device: String,
        seq: i64,
        kind: &'static str,
        why: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a device could not be bound to its token.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("no device named {0:?} is enrolled (`tagtally hub devices` lists them)")]
    Unknown(String),
    #[error("a device named {0:?} is already enrolled; revoke it or choose another name")]
    Exists(String),
    #[error("device {name:?} already joined as {bound}; enrol a new device for a second database")]
    AlreadyBound { name: String, bound: String },
    #[error("device id {0} is already joined under another name")]
    IdTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The hex SHA-256 of a token: all the hub keeps of it.
pub fn token_hash(token: &str) -> String {
    let d = Sha256::digest(token.trim().as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random device token (32 bytes from the OS, hex).
pub fn new_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("/dev/urandom is readable");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("tt_{hex}")
}

/// Insert one event as it is, with its own device, sequence and time.
pub(super) fn insert_event(tx: &rusqlite::Connection, e: &Event) -> rusqlite::Result<i64> {
    let mut ins = tx.prepare_cached(
        "INSERT INTO events (device, seq, at, order_number, kind, tag, line_id,
            verdict, reason, note, raw, raw_len, detail, person)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    // Scans keep their raw bytes and verdict in columns; the other kinds are stored
    // whole as JSON in `detail`, with their tag and reason copied out for queries.
    let c = match &e.kind {
        EventKind::Scan {
            raw,
            raw_len,
            verdict,
            ..
        }
        | EventKind::LoadScan {
            raw,
            raw_len,
            verdict,
            ..
        }
        | EventKind::DeliverScan {
            raw,
            raw_len,
            verdict,
            ..
        } => Columns {
            line: verdict.line(),
            verdict: Some(verdict.word()),
            reason: verdict.reason(),
            raw: Some(raw),
            raw_len: Some(*raw_len as i64),
            detail: Some(json(verdict)),
            ..Columns::default()
        },
        EventKind::Short { line, reason } => Columns {
            line: Some(line),
            note: Some(reason),
            ..Columns::default()
        },
        EventKind::Undo { reason, undoes, .. } => Columns {
            note: Some(reason),
            detail: (!undoes.is_empty()).then(|| json(undoes)),
            ..Columns::default()
        },
        EventKind::Remove { reason, .. } => Columns {
            note: Some(reason),
            ..Columns::default()
        },
        EventKind::Decision { decision, .. } => {
            let (reason, note) = match decision {
                crate::domain::Decision::Accepted => (None, None),
                crate::domain::Decision::Rejected { reason, note } => {
                    (Some(reason.word()), note.as_deref())
                }
            };
            Columns {
                reason,
                note,
                detail: Some(json(&e.kind)),
                ..Columns::default()
            }
        }
        EventKind::LoadConfirm(_) | EventKind::DeliverFinish { .. } => Columns {
            detail: Some(json(&e.kind)),
            ..Columns::default()
        },
    };
    ins.execute(params![
        e.device,
        e.seq,
        e.at,
        e.order,
        e.kind.word(),
        e.kind.tag().map(MetrcTag::as_str),
        c.line,
        c.verdict,
        c.reason,
        c.note,
        c.raw,
        c.raw_len,
        c.detail,
        e.person,
    ])?;
    Ok(tx.last_insert_rowid())
}

/// The columns of `events` an event kind fills besides the common ones.
#[derive(Default)]
struct Columns<'a> {
    line: Option<&'a str>,
    verdict: Option<&'static str>,
    reason: Option<&'static str>,
    note: Option<&'a str>,
    raw: Option<&'a [u8]>,
    raw_len: Option<i64>,
    detail: Option<String>,
}

/// JSON text of a verdict or an event kind; they always serialise.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("events serialise")
}

impl Store {
    // ---- meta ----

    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    /// Set values of the `meta` table in one transaction.
    pub fn set_meta(&mut self, pairs: &[(&str, &str)]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let tx = self.write_tx()?;
        for (k, v) in pairs {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [k, v],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Changes when another connection (another process, the sync thread) commits.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "data_version", |r| r.get(0))
            .map_err(self.err())
    }

    /// When another connection (the background sync taking in other devices' picks)
    /// committed since this one last caught up (always, the first time), run
    /// `catch_up`; only when it succeeds is the change taken as seen, so a refusal
    /// (an order closed meanwhile) is given again at the next call, never skipped.
    pub fn follow_changes<E: From<StoreError>>(
        &mut self,
        catch_up: impl FnOnce(&Store) -> Result<(), E>,
    ) -> Result<(), E> {
        let v = self.data_version()?;
        if self.seen_version != Some(v) {
            catch_up(self)?;
            self.seen_version = Some(v);
        }
        Ok(())
    }

    /// Cap the database at `pages` pages on this connection (SQLite's
    /// `max_page_count`): a write past it fails as a full disk does. For tests of the
    /// full-disk path, and for sites that want a hard size limit.
    pub fn set_max_pages(&mut self, pages: i64) -> Result<i64, StoreError> {
        self.conn
            .pragma_update_and_check(None, "max_page_count", pages, |r| r.get(0))
            .map_err(self.err())
    }

    // ---- hub: devices ----

    /// Enrol a device under `name`; returns its token, shown once and kept only hashed.
    #[instrument(skip_all, err(level = "debug"), fields(name))]
    pub fn enroll_device(&mut self, name: &str) -> Result<String, DeviceError> {
        let token = new_token();
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let tx = self.write_tx()?;
        let exists: bool = tx
            .query_row("SELECT 1 FROM hub_devices WHERE name = ?1", [name], |_| {
                Ok(true)
            })
            .optional()
            .map_err(err)?
            .unwrap_or(false);
        if exists {
            return Err(DeviceError::Exists(name.into()));
        }
        tx.execute(
            "INSERT INTO hub_devices (name, token_hash, enrolled_at) VALUES (?1, ?2, ?3)",
            params![name, token_hash(&token), now()],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(token)
    }

    /// Revoke a device: its token is refused from the next request on.
    pub fn revoke_device(&mut self, name: &str) -> Result<(), DeviceError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let tx = self.write_tx()?;
        let n = tx
            .execute(
                "UPDATE hub_devices SET revoked_at = coalesce(revoked_at, ?2) WHERE name = ?1",
                params![name, now()],
            )
            .map_err(err)?;
        if n == 0 {
            return Err(DeviceError::Unknown(name.into()));
        }
        tx.commit().map_err(err)?;
        Ok(())
    }

    pub fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare(
                "SELECT name, device_id, enrolled_at, revoked_at FROM hub_devices ORDER BY name",
            )
            .map_err(&err)?;
        st.query_map([], device_row)
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)
    }

    /// The device holding `token`, revoked or not.
    pub fn device_by_token(&self, token: &str) -> Result<Option<DeviceRecord>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT name, device_id, enrolled_at, revoked_at FROM hub_devices
                 WHERE token_hash = ?1",
            )
            .map_err(self.err())?
            .query_row([token_hash(token)], device_row)
            .optional()
            .map_err(self.err())
    }

    /// Bind an enrolled device to the id its events carry (idempotent).
    pub fn bind_device(&mut self, name: &str, device_id: &str) -> Result<(), DeviceError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let tx = self.write_tx()?;
        let bound: Option<Option<String>> = tx
            .query_row(
                "SELECT device_id FROM hub_devices WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        match bound {
            None => return Err(DeviceError::Unknown(name.into())),
            Some(Some(b)) if b == device_id => return Ok(()),
            Some(Some(b)) => {
                return Err(DeviceError::AlreadyBound {
                    name: name.into(),
                    bound: b,
                });
            }
            Some(None) => {}
        }
        let taken: bool = tx
            .query_row(
                "SELECT 1 FROM hub_devices WHERE device_id = ?1",
                [device_id],
                |_| Ok(true),
            )
            .optional()
            .map_err(err)?
            .unwrap_or(false);
        if taken {
            return Err(DeviceError::IdTaken(device_id.into()));
        }
        tx.execute(
            "UPDATE hub_devices SET device_id = ?2 WHERE name = ?1",
            params![name, device_id],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(())
    }

    /// Record a security event once per cause (device, kind, detail): a retried
    /// refusal finds its row and writes none (its own transaction, committed before
    /// returning; inside a group, part of the group's transaction).
    pub fn log_security(
        &mut self,
        device: Option<&str>,
        kind: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        if self.in_group() {
            // Part of the group's transaction: durable with it.
            return log_security_in(&self.conn, device, kind, detail).map_err(err);
        }
        let tx = self.write_tx()?;
        log_security_in(&tx, device, kind, detail).map_err(err)?;
        tx.commit().map_err(err)
    }

    /// The security log, oldest first: (at, device, kind, detail).
    pub fn security_log(&self) -> Result<Vec<SecurityEntry>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare("SELECT at, device, kind, detail FROM security_log ORDER BY id")
            .map_err(&err)?;
        st.query_map([], |r| {
            Ok(SecurityEntry {
                at: r.get(0)?,
                device: r.get(1)?,
                kind: r.get(2)?,
                detail: r.get(3)?,
            })
        })
        .map_err(&err)?
        .collect::<Result<_, _>>()
        .map_err(&err)
    }

    // ---- hub: events ----

    /// Take a device's pushed events for one order, all or nothing, in one durable
    /// transaction. An event already held with the same contents is acknowledged
    /// again and not stored twice; one held with different contents refuses the push.
    ///
    /// Inside a group ([`Store::begin_group`]) the events go into a savepoint of the
    /// group's transaction instead: a refusal rolls back only this push, and nothing
    /// is durable before [`Store::commit_group`].
    #[instrument(skip_all, err(level = "debug"), fields(count = events.len()))]
    pub fn receive_events(&mut self, events: &[Event]) -> Result<Receipt, PushRefused> {
        self.receive_with(events, &[])
    }

    /// [`Store::receive_events`] with the attachments the events refer to (checked
    /// intact by the caller), stored in the same transaction. On a hub with people,
    /// every new event must name a person whose role allows it
    /// ([`Role::needed_for`](crate::domain::people::Role::needed_for)).
    pub fn receive_with(
        &mut self,
        events: &[Event],
        attachments: &[super::Attachment],
    ) -> Result<Receipt, PushRefused> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let at = now();
        if self.in_group() {
            let sp = self.conn.savepoint().map_err(err)?;
            // Dropped without commit on a refusal: rolled back to the savepoint.
            let receipt = receive_into(&sp, events, attachments, &at, &path)?;
            sp.commit().map_err(err)?;
            return Ok(receipt);
        }
        let tx = self.write_tx()?;
        let receipt = receive_into(&tx, events, attachments, &at, &path)?;
        tx.commit().map_err(err)?;
        Ok(receipt)
    }

    /// Group commit: open one write transaction that the following writes join
    /// ([`Store::receive_events`], [`Store::log_security`], [`Store::push_savepoint`]),
    /// until [`Store::commit_group`] makes them durable with one fsync.
    pub fn begin_group(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(self.err())
    }

    /// True while a group's transaction is open.
    pub fn in_group(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Commit the group's transaction (durable on return). On failure everything of
    /// the group is rolled back.
    pub fn commit_group(&mut self) -> Result<(), StoreError> {
        let done = self.conn.execute_batch("COMMIT").map_err(self.err());
        if done.is_err() {
            self.abort_group();
        }
        done
    }

    /// Roll back the group's transaction, if one is open.
    pub fn abort_group(&mut self) {
        if self.in_group() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    /// Inside a group: mark the start of one push's writes, ended by
    /// [`Store::end_push_savepoint`] (kept) or rolled back alone.
    pub fn push_savepoint(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("SAVEPOINT hub_push")
            .map_err(self.err())
    }

    /// End the savepoint of [`Store::push_savepoint`]: keep its writes (in the group's
    /// transaction, not yet durable), or roll back just them.
    pub fn end_push_savepoint(&mut self, keep: bool) -> Result<(), StoreError> {
        let sql = if keep {
            "RELEASE hub_push"
        } else {
            "ROLLBACK TO hub_push; RELEASE hub_push"
        };
        self.conn.execute_batch(sql).map_err(self.err())
    }

    /// An order's events after hub event id `after`, with their ids, in arrival order.
    pub fn order_events_after(
        &self,
        order: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Event)>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS}, id FROM events
                 WHERE order_number = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
            ))
            .map_err(&err)?;
        let rows = st
            .query_map(params![order, after, limit as i64], |r| {
                Ok((r.get::<_, i64>(12)?, event_row(r)?))
            })
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        rows.into_iter()
            .map(|(id, e)| e.map(|e| (id, e)).map_err(|m| self.corrupt(m)))
            .collect()
    }

    /// What other devices need of an order after hub event `after`: picks, shorts and
    /// undos not made by `device` (rejected scans change no state), with their ids.
    pub fn order_feed(
        &self,
        order: &str,
        after: i64,
        device: &str,
        limit: usize,
    ) -> Result<Vec<(i64, Event)>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS}, id FROM events
                 WHERE order_number = ?1 AND id > ?2 AND device <> ?3
                   AND (kind <> 'scan' OR verdict = 'accepted')
                 ORDER BY id LIMIT ?4"
            ))
            .map_err(&err)?;
        let rows = st
            .query_map(params![order, after, device, limit as i64], |r| {
                Ok((r.get::<_, i64>(12)?, event_row(r)?))
            })
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        rows.into_iter()
            .map(|(id, e)| e.map(|e| (id, e)).map_err(|m| self.corrupt(m)))
            .collect()
    }

    /// The last hub event id of each order that has events.
    pub fn last_event_ids(&self) -> Result<HashMap<String, i64>, StoreError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare_cached("SELECT order_number, max(id) FROM events GROUP BY order_number")
            .map_err(&err)?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)
    }

    /// The open orders, whole.
    pub fn open_orders_full(&self) -> Result<Vec<Order>, StoreError> {
        self.open_orders()?
            .iter()
            .map(|o| read_order(&self.conn, &self.path, &o.number))
            .collect()
    }

    /// Packages written after the change `since` ("" or anything not a number, such
    /// as a time cursor from before 0005: all), and the cursor for the next call.
    pub fn packages_since(&self, since: &str) -> Result<(Vec<Package>, String), StoreError> {
        let err = self.err();
        let since: i64 = since.trim().parse().unwrap_or(0);
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {PACKAGE_COLUMNS}, change_seq FROM packages
                 WHERE change_seq > ?1 ORDER BY change_seq"
            ))
            .map_err(&err)?;
        let mut cursor = since;
        let rows = st
            .query_map([since], |r| Ok((package_row(r)?, r.get::<_, i64>(15)?)))
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        let mut out = Vec::with_capacity(rows.len());
        for (p, seq) in rows {
            out.push(p.map_err(|m| self.corrupt(m))?);
            cursor = cursor.max(seq);
        }
        Ok((out, cursor.to_string()))
    }

    // ---- device: outbox ----

    /// This device's events the hub has not acknowledged, oldest first, skipping
    /// the orders in `skip`.
    pub fn outbox(&self, limit: usize, skip: &[String]) -> Result<Vec<Event>, StoreError> {
        let err = self.err();
        let skip = serde_json::to_string(skip).expect("strings serialise");
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events e
                 WHERE e.device = ?1
                   AND NOT EXISTS (SELECT 1 FROM event_acks a
                                   WHERE a.device = e.device AND a.seq = e.seq)
                   AND e.order_number NOT IN (SELECT value FROM json_each(?2))
                 ORDER BY e.seq LIMIT ?3"
            ))
            .map_err(&err)?;
        let rows = st
            .query_map(params![self.device, skip, limit as i64], event_row)
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        rows.into_iter()
            .map(|e| e.map_err(|m| self.corrupt(m)))
            .collect()
    }

    /// How many of this device's events wait for the hub.
    pub fn outbox_len(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM events e WHERE e.device = ?1
                   AND NOT EXISTS (SELECT 1 FROM event_acks a
                                   WHERE a.device = e.device AND a.seq = e.seq)",
                [&self.device],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Record the hub's acknowledgement of this device's events `seqs`, and take in
    /// other devices' events of `order` that the hub sent, up to hub event `cursor`.
    /// In transactions of at most `SYNC_CHUNK` events, so a scan beside never waits
    /// long for the lock: the files first, then the events, and the acknowledgements
    /// and the cursor with the last (cut short, the next round brings the rest again;
    /// events already held are skipped).
    pub fn record_sync(
        &mut self,
        order: &str,
        seqs: &[i64],
        others: &[Event],
        attachments: &[super::Attachment],
        cursor: i64,
    ) -> Result<usize, StoreError> {
        let mut chunks: Vec<&[Event]> = others.chunks(SYNC_CHUNK).collect();
        let last = chunks.pop().unwrap_or(&[]);
        let mut taken = 0;
        let mut files = attachments;
        for chunk in chunks {
            taken += self.record_sync_tx(order, &[], chunk, files, 0)?;
            files = &[];
            // A gap between transactions: a scan waiting for the lock gets in.
            std::thread::sleep(SYNC_GAP);
        }
        Ok(taken + self.record_sync_tx(order, seqs, last, files, cursor)?)
    }

    fn record_sync_tx(
        &mut self,
        order: &str,
        seqs: &[i64],
        others: &[Event],
        attachments: &[super::Attachment],
        cursor: i64,
    ) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let device = self.device.clone();
        let at = now();
        let tx = self.write_tx()?;
        for a in attachments {
            super::ship::put_attachment(&tx, a).map_err(err)?;
        }
        {
            let mut ack = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO event_acks (device, seq, acked_at) VALUES (?1, ?2, ?3)",
                )
                .map_err(err)?;
            for s in seqs {
                ack.execute(params![device, s, at]).map_err(err)?;
            }
        }
        // This device's own events come back only from before it was reinstalled
        // (up to the floor the hub gave at join), and count as acknowledged.
        let floor: i64 = tx
            .query_row(
                "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'seq_floor'), 0)",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        let mut taken = 0;
        for e in others
            .iter()
            .filter(|e| e.device != device || e.seq <= floor)
        {
            if e.device == device {
                tx.execute(
                    "INSERT OR IGNORE INTO event_acks (device, seq, acked_at) VALUES (?1, ?2, ?3)",
                    params![device, e.seq, at],
                )
                .map_err(err)?;
            }
            let known: bool = tx
                .prepare_cached("SELECT 1 FROM events WHERE device = ?1 AND seq = ?2")
                .map_err(err)?
                .query_row(params![e.device, e.seq], |_| Ok(true))
                .optional()
                .map_err(err)?
                .unwrap_or(false);
            if !known {
                insert_event(&tx, e).map_err(err)?;
                taken += 1;
            }
        }
        tx.execute(
            "INSERT INTO sync_cursors (order_number, hub_event_id) VALUES (?1, ?2)
             ON CONFLICT (order_number) DO UPDATE
                SET hub_event_id = max(hub_event_id, excluded.hub_event_id)",
            params![order, cursor],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(taken)
    }

    /// The last hub event id of `order` this device holds.
    pub fn sync_cursor(&self, order: &str) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT hub_event_id FROM sync_cursors WHERE order_number = ?1",
                [order],
                |r| r.get(0),
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(self.err())
    }

    /// Take the hub's open orders and package facts as they are: the packages in
    /// transactions of `SYNC_CHUNK`, the orders in one. The hub checked the
    /// allocation; a local order the hub no longer lists as open is closed here (its
    /// events stay). Returns how many orders changed here (written or closed).
    #[instrument(skip_all, err(level = "debug"), fields(orders = orders.len(), packages = packages.len()))]
    pub fn apply_hub_snapshot(
        &mut self,
        orders: &[Order],
        packages: &[Package],
    ) -> Result<usize, StoreError> {
        // Package facts in transactions of at most SYNC_CHUNK, so a scan beside never
        // waits long (the pull's cursor moves only after all of them).
        for chunk in packages.chunks(SYNC_CHUNK) {
            self.import_packages(chunk)?;
            std::thread::sleep(SYNC_GAP);
        }
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let at = now();
        // Unchanged orders are left alone: no write, no wake-up of a pick session.
        // Compared before the write lock is taken, so the lock is held only to write.
        let mut changed = Vec::new();
        for order in orders {
            let same = self.order_open(&order.number)? != order.status.closes_the_order()
                && read_order(&self.conn, &path, &order.number).is_ok_and(|o| o == *order);
            if !same {
                changed.push(order);
            }
        }
        let tx = self.write_tx()?;
        let open: Vec<&str> = orders.iter().map(|o| o.number.as_str()).collect();
        let closed = tx
            .execute(
                "UPDATE orders SET is_open = 0
                 WHERE is_open = 1 AND number NOT IN (SELECT value FROM json_each(?1))",
                [serde_json::to_string(&open).expect("strings serialise")],
            )
            .map_err(err)?;
        let written = changed.len();
        for order in changed {
            super::write_order(&tx, &path, order, &at)?;
        }
        tx.commit().map_err(err)?;
        Ok(closed + written)
    }
}

/// The body of [`Store::receive_events`], in the caller's transaction or savepoint.
fn receive_into(
    conn: &rusqlite::Connection,
    events: &[Event],
    attachments: &[super::Attachment],
    at: &str,
    path: &std::path::Path,
) -> Result<Receipt, PushRefused> {
    let err = |e| classify(path, e);
    let mut receipt = Receipt::default();
    for a in attachments {
        super::ship::put_attachment(conn, a).map_err(err)?;
    }
    let has_people: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM people)", [], |r| r.get(0))
        .map_err(err)?;
    for e in events {
        let held = conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE device = ?1 AND seq = ?2"
            ))
            .map_err(err)?
            .query_row(params![e.device, e.seq], event_row)
            .optional()
            .map_err(err)?;
        match held {
            Some(Ok(h)) if h == *e => receipt.duplicates += 1,
            Some(_) => {
                return Err(PushRefused::Altered {
                    device: e.device.clone(),
                    seq: e.seq,
                });
            }
            None => {
                for sha in e.kind.attachments() {
                    if !super::ship::has_attachment(conn, sha).map_err(err)? {
                        return Err(PushRefused::MissingAttachment {
                            device: e.device.clone(),
                            seq: e.seq,
                            sha256: sha.to_string(),
                        });
                    }
                }
                if has_people {
                    let unchecked = check_role(conn, e).map_err(|r| match r {
                        Ok(why) => PushRefused::Role {
                            device: e.device.clone(),
                            seq: e.seq,
                            kind: e.kind.word(),
                            why,
                        },
                        Err(sql) => PushRefused::Store(classify(path, sql)),
                    })?;
                    let why = match unchecked {
                        Unchecked::Allowed => None,
                        Unchecked::Nobody => Some("recorded with nobody signed in".to_string()),
                        Unchecked::Unknown => Some(format!(
                            "recorded by {:?}, who is not a person on this hub",
                            e.person.as_deref().unwrap_or_default()
                        )),
                    };
                    if let Some(why) = why {
                        log_security_in(
                            conn,
                            Some(&e.device),
                            "unattributed",
                            &format!(
                                "event {}/{} ({}) on order {}: {why}; kept, attributed to the device",
                                e.device,
                                e.seq,
                                e.kind.word(),
                                e.order
                            ),
                        )
                        .map_err(err)?;
                    }
                }
                let id = insert_event(conn, e).map_err(err)?;
                conn.prepare_cached(
                    "INSERT INTO hub_receipts (device, seq, event_id, received_at)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?
                .execute(params![e.device, e.seq, id, at])
                .map_err(err)?;
                receipt.new += 1;
            }
        }
        receipt.acked.push(e.seq);
    }
    Ok(receipt)
}

/// On a hub with people: the event's person must be one of them, with a role that
/// allows the event. `Err(Ok(why))` is a refusal, `Err(Err(_))` a database failure.
fn check_role(
    conn: &rusqlite::Connection,
    e: &Event,
) -> Result<Unchecked, Result<String, rusqlite::Error>> {
    use crate::domain::people::Role;
    let needed = Role::needed_for(&e.kind);
    // Recorded with nobody signed in, or by someone the hub does not list: the device
    // had no people (or its own) when it recorded the event, before it heard of the
    // hub's. The event is a fact of the floor and is kept, attributed to the device.
    let Some(name) = &e.person else {
        return Ok(Unchecked::Nobody);
    };
    // The role the person had when the event was recorded (by the event's time, in
    // UTC as the history keeps it); for an event older than the history, the first
    // role known.
    let at = chrono::DateTime::parse_from_rfc3339(&e.at)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .unwrap_or_else(|_| e.at.clone());
    let role: Option<String> = conn
        .prepare_cached(
            "SELECT coalesce(
                (SELECT role FROM role_history WHERE name = ?1 AND since <= ?2
                 ORDER BY since DESC LIMIT 1),
                (SELECT role FROM role_history WHERE name = ?1 ORDER BY since LIMIT 1),
                (SELECT role FROM people WHERE name = ?1))",
        )
        .and_then(|mut st| st.query_row(params![name, at], |r| r.get(0)))
        .map_err(Err)?;
    let Some(role) = role else {
        return Ok(Unchecked::Unknown);
    };
    let role: Role = role.parse().map_err(Ok)?;
    if !role.allows(needed) {
        return Err(Ok(format!(
            "{name} is a {role}: this needs a {needed} or a supervisor"
        )));
    }
    Ok(Unchecked::Allowed)
}

/// Most events, or package facts, the sync writes in one transaction: about 2 ms of
/// writing (benches/pick imports 20,000 packages in 140 ms), the longest a scan beside
/// it waits for the lock.
pub const SYNC_CHUNK: usize = 250;

/// The pause between the sync's transactions, for a waiting scan to take the lock.
const SYNC_GAP: std::time::Duration = std::time::Duration::from_millis(2);

/// A security log row inside the caller's transaction (kept with the push), unless
/// the log already holds this cause.
fn log_security_in(
    conn: &rusqlite::Connection,
    device: Option<&str>,
    kind: &str,
    detail: &str,
) -> rusqlite::Result<()> {
    let known: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM security_log
             WHERE kind = ?1 AND device IS ?2 AND detail = ?3)",
        )?
        .query_row(params![kind, device, detail], |r| r.get(0))?;
    if known {
        return Ok(());
    }
    tracing::warn!(target: "tagtally::security", device, kind, detail, "security event");
    conn.prepare_cached(
        "INSERT INTO security_log (at, device, kind, detail) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![now(), device, kind, detail])?;
    Ok(())
}

/// How an event passed the hub's role check.
enum Unchecked {
    /// Its person's role allows it.
    Allowed,
    /// Recorded with nobody signed in: kept, and written to the security log.
    Nobody,
    /// By a person the hub does not list: kept, and written to the security log.
    Unknown,
}

/// One line of the hub's security log.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SecurityEntry {
    pub at: String,
    pub device: Option<String>,
    pub kind: String,
    pub detail: String,
}

fn device_row(r: &rusqlite::Row) -> rusqlite::Result<DeviceRecord> {
    Ok(DeviceRecord {
        name: r.get(0)?,
        device_id: r.get(1)?,
        enrolled_at: r.get(2)?,
        revoked_at: r.get(3)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Verdict;
    use std::time::Duration;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.db"), Duration::from_secs(1)).unwrap();
        (dir, s)
    }

    fn ev(device: &str, seq: i64, raw: &str) -> Event {
        Event {
            person: None,
            device: device.into(),
            seq,
            at: "2026-11-27T00:00:00.000Z".into(),
            order: "SO-1".into(),
            kind: EventKind::scan(
                raw.as_bytes(),
                raw.len(),
                None,
                Verdict::NotATag {
                    reason: crate::tag::NotATag::Malformed,
                },
            ),
        }
    }

    #[test]
    fn receive_is_idempotent_and_refuses_altered_replays() {
        let (_d, mut s) = store();
        let r = s
            .receive_events(&[ev("d1", 1, "a"), ev("d1", 2, "b")])
            .unwrap();
        assert_eq!((r.new, r.duplicates, r.acked), (2, 0, vec![1, 2]));
        let r = s
            .receive_events(&[ev("d1", 2, "b"), ev("d1", 3, "c")])
            .unwrap();
        assert_eq!((r.new, r.duplicates), (1, 1));
        let refused = s.receive_events(&[ev("d1", 4, "d"), ev("d1", 3, "X")]);
        assert!(matches!(refused, Err(PushRefused::Altered { seq: 3, .. })));
        // All or nothing: seq 4 was not kept.
        assert_eq!(s.event_count().unwrap(), 3);
    }

    #[test]
    fn tokens_are_kept_hashed_and_revocable() {
        let (_d, mut s) = store();
        let token = s.enroll_device("vault-1").unwrap();
        assert!(matches!(
            s.enroll_device("vault-1"),
            Err(DeviceError::Exists(_))
        ));
        let d = s.device_by_token(&token).unwrap().unwrap();
        assert_eq!((d.name.as_str(), d.is_revoked()), ("vault-1", false));
        assert!(s.device_by_token("tt_forged").unwrap().is_none());
        s.bind_device("vault-1", "dev-1").unwrap();
        s.bind_device("vault-1", "dev-1").unwrap();
        assert!(s.bind_device("vault-1", "dev-2").is_err());
        s.revoke_device("vault-1").unwrap();
        assert!(s.device_by_token(&token).unwrap().unwrap().is_revoked());
        assert!(s.revoke_device("nope").is_err());
    }

    #[test]
    fn outbox_drains_with_acks_and_takes_other_devices_events() {
        let (_d, mut s) = store();
        for raw in ["a", "b", "c"] {
            s.append("SO-1", ev("x", 0, raw).kind).unwrap();
        }
        assert_eq!(s.outbox_len().unwrap(), 3);
        let out = s.outbox(2, &[]).unwrap();
        assert_eq!(out.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert!(s.outbox(10, &["SO-1".into()]).unwrap().is_empty());
        let others = vec![ev("other", 1, "z"), ev("other", 1, "z")];
        assert_eq!(s.record_sync("SO-1", &[1, 2], &others, &[], 9).unwrap(), 1);
        assert_eq!(s.outbox_len().unwrap(), 1);
        assert_eq!(s.sync_cursor("SO-1").unwrap(), 9);
        s.record_sync("SO-1", &[], &[], &[], 4).unwrap();
        assert_eq!(s.sync_cursor("SO-1").unwrap(), 9, "cursors never go back");
        assert_eq!(s.event_count().unwrap(), 4);
    }
}

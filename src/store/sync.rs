//! The store's part of sync, for both sides: what the hub reads for devices (an
//! order's events after a cursor, the feed of other devices' events, the open orders
//! and changed packages of a snapshot), and the device's outbox, acknowledgements and
//! copies of other devices' events. The hub's devices and security log are in
//! [`super::devices`], what it makes of a push in [`super::receive`].

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};
use tracing::instrument;

use super::events::{EVENT_COLUMNS, event_row};
use super::orders::read_order;
use super::packages::{PACKAGE_COLUMN_COUNT, PACKAGE_COLUMNS, package_row};
use super::{Store, StoreError, classify, now};
use crate::domain::{Event, EventKind, Order, Package};
use crate::tag::MetrcTag;

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
        EventKind::LoadConfirm(_)
        | EventKind::DeliverFinish { .. }
        | EventKind::Hold { .. }
        | EventKind::Ruling { .. }
        | EventKind::LicenseRelease { .. }
        | EventKind::LicenseRefused { .. } => Columns {
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

    // ---- hub: events ----

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
            .query_map([since], |r| {
                Ok((package_row(r)?, r.get::<_, i64>(PACKAGE_COLUMN_COUNT)?))
            })
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
            super::orders::write_order(&tx, &path, order, &at)?;
        }
        tx.commit().map_err(err)?;
        Ok(closed + written)
    }
}

/// Most events, or package facts, the sync writes in one transaction: about 2 ms of
/// writing (benches/pick imports 20,000 packages in 140 ms), the longest a scan beside
/// it waits for the lock.
pub const SYNC_CHUNK: usize = 250;

/// The pause between the sync's transactions, for a waiting scan to take the lock.
const SYNC_GAP: std::time::Duration = std::time::Duration::from_millis(2);

/// Helpers shared by the tests of this module, `devices` and `receive`.
#[cfg(test)]
pub(super) mod test_support {
    use super::*;
    use crate::domain::Verdict;
    use std::time::Duration;

    pub(in crate::store) fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.db"), Duration::from_secs(1)).unwrap();
        (dir, s)
    }

    pub(in crate::store) fn ev(device: &str, seq: i64, raw: &str) -> Event {
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
}

#[cfg(test)]
mod tests {
    use super::test_support::{ev, store};

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

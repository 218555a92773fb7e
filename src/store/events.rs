//! The event log: this device's events appended durably (those of one `record` all or
//! none), each with this device's next sequence number and the signed-in person; and
//! an order's events read back in the one order every fold reads them. The row insert
//! itself, `sync::insert_event`, is the one events from elsewhere go through too.

use std::path::Path;

use rusqlite::{Connection, Row};
use tracing::instrument;

use super::{Attachment, Store, StoreError, classify, now, ship, sync};
use crate::domain::{Event, EventKind, Verdict};
use crate::tag::MetrcTag;

/// The columns [`event_row`] reads, in its order.
pub(super) const EVENT_COLUMNS: &str =
    "device, seq, at, order_number, kind, tag, line_id, note, raw, raw_len, detail, person";

impl Store {
    /// Append one event durably, with the next sequence number of this device.
    #[instrument(skip_all, err(level = "debug"), fields(order, kind = kind.word()))]
    pub fn append(&mut self, order: &str, kind: EventKind) -> Result<Event, StoreError> {
        let mut events = self.record(vec![(order.to_string(), kind)], &[])?;
        Ok(events.remove(0))
    }

    /// Append several events and the attachments they refer to in one transaction:
    /// all are recorded, or none. Each event gets the next sequence number of this
    /// device and the signed-in person. An event that refers to an attachment that is
    /// neither given nor stored is refused (the file would be lost).
    pub fn record(
        &mut self,
        events: Vec<(String, EventKind)>,
        attachments: &[Attachment],
    ) -> Result<Vec<Event>, StoreError> {
        let path = self.path.clone();
        let (device, person) = (self.device.clone(), self.person.clone());
        let tx = self.write_tx()?;
        let out = insert_events(&tx, &path, &device, person.as_deref(), events, attachments)?;
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(out)
    }

    /// All events of an order, in the order they were recorded here.
    pub fn events_for_order(&self, order: &str) -> Result<Vec<Event>, StoreError> {
        events_for_order(&self.conn, &self.path, order)
    }

    /// Number of events recorded, for reports and tests.
    pub fn event_count(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .map_err(self.err())
    }
}

pub(super) fn event_row(r: &Row) -> rusqlite::Result<Result<Event, String>> {
    let device: String = r.get(0)?;
    let seq: i64 = r.get(1)?;
    let kind: String = r.get(4)?;
    let tag: Option<String> = r.get(5)?;
    let line: Option<String> = r.get(6)?;
    let note: Option<String> = r.get(7)?;
    let raw: Option<Vec<u8>> = r.get(8)?;
    let raw_len: Option<i64> = r.get(9)?;
    let detail: Option<String> = r.get(10)?;
    let person: Option<String> = r.get(11)?;
    let at: String = r.get(2)?;
    let order: String = r.get(3)?;
    let bad = |what: &str| format!("event {device}/{seq}: {what}");
    let tag = tag
        .map(|t| MetrcTag::new(&t).map_err(|_| bad("tag")))
        .transpose();
    let kind = (|| -> Result<EventKind, String> {
        let verdict = || -> Result<Verdict, String> {
            serde_json::from_str(detail.as_deref().unwrap_or(""))
                .map_err(|e| bad(&format!("verdict: {e}")))
        };
        let raw = raw.clone().unwrap_or_default();
        let raw_len = raw_len.unwrap_or(0) as usize;
        Ok(match kind.as_str() {
            "scan" => EventKind::Scan {
                raw,
                raw_len,
                tag: tag?,
                verdict: verdict()?,
            },
            "load_scan" => EventKind::LoadScan {
                raw,
                raw_len,
                tag: tag?,
                verdict: verdict()?,
            },
            "deliver_scan" => EventKind::DeliverScan {
                raw,
                raw_len,
                tag: tag?,
                verdict: verdict()?,
            },
            "short" => EventKind::Short {
                line: line.ok_or_else(|| bad("short without line"))?,
                reason: note.unwrap_or_default(),
            },
            "undo" => EventKind::Undo {
                tag: tag?.ok_or_else(|| bad("undo without tag"))?,
                reason: note.unwrap_or_default(),
                // The accepted scans it takes back (none on undos recorded before
                // they were named).
                undoes: match detail.as_deref() {
                    None | Some("") => Vec::new(),
                    Some(d) => serde_json::from_str(d).map_err(|e| bad(&format!("undo: {e}")))?,
                },
            },
            "remove" => EventKind::Remove {
                tag: tag?.ok_or_else(|| bad("remove without tag"))?,
                reason: note.unwrap_or_default(),
            },
            "load_confirm" | "decision" | "deliver_finish" | "hold" | "ruling"
            | "license_release" | "license_refused" => {
                serde_json::from_str(detail.as_deref().unwrap_or(""))
                    .map_err(|e| bad(&format!("{kind}: {e}")))?
            }
            other => return Err(bad(&format!("unknown kind {other:?}"))),
        })
    })();
    Ok(kind.map(|kind| Event {
        device,
        seq,
        at,
        order,
        person,
        kind,
    }))
}

/// The body of [`Store::record`], in the caller's transaction: attachments, then the
/// events with this device's next sequence numbers, the time now and `person`.
pub(super) fn insert_events(
    conn: &Connection,
    path: &Path,
    device: &str,
    person: Option<&str>,
    events: Vec<(String, EventKind)>,
    attachments: &[Attachment],
) -> Result<Vec<Event>, StoreError> {
    let err = |e| classify(path, e);
    for a in attachments {
        ship::put_attachment(conn, a).map_err(err)?;
    }
    // After this device's last event here, and after the last the hub holds for it
    // (a reinstalled device continues, never reusing a number).
    let last: i64 = conn
        .prepare_cached(
            "SELECT max(coalesce((SELECT max(seq) FROM events WHERE device = ?1), 0),
                        coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'seq_floor'), 0))",
        )
        .map_err(err)?
        .query_row([device], |r| r.get(0))
        .map_err(err)?;
    let at = now();
    let mut out = Vec::with_capacity(events.len());
    for (seq, (order, kind)) in (last + 1..).zip(events) {
        for sha in kind.attachments() {
            if !ship::has_attachment(conn, sha).map_err(err)? {
                return Err(StoreError::Invalid(format!(
                    "the {} event refers to attachment {sha}, which is not stored; nothing was recorded",
                    kind.word()
                )));
            }
        }
        let event = Event {
            device: device.to_string(),
            seq,
            at: at.clone(),
            order,
            person: person.map(str::to_string),
            kind,
        };
        sync::insert_event(conn, &event).map_err(err)?;
        ship::remember_transport(conn, &event).map_err(err)?;
        out.push(event);
    }
    Ok(out)
}

pub(super) fn events_for_order(
    conn: &Connection,
    path: &Path,
    order: &str,
) -> Result<Vec<Event>, StoreError> {
    let err = |e| classify(path, e);
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE order_number = ?1 ORDER BY id"
        ))
        .map_err(err)?;
    let rows = st
        .query_map([order], event_row)
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    let mut events = rows
        .into_iter()
        .map(|r| {
            r.map_err(|message| StoreError::Corrupt {
                path: path.into(),
                message,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Every fold reads an order's events in the one order that depends on the events
    // alone, so this database counts what the hub and every other device count.
    crate::domain::fold_order(&mut events);
    Ok(events)
}

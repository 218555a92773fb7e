//! The store's part of the load and the delivery: attachments (signature images,
//! manifest PDFs) kept with the events that refer to them, the dock's memory of
//! drivers and vehicles, and the state of an order after its pick.

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{Store, StoreError, now};
use crate::domain::ship::{LoadOrder, Shipment};
use crate::domain::{Driver, Event, EventKind, Order, PickList, PickState, Vehicle};
use crate::tag::MetrcTag;

/// A file kept with the events that refer to it by its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// Lower-case hex SHA-256 of `bytes`.
    pub sha256: String,
    pub mime: String,
    pub bytes: Vec<u8>,
}

impl Attachment {
    pub fn new(mime: &str, bytes: Vec<u8>) -> Attachment {
        Attachment {
            sha256: sha256_hex(&bytes),
            mime: mime.into(),
            bytes,
        }
    }

    /// True when `sha256` is really the hash of `bytes` (checked on what arrives from
    /// elsewhere).
    pub fn is_intact(&self) -> bool {
        sha256_hex(&self.bytes) == self.sha256
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) fn put_attachment(tx: &Connection, a: &Attachment) -> rusqlite::Result<()> {
    // Content-addressed: the same hash is the same bytes, so a second copy is a no-op.
    tx.prepare_cached(
        "INSERT INTO attachments (sha256, mime, bytes, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (sha256) DO NOTHING",
    )?
    .execute(params![a.sha256, a.mime, a.bytes, now()])?;
    Ok(())
}

pub(super) fn has_attachment(tx: &Connection, sha: &str) -> rusqlite::Result<bool> {
    tx.prepare_cached("SELECT 1 FROM attachments WHERE sha256 = ?1")?
        .query_row([sha], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

/// A confirmed load teaches the dock its driver and vehicle.
pub(super) fn remember_transport(tx: &Connection, e: &Event) -> rusqlite::Result<()> {
    let EventKind::LoadConfirm(c) = &e.kind else {
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO drivers (name, occupational_license, drivers_license, last_used)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name) DO UPDATE SET occupational_license = excluded.occupational_license,
            drivers_license = excluded.drivers_license, last_used = excluded.last_used",
    )?
    .execute(params![
        c.driver.name,
        c.driver.occupational_license,
        c.driver.drivers_license,
        e.at
    ])?;
    tx.prepare_cached(
        "INSERT INTO vehicles (plate, make, model, last_used) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (plate) DO UPDATE SET make = excluded.make, model = excluded.model,
            last_used = excluded.last_used",
    )?
    .execute(params![
        c.vehicle.plate,
        c.vehicle.make,
        c.vehicle.model,
        e.at
    ])?;
    Ok(())
}

impl Store {
    /// A stored attachment.
    pub fn attachment(&self, sha256: &str) -> Result<Option<Attachment>, StoreError> {
        self.conn
            .query_row(
                "SELECT mime, bytes FROM attachments WHERE sha256 = ?1",
                [sha256],
                |r| {
                    Ok(Attachment {
                        sha256: sha256.to_string(),
                        mime: r.get(0)?,
                        bytes: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// Drivers the dock has loaded with, most recent first.
    pub fn recent_drivers(&self, limit: usize) -> Result<Vec<Driver>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT name, occupational_license, drivers_license FROM drivers
                 ORDER BY last_used DESC, name LIMIT ?1",
            )
            .map_err(self.err())?;
        st.query_map([limit as i64], |r| {
            Ok(Driver {
                name: r.get(0)?,
                occupational_license: r.get(1)?,
                drivers_license: r.get(2)?,
            })
        })
        .map_err(self.err())?
        .collect::<Result<_, _>>()
        .map_err(self.err())
    }

    /// Vehicles the dock has loaded, most recent first.
    pub fn recent_vehicles(&self, limit: usize) -> Result<Vec<Vehicle>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT make, model, plate FROM vehicles ORDER BY last_used DESC, plate LIMIT ?1",
            )
            .map_err(self.err())?;
        st.query_map([limit as i64], |r| {
            Ok(Vehicle {
                make: r.get(0)?,
                model: r.get(1)?,
                plate: r.get(2)?,
            })
        })
        .map_err(self.err())?
        .collect::<Result<_, _>>()
        .map_err(self.err())
    }

    /// An order as the dock and the driver see it: its list, its picks and its
    /// shipment, folded from all its events.
    pub fn shipment_of(&self, order: &Order) -> Result<LoadOrder, StoreError> {
        Ok(self.shipment_and_events(order)?.0)
    }

    /// As [`Store::shipment_of`], with the counted events it was folded from (one
    /// read of the log for callers that need both).
    pub fn shipment_and_events(
        &self,
        order: &Order,
    ) -> Result<(LoadOrder, Vec<crate::domain::Event>), StoreError> {
        let tags: Vec<MetrcTag> = order.allocations().map(|a| a.tag).collect();
        let list = PickList::new(order, &self.packages(&tags)?);
        // What counts: not the events held for a ruling, nor the rejected.
        let events = crate::domain::counted(self.events_for_order(&order.number)?);
        let mut pick = PickState::default();
        for e in &events {
            pick.apply(e);
        }
        let ship = Shipment::from_events(&events);
        Ok((LoadOrder { list, pick, ship }, events))
    }

    /// Orders by stage, for the dock's and the driver's lists: `(number, buyer, stage)`
    /// of every open order with a finished pick (`picked`), a confirmed load
    /// (`loaded`) or a finished delivery (`delivered`).
    pub fn order_stages(&self) -> Result<Vec<(String, String, &'static str)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT o.number, o.buyer FROM orders o WHERE o.is_open = 1
                 ORDER BY o.ship_date IS NULL, o.ship_date, o.number",
            )
            .map_err(self.err())?;
        let rows: Vec<(String, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        let mut out = Vec::new();
        for (number, buyer) in rows {
            // As the fold counts (a held confirmation or finish is not one).
            let order = self.find_order(&number)?;
            let o = self.shipment_of(&order)?;
            let stage = if o.ship.finished().is_some() {
                "delivered"
            } else if o.ship.confirmed().is_some() {
                "loaded"
            } else if crate::domain::ship::can_load(&o).is_ok() {
                "picked"
            } else {
                continue;
            };
            out.push((number, buyer, stage));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{LoadConfirm, Verdict};
    use crate::tag::MetrcTag;
    use rusqlite::Connection;
    use std::time::Duration;

    const TAG: &str = "1A4000000000000000000A01";

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.db"), Duration::from_secs(1)).unwrap();
        (dir, s)
    }

    fn confirm(sig: Option<String>) -> EventKind {
        EventKind::LoadConfirm(Box::new(LoadConfirm {
            load: "L1".into(),
            orders: vec!["SO-1".into()],
            driver: Driver {
                name: "Dee".into(),
                occupational_license: "OL-1".into(),
                drivers_license: "D1".into(),
            },
            vehicle: Vehicle {
                make: "Ford".into(),
                model: "Transit".into(),
                plate: "8ABC123".into(),
            },
            tags: vec![MetrcTag::new(TAG).unwrap()],
            manifest_pdf: sig,
        }))
    }

    #[test]
    fn events_with_attachments_are_all_or_nothing_and_read_back_whole() {
        let (_d, mut s) = store();
        s.set_signed_in(Some("Lou Loader"));
        // Refers to a file that is not there: nothing recorded.
        let err = s
            .record(vec![("SO-1".into(), confirm(Some("00ff".into())))], &[])
            .unwrap_err();
        assert!(err.to_string().contains("not stored"), "{err}");
        assert_eq!(s.event_count().unwrap(), 0);
        let pdf = Attachment::new("application/pdf", b"%PDF-1.7 fake".to_vec());
        assert!(pdf.is_intact());
        let scan = EventKind::LoadScan {
            raw: TAG.as_bytes().to_vec(),
            raw_len: 24,
            tag: Some(MetrcTag::new(TAG).unwrap()),
            verdict: Verdict::Loaded { line: "1".into() },
        };
        let evs = s
            .record(
                vec![
                    ("SO-1".into(), scan),
                    ("SO-1".into(), confirm(Some(pdf.sha256.clone()))),
                ],
                std::slice::from_ref(&pdf),
            )
            .unwrap();
        assert_eq!(evs.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
        let back = s.events_for_order("SO-1").unwrap();
        assert_eq!(back, evs);
        assert_eq!(back[1].person.as_deref(), Some("Lou Loader"));
        assert_eq!(s.attachment(&pdf.sha256).unwrap(), Some(pdf.clone()));
        // The dock remembers the driver and the vehicle.
        assert_eq!(s.recent_drivers(5).unwrap()[0].name, "Dee");
        assert_eq!(s.recent_vehicles(5).unwrap()[0].plate, "8ABC123");
        // Attachments and events are append-only.
        let conn = Connection::open(s.path()).unwrap();
        assert!(conn.execute("DELETE FROM attachments", []).is_err());
        assert!(conn.execute("UPDATE events SET person = 'x'", []).is_err());
        assert!(conn.execute("DELETE FROM events", []).is_err());
    }

    #[test]
    fn an_undo_reads_back_with_the_picks_it_names() {
        use crate::domain::EventRef;
        let (_d, mut s) = store();
        let named = EventKind::Undo {
            tag: MetrcTag::new(TAG).unwrap(),
            reason: "wrong shelf".into(),
            undoes: vec![
                EventRef {
                    device: "vault-1".into(),
                    seq: 7,
                },
                EventRef {
                    device: "vault-2".into(),
                    seq: 3,
                },
            ],
        };
        let legacy = EventKind::Undo {
            tag: MetrcTag::new(TAG).unwrap(),
            reason: "old".into(),
            undoes: vec![],
        };
        let evs = s
            .record(vec![("SO-1".into(), named), ("SO-1".into(), legacy)], &[])
            .unwrap();
        assert_eq!(s.events_for_order("SO-1").unwrap(), evs);
    }

    #[test]
    fn migration_keeps_the_events_of_an_older_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            // A database as tagtally left it before 0004, with one pick.
            let conn = Connection::open(&path).unwrap();
            for (_, sql) in &super::super::MIGRATIONS[..3] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
            conn.execute(
                "INSERT INTO events (device, seq, at, order_number, kind, tag, line_id, verdict,
                    raw, raw_len, detail) VALUES ('d1', 1, '2026-01-01T00:00:00.000Z', 'SO-1',
                    'scan', ?1, '1', 'accepted', CAST(?1 AS BLOB), 24, ?2)",
                rusqlite::params![
                    TAG,
                    r#"{"verdict":"accepted","line":"1","expires_in_days":null}"#
                ],
            )
            .unwrap();
        }
        let s = Store::open(&path, Duration::from_secs(1)).unwrap();
        let evs = s.events_for_order("SO-1").unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].person, None);
        assert_eq!(evs[0].kind.verdict().unwrap().word(), "accepted");
        let conn = Connection::open(&path).unwrap();
        assert!(conn.execute("DELETE FROM events", []).is_err());
    }
}

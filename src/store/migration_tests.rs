//! Migrations on a database made by an older tagtally: what was there survives.

use super::*;
use crate::domain::{Event, EventKind, EventRef, Verdict};
use crate::tag::MetrcTag;

fn scan(device: &str, seq: i64, person: Option<&str>) -> Event {
    const T: &str = "1A4060300003C35000010001";
    let tag = MetrcTag::new(T).unwrap();
    Event {
        device: device.into(),
        seq,
        at: "2026-12-01T10:00:00.000Z".into(),
        order: "SO-1".into(),
        person: person.map(str::to_string),
        kind: EventKind::scan(
            T.as_bytes(),
            24,
            Some(tag),
            Verdict::Accepted {
                line: "1".into(),
                expires_in_days: None,
            },
        ),
    }
}

#[test]
fn the_holds_migration_keeps_every_event_with_its_id_and_person() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let old = [scan("vault-1", 1, Some("Pia")), scan("vault-2", 1, None)];
    {
        // A database at schema 7, as the last tagtally before holds left it.
        let mut conn = Connection::open(&path).unwrap();
        let tx = conn.transaction().unwrap();
        for (_, sql) in &MIGRATIONS[..7] {
            tx.execute_batch(sql).unwrap();
        }
        tx.pragma_update(None, "user_version", 7).unwrap();
        for e in &old {
            sync::insert_event(&tx, e).unwrap();
        }
        tx.commit().unwrap();
    }
    let mut s = Store::open(&path, Duration::from_secs(5)).unwrap();
    let version: i64 = s
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    let ids: Vec<(i64, String)> = s
        .conn
        .prepare("SELECT id, device FROM events ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids, [(1, "vault-1".into()), (2, "vault-2".into())]);
    let mut back = s.events_for_order("SO-1").unwrap();
    back.sort_by_key(|e| e.device.clone());
    assert_eq!(back, old);
    // The new kinds are stored and read back; the log is still append-only.
    let hold = EventKind::Hold {
        event: EventRef {
            device: "vault-2".into(),
            seq: 1,
        },
        why: "recorded with nobody signed in".into(),
    };
    let e = s.append("SO-1", hold.clone()).unwrap();
    let ruling = EventKind::Ruling {
        event: e.id(),
        accept: false,
        reason: "test".into(),
    };
    s.append("SO-1", ruling.clone()).unwrap();
    let kinds: Vec<EventKind> = s
        .events_for_order("SO-1")
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .filter(EventKind::is_hold_or_ruling)
        .collect();
    assert_eq!(kinds, [hold, ruling]);
    assert!(
        s.conn
            .execute("UPDATE events SET person = 'x'", [])
            .is_err()
    );
    assert!(s.conn.execute("DELETE FROM events", []).is_err());
}

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

#[test]
fn the_coordinator_migration_keeps_people_their_pins_locks_and_role_history() {
    use crate::domain::people::Role;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let before = MIGRATIONS
        .iter()
        .position(|(name, _)| *name == "0015_coordinator")
        .unwrap();
    {
        let mut s = Store::open(&path, Duration::from_secs(5)).unwrap();
        s.set_person("Ana", Role::Supervisor, "2468").unwrap();
        s.set_person("Bo", Role::Picker, "1357").unwrap();
    }
    let rows = |conn: &Connection| -> Vec<(String, String, String, i64)> {
        conn.prepare("SELECT name, role, pin_hash, failed FROM people ORDER BY name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let history = |conn: &Connection| -> i64 {
        conn.query_row("SELECT count(*) FROM role_history", [], |r| r.get(0))
            .unwrap()
    };
    let (people, roles) = {
        // Back to the schema before 0015, tables as that schema made them.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE p AS SELECT * FROM people; CREATE TABLE h AS SELECT * FROM role_history;
             DROP TABLE people; DROP TABLE role_history;",
        )
        .unwrap();
        conn.execute_batch(MIGRATIONS[2].1).unwrap();
        conn.execute_batch(
            "CREATE TABLE role_history (name TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN
               ('picker', 'loader', 'driver', 'supervisor')), since TEXT NOT NULL,
               PRIMARY KEY (name, since)) STRICT;
             INSERT INTO people SELECT * FROM p; INSERT INTO role_history SELECT * FROM h;
             DROP TABLE p; DROP TABLE h;",
        )
        .unwrap();
        conn.execute("UPDATE people SET failed = 3 WHERE name = 'Bo'", [])
            .unwrap();
        assert!(
            conn.execute(
                "UPDATE people SET role = 'coordinator' WHERE name = 'Bo'",
                []
            )
            .is_err(),
            "the old check refuses the new role"
        );
        conn.pragma_update(None, "user_version", before as i64)
            .unwrap();
        (rows(&conn), history(&conn))
    };
    let mut s = Store::open(&path, Duration::from_secs(5)).unwrap();
    assert_eq!(
        rows(&s.conn),
        people,
        "names, roles, PIN hashes and counts kept"
    );
    assert_eq!(history(&s.conn), roles);
    s.set_person("Cy", Role::Coordinator, "9753").unwrap();
    assert_eq!(s.people().unwrap()[2].role, Role::Coordinator);
}

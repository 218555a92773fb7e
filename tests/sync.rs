//! Devices and a hub together, on real SQLite files and a real loopback hub: picks
//! converge, conflicts become exceptions, an offline device drains in order, and a
//! hub killed with -9 between commit and answer loses nothing and doubles nothing.

#[path = "support/hub.rs"]
mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;
use tagtally::domain::Package;
use tagtally::domain::merge::ExceptionKind;
use tagtally::sync::{self, Client, SyncError};
use tagtally::tag::MetrcTag;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_device_gets_already_scanned_once_it_has_heard() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let mut a = site.device("vault-1", &hub.url()).await;
    let mut b = site.device("vault-2", &hub.url()).await;
    assert_eq!(a.pick(&[T1]), vec!["accepted"]);
    let r = a.sync().await.unwrap();
    assert_eq!((r.pushed, r.waiting), (1, 0));
    let r = b.sync().await.unwrap();
    assert_eq!(r.received, 1);
    assert_eq!(b.pick(&[T1, T2]), vec!["already_scanned", "accepted"]);
    b.sync().await.unwrap();
    a.sync().await.unwrap();
    // Both devices and the hub count the same two picks.
    let merged = a.client.order(ORDER).await.unwrap();
    assert_eq!(merged.progress.picked, 2);
    assert!(merged.exceptions.is_empty(), "{:?}", merged.exceptions);
    for d in [&a, &b] {
        assert_eq!(
            tagtally::app::status(&d.store, ORDER).unwrap(),
            merged.progress
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_tag_picked_offline_on_two_devices_counts_once_with_an_exception() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let mut a = site.device("vault-1", &hub.url()).await;
    let mut b = site.device("vault-2", &hub.url()).await;
    // Neither has heard of the other: both accept.
    assert_eq!(a.pick(&[T1]), vec!["accepted"]);
    assert_eq!(b.pick(&[T1]), vec!["accepted"]);
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    let merged = b.client.order(ORDER).await.unwrap();
    assert_eq!(merged.progress.picked, 1, "counted once");
    assert_eq!(merged.exceptions.len(), 1);
    let e = &merged.exceptions[0];
    assert_eq!(e.device, b.id());
    assert_eq!(
        e.kind,
        ExceptionKind::AlreadyPicked {
            by_device: a.id(),
            by_seq: 1
        }
    );
    assert!(
        e.message
            .contains(&format!("already picked on device {}", a.id()))
    );
    // The devices converge on the same count.
    a.sync().await.unwrap();
    assert_eq!(tagtally::app::status(&a.store, ORDER).unwrap().picked, 1);
    assert_eq!(tagtally::app::status(&b.store, ORDER).unwrap().picked, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_put_on_hold_while_a_device_was_offline_becomes_an_exception() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let mut a = site.device("vault-1", &hub.url()).await;
    assert_eq!(a.pick(&[T2]), vec!["accepted"]);
    // Meanwhile the hub learns from Metrc that the package is on hold.
    let mut hub_store = site.hub_store();
    let tag = MetrcTag::new(T2).unwrap();
    let held = Package {
        on_hold: true,
        last_modified: "2099-01-01T00:00:00.000Z".into(),
        ..hub_store.packages(std::slice::from_ref(&tag)).unwrap()[&tag].clone()
    };
    hub_store.import_packages(&[held]).unwrap();
    a.sync().await.unwrap();
    let merged = a.client.order(ORDER).await.unwrap();
    assert_eq!(merged.exceptions.len(), 1, "{:?}", merged.exceptions);
    assert!(matches!(
        merged.exceptions[0].kind,
        ExceptionKind::Ineligible { .. }
    ));
    // A device joining now takes in the hold and the pick: a rescan is already scanned.
    let mut b = site.device("vault-2", &hub.url()).await;
    assert!(b.store.tag_facts(&tag).unwrap().package.unwrap().on_hold);
    assert_eq!(b.pick(&[T2]), vec!["already_scanned"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_device_keeps_picking_and_drains_oldest_first_when_the_hub_returns() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let mut a = site.device("vault-1", &hub.url()).await;
    let addr = hub.stop();
    // Offline: picks are answered at once and queue up.
    let lines = [T1, T2, "junk", T4, T1];
    assert_eq!(
        a.pick(&lines),
        vec![
            "accepted",
            "accepted",
            "not_a_tag",
            "accepted",
            "already_scanned"
        ]
    );
    let err = a.sync().await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(matches!(err, SyncError::Unreachable { .. }));
    assert_eq!(a.store.outbox_len().unwrap(), 5);
    // The hub returns on the same database and port.
    let hub = TestHub::start(&site.hub_db(), Some(addr));
    let r = a.sync().await.unwrap();
    assert_eq!((r.pushed, r.duplicates, r.waiting), (5, 0, 0));
    let on_hub = site.hub_store().order_events_after(ORDER, 0, 100).unwrap();
    let seqs: Vec<i64> = on_hub.iter().map(|(_, e)| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5], "arrived oldest first");
    let r = a.sync().await.unwrap();
    assert_eq!((r.pushed, r.duplicates), (0, 0), "nothing sent twice");
    drop(hub);
}

/// Pick through the real `tagtally pick --sync` child against a hub child.
#[test]
fn pick_with_background_sync_reaches_the_hub() {
    let site = Site::new();
    let hub = ChildHub::start(&site.hub_db(), "127.0.0.1:0", None);
    let token = site.enroll("handheld-1");
    let db = site.dir.path().join("handheld.db");
    let run = |args: &[&str], stdin: &str| {
        let mut c = Command::new(BIN)
            .arg("--db")
            .arg(&db)
            .args(args)
            .env_remove("TAGTALLY_CONFIG")
            .env("XDG_CONFIG_HOME", site.dir.path())
            .env("RUST_LOG", "off")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["device", "join", &hub.url(), &token], "");
    let out = run(&["sync"], "");
    assert!(out.contains("2 open orders"), "{out}");
    let out = run(
        &["pick", ORDER, "--sync", "--json"],
        &format!("{T1}\n{T2}\n"),
    );
    assert_eq!(out.lines().count(), 2);
    eventually("the picks on the hub", || site.hub_events() == 2);
    let out = run(&["status", ORDER, "--hub", &hub.url(), "--json"], "");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["picked"], 2);
    assert_eq!(v["exceptions"], serde_json::json!([]));
}

/// kill -9 of the hub between its durable commit and its answer: the device retries,
/// the hub recognises the events, nothing is lost or doubled. And before the commit:
/// nothing was kept, the retry stores the events once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_killed_mid_push_loses_nothing_and_doubles_nothing() {
    for (fault, held_after_kill) in [("stall-after-commit", 3), ("stall-before-commit", 0)] {
        let site = Site::new();
        let hub = ChildHub::start(&site.hub_db(), "127.0.0.1:0", None);
        let mut a = site.device("vault-1", &hub.url()).await;
        let addr = hub.addr.clone();
        hub.kill9();
        let hub = ChildHub::start(&site.hub_db(), &addr, Some(fault));
        assert_eq!(
            a.pick(&[T1, T2, "1A4060300003C35000010004"]),
            vec!["accepted"; 3]
        );
        // The hub stalls; the device gives up waiting.
        let impatient = Client::joined(&a.store, Duration::from_secs(1)).unwrap();
        let err = sync::sync_once(&mut a.store, &impatient).await.unwrap_err();
        assert!(err.is_retryable(), "{fault}: {err}");
        assert_eq!(
            a.store.outbox_len().unwrap(),
            3,
            "{fault}: not acknowledged"
        );
        hub.kill9();
        assert_eq!(site.hub_events(), held_after_kill, "{fault}");
        let hub = ChildHub::start(&site.hub_db(), &addr, None);
        let r = a.sync().await.unwrap();
        assert_eq!(r.pushed + r.duplicates, 3, "{fault}: {r:?}");
        assert_eq!(r.duplicates, held_after_kill as usize, "{fault}");
        assert_eq!(r.waiting, 0);
        assert_eq!(site.hub_events(), 3, "{fault}: exactly once");
        let merged = a.client.order(ORDER).await.unwrap();
        assert_eq!(merged.progress.picked, 3, "{fault}");
        drop(hub);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_keeps_its_queue_and_is_told_why() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let mut a = site.device("vault-1", &hub.url()).await;
    a.pick(&[T1]);
    site.hub_store().revoke_device("vault-1").unwrap();
    let err = a.sync().await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("revoked"), "{err}");
    assert_eq!(a.store.outbox_len().unwrap(), 1, "nothing dropped");
    assert_eq!(site.hub_events(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_an_order_unknown_to_the_hub_stay_queued_and_do_not_block_others() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let mut a = site.device("vault-1", &hub.url()).await;
    // An order imported only on the device.
    let csv = "order,buyer,buyer_license,line,sku,batch,tag\nSO-LOCAL,Corner,LIC,1,SD,SD-0105,1A4060300003C35000010031\n";
    let path = site.dir.path().join("local.csv");
    std::fs::write(&path, csv).unwrap();
    tagtally::app::import_orders(&mut a.store, &path).unwrap();
    {
        let mut s = tagtally::app::pick::PickSession::open(
            &mut a.store,
            "SO-LOCAL",
            Default::default(),
            Default::default(),
        )
        .unwrap();
        s.scan(&tagtally::scan::Frame {
            bytes: b"1A4060300003C35000010031".to_vec(),
            len: 24,
        })
        .unwrap();
    }
    a.pick(&[T1]);
    let r = a.sync().await.unwrap();
    assert_eq!(r.pushed, 1);
    assert_eq!(r.waiting, 1);
    assert!(r.refused[0].contains("SO-LOCAL"), "{:?}", r.refused);
}

/// Issue 11, as reported: a hub with a picker and a supervisor; two vaults joined
/// and synced; the hub stops; vault-1 picks T1; vault-2 picks T1, then the supervisor
/// undoes it on vault-2; the hub restarts; they sync 2, 1, 2, 1. Before the fix the
/// hub and vault-2 said 1/9 and vault-1 0/9, for ever. Now all three say 1: the undo
/// took back vault-2's pick, which is all vault-2 had seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undo_on_one_device_while_the_hub_was_away_counts_the_same_everywhere() {
    use tagtally::domain::people::Role;
    let site = Site::new();
    {
        let mut hub = site.hub_store();
        hub.set_person("Pia", Role::Picker, "1111").unwrap();
        hub.set_person("Sam", Role::Supervisor, "2468").unwrap();
    }
    let hub = TestHub::start(&site.hub_db(), None);
    let mut a = site.device("vault-1", &hub.url()).await;
    let mut b = site.device("vault-2", &hub.url()).await;
    let addr = hub.stop();

    a.store.set_signed_in(Some("Pia"));
    assert_eq!(a.pick(&[T1]), vec!["accepted"]);
    b.store.set_signed_in(Some("Pia"));
    assert_eq!(b.pick(&[T1]), vec!["accepted"]);
    b.store.set_signed_in(Some("Sam"));
    {
        let mut s = tagtally::app::pick::PickSession::open(
            &mut b.store,
            ORDER,
            tagtally::tag::TagParser::default(),
            tagtally::domain::Rules::default(),
        )
        .unwrap();
        assert_eq!(s.undo(T1, "wrong shelf").unwrap().picked, 0);
    }

    let hub = TestHub::start(&site.hub_db(), Some(addr));
    for _ in 0..2 {
        b.sync().await.unwrap();
        a.sync().await.unwrap();
    }
    let merged = a.client.order(ORDER).await.unwrap();
    assert_eq!(merged.progress.picked, 1, "the hub");
    assert_eq!(
        tagtally::app::status(&a.store, ORDER).unwrap().picked,
        1,
        "vault-1"
    );
    assert_eq!(
        tagtally::app::status(&b.store, ORDER).unwrap().picked,
        1,
        "vault-2"
    );
    drop(hub);
}

/// An order the hub closes (cancelled on the hub) is refused on a device as soon as
/// the device hears of it: a new pick session is refused, and a session already open
/// refuses its next scan, recording nothing; the dock refuses it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_closed_on_the_hub_is_refused_on_the_device_at_once() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let mut a = site.device("vault-1", &hub.url()).await;
    let background = open(&a.path);
    let client = Client::joined(&background, Duration::from_secs(5)).unwrap();
    let mut background = background;
    {
        let mut session = tagtally::app::pick::PickSession::open(
            &mut a.store,
            ORDER,
            tagtally::tag::TagParser::default(),
            tagtally::domain::Rules::default(),
        )
        .unwrap();
        let frame = |t: &str| tagtally::scan::Frame {
            bytes: t.as_bytes().to_vec(),
            len: t.len(),
        };
        assert_eq!(session.scan(&frame(T1)).unwrap().verdict, "accepted");
        // The hub's coordinator cancels the order; the device's sync hears of it.
        let mut hub_store = site.hub_store();
        let mut order = hub_store.find_order(ORDER).unwrap();
        order.status = tagtally::domain::OrderStatus("Cancelled".into());
        hub_store.import_orders(&[order]).unwrap();
        drop(hub_store);
        sync::sync_once(&mut background, &client).await.unwrap();
        let err = session.scan(&frame(T2)).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "order {ORDER} is closed (the hub no longer lists it as open): it cannot be picked"
            )
        );
        // And again: a refusal is not used up by being given once.
        assert!(session.scan(&frame(T4)).is_err());
    }
    let events: Vec<_> = a.store.events_for_order(ORDER).unwrap();
    assert_eq!(events.len(), 1, "the refused scan recorded nothing");
    let err = tagtally::app::pick::PickSession::open(
        &mut a.store,
        ORDER,
        tagtally::tag::TagParser::default(),
        tagtally::domain::Rules::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("is closed") && err.contains("cannot be picked"),
        "{err}"
    );
    let err = tagtally::app::ship::LoadSession::open(
        &mut a.store,
        &[ORDER.to_string()],
        tagtally::tag::TagParser::default(),
        tagtally::domain::Rules::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("is closed") && err.contains("cannot be loaded"),
        "{err}"
    );
    // The pick made before the device heard of the close reaches the hub after it:
    // kept, and an exception for a supervisor.
    sync::sync_once(&mut background, &client).await.unwrap();
    let merged = client.order(ORDER).await.unwrap();
    let late: Vec<_> = merged
        .exceptions
        .iter()
        .filter(|e| e.kind == ExceptionKind::ClosedOrder)
        .collect();
    assert_eq!(late.len(), 1, "{:?}", merged.exceptions);
    assert_eq!(late[0].tag.as_ref().map(|t| t.as_str()), Some(T1));
    assert!(late[0].message.contains("after it was closed"));
    drop(hub);
}

fn package(label: &str, modified: u32, on_hold: bool) -> Package {
    Package {
        label: MetrcTag::new(label).unwrap(),
        item: "Blue Dream 3.5g".into(),
        quantity: 1.0,
        unit: "Each".into(),
        batch: Some("BD-0412".into()),
        source_batches: vec![],
        lab_state: "TestPassed".into(),
        on_hold,
        on_recall: false,
        on_investigation: false,
        finished: false,
        archived: None,
        expiration: None,
        use_by: None,
        packaged: None,
        last_modified: format!(
            "2026-11-27T10:{:02}:{:02}.000Z",
            modified / 60,
            modified % 60
        ),
        location: None,
        sublocation: None,
        metrc_id: None,
        coa: None,
    }
}

/// The package cursor is a change counter written with the change: a hold written
/// after a device's pull reaches the device even when the clock stepped back (the
/// row's import time is older than the cursor), and a reader pulling beside two
/// writers that interleave sees every package's last state.
#[test]
fn the_package_cursor_misses_no_change_whatever_the_clock_or_the_interleaving() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let mut hub = open(&path);
    let p = "1A4060300003C35000019001";
    hub.import_packages(&[package(p, 1, false)]).unwrap();
    let (first, cursor) = hub.packages_since("").unwrap();
    assert_eq!(first.len(), 1);
    hub.import_packages(&[package(p, 2, true)]).unwrap();
    // The clock stepped back an hour before that write.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE packages SET imported_at = '2000-01-01T00:00:00.000Z' WHERE label = ?1",
            [p],
        )
        .unwrap();
    let (next, cursor2) = hub.packages_since(&cursor).unwrap();
    assert_eq!(next.len(), 1, "the hold is seen");
    assert!(next[0].on_hold);
    assert_eq!(hub.packages_since(&cursor2).unwrap().0.len(), 0);
    // A cursor from before the counter (a time) reads as "everything".
    assert_eq!(
        hub.packages_since("2026-11-27T10:00:00.000Z")
            .unwrap()
            .0
            .len(),
        1
    );

    // Two writers interleaving small imports, a reader pulling meanwhile.
    let labels: Vec<String> = (0..40)
        .map(|i| format!("1A4060300003C3500002{i:04}"))
        .collect();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (path, labels) = (path.clone(), labels.clone());
            std::thread::spawn(move || {
                let mut s = open(&path);
                for round in 1..=15u32 {
                    for (i, l) in labels.iter().enumerate() {
                        if i % 2 == w {
                            s.import_packages(&[package(l, round, round % 2 == 0)])
                                .unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    let reader = {
        let (path, done) = (path.clone(), done.clone());
        std::thread::spawn(move || {
            let s = open(&path);
            let mut cursor = String::new();
            let mut seen: std::collections::HashMap<String, String> = Default::default();
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let (pkgs, c) = s.packages_since(&cursor).unwrap();
                for p in pkgs {
                    seen.insert(p.label.to_string(), p.last_modified);
                }
                cursor = c;
                if finished {
                    return seen;
                }
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.join().unwrap();
    let stored = hub
        .packages(
            &labels
                .iter()
                .map(|l| MetrcTag::new(l).unwrap())
                .collect::<Vec<_>>(),
        )
        .unwrap();
    for l in &labels {
        let want = &stored[&MetrcTag::new(l).unwrap()].last_modified;
        assert_eq!(
            seen.get(l),
            Some(want),
            "{l}: the reader missed its last change"
        );
    }
}

/// The verdict and its event are one transaction: while another connection holds the
/// write lock to record T1's pick (a second `tagtally` on the same file), a scan of
/// T1 here waits, then sees that pick and answers
/// already_scanned. Deciding first and appending after would accept T1 twice.
#[test]
fn two_connections_never_both_accept_one_tag() {
    use tagtally::domain::{EventKind, Verdict};
    use tagtally::store::Decided;
    let site = Site::new();
    let path = site.dir.path().join("device.db");
    let mut store = open(&path);
    tagtally::app::load_demo(&mut store).unwrap();
    drop(store);
    let (held, wait_held) = std::sync::mpsc::channel();
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            // A second process on the same database (same device).
            let mut other = open(&path);
            other
                .decide_and_record(|_, _| -> Result<_, tagtally::store::StoreError> {
                    held.send(()).unwrap();
                    // Hold the lock while the other connection scans.
                    std::thread::sleep(Duration::from_millis(800));
                    let kind = EventKind::scan(
                        T1.as_bytes(),
                        24,
                        Some(MetrcTag::new(T1).unwrap()),
                        Verdict::Accepted {
                            line: "1".into(),
                            expires_in_days: None,
                        },
                    );
                    Ok(Decided::one(ORDER, kind, ()))
                })
                .unwrap();
        })
    };
    let mut store = open(&path);
    let mut session = tagtally::app::pick::PickSession::open(
        &mut store,
        ORDER,
        tagtally::tag::TagParser::default(),
        tagtally::domain::Rules::default(),
    )
    .unwrap();
    wait_held.recv().unwrap();
    let answer = session
        .scan(&tagtally::scan::Frame {
            bytes: T1.as_bytes().to_vec(),
            len: 24,
        })
        .unwrap();
    writer.join().unwrap();
    assert_eq!(answer.verdict, "already_scanned");
    let accepted = store
        .events_for_order(ORDER)
        .unwrap()
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Scan {
                    verdict: Verdict::Accepted { .. },
                    ..
                }
            )
        })
        .count();
    assert_eq!(accepted, 1);
}

/// A reinstalled device (a fresh database with the same device id and token) learns
/// at join the last sequence number the hub holds of it, continues after it (never
/// refused as an altered replay), and gets its own earlier events back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reinstalled_device_continues_after_what_the_hub_holds() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let mut a = site.device("vault-1", &hub.url()).await;
    assert_eq!(a.pick(&[T1]), vec!["accepted"]);
    a.sync().await.unwrap();
    let (id, token) = (a.id(), a.token.clone());
    drop(a);

    // The handheld is wiped: a new database, the same id (from its settings).
    let path = site.dir.path().join("vault-1-again.db");
    let mut store = open(&path);
    store.claim_device_id(&id).unwrap();
    sync::join(&mut store, &hub.url(), &token, None)
        .await
        .unwrap();
    assert_eq!(store.seq_floor().unwrap(), 1);
    let client = Client::joined(&store, Duration::from_secs(5)).unwrap();
    sync::sync_once(&mut store, &client).await.unwrap();
    let mut again = Device {
        store,
        client,
        path,
        token,
    };
    // Its own earlier pick came back: T1 is already scanned here.
    assert_eq!(again.pick(&[T1, T2]), vec!["already_scanned", "accepted"]);
    let report = again.sync().await.unwrap();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(report.waiting, 0);
    let merged = again.client.order(ORDER).await.unwrap();
    assert_eq!(merged.progress.picked, 2);
    assert_eq!(
        tagtally::app::status(&again.store, ORDER).unwrap().picked,
        2
    );
    let seqs: Vec<i64> = again
        .store
        .events_for_order(ORDER)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(
        seqs,
        vec![1, 2, 3],
        "the old pick, then the new scans after it"
    );
}

/// A hub restored from a backup holds fewer events than a device has read from it:
/// the device notices, forgets that hub's cursors and acknowledgements, and pushes
/// again what the restored hub lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_restored_from_a_backup_gets_back_what_it_lost() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let mut a = site.device("vault-1", &hub.url()).await;
    assert_eq!(a.pick(&[T1]), vec!["accepted"]);
    a.sync().await.unwrap();
    // The night's backup (the hub stopped, so its database file is whole).
    let addr = hub.stop();
    let backup = site.dir.path().join("hub-backup.db");
    std::fs::copy(site.hub_db(), &backup).unwrap();
    let hub = TestHub::start(&site.hub_db(), Some(addr));
    assert_eq!(a.pick(&[T2]), vec!["accepted"]);
    a.sync().await.unwrap();
    assert_eq!(a.client.order(ORDER).await.unwrap().progress.picked, 2);

    // The disk dies; the hub comes back from the backup, without the second pick.
    let addr = hub.stop();
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", site.hub_db().display()));
    }
    std::fs::copy(&backup, site.hub_db()).unwrap();
    let hub = TestHub::start(&site.hub_db(), Some(addr));
    assert_eq!(a.client.order(ORDER).await.unwrap().progress.picked, 1);
    // The device picks again before it next syncs: its push must not hide the loss.
    assert_eq!(a.pick(&[T4]), vec!["accepted"]);
    a.sync().await.unwrap();
    assert_eq!(
        a.client.order(ORDER).await.unwrap().progress.picked,
        3,
        "the device pushed again what the restored hub lacked"
    );
    assert_eq!(site.hub_events(), 3);
    drop(hub);
}

/// The hub checks an event against the role its person had when it was recorded: a
/// pick made while Bo was a picker is accepted after Bo became a loader (the device
/// was offline meanwhile); one made after the change is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_is_checked_against_the_role_its_person_had_then() {
    use tagtally::domain::people::Role;
    let site = Site::new();
    site.hub_store()
        .set_person("Bo", Role::Picker, "1111")
        .unwrap();
    let hub = TestHub::start(&site.hub_db(), None);
    let mut a = site.device("vault-1", &hub.url()).await;
    a.store.set_signed_in(Some("Bo"));
    assert_eq!(a.pick(&[T1]), vec!["accepted"]);
    std::thread::sleep(Duration::from_millis(5));
    // On the hub, Bo moves to the dock while the handheld is offline.
    site.hub_store()
        .set_person("Bo", Role::Loader, "1111")
        .unwrap();
    let r = a.sync().await.unwrap();
    assert!(r.refused.is_empty(), "{r:?}");
    assert_eq!(
        a.client.order(ORDER).await.unwrap().progress.picked,
        1,
        "the pick made as a picker counts"
    );
    // After the change (the device has not heard of it yet): kept but held, never
    // refused, and no longer counted on the device once it hears of the hold.
    std::thread::sleep(Duration::from_millis(5));
    a.store.set_signed_in(Some("Bo"));
    assert_eq!(a.pick(&[T2]), vec!["accepted"]);
    let r = a.sync().await.unwrap();
    assert!(r.refused.is_empty(), "{r:?}");
    assert!(
        r.held.iter().any(|m| m.contains("Bo was a loader")),
        "the pick made after the change is held: {r:?}"
    );
    assert_eq!(a.client.order(ORDER).await.unwrap().progress.picked, 1);
    assert_eq!(tagtally::app::status(&a.store, ORDER).unwrap().picked, 1);
    drop(hub);
}

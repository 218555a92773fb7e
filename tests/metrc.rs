//! The Metrc client against the emulator on a loopback port, as a hub would run it:
//! `check` tells the failures apart, a pull stores every page of every list window by
//! window, a change in Metrc reaches the store on the next pull, and 429s, 500s, a
//! slow answer, a window cap and a malformed page each end with a clear message and
//! nothing stored twice or lost. The keys never reach the database.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use tagtally::config::{MetrcSettings, Secret};
use tagtally::metrc::emulator::{Emulator, Fault};
use tagtally::metrc::pull::{PullError, pull, status};
use tagtally::metrc::{Client, MetrcError, check};
use tagtally::store::Store;
use tagtally::tag::MetrcTag;

const LICENSE: &str = "C11-0000001-LIC";

/// A Metrc package object modified `minutes_ago`, with fields tagtally does not read
/// and the year-1 sentinels.
fn package(n: usize, minutes_ago: i64) -> Value {
    let at = Utc::now() - chrono::Duration::minutes(minutes_ago);
    json!({
        "Id": n, "Label": tagtally::synthetic::tag(n), "PackageType": "Product",
        "Item": {"Name": format!("Item {:02}", n % 20), "ProductCategoryName": "Flower"},
        "Quantity": 10.0, "UnitOfMeasureName": "Each", "ProductionBatchNumber": "B-1",
        "SourceProductionBatchNumbers": null, "LabTestingState": "TestPassed",
        "IsOnHold": false, "IsOnRecall": null, "IsFinished": false,
        "ArchivedDate": null, "ExpirationDate": "0001-01-01", "UseByDate": "0001-01-01T00:00:00.000",
        "LastModified": at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, false),
        "LocationName": "Vault A", "SublocationName": format!("Shelf {}", n % 9 + 1),
        "ContainsPreTreatedProduct": false, "SomethingNew": {"x": [1, 2]}
    })
}

struct Metrc {
    emu: std::sync::Arc<Emulator>,
    settings: MetrcSettings,
    _dir: tempfile::TempDir,
    store: Store,
    rt: tokio::runtime::Runtime,
}

fn metrc(packages: Vec<Value>) -> Metrc {
    let emu = Emulator::new(LICENSE, "vendor-k", "user-k-secret", packages);
    let url = emu.spawn();
    let settings = MetrcSettings {
        base_url: url,
        license_number: LICENSE.into(),
        vendor_key: Secret::new("vendor-k"),
        user_key: Secret::new("user-k-secret"),
        max_requests_per_second: 50,
        timeout_seconds: 2,
        ..MetrcSettings::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("hub.db"), Duration::from_secs(5)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    Metrc {
        emu,
        settings,
        _dir: dir,
        store,
        rt,
    }
}

impl Metrc {
    fn client(&self) -> Client {
        Client::new(&self.settings).unwrap()
    }

    fn check(&self) -> Result<String, MetrcError> {
        self.rt.block_on(check(&self.client()))
    }

    fn pull(&mut self, full: bool) -> Result<tagtally::metrc::pull::PullReport, PullError> {
        let client = self.client();
        self.rt.block_on(pull(
            &mut self.store,
            &client,
            &self.settings,
            full,
            Utc::now(),
        ))
    }

    fn stored(&self, n: usize) -> Option<tagtally::domain::Package> {
        let tag = MetrcTag::new(&tagtally::synthetic::tag(n)).unwrap();
        self.store
            .packages(std::slice::from_ref(&tag))
            .unwrap()
            .remove(&tag)
    }
}

#[test]
fn check_tells_the_failures_apart() {
    let m = metrc(vec![package(1, 5)]);
    let ok = m.check().unwrap();
    assert!(
        ok.contains(LICENSE) && ok.contains("Demo Wholesale"),
        "{ok}"
    );

    let mut wrong = metrc(vec![]);
    wrong.settings.user_key = Secret::new("nope");
    let e = wrong.check().unwrap_err();
    assert!(matches!(e, MetrcError::WrongKeys { .. }), "{e}");
    assert!(e.to_string().contains("user_key"), "{e}");
    assert!(!e.to_string().contains("nope"), "the key is never shown");

    let mut other = metrc(vec![]);
    other.settings.license_number = "C11-9999999-LIC".into();
    let e = other.check().unwrap_err();
    assert!(matches!(e, MetrcError::License { .. }), "{e}");
    assert!(
        e.to_string().contains(LICENSE),
        "says which licenses the keys reach: {e}"
    );

    m.emu.inject(Fault::V1Only);
    let e = m.check().unwrap_err();
    assert!(matches!(e, MetrcError::V1Only { .. }), "{e}");

    // The keys and the license are good, the package lists refused (the facilities
    // call passes, the probe after it meets a 401): the license type.
    let m2 = metrc(vec![]);
    m2.emu.inject(Fault::Pass);
    m2.emu.inject(Fault::Status(401));
    let e = m2.check().unwrap_err();
    assert!(
        matches!(e, MetrcError::NotAllowed { status: 401, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("license type"), "{e}");
    // The license written in another case than Metrc's.
    let mut case = metrc(vec![]);
    case.settings.license_number = LICENSE.to_lowercase();
    let e = case.check().unwrap_err();
    assert!(e.to_string().contains("the case differs"), "{e}");

    let mut away = metrc(vec![]);
    away.settings.base_url = "http://127.0.0.1:1".into();
    let e = away.check().unwrap_err();
    assert!(matches!(e, MetrcError::Network { .. }), "{e}");
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");

    let e = Client::new(&MetrcSettings::default()).err().unwrap();
    assert!(e.to_string().contains("base_url"), "{e}");
}

#[test]
fn a_pull_stores_every_page_and_the_next_one_only_what_changed() {
    // 45 packages in the last hours: 3 pages of the active list.
    let mut all: Vec<Value> = (0..45).map(|n| package(n, 30 + n as i64)).collect();
    all.push(
        json!({"Id": 99, "Label": tagtally::synthetic::tag(99), "Item": {"Name": "Old"},
        "Quantity": 1, "UnitOfMeasureName": "Each", "LabTestingState": "TestPassed",
        "IsOnHold": true, "IsFinished": false,
        "LastModified": (Utc::now() - chrono::Duration::days(3)).to_rfc3339()}),
    );
    let mut m = metrc(all);
    let r = m.pull(false).unwrap();
    assert_eq!(r.packages, 46, "{r:?}");
    assert_eq!((r.new, r.updated), (46, 0));
    assert_eq!(r.windows, 30, "30 days in 24-hour windows");
    assert!(
        r.line().starts_with("metrc pull: 30 windows"),
        "{}",
        r.line()
    );
    let p = m.stored(7).unwrap();
    assert_eq!(p.location.as_deref(), Some("Vault A"));
    assert_eq!(
        (p.expiration, p.use_by),
        (None, None),
        "year-1 sentinels are no value"
    );
    assert!(m.stored(99).unwrap().on_hold, "the on-hold list is read");

    // Put on hold in Metrc: the next pull (one window) stores it.
    assert!(
        m.emu
            .change(&tagtally::synthetic::tag(7), json!({"IsOnHold": true}))
    );
    let before = m.emu.requests();
    let r = m.pull(false).unwrap();
    assert_eq!(r.windows, 1, "{r:?}");
    assert_eq!((r.packages, r.updated, r.unchanged), (1, 1, 0), "{r:?}");
    assert_eq!(
        m.emu.requests() - before,
        4,
        "an idle-ish poll: one request a list"
    );
    // Sent again unchanged (the windows overlap): not written again.
    let r = m.pull(false).unwrap();
    assert_eq!((r.packages, r.updated, r.unchanged), (1, 0, 1), "{r:?}");
    assert!(m.stored(7).unwrap().on_hold);
    let s = status(&m.store, Utc::now()).unwrap();
    assert!(s.last_ok.is_some() && s.last_error.is_none() && s.behind_seconds.unwrap() < 60);

    // The keys are not in the database (nor its write-ahead log).
    let dir = m._dir.path().to_path_buf();
    drop(m.store);
    for f in ["hub.db", "hub.db-wal"] {
        let Ok(bytes) = std::fs::read(dir.join(f)) else {
            continue;
        };
        for needle in [&b"user-k-secret"[..], &b"vendor-k"[..]] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{f}");
        }
    }
}

#[test]
fn a_list_that_changes_while_it_is_read_is_read_again_and_in_transit_counts() {
    // 50 packages two days ago: 3 pages of that day's window. One on page 1 changes
    // (leaves the window) just after page 1 is answered: reading on by page number
    // would skip the first package of page 2.
    let mut pk: Vec<Value> = (0..50).map(|n| package(n, 2 * 24 * 60)).collect();
    pk[49]["InTransit"] = json!(true);
    let mut m = metrc(pk);
    m.settings.first_pull_days = 3;
    m.emu.change_after_page(
        "active",
        1,
        &tagtally::synthetic::tag(0),
        json!({"Quantity": 9}),
    );
    let r = m.pull(false).unwrap();
    for n in 0..50 {
        assert!(m.stored(n).is_some(), "package {n} was not stored: {r:?}");
    }
    assert_eq!(
        m.stored(0).unwrap().quantity,
        9.0,
        "the change itself came in its own window"
    );
}

#[test]
fn throttling_and_failures_are_retried_and_a_bad_page_stores_nothing_of_its_window() {
    let mut m = metrc((0..240).map(|n| package(n, 20)).collect());
    m.settings.first_pull_days = 1;
    // A 429 storm (with and without Retry-After), then 500s, then a slow answer.
    m.emu.inject(Fault::TooMany {
        retry_after: Some(1),
    });
    for _ in 0..3 {
        m.emu.inject(Fault::TooMany { retry_after: None });
    }
    m.emu.inject(Fault::ServerError);
    m.emu.inject(Fault::ServerError);
    m.emu.inject(Fault::Slow(Duration::from_secs(3)));
    // Page 7 of the 12 active pages is broken.
    m.emu.malformed_page(Some(("active", 7)));
    let e = m.pull(false).unwrap_err();
    assert!(matches!(e, PullError::BadPage { .. }), "{e}");
    assert!(
        e.to_string().contains("page 7 of the active packages"),
        "{e}"
    );
    assert!(m.stored(0).is_none(), "nothing of the window was stored");
    let s = status(&m.store, Utc::now()).unwrap();
    assert!(s.last_error.unwrap().contains("page 7"));
    // Mended: the next pull starts at that window and stores it all once.
    m.emu.malformed_page(None);
    let r = m.pull(false).unwrap();
    assert_eq!((r.packages, r.new), (240, 240), "{r:?}");
    // Again from the start: every one sent again, none stored twice.
    let r = m.pull(true).unwrap();
    assert_eq!((r.packages, r.new, r.unchanged), (240, 0, 240), "{r:?}");
    assert_eq!(m.store.package_count().unwrap(), 240);

    // A window wider than the emulated Metrc allows: refused in Metrc's words.
    let mut wide = metrc(vec![package(1, 5)]);
    wide.settings.window_hours = 48;
    let e = wide.pull(false).unwrap_err();
    assert!(e.to_string().contains("cannot exceed 24 hours"), "{e}");
    assert!(wide.stored(1).is_none());
    wide.emu.set_window_cap(None);
    wide.pull(false).unwrap();
    assert!(wide.stored(1).is_some());
}

#[test]
fn the_keys_never_show_on_the_command_line() {
    let m = metrc(vec![package(1, 5)]);
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], user_key: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tagtally"))
            .arg("--db")
            .arg(dir.path().join("t.db"))
            .args(args)
            .env("TAGTALLY_METRC__BASE_URL", &m.settings.base_url)
            .env("TAGTALLY_METRC__LICENSE_NUMBER", LICENSE)
            .env("TAGTALLY_METRC__VENDOR_KEY", "vendor-k")
            .env("TAGTALLY_METRC__USER_KEY", user_key)
            .env("TAGTALLY_LOG__FILTER", "debug")
            .output()
            .unwrap()
    };
    let all = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let o = run(&["config"], "user-k-secret");
    let text = all(&o);
    assert!(text.contains("user_key = \"********\""), "{text}");
    assert!(
        text.contains("facility_license = \"C11-0000001-LIC\""),
        "{text}"
    );
    assert!(
        !text.contains("user-k-secret") && !text.contains("vendor-k"),
        "{text}"
    );
    let o = run(&["metrc", "check"], "user-k-secret");
    assert!(o.status.success(), "{}", all(&o));
    let o = run(&["metrc", "pull"], "user-k-secret");
    assert!(
        o.status.success() && all(&o).contains("1 new"),
        "{}",
        all(&o)
    );
    assert!(!all(&o).contains("user-k-secret") && !all(&o).contains("vendor-k"));
    let o = run(&["metrc", "check"], "a-wrong-key");
    assert!(!o.status.success());
    let text = all(&o);
    assert!(
        text.contains("refused the keys") && !text.contains("a-wrong-key"),
        "{text}"
    );
}

#[test]
fn a_429_pauses_every_call_to_metrc_for_its_retry_after() {
    let m = metrc(vec![package(1, 5)]);
    m.emu.inject(Fault::TooMany {
        retry_after: Some(3),
    });
    let client = m.client();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Call A meets the 429 and waits; call B starts a second later, on its own.
    let a = {
        let c = client.clone();
        rt.spawn(async move { c.facilities().await })
    };
    let t0 = std::time::Instant::now();
    while m.emu.requests() == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "call A never arrived"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_secs(1));
    rt.block_on(client.facilities())
        .expect("call B, after the pause");
    rt.block_on(a).unwrap().expect("call A, after the pause");
    let arrivals = m.emu.arrivals();
    assert_eq!(arrivals.len(), 3, "the 429, A again, B");
    // Neither A's retry nor B reached Metrc before Retry-After had passed.
    for later in &arrivals[1..] {
        let waited = later.duration_since(arrivals[0]);
        assert!(
            waited >= Duration::from_millis(2950),
            "a call went through {waited:?} after the 429"
        );
    }
}

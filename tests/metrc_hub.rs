//! A hub polling the Metrc emulator while it serves: a package put on hold in Metrc
//! reaches the hub, then a device in its next sync, which then refuses the package
//! on the floor; the hub's `/health` says where the pulls stand.

#[path = "support/hub.rs"]
mod support;

use chrono::Utc;
use serde_json::{Value, json};
use support::*;
use tagtally::config::{MetrcSettings, Secret};
use tagtally::hub::HubOptions;
use tagtally::metrc::emulator::Emulator;
use tagtally::tag::MetrcTag;

const LICENSE: &str = "C11-0000001-LIC";

/// The demo packages as Metrc holds them, modified a few minutes ago.
fn demo_in_metrc() -> Vec<Value> {
    let mut pk = Emulator::packages_of(tagtally::app::DEMO_PACKAGES.as_bytes()).unwrap();
    let at = (Utc::now() - chrono::Duration::minutes(10)).to_rfc3339();
    for p in &mut pk {
        p["LastModified"] = json!(at);
    }
    pk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_in_metrc_reaches_the_floor_through_the_polling_hub() {
    let site = Site::new();
    let emu = Emulator::new(LICENSE, "vendor-k", "user-k", demo_in_metrc());
    let url = emu.spawn();
    let metrc = MetrcSettings {
        base_url: url,
        license_number: LICENSE.into(),
        vendor_key: Secret::new("vendor-k"),
        user_key: Secret::new("user-k"),
        poll_seconds: 1,
        first_pull_days: 1,
        max_requests_per_second: 50,
        ..MetrcSettings::default()
    };
    let hub = TestHub::serve_with(
        site.hub_store(),
        None,
        HubOptions {
            metrc: Some(metrc),
            ..HubOptions::default()
        },
    );
    let mut vault = site.device("vault-1", &hub.url()).await;
    let tag = MetrcTag::new(T2).unwrap();
    let on_hold = |store: &tagtally::store::Store| {
        store.packages(std::slice::from_ref(&tag)).unwrap()[&tag].on_hold
    };
    assert!(!on_hold(&vault.store));
    // The first poll ran: /health says so.
    let health = || async {
        reqwest::get(format!("{}/health", hub.url()))
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let mut ok = false;
    for _ in 0..300 {
        if !health().await["metrc"]["last_ok"].is_null() {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ok, "{}", health().await);

    // Put on hold in Metrc: the hub pulls it, the device syncs it, the floor refuses.
    assert!(emu.change(T2, json!({"IsOnHold": true})));
    let mut held = false;
    for _ in 0..300 {
        if on_hold(&site.hub_store()) {
            held = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(held, "the hub pulled the hold");
    vault.sync().await.unwrap();
    assert!(on_hold(&vault.store), "the device took it in its next sync");
    assert_eq!(vault.pick(&[T2]), ["ineligible"]);
    let h = health().await;
    assert!(h["metrc"]["last_error"].is_null(), "{h}");
    assert!(h["metrc"]["behind_seconds"].as_i64().unwrap() < 30, "{h}");
    hub.stop();
}

#[test]
fn a_hub_killed_during_a_pull_loses_nothing_and_the_next_pull_resumes() {
    use std::io::{BufRead, BufReader};
    // Three packages changed 30, 90 and 150 minutes ago; windows of one hour over the
    // last day: 24 windows of 4 lists.
    let mut packages = demo_in_metrc();
    packages.truncate(3);
    for (p, ago) in packages.iter_mut().zip([30, 90, 150]) {
        p["LastModified"] = json!((Utc::now() - chrono::Duration::minutes(ago)).to_rfc3339());
    }
    let emu = Emulator::new(LICENSE, "vendor-k", "user-k", packages);
    let url = emu.spawn();
    // The 51st request hangs: the hub is killed while it waits, mid-pull.
    for _ in 0..50 {
        emu.inject(tagtally::metrc::emulator::Fault::Pass);
    }
    emu.inject(tagtally::metrc::emulator::Fault::Slow(
        std::time::Duration::from_secs(120),
    ));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hub.db");
    let metrc_env = |c: &mut std::process::Command| {
        c.env_remove("TAGTALLY_CONFIG")
            .env("XDG_CONFIG_HOME", dir.path())
            .env("RUST_LOG", "off")
            .env("TAGTALLY_METRC__BASE_URL", &url)
            .env("TAGTALLY_METRC__LICENSE_NUMBER", LICENSE)
            .env("TAGTALLY_METRC__VENDOR_KEY", "vendor-k")
            .env("TAGTALLY_METRC__USER_KEY", "user-k")
            .env("TAGTALLY_METRC__WINDOW_HOURS", "1")
            .env("TAGTALLY_METRC__FIRST_PULL_DAYS", "1")
            .env("TAGTALLY_METRC__POLL_SECONDS", "1")
            .env("TAGTALLY_METRC__TIMEOUT_SECONDS", "300")
            .env("TAGTALLY_METRC__MAX_REQUESTS_PER_SECOND", "50");
    };
    let mut c = std::process::Command::new(BIN);
    c.arg("--db")
        .arg(&db)
        .args(["hub", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    metrc_env(&mut c);
    let mut hub = c.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(hub.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("tagtally hub listening on"), "{line}");
    eventually("the hub's pull reaches the hanging request", || {
        emu.requests() >= 51
    });
    hub.kill().unwrap(); // SIGKILL, mid-window
    hub.wait().unwrap();

    // What the dead hub stored is whole: twelve windows (the cursor after them),
    // none of the packages (they are in later windows), no half window.
    let store = open(&db);
    let cursor: chrono::DateTime<Utc> = store
        .meta(tagtally::metrc::pull::CURSOR)
        .unwrap()
        .expect("the windows stored before the kill moved the cursor")
        .parse()
        .unwrap();
    let behind = Utc::now() - cursor;
    assert!(
        behind > chrono::Duration::hours(10) && behind < chrono::Duration::hours(14),
        "{behind:?}"
    );
    assert_eq!(store.package_count().unwrap(), 0);
    drop(store);

    // The next pull starts where the dead one stopped and stores every package once.
    let mut c = std::process::Command::new(BIN);
    c.arg("--db").arg(&db).args(["metrc", "pull"]);
    metrc_env(&mut c);
    let out = c.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("3 new"), "{text}");
    let windows: usize = text
        .split_whitespace()
        .nth(2)
        .and_then(|w| w.parse().ok())
        .unwrap();
    assert!(windows <= 14, "resumed, not started again: {text}");
    assert_eq!(open(&db).package_count().unwrap(), 3);
}

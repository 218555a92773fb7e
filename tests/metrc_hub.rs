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

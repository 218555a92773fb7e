//! Metrc pulls against the emulator on a loopback port (`cargo bench --bench metrc`):
//!
//! - a full pull of 20,000 packages (about 1,000 pages of 20) at
//!   `max_requests_per_second = 50`: the rate limit should be the bottleneck (about
//!   20 s), not the client; the process's peak RSS before and after;
//! - an idle poll right after it (nothing changed): requests and time;
//! - from a package put on hold in the emulator to a device's database holding it
//!   on hold (so its next scan answers `ineligible`), through a hub polling every
//!   2 s and a device syncing every 2 s: p50 and p99 over 50 trials.
//!
//! Under `cargo test --benches` it pulls 400 packages and runs 2 hold trials instead,
//! to stay quick.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use tagtally::config::{MetrcSettings, Secret};
use tagtally::metrc::Client;
use tagtally::metrc::emulator::Emulator;
use tagtally::metrc::pull::pull;
use tagtally::store::Store;
use tagtally::tag::MetrcTag;

/// The process's peak resident set so far (`VmHWM`), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let count = if bench { 20_000 } else { 400 };
    let mut pk = tagtally::synthetic::packages_json(count);
    let at = (Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    for p in pk["Data"].as_array_mut().expect("a Data list") {
        p["LastModified"] = json!(at);
    }
    let packages = Emulator::packages_of(pk.to_string().as_bytes()).expect("packages");
    let emu = Emulator::new("C11-0000001-LIC", "bench-v", "bench-u", packages);
    let url = emu.spawn();
    let settings = MetrcSettings {
        base_url: url,
        license_number: "C11-0000001-LIC".into(),
        vendor_key: Secret::new("bench-v"),
        user_key: Secret::new("bench-u"),
        first_pull_days: 1,
        max_requests_per_second: 50,
        max_concurrent: 4,
        ..MetrcSettings::default()
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut store =
        Store::open(&dir.path().join("bench.db"), Duration::from_secs(5)).expect("a store");
    let client = Client::new(&settings).expect("a client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let rss_before = peak_rss_mb();
    let t0 = Instant::now();
    let full = rt
        .block_on(pull(&mut store, &client, &settings, false, Utc::now()))
        .expect("the full pull");
    let took = t0.elapsed();
    let rss_after = peak_rss_mb();
    assert_eq!(full.new, count, "{full:?}");
    let floor = full.requests as f64 / 50.0;
    println!(
        "metrc full pull: {count} packages, {} requests in {:.1} s at 50 requests/s (the limit alone: {:.1} s, {:+.0}%); peak RSS {rss_before:.0} MB before, {rss_after:.0} MB after",
        full.requests,
        took.as_secs_f64(),
        floor,
        (took.as_secs_f64() / floor - 1.0) * 100.0
    );
    let t0 = Instant::now();
    let idle = rt
        .block_on(pull(&mut store, &client, &settings, false, Utc::now()))
        .expect("the idle poll");
    println!(
        "metrc idle poll: {} windows, {} requests, {} packages, {:.0} ms",
        idle.windows,
        idle.requests,
        idle.packages,
        t0.elapsed().as_secs_f64() * 1e3
    );
    hold_to_device(bench);
}

/// The percentile `p` (0 to 1) of sorted `xs`.
fn pct(xs: &[f64], p: f64) -> f64 {
    xs[((xs.len() - 1) as f64 * p).round() as usize]
}

/// A hub polling the emulator every 2 s, a device syncing every 2 s: how long from a
/// hold in Metrc to the device's database knowing it.
fn hold_to_device(bench: bool) {
    let trials = if bench { 50 } else { 2 };
    let packages =
        Emulator::packages_of(tagtally::app::DEMO_PACKAGES.as_bytes()).expect("packages");
    let emu = Emulator::new("C11-0000001-LIC", "bench-v", "bench-u", packages);
    let url = emu.spawn();
    let metrc = MetrcSettings {
        base_url: url,
        license_number: "C11-0000001-LIC".into(),
        vendor_key: Secret::new("bench-v"),
        user_key: Secret::new("bench-u"),
        poll_seconds: 2,
        max_requests_per_second: 50,
        ..MetrcSettings::default()
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let hub_db = dir.path().join("hub.db");
    let mut hub_store = Store::open(&hub_db, Duration::from_secs(5)).expect("a store");
    tagtally::app::load_demo(&mut hub_store).expect("the demo");
    let token = hub_store.enroll_device("bench-device").expect("enrolled");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a port");
    let hub_url = format!("http://{}", listener.local_addr().expect("bound"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = tagtally::hub::HubOptions {
        metrc: Some(metrc),
        ..Default::default()
    };
    let hub = rt.spawn(tagtally::hub::run(listener, hub_store, options, async {
        let _ = stopped.await;
    }));
    let device_db = dir.path().join("device.db");
    let mut device = Store::open(&device_db, Duration::from_secs(5)).expect("a store");
    rt.block_on(tagtally::sync::join(&mut device, &hub_url, &token, None))
        .expect("joined");
    let sync = tagtally::sync::Background::start(
        device_db,
        Duration::from_secs(5),
        None,
        tagtally::sync::LoopOptions {
            interval: Duration::from_secs(2),
            ..Default::default()
        },
        std::io::sink(),
    )
    .expect("the sync");
    let tag = MetrcTag::new("1A4060300003C35000010001").expect("a tag");
    let on_hold = |device: &Store| {
        device
            .tag_facts(&tag)
            .ok()
            .and_then(|f| f.package)
            .is_some_and(|p| p.on_hold)
    };
    let wait_for = |want: bool| {
        let t0 = Instant::now();
        while on_hold(&device) != want {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "the hold never arrived"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        t0.elapsed()
    };
    // The device has the package before the first trial.
    let t0 = Instant::now();
    while device
        .tag_facts(&tag)
        .ok()
        .and_then(|f| f.package)
        .is_none()
    {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the device never synced"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut took = vec![];
    for i in 0..trials {
        // A hold comes at any moment of the hub's and the device's cycles, not just
        // after both: spread the starts over a cycle.
        std::thread::sleep(Duration::from_millis((i as u64 * 739) % 2000));
        assert!(emu.change(tag.as_str(), json!({"IsOnHold": true})));
        took.push(wait_for(true).as_secs_f64());
        assert!(emu.change(tag.as_str(), json!({"IsOnHold": false})));
        wait_for(false);
    }
    took.sort_by(f64::total_cmp);
    println!(
        "metrc hold to device: poll 2 s, sync 2 s, {trials} trials: p50 {:.2} s, p99 {:.2} s, max {:.2} s (target under 5 s)",
        pct(&took, 0.5),
        pct(&took, 0.99),
        took[took.len() - 1]
    );
    drop(sync);
    let _ = stop.send(());
    let _ = rt.block_on(hub);
}

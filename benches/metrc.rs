//! Metrc pulls against the emulator on a loopback port (`cargo bench --bench metrc`):
//!
//! - a full pull of 20,000 packages (about 1,000 pages of 20) at
//!   `max_requests_per_second = 50`: the rate limit should be the bottleneck (about
//!   20 s), not the client; the process's peak RSS before and after;
//! - an idle poll right after it (nothing changed): requests and time.
//!
//! Under `cargo test --benches` it pulls 400 packages instead, to stay quick.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use tagtally::config::{MetrcSettings, Secret};
use tagtally::metrc::Client;
use tagtally::metrc::emulator::Emulator;
use tagtally::metrc::pull::pull;
use tagtally::store::Store;

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
}

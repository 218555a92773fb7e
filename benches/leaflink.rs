//! LeafLink against the emulator on loopback (`cargo bench --bench leaflink`):
//!
//! - a pull of 500 orders of 10 lines each (no tags: allocation comes later), the
//!   rate limit at LeafLink's most (300 a minute, never reached by 5 pages), into a
//!   fresh database: the time and the requests made;
//! - a write-back round's decision over those 500 orders (nothing to write);
//! - from the last pick of a line on a device to the emulator receiving its
//!   `is_packed` PATCH, through a device syncing every 2 s and a hub polling (and
//!   writing back) every 2 s: p50 and p99 over 30 trials.
//!
//! Under `cargo test --benches` it pulls 50 orders and runs 2 trials.

use std::time::{Duration, Instant};

use serde_json::json;
use tagtally::config::{LeafLinkSettings, Secret};
use tagtally::leaflink::emulator::Emulator;
use tagtally::leaflink::{Client, pull::pull};
use tagtally::store::Store;

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let count = if bench { 500 } else { 50 };
    let orders: Vec<_> = (0..count)
        .map(|n| {
            let lines: Vec<_> = (0..10)
                .map(|l| {
                    json!({
                        "id": n * 100 + l, "product": {"id": l, "sku": format!("SKU-{l}"), "name": format!("Item {l}")},
                        "quantity": "24.0000", "unit_of_measure": "Unit", "batch": null,
                        "package_tags": null,
                        "ordered_unit_price": {"amount": if l % 2 == 0 { json!("12.50") } else { json!(12.5) }, "currency": "USD"}
                    })
                })
                .collect();
            json!({
                "number": format!("bench-{n:05}"), "short_id": format!("B{n:05}"),
                "status": "Accepted", "ship_date": "2026-12-03",
                "customer": {"id": 1 + n % 40, "display_name": format!("Dispensary {}", n % 40),
                             "license_number": format!("C10-{:07}-LIC", n % 40)},
                "line_items": lines
            })
        })
        .collect();
    let emu = Emulator::new("bench-key", orders);
    let url = emu.spawn();
    let settings = LeafLinkSettings {
        base_url: url,
        api_key: Secret::new("bench-key"),
        page_size: 100,
        max_requests_per_minute: 300,
        ..LeafLinkSettings::default()
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut store =
        Store::open(&dir.path().join("bench.db"), Duration::from_secs(5)).expect("a store");
    let client = Client::new(&settings).expect("a client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let t0 = Instant::now();
    let r = rt
        .block_on(pull(&mut store, &client, &settings, chrono::Utc::now()))
        .expect("the pull");
    let took = t0.elapsed();
    assert_eq!(r.new, count as usize, "{r:?}");
    println!(
        "leaflink pull: {count} orders of 10 lines, {} pages, {} requests, {:.2} s (target under 5 s)",
        r.pages,
        r.requests,
        took.as_secs_f64()
    );
    // A write-back round's decision over every pulled order (nothing picked, so
    // nothing queued): what each poll of a hub with `push = true` adds.
    let t0 = Instant::now();
    let queued = tagtally::writeback::reconcile(
        &mut store,
        tagtally::domain::writeback::Platform::LeafLink,
        chrono::Utc::now(),
    )
    .expect("reconcile");
    assert_eq!(queued, 0);
    println!(
        "leaflink write-back reconcile of {count} open orders: {:.1} ms",
        t0.elapsed().as_secs_f64() * 1000.0
    );
    packed_latency(bench);
}

/// The percentile `p` (0 to 1) of sorted `xs`.
fn pct(xs: &[f64], p: f64) -> f64 {
    xs[((xs.len() - 1) as f64 * p).round() as usize]
}

/// A device picking SO-1002's line 11 (two packages) to the end, a hub pulling from
/// and writing back to the emulator: how long from the last pick to the PATCH.
fn packed_latency(bench: bool) {
    let trials = if bench { 30 } else { 2 };
    let mut orders = Emulator::orders_of(tagtally::app::DEMO_ORDERS.as_bytes()).expect("orders");
    for o in &mut orders {
        o["status"] = json!("Accepted");
    }
    let emu = Emulator::new("bench-key", orders);
    let url = emu.spawn();
    let leaflink = LeafLinkSettings {
        base_url: url,
        api_key: Secret::new("bench-key"),
        poll_seconds: 2,
        push: true,
        max_requests_per_minute: 300,
        ..LeafLinkSettings::default()
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
        leaflink: Some(leaflink),
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
    let wait = |what: &str, mut f: Box<dyn FnMut() -> bool + '_>| {
        let t0 = Instant::now();
        while !f() {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "{what} never happened"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        t0.elapsed()
    };
    wait(
        "the device's first sync",
        Box::new(|| device.find_order("SO-1002").is_ok()),
    );
    let packed_writes = |packed: bool| {
        emu.writes()
            .iter()
            .filter(|w| w.path == "/api/v2/line-items/11/" && w.body["is_packed"] == packed)
            .count()
    };
    let mut session = tagtally::app::pick::PickSession::open(
        &mut device,
        "SO-1002",
        tagtally::tag::TagParser::default(),
        tagtally::domain::Rules::default(),
    )
    .expect("a pick session");
    let frame = |tag: &str| tagtally::scan::Frame {
        bytes: tag.as_bytes().to_vec(),
        len: tag.len(),
    };
    session
        .scan(&frame("1A4060300003C35000010005"))
        .expect("a pick");
    let last = "1A4060300003C35000010006";
    let mut took = vec![];
    for i in 0..trials {
        // The last pick comes at any moment of the device's and the hub's cycles.
        std::thread::sleep(Duration::from_millis((i as u64 * 739) % 2000));
        let before = packed_writes(true);
        let t0 = Instant::now();
        let a = session.scan(&frame(last)).expect("the last pick");
        assert_eq!(a.verdict.to_string(), "accepted");
        wait(
            "the packed PATCH",
            Box::new(|| packed_writes(true) > before),
        );
        took.push(t0.elapsed().as_secs_f64());
        let unpacked = packed_writes(false);
        session.undo(last, "bench").expect("an undo");
        wait(
            "the unpacked PATCH",
            Box::new(|| packed_writes(false) > unpacked),
        );
    }
    took.sort_by(f64::total_cmp);
    println!(
        "leaflink packed: last pick to is_packed PATCH, sync 2 s, poll 2 s, {trials} trials: p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        pct(&took, 0.5),
        pct(&took, 0.99),
        took[took.len() - 1]
    );
    drop(session);
    drop(sync);
    let _ = stop.send(());
    let _ = rt.block_on(hub);
}

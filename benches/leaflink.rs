//! A LeafLink pull against the emulator on loopback (`cargo bench --bench leaflink`):
//! 500 orders of 10 lines each (no tags: allocation comes later), the rate limit at
//! LeafLink's most (300 a minute, never reached by 5 pages), into a fresh database:
//! the time and the requests made. Under `cargo test --benches` it pulls 50 orders.

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
}

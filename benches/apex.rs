//! An Apex pull against the emulator on loopback (`cargo bench --bench apex`): 500
//! shipping orders of 10 items each (no labels: allocation comes later; money as
//! display strings with commas and as raw cents), pages of 100, the limiter at Apex's
//! most (15 a second, never reached by 5 pages), into a fresh database: the time and
//! the requests made. Under `cargo test --benches` it pulls 50 orders.

use std::time::{Duration, Instant};

use serde_json::json;
use tagtally::apex::emulator::Emulator;
use tagtally::apex::{Client, pull::pull};
use tagtally::config::{ApexSettings, Secret};
use tagtally::store::Store;

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let count: i64 = if bench { 500 } else { 50 };
    let orders: Vec<_> = (0..count)
        .map(|n| {
            let items: Vec<_> = (0..10)
                .map(|l| {
                    let mut item = json!({
                        "id": n * 100 + l, "product_sku": format!("SKU-{l}"),
                        "product_name": format!("Item {l}"), "batch_name": null,
                        "order_quantity": if l % 2 == 0 { json!(24) } else { json!("24.00") },
                        "order_unit_measurement": {"id": 1, "name": "Unit", "alias": "ea"},
                        "metrc_package_label": null
                    });
                    if l % 2 == 0 {
                        item["order_price"] = json!("1,250.00");
                    } else {
                        item["order_price_raw"] = json!(125000);
                    }
                    item
                })
                .collect();
            json!({
                "id": 50_000 + n, "invoice_number": format!("BENCH-{n:05}"),
                "order_status_id": 301, "cancelled": false, "deal_flow_id": 7,
                "delivery_date": "2026-12-03", "ship_name": format!("Dispensary {}", n % 40),
                "buyer_state_license": format!("C10-{:07}-LIC", n % 40),
                "items": items
            })
        })
        .collect();
    let emu = Emulator::new("bench-token", orders);
    let url = emu.spawn();
    let settings = ApexSettings {
        base_url: url,
        token: Secret::new("bench-token"),
        per_page: 100,
        max_requests_per_second: 15,
        ..ApexSettings::default()
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
        "apex pull: {count} orders of 10 items, {} pages, {} requests, {:.2} s (target under 5 s)",
        r.pages,
        r.requests,
        took.as_secs_f64()
    );
}

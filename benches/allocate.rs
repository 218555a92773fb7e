//! What an allocation proposal costs.
//!
//! One line of 96 Each among 20,000 packages of its item: 200 batches of 100, the
//! quantities of each batch a mix of 6, 10, 12, 24 and 48 Each, expiries spread over
//! two years, one package in ten on hold and one in twenty held by another open
//! order. Timed one proposal at a time, p50 and p99 printed:
//!
//! - `propose (pure)`: `domain::allocate::propose` alone, the packages in memory.
//!   Budget: p99 under 10 ms.
//! - `propose (no fit)`: the same with a line of 97 Each, which no batch makes, so
//!   every batch is searched for its nearest sums too.
//! - `allocate (store)`: `app::allocate::propose` on a file database: the order and
//!   its line read, the 20,000 packages of the item and the held tags read from
//!   SQLite, then the search.
//!
//! Run with `cargo bench --bench allocate`; `cargo test --benches` times only a few.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use tagtally::domain::allocate::{Need, Proposal, need, propose};
use tagtally::domain::{Line, Order, OrderStatus, Package, Rules};
use tagtally::store::Store;
use tagtally::tag::MetrcTag;

const BATCHES: usize = 200;
const PER_BATCH: usize = 100;
const ITEM: &str = "Bench Item 3.5g";
const SIZES: [f64; 5] = [6.0, 10.0, 12.0, 24.0, 48.0];

fn today() -> NaiveDate {
    "2026-12-01".parse().unwrap()
}

fn packages() -> Vec<Package> {
    let mut out = Vec::with_capacity(BATCHES * PER_BATCH);
    for b in 0..BATCHES {
        for i in 0..PER_BATCH {
            let n = b * PER_BATCH + i;
            out.push(Package {
                label: MetrcTag::new(&format!("1A4{n:021X}")).unwrap(),
                item: ITEM.into(),
                quantity: SIZES[(i * 7 + b) % SIZES.len()],
                unit: "Each".into(),
                batch: Some(format!("B{b:03}")),
                source_batches: vec![],
                lab_state: "TestPassed".into(),
                on_hold: n % 10 == 3,
                on_recall: false,
                on_investigation: false,
                finished: false,
                archived: None,
                expiration: Some(today() + chrono::Duration::days(60 + (b as i64 * 37) % 700)),
                use_by: None,
                packaged: Some(today() - chrono::Duration::days((b as i64 * 13) % 300)),
                last_modified: "2026-11-01T00:00:00.000Z".into(),
                location: None,
                sublocation: None,
                metrc_id: None,
                coa: None,
            });
        }
    }
    out
}

fn line(quantity: &str) -> Line {
    Line {
        id: "1".into(),
        sku: Some("BENCH".into()),
        name: Some(ITEM.into()),
        quantity: Some(quantity.into()),
        unit: Some("Each".into()),
        batch: None,
        unit_price_cents: None,
        tags: vec![],
    }
}

fn percentiles(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name}: p50 = {:.2} ms, p99 = {:.2} ms, max = {:.2} ms (n = {})",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
        times.len()
    );
}

fn pure(name: &str, need: &Need, pkgs: &[Package], held: &HashMap<MetrcTag, String>, n: usize) {
    let rules = Rules::default();
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let (p, _) = propose(need, pkgs, held, &rules, today());
        times.push(start.elapsed());
        std::hint::black_box(p);
    }
    percentiles(name, times);
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let (n, n_store) = if bench_mode { (500, 100) } else { (5, 2) };
    let pkgs = packages();
    let held: HashMap<MetrcTag, String> = pkgs
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 20 == 7)
        .map(|(_, p)| (p.label.clone(), "OTHER".to_string()))
        .collect();

    let fit = need(&line("96"), None, &[]).unwrap().unwrap();
    let (p, _) = propose(&fit, &pkgs, &held, &Rules::default(), today());
    assert!(matches!(p, Proposal::Fit(_)), "96 Each fits some batch");
    pure(
        "propose (pure, 20,000 packages, 200 batches)",
        &fit,
        &pkgs,
        &held,
        n,
    );
    let no_fit = need(&line("97"), None, &[]).unwrap().unwrap();
    pure(
        "propose (no fit, nearest of every batch)",
        &no_fit,
        &pkgs,
        &held,
        n,
    );

    // Through the store, on a file database.
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("alloc.db"), Duration::from_secs(5)).unwrap();
    store.import_packages(&pkgs).unwrap();
    let order = Order {
        number: "BENCH".into(),
        short_id: None,
        status: OrderStatus("Accepted".into()),
        buyer: "Bench".into(),
        buyer_license: None,
        buyer_license_inactive: false,
        ship_date: None,
        delivery_address: None,
        lines: vec![line("96")],
    };
    store.import_orders(&[order]).unwrap();
    let rules = Rules::default();
    let mut times = Vec::with_capacity(n_store);
    for _ in 0..n_store {
        let start = Instant::now();
        let plan =
            tagtally::app::allocate::propose(&mut store, &rules, "BENCH", None, false, today())
                .unwrap();
        times.push(start.elapsed());
        std::hint::black_box(plan);
    }
    percentiles("allocate (store, file database)", times);
}

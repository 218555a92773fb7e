//! What the dock and the paper cost, on a file database of 20,000 packages.
//!
//! - `load_scan_to_durable/{200,500}`: one scanner line through [`LoadSession::scan`] on
//!   an order picked in full: tag facts looked up, load verdict decided over the whole
//!   load, event committed (WAL, `synchronous=FULL`), answer built with the counts.
//!   The first pass loads every package, later passes answer `already_loaded`; every
//!   scan records one event either way.
//! - `manifest_from_store_500`: after the load of 500 packages is confirmed, the
//!   manifest gathered from the store and written as the Metrc template JSON and as the
//!   PDF (what `tagtally manifest` does, less the file write).
//! - After criterion: 200 dock scans timed one by one on a fresh database (p50, p99,
//!   max) and the confirmation of a 500-package load with its manifest PDF, printed.
//!
//! Run with `cargo bench --bench ship`; `cargo test --benches` runs each once.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group};
use tagtally::app::ship::LoadSession;
use tagtally::config::ShipSettings;
use tagtally::domain::{Driver, Order, Rules, Vehicle};
use tagtally::import;
use tagtally::scan::Frame;
use tagtally::store::Store;
use tagtally::synthetic;
use tagtally::tag::{MetrcTag, TagParser};
use tempfile::TempDir;

const PACKAGES: usize = 20_000;

fn frame(tag: &MetrcTag) -> Frame {
    let mut bytes = tag.as_str().as_bytes().to_vec();
    bytes.push(b'\n');
    let len = bytes.len();
    Frame { bytes, len }
}

fn ship() -> ShipSettings {
    ShipSettings {
        facility_name: "Bench Wholesale".into(),
        facility_license: "C11-0000001-LIC".into(),
        ..ShipSettings::default()
    }
}

/// A database with the facility and one order of `allocated` packages, picked in full
/// (ineligible packages shorted). Returns the manifest's tags.
fn picked_store(allocated: usize) -> (TempDir, Store, Vec<MetrcTag>) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temporary directory");
    let mut store =
        Store::open(&dir.path().join("ship.db"), Duration::from_secs(5)).expect("open store");
    let json = synthetic::packages_json(PACKAGES).to_string();
    let packages = import::metrc::parse("bench.json", json.as_bytes()).expect("packages");
    store.import_packages(&packages).expect("import packages");
    let json = synthetic::order_json("LOAD", allocated, PACKAGES).to_string();
    let order: Order = import::parse_orders("order.json", json.as_bytes())
        .expect("order")
        .remove(0);
    store
        .import_orders(std::slice::from_ref(&order))
        .expect("import order");
    let mut picked = vec![];
    {
        let mut pick = tagtally::app::pick::PickSession::open(
            &mut store,
            "LOAD",
            TagParser::default(),
            Rules::default(),
        )
        .expect("open pick");
        for a in order.allocations() {
            if pick.scan(&frame(&a.tag)).expect("pick").verdict == "accepted" {
                picked.push(a.tag);
            }
        }
        for l in &order.lines {
            let _ = pick.short(&l.id, "ineligible");
        }
    }
    (dir, store, picked)
}

fn open_load(store: &mut Store) -> LoadSession<'_> {
    LoadSession::open(
        store,
        &["LOAD".to_string()],
        TagParser::default(),
        Rules::default(),
    )
    .expect("the order is picked")
}

fn load_scan_to_durable(c: &mut Criterion) {
    let mut group = c.benchmark_group("load_scan_to_durable");
    for size in [200, 500] {
        let (_dir, mut store, tags) = picked_store(size);
        let mut load = open_load(&mut store);
        let frames: Vec<Frame> = tags.iter().map(frame).collect();
        group.bench_with_input(BenchmarkId::from_parameter(size), &frames, |b, frames| {
            let mut next = frames.iter().cycle();
            b.iter(|| {
                let a = load
                    .scan(black_box(next.next().expect("non-empty")))
                    .expect("recorded");
                assert!(matches!(a.verdict, "loaded" | "already_loaded"), "{a:?}");
                a
            })
        });
    }
    group.finish();
}

fn driver() -> (Driver, Vehicle) {
    (
        Driver {
            name: "Bench Driver".into(),
            occupational_license: "OL-1".into(),
            drivers_license: "D-1".into(),
        },
        Vehicle {
            make: "Ford".into(),
            model: "Transit".into(),
            plate: "BENCH1".into(),
        },
    )
}

/// A database whose 500-package load is confirmed; returns how long the confirmation
/// (events and manifest PDF, one transaction) took.
fn confirmed_store(size: usize) -> (TempDir, Store, Duration) {
    let (dir, mut store, tags) = picked_store(size);
    let ship = ship();
    let took = {
        let mut load = open_load(&mut store);
        for t in &tags {
            load.scan(&frame(t)).expect("load");
        }
        let (d, v) = driver();
        let start = Instant::now();
        load.confirm(&d, &v, tagtally::app::docs::manifest_attachment(&ship))
            .expect("confirm");
        start.elapsed()
    };
    (dir, store, took)
}

fn manifest_from_store(c: &mut Criterion) {
    let (_dir, store, _) = confirmed_store(500);
    let ship = ship();
    c.bench_function("manifest_from_store_500", |b| {
        b.iter(|| {
            let doc = tagtally::app::docs::manifest_doc(&store, &ship, "LOAD").expect("loaded");
            let json = tagtally::export::metrc_template(&doc);
            let pdf = tagtally::export::manifest_pdf(&doc);
            (json, pdf)
        })
    });
}

fn one_by_one(count: usize) {
    let (_dir, mut store, tags) = picked_store(200);
    let mut load = open_load(&mut store);
    let mut times = Vec::with_capacity(count);
    for t in tags.iter().cycle().take(count) {
        let f = frame(t);
        let start = Instant::now();
        load.scan(&f).expect("recorded");
        times.push(start.elapsed());
    }
    times.sort_unstable();
    let rank = |p: usize| times[(count * p).div_ceil(100).max(1) - 1];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "load_scan_to_durable (200-package load): p50 = {:.0} us, p99 = {:.0} us, max = {:.0} us (n = {count})",
        us(rank(50)),
        us(rank(99)),
        us(times[count - 1])
    );
    drop(load);
    let (_dir, _store, took) = confirmed_store(500);
    println!(
        "confirm a 500-package load with its manifest PDF: {:.1} ms",
        took.as_secs_f64() * 1e3
    );
}

criterion_group!(dock, load_scan_to_durable);
criterion_group! {
    name = paper;
    config = Criterion::default().sample_size(20);
    targets = manifest_from_store
}

fn main() {
    dock();
    paper();
    let bench_mode = std::env::args().any(|a| a == "--bench");
    one_by_one(if bench_mode { 200 } else { 10 });
    Criterion::default().configure_from_args().final_summary();
}

//! What the paper of a load costs, for a 500-package manifest (one destination).
//!
//! - `export/template_json_500`: [`metrc_template`] and its serialisation to bytes, the
//!   body of Metrc `POST /transfers/v2/templates/outgoing`.
//! - `export/manifest_pdf_500`: [`manifest_pdf`], laid out, paginated and compressed.
//! - `export/delivery_report_pdf_500`: [`delivery_report_pdf`] of the same 500 packages
//!   (every 25th rejected, every 100th not scanned) with a 360x110 signature PNG
//!   decoded and embedded.
//! - `export/delivery_report_json_500`: [`delivery_report_json`] serialised.
//! - `export/picklist_pdf_500`: what `tagtally picklist ORDER` does for a 500-package
//!   order in a database of 2,500 packages: read the order, its picks and its
//!   packages, walk them, and lay out the PDF with a Code 128 per package.
//!
//! The target is under one second each; expect milliseconds. After criterion, the
//! sizes of the documents are printed to stdout.
//!
//! Run with `cargo bench --bench export`. `cargo test --benches` runs each once.

use std::hint::black_box;
use std::io::Cursor;

use criterion::{Criterion, criterion_group};
use image::{ImageFormat, Rgba, RgbaImage};
use tagtally::domain::{Driver, Vehicle};
use tagtally::export::{
    DeliveryReportDoc, Destination, Facility, LineSummary, ManifestDoc, ManifestPackage, Outcome,
    delivery_report_json, delivery_report_pdf, manifest_pdf, metrc_template,
};
use tagtally::synthetic;
use tagtally::tag::MetrcTag;

/// Packages on the benched manifest.
const PACKAGES: usize = 500;

fn package(n: usize) -> ManifestPackage {
    ManifestPackage {
        tag: MetrcTag::new(&synthetic::tag(n)).expect("synthetic tags are Metrc tags"),
        line: format!("L{}", n % 20),
        item: format!("Item {:02} Flower Indoor 3.5 g", n % 20),
        batch: Some(format!("B{:02}-0", n % 20)),
        quantity: 10.0,
        unit: "Each".into(),
        wholesale_price_cents: Some(1250 + n as i64),
    }
}

fn manifest() -> ManifestDoc {
    let packages: Vec<ManifestPackage> = (0..PACKAGES).map(package).collect();
    let lines = (0..20)
        .map(|l| LineSummary {
            id: format!("L{l}"),
            label: format!("Item {l:02} Flower Indoor 3.5 g"),
            batch: Some(format!("B{l:02}-0")),
            allocated: PACKAGES / 20,
            picked: PACKAGES / 20,
            short: 0,
            short_reason: None,
        })
        .collect();
    ManifestDoc {
        name: "BENCH 2026-11-27".into(),
        facility: Facility {
            name: "Green Valley Distribution".into(),
            license: "C11-0000224-LIC".into(),
            phone: "(555) 010-0100".into(),
        },
        driver: Driver::new("Ana Ruiz", "OCC-44117", "D7654321").expect("a driver"),
        vehicle: Vehicle::new("Ford", "Transit 250", "8ABC123").expect("a vehicle"),
        load_id: "BENCH".into(),
        loaded_at: "2026-11-27T08:40:00-08:00".into(),
        loaded_by: Some("Sam Loader".into()),
        destinations: vec![Destination {
            order: "SO-BENCH".into(),
            buyer: "Harbor Dispensary".into(),
            recipient_license: "C10-0000551-LIC".into(),
            transfer_type: "Wholesale".into(),
            planned_route: "I-5 S to exit 12, Main St to 44 Harbor Blvd".into(),
            estimated_departure: "2026-11-27T09:00:00.000".into(),
            estimated_arrival: "2026-11-27T11:30:00.000".into(),
            packages,
            lines,
            removed: vec![],
        }],
    }
}

/// A 360x110 signature: dark strokes on transparency, as the handheld draws it.
fn signature_png() -> Vec<u8> {
    let mut img = RgbaImage::from_pixel(360, 110, Rgba([0, 0, 0, 0]));
    for x in 20..340u32 {
        let y = 55.0 + 30.0 * (x as f32 / 18.0).sin();
        for dy in 0..4u32 {
            img.put_pixel(x, (y as u32 + dy).min(109), Rgba([20, 30, 90, 255]));
        }
    }
    let mut png = Vec::new();
    img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .expect("encode the signature");
    png
}

fn delivery(m: &ManifestDoc) -> DeliveryReportDoc {
    let d = &m.destinations[0];
    DeliveryReportDoc {
        order: d.order.clone(),
        buyer: d.buyer.clone(),
        recipient_license: d.recipient_license.clone(),
        facility: m.facility.clone(),
        driver: m.driver.clone(),
        vehicle: m.vehicle.clone(),
        load_id: m.load_id.clone(),
        loaded_at: m.loaded_at.clone(),
        delivered_at: "2026-11-27T11:42:00-08:00".into(),
        receiver: "Kim Receiver".into(),
        signature_png: signature_png(),
        receipt_deadline: "2026-11-28T11:42:00-08:00".into(),
        metrc: None,
        packages: d
            .packages
            .iter()
            .enumerate()
            .map(|(n, p)| {
                let o = match n {
                    n if n % 25 == 24 => Outcome::Rejected {
                        reason: "Damaged packaging".into(),
                        note: Some("Crushed corner".into()),
                    },
                    n if n % 100 == 3 => Outcome::NotScanned,
                    _ => Outcome::Accepted,
                };
                (p.clone(), o)
            })
            .collect(),
    }
}

fn export(c: &mut Criterion) {
    let m = manifest();
    let report = delivery(&m);
    let mut group = c.benchmark_group("export");
    group.bench_function("template_json_500", |b| {
        b.iter(|| serde_json::to_vec(&metrc_template(black_box(&m))).expect("JSON"))
    });
    group.bench_function("manifest_pdf_500", |b| {
        b.iter(|| manifest_pdf(black_box(&m)))
    });
    group.bench_function("delivery_report_pdf_500", |b| {
        b.iter(|| delivery_report_pdf(black_box(&report)))
    });
    group.bench_function("delivery_report_json_500", |b| {
        b.iter(|| serde_json::to_vec(&delivery_report_json(black_box(&report))).expect("JSON"))
    });
    let (_dir, store) = picklist_store();
    let settings = tagtally::config::Settings::default();
    group.bench_function("picklist_pdf_500", |b| {
        b.iter(|| {
            let doc = tagtally::app::picklist::picklist_doc(&store, "SO-PL", &settings)
                .expect("the order is there");
            tagtally::export::picklist::picklist_pdf(black_box(&doc))
        })
    });
    group.finish();
}

/// A database with 2,500 synthetic packages and order SO-PL allocating 500 of them.
fn picklist_store() -> (tempfile::TempDir, tagtally::store::Store) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut store = tagtally::store::Store::open(
        &dir.path().join("bench.db"),
        std::time::Duration::from_secs(5),
    )
    .expect("a store");
    let pk = dir.path().join("packages.json");
    std::fs::write(&pk, synthetic::packages_json(2_500).to_string()).expect("write");
    tagtally::app::import_packages(&mut store, &pk).expect("packages");
    let order = dir.path().join("order.json");
    std::fs::write(
        &order,
        synthetic::order_json("SO-PL", 500, 2_500).to_string(),
    )
    .expect("write");
    tagtally::app::import_orders(&mut store, &order).expect("order");
    (dir, store)
}

criterion_group!(benches, export);

fn main() {
    benches();
    let m = manifest();
    let report = delivery(&m);
    let template = serde_json::to_vec(&metrc_template(&m)).expect("JSON");
    println!(
        "sizes: template JSON {} bytes, manifest PDF {} bytes, delivery report PDF {} bytes \
         ({PACKAGES} packages)",
        template.len(),
        manifest_pdf(&m).len(),
        delivery_report_pdf(&report).len(),
    );
    Criterion::default().configure_from_args().final_summary();
}

//! The export layer read back the way a person would: the PDFs turned into text with
//! `pdftotext -layout`, page 1 rendered with `pdftoppm`, images listed with
//! `pdfimages -list` (poppler-utils, installed by `scripts/setup`). A missing tool fails
//! the test with what to do; nothing is skipped silently.
//!
//! With `TAGTALLY_SCREENSHOTS=<dir>` the tests also write page 1 of the 500-package
//! manifest and of the delivery report there at 60 dpi (how
//! `docs/screenshots/manifest-page1.png` and `delivery-report-page1.png` are made).

use std::collections::HashSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{ImageFormat, Rgba, RgbaImage};
use tagtally::domain::{Driver, Vehicle};
use tagtally::export::{
    DeliveryReportDoc, Destination, Facility, LineSummary, ManifestDoc, ManifestPackage, Outcome,
    Removed, delivery_report_json, delivery_report_pdf, manifest_pdf, metrc_template, money,
};
use tagtally::synthetic;
use tagtally::tag::MetrcTag;
use tempfile::TempDir;

const LONG_ITEM: &str = "Extraordinarily Long Name";

/// Run a poppler tool; fail with what to do when it is not installed.
fn run(tool: &str, args: &[&str]) -> Output {
    match Command::new(tool).args(args).output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{tool} {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "{tool} is not installed: run scripts/setup (it installs poppler-utils, which \
             the export tests use to read the PDFs back)"
        ),
        Err(e) => panic!("cannot run {tool}: {e}"),
    }
}

/// `pdf` written to `dir/name`.
fn write(dir: &Path, name: &str, pdf: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pdf).expect("write the PDF");
    path
}

fn text_of(path: &Path) -> String {
    let path = path.to_str().expect("a UTF-8 temp path");
    let out = run("pdftotext", &["-layout", "-enc", "UTF-8", path, "-"]);
    String::from_utf8(out.stdout).expect("pdftotext writes UTF-8")
}

/// The text of each page (pdftotext ends every page with a form feed).
fn pages_of(text: &str) -> Vec<&str> {
    let mut pages: Vec<&str> = text.split('\u{c}').collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

/// Runs of whitespace as one space, so "Accepted      7" reads "Accepted 7".
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Page 1 rendered at `dpi`, written to `out`, and read back.
fn render_page1(pdf: &Path, dpi: u32, out: &Path) -> image::RgbImage {
    let prefix = out.with_extension("");
    let dpi = dpi.to_string();
    run(
        "pdftoppm",
        &[
            "-png",
            "-r",
            &dpi,
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            pdf.to_str().expect("a UTF-8 path"),
            prefix.to_str().expect("a UTF-8 path"),
        ],
    );
    image::open(prefix.with_extension("png"))
        .expect("pdftoppm wrote a PNG")
        .to_rgb8()
}

/// The page has ink, and is mostly paper.
fn assert_not_blank(img: &image::RgbImage, what: &str) {
    let dark = img
        .pixels()
        .filter(|p| p.0.iter().all(|&c| c < 128))
        .count();
    let share = dark as f64 / (img.width() * img.height()) as f64;
    assert!(
        (0.005..0.5).contains(&share),
        "{what}: {:.2}% dark pixels on page 1",
        share * 100.0
    );
}

/// Also write page 1 at 60 dpi where `TAGTALLY_SCREENSHOTS` says, for the README.
fn screenshot(pdf: &Path, name: &str) {
    if let Some(dir) = std::env::var_os("TAGTALLY_SCREENSHOTS") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        render_page1(pdf, 60, &dir.join(name));
    }
}

fn tag(n: usize) -> MetrcTag {
    MetrcTag::new(&synthetic::tag(n)).expect("synthetic tags are Metrc tags")
}

fn package(n: usize) -> ManifestPackage {
    let item = match n {
        3 => "🔥 Fire OG 🌿 Pre-roll 5-pack".to_string(),
        7 => format!("{LONG_ITEM} {}", "with a very long description ".repeat(10)),
        _ => format!("Item {:02} Flower 3.5 g", n % 20),
    };
    assert!(n != 7 || item.chars().count() >= 300);
    ManifestPackage {
        tag: tag(n),
        line: format!("L{}", n % 4),
        item,
        batch: Some(format!("B{:02}-0", n % 4)),
        quantity: if n.is_multiple_of(5) { 453.6 } else { 10.0 },
        unit: if n.is_multiple_of(5) { "Grams" } else { "Each" }.into(),
        wholesale_price_cents: (n % 50 != 49).then_some(1250 + n as i64),
    }
}

fn destination(i: usize, tags: std::ops::Range<usize>, removed_from: usize) -> Destination {
    let packages: Vec<ManifestPackage> = tags.clone().map(package).collect();
    Destination {
        order: format!("SO-10{i}"),
        buyer: format!("Harbor Dispensary {i}"),
        recipient_license: format!("C10-000055{i}-LIC"),
        transfer_type: "Wholesale".into(),
        planned_route: "Depart 1200 Industrial Way, I-5 S to exit 12, Main St to 44 Harbor Blvd"
            .into(),
        estimated_departure: "2026-11-27T09:00:00.000".into(),
        estimated_arrival: "2026-11-27T11:30:00.000".into(),
        lines: (0..4)
            .map(|l| {
                let allocated = packages
                    .iter()
                    .filter(|p| p.line == format!("L{l}"))
                    .count();
                LineSummary {
                    id: format!("L{l}"),
                    label: format!("Line {l}: Item {l:02} Flower"),
                    batch: Some(format!("B{l:02}-0")),
                    allocated: allocated + usize::from(l == 1),
                    picked: allocated,
                    short: usize::from(l == 1),
                    short_reason: (l == 1).then(|| "Package not found in vault".into()),
                }
            })
            .collect(),
        packages,
        removed: vec![Removed {
            tag: tag(removed_from),
            item: "Item 99 Flower 3.5 g".into(),
            reason: "Torn label, supervisor pulled it".into(),
            by: Some("Pat Supervisor".into()),
        }],
    }
}

/// A load of 512 packages: 500 to the first stop, 12 to the second.
fn manifest() -> ManifestDoc {
    ManifestDoc {
        name: "LOAD-0042 2026-11-27".into(),
        facility: Facility {
            name: "Green Valley Distribution".into(),
            license: "C11-0000224-LIC".into(),
            phone: "(555) 010-0100".into(),
        },
        driver: Driver::new("Ana Ruiz", "OCC-44117", "D7654321").expect("a driver"),
        vehicle: Vehicle::new("Ford", "Transit 250", "8 abc 123").expect("a vehicle"),
        load_id: "LOAD-0042".into(),
        loaded_at: "2026-11-27T08:40:00-08:00".into(),
        loaded_by: Some("Sam Loader".into()),
        destinations: vec![destination(1, 0..500, 9000), destination(2, 500..512, 9001)],
    }
}

/// A signature: dark strokes on a transparent background, as the handheld draws it.
fn signature_png() -> (Vec<u8>, u32, u32) {
    let (w, h) = (360, 110);
    let mut img = RgbaImage::from_pixel(w, h, Rgba([0, 0, 0, 0]));
    for x in 20..340u32 {
        let t = x as f32 / 18.0;
        let y = 55.0 + 30.0 * t.sin() * (1.0 - x as f32 / 400.0);
        for dy in -2i32..=2 {
            let yy = (y as i32 + dy).clamp(0, h as i32 - 1) as u32;
            img.put_pixel(x, yy, Rgba([20, 30, 90, 255]));
        }
    }
    let mut png = Vec::new();
    img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .expect("encode the PNG");
    (png, w, h)
}

fn rejection(n: usize) -> Outcome {
    let reasons = [
        "Damaged packaging",
        "Wrong item",
        "Label does not match COA",
    ];
    Outcome::Rejected {
        reason: reasons[n % 3].into(),
        note: n
            .is_multiple_of(2)
            .then(|| format!("Box {n} crushed at the corner")),
    }
}

/// The first stop of [`manifest`] delivered: every 25th package rejected, every 100th
/// (from the 3rd) not scanned, the rest accepted.
fn delivery(signature: Vec<u8>) -> DeliveryReportDoc {
    let m = manifest();
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
        signature_png: signature,
        receipt_deadline: "2026-11-28T11:42:00-08:00".into(),
        metrc: None,
        packages: d
            .packages
            .iter()
            .enumerate()
            .map(|(n, p)| {
                let o = if n % 25 == 24 {
                    rejection(n)
                } else if n % 100 == 3 {
                    Outcome::NotScanned
                } else {
                    Outcome::Accepted
                };
                (p.clone(), o)
            })
            .collect(),
    }
}

#[test]
fn the_500_package_manifest_reads_back_whole() {
    let dir = TempDir::new().expect("temp dir");
    let doc = manifest();
    let path = write(dir.path(), "manifest.pdf", &manifest_pdf(&doc));
    let text = text_of(&path);
    let flat = squash(&text);

    // Every tag on the manifest, exactly once.
    for p in doc.destinations.iter().flat_map(|d| &d.packages) {
        let n = text.matches(p.tag.as_str()).count();
        assert_eq!(n, 1, "{} appears {n} times", p.tag);
    }
    // Shipper, driver, vehicle.
    for want in [
        "Green Valley Distribution",
        "C11-0000224-LIC",
        "Ana Ruiz",
        "OCC-44117",
        "D7654321",
        "Ford",
        "Transit 250",
        "8ABC123",
        "LOAD-0042",
        "Sam Loader",
    ] {
        assert!(text.contains(want), "{want} is missing");
    }
    // Each stop: buyer, license, route, times, totals.
    for d in &doc.destinations {
        let total = d.total();
        for want in [
            d.buyer.clone(),
            d.recipient_license.clone(),
            "I-5 S to exit 12".to_string(),
            d.estimated_arrival.clone(),
            format!(
                "Total for this destination: Packages: {} Value: {}",
                d.packages.len(),
                money(total.cents)
            ),
        ] {
            assert!(flat.contains(&want), "{want} is missing");
        }
    }
    assert!(flat.contains(&format!(
        "Destinations: 2 Packages: 512 Value: {} (10 packages without a price)",
        money(doc.total().cents)
    )));
    // Removed packages with their reason, pick summary with the short reason.
    for r in doc.destinations.iter().flat_map(|d| &d.removed) {
        assert_eq!(text.matches(r.tag.as_str()).count(), 1, "{}", r.tag);
    }
    assert!(text.contains("Torn label, supervisor pulled it"));
    assert!(text.contains("Package not found in vault"));
    assert!(flat.contains("Signatures"));
    for party in [
        "Shipper",
        "Driver",
        "Receiver",
        "Printed name",
        "Date and time",
    ] {
        assert!(text.contains(party), "{party}");
    }
    // Odd text: the emoji is a question mark, the 300-character name is cut to fit.
    assert!(text.contains("? Fire OG ? Pre-roll"));
    assert!(text.contains(LONG_ITEM));
    assert!(!text.contains("with a very long description with a very long description"));
    assert!(text.contains('…'));

    // Paginated: a header and "Page n of m" on every page.
    let pages = pages_of(&text);
    let m = pages.len();
    assert!(m >= 8, "500 packages on {m} pages");
    for (i, page) in pages.iter().enumerate() {
        let want = format!("Page {} of {m}", i + 1);
        assert!(page.contains(&want), "page {}: no {want:?}", i + 1);
        assert!(
            page.contains("Transfer manifest"),
            "page {}: no header",
            i + 1
        );
    }

    let img = render_page1(&path, 40, &dir.path().join("manifest-page1.png"));
    assert_not_blank(&img, "manifest");
    screenshot(&path, "manifest-page1.png");
}

#[test]
fn the_template_lists_exactly_the_manifest() {
    let doc = manifest();
    let body = metrc_template(&doc);
    let dests = body[0]["Destinations"].as_array().expect("destinations");
    assert_eq!(dests.len(), 2);
    let labels: Vec<&str> = dests
        .iter()
        .flat_map(|d| d["Packages"].as_array().expect("packages"))
        .map(|p| p["PackageLabel"].as_str().expect("a label"))
        .collect();
    assert_eq!(labels.len(), doc.package_count());
    assert_eq!(labels.iter().collect::<HashSet<_>>().len(), labels.len());
    for r in doc.destinations.iter().flat_map(|d| &d.removed) {
        assert!(
            !labels.contains(&r.tag.as_str()),
            "removed {} travels",
            r.tag
        );
    }
    assert_eq!(body[0]["VehicleLicensePlateNumber"], "8ABC123");
}

#[test]
fn the_delivery_report_reads_back_with_its_signature() {
    let dir = TempDir::new().expect("temp dir");
    let (png, w, h) = signature_png();
    let doc = delivery(png);
    let counts = doc.counts();
    assert_eq!(
        (counts.accepted, counts.rejected, counts.not_scanned),
        (475, 20, 5)
    );
    let path = write(dir.path(), "delivery.pdf", &delivery_report_pdf(&doc));
    let text = text_of(&path);
    let flat = squash(&text);

    for want in [
        "SO-101",
        "Harbor Dispensary 1",
        "C10-0000551-LIC",
        "Ana Ruiz",
        "OCC-44117",
        "D7654321",
        "8ABC123",
        "Kim Receiver",
        "2026-11-27T11:42:00-08:00",
        "Accepted 475",
        "Rejected (returns) 20",
        "Not scanned 5",
        "Metrc receipt deadline: 2026-11-28T11:42:00-08:00",
        "Rejected: 20 packages to return to Green Valley Distribution's vault",
        "Damaged packaging",
        "Wrong item",
        "Label does not match COA",
        "Box 24 crushed at the corner",
    ] {
        assert!(flat.contains(want), "{want} is missing");
    }
    // Each rejected tag: once in the rejected table, once in the list of all packages.
    for (p, o) in &doc.packages {
        let n = text.matches(p.tag.as_str()).count();
        let want = if matches!(o, Outcome::Accepted) { 1 } else { 2 };
        assert_eq!(n, want, "{} ({o:?})", p.tag);
    }
    let pages = pages_of(&text);
    let m = pages.len();
    assert!(m >= 2);
    for (i, page) in pages.iter().enumerate() {
        assert!(
            page.contains(&format!("Page {} of {m}", i + 1)),
            "page {}",
            i + 1
        );
    }

    // Exactly one image, the signature at its own size.
    let list = run(
        "pdfimages",
        &["-list", path.to_str().expect("a UTF-8 path")],
    );
    let list = String::from_utf8_lossy(&list.stdout);
    let rows: Vec<Vec<&str>> = list
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 1, "{list}");
    assert_eq!(rows[0][0], "1", "the signature is on page 1: {list}");
    assert_eq!((rows[0][3], rows[0][4]), (&*w.to_string(), &*h.to_string()));

    let img = render_page1(&path, 40, &dir.path().join("delivery-page1.png"));
    assert_not_blank(&img, "delivery report");
    screenshot(&path, "delivery-report-page1.png");

    // The JSON agrees with the paper.
    let json = delivery_report_json(&doc);
    assert_eq!(json["counts"]["accepted"], 475);
    assert_eq!(json["rejected"].as_array().map(Vec::len), Some(20));
    assert_eq!(json["rejected"][0]["reason"], "Damaged packaging");
}

#[test]
fn a_delivery_report_without_a_readable_signature_says_so() {
    let dir = TempDir::new().expect("temp dir");
    let mut doc = delivery(b"\x89PNG\r\n\x1a\nnot really".to_vec());
    doc.packages.truncate(3);
    let path = write(dir.path(), "unsigned.pdf", &delivery_report_pdf(&doc));
    let text = text_of(&path);
    assert!(text.contains("No readable signature image (18 bytes received)."));
    let list = run(
        "pdfimages",
        &["-list", path.to_str().expect("a UTF-8 path")],
    );
    assert_eq!(String::from_utf8_lossy(&list.stdout).lines().count(), 2);
    assert!(text.contains("Page 1 of 1"));
}

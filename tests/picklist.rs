//! The pick list as users get it: `tagtally picklist` and `tagtally status` on a real
//! database, the PDF rendered with `pdftoppm` (poppler-utils, installed by
//! `scripts/setup`; a missing tool fails the test with what to do) and every barcode
//! on the page read back with the project's own camera decoder, top to bottom, in
//! walking order.

#[path = "support/site.rs"]
mod site;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use site::Site;
use tagtally::scan::camera::decode::{Decoder, GreyImage};
use tagtally::synthetic;
use tagtally::tag::TagParser;

/// A site with `count` synthetic packages and order SO-500 allocating `allocated`.
fn big_site(count: usize, allocated: usize) -> Site {
    let site = Site::new();
    let pk = site.file("packages.json", synthetic::packages_json(count).to_string());
    site.ok(&["import", "packages", &pk]);
    let order = synthetic::order_json("SO-500", allocated, count);
    let o = site.file("order.json", order.to_string());
    site.ok(&["import", "order", &o]);
    site
}

/// Page `page` of `pdf` rendered at `dpi` in grey.
fn render(pdf: &Path, page: usize, dpi: u32) -> GreyImage {
    let prefix = pdf.with_extension(format!("p{page}"));
    let out = match Command::new("pdftoppm")
        .args(["-gray", "-png", "-singlefile", "-r", &dpi.to_string()])
        .args(["-f", &page.to_string(), "-l", &page.to_string()])
        .arg(pdf)
        .arg(&prefix)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "pdftoppm is not installed: run scripts/setup (it installs poppler-utils, which \
             the pick list test uses to read the PDF back)"
        ),
        Err(e) => panic!("cannot run pdftoppm: {e}"),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tagtally::scan::camera::decode::load_luma(&prefix.with_extension(format!("p{page}.png")))
        .unwrap()
}

/// Every tag read from `img`, top to bottom: the page cut into overlapping bands a
/// little taller than a row, each decoded on its own.
fn read_back(img: &GreyImage, dpi: u32) -> Vec<String> {
    let decoder = Decoder::new(TagParser::default());
    let pt = dpi as f32 / 72.0;
    let band = (44.0 * pt) as u32;
    let step = (14.0 * pt) as u32;
    let mut found: Vec<String> = Vec::new();
    let mut y = 0;
    while y + band <= img.height {
        let start = (y * img.width) as usize;
        let end = ((y + band) * img.width) as usize;
        let strip = GreyImage {
            width: img.width,
            height: band,
            pixels: img.pixels[start..end].to_vec(),
        };
        for t in decoder.decode_image(&strip).unwrap().tags() {
            let t = t.as_str().to_string();
            if !found.contains(&t) {
                found.push(t);
            }
        }
        y += step;
    }
    found
}

#[test]
fn a_500_package_pick_list_walks_the_vault_and_its_barcodes_read_back() {
    let site = big_site(2_500, 500);
    let json: Value =
        serde_json::from_str(&site.ok(&["picklist", "SO-500", "--format", "json"])).unwrap();
    let packages = json["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 500);
    // Walking order: by location (the cage, then the vaults), shelves naturally, no
    // location last.
    let places: Vec<(String, String)> = packages
        .iter()
        .map(|p| {
            (
                p["location"].as_str().unwrap_or("~").to_string(),
                p["sublocation"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(places[0].0, "Cage");
    assert_eq!(places[499].0, "~", "no location last");
    let shelf = |s: &str| s.trim_start_matches("Shelf ").parse::<u32>().unwrap_or(0);
    for w in places.windows(2) {
        if w[0].0 == w[1].0 {
            assert!(shelf(&w[0].1) <= shelf(&w[1].1), "{w:?}");
        }
    }
    let walk: Vec<String> = packages
        .iter()
        .map(|p| p["tag"].as_str().unwrap().to_string())
        .collect();

    let pdf = site.dir.path().join("picklist.pdf");
    site.ok(&["picklist", "SO-500", "--out", pdf.to_str().unwrap()]);
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    let text = pdftotext(&pdf);
    let pages = text.matches('\u{c}').count();
    eprintln!(
        "the 500-package pick list: {pages} pages, {} bytes",
        bytes.len()
    );
    assert!(pages >= 20, "{pages} pages");
    assert!(text.contains(&format!("Page 1 of {pages}")), "page numbers");
    assert!(text.contains(&format!("Page {pages} of {pages}")));
    assert!(text.contains("Totals per line"));
    // Page 1's barcodes read back, top to bottom, are the first packages of the walk.
    let dpi = 200;
    let rows_on = |page: usize| {
        let head = &walk[0][..18];
        text.split('\u{c}')
            .nth(page - 1)
            .unwrap()
            .matches(head)
            .count()
    };
    let first = read_back(&render(&pdf, 1, dpi), dpi);
    assert!(rows_on(1) >= 10, "{} rows on page 1", rows_on(1));
    assert_eq!(
        first.len(),
        rows_on(1),
        "every barcode on page 1 reads back"
    );
    assert_eq!(
        first[..],
        walk[..first.len()],
        "page 1 reads in walking order"
    );
    // And a page from the middle, by tag: each one read is where the walk says.
    let mid = read_back(&render(&pdf, pages / 2, dpi), dpi);
    assert_eq!(
        mid.len(),
        rows_on(pages / 2),
        "every barcode mid-document reads back"
    );
    let at = walk.iter().position(|t| *t == mid[0]).unwrap();
    assert_eq!(mid[..], walk[at..at + mid.len()]);
}

fn pdftotext(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils): run scripts/setup");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn status_lists_what_is_left_and_pick_answers_name_the_next_package() {
    let site = Site::demo();
    let status = site.ok(&["status", "SO-1001"]);
    assert!(
        status.contains("9 packages to pull, in walking order:"),
        "{status}"
    );
    assert!(
        status.contains("Next: Cage · …010021 · Gelato Cart 0.5g · 100 Each"),
        "{status}"
    );
    let answers = site.pick_json("SO-1001", b"1A4060300003C35000010021\n");
    assert_eq!(answers[0]["verdict"], "accepted");
    let next = &answers[0]["next"];
    assert_eq!(next["tag"], "1A4060300003C35000010002", "{next}");
    assert_eq!(
        (&next["location"], &next["sublocation"], &next["line"]),
        (&json!("Vault A"), &json!("Shelf 2"), &json!("1"))
    );
    assert_eq!(next["item"], "Blue Dream 3.5g");
    let v: Value = serde_json::from_str(&site.ok(&["status", "SO-1001", "--json"])).unwrap();
    assert_eq!(v["to_pull"].as_array().unwrap().len(), 8);
    assert_eq!(v["next"]["tag"], "1A4060300003C35000010002");
    // The site's walk: the vaults before the cage.
    let cfg = site.file(
        "site.toml",
        "[pick]\nlocation_order = [\"Vault B\", \"vault a\"]\n",
    );
    let v: Value =
        serde_json::from_str(&site.ok(&["--config", &cfg, "status", "SO-1001", "--json"])).unwrap();
    assert_eq!(
        v["next"]["tag"], "1A4060300003C35000010004",
        "Vault B first: {v}"
    );
}

#[test]
fn places_nobody_planned_for_still_make_a_pick_list() {
    let site = Site::new();
    let mut pk = synthetic::packages_json(200);
    let long = "Vault ".repeat(50);
    for (i, p) in pk["Data"].as_array_mut().unwrap().iter_mut().enumerate() {
        p["LocationName"] = match i % 3 {
            0 => json!(long),
            1 => json!("倉庫 Ünïcødé 🔥"),
            _ => Value::Null,
        };
    }
    let f = site.file("p.json", pk.to_string());
    site.ok(&["import", "packages", &f]);
    let o = site.file("o.json", synthetic::order_json("SO-9", 40, 200).to_string());
    site.ok(&["import", "order", &o]);
    let pdf = site.dir.path().join("odd.pdf");
    site.ok(&["picklist", "SO-9", "--out", pdf.to_str().unwrap()]);
    let text = pdftotext(&pdf);
    assert!(text.contains("No location"), "{text}");
    assert!(
        text.contains("Vault Vault"),
        "the long name is printed as far as it fits"
    );
    let status = site.ok(&["status", "SO-9"]);
    assert!(
        status.contains("…"),
        "a long place is cut on the terminal: {status}"
    );

    // Every package without a location: one group, in tag order.
    let site = Site::new();
    let mut pk = synthetic::packages_json(200);
    for p in pk["Data"].as_array_mut().unwrap() {
        p["LocationName"] = Value::Null;
        p["SublocationName"] = Value::Null;
    }
    let f = site.file("p.json", pk.to_string());
    site.ok(&["import", "packages", &f]);
    let o = site.file("o.json", synthetic::order_json("SO-9", 40, 200).to_string());
    site.ok(&["import", "order", &o]);
    let t = site.ok(&["picklist", "SO-9", "--format", "text"]);
    assert_eq!(t.matches("\nNo location\n").count(), 1, "{t}");
    let tags: Vec<&str> = t
        .lines()
        .filter(|l| l.trim_start().starts_with("[ ]"))
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    let mut sorted = tags.clone();
    sorted.sort();
    assert_eq!(tags.len(), 40);
    assert_eq!(tags, sorted, "ties by tag");
    // An order not known: a clear message, nothing written.
    let err = site.fails(&["picklist", "SO-404", "--format", "text"]);
    assert!(err.contains("SO-404"), "{err}");
}

/// The same list through a pick session (what the station and `pick --json` use): an
/// allocation changed while the order is open is followed, a package moved shows its
/// new place, and nothing is next once the order is complete.
#[test]
fn an_open_list_follows_the_allocation_and_ends_complete() {
    let site = Site::demo();
    let settings = tagtally::config::Settings::default();
    let open = || tagtally::store::Store::open(&site.db(), std::time::Duration::from_secs(5));
    let mut store = open().unwrap();
    let mut s =
        tagtally::app::pick::PickSession::open_for(&mut store, "SO-1002", &settings).unwrap();
    let tails = |s: &tagtally::app::pick::PickSession| -> Vec<String> {
        s.pulls()
            .iter()
            .map(|p| p.tag.tail(6).to_string())
            .collect()
    };
    // Vault A · Shelf 1, then Shelf 12.
    assert_eq!(tails(&s), ["010005", "010006"]);
    // The coordinator re-allocates SO-1002 (another connection): 010007 for 010005.
    let csv = "order,buyer,buyer_license,line,sku,batch,tag\n\
               SO-1002,Leaf & Co,C10-0000733-LIC,1,BD-35,BD-0412,1A4060300003C35000010006\n\
               SO-1002,Leaf & Co,C10-0000733-LIC,1,BD-35,BD-0412,1A4060300003C35000010007\n";
    let f = site.file("realloc.csv", csv);
    site.ok(&["import", "order", &f]);
    s.follow_other_devices().unwrap();
    assert_eq!(tails(&s), ["010006", "010007"]);
    // 010006 moves to the cage in a newer package snapshot: it walks first now.
    let moved = serde_json::json!({"Data": [{
        "Label": "1A4060300003C35000010007", "Item": {"Name": "Blue Dream 3.5g"},
        "Quantity": 24, "UnitOfMeasureName": "Each", "ProductionBatchNumber": "BD-0412",
        "LabTestingState": "TestPassed", "IsOnHold": false, "IsFinished": false,
        "LastModified": "2026-11-30T10:00:00Z", "LocationName": "Cage"}]});
    let f = site.file("moved.json", moved.to_string());
    site.ok(&["import", "packages", &f]);
    s.follow_other_devices().unwrap();
    assert_eq!(tails(&s), ["010007", "010006"]);
    assert_eq!(s.next(None).unwrap().place(), "Cage");
    // Both picked: complete, nothing next.
    for t in ["1A4060300003C35000010007", "1A4060300003C35000010006"] {
        let a = s
            .scan(&tagtally::scan::Frame {
                bytes: t.as_bytes().to_vec(),
                len: t.len(),
            })
            .unwrap();
        assert_eq!(a.verdict, "accepted", "{t}");
    }
    assert!(s.progress().complete);
    assert!(s.next(None).is_none());
    assert!(s.pulls().iter().all(|p| !p.to_pull()));
}

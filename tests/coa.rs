//! COAs from the emulated Metrc, read by the real client on a loopback port into a
//! real SQLite file: a pull reads the lab results of allocated packages and each COA
//! once however many packages it covers; a second pull stores nothing new; an
//! unreadable document, a 401 for a package outside the license and 429s or 500s each
//! end with a clear message and nothing doubled; `tagtally status` warns, `tagtally
//! coa` writes the PDFs, and `require_coa` blocks a package without one on the floor.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use tagtally::config::{MetrcSettings, Secret};
use tagtally::metrc::emulator::{DocumentFormat, Emulator, Fault, document_of_batch};
use tagtally::metrc::pull::{PullReport, pull};
use tagtally::store::Store;
use tagtally::tag::MetrcTag;

const LICENSE: &str = "C11-0000001-LIC";

fn tag(n: usize) -> String {
    tagtally::synthetic::tag(n)
}

fn package(n: usize, batch: &str, lab: &str) -> Value {
    json!({
        "Id": 5000 + n, "Label": tag(n), "Item": {"Name": format!("Item {batch}"), "ProductCategoryName": "Flower"},
        "Quantity": 10.0, "UnitOfMeasureName": "Each", "ProductionBatchNumber": batch,
        "LabTestingState": lab, "IsOnHold": false, "IsFinished": false,
        "LastModified": (Utc::now() - chrono::Duration::minutes(30)).to_rfc3339()
    })
}

struct Hub {
    emu: std::sync::Arc<Emulator>,
    settings: MetrcSettings,
    dir: tempfile::TempDir,
    store: Store,
    rt: tokio::runtime::Runtime,
}

/// Batch B-1: packages 1 to 20 (a COA); B-2: 30 and 31 (results, no COA); B-3: 40
/// (not tested yet: no results). Packages are pulled before orders are imported
/// (an order's tags must be known). Order SO-1 holds 1-5, 30, 31 and 40; SO-2 holds 6, 7.
fn hub() -> Hub {
    let mut packages: Vec<Value> = (1..=20).map(|n| package(n, "B-1", "TestPassed")).collect();
    packages.push(package(30, "B-2", "TestPassed"));
    packages.push(package(31, "B-2", "TestPassed"));
    packages.push(package(40, "B-3", "NotSubmitted"));
    let emu = Emulator::new(LICENSE, "vendor-k", "user-k-secret", packages);
    emu.no_coa_for_batch("B-2");
    let settings = MetrcSettings {
        base_url: emu.spawn(),
        license_number: LICENSE.into(),
        vendor_key: Secret::new("vendor-k"),
        user_key: Secret::new("user-k-secret"),
        max_requests_per_second: 50,
        timeout_seconds: 5,
        ..MetrcSettings::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("hub.db"), Duration::from_secs(5)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    Hub {
        emu,
        settings,
        dir,
        store,
        rt,
    }
}

impl Hub {
    fn pull(&mut self, full: bool) -> PullReport {
        let client = tagtally::metrc::Client::new(&self.settings).unwrap();
        self.rt
            .block_on(pull(
                &mut self.store,
                &client,
                &self.settings,
                full,
                Utc::now(),
            ))
            .unwrap()
    }

    fn orders(&mut self, extra: &[(usize, &str)]) {
        let mut csv = String::from("order,buyer,buyer_license,line,sku,batch,tag\n");
        let mut row = |o: &str, line: u32, batch: &str, n: usize| {
            csv.push_str(&format!(
                "{o},Buyer,C10-1-LIC,{line},SKU,{batch},{}\n",
                tag(n)
            ));
        };
        for n in 1..=5 {
            row("SO-1", 1, "B-1", n);
        }
        row("SO-1", 2, "B-2", 30);
        row("SO-1", 2, "B-2", 31);
        row("SO-1", 3, "B-3", 40);
        for (n, batch) in extra {
            row("SO-1", 4, batch, *n);
        }
        row("SO-2", 1, "B-1", 6);
        row("SO-2", 1, "B-1", 7);
        let orders = tagtally::import::parse_orders("orders.csv", csv.as_bytes()).unwrap();
        self.store.import_orders(&orders).unwrap();
    }

    fn results(&self, n: usize) -> usize {
        self.store
            .lab_results(&MetrcTag::new(&tag(n)).unwrap())
            .unwrap()
            .len()
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tagtally"));
        c.arg("--db")
            .arg(self.dir.path().join("hub.db"))
            .args(args)
            .env_remove("TAGTALLY_CONFIG")
            .env("XDG_CONFIG_HOME", self.dir.path())
            .env("RUST_LOG", "off")
            .env("TAGTALLY_METRC__BASE_URL", &self.settings.base_url)
            .env("TAGTALLY_METRC__LICENSE_NUMBER", LICENSE)
            .env("TAGTALLY_METRC__VENDOR_KEY", "vendor-k")
            .env("TAGTALLY_METRC__USER_KEY", "user-k-secret")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_pull_reads_each_coa_once_and_the_next_pull_stores_nothing_new() {
    let mut h = hub();
    h.pull(false);
    h.orders(&[]);
    let doc = document_of_batch("B-1");
    let r = h.pull(false);
    // 1-7 (B-1), 30, 31 (B-2), 40 (B-3): ten packages, eight with results rows.
    assert_eq!(r.coa.packages, 10, "{:?}", r.coa);
    assert_eq!(r.coa.documents_new, 1, "one COA covers batch B-1");
    assert_eq!(r.coa.without_coa, 3, "30, 31 and 40");
    assert!(r.coa.problems.is_empty(), "{:?}", r.coa.problems);
    assert!(
        r.line()
            .contains("COAs: 10 packages' lab results read (36 rows), 1 documents new"),
        "{}",
        r.line()
    );
    assert_eq!(
        h.emu.documents_served(doc),
        1,
        "fetched once for seven packages"
    );
    let stored = h.store.coa_documents().unwrap();
    assert_eq!(stored.len(), 1);
    let pdf = h.store.attachment(&stored[0].1).unwrap().unwrap();
    assert!(pdf.bytes.starts_with(b"%PDF") && pdf.mime == "application/pdf");
    assert_eq!(
        h.results(1),
        3,
        "one row per test type; the revoked result is not kept"
    );
    assert_eq!(h.results(8), 0, "a package on no order is not asked about");
    let p = &h
        .store
        .packages(&[MetrcTag::new(&tag(6)).unwrap()])
        .unwrap()[&MetrcTag::new(&tag(6)).unwrap()];
    assert_eq!(p.metrc_id, Some(5006));
    assert_eq!(p.coa.as_ref().unwrap().documents[0].document_id, doc);

    // Not due again: nothing asked. Read again in full: nothing new stored.
    let (_, cursor) = h.store.packages_since("0").unwrap();
    let r = h.pull(false);
    assert_eq!((r.coa.packages, r.coa.documents_new), (0, 0), "{:?}", r.coa);
    let r = h.pull(true);
    assert_eq!(
        (r.coa.packages, r.coa.documents_new),
        (10, 0),
        "{:?}",
        r.coa
    );
    assert_eq!(h.emu.documents_served(doc), 1);
    assert_eq!(h.store.coa_documents().unwrap(), stored);
    assert_eq!(h.results(1), 3);
    let (again, _) = h.store.packages_since(&cursor).unwrap();
    assert!(
        again.is_empty(),
        "devices download nothing again: {again:?}"
    );

    // `tagtally status` warns per line, and blocks nothing.
    let o = h.run(&["status", "SO-1"], &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("warning: line 2 batch B-2: 2 package(s) with no COA in Metrc"),
        "{t}"
    );
    assert!(
        t.contains("line 3 batch B-3") && !t.contains("batch B-1:"),
        "{t}"
    );
    let o = h.run(&["status", "SO-2"], &[]);
    assert!(!text(&o).contains("warning"), "{}", text(&o));

    // `tagtally coa`: B-1's PDF written; B-2 and B-3 have none, so it exits 1.
    let out = h.dir.path().join("coas");
    let o = h.run(&["coa", "SO-1", "--out", out.to_str().unwrap()], &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    let file: PathBuf = out.join(format!("COA_SO-1_B-1_{doc}.pdf"));
    assert_eq!(std::fs::read(&file).unwrap(), pdf.bytes, "{t}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    assert!(
        t.contains("batch B-2: no COA in Metrc") && t.contains("batch B-3"),
        "{t}"
    );
    let o = h.run(&["coa", "SO-2", "--out", out.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn tagtally_coa_fetches_what_is_not_stored_and_reads_the_json_envelope() {
    let mut h = hub();
    h.emu.set_document_format(DocumentFormat::Envelope);
    // Packages pulled before any order: no COA read yet.
    h.pull(false);
    h.orders(&[]);
    assert!(h.store.coa_documents().unwrap().is_empty());
    let out = h.dir.path().join("coas");
    let o = h.run(&["coa", "SO-2", "--out", out.to_str().unwrap()], &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("1 documents new"), "{t}");
    let doc = document_of_batch("B-1");
    let bytes = std::fs::read(out.join(format!("COA_SO-2_B-1_{doc}.pdf"))).unwrap();
    assert!(bytes.starts_with(b"%PDF"), "decoded from FileContents");
    // Only SO-2's packages were asked about.
    assert_eq!((h.results(6), h.results(1)), (3, 0));
}

#[test]
fn a_document_that_is_not_a_pdf_is_refused_clearly_and_the_rest_still_read() {
    let mut h = hub();
    h.pull(false);
    h.orders(&[]);
    let doc = document_of_batch("B-1");
    h.emu.garbage_document(doc, true);
    let r = h.pull(false);
    let said = r.coa.problems.join("\n");
    assert!(
        said.contains(&format!("COA document {doc} is neither a PDF nor JSON")),
        "{said}"
    );
    assert_eq!(r.coa.problems.len(), 1, "asked once, said once: {said}");
    assert!(
        h.store.coa_documents().unwrap().is_empty(),
        "nothing stored"
    );
    assert_eq!(r.coa.packages, 10, "the other packages still read");
    assert_eq!(h.results(30), 3);
    let p = &h
        .store
        .packages(&[MetrcTag::new(&tag(1)).unwrap()])
        .unwrap()[&MetrcTag::new(&tag(1)).unwrap()];
    assert_eq!(p.coa.as_ref().unwrap().unreadable, vec![doc]);
    assert!(!p.has_coa());
    // Served properly later: the next full pull stores it.
    h.emu.garbage_document(doc, false);
    let r = h.pull(true);
    assert_eq!(r.coa.documents_new, 1, "{:?}", r.coa);
    assert!(r.coa.problems.is_empty());
}

#[test]
fn a_package_outside_the_license_is_refused_alone() {
    let mut h = hub();
    // Package 90 is in the store (from a file) but not on this license in Metrc.
    let file = json!([{
        "Id": 777, "Label": tag(90), "ItemName": "Elsewhere", "Quantity": 1,
        "UnitOfMeasureName": "Each", "ProductionBatchNumber": "X-9",
        "LabTestingState": "TestPassed", "IsOnHold": false, "IsFinished": false,
        "LastModified": "2026-11-01T00:00:00Z"
    }]);
    let p = tagtally::import::metrc::parse("f.json", file.to_string().as_bytes()).unwrap();
    h.store.import_packages(&p).unwrap();
    h.pull(false);
    h.orders(&[(90, "X-9")]);
    let r = h.pull(false);
    let said = r.coa.problems.join("\n");
    assert_eq!(r.coa.problems.len(), 1, "{said}");
    assert!(
        said.contains(&tag(90)) && said.contains("Metrc Id 777") && said.contains(LICENSE),
        "{said}"
    );
    assert!(
        said.contains("not valid for the specified License Number"),
        "{said}"
    );
    assert_eq!(r.coa.packages, 10, "the others read: {:?}", r.coa);
    assert_eq!(r.coa.documents_new, 1);
    assert_eq!(h.results(90), 0);
}

#[test]
fn throttled_and_failing_answers_are_retried_and_nothing_is_doubled() {
    let mut h = hub();
    h.pull(false);
    h.orders(&[]);
    let doc = document_of_batch("B-1");
    // The next pull reads one window of four lists, then the COAs: its first
    // results call meets a 500, its retry passes; the document meets a 500, then a
    // 429, then is served.
    for _ in 0..4 {
        h.emu.inject(Fault::Pass);
    }
    h.emu.inject(Fault::ServerError);
    h.emu.inject(Fault::Pass);
    h.emu.inject(Fault::ServerError);
    h.emu.inject(Fault::TooMany {
        retry_after: Some(0),
    });
    let r = h.pull(false);
    assert!(r.coa.problems.is_empty(), "{:?}", r.coa.problems);
    assert_eq!((r.coa.packages, r.coa.documents_new), (10, 1));
    assert_eq!(h.emu.documents_served(doc), 1);
    assert_eq!(h.store.coa_documents().unwrap().len(), 1);
    assert_eq!(h.results(1), 3, "retried rows are not doubled");

    // Metrc failing past the retries stops the COA part; what was stored stays, and
    // the next pull goes on from there.
    let mut h = hub();
    h.pull(false);
    h.orders(&[]);
    for _ in 0..4 {
        h.emu.inject(Fault::Pass);
    }
    for _ in 0..5 {
        h.emu.inject(Fault::ServerError);
    }
    let r = h.pull(false);
    assert_eq!(r.coa.packages, 0, "{:?}", r.coa);
    let said = r.coa.problems.join("\n");
    assert!(
        said.contains("COAs stopped at package") && said.contains("500"),
        "{said}"
    );
    let r = h.pull(false);
    assert_eq!(
        (r.coa.packages, r.coa.documents_new),
        (10, 1),
        "{:?}",
        r.coa
    );
    assert_eq!(h.emu.documents_served(doc), 1);
}

#[test]
fn require_coa_blocks_a_package_without_one_on_the_floor() {
    let mut h = hub();
    h.pull(false);
    h.orders(&[]);
    h.pull(false);
    let scans = format!("{}\n{}\n", tag(30), tag(1));
    let verdicts = |env: &[(&str, &str)]| -> Vec<(String, Option<String>)> {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tagtally"));
        c.arg("--db")
            .arg(h.dir.path().join(format!("floor-{}.db", env.len())))
            .args(["pick", "SO-1", "--json"])
            .env_remove("TAGTALLY_CONFIG")
            .env("XDG_CONFIG_HOME", h.dir.path())
            .env("RUST_LOG", "off")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        // The floor's copy of the hub's facts, as a device gets them.
        let floor = h.dir.path().join(format!("floor-{}.db", env.len()));
        let mut device = Store::open(&floor, Duration::from_secs(5)).unwrap();
        let (packages, _) = h.store.packages_since("0").unwrap();
        let orders = h.store.open_orders_full().unwrap();
        device.apply_hub_snapshot(&orders, &packages).unwrap();
        drop(device);
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(scans.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|a| {
                (
                    a["verdict"].as_str().unwrap().to_string(),
                    a["reason"].as_str().map(str::to_string),
                )
            })
            .collect()
    };
    let accepted = ("accepted".to_string(), None);
    assert_eq!(verdicts(&[]), vec![accepted.clone(), accepted.clone()]);
    assert_eq!(
        verdicts(&[("TAGTALLY_METRC__REQUIRE_COA", "true")]),
        vec![
            ("ineligible".to_string(), Some("no_coa".to_string())),
            accepted
        ]
    );
}

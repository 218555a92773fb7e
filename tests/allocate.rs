//! `tagtally allocate` and `tagtally items` end to end: the real binary on a real
//! SQLite file. Propose, accept, pick what was proposed; refusals in words; the
//! `--json` shape; a re-import keeps the allocation.

#[path = "support/hub.rs"]
mod hub;
#[path = "support/site.rs"]
mod site;

use serde_json::{Value, json};
use site::Site;

const P1: &str = "1A4000000000000000000001";
const P2: &str = "1A4000000000000000000002";
const P3: &str = "1A4000000000000000000003";
const P4: &str = "1A4000000000000000000004";
const P5: &str = "1A4000000000000000000005";
const P6: &str = "1A4000000000000000000006";
const K1: &str = "1A4000000000000000000011";
const K2: &str = "1A4000000000000000000012";
const K3: &str = "1A4000000000000000000013";

fn package(label: &str, item: &str, batch: &str, q: f64, unit: &str, expires: &str) -> Value {
    json!({"Id": 1, "Label": label, "PackageType": "Product",
        "Item": {"Name": item, "ProductCategoryName": "Flower", "UnitOfMeasureName": unit},
        "Quantity": q, "UnitOfMeasureName": unit, "ProductionBatchNumber": batch,
        "SourceProductionBatchNumbers": [], "LabTestingState": "TestPassed",
        "IsOnHold": label == P4, "IsOnRecall": false, "IsOnInvestigation": false,
        "IsFinished": false, "ArchivedDate": null, "PackagedDate": "2026-10-02",
        "ExpirationDate": expires, "UseByDate": null, "LocationName": "Vault A",
        "SublocationName": null, "LastModified": "2026-11-20T16:00:00Z"})
}

fn order(number: &str, lines: Value) -> Value {
    json!({"number": number, "short_id": null, "status": "Accepted",
        "customer": {"display_name": "Green Door", "license_number": "C10-0000481-LIC"},
        "ship_date": "2026-12-10", "line_items": lines})
}

/// SO-1: line 1 is 30 Each of SKU BD-35 (named otherwise than in Metrc), line 2 one
/// ounce of "OG Kush 1g" (an exact name). SO-2 holds P1.
fn site() -> Site {
    let s = Site::new();
    let pkgs = json!([
        package(P1, "Blue Dream 3.5g", "B1", 10.0, "Each", "2029-01-01"),
        package(P2, "Blue Dream 3.5g", "B1", 20.0, "Each", "2029-01-01"),
        package(P3, "Blue Dream 3.5g", "B1", 10.0, "Each", "2029-01-01"),
        package(P4, "Blue Dream 3.5g", "B2", 30.0, "Each", "2027-06-01"),
        package(P5, "Blue Dream 3.5g", "B3", 15.0, "Each", "2028-06-01"),
        package(P6, "Blue Dream 3.5g", "B3", 15.0, "Each", "2028-06-01"),
        package(K1, "OG Kush 1g", "K9", 14.0, "Grams", "2029-01-01"),
        package(K2, "OG Kush 1g", "K9", 14.0, "Grams", "2029-01-01"),
        package(K3, "OG Kush 1g", "K9", 14.0, "Grams", "2029-01-01"),
    ]);
    s.ok(&["import", "packages", &s.file("p.json", pkgs.to_string())]);
    let so1 = order(
        "SO-1",
        json!([
            {"id": 1, "product": {"sku": "BD-35", "name": "Blue Dream Eighth"},
             "quantity": "30.0000", "unit_of_measure": "Each", "package_tags": []},
            {"id": 2, "product": {"sku": "OGK", "name": "OG Kush 1g"},
             "quantity": "1", "unit_of_measure": "oz", "package_tags": []},
        ]),
    );
    s.ok(&["import", "order", &s.file("so1.json", so1.to_string())]);
    let so2 = order(
        "SO-2",
        json!([{"id": 1, "product": {"sku": "BD-35", "name": "Blue Dream 3.5g"},
            "quantity": "10", "unit_of_measure": "Each", "batch": "B1",
            "package_tags": [P1]}]),
    );
    s.ok(&["import", "order", &s.file("so2.json", so2.to_string())]);
    s
}

fn plan(s: &Site, args: &[&str]) -> Value {
    let mut all = vec!["allocate", "SO-1", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&s.ok(&all)).unwrap()
}

#[test]
fn a_sku_is_mapped_then_the_earliest_expiring_exact_batch_is_proposed_accepted_and_picked() {
    let s = site();
    // Unmapped, the line's name matches no Metrc item.
    let p = plan(&s, &["--line", "1"]);
    assert_eq!(p["lines"][0]["proposal"]["outcome"], "no_fit", "{p}");
    assert_eq!(p["lines"][0]["proposal"]["closest"], json!([]));

    assert!(
        s.ok(&["items", "map", "BD-35", "Blue Dream 3.5g"])
            .contains("BD-35")
    );
    assert!(s.ok(&["items", "list"]).contains("BD-35\tBlue Dream 3.5g"));

    // B2 is on hold, B1 holds P1 for SO-2 and expires later: B3, both packages.
    let p = plan(&s, &["--line", "1"]);
    let line = &p["lines"][0];
    assert_eq!(line["line"], "1");
    assert_eq!(line["state"], "proposed");
    assert_eq!(line["need"], "30 Each");
    assert_eq!(line["accepted"], false);
    assert_eq!(line["proposal"]["outcome"], "fit");
    assert_eq!(line["proposal"]["batch"], "B3");
    assert_eq!(line["proposal"]["near_expiry"], false);
    let tags: Vec<&str> = line["proposal"]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, [P5, P6]);
    assert_eq!(line["excluded"]["on_hold"], 1);
    assert_eq!(line["excluded"]["allocated_elsewhere"], 1);
    // Proposing records nothing.
    assert_eq!(s.sql::<i64>("SELECT count(*) FROM allocation_log"), 0);

    let text = s.ok(&["allocate", "SO-1", "--line", "1", "--accept"]);
    assert!(text.contains("allocated: batch B3, 2 package(s)"), "{text}");
    assert_eq!(s.sql::<i64>("SELECT count(*) FROM allocation_log"), 1);
    assert_eq!(
        s.sql::<String>(
            "SELECT batch FROM order_lines WHERE order_number = 'SO-1' AND line_id = '1'"
        ),
        "B3"
    );
    let p = plan(&s, &["--line", "1"]);
    assert_eq!(p["lines"][0]["state"], "allocated");

    // The floor picks exactly what was allocated.
    let answers = s.pick_json("SO-1", format!("{P5}\n{P6}\n{P2}\n").as_bytes());
    let verdicts: Vec<&str> = answers
        .iter()
        .filter_map(|a| a["verdict"].as_str())
        .collect();
    assert_eq!(verdicts[0], "accepted");
    assert_eq!(verdicts[1], "accepted");
    assert_ne!(verdicts[2], "accepted");

    // A re-import of the order that carries no tags keeps the allocation.
    s.ok(&[
        "import",
        "order",
        s.dir.path().join("so1.json").to_str().unwrap(),
    ]);
    assert_eq!(
        s.sql::<i64>(
            "SELECT count(*) FROM allocations WHERE order_number = 'SO-1' AND source = 'allocate'"
        ),
        2
    );
}

#[test]
fn no_single_batch_fits_an_ounce_and_the_package_to_split_is_named() {
    let s = site();
    let text = s.ok(&["allocate", "SO-1", "--line", "2"]);
    assert!(text.contains("no single batch fits exactly"), "{text}");
    // 14 + 14 = 28 g is short of an ounce (28.35 g); 42 g is over: split one 14 g.
    assert!(text.contains("batch K9: 3 package(s)"), "{text}");
    assert!(text.contains("split"), "{text}");
    let p = plan(&s, &["--line", "2"]);
    let near = &p["lines"][0]["proposal"]["closest"][0];
    assert_eq!(near["batch"], "K9");
    assert_eq!(near["shortfall"], "0.012 oz");
    assert!(
        near["split"]
            .as_str()
            .unwrap()
            .starts_with("1A40000000000000000000")
    );
    // Accepting a no-fit records nothing.
    s.ok(&["allocate", "SO-1", "--line", "2", "--accept"]);
    assert_eq!(s.sql::<i64>("SELECT count(*) FROM allocation_log"), 0);
}

#[test]
fn chosen_tags_are_refused_with_the_rule_they_break_and_allocated_when_they_fit() {
    let s = site();
    s.ok(&["items", "map", "BD-35", "Blue Dream 3.5g"]);
    let before = s.dump();
    let err = s.fails(&["allocate", "SO-1", "--line", "1", "--tag", P4]);
    assert!(
        err.contains(&format!("package {P4} breaks the pick rules: on_hold")),
        "{err}"
    );
    let err = s.fails(&["allocate", "SO-1", "--line", "1", "--tag", P1, P2]);
    assert!(
        err.contains("already allocated to open order SO-2"),
        "{err}"
    );
    let err = s.fails(&["allocate", "SO-1", "--line", "1", "--tag", P2, P5]);
    assert!(err.contains("one batch per line"), "{err}");
    let err = s.fails(&["allocate", "SO-1", "--line", "1", "--tag", P2]);
    assert!(
        err.contains("the packages hold 20 Each, the line needs 30 Each"),
        "{err}"
    );
    let err = s.fails(&["allocate", "SO-1", "--line", "1", "--tag", K1]);
    assert!(err.contains("not the line's item"), "{err}");
    let err = s.fails(&["allocate", "SO-1", "--line", "9", "--tag", P2]);
    assert!(err.contains("no line 9"), "{err}");
    assert_eq!(s.dump(), before, "a refusal changes nothing");

    let out: Value = serde_json::from_str(
        &s.ok(&["allocate", "SO-1", "--line", "1", "--json", "--tag", P2, P3]),
    )
    .unwrap();
    assert_eq!(out["batch"], "B1");
    assert_eq!(s.sql::<String>("SELECT how FROM allocation_log"), "chosen");
    // Now fully allocated; and those packages are no longer free for anything else.
    assert_eq!(plan(&s, &["--line", "1"])["lines"][0]["state"], "allocated");
    let err = s.fails(&["allocate", "SO-1", "--line", "1", "--tag", P5, P6]);
    assert!(err.contains("fully allocated already"), "{err}");
}

/// Allocated on the hub, the allocation reaches a device in its next snapshot, the
/// device picks it, and the device itself refuses to allocate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allocation_on_the_hub_reaches_devices_in_the_snapshot() {
    let site = hub::Site::new();
    let dir = site.dir.path();
    let pkgs = json!([
        package(P5, "Blue Dream 3.5g", "B3", 15.0, "Each", "2028-06-01"),
        package(P6, "Blue Dream 3.5g", "B3", 15.0, "Each", "2028-06-01"),
    ]);
    let so = order(
        "SO-A",
        json!([{"id": 1, "product": {"sku": "X", "name": "Blue Dream 3.5g"},
            "quantity": "30", "unit_of_measure": "Each", "package_tags": []}]),
    );
    std::fs::write(dir.join("p.json"), pkgs.to_string()).unwrap();
    std::fs::write(dir.join("o.json"), so.to_string()).unwrap();
    {
        let mut s = site.hub_store();
        tagtally::app::import_packages(&mut s, &dir.join("p.json")).unwrap();
        tagtally::app::import_orders(&mut s, &dir.join("o.json")).unwrap();
    }
    let server = hub::TestHub::start(&site.hub_db(), None);
    let mut device = site.device("vault-1", &server.url()).await;
    assert_eq!(
        device.store.find_order("SO-A").unwrap().lines[0].tags,
        vec![]
    );

    let today: chrono::NaiveDate = "2026-12-01".parse().unwrap();
    let rules = tagtally::domain::Rules::default();
    let plan =
        tagtally::app::allocate::propose(&mut site.hub_store(), &rules, "SO-A", None, true, today)
            .unwrap();
    assert!(matches!(
        &plan.lines[0].outcome,
        tagtally::app::allocate::Outcome::Proposed { accepted: true, .. }
    ));

    device.sync().await.unwrap();
    let line = device.store.find_order("SO-A").unwrap().lines.remove(0);
    let tags: Vec<&str> = line.tags.iter().map(|t| t.as_str()).collect();
    assert_eq!(tags, [P5, P6]);
    assert_eq!(line.batch.as_deref(), Some("B3"));

    let err =
        tagtally::app::allocate::propose(&mut device.store, &rules, "SO-A", None, true, today)
            .unwrap_err()
            .to_string();
    assert!(err.contains("allocate on the hub's database"), "{err}");
    server.stop();
}

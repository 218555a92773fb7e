//! The load and the delivery through the `tagtally` binary, as the dock and the driver
//! run them headless: real databases, real child processes, real PNG signatures.

use std::io::Write;

use serde_json::Value;

#[path = "support/floor.rs"]
mod floor;
use floor::{DRIVER, lines, t};

#[path = "support/site.rs"]
mod site;
use site::*;

fn words(answers: &[Value]) -> Vec<&str> {
    answers
        .iter()
        .map(|a| a["verdict"].as_str().unwrap())
        .collect()
}

/// SO-1002 picked in full (10005, 10006), on a site that names its shipper.
fn picked_site() -> Site {
    let site = Site::demo();
    with_shipper(&site);
    let a = site.pick_json("SO-1002", &lines(&[10005, 10006]));
    assert_eq!(a[1]["complete"], true, "{a:?}");
    site
}

fn load_confirmed_site() -> Site {
    let site = picked_site();
    site.json_lines(&["load", "SO-1002", "--json"], &lines(&[10005, 10006]));
    let mut args = vec!["load", "SO-1002", "--confirm"];
    args.extend_from_slice(DRIVER);
    site.ok(&args);
    site
}

#[test]
fn load_equals_the_manifest_before_it_can_be_confirmed() {
    let site = picked_site();
    // An order still being picked cannot be loaded.
    let err = site.fails(&["load", "SO-1001"]);
    assert!(err.contains("still being picked"), "{err}");

    let a = site.json_lines(
        &["load", "SO-1002", "--json"],
        format!("{}\n{}\ngarbage\n{}\n\n", t(10005), t(10005), t(10001)).as_bytes(),
    );
    assert_eq!(
        words(&a),
        [
            "loaded",
            "already_loaded",
            "not_a_tag",
            "wrong_order",
            "not_a_tag"
        ]
    );
    assert_eq!(a[0]["stage"], "load");
    assert_eq!(
        (a[0]["done"].as_u64(), a[0]["total"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(a[3]["other_order"], "SO-1001");
    assert_eq!(a[4]["seq"], Value::Null, "an empty line records nothing");

    let check = site.ok(&["load", "SO-1002", "--check"]);
    assert!(
        check.contains("loaded 1/2") && check.contains(&format!("missing {}", t(10006))),
        "{check}"
    );

    // Not yet equal: refused, nothing recorded.
    let before = site.dump();
    let mut args = vec!["load", "SO-1002", "--confirm"];
    args.extend_from_slice(DRIVER);
    let err = site.fails(&args);
    assert!(err.contains("1 missing"), "{err}");
    // Missing driver details: refused.
    let err = site.fails(&[
        "load",
        "SO-1002",
        "--confirm",
        "--driver",
        "Dee",
        "--plate",
        "X1",
    ]);
    assert!(
        err.contains("occupational license number is required"),
        "{err}"
    );
    assert_eq!(
        site.dump(),
        before,
        "a refused confirmation changes nothing"
    );

    // The scan's text summary follows the answers on standard output, on its own line.
    let out = site.run(&["load", "SO-1002"], &lines(&[10006]));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let last: Vec<&str> = text.lines().collect();
    assert!(last[0].starts_with("LOADED"), "{text}");
    assert_eq!(last[1], "SO-1002: loaded 2/2  ready to confirm", "{text}");
    let out = site.ok(&args);
    // The confirmation, then the order's check, each on its own line; confirmed, not
    // "ready to confirm".
    let shown: Vec<&str> = out.lines().collect();
    assert_eq!(shown.len(), 2, "{out}");
    assert!(
        shown[0].starts_with("load L-SO-1002-")
            && shown[0].ends_with(" confirmed: 1 order, driver Dee Driver, vehicle 8ABC123"),
        "{out}"
    );
    assert_eq!(shown[1], "SO-1002: loaded 2/2  CONFIRMED", "{out}");
    // The load id names the dock's device: two docks never share one.
    let device: String = site.sql("SELECT value FROM meta WHERE key = 'device_id'");
    assert!(shown[0].contains(&format!("-{device} confirmed")), "{out}");
    // Loaded once: a second load of the order is refused.
    let err = site.fails(&["load", "SO-1002"]);
    assert!(err.contains("already loaded"), "{err}");
    let kinds: i64 = site.sql("SELECT count(*) FROM events WHERE kind = 'load_confirm'");
    assert_eq!(kinds, 1);
}

#[test]
fn the_dock_remembers_drivers_and_vehicles_and_supervisors_remove_packages() {
    let site = Site::demo();
    with_shipper(&site);
    // SO-1001: line 1 picks 10001, 10002, 10004 (10003 is on hold: short), line 2
    // picks 10011 and shorts the rest, line 3 picks 10021 and shorts the rest.
    site.pick_json("SO-1001", &lines(&[10001, 10002, 10004, 10011, 10021]));
    for line in ["1", "2", "3"] {
        site.ok(&[
            "pick",
            "SO-1001",
            "--short",
            line,
            "--reason",
            "ineligible stock",
        ]);
    }
    // 10004's pick is taken back after the line was shorted: never confirmed picked.
    site.ok(&[
        "pick",
        "SO-1001",
        "--undo",
        &t(10004),
        "--reason",
        "label torn",
    ]);
    site.pick_json("SO-1002", &lines(&[10005, 10006]));

    // Two orders, one route.
    let a = site.json_lines(
        &["load", "SO-1001", "SO-1002", "--json"],
        &lines(&[10001, 10004, 10003, 10005]),
    );
    assert_eq!(words(&a), ["loaded", "not_picked", "ineligible", "loaded"]);
    assert_eq!(a[2]["reason"], "on_hold");
    assert_eq!(a[3]["order"], "SO-1002");
    assert_eq!(a[3]["total"], 6);

    // A supervisor takes 10021 off the shipment; scanning it then says so.
    let out = site.ok(&[
        "load",
        "SO-1001",
        "--remove",
        &t(10021),
        "--reason",
        "buyer cancelled",
    ]);
    assert!(out.contains("loaded 1/3"), "{out}");
    let err = site.fails(&["load", "SO-1001", "--remove", &t(10021)]);
    assert!(err.contains("--reason is required"), "{err}");
    let a = site.json_lines(
        &["load", "SO-1001", "SO-1002", "--json"],
        &lines(&[10021, 10002, 10011, 10006]),
    );
    assert_eq!(words(&a), ["removed", "loaded", "loaded", "loaded"]);
    assert_eq!(a[3]["complete"], true);

    let mut args = vec!["load", "SO-1001", "SO-1002", "--confirm"];
    args.extend_from_slice(DRIVER);
    site.ok(&args);
    let confirmed: String = site
        .sql("SELECT detail FROM events WHERE kind = 'load_confirm' AND order_number = 'SO-1001'");
    let c: Value = serde_json::from_str(&confirmed).unwrap();
    assert_eq!(c["orders"], serde_json::json!(["SO-1001", "SO-1002"]));
    assert_eq!(c["tags"].as_array().unwrap().len(), 3);
    assert!(
        !confirmed.contains(&t(10021)),
        "removed: not on the manifest"
    );
    let drivers: i64 = site.sql("SELECT count(*) FROM drivers WHERE name = 'Dee Driver'");
    assert_eq!(drivers, 1);

    // The next load takes the driver by name and the vehicle by plate alone.
    let other = Site::demo();
    std::fs::copy(site.db(), other.db()).unwrap();
    let (driver, vehicle): (String, String) = {
        let c = rusqlite::Connection::open(other.db()).unwrap();
        c.query_row(
            "SELECT d.drivers_license, v.make FROM drivers d, vehicles v",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    assert_eq!((driver.as_str(), vehicle.as_str()), ("D1234567", "Ford"));
}

#[test]
fn delivery_accepts_and_rejects_whole_packages_and_is_signed() {
    let site = load_confirmed_site();
    let a = site.json_lines(
        &["deliver", "SO-1002", "--json"],
        &lines(&[10005, 10001, 10005]),
    );
    assert_eq!(
        words(&a),
        ["handed_over", "not_on_manifest", "already_scanned"]
    );
    assert_eq!(a[0]["stage"], "deliver");

    // 10006 is neither accepted nor rejected: cannot finish.
    let ink = floor::signature(site.dir.path(), "sig.png", true);
    let before = site.dump();
    let err = site.fails(&[
        "deliver",
        "SO-1002",
        "--finish",
        "--receiver",
        "Rae Receiver",
        "--signature",
        &ink,
    ]);
    assert!(err.contains("neither accepted nor rejected"), "{err}");
    assert_eq!(site.dump(), before);

    let err = site.fails(&[
        "deliver",
        "SO-1002",
        "--reject",
        &t(10006),
        "--reason",
        "smelly",
    ]);
    assert!(err.contains("unknown reason"), "{err}");
    let err = site.fails(&[
        "deliver",
        "SO-1002",
        "--reject",
        &t(10006),
        "--reason",
        "other",
    ]);
    assert!(err.contains("needs a note"), "{err}");
    let err = site.fails(&[
        "deliver",
        "SO-1002",
        "--reject",
        &t(10001),
        "--reason",
        "damaged",
    ]);
    assert!(err.contains("not on the manifest"), "{err}");
    let out = site.ok(&[
        "deliver",
        "SO-1002",
        "--reject",
        &t(10006),
        "--reason",
        "damaged",
        "--note",
        "crushed corner",
    ]);
    assert!(
        out.contains("1 accepted, 1 rejected, 0 not yet scanned"),
        "{out}"
    );
    assert!(out.contains("REJECTED: Damaged (crushed corner)"), "{out}");

    // A blank pad, or no receiver, is no signature.
    let blank = floor::signature(site.dir.path(), "blank.png", false);
    let err = site.fails(&[
        "deliver",
        "SO-1002",
        "--finish",
        "--receiver",
        "Rae",
        "--signature",
        &blank,
    ]);
    assert!(err.contains("has not signed"), "{err}");
    let err = site.fails(&[
        "deliver",
        "SO-1002",
        "--finish",
        "--receiver",
        " ",
        "--signature",
        &ink,
    ]);
    assert!(err.contains("receiver's name is required"), "{err}");
    let broken = site.file("broken.png", b"not a png");
    let err = site.fails(&[
        "deliver",
        "SO-1002",
        "--finish",
        "--receiver",
        "Rae",
        "--signature",
        &broken,
    ]);
    assert!(err.contains("has not signed"), "{err}");

    let out = site.ok(&[
        "deliver",
        "SO-1002",
        "--finish",
        "--receiver",
        "Rae Receiver",
        "--signature",
        &ink,
    ]);
    assert!(
        out.contains("DELIVERED") && out.contains("Rae Receiver"),
        "{out}"
    );
    // The signature is stored with the record, byte for byte.
    let stored: Vec<u8> = site.sql(
        "SELECT a.bytes FROM attachments a JOIN events e
           ON e.kind = 'deliver_finish' AND e.detail LIKE '%' || a.sha256 || '%'",
    );
    assert_eq!(stored, std::fs::read(&ink).unwrap());

    // A second delivery attempt is refused, and changes nothing.
    let before = site.dump();
    let err = site.fails(&["deliver", "SO-1002"]);
    assert!(err.contains("already finished"), "{err}");
    let err = site.fails(&[
        "deliver",
        "SO-1002",
        "--finish",
        "--receiver",
        "Rae",
        "--signature",
        &ink,
    ]);
    assert!(err.contains("already finished"), "{err}");
    assert_eq!(site.dump(), before);
}

#[test]
fn a_delivery_before_the_load_is_refused() {
    let site = picked_site();
    let err = site.fails(&["deliver", "SO-1002"]);
    assert!(err.contains("has not been loaded"), "{err}");
}

#[test]
fn a_phone_that_dies_mid_delivery_keeps_every_answered_scan() {
    let site = load_confirmed_site();
    let mut driver = site.interactive(&["deliver", "SO-1002", "--json"]);
    let first = driver.scan(&format!("{}\n", t(10005)));
    assert_eq!(first["verdict"], "handed_over");
    driver.child.kill().unwrap(); // SIGKILL: the battery died
    driver.child.wait().unwrap();
    let out = site.ok(&["deliver", "SO-1002", "--check"]);
    assert!(
        out.contains("1 accepted, 0 rejected, 1 not yet scanned"),
        "{out}"
    );
    // Carry on where it stopped.
    let a = site.json_lines(&["deliver", "SO-1002", "--json"], &lines(&[10005, 10006]));
    assert_eq!(words(&a), ["already_scanned", "handed_over"]);
    assert_eq!(a[1]["complete"], true);
}

#[test]
fn on_a_station_with_people_each_step_needs_the_right_role() {
    let site = picked_site();
    for (name, role, pin) in [
        ("Pia", "picker", "1111"),
        ("Lou", "loader", "2222"),
        ("Sam", "supervisor", "9999"),
    ] {
        site.ok(&["user", "add", name, "--role", role, "--pin", pin]);
    }
    let err = site.fails(&["load", "SO-1002", "--check"]);
    assert!(err.contains("--person"), "{err}");
    let err = site.fails(&[
        "load", "SO-1002", "--check", "--person", "Pia", "--pin", "1111",
    ]);
    assert!(err.contains("Pia is a picker"), "{err}");
    let err = site.fails(&[
        "load", "SO-1002", "--check", "--person", "Lou", "--pin", "0000",
    ]);
    assert!(err.contains("wrong PIN"), "{err}");
    let out = site.run(
        &["load", "SO-1002", "--json", "--person", "Lou"],
        format!("{}\n", t(10005)).as_bytes(),
    );
    assert!(!out.status.success(), "no PIN given");
    let mut cmd = site.cmd(&["load", "SO-1002", "--json", "--person", "Lou"]);
    cmd.env("TAGTALLY_PIN", "2222")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n", t(10005)).as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let who: String = site.sql("SELECT person FROM events WHERE kind = 'load_scan'");
    assert_eq!(who, "Lou");
    // Removing a package needs a supervisor, who is recorded on the event.
    let err = site.fails(&[
        "load",
        "SO-1002",
        "--remove",
        &t(10006),
        "--reason",
        "x",
        "--person",
        "Lou",
        "--pin",
        "2222",
    ]);
    assert!(err.contains("needs a supervisor"), "{err}");
    site.ok(&[
        "load",
        "SO-1002",
        "--remove",
        &t(10006),
        "--reason",
        "short dated",
        "--person",
        "Sam",
        "--pin",
        "9999",
    ]);
    let who: String = site.sql("SELECT person FROM events WHERE kind = 'remove'");
    assert_eq!(who, "Sam");
}

/// The shipper, as a site config file the commands pick up.
fn with_shipper(site: &Site) {
    let dir = site.dir.path().join("tagtally");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "[ship]\nfacility_name = \"Demo Wholesale LLC\"\nfacility_license = \"C11-0000224-LIC\"\nphone = \"916-555-0100\"\n",
    )
    .unwrap();
}

fn pdftotext(path: &str) -> String {
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path, "-"])
        .output()
        .expect("pdftotext is installed by scripts/setup (poppler-utils)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn manifest_and_template_equal_the_load_and_are_refused_before_it() {
    let site = picked_site();
    with_shipper(&site);
    site.json_lines(&["load", "SO-1002", "--json"], &lines(&[10005]));
    let err = site.fails(&["manifest", "SO-1002"]);
    assert!(
        err.contains("was not fully loaded") && err.contains("1 missing"),
        "{err}"
    );
    site.json_lines(&["load", "SO-1002", "--json"], &lines(&[10006]));
    let mut args = vec!["load", "SO-1002", "--confirm"];
    args.extend_from_slice(DRIVER);
    site.ok(&args);

    // The Metrc template: Metrc's field names, one destination, the loaded packages.
    let body: Value = serde_json::from_str(&site.ok(&["manifest", "SO-1002"])).unwrap();
    let tpl = body.as_array().map(|a| a[0].clone()).unwrap_or(body);
    for key in [
        "Name",
        "TransporterFacilityLicenseNumber",
        "DriverName",
        "DriverOccupationalLicenseNumber",
        "DriverLicenseNumber",
        "VehicleMake",
        "VehicleModel",
        "VehicleLicensePlateNumber",
        "PhoneNumberForQuestions",
        "Destinations",
    ] {
        assert!(tpl.get(key).is_some(), "template lacks {key}: {tpl:#}");
    }
    assert_eq!(tpl["TransporterFacilityLicenseNumber"], "C11-0000224-LIC");
    assert_eq!(tpl["DriverName"], "Dee Driver");
    assert_eq!(tpl["VehicleLicensePlateNumber"], "8ABC123");
    let d = &tpl["Destinations"][0];
    for key in [
        "RecipientLicenseNumber",
        "TransferTypeName",
        "PlannedRoute",
        "EstimatedDepartureDateTime",
        "EstimatedArrivalDateTime",
        "Transporters",
        "Packages",
    ] {
        assert!(d.get(key).is_some(), "destination lacks {key}: {d:#}");
    }
    assert_eq!(d["RecipientLicenseNumber"], "C10-0000733-LIC");
    let labels: Vec<&str> = d["Packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["PackageLabel"].as_str().unwrap())
        .collect();
    assert_eq!(labels, [t(10005), t(10006)]);
    for p in d["Packages"].as_array().unwrap() {
        assert!(p["WholesalePrice"].is_number(), "{p}");
    }

    // The PDF, read back as text: the same packages, driver and vehicle.
    let out = site.dir.path().join("manifest.pdf");
    let out = out.to_str().unwrap();
    site.ok(&["manifest", "SO-1002", "--format", "pdf", "--out", out]);
    let text = pdftotext(out);
    for want in [
        t(10005).as_str(),
        t(10006).as_str(),
        "Dee Driver",
        "8ABC123",
        "OL-55501",
        "Leaf & Co",
    ] {
        assert!(text.contains(want), "manifest PDF lacks {want}:\n{text}");
    }
    // The PDF stored with the confirmation is the same document.
    let stored: Vec<u8> = site.sql(
        "SELECT a.bytes FROM attachments a JOIN events e
           ON e.kind = 'load_confirm' AND e.detail LIKE '%' || a.sha256 || '%'",
    );
    assert!(stored.starts_with(b"%PDF-"));
}

#[test]
fn the_outcome_and_the_delivery_report_show_returns() {
    let site = load_confirmed_site();
    with_shipper(&site);
    let o: Value = serde_json::from_str(&site.ok(&["report", "SO-1002"])).unwrap();
    assert_eq!(o["stage"], "loaded");
    assert_eq!(o["load"]["packages"], 2);
    let err = site.fails(&["report", "SO-1002", "--format", "pdf"]);
    assert!(err.contains("is not finished"), "{err}");

    site.json_lines(&["deliver", "SO-1002", "--json"], &lines(&[10005]));
    site.ok(&[
        "deliver",
        "SO-1002",
        "--reject",
        &t(10006),
        "--reason",
        "failed_inspection",
        "--note",
        "seal broken",
    ]);
    let ink = floor::signature(site.dir.path(), "sig.png", true);
    site.ok(&[
        "deliver",
        "SO-1002",
        "--finish",
        "--receiver",
        "Rae Receiver",
        "--signature",
        &ink,
    ]);
    let o: Value = serde_json::from_str(&site.ok(&["report", "SO-1002"])).unwrap();
    assert_eq!(o["stage"], "delivered");
    assert_eq!(o["delivery"]["accepted"], 1);
    assert_eq!(o["delivery"]["rejected"], 1);
    assert_eq!(o["returns"][0]["tag"], t(10006));
    assert_eq!(o["returns"][0]["reason"], "Failed inspection");
    assert!(o["delivery"]["receipt_deadline"].is_string());

    let r: Value =
        serde_json::from_str(&site.ok(&["report", "SO-1002", "--format", "json"])).unwrap();
    assert_eq!(r["receiver"], "Rae Receiver");
    assert_eq!(r["rejected"][0]["note"], "seal broken");
    let out = site.dir.path().join("report.pdf");
    let out = out.to_str().unwrap();
    site.ok(&["report", "SO-1002", "--format", "pdf", "--out", out]);
    let text = pdftotext(out);
    for want in [
        "Rae Receiver",
        "seal broken",
        t(10006).as_str(),
        "Dee Driver",
    ] {
        assert!(text.contains(want), "report PDF lacks {want}:\n{text}");
    }
}

#[test]
fn template_times_are_metrc_local_times() {
    let site = load_confirmed_site();
    with_shipper(&site);
    let body: Value = serde_json::from_str(&site.ok(&["manifest", "SO-1002"])).unwrap();
    let d = &body[0]["Destinations"][0];
    for key in ["EstimatedDepartureDateTime", "EstimatedArrivalDateTime"] {
        let t = d[key].as_str().unwrap();
        // 2018-03-06T09:15:00.000: local time with milliseconds, no offset.
        assert!(
            chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.3f").is_ok()
                && t.len() == 23,
            "{key} = {t}"
        );
    }
}

/// Metrc says `tag` is on hold now (a newer snapshot of the package).
fn put_on_hold(site: &Site, n: u32) {
    let text = std::fs::read_to_string(demo_file("packages.json")).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    let p = doc["Data"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["Label"] == t(n))
        .unwrap()
        .clone();
    let mut p = p;
    p["IsOnHold"] = Value::Bool(true);
    p["LastModified"] = Value::String("2026-11-27T12:00:00Z".into());
    let file = site.file("hold.json", serde_json::json!({ "Data": [p] }).to_string());
    site.ok(&["import", "packages", &file]);
}

#[test]
fn a_hold_after_loading_blocks_the_confirmation_and_acceptance_needs_the_hand_over() {
    let site = picked_site();
    site.json_lines(&["load", "SO-1002", "--json"], &lines(&[10005, 10006]));
    put_on_hold(&site, 10006);
    let mut args = vec!["load", "SO-1002", "--confirm"];
    args.extend_from_slice(DRIVER);
    let err = site.fails(&args);
    assert!(err.contains(&t(10006)) && err.contains("on hold"), "{err}");
    // A supervisor takes it off: it must be scanned off the vehicle, then the load
    // (now one package) confirms.
    site.ok(&[
        "load",
        "SO-1002",
        "--remove",
        &t(10006),
        "--reason",
        "on hold",
    ]);
    let check = site.ok(&["load", "SO-1002", "--check"]);
    assert!(check.contains(&format!("extra   {}", t(10006))), "{check}");
    let a = site.json_lines(&["load", "SO-1002", "--json"], &lines(&[10006]));
    assert_eq!(words(&a), ["removed"]);
    assert!(
        site.ok(&["load", "SO-1002", "--check"])
            .contains("ready to confirm")
    );
    site.ok(&args);

    // At the dispensary: a package can be accepted only once it was handed over.
    let err = site.fails(&["deliver", "SO-1002", "--accept", &t(10005)]);
    assert!(err.contains("not scanned at hand-over"), "{err}");
}

#[test]
fn a_load_is_not_confirmed_without_the_shipper_its_manifest_needs() {
    let site = Site::demo();
    site.pick_json("SO-1002", &lines(&[10005, 10006]));
    site.json_lines(&["load", "SO-1002", "--json"], &lines(&[10005, 10006]));
    let before = site.dump();
    let mut args = vec!["load", "SO-1002", "--confirm"];
    args.extend_from_slice(DRIVER);
    let err = site.fails(&args);
    // The manifest's own refusal, up front: nothing is confirmed, nothing changes.
    assert!(
        err.contains("the shipper's license is not set: set [ship] facility_license"),
        "{err}"
    );
    assert_eq!(
        site.dump(),
        before,
        "a refused confirmation changes nothing"
    );
    // With the shipper set, the same load confirms and its paper is there.
    with_shipper(&site);
    site.ok(&args);
    let pdf = site.dir.path().join("m.pdf");
    site.ok(&[
        "manifest",
        "SO-1002",
        "--format",
        "pdf",
        "--out",
        pdf.to_str().unwrap(),
    ]);
    assert!(pdftotext(pdf.to_str().unwrap()).contains(&t(10005)));
}

#[test]
fn a_cancelled_order_is_not_loaded() {
    let site = picked_site();
    let text = std::fs::read_to_string(demo_file("orders.json")).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    let so = doc["results"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|o| o["number"] == "SO-1002")
        .unwrap();
    so["status"] = Value::String("Cancelled".into());
    let file = site.file("cancel.json", so.to_string());
    site.ok(&["import", "order", &file]);
    let err = site.fails(&["load", "SO-1002"]);
    assert!(
        err.contains("is closed (Cancelled): it cannot be loaded"),
        "{err}"
    );
}

//! What the floor did, written back to LeafLink, against the LeafLink emulator on a
//! loopback port: `tagtally leaflink push` (a real child process on a real
//! database) marks a fully picked line packed with its tags in the notes, moves the
//! order fulfilled, shipped (with Metrc's manifest number) and complete as the floor
//! picks, loads and delivers, each exactly once however often it runs; an undo after
//! packing takes the mark back; a write LeafLink refuses is shown with LeafLink's
//! words and not sent again; LeafLink down for an hour, or an answer lost, and every
//! write still arrives once; a hub with `push = true` writes back while it serves.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::Value;
use tagtally::config::{LeafLinkSettings, Secret};
use tagtally::domain::writeback::Platform;
use tagtally::hub::HubOptions;
use tagtally::leaflink::emulator::{Emulator, Fault};
use tagtally::leaflink::{Client, push::LeafLinkSink};

#[path = "support/floor.rs"]
mod floor;
use floor::{DRIVER, lines, t};

#[path = "support/site.rs"]
mod site;
use site::{Site, demo_file};

#[path = "support/hub.rs"]
mod hub;

const KEY: &str = "ll-push-key";
/// The demo's two LeafLink orders in the emulator, pulled into a site that holds
/// the demo packages and names its shipper.
fn setup() -> (Arc<Emulator>, Site, String) {
    let mut orders =
        Emulator::orders_of(&std::fs::read(demo_file("orders.json")).unwrap()).unwrap();
    // The demo's SO-1002 is still Submitted; the coordinator accepted it.
    for o in &mut orders {
        o["status"] = "Accepted".into();
    }
    let emu = Emulator::new(KEY, orders);
    let url = emu.spawn();
    let site = Site::new();
    site.ok(&[
        "import",
        "packages",
        demo_file("packages.json").to_str().unwrap(),
    ]);
    configure(&site, &url, 5);
    let out = site.ok(&["leaflink", "pull"]);
    assert!(out.contains("2 new"), "{out}");
    (emu, site, url)
}

fn configure(site: &Site, url: &str, timeout: u64) {
    let dir = site.dir.path().join("tagtally");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[leaflink]\nbase_url = \"{url}\"\napi_key = \"{KEY}\"\n\
             max_requests_per_minute = 300\ntimeout_seconds = {timeout}\n\
             [ship]\nfacility_name = \"Demo Wholesale LLC\"\n\
             facility_license = \"C11-0000224-LIC\"\nphone = \"916-555-0100\"\n"
        ),
    )
    .unwrap();
}

/// The writes the emulator received, as "METHOD path".
fn writes(emu: &Emulator) -> Vec<String> {
    emu.writes()
        .iter()
        .map(|w| format!("{} {}", w.method, w.path))
        .collect()
}

fn line_of(emu: &Emulator, order: &str, id: i64) -> Value {
    emu.order(order).unwrap()["line_items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == id)
        .unwrap()
        .clone()
}

fn status_of(emu: &Emulator, order: &str) -> String {
    emu.order(order).unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_floor_is_written_back_once_each_as_it_picks_loads_and_delivers() {
    let (emu, site, _) = setup();
    // Half a line picked: nothing to write.
    site.pick_json("SO-1002", &lines(&[10005]));
    let out = site.ok(&["leaflink", "push"]);
    assert!(out.contains("0 sent"), "{out}");
    assert!(writes(&emu).is_empty(), "{:?}", writes(&emu));

    // The line complete, the order complete: the line packed, the order fulfilled.
    site.pick_json("SO-1002", &lines(&[10006]));
    let status = site.ok(&["status", "SO-1002"]);
    assert!(
        status.contains("line 11 packed (2 packages): not queued"),
        "{status}"
    );
    let out = site.ok(&["leaflink", "push"]);
    assert!(out.contains("2 sent"), "{out}");
    assert_eq!(
        writes(&emu),
        [
            "PATCH /api/v2/line-items/11/",
            "POST /api/v2/orders-received/SO-1002/transition/fulfill/"
        ]
    );
    let line = line_of(&emu, "SO-1002", 11);
    assert_eq!(line["is_packed"], true, "{line}");
    let notes = line["notes"].as_str().unwrap();
    assert!(
        notes.contains(&t(10005)) && notes.contains(&t(10006)),
        "{notes}"
    );
    assert!(line["packed_at"].as_str().is_some(), "{line}");
    // package_tags cannot be written: LeafLink's stay as they were.
    assert_eq!(line["package_tags"].as_array().unwrap().len(), 2);
    assert_eq!(status_of(&emu, "SO-1002"), "Fulfilled");

    // A second push sends nothing new.
    let out = site.ok(&["leaflink", "push"]);
    assert!(out.contains("0 sent"), "{out}");
    assert_eq!(writes(&emu).len(), 2);
    let status = site.ok(&["status", "SO-1002"]);
    assert!(
        status.contains("LeafLink order SO-1002 (Fulfilled)"),
        "{status}"
    );
    assert!(
        status.contains("line 11 packed (2 packages): done"),
        "{status}"
    );
    assert!(status.contains("order fulfilled: done"), "{status}");

    // Loaded: shipped. Metrc's manifest number, once read back, goes on the order.
    site.json_lines(&["load", "SO-1002", "--json"], &lines(&[10005, 10006]));
    let mut args = vec!["load", "SO-1002", "--confirm"];
    args.extend_from_slice(DRIVER);
    site.ok(&args);
    site.ok(&["leaflink", "push"]);
    assert_eq!(status_of(&emu, "SO-1002"), "Shipped");
    {
        let mut store = hub::open(&site.db());
        store
            .store_metrc_delivery(&tagtally::store::MetrcDelivery {
                delivery_id: 7001,
                transfer_id: 9001,
                manifest_number: Some("0000123456".into()),
                order: "SO-1002".into(),
                recipient_license: Some("C10-0000777-LIC".into()),
                received_at: None,
                read_at: Utc::now(),
                packages: vec![],
            })
            .unwrap();
    }
    site.ok(&["leaflink", "push"]);
    let order = emu.order("SO-1002").unwrap();
    assert_eq!(order["delivery_info"]["manifest_number"], "0000123456");

    // Delivered: complete.
    site.json_lines(&["deliver", "SO-1002", "--json"], &lines(&[10005, 10006]));
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
    let out = site.ok(&["leaflink", "push"]);
    assert!(out.contains("1 sent"), "{out}");
    assert_eq!(status_of(&emu, "SO-1002"), "Complete");
    site.ok(&["leaflink", "push"]);
    assert_eq!(
        writes(&emu),
        [
            "PATCH /api/v2/line-items/11/",
            "POST /api/v2/orders-received/SO-1002/transition/fulfill/",
            "POST /api/v2/orders-received/SO-1002/transition/ship/",
            "PATCH /api/v2/orders-received/SO-1002/",
            "POST /api/v2/orders-received/SO-1002/transition/complete/",
        ]
    );
    // Every write succeeded; SO-1001 was never touched.
    assert!(emu.writes().iter().all(|w| w.status == 200));
    assert_eq!(status_of(&emu, "SO-1001"), "Accepted");
    let out = site.ok(&["leaflink", "status"]);
    assert!(
        out.contains("write-backs: 5 done, 0 waiting, 0 refused"),
        "{out}"
    );
    // The key never shows.
    assert!(!out.contains(KEY) && !site.dump().contains(KEY));
}

#[test]
fn an_undo_after_packing_takes_the_mark_back_and_keeps_the_line_s_notes() {
    let (emu, site, _) = setup();
    emu.change(
        "SO-1002",
        serde_json::json!({"line_items": [{
            "id": 11, "product": {"id": 111, "sku": "SFV-1G", "name": "SFV OG 1g"},
            "quantity": "2.0000", "unit_of_measure": "Unit", "batch": "SFV-0117",
            "package_tags": [t(10005), t(10006)], "notes": "Fragile: top shelf",
            "is_packed": false
        }]}),
    );
    site.pick_json("SO-1002", &lines(&[10005, 10006]));
    site.ok(&["leaflink", "push"]);
    let line = line_of(&emu, "SO-1002", 11);
    assert_eq!(line["is_packed"], true);
    assert!(
        line["notes"]
            .as_str()
            .unwrap()
            .starts_with("Fragile: top shelf\n"),
        "{line}"
    );
    site.ok(&[
        "pick",
        "SO-1002",
        "--undo",
        &t(10006),
        "--reason",
        "damaged",
    ]);
    let out = site.ok(&["leaflink", "push"]);
    assert!(out.contains("1 sent"), "{out}");
    let line = line_of(&emu, "SO-1002", 11);
    assert_eq!(line["is_packed"], false, "{line}");
    assert_eq!(line["notes"], "Fragile: top shelf");
    let status = site.ok(&["status", "SO-1002"]);
    assert!(
        status.contains("line 11 no longer packed: done"),
        "{status}"
    );
}

#[test]
fn a_write_leaflink_refuses_is_shown_in_its_words_and_not_sent_again() {
    let (emu, site, _) = setup();
    emu.refuse_writes("11", "This line item is locked for editing.");
    site.pick_json("SO-1002", &lines(&[10005, 10006]));
    let out = site.ok(&["leaflink", "push"]);
    assert!(out.contains("1 refused"), "{out}");
    assert!(
        out.contains("This line item is locked for editing."),
        "{out}"
    );
    let status = site.ok(&["status", "SO-1002"]);
    assert!(
        status.contains("line 11 packed (2 packages): REFUSED")
            && status.contains("This line item is locked for editing."),
        "{status}"
    );
    // The order's own stage still went (a refused line does not hold it).
    assert_eq!(status_of(&emu, "SO-1002"), "Fulfilled");
    let before = writes(&emu).len();
    site.ok(&["leaflink", "push"]);
    site.ok(&["leaflink", "push"]);
    assert_eq!(writes(&emu).len(), before, "{:?}", writes(&emu));
    let out = site.ok(&["leaflink", "status"]);
    assert!(out.contains("1 refused") && out.contains("locked"), "{out}");

    // Mended in LeafLink, a person asks again: it goes, once.
    emu.clear_refusals();
    let out = site.ok(&["leaflink", "push", "--retry-failed"]);
    assert!(
        out.contains("1 refused writes queued again") && out.contains("1 sent"),
        "{out}"
    );
    assert_eq!(line_of(&emu, "SO-1002", 11)["is_packed"], true);
    assert_eq!(writes(&emu).len(), before + 1);

    // A wrong key: said with what to do, nothing written, the write still waits.
    let url = emu.spawn();
    let dir = site.dir.path().join("tagtally");
    std::fs::write(
        dir.join("config.toml"),
        format!("[leaflink]\nbase_url = \"{url}\"\napi_key = \"wrong\"\n"),
    )
    .unwrap();
    // 10003 is on hold: line 1 is short of it, and packed with the other three.
    site.pick_json("SO-1001", &lines(&[10001, 10002, 10004]));
    site.ok(&["pick", "SO-1001", "--short", "1", "--reason", "on hold"]);
    let err = site.fails(&["leaflink", "push"]);
    assert!(
        err.contains("refused the API key") && err.contains("api_key"),
        "{err}"
    );
    assert!(!err.contains("wrong\""), "{err}");
}

/// The library's round at a chosen time, against the emulator.
fn round(site: &Site, url: &str, now: chrono::DateTime<Utc>) -> tagtally::writeback::WorkReport {
    let settings = LeafLinkSettings {
        base_url: url.into(),
        api_key: Secret::new(KEY),
        max_requests_per_minute: 300,
        timeout_seconds: 1,
        ..LeafLinkSettings::default()
    };
    let client = Client::new(&settings).unwrap();
    let mut store = hub::open(&site.db());
    let sink = LeafLinkSink { client: &client };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(tagtally::writeback::round(&mut store, &sink, now))
        .unwrap()
}

#[test]
fn leaflink_down_for_an_hour_or_an_answer_lost_and_every_write_still_arrives_once() {
    let (emu, site, url) = setup();
    site.pick_json("SO-1002", &lines(&[10005, 10006]));
    let start = Utc::now();
    emu.set_down(true);
    let mut at = start;
    let mut tries = 0;
    while at < start + Duration::hours(1) {
        let r = round(&site, &url, at);
        tries += r.retry.len();
        assert_eq!(r.sent, 0);
        at += Duration::seconds(30);
    }
    assert!(writes(&emu).is_empty());
    // Backed off: far fewer tries than rounds (120 rounds).
    assert!((1..=30).contains(&tries), "{tries} tries in an hour");
    let status = site.ok(&["status", "SO-1002"]);
    assert!(status.contains("waiting (tried"), "{status}");
    assert!(status.contains("503"), "{status}");

    // Back: within five minutes every write is sent, each once.
    emu.set_down(false);
    let mut sent = 0;
    for _ in 0..11 {
        sent += round(&site, &url, at).sent;
        at += Duration::seconds(30);
    }
    assert_eq!(sent, 2);
    assert_eq!(
        writes(&emu),
        [
            "PATCH /api/v2/line-items/11/",
            "POST /api/v2/orders-received/SO-1002/transition/fulfill/"
        ]
    );

    // The ship transition's answer is lost (LeafLink did it, the client timed
    // out): the next round reads the order, finds it shipped, and sends nothing.
    site.json_lines(&["load", "SO-1002", "--json"], &lines(&[10005, 10006]));
    let mut args = vec!["load", "SO-1002", "--confirm"];
    args.extend_from_slice(DRIVER);
    site.ok(&args);
    emu.inject(Fault::Pass); // the GET before the transition
    emu.inject(Fault::LoseAnswer { seconds: 3 });
    let r = round(&site, &url, at);
    assert_eq!(r.retry.len(), 1, "{r:?}");
    assert_eq!(status_of(&emu, "SO-1002"), "Shipped");
    let r = round(&site, &url, at + Duration::minutes(5));
    assert_eq!((r.sent, r.already), (0, 1), "{r:?}");
    let ships = writes(&emu)
        .iter()
        .filter(|w| w.ends_with("/transition/ship/"))
        .count();
    assert_eq!(ships, 1);
    let status = site.ok(&["status", "SO-1002"]);
    assert!(
        status.contains("order shipped: done (it was so already)"),
        "{status}"
    );

    // A process killed after counting its try (the lease and the attempt are
    // durable): the next one takes the write over, reads, and sends it once.
    site.json_lines(&["deliver", "SO-1002", "--json"], &lines(&[10005, 10006]));
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
    {
        let mut store = hub::open(&site.db());
        tagtally::writeback::reconcile(&mut store, Platform::LeafLink, at).unwrap();
        let w = store
            .due_platform_writes(Platform::LeafLink, at)
            .unwrap()
            .pop()
            .unwrap();
        assert!(
            store
                .lease_platform_write(w.id, at, at + Duration::minutes(5))
                .unwrap()
        );
        assert!(
            store
                .platform_write_attempt(w.id, at, at + Duration::minutes(5))
                .unwrap()
        );
        // ... and the process dies here, before it sends.
    }
    let r = round(&site, &url, at + Duration::seconds(1));
    assert_eq!(r.sent, 1, "{r:?}");
    assert_eq!(status_of(&emu, "SO-1002"), "Complete");
    assert_eq!(
        writes(&emu)
            .iter()
            .filter(|w| w.ends_with("/transition/complete/"))
            .count(),
        1
    );
}

#[test]
fn a_hub_with_push_on_writes_back_while_it_serves() {
    let (emu, site, url) = setup();
    let h = hub::TestHub::serve_with(
        hub::open(&site.db()),
        None,
        HubOptions {
            leaflink: Some(LeafLinkSettings {
                base_url: url,
                api_key: Secret::new(KEY),
                poll_seconds: 1,
                push: true,
                max_requests_per_minute: 300,
                ..LeafLinkSettings::default()
            }),
            ..HubOptions::default()
        },
    );
    site.pick_json("SO-1002", &lines(&[10005, 10006]));
    hub::eventually(
        "the hub marks the line packed and the order fulfilled",
        || {
            status_of(&emu, "SO-1002") == "Fulfilled"
                && line_of(&emu, "SO-1002", 11)["is_packed"] == true
        },
    );
    h.stop();
    assert_eq!(writes(&emu).len(), 2, "{:?}", writes(&emu));
}

#[test]
fn an_order_that_disappears_from_leaflink_is_said_and_nothing_here_changes() {
    let (emu, site, _) = setup();
    site.pick_json("SO-1002", &lines(&[10005, 10006]));
    assert!(emu.remove_order("SO-1002"));
    let out = site.ok(&["leaflink", "push"]);
    assert!(out.contains("refused"), "{out}");
    assert!(
        out.contains("LeafLink has no") && out.contains("(404)"),
        "{out}"
    );
    // The picks, the order and its lines are as they were; the refusal is shown.
    let events: i64 = site.sql("SELECT count(*) FROM events WHERE order_number = 'SO-1002'");
    assert_eq!(events, 2);
    let status = site.ok(&["status", "SO-1002"]);
    assert!(
        status.contains("REFUSED") && status.contains("404"),
        "{status}"
    );
    assert!(status.contains("order SO-1002: 2/2 picked"), "{status}");
    // A pull does not bring it back, nor drop it.
    site.ok(&["leaflink", "pull"]);
    assert!(site.ok(&["orders"]).contains("SO-1002"));
}

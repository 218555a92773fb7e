//! What the floor did, written back to Apex as the order's status, against the Apex
//! emulator on a loopback port: `tagtally apex push` (a real child process on a real
//! database) moves a complete order to its deal flow's first "Pending Shipment"
//! status, a confirmed load to "In Transit" and a signed delivery to "Delivered", each
//! exactly once however often it runs, reading the order first; a status Apex refuses
//! is shown in Apex's words and not sent again.

use std::sync::Arc;

use serde_json::Value;
use tagtally::apex::emulator::Emulator;

#[path = "support/floor.rs"]
mod floor;
use floor::{DRIVER, lines};

#[path = "support/site.rs"]
mod site;
use site::{Site, demo_file};

const TOKEN: &str = "apex-push-token";
/// The demo's Apex orders in the emulator, pulled into a site holding the demo
/// packages that names its shipper; `extra` is more of `[apex]`.
fn setup(extra: &str) -> (Arc<Emulator>, Site) {
    let orders =
        Emulator::orders_of(&std::fs::read(demo_file("apex-orders.json")).unwrap()).unwrap();
    let emu = Emulator::new(TOKEN, orders);
    let url = emu.spawn();
    let site = Site::new();
    site.ok(&[
        "import",
        "packages",
        demo_file("packages.json").to_str().unwrap(),
    ]);
    let dir = site.dir.path().join("tagtally");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[apex]\nbase_url = \"{url}\"\ntoken = \"{TOKEN}\"\ntimeout_seconds = 5\n{extra}\n\
             [ship]\nfacility_name = \"Demo Wholesale LLC\"\n\
             facility_license = \"C11-0000224-LIC\"\nphone = \"916-555-0100\"\n"
        ),
    )
    .unwrap();
    let out = site.ok(&["apex", "pull"]);
    assert!(out.contains("new"), "{out}");
    (emu, site)
}

fn status_of(emu: &Emulator, id: i64) -> i64 {
    emu.order(id).unwrap()["order_status_id"].as_i64().unwrap()
}

fn puts(emu: &Emulator) -> Vec<(i64, Value)> {
    emu.writes()
        .iter()
        .map(|w| (w.order_id, w.body["order_status_id"].clone()))
        .collect()
}

#[test]
fn the_floor_moves_the_apex_order_through_its_deal_flow_once_each() {
    let (emu, site) = setup("");
    // AX-2001 (Apex id 48211, deal flow 7): two lines, one package each.
    site.pick_json("AX-2001", &lines(&[10007]));
    let out = site.ok(&["apex", "push"]);
    assert!(out.contains("0 sent"), "{out}");
    assert!(emu.writes().is_empty());

    site.pick_json("AX-2001", &lines(&[10031]));
    let out = site.ok(&["apex", "push"]);
    assert!(out.contains("1 sent"), "{out}");
    // Deal flow 7's first unarchived status under Pending Shipment is 302 "Packed".
    assert_eq!(status_of(&emu, 48211), 302);
    let out = site.ok(&["apex", "push"]);
    assert!(out.contains("0 sent"), "{out}");
    let status = site.ok(&["status", "AX-2001"]);
    assert!(status.contains("Apex order 48211 (302)"), "{status}");
    assert!(status.contains("order fulfilled: done"), "{status}");

    site.json_lines(&["load", "AX-2001", "--json"], &lines(&[10007, 10031]));
    let mut args = vec!["load", "AX-2001", "--confirm"];
    args.extend_from_slice(DRIVER);
    site.ok(&args);
    site.ok(&["apex", "push"]);
    assert_eq!(status_of(&emu, 48211), 303);

    site.json_lines(&["deliver", "AX-2001", "--json"], &lines(&[10007, 10031]));
    let ink = floor::signature(site.dir.path(), "sig.png", true);
    site.ok(&[
        "deliver",
        "AX-2001",
        "--finish",
        "--receiver",
        "Rae Receiver",
        "--signature",
        &ink,
    ]);
    site.ok(&["apex", "push"]);
    site.ok(&["apex", "push"]);
    assert_eq!(status_of(&emu, 48211), 304);
    assert_eq!(
        puts(&emu),
        [
            (48211, 302.into()),
            (48211, 303.into()),
            (48211, 304.into())
        ]
    );
    assert!(emu.writes().iter().all(|w| w.status == 200));
    let out = site.ok(&["apex", "status"]);
    assert!(
        out.contains("write-backs: 3 done, 0 waiting, 0 refused"),
        "{out}"
    );
    assert!(!out.contains(TOKEN) && !site.dump().contains(TOKEN));
}

#[test]
fn an_order_moved_in_apex_already_is_left_alone_and_a_refused_status_is_shown() {
    // A configured id from another deal flow: Apex refuses it for this order.
    let (emu, site) = setup("[apex.status_ids]\npacked = 402\n");
    site.pick_json("AX-2001", &lines(&[10007, 10031]));
    let out = site.ok(&["apex", "push"]);
    assert!(out.contains("1 refused"), "{out}");
    let status = site.ok(&["status", "AX-2001"]);
    assert!(status.contains("order fulfilled: REFUSED"), "{status}");
    assert_eq!(status_of(&emu, 48211), 301);
    let before = emu.writes().len();
    site.ok(&["apex", "push"]);
    assert_eq!(
        emu.writes().len(),
        before,
        "a refused write is not sent again"
    );

    // Somebody moves it in Apex by hand; asked again, tagtally reads it and sends
    // nothing.
    assert!(emu.change(48211, serde_json::json!({"order_status_id": 306})));
    let out = site.ok(&["apex", "push", "--retry-failed"]);
    assert!(out.contains("0 sent, 1 already there"), "{out}");
    assert_eq!(emu.writes().len(), before);
    let status = site.ok(&["status", "AX-2001"]);
    assert!(
        status.contains("order fulfilled: done (it was so already)"),
        "{status}"
    );
}

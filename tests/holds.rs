//! Events held for a supervisor's ruling, end to end: a real hub on a loopback port,
//! device databases, and the command line on the hub's own database. An event that
//! names somebody the hub does not know is kept and held, never refused; the hub's
//! merged view shows it as an exception; a supervisor's ruling (from the command line
//! on the hub) makes it count on the hub and, after a sync, on the device; a device
//! may not push a hold itself.

#[path = "support/hub.rs"]
mod support;

use std::process::Command;

use support::*;
use tagtally::domain::merge::ExceptionKind;
use tagtally::domain::people::Role;
use tagtally::domain::{Event, EventKind, EventRef};
use tagtally::sync::SyncError;

/// `tagtally --db hub.db ARGS`: (success, stdout, stderr).
fn on_hub(site: &Site, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("--db")
        .arg(site.hub_db())
        .args(args)
        .env_remove("TAGTALLY_PIN")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn held_exceptions(m: &tagtally::domain::merge::MergedOrder) -> Vec<String> {
    m.exceptions
        .iter()
        .filter(|e| matches!(e.kind, ExceptionKind::Held { .. }))
        .map(|e| e.message.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_person_is_held_shown_and_ruled_from_the_command_line() {
    let site = Site::new();
    {
        let mut hub = site.hub_store();
        hub.set_person("Pia", Role::Picker, "1111").unwrap();
        hub.set_person("Sam", Role::Supervisor, "9999").unwrap();
    }
    let hub = TestHub::start(&site.hub_db(), None);
    let mut vault = site.device("vault-1", &hub.url()).await;
    // Somebody the hub does not list (the device's own people, say) picks.
    vault.store.set_signed_in(Some("Zed"));
    assert_eq!(vault.pick(&[T1]), ["accepted"]);
    let r = vault.sync().await.unwrap();
    assert_eq!(
        (r.refused.len(), r.waiting, r.held.len()),
        (0, 0, 1),
        "{r:?}"
    );
    assert!(r.held[0].contains("\"Zed\""), "{r:?}");
    let held = format!("{}/1", vault.id());

    // The hub's merged view: not counted, one exception saying why.
    let m = vault.client.order(ORDER).await.unwrap();
    assert_eq!(m.progress.picked, 0);
    let ex = held_exceptions(&m);
    assert_eq!(ex.len(), 1, "{m:?}");
    assert!(ex[0].contains("not a person on this hub"), "{ex:?}");
    // The device counts what the hub counts, and lists the hold.
    assert_eq!(
        tagtally::app::status(&vault.store, ORDER).unwrap().picked,
        0
    );
    let (ok, out, _) = on_hub(&site, &["status", ORDER]);
    assert!(ok && out.contains("1 event held for a supervisor") && out.contains(&held));

    // Only a supervisor rules, and only on a held event.
    let (ok, _, err) = on_hub(&site, &["rule", ORDER, &held, "--accept"]);
    assert!(!ok && err.contains("--person"), "{err}");
    let pia = ["--person", "Pia", "--pin", "1111"];
    let (ok, _, err) = on_hub(
        &site,
        &[&["rule", ORDER, &held, "--accept"][..], &pia].concat(),
    );
    assert!(!ok && err.contains("supervisor"), "{err}");
    let sam = ["--person", "Sam", "--pin", "9999"];
    let (ok, _, err) = on_hub(
        &site,
        &[&["rule", ORDER, "vault-9/3", "--accept"][..], &sam].concat(),
    );
    assert!(!ok && err.contains("not held for a ruling"), "{err}");
    let (ok, _, err) = on_hub(
        &site,
        &[&["rule", ORDER, &held, "--reject"][..], &sam].concat(),
    );
    assert!(!ok && err.contains("reason"), "{err}");
    let (ok, _, err) = on_hub(
        &site,
        &[&["rule", ORDER, "nonsense", "--accept"][..], &sam].concat(),
    );
    assert!(!ok && err.contains("DEVICE/SEQ"), "{err}");
    // Nothing of the refused was recorded: still held.
    assert_eq!(
        tagtally::app::ruling::held(&site.hub_store(), ORDER)
            .unwrap()
            .len(),
        1
    );

    let (ok, out, err) = on_hub(
        &site,
        &[&["rule", ORDER, &held, "--accept"][..], &sam].concat(),
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("{held} accepted: it counts"));
    // The hub counts it at once (another process wrote its database) ...
    let m = vault.client.order(ORDER).await.unwrap();
    assert_eq!(m.progress.picked, 1, "{m:?}");
    assert!(held_exceptions(&m).is_empty(), "{m:?}");
    let (ok, out, _) = on_hub(&site, &["status", ORDER, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        ok && v["picked"] == 1 && v["held"] == serde_json::json!([]),
        "{v}"
    );
    // ... and the device once it syncs.
    vault.sync().await.unwrap();
    assert_eq!(
        tagtally::app::status(&vault.store, ORDER).unwrap().picked,
        1
    );
    assert!(
        tagtally::app::ruling::held(&vault.store, ORDER)
            .unwrap()
            .is_empty()
    );
    let rulings: Vec<Event> = site
        .hub_store()
        .events_for_order(ORDER)
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::Ruling { .. }))
        .collect();
    assert_eq!(rulings.len(), 1, "{rulings:?}");
    assert_eq!(rulings[0].person.as_deref(), Some("Sam"));
    hub.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_may_not_push_a_hold() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let dev = site.device("vault-1", &hub.url()).await;
    let forged = Event {
        device: dev.id(),
        seq: 1,
        at: now(),
        order: ORDER.into(),
        person: None,
        kind: EventKind::Hold {
            event: EventRef {
                device: "vault-2".into(),
                seq: 1,
            },
            why: "because".into(),
        },
    };
    let err = dev.client.push(ORDER, &[forged], &[], 0).await.unwrap_err();
    assert!(
        matches!(&err, SyncError::Refused { status: 422, error, .. } if error == "hub_only"),
        "{err}"
    );
    assert_eq!(site.hub_events(), 0, "nothing stored");
    let log = site.hub_store().security_log().unwrap();
    assert!(log.iter().any(|e| e.kind == "forged_hold"), "{log:?}");
    hub.stop();
}

/// The dock's and the driver's order lists read the stage as the fold counts it: a
/// load confirmation held for a ruling does not make an order "loaded".
#[test]
fn a_held_confirmation_does_not_make_an_order_loaded() {
    let site = Site::new();
    let mut hub = site.hub_store();
    hub.set_person("Sam", Role::Supervisor, "9999").unwrap();
    let confirm = Event {
        device: "dock-9".into(),
        seq: 1,
        at: now(),
        order: ORDER.into(),
        person: Some("Zed".into()),
        kind: EventKind::LoadConfirm(Box::new(tagtally::domain::LoadConfirm {
            load: "L-1".into(),
            orders: vec![ORDER.into()],
            driver: tagtally::domain::Driver {
                name: "Dee".into(),
                occupational_license: "OL-1".into(),
                drivers_license: "D1".into(),
            },
            vehicle: tagtally::domain::Vehicle {
                make: "Ford".into(),
                model: "Transit".into(),
                plate: "8ABC123".into(),
            },
            tags: vec![tagtally::tag::MetrcTag::new(T1).unwrap()],
            manifest_pdf: None,
        })),
    };
    let r = hub.receive_events(&[confirm]).unwrap();
    assert_eq!(r.held.len(), 1, "{r:?}");
    let stages = hub.order_stages().unwrap();
    assert!(
        !stages.iter().any(|(n, _, s)| n == ORDER && *s == "loaded"),
        "{stages:?}"
    );
}

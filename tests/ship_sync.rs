//! Pick, load and deliver on three devices and a hub: the dock sees the vault's picks,
//! the driver sees the dock's confirmed load, the signature reaches the hub with the
//! record, and on a hub with people an event whose person may not do it (or that
//! names nobody) is kept but held for a supervisor, never refused.

#[path = "support/hub.rs"]
mod support;

use support::*;
use tagtally::app::ship::{DeliverySession, LoadSession};
use tagtally::domain::people::Role;
use tagtally::domain::{Decision, Driver, EventKind, RejectReason, Rules, Vehicle};
use tagtally::scan::Frame;
use tagtally::sync::SyncError;
use tagtally::tag::TagParser;

const ORDER2: &str = "SO-1002";
const T5: &str = "1A4060300003C35000010005";
const T6: &str = "1A4060300003C35000010006";

fn frame(s: &str) -> Frame {
    Frame {
        bytes: s.as_bytes().to_vec(),
        len: s.len(),
    }
}

fn sign_in(d: &mut Device, name: &str, pin: &str) {
    let rule = tagtally::store::Lockout {
        max_failures: 5,
        duration: chrono::Duration::minutes(5),
    };
    let p = d
        .store
        .sign_in(name, pin, chrono::Utc::now(), rule)
        .unwrap()
        .unwrap();
    d.store.set_signed_in(Some(&p.name));
}

fn pick2(d: &mut Device, tags: &[&str]) -> Vec<String> {
    let mut s = tagtally::app::pick::PickSession::open(
        &mut d.store,
        ORDER2,
        TagParser::default(),
        Rules::default(),
    )
    .unwrap();
    tags.iter()
        .map(|t| s.scan(&frame(t)).unwrap().verdict.to_string())
        .collect()
}

fn signature_png() -> Vec<u8> {
    let mut sig = tagtally::signature::Signature::new(300.0, 120.0);
    sig.begin(20.0, 60.0);
    for x in 21..280 {
        sig.extend(x as f32, 60.0 + 25.0 * (x as f32 / 15.0).sin());
    }
    sig.end();
    sig.to_png(2.0).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pick_load_and_deliver_on_three_devices_with_roles_on_the_hub() {
    let site = Site::new();
    {
        let mut hub = site.hub_store();
        hub.set_person("Pia", Role::Picker, "1111").unwrap();
        hub.set_person("Lou", Role::Loader, "2222").unwrap();
        hub.set_person("Dee", Role::Driver, "3333").unwrap();
        hub.set_person("Sam", Role::Supervisor, "9999").unwrap();
    }
    let hub = TestHub::start(&site.hub_db(), None);
    let mut vault = site.device("vault-1", &hub.url()).await;
    let mut dock = site.device("dock-1", &hub.url()).await;
    let mut van = site.device("van-1", &hub.url()).await;
    // The hub's people reached every device: PINs are checked offline.
    assert_eq!(van.store.people().unwrap().len(), 4);

    // A pick recorded with nobody signed in (the device had not heard of the hub's
    // people yet) is a fact of the floor: kept, but held for a supervisor's ruling,
    // never refused; the cause is logged once for the device.
    assert_eq!(pick2(&mut vault, &[T5]), ["accepted"]);
    let r = vault.sync().await.unwrap();
    assert_eq!(
        (r.refused.len(), r.waiting, r.held.len()),
        (0, 0, 1),
        "{r:?}"
    );
    assert!(r.held[0].contains("nobody signed in"), "{r:?}");
    let log = site.hub_store().security_log().unwrap();
    assert!(
        log.iter()
            .any(|e| e.kind == "unattributed" && e.detail.contains("nobody signed in")),
        "{log:?}"
    );
    // The vault heard of the hold with its sync: it counts what the hub counts.
    for store in [&vault.store, &site.hub_store()] {
        assert_eq!(tagtally::app::status(store, ORDER2).unwrap().picked, 0);
        let held = tagtally::app::ruling::held(store, ORDER2).unwrap();
        assert_eq!(held.len(), 1, "{held:?}");
        assert_eq!(held[0].event, format!("{}/1", vault.id()));
    }

    // Signed in, the vault picks both packages: the held pick does not stand in
    // the way.
    sign_in(&mut vault, "Pia", "1111");
    assert_eq!(pick2(&mut vault, &[T5, T6]), ["accepted", "accepted"]);
    let r = vault.sync().await.unwrap();
    assert_eq!((r.waiting, r.held.len()), (0, 0), "{r:?}");
    // A supervisor rejects the unattributed pick (Pia's stands); the ruling is an
    // event like the others, and reaches the hub.
    sign_in(&mut vault, "Sam", "9999");
    let held = format!("{}/1", vault.id()).parse().unwrap();
    tagtally::app::ruling::rule(
        &mut vault.store,
        ORDER2,
        &held,
        false,
        "picked again by Pia",
    )
    .unwrap();
    let r = vault.sync().await.unwrap();
    assert_eq!((r.waiting, r.held.len()), (0, 0), "{r:?}");
    assert!(
        tagtally::app::ruling::held(&site.hub_store(), ORDER2)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        tagtally::app::status(&site.hub_store(), ORDER2)
            .unwrap()
            .picked,
        2
    );

    // A picker may not load: the dock with Pia signed in is not refused (that would
    // block the dock's later events of the order), her scan is held.
    dock.sync().await.unwrap();
    sign_in(&mut dock, "Pia", "1111");
    {
        let mut load = LoadSession::open(
            &mut dock.store,
            &[ORDER2.to_string()],
            TagParser::default(),
            Rules::default(),
        )
        .unwrap();
        assert_eq!(load.scan(&frame(T5)).unwrap().verdict, "loaded");
    }
    let r = dock.sync().await.unwrap();
    assert_eq!((r.refused.len(), r.waiting), (0, 0), "{r:?}");
    assert!(
        r.held.iter().any(|m| m.contains("Pia was a picker")),
        "{r:?}"
    );
    // Synced again and again (the background sync does every second): nothing more
    // held, and the cause is one security-log row.
    for _ in 0..3 {
        let r = dock.sync().await.unwrap();
        assert_eq!((r.refused.len(), r.held.len()), (0, 0), "{r:?}");
    }
    let roles = site
        .hub_store()
        .security_log()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "role")
        .count();
    assert_eq!(roles, 1, "one security-log row per cause, not per retry");

    // The loader on the same dock loads and confirms: the held scan blocks nothing,
    // and does not count (T5 is loaded again). The manifest PDF (if any) travels with
    // the confirmation.
    sign_in(&mut dock, "Lou", "2222");
    {
        let mut load = LoadSession::open(
            &mut dock.store,
            &[ORDER2.to_string()],
            TagParser::default(),
            Rules::default(),
        )
        .unwrap();
        assert_eq!(load.scan(&frame(T5)).unwrap().verdict, "loaded");
        assert_eq!(load.scan(&frame(T6)).unwrap().verdict, "loaded");
        let driver = Driver {
            name: "Dee".into(),
            occupational_license: "OL-1".into(),
            drivers_license: "D-1".into(),
        };
        let vehicle = Vehicle {
            make: "Ford".into(),
            model: "Transit".into(),
            plate: "8ABC123".into(),
        };
        let ship = tagtally::config::ShipSettings {
            facility_name: "Demo Wholesale".into(),
            facility_license: "C11-0000001-LIC".into(),
            ..Default::default()
        };
        load.confirm(
            &driver,
            &vehicle,
            tagtally::app::docs::manifest_attachment(&ship),
        )
        .unwrap();
    }
    assert_eq!(dock.sync().await.unwrap().waiting, 0);

    // The driver's handheld hears of the load and delivers offline, then syncs.
    van.sync().await.unwrap();
    sign_in(&mut van, "Dee", "3333");
    let png = signature_png();
    {
        let mut d = DeliverySession::open(
            &mut van.store,
            ORDER2,
            TagParser::default(),
            Rules::default(),
        )
        .unwrap();
        assert_eq!(d.scan(&frame(T5)).unwrap().verdict, "handed_over");
        d.decide(
            T6,
            Decision::Rejected {
                reason: RejectReason::Damaged,
                note: Some("crushed".into()),
            },
        )
        .unwrap();
        let ink = tagtally::signature::png_has_ink(&png);
        let s = d.finish("Rae Receiver", png.clone(), ink).unwrap();
        assert_eq!((s.accepted, s.rejected, s.open), (1, 1, 0));
    }
    let r = van.sync().await.unwrap();
    assert_eq!((r.waiting, r.refused.len()), (0, 0), "{r:?}");

    // The hub holds the whole record, the signature byte for byte.
    let hub_store = site.hub_store();
    let events = hub_store.events_for_order(ORDER2).unwrap();
    let finish = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::DeliverFinish { signature, .. } => {
                Some((signature.clone(), e.person.clone()))
            }
            _ => None,
        })
        .expect("the finish reached the hub");
    assert_eq!(finish.1.as_deref(), Some("Dee"));
    // The manifest PDF made at confirmation travelled with it.
    let pdf = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::LoadConfirm(c) => c.manifest_pdf.clone(),
            _ => None,
        })
        .expect("a manifest PDF was made at confirmation");
    let pdf = hub_store.attachment(&pdf).unwrap().unwrap();
    assert!(pdf.bytes.starts_with(b"%PDF-"), "{:?}", &pdf.bytes[..8]);

    // The files travel on to the other devices with their events: the dock can make
    // the delivery report, the van holds the manifest PDF.
    dock.sync().await.unwrap();
    let report = tagtally::app::docs::delivery_report_doc(
        &dock.store,
        &tagtally::config::ShipSettings::default(),
        ORDER2,
    )
    .expect("the dock holds the signature after a sync");
    assert_eq!(report.signature_png, png);
    assert!(van.store.attachment(&pdf.sha256).unwrap().is_some());

    // The hub shows the outcome and exports the report and the manifest.
    let http = reqwest::Client::new();
    let get = |path: String| {
        http.get(format!("{}{path}", hub.url()))
            .bearer_auth(&van.token)
            .send()
    };
    let o: serde_json::Value = get(format!("/orders/{ORDER2}/outcome"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(o["stage"], "delivered");
    assert_eq!(
        (
            o["delivery"]["accepted"].as_u64(),
            o["delivery"]["rejected"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(o["returns"][0]["tag"], T6);
    assert_eq!(o["returns"][0]["note"], "crushed");
    let r = get(format!("/orders/{ORDER2}/report?format=pdf"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(r.bytes().await.unwrap().starts_with(b"%PDF-"));
    // No shipper license on this hub: the template is refused with the reason.
    let r = get(format!("/orders/{ORDER2}/manifest")).await.unwrap();
    assert_eq!(r.status(), 409);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("facility_license"),
        "{body}"
    );
    // An order still being picked has no report.
    let r = get(format!("/orders/{ORDER}/report")).await.unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(hub_store.attachment(&finish.0).unwrap().unwrap().bytes, png);
    hub.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_without_its_attachment_or_with_a_forged_one_is_refused() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let dev = site.device("van-1", &hub.url()).await;
    let event = tagtally::domain::Event {
        device: dev.id(),
        seq: 1,
        at: now(),
        order: ORDER2.into(),
        person: None,
        kind: EventKind::DeliverFinish {
            receiver: "Rae".into(),
            signature: "ab".repeat(32),
        },
    };
    let err = dev
        .client
        .push(ORDER2, std::slice::from_ref(&event), &[], 0)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SyncError::Refused { error, .. } if error == "missing_attachment"),
        "{err}"
    );
    let mut forged = tagtally::store::Attachment::new("image/png", b"png".to_vec());
    forged.sha256 = "ab".repeat(32);
    let err = dev
        .client
        .push(ORDER2, &[event], &[forged], 0)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SyncError::Refused { error, .. } if error == "bad_attachment"),
        "{err}"
    );
    assert_eq!(site.hub_events(), 0, "nothing stored");
    hub.stop();
}

//! The license hold across a hub and a device: the hub's register facts travel in the
//! snapshot, so the device holds the order offline; a supervisor's release made on the
//! hub travels with the order's events and lets it through on the device.

#[path = "support/hub.rs"]
mod support;

use support::*;
use tagtally::app::pick::PickSession;
use tagtally::domain::Rules;
use tagtally::domain::license::{Entry, RegisterRow};
use tagtally::tag::TagParser;

fn register(hub: &mut tagtally::store::Store, status: &str) {
    let order = hub.find_order(ORDER).unwrap();
    let rows = [RegisterRow {
        row: 2,
        entry: Entry {
            number: order.buyer_license.unwrap(),
            status: status.into(),
            active: status == "Active",
            expires: None,
        },
    }];
    hub.import_licenses(&rows, "test.csv").unwrap();
}

fn opens(store: &mut tagtally::store::Store) -> Result<(), String> {
    PickSession::open(store, ORDER, TagParser::default(), Rules::default())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hubs_register_holds_the_order_on_the_device_until_released_on_the_hub() {
    let site = Site::new();
    register(&mut site.hub_store(), "Suspended");
    let hub = TestHub::start(&site.hub_db(), None);
    let mut vault = site.device("vault-1", &hub.url()).await;

    // The device never imported a register: the hub's facts came with the snapshot.
    assert!(vault.store.register_loaded().unwrap());
    let err = opens(&mut vault.store).unwrap_err();
    assert!(
        err.contains("license hold") && err.contains("\"Suspended\""),
        "{err}"
    );
    // The refusal is an event like the others: it reaches the hub.
    vault.sync().await.unwrap();
    let refused: i64 = {
        let hub_store = site.hub_store();
        hub_store
            .events_for_order(ORDER)
            .unwrap()
            .iter()
            .filter(|e| e.kind.word() == "license_refused")
            .count() as i64
    };
    assert_eq!(refused, 1);

    // A supervisor releases it on the hub; after a sync the device lets it through.
    {
        let mut hub_store = site.hub_store();
        hub_store.set_signed_in(Some("Sam"));
        tagtally::app::license::release(&mut hub_store, ORDER, "renewal filed").unwrap();
    }
    vault.sync().await.unwrap();
    opens(&mut vault.store).unwrap();

    // Syncing again with nothing new writes nothing.
    let before = vault.store.register_summary().unwrap();
    vault.sync().await.unwrap();
    assert_eq!(vault.store.register_summary().unwrap(), before);
}

//! The touch app joined to a real hub on a loopback port, headless: it syncs in the
//! background (another device's pick shows up on the open order without a scan; its
//! own scans reach the hub), it shows the hub's state and the events waiting in the
//! corner, offline included, and it exits cleanly with scanners and sync running.
//!
//! Its own test binary: Slint allows one platform per process.

#[path = "support/hub.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use slint::ComponentHandle;
use support::{ORDER, Site, T1, T2, TestHub};
use tagtally::app::station::Command;
use tagtally::ui::headless::Headless;
use tagtally::ui::{App, AppAdapter, OrdersAdapter, PickAdapter};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn the_touch_app_syncs_with_its_hub() {
    tagtally::ui::sound::set_enabled(false);
    let h = Headless::install(1280, 800).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let url = hub.url();
    let kiosk = rt.block_on(site.device("vault-kiosk", &url));
    let mut other = rt.block_on(site.device("vault-2", &url));
    let kiosk_db = kiosk.path.clone();
    drop(kiosk);

    let mut settings = tagtally::config::Settings::default();
    settings.store.path = Some(kiosk_db.clone());
    let store = tagtally::app::open_store(&settings).unwrap();
    let mut app = App::new(&settings, store, false).unwrap();
    app.window.show().unwrap();
    assert!(app.start_sync(&settings).unwrap(), "the device is joined");
    let adapter = app.window.global::<AppAdapter>();
    let pick = app.window.global::<PickAdapter>();
    assert!(
        h.pump_until(WAIT, || adapter.get_sync_state() == "online"),
        "the corner shows the hub answering: {:?}",
        adapter.get_sync_state()
    );

    app.send(Command::OpenOrder(ORDER.into()));
    assert!(h.pump_until(WAIT, || adapter.get_screen() == "pick"));
    assert_eq!(pick.get_picked(), 0);

    // Another device picks; the open order shows it without anyone scanning here.
    assert_eq!(other.pick(&[T2]), vec!["accepted"]);
    rt.block_on(other.sync()).unwrap();
    assert!(
        h.pump_until(WAIT, || pick.get_picked() == 1),
        "another device's pick arrives on the open order"
    );

    // A scan here is answered at once and reaches the hub in the background.
    h.type_text(&format!("{T1}\n"));
    assert!(h.pump_until(WAIT, || pick.get_picked() == 2));
    let merged = |rt: &tokio::runtime::Runtime| rt.block_on(other.client.order(ORDER)).unwrap();
    let mut reached = false;
    for _ in 0..100 {
        h.pump();
        if merged(&rt).progress.picked == 2 {
            reached = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(reached, "the kiosk's pick reaches the hub");
    assert!(h.pump_until(WAIT, || adapter.get_sync_state() == "online"
        && adapter.get_sync_waiting() == 0));

    // The coordinator cancels the order on the hub: the open order is left at once,
    // saying why, and nothing more is recorded on it.
    {
        let mut hub_store = site.hub_store();
        let mut order = hub_store.find_order(ORDER).unwrap();
        order.status = tagtally::domain::OrderStatus("Cancelled".into());
        hub_store.import_orders(&[order]).unwrap();
    }
    assert!(
        h.pump_until(WAIT, || adapter.get_screen() == "orders"),
        "the cancelled order is left: {}",
        adapter.get_screen()
    );
    let orders = app.window.global::<OrdersAdapter>();
    assert!(
        h.pump_until(WAIT, || orders.get_message().contains("is closed")),
        "{}",
        orders.get_message()
    );
    app.send(Command::OpenOrder("SO-1002".into()));
    assert!(h.pump_until(WAIT, || adapter.get_screen() == "pick"));

    // The hub goes away: the corner says so, and counts what waits.
    hub.stop();
    assert!(
        h.pump_until(WAIT, || adapter.get_sync_state() == "offline"),
        "the corner shows the hub gone: {:?}",
        adapter.get_sync_state()
    );
    h.type_text("1A4060300003C35000010005\n");
    assert!(
        h.pump_until(WAIT, || pick.get_picked() == 1),
        "picking goes on offline"
    );
    assert!(
        h.pump_until(WAIT, || adapter.get_sync_waiting() == 1),
        "one event waits: {}",
        adapter.get_sync_waiting()
    );
    assert!(!adapter.get_sync_problem().is_empty());

    // A clean exit with a scanner source and the sync running: nothing hangs.
    let frames = tempfile::tempdir().unwrap();
    image::GrayImage::from_pixel(64, 48, image::Luma([200]))
        .save(frames.path().join("blank.png"))
        .unwrap();
    settings.scan.sources = vec![format!("camera:{}?fps=5", frames.path().display())];
    app.start_scanners(&settings).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let watch = done.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        if !watch.load(Ordering::SeqCst) {
            eprintln!("the app did not exit within 60 s of being closed: it hangs");
            std::process::exit(101);
        }
    });
    drop(app);
    done.store(true, Ordering::SeqCst);
    // Every connection the app had to its database is closed (the station's worker
    // ended, the sync stopped): SQLite removes the write-ahead log with the last one.
    let wal = std::path::PathBuf::from(format!("{}-wal", kiosk_db.display()));
    assert!(!wal.exists(), "{} is still open", kiosk_db.display());
    // What was recorded offline is still there, waiting for the hub.
    let store = tagtally::app::open_store(&settings).unwrap();
    assert_eq!(store.outbox_len().unwrap(), 1);
}

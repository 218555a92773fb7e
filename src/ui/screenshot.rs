//! `tagtally screenshot`: any screen, with the demo data, rendered headless to a PNG.

use std::path::{Path, PathBuf};

use slint::{ComponentHandle, Model};
use std::time::Duration;

use super::headless::Headless;
use super::{App, AppAdapter, DeliverAdapter, LoadAdapter, PickAdapter, SupervisorAdapter};
use crate::app::pick::PickSession;
use crate::app::ship::{DeliverySession, LoadSession};
use crate::app::station::Command;
use crate::config::{Settings, Station as Flow};
use crate::domain::{Decision, Driver, RejectReason, Vehicle};
use crate::scan::Frame;
use crate::store::Store;

/// Screens `tagtally screenshot --screen` knows.
pub const SCREENS: &[&str] = &[
    "signin",
    "orders",
    "pick",
    "accepted",
    "rejected",
    "short",
    "undo",
    "load",
    "deliver",
    "signature",
    "offline",
];

/// The demo tags by their last five digits: `demo_tag(10005)`.
pub fn demo_tag(n: u32) -> String {
    format!("1A4060300003C350000{n:05}")
}

/// The driver and vehicle of the prepared demo load.
pub fn demo_driver() -> (Driver, Vehicle) {
    (
        Driver {
            name: "Dee Driver".into(),
            occupational_license: "OL-55501".into(),
            drivers_license: "D1234567".into(),
        },
        Vehicle {
            make: "Ford".into(),
            model: "Transit".into(),
            plate: "8ABC123".into(),
        },
    )
}

fn frame(tag: &str) -> Frame {
    Frame {
        len: tag.len(),
        bytes: tag.as_bytes().to_vec(),
    }
}

/// Pick `tags` of demo `order` through the real pick session; with `short_rest`, every
/// line is then shorted, so the pick is finished.
pub fn demo_pick(
    store: &mut Store,
    settings: &Settings,
    order: &str,
    tags: &[u32],
    short_rest: bool,
) -> Result<(), String> {
    let mut s = PickSession::open_for(store, order, settings).map_err(|e| e.to_string())?;
    for &t in tags {
        let a = s.scan(&frame(&demo_tag(t))).map_err(|e| e.to_string())?;
        if a.verdict != "accepted" {
            return Err(format!("demo pick of {t}: {}", a.verdict));
        }
    }
    if short_rest {
        let lines: Vec<String> = s
            .progress()
            .lines
            .iter()
            .filter(|l| l.remaining > 0)
            .map(|l| l.id.clone())
            .collect();
        for l in lines {
            s.short(&l, "demo: not in the vault")
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Load `tags` of demo `order` and confirm with the demo driver and vehicle, through
/// the real load session.
pub fn demo_load(
    store: &mut Store,
    settings: &Settings,
    order: &str,
    tags: &[u32],
) -> Result<(), String> {
    let mut s = LoadSession::open(
        store,
        &[order.to_string()],
        settings.tags.parser(),
        settings.rules.clone(),
    )
    .map_err(|e| e.to_string())?;
    for &t in tags {
        s.scan(&frame(&demo_tag(t))).map_err(|e| e.to_string())?;
    }
    let (driver, vehicle) = demo_driver();
    s.confirm(
        &driver,
        &vehicle,
        crate::app::docs::manifest_attachment(&settings.ship),
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// The demo moved on: SO-1001 picked (what may ship; the rest shorted), loaded and
/// confirmed by Dee Driver in a Ford Transit; SO-1002 picked in full.
pub fn demo_route(store: &mut Store, settings: &Settings) -> Result<(), String> {
    let so1001 = [10001, 10002, 10004, 10011, 10021];
    demo_pick(store, settings, "SO-1001", &so1001, true)?;
    demo_load(store, settings, "SO-1001", &so1001)?;
    demo_pick(store, settings, "SO-1002", &[10005, 10006], true)
}

/// Hand over demo `tags` of `order` and reject `reject` as damaged, through the real
/// delivery session.
pub fn demo_hand_over(
    store: &mut Store,
    settings: &Settings,
    order: &str,
    tags: &[u32],
    reject: &[u32],
) -> Result<(), String> {
    let mut s = DeliverySession::open(store, order, settings.tags.parser(), settings.rules.clone())
        .map_err(|e| e.to_string())?;
    for &t in tags {
        s.scan(&frame(&demo_tag(t))).map_err(|e| e.to_string())?;
    }
    for &t in reject {
        s.decide(
            &demo_tag(t),
            Decision::Rejected {
                reason: RejectReason::Damaged,
                note: None,
            },
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

const WAIT: Duration = Duration::from_secs(10);

/// A temporary database with the demo data, removed on drop.
pub struct DemoDb {
    dir: PathBuf,
    pub settings: Settings,
}

impl DemoDb {
    pub fn new() -> Result<DemoDb, String> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tagtally-ui-{}-{n}", std::process::id()));
        let mut settings = Settings::default();
        settings.store.path = Some(dir.join("demo.db"));
        crate::app::demo_shipper(&mut settings.ship);
        let mut store = crate::app::open_store(&settings).map_err(|e| e.to_string())?;
        crate::app::load_demo(&mut store).map_err(|e| e.to_string())?;
        Ok(DemoDb { dir, settings })
    }

    pub fn store(&self) -> Result<crate::store::Store, String> {
        crate::app::open_store(&self.settings).map_err(|e| e.to_string())
    }
}

impl Drop for DemoDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Drive a demo app on `headless` to `screen`.
pub fn show(headless: &Headless, app: &App, screen: &str) -> Result<(), String> {
    let w = &app.window;
    let wait = |what: &str, done: &mut dyn FnMut() -> bool| {
        if headless.pump_until(WAIT, done) {
            Ok(())
        } else {
            Err(format!("the {what} did not appear within {WAIT:?}"))
        }
    };
    if screen == "signin" {
        wait("sign-in screen", &mut || {
            w.global::<AppAdapter>().get_screen() == "signin"
                && w.global::<super::SignInAdapter>().get_people().row_count() > 0
        })?;
        w.global::<super::SignInAdapter>()
            .invoke_choose("Demo Picker".into());
        w.global::<super::SignInAdapter>().invoke_digit("1".into());
        w.global::<super::SignInAdapter>().invoke_digit("2".into());
        headless.pump();
        return Ok(());
    }
    if screen == "undo" {
        // With people: the supervisor signs off with a PIN.
        let sign = w.global::<super::SignInAdapter>();
        wait("sign-in screen", &mut || sign.get_people().row_count() > 0)?;
        sign.invoke_choose("Demo Picker".into());
        for d in ["1", "2", "3", "4"] {
            sign.invoke_digit(d.into());
        }
        sign.invoke_submit();
        wait("order list", &mut || {
            w.global::<AppAdapter>().get_screen() == "orders"
        })?;
    }
    match screen {
        "load" => return show_load(headless, app),
        "deliver" | "signature" => return show_deliver(headless, app, screen),
        _ => {}
    }
    wait("order list", &mut || {
        w.global::<super::OrdersAdapter>()
            .get_orders()
            .iter()
            .next()
            .is_some()
    })?;
    if screen == "orders" {
        return Ok(());
    }
    app.send(Command::OpenOrder("SO-1001".into()));
    wait("pick screen", &mut || {
        w.global::<AppAdapter>().get_screen() == "pick"
    })?;
    let scan = |tag: &str| {
        headless.type_text(&format!("{tag}\n"));
    };
    match screen {
        // The corner of a joined device whose hub is gone, with three events waiting
        // (the demo is not joined: the state the sync would report is set here).
        "offline" => {
            scan("1A4060300003C35000010001");
            wait("first pick", &mut || {
                w.global::<PickAdapter>().get_picked() == 1
            })?;
            w.global::<PickAdapter>().set_banner_visible(false);
            let a = w.global::<AppAdapter>();
            a.set_sync_state("offline".into());
            a.set_sync_waiting(3);
        }
        "pick" => {
            scan("1A4060300003C35000010001");
            wait("first pick", &mut || {
                w.global::<PickAdapter>().get_picked() == 1
            })?;
            w.global::<PickAdapter>().set_banner_visible(false);
        }
        "accepted" => {
            scan("1A4060300003C35000010002");
            wait("accepted banner", &mut || {
                w.global::<PickAdapter>().get_banner_word() == "ACCEPTED"
            })?;
        }
        "rejected" => {
            scan("1A4060300003C35000010008");
            wait("rejected banner", &mut || {
                w.global::<PickAdapter>().get_banner_word() == "WRONG BATCH"
            })?;
        }
        "short" => {
            let p = w.global::<PickAdapter>();
            p.set_selected_line("2".into());
            p.set_short_open(true);
        }
        "undo" => {
            scan("1A4060300003C35000010001");
            wait("first pick", &mut || {
                w.global::<PickAdapter>().get_picked() == 1
            })?;
            w.global::<PickAdapter>().set_banner_visible(false);
            w.global::<PickAdapter>().invoke_undo();
            let s = w.global::<SupervisorAdapter>();
            wait("undo dialog", &mut || s.get_open())?;
            s.invoke_choose(0);
            s.invoke_choose(0);
            wait("supervisors", &mut || s.get_choices().row_count() > 0)?;
            s.invoke_choose(0);
            headless.type_text("99");
        }
        other => {
            return Err(format!(
                "no screen {other:?}; screens: {}",
                SCREENS.join(", ")
            ));
        }
    }
    headless.pump();
    Ok(())
}

/// The dock: SO-1002 chosen, the demo driver and vehicle two taps, one of its two
/// packages scanned on.
fn show_load(headless: &Headless, app: &App) -> Result<(), String> {
    let a = app.window.global::<LoadAdapter>();
    let wait = |what: &str, done: &mut dyn FnMut() -> bool| {
        if headless.pump_until(WAIT, done) {
            Ok(())
        } else {
            Err(format!("the {what} did not appear within {WAIT:?}"))
        }
    };
    wait("picked orders", &mut || {
        a.get_orders().iter().any(|o| o.number == "SO-1002")
    })?;
    a.invoke_toggle("SO-1002".into());
    a.invoke_next();
    wait("driver and vehicle", &mut || {
        a.get_step() == "transport" && a.get_drivers().row_count() > 0
    })?;
    a.invoke_choose_driver(0);
    a.invoke_choose_vehicle(0);
    wait("scan step", &mut || a.get_step() == "scan")?;
    headless.type_text(&format!("{}\n", demo_tag(10005)));
    wait("loaded", &mut || a.get_loaded() == 1)?;
    a.set_banner_visible(false);
    headless.pump();
    Ok(())
}

/// The hand-over of SO-1001: three handed over, one rejected, one to go; or (the
/// signature screen) all five handed over and the receiver signing.
fn show_deliver(headless: &Headless, app: &App, screen: &str) -> Result<(), String> {
    let a = app.window.global::<DeliverAdapter>();
    let wait = |what: &str, done: &mut dyn FnMut() -> bool| {
        if headless.pump_until(WAIT, done) {
            Ok(())
        } else {
            Err(format!("the {what} did not appear within {WAIT:?}"))
        }
    };
    wait("loaded orders", &mut || a.get_orders().row_count() > 0)?;
    a.invoke_open_order("SO-1001".into());
    wait("packages", &mut || a.get_step() == "packages")?;
    if screen == "deliver" {
        for t in [10001, 10002, 10011] {
            headless.type_text(&format!("{}\n", demo_tag(t)));
        }
        wait("hand-over", &mut || a.get_accepted() == 3)?;
        a.invoke_tap_package(demo_tag(10004).into());
        a.invoke_reject(0);
        wait("rejection", &mut || a.get_rejected() == 1)?;
        a.set_banner_visible(false);
        headless.pump();
        return Ok(());
    }
    for t in [10001, 10002, 10004, 10011, 10021] {
        headless.type_text(&format!("{}\n", demo_tag(t)));
    }
    wait("hand-over", &mut || {
        a.get_open() == 0 && a.get_accepted() == 5
    })?;
    a.set_banner_visible(false);
    a.invoke_finish();
    wait("finish step", &mut || a.get_step() == "finish")?;
    headless.type_text("Rae Receiver");
    headless.pump();
    let (w, h) = {
        let size = app.window.window().size();
        let scale = app.window.window().scale_factor();
        (size.width as f32 / scale, size.height as f32 / scale)
    };
    // A signature across the middle of the pad.
    let (cx, cy) = (w / 2.0, h / 2.0 + 20.0);
    let wave: Vec<(f32, f32)> = (0..=40)
        .map(|i| {
            let x = cx - w / 4.0 + (w / 2.0) * i as f32 / 40.0;
            (x, cy + 30.0 * (i as f32 / 3.0).sin())
        })
        .collect();
    headless.stroke(&wave);
    headless.stroke(&[(cx - w / 5.0, cy + 50.0), (cx + w / 5.0, cy + 45.0)]);
    headless.pump();
    Ok(())
}

/// Render `screen` at `width` x `height` into `out`.
pub fn render(screen: &str, width: u32, height: u32, out: &Path) -> Result<(), String> {
    if !SCREENS.contains(&screen) {
        return Err(format!(
            "no screen {screen:?}; screens: {}",
            SCREENS.join(", ")
        ));
    }
    if !(200..=8000).contains(&width) || !(200..=8000).contains(&height) {
        return Err(format!(
            "size {width}x{height}: use 200 to 8000 pixels a side"
        ));
    }
    super::sound::set_enabled(false);
    let headless = Headless::install(width, height).map_err(|e| e.to_string())?;
    let db = DemoDb::new()?;
    let mut store = db.store()?;
    if screen == "signin" || screen == "undo" {
        crate::app::add_demo_people(&mut store).map_err(|e| e.to_string())?;
    }
    let mut settings = db.settings.clone();
    match screen {
        "load" => {
            demo_route(&mut store, &settings)?;
            settings.device.station = Flow::Load;
        }
        "deliver" | "signature" => {
            demo_route(&mut store, &settings)?;
            settings.device.station = Flow::Deliver;
        }
        _ => {}
    }
    let app = App::new(&settings, store, true).map_err(|e| e.to_string())?;
    app.window.show().map_err(|e| e.to_string())?;
    show(&headless, &app, screen)?;
    headless.save_png(out).map_err(|e| e.to_string())
}

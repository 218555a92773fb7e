//! The touch app on Slint's software renderer, headless: driven by key presses (as a
//! wedge scanner types) and taps, checked on the adapters' properties and on the pixels
//! it renders.
//!
//! Slint allows one platform per process, so every scenario runs in this one test, in
//! turn, each on a fresh demo database and a fresh window.

use std::path::Path;
use std::time::Duration;

use slint::{ComponentHandle, Model};
use tagtally::config::Station as Flow;
use tagtally::domain::EventKind;
use tagtally::domain::people::Role;
use tagtally::store::Store;
use tagtally::ui::headless::Headless;
use tagtally::ui::screenshot::{DemoDb, demo_load, demo_pick, demo_route, demo_tag, show};
use tagtally::ui::{
    App, AppAdapter, DeliverAdapter, LoadAdapter, OrdersAdapter, PickAdapter, SignInAdapter,
    SupervisorAdapter,
};

const WAIT: Duration = Duration::from_secs(15);

struct Ui {
    _db: DemoDb,
    app: App,
}

fn open(h: &Headless, width: u32, height: u32) -> Ui {
    h.resize(width, height);
    let db = DemoDb::new().unwrap();
    let app = App::new(&db.settings, db.store().unwrap(), true).unwrap();
    app.window.show().unwrap();
    assert!(
        h.pump_until(WAIT, || app
            .window
            .global::<OrdersAdapter>()
            .get_orders()
            .row_count()
            == 2),
        "the order list shows the two demo orders"
    );
    Ui { _db: db, app }
}

impl Ui {
    fn pick(&self) -> PickAdapter<'_> {
        self.app.window.global::<PickAdapter>()
    }

    fn screen(&self) -> String {
        self.app.window.global::<AppAdapter>().get_screen().into()
    }

    fn wait_word(&self, h: &Headless, word: &str) {
        let ok = h.pump_until(WAIT, || {
            self.pick().get_banner_visible() && self.pick().get_banner_word() == word
        });
        assert!(
            ok,
            "expected banner {word:?}, have {:?} (visible {})",
            self.pick().get_banner_word(),
            self.pick().get_banner_visible()
        );
    }
}

/// The colour at the middle of the screen, as (r, g, b).
fn centre(h: &Headless) -> (u8, u8, u8) {
    let img = h.snapshot().unwrap();
    let p = img.get_pixel(img.width() / 2, img.height() - 30);
    (p[0], p[1], p[2])
}

fn is_green((r, g, b): (u8, u8, u8)) -> bool {
    let (r, g, b) = (u16::from(r), u16::from(g), u16::from(b));
    g > 100 && g > r + 40 && g > b + 40
}

fn is_red((r, g, b): (u8, u8, u8)) -> bool {
    let (r, g, b) = (u16::from(r), u16::from(g), u16::from(b));
    r > 150 && r > g + 80 && r > b + 80
}

#[test]
fn the_touch_app() {
    tagtally::ui::sound::set_enabled(false);
    let h = Headless::install(1280, 800).unwrap();
    wedge_scans_show_verdicts_full_screen(&h);
    a_scan_without_enter_ends_after_a_pause(&h);
    a_scanned_package_opens_its_order(&h);
    scans_are_answered_while_a_dialog_is_open(&h);
    short_pick_by_taps(&h);
    a_scanner_source_feeds_the_screen(&h);
    people_sign_in_with_a_pin(&h);
    the_handheld_portrait_layout(&h);
    screens_match_their_references(&h);
    a_full_load_at_the_dock(&h);
    a_delivery_with_a_rejection_and_a_signature(&h);
    undo_of_a_pick_needs_a_supervisor_pin(&h);
    the_demo_switches_flows_without_a_restart(&h);
    a_tiny_window_does_not_crash(&h);
    new_screens_match_their_references(&h);
}

/// A demo app on `flow`, its database moved on by `prepare` (through the real
/// sessions) and given `people` ((name, role, PIN)) first.
fn open_flow(
    h: &Headless,
    (width, height): (u32, u32),
    flow: Flow,
    people: &[(&str, Role, &str)],
    prepare: impl FnOnce(&mut Store, &tagtally::config::Settings),
) -> (DemoDb, App) {
    h.resize(width, height);
    let db = DemoDb::new().unwrap();
    let mut store = db.store().unwrap();
    prepare(&mut store, &db.settings);
    for (name, role, pin) in people {
        store.set_person(name, *role, pin).unwrap();
    }
    let mut settings = db.settings.clone();
    settings.device.station = flow;
    let app = App::new(&settings, store, false).unwrap();
    app.window.show().unwrap();
    (db, app)
}

fn sign_in(h: &Headless, app: &App, name: &str, pin: &str, home: &str) {
    let sign = app.window.global::<SignInAdapter>();
    assert!(h.pump_until(WAIT, || sign.get_people().row_count() > 0));
    sign.invoke_choose(name.into());
    h.type_text(&format!("{pin}\n"));
    assert!(
        h.pump_until(WAIT, || app.window.global::<AppAdapter>().get_screen()
            == home),
        "{name} signs in and lands on {home}: {}",
        sign.get_message()
    );
}

/// The top of the first list row (Theme.row) below `from`, at x.
fn first_row(h: &Headless, x: u32, from: u32) -> f32 {
    let shot = h.snapshot().unwrap();
    (from..shot.height())
        .find(|&y| {
            let p = shot.get_pixel(x, y);
            (p[0], p[1], p[2]) == (0x23, 0x2d, 0x38)
        })
        .expect("a row is drawn") as f32
}

fn events(db: &DemoDb, order: &str) -> Vec<tagtally::domain::Event> {
    db.store().unwrap().events_for_order(order).unwrap()
}

fn a_full_load_at_the_dock(h: &Headless) {
    let (db, app) = open_flow(
        h,
        (1280, 800),
        Flow::Load,
        &[
            ("Lou", Role::Loader, "1357"),
            ("Sam", Role::Supervisor, "2468"),
        ],
        |store, settings| {
            // SO-1001 picked except 10004 (eligible, left unpicked: NOT PICKED at the
            // dock), the rest shorted; SO-1002 picked in full.
            demo_pick(
                store,
                settings,
                "SO-1001",
                &[10001, 10002, 10011, 10021],
                true,
            )
            .unwrap();
            demo_pick(store, settings, "SO-1002", &[10005, 10006], true).unwrap();
        },
    );
    sign_in(h, &app, "Lou", "1357", "load");
    let a = app.window.global::<LoadAdapter>();
    assert!(h.pump_until(WAIT, || a.get_orders().row_count() == 2));
    assert_eq!(a.get_step(), "choose");
    let numbers: Vec<String> = a.get_orders().iter().map(|o| o.number.into()).collect();
    assert_eq!(numbers, ["SO-1001", "SO-1002"], "the picked orders");

    // Tap both orders (a route), then SO-1002 again: only SO-1001 goes on.
    h.pump();
    let top = first_row(h, 640, 60);
    h.tap(400.0, top + 30.0);
    h.tap(400.0, top + 30.0 + 76.8 + 6.0);
    assert_eq!(a.get_selected_count(), 2);
    h.tap(400.0, top + 30.0 + 76.8 + 6.0);
    assert_eq!(a.get_selected_count(), 1);
    assert!(a.get_orders().row_data(0).unwrap().selected);
    h.tap(640.0, 756.0);
    assert!(
        h.pump_until(WAIT, || a.get_step() == "transport"),
        "Next opens the load: {}",
        a.get_message()
    );
    assert_eq!(a.get_drivers().row_count(), 0, "a new dock knows no driver");

    // A new driver, typed into the form; a scan in the middle is still a scan.
    a.invoke_new_driver();
    assert!(a.get_form_open());
    h.type_text("Dee Driver\nOL-55501\n");
    h.type_text("1A4060300003C35000010001\r\n");
    assert!(h.pump_until(WAIT, || a.get_banner_visible()
        && a.get_banner_word() == "LOADED"));
    assert_eq!(a.get_loaded(), 1, "the scan was answered, not typed");
    let fields = a.get_form_fields();
    assert_eq!(fields.row_data(0).unwrap().value, "Dee Driver");
    assert_eq!(fields.row_data(1).unwrap().value, "OL-55501");
    assert_eq!(
        fields.row_data(2).unwrap().value,
        "",
        "the scan left the field"
    );
    a.invoke_dismiss_banner();
    h.type_text("D1234567\n");
    assert!(!a.get_form_open(), "{}", a.get_form_message());
    assert_eq!(a.get_driver(), 0);
    a.invoke_new_vehicle();
    h.type_text("Ford\n");
    a.invoke_form_done();
    assert!(
        a.get_form_message().contains("model is required"),
        "{}",
        a.get_form_message()
    );
    h.type_text("Transit\n8abc 123\n");
    assert!(h.pump_until(WAIT, || a.get_step() == "scan"));
    assert!(
        a.get_vehicle_text().contains("8ABC123"),
        "{}",
        a.get_vehicle_text()
    );

    // Verdicts, full screen, in colour.
    for (tag, word, good) in [
        (10005, "WRONG ORDER", false),
        (10004, "NOT PICKED", false),
        (10002, "LOADED", true),
        (10002, "ALREADY LOADED", false),
        (10011, "LOADED", true),
    ] {
        h.type_text(&format!("{}\n", demo_tag(tag)));
        assert!(
            h.pump_until(WAIT, || a.get_banner_visible()
                && a.get_banner_word() == word),
            "{tag}: expected {word}, have {}",
            a.get_banner_word()
        );
        let c = centre(h);
        assert!(if good { is_green(c) } else { is_red(c) }, "{word}: {c:?}");
        if word == "WRONG ORDER" {
            assert!(a.get_banner_message().contains("SO-1002"));
        }
    }
    a.invoke_dismiss_banner();
    assert_eq!(
        (a.get_loaded(), a.get_manifest(), a.get_missing()),
        (3, 4, 1)
    );
    assert!(!a.get_matches());
    let first = a.get_rows().row_data(0).unwrap();
    assert_eq!(
        (first.tail.as_str(), first.state.as_str()),
        ("010021", "missing")
    );

    // Confirm while one is missing: refused by the station, nothing recorded.
    let before = events(&db, "SO-1001").len();
    a.invoke_confirm();
    assert!(h.pump_until(WAIT, || a.get_message().contains("1 missing")));
    assert_eq!(events(&db, "SO-1001").len(), before);

    // A supervisor takes 10021 off the shipment: a wrong PIN, then the right one.
    h.tap(380.0, 756.0);
    let s = app.window.global::<SupervisorAdapter>();
    assert!(s.get_open(), "Remove package opens the supervisor's dialog");
    let i = s
        .get_choices()
        .iter()
        .position(|c| c.contains(&demo_tag(10021)))
        .unwrap();
    s.invoke_choose(i as i32);
    s.invoke_choose(0);
    assert_eq!(s.get_choices().iter().collect::<Vec<_>>(), ["Sam"]);
    s.invoke_choose(0);
    assert_eq!(s.get_step(), "pin");
    h.type_text("1111\n");
    assert!(
        h.pump_until(WAIT, || s.get_message().contains("wrong PIN")),
        "{}",
        s.get_message()
    );
    assert_eq!(s.get_pin_length(), 0);
    for d in ["2", "4", "6", "8"] {
        s.invoke_digit(d.into());
    }
    assert_eq!(s.get_pin_length(), 4);
    s.invoke_submit();
    assert!(h.pump_until(WAIT, || !s.get_open()), "{}", s.get_message());
    assert!(h.pump_until(WAIT, || a.get_matches()));
    let removal = events(&db, "SO-1001")
        .into_iter()
        .find(|e| matches!(e.kind, EventKind::Remove { .. }))
        .expect("the removal is recorded");
    assert_eq!(
        removal.person.as_deref(),
        Some("Sam"),
        "recorded as the supervisor"
    );

    // Now it matches: CONFIRM LOAD (bottom right) is a tap.
    h.tap(900.0, 756.0);
    assert!(
        h.pump_until(WAIT, || a.get_confirmed()),
        "{}",
        a.get_message()
    );
    assert!(a.get_confirmed_text().contains("LOAD CONFIRMED"));
    let shot = h.snapshot().unwrap();
    let band = (60..300)
        .map(|y| shot.get_pixel(640, y))
        .any(|p| is_green((p[0], p[1], p[2])));
    assert!(band, "the confirmation shows in green");
    let confirm = events(&db, "SO-1001")
        .into_iter()
        .find(|e| matches!(e.kind, EventKind::LoadConfirm(_)))
        .expect("the confirmation is recorded");
    assert_eq!(confirm.person.as_deref(), Some("Lou"), "the loader again");
    let stages = db.store().unwrap().order_stages().unwrap();
    assert!(
        stages
            .iter()
            .any(|(n, _, st)| n == "SO-1001" && *st == "loaded")
    );
    // The next load: the dock remembers the driver and vehicle (two taps).
    a.invoke_done();
    assert!(h.pump_until(WAIT, || a.get_step() == "choose"
        && a.get_orders().row_count() == 1));
    a.invoke_toggle("SO-1002".into());
    a.invoke_next();
    assert!(h.pump_until(WAIT, || a.get_step() != "choose"));
    assert_eq!(a.get_drivers().row_count(), 1);
    assert!(a.get_drivers().row_data(0).unwrap().contains("Dee Driver"));
}

fn a_delivery_with_a_rejection_and_a_signature(h: &Headless) {
    let (db, app) = open_flow(h, (480, 800), Flow::Deliver, &[], |store, settings| {
        demo_pick(store, settings, "SO-1002", &[10005, 10006], true).unwrap();
        demo_load(store, settings, "SO-1002", &[10005, 10006]).unwrap();
    });
    let a = app.window.global::<DeliverAdapter>();
    assert!(
        h.pump_until(WAIT, || app.window.global::<AppAdapter>().get_screen()
            == "deliver"
            && a.get_orders().row_count() == 1)
    );
    h.pump();
    let top = first_row(h, 240, 40);
    h.tap(240.0, top + 30.0);
    assert!(h.pump_until(WAIT, || a.get_step() == "packages"));
    assert_eq!((a.get_total(), a.get_open()), (2, 2));

    h.type_text(&format!("{}\n", demo_tag(10005)));
    assert!(h.pump_until(WAIT, || a.get_banner_word() == "HANDED OVER"));
    assert!(is_green(centre(h)));
    h.type_text(&format!("{}\n", demo_tag(10001)));
    assert!(h.pump_until(WAIT, || a.get_banner_word() == "NOT ON MANIFEST"));
    assert!(is_red(centre(h)));
    h.tap(240.0, 400.0);
    assert!(!a.get_banner_visible());

    // FINISH while one is open: refused, saying how many.
    h.tap(240.0, 756.0);
    assert!(
        a.get_message().contains("1 package(s) not yet scanned"),
        "{}",
        a.get_message()
    );
    assert_eq!(a.get_step(), "packages");

    // Reject 10006: "Other" needs a note, typed; a scan meanwhile is answered.
    a.invoke_tap_package(demo_tag(10006).into());
    assert!(a.get_decide_open());
    let reasons: Vec<String> = a.get_reasons().iter().map(Into::into).collect();
    assert_eq!(reasons.last().unwrap(), "Other");
    a.invoke_reject(reasons.len() as i32 - 1);
    assert!(a.get_note_open() && a.get_note_active());
    h.type_text("lid crac");
    h.type_text(&format!("{}\n", demo_tag(10005)));
    assert!(h.pump_until(WAIT, || a.get_banner_visible()
        && a.get_banner_word() == "ALREADY SCANNED"));
    assert_eq!(
        a.get_note(),
        "lid crac",
        "the scan did not go into the note"
    );
    a.invoke_dismiss_banner();
    assert!(a.get_decide_open(), "the dialog stayed");
    h.type_text("ked\n");
    assert!(
        h.pump_until(WAIT, || a.get_rejected() == 1),
        "{}",
        a.get_decide_message()
    );
    assert!(!a.get_decide_open());
    let row = a.get_packages().row_data(1).unwrap();
    assert_eq!(row.state, "rejected");
    assert!(row.state_text.contains("lid cracked"), "{}", row.state_text);
    assert_eq!(a.get_open(), 0);

    // The finish: a blank pad and no name are refused, clearly.
    h.tap(240.0, 756.0);
    assert_eq!(a.get_step(), "finish");
    assert!(
        a.get_receiver_active(),
        "typing goes to the receiver's name"
    );
    h.tap(240.0, 756.0);
    assert!(
        a.get_message().contains("receiver's name"),
        "{}",
        a.get_message()
    );
    assert!(a.get_message().contains("has not signed"));
    h.type_text("Rae Receiver");
    assert_eq!(a.get_receiver(), "Rae Receiver");
    h.tap(240.0, 756.0);
    assert!(
        a.get_message().contains("has not signed"),
        "{}",
        a.get_message()
    );
    assert!(!a.get_message().contains("receiver's name"));
    assert_eq!(a.get_step(), "finish");
    assert!(
        !events(&db, "SO-1002")
            .iter()
            .any(|e| matches!(e.kind, EventKind::DeliverFinish { .. })),
        "nothing recorded"
    );

    // Sign with a finger across the pad, then Save.
    let wave: Vec<(f32, f32)> = (0..=40)
        .map(|i| {
            (
                120.0 + 6.0 * i as f32,
                400.0 + 30.0 * (i as f32 / 3.0).sin(),
            )
        })
        .collect();
    h.stroke(&wave);
    assert!(!a.get_signature().is_empty(), "the pad draws the stroke");
    let shot = h.snapshot().unwrap();
    let ink = (100..380)
        .flat_map(|x| (360..440).map(move |y| (x, y)))
        .filter(|&(x, y)| shot.get_pixel(x, y)[0] < 80)
        .count();
    assert!(ink > 100, "ink on the pad: {ink}");
    h.tap(240.0, 756.0);
    assert!(
        h.pump_until(WAIT, || a.get_step() == "done"),
        "{}",
        a.get_message()
    );
    assert!(a.get_delivered_text().contains("Rae Receiver"));
    assert!(is_green(centre_of(h, 40, 200)), "DELIVERED is green");
    let finish = events(&db, "SO-1002")
        .into_iter()
        .find_map(|e| match e.kind {
            EventKind::DeliverFinish {
                receiver,
                signature,
                ..
            } => Some((receiver, signature)),
            _ => None,
        })
        .expect("the finish is recorded");
    assert_eq!(finish.0, "Rae Receiver");
    let png = db
        .store()
        .unwrap()
        .attachment(&finish.1)
        .unwrap()
        .expect("the signature is stored with the event");
    assert!(tagtally::signature::png_has_ink(&png.bytes));
}

fn centre_of(h: &Headless, x: u32, y: u32) -> (u8, u8, u8) {
    let img = h.snapshot().unwrap();
    let p = img.get_pixel(x, y);
    (p[0], p[1], p[2])
}

fn undo_of_a_pick_needs_a_supervisor_pin(h: &Headless) {
    let (db, app) = open_flow(
        h,
        (1280, 800),
        Flow::Pick,
        &[
            ("Ana", Role::Picker, "1357"),
            ("Sam", Role::Supervisor, "2468"),
        ],
        |_, _| {},
    );
    sign_in(h, &app, "Ana", "1357", "orders");
    let pick = app.window.global::<PickAdapter>();
    h.type_text(&format!("{}\n", demo_tag(10001)));
    assert!(
        h.pump_until(WAIT, || pick.get_picked() == 1),
        "{:?} {:?} {:?}",
        app.window.global::<AppAdapter>().get_screen(),
        app.window.global::<OrdersAdapter>().get_message(),
        app.window.global::<SignInAdapter>().get_message()
    );
    h.tap(640.0, 400.0);
    assert!(!pick.get_banner_visible());
    // "Undo a pick" sits at the right of the bottom bar.
    h.tap(1200.0, 722.0);
    let s = app.window.global::<SupervisorAdapter>();
    assert!(h.pump_until(WAIT, || s.get_open()), "the undo dialog opens");
    assert!(
        s.get_choices()
            .row_data(0)
            .unwrap()
            .contains(&demo_tag(10001))
    );
    s.invoke_choose(0);
    s.invoke_choose(0);
    s.invoke_choose(0);
    assert_eq!(s.get_step(), "pin");
    h.type_text("0000\n");
    assert!(h.pump_until(WAIT, || s.get_message().contains("wrong PIN")));
    // A scan while the dialog is open: answered over it, and the dialog stays.
    h.type_text(&format!("{}\n", demo_tag(10002)));
    assert!(h.pump_until(WAIT, || pick.get_banner_word() == "ACCEPTED"
        && pick.get_picked() == 2));
    assert!(s.get_open() && s.get_step() == "pin");
    h.tap(640.0, 400.0);
    h.type_text("2468\n");
    assert!(h.pump_until(WAIT, || !s.get_open()), "{}", s.get_message());
    assert!(h.pump_until(WAIT, || pick.get_picked() == 1));
    assert!(
        pick.get_status().contains("undone"),
        "{}",
        pick.get_status()
    );
    let all = events(&db, "SO-1001");
    let undo = all
        .iter()
        .find(|e| matches!(e.kind, EventKind::Undo { .. }))
        .expect("the undo is recorded");
    assert_eq!(undo.person.as_deref(), Some("Sam"));
    match &undo.kind {
        EventKind::Undo {
            tag,
            reason,
            undoes,
        } => {
            assert_eq!(tag.as_str(), demo_tag(10001));
            assert!(!reason.is_empty());
            // It names the pick it takes back: the accepted scan of that tag.
            let picked = all
                .iter()
                .find(|e| {
                    e.kind.tag() == Some(tag)
                        && matches!(
                            e.kind,
                            EventKind::Scan {
                                verdict: tagtally::domain::Verdict::Accepted { .. },
                                ..
                            }
                        )
                })
                .expect("the pick is recorded");
            assert_eq!(undoes, &vec![picked.id()]);
        }
        _ => unreachable!(),
    }
    // The picker is signed in again for what follows.
    h.type_text(&format!("{}\n", demo_tag(10004)));
    assert!(h.pump_until(WAIT, || pick.get_picked() == 2));
    let last = events(&db, "SO-1001").pop().unwrap();
    assert_eq!(last.person.as_deref(), Some("Ana"));
}

fn the_demo_switches_flows_without_a_restart(h: &Headless) {
    h.resize(1280, 800);
    let db = DemoDb::new().unwrap();
    let app = App::new(&db.settings, db.store().unwrap(), true).unwrap();
    app.window.show().unwrap();
    let screen = || -> String { app.window.global::<AppAdapter>().get_screen().into() };
    assert!(h.pump_until(WAIT, || screen() == "orders"));
    // Pick SO-1002, then load it and deliver it, in one session.
    h.type_text(&format!("{}\n{}\n", demo_tag(10005), demo_tag(10006)));
    let pick = app.window.global::<PickAdapter>();
    assert!(h.pump_until(WAIT, || pick.get_complete()));
    pick.invoke_back();
    assert!(h.pump_until(WAIT, || screen() == "orders"));
    app.window
        .global::<AppAdapter>()
        .invoke_switch_flow("load".into());
    let load = app.window.global::<LoadAdapter>();
    assert!(h.pump_until(WAIT, || screen() == "load"
        && load.get_orders().row_count() == 1));
    load.invoke_toggle("SO-1002".into());
    load.invoke_next();
    assert!(h.pump_until(WAIT, || load.get_step() == "transport"));
    load.invoke_new_driver();
    h.type_text("Dee\nOL-1\nD-1\n");
    load.invoke_new_vehicle();
    h.type_text("Ford\nTransit\nX1\n");
    assert_eq!(load.get_step(), "scan");
    load.invoke_demo_scan(demo_tag(10005).into());
    load.invoke_demo_scan(demo_tag(10006).into());
    assert!(h.pump_until(WAIT, || load.get_matches()));
    load.invoke_confirm();
    assert!(h.pump_until(WAIT, || load.get_confirmed()));
    app.window
        .global::<AppAdapter>()
        .invoke_switch_flow("deliver".into());
    let deliver = app.window.global::<DeliverAdapter>();
    assert!(h.pump_until(WAIT, || screen() == "deliver"
        && deliver.get_orders().row_count() == 1));
    assert_eq!(app.window.global::<AppAdapter>().get_flow(), "deliver");
}

fn a_tiny_window_does_not_crash(h: &Headless) {
    let (_db, app) = open_flow(h, (480, 800), Flow::Deliver, &[], |store, settings| {
        demo_route(store, settings).unwrap();
    });
    let a = app.window.global::<DeliverAdapter>();
    assert!(h.pump_until(WAIT, || a.get_orders().row_count() == 1));
    a.invoke_open_order("SO-1001".into());
    assert!(h.pump_until(WAIT, || a.get_step() == "packages"));
    for size in [(320, 240), (480, 800)] {
        h.resize(size.0, size.1);
        h.pump();
        assert_eq!(h.snapshot().unwrap().width(), size.0);
    }
    a.invoke_tap_package(demo_tag(10001).into());
    h.resize(320, 240);
    h.pump();
    h.snapshot().unwrap();
    let (_db2, app2) = open_flow(h, (320, 240), Flow::Load, &[], |store, settings| {
        demo_route(store, settings).unwrap();
    });
    let l = app2.window.global::<LoadAdapter>();
    assert!(h.pump_until(WAIT, || l.get_orders().row_count() == 1));
    l.invoke_toggle("SO-1002".into());
    l.invoke_next();
    assert!(h.pump_until(WAIT, || l.get_step() == "transport"));
    h.snapshot().unwrap();
    // The dock remembers the last driver and vehicle: two taps.
    l.invoke_choose_driver(0);
    l.invoke_choose_vehicle(0);
    assert_eq!(l.get_step(), "scan");
    h.type_text(&format!("{}\n", demo_tag(10005)));
    assert!(h.pump_until(WAIT, || l.get_loaded() == 1));
    h.snapshot().unwrap();
    h.resize(1280, 800);
}

/// The new screens against their references (same tolerance as above).
fn new_screens_match_their_references(h: &Headless) {
    for (screen, flow, w, hgt) in [
        ("deliver", Flow::Deliver, 480, 800),
        ("load", Flow::Load, 1280, 800),
    ] {
        let (_db, app) = open_flow(h, (w, hgt), flow, &[], |store, settings| {
            demo_route(store, settings).unwrap();
        });
        show(h, &app, screen).unwrap();
        compare(h, screen, w, hgt);
    }
}

fn wedge_scans_show_verdicts_full_screen(h: &Headless) {
    let ui = open(h, 1280, 800);
    // Tap the first order row.
    h.tap(300.0, 110.0);
    assert!(
        h.pump_until(WAIT, || ui.screen() == "pick"),
        "tapping an order opens it"
    );
    assert_eq!(ui.pick().get_order(), "SO-1001");
    assert_eq!((ui.pick().get_picked(), ui.pick().get_total()), (0, 9));

    h.type_text("]C01a4060300003c35000010001\n");
    ui.wait_word(h, "ACCEPTED");
    assert_eq!(ui.pick().get_banner_tag_tail(), "010001");
    assert_eq!(ui.pick().get_picked(), 1);
    assert!(is_green(centre(h)), "accepted is green: {:?}", centre(h));

    h.type_text("1A4060300003C35000010001\r\n");
    ui.wait_word(h, "ALREADY SCANNED");
    assert!(is_red(centre(h)), "a rejection is red: {:?}", centre(h));
    assert_eq!(ui.pick().get_picked(), 1);

    for (tag, word) in [
        ("1A4060300003C35000010008", "WRONG BATCH"),
        ("1A4060300003C35000010005", "WRONG ORDER"),
        ("1A4060300003C35000010003", "ON HOLD"),
        ("1A4060300003C35000010012", "LAB FAILED"),
        ("1A4060300003C35000010013", "EXPIRED"),
        ("1A4060300003C35000099999", "NOT ON LIST"),
        ("012345678905", "NOT A TAG"),
    ] {
        h.type_text(&format!("{tag}\n"));
        ui.wait_word(h, word);
    }
    // A tap dismisses a rejection; the list shows the counts.
    h.tap(640.0, 400.0);
    assert!(!ui.pick().get_banner_visible());
    let line1 = ui.pick().get_lines().row_data(0).unwrap();
    assert_eq!((line1.picked, line1.allocated), (1, 4));
}

fn a_scan_without_enter_ends_after_a_pause(h: &Headless) {
    let ui = open(h, 1280, 800);
    ui.app
        .send(tagtally::app::station::Command::OpenOrder("SO-1001".into()));
    assert!(h.pump_until(WAIT, || ui.screen() == "pick"));
    h.type_text("1A4060300003C35000010004");
    ui.wait_word(h, "ACCEPTED");
    // The accepted banner clears by itself.
    assert!(h.pump_until(WAIT, || !ui.pick().get_banner_visible()));
}

fn a_scanned_package_opens_its_order(h: &Headless) {
    let ui = open(h, 1280, 800);
    h.type_text("1A4060300003C35000010006\n");
    ui.wait_word(h, "ACCEPTED");
    assert_eq!(ui.screen(), "pick");
    assert_eq!(ui.pick().get_order(), "SO-1002");
}

fn scans_are_answered_while_a_dialog_is_open(h: &Headless) {
    let ui = open(h, 1280, 800);
    ui.app
        .send(tagtally::app::station::Command::OpenOrder("SO-1001".into()));
    assert!(h.pump_until(WAIT, || ui.screen() == "pick"));
    ui.pick().set_selected_line("2".into());
    ui.pick().set_short_open(true);
    h.type_text("1A4060300003C35000010021\n");
    ui.wait_word(h, "ACCEPTED");
    assert_eq!(ui.pick().get_picked(), 1);
}

fn short_pick_by_taps(h: &Headless) {
    let ui = open(h, 1280, 800);
    ui.app
        .send(tagtally::app::station::Command::OpenOrder("SO-1001".into()));
    assert!(h.pump_until(WAIT, || ui.screen() == "pick"));
    h.pump();
    // Line 2 is the second row under the next package; the short button is at the
    // bottom left.
    h.tap(200.0, 317.0);
    assert_eq!(ui.pick().get_selected_line(), "2");
    // Only line 2's packages are listed, its first one next.
    let pulls = ui.pick().get_pulls();
    assert!(pulls.row_count() > 0);
    assert!((0..pulls.row_count()).all(|i| pulls.row_data(i).unwrap().line == "2"));
    assert_eq!(ui.pick().get_next_tag_tail(), "010011");
    h.tap(250.0, 722.0);
    assert!(
        ui.pick().get_short_open(),
        "the short button opens the reasons"
    );
    h.pump();
    let shot = h.snapshot().unwrap();
    assert!(shot.width() == 1280);
    // The first reason sits below the dialog's title.
    let reasons_top = (0..800)
        .find(|&y| {
            let p = shot.get_pixel(640, y);
            (p[0], p[1], p[2]) == (0x23, 0x2d, 0x38)
        })
        .expect("a reason button is drawn");
    h.tap(640.0, reasons_top as f32 + 20.0);
    let ok = h.pump_until(WAIT, || {
        ui.pick()
            .get_lines()
            .row_data(1)
            .is_some_and(|l| l.short == 3)
    });
    assert!(ok, "line 2 is shorted by three");
    assert!(!ui.pick().get_short_open());
}

fn a_scanner_source_feeds_the_screen(h: &Headless) {
    h.resize(1280, 800);
    let db = DemoDb::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scans.txt");
    std::fs::write(&file, "1A4060300003C35000010011\r\n").unwrap();
    let mut settings = db.settings.clone();
    settings.scan.sources = vec![format!("replay:{}", file.display())];
    let mut app = App::new(&settings, db.store().unwrap(), false).unwrap();
    app.window.show().unwrap();
    app.start_scanners(&settings).unwrap();
    let pick = app.window.global::<PickAdapter>();
    let ok = h.pump_until(WAIT, || {
        pick.get_banner_visible() && pick.get_banner_word() == "ACCEPTED"
    });
    assert!(ok, "a replayed scan opens its order and is accepted");
    assert_eq!(pick.get_order(), "SO-1001");
    assert!(
        pick.get_status().contains("replay:"),
        "{}",
        pick.get_status()
    );
}

fn people_sign_in_with_a_pin(h: &Headless) {
    h.resize(480, 800);
    let db = DemoDb::new().unwrap();
    let mut store = db.store().unwrap();
    store
        .set_person("Ana", tagtally::domain::people::Role::Picker, "2468")
        .unwrap();
    let app = App::new(&db.settings, db.store().unwrap(), false).unwrap();
    app.window.show().unwrap();
    let w = &app.window;
    let screen = || -> String { w.global::<AppAdapter>().get_screen().into() };
    let sign = w.global::<SignInAdapter>();
    assert!(h.pump_until(WAIT, || screen() == "signin"
        && sign.get_people().row_count() == 1));

    // A scan before anyone signed in is refused and not recorded.
    h.type_text("1A4060300003C35000010001\n");
    assert!(
        sign.get_message().contains("Sign in first"),
        "{}",
        sign.get_message()
    );
    ui_send_scan(&app, "1A4060300003C35000010001");
    assert!(h.pump_until(WAIT, || sign.get_message().contains("not recorded")));
    assert_eq!(db.store().unwrap().event_count().unwrap(), 0);

    // Tap the name, type a wrong PIN, then the right one on the keypad.
    sign.invoke_choose("Ana".into());
    h.type_text("1111\n");
    assert!(h.pump_until(WAIT, || sign.get_message().contains("wrong PIN")));
    for d in ["2", "4", "6", "8"] {
        sign.invoke_digit(d.into());
    }
    assert_eq!(sign.get_pin_length(), 4);
    sign.invoke_submit();
    assert!(h.pump_until(WAIT, || screen() == "orders"));
    assert_eq!(w.global::<OrdersAdapter>().get_signed_in(), "Ana (picker)");

    // Signed in, a scan opens its order; signing out refuses scans again.
    h.type_text("1A4060300003C35000010001\n");
    assert!(
        h.pump_until(WAIT, || w.global::<PickAdapter>().get_banner_word()
            == "ACCEPTED")
    );
    w.global::<OrdersAdapter>().invoke_sign_out();
    assert_eq!(screen(), "signin");
    ui_send_scan(&app, "1A4060300003C35000010002");
    h.pump_until(Duration::from_millis(500), || false);
    assert_eq!(db.store().unwrap().event_count().unwrap(), 1);
}

fn ui_send_scan(app: &App, tag: &str) {
    app.send(tagtally::app::station::Command::Scan(
        tagtally::scan::ScanEvent {
            source: "test".into(),
            raw: tag.as_bytes().to_vec(),
            len: tag.len(),
            manual: false,
            refused: None,
            at: std::time::SystemTime::now(),
        },
    ));
}

fn the_handheld_portrait_layout(h: &Headless) {
    let ui = open(h, 480, 800);
    ui.app
        .send(tagtally::app::station::Command::OpenOrder("SO-1001".into()));
    assert!(h.pump_until(WAIT, || ui.screen() == "pick"));
    h.type_text("1A4060300003C35000010022\n");
    ui.wait_word(h, "RECALL");
    let img = h.snapshot().unwrap();
    assert_eq!((img.width(), img.height()), (480, 800));
    assert!(is_red(centre(h)));
}

/// Renders each reference screen and compares it with the PNG in tests/reference, with
/// a tolerance for font rasterisation. `TAGTALLY_UPDATE_REFERENCE=1` rewrites them.
fn screens_match_their_references(h: &Headless) {
    for (screen, w, hgt) in [("pick", 1280, 800), ("rejected", 480, 800)] {
        let ui = open(h, w, hgt);
        show(h, &ui.app, screen).unwrap();
        compare(h, screen, w, hgt);
    }
}

/// Compare what the screen shows with `tests/reference/{screen}-{w}x{hgt}.png`, with a
/// tolerance for font rasterisation. `TAGTALLY_UPDATE_REFERENCE=1` rewrites it.
fn compare(h: &Headless, screen: &str, w: u32, hgt: u32) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference");
    let got = h.snapshot().unwrap();
    let file = dir.join(format!("{screen}-{w}x{hgt}.png"));
    // TAGTALLY_UPDATE_REFERENCE=1 rewrites every reference; =new writes missing ones.
    if let Some(update) = std::env::var_os("TAGTALLY_UPDATE_REFERENCE")
        && (update != "new" || !file.exists())
    {
        got.save(&file).unwrap();
        return;
    }
    let want = image::open(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .to_rgba8();
    assert_eq!(want.dimensions(), got.dimensions());
    let differing = want
        .pixels()
        .zip(got.pixels())
        .filter(|(a, b)| (0..3).any(|c| a[c].abs_diff(b[c]) > 48))
        .count();
    let share = differing as f64 / (w * hgt) as f64;
    if share > 0.01 {
        let out = std::env::temp_dir().join(format!("tagtally-{screen}-got.png"));
        got.save(&out).unwrap();
        panic!(
            "{screen} {w}x{hgt}: {:.2}% of pixels differ from {} (see {})",
            share * 100.0,
            file.display(),
            out.display()
        );
    }
}

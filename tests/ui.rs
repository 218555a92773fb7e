//! The touch app on Slint's software renderer, headless: driven by key presses (as a
//! wedge scanner types) and taps, checked on the adapters' properties and on the pixels
//! it renders.
//!
//! Slint allows one platform per process, so every scenario runs in this one test, in
//! turn, each on a fresh demo database and a fresh window.

use std::path::Path;
use std::time::Duration;

use slint::{ComponentHandle, Model};
use tagtally::ui::headless::Headless;
use tagtally::ui::screenshot::{DemoDb, show};
use tagtally::ui::{App, AppAdapter, OrdersAdapter, PickAdapter, SignInAdapter};

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
    g > 100 && g > r + 40 && g > b + 40
}

fn is_red((r, g, b): (u8, u8, u8)) -> bool {
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
    // Line 2 is the second row; the short button is at the bottom.
    h.tap(300.0, 210.0);
    assert_eq!(ui.pick().get_selected_line(), "2");
    h.tap(640.0, 722.0);
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
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference");
    for (screen, w, hgt) in [("pick", 1280, 800), ("rejected", 480, 800)] {
        let ui = open(h, w, hgt);
        show(h, &ui.app, screen).unwrap();
        let got = h.snapshot().unwrap();
        let file = dir.join(format!("{screen}-{w}x{hgt}.png"));
        if std::env::var_os("TAGTALLY_UPDATE_REFERENCE").is_some() {
            got.save(&file).unwrap();
            continue;
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
}

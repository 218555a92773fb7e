//! The floor screens of the pick list, headless. The pick screen's list of packages
//! to pull: the next package at the top moves on with each accepted scan (in the same
//! update as the verdict), a tapped line shows only its packages, picked packages
//! show with who picked them, a package picked on another connection leaves the list
//! once the station hears of it, the list takes no keyboard focus, and the handheld
//! and the 320x240 layouts show the place and the six digits. The order list shows
//! how far each order is picked and who else is picking it; the PIN keypad has a way
//! back to the names.
//!
//! Slint allows one platform per process: every scenario runs in this one test.

use std::time::Duration;

use slint::{ComponentHandle, Model};
use tagtally::app::station::Command;
use tagtally::domain::people::Role;
use tagtally::ui::headless::Headless;
use tagtally::ui::screenshot::DemoDb;
use tagtally::ui::{App, AppAdapter, OrdersAdapter, PickAdapter, SignInAdapter};

const WAIT: Duration = Duration::from_secs(15);

fn open(h: &Headless, width: u32, height: u32) -> (DemoDb, App) {
    h.resize(width, height);
    let db = DemoDb::new().unwrap();
    let app = App::new(&db.settings, db.store().unwrap(), true).unwrap();
    app.window.show().unwrap();
    assert!(h.pump_until(WAIT, || {
        app.window
            .global::<OrdersAdapter>()
            .get_orders()
            .row_count()
            == 2
    }));
    app.send(Command::OpenOrder("SO-1001".into()));
    assert!(
        h.pump_until(WAIT, || app.window.global::<AppAdapter>().get_screen()
            == "pick")
    );
    (db, app)
}

fn tails(pick: &PickAdapter<'_>) -> Vec<String> {
    let rows = pick.get_pulls();
    (0..rows.row_count())
        .map(|i| rows.row_data(i).unwrap().tag_tail.to_string())
        .collect()
}

#[test]
fn the_floor_screens_of_the_pick_list() {
    tagtally::ui::sound::set_enabled(false);
    let h = Headless::install(1280, 800).unwrap();
    the_list_moves_on_with_every_accepted_scan(&h);
    another_devices_pick_leaves_the_list(&h);
    small_screens_show_the_place_and_the_six_digits(&h);
    the_order_list_shows_progress_and_who_else_picks(&h);
    the_keypad_goes_back_to_the_names(&h);
    a_long_or_foreign_place_is_shortened_on_screen(&h);
}

fn a_long_or_foreign_place_is_shortened_on_screen(h: &Headless) {
    let db = DemoDb::new().unwrap();
    let long = "Vault ".repeat(50);
    {
        let mut store = db.store().unwrap();
        let tag = tagtally::tag::MetrcTag::new("1A4060300003C35000010021").unwrap();
        let mut p = store.packages(std::slice::from_ref(&tag)).unwrap()[&tag].clone();
        p.location = Some(long.clone());
        p.sublocation = Some("棚 3 🔥 Étagère".into());
        p.last_modified = "2099-01-01T00:00:00.000Z".into();
        store.import_packages(&[p]).unwrap();
    }
    for (w, hgt) in [(480, 800), (320, 240), (1280, 800)] {
        h.resize(w, hgt);
        let app = App::new(&db.settings, db.store().unwrap(), false).unwrap();
        app.window.show().unwrap();
        app.send(Command::OpenOrder("SO-1001".into()));
        let pick = app.window.global::<PickAdapter>();
        assert!(h.pump_until(WAIT, || tails(&pick).contains(&"010021".to_string())));
        let rows = pick.get_pulls();
        let row = (0..rows.row_count())
            .map(|i| rows.row_data(i).unwrap())
            .find(|r| r.tag_tail == "010021")
            .unwrap();
        assert!(row.group.starts_with("Vault Vault") && row.group_start);
        assert_eq!(row.sublocation, "棚 3 🔥 Étagère");
        // Drawn without a crash, elided to the screen.
        let img = h.snapshot().unwrap();
        assert_eq!(img.width(), w);
    }
}

fn the_order_list_shows_progress_and_who_else_picks(h: &Headless) {
    let (db, app) = open(h, 1280, 800);
    // Another device's pick on SO-1001, as the sync would have brought it.
    {
        let mut store = db.store().unwrap();
        let tag = tagtally::tag::MetrcTag::new("1A4060300003C35000010001").unwrap();
        let other = tagtally::domain::Event {
            device: "vault-9".into(),
            seq: 1,
            at: "2026-12-01T10:00:00.000Z".into(),
            order: "SO-1001".into(),
            person: Some("Pia".into()),
            kind: tagtally::domain::EventKind::scan(
                b"1A4060300003C35000010001",
                24,
                Some(tag),
                tagtally::domain::Verdict::Accepted {
                    line: "1".into(),
                    expires_in_days: None,
                },
            ),
        };
        store.record_sync("SO-1001", &[], &[other], &[], 1).unwrap();
    }
    app.send(Command::CloseOrder);
    let orders = app.window.global::<OrdersAdapter>();
    let row = |n: &str| {
        let rows = orders.get_orders();
        (0..rows.row_count())
            .map(|i| rows.row_data(i).unwrap())
            .find(|r| r.number == n)
    };
    assert!(h.pump_until(WAIT, || row("SO-1001").is_some_and(|r| r.picked == 1)));
    let r = row("SO-1001").unwrap();
    assert_eq!((r.picked, r.total), (1, 9));
    assert_eq!(r.others, "also picking: Pia");
    let r = row("SO-1002").unwrap();
    assert_eq!((r.picked, r.others.as_str()), (0, ""));
}

fn the_keypad_goes_back_to_the_names(h: &Headless) {
    h.resize(480, 800);
    let db = DemoDb::new().unwrap();
    {
        let mut store = db.store().unwrap();
        store.set_person("Ana", Role::Picker, "1357").unwrap();
        store.set_person("Bo", Role::Picker, "2468").unwrap();
    }
    let app = App::new(&db.settings, db.store().unwrap(), false).unwrap();
    app.window.show().unwrap();
    let s = app.window.global::<SignInAdapter>();
    assert!(h.pump_until(WAIT, || s.get_people().row_count() == 2));
    s.invoke_choose("Ana".into());
    s.invoke_digit("1".into());
    assert_eq!((s.get_selected().as_str(), s.get_pin_length()), ("Ana", 1));
    // The Back key sits under the keypad, as big as its keys.
    let img = h.snapshot().unwrap();
    let found = (400..800).rev().find(|&y| {
        let p = img.get_pixel(240, y);
        (p[0], p[1], p[2]) == (0x23, 0x2d, 0x38)
    });
    let y = found.expect("the back key is drawn") as f32 - 10.0;
    h.tap(240.0, y);
    assert!(h.pump_until(WAIT, || s.get_selected().is_empty()));
    assert_eq!(s.get_pin_length(), 0, "the digits typed go too");
    // And the other name signs in.
    s.invoke_choose("Bo".into());
    for d in ["2", "4", "6", "8"] {
        s.invoke_digit(d.into());
    }
    s.invoke_submit();
    assert!(
        h.pump_until(WAIT, || app.window.global::<AppAdapter>().get_screen()
            == "orders"),
        "Bo signs in: {}",
        s.get_message()
    );
}

fn the_list_moves_on_with_every_accepted_scan(h: &Headless) {
    let (_db, app) = open(h, 1280, 800);
    let pick = app.window.global::<PickAdapter>();
    // Walking order: the cage, Vault A by shelf, Vault B, no location last.
    assert_eq!(pick.get_next_place(), "Cage");
    assert_eq!(pick.get_next_tag_tail(), "010021");
    assert_eq!(
        tails(&pick),
        [
            "010021", "010002", "010003", "010011", "010012", "010001", "010004", "010013",
            "010022"
        ]
    );
    let rows = pick.get_pulls();
    let first = rows.row_data(0).unwrap();
    assert!(first.is_next && first.group_start && first.group == "Cage");
    let held = rows.row_data(2).unwrap();
    assert!(
        held.blocked && held.note.contains("ON HOLD"),
        "{:?}",
        held.note
    );
    assert!(!rows.row_data(2).unwrap().group_start, "still Vault A");

    // A tap on the list takes no focus: the next scan is still answered.
    h.tap(600.0, 400.0);
    h.type_text("1A4060300003C35000010021\n");
    // The verdict and the moved list arrive together.
    assert!(h.pump_until(WAIT, || pick.get_banner_visible()));
    assert_eq!(pick.get_banner_word(), "ACCEPTED");
    assert_eq!(pick.get_next_tag_tail(), "010002");
    assert_eq!(pick.get_next_place(), "Vault A · Shelf 2");
    assert!(!tails(&pick).contains(&"010021".to_string()));
    assert_eq!(pick.get_pulls_title(), "8 packages to pull");

    // Picked packages, with who picked them, on a toggle.
    pick.set_show_picked(true);
    pick.invoke_filter_changed();
    let rows = pick.get_pulls();
    let picked = (0..rows.row_count())
        .map(|i| rows.row_data(i).unwrap())
        .find(|r| r.tag_tail == "010021")
        .expect("the picked package is listed");
    assert!(
        picked.picked && picked.note.starts_with("picked on "),
        "{:?}",
        picked.note
    );
    pick.set_show_picked(false);
    pick.invoke_filter_changed();

    // One line: only its packages, its own next.
    pick.set_selected_line("2".into());
    pick.invoke_filter_changed();
    assert_eq!(tails(&pick), ["010011", "010012", "010013"]);
    assert_eq!(pick.get_next_tag_tail(), "010011");
    assert_eq!(pick.get_pulls_title(), "3 packages to pull on line 2");
    // Line 3 holds only the recalled package now: nothing on it may ship.
    pick.set_selected_line("3".into());
    pick.invoke_filter_changed();
    assert!(!pick.get_next_visible());
    assert!(pick.get_next_none().contains("may not ship"));
}

fn another_devices_pick_leaves_the_list(h: &Headless) {
    let (db, app) = open(h, 1280, 800);
    let pick = app.window.global::<PickAdapter>();
    assert!(tails(&pick).contains(&"010002".to_string()));
    // Another process on this database (the background sync taking in another
    // device's pick) records a pick; the station hears of it.
    {
        let mut store = db.store().unwrap();
        let mut s = tagtally::app::pick::PickSession::open_for(&mut store, "SO-1001", &db.settings)
            .unwrap();
        let tag = "1A4060300003C35000010002";
        let a = s
            .scan(&tagtally::scan::Frame {
                bytes: tag.as_bytes().to_vec(),
                len: tag.len(),
            })
            .unwrap();
        assert_eq!(a.verdict, "accepted");
    }
    app.send(Command::Heard);
    assert!(
        h.pump_until(WAIT, || !tails(&pick).contains(&"010002".to_string())),
        "{:?}",
        tails(&pick)
    );
    assert_eq!(pick.get_picked(), 1);
}

fn small_screens_show_the_place_and_the_six_digits(h: &Headless) {
    for (w, hgt) in [(480, 800), (320, 240)] {
        let (_db, app) = open(h, w, hgt);
        let pick = app.window.global::<PickAdapter>();
        let img = h.snapshot().unwrap();
        assert_eq!((img.width(), img.height()), (w, hgt));
        assert_eq!(pick.get_next_tag_tail(), "010021");
        // The next card stands out in the accent colour near the top.
        let accent = (0..hgt / 2).any(|y| {
            let p = img.get_pixel(w / 4, y);
            (p[0], p[1], p[2]) == (0x2f, 0x63, 0xc8)
        });
        assert!(accent, "{w}x{hgt}: the next package stands out");
        if let Ok(dir) = std::env::var("TAGTALLY_SCREENSHOTS") {
            img.save(format!("{dir}/picklist-{w}x{hgt}.png")).unwrap();
        }
    }
}

//! `tagtally screenshot`: any screen, with the demo data, rendered headless to a PNG.

use std::path::{Path, PathBuf};

use slint::{ComponentHandle, Model};
use std::time::Duration;

use super::headless::Headless;
use super::{App, AppAdapter, PickAdapter};
use crate::app::station::Command;
use crate::config::Settings;

/// Screens `tagtally screenshot --screen` knows.
pub const SCREENS: &[&str] = &["signin", "orders", "pick", "accepted", "rejected", "short"];

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
    if screen == "signin" {
        crate::app::add_demo_people(&mut store).map_err(|e| e.to_string())?;
    }
    let app = App::new(&db.settings, store, true).map_err(|e| e.to_string())?;
    app.window.show().map_err(|e| e.to_string())?;
    show(&headless, &app, screen)?;
    headless.save_png(out).map_err(|e| e.to_string())
}

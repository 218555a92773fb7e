//! The touch app: the only code that touches the Slint types generated from `ui/`.
//!
//! Each screen has one global adapter (`OrdersAdapter`, `PickAdapter`, `AppAdapter`);
//! this module sets their properties from station [`Update`]s and turns their callbacks
//! into station [`Command`]s. All IO happens on the station thread; its updates come
//! back through Slint's event loop (`invoke_from_event_loop`), so the screen never
//! waits on the disk.

pub mod headless;
pub mod screenshot;
mod sign_in;
pub mod signature;
pub mod sound;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use crate::app::DEMO_TAGS;
use crate::app::pick::Answer;
use crate::app::station::{Command, Station, Update};
use crate::config::Settings;
use crate::domain::pick::Progress;
use crate::scan::wedge::TypedFramer;
use crate::scan::{Frame, ScanEvent, SourceEvent, Sources, Terminator};
use crate::store::Store;

slint::include_modules!();

/// How long an ACCEPTED banner stays before the list shows again (rejections stay
/// until tapped or the next scan).
const ACCEPTED_BANNER: Duration = Duration::from_millis(1500);

/// A pause this long ends a wedge scan that has no Enter.
const WEDGE_GAP: Duration = Duration::from_millis(150);

/// The running app: its window and station.
pub struct App {
    pub window: AppWindow,
    station: Rc<Station>,
    scanners: Option<Sources>,
    _idle_timer: Option<slint::Timer>,
}

impl App {
    /// Build the window over `store`. `demo` shows the demo scanner panel.
    pub fn new(settings: &Settings, store: Store, demo: bool) -> Result<App, slint::PlatformError> {
        let window = AppWindow::new()?;
        let weak = window.as_weak();
        let station = Rc::new(Station::start(store, settings, move |update| {
            let weak = weak.clone();
            // The window is gone when the loop has ended: nothing left to show.
            let _ = slint::invoke_from_event_loop(move || {
                if let Some(w) = weak.upgrade() {
                    apply(&w, update);
                }
            });
        }));
        let pick = window.global::<PickAdapter>();
        pick.set_demo(demo);
        pick.set_demo_tags(ModelRc::new(VecModel::from(
            DEMO_TAGS
                .iter()
                .map(|(tag, hint)| DemoTag {
                    tag: (*tag).into(),
                    hint: (*hint).into(),
                })
                .collect::<Vec<_>>(),
        )));
        pick.set_short_reasons(ModelRc::new(VecModel::from(
            settings
                .ui
                .short_reasons
                .iter()
                .map(|r| SharedString::from(r.as_str()))
                .collect::<Vec<_>>(),
        )));
        if !settings.ui.sound {
            sound::set_enabled(false);
        }
        if settings.ui.kiosk {
            window.global::<AppAdapter>().set_kiosk(true);
            window.window().set_fullscreen(true);
        }
        wire(&window, &station, settings);
        let idle_timer = sign_in::wire(&window, &station, settings);
        // People first: the station decides whether anyone must sign in.
        station.send(Command::ListPeople);
        station.send(Command::ListOrders {
            search: String::new(),
        });
        Ok(App {
            window,
            station,
            scanners: None,
            _idle_timer: idle_timer,
        })
    }

    /// Start the scanner sources named in the settings (`scan.sources`); their scans
    /// and status go to the station like the wedge's. The window's own keyboard input
    /// always works besides them.
    pub fn start_scanners(&mut self, settings: &Settings) -> Result<(), String> {
        let mut sources = Sources::new();
        for spec in &settings.scan.sources {
            let spec: crate::scan::SourceSpec = spec.parse()?;
            sources.start(crate::scan::open_source(
                &spec,
                settings.scan.max_line_bytes,
                &settings.tags.parser(),
            )?);
        }
        let station = self.station.sender();
        let events = sources.take_events();
        std::thread::Builder::new()
            .name("scanners".into())
            .spawn(move || {
                for ev in events {
                    let cmd = match ev {
                        SourceEvent::Scan(s) => Command::Scan(s),
                        SourceEvent::Status {
                            source, message, ..
                        } => Command::Status(format!("[{source}] {message}")),
                    };
                    if station.send(cmd).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        self.scanners = Some(sources);
        Ok(())
    }

    /// Show the window and run the event loop until it is closed.
    pub fn run(&self) -> Result<(), slint::PlatformError> {
        self.window.run()
    }

    /// Queue a command as the screen would (for scanner sources and tests).
    pub fn send(&self, c: Command) {
        self.station.send(c);
    }

    /// A sender for scanner threads.
    pub fn station_sender(&self) -> std::sync::mpsc::Sender<Command> {
        self.station.sender()
    }
}

fn wire(window: &AppWindow, station: &Rc<Station>, settings: &Settings) {
    let started = Instant::now();
    let framer = Rc::new(RefCell::new(TypedFramer::new(
        Terminator::Any,
        settings.scan.max_line_bytes,
        Duration::from_millis(35),
    )));
    let search = Rc::new(RefCell::new(String::new()));
    let flush_timer = Rc::new(slint::Timer::default());

    let app = window.global::<AppAdapter>();
    {
        let (station, weak, framer, search, flush_timer) = (
            station.clone(),
            window.as_weak(),
            framer.clone(),
            search.clone(),
            flush_timer.clone(),
        );
        app.on_key_typed(move |text| {
            let Some(w) = weak.upgrade() else { return };
            let text = keep_typed(&text);
            if text.is_empty() {
                return;
            }
            sign_in::touched();
            match w.global::<AppAdapter>().get_screen().as_str() {
                "signin" => {
                    sign_in::key(&station, &w, &text);
                    return;
                }
                "orders" => {
                    orders_key(&station, &w, &search, &text);
                    return;
                }
                _ => {}
            }
            let scans = framer.borrow_mut().feed(&text, started.elapsed());
            for d in scans {
                send_scan(&station, "keyboard", d.frame);
            }
            if framer.borrow().pending() {
                // A scanner that sends no Enter: end the scan after a pause.
                let (station, framer) = (station.clone(), framer.clone());
                flush_timer.start(slint::TimerMode::SingleShot, WEDGE_GAP, move || {
                    if let Some(d) = framer.borrow_mut().flush() {
                        send_scan(&station, "keyboard", d.frame);
                    }
                });
            }
        });
    }

    let orders = window.global::<OrdersAdapter>();
    {
        let station = station.clone();
        orders.on_open(move |number| station.send(Command::OpenOrder(number.into())));
    }
    {
        let (station, search) = (station.clone(), search.clone());
        orders.on_clear_search(move || {
            search.borrow_mut().clear();
            station.send(Command::ListOrders {
                search: String::new(),
            });
        });
    }

    let pick = window.global::<PickAdapter>();
    {
        let station = station.clone();
        pick.on_back(move || station.send(Command::CloseOrder));
    }
    {
        let weak = window.as_weak();
        pick.on_dismiss_banner(move || {
            if let Some(w) = weak.upgrade() {
                w.global::<PickAdapter>().set_banner_visible(false);
            }
        });
    }
    {
        let station = station.clone();
        pick.on_demo_scan(move |tag| {
            let bytes = tag.as_bytes().to_vec();
            send_scan(
                &station,
                "demo",
                Frame {
                    len: bytes.len(),
                    bytes,
                },
            );
        });
    }
    {
        let (station, weak) = (station.clone(), window.as_weak());
        pick.on_short(move |line, reason| {
            station.send(Command::Short {
                line: line.into(),
                reason: reason.into(),
            });
            if let Some(w) = weak.upgrade() {
                w.global::<PickAdapter>().set_selected_line("".into());
            }
        });
    }
}

/// Keys the app takes: printable text and Enter/Tab. Slint sends modifiers and arrows
/// as private-use or control characters; those are not part of a scan. Backspace
/// (U+0008) is kept for the search field.
fn keep_typed(text: &str) -> String {
    text.chars()
        .filter(|c| {
            matches!(c, '\n' | '\r' | '\t' | '\u{8}')
                || (!c.is_control() && !('\u{E000}'..='\u{F8FF}').contains(c))
        })
        .collect()
}

/// On the order list, typing filters the list; Enter on something that is a tag scans
/// it (which opens the order the package belongs to).
fn orders_key(station: &Station, w: &AppWindow, search: &RefCell<String>, text: &str) {
    for c in text.chars() {
        match c {
            '\n' | '\r' => {
                let typed = std::mem::take(&mut *search.borrow_mut());
                if typed.len() >= 8 {
                    let bytes = typed.into_bytes();
                    send_scan(
                        station,
                        "keyboard",
                        Frame {
                            len: bytes.len(),
                            bytes,
                        },
                    );
                }
            }
            '\u{8}' => {
                search.borrow_mut().pop();
            }
            '\t' => {}
            c => search.borrow_mut().push(c),
        }
    }
    let s = search.borrow().clone();
    w.global::<OrdersAdapter>().set_search(s.clone().into());
    station.send(Command::ListOrders { search: s });
}

fn send_scan(station: &Station, source: &str, frame: Frame) {
    station.send(Command::Scan(ScanEvent {
        source: source.into(),
        raw: frame.bytes,
        len: frame.len,
        manual: false,
        refused: None,
        at: std::time::SystemTime::now(),
    }));
}

thread_local! {
    static BANNER_SEQ: Cell<u64> = const { Cell::new(0) };
}

/// Show one station update.
pub fn apply(w: &AppWindow, update: Update) {
    let pick = w.global::<PickAdapter>();
    let app = w.global::<AppAdapter>();
    if matches!(
        update,
        Update::Answer { .. } | Update::Opened { .. } | Update::Progress(_) | Update::Closed
    ) {
        sign_in::touched();
    }
    match update {
        Update::Orders { search, orders } => {
            let o = w.global::<OrdersAdapter>();
            o.set_search(search.into());
            o.set_orders(ModelRc::new(VecModel::from(
                orders
                    .into_iter()
                    .map(|s| OrderRow {
                        number: s.number.into(),
                        short_id: s.short_id.unwrap_or_default().into(),
                        buyer: s.buyer.into(),
                        ship_date: s.ship_date.unwrap_or_default().into(),
                        total: s.total as i32,
                    })
                    .collect::<Vec<_>>(),
            )));
        }
        Update::Opened { buyer, progress } => {
            pick.set_buyer(buyer.into());
            pick.set_banner_visible(false);
            pick.set_selected_line("".into());
            pick.set_status("Scan the packages on the list.".into());
            show_progress(&pick, &progress);
            app.set_screen("pick".into());
            w.global::<OrdersAdapter>().set_message("".into());
        }
        Update::Answer { answer, progress } => {
            show_progress(&pick, &progress);
            show_banner(w, &answer);
        }
        Update::Progress(progress) => show_progress(&pick, &progress),
        Update::Closed => {
            pick.set_banner_visible(false);
            app.set_screen("orders".into());
        }
        Update::Status(s) => {
            pick.set_status(s.clone().into());
            w.global::<OrdersAdapter>().set_message(s.into());
        }
        Update::People(_) | Update::SignedIn(_) | Update::SignInRefused(_) => {
            sign_in::apply(w, update)
        }
        Update::Error(message) => {
            if app.get_screen() == "pick" {
                pick.set_banner_good(false);
                pick.set_banner_word("NOT RECORDED".into());
                pick.set_banner_tag_head("".into());
                pick.set_banner_tag_tail("".into());
                pick.set_banner_item("".into());
                pick.set_banner_message(message.clone().into());
                pick.set_banner_visible(true);
                pick.set_status(message.into());
                sound::play(false);
            } else {
                w.global::<OrdersAdapter>().set_message(message.into());
            }
        }
    }
}

fn show_progress(pick: &PickAdapter, p: &Progress) {
    pick.set_order(p.order.clone().into());
    pick.set_picked(p.picked as i32);
    pick.set_total(p.total as i32);
    pick.set_complete(p.complete);
    pick.set_lines(ModelRc::new(VecModel::from(
        p.lines
            .iter()
            .map(|l| LineRow {
                id: l.id.clone().into(),
                label: l.label.clone().into(),
                batch: l.batch.clone().unwrap_or_default().into(),
                allocated: l.allocated as i32,
                picked: l.picked as i32,
                short: l.short as i32,
                remaining: l.remaining as i32,
            })
            .collect::<Vec<_>>(),
    )));
}

/// The one word a verdict shows.
pub fn banner_word(a: &Answer) -> &'static str {
    match (a.verdict, a.reason) {
        ("accepted", _) => "ACCEPTED",
        ("already_scanned", _) => "ALREADY SCANNED",
        ("wrong_batch", _) => "WRONG BATCH",
        ("wrong_order", _) => "WRONG ORDER",
        ("not_on_list", _) => "NOT ON LIST",
        ("ineligible", Some("on_hold")) => "ON HOLD",
        ("ineligible", Some("lab_state")) => "LAB FAILED",
        ("ineligible", Some("expired")) => "EXPIRED",
        ("ineligible", Some("recall")) => "RECALL",
        ("ineligible", Some("investigation")) => "INVESTIGATION",
        ("ineligible", _) => "FINISHED",
        _ => "NOT A TAG",
    }
}

fn show_banner(w: &AppWindow, a: &Answer) {
    let pick = w.global::<PickAdapter>();
    let good = a.verdict == "accepted";
    let (head, tail) = match &a.tag {
        Some(t) => (t.as_str()[..18].to_string(), t.tail(6).to_string()),
        None => (String::new(), a.input.chars().take(24).collect()),
    };
    pick.set_banner_good(good);
    pick.set_banner_word(banner_word(a).into());
    pick.set_banner_tag_head(head.into());
    pick.set_banner_tag_tail(tail.into());
    pick.set_banner_item(a.item.clone().unwrap_or_default().into());
    let mut message = a.message.clone();
    if a.complete && good {
        message.push_str(" The order is complete.");
    }
    pick.set_banner_message(message.into());
    pick.set_banner_visible(true);
    pick.set_status(format!("Last scan from {}: {}", a.source, a.message).into());
    sound::play(good);
    let seq = BANNER_SEQ.with(|s| {
        s.set(s.get() + 1);
        s.get()
    });
    if good {
        let weak = w.as_weak();
        slint::Timer::single_shot(ACCEPTED_BANNER, move || {
            if BANNER_SEQ.with(Cell::get) == seq
                && let Some(w) = weak.upgrade()
            {
                w.global::<PickAdapter>().set_banner_visible(false);
            }
        });
    }
}

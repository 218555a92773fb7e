//! The touch app: the only code that touches the Slint types generated from `ui/`.
//!
//! Each screen has one global adapter (`OrdersAdapter`, `PickAdapter`, `LoadAdapter`,
//! `DeliverAdapter`, `SignInAdapter`; `SupervisorAdapter` for the supervisor's
//! sign-off over any screen; `AppAdapter` for the window);
//! this module sets their properties from station [`Update`](crate::app::station::Update)s and turns their callbacks
//! into station [`Command`]s. All IO happens on the station thread; its updates come
//! back through Slint's event loop (`invoke_from_event_loop`), so the screen never
//! waits on the disk.

mod deliver;
pub mod entry;
pub mod headless;
mod load;
mod pick;
pub mod screenshot;
mod sign_in;
pub mod sound;
mod supervisor;
mod updates;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use crate::app::DEMO_TAGS;
use crate::app::station::{Command, Station};
use crate::config::{Settings, Station as Flow};
use crate::scan::wedge::TypedFramer;
use crate::scan::{Frame, ScanEvent, SourceEvent, Sources, Terminator};
use crate::store::Store;

slint::include_modules!();

/// How long an ACCEPTED banner stays before the list shows again (rejections stay
/// until tapped or the next scan).
const ACCEPTED_BANNER: Duration = Duration::from_millis(1500);

/// A pause this long ends a wedge scan that has no Enter.
const WEDGE_GAP: Duration = Duration::from_millis(150);

/// Tags of the demo data to try at the dock (after picking SO-1002), with a hint.
pub const LOAD_DEMO_TAGS: &[(&str, &str)] = &[
    ("1A4060300003C35000010005", "SO-1002: loaded"),
    ("1A4060300003C35000010006", "SO-1002: loaded"),
    (
        "1A4060300003C35000010001",
        "SO-1001's: wrong order (or not picked, loading SO-1001)",
    ),
    ("012345678905", "a UPC: not a tag"),
];

/// Tags of the demo data to try at the hand-over (after loading SO-1002).
pub const DELIVER_DEMO_TAGS: &[(&str, &str)] = &[
    ("1A4060300003C35000010005", "SO-1002: handed over"),
    ("1A4060300003C35000010006", "SO-1002: handed over"),
    ("1A4060300003C35000010001", "not on SO-1002's manifest"),
    ("012345678905", "a UPC: not a tag"),
];

fn demo_tags(tags: &[(&str, &str)]) -> ModelRc<DemoTag> {
    ModelRc::new(VecModel::from(
        tags.iter()
            .map(|(tag, hint)| DemoTag {
                tag: (*tag).into(),
                hint: (*hint).into(),
            })
            .collect::<Vec<_>>(),
    ))
}

thread_local! {
    static FLOW: Cell<Flow> = const { Cell::new(Flow::Pick) };
}

/// The screen after sign-in (and after leaving an order) for the station's flow.
pub(crate) fn home() -> &'static str {
    match FLOW.with(Cell::get) {
        Flow::Pick => "orders",
        Flow::Load => "load",
        Flow::Deliver => "deliver",
    }
}

/// The running app: its window and station.
pub struct App {
    pub window: AppWindow,
    station: Rc<Station>,
    scanners: Option<Sources>,
    _idle_timer: Option<slint::Timer>,
    sync: Option<crate::sync::Background>,
}

impl Drop for App {
    /// Scanners first (nothing more comes in), then the station (what was queued is
    /// answered and recorded, then its worker ends and closes its connection; the
    /// window's callbacks may keep the handle alive, so it is told, not dropped), then
    /// the sync (one bounded last push of what was recorded).
    fn drop(&mut self) {
        if let Some(s) = self.scanners.take() {
            s.stop();
        }
        self.station.shutdown();
        if let Some(s) = self.sync.take() {
            s.stop();
        }
    }
}

impl App {
    /// Build the window over `store`, for the flow of `[device] station`. `demo` shows
    /// the demo scanner panel and lets the flow be switched on the home screens.
    pub fn new(settings: &Settings, store: Store, demo: bool) -> Result<App, slint::PlatformError> {
        let window = AppWindow::new()?;
        FLOW.with(|f| f.set(settings.device.station));
        sign_in::reset();
        entry::reset();
        supervisor::reset(&settings.ship.remove_reasons);
        load::reset();
        deliver::reset();
        {
            let app = window.global::<AppAdapter>();
            app.set_flow(settings.device.station.word().into());
            app.set_demo(demo);
            app.set_screen(home().into());
        }
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
        load::wire(&window, &station);
        deliver::wire(&window, &station);
        supervisor::wire(&window, &station);
        let idle_timer = sign_in::wire(&window, &station, settings);
        // People first: the station decides whether anyone must sign in.
        station.send(Command::ListPeople);
        station.send(Command::ListOrders {
            search: String::new(),
        });
        station.send(Command::ListStages);
        Ok(App {
            window,
            station,
            scanners: None,
            _idle_timer: idle_timer,
            sync: None,
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

    /// Sync with the hub in the background when this device has joined one (`tagtally
    /// device join`), on its own connection: other devices' picks, orders, people and
    /// package facts arrive while the screen is open, this device's events leave as
    /// they are recorded, and the screen always shows whether the hub answers and how
    /// many events wait. Returns whether it started (false: not joined).
    pub fn start_sync(&mut self, settings: &Settings) -> Result<bool, String> {
        use crate::sync::{Background, LoopOptions, SyncError};
        let station = self.station.sender();
        let weak = self.window.as_weak();
        let sync = Background::start_reporting(
            settings.db_path(),
            Duration::from_millis(settings.store.busy_timeout_ms),
            settings.device.id.clone(),
            LoopOptions::default(),
            std::io::stderr(),
            move |health| {
                if health.news {
                    let _ = station.send(Command::Heard);
                }
                let health = health.clone();
                let weak = weak.clone();
                let _ = slint::invoke_from_event_loop(move || {
                    if let Some(w) = weak.upgrade() {
                        show_sync(&w, &health);
                    }
                });
            },
        );
        // Not joined: this device works alone.
        let sync = match sync {
            Err(SyncError::NotJoined) => return Ok(false),
            other => other.map_err(|e| e.to_string())?,
        };
        let app = self.window.global::<AppAdapter>();
        app.set_sync_state("connecting".into());
        self.sync = Some(sync);
        Ok(true)
    }

    /// Show the window and run the event loop until it is closed.
    pub fn run(&self) -> Result<(), slint::PlatformError> {
        self.window.run()
    }

    /// Queue a command as the screen would (for scanner sources and tests).
    pub fn send(&self, c: Command) {
        self.station.send(c);
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
    let parser = Rc::new(settings.tags.parser());

    let app = window.global::<AppAdapter>();
    {
        let (station, weak, framer, search, flush_timer, parser) = (
            station.clone(),
            window.as_weak(),
            framer.clone(),
            search.clone(),
            flush_timer.clone(),
            parser.clone(),
        );
        app.on_key_typed(move |text| {
            let Some(w) = weak.upgrade() else { return };
            let text = keep_typed(&text);
            if text.is_empty() {
                return;
            }
            sign_in::touched();
            let screen = w.global::<AppAdapter>().get_screen();
            if screen != "signin" && entry::active().is_some() {
                entry_key(&station, &w, &parser, &flush_timer, &text);
                return;
            }
            match screen.as_str() {
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

    {
        let station = station.clone();
        app.on_switch_flow(move |f| {
            if let Some(flow) = Flow::parse(&f) {
                station.send(Command::Flow(flow));
            }
        });
    }

    let pick = window.global::<PickAdapter>();
    {
        let station = station.clone();
        pick.on_back(move || station.send(Command::CloseOrder));
    }
    {
        let station = station.clone();
        pick.on_undo(move || station.send(Command::ListPicked));
    }
    {
        let weak = window.as_weak();
        let w2 = weak.clone();
        pick.on_filter_changed(move || {
            if let Some(w) = w2.upgrade() {
                pick::render(&w);
            }
        });
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

/// Keys while a field is being typed into ([`entry`]): scan-shaped lines are still
/// scans; Enter moves on in the form that owns the field.
fn entry_key(
    station: &Rc<Station>,
    w: &AppWindow,
    parser: &Rc<crate::tag::TagParser>,
    timer: &slint::Timer,
    text: &str,
) {
    let fed = entry::feed(parser, text);
    for line in &fed.scans {
        send_text_scan(station, "keyboard", line);
    }
    if fed.enter {
        match entry::active() {
            Some(entry::PIN) => supervisor::enter(station, w),
            Some(entry::NOTE | entry::RECEIVER) => deliver::enter(station, w),
            Some(_) => load::enter(w),
            None => {}
        }
    }
    refresh_fields(w);
    if entry::pending() {
        let (station, weak, parser) = (station.clone(), w.as_weak(), parser.clone());
        timer.start(slint::TimerMode::SingleShot, WEDGE_GAP, move || {
            if let Some(line) = entry::pause(&parser) {
                send_text_scan(&station, "keyboard", &line);
                if let Some(w) = weak.upgrade() {
                    refresh_fields(&w);
                }
            }
        });
    }
}

/// Show every typed field's value again.
fn refresh_fields(w: &AppWindow) {
    load::show(w);
    deliver::show(w);
    supervisor::show(w);
}

fn send_text_scan(station: &Station, source: &str, text: &str) {
    let bytes = text.as_bytes().to_vec();
    send_scan(
        station,
        source,
        Frame {
            len: bytes.len(),
            bytes,
        },
    );
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

use updates::{Banner, show_error_banner, show_ship_banner, show_sync};
pub use updates::{apply, banner_word, ship_word};

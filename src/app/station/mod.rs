//! The station worker: one thread that owns the database and the open session (a
//! pick, a load at the dock or a delivery), takes [`Command`]s from the screen and the
//! scanners, and reports [`Update`]s.
//!
//! The screen never waits on it: it sends a command and gets the update later through
//! the callback (the UI hands it to its event loop). Every scan is answered in the
//! order it arrived, and durably recorded before its answer is reported, whatever
//! dialog the screen has open.
//!
//! On a station with people, the person signed in must have the role of the flow
//! (picker, loader, driver, or a supervisor); an undo or a removal from a shipment is
//! checked against a supervisor's name and PIN here and recorded with the supervisor as
//! the event's person.

use std::fmt;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use crate::config::{Settings, Station as Flow};
use crate::domain::people::Role;
use crate::domain::pick::Progress;
use crate::domain::ship::{DeliveryState, LoadCheck};
use crate::domain::{Decision, Driver, Vehicle};
use crate::scan::ScanEvent;
use crate::store::{OrderSummary, Person, Store, StoreError};

use super::pick::{Answer, PickSession};

mod deliver;
mod load;
mod pick;
use super::ship::{DeliverySession, LoadSession, ShipAnswer, ShipError};
use deliver::delivery_loop;
use load::load_loop;
pub use pick::PickView;
use pick::pick_loop;

/// A supervisor's name and PIN, typed on the keypad for an undo or a removal.
#[derive(Clone, PartialEq)]
pub struct Supervisor {
    pub name: String,
    pub pin: String,
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The PIN never reaches a log.
        write!(f, "Supervisor({:?}, PIN hidden)", self.name)
    }
}

/// What the screen (or a scanner) asks of the station.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// List open orders whose number, short id or buyer contains the text.
    ListOrders { search: String },
    /// Open an order for picking.
    OpenOrder(String),
    /// Leave the open order, load or delivery.
    CloseOrder,
    /// One scan from a source.
    Scan(ScanEvent),
    /// A scanner's status ("unplugged: reconnecting"), to show.
    Status(String),
    /// List the people who may sign in.
    ListPeople,
    /// Check a PIN.
    SignIn { name: String, pin: String },
    /// The person leaves (by hand or idle): scans are refused until the next sign-in.
    SignOut,
    /// Short the rest of a line.
    Short { line: String, reason: String },
    /// The flow this station runs from now on (the demo switches at run time). Leaves
    /// whatever is open.
    Flow(Flow),
    /// Orders past the pick, for the dock's and the driver's lists.
    ListStages,
    /// The tags picked on the open order, the last one picked here first (for an undo).
    ListPicked,
    /// A supervisor takes back a pick of the open order.
    Undo {
        tag: String,
        reason: String,
        supervisor: Option<Supervisor>,
    },
    /// Start loading these picked orders onto one vehicle.
    OpenLoad(Vec<String>),
    /// A supervisor takes a package off the open load's shipment.
    Remove {
        tag: String,
        reason: String,
        supervisor: Option<Supervisor>,
    },
    /// End the worker (`Station::shutdown`).
    Quit,
    /// The background sync took in something new (another device's picks, orders,
    /// package facts): show the open order, load or delivery, or the lists, afresh.
    Heard,
    /// Confirm the open load (refused unless loaded equals the manifest).
    ConfirmLoad { driver: Driver, vehicle: Vehicle },
    /// Open the delivery of a loaded order.
    OpenDelivery(String),
    /// The receiver accepts or rejects one whole package.
    Decide { tag: String, decision: Decision },
    /// Finish the open delivery with the receiver's name and signature.
    Finish {
        receiver: String,
        signature_png: Vec<u8>,
        has_ink: bool,
    },
}

/// An order past the pick: `stage` is `picked`, `loaded` or `delivered`.
#[derive(Clone, Debug, PartialEq)]
pub struct Staged {
    pub number: String,
    pub buyer: String,
    pub stage: &'static str,
}

/// One package of an open load: `state` is `loaded`, `missing` (on the manifest, not
/// on the vehicle yet) or `extra` (on the vehicle, not on the manifest).
#[derive(Clone, Debug, PartialEq)]
pub struct LoadRow {
    pub order: String,
    pub tag: String,
    pub line: String,
    pub state: &'static str,
}

/// The open load as the dock sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadView {
    pub checks: Vec<LoadCheck>,
    /// Missing first, then extra, then loaded.
    pub rows: Vec<LoadRow>,
}

impl LoadView {
    pub fn loaded(&self) -> usize {
        self.checks.iter().map(|c| c.loaded).sum()
    }

    pub fn manifest(&self) -> usize {
        self.checks.iter().map(|c| c.manifest).sum()
    }

    /// Every order's load equals its manifest.
    pub fn matches(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(LoadCheck::matches)
    }

    pub fn confirmed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.confirmed)
    }
}

/// The open session, read again after the background sync took something in.
#[derive(Clone, Debug, PartialEq)]
pub enum Refreshed {
    Pick(PickView),
    Load(LoadView),
    Delivery(DeliveryState),
}

/// What the station reports back.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    Orders {
        search: String,
        orders: Vec<OrderSummary>,
    },
    /// An order was opened: its buyer, progress and pick list.
    Opened { buyer: String, view: PickView },
    /// A scan was checked and recorded (`answer.seq`), or answered without a record.
    Answer { answer: Box<Answer>, view: PickView },
    /// A short pick was recorded.
    Progress(PickView),
    /// What the background sync brought, for the open order, load or delivery (no
    /// person did anything: it does not count as activity for the idle sign-out).
    Refreshed(Refreshed),
    /// The order, load or delivery was left.
    Closed,
    /// A scanner's status.
    Status(String),
    /// The people who may sign in (empty: this station needs no sign-in).
    People(Vec<String>),
    /// The supervisors among them (for an undo or a removal).
    Supervisors(Vec<String>),
    /// A PIN was right.
    SignedIn(Person),
    /// A PIN was refused (wrong, locked out, unknown), with what to say.
    SignInRefused(String),
    /// Something went wrong; nothing was recorded for it.
    Error(String),
    /// The flow changed.
    Flow(Flow),
    /// Orders past the pick.
    Stages(Vec<Staged>),
    /// The picked tags of the open order with their lines, the last picked first.
    Picked(Vec<(String, String)>),
    /// A supervisor's undo was recorded.
    Undone { tag: String, view: PickView },
    /// An action (undo, removal, confirmation, decision, finish) was refused: nothing
    /// was recorded. Says why.
    Refused(String),
    /// A load was opened, with the dock's recent drivers and vehicles.
    LoadOpened {
        view: LoadView,
        drivers: Vec<Driver>,
        vehicles: Vec<Vehicle>,
    },
    /// A dock scan was checked and recorded.
    LoadAnswer {
        answer: Box<ShipAnswer>,
        view: LoadView,
    },
    /// A package was taken off the shipment.
    Removed { tag: String, view: LoadView },
    /// The load was confirmed.
    LoadConfirmed { load: String, view: LoadView },
    /// A delivery was opened.
    DeliveryOpened(DeliveryState),
    /// A hand-over scan was checked and recorded.
    DeliveryAnswer {
        answer: Box<ShipAnswer>,
        state: DeliveryState,
    },
    /// A decision was recorded, or the delivery finished (`finished` is set).
    Delivery(DeliveryState),
}

/// The handle the screen keeps.
pub struct Station {
    tx: Sender<Command>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Station {
    /// Start the worker on `store`. `report` is called on the worker thread for every
    /// update, in order.
    pub fn start(
        store: Store,
        settings: &Settings,
        report: impl Fn(Update) + Send + 'static,
    ) -> Station {
        let (tx, rx) = mpsc::channel();
        let settings = settings.clone();
        let thread = std::thread::Builder::new()
            .name("station".into())
            .spawn(move || worker(store, settings, rx, report))
            .expect("a thread can be spawned");
        Station {
            tx,
            thread: std::sync::Mutex::new(Some(thread)),
        }
    }

    /// Stop the worker (after what is queued before) and wait for it: its database
    /// connection is closed when this returns. Later commands are ignored.
    pub fn shutdown(&self) {
        let _ = self.tx.send(Command::Quit);
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = handle {
            let _ = t.join();
        }
    }

    /// Queue a command. Never blocks.
    pub fn send(&self, c: Command) {
        // The worker only ends when the station is dropped.
        let _ = self.tx.send(c);
    }

    /// A sender for scanner threads.
    pub fn sender(&self) -> Sender<Command> {
        self.tx.clone()
    }
}

impl Drop for Station {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Who may scan: when the station has people, only someone signed in, and only in a
/// flow their role allows.
#[derive(Default)]
struct Gate {
    needs_sign_in: bool,
    who: Option<Person>,
}

impl Gate {
    fn refuses(&self) -> bool {
        self.needs_sign_in && self.who.is_none()
    }

    /// Whether the person signed in may run `flow`; says why not.
    fn allows(&self, flow: Flow) -> Result<(), String> {
        if !self.needs_sign_in {
            return Ok(());
        }
        let needed = role_of(flow);
        match &self.who {
            None => Err(SIGN_IN_FIRST.into()),
            Some(p) if p.role.allows(needed) => Ok(()),
            Some(p) => Err(format!(
                "{} is a {}: {} needs a {needed} or a supervisor. Sign out and sign in as one.",
                p.name,
                p.role,
                match flow {
                    Flow::Pick => "picking",
                    Flow::Load => "loading",
                    Flow::Deliver => "delivering",
                }
            )),
        }
    }
}

fn role_of(flow: Flow) -> Role {
    match flow {
        Flow::Pick => Role::Picker,
        Flow::Load => Role::Loader,
        Flow::Deliver => Role::Driver,
    }
}

const SIGN_IN_FIRST: &str = "Sign in first: that scan was not recorded.";

fn worker(mut store: Store, settings: Settings, rx: Receiver<Command>, report: impl Fn(Update)) {
    let mut next: Option<Command> = None;
    let mut flow = settings.device.station;
    // The orders screen's search, to list again when the sync brings news.
    let mut search = String::new();
    let mut gate = Gate {
        needs_sign_in: store.people().is_ok_and(|p| !p.is_empty()),
        who: None,
    };
    loop {
        let Some(cmd) = next.take().or_else(|| rx.recv().ok()) else {
            return;
        };
        match cmd {
            Command::Scan(_)
            | Command::OpenOrder(_)
            | Command::OpenLoad(_)
            | Command::OpenDelivery(_)
                if gate.refuses() =>
            {
                report(Update::SignInRefused(SIGN_IN_FIRST.into()))
            }
            Command::ListOrders { search: s } => {
                search = s.clone();
                report(list(&store, s));
            }
            Command::ListStages => report(stages(&store)),
            Command::OpenOrder(key) => match gate.allows(Flow::Pick) {
                Ok(()) => next = pick_loop(&mut store, &settings, &key, None, &rx, &report),
                Err(why) => report(Update::Error(why)),
            },
            Command::OpenLoad(keys) => match gate.allows(Flow::Load) {
                Ok(()) => next = load_loop(&mut store, &settings, &keys, &rx, &report),
                Err(why) => report(Update::Error(why)),
            },
            Command::OpenDelivery(key) => match gate.allows(Flow::Deliver) {
                Ok(()) => next = delivery_loop(&mut store, &settings, &key, &rx, &report),
                Err(why) => report(Update::Error(why)),
            },
            Command::Scan(scan) => match flow {
                // No order open: a scanned package opens the order it belongs to.
                Flow::Pick => match order_of(&store, &settings, &scan) {
                    Some(order) => match gate.allows(Flow::Pick) {
                        Ok(()) => {
                            next =
                                pick_loop(&mut store, &settings, &order, Some(scan), &rx, &report);
                        }
                        Err(why) => report(Update::Error(why)),
                    },
                    None => report(Update::Error(
                        "Open an order first: that scan is not a package of an open order.".into(),
                    )),
                },
                Flow::Load => report(Update::Error(
                    "Tap the orders to load first: that scan was not recorded.".into(),
                )),
                Flow::Deliver => report(Update::Error(
                    "Open a delivery first: that scan was not recorded.".into(),
                )),
            },
            Command::Flow(f) => {
                flow = f;
                report(Update::Flow(f));
                report(stages(&store));
            }
            Command::CloseOrder => {
                report(Update::Closed);
                report(stages(&store));
            }
            Command::Status(s) => report(Update::Status(s)),
            Command::Quit => return,
            Command::Heard => {
                report(list(&store, search.clone()));
                report(stages(&store));
            }
            Command::ListPeople => {
                let update = people(&store);
                if let Update::People(p) = &update {
                    gate.needs_sign_in = !p.is_empty();
                }
                report(update);
                report(supervisors(&store));
            }
            Command::SignIn { name, pin } => {
                let update = sign_in(&mut store, &settings, &name, &pin);
                let signed_in = matches!(update, Update::SignedIn(_));
                if let Update::SignedIn(p) = &update {
                    gate.who = Some(p.clone());
                    store.set_signed_in(Some(&p.name));
                }
                report(update);
                if signed_in {
                    report(stages(&store));
                }
            }
            Command::SignOut => {
                gate.who = None;
                store.set_signed_in(None);
            }
            Command::Short { .. } | Command::ListPicked | Command::Undo { .. } => {
                report(Update::Refused("No order is open.".into()))
            }
            Command::Remove { .. } | Command::ConfirmLoad { .. } => {
                report(Update::Refused("No load is open.".into()))
            }
            Command::Decide { .. } | Command::Finish { .. } => {
                report(Update::Refused("No delivery is open.".into()))
            }
        }
    }
}

fn people(store: &Store) -> Update {
    match store.people() {
        Ok(p) => Update::People(p.into_iter().map(|p| p.name).collect()),
        Err(e) => Update::Error(e.to_string()),
    }
}

fn supervisors(store: &Store) -> Update {
    match store.people() {
        Ok(p) => Update::Supervisors(
            p.into_iter()
                .filter(|p| p.role == Role::Supervisor)
                .map(|p| p.name)
                .collect(),
        ),
        Err(e) => Update::Error(e.to_string()),
    }
}

fn sign_in(store: &mut Store, settings: &Settings, name: &str, pin: &str) -> Update {
    let rule = settings.people.lockout();
    match store.sign_in(name, pin, chrono::Utc::now(), rule) {
        Ok(Ok(person)) => Update::SignedIn(person),
        Ok(Err(refused)) => Update::SignInRefused(refused.to_string()),
        Err(e) => Update::SignInRefused(e.to_string()),
    }
}

/// Run `action` as a supervisor: on a station with people the name and PIN are checked
/// as at sign-in (a wrong PIN counts toward the lock-out) and the role must be
/// supervisor; the supervisor is the person of what `action` records, and the person
/// signed in before is restored after. On a station without people nobody is checked
/// (as on the command line).
/// Run `action` on `session` as a supervisor: on a station with people their name
/// and PIN are checked like a sign-in and they are the person of what `action`
/// records; then the person signed in before is back.
fn as_supervisor<S, T>(
    session: &mut S,
    store_of: fn(&mut S) -> &mut Store,
    settings: &Settings,
    supervisor: Option<&Supervisor>,
    action: impl FnOnce(&mut S) -> Result<T, String>,
) -> Result<T, String> {
    let store = store_of(session);
    if store.people().map_err(|e| e.to_string())?.is_empty() {
        return action(session);
    }
    let Some(s) = supervisor else {
        return Err("A supervisor's name and PIN are needed.".into());
    };
    let who = super::check_person(store, settings, &s.name, &s.pin, Role::Supervisor)
        .map_err(|e| e.to_string())?;
    let before = store.signed_in().map(str::to_string);
    store.set_signed_in(Some(&who.name));
    let result = action(session);
    store_of(session).set_signed_in(before.as_deref());
    result
}

fn list(store: &Store, search: String) -> Update {
    match store.open_orders() {
        Ok(all) => {
            let needle = search.to_lowercase();
            let orders = all
                .into_iter()
                .filter(|o| {
                    needle.is_empty()
                        || o.number.to_lowercase().contains(&needle)
                        || o.buyer.to_lowercase().contains(&needle)
                        || o.short_id
                            .as_deref()
                            .is_some_and(|s| s.to_lowercase().contains(&needle))
                })
                .collect();
            Update::Orders { search, orders }
        }
        Err(e) => Update::Error(e.to_string()),
    }
}

fn stages(store: &Store) -> Update {
    match store.order_stages() {
        Ok(rows) => Update::Stages(
            rows.into_iter()
                .map(|(number, buyer, stage)| Staged {
                    number,
                    buyer,
                    stage,
                })
                .collect(),
        ),
        Err(e) => Update::Error(e.to_string()),
    }
}

/// The open order a scanned package is allocated to, if any.
fn order_of(store: &Store, settings: &Settings, scan: &ScanEvent) -> Option<String> {
    if scan.refused.is_some() {
        return None;
    }
    let tag = settings.tags.parser().parse(&scan.raw).ok()?;
    let facts = store.tag_facts(&tag).ok()?;
    facts.allocated_to.into_iter().next().map(|(o, _)| o)
}

/// What a session loop does with a command every session answers the same way.
enum Common {
    /// Answered.
    Done,
    /// Leave the session; the outer loop runs this command next.
    Leave(Option<Command>),
    /// The session's own command.
    Mine(Command),
}

fn common(cmd: Command, store: &Store, report: &impl Fn(Update)) -> Common {
    match cmd {
        Command::ListOrders { search } => report(list(store, search)),
        Command::ListStages => report(stages(store)),
        Command::Status(s) => report(Update::Status(s)),
        Command::ListPeople => {
            report(people(store));
            report(supervisors(store));
        }
        Command::SignIn { .. } => report(Update::SignInRefused(
            "Leave the order to sign in again.".into(),
        )),
        Command::SignOut => {
            report(Update::Closed);
            return Common::Leave(Some(Command::SignOut));
        }
        Command::CloseOrder => {
            report(Update::Closed);
            report(stages(store));
            // Back on the list: how far each order is now.
            report(list(store, String::new()));
            return Common::Leave(None);
        }
        Command::Flow(f) => {
            report(Update::Closed);
            return Common::Leave(Some(Command::Flow(f)));
        }
        c @ (Command::OpenOrder(_)
        | Command::OpenLoad(_)
        | Command::OpenDelivery(_)
        | Command::Quit) => {
            return Common::Leave(Some(c));
        }
        other => return Common::Mine(other),
    }
    Common::Done
}

/// The open order was closed meanwhile (the hub, an import): say so once, and leave
/// it; nothing more is recorded on it.
fn closed(e: StoreError, store: &Store, report: &impl Fn(Update)) -> Option<Command> {
    report(Update::Closed);
    report(Update::Error(format!("{e}. That scan was not recorded.")));
    report(list(store, String::new()));
    report(stages(store));
    None
}

fn not_recorded(e: impl fmt::Display) -> Update {
    Update::Error(format!("That scan was NOT recorded: {e}. Scan it again."))
}

/// Errors opening the station's database, for the caller to show.
pub fn open(settings: &Settings) -> Result<Store, StoreError> {
    super::open_store(settings)
}

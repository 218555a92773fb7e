//! The station worker: one thread that owns the database and the open pick session,
//! takes [`Command`]s from the screen and the scanners, and reports [`Update`]s.
//!
//! The screen never waits on it: it sends a command and gets the update later through
//! the callback (the UI hands it to its event loop). Every scan is answered in the
//! order it arrived, and durably recorded before its answer is reported.

use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use crate::config::Settings;
use crate::domain::pick::Progress;
use crate::scan::ScanEvent;
use crate::store::{OrderSummary, Person, Store, StoreError};

use super::pick::{Answer, PickSession};

/// What the screen (or a scanner) asks of the station.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// List open orders whose number, short id or buyer contains the text.
    ListOrders { search: String },
    /// Open an order for picking.
    OpenOrder(String),
    /// Leave the open order.
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
}

/// What the station reports back.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    Orders {
        search: String,
        orders: Vec<OrderSummary>,
    },
    /// An order was opened: its buyer and progress.
    Opened { buyer: String, progress: Progress },
    /// A scan was checked and recorded (`answer.seq`), or answered without a record.
    Answer {
        answer: Box<Answer>,
        progress: Progress,
    },
    /// A short pick was recorded.
    Progress(Progress),
    /// The order was left.
    Closed,
    /// A scanner's status.
    Status(String),
    /// The people who may sign in (empty: this station needs no sign-in).
    People(Vec<String>),
    /// A PIN was right.
    SignedIn(Person),
    /// A PIN was refused (wrong, locked out, unknown), with what to say.
    SignInRefused(String),
    /// Something went wrong; nothing was recorded for it.
    Error(String),
}

/// The handle the screen keeps.
pub struct Station {
    tx: Sender<Command>,
    thread: Option<JoinHandle<()>>,
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
            thread: Some(thread),
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
        let (dead, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.tx, dead));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Who may scan: when the station has people, only someone signed in.
#[derive(Default)]
struct Gate {
    needs_sign_in: bool,
    who: Option<String>,
}

impl Gate {
    fn refuses(&self) -> bool {
        self.needs_sign_in && self.who.is_none()
    }
}

const SIGN_IN_FIRST: &str = "Sign in first: that scan was not recorded.";

fn worker(mut store: Store, settings: Settings, rx: Receiver<Command>, report: impl Fn(Update)) {
    let mut next: Option<Command> = None;
    let mut gate = Gate {
        needs_sign_in: store.people().is_ok_and(|p| !p.is_empty()),
        who: None,
    };
    loop {
        let Some(cmd) = next.take().or_else(|| rx.recv().ok()) else {
            return;
        };
        match cmd {
            Command::Scan(_) | Command::OpenOrder(_) if gate.refuses() => {
                report(Update::SignInRefused(SIGN_IN_FIRST.into()))
            }
            Command::ListOrders { search } => report(list(&store, search)),
            Command::OpenOrder(key) => {
                next = pick_loop(&mut store, &settings, &key, None, &rx, &report);
            }
            Command::Scan(scan) => {
                // No order open: a scanned package opens the order it belongs to.
                match order_of(&store, &settings, &scan) {
                    Some(order) => {
                        next = pick_loop(&mut store, &settings, &order, Some(scan), &rx, &report);
                    }
                    None => report(Update::Error(
                        "Open an order first: that scan is not a package of an open order.".into(),
                    )),
                }
            }
            Command::CloseOrder => report(Update::Closed),
            Command::Status(s) => report(Update::Status(s)),
            Command::ListPeople => {
                let update = people(&store);
                if let Update::People(p) = &update {
                    gate.needs_sign_in = !p.is_empty();
                }
                report(update)
            }
            Command::SignIn { name, pin } => {
                let update = sign_in(&mut store, &settings, &name, &pin);
                if let Update::SignedIn(p) = &update {
                    gate.who = Some(p.name.clone());
                    store.set_signed_in(Some(&p.name));
                }
                report(update)
            }
            Command::SignOut => {
                gate.who = None;
                store.set_signed_in(None);
            }
            Command::Short { .. } => report(Update::Error("No order is open.".into())),
        }
    }
}

fn people(store: &Store) -> Update {
    match store.people() {
        Ok(p) => Update::People(p.into_iter().map(|p| p.name).collect()),
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

/// The open order a scanned package is allocated to, if any.
fn order_of(store: &Store, settings: &Settings, scan: &ScanEvent) -> Option<String> {
    if scan.refused.is_some() {
        return None;
    }
    let tag = settings.tags.parser().parse(&scan.raw).ok()?;
    let facts = store.tag_facts(&tag).ok()?;
    facts.allocated_to.into_iter().next().map(|(o, _)| o)
}

/// Run one open order until it is closed or another is opened; returns the command
/// that ended it, for the outer loop.
fn pick_loop(
    store: &mut Store,
    settings: &Settings,
    key: &str,
    first_scan: Option<ScanEvent>,
    rx: &Receiver<Command>,
    report: &impl Fn(Update),
) -> Option<Command> {
    let mut session =
        match PickSession::open(store, key, settings.tags.parser(), settings.rules.clone()) {
            Ok(s) => s,
            Err(e) => {
                report(Update::Error(e.to_string()));
                return None;
            }
        };
    report(Update::Opened {
        buyer: session.list().buyer.clone(),
        progress: session.progress(),
    });
    let mut pending = first_scan.map(Command::Scan);
    loop {
        let cmd = match pending.take() {
            Some(c) => c,
            None => rx.recv().ok()?,
        };
        match cmd {
            Command::Scan(scan) => match session.scan_event(&scan) {
                Ok(mut answer) => {
                    answer.source = scan.source;
                    answer.manual = scan.manual;
                    report(Update::Answer {
                        answer: Box::new(answer),
                        progress: session.progress(),
                    });
                }
                Err(e) => report(Update::Error(format!(
                    "That scan was NOT recorded: {e}. Scan it again."
                ))),
            },
            Command::Short { line, reason } => match session.short(&line, &reason) {
                Ok(p) => report(Update::Progress(p)),
                Err(e) => report(Update::Error(e.to_string())),
            },
            Command::ListOrders { search } => report(list(session.store(), search)),
            Command::Status(s) => report(Update::Status(s)),
            Command::ListPeople => report(people(session.store())),
            Command::SignIn { .. } => report(Update::SignInRefused(
                "Leave the order to sign in again.".into(),
            )),
            Command::SignOut => {
                report(Update::Closed);
                return Some(Command::SignOut);
            }
            Command::CloseOrder => {
                report(Update::Closed);
                return None;
            }
            Command::OpenOrder(other) => return Some(Command::OpenOrder(other)),
        }
    }
}

/// Errors opening the station's database, for the caller to show.
pub fn open(settings: &Settings) -> Result<Store, StoreError> {
    super::open_store(settings)
}

//! The driver's hand-over screen: open a loaded order, scan each package as it is
//! handed over, reject a whole package with a reason (or accept it again), then the
//! receiver's name and signature. The signature is drawn on the pad, kept as strokes
//! ([`Signature`]) and stored as a PNG with the finish event.

use std::cell::RefCell;
use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::entry;
use super::load::package_row;
use super::{AppWindow, DeliverAdapter, ShipOrder};
use crate::app::ship::ShipAnswer;
use crate::app::station::{Command, Staged, Station};
use crate::domain::ship::DeliveryState;
use crate::domain::{Decision, RejectReason};
use crate::signature::Signature;

/// The scale the signature PNG is stored at (2 px a logical pixel).
const SIGNATURE_SCALE: f32 = 2.0;

struct State {
    step: &'static str,
    loaded: Vec<Staged>,
    delivery: Option<DeliveryState>,
    /// The package whose dialog is open.
    selected: Option<String>,
    note_open: bool,
    decide_message: String,
    signature: Signature,
    saving: bool,
    message: String,
}

impl Default for State {
    fn default() -> Self {
        State {
            step: "choose",
            loaded: Vec::new(),
            delivery: None,
            selected: None,
            note_open: false,
            decide_message: String::new(),
            signature: Signature::new(1.0, 1.0),
            saving: false,
            message: String::new(),
        }
    }
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

pub fn reset() {
    STATE.with(|s| *s.borrow_mut() = State::default());
}

fn decision_text(d: &Option<Decision>) -> (&'static str, String) {
    match d {
        None => ("open", "NOT YET SCANNED".into()),
        Some(Decision::Accepted) => ("accepted", "ACCEPTED".into()),
        Some(Decision::Rejected { reason, note }) => (
            "rejected",
            match note {
                Some(n) => format!("REJECTED: {} ({n})", reason.label()),
                None => format!("REJECTED: {}", reason.label()),
            },
        ),
    }
}

/// When a delivery was finished, in local time.
fn local_time(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%H:%M on %-d %b %Y")
                .to_string()
        })
        .unwrap_or_else(|_| at.to_string())
}

pub fn show(w: &AppWindow) {
    let a = w.global::<DeliverAdapter>();
    STATE.with(|s| {
        let s = s.borrow();
        a.set_step(s.step.into());
        a.set_message(s.message.clone().into());
        a.set_orders(ModelRc::new(VecModel::from(
            s.loaded
                .iter()
                .map(|o| ShipOrder {
                    number: o.number.clone().into(),
                    buyer: o.buyer.clone().into(),
                    detail: "loaded".into(),
                    selected: false,
                })
                .collect::<Vec<_>>(),
        )));
        if let Some(d) = &s.delivery {
            a.set_order(d.order.clone().into());
            a.set_total(d.total as i32);
            a.set_accepted(d.accepted as i32);
            a.set_rejected(d.rejected as i32);
            a.set_open(d.open as i32);
            a.set_packages(ModelRc::new(VecModel::from(
                d.packages
                    .iter()
                    .map(|p| {
                        let (state, text) = decision_text(&p.decision);
                        package_row(p.tag.as_str(), format!("line {}", p.line), state, text)
                    })
                    .collect::<Vec<_>>(),
            )));
            if let Some(f) = &d.finished {
                a.set_delivered_text(
                    format!(
                        "{} to {} at {}: {} accepted, {} rejected.",
                        d.order,
                        f.receiver,
                        local_time(&f.at),
                        d.accepted,
                        d.rejected
                    )
                    .into(),
                );
            }
        }
        let selected = s.selected.clone().unwrap_or_default();
        a.set_decide_open(s.selected.is_some());
        a.set_selected(selected.clone().into());
        let state = s
            .delivery
            .iter()
            .flat_map(|d| d.packages.iter())
            .find(|p| p.tag.as_str() == selected)
            .map(|p| decision_text(&p.decision));
        a.set_selected_state(state.as_ref().map_or("", |(st, _)| *st).into());
        a.set_selected_text(
            match &state {
                Some((_, text)) => format!("Package ...{}: {}", tail(&selected), text),
                None => String::new(),
            }
            .into(),
        );
        a.set_reasons(ModelRc::new(VecModel::from(
            RejectReason::ALL
                .iter()
                .map(|r| SharedString::from(r.label()))
                .collect::<Vec<_>>(),
        )));
        a.set_note_open(s.note_open);
        a.set_note(entry::value(entry::NOTE).into());
        a.set_note_active(entry::active() == Some(entry::NOTE));
        a.set_decide_message(s.decide_message.clone().into());
        a.set_receiver(entry::value(entry::RECEIVER).into());
        a.set_receiver_active(entry::active() == Some(entry::RECEIVER));
        a.set_signature(s.signature.path_commands().into());
        a.set_saving(s.saving);
    });
}

/// Only the pad changed (a finger moved): redraw just it.
fn show_signature(w: &AppWindow) {
    let commands = STATE.with(|s| s.borrow().signature.path_commands());
    w.global::<DeliverAdapter>().set_signature(commands.into());
}

fn tail(tag: &str) -> &str {
    tag.get(tag.len().saturating_sub(6)..).unwrap_or(tag)
}

/// Orders past the pick: the driver lists the loaded ones not delivered yet.
pub fn stages(w: &AppWindow, rows: &[Staged]) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.loaded = rows
            .iter()
            .filter(|r| r.stage == "loaded")
            .cloned()
            .collect();
        if s.step == "choose" {
            if s.loaded.is_empty() {
                s.message = "No loaded order to deliver: confirm a load at the dock first.".into();
            } else if s.message.starts_with("No loaded order") {
                s.message.clear();
            }
        }
    });
    show(w);
}

pub fn opened(w: &AppWindow, state: DeliveryState) {
    let buyer = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let buyer = s
            .loaded
            .iter()
            .find(|o| o.number == state.order)
            .map(|o| o.buyer.clone());
        s.delivery = Some(state);
        s.step = "packages";
        s.selected = None;
        s.note_open = false;
        s.message.clear();
        s.signature.clear();
        buyer
    });
    w.global::<DeliverAdapter>()
        .set_buyer(buyer.unwrap_or_default().into());
    entry::set(entry::RECEIVER, "");
    entry::set(entry::NOTE, "");
    show(w);
}

pub fn answer(w: &AppWindow, a: &ShipAnswer, state: DeliveryState) {
    STATE.with(|s| s.borrow_mut().delivery = Some(state));
    show(w);
    super::show_ship_banner(w, super::Banner::Deliver, a);
}

/// A decision was recorded, or the delivery finished.
/// The delivery as the background sync left it (nobody here did anything).
pub fn refreshed(w: &AppWindow, state: DeliveryState) {
    STATE.with(|s| s.borrow_mut().delivery = Some(state));
    show(w);
}

pub fn updated(w: &AppWindow, state: DeliveryState) {
    let finished = state.finished.is_some();
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.delivery = Some(state);
        s.saving = false;
        if finished {
            s.step = "done";
            s.message.clear();
        }
    });
    if finished {
        entry::activate(None);
        super::sound::play(true);
    }
    show(w);
}

pub fn refused(w: &AppWindow, why: &str) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.saving = false;
        if s.selected.is_some() {
            s.decide_message = why.to_string();
        } else {
            s.message = why.to_string();
        }
    });
    super::sound::play(false);
    show(w);
}

pub fn error(w: &AppWindow, why: &str) {
    let open = STATE.with(|s| s.borrow().step != "choose");
    if open {
        STATE.with(|s| s.borrow_mut().saving = false);
        super::show_error_banner(w, super::Banner::Deliver, why);
    } else {
        refused(w, why);
    }
}

pub fn message(w: &AppWindow, text: &str) {
    STATE.with(|s| s.borrow_mut().message = text.to_string());
    show(w);
}

pub fn closed(w: &AppWindow) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.step = "choose";
        s.delivery = None;
        s.selected = None;
        s.note_open = false;
        s.saving = false;
        s.message.clear();
        s.signature.clear();
    });
    w.global::<DeliverAdapter>().set_banner_visible(false);
    show(w);
}

fn close_dialog(w: &AppWindow) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.selected = None;
        s.note_open = false;
        s.decide_message.clear();
    });
    if entry::active() == Some(entry::NOTE) {
        entry::activate(None);
    }
    show(w);
}

fn decide(station: &Station, w: &AppWindow, decision: Decision) {
    let tag = STATE.with(|s| s.borrow().selected.clone());
    if let Some(tag) = tag {
        station.send(Command::Decide { tag, decision });
    }
    close_dialog(w);
}

/// Enter in the note field: reject with the note.
fn note_done(station: &Station, w: &AppWindow) {
    let note = entry::value(entry::NOTE).trim().to_string();
    if note.is_empty() {
        STATE.with(|s| {
            s.borrow_mut().decide_message = "Type what is wrong with the package first.".into()
        });
        show(w);
        return;
    }
    decide(
        station,
        w,
        Decision::Rejected {
            reason: RejectReason::Other,
            note: Some(note),
        },
    );
}

/// Enter in a typed field of this screen.
pub fn enter(station: &Station, w: &AppWindow) {
    match entry::active() {
        Some(entry::NOTE) => note_done(station, w),
        Some(entry::RECEIVER) => {
            entry::activate(None);
            show(w);
        }
        _ => {}
    }
}

/// Save: a name and a signature with ink, or a clear message and nothing sent.
fn save(station: &Station, w: &AppWindow) {
    let receiver = entry::value(entry::RECEIVER).trim().to_string();
    let (has_ink, png) = STATE.with(|s| {
        let s = s.borrow();
        let ink = s.signature.has_ink();
        (ink, ink.then(|| s.signature.to_png(SIGNATURE_SCALE)))
    });
    let mut missing = Vec::new();
    if receiver.is_empty() {
        missing.push("Type the receiver's name (tap the name field).");
    }
    if !has_ink {
        missing.push("The receiver has not signed: sign on the white pad.");
    }
    if !missing.is_empty() {
        message(w, &missing.join(" "));
        super::sound::play(false);
        return;
    }
    match png {
        Some(Ok(png)) => {
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.saving = true;
                s.message = "Saving...".into();
            });
            station.send(Command::Finish {
                receiver,
                signature_png: png,
                has_ink,
            });
            show(w);
        }
        Some(Err(e)) => message(w, &format!("The signature could not be stored: {e}")),
        None => {}
    }
}

pub fn wire(window: &AppWindow, station: &Rc<Station>) {
    let a = window.global::<DeliverAdapter>();
    a.set_demo_tags(super::demo_tags(super::DELIVER_DEMO_TAGS));
    let weak = window.as_weak();
    let with = move |f: &dyn Fn(&AppWindow)| {
        if let Some(w) = weak.upgrade() {
            f(&w)
        }
    };
    {
        let station = station.clone();
        a.on_open_order(move |n| station.send(Command::OpenDelivery(n.into())));
    }
    {
        let (station, with) = (station.clone(), with.clone());
        a.on_back(move || {
            let step = STATE.with(|s| s.borrow().step);
            if step == "finish" {
                entry::activate(None);
                STATE.with(|s| s.borrow_mut().step = "packages");
                with(&show);
            } else {
                station.send(Command::CloseOrder);
            }
        });
    }
    {
        let station = station.clone();
        a.on_done(move || station.send(Command::CloseOrder));
    }
    {
        let with = with.clone();
        a.on_tap_package(move |tag| {
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.selected = Some(tag.to_string());
                s.note_open = false;
                s.decide_message.clear();
            });
            with(&show);
        });
    }
    {
        let (station, with) = (station.clone(), with.clone());
        a.on_reject(move |i| {
            let Some(reason) = RejectReason::ALL.get(i.max(0) as usize).copied() else {
                return;
            };
            if reason == RejectReason::Other {
                entry::set(entry::NOTE, "");
                entry::activate(Some(entry::NOTE));
                STATE.with(|s| s.borrow_mut().note_open = true);
                with(&show);
            } else {
                with(&|w| decide(&station, w, Decision::Rejected { reason, note: None }));
            }
        });
    }
    {
        let (station, with) = (station.clone(), with.clone());
        a.on_accept(move || with(&|w| decide(&station, w, Decision::Accepted)));
    }
    {
        let with = with.clone();
        a.on_cancel_decide(move || with(&close_dialog));
    }
    {
        let with = with.clone();
        a.on_select_note(move || {
            entry::activate(Some(entry::NOTE));
            with(&show);
        });
    }
    {
        let (station, with) = (station.clone(), with.clone());
        a.on_note_done(move || with(&|w| note_done(&station, w)));
    }
    {
        let with = with.clone();
        a.on_finish(move || {
            let open = STATE.with(|s| s.borrow().delivery.as_ref().map(|d| d.open));
            match open {
                Some(0) => {
                    STATE.with(|s| {
                        let mut s = s.borrow_mut();
                        s.step = "finish";
                        s.message.clear();
                    });
                    entry::activate(Some(entry::RECEIVER));
                    with(&show);
                }
                Some(n) => with(&|w| {
                    message(
                        w,
                        &format!(
                            "Cannot finish: {n} package(s) not yet scanned. Scan each one as it is handed over, or tap it to reject it."
                        ),
                    );
                    super::sound::play(false);
                }),
                None => {}
            }
        });
    }
    {
        let with = with.clone();
        a.on_select_receiver(move || {
            entry::activate(Some(entry::RECEIVER));
            with(&show);
        });
    }
    {
        let (station, with) = (station.clone(), with.clone());
        a.on_save(move || with(&|w| save(&station, w)));
    }
    {
        let with = with.clone();
        a.on_stroke_begin(move |x, y, width, height| {
            let changed = STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.signature.set_size(width, height);
                s.signature.begin(x, y)
            });
            if changed {
                with(&show_signature);
            }
        });
    }
    {
        let with = with.clone();
        a.on_stroke_extend(move |x, y| {
            if STATE.with(|s| s.borrow_mut().signature.extend(x, y)) {
                with(&show_signature);
            }
        });
    }
    a.on_stroke_end(move || STATE.with(|s| s.borrow_mut().signature.end()));
    {
        let with = with.clone();
        a.on_clear_signature(move || {
            STATE.with(|s| s.borrow_mut().signature.clear());
            with(&show);
        });
    }
    {
        let with = with.clone();
        a.on_dismiss_banner(move || {
            with(&|w| w.global::<DeliverAdapter>().set_banner_visible(false));
        });
    }
    {
        let station = station.clone();
        a.on_demo_scan(move |tag| super::send_text_scan(&station, "demo", &tag));
    }
}

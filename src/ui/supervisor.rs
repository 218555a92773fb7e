//! A supervisor's sign-off on screen: undo a pick, take a package off a shipment.
//!
//! Steps: what (a picked tag, a package of the load), why (a reason from a list), who
//! (a supervisor's name) and the PIN on the big keypad (digits typed on a keyboard go
//! there too, through [`super::entry`]). The station checks the PIN like a sign-in
//! (wrong ones count toward the lock-out), checks the role, and records the action with
//! the supervisor as its person. On a station without people there is nobody to ask:
//! the name and PIN steps are skipped, as on the command line.

use std::cell::RefCell;
use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::entry;
use super::{AppWindow, SupervisorAdapter};
use crate::app::station::{Command, Station, Supervisor};

/// Why a pick is taken back.
pub const UNDO_REASONS: &[&str] = &[
    "Scanned by mistake",
    "Wrong shelf or wrong package",
    "Damaged",
    "Other package chosen instead",
];

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Purpose {
    Undo,
    Remove,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    Item,
    Reason,
    Name,
    Pin,
}

struct Dialog {
    purpose: Purpose,
    step: Step,
    /// (tag, label) to choose from.
    items: Vec<(String, String)>,
    item: String,
    reason: String,
    name: String,
    message: String,
    /// Sent to the station; waiting for its answer.
    sent: bool,
}

#[derive(Default)]
struct State {
    dialog: Option<Dialog>,
    has_people: bool,
    supervisors: Vec<String>,
    /// Why a package leaves a shipment (`[ship] remove_reasons`).
    remove_reasons: Vec<String>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// A new window: nothing open; removal reasons from the settings.
pub fn reset(remove_reasons: &[String]) {
    STATE.with(|s| {
        let reasons = if remove_reasons.is_empty() {
            // An empty list in a site file must not leave the dialog without a choice.
            crate::config::ShipSettings::default().remove_reasons
        } else {
            remove_reasons.to_vec()
        };
        *s.borrow_mut() = State {
            remove_reasons: reasons,
            ..State::default()
        }
    });
}

/// Whether the station has people (a name and PIN are asked).
pub fn set_people(has_people: bool) {
    STATE.with(|s| s.borrow_mut().has_people = has_people);
}

pub fn set_supervisors(names: Vec<String>) {
    STATE.with(|s| s.borrow_mut().supervisors = names);
}

/// Open the dialog for `purpose` over `items` ((tag, label), the likeliest first).
pub fn open(w: &AppWindow, purpose: Purpose, items: Vec<(String, String)>) {
    STATE.with(|s| {
        s.borrow_mut().dialog = Some(Dialog {
            purpose,
            step: Step::Item,
            items,
            item: String::new(),
            reason: String::new(),
            name: String::new(),
            message: String::new(),
            sent: false,
        })
    });
    entry::set(entry::PIN, "");
    show(w);
}

/// Close it (done, cancelled, or the screen left).
pub fn close(w: &AppWindow) {
    STATE.with(|s| s.borrow_mut().dialog = None);
    if entry::active() == Some(entry::PIN) {
        entry::activate(None);
    }
    entry::set(entry::PIN, "");
    show(w);
}

/// The station refused what the dialog sent: say why, and let the PIN be typed again.
/// Returns false when the dialog was not waiting (the refusal is someone else's).
pub fn refused(w: &AppWindow, why: &str) -> bool {
    let mine = STATE.with(|s| {
        let mut s = s.borrow_mut();
        match &mut s.dialog {
            Some(d) if d.sent => {
                d.sent = false;
                d.message = why.to_string();
                true
            }
            _ => false,
        }
    });
    if mine {
        entry::set(entry::PIN, "");
        super::sound::play(false);
        show(w);
    }
    mine
}

fn choices(d: &Dialog, s: &State) -> Vec<String> {
    match d.step {
        Step::Item => d.items.iter().map(|(_, l)| l.clone()).collect(),
        Step::Reason => match d.purpose {
            Purpose::Undo => UNDO_REASONS.iter().map(|r| r.to_string()).collect(),
            Purpose::Remove => s.remove_reasons.clone(),
        },
        Step::Name => s.supervisors.to_vec(),
        Step::Pin => Vec::new(),
    }
}

/// Put the dialog on screen.
pub fn show(w: &AppWindow) {
    let a = w.global::<SupervisorAdapter>();
    STATE.with(|s| {
        let s = s.borrow();
        let Some(d) = &s.dialog else {
            a.set_open(false);
            return;
        };
        a.set_open(true);
        a.set_title(
            match d.purpose {
                Purpose::Undo => "Undo a pick: supervisor",
                Purpose::Remove => "Take a package off the shipment: supervisor",
            }
            .into(),
        );
        let step = match d.step {
            Step::Item => "item",
            Step::Reason => "reason",
            Step::Name => "name",
            Step::Pin => "pin",
        };
        a.set_step(step.into());
        let mut summary = Vec::new();
        if !d.item.is_empty() {
            summary.push(d.item.clone());
        }
        if !d.reason.is_empty() {
            summary.push(format!("reason: {}", d.reason));
        }
        if !d.name.is_empty() {
            summary.push(format!("supervisor: {}", d.name));
        }
        a.set_summary(summary.join("  ·  ").into());
        let prompt = match d.step {
            Step::Item if d.items.is_empty() => match d.purpose {
                Purpose::Undo => "Nothing is picked on this order.",
                Purpose::Remove => "Nothing is on this shipment.",
            },
            Step::Item => match d.purpose {
                Purpose::Undo => "Which pick? The last one is first.",
                Purpose::Remove => "Which package leaves the shipment?",
            },
            Step::Reason => "Why?",
            Step::Name if s.supervisors.is_empty() => {
                "No supervisor on this station: add one with tagtally user add."
            }
            Step::Name => "Supervisor: tap your name.",
            Step::Pin => "Supervisor's PIN, then OK.",
        };
        a.set_prompt(prompt.into());
        a.set_choices(ModelRc::new(VecModel::from(
            choices(d, &s)
                .into_iter()
                .map(SharedString::from)
                .collect::<Vec<_>>(),
        )));
        a.set_message(d.message.clone().into());
        a.set_pin_length(entry::value(entry::PIN).len() as i32);
    });
}

/// Send the action to the station.
fn submit(station: &Station, w: &AppWindow) {
    let cmd = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let has_people = s.has_people;
        let d = s.dialog.as_mut()?;
        if d.sent || d.item.is_empty() || d.reason.is_empty() {
            return None;
        }
        let supervisor = if has_people {
            let pin = entry::value(entry::PIN);
            if d.name.is_empty() || pin.is_empty() {
                return None;
            }
            Some(Supervisor {
                name: d.name.clone(),
                pin,
            })
        } else {
            None
        };
        d.sent = true;
        d.message = "Checking...".into();
        let tag = d
            .items
            .iter()
            .find(|(_, l)| *l == d.item)
            .map(|(t, _)| t.clone())
            .unwrap_or_default();
        Some(match d.purpose {
            Purpose::Undo => Command::Undo {
                tag,
                reason: d.reason.clone(),
                supervisor,
            },
            Purpose::Remove => Command::Remove {
                tag,
                reason: d.reason.clone(),
                supervisor,
            },
        })
    });
    if let Some(cmd) = cmd {
        entry::set(entry::PIN, "");
        station.send(cmd);
    }
    show(w);
}

/// Enter on the keyboard while the PIN is being typed.
pub fn enter(station: &Station, w: &AppWindow) {
    submit(station, w);
}

fn choose(station: &Station, w: &AppWindow, i: usize) {
    let ready = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let has_people = s.has_people;
        let Some(list) = s.dialog.as_ref().map(|d| choices(d, &s)) else {
            return false;
        };
        let Some(d) = s.dialog.as_mut() else {
            return false;
        };
        let Some(choice) = list.get(i).cloned() else {
            return false;
        };
        d.message.clear();
        match d.step {
            Step::Item => {
                d.item = choice;
                d.step = Step::Reason;
            }
            Step::Reason => {
                d.reason = choice;
                if !has_people {
                    return true;
                }
                d.step = Step::Name;
            }
            Step::Name => {
                d.name = choice;
                d.step = Step::Pin;
            }
            Step::Pin => {}
        }
        false
    });
    let at_pin = STATE.with(|s| {
        s.borrow()
            .dialog
            .as_ref()
            .is_some_and(|d| d.step == Step::Pin)
    });
    if at_pin {
        entry::set(entry::PIN, "");
        entry::activate(Some(entry::PIN));
    }
    if ready {
        submit(station, w);
    }
    show(w);
}

fn back(w: &AppWindow) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if let Some(d) = s.dialog.as_mut() {
            d.message.clear();
            d.sent = false;
            d.step = match d.step {
                Step::Item | Step::Reason => {
                    d.item.clear();
                    d.reason.clear();
                    Step::Item
                }
                Step::Name => {
                    d.reason.clear();
                    d.name.clear();
                    Step::Reason
                }
                Step::Pin => {
                    d.name.clear();
                    Step::Name
                }
            };
        }
    });
    if entry::active() == Some(entry::PIN) {
        entry::activate(None);
    }
    entry::set(entry::PIN, "");
    show(w);
}

pub fn wire(window: &AppWindow, station: &Rc<Station>) {
    let a = window.global::<SupervisorAdapter>();
    {
        let (weak, station) = (window.as_weak(), station.clone());
        a.on_choose(move |i| {
            if let Some(w) = weak.upgrade() {
                choose(&station, &w, i.max(0) as usize);
            }
        });
    }
    {
        let weak = window.as_weak();
        a.on_digit(move |d| {
            let pin = entry::value(entry::PIN);
            if pin.len() < 8 {
                entry::set(entry::PIN, &format!("{pin}{d}"));
            }
            if let Some(w) = weak.upgrade() {
                show(&w);
            }
        });
    }
    {
        let weak = window.as_weak();
        a.on_clear(move || {
            entry::set(entry::PIN, "");
            if let Some(w) = weak.upgrade() {
                show(&w);
            }
        });
    }
    {
        let (weak, station) = (window.as_weak(), station.clone());
        a.on_submit(move || {
            if let Some(w) = weak.upgrade() {
                submit(&station, &w);
            }
        });
    }
    {
        let weak = window.as_weak();
        a.on_back(move || {
            if let Some(w) = weak.upgrade() {
                back(&w);
            }
        });
    }
    {
        let weak = window.as_weak();
        a.on_cancel(move || {
            if let Some(w) = weak.upgrade() {
                close(&w);
            }
        });
    }
}

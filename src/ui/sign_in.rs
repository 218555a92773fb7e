//! The sign-in screen: tap your name, type your PIN on the big keypad. The PIN stays
//! here (the screen shows only how many digits were typed) until it is sent to the
//! station, which checks it against the store and counts wrong ones. A station with
//! no people needs no sign-in. Idle for `ui.idle_sign_out_minutes`: signed out.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::{AppAdapter, AppWindow, OrdersAdapter, PickAdapter, SignInAdapter, entry, supervisor};
use crate::app::station::{Command, Station, Update};
use crate::config::Settings;

#[derive(Default)]
struct State {
    pin: String,
    selected: String,
    signed_in: bool,
    needed: bool,
    last_touch: Option<Instant>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// A new window: nobody signed in yet.
pub fn reset() {
    STATE.with(|s| *s.borrow_mut() = State::default());
}

/// Someone used the screen: the idle clock starts again.
pub fn touched() {
    STATE.with(|s| s.borrow_mut().last_touch = Some(Instant::now()));
}

fn show(w: &AppWindow) {
    let a = w.global::<SignInAdapter>();
    STATE.with(|s| {
        let s = s.borrow();
        a.set_selected(s.selected.clone().into());
        a.set_pin_length(s.pin.len() as i32);
    });
}

fn sign_out(w: &AppWindow, station: &Station, why: &str) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.signed_in = false;
        s.pin.clear();
        s.selected.clear();
    });
    station.send(Command::SignOut);
    supervisor::close(w);
    entry::activate(None);
    w.global::<PickAdapter>().set_banner_visible(false);
    w.global::<OrdersAdapter>().set_signed_in("".into());
    w.global::<AppAdapter>().set_signed_in("".into());
    w.global::<SignInAdapter>().set_message(why.into());
    w.global::<AppAdapter>().set_screen("signin".into());
    station.send(Command::ListPeople);
    show(w);
}

fn submit(station: &Station, w: &AppWindow) {
    let (name, pin) = STATE.with(|s| {
        let mut s = s.borrow_mut();
        (s.selected.clone(), std::mem::take(&mut s.pin))
    });
    if !name.is_empty() && !pin.is_empty() {
        station.send(Command::SignIn { name, pin });
    }
    show(w);
}

/// Keys typed on the sign-in screen: digits go to the PIN, Enter submits, Backspace
/// takes one back; anything else (a scan) is refused with a message.
pub fn key(station: &Station, w: &AppWindow, text: &str) {
    let mut refused = false;
    for c in text.chars() {
        match c {
            '0'..='9' => STATE.with(|s| {
                let mut s = s.borrow_mut();
                if !s.selected.is_empty() && s.pin.len() < 8 {
                    s.pin.push(c);
                }
            }),
            '\n' | '\r' => submit(station, w),
            '\u{8}' => STATE.with(|s| {
                s.borrow_mut().pin.pop();
            }),
            _ => refused = true,
        }
    }
    if refused {
        STATE.with(|s| s.borrow_mut().pin.clear());
        w.global::<SignInAdapter>()
            .set_message("Sign in first: that scan was not recorded.".into());
    }
    show(w);
}

/// Wire the screen; returns the idle sign-out timer, which must live as long as the app.
pub fn wire(
    window: &AppWindow,
    station: &Rc<Station>,
    settings: &Settings,
) -> Option<slint::Timer> {
    let a = window.global::<SignInAdapter>();
    {
        let weak = window.as_weak();
        a.on_choose(move |name| {
            touched();
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.selected = name.into();
                s.pin.clear();
            });
            if let Some(w) = weak.upgrade() {
                w.global::<SignInAdapter>().set_message("".into());
                show(&w);
            }
        });
    }
    {
        let weak = window.as_weak();
        a.on_digit(move |d| {
            touched();
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                if s.pin.len() < 8 {
                    s.pin.push_str(&d);
                }
            });
            if let Some(w) = weak.upgrade() {
                show(&w);
            }
        });
    }
    {
        let weak = window.as_weak();
        a.on_clear(move || {
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                if s.pin.is_empty() {
                    s.selected.clear();
                } else {
                    s.pin.clear();
                }
            });
            if let Some(w) = weak.upgrade() {
                show(&w);
            }
        });
    }
    {
        let weak = window.as_weak();
        a.on_back(move || {
            touched();
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.pin.clear();
                s.selected.clear();
            });
            if let Some(w) = weak.upgrade() {
                w.global::<SignInAdapter>().set_message("".into());
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
        let (weak, station) = (window.as_weak(), station.clone());
        window.global::<OrdersAdapter>().on_sign_out(move || {
            if let Some(w) = weak.upgrade() {
                sign_out(&w, &station, "");
            }
        });
    }
    {
        let (weak, station) = (window.as_weak(), station.clone());
        window.global::<AppAdapter>().on_sign_out(move || {
            if let Some(w) = weak.upgrade() {
                sign_out(&w, &station, "");
            }
        });
    }
    let idle = Duration::from_secs(u64::from(settings.ui.idle_sign_out_minutes) * 60);
    if idle.is_zero() {
        return None;
    }
    {
        let (weak, station) = (window.as_weak(), station.clone());
        let timer = slint::Timer::default();
        timer.start(
            slint::TimerMode::Repeated,
            Duration::from_secs(5),
            move || {
                let idle_out = STATE.with(|s| {
                    let s = s.borrow();
                    s.signed_in && s.last_touch.is_some_and(|t| t.elapsed() >= idle)
                });
                if idle_out && let Some(w) = weak.upgrade() {
                    sign_out(&w, &station, "Signed out after a while without use.");
                }
            },
        );
        Some(timer)
    }
}

/// Show a sign-in update from the station.
pub fn apply(w: &AppWindow, update: Update) {
    let a = w.global::<SignInAdapter>();
    let app = w.global::<AppAdapter>();
    match update {
        Update::People(names) => {
            let needed = !names.is_empty();
            let signed_in = STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.needed = needed;
                s.signed_in
            });
            a.set_people(ModelRc::new(VecModel::from(
                names
                    .into_iter()
                    .map(SharedString::from)
                    .collect::<Vec<_>>(),
            )));
            if needed && !signed_in {
                app.set_screen("signin".into());
            } else if app.get_screen() == "signin" {
                app.set_screen(super::home().into());
            }
        }
        Update::SignedIn(person) => {
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.signed_in = true;
                s.pin.clear();
                s.last_touch = Some(Instant::now());
            });
            a.set_message("".into());
            let who = format!("{} ({})", person.name, person.role);
            w.global::<OrdersAdapter>()
                .set_signed_in(who.clone().into());
            app.set_signed_in(who.into());
            app.set_screen(super::home().into());
        }
        Update::SignInRefused(message) => {
            STATE.with(|s| s.borrow_mut().pin.clear());
            a.set_message(message.into());
            super::sound::play(false);
        }
        _ => {}
    }
    show(w);
}

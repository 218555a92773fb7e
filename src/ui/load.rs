//! The loading dock screen: choose the picked orders of one vehicle, its driver and
//! vehicle, scan every package onto it, confirm. A supervisor may take a package off
//! the shipment ([`super::supervisor`]). What may be confirmed is decided in Rust (the
//! station's `LoadView`), and the station checks it again when asked.

use std::cell::RefCell;
use std::rc::Rc;

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::entry;
use super::supervisor::{self, Purpose};
use super::{AppWindow, FieldRow, LoadAdapter, PackageRow, ShipOrder};
use crate::app::ship::ShipAnswer;
use crate::app::station::{Command, LoadView, Staged, Station};
use crate::domain::{Driver, Vehicle};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Form {
    Driver,
    Vehicle,
}

impl Form {
    fn fields(self) -> [(&'static str, &'static str); 3] {
        match self {
            Form::Driver => [
                (entry::DRIVER_NAME, "Driver's name"),
                (entry::DRIVER_OL, "Occupational license number"),
                (entry::DRIVER_DL, "Driver's license number"),
            ],
            Form::Vehicle => [
                (entry::MAKE, "Make"),
                (entry::MODEL, "Model"),
                (entry::PLATE, "Plate"),
            ],
        }
    }
}

#[derive(Default)]
struct State {
    step: &'static str,
    picked: Vec<Staged>,
    selected: Vec<String>,
    drivers: Vec<Driver>,
    vehicles: Vec<Vehicle>,
    driver: Option<Driver>,
    vehicle: Option<Vehicle>,
    form: Option<Form>,
    form_message: String,
    view: Option<LoadView>,
    confirmed: Option<String>,
    message: String,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

pub fn reset() {
    STATE.with(|s| {
        *s.borrow_mut() = State {
            step: "choose",
            ..State::default()
        }
    });
}

pub fn driver_label(d: &Driver) -> String {
    format!(
        "{}  ·  OL {}  ·  DL {}",
        d.name, d.occupational_license, d.drivers_license
    )
}

pub fn vehicle_label(v: &Vehicle) -> String {
    format!("{} {}  ·  {}", v.make, v.model, v.plate)
}

fn strings(v: impl IntoIterator<Item = String>) -> ModelRc<SharedString> {
    ModelRc::new(VecModel::from(
        v.into_iter().map(SharedString::from).collect::<Vec<_>>(),
    ))
}

/// A package row: the tag with its last 6 characters large.
pub fn package_row(tag: &str, detail: String, state: &str, state_text: String) -> PackageRow {
    let cut = tag.len().saturating_sub(6);
    PackageRow {
        tag: tag.into(),
        head: tag.get(..cut).unwrap_or_default().into(),
        tail: tag.get(cut..).unwrap_or(tag).into(),
        detail: detail.into(),
        state: state.into(),
        state_text: state_text.into(),
    }
}

/// Put the state on screen.
pub fn show(w: &AppWindow) {
    let a = w.global::<LoadAdapter>();
    STATE.with(|s| {
        let s = s.borrow();
        a.set_step(s.step.into());
        a.set_message(s.message.clone().into());
        a.set_orders(ModelRc::new(VecModel::from(
            s.picked
                .iter()
                .map(|o| ShipOrder {
                    number: o.number.clone().into(),
                    buyer: o.buyer.clone().into(),
                    detail: "picked".into(),
                    selected: s.selected.contains(&o.number),
                })
                .collect::<Vec<_>>(),
        )));
        a.set_selected_count(s.selected.len() as i32);
        a.set_title(s.selected.join(" + ").into());
        a.set_drivers(strings(s.drivers.iter().map(driver_label)));
        a.set_vehicles(strings(s.vehicles.iter().map(vehicle_label)));
        let index = |found: Option<usize>| found.map_or(-1, |i| i as i32);
        a.set_driver(index(
            s.driver
                .as_ref()
                .and_then(|d| s.drivers.iter().position(|x| x == d)),
        ));
        a.set_vehicle(index(
            s.vehicle
                .as_ref()
                .and_then(|v| s.vehicles.iter().position(|x| x == v)),
        ));
        a.set_driver_text(
            s.driver
                .as_ref()
                .map_or("no driver yet".into(), |d| d.name.clone())
                .into(),
        );
        a.set_vehicle_text(
            s.vehicle
                .as_ref()
                .map_or("no vehicle yet".into(), vehicle_label)
                .into(),
        );
        match s.form {
            Some(form) => {
                a.set_form_open(true);
                a.set_form_title(
                    match form {
                        Form::Driver => "New driver",
                        Form::Vehicle => "New vehicle",
                    }
                    .into(),
                );
                let active = entry::active();
                a.set_form_fields(ModelRc::new(VecModel::from(
                    form.fields()
                        .iter()
                        .map(|(key, label)| FieldRow {
                            key: (*key).into(),
                            label: (*label).into(),
                            value: entry::value(key).into(),
                            active: active == Some(*key),
                        })
                        .collect::<Vec<_>>(),
                )));
                a.set_form_message(s.form_message.clone().into());
            }
            None => a.set_form_open(false),
        }
        if let Some(view) = &s.view {
            a.set_loaded(view.loaded() as i32);
            a.set_manifest(view.manifest() as i32);
            a.set_missing(view.checks.iter().map(|c| c.missing.len()).sum::<usize>() as i32);
            a.set_extra(view.checks.iter().map(|c| c.extra.len()).sum::<usize>() as i32);
            a.set_matches(view.matches());
            a.set_confirmed(view.confirmed());
            a.set_rows(ModelRc::new(VecModel::from(
                view.rows
                    .iter()
                    .map(|r| {
                        package_row(
                            &r.tag,
                            format!("{}  line {}", r.order, r.line),
                            r.state,
                            match r.state {
                                "loaded" => "LOADED".into(),
                                "extra" => "EXTRA: take it off".into(),
                                _ => "MISSING".into(),
                            },
                        )
                    })
                    .collect::<Vec<_>>(),
            )));
        }
        a.set_confirmed_text(s.confirmed.clone().unwrap_or_default().into());
    });
}

/// Orders past the pick: the dock lists those picked to the end and not loaded yet.
pub fn stages(w: &AppWindow, rows: &[Staged]) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.picked = rows.iter().filter(|r| r.stage == "picked").cloned().collect();
        let known: Vec<String> = s.picked.iter().map(|o| o.number.clone()).collect();
        if s.step == "choose" {
            s.selected.retain(|n| known.contains(n));
            if s.picked.is_empty() {
                s.message =
                    "No order is picked to the end yet: pick one first (in the demo, SO-1002 takes two scans).".into();
            } else if s.message.starts_with("No order is picked") {
                s.message.clear();
            }
        }
    });
    show(w);
}

/// The load was opened: driver and vehicle next (straight to scanning when both are
/// chosen already).
pub fn opened(w: &AppWindow, view: LoadView, drivers: Vec<Driver>, vehicles: Vec<Vehicle>) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.drivers = drivers;
        s.vehicles = vehicles;
        if let Some(d) = s.driver.clone()
            && !s.drivers.contains(&d)
        {
            s.drivers.insert(0, d);
        }
        if let Some(v) = s.vehicle.clone()
            && !s.vehicles.contains(&v)
        {
            s.vehicles.insert(0, v);
        }
        s.view = Some(view);
        s.confirmed = None;
        s.message.clear();
        s.step = if s.driver.is_some() && s.vehicle.is_some() {
            "scan"
        } else {
            "transport"
        };
    });
    show(w);
}

pub fn answer(w: &AppWindow, a: &ShipAnswer, view: LoadView) {
    STATE.with(|s| s.borrow_mut().view = Some(view));
    show(w);
    super::show_ship_banner(w, super::Banner::Load, a);
}

/// The load as the background sync left it (nobody here did anything).
pub fn refreshed(w: &AppWindow, view: LoadView) {
    STATE.with(|s| s.borrow_mut().view = Some(view));
    show(w);
}

pub fn removed(w: &AppWindow, tag: &str, view: LoadView) {
    supervisor::close(w);
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.view = Some(view);
        s.message = format!("{tag} was taken off the shipment.");
    });
    super::sound::play(true);
    show(w);
}

pub fn confirmed(w: &AppWindow, load: &str, view: LoadView) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let driver = s
            .driver
            .as_ref()
            .map(|d| d.name.clone())
            .unwrap_or_default();
        let vehicle = s.vehicle.as_ref().map(vehicle_label).unwrap_or_default();
        s.confirmed = Some(format!(
            "LOAD CONFIRMED: {} packages, load {load}, {driver}, {vehicle}",
            view.loaded()
        ));
        s.view = Some(view);
        s.message.clear();
    });
    super::sound::play(true);
    show(w);
}

/// An action was refused: say why where it was asked.
pub fn refused(w: &AppWindow, why: &str) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if s.form.is_some() {
            s.form_message = why.to_string();
        } else {
            s.message = why.to_string();
        }
    });
    super::sound::play(false);
    show(w);
}

/// Something went wrong (a scan not recorded, an order that cannot be loaded).
pub fn error(w: &AppWindow, why: &str) {
    let scanning = STATE.with(|s| matches!(s.borrow().step, "scan" | "transport"));
    if scanning {
        super::show_error_banner(w, super::Banner::Load, why);
    } else {
        refused(w, why);
    }
}

pub fn message(w: &AppWindow, text: &str) {
    STATE.with(|s| s.borrow_mut().message = text.to_string());
    show(w);
}

/// The load was left.
pub fn closed(w: &AppWindow) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.step = "choose";
        s.view = None;
        s.selected.clear();
        s.form = None;
        s.confirmed = None;
        s.message.clear();
    });
    w.global::<LoadAdapter>().set_banner_visible(false);
    show(w);
}

fn both_chosen() -> bool {
    STATE.with(|s| {
        let s = s.borrow();
        s.driver.is_some() && s.vehicle.is_some()
    })
}

fn open_form(w: &AppWindow, form: Form) {
    for (key, _) in form.fields() {
        entry::set(key, "");
    }
    entry::activate(Some(form.fields()[0].0));
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.form = Some(form);
        s.form_message.clear();
    });
    show(w);
}

fn close_form(w: &AppWindow) {
    entry::activate(None);
    STATE.with(|s| s.borrow_mut().form = None);
    show(w);
}

/// The form's values, checked (trimmed, every field present) by the domain.
fn form_done(w: &AppWindow) {
    let Some(form) = STATE.with(|s| s.borrow().form) else {
        return;
    };
    let checked = match form {
        Form::Driver => Driver {
            name: entry::value(entry::DRIVER_NAME),
            occupational_license: entry::value(entry::DRIVER_OL),
            drivers_license: entry::value(entry::DRIVER_DL),
        }
        .check()
        .map(|d| {
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.drivers.retain(|x| *x != d);
                s.drivers.insert(0, d.clone());
                s.driver = Some(d);
            })
        }),
        Form::Vehicle => Vehicle {
            make: entry::value(entry::MAKE),
            model: entry::value(entry::MODEL),
            plate: entry::value(entry::PLATE),
        }
        .check()
        .map(|v| {
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.vehicles.retain(|x| *x != v);
                s.vehicles.insert(0, v.clone());
                s.vehicle = Some(v);
            })
        }),
    };
    match checked {
        Ok(()) => {
            close_form(w);
            after_choice(w);
        }
        Err(e) => {
            let msg = e.to_string();
            STATE.with(|s| s.borrow_mut().form_message = capitalise(&msg));
            show(w);
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str() + ".",
        None => String::new(),
    }
}

/// Enter in a form field: the next field, or done after the last.
pub fn enter(w: &AppWindow) {
    let Some(form) = STATE.with(|s| s.borrow().form) else {
        return;
    };
    let fields = form.fields();
    let at = entry::active().and_then(|k| fields.iter().position(|(f, _)| *f == k));
    match at {
        Some(i) if i + 1 < fields.len() => {
            entry::activate(Some(fields[i + 1].0));
            show(w);
        }
        _ => form_done(w),
    }
}

/// Both chosen on the transport step: on to scanning.
fn after_choice(w: &AppWindow) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if s.step == "transport" && s.driver.is_some() && s.vehicle.is_some() {
            s.step = "scan";
        }
    });
    show(w);
}

pub fn wire(window: &AppWindow, station: &Rc<Station>) {
    let a = window.global::<LoadAdapter>();
    a.set_demo_tags(super::demo_tags(super::LOAD_DEMO_TAGS));
    let weak = window.as_weak();
    let with = move |f: &dyn Fn(&AppWindow)| {
        if let Some(w) = weak.upgrade() {
            f(&w)
        }
    };
    {
        let with = with.clone();
        a.on_toggle(move |number| {
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                let number = number.to_string();
                if let Some(i) = s.selected.iter().position(|n| *n == number) {
                    s.selected.remove(i);
                } else {
                    s.selected.push(number);
                }
                s.message.clear();
            });
            with(&show);
        });
    }
    {
        let station = station.clone();
        a.on_next(move || {
            let keys = STATE.with(|s| s.borrow().selected.clone());
            if !keys.is_empty() {
                station.send(Command::OpenLoad(keys));
            }
        });
    }
    {
        let station = station.clone();
        a.on_back(move || station.send(Command::CloseOrder));
    }
    {
        let station = station.clone();
        a.on_done(move || station.send(Command::CloseOrder));
    }
    {
        let with = with.clone();
        a.on_choose_driver(move |i| {
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.driver = s.drivers.get(i.max(0) as usize).cloned();
            });
            with(&after_choice);
        });
    }
    {
        let with = with.clone();
        a.on_choose_vehicle(move |i| {
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.vehicle = s.vehicles.get(i.max(0) as usize).cloned();
            });
            with(&after_choice);
        });
    }
    {
        let with = with.clone();
        a.on_new_driver(move || with(&|w| open_form(w, Form::Driver)));
    }
    {
        let with = with.clone();
        a.on_new_vehicle(move || with(&|w| open_form(w, Form::Vehicle)));
    }
    {
        let with = with.clone();
        a.on_form_select(move |key| {
            let form = STATE.with(|s| s.borrow().form);
            if let Some(form) = form
                && let Some((k, _)) = form.fields().iter().find(|(k, _)| *k == key.as_str())
            {
                entry::activate(Some(k));
            }
            with(&show);
        });
    }
    {
        let with = with.clone();
        a.on_form_done(move || with(&form_done));
    }
    {
        let with = with.clone();
        a.on_form_cancel(move || with(&close_form));
    }
    {
        let with = with.clone();
        a.on_transport(move || {
            STATE.with(|s| s.borrow_mut().step = "transport");
            with(&show);
        });
    }
    {
        let with = with.clone();
        a.on_start_scanning(move || {
            if both_chosen() {
                STATE.with(|s| s.borrow_mut().step = "scan");
            }
            with(&show);
        });
    }
    {
        let (station, with) = (station.clone(), with.clone());
        a.on_confirm(move || {
            let chosen = STATE.with(|s| {
                let s = s.borrow();
                s.driver.clone().zip(s.vehicle.clone())
            });
            match chosen {
                Some((driver, vehicle)) => {
                    station.send(Command::ConfirmLoad { driver, vehicle });
                }
                None => with(&|w| {
                    STATE.with(|s| s.borrow_mut().step = "transport");
                    message(w, "Choose the driver and the vehicle first.");
                }),
            }
        });
    }
    {
        let with = with.clone();
        a.on_remove(move || {
            let items: Vec<(String, String)> = STATE.with(|s| {
                s.borrow()
                    .view
                    .iter()
                    .flat_map(|v| v.rows.iter())
                    .map(|r| {
                        (
                            r.tag.clone(),
                            format!("{}  ·  {} line {}  ·  {}", r.tag, r.order, r.line, r.state),
                        )
                    })
                    .collect()
            });
            with(&|w| supervisor::open(w, Purpose::Remove, items.clone()));
        });
    }
    {
        let with = with.clone();
        a.on_dismiss_banner(move || {
            with(&|w| w.global::<LoadAdapter>().set_banner_visible(false));
        });
    }
    {
        let station = station.clone();
        a.on_demo_scan(move |tag| super::send_text_scan(&station, "demo", &tag));
    }
}

//! What the station's updates do to the screens: [`apply`] shows one update, and the
//! verdict banners of the pick, the dock and the hand-over.

use std::cell::Cell;

use slint::{ComponentHandle, ModelRc, VecModel};

use super::*;
use crate::app::pick::Answer;
use crate::app::ship::ShipAnswer;
use crate::app::station::{Refreshed, Update};
use crate::domain::pick::Progress;

thread_local! {
    static BANNER_SEQ: Cell<u64> = const { Cell::new(0) };
}

/// The hub's reachability and the events waiting for it, in the corner of every
/// screen.
pub(super) fn show_sync(w: &AppWindow, h: &crate::sync::SyncHealth) {
    let app = w.global::<AppAdapter>();
    app.set_sync_state(if h.online { "online" } else { "offline" }.into());
    app.set_sync_waiting(h.waiting.max(0) as i32);
    app.set_sync_problem(h.problem.as_str().into());
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
                        picked: s.picked as i32,
                        others: if s.others_picking.is_empty() {
                            "".into()
                        } else {
                            format!("also picking: {}", s.others_picking.join(", ")).into()
                        },
                    })
                    .collect::<Vec<_>>(),
            )));
        }
        Update::Opened { buyer, view } => {
            pick.set_buyer(buyer.into());
            pick.set_banner_visible(false);
            pick.set_selected_line("".into());
            pick.set_show_picked(false);
            pick.set_status("Scan the packages on the list.".into());
            super::pick::show(w, view);
            app.set_screen("pick".into());
            w.global::<OrdersAdapter>().set_message("".into());
        }
        Update::Answer { answer, view } => {
            super::pick::show(w, view);
            show_banner(w, &answer);
        }
        Update::Progress(view) => super::pick::show(w, view),
        Update::Refreshed(Refreshed::Pick(view)) => super::pick::show(w, view),
        Update::Refreshed(Refreshed::Load(view)) => load::refreshed(w, view),
        Update::Refreshed(Refreshed::Delivery(state)) => deliver::refreshed(w, state),
        Update::Closed => {
            pick.set_banner_visible(false);
            super::pick::clear();
            supervisor::close(w);
            entry::activate(None);
            load::closed(w);
            deliver::closed(w);
            if app.get_screen() != "signin" {
                app.set_screen(home().into());
            }
        }
        Update::Status(s) => {
            pick.set_status(s.clone().into());
            match app.get_screen().as_str() {
                "load" => load::message(w, &s),
                "deliver" => deliver::message(w, &s),
                _ => {}
            }
            w.global::<OrdersAdapter>().set_message(s.into());
        }
        Update::People(ref names) => {
            supervisor::set_people(!names.is_empty());
            sign_in::apply(w, update)
        }
        Update::SignedIn(_) | Update::SignInRefused(_) => sign_in::apply(w, update),
        Update::Supervisors(names) => {
            supervisor::set_supervisors(names);
            supervisor::show(w);
        }
        Update::Flow(flow) => {
            FLOW.with(|f| f.set(flow));
            app.set_flow(flow.word().into());
            if app.get_screen() != "signin" {
                app.set_screen(home().into());
            }
        }
        Update::Stages(rows) => {
            load::stages(w, &rows);
            deliver::stages(w, &rows);
        }
        Update::Picked(tags) => {
            let items = tags
                .into_iter()
                .map(|(tag, line)| {
                    let label = format!("{tag}  ·  line {line}");
                    (tag, label)
                })
                .collect();
            supervisor::open(w, supervisor::Purpose::Undo, items);
        }
        Update::Undone { tag, view } => {
            supervisor::close(w);
            super::pick::show(w, view);
            pick.set_status(format!("Pick of {tag} undone by a supervisor.").into());
            sound::play(true);
        }
        Update::Refused(why) => {
            if !supervisor::refused(w, &why) {
                match app.get_screen().as_str() {
                    "load" => load::refused(w, &why),
                    "deliver" => deliver::refused(w, &why),
                    "pick" => {
                        pick.set_status(why.into());
                        sound::play(false);
                    }
                    _ => w.global::<OrdersAdapter>().set_message(why.into()),
                }
            }
        }
        Update::LoadOpened {
            view,
            drivers,
            vehicles,
        } => {
            app.set_screen("load".into());
            load::opened(w, view, drivers, vehicles);
        }
        Update::LoadAnswer { answer, view } => load::answer(w, &answer, view),
        Update::Removed { tag, view } => load::removed(w, &tag, view),
        Update::LoadConfirmed { load, view } => load::confirmed(w, &load, view),
        Update::DeliveryOpened(state) => {
            app.set_screen("deliver".into());
            deliver::opened(w, state);
        }
        Update::DeliveryAnswer { answer, state } => deliver::answer(w, &answer, state),
        Update::Delivery(state) => deliver::updated(w, state),
        Update::Error(message) => {
            if supervisor::refused(w, &message) {
                return;
            }
            match app.get_screen().as_str() {
                "load" => return load::error(w, &message),
                "deliver" => return deliver::error(w, &message),
                _ => {}
            }
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

pub(super) fn show_progress(pick: &PickAdapter, p: &Progress) {
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

pub(super) fn show_banner(w: &AppWindow, a: &Answer) {
    let pick = w.global::<PickAdapter>();
    let good = a.verdict == "accepted";
    let (head, tail) = match &a.tag {
        Some(t) => {
            let (head, six) = t.head_and_six();
            (head.to_string(), six.to_string())
        }
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

/// Which screen's banner.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Banner {
    Load,
    Deliver,
}

struct BannerText {
    good: bool,
    word: String,
    head: String,
    tail: String,
    item: String,
    message: String,
}

fn set_banner(w: &AppWindow, which: Banner, b: BannerText) {
    macro_rules! put {
        ($a:expr) => {{
            let a = $a;
            a.set_banner_good(b.good);
            a.set_banner_word(b.word.into());
            a.set_banner_tag_head(b.head.into());
            a.set_banner_tag_tail(b.tail.into());
            a.set_banner_item(b.item.into());
            a.set_banner_message(b.message.into());
            a.set_banner_visible(true);
        }};
    }
    match which {
        Banner::Load => put!(w.global::<LoadAdapter>()),
        Banner::Deliver => put!(w.global::<DeliverAdapter>()),
    }
    sound::play(b.good);
    let seq = BANNER_SEQ.with(|s| {
        s.set(s.get() + 1);
        s.get()
    });
    if b.good {
        let weak = w.as_weak();
        slint::Timer::single_shot(ACCEPTED_BANNER, move || {
            if BANNER_SEQ.with(Cell::get) == seq
                && let Some(w) = weak.upgrade()
            {
                match which {
                    Banner::Load => w.global::<LoadAdapter>().set_banner_visible(false),
                    Banner::Deliver => w.global::<DeliverAdapter>().set_banner_visible(false),
                }
            }
        });
    }
}

/// The one word a dock or hand-over verdict shows.
pub fn ship_word(a: &ShipAnswer) -> &'static str {
    match (a.verdict, a.reason) {
        ("loaded", _) => "LOADED",
        ("handed_over", _) => "HANDED OVER",
        ("already_loaded", _) => "ALREADY LOADED",
        ("already_scanned", _) => "ALREADY SCANNED",
        ("not_picked", _) => "NOT PICKED",
        ("removed", _) => "REMOVED",
        ("not_on_manifest", _) => "NOT ON MANIFEST",
        ("wrong_order", _) => "WRONG ORDER",
        ("wrong_batch", _) => "WRONG BATCH",
        ("not_on_list", _) => "NOT ON LIST",
        ("finished", _) if a.stage == "load" => "ALREADY CONFIRMED",
        ("finished", _) => "ALREADY DELIVERED",
        ("ineligible", Some("on_hold")) => "ON HOLD",
        ("ineligible", Some("lab_state")) => "LAB FAILED",
        ("ineligible", Some("expired")) => "EXPIRED",
        ("ineligible", Some("recall")) => "RECALL",
        ("ineligible", Some("investigation")) => "INVESTIGATION",
        ("ineligible", _) => "FINISHED",
        _ => "NOT A TAG",
    }
}

pub(super) fn show_ship_banner(w: &AppWindow, which: Banner, a: &ShipAnswer) {
    let good = a.is_accepted();
    let (head, tail) = match &a.tag {
        Some(t) => {
            let (head, six) = t.head_and_six();
            (head.to_string(), six.to_string())
        }
        None => (String::new(), a.input.chars().take(24).collect()),
    };
    let mut message = a.message.clone();
    if let Some(other) = &a.other_order {
        message = format!("{message} (order {other})");
    }
    if a.complete && good {
        message.push_str(match a.stage {
            "load" => " Every package is on the vehicle: confirm the load.",
            _ => " Every package is accounted for: the receiver signs.",
        });
    }
    set_banner(
        w,
        which,
        BannerText {
            good,
            word: ship_word(a).into(),
            head,
            tail,
            item: a.item.clone().unwrap_or_default(),
            message,
        },
    );
}

pub(super) fn show_error_banner(w: &AppWindow, which: Banner, why: &str) {
    set_banner(
        w,
        which,
        BannerText {
            good: false,
            word: "NOT RECORDED".into(),
            head: String::new(),
            tail: String::new(),
            item: String::new(),
            message: why.into(),
        },
    );
}

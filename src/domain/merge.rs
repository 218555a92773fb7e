//! The merge of one order's events from many devices into one truth.
//!
//! The hub (and a device that has heard of other devices' events) folds an order's
//! events in [`fold_order`] with [`merge`] or, incrementally, with [`Merger::apply`]:
//! the merged state depends on which events there are, never on the order they
//! arrived in.
//! The counted state is exactly the fold of [`PickState::apply`], so a device that holds
//! the same events counts the same picks as the hub. What the devices could not see
//! when they scanned becomes an [`Exception`] for a supervisor, never a silent drop:
//!
//! - the same package accepted on two devices (offline, or before either heard of the
//!   other): counted once, the later acceptance is an exception naming the first device;
//! - a picked package that is ineligible by the hub's facts (put on hold, recalled,
//!   expired while the device was offline): the pick stands as recorded, the exception
//!   asks a supervisor to undo it or release the package;
//! - an accepted tag the hub's list does not allocate to this order (re-allocated while
//!   the device was offline);
//! - an event held for a supervisor's ruling ([`super::ruling`]): kept, not counted.
//!
//! Pure: no IO, no clock (today's date is an argument).

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::event::{Event, EventKind, fold_order};
use super::package::{Ineligibility, Package, Rules};
use super::pick::{PickList, PickState, Progress, Verdict};
use super::ruling::{Rulings, Standing};
use crate::tag::MetrcTag;

/// What a supervisor must look at on a merged order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    /// The event that raised it.
    pub device: String,
    pub seq: i64,
    /// The package it is about (none for a short, a ruling, a finished delivery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<MetrcTag>,
    pub line: Option<String>,
    #[serde(flatten)]
    pub kind: ExceptionKind,
    /// One sentence for the supervisor.
    pub message: String,
}

/// Why an event of a merged order needs a supervisor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "exception", rename_all = "snake_case")]
pub enum ExceptionKind {
    /// The package was already picked on this order (by `device`, event `seq`):
    /// counted once.
    AlreadyPicked { by_device: String, by_seq: i64 },
    /// Picked, but by the hub's facts the package may not ship.
    Ineligible { reason: Ineligibility },
    /// Accepted on a device, but the hub's list does not allocate it to this order.
    NotAllocated,
    /// A second dock confirmed this order on another load (both offline): the first
    /// confirmation stands; the packages may be on two vehicles' paper.
    SecondLoad { first_load: String, load: String },
    /// Recorded on a delivery already finished (signed) on another device: it does
    /// not count.
    AfterDelivery,
    /// Arrived at the hub after the order was closed there (cancelled, shipped...):
    /// kept, for a supervisor to look at.
    ClosedOrder,
    /// Held by the hub for a supervisor's ruling (`why`: its person may not do it,
    /// or it names nobody or nobody the hub knows): kept, not counted until accepted.
    Held { event_kind: String, why: String },
}

/// The incremental merge of one order: feed events in [`fold_order`] (check each
/// with [`Merger::in_order`]; an event that sorts before the last one folded means
/// folding the whole order again, as [`merge`] does).
#[derive(Clone, Debug, Default)]
pub struct Merger {
    state: PickState,
    /// The load and the delivery, folded the same way as on a device.
    ship: super::ship::Shipment,
    exceptions: Vec<Exception>,
    events: usize,
    /// The fold key of the last event folded.
    last: Option<(i64, String, i64)>,
}

impl Merger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Fold one event. `packages` are the hub's facts about the order's tags (a tag
    /// missing from the map raises no ineligibility exception). Returns the exceptions
    /// this event raised.
    pub fn apply(
        &mut self,
        list: &PickList,
        packages: &HashMap<MetrcTag, Package>,
        rules: &Rules,
        today: NaiveDate,
        event: &Event,
    ) -> Vec<Exception> {
        self.seen(event);
        if event.kind.is_hold_or_ruling() {
            // What counts changed: [`merge`] folds the order again (see `in_order`).
            return Vec::new();
        }
        let mut raised = vec![];
        if let EventKind::Scan {
            tag: Some(tag),
            verdict: Verdict::Accepted { line, .. },
            ..
        } = &event.kind
        {
            let line = Some(line.clone());
            let mut raise = |kind: ExceptionKind| {
                let message = message(Some(tag), &kind, &event.device);
                raised.push(Exception {
                    device: event.device.clone(),
                    seq: event.seq,
                    tag: Some(tag.clone()),
                    line: line.clone(),
                    kind,
                    message,
                });
            };
            if let Some(first) = self.state.picks_of(tag).into_iter().next() {
                raise(ExceptionKind::AlreadyPicked {
                    by_device: first.device,
                    by_seq: first.seq,
                });
            } else {
                if list.line_of(tag).is_none() {
                    raise(ExceptionKind::NotAllocated);
                } else if let Some(reason) = packages
                    .get(tag)
                    .and_then(|p| p.ineligibility(rules, today))
                {
                    raise(ExceptionKind::Ineligible { reason });
                }
            }
        }
        raised.extend(self.ship_conflict(event));
        self.ship.apply(event);
        self.state.apply(event);
        self.exceptions.extend(raised.iter().cloned());
        raised
    }

    /// Count `event` as merged, and move the last fold key on.
    fn seen(&mut self, event: &Event) {
        self.events += 1;
        let key = event.fold_key();
        if self.last.as_ref().is_none_or(|l| *l < key) {
            self.last = Some(key);
        }
    }

    /// `event` is held for a ruling: merged, not counted, an exception.
    fn held(&mut self, event: &Event, why: &str) {
        self.seen(event);
        let kind = ExceptionKind::Held {
            event_kind: event.kind.word().to_string(),
            why: why.to_string(),
        };
        let tag = event_tag(event);
        self.exceptions.push(Exception {
            device: event.device.clone(),
            seq: event.seq,
            message: message(tag.as_ref(), &kind, &event.device),
            line: event_line(event),
            tag,
            kind,
        });
    }

    /// What the shipment fold would drop silently: a second load, events after the
    /// delivery was signed.
    fn ship_conflict(&self, event: &Event) -> Option<Exception> {
        let raise = |tag: &MetrcTag, kind: ExceptionKind| {
            let message = message(Some(tag), &kind, &event.device);
            Some(Exception {
                device: event.device.clone(),
                seq: event.seq,
                tag: Some(tag.clone()),
                line: None,
                kind,
                message,
            })
        };
        match &event.kind {
            EventKind::LoadConfirm(c) => {
                let first = self.ship.confirmed()?;
                let tag = c.tags.first()?;
                if first.confirm.load == c.load {
                    return None;
                }
                raise(
                    tag,
                    ExceptionKind::SecondLoad {
                        first_load: first.confirm.load.clone(),
                        load: c.load.clone(),
                    },
                )
            }
            EventKind::Decision { tag, .. } | EventKind::DeliverScan { tag: Some(tag), .. }
                if self.ship.finished().is_some() =>
            {
                raise(tag, ExceptionKind::AfterDelivery)
            }
            EventKind::DeliverFinish { .. } if self.ship.finished().is_some() => {
                let tag = self.ship.confirmed()?.confirm.tags.first()?;
                raise(tag, ExceptionKind::AfterDelivery)
            }
            _ => None,
        }
    }

    /// Fold newly arrived events (in the order they arrived) in place, while each
    /// comes after the last one folded. `false` at the first that does not: the order
    /// must then be folded again from all its events with [`merge`] (this merger is
    /// left part-way).
    pub fn fold_in(
        &mut self,
        list: &PickList,
        packages: &HashMap<MetrcTag, Package>,
        rules: &Rules,
        today: NaiveDate,
        batch: &[Event],
    ) -> bool {
        for e in batch {
            if !self.in_order(e) {
                return false;
            }
            self.apply(list, packages, rules, today, e);
        }
        true
    }

    /// Whether `event` comes after every event folded so far in [`fold_order`], so
    /// [`Merger::apply`] folds it in place; if not, fold the order again with
    /// [`merge`]. A hold or a ruling changes what counts, before it too: never in
    /// place.
    pub fn in_order(&self, event: &Event) -> bool {
        !event.kind.is_hold_or_ruling() && self.last.as_ref().is_none_or(|l| *l < event.fold_key())
    }

    /// The counted state: the same as folding [`PickState::apply`] over the events.
    pub fn state(&self) -> &PickState {
        &self.state
    }

    pub fn exceptions(&self) -> &[Exception] {
        &self.exceptions
    }

    /// Events folded so far.
    pub fn events(&self) -> usize {
        self.events
    }

    /// Progress and exceptions, as the hub reports them.
    pub fn view(&self, list: &PickList) -> MergedOrder {
        MergedOrder {
            progress: self.state.progress(list),
            exceptions: self.exceptions.clone(),
            events: self.events,
        }
    }
}

/// An order's merged progress and the exceptions a supervisor must clear.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MergedOrder {
    #[serde(flatten)]
    pub progress: Progress,
    pub exceptions: Vec<Exception>,
    /// Events merged (all devices, all kinds).
    pub events: usize,
}

/// Merge an order's events from all devices, in any order: they are folded in
/// [`fold_order`], so the result depends only on which events there are. Events
/// held for a ruling are exceptions and not counted; rejected ones are not counted.
pub fn merge(
    list: &PickList,
    packages: &HashMap<MetrcTag, Package>,
    rules: &Rules,
    today: NaiveDate,
    events: &[Event],
) -> Merger {
    let mut sorted = events.to_vec();
    fold_order(&mut sorted);
    let rulings = Rulings::of(&sorted);
    let mut m = Merger::new();
    for e in &sorted {
        match rulings.standing(&e.id()) {
            Standing::Counts => {
                m.apply(list, packages, rules, today, e);
            }
            Standing::Held { why } => m.held(e, &why),
            Standing::Rejected { .. } => m.seen(e),
        }
    }
    m
}

/// The package an event is about, if one (a load confirmation: its first).
fn event_tag(event: &Event) -> Option<MetrcTag> {
    match &event.kind {
        EventKind::LoadConfirm(c) => c.tags.first().cloned(),
        k => k.tag().cloned(),
    }
}

/// The order line an event is about, if one.
fn event_line(event: &Event) -> Option<String> {
    match &event.kind {
        EventKind::Short { line, .. } => Some(line.clone()),
        k => k.verdict().and_then(|v| v.line()).map(str::to_string),
    }
}

fn message(tag: Option<&MetrcTag>, kind: &ExceptionKind, device: &str) -> String {
    let tag = tag.map_or_else(|| "an event".to_string(), MetrcTag::to_string);
    match kind {
        ExceptionKind::AlreadyPicked { by_device, .. } => format!(
            "{tag} picked on device {device} was already picked on device {by_device}: counted once; find the second scan's package and put it back"
        ),
        ExceptionKind::Ineligible { reason } => format!(
            "{tag} picked on device {device} is now {}: take it off the order (undo) or release it",
            reason.word().replace('_', " ")
        ),
        ExceptionKind::NotAllocated => format!(
            "{tag} picked on device {device} is not allocated to this order on the hub (never, or no longer: the order changed): put it back and undo the pick, or allocate it again"
        ),
        ExceptionKind::SecondLoad { first_load, load } => format!(
            "device {device} confirmed this order on load {load}, but it was already confirmed on load {first_load}: {first_load} stands; check which vehicle carries its packages ({tag}, ...)"
        ),
        ExceptionKind::AfterDelivery => format!(
            "device {device} recorded {tag} after the delivery was signed: it does not count; check with the driver"
        ),
        ExceptionKind::ClosedOrder => format!(
            "device {device} recorded {tag} on this order after it was closed here: check what the device did with it"
        ),
        ExceptionKind::Held { event_kind, why } => format!(
            "device {device} recorded a {} of {tag}, {why}: held, not counted; a supervisor accepts or rejects it",
            event_kind.replace('_', " ")
        ),
    }
}

/// The exception for `event`, which reached the hub after the order was closed
/// there (`None` for a hold or a ruling, which the hub itself may record then).
pub fn closed_order(event: &Event) -> Option<Exception> {
    if event.kind.is_hold_or_ruling() {
        return None;
    }
    let tag = event_tag(event);
    let kind = ExceptionKind::ClosedOrder;
    Some(Exception {
        device: event.device.clone(),
        seq: event.seq,
        line: event_line(event),
        message: message(tag.as_ref(), &kind, &event.device),
        tag,
        kind,
    })
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;

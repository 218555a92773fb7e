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
//!   the device was offline).
//!
//! Pure: no IO, no clock (today's date is an argument).

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::event::{Event, EventKind, fold_order};
use super::package::{Ineligibility, Package, Rules};
use super::pick::{PickList, PickState, Progress, Verdict};
use crate::tag::MetrcTag;

/// What a supervisor must look at on a merged order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    /// The event that raised it.
    pub device: String,
    pub seq: i64,
    pub tag: MetrcTag,
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
        self.events += 1;
        let key = event.fold_key();
        if self.last.as_ref().is_none_or(|l| *l < key) {
            self.last = Some(key);
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
                let message = message(tag, &kind, &event.device);
                raised.push(Exception {
                    device: event.device.clone(),
                    seq: event.seq,
                    tag: tag.clone(),
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

    /// What the shipment fold would drop silently: a second load, events after the
    /// delivery was signed.
    fn ship_conflict(&self, event: &Event) -> Option<Exception> {
        let raise = |tag: &MetrcTag, kind: ExceptionKind| {
            let message = message(tag, &kind, &event.device);
            Some(Exception {
                device: event.device.clone(),
                seq: event.seq,
                tag: tag.clone(),
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
    /// [`merge`].
    pub fn in_order(&self, event: &Event) -> bool {
        self.last.as_ref().is_none_or(|l| *l < event.fold_key())
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
/// [`fold_order`], so the result depends only on which events there are.
pub fn merge(
    list: &PickList,
    packages: &HashMap<MetrcTag, Package>,
    rules: &Rules,
    today: NaiveDate,
    events: &[Event],
) -> Merger {
    let mut sorted = events.to_vec();
    fold_order(&mut sorted);
    let mut m = Merger::new();
    for e in &sorted {
        m.apply(list, packages, rules, today, e);
    }
    m
}

fn message(tag: &MetrcTag, kind: &ExceptionKind, device: &str) -> String {
    match kind {
        ExceptionKind::AlreadyPicked { by_device, .. } => format!(
            "{tag} picked on device {device} was already picked on device {by_device}: counted once; find the second scan's package and put it back"
        ),
        ExceptionKind::Ineligible { reason } => format!(
            "{tag} picked on device {device} is now {}: take it off the order (undo) or release it",
            reason.word().replace('_', " ")
        ),
        ExceptionKind::NotAllocated => format!(
            "{tag} picked on device {device} is not allocated to this order on the hub: check the allocation"
        ),
        ExceptionKind::SecondLoad { first_load, load } => format!(
            "device {device} confirmed this order on load {load}, but it was already confirmed on load {first_load}: {first_load} stands; check which vehicle carries its packages ({tag}, ...)"
        ),
        ExceptionKind::AfterDelivery => format!(
            "device {device} recorded {tag} after the delivery was signed: it does not count; check with the driver"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::{Line, Order, OrderStatus};
    use crate::domain::package::tests::pkg;

    const A: &str = "1A4000000000000000000001";
    const B: &str = "1A4000000000000000000002";
    const H: &str = "1A4000000000000000000003"; // on hold at the hub
    const X: &str = "1A4000000000000000000009"; // not allocated here

    fn t(s: &str) -> MetrcTag {
        MetrcTag::new(s).unwrap()
    }

    fn world() -> (PickList, HashMap<MetrcTag, Package>) {
        let mut packages = HashMap::new();
        for p in [
            pkg(A, "Blue Dream 3.5g", "BD-1"),
            pkg(B, "Blue Dream 3.5g", "BD-1"),
            Package {
                on_hold: true,
                ..pkg(H, "Blue Dream 3.5g", "BD-1")
            },
        ] {
            packages.insert(p.label.clone(), p);
        }
        let order = Order {
            delivery_address: None,
            number: "SO-1".into(),
            short_id: None,
            status: OrderStatus("Accepted".into()),
            buyer: "Green Door".into(),
            buyer_license: None,
            ship_date: None,
            lines: vec![Line {
                unit_price_cents: None,
                id: "1".into(),
                sku: None,
                name: None,
                quantity: None,
                unit: None,
                batch: Some("BD-1".into()),
                tags: vec![t(A), t(B), t(H)],
            }],
        };
        (PickList::new(&order, &packages), packages)
    }

    fn ev(device: &str, seq: i64, kind: EventKind) -> Event {
        Event {
            person: None,
            device: device.into(),
            seq,
            at: "2026-11-27T00:00:00.000Z".into(),
            order: "SO-1".into(),
            kind,
        }
    }

    fn pick(device: &str, seq: i64, tag: &str) -> Event {
        ev(
            device,
            seq,
            EventKind::scan(
                tag.as_bytes(),
                tag.len(),
                Some(t(tag)),
                Verdict::Accepted {
                    line: "1".into(),
                    expires_in_days: None,
                },
            ),
        )
    }

    fn undo(device: &str, seq: i64, tag: &str) -> Event {
        ev(
            device,
            seq,
            EventKind::Undo {
                tag: t(tag),
                reason: "wrong".into(),
                undoes: vec![],
            },
        )
    }

    fn rejected(device: &str, seq: i64) -> Event {
        ev(
            device,
            seq,
            EventKind::scan(
                b"junk",
                4,
                None,
                Verdict::NotATag {
                    reason: crate::tag::NotATag::Malformed,
                },
            ),
        )
    }

    fn short(device: &str, seq: i64) -> Event {
        ev(
            device,
            seq,
            EventKind::Short {
                line: "1".into(),
                reason: "damaged".into(),
            },
        )
    }

    /// (case, events in arrival order, picked count, exceptions as (device, seq, word))
    type Case = (
        &'static str,
        Vec<Event>,
        usize,
        Vec<(&'static str, i64, &'static str)>,
    );

    #[test]
    fn merge_table() {
        let (list, packages) = world();
        let table: Vec<Case> = vec![
            ("nothing", vec![], 0, vec![]),
            (
                "one device, two picks",
                vec![pick("d1", 1, A), pick("d1", 2, B)],
                2,
                vec![],
            ),
            (
                "two devices, different tags",
                vec![pick("d1", 1, A), pick("d2", 1, B)],
                2,
                vec![],
            ),
            (
                "two devices, same tag: counted once, second is an exception",
                vec![pick("d1", 1, A), pick("d2", 1, A)],
                1,
                vec![("d2", 1, "already_picked")],
            ),
            (
                "the fold order decides who was first, not the arrival",
                vec![pick("d2", 7, A), pick("d1", 1, A)],
                1,
                vec![("d2", 7, "already_picked")],
            ),
            (
                "undo frees the tag for a clean pick",
                vec![pick("d1", 1, A), undo("d1", 2, A), pick("d2", 1, A)],
                1,
                vec![],
            ),
            (
                "picked while the hub holds it: counted, flagged",
                vec![pick("d1", 1, H)],
                1,
                vec![("d1", 1, "ineligible")],
            ),
            (
                "picked tag the hub does not allocate here",
                vec![pick("d1", 1, X)],
                1,
                vec![("d1", 1, "not_allocated")],
            ),
            (
                "rejected scans and shorts change no picks",
                vec![rejected("d1", 1), short("d2", 1), pick("d1", 2, A)],
                1,
                vec![],
            ),
        ];
        for (case, events, picked, expected) in table {
            let m = merge(&list, &packages, &Rules::default(), day(), &events);
            assert_eq!(m.state().picked(), picked, "{case}");
            let got: Vec<(&str, i64, String)> = m
                .exceptions()
                .iter()
                .map(|e| {
                    let word = serde_json::to_value(&e.kind).unwrap()["exception"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    (e.device.as_str(), e.seq, word)
                })
                .collect();
            let expected: Vec<(&str, i64, String)> = expected
                .into_iter()
                .map(|(d, s, w)| (d, s, w.to_string()))
                .collect();
            assert_eq!(got, expected, "{case}");
            // The counted state is the device's fold (its store reads the events in
            // fold order), in whichever order they arrived: devices and hub agree.
            let mut sorted = events.clone();
            sorted.reverse();
            fold_order(&mut sorted);
            let mut plain = PickState::default();
            for e in &sorted {
                plain.apply(e);
            }
            assert_eq!(plain.progress(&list), m.state().progress(&list), "{case}");
            assert_eq!(m.events(), events.len());
        }
    }

    #[test]
    fn exceptions_name_the_first_device_and_serialise() {
        let (list, packages) = world();
        let m = merge(
            &list,
            &packages,
            &Rules::default(),
            day(),
            &[pick("d1", 3, A), pick("d2", 5, A)],
        );
        let e = &m.exceptions()[0];
        assert_eq!(
            e.kind,
            ExceptionKind::AlreadyPicked {
                by_device: "d1".into(),
                by_seq: 3
            }
        );
        assert!(e.message.contains("already picked on device d1"));
        let v = serde_json::to_value(m.view(&list)).unwrap();
        assert_eq!(v["picked"], 1);
        assert_eq!(v["exceptions"][0]["exception"], "already_picked");
        assert_eq!(v["exceptions"][0]["by_device"], "d1");
    }

    #[test]
    fn incremental_equals_batch() {
        let (list, packages) = world();
        let events = vec![
            pick("d1", 1, A),
            pick("d2", 1, A),
            pick("d2", 2, H),
            undo("d1", 2, A),
            pick("d2", 3, A),
        ];
        let batch = merge(&list, &packages, &Rules::default(), day(), &events);
        // In fold order, one at a time, as the hub folds what arrives in order.
        let mut sorted = events.clone();
        fold_order(&mut sorted);
        let mut inc = Merger::new();
        let mut raised = 0;
        for e in &sorted {
            assert!(inc.in_order(e));
            raised += inc
                .apply(&list, &packages, &Rules::default(), day(), e)
                .len();
        }
        assert_eq!(inc.view(&list), batch.view(&list));
        assert_eq!(raised, batch.exceptions().len());
        // In arrival order: an event that sorts earlier asks for a fold from the
        // start, which gives the same.
        let mut hub = Merger::new();
        let mut seen = vec![];
        for e in &events {
            seen.push(e.clone());
            if !hub.fold_in(
                &list,
                &packages,
                &Rules::default(),
                day(),
                std::slice::from_ref(e),
            ) {
                hub = merge(&list, &packages, &Rules::default(), day(), &seen);
            }
        }
        assert_eq!(hub.view(&list), batch.view(&list));
    }

    fn day() -> NaiveDate {
        "2026-11-27".parse().unwrap()
    }

    #[test]
    fn a_second_load_and_events_after_the_signature_become_exceptions() {
        use crate::domain::{Decision, Driver, LoadConfirm, RejectReason, Vehicle};
        let (list, packages) = world();
        let today = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let confirm = |load: &str| {
            EventKind::LoadConfirm(Box::new(LoadConfirm {
                load: load.into(),
                orders: vec!["SO-1".into()],
                driver: Driver {
                    name: "Dee".into(),
                    occupational_license: "OL".into(),
                    drivers_license: "DL".into(),
                },
                vehicle: Vehicle {
                    make: "Ford".into(),
                    model: "Transit".into(),
                    plate: "P1".into(),
                },
                tags: vec![t(A)],
                manifest_pdf: None,
            }))
        };
        let handed = EventKind::DeliverScan {
            raw: A.as_bytes().to_vec(),
            raw_len: 24,
            tag: Some(t(A)),
            verdict: Verdict::HandedOver { line: "1".into() },
        };
        let events = [
            pick("vault", 1, A),
            ev("dock-1", 1, confirm("L1")),
            ev("dock-1", 2, confirm("L1")),
            ev("dock-2", 1, confirm("L2")),
            ev("van", 1, handed.clone()),
            ev(
                "van",
                2,
                EventKind::DeliverFinish {
                    receiver: "Rae".into(),
                    signature: "ab".into(),
                },
            ),
            ev(
                "van-2",
                1,
                EventKind::Decision {
                    tag: t(A),
                    decision: Decision::Rejected {
                        reason: RejectReason::Damaged,
                        note: None,
                    },
                },
            ),
        ];
        let m = merge(&list, &packages, &Rules::default(), today, &events);
        let kinds: Vec<(&str, &ExceptionKind)> = m
            .exceptions()
            .iter()
            .map(|e| (e.device.as_str(), &e.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                (
                    "dock-2",
                    &ExceptionKind::SecondLoad {
                        first_load: "L1".into(),
                        load: "L2".into()
                    }
                ),
                ("van-2", &ExceptionKind::AfterDelivery),
            ]
        );
        assert!(m.exceptions()[0].message.contains("L1 stands"));
    }
}

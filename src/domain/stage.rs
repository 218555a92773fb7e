//! Where an order stands, in one word a coordinator reads on the desk's board, and
//! who is working on it. Pure: the facts and the time are arguments.
//!
//! The stages, in the order an order goes through them: not allocated, allocated,
//! picking, picked, loading, loaded, in transit, delivered; beside them on hold (the
//! buyer's license holds it, whatever it had reached short of delivery) and closed
//! (the platform closed it, or the hub no longer lists it).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::event::{Event, EventKind};

/// One word for where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStage {
    /// Nothing allocated yet: a coordinator's to allocate.
    NotAllocated,
    /// Held by the buyer's license: the floor refuses it until it is released.
    OnHold,
    /// Allocated, nothing picked yet.
    Allocated,
    /// Some packages picked or shorted, not all.
    Picking,
    /// Every line picked or shorted.
    Picked,
    /// On the vehicle, the load not yet confirmed.
    Loading,
    /// The load confirmed (its manifest made), not yet left.
    Loaded,
    /// Left: past the estimated departure, or the hand-over has begun.
    InTransit,
    /// The receiver signed.
    Delivered,
    /// Closed on its platform (or no longer listed by the hub).
    Closed,
}

/// Every stage, in the order the board's filter lists them.
pub const STAGES: [OrderStage; 10] = [
    OrderStage::OnHold,
    OrderStage::NotAllocated,
    OrderStage::Allocated,
    OrderStage::Picking,
    OrderStage::Picked,
    OrderStage::Loading,
    OrderStage::Loaded,
    OrderStage::InTransit,
    OrderStage::Delivered,
    OrderStage::Closed,
];

impl OrderStage {
    /// The word in URLs and forms (`on_hold`).
    pub fn key(self) -> &'static str {
        match self {
            OrderStage::NotAllocated => "not_allocated",
            OrderStage::OnHold => "on_hold",
            OrderStage::Allocated => "allocated",
            OrderStage::Picking => "picking",
            OrderStage::Picked => "picked",
            OrderStage::Loading => "loading",
            OrderStage::Loaded => "loaded",
            OrderStage::InTransit => "in_transit",
            OrderStage::Delivered => "delivered",
            OrderStage::Closed => "closed",
        }
    }

    /// The words a person reads (`on hold`).
    pub fn words(self) -> &'static str {
        match self {
            OrderStage::NotAllocated => "not allocated",
            OrderStage::OnHold => "on hold",
            OrderStage::Allocated => "allocated",
            OrderStage::Picking => "picking",
            OrderStage::Picked => "picked",
            OrderStage::Loading => "loading",
            OrderStage::Loaded => "loaded",
            OrderStage::InTransit => "in transit",
            OrderStage::Delivered => "delivered",
            OrderStage::Closed => "closed",
        }
    }

    /// The stage named by `key`, if one.
    pub fn from_key(key: &str) -> Option<OrderStage> {
        STAGES.into_iter().find(|s| s.key() == key)
    }
}

/// What the stage is read from: the order's counted pick and shipment folds, its
/// license standing, whether it is open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageFacts {
    pub open: bool,
    /// The buyer's license holds the order (`license::Standing::holds`).
    pub license_hold: bool,
    /// Packages allocated, and picked (counted).
    pub allocated: usize,
    pub picked: usize,
    /// Lines shorted.
    pub shorted: usize,
    /// Every line with an allocation picked or shorted (`Progress::complete`).
    pub pick_complete: bool,
    /// Packages on the vehicle, load not confirmed.
    pub on_vehicle: usize,
    /// When the load was confirmed.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Packages scanned at the hand-over.
    pub handed_over: usize,
    pub delivered: bool,
}

/// The stage of an order at `now`; `departure` is how long after the confirmation
/// the vehicle leaves (`[ship] departure_minutes`). Precedence: closed, delivered,
/// on hold, in transit, loaded, loading, picked, picking, allocated, not allocated.
pub fn stage(f: &StageFacts, departure: Duration, now: DateTime<Utc>) -> OrderStage {
    if !f.open {
        OrderStage::Closed
    } else if f.delivered {
        OrderStage::Delivered
    } else if f.license_hold {
        OrderStage::OnHold
    } else if let Some(at) = f.confirmed_at {
        if f.handed_over > 0 || now >= at + departure {
            OrderStage::InTransit
        } else {
            OrderStage::Loaded
        }
    } else if f.on_vehicle > 0 {
        OrderStage::Loading
    } else if f.pick_complete {
        OrderStage::Picked
    } else if f.picked > 0 || f.shorted > 0 {
        OrderStage::Picking
    } else if f.allocated > 0 {
        OrderStage::Allocated
    } else {
        OrderStage::NotAllocated
    }
}

/// Who is working on an order: each device that recorded a counted event on it,
/// with the person signed in at its latest one. Folded event by event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Workers {
    /// By device: (time of its latest event, the person then).
    by_device: BTreeMap<String, (String, Option<String>)>,
}

/// One device at work on an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Worker {
    pub device: String,
    pub person: Option<String>,
    /// Time of the device's latest event on the order (RFC 3339).
    pub at: String,
}

impl Workers {
    /// Fold one counted event (holds and rulings are the hub's, not a device's work).
    pub fn apply(&mut self, e: &Event) {
        if matches!(e.kind, EventKind::Hold { .. } | EventKind::Ruling { .. }) {
            return;
        }
        let entry = self
            .by_device
            .entry(e.device.clone())
            .or_insert_with(|| (String::new(), None));
        if e.at >= entry.0 {
            *entry = (e.at.clone(), e.person.clone());
        }
    }

    /// The devices, the latest at work first.
    pub fn list(&self) -> Vec<Worker> {
        let mut v: Vec<Worker> = self
            .by_device
            .iter()
            .map(|(device, (at, person))| Worker {
                device: device.clone(),
                person: person.clone(),
                at: at.clone(),
            })
            .collect();
        v.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.device.cmp(&b.device)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> StageFacts {
        StageFacts {
            open: true,
            license_hold: false,
            allocated: 40,
            picked: 0,
            shorted: 0,
            pick_complete: false,
            on_vehicle: 0,
            confirmed_at: None,
            handed_over: 0,
            delivered: false,
        }
    }

    #[test]
    fn each_stage_from_its_facts_with_the_precedence() {
        let now: DateTime<Utc> = "2026-11-27T10:00:00Z".parse().unwrap();
        let dep = Duration::minutes(30);
        let confirmed = |mins: i64| Some(now - Duration::minutes(mins));
        let table: Vec<(StageFacts, OrderStage)> = vec![
            (
                StageFacts {
                    allocated: 0,
                    ..facts()
                },
                OrderStage::NotAllocated,
            ),
            (facts(), OrderStage::Allocated),
            (
                StageFacts {
                    picked: 12,
                    ..facts()
                },
                OrderStage::Picking,
            ),
            (
                StageFacts {
                    shorted: 1,
                    ..facts()
                },
                OrderStage::Picking,
            ),
            (
                StageFacts {
                    picked: 40,
                    pick_complete: true,
                    ..facts()
                },
                OrderStage::Picked,
            ),
            (
                StageFacts {
                    picked: 40,
                    pick_complete: true,
                    on_vehicle: 3,
                    ..facts()
                },
                OrderStage::Loading,
            ),
            (
                StageFacts {
                    confirmed_at: confirmed(10),
                    ..facts()
                },
                OrderStage::Loaded,
            ),
            (
                StageFacts {
                    confirmed_at: confirmed(30),
                    ..facts()
                },
                OrderStage::InTransit,
            ),
            (
                StageFacts {
                    confirmed_at: confirmed(1),
                    handed_over: 1,
                    ..facts()
                },
                OrderStage::InTransit,
            ),
            (
                StageFacts {
                    picked: 5,
                    license_hold: true,
                    ..facts()
                },
                OrderStage::OnHold,
            ),
            (
                StageFacts {
                    confirmed_at: confirmed(60),
                    license_hold: true,
                    delivered: true,
                    ..facts()
                },
                OrderStage::Delivered,
            ),
            (
                StageFacts {
                    open: false,
                    delivered: true,
                    ..facts()
                },
                OrderStage::Closed,
            ),
        ];
        for (f, want) in table {
            assert_eq!(stage(&f, dep, now), want, "{f:?}");
        }
        for s in STAGES {
            assert_eq!(OrderStage::from_key(s.key()), Some(s));
        }
        assert_eq!(OrderStage::from_key("nope"), None);
    }

    #[test]
    fn workers_are_each_devices_latest_person() {
        use crate::domain::event::EventKind;
        let ev = |device: &str, at: &str, person: Option<&str>| Event {
            device: device.into(),
            seq: 1,
            at: at.into(),
            order: "SO-1".into(),
            person: person.map(str::to_string),
            kind: EventKind::Short {
                line: "1".into(),
                reason: "Damaged".into(),
            },
        };
        let mut w = Workers::default();
        w.apply(&ev("vault-1", "2026-11-27T10:00:00Z", Some("Ana")));
        w.apply(&ev("vault-2", "2026-11-27T10:01:00Z", None));
        w.apply(&ev("vault-1", "2026-11-27T10:02:00Z", Some("Bo")));
        w.apply(&ev("vault-1", "2026-11-27T09:00:00Z", Some("Old")));
        let l = w.list();
        assert_eq!(l.len(), 2);
        assert_eq!(
            (l[0].device.as_str(), l[0].person.as_deref()),
            ("vault-1", Some("Bo"))
        );
        assert_eq!(
            (l[1].device.as_str(), l[1].person.as_deref()),
            ("vault-2", None)
        );
    }
}

//! The desk's board: one row per open order (buyer, ship date, stage, progress, who
//! is working on it and on which device, open exceptions), and the board's filter.
//! The stage is [`crate::domain::stage`]'s; the counts are the hub's merge. The hub
//! gathers the facts from its cache of merged orders and calls [`row`].

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::domain::license::Standing;
use crate::domain::merge::MergedOrder;
use crate::domain::stage::{self, OrderStage, StageFacts, Worker, Workers};
use crate::domain::{Order, Shipment};

/// What the board shows of one order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoardRow {
    pub number: String,
    pub short_id: Option<String>,
    pub buyer: String,
    pub ship_date: Option<String>,
    pub stage: OrderStage,
    pub picked: usize,
    pub allocated: usize,
    /// Devices at work on it, the latest first, each with its name on the hub.
    pub workers: Vec<Working>,
    /// Exceptions of the merge waiting for a supervisor.
    pub exceptions: usize,
    /// Why the order is held, when it is (one sentence).
    pub hold: Option<String>,
    /// The allocated tags, for the search (not shown).
    #[serde(skip)]
    pub tags: Vec<String>,
}

/// One device at work on an order, by its enrolled name when the hub has one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Working {
    pub device: String,
    pub person: Option<String>,
}

/// An order's facts as the hub holds them.
pub struct Facts<'a> {
    pub order: &'a Order,
    pub open: bool,
    pub merged: &'a MergedOrder,
    pub ship: &'a Shipment,
    pub workers: &'a Workers,
    pub license: &'a Standing,
}

/// The board's row of one order at `now`. `device_names` maps a device id to its
/// enrolled name; `departure` is `[ship] departure_minutes`.
pub fn row(
    f: &Facts,
    device_names: &HashMap<String, String>,
    departure: Duration,
    now: DateTime<Utc>,
) -> BoardRow {
    let p = &f.merged.progress;
    let facts = StageFacts {
        open: f.open,
        license_hold: f.license.holds(),
        allocated: p.total,
        picked: p.picked,
        shorted: p.lines.iter().filter(|l| l.short_reason.is_some()).count(),
        pick_complete: p.complete,
        on_vehicle: f.ship.on_vehicle(),
        confirmed_at: f
            .ship
            .confirmed()
            .and_then(|c| DateTime::parse_from_rfc3339(&c.at).ok())
            .map(|t| t.with_timezone(&Utc)),
        handed_over: f.ship.handed_over(),
        delivered: f.ship.finished().is_some(),
    };
    BoardRow {
        number: f.order.number.clone(),
        short_id: f.order.short_id.clone(),
        buyer: f.order.buyer.clone(),
        ship_date: f.order.ship_date.clone(),
        stage: stage::stage(&facts, departure, now),
        picked: p.picked,
        allocated: p.total,
        workers: f
            .workers
            .list()
            .into_iter()
            .map(|Worker { device, person, .. }| Working {
                device: device_names.get(&device).cloned().unwrap_or(device),
                person,
            })
            .collect(),
        exceptions: f.merged.exceptions.len(),
        hold: f
            .license
            .holds()
            .then(|| f.license.sentence(&f.order.number))
            .flatten(),
        tags: f.order.allocations().map(|a| a.tag.to_string()).collect(),
    }
}

/// The board's filter: a stage, and a search of order number, short id, buyer or tag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub stage: Option<OrderStage>,
    pub search: String,
}

impl Filter {
    /// Whether `row` is shown. The search is case-insensitive and matches anywhere
    /// in the number, short id or buyer, or in any allocated tag.
    pub fn matches(&self, row: &BoardRow) -> bool {
        if self.stage.is_some_and(|s| s != row.stage) {
            return false;
        }
        let q = self.search.trim().to_lowercase();
        if q.is_empty() {
            return true;
        }
        let has = |s: &str| s.to_lowercase().contains(&q);
        has(&row.number)
            || row.short_id.as_deref().is_some_and(has)
            || has(&row.buyer)
            || row.tags.iter().any(|t| has(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(number: &str, buyer: &str, stage: OrderStage, tag: &str) -> BoardRow {
        BoardRow {
            number: number.into(),
            short_id: Some(format!("s{number}")),
            buyer: buyer.into(),
            ship_date: None,
            stage,
            picked: 0,
            allocated: 1,
            workers: vec![],
            exceptions: 0,
            hold: None,
            tags: vec![tag.into()],
        }
    }

    #[test]
    fn the_filter_by_stage_and_search() {
        let a = row(
            "SO-1",
            "Green Leaf",
            OrderStage::Picking,
            "1A4000000000000000000001",
        );
        let b = row(
            "SO-2",
            "Blue Dream",
            OrderStage::OnHold,
            "1A4000000000000000000002",
        );
        let f = |stage, search: &str| Filter {
            stage,
            search: search.into(),
        };
        let shown = |f: Filter| -> Vec<String> {
            [&a, &b]
                .into_iter()
                .filter(|r| f.matches(r))
                .map(|r| r.number.clone())
                .collect()
        };
        assert_eq!(shown(f(None, "")), ["SO-1", "SO-2"]);
        assert_eq!(shown(f(Some(OrderStage::OnHold), "")), ["SO-2"]);
        assert_eq!(shown(f(None, "green")), ["SO-1"]);
        assert_eq!(shown(f(None, " so-2 ")), ["SO-2"]);
        assert_eq!(shown(f(None, "0002")), ["SO-2"], "by tag");
        assert_eq!(shown(f(None, "sSO-1")), ["SO-1"], "by short id");
        assert!(shown(f(Some(OrderStage::Picking), "blue")).is_empty());
    }
}

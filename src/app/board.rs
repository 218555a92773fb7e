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

/// One order in full, for the desk's order page: its lines, every allocated package
/// with its state, the event history oldest first, and the open exceptions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderDetail {
    pub lines: Vec<crate::domain::state::LineProgress>,
    pub packages: Vec<PackageState>,
    pub history: Vec<HistoryLine>,
    pub exceptions: Vec<String>,
}

/// One allocated package and where it stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PackageState {
    pub tag: String,
    pub line: String,
    /// In words: "to pull", "picked by Pia on vault-1", "on the vehicle", ...
    pub state: String,
    /// The floor's colour of it: `good`, `warn`, `bad` or `plain`.
    pub tone: &'static str,
}

/// One event of the order's history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryLine {
    pub at: String,
    pub device: String,
    pub person: Option<String>,
    pub what: String,
    /// Held for a ruling, or rejected by one: kept, not counted.
    pub counted: bool,
}

/// The facts of one order the page needs beyond the board's.
pub struct DetailFacts<'a> {
    pub pick: &'a crate::domain::PickState,
    pub ship: &'a Shipment,
    pub packages: &'a HashMap<crate::tag::MetrcTag, crate::domain::Package>,
    pub rules: &'a crate::domain::Rules,
    pub today: chrono::NaiveDate,
    /// Every event of the order (as stored), and those that count.
    pub events: &'a [crate::domain::Event],
    pub counted: &'a [crate::domain::Event],
    pub merged: &'a MergedOrder,
}

/// The order page's content, from its facts; `device_names` as for [`row`].
pub fn detail(
    order: &Order,
    f: &DetailFacts,
    device_names: &HashMap<String, String>,
) -> OrderDetail {
    let name = |d: &str| {
        device_names
            .get(d)
            .cloned()
            .unwrap_or_else(|| d.to_string())
    };
    let removed: HashMap<&crate::tag::MetrcTag, &str> = f.ship.removed().collect();
    let packages = order
        .allocations()
        .map(|a| {
            let (state, tone) = if let Some(why) = removed.get(&a.tag) {
                (format!("taken off the shipment: {why}"), "bad")
            } else if let Some(d) = f.ship.decision(&a.tag) {
                match d {
                    crate::domain::Decision::Accepted => {
                        ("accepted by the receiver".to_string(), "good")
                    }
                    crate::domain::Decision::Rejected { reason, .. } => (
                        format!("rejected by the receiver: {}", reason.label()),
                        "bad",
                    ),
                }
            } else if f.ship.is_loaded(&a.tag) {
                ("on the vehicle".to_string(), "good")
            } else if let Some((device, person)) = f.pick.picked_by(&a.tag) {
                let who = match person {
                    Some(p) => format!("{p} on {}", name(device)),
                    None => name(device),
                };
                (format!("picked by {who}"), "good")
            } else if let Some(why) = f
                .packages
                .get(&a.tag)
                .and_then(|p| p.ineligibility(f.rules, f.today))
            {
                (
                    format!("do not pull: {}", why.word().replace('_', " ")),
                    "bad",
                )
            } else {
                ("to pull".to_string(), "plain")
            };
            PackageState {
                tag: a.tag.to_string(),
                line: a.line,
                state,
                tone,
            }
        })
        .collect();
    let counts: std::collections::HashSet<crate::domain::EventRef> =
        f.counted.iter().map(crate::domain::Event::id).collect();
    let mut events = f.events.to_vec();
    crate::domain::fold_order(&mut events);
    let history = events
        .iter()
        .map(|e| HistoryLine {
            at: e.at.clone(),
            device: name(&e.device),
            person: e.person.clone(),
            what: e.kind.sentence(),
            counted: counts.contains(&e.id())
                || matches!(
                    e.kind,
                    crate::domain::EventKind::Hold { .. } | crate::domain::EventKind::Ruling { .. }
                ),
        })
        .collect();
    OrderDetail {
        lines: f.merged.progress.lines.clone(),
        packages,
        history,
        exceptions: f
            .merged
            .exceptions
            .iter()
            .map(|e| e.message.clone())
            .collect(),
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

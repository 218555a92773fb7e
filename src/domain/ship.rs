//! After the pick: the load (what goes onto the vehicle must equal the manifest) and
//! the delivery (the receiver accepts or rejects each whole package, then signs).
//!
//! The same shape as the pick: a [`Shipment`] is folded from an order's append-only
//! events; [`decide_load`] and [`decide_delivery`] give one [`Verdict`] per scan and
//! change nothing; the `*_event` functions check an action (remove, confirm, reject,
//! finish) and return the event to record, or a [`Refusal`] that says why not.
//!
//! - The **manifest** of an order before its load is confirmed is its confirmed picks
//!   less the packages a supervisor removed from the shipment.
//! - A load can be confirmed only when what was loaded equals the manifest exactly
//!   ([`LoadCheck`]); the confirmation records the list, which is from then on the
//!   delivery's manifest.
//! - A delivery can be finished only when every package of that list is accepted or
//!   rejected, with the receiver's name and a signature.
//!
//! Pure: no IO, no clock (today's date is an argument).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::event::{Decision, Event, EventKind, LoadConfirm, RejectReason};
use super::package::Rules;
use super::pick::{NotOnListReason, PickList, PickState, TagFacts, Verdict};
use super::transport::{Driver, Vehicle};
use crate::tag::{MetrcTag, NotATag};

/// The load and delivery of one order, folded from its events.
#[derive(Clone, Debug, Default)]
pub struct Shipment {
    /// Taken off the shipment by a supervisor, with the reason.
    removed: HashMap<MetrcTag, String>,
    /// On the vehicle (before confirmation), with the line.
    loaded: HashMap<MetrcTag, String>,
    /// Taken off the shipment while on the vehicle: extra until scanned off at the dock.
    to_unload: std::collections::BTreeSet<MetrcTag>,
    /// Scanned at hand-over.
    handed: std::collections::HashSet<MetrcTag>,
    confirmed: Option<Confirmed>,
    /// The receiver's word per package.
    decisions: HashMap<MetrcTag, Decision>,
    finished: Option<Finished>,
}

/// A confirmed load, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Confirmed {
    pub at: String,
    pub person: Option<String>,
    pub confirm: LoadConfirm,
}

/// A finished delivery, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finished {
    pub at: String,
    pub receiver: String,
    pub signature: String,
    pub person: Option<String>,
}

impl Shipment {
    /// Fold every event of one order (pick events are ignored here).
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Shipment {
        let mut s = Shipment::default();
        for e in events {
            s.apply(e);
        }
        s
    }

    /// Fold one event of this order.
    pub fn apply(&mut self, event: &Event) {
        match &event.kind {
            EventKind::LoadScan {
                tag: Some(tag),
                verdict: Verdict::Loaded { line },
                ..
            } if self.confirmed.is_none() => {
                self.loaded.insert(tag.clone(), line.clone());
            }
            EventKind::Remove { tag, reason } if self.confirmed.is_none() => {
                self.removed.insert(tag.clone(), reason.clone());
                if self.loaded.remove(tag).is_some() {
                    self.to_unload.insert(tag.clone());
                }
            }
            // Scanned at the dock after its removal: in hand, off the vehicle.
            EventKind::LoadScan {
                tag: Some(tag),
                verdict: Verdict::Removed { .. },
                ..
            } if self.confirmed.is_none() => {
                self.to_unload.remove(tag);
            }
            EventKind::LoadConfirm(c) if self.confirmed.is_none() => {
                self.confirmed = Some(Confirmed {
                    at: event.at.clone(),
                    person: event.person.clone(),
                    confirm: (**c).clone(),
                });
            }
            EventKind::DeliverScan {
                tag: Some(tag),
                verdict: Verdict::HandedOver { .. },
                ..
            } if self.finished.is_none() => {
                self.handed.insert(tag.clone());
                self.decisions
                    .entry(tag.clone())
                    .or_insert(Decision::Accepted);
            }
            EventKind::Decision { tag, decision } if self.finished.is_none() => {
                self.decisions.insert(tag.clone(), decision.clone());
            }
            EventKind::DeliverFinish {
                receiver,
                signature,
            } if self.finished.is_none() => {
                self.finished = Some(Finished {
                    at: event.at.clone(),
                    receiver: receiver.clone(),
                    signature: signature.clone(),
                    person: event.person.clone(),
                });
            }
            _ => {}
        }
    }

    pub fn confirmed(&self) -> Option<&Confirmed> {
        self.confirmed.as_ref()
    }

    pub fn finished(&self) -> Option<&Finished> {
        self.finished.as_ref()
    }

    pub fn removed(&self) -> impl Iterator<Item = (&MetrcTag, &str)> {
        self.removed.iter().map(|(t, r)| (t, r.as_str()))
    }

    /// Packages on the vehicle before the load is confirmed (the dock at work).
    pub fn on_vehicle(&self) -> usize {
        self.loaded.len()
    }

    /// Packages scanned at the hand-over so far.
    pub fn handed_over(&self) -> usize {
        self.handed.len()
    }

    pub fn is_loaded(&self, tag: &MetrcTag) -> bool {
        self.loaded.contains_key(tag)
    }

    /// The manifest before confirmation: picked, less removed, by tag, with the line.
    pub fn manifest(&self, pick: &PickState, list: &PickList) -> BTreeMap<MetrcTag, String> {
        pick.picked_lines()
            .filter(|(t, _)| !self.removed.contains_key(*t))
            .map(|(t, l)| (t.clone(), l.to_string()))
            .filter(|(t, _)| list.line_of(t).is_some())
            .collect()
    }

    /// What the load still lacks, or has too much of.
    pub fn load_check(&self, pick: &PickState, list: &PickList) -> LoadCheck {
        let manifest = self.manifest(pick, list);
        let missing = manifest
            .keys()
            .filter(|t| !self.loaded.contains_key(*t))
            .cloned()
            .collect();
        let mut extra: Vec<MetrcTag> = self
            .loaded
            .keys()
            .filter(|t| !manifest.contains_key(*t))
            .chain(self.to_unload.iter())
            .cloned()
            .collect();
        extra.sort();
        extra.dedup();
        LoadCheck {
            order: list.order.clone(),
            manifest: manifest.len(),
            loaded: self.loaded.len(),
            missing,
            extra,
            confirmed: self.confirmed.is_some(),
        }
    }

    /// The delivery's manifest: the confirmed load's packages, by tag, with the line.
    pub fn delivery_manifest(&self, list: &PickList) -> BTreeMap<MetrcTag, String> {
        self.confirmed
            .iter()
            .flat_map(|c| c.confirm.tags.iter())
            .map(|t| {
                let line = list.line_of(t).map(|l| l.id.clone()).unwrap_or_default();
                (t.clone(), line)
            })
            .collect()
    }

    pub fn decision(&self, tag: &MetrcTag) -> Option<&Decision> {
        self.decisions.get(tag)
    }

    /// Per package of the delivery: accepted, rejected or not yet scanned.
    pub fn delivery(&self, list: &PickList) -> DeliveryState {
        let manifest = self.delivery_manifest(list);
        let packages: Vec<DeliveryPackage> = manifest
            .iter()
            .map(|(tag, line)| DeliveryPackage {
                tag: tag.clone(),
                line: line.clone(),
                decision: self.decisions.get(tag).cloned(),
            })
            .collect();
        let accepted = packages
            .iter()
            .filter(|p| p.decision == Some(Decision::Accepted))
            .count();
        let rejected = packages
            .iter()
            .filter(|p| matches!(p.decision, Some(Decision::Rejected { .. })))
            .count();
        DeliveryState {
            order: list.order.clone(),
            total: packages.len(),
            accepted,
            rejected,
            open: packages.len() - accepted - rejected,
            loaded: self.confirmed.is_some(),
            finished: self.finished.clone(),
            packages,
        }
    }
}

/// Loaded against the manifest, for one order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadCheck {
    pub order: String,
    /// Packages on the manifest.
    pub manifest: usize,
    /// Packages scanned onto the vehicle.
    pub loaded: usize,
    /// On the manifest, not on the vehicle yet.
    pub missing: Vec<MetrcTag>,
    /// On the vehicle, no longer on the manifest: its pick was undone after loading
    /// (take it off; a supervisor removes it), or a supervisor removed it after loading
    /// (scan it as it comes off the vehicle).
    pub extra: Vec<MetrcTag>,
    pub confirmed: bool,
}

impl LoadCheck {
    /// Loaded equals the manifest, and there is something to ship.
    pub fn matches(&self) -> bool {
        self.manifest > 0 && self.missing.is_empty() && self.extra.is_empty()
    }
}

/// The delivery of one order, package by package.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryState {
    pub order: String,
    pub total: usize,
    pub accepted: usize,
    pub rejected: usize,
    /// Neither accepted nor rejected yet.
    pub open: usize,
    /// The load was confirmed (there is something to deliver).
    pub loaded: bool,
    pub finished: Option<Finished>,
    pub packages: Vec<DeliveryPackage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryPackage {
    pub tag: MetrcTag,
    pub line: String,
    /// `None`: not yet scanned nor rejected.
    pub decision: Option<Decision>,
}

/// One order of a load, as the dock sees it.
#[derive(Clone, Debug)]
pub struct LoadOrder {
    pub list: PickList,
    pub pick: PickState,
    pub ship: Shipment,
}

impl LoadOrder {
    pub fn check(&self) -> LoadCheck {
        self.ship.load_check(&self.pick, &self.list)
    }
}

/// Why an action was refused. Nothing was recorded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("order {order} is still being picked: {remaining} package(s) to pick or short")]
    PickNotComplete { order: String, remaining: usize },
    #[error("order {order} is closed ({status}): it cannot be {what}")]
    Closed {
        order: String,
        status: String,
        what: &'static str,
    },
    #[error("order {order} has nothing picked to ship")]
    NothingToShip { order: String },
    #[error("order {order} was already loaded (load {load}, {at})")]
    AlreadyConfirmed {
        order: String,
        load: String,
        at: String,
    },
    #[error(
        "order {order}: the load does not match the manifest: {missing} missing, {extra} extra"
    )]
    LoadMismatch {
        order: String,
        missing: usize,
        extra: usize,
    },
    #[error("order {order} has not been loaded: nothing to deliver")]
    NotLoaded { order: String },
    #[error("the delivery of order {order} was already finished ({at}, signed by {receiver})")]
    AlreadyDelivered {
        order: String,
        at: String,
        receiver: String,
    },
    #[error("{tag} is not on the manifest of order {order}")]
    NotOnManifest { tag: MetrcTag, order: String },
    #[error("{tag} of order {order} was not scanned at hand-over: scan it to accept it")]
    NotHandedOver { tag: MetrcTag, order: String },
    #[error("{tag} of order {order} is {why} now: a supervisor takes it off the shipment")]
    NowIneligible {
        tag: MetrcTag,
        order: String,
        why: String,
    },
    #[error("{tag} is not on the shipment of order {order}: nothing to remove")]
    NotOnShipment { tag: MetrcTag, order: String },
    #[error("{open} package(s) of order {order} are neither accepted nor rejected")]
    Unaccounted { order: String, open: usize },
    #[error("a reason is required")]
    ReasonRequired,
    #[error("\"other\" needs a note saying what is wrong")]
    NoteRequired,
    #[error("the receiver's name is required")]
    ReceiverRequired,
    #[error("the receiver has not signed")]
    SignatureRequired,
    #[error("{0}")]
    Invalid(String),
}

/// Check that `order` may be loaded now.
pub fn can_load(o: &LoadOrder) -> Result<(), Refusal> {
    if let Some(c) = &o.ship.confirmed {
        return Err(Refusal::AlreadyConfirmed {
            order: o.list.order.clone(),
            load: c.confirm.load.clone(),
            at: c.at.clone(),
        });
    }
    let progress = o.pick.progress(&o.list);
    let remaining: usize = progress.lines.iter().map(|l| l.remaining).sum();
    if remaining > 0 {
        return Err(Refusal::PickNotComplete {
            order: o.list.order.clone(),
            remaining,
        });
    }
    if o.ship.manifest(&o.pick, &o.list).is_empty() && o.ship.loaded.is_empty() {
        return Err(Refusal::NothingToShip {
            order: o.list.order.clone(),
        });
    }
    Ok(())
}

/// Decide one dock scan against the orders of a load. Returns the index of the order
/// the scan is recorded on (the order the package belongs to, else the first) and the
/// verdict. Precedence: not a tag, finished, already loaded, removed, ineligible,
/// loaded, not picked, wrong order, not on list.
pub fn decide_load(
    orders: &[LoadOrder],
    scan: &Result<MetrcTag, NotATag>,
    facts: &TagFacts,
    rules: &Rules,
    today: NaiveDate,
) -> (usize, Verdict) {
    let tag = match scan {
        Ok(t) => t,
        Err(reason) => return (0, Verdict::NotATag { reason: *reason }),
    };
    let Some(i) = orders
        .iter()
        .position(|o| o.list.line_of(tag).is_some() || o.ship.loaded.contains_key(tag))
    else {
        return (0, not_ours(orders, facts));
    };
    let o = &orders[i];
    let line = o
        .list
        .line_of(tag)
        .map(|l| l.id.clone())
        .or_else(|| o.ship.loaded.get(tag).cloned())
        .unwrap_or_default();
    if o.ship.confirmed.is_some() {
        return (
            i,
            Verdict::Finished {
                stage: "load".into(),
            },
        );
    }
    if o.ship.loaded.contains_key(tag) {
        return (i, Verdict::AlreadyLoaded { line });
    }
    if let Some(reason) = o.ship.removed.get(tag) {
        return (
            i,
            Verdict::Removed {
                line,
                reason: reason.clone(),
            },
        );
    }
    if let Some(reason) = facts
        .package
        .as_ref()
        .and_then(|p| p.ineligibility(rules, today))
    {
        return (i, Verdict::Ineligible { line, reason });
    }
    if o.pick.is_picked(tag) {
        return (i, Verdict::Loaded { line });
    }
    (i, Verdict::NotPicked { line })
}

/// A tag none of the load's orders holds.
fn not_ours(orders: &[LoadOrder], facts: &TagFacts) -> Verdict {
    let ours = |o: &str| orders.iter().any(|x| x.list.order == o);
    if let Some((order, line)) = facts.allocated_to.iter().find(|(o, _)| !ours(o)) {
        return Verdict::WrongOrder {
            order: order.clone(),
            line: line.clone(),
        };
    }
    Verdict::NotOnList {
        reason: if facts.package.is_some() {
            NotOnListReason::ItemNotOnOrder
        } else {
            NotOnListReason::UnknownPackage
        },
        line: None,
    }
}

/// A supervisor takes `tag` off the shipment of `o` (before the load is confirmed).
pub fn remove_event(o: &LoadOrder, tag: &MetrcTag, reason: &str) -> Result<EventKind, Refusal> {
    if let Some(c) = &o.ship.confirmed {
        return Err(Refusal::AlreadyConfirmed {
            order: o.list.order.clone(),
            load: c.confirm.load.clone(),
            at: c.at.clone(),
        });
    }
    let on_manifest = o.ship.manifest(&o.pick, &o.list).contains_key(tag);
    if !on_manifest && !o.ship.loaded.contains_key(tag) {
        return Err(Refusal::NotOnShipment {
            tag: tag.clone(),
            order: o.list.order.clone(),
        });
    }
    if reason.trim().is_empty() {
        return Err(Refusal::ReasonRequired);
    }
    Ok(EventKind::Remove {
        tag: tag.clone(),
        reason: reason.trim().into(),
    })
}

/// Confirm a load of one or more orders: one event per order, all or none.
pub fn confirm_events(
    orders: &[LoadOrder],
    load: &str,
    driver: &Driver,
    vehicle: &Vehicle,
) -> Result<Vec<(String, EventKind)>, Refusal> {
    if orders.is_empty() {
        return Err(Refusal::Invalid("no order on the load".into()));
    }
    let numbers: Vec<String> = orders.iter().map(|o| o.list.order.clone()).collect();
    let mut out = Vec::with_capacity(orders.len());
    for o in orders {
        // Still picked to the end: an undone pick leaves its line open, never silently
        // off the manifest.
        can_load(o)?;
        let check = o.check();
        if !check.matches() {
            if check.manifest == 0 {
                return Err(Refusal::NothingToShip {
                    order: o.list.order.clone(),
                });
            }
            return Err(Refusal::LoadMismatch {
                order: o.list.order.clone(),
                missing: check.missing.len(),
                extra: check.extra.len(),
            });
        }
        let tags: Vec<MetrcTag> = o.ship.manifest(&o.pick, &o.list).into_keys().collect();
        out.push((
            o.list.order.clone(),
            EventKind::LoadConfirm(Box::new(LoadConfirm {
                load: load.into(),
                orders: numbers.clone(),
                driver: driver.clone(),
                vehicle: vehicle.clone(),
                tags,
                manifest_pdf: None,
            })),
        ));
    }
    Ok(out)
}

/// Decide one hand-over scan. Precedence: not a tag, not loaded / finished, not on
/// manifest, already scanned (accepted or rejected already), ineligible, handed over.
pub fn decide_delivery(
    list: &PickList,
    ship: &Shipment,
    scan: &Result<MetrcTag, NotATag>,
    facts: &TagFacts,
    rules: &Rules,
    today: NaiveDate,
) -> Verdict {
    let tag = match scan {
        Ok(t) => t,
        Err(reason) => return Verdict::NotATag { reason: *reason },
    };
    if ship.finished.is_some() {
        return Verdict::Finished {
            stage: "delivery".into(),
        };
    }
    let manifest = ship.delivery_manifest(list);
    let Some(line) = manifest.get(tag).cloned() else {
        return Verdict::NotOnManifest;
    };
    if ship.decisions.contains_key(tag) {
        return Verdict::AlreadyScanned { line };
    }
    if let Some(reason) = facts
        .package
        .as_ref()
        .and_then(|p| p.ineligibility(rules, today))
    {
        return Verdict::Ineligible { line, reason };
    }
    Verdict::HandedOver { line }
}

fn check_delivery_open(list: &PickList, ship: &Shipment) -> Result<(), Refusal> {
    if ship.confirmed.is_none() {
        return Err(Refusal::NotLoaded {
            order: list.order.clone(),
        });
    }
    if let Some(f) = &ship.finished {
        return Err(Refusal::AlreadyDelivered {
            order: list.order.clone(),
            at: f.at.clone(),
            receiver: f.receiver.clone(),
        });
    }
    Ok(())
}

/// Check that the delivery of this order can be worked on.
pub fn can_deliver(list: &PickList, ship: &Shipment) -> Result<(), Refusal> {
    check_delivery_open(list, ship)
}

/// The receiver accepts or rejects one whole package (it may change its mind until the
/// delivery is finished).
pub fn decision_event(
    list: &PickList,
    ship: &Shipment,
    tag: &MetrcTag,
    decision: Decision,
) -> Result<EventKind, Refusal> {
    check_delivery_open(list, ship)?;
    if !ship.delivery_manifest(list).contains_key(tag) {
        return Err(Refusal::NotOnManifest {
            tag: tag.clone(),
            order: list.order.clone(),
        });
    }
    let decision = match decision {
        Decision::Accepted if !ship.handed.contains(tag) => {
            return Err(Refusal::NotHandedOver {
                tag: tag.clone(),
                order: list.order.clone(),
            });
        }
        Decision::Rejected { reason, note } => {
            let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
            if reason == RejectReason::Other && note.is_none() {
                return Err(Refusal::NoteRequired);
            }
            Decision::Rejected { reason, note }
        }
        d => d,
    };
    Ok(EventKind::Decision {
        tag: tag.clone(),
        decision,
    })
}

/// Finish the delivery: every package accounted for, a receiver and a signature.
/// `signature_has_ink` is the caller's check of the image (the domain reads no files).
pub fn finish_event(
    list: &PickList,
    ship: &Shipment,
    receiver: &str,
    signature: &str,
    signature_has_ink: bool,
) -> Result<EventKind, Refusal> {
    check_delivery_open(list, ship)?;
    let state = ship.delivery(list);
    if state.open > 0 {
        return Err(Refusal::Unaccounted {
            order: list.order.clone(),
            open: state.open,
        });
    }
    if receiver.trim().is_empty() {
        return Err(Refusal::ReceiverRequired);
    }
    if signature.is_empty() || !signature_has_ink {
        return Err(Refusal::SignatureRequired);
    }
    Ok(EventKind::DeliverFinish {
        receiver: receiver.trim().into(),
        signature: signature.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::{Line, Order, OrderStatus};
    use crate::domain::package::Package;
    use crate::domain::package::tests::pkg;
    use crate::tag::TagParser;

    const A1: &str = "1A4000000000000000000A01"; // SO-1 line 1, picked
    const A2: &str = "1A4000000000000000000A02"; // SO-1 line 1, picked
    const A3: &str = "1A4000000000000000000A03"; // SO-1 line 2, shorted (not picked)
    const A4: &str = "1A4000000000000000000A04"; // SO-1 line 2, picked, then on hold
    const B1: &str = "1A4000000000000000000B01"; // SO-2, picked
    const C1: &str = "1A4000000000000000000C01"; // SO-3 (not on the load)
    const U1: &str = "1A4000000000000000000F01"; // known, unallocated
    const X1: &str = "1A4000000000000000000F99"; // unknown

    fn t(s: &str) -> MetrcTag {
        MetrcTag::new(s).unwrap()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
    }

    fn order(number: &str, lines: &[(&str, &[&str])]) -> Order {
        Order {
            number: number.into(),
            short_id: None,
            status: OrderStatus("Accepted".into()),
            buyer: "Buyer".into(),
            buyer_license: Some("C10-0000001-LIC".into()),
            buyer_license_inactive: false,
            ship_date: None,
            delivery_address: None,
            lines: lines
                .iter()
                .map(|(id, tags)| Line {
                    id: (*id).into(),
                    sku: None,
                    name: Some(format!("item {id}")),
                    quantity: None,
                    unit: None,
                    batch: None,
                    unit_price_cents: None,
                    tags: tags.iter().map(|s| t(s)).collect(),
                })
                .collect(),
        }
    }

    fn ev(seq: i64, order: &str, kind: EventKind) -> Event {
        Event {
            device: "d".into(),
            seq,
            at: format!("2026-11-27T10:00:{seq:02}.000Z"),
            order: order.into(),
            person: Some("Pat".into()),
            kind,
        }
    }

    fn pick_scan(tag: &str, line: &str) -> EventKind {
        EventKind::scan(
            tag.as_bytes(),
            24,
            Some(t(tag)),
            Verdict::Accepted {
                line: line.into(),
                expires_in_days: None,
            },
        )
    }

    fn load_scan(tag: &str, line: &str) -> EventKind {
        EventKind::LoadScan {
            raw: tag.as_bytes().to_vec(),
            raw_len: 24,
            tag: Some(t(tag)),
            verdict: Verdict::Loaded { line: line.into() },
        }
    }

    fn load_order(o: &Order, events: &[Event]) -> LoadOrder {
        let list = PickList::new(o, &HashMap::new());
        let mut pick = PickState::default();
        for e in events {
            pick.apply(e);
        }
        LoadOrder {
            list,
            pick,
            ship: Shipment::from_events(events),
        }
    }

    fn driver() -> Driver {
        Driver {
            name: "Dee Driver".into(),
            occupational_license: "OL-1".into(),
            drivers_license: "D1234567".into(),
        }
    }

    fn vehicle() -> Vehicle {
        Vehicle {
            make: "Ford".into(),
            model: "Transit".into(),
            plate: "8ABC123".into(),
        }
    }

    /// SO-1 picked (A1, A2, A4; line 2 shorted for A3), SO-2 picked (B1).
    fn world() -> (Vec<LoadOrder>, HashMap<MetrcTag, Package>) {
        let so1 = order("SO-1", &[("1", &[A1, A2]), ("2", &[A3, A4])]);
        let so2 = order("SO-2", &[("1", &[B1])]);
        let e1 = vec![
            ev(1, "SO-1", pick_scan(A1, "1")),
            ev(2, "SO-1", pick_scan(A2, "1")),
            ev(3, "SO-1", pick_scan(A4, "2")),
            ev(
                4,
                "SO-1",
                EventKind::Short {
                    line: "2".into(),
                    reason: "damaged".into(),
                },
            ),
        ];
        let e2 = vec![ev(5, "SO-2", pick_scan(B1, "1"))];
        let mut pkgs = HashMap::new();
        for tag in [A1, A2, A3, A4, B1, C1, U1] {
            pkgs.insert(t(tag), pkg(tag, "Item", "BATCH"));
        }
        pkgs.get_mut(&t(A4)).unwrap().on_hold = true;
        (vec![load_order(&so1, &e1), load_order(&so2, &e2)], pkgs)
    }

    fn facts(pkgs: &HashMap<MetrcTag, Package>, tag: &str) -> TagFacts {
        let allocated_to = match tag {
            A1 | A2 => vec![("SO-1".into(), "1".into())],
            A3 | A4 => vec![("SO-1".into(), "2".into())],
            B1 => vec![("SO-2".into(), "1".into())],
            C1 => vec![("SO-3".into(), "7".into())],
            _ => vec![],
        };
        TagFacts {
            package: pkgs.get(&t(tag)).cloned(),
            allocated_to,
        }
    }

    fn decide(
        orders: &[LoadOrder],
        pkgs: &HashMap<MetrcTag, Package>,
        raw: &str,
    ) -> (usize, Verdict) {
        let scan = TagParser::default().parse(raw.as_bytes());
        let f = match &scan {
            Ok(tag) => facts(pkgs, tag.as_str()),
            Err(_) => TagFacts::default(),
        };
        decide_load(orders, &scan, &f, &Rules::default(), today())
    }

    #[test]
    fn load_verdict_table() {
        let (mut orders, pkgs) = world();
        // A2 already on the vehicle; B1 taken off the shipment.
        orders[0].ship.apply(&ev(10, "SO-1", load_scan(A2, "1")));
        orders[1].ship.apply(&ev(
            11,
            "SO-2",
            EventKind::Remove {
                tag: t(B1),
                reason: "buyer cancelled the line".into(),
            },
        ));
        let table: &[(&str, usize, &str)] = &[
            ("hello", 0, "not_a_tag"),
            (A1, 0, "loaded"),
            (A2, 0, "already_loaded"),
            (A3, 0, "not_picked"),
            (A4, 0, "ineligible"),
            (B1, 1, "removed"),
            (C1, 0, "wrong_order"),
            (U1, 0, "not_on_list"),
            (X1, 0, "not_on_list"),
        ];
        for (raw, idx, word) in table {
            let (i, v) = decide(&orders, &pkgs, raw);
            assert_eq!((i, v.word()), (*idx, *word), "scan {raw}: {v:?}");
        }
        assert_eq!(
            decide(&orders, &pkgs, X1).1.reason(),
            Some("unknown_package")
        );
    }

    #[test]
    fn confirm_needs_loaded_to_equal_the_manifest() {
        let (mut orders, pkgs) = world();
        // A4 went on hold after the pick: a supervisor takes it off the shipment.
        let r = remove_event(&orders[0], &t(A4), "  on hold ").unwrap();
        orders[0].ship.apply(&ev(20, "SO-1", r));
        assert_eq!(
            remove_event(&orders[0], &t(A3), "x"),
            Err(Refusal::NotOnShipment {
                tag: t(A3),
                order: "SO-1".into()
            })
        );
        assert_eq!(
            remove_event(&orders[0], &t(A1), " "),
            Err(Refusal::ReasonRequired)
        );
        orders[0].ship.apply(&ev(21, "SO-1", load_scan(A1, "1")));
        let check = orders[0].check();
        assert_eq!((check.manifest, check.loaded), (2, 1));
        assert_eq!(check.missing, vec![t(A2)]);
        assert!(!check.matches());
        assert_eq!(
            confirm_events(&orders, "L1", &driver(), &vehicle()),
            Err(Refusal::LoadMismatch {
                order: "SO-1".into(),
                missing: 1,
                extra: 0
            })
        );
        orders[0].ship.apply(&ev(22, "SO-1", load_scan(A2, "1")));
        orders[1].ship.apply(&ev(23, "SO-2", load_scan(B1, "1")));
        assert_eq!(decide(&orders, &pkgs, A4).1.word(), "removed");
        let evs = confirm_events(&orders, "L1", &driver(), &vehicle()).unwrap();
        assert_eq!(evs.len(), 2);
        let EventKind::LoadConfirm(c) = &evs[0].1 else {
            panic!("{evs:?}")
        };
        assert_eq!(c.tags, vec![t(A1), t(A2)]);
        assert_eq!(c.orders, vec!["SO-1".to_string(), "SO-2".to_string()]);
        for (n, (order, kind)) in evs.into_iter().enumerate() {
            let i = usize::from(order == "SO-2");
            orders[i].ship.apply(&ev(30 + n as i64, &order, kind));
        }
        assert_eq!(decide(&orders, &pkgs, A1).1.word(), "finished");
        assert!(matches!(
            can_load(&orders[0]),
            Err(Refusal::AlreadyConfirmed { .. })
        ));
        assert!(matches!(
            confirm_events(&orders, "L2", &driver(), &vehicle()),
            Err(Refusal::AlreadyConfirmed { .. })
        ));
    }

    #[test]
    fn an_undone_pick_after_loading_is_extra() {
        let (mut orders, _) = world();
        orders[1].ship.apply(&ev(10, "SO-2", load_scan(B1, "1")));
        let undo = ev(
            11,
            "SO-2",
            EventKind::Undo {
                tag: t(B1),
                reason: "mislabelled".into(),
                undoes: vec![],
            },
        );
        orders[1].pick.apply(&undo);
        let check = orders[1].check();
        assert_eq!(check.extra, vec![t(B1)]);
        assert!(!check.matches());
        // The line is open again: no confirmation, even though nothing is missing.
        assert_eq!(
            confirm_events(&orders[1..], "L", &driver(), &vehicle()),
            Err(Refusal::PickNotComplete {
                order: "SO-2".into(),
                remaining: 1
            })
        );
        // A supervisor takes it off the shipment: it stays extra until it is scanned
        // as it comes off the vehicle.
        let r = remove_event(&orders[1], &t(B1), "pick undone").unwrap();
        orders[1].ship.apply(&ev(12, "SO-2", r));
        assert_eq!(orders[1].check().extra, vec![t(B1)]);
        let (_, v) = decide_load(
            &orders[1..],
            &Ok(t(B1)),
            &TagFacts::default(),
            &Rules::default(),
            today(),
        );
        assert_eq!(v.word(), "removed");
        let off = EventKind::LoadScan {
            raw: B1.as_bytes().to_vec(),
            raw_len: 24,
            tag: Some(t(B1)),
            verdict: v,
        };
        orders[1].ship.apply(&ev(13, "SO-2", off));
        let check = orders[1].check();
        assert!(check.extra.is_empty() && check.manifest == 0, "{check:?}");
    }

    #[test]
    fn can_load_only_a_finished_pick() {
        let so = order("SO-9", &[("1", &[A1, A2])]);
        let o = load_order(&so, &[ev(1, "SO-9", pick_scan(A1, "1"))]);
        assert_eq!(
            can_load(&o),
            Err(Refusal::PickNotComplete {
                order: "SO-9".into(),
                remaining: 1
            })
        );
        let (orders, _) = world();
        assert_eq!(can_load(&orders[0]), Ok(()));
    }

    /// SO-1 loaded with A1, A2 (A4 removed) and confirmed.
    fn delivered_world() -> (PickList, Shipment, HashMap<MetrcTag, Package>) {
        let (mut orders, pkgs) = world();
        let r = remove_event(&orders[0], &t(A4), "on hold").unwrap();
        orders[0].ship.apply(&ev(20, "SO-1", r));
        orders[0].ship.apply(&ev(21, "SO-1", load_scan(A1, "1")));
        orders[0].ship.apply(&ev(22, "SO-1", load_scan(A2, "1")));
        let evs = confirm_events(&orders[..1], "L1", &driver(), &vehicle()).unwrap();
        let (order, kind) = evs.into_iter().next().unwrap();
        orders[0].ship.apply(&ev(23, &order, kind));
        let o = orders.swap_remove(0);
        (o.list, o.ship, pkgs)
    }

    fn deliver(
        list: &PickList,
        ship: &Shipment,
        pkgs: &HashMap<MetrcTag, Package>,
        raw: &str,
    ) -> Verdict {
        let scan = TagParser::default().parse(raw.as_bytes());
        let f = match &scan {
            Ok(tag) => facts(pkgs, tag.as_str()),
            Err(_) => TagFacts::default(),
        };
        decide_delivery(list, ship, &scan, &f, &Rules::default(), today())
    }

    #[test]
    fn delivery_verdict_table_and_finish() {
        let (list, mut ship, mut pkgs) = delivered_world();
        let handed = |tag: &str| EventKind::DeliverScan {
            raw: tag.as_bytes().to_vec(),
            raw_len: 24,
            tag: Some(t(tag)),
            verdict: Verdict::HandedOver { line: "1".into() },
        };
        assert_eq!(deliver(&list, &ship, &pkgs, "nope").word(), "not_a_tag");
        assert_eq!(deliver(&list, &ship, &pkgs, A4).word(), "not_on_manifest");
        assert_eq!(deliver(&list, &ship, &pkgs, C1).word(), "not_on_manifest");
        assert_eq!(deliver(&list, &ship, &pkgs, A1).word(), "handed_over");
        ship.apply(&ev(30, "SO-1", handed(A1)));
        assert_eq!(deliver(&list, &ship, &pkgs, A1).word(), "already_scanned");
        // Recalled on the way: red, and it must be rejected to be accounted for.
        pkgs.get_mut(&t(A2)).unwrap().on_recall = true;
        assert_eq!(deliver(&list, &ship, &pkgs, A2).word(), "ineligible");
        let d = ship.delivery(&list);
        assert_eq!((d.total, d.accepted, d.rejected, d.open), (2, 1, 0, 1));
        // Accepting needs the hand-over scan.
        assert!(matches!(
            decision_event(&list, &ship, &t(A2), Decision::Accepted),
            Err(Refusal::NotHandedOver { .. })
        ));
        assert_eq!(
            finish_event(&list, &ship, "Rae", "abc", true),
            Err(Refusal::Unaccounted {
                order: "SO-1".into(),
                open: 1
            })
        );
        let other = Decision::Rejected {
            reason: RejectReason::Other,
            note: Some("  ".into()),
        };
        assert_eq!(
            decision_event(&list, &ship, &t(A2), other),
            Err(Refusal::NoteRequired)
        );
        assert!(matches!(
            decision_event(&list, &ship, &t(C1), Decision::Accepted),
            Err(Refusal::NotOnManifest { .. })
        ));
        let reject = decision_event(
            &list,
            &ship,
            &t(A2),
            Decision::Rejected {
                reason: RejectReason::FailedInspection,
                note: None,
            },
        )
        .unwrap();
        ship.apply(&ev(31, "SO-1", reject));
        let d = ship.delivery(&list);
        assert_eq!((d.accepted, d.rejected, d.open), (1, 1, 0));
        assert_eq!(
            finish_event(&list, &ship, " ", "abc", true),
            Err(Refusal::ReceiverRequired)
        );
        assert_eq!(
            finish_event(&list, &ship, "Rae", "abc", false),
            Err(Refusal::SignatureRequired)
        );
        assert_eq!(
            finish_event(&list, &ship, "Rae", "", true),
            Err(Refusal::SignatureRequired)
        );
        let fin = finish_event(&list, &ship, " Rae Receiver ", "abc", true).unwrap();
        ship.apply(&ev(32, "SO-1", fin));
        assert_eq!(ship.finished().unwrap().receiver, "Rae Receiver");
        assert_eq!(deliver(&list, &ship, &pkgs, A1).word(), "finished");
        assert!(matches!(
            finish_event(&list, &ship, "Rae", "abc", true),
            Err(Refusal::AlreadyDelivered { .. })
        ));
        assert!(matches!(
            decision_event(&list, &ship, &t(A1), Decision::Accepted),
            Err(Refusal::AlreadyDelivered { .. })
        ));
        // Events after the finish (a second device's late scan) change nothing.
        ship.apply(&ev(
            33,
            "SO-1",
            EventKind::Decision {
                tag: t(A1),
                decision: Decision::Rejected {
                    reason: RejectReason::Damaged,
                    note: None,
                },
            },
        ));
        assert_eq!(ship.delivery(&list).accepted, 1);
    }

    #[test]
    fn nothing_to_deliver_before_the_load_is_confirmed() {
        let (orders, pkgs) = world();
        let o = &orders[0];
        assert_eq!(
            can_deliver(&o.list, &o.ship),
            Err(Refusal::NotLoaded {
                order: "SO-1".into()
            })
        );
        assert_eq!(
            deliver(&o.list, &o.ship, &pkgs, A1).word(),
            "not_on_manifest"
        );
    }

    #[test]
    fn reject_reasons_parse_from_words_and_labels() {
        for r in RejectReason::ALL {
            assert_eq!(RejectReason::parse(r.word()), Some(r));
            assert_eq!(RejectReason::parse(r.label()), Some(r));
        }
        assert_eq!(RejectReason::parse("smelly"), None);
    }
}

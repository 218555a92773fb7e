//! The paper of a load and a delivery, filled from the store: the manifest (PDF and
//! Metrc transfer template), the delivery report (PDF and JSON) and an order's outcome
//! (what the hub shows per order). `export` renders; this module only gathers.

use std::collections::HashMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use super::AppError;
use crate::config::ShipSettings;
use crate::domain::ship::{Confirmed, LoadOrder};
use crate::domain::{Decision, Event, EventKind, Order, Package};
use crate::export::{
    DeliveryReportDoc, Destination, Facility, LineSummary, ManifestDoc, ManifestPackage, MetrcSide,
    Outcome, Removed, package_wholesale_cents,
};
use crate::store::{Attachment, Store, StoreError};
use crate::tag::MetrcTag;

/// Why a document cannot be made (yet).
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Refused(String),
}

impl From<DocError> for AppError {
    fn from(e: DocError) -> Self {
        match e {
            DocError::Store(s) => AppError::Store(s),
            DocError::Refused(m) => AppError::NotAllowed(m),
        }
    }
}

fn facility(ship: &ShipSettings) -> Facility {
    Facility {
        name: ship.facility_name.clone(),
        license: ship.facility_license.clone(),
        phone: ship.phone.clone(),
    }
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A Metrc date-time: the facility's local time with milliseconds and no offset, as
/// Metrc's examples write them (`2018-03-06T09:15:00.000`; see
/// docs/metrc-transfer-template.md). The hub or device runs in the facility's zone.
fn metrc_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono::Local)
        .format("%Y-%m-%dT%H:%M:%S%.3f")
        .to_string()
}

fn parse_time(at: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(at)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

/// One order with everything the paper needs.
struct Gathered {
    order: Order,
    state: LoadOrder,
    events: Vec<Event>,
    packages: HashMap<MetrcTag, Package>,
}

fn gather(store: &Store, key: &str) -> Result<Gathered, DocError> {
    let order = store.find_order(key)?;
    let state = store.shipment_of(&order)?;
    let events = crate::domain::counted(store.events_for_order(&order.number)?);
    let tags: Vec<MetrcTag> = order.allocations().map(|a| a.tag).collect();
    let packages = store.packages(&tags)?;
    Ok(Gathered {
        order,
        state,
        events,
        packages,
    })
}

fn manifest_package(g: &Gathered, tag: &MetrcTag) -> ManifestPackage {
    let line = g.state.list.line_of(tag);
    let order_line = line.and_then(|l| g.order.lines.iter().find(|ol| ol.id == l.id));
    let pkg = g.packages.get(tag);
    let (quantity, unit) = pkg
        .map(|p| (p.quantity, p.unit.clone()))
        .unwrap_or((0.0, String::new()));
    let price = order_line.and_then(|ol| {
        ol.unit_price_cents.and_then(|c| {
            package_wholesale_cents(c, ol.unit.as_deref().unwrap_or(""), quantity, &unit)
        })
    });
    ManifestPackage {
        tag: tag.clone(),
        line: line.map(|l| l.id.clone()).unwrap_or_default(),
        item: pkg
            .map(|p| p.item.clone())
            .or_else(|| line.map(|l| l.label.clone()))
            .unwrap_or_default(),
        batch: pkg.map(|p| p.batch_label()),
        quantity,
        unit,
        wholesale_price_cents: price,
    }
}

fn removed(g: &Gathered) -> Vec<Removed> {
    let mut out: Vec<Removed> = g
        .state
        .ship
        .removed()
        .map(|(tag, reason)| Removed {
            tag: tag.clone(),
            item: g
                .packages
                .get(tag)
                .map(|p| p.item.clone())
                .unwrap_or_default(),
            reason: reason.to_string(),
            by: g
                .events
                .iter()
                .rev()
                .find(|e| matches!(&e.kind, EventKind::Remove { tag: t, .. } if t == tag))
                .and_then(|e| e.person.clone()),
        })
        .collect();
    out.sort_by(|a, b| a.tag.cmp(&b.tag));
    out
}

fn destination(g: &Gathered, c: &Confirmed, ship: &ShipSettings) -> Destination {
    let departure = parse_time(&c.at) + Duration::minutes(i64::from(ship.departure_minutes));
    let arrival = departure + Duration::minutes(i64::from(ship.transit_minutes));
    let progress = g.state.pick.progress(&g.state.list);
    Destination {
        order: g.order.number.clone(),
        buyer: g.order.buyer.clone(),
        recipient_license: g.order.buyer_license.clone().unwrap_or_default(),
        transfer_type: ship.transfer_type.clone(),
        planned_route: match &g.order.delivery_address {
            Some(a) => format!("From {} to {}: {a}", ship.facility_name, g.order.buyer),
            None => format!("From {} to {}", ship.facility_name, g.order.buyer),
        },
        estimated_departure: metrc_time(departure),
        estimated_arrival: metrc_time(arrival),
        packages: c
            .confirm
            .tags
            .iter()
            .map(|t| manifest_package(g, t))
            .collect(),
        lines: progress
            .lines
            .iter()
            .map(|l| LineSummary {
                id: l.id.clone(),
                label: l.label.clone(),
                batch: l.batch.clone(),
                allocated: l.allocated,
                picked: l.picked,
                short: l.short,
                short_reason: l.short_reason.clone(),
            })
            .collect(),
        removed: removed(g),
    }
}

/// The manifest of the load `key` (an order number or short id) was confirmed on: every
/// order of that load is a destination. Refused, with the reason, for an order whose
/// load is not confirmed, or when the shipper's license is not configured.
pub fn manifest_doc(
    store: &Store,
    ship: &ShipSettings,
    key: &str,
) -> Result<ManifestDoc, DocError> {
    let first = gather(store, key)?;
    let Some(c) = first.state.ship.confirmed().cloned() else {
        let check = first.state.check();
        return Err(DocError::Refused(format!(
            "order {} was not fully loaded: no confirmed load ({} of {} packages on the vehicle, {} missing, {} extra); confirm the load first",
            first.order.number,
            check.loaded,
            check.manifest,
            check.missing.len(),
            check.extra.len()
        )));
    };
    shipper_is_set(ship)?;
    let mut destinations = vec![];
    for number in &c.confirm.orders {
        let g = gather(store, number)?;
        let confirmed = g.state.ship.confirmed().cloned().ok_or_else(|| {
            DocError::Refused(format!(
                "order {number} is on load {} but its confirmation has not reached this database; sync first",
                c.confirm.load
            ))
        })?;
        if confirmed.confirm.load != c.confirm.load {
            return Err(DocError::Refused(format!(
                "order {number} is on load {} here but was confirmed on load {} first: two docks confirmed it; a supervisor must sort it out",
                c.confirm.load, confirmed.confirm.load
            )));
        }
        destinations.push(destination(&g, &confirmed, ship));
    }
    Ok(ManifestDoc {
        name: format!(
            "{} {}",
            c.confirm.load,
            parse_time(&c.at)
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d")
        ),
        facility: facility(ship),
        driver: c.confirm.driver.clone(),
        vehicle: c.confirm.vehicle.clone(),
        load_id: c.confirm.load.clone(),
        loaded_at: c.at.clone(),
        loaded_by: c.person.clone(),
        destinations,
    })
}

/// A manifest names its shipper: without `[ship] facility_license` there is no
/// manifest, so no load is confirmed either.
pub fn shipper_is_set(ship: &ShipSettings) -> Result<(), DocError> {
    if ship.facility_license.trim().is_empty() {
        return Err(DocError::Refused(
            "the shipper's license is not set: set [ship] facility_license (and facility_name, phone) in the site config".into(),
        ));
    }
    Ok(())
}

/// The manifest PDF stored with a load's confirmation: made from the confirmation
/// events about to be recorded (the store already holds every other fact). Refused
/// when it cannot be made (no shipper license configured, an order gone): then the
/// load is not confirmed, so a confirmed load always has its paper.
pub fn manifest_attachment(
    ship: &ShipSettings,
) -> impl FnOnce(&Store, &[(String, EventKind)]) -> Result<Attachment, DocError> + '_ {
    move |store, events| {
        shipper_is_set(ship)?;
        let mut destinations = vec![];
        let mut first: Option<&crate::domain::LoadConfirm> = None;
        let at = Utc::now();
        for (order, kind) in events {
            let EventKind::LoadConfirm(c) = kind else {
                continue;
            };
            first.get_or_insert(c);
            let g = gather(store, order)?;
            let confirmed = Confirmed {
                at: iso(at),
                person: store.signed_in().map(str::to_string),
                confirm: (**c).clone(),
            };
            destinations.push(destination(&g, &confirmed, ship));
        }
        let c = first.ok_or_else(|| DocError::Refused("no order on this load".into()))?;
        let doc = ManifestDoc {
            name: format!("{} {}", c.load, at.format("%Y-%m-%d")),
            facility: facility(ship),
            driver: c.driver.clone(),
            vehicle: c.vehicle.clone(),
            load_id: c.load.clone(),
            loaded_at: iso(at),
            loaded_by: store.signed_in().map(str::to_string),
            destinations,
        };
        Ok(Attachment::new(
            "application/pdf",
            crate::export::manifest_pdf(&doc),
        ))
    }
}

/// The delivery report of a finished delivery. Refused before the finish.
pub fn delivery_report_doc(
    store: &Store,
    ship: &ShipSettings,
    key: &str,
) -> Result<DeliveryReportDoc, DocError> {
    let g = gather(store, key)?;
    let number = g.order.number.clone();
    let Some(c) = g.state.ship.confirmed().cloned() else {
        return Err(DocError::Refused(format!(
            "order {number} has not been loaded: there is no delivery to report"
        )));
    };
    let Some(f) = g.state.ship.finished().cloned() else {
        let d = g.state.ship.delivery(&g.state.list);
        return Err(DocError::Refused(format!(
            "the delivery of order {number} is not finished ({} accepted, {} rejected, {} not yet scanned)",
            d.accepted, d.rejected, d.open
        )));
    };
    let signature_png = store
        .attachment(&f.signature)?
        .map(|a| a.bytes)
        .ok_or_else(|| {
            DocError::Refused(format!(
                "the signature of order {number}'s delivery ({}) is not in this database (signatures travel from the driver's device to the hub): make the report on the hub",
                f.signature
            ))
        })?;
    let packages = c
        .confirm
        .tags
        .iter()
        .map(|t| {
            let outcome = match g.state.ship.decision(t) {
                Some(Decision::Accepted) => Outcome::Accepted,
                Some(Decision::Rejected { reason, note }) => Outcome::Rejected {
                    reason: reason.label().to_string(),
                    note: note.clone(),
                },
                None => Outcome::NotScanned,
            };
            (manifest_package(&g, t), outcome)
        })
        .collect();
    let metrc = metrc_side(store, &number)?;
    Ok(DeliveryReportDoc {
        order: number,
        buyer: g.order.buyer.clone(),
        recipient_license: g.order.buyer_license.clone().unwrap_or_default(),
        facility: facility(ship),
        driver: c.confirm.driver.clone(),
        vehicle: c.confirm.vehicle.clone(),
        load_id: c.confirm.load.clone(),
        loaded_at: c.at.clone(),
        delivered_at: f.at.clone(),
        receiver: f.receiver.clone(),
        signature_png,
        receipt_deadline: iso(parse_time(&f.at) + Duration::hours(24)),
        packages,
        metrc,
    })
}

/// Metrc's receipt as the report prints it, when one was read back.
fn metrc_side(store: &Store, order: &str) -> Result<Option<MetrcSide>, DocError> {
    let Some(view) = super::receipt::receipt(store, order, false, Utc::now())? else {
        return Ok(None);
    };
    Ok(view.metrc.map(|m| MetrcSide {
        manifest_number: m.manifest_number.clone(),
        received_at: m.received_at.map(iso),
        read_at: iso(m.read_at),
        states: m
            .packages
            .iter()
            .map(|(t, s)| (t.clone(), s.label().to_string()))
            .collect(),
        issues: view.issues.iter().map(ToString::to_string).collect(),
    }))
}

/// What the hub shows per order: where it is, and what came of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderOutcome {
    pub order: String,
    pub buyer: String,
    /// `picking`, `picked`, `loaded` or `delivered`.
    pub stage: &'static str,
    pub picked: usize,
    pub total: usize,
    pub load: Option<LoadSummary>,
    /// Taken off the shipment by a supervisor (not on the manifest nor the invoice).
    pub removed: Vec<Removed>,
    pub delivery: Option<DeliverySummary>,
    /// Rejected packages: they come back to the shipper's vault.
    pub returns: Vec<Return>,
    /// Metrc's receipt beside the driver's record, once the load is confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrc: Option<super::receipt::ReceiptView>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoadSummary {
    pub load: String,
    pub at: String,
    pub by: Option<String>,
    pub driver: String,
    pub vehicle: String,
    pub packages: usize,
    /// SHA-256 of the manifest PDF stored with the confirmation.
    pub manifest_pdf: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeliverySummary {
    /// Set when the receiver signed.
    pub finished_at: Option<String>,
    pub receiver: Option<String>,
    pub accepted: usize,
    pub rejected: usize,
    pub not_scanned: usize,
    /// Receipt must be entered in Metrc by then (signed + 24 h).
    pub receipt_deadline: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Return {
    pub tag: MetrcTag,
    pub item: String,
    pub reason: String,
    pub note: Option<String>,
}

/// An order's outcome, at any stage. With `metrc_in_use` (Metrc is read here), a
/// delivery Metrc has not received in time is an issue of its receipt.
pub fn outcome(store: &Store, key: &str, metrc_in_use: bool) -> Result<OrderOutcome, DocError> {
    let g = gather(store, key)?;
    let progress = g.state.pick.progress(&g.state.list);
    let confirmed = g.state.ship.confirmed();
    let finished = g.state.ship.finished();
    let stage = if finished.is_some() {
        "delivered"
    } else if confirmed.is_some() {
        "loaded"
    } else if crate::domain::ship::can_load(&g.state).is_ok() {
        "picked"
    } else {
        "picking"
    };
    let delivery = confirmed.map(|_| {
        let d = g.state.ship.delivery(&g.state.list);
        DeliverySummary {
            finished_at: finished.map(|f| f.at.clone()),
            receiver: finished.map(|f| f.receiver.clone()),
            accepted: d.accepted,
            rejected: d.rejected,
            not_scanned: d.open,
            receipt_deadline: finished.map(|f| iso(parse_time(&f.at) + Duration::hours(24))),
        }
    });
    let returns = confirmed
        .map(|c| {
            c.confirm
                .tags
                .iter()
                .filter_map(|t| match g.state.ship.decision(t) {
                    Some(Decision::Rejected { reason, note }) => Some(Return {
                        tag: t.clone(),
                        item: g
                            .packages
                            .get(t)
                            .map(|p| p.item.clone())
                            .unwrap_or_default(),
                        reason: reason.label().to_string(),
                        note: note.clone(),
                    }),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(OrderOutcome {
        order: g.order.number.clone(),
        buyer: g.order.buyer.clone(),
        stage,
        picked: progress.picked,
        total: progress.total,
        load: confirmed.map(|c| LoadSummary {
            load: c.confirm.load.clone(),
            at: c.at.clone(),
            by: c.person.clone(),
            driver: c.confirm.driver.name.clone(),
            vehicle: format!(
                "{} {} {}",
                c.confirm.vehicle.make, c.confirm.vehicle.model, c.confirm.vehicle.plate
            ),
            packages: c.confirm.tags.len(),
            manifest_pdf: c.confirm.manifest_pdf.clone(),
        }),
        removed: removed(&g),
        delivery,
        returns,
        metrc: super::receipt::receipt(store, key, metrc_in_use, Utc::now())?,
    })
}

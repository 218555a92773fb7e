//! Metrc's receipt of an order's delivery beside the driver's record, from the store
//! (what the hub last read of Metrc, `metrc::receipts`), with what a supervisor must
//! look at (`domain::receipt::compare`): for `tagtally status` and `tagtally report`.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::Decision;
use crate::domain::receipt::{self, MetrcReceipt, MetrcState, ReceiptIssue};
use crate::store::{Store, StoreError};

/// One package: the driver's word and Metrc's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PackageReceipt {
    pub tag: String,
    /// `accepted`, `rejected` or `not scanned`.
    pub driver: String,
    /// Metrc's `ShipmentPackageState`; `None`: not on Metrc's delivery (or none read).
    pub metrc: Option<String>,
}

/// An order's delivery on both sides.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReceiptView {
    pub order: String,
    /// Metrc's side as last read (`None`: no delivery of this load read from Metrc).
    pub metrc: Option<MetrcReceipt>,
    pub packages: Vec<PackageReceipt>,
    /// Where the two disagree, or Metrc is late.
    pub issues: Vec<ReceiptIssue>,
}

/// The receipt view of order `key` once its load is confirmed (`None` before). With
/// `metrc_in_use` false (no `[metrc]` here) nothing is read from Metrc, and its
/// absence is not an issue.
pub fn receipt(
    store: &Store,
    key: &str,
    metrc_in_use: bool,
    now: DateTime<Utc>,
) -> Result<Option<ReceiptView>, StoreError> {
    let order = store.find_order(key)?;
    let o = store.shipment_of(&order)?;
    if o.ship.confirmed().is_none() {
        return Ok(None);
    }
    let driver = o.ship.delivery(&o.list);
    // The latest delivery Metrc made of this order's load.
    let metrc = store
        .metrc_deliveries_of(&order.number)?
        .into_iter()
        .max_by_key(|d| d.delivery_id)
        .map(|d| MetrcReceipt {
            manifest_number: d.manifest_number,
            received_at: d.received_at,
            packages: d
                .packages
                .into_iter()
                .map(|(t, s)| (t, MetrcState::of(&s)))
                .collect(),
            read_at: d.read_at,
        });
    let issues = if metrc_in_use || metrc.is_some() {
        receipt::compare(&driver, metrc.as_ref(), now)
    } else {
        vec![]
    };
    let packages = driver
        .packages
        .iter()
        .map(|p| PackageReceipt {
            tag: p.tag.to_string(),
            driver: match &p.decision {
                Some(Decision::Accepted) => "accepted".into(),
                Some(Decision::Rejected { reason, .. }) => {
                    format!("rejected ({})", reason.label())
                }
                None => "not scanned".into(),
            },
            metrc: metrc
                .as_ref()
                .and_then(|m| m.packages.get(p.tag.as_str()))
                .map(|s| s.label().to_string()),
        })
        .collect();
    Ok(Some(ReceiptView {
        order: order.number,
        metrc,
        packages,
        issues,
    }))
}

/// The receipt as `tagtally status` prints it: one line for Metrc's side, one per
/// issue.
pub fn print_receipt(view: &ReceiptView, out: &mut impl Write) -> std::io::Result<()> {
    match &view.metrc {
        None => writeln!(
            out,
            "Metrc receipt: no delivery of this load read from Metrc"
        )?,
        Some(m) => {
            let accepted = m
                .packages
                .values()
                .filter(|s| **s == MetrcState::Accepted)
                .count();
            let rejected = m
                .packages
                .values()
                .filter(|s| matches!(s, MetrcState::Rejected | MetrcState::Returned))
                .count();
            writeln!(
                out,
                "Metrc receipt: manifest {}, {}; {accepted} accepted, {rejected} rejected of {} (read {})",
                m.manifest_number.as_deref().unwrap_or("?"),
                match m.received_at {
                    Some(t) => format!("received {}", t.to_rfc3339()),
                    None => "not received yet".into(),
                },
                m.packages.len(),
                m.read_at.to_rfc3339()
            )?;
        }
    }
    for i in &view.issues {
        writeln!(out, "  exception: {i}")?;
    }
    Ok(())
}

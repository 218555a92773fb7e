//! Reading the receipts back: the outgoing transfers modified since the last read
//! (in `lastModified` windows), each one's deliveries and each delivery's packages
//! with their `ShipmentPackageState`, kept per order for `tagtally status` and
//! `tagtally report` (which compare them with the driver's record,
//! `domain::receipt`). A delivery is an order's when its packages are that order's
//! load (most of them; a delivery of packages tagtally never loaded is not kept).
//! Nothing is asked while no order has a confirmed load.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::client::Client;
use super::plan::{self, MetrcError};
use crate::config::MetrcSettings;
use crate::store::{MetrcDelivery, Store, StoreError};

/// Where the last read of the outgoing transfers ended (RFC 3339, UTC).
pub const CURSOR: &str = "metrc_transfers_cursor";

/// What one read did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReceiptRead {
    pub transfers: usize,
    /// Deliveries kept (new or changed), as an order's.
    pub deliveries: usize,
    /// Transfers Metrc refused to show (each logged).
    pub skipped: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error(transparent)]
    Metrc(#[from] MetrcError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The order a delivery's packages belong to: the one whose load holds most of them.
pub fn order_of<'a>(
    labels: impl IntoIterator<Item = &'a str>,
    loads: &HashMap<String, String>,
) -> Option<String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    let mut total = 0;
    for l in labels {
        total += 1;
        if let Some(o) = loads.get(l) {
            *count.entry(o.as_str()).or_default() += 1;
        }
    }
    let (order, n) = count.into_iter().max_by_key(|(o, n)| (*n, *o))?;
    (n * 2 > total).then(|| order.to_string())
}

/// Read the outgoing transfers changed since the cursor (the first time: since the
/// earliest confirmed load, less the overlap) up to `now`, and keep each delivery of
/// an order's load. Deliveries kept before and not received yet are read again too
/// (whether Metrc moves a transfer's `LastModified` on receipt is not confirmed).
pub async fn read(
    store: &mut Store,
    client: &Client,
    settings: &MetrcSettings,
    now: DateTime<Utc>,
) -> Result<ReceiptRead, ReceiptError> {
    let mut report = ReceiptRead::default();
    // Tag -> order of every confirmed load of an open order, and when the first was
    // confirmed.
    let mut loads: HashMap<String, String> = HashMap::new();
    let mut earliest: Option<DateTime<Utc>> = None;
    for (number, _, stage) in store.order_stages()? {
        if stage != "loaded" && stage != "delivered" {
            continue;
        }
        let order = store.find_order(&number)?;
        let o = store.shipment_of(&order)?;
        if let Some(c) = o.ship.confirmed() {
            for t in &c.confirm.tags {
                loads.insert(t.to_string(), number.clone());
            }
            if let Some(at) = plan::parse_time(&c.at) {
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
            }
        }
    }
    let Some(earliest) = earliest else {
        return Ok(report);
    };
    let now = plan::whole_second(now);
    let cursor = store
        .meta(CURSOR)?
        .and_then(|c| DateTime::parse_from_rfc3339(&c).ok())
        .map(|t| t.with_timezone(&Utc));
    let floor = earliest - plan::OVERLAP;
    let from = match cursor {
        Some(c) if c <= now => (c - plan::OVERLAP).max(floor),
        _ => floor.max(now - Duration::days(i64::from(settings.first_pull_days))),
    };
    let width = Duration::hours(i64::from(settings.window_hours.max(1)));
    let mut seen = std::collections::HashSet::new();
    for w in plan::windows(from, now, width) {
        for t in client.outgoing(&w).await? {
            report.transfers += 1;
            if seen.insert(t.id) {
                keep(
                    store,
                    client,
                    t.id,
                    t.manifest_number,
                    &loads,
                    now,
                    &mut report,
                )
                .await?;
            }
        }
        store.set_meta(&[(CURSOR, &w.end.to_rfc3339())])?;
    }
    // Not received when last read: read again.
    let orders: std::collections::BTreeSet<&String> = loads.values().collect();
    for order in orders {
        for d in store.metrc_deliveries_of(order)? {
            if d.received_at.is_none() && seen.insert(d.transfer_id) {
                let (t, m) = (d.transfer_id, d.manifest_number);
                keep(store, client, t, m, &loads, now, &mut report).await?;
            }
        }
    }
    Ok(report)
}

/// [`keep_deliveries`], counted in `report`. A transfer Metrc will not show (voided,
/// another license's: a refusal) is said and skipped, so one never stops the reading
/// of the others; a busy or failing Metrc stops the read here (the cursor stays).
async fn keep(
    store: &mut Store,
    client: &Client,
    transfer: i64,
    manifest: Option<String>,
    loads: &HashMap<String, String>,
    now: DateTime<Utc>,
    report: &mut ReceiptRead,
) -> Result<(), ReceiptError> {
    match keep_deliveries(store, client, transfer, manifest, loads, now).await {
        Ok(n) => report.deliveries += n,
        Err(ReceiptError::Metrc(e)) if !e.is_retryable() => {
            tracing::warn!(transfer, %e, "cannot read this transfer's deliveries; skipped");
            report.skipped += 1;
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Read transfer `transfer`'s deliveries and keep each that is an order's.
async fn keep_deliveries(
    store: &mut Store,
    client: &Client,
    transfer: i64,
    manifest: Option<String>,
    loads: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Result<usize, ReceiptError> {
    let mut kept = 0;
    for d in client.deliveries(transfer).await? {
        let packages = client.delivery_packages(d.id).await?;
        let Some(order) = order_of(packages.iter().map(|p| p.package_label.as_str()), loads) else {
            continue;
        };
        let mut states: Vec<(String, String)> = packages
            .into_iter()
            .map(|p| {
                (
                    p.package_label.trim().to_ascii_uppercase(),
                    p.shipment_package_state.unwrap_or_else(|| "Shipped".into()),
                )
            })
            .collect();
        states.sort();
        let delivery = MetrcDelivery {
            delivery_id: d.id,
            transfer_id: transfer,
            manifest_number: d.manifest_number.or_else(|| manifest.clone()),
            order,
            recipient_license: d.recipient_facility_license_number,
            received_at: d.received_date_time,
            read_at: now,
            packages: states,
        };
        let before = store
            .metrc_deliveries_of(&delivery.order)?
            .into_iter()
            .find(|x| x.delivery_id == delivery.delivery_id);
        let same = before.as_ref().is_some_and(|b| {
            b.packages == delivery.packages
                && b.received_at == delivery.received_at
                && b.transfer_id == delivery.transfer_id
        });
        store.store_metrc_delivery(&delivery)?;
        if !same {
            kept += 1;
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_the_order_whose_load_holds_most_of_its_packages() {
        let loads: HashMap<String, String> = [("A", "SO-1"), ("B", "SO-1"), ("C", "SO-2")]
            .into_iter()
            .map(|(t, o)| (t.to_string(), o.to_string()))
            .collect();
        let table: &[(&[&str], Option<&str>)] = &[
            (&["A", "B"], Some("SO-1")),
            (&["A", "B", "C"], Some("SO-1")),
            (&["C"], Some("SO-2")),
            (&["A", "X", "Y"], None),
            (&["X"], None),
            (&[], None),
        ];
        for (labels, want) in table {
            assert_eq!(
                order_of(labels.iter().copied(), &loads).as_deref(),
                *want,
                "{labels:?}"
            );
        }
    }
}

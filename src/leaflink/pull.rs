//! `tagtally leaflink pull`: the orders LeafLink received that changed since the
//! last pull (`modified__gte`, less an overlap), every page (`next` followed as
//! given), line items inline (`include_children=line_items`), each imported with
//! the rules of `tagtally import order` (the same parser, the same allocation
//! checks). A customer given only by its id is read once (and kept); a line's
//! LeafLink batch id is read once for Metrc's batch name, unless tags are attached
//! (their packages say the batch, and the one-batch rule checks them). An order whose
//! allocation breaks the rules is refused alone, with the reason, and pulled again
//! once it changes in LeafLink. A cancelled or rejected order tagtally holds is closed.

use std::time::Instant;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::client::{Client, LeafLinkError};
use crate::config::LeafLinkSettings;
use crate::domain::writeback::Platform;
use crate::store::{OrderSource, Store, StoreError};

/// When the last complete pull started (RFC 3339): the next asks from there.
pub const CURSOR: &str = "leaflink_orders_cursor";
pub const LAST_OK: &str = "leaflink_last_ok";
pub const LAST_ERROR: &str = "leaflink_last_error";
/// How far before the cursor a pull starts again (clocks differ).
const OVERLAP: Duration = Duration::minutes(5);
/// The statuses that close an order tagtally holds.
const CLOSING: [&str; 2] = ["Cancelled", "Rejected"];

/// What one pull did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PullReport {
    pub pages: usize,
    pub requests: u64,
    pub orders: usize,
    pub new: usize,
    pub updated: usize,
    /// Sent again as stored (the overlap of pulls).
    pub unchanged: usize,
    pub closed: usize,
    /// Orders refused, each with the reason.
    pub refused: Vec<String>,
    /// Packages picked that a changed order no longer allocates: the picks stand,
    /// each an exception for a supervisor.
    pub picked_off_order: Vec<String>,
    pub customers_read: usize,
    pub batches_read: usize,
    pub seconds: f64,
}

impl PullReport {
    pub fn line(&self) -> String {
        let mut s = format!(
            "leaflink pull: {} pages, {} requests, {} orders read: {} new, {} updated, {} unchanged, {} closed, {} refused; {} customers and {} batches read; {:.1} s",
            self.pages,
            self.requests,
            self.orders,
            self.new,
            self.updated,
            self.unchanged,
            self.closed,
            self.refused.len(),
            self.customers_read,
            self.batches_read,
            self.seconds
        );
        for r in &self.refused {
            s.push_str(&format!("\n  refused: {r}"));
        }
        for r in &self.picked_off_order {
            s.push_str(&format!("\n  exception: {r}"));
        }
        s
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    LeafLink(#[from] LeafLinkError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Pull from the cursor (the first time: `first_pull_days` back) to now; the last
/// error, or the time of success, is kept.
pub async fn pull(
    store: &mut Store,
    client: &Client,
    settings: &LeafLinkSettings,
    now: DateTime<Utc>,
) -> Result<PullReport, PullError> {
    let result = pull_pages(store, client, settings, now).await;
    let kept = match &result {
        Ok(_) => store.set_meta(&[
            (CURSOR, &now.to_rfc3339()),
            (LAST_OK, &now.to_rfc3339()),
            (LAST_ERROR, ""),
        ]),
        Err(e) => store.set_meta(&[(LAST_ERROR, &format!("{}: {e}", Utc::now().to_rfc3339()))]),
    };
    if let Err(e) = kept {
        tracing::warn!(%e, "cannot record the LeafLink pull's outcome");
    }
    result
}

async fn pull_pages(
    store: &mut Store,
    client: &Client,
    settings: &LeafLinkSettings,
    now: DateTime<Utc>,
) -> Result<PullReport, PullError> {
    let started = Instant::now();
    let before = client.requests();
    let cursor = store
        .meta(CURSOR)?
        .and_then(|c| DateTime::parse_from_rfc3339(&c).ok())
        .map(|t| t.with_timezone(&Utc));
    let from = match cursor {
        Some(c) if c <= now => c - OVERLAP,
        _ => now - Duration::days(i64::from(settings.first_pull_days)),
    };
    // The statuses asked for, and those that close an order already here.
    let mut statuses: Vec<String> = settings
        .statuses
        .iter()
        .chain(
            CLOSING
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .iter(),
        )
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    statuses.sort();
    statuses.dedup();
    let mut url = client.url(
        "orders-received/",
        &[
            ("status", statuses.join(",")),
            (
                "modified__gte",
                from.to_rfc3339_opts(SecondsFormat::Secs, true),
            ),
            ("include_children", "line_items".into()),
            ("limit", settings.page_size.clamp(1, 1000).to_string()),
        ],
    )?;
    let mut report = PullReport::default();
    loop {
        report.pages += 1;
        let what = format!("page {} of the orders received", report.pages);
        let page = client.get_json(url.clone(), &what).await?;
        let results = match page.get("results") {
            Some(Value::Array(a)) => a.clone(),
            _ => {
                return Err(LeafLinkError::BadAnswer {
                    what,
                    message: "no `results` list".into(),
                }
                .into());
            }
        };
        for order in results {
            report.orders += 1;
            take(store, client, settings, order, now, &mut report).await?;
        }
        match page.get("next").and_then(Value::as_str) {
            Some(next) if !next.is_empty() => {
                url = reqwest::Url::parse(next).map_err(|e| LeafLinkError::BadAnswer {
                    what: what.clone(),
                    message: format!("`next` is not a URL: {e}"),
                })?;
            }
            _ => break,
        }
    }
    report.requests = client.requests() - before;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// One order of a page: its customer and batches filled in, then imported.
async fn take(
    store: &mut Store,
    client: &Client,
    settings: &LeafLinkSettings,
    mut order: Value,
    now: DateTime<Utc>,
    report: &mut PullReport,
) -> Result<(), PullError> {
    let number = order
        .get("number")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let status = order
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let known = store.find_order(&number).is_ok();
    let closing = CLOSING.iter().any(|c| c.eq_ignore_ascii_case(&status));
    if closing && !known {
        return Ok(());
    }
    if let Some(id) = order.get("customer").and_then(Value::as_i64) {
        match customer(store, client, settings, id, report).await {
            Ok(c) => order["customer"] = c,
            Err(e @ LeafLinkError::Refused { .. }) => {
                tracing::warn!(%e, order = number, "the order's customer cannot be read");
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(Value::Array(lines)) = order.get_mut("line_items") {
        for line in lines {
            // Metrc's batch name is kept as given; LeafLink's batch id, or none, is
            // filled in below.
            let batch_id = match line.get("batch") {
                Some(Value::Number(n)) => n.as_i64(),
                None | Some(Value::Null) => None,
                Some(_) => continue,
            };
            let tags: Vec<crate::tag::MetrcTag> = match line.get("package_tags") {
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                Some(Value::String(s)) => s.split(',').collect(),
                _ => vec![],
            }
            .into_iter()
            .filter_map(|t| crate::tag::MetrcTag::new(t.trim()).ok())
            .collect();
            // Tags attached: their packages say the batch (the first one's; the
            // one-batch rule then refuses a line whose packages disagree).
            line["batch"] = if !tags.is_empty() {
                let packages = store.packages(&tags)?;
                tags.iter()
                    .find_map(|t| packages.get(t))
                    .map_or(Value::Null, |p| Value::from(p.batch_label()))
            } else if let Some(batch_id) = batch_id {
                match batch(store, client, batch_id, report).await {
                    Ok(name) => name.map_or(Value::Null, Value::from),
                    Err(e @ LeafLinkError::Refused { .. }) => {
                        tracing::warn!(%e, order = number, "a line's batch cannot be read");
                        Value::Null
                    }
                    Err(e) => return Err(e.into()),
                }
            } else {
                Value::Null
            };
        }
    }
    let what = format!("LeafLink order {number}");
    let bytes = serde_json::to_vec(&order).expect("a JSON value serialises");
    let parsed = match crate::import::leaflink::parse(&what, &bytes) {
        Ok(o) => o,
        Err(e) => {
            report.refused.push(e.to_string());
            return Ok(());
        }
    };
    // Where the order came from, for the write-back: LeafLink's number is its id.
    let source_of = |o: &crate::domain::Order| OrderSource {
        order: o.number.clone(),
        platform: Platform::LeafLink,
        platform_id: o.number.clone(),
        status: Some(status.clone()),
        pulled_at: now,
    };
    if let (true, [o]) = (known, parsed.as_slice())
        && store
            .find_order(&o.number)
            .is_ok_and(|stored| store.order_as_imported(o).is_ok_and(|o| stored == o))
    {
        report.unchanged += 1;
        // Written only when it says something new (an order pulled before sources
        // were kept, a status changed): an unchanged pull writes nothing.
        let want = source_of(o);
        if store.order_source(&o.number)?.is_none_or(|s| {
            (s.platform, &s.platform_id, &s.status)
                != (want.platform, &want.platform_id, &want.status)
        }) {
            store.set_order_source(&o.number, Platform::LeafLink, &o.number, Some(&status), now)?;
        }
        return Ok(());
    }
    for o in &parsed {
        match store.import_order_from_platform(o, &source_of(o)) {
            Ok(orphans) => {
                for tag in orphans {
                    report.picked_off_order.push(format!(
                        "{}: {tag} was picked but LeafLink no longer orders it: an exception for a supervisor (put it back and undo the pick, or order it again)",
                        o.number
                    ));
                }
                if closing {
                    report.closed += 1;
                } else if known {
                    report.updated += 1;
                } else {
                    report.new += 1;
                }
            }
            Err(e @ StoreError::AllocationRefused { .. }) => report.refused.push(e.to_string()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A customer's `{display_name, license_number}`, read once and kept.
async fn customer(
    store: &mut Store,
    client: &Client,
    settings: &LeafLinkSettings,
    id: i64,
    report: &mut PullReport,
) -> Result<Value, LeafLinkError> {
    let key = format!("leaflink_customer:{id}");
    if let Some(v) = store
        .meta(&key)
        .ok()
        .flatten()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
    {
        return Ok(v);
    }
    let path = settings.customer_path.replace("{id}", &id.to_string());
    let c = client
        .get_json(client.url(&path, &[])?, &format!("customer {id}"))
        .await?;
    report.customers_read += 1;
    let name = c
        .get("display_name")
        .or(c.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let license = c
        .get(&settings.customer_license_field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|l| !l.is_empty());
    let v = json!({"id": id, "display_name": name, "license_number": license,
                   "license_inactive": c.get("license_inactive")});
    if let Err(e) = store.set_meta(&[(&key, &v.to_string())]) {
        tracing::warn!(%e, "cannot keep the customer");
    }
    Ok(v)
}

/// Metrc's batch name of LeafLink batch `id` (its `production_batch_number`,
/// `batch_number` or `name`), read once and kept.
async fn batch(
    store: &mut Store,
    client: &Client,
    id: i64,
    report: &mut PullReport,
) -> Result<Option<String>, LeafLinkError> {
    let key = format!("leaflink_batch:{id}");
    if let Some(name) = store.meta(&key).ok().flatten() {
        return Ok(Some(name));
    }
    let b = client
        .get_json(
            client.url(&format!("batches/{id}/"), &[])?,
            &format!("batch {id}"),
        )
        .await?;
    report.batches_read += 1;
    let name = ["production_batch_number", "batch_number", "name"]
        .iter()
        .find_map(|k| b.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    if let Some(n) = &name
        && let Err(e) = store.set_meta(&[(&key, n)])
    {
        tracing::warn!(%e, "cannot keep the batch");
    }
    Ok(name)
}

//! `tagtally apex pull`: the shipping orders Apex updated since the last pull
//! (`updated_at_from`, less an overlap; `with_items=true`), every page (`links.next`,
//! else `meta.last_page`), each imported with the rules of `tagtally import order`
//! (the same parser, the same allocation checks). Which orders: those at the
//! Accepted stage or later and not cancelled (by the status's parent, or
//! `[apex] status_ids`); one tagtally holds is updated whatever its stage, and closed
//! once Apex says `cancelled`. An order whose allocation breaks the rules is refused
//! alone, with the reason, and pulled again once it changes in Apex.
//!
//! Identity: each order pulled keeps its Apex id (`order_sources`), so a re-pull finds
//! it by that id even if its invoice number changed (the new invoice number becomes
//! its short id). A new order is numbered by its `invoice_number`; when another
//! order already has that number (Apex splits one order into several with one
//! invoice number), it is `INVOICE-#ID` instead (B2B-API.md part 3, Apex #4).

use std::time::Instant;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use super::client::{ApexError, Client};
use crate::config::ApexSettings;
use crate::domain::Order;
use crate::domain::writeback::Platform;
use crate::import::apex::{int, parent_of, parent_rank, parse_with, state_of};
use crate::store::{OrderSource, Store, StoreError};

/// When the last complete pull started (RFC 3339): the next asks from there.
pub const CURSOR: &str = "apex_orders_cursor";
pub const LAST_OK: &str = "apex_last_ok";
pub const LAST_ERROR: &str = "apex_last_error";
/// How far before the cursor a pull starts again (clocks differ).
const OVERLAP: Duration = Duration::minutes(5);
/// A bound on the pages of one pull, against a `next` that never ends.
const MOST_PAGES: usize = 10_000;

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
    /// Not taken: not accepted yet, or cancelled before tagtally held them.
    pub skipped: usize,
    /// Orders refused, each with the reason.
    pub refused: Vec<String>,
    /// New orders numbered `INVOICE-#ID` because their invoice number was taken.
    pub renumbered: Vec<String>,
    /// Packages picked that a changed order no longer allocates: the picks stand,
    /// each an exception for a supervisor.
    pub picked_off_order: Vec<String>,
    pub seconds: f64,
}

impl PullReport {
    pub fn line(&self) -> String {
        let mut s = format!(
            "apex pull: {} pages, {} requests, {} orders read: {} new, {} updated, {} unchanged, {} closed, {} skipped, {} refused; {:.1} s",
            self.pages,
            self.requests,
            self.orders,
            self.new,
            self.updated,
            self.unchanged,
            self.closed,
            self.skipped,
            self.refused.len(),
            self.seconds
        );
        for r in &self.renumbered {
            s.push_str(&format!("\n  renumbered: {r}"));
        }
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
    Apex(#[from] ApexError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Pull from the cursor (the first time: `first_pull_days` back) to now; the last
/// error, or the time of success, is kept.
pub async fn pull(
    store: &mut Store,
    client: &Client,
    settings: &ApexSettings,
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
        tracing::warn!(%e, "cannot record the Apex pull's outcome");
    }
    result
}

async fn pull_pages(
    store: &mut Store,
    client: &Client,
    settings: &ApexSettings,
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
    let mut url = client.url(
        "v1/shipping-orders",
        &[
            (
                "updated_at_from",
                from.to_rfc3339_opts(SecondsFormat::Secs, true),
            ),
            ("with_items", "true".into()),
            ("per_page", settings.per_page.clamp(1, 500).to_string()),
            ("page", "1".into()),
        ],
    )?;
    let mut report = PullReport::default();
    loop {
        report.pages += 1;
        let what = format!("page {} of the shipping orders", report.pages);
        let page = client.get_json(url.clone(), &what).await?;
        let bad = |message: String| ApexError::BadAnswer {
            what: what.clone(),
            message,
        };
        let orders = match page.get("orders") {
            Some(Value::Array(a)) => a.clone(),
            _ => return Err(bad("no `orders` list".into()).into()),
        };
        for order in orders {
            report.orders += 1;
            take(store, settings, order, &mut report, now)?;
        }
        let next = match page.pointer("/links/next").and_then(Value::as_str) {
            Some(next) if !next.trim().is_empty() => Some(
                reqwest::Url::parse(next).map_err(|e| bad(format!("`next` is not a URL: {e}")))?,
            ),
            _ => {
                // No link: `meta` says whether a page follows.
                let current = page.pointer("/meta/current_page").and_then(int);
                let last = page.pointer("/meta/last_page").and_then(int);
                match (current, last) {
                    (Some(c), Some(l)) if c < l => {
                        let mut u = url.clone();
                        let query: Vec<(String, String)> = url
                            .query_pairs()
                            .filter(|(k, _)| k != "page")
                            .map(|(k, v)| (k.into_owned(), v.into_owned()))
                            .chain([("page".to_string(), (c + 1).to_string())])
                            .collect();
                        u.query_pairs_mut().clear().extend_pairs(query);
                        Some(u)
                    }
                    _ => None,
                }
            }
        };
        match next {
            Some(n) if n == url => return Err(bad("`next` is this page again".into()).into()),
            Some(_) if report.pages >= MOST_PAGES => {
                return Err(bad(format!("more than {MOST_PAGES} pages")).into());
            }
            Some(n) => url = n,
            None => break,
        }
    }
    report.requests = client.requests() - before;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// One order of a page: chosen or skipped, numbered, its batches checked against
/// its labels' packages, then imported with its Apex id kept.
fn take(
    store: &mut Store,
    settings: &ApexSettings,
    order: Value,
    report: &mut PullReport,
    now: DateTime<Utc>,
) -> Result<(), PullError> {
    let Some(id) = order.get("id").and_then(int) else {
        report
            .refused
            .push("an Apex order without an `id` cannot be kept apart from the others".into());
        return Ok(());
    };
    let invoice = order
        .get("invoice_number")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let what = format!("Apex order {id} ({invoice})");
    let state = match state_of(&order) {
        Ok(s) => s,
        Err(m) => {
            report.refused.push(format!("{what}: {m}"));
            return Ok(());
        }
    };
    let ids = &settings.status_ids;
    let known = store.order_of_source(Platform::Apex, &id.to_string())?;
    let accepted = parent_of(&state, ids)
        .and_then(|p| parent_rank(&p))
        .is_some_and(|r| r >= 1);
    if known.is_none() && (state.cancelled || !accepted) {
        report.skipped += 1;
        return Ok(());
    }
    let bytes = serde_json::to_vec(&order).expect("a JSON value serialises");
    let mut o: Order = match parse_with(&what, &bytes, ids) {
        Ok(mut v) if v.len() == 1 => v.remove(0),
        Ok(_) => unreachable!("one order object parses to one order"),
        Err(e) => {
            report.refused.push(e.to_string());
            return Ok(());
        }
    };
    if known.is_none() && o.status.closes_the_order() {
        // Complete before tagtally ever held it: nothing for the floor to do.
        report.skipped += 1;
        return Ok(());
    }
    let invoice = o.number.clone();
    o.number = match &known {
        Some(n) => n.clone(),
        None => number_for(store, &invoice, id)?,
    };
    if o.number != invoice {
        if known.is_none() {
            report
                .renumbered
                .push(format!("{what} is {} here", o.number));
        }
        // The invoice number people type, unless another order answers to it.
        let taken = store
            .find_order(&invoice)
            .is_ok_and(|other| other.number != o.number);
        o.short_id = (!taken).then_some(invoice);
    }
    // Labels attached: their packages say the batch (the first one's, unless Apex's
    // batch name is it); the one-batch rule then refuses a line whose packages
    // disagree.
    for line in o.lines.iter_mut().filter(|l| !l.tags.is_empty()) {
        let packages = store.packages(&line.tags)?;
        if let Some(p) = line.tags.iter().find_map(|t| packages.get(t))
            && !line.batch.as_deref().is_some_and(|b| p.in_batch(b))
        {
            line.batch = Some(p.batch_label());
        }
    }
    let status = state.status_id.to_string();
    let source = OrderSource {
        order: o.number.clone(),
        platform: Platform::Apex,
        platform_id: id.to_string(),
        status: Some(status.clone()),
        pulled_at: now,
    };
    if known.is_some()
        && store
            .find_order(&o.number)
            .is_ok_and(|stored| store.order_as_imported(&o).is_ok_and(|o| stored == o))
    {
        report.unchanged += 1;
        // Written only when it says something new: an unchanged pull writes nothing.
        if store.order_source(&o.number)?.is_none_or(|s| {
            (s.platform, &s.platform_id, &s.status)
                != (source.platform, &source.platform_id, &source.status)
        }) {
            store.set_order_source(
                &o.number,
                Platform::Apex,
                &source.platform_id,
                Some(&status),
                now,
            )?;
        }
        return Ok(());
    }
    match store.import_order_from_platform(&o, &source) {
        Ok(orphans) => {
            for tag in orphans {
                report.picked_off_order.push(format!(
                    "{}: {tag} was picked but Apex no longer orders it: an exception for a supervisor (put it back and undo the pick, or order it again)",
                    o.number
                ));
            }
            if o.status.closes_the_order() {
                report.closed += 1;
            } else if known.is_some() {
                report.updated += 1;
            } else {
                report.new += 1;
            }
        }
        Err(e @ StoreError::AllocationRefused { .. }) => report.refused.push(e.to_string()),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// The number of a new Apex order: its invoice number, unless an order of another
/// source (another Apex order of a split, a LeafLink order) has it: then
/// `INVOICE-#ID`. An order of that number imported from a file is taken to be this
/// one.
fn number_for(store: &Store, invoice: &str, id: i64) -> Result<String, StoreError> {
    let taken = match store.find_order(invoice) {
        Ok(o) if o.number == invoice => store.order_source(invoice)?.is_some(),
        Ok(_) | Err(StoreError::NoSuchOrder(_)) => false,
        Err(e) => return Err(e),
    };
    Ok(if taken {
        format!("{invoice}-#{id}")
    } else {
        invoice.to_string()
    })
}

//! `tagtally metrc pull`: the packages changed in Metrc since the last pull, window
//! by window (the plan of [`super::plan`]), every page of the active, on-hold and
//! inactive lists, stored exactly as `tagtally import packages` stores a file (the
//! same parser, a newer `LastModified` wins). A window is stored in one transaction
//! and the cursor moves only after it, so an interrupted pull starts again at the
//! window it did not finish and never half-imports one.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::client::Client;
use super::plan::{self, MetrcError};
use crate::config::MetrcSettings;
use crate::store::{Store, StoreError};

/// Where the last stored window ended (RFC 3339, UTC).
pub const CURSOR: &str = "metrc_packages_cursor";
/// When the last pull finished, and the last error (for `metrc status`, `/health`).
pub const LAST_OK: &str = "metrc_last_ok";
pub const LAST_ERROR: &str = "metrc_last_error";

/// What one pull did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PullReport {
    pub windows: usize,
    pub requests: u64,
    pub packages: usize,
    pub new: usize,
    pub updated: usize,
    pub older_skipped: usize,
    /// Sent again as stored (the overlap of windows, a package on two lists).
    pub unchanged: usize,
    /// Outgoing transfers read, and deliveries kept as an order's (receipts).
    pub transfers: usize,
    pub deliveries: usize,
    pub seconds: f64,
    /// The lab results and COAs of allocated packages, read after the packages.
    pub coa: super::coa::CoaReport,
}

impl PullReport {
    /// The one summary line.
    pub fn line(&self) -> String {
        format!(
            "metrc pull: {} windows, {} requests, {} packages read: {} new, {} updated, {} unchanged, {} older than stored; {}; {} transfers read, {} deliveries kept; {:.1} s",
            self.windows,
            self.requests,
            self.packages,
            self.new,
            self.updated,
            self.unchanged,
            self.older_skipped,
            self.coa.line(),
            self.transfers,
            self.deliveries,
            self.seconds
        )
    }
}

/// Why a pull stopped. What was stored before stays, and the cursor says where the
/// next pull starts.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Metrc(#[from] MetrcError),
    #[error("{what}: {message}; nothing of that window was stored, the next pull starts there")]
    BadPage { what: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Pull from the cursor (or `first_pull_days` back, the first time and with `full`)
/// to `now`. The last error, or the time of success, is kept for `metrc status`.
pub async fn pull(
    store: &mut Store,
    client: &Client,
    settings: &MetrcSettings,
    full: bool,
    now: DateTime<Utc>,
) -> Result<PullReport, PullError> {
    let started = Instant::now();
    let requests_before = client.requests();
    let mut result = pull_windows(store, client, settings, full, now).await;
    // The COAs of what is allocated, with the package facts just stored; then the
    // receipts of loads sent.
    if let Ok(r) = &mut result {
        match super::coa::fetch(store, client, None, full, now).await {
            Ok(c) => r.coa = c,
            Err(e) => result = Err(e.into()),
        }
    }
    if let Ok(r) = &mut result {
        match super::receipts::read(store, client, settings, now).await {
            Ok(read) => {
                r.transfers = read.transfers;
                r.deliveries = read.deliveries;
                r.requests = client.requests() - requests_before;
                r.seconds = started.elapsed().as_secs_f64();
            }
            Err(super::receipts::ReceiptError::Metrc(e)) => result = Err(e.into()),
            Err(super::receipts::ReceiptError::Store(e)) => result = Err(e.into()),
        }
    }
    let kept = match &result {
        Ok(_) => store.set_meta(&[(LAST_OK, &now.to_rfc3339()), (LAST_ERROR, "")]),
        Err(e) => store.set_meta(&[(LAST_ERROR, &format!("{}: {e}", Utc::now().to_rfc3339()))]),
    };
    if let Err(e) = kept {
        // The pull's own outcome matters more than its record.
        tracing::warn!(%e, "cannot record the pull's outcome");
    }
    result
}

/// Every page of one list in one window. Pages are read by number over a set that
/// can change meanwhile (a package modified while it is read leaves the window and
/// shifts the rest): when `TotalRecords` moves between pages, the list is read again,
/// up to three times.
async fn read_list(
    client: &Client,
    list: &str,
    w: &plan::Window,
) -> Result<Vec<crate::domain::Package>, PullError> {
    for _ in 0..3 {
        let mut packages = Vec::new();
        let mut totals = std::collections::BTreeSet::new();
        let mut page = 1;
        loop {
            let p = client
                .packages_page(list, w, page)
                .await
                .map_err(|e| match e {
                    MetrcError::BadAnswer { what, message } => PullError::BadPage { what, message },
                    e => e.into(),
                })?;
            totals.insert(p.total_records);
            let what = format!(
                "page {page} of the {list} packages ({} to {})",
                plan::stamp(w.start),
                plan::stamp(w.end)
            );
            let parsed =
                crate::import::metrc::parse(&what, &p.body).map_err(|e| PullError::BadPage {
                    what: what.clone(),
                    message: e.to_string(),
                })?;
            packages.extend(parsed);
            match plan::next_page(p.page.max(page), p.total_pages) {
                Some(n) => page = n,
                None => break,
            }
        }
        if totals.len() <= 1 {
            return Ok(packages);
        }
        tracing::info!(list, "the list changed while it was read: reading it again");
    }
    Err(PullError::BadPage {
        what: format!(
            "the {list} packages ({} to {})",
            plan::stamp(w.start),
            plan::stamp(w.end)
        ),
        message: "the list changed while it was read, three times".into(),
    })
}

async fn pull_windows(
    store: &mut Store,
    client: &Client,
    settings: &MetrcSettings,
    full: bool,
    now: DateTime<Utc>,
) -> Result<PullReport, PullError> {
    let started = Instant::now();
    let requests_before = client.requests();
    let now = plan::whole_second(now);
    let cursor = store
        .meta(CURSOR)?
        .and_then(|c| DateTime::parse_from_rfc3339(&c).ok())
        .map(|t| t.with_timezone(&Utc));
    let from = plan::start_of_pull(cursor, full, settings.first_pull_days, now);
    let windows = plan::windows(from, now, Duration::hours(i64::from(settings.window_hours)));
    let mut report = PullReport::default();
    for w in &windows {
        let mut packages = Vec::new();
        for list in plan::LISTS {
            packages.extend(read_list(client, list, w).await?);
        }
        // What Metrc sent again unchanged (the overlap, a package on two lists) is
        // not written again: devices would download it again for nothing.
        let tags: Vec<_> = packages.iter().map(|p| p.label.clone()).collect();
        let stored = store.packages(&tags)?;
        let before = packages.len();
        packages.retain(|p| {
            stored
                .get(&p.label)
                .is_none_or(|s| s.last_modified < p.last_modified)
        });
        report.unchanged += before - packages.len();
        // The window in one transaction, then the cursor past it.
        let stored = store.import_packages(&packages)?;
        store.set_meta(&[(CURSOR, &w.end.to_rfc3339())])?;
        report.windows += 1;
        report.packages += before;
        report.new += stored.new;
        report.updated += stored.updated;
        report.older_skipped += stored.older_skipped;
    }
    report.requests = client.requests() - requests_before;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Where the pulls stand, from the store: `metrc status` and the hub's `/health`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PullStatus {
    /// When the last pull succeeded.
    pub last_ok: Option<String>,
    /// How far behind Metrc the stored facts are: from the cursor to now, seconds.
    pub behind_seconds: Option<i64>,
    /// The last error, if the last pull failed.
    pub last_error: Option<String>,
}

pub fn status(store: &Store, now: DateTime<Utc>) -> Result<PullStatus, StoreError> {
    let cursor = store
        .meta(CURSOR)?
        .and_then(|c| DateTime::parse_from_rfc3339(&c).ok());
    Ok(PullStatus {
        last_ok: store.meta(LAST_OK)?.filter(|s| !s.is_empty()),
        behind_seconds: cursor.map(|c| (now - c.with_timezone(&Utc)).num_seconds().max(0)),
        last_error: store.meta(LAST_ERROR)?.filter(|s| !s.is_empty()),
    })
}

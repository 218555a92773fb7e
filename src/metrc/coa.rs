//! COAs from Metrc: for every package allocated to an open order whose lab results
//! are due ([`super::lab::needs_results`]), read its results (`/labtests/v2/results`,
//! every page) and the COA documents they name (`/labtests/v2/labtestdocument/{id}`),
//! each document once however many packages it covers, then store the package's
//! rows, new documents and COA fact in one transaction. Run at the end of every
//! `metrc pull` (so the polling hub does it too) and by `tagtally coa`.
//!
//! A refusal for one package (a 401: not on this license) or one unreadable document
//! is reported and the rest still read; Metrc failing (429s or 5xx past the client's
//! retries, a timeout, no network) stops the COA part, and the next pull goes on
//! where this one stopped: what was stored stays and nothing is stored twice.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::client::Client;
use super::lab;
use super::plan::{self, MetrcError};
use crate::domain::coa::{CoaDocument, CoaFact, documents_by_batch};
use crate::store::{Attachment, CoaCandidate, Store, StoreError};
use crate::tag::MetrcTag;

/// What one COA pass did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CoaReport {
    /// Packages whose lab results were read.
    pub packages: usize,
    /// Result rows read (one per test type per result).
    pub results: usize,
    /// COA documents stored for the first time.
    pub documents_new: usize,
    /// Packages read whose results name no readable COA.
    pub without_coa: usize,
    /// Allocated packages with no Metrc `Id` known (imported from a file without it):
    /// their results cannot be asked for.
    pub no_metrc_id: usize,
    /// What went wrong, one sentence each (a package refused, a document unreadable,
    /// Metrc failing).
    pub problems: Vec<String>,
}

impl CoaReport {
    /// The part of the pull's summary line.
    pub fn line(&self) -> String {
        let mut s = format!(
            "COAs: {} packages' lab results read ({} rows), {} documents new, {} packages without a COA",
            self.packages, self.results, self.documents_new, self.without_coa
        );
        if self.no_metrc_id > 0 {
            s.push_str(&format!(", {} without a Metrc Id", self.no_metrc_id));
        }
        if !self.problems.is_empty() {
            s.push_str(&format!(", {} problems", self.problems.len()));
        }
        s
    }
}

/// What was learnt of one document in this pass: its hash, or why it is unreadable.
enum Doc {
    Stored(String),
    New(Attachment),
    Unreadable,
}

/// Read the due lab results of the packages allocated to open orders (with `order`,
/// that order's packages, open or not); with `full`, all of them.
pub async fn fetch(
    store: &mut Store,
    client: &Client,
    order: Option<&str>,
    full: bool,
    now: DateTime<Utc>,
) -> Result<CoaReport, StoreError> {
    let mut report = CoaReport::default();
    let candidates = store.coa_candidates(order)?;
    report.no_metrc_id = candidates.iter().filter(|c| c.metrc_id.is_none()).count();
    let mut seen: HashMap<i64, Doc> = HashMap::new();
    for c in candidates
        .iter()
        .filter(|c| lab::needs_results(c, full, now))
    {
        match one_package(store, client, c, &mut seen, &mut report).await {
            Ok(()) => {}
            Err(Stop::Store(e)) => return Err(e),
            Err(Stop::Metrc(e)) => {
                report.problems.push(format!(
                    "COAs stopped at package {}: {e}; the next pull goes on from there",
                    c.tag
                ));
                break;
            }
        }
    }
    for p in &report.problems {
        tracing::warn!("{p}");
    }
    Ok(report)
}

enum Stop {
    Store(StoreError),
    Metrc(MetrcError),
}

async fn one_package(
    store: &mut Store,
    client: &Client,
    c: &CoaCandidate,
    seen: &mut HashMap<i64, Doc>,
    report: &mut CoaReport,
) -> Result<(), Stop> {
    let id = c.metrc_id.expect("needs_results asks only with an Id");
    let mut rows = Vec::new();
    let mut page = 1;
    loop {
        let body = match client.lab_results(id, page).await {
            Ok(b) => b,
            Err(MetrcError::License { license, message }) => {
                report.problems.push(format!(
                    "package {} (Metrc Id {id}): Metrc refused its lab results ({message}): it is not a package of license {license}",
                    c.tag
                ));
                return Ok(());
            }
            Err(e) if e.is_retryable() => return Err(Stop::Metrc(e)),
            Err(e) => {
                report
                    .problems
                    .push(format!("package {} (Metrc Id {id}): {e}", c.tag));
                return Ok(());
            }
        };
        match lab::results_page(page, &body) {
            Ok(p) => {
                let next = plan::next_page(p.page.max(page), p.total_pages);
                rows.extend(p.rows);
                match next {
                    Some(n) => page = n,
                    None => break,
                }
            }
            Err(m) => {
                report.problems.push(format!(
                    "package {} (Metrc Id {id}): page {page} of its lab results: {m}; nothing of it was stored",
                    c.tag
                ));
                return Ok(());
            }
        }
    }
    report.packages += 1;
    report.results += rows.len();
    let mut fact = CoaFact::default();
    let mut new_documents = Vec::new();
    for doc in lab::documents_named(&rows) {
        if let std::collections::hash_map::Entry::Vacant(slot) = seen.entry(doc) {
            let learnt = match store.coa_document(doc).map_err(Stop::Store)? {
                Some(sha) => Doc::Stored(sha),
                None => match client.lab_document(doc).await {
                    Ok((content_type, body)) => {
                        match lab::read_document(doc, content_type.as_deref(), &body) {
                            Ok(pdf) => Doc::New(Attachment::new("application/pdf", pdf)),
                            Err(m) => {
                                report.problems.push(format!("{m}; it was not stored"));
                                Doc::Unreadable
                            }
                        }
                    }
                    Err(e) if e.is_retryable() => return Err(Stop::Metrc(e)),
                    Err(e) => {
                        report.problems.push(e.to_string());
                        Doc::Unreadable
                    }
                },
            };
            slot.insert(learnt);
        }
        match &seen[&doc] {
            Doc::Stored(sha) => fact.documents.push(CoaDocument {
                document_id: doc,
                sha256: sha.clone(),
            }),
            Doc::New(a) => {
                fact.documents.push(CoaDocument {
                    document_id: doc,
                    sha256: a.sha256.clone(),
                });
                new_documents.push((doc, a.clone()));
            }
            Doc::Unreadable => fact.unreadable.push(doc),
        }
    }
    let kept: Vec<_> = rows
        .iter()
        .filter(|r| !r.is_revoked())
        .map(lab::LabRow::kept)
        .collect();
    store
        .record_lab_results(&c.tag, &kept, &new_documents, &fact, &c.last_modified)
        .map_err(Stop::Store)?;
    // Stored now: later packages of this pass find it stored.
    for (doc, a) in new_documents {
        report.documents_new += 1;
        seen.insert(doc, Doc::Stored(a.sha256));
    }
    if !fact.has_coa() {
        report.without_coa += 1;
    }
    Ok(())
}

/// What `tagtally coa ORDER --out DIR` did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Written {
    /// The PDFs written, one per COA of each batch.
    pub files: Vec<PathBuf>,
    /// The batches with no COA stored, and why, one sentence each.
    pub missing: Vec<String>,
    /// Batches with a COA some of whose packages have none of their own.
    pub warnings: Vec<String>,
    /// The COA pass run first, when Metrc is configured.
    pub fetched: Option<CoaReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum CoaError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Write the COA PDFs of `order`'s batches into `dir`, one file per COA of each
/// batch (`COA_<order>_<batch>_<document id>.pdf`), first reading from Metrc (when
/// `client` is given) any lab results of its packages not read yet. A batch without
/// a COA is named in `missing`; what exists is written all the same.
pub async fn write_order(
    store: &mut Store,
    client: Option<&Client>,
    order: &str,
    dir: &Path,
    now: DateTime<Utc>,
) -> Result<Written, CoaError> {
    let found = store.find_order(order)?;
    let mut out = Written::default();
    if let Some(client) = client {
        out.fetched = Some(fetch(store, client, Some(&found.number), false, now).await?);
    }
    let tags: Vec<MetrcTag> = found.lines.iter().flat_map(|l| l.tags.clone()).collect();
    let packages = store.packages(&tags)?;
    let gaps: HashSet<String> = crate::domain::coa::gaps(&found, &packages)
        .iter()
        .map(|g| g.batch.clone())
        .collect();
    std::fs::create_dir_all(dir).map_err(|source| CoaError::Write {
        path: dir.into(),
        source,
    })?;
    for (batch, docs) in documents_by_batch(&found, &packages) {
        if docs.is_empty() {
            out.missing.push(format!(
                "batch {batch}: no COA in Metrc{}",
                if client.is_none() {
                    " as far as this store knows ([metrc] is not set up: nothing was asked)"
                } else {
                    ""
                }
            ));
            continue;
        }
        if gaps.contains(&batch) {
            out.warnings.push(format!(
                "batch {batch}: some of its packages have no COA of their own (see `tagtally status {}`)",
                found.number
            ));
        }
        for d in docs {
            let Some(a) = store.attachment(&d.sha256)? else {
                out.missing.push(format!(
                    "batch {batch}: COA document {} is not in this store",
                    d.document_id
                ));
                continue;
            };
            let path = dir.join(format!(
                "COA_{}_{}_{}.pdf",
                file_part(&found.number),
                file_part(&batch),
                d.document_id
            ));
            std::fs::write(&path, &a.bytes).map_err(|source| CoaError::Write {
                path: path.clone(),
                source,
            })?;
            out.files.push(path);
        }
    }
    Ok(out)
}

/// A batch or order number as part of a file name: letters, digits, `-`, `.`; the
/// rest `_`.
fn file_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

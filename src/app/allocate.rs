//! `tagtally allocate` and `tagtally items`: a proposal of one batch's packages for
//! each line of an order that is not fully allocated (`domain::allocate`), accepted
//! or chosen by hand, and recorded in the store (`Store::record_allocation`), which
//! the hub's snapshot carries to devices.

use std::collections::HashMap;
use std::io::Write;

use chrono::NaiveDate;
use serde::Serialize;

use super::AppError;
use crate::domain::allocate::{self, Excluded, Fit, Need, NeedError, Proposal};
use crate::domain::{Order, Package, Rules};
use crate::store::Store;
use crate::tag::MetrcTag;

/// What allocation says of one line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LineAnswer {
    /// The line's id, as `pick --short` names it.
    pub line: String,
    pub label: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Outcome {
    /// Its allocation already fills it.
    Allocated,
    /// It cannot be allocated as it stands.
    Cannot { why: NeedError, message: String },
    /// What it still needs and what the search found.
    Proposed {
        need: String,
        proposal: Proposal,
        /// Packages of the item left out, counted by reason.
        excluded: Excluded,
        /// Recorded (`--accept`).
        accepted: bool,
    },
}

/// The answer for an order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub order: String,
    pub lines: Vec<LineAnswer>,
}

/// What one line needs, from the store: the line's item and its packages so far.
type Needed = Result<Option<Need>, NeedError>;

fn need_of(store: &Store, line: &crate::domain::Line) -> Result<Needed, AppError> {
    let mapped = match &line.sku {
        Some(sku) => store.mapped_item(sku)?,
        None => None,
    };
    let have: HashMap<MetrcTag, Package> = store.packages(&line.tags)?;
    let have: Vec<&Package> = have.values().collect();
    Ok(allocate::need(line, mapped.as_deref(), &have))
}

fn find_line<'a>(order: &'a Order, id: &str) -> Result<&'a crate::domain::Line, AppError> {
    order.lines.iter().find(|l| l.id == id).ok_or_else(|| {
        let known: Vec<&str> = order.lines.iter().map(|l| l.id.as_str()).collect();
        AppError::NotAllowed(format!(
            "order {} has no line {id} (its lines: {})",
            order.number,
            known.join(", ")
        ))
    })
}

/// Propose for every line of `key` without a full allocation (or only `line`), and
/// with `accept` record each exact fit.
pub fn propose(
    store: &mut Store,
    rules: &Rules,
    key: &str,
    line: Option<&str>,
    accept: bool,
    today: NaiveDate,
) -> Result<Plan, AppError> {
    let order = store.find_order(key)?;
    store.check_open(&order, "allocated")?;
    if accept {
        store.refuse_on_device()?;
    }
    let lines: Vec<&crate::domain::Line> = match line {
        Some(id) => vec![find_line(&order, id)?],
        None => order.lines.iter().collect(),
    };
    let mut held = store.held_tags()?;
    let mut answers = Vec::new();
    for l in lines {
        let outcome = match need_of(store, l)? {
            Ok(None) => Outcome::Allocated,
            Err(why) => Outcome::Cannot {
                message: why.to_string(),
                why,
            },
            Ok(Some(need)) => {
                let packages = store.packages_of_items(&need.items)?;
                let (proposal, excluded) = allocate::propose(&need, &packages, &held, rules, today);
                let mut accepted = false;
                if let (true, Proposal::Fit(fit)) = (accept, &proposal) {
                    store.record_allocation(
                        &order.number,
                        &l.id,
                        &fit.batch,
                        &fit.tags(),
                        "proposal",
                    )?;
                    for t in fit.tags() {
                        held.insert(t, order.number.clone());
                    }
                    accepted = true;
                }
                Outcome::Proposed {
                    need: allocate::show(need.units, &need.unit),
                    proposal,
                    excluded,
                    accepted,
                }
            }
        };
        answers.push(LineAnswer {
            line: l.id.clone(),
            label: l.label().to_string(),
            outcome,
        });
    }
    Ok(Plan {
        order: order.number,
        lines: answers,
    })
}

/// Allocate the packages a person chose to `line`, under the proposal's rules; a
/// refusal lists each rule a package breaks.
pub fn choose(
    store: &mut Store,
    rules: &Rules,
    key: &str,
    line: &str,
    tags: &[String],
    today: NaiveDate,
) -> Result<Fit, AppError> {
    let order = store.find_order(key)?;
    store.check_open(&order, "allocated")?;
    store.refuse_on_device()?;
    let l = find_line(&order, line)?;
    let need = match need_of(store, l)? {
        Ok(Some(n)) => n,
        Ok(None) => {
            return Err(AppError::NotAllowed(format!(
                "line {line} of {} is fully allocated already",
                order.number
            )));
        }
        Err(why) => {
            return Err(AppError::NotAllowed(format!(
                "line {line} of {} cannot be allocated: {why}",
                order.number
            )));
        }
    };
    let mut parsed = Vec::new();
    for t in tags {
        parsed.push(MetrcTag::new(t.trim()).map_err(|_| {
            AppError::NotAllowed(format!("{t:?} is not a Metrc package tag (24 characters)"))
        })?);
    }
    let found = store.packages(&parsed)?;
    let held = store.held_tags()?;
    match allocate::check_chosen(&need, &parsed, &found, &held, rules, today) {
        Ok(fit) => {
            store.record_allocation(&order.number, line, &fit.batch, &fit.tags(), "chosen")?;
            Ok(fit)
        }
        Err(refusals) => Err(AppError::NotAllowed(format!(
            "nothing allocated to line {line} of {}:\n  {}",
            order.number,
            refusals
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n  ")
        ))),
    }
}

/// The reason words of [`Excluded`] as a person reads them.
fn excluded_words(excluded: &Excluded) -> String {
    excluded
        .iter()
        .map(|(why, n)| format!("{n} {}", why.replace('_', " ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One exact fit, for people.
pub fn print_fit(fit: &Fit, out: &mut impl Write) -> std::io::Result<()> {
    for p in &fit.packages {
        let soon = p
            .expires_in_days
            .map(|d| format!(" (expires in {d} day(s))"))
            .unwrap_or_default();
        writeln!(out, "    {}  {}{soon}", p.tag, p.quantity)?;
    }
    if fit.near_expiry {
        writeln!(
            out,
            "    near-expiry packages are used: nothing else of the item fits exactly"
        )?;
    }
    Ok(())
}

/// The plan, for people.
pub fn print_plan(plan: &Plan, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "Order {}", plan.order)?;
    for l in &plan.lines {
        let head = format!("  line {} ({})", l.line, l.label);
        match &l.outcome {
            Outcome::Allocated => writeln!(out, "{head}: fully allocated")?,
            Outcome::Cannot { message, .. } => writeln!(out, "{head}: cannot allocate: {message}")?,
            Outcome::Proposed {
                need,
                proposal,
                excluded,
                accepted,
            } => {
                match proposal {
                    Proposal::Fit(fit) => {
                        let done = if *accepted { "allocated" } else { "proposed" };
                        writeln!(
                            out,
                            "{head}: needs {need}; {done}: batch {}, {} package(s)",
                            fit.batch,
                            fit.packages.len()
                        )?;
                        print_fit(fit, out)?;
                    }
                    Proposal::NoFit { closest } => {
                        writeln!(out, "{head}: needs {need}; no single batch fits exactly")?;
                        for n in closest {
                            let mut parts = Vec::new();
                            if let Some(s) = &n.shortfall {
                                parts.push(format!("short {s}"));
                            }
                            if let Some(s) = &n.surplus {
                                let split = n
                                    .split
                                    .as_ref()
                                    .map(|t| format!(" (split {s} off {t} in Metrc)"))
                                    .unwrap_or_default();
                                parts.push(format!("over {s}{split}"));
                            }
                            if n.too_large {
                                parts.push(
                                    "too many packages to search: allocate with --tag".into(),
                                );
                            }
                            writeln!(
                                out,
                                "    batch {}: {} package(s), {} in all; {}",
                                n.batch,
                                n.packages,
                                n.total,
                                parts.join("; ")
                            )?;
                        }
                        if closest.is_empty() {
                            writeln!(out, "    no eligible package of the item")?;
                        }
                    }
                }
                if !excluded.is_empty() {
                    writeln!(out, "    left out: {}", excluded_words(excluded))?;
                }
            }
        }
    }
    if plan.lines.iter().any(|l| {
        matches!(
            &l.outcome,
            Outcome::Proposed {
                proposal: Proposal::Fit(_),
                accepted: false,
                ..
            }
        )
    }) {
        writeln!(out, "Record it with --accept.")?;
    }
    Ok(())
}

/// `tagtally items list`, for people.
pub fn print_items(store: &Store, out: &mut impl Write) -> Result<(), AppError> {
    let rows = store.item_map()?;
    if rows.is_empty() {
        writeln!(
            out,
            "No SKU is mapped (tagtally items map SKU \"Metrc item name\")."
        )?;
    }
    for r in rows {
        let by = r.mapped_by.map(|p| format!(" by {p}")).unwrap_or_default();
        writeln!(out, "{}\t{}\t(mapped {}{by})", r.sku, r.item, r.mapped_at)?;
    }
    Ok(())
}

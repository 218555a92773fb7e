//! Packages a person chose for a line, held to the rules a proposal keeps.

use std::collections::HashMap;
use std::fmt;

use chrono::NaiveDate;

use super::{Fit, Need, amount, batch_of, pick_of, show};
use crate::domain::package::{Package, Rules};
use crate::tag::MetrcTag;

/// Why a chosen package may not be allocated to the line.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    Unknown {
        tag: MetrcTag,
    },
    Twice {
        tag: MetrcTag,
    },
    OtherItem {
        tag: MetrcTag,
        item: String,
    },
    Ineligible {
        tag: MetrcTag,
        reason: &'static str,
    },
    AllocatedElsewhere {
        tag: MetrcTag,
        order: String,
    },
    OtherUnit {
        tag: MetrcTag,
        unit: String,
    },
    NoSingleBatch {
        tag: MetrcTag,
    },
    OtherBatch {
        tag: MetrcTag,
        batch: String,
        line_batch: String,
    },
    TwoBatches {
        batches: Vec<String>,
    },
    NotExact {
        sum: String,
        need: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Refusal::*;
        match self {
            Unknown { tag } => write!(f, "package {tag} is not in the package data"),
            Twice { tag } => write!(f, "package {tag} is given twice"),
            OtherItem { tag, item } => {
                write!(f, "package {tag} is {item:?}, not the line's item")
            }
            Ineligible { tag, reason } => {
                write!(f, "package {tag} breaks the pick rules: {reason}")
            }
            AllocatedElsewhere { tag, order } => {
                write!(
                    f,
                    "package {tag} is already allocated to open order {order}"
                )
            }
            OtherUnit { tag, unit } => write!(
                f,
                "package {tag} is counted in {unit}, which does not convert to the line's unit"
            ),
            NoSingleBatch { tag } => write!(f, "package {tag} has no single production batch"),
            OtherBatch {
                tag,
                batch,
                line_batch,
            } => write!(
                f,
                "package {tag} is from batch {batch}, the line is locked to batch {line_batch}"
            ),
            TwoBatches { batches } => write!(
                f,
                "the packages come from {} batches ({}): one batch per line",
                batches.len(),
                batches.join(", ")
            ),
            NotExact { sum, need } => write!(
                f,
                "the packages hold {sum}, the line needs {need}: the sum must be exact"
            ),
        }
    }
}

/// Hold packages a person chose for `need` to the rules [`super::propose`] keeps: the line's
/// item, eligible, not allocated elsewhere, one batch, summing exactly. Near-expiry
/// packages are allowed (a person chose them) and marked. Every problem is returned.
pub fn check_chosen(
    need: &Need,
    tags: &[MetrcTag],
    found: &HashMap<MetrcTag, Package>,
    held: &HashMap<MetrcTag, String>,
    rules: &Rules,
    today: NaiveDate,
) -> Result<Fit, Vec<Refusal>> {
    let mut refusals = Vec::new();
    let mut chosen: Vec<&Package> = Vec::new();
    let mut sum = 0;
    let mut batches: Vec<String> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let tag = tag.clone();
        if tags[..i].contains(&tag) {
            refusals.push(Refusal::Twice { tag });
            continue;
        }
        let Some(p) = found.get(&tag) else {
            refusals.push(Refusal::Unknown { tag });
            continue;
        };
        if !need.items.contains(&p.item.trim().to_lowercase()) {
            refusals.push(Refusal::OtherItem {
                tag,
                item: p.item.clone(),
            });
            continue;
        }
        if let Some(r) = p.ineligibility(rules, today) {
            refusals.push(Refusal::Ineligible {
                tag,
                reason: r.word(),
            });
            continue;
        }
        if let Some(order) = held.get(&tag) {
            refusals.push(Refusal::AllocatedElsewhere {
                tag,
                order: order.clone(),
            });
            continue;
        }
        match amount(p.quantity, &p.unit).filter(|a| a.measure == need.measure) {
            None => refusals.push(Refusal::OtherUnit {
                tag: tag.clone(),
                unit: p.unit.clone(),
            }),
            Some(a) => sum += a.units,
        }
        match (batch_of(p), need.batch.as_deref()) {
            (None, _) => refusals.push(Refusal::NoSingleBatch { tag }),
            (Some(b), Some(l)) if b != l => refusals.push(Refusal::OtherBatch {
                tag,
                batch: b.into(),
                line_batch: l.into(),
            }),
            (Some(b), _) => {
                if !batches.iter().any(|x| x == b) {
                    batches.push(b.to_string());
                }
            }
        }
        chosen.push(p);
    }
    if batches.len() > 1 {
        refusals.push(Refusal::TwoBatches {
            batches: batches.clone(),
        });
    }
    if refusals.is_empty() && sum != need.units {
        refusals.push(Refusal::NotExact {
            sum: show(sum, &need.unit),
            need: show(need.units, &need.unit),
        });
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    Ok(Fit {
        batch: batches.pop().unwrap_or_default(),
        near_expiry: chosen
            .iter()
            .any(|p| p.expires_soon(rules, today).is_some()),
        packages: chosen.iter().map(|p| pick_of(p, rules, today)).collect(),
    })
}

//! Allocation: which packages of ONE production batch fill an order line exactly.
//!
//! Pure: the store hands in the packages of the line's item and the tags other open
//! orders hold; [`propose`] answers with one batch's packages whose quantities sum
//! exactly to what the line still needs, or says that none does and shows the closest
//! batches. [`check_chosen`] holds packages a person chose to the same rules.
//!
//! Quantities are compared as whole numbers of the smallest unit ([`amount`]): mass in
//! milligrams (g, kg, oz, lb converted), counts (Each, Unit) in thousandths, each
//! package rounded to that resolution. Mass and count never mix.
//!
//! The search is a subset sum per batch: a dynamic programme over the reachable sums
//! (divided by the greatest common divisor of the quantities and the target), giving
//! the fewest packages for the exact sum, and the nearest sums below and above it. Its
//! work is bounded: at most [`MAX_CELLS`] (packages x sums) per batch; a batch beyond
//! that is reported as too large to search, never guessed at.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

use super::package::{Package, Rules};
use crate::tag::MetrcTag;

mod chosen;
mod search;
pub use chosen::{Refusal, check_chosen};
pub use search::{Search, exact, search};

/// Most cells (packages x reachable sums) the search of one batch may take: 4 million,
/// about half a megabyte of bits and a few milliseconds.
pub const MAX_CELLS: usize = 4_000_000;

/// What a quantity measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Milligrams.
    Mass,
    /// Thousandths of one.
    Count,
}

/// A quantity as a whole number of the smallest unit of its measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount {
    pub measure: Measure,
    pub units: i64,
}

/// The measure of a unit name and how many of the smallest unit one of it is.
/// The ounce and the pound are the international avoirdupois ones (exactly
/// 28.349523125 g and 453.59237 g; NIST Handbook 44, Appendix C).
pub fn unit_factor(unit: &str) -> Option<(Measure, f64)> {
    let u = unit.trim().to_ascii_lowercase();
    Some(match u.as_str() {
        "mg" | "milligram" | "milligrams" => (Measure::Mass, 1.0),
        "g" | "gram" | "grams" => (Measure::Mass, 1_000.0),
        "kg" | "kilogram" | "kilograms" => (Measure::Mass, 1_000_000.0),
        "oz" | "ounce" | "ounces" => (Measure::Mass, 28_349.523_125),
        "lb" | "lbs" | "pound" | "pounds" => (Measure::Mass, 453_592.37),
        "each" | "ea" | "unit" | "units" | "count" | "ct" | "pcs" => (Measure::Count, 1_000.0),
        _ => return None,
    })
}

/// `quantity` of `unit` in the smallest unit of its measure, or `None` for a unit
/// tagtally does not convert.
pub fn amount(quantity: f64, unit: &str) -> Option<Amount> {
    let (measure, factor) = unit_factor(unit)?;
    Some(Amount {
        measure,
        units: (quantity * factor).round() as i64,
    })
}

/// `units` of the smallest unit shown in `unit` ("3.5 g").
pub fn show(units: i64, unit: &str) -> String {
    let factor = unit_factor(unit).map_or(1.0, |(_, f)| f);
    let v = units as f64 / factor;
    let mut s = format!("{v:.3}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    format!("{s} {unit}")
}

/// The batch a package is allocated by: its own, or its one source batch.
pub fn batch_of(p: &Package) -> Option<&str> {
    match (&p.batch, p.source_batches.as_slice()) {
        (Some(b), _) => Some(b),
        (None, [one]) => Some(one),
        _ => None,
    }
}

/// What one line still needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Need {
    pub line: String,
    /// The line's unit as written, for showing amounts.
    pub unit: String,
    pub measure: Measure,
    /// Still to allocate, in the smallest unit.
    pub units: i64,
    /// The batch the line is locked to (by the import or its packages so far).
    pub batch: Option<String>,
    /// Lower-case Metrc item names the line stands for (the SKU's mapping, its name).
    pub items: Vec<String>,
}

/// Why a line cannot be allocated at all.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum NeedError {
    NoQuantity,
    UnknownUnit { unit: String },
    NoItem,
}

impl fmt::Display for NeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NeedError::NoQuantity => write!(f, "the line has no quantity and unit"),
            NeedError::UnknownUnit { unit } => write!(
                f,
                "unit {unit:?} is not one tagtally converts (g, kg, oz, lb, mg, Each)"
            ),
            NeedError::NoItem => write!(
                f,
                "the line has no SKU or name to match a Metrc item (tagtally items map SKU NAME)"
            ),
        }
    }
}

/// What `line` still needs, given the packages already allocated to it and the Metrc
/// item its SKU maps to. `Ok(None)`: it is fully allocated (or, without a quantity,
/// allocated by its import).
pub fn need(
    line: &super::Line,
    mapped_item: Option<&str>,
    allocated: &[&Package],
) -> Result<Option<Need>, NeedError> {
    let (Some(q), Some(unit)) = (line.quantity.as_deref(), line.unit.as_deref()) else {
        // An import's allocation of a line without a quantity stands as it is.
        return if allocated.is_empty() {
            Err(NeedError::NoQuantity)
        } else {
            Ok(None)
        };
    };
    let q: f64 = q.trim().parse().map_err(|_| NeedError::NoQuantity)?;
    let want = amount(q, unit).ok_or_else(|| NeedError::UnknownUnit { unit: unit.into() })?;
    let mut items: Vec<String> = mapped_item
        .into_iter()
        .chain(line.name.as_deref())
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    items.dedup();
    if items.is_empty() {
        return Err(NeedError::NoItem);
    }
    let have: i64 = allocated
        .iter()
        .filter_map(|p| amount(p.quantity, &p.unit))
        .filter(|a| a.measure == want.measure)
        .map(|a| a.units)
        .sum();
    if have >= want.units {
        return Ok(None);
    }
    let batch = line.batch.clone().or_else(|| {
        allocated
            .iter()
            .find_map(|p| batch_of(p).map(str::to_string))
    });
    Ok(Some(Need {
        line: line.id.clone(),
        unit: unit.to_string(),
        measure: want.measure,
        units: want.units - have,
        batch,
        items,
    }))
}

/// One package of a proposal.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pick {
    pub tag: MetrcTag,
    pub quantity: String,
    pub expiry: Option<NaiveDate>,
    /// Days to expiry when within `rules.expiry_warning_days`.
    pub expires_in_days: Option<i64>,
}

/// One batch's packages that fill the line exactly.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fit {
    pub batch: String,
    pub packages: Vec<Pick>,
    /// Near-expiry packages are in it: nothing else fitted.
    pub near_expiry: bool,
}

impl Fit {
    pub fn tags(&self) -> Vec<MetrcTag> {
        self.packages.iter().map(|p| p.tag.clone()).collect()
    }
}

/// A batch that does not fit exactly, and how near it comes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Near {
    pub batch: String,
    /// Eligible packages of the batch, and what they hold together.
    pub packages: usize,
    pub total: String,
    /// The nearest sum above the need, and the package to split in Metrc to send
    /// exactly the need (split the surplus off it).
    pub surplus: Option<String>,
    pub split: Option<MetrcTag>,
    /// The nearest sum below the need: what would still be missing.
    pub shortfall: Option<String>,
    /// More packages and sums than the search takes ([`MAX_CELLS`]).
    pub too_large: bool,
}

/// What [`propose`] found for one line.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Proposal {
    Fit(Fit),
    /// No single batch fits exactly: the closest batches, nearest first (never two
    /// batches for one line).
    NoFit {
        closest: Vec<Near>,
    },
}

/// Why a package of the item was left out, counted per reason for the answer.
pub type Excluded = BTreeMap<&'static str, usize>;

/// Search `packages` (those of the line's item) for one batch filling `need`
/// exactly. `held` maps tags allocated elsewhere (another open order, or another line
/// of this one) to that order. Among exact fits: the batch whose packages expire
/// first, then the oldest packaged, then the fewest packages, then the batch name;
/// near-expiry packages only when nothing else fits.
pub fn propose(
    need: &Need,
    packages: &[Package],
    held: &HashMap<MetrcTag, String>,
    rules: &Rules,
    today: NaiveDate,
) -> (Proposal, Excluded) {
    let mut excluded = Excluded::new();
    let mut batches: BTreeMap<&str, Vec<(&Package, i64)>> = BTreeMap::new();
    for p in packages {
        if !need.items.contains(&p.item.trim().to_lowercase()) {
            continue;
        }
        let why = if let Some(r) = p.ineligibility(rules, today) {
            Some(r.word())
        } else if held.contains_key(&p.label) {
            Some("allocated_elsewhere")
        } else {
            None
        };
        let a = amount(p.quantity, &p.unit).filter(|a| a.measure == need.measure);
        let batch = batch_of(p);
        let why = why.or(match (a, batch) {
            (None, _) => Some("other_unit"),
            (Some(a), _) if a.units <= 0 => Some("empty"),
            (_, None) => Some("no_single_batch"),
            (_, Some(b)) if need.batch.as_deref().is_some_and(|l| l != b) => Some("other_batch"),
            _ => None,
        });
        match (why, a, batch) {
            (None, Some(a), Some(b)) => batches.entry(b).or_default().push((p, a.units)),
            (why, _, _) => *excluded.entry(why.unwrap_or("other")).or_default() += 1,
        }
    }
    for list in batches.values_mut() {
        list.sort_by(|(a, _), (b, _)| rotation(a).cmp(&rotation(b)));
    }
    let soon = |p: &Package| p.expires_soon(rules, today).is_some();
    let near = batches.values().flatten().filter(|(p, _)| soon(p)).count();
    // First without near-expiry packages; only if nothing fits, with them.
    for with_near in [false, true] {
        let mut best: Option<(Rank, Fit)> = None;
        for (batch, list) in &batches {
            let usable: Vec<&(&Package, i64)> =
                list.iter().filter(|(p, _)| with_near || !soon(p)).collect();
            let qs: Vec<i64> = usable.iter().map(|(_, q)| *q).collect();
            let Some(idx) = exact(&qs, need.units) else {
                continue;
            };
            let chosen: Vec<&Package> = idx.iter().map(|&i| usable[i].0).collect();
            let rank = Rank {
                expiry: chosen.iter().filter_map(|p| p.expiry()).min(),
                packaged: chosen.iter().filter_map(|p| p.packaged).min(),
                count: chosen.len(),
                batch: batch.to_string(),
            };
            if best.as_ref().is_none_or(|(r, _)| rank.key() < r.key()) {
                let fit = Fit {
                    batch: batch.to_string(),
                    near_expiry: chosen.iter().any(|p| soon(p)),
                    packages: chosen.iter().map(|p| pick_of(p, rules, today)).collect(),
                };
                best = Some((rank, fit));
            }
        }
        if let Some((_, fit)) = best {
            if !with_near && near > 0 {
                excluded.insert("near_expiry_kept_back", near);
            }
            return (Proposal::Fit(fit), excluded);
        }
        if near == 0 {
            break;
        }
    }
    let mut closest: Vec<(i64, Near)> = batches
        .iter()
        .map(|(batch, list)| {
            let qs: Vec<i64> = list.iter().map(|(_, q)| *q).collect();
            near_of(batch, list, &qs, need)
        })
        .collect();
    closest.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.batch.cmp(&b.1.batch)));
    let closest = closest.into_iter().take(3).map(|(_, n)| n).collect();
    (Proposal::NoFit { closest }, excluded)
}

/// Stock rotation: expires first, then packaged first, then by tag.
fn rotation(p: &Package) -> (bool, Option<NaiveDate>, bool, Option<NaiveDate>, &str) {
    let e = p.expiry();
    (
        e.is_none(),
        e,
        p.packaged.is_none(),
        p.packaged,
        p.label.as_str(),
    )
}

struct Rank {
    expiry: Option<NaiveDate>,
    packaged: Option<NaiveDate>,
    count: usize,
    batch: String,
}

impl Rank {
    #[allow(clippy::type_complexity)]
    fn key(
        &self,
    ) -> (
        bool,
        Option<NaiveDate>,
        bool,
        Option<NaiveDate>,
        usize,
        &str,
    ) {
        (
            self.expiry.is_none(),
            self.expiry,
            self.packaged.is_none(),
            self.packaged,
            self.count,
            &self.batch,
        )
    }
}

fn pick_of(p: &Package, rules: &Rules, today: NaiveDate) -> Pick {
    Pick {
        tag: p.label.clone(),
        quantity: format!("{} {}", p.quantity, p.unit),
        expiry: p.expiry(),
        expires_in_days: p.expires_soon(rules, today),
    }
}

/// How near one batch comes, with its distance for sorting.
fn near_of(batch: &str, list: &[(&Package, i64)], qs: &[i64], need: &Need) -> (i64, Near) {
    let total: i64 = qs.iter().sum();
    let mut near = Near {
        batch: batch.to_string(),
        packages: qs.len(),
        total: show(total, &need.unit),
        surplus: None,
        split: None,
        shortfall: None,
        too_large: false,
    };
    let mut distance = i64::MAX;
    match search(qs, need.units) {
        Search::TooLarge => near.too_large = true,
        Search::Done { below, above, .. } => {
            if let Some((sum, _)) = &below {
                distance = need.units - sum;
                near.shortfall = Some(show(need.units - sum, &need.unit));
            }
            if let Some((sum, idx)) = &above {
                let over = sum - need.units;
                distance = distance.min(over);
                near.surplus = Some(show(over, &need.unit));
                // Any package of the set holding more than the surplus can give it up.
                near.split = idx
                    .iter()
                    .map(|&i| (list[i].1, &list[i].0.label))
                    .filter(|(q, _)| *q > over)
                    .min_by_key(|(q, _)| *q)
                    .map(|(_, t)| t.clone());
            }
        }
    }
    (distance, near)
}

#[cfg(test)]
#[path = "allocate_tests.rs"]
mod tests;

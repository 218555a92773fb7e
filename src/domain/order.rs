//! A wholesale order, its lines and the Metrc packages allocated to them, and the
//! allocation rules checked at import (one batch a line, one open order a tag).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::package::Package;
use crate::tag::MetrcTag;

/// An order as imported from LeafLink or CSV.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// The order's key: LeafLink `number`, or the CSV `order` column.
    pub number: String,
    /// LeafLink `short_id`, which people also type.
    pub short_id: Option<String>,
    pub status: OrderStatus,
    pub buyer: String,
    pub buyer_license: Option<String>,
    /// The platform says the buyer's license is inactive (LeafLink
    /// `customer.license_inactive`): a license hold whatever the register says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub buyer_license_inactive: bool,
    pub ship_date: Option<String>,
    /// Where it goes (LeafLink `delivery_address`), for the manifest's planned route.
    #[serde(default)]
    pub delivery_address: Option<String>,
    pub lines: Vec<Line>,
}

/// One order line, locked to one batch, with its allocated package tags.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub id: String,
    pub sku: Option<String>,
    pub name: Option<String>,
    /// Ordered quantity as the source wrote it (LeafLink sends a string).
    pub quantity: Option<String>,
    pub unit: Option<String>,
    pub batch: Option<String>,
    /// Price of one unit of the line (`unit`), in cents (LeafLink
    /// `ordered_unit_price.amount`, CSV `unit_price`).
    #[serde(default)]
    pub unit_price_cents: Option<i64>,
    pub tags: Vec<MetrcTag>,
}

impl Line {
    /// What to call the line on a screen.
    pub fn label(&self) -> &str {
        self.name
            .as_deref()
            .or(self.sku.as_deref())
            .unwrap_or(&self.id)
    }
}

/// Parse a money amount ("12", "12.5", "12.00", "$1,234.56") into cents. More than
/// two decimals, a sign or anything else is refused: prices are never rounded silently.
pub fn parse_cents(text: &str) -> Result<i64, String> {
    let t: String = text
        .trim()
        .trim_start_matches('$')
        .chars()
        .filter(|c| *c != ',')
        .collect();
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (!frac.is_empty() && !digits(frac)) || frac.len() > 2 || whole.len() > 12 {
        return Err(format!("{text:?} is not an amount like 12.50"));
    }
    let whole: i64 = whole
        .parse()
        .map_err(|_| format!("{text:?} is too large"))?;
    let frac: i64 = format!("{frac:0<2}").parse().unwrap_or(0);
    Ok(whole * 100 + frac)
}

/// LeafLink order status. Shipped, Complete, Rejected and Cancelled orders are closed:
/// their tags are free to allocate again and they cannot be picked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderStatus(pub String);

impl OrderStatus {
    pub const CLOSED: [&'static str; 4] = ["Shipped", "Complete", "Rejected", "Cancelled"];

    /// A platform status that closes the order (shipped, complete, rejected,
    /// cancelled). What decides whether an order is open is the store's
    /// (`Store::order_open`): an import sets it from this, a hub snapshot can clear it.
    pub fn closes_the_order(&self) -> bool {
        Self::CLOSED
            .iter()
            .any(|c| c.eq_ignore_ascii_case(self.0.trim()))
    }
}

/// One allocated tag, as the store indexes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    pub order: String,
    pub line: String,
    pub tag: MetrcTag,
}

/// Why an order's allocation is refused at import.
#[derive(Clone, Debug, PartialEq)]
pub enum AllocationError {
    NoLines,
    DuplicateLine {
        line: String,
    },
    TagsWithoutBatch {
        line: String,
    },
    UnknownPackage {
        line: String,
        tag: MetrcTag,
    },
    WrongBatch {
        line: String,
        tag: MetrcTag,
        line_batch: String,
        package_batch: String,
    },
    TagTwiceInOrder {
        tag: MetrcTag,
        lines: (String, String),
    },
    AllocatedToOtherOrder {
        line: String,
        tag: MetrcTag,
        other: String,
    },
    PickedTagRemoved {
        tag: MetrcTag,
    },
}

impl fmt::Display for AllocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use AllocationError::*;
        match self {
            NoLines => write!(f, "the order has no lines"),
            DuplicateLine { line } => write!(f, "line {line} appears twice"),
            TagsWithoutBatch { line } => write!(
                f,
                "line {line} has allocated packages but no batch: every line is locked to one batch"
            ),
            UnknownPackage { line, tag } => write!(
                f,
                "line {line}: package {tag} is not in the package data; import the facility's packages first (tagtally import packages FILE)"
            ),
            WrongBatch {
                line,
                tag,
                line_batch,
                package_batch,
            } => write!(
                f,
                "line {line}: package {tag} is from batch {package_batch}, not the line's batch {line_batch} (one batch per line)"
            ),
            TagTwiceInOrder { tag, lines } => write!(
                f,
                "package {tag} is allocated twice in this order (lines {} and {})",
                lines.0, lines.1
            ),
            AllocatedToOtherOrder { line, tag, other } => write!(
                f,
                "line {line}: package {tag} is already allocated to open order {other}"
            ),
            PickedTagRemoved { tag } => write!(
                f,
                "package {tag} has already been picked for this order and cannot be de-allocated by a re-import; undo the pick first"
            ),
        }
    }
}

/// What the allocation check needs to know about the tags an order names.
#[derive(Debug, Default)]
pub struct AllocationFacts {
    /// The imported packages among the order's tags.
    pub packages: HashMap<MetrcTag, Package>,
    /// Tags held by other open orders, with that order's number.
    pub held_elsewhere: HashMap<MetrcTag, String>,
    /// Tags already picked on this order (for a re-import).
    pub picked: Vec<MetrcTag>,
}

impl Order {
    /// All allocated tags with their line.
    pub fn allocations(&self) -> impl Iterator<Item = Allocation> + '_ {
        self.lines.iter().flat_map(move |l| {
            l.tags.iter().map(move |t| Allocation {
                order: self.number.clone(),
                line: l.id.clone(),
                tag: t.clone(),
            })
        })
    }

    /// Check the one-batch rule, that every tag is a known package, and that no tag is
    /// held by two open orders. Returns every problem found, not just the first.
    pub fn check_allocation(&self, facts: &AllocationFacts) -> Vec<AllocationError> {
        let mut errors = Vec::new();
        if self.lines.is_empty() {
            errors.push(AllocationError::NoLines);
        }
        let mut seen_lines = HashMap::new();
        let mut seen_tags: BTreeMap<&MetrcTag, &str> = BTreeMap::new();
        for line in &self.lines {
            if seen_lines.insert(line.id.as_str(), ()).is_some() {
                errors.push(AllocationError::DuplicateLine {
                    line: line.id.clone(),
                });
            }
            if !line.tags.is_empty() && line.batch.is_none() {
                errors.push(AllocationError::TagsWithoutBatch {
                    line: line.id.clone(),
                });
            }
            for tag in &line.tags {
                if let Some(first) = seen_tags.insert(tag, &line.id) {
                    errors.push(AllocationError::TagTwiceInOrder {
                        tag: tag.clone(),
                        lines: (first.to_string(), line.id.clone()),
                    });
                }
                match facts.packages.get(tag) {
                    None => errors.push(AllocationError::UnknownPackage {
                        line: line.id.clone(),
                        tag: tag.clone(),
                    }),
                    Some(p) => {
                        if let Some(batch) = &line.batch
                            && !p.in_batch(batch)
                        {
                            errors.push(AllocationError::WrongBatch {
                                line: line.id.clone(),
                                tag: tag.clone(),
                                line_batch: batch.clone(),
                                package_batch: p.batch_label(),
                            });
                        }
                    }
                }
                if !self.status.closes_the_order()
                    && let Some(other) = facts.held_elsewhere.get(tag)
                {
                    errors.push(AllocationError::AllocatedToOtherOrder {
                        line: line.id.clone(),
                        tag: tag.clone(),
                        other: other.clone(),
                    });
                }
            }
        }
        for tag in &facts.picked {
            if !seen_tags.contains_key(tag) {
                errors.push(AllocationError::PickedTagRemoved { tag: tag.clone() });
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn money_parses_to_cents_or_is_refused() {
        for (text, cents) in [
            ("12", 1200),
            ("12.5", 1250),
            ("12.05", 1205),
            ("$1,234.56", 123456),
            ("0.99", 99),
        ] {
            assert_eq!(super::parse_cents(text), Ok(cents), "{text}");
        }
        for bad in ["", "-1", "1.234", "abc", ".5", "1e3", "99999999999999"] {
            assert!(super::parse_cents(bad).is_err(), "{bad}");
        }
    }

    use super::*;
    use crate::domain::package::tests::pkg;

    fn tag(s: &str) -> MetrcTag {
        MetrcTag::new(s).unwrap()
    }

    fn order(lines: Vec<Line>) -> Order {
        Order {
            delivery_address: None,
            number: "SO-1".into(),
            short_id: None,
            status: OrderStatus("Accepted".into()),
            buyer: "Green Door".into(),
            buyer_license: Some("C10-0000001-LIC".into()),
            buyer_license_inactive: false,
            ship_date: None,
            lines,
        }
    }

    fn line(id: &str, batch: &str, tags: &[&str]) -> Line {
        Line {
            unit_price_cents: None,
            id: id.into(),
            sku: None,
            name: None,
            quantity: None,
            unit: None,
            batch: Some(batch.into()),
            tags: tags.iter().map(|t| tag(t)).collect(),
        }
    }

    const A: &str = "1A4000000000000000000001";
    const B: &str = "1A4000000000000000000002";
    const C: &str = "1A4000000000000000000003";

    fn facts() -> AllocationFacts {
        let mut f = AllocationFacts::default();
        for (t, b) in [(A, "B1"), (B, "B1"), (C, "B2")] {
            f.packages.insert(tag(t), pkg(t, "Item", b));
        }
        f
    }

    #[test]
    fn good_allocation_passes() {
        let o = order(vec![line("1", "B1", &[A, B]), line("2", "B2", &[C])]);
        assert_eq!(o.check_allocation(&facts()), vec![]);
        assert_eq!(o.allocations().count(), 3);
    }

    #[test]
    fn each_rule_is_reported() {
        let o = order(vec![
            line("1", "B1", &[A, C]),
            line("2", "B2", &[A, "1A4000000000000000000009"]),
        ]);
        let mut f = facts();
        f.held_elsewhere.insert(tag(B), "SO-0".into());
        let errs = o.check_allocation(&f);
        assert!(matches!(&errs[0], AllocationError::WrongBatch { tag, .. } if tag.as_str() == C));
        assert!(matches!(&errs[1], AllocationError::TagTwiceInOrder { .. }));
        assert!(matches!(&errs[2], AllocationError::WrongBatch { tag, .. } if tag.as_str() == A));
        assert!(matches!(&errs[3], AllocationError::UnknownPackage { .. }));
        assert_eq!(errs.len(), 4);

        let o = order(vec![line("1", "B1", &[B])]);
        let errs = o.check_allocation(&f);
        assert_eq!(
            errs,
            vec![AllocationError::AllocatedToOtherOrder {
                line: "1".into(),
                tag: tag(B),
                other: "SO-0".into()
            }]
        );
        assert!(errs[0].to_string().contains("SO-0"));
    }

    #[test]
    fn closed_orders_do_not_hold_tags() {
        let mut o = order(vec![line("1", "B1", &[B])]);
        o.status = OrderStatus("Cancelled".into());
        let mut f = facts();
        f.held_elsewhere.insert(tag(B), "SO-0".into());
        assert_eq!(o.check_allocation(&f), vec![]);
        assert!(o.status.closes_the_order());
        assert!(!OrderStatus("backorder".into()).closes_the_order());
    }

    #[test]
    fn derived_package_matches_a_source_batch() {
        let o = order(vec![line("1", "B9", &[A])]);
        let mut f = facts();
        let p = f.packages.get_mut(&tag(A)).unwrap();
        p.batch = None;
        p.source_batches = vec!["B8".into(), "B9".into()];
        assert_eq!(o.check_allocation(&f), vec![]);
    }

    #[test]
    fn missing_batch_duplicate_line_and_removed_pick_are_refused() {
        let mut l = line("1", "B1", &[A]);
        l.batch = None;
        let o = order(vec![l, line("1", "B1", &[])]);
        let mut f = facts();
        f.picked.push(tag(B));
        let errs = o.check_allocation(&f);
        assert!(errs.contains(&AllocationError::TagsWithoutBatch { line: "1".into() }));
        assert!(errs.contains(&AllocationError::DuplicateLine { line: "1".into() }));
        assert!(errs.contains(&AllocationError::PickedTagRemoved { tag: tag(B) }));
        assert_eq!(
            order(vec![]).check_allocation(&f)[0],
            AllocationError::NoLines
        );
    }
}

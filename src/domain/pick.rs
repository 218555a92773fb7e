//! The pick check: one scan against one order's allocated list gives one [`Verdict`].
//!
//! [`decide`] is the only place the verdict precedence lives. It takes the order's
//! [`PickList`], what has been picked so far ([`PickState`]) and the facts the store
//! holds about the scanned tag ([`TagFacts`]); it does no IO and its cost does not
//! depend on the size of the order.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::order::Order;
use super::package::{Ineligibility, Package, Rules};
pub use super::state::{LineProgress, PickState, Progress};
use crate::tag::{MetrcTag, NotATag};

/// The answer to one scan. Exactly one applies, in the order of the variants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Not a plausible Metrc tag.
    NotATag { reason: NotATag },
    /// This order already holds this pick (from this or another device).
    AlreadyScanned { line: String },
    /// Allocated to this order but blocked today.
    Ineligible { line: String, reason: Ineligibility },
    /// Allocated, eligible, not yet picked: the pick is recorded.
    Accepted {
        line: String,
        /// Set when the package expires within the warning horizon.
        expires_in_days: Option<i64>,
    },
    /// Allocated to another open order.
    WrongOrder { order: String, line: String },
    /// A package of an item on this order, from a batch other than the line's.
    WrongBatch {
        line: String,
        batch: String,
        expected: String,
    },
    /// Anything else.
    NotOnList {
        reason: NotOnListReason,
        line: Option<String>,
    },
    // Load and delivery ([`crate::domain::ship`]) answer with the verdicts above and
    // these.
    /// Load: on the manifest, and now on the vehicle.
    Loaded { line: String },
    /// Load: already on the vehicle.
    AlreadyLoaded { line: String },
    /// Load: allocated to an order of this load but never confirmed picked.
    NotPicked { line: String },
    /// Load or delivery: a supervisor took it off the shipment.
    Removed { line: String, reason: String },
    /// Delivery: handed over; the receiver accepts it unless they reject it.
    HandedOver { line: String },
    /// Delivery: not on the vehicle's confirmed manifest.
    NotOnManifest,
    /// The load is already confirmed, or the delivery already finished: nothing more is
    /// recorded on it.
    Finished { stage: String },
}

/// Why a tag is not on the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotOnListReason {
    /// No package with this tag has been imported.
    UnknownPackage,
    /// A package of this order's batch that is not allocated: a possible substitution.
    SameBatchUnallocated,
    /// A known package of an item this order does not have.
    ItemNotOnOrder,
}

impl NotOnListReason {
    pub fn word(self) -> &'static str {
        match self {
            NotOnListReason::UnknownPackage => "unknown_package",
            NotOnListReason::SameBatchUnallocated => "same_batch_unallocated",
            NotOnListReason::ItemNotOnOrder => "item_not_on_order",
        }
    }
}

impl Verdict {
    /// The fixed verdict word.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::NotATag { .. } => "not_a_tag",
            Verdict::AlreadyScanned { .. } => "already_scanned",
            Verdict::Ineligible { .. } => "ineligible",
            Verdict::Accepted { .. } => "accepted",
            Verdict::WrongOrder { .. } => "wrong_order",
            Verdict::WrongBatch { .. } => "wrong_batch",
            Verdict::NotOnList { .. } => "not_on_list",
            Verdict::Loaded { .. } => "loaded",
            Verdict::AlreadyLoaded { .. } => "already_loaded",
            Verdict::NotPicked { .. } => "not_picked",
            Verdict::Removed { .. } => "removed",
            Verdict::HandedOver { .. } => "handed_over",
            Verdict::NotOnManifest => "not_on_manifest",
            Verdict::Finished { .. } => "finished",
        }
    }

    /// The reason word, if the verdict has one.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Verdict::NotATag { reason } => Some(reason.word()),
            Verdict::Ineligible { reason, .. } => Some(reason.word()),
            Verdict::NotOnList { reason, .. } => Some(reason.word()),
            _ => None,
        }
    }

    /// The line of this order the verdict concerns, where known.
    pub fn line(&self) -> Option<&str> {
        match self {
            Verdict::AlreadyScanned { line }
            | Verdict::Ineligible { line, .. }
            | Verdict::Accepted { line, .. }
            | Verdict::WrongBatch { line, .. }
            | Verdict::Loaded { line }
            | Verdict::AlreadyLoaded { line }
            | Verdict::NotPicked { line }
            | Verdict::Removed { line, .. }
            | Verdict::HandedOver { line } => Some(line),
            Verdict::NotOnList { line, .. } => line.as_deref(),
            Verdict::NotATag { .. }
            | Verdict::WrongOrder { .. }
            | Verdict::NotOnManifest
            | Verdict::Finished { .. } => None,
        }
    }

    /// Green on the screen: the scan did what was asked (picked, loaded, handed over).
    pub fn is_accepted(&self) -> bool {
        matches!(
            self,
            Verdict::Accepted { .. } | Verdict::Loaded { .. } | Verdict::HandedOver { .. }
        )
    }

    /// One sentence for the person holding the scanner: what happened, what to do.
    pub fn message(&self) -> String {
        match self {
            Verdict::NotATag { reason } => match reason {
                NotATag::Malformed => "Not a Metrc package tag. Scan the tag's barcode.".into(),
                NotATag::RetailId => {
                    "That is a Retail ID QR code, not the package tag. Scan the package tag."
                        .into()
                }
                NotATag::OtherBarcode => {
                    "That is a product barcode (UPC/EAN), not the package tag. Scan the package tag."
                        .into()
                }
            },
            Verdict::AlreadyScanned { line } => {
                format!("Already picked on line {line}. Do not add it twice.")
            }
            Verdict::Ineligible { reason, .. } => {
                let why = match reason {
                    Ineligibility::OnHold => "is on hold",
                    Ineligibility::Recall => "is on recall",
                    Ineligibility::Investigation => "is under investigation",
                    Ineligibility::LabState => "has not passed lab testing",
                    Ineligibility::Expired => "is past its expiration date",
                    Ineligibility::Finished => "is finished or archived in Metrc",
                    Ineligibility::NoCoa => "has no certificate of analysis (COA) in Metrc",
                };
                format!("This package {why}. Set it aside and tell a supervisor.")
            }
            Verdict::Accepted {
                line,
                expires_in_days,
            } => match expires_in_days {
                Some(d) => format!("Picked for line {line}. Note: it expires in {d} day(s)."),
                None => format!("Picked for line {line}."),
            },
            Verdict::WrongOrder { order, .. } => {
                format!("This package belongs to order {order}. Put it back.")
            }
            Verdict::WrongBatch {
                batch, expected, ..
            } => format!(
                "Wrong batch: this package is batch {batch}, the line needs batch {expected}. Put it back."
            ),
            Verdict::NotOnList { reason, line } => match (reason, line) {
                (NotOnListReason::SameBatchUnallocated, Some(l)) => format!(
                    "Same batch as line {l} but not allocated. Put it back, or ask a supervisor to substitute."
                ),
                (NotOnListReason::UnknownPackage, _) => {
                    "Unknown package: not in the facility's package data. Put it aside.".into()
                }
                _ => "Not on this order's pick list. Put it back.".into(),
            },
            Verdict::Loaded { line } => format!("Loaded: line {line}."),
            Verdict::AlreadyLoaded { line } => {
                format!("Already on the vehicle (line {line}). Do not load it twice.")
            }
            Verdict::NotPicked { line } => format!(
                "Line {line} never confirmed this package picked. Keep it off the vehicle and tell the vault."
            ),
            Verdict::Removed { reason, .. } => format!(
                "Taken off the shipment by a supervisor ({reason}). Keep it off the vehicle."
            ),
            Verdict::HandedOver { line } => {
                format!("Handed over (line {line}): accepted unless the receiver rejects it.")
            }
            Verdict::NotOnManifest => {
                "Not on this vehicle's manifest. Do not hand it over; put it aside.".into()
            }
            Verdict::Finished { stage } => {
                format!("This {stage} is already finished: nothing more is recorded on it.")
            }
        }
    }
}

/// What the store knows about one scanned tag, looked up before [`decide`].
#[derive(Clone, Debug, Default)]
pub struct TagFacts {
    pub package: Option<Package>,
    /// Open orders holding this tag, with the line (this order included, if it does).
    pub allocated_to: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct PickLine {
    pub id: String,
    pub label: String,
    pub batch: Option<String>,
    pub allocated: usize,
    /// Lower-case item names this line covers: its allocated packages' items and its name.
    items: HashSet<String>,
}

/// The allocated list of one order, indexed for constant-time checks.
#[derive(Clone, Debug)]
pub struct PickList {
    pub order: String,
    pub buyer: String,
    pub lines: Vec<PickLine>,
    by_tag: HashMap<MetrcTag, usize>,
    by_id: HashMap<String, usize>,
}

impl PickList {
    /// Build from an order and the packages of its allocated tags (for item names).
    pub fn new(order: &Order, packages: &HashMap<MetrcTag, Package>) -> Self {
        let mut by_tag = HashMap::new();
        let mut by_id = HashMap::new();
        let lines = order
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                by_id.insert(l.id.clone(), i);
                let mut items: HashSet<String> = l
                    .tags
                    .iter()
                    .filter_map(|t| packages.get(t))
                    .map(|p| p.item.trim().to_lowercase())
                    .collect();
                for t in &l.tags {
                    by_tag.insert(t.clone(), i);
                }
                if let Some(n) = &l.name {
                    items.insert(n.trim().to_lowercase());
                }
                PickLine {
                    id: l.id.clone(),
                    label: l
                        .name
                        .clone()
                        .or_else(|| {
                            l.tags
                                .iter()
                                .find_map(|t| packages.get(t))
                                .map(|p| p.item.clone())
                        })
                        .unwrap_or_else(|| l.label().to_string()),
                    batch: l.batch.clone(),
                    allocated: l.tags.len(),
                    items,
                }
            })
            .collect();
        PickList {
            order: order.number.clone(),
            buyer: order.buyer.clone(),
            lines,
            by_tag,
            by_id,
        }
    }

    pub fn total(&self) -> usize {
        self.by_tag.len()
    }

    pub fn line_of(&self, tag: &MetrcTag) -> Option<&PickLine> {
        self.by_tag.get(tag).map(|&i| &self.lines[i])
    }

    pub fn line(&self, id: &str) -> Option<&PickLine> {
        self.by_id.get(id).map(|&i| &self.lines[i])
    }

    /// Allocated tags of a line, for a picker's list.
    pub fn tags_of<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a MetrcTag> + 'a {
        let idx = self.by_id.get(id).copied();
        self.by_tag
            .iter()
            .filter(move |(_, i)| Some(**i) == idx)
            .map(|(t, _)| t)
    }
}

/// Decide the verdict for one scan. Precedence: not a tag, already scanned, ineligible,
/// accepted, wrong order, wrong batch, not on list.
pub fn decide(
    list: &PickList,
    state: &PickState,
    scan: &Result<MetrcTag, NotATag>,
    facts: &TagFacts,
    rules: &Rules,
    today: NaiveDate,
) -> Verdict {
    let tag = match scan {
        Ok(t) => t,
        Err(reason) => return Verdict::NotATag { reason: *reason },
    };
    if let Some(line) = state.line_picked(tag) {
        return Verdict::AlreadyScanned { line: line.into() };
    }
    if let Some(line) = list.line_of(tag) {
        let line_id = line.id.clone();
        let Some(pkg) = &facts.package else {
            return Verdict::NotOnList {
                reason: NotOnListReason::UnknownPackage,
                line: Some(line_id),
            };
        };
        if let Some(reason) = pkg.ineligibility(rules, today) {
            return Verdict::Ineligible {
                line: line_id,
                reason,
            };
        }
        // A re-imported package that left the line's batch breaks the one-batch rule.
        if let Some(expected) = &line.batch
            && !pkg.in_batch(expected)
        {
            return Verdict::WrongBatch {
                line: line_id,
                batch: pkg.batch_label(),
                expected: expected.clone(),
            };
        }
        return Verdict::Accepted {
            line: line_id,
            expires_in_days: pkg.expires_soon(rules, today),
        };
    }
    if let Some((order, line)) = facts.allocated_to.iter().find(|(o, _)| *o != list.order) {
        return Verdict::WrongOrder {
            order: order.clone(),
            line: line.clone(),
        };
    }
    let Some(pkg) = &facts.package else {
        return Verdict::NotOnList {
            reason: NotOnListReason::UnknownPackage,
            line: None,
        };
    };
    let item = pkg.item.trim().to_lowercase();
    if let Some(line) = list.lines.iter().find(|l| l.items.contains(&item)) {
        return match &line.batch {
            Some(b) if pkg.in_batch(b) => Verdict::NotOnList {
                reason: NotOnListReason::SameBatchUnallocated,
                line: Some(line.id.clone()),
            },
            Some(b) => Verdict::WrongBatch {
                line: line.id.clone(),
                batch: pkg.batch_label(),
                expected: b.clone(),
            },
            None => Verdict::NotOnList {
                reason: NotOnListReason::ItemNotOnOrder,
                line: None,
            },
        };
    }
    if let Some(line) = list
        .lines
        .iter()
        .find(|l| l.batch.as_deref().is_some_and(|b| pkg.in_batch(b)))
    {
        return Verdict::NotOnList {
            reason: NotOnListReason::SameBatchUnallocated,
            line: Some(line.id.clone()),
        };
    }
    Verdict::NotOnList {
        reason: NotOnListReason::ItemNotOnOrder,
        line: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{Event, EventKind};
    use crate::domain::order::{Line, OrderStatus};
    use crate::domain::package::tests::pkg;
    use crate::tag::TagParser;

    const T1: &str = "1A4000000000000000000001"; // line 1, eligible
    const T2: &str = "1A4000000000000000000002"; // line 1, on hold
    const T3: &str = "1A4000000000000000000003"; // line 2, eligible, expires soon
    const T4: &str = "1A4000000000000000000004"; // line 2, expired
    const T5: &str = "1A4000000000000000000005"; // other order SO-2, same item as line 1
    const T6: &str = "1A4000000000000000000006"; // unallocated, line 1's item, other batch
    const T7: &str = "1A4000000000000000000007"; // unallocated, line 1's batch
    const T8: &str = "1A4000000000000000000008"; // unallocated, item not on order
    const T9: &str = "1A4000000000000000000009"; // unknown package
    const T10: &str = "1A400000000000000000000A"; // line 2, allocated, re-imported into another batch
    const T11: &str = "1A400000000000000000000B"; // unallocated derived package from line 2's batch

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    struct World {
        list: PickList,
        packages: HashMap<MetrcTag, Package>,
        allocations: HashMap<MetrcTag, Vec<(String, String)>>,
    }

    fn world() -> World {
        let t = |s: &str| MetrcTag::new(s).unwrap();
        let mut packages = HashMap::new();
        let mut add = |p: Package| {
            packages.insert(p.label.clone(), p);
        };
        add(pkg(T1, "Blue Dream 3.5g", "BD-1"));
        add(Package {
            on_hold: true,
            ..pkg(T2, "Blue Dream 3.5g", "BD-1")
        });
        add(Package {
            expiration: Some(day("2026-12-01")),
            ..pkg(T3, "OG Kush 1g", "OG-1")
        });
        add(Package {
            expiration: Some(day("2026-11-01")),
            ..pkg(T4, "OG Kush 1g", "OG-1")
        });
        add(pkg(T5, "Blue Dream 3.5g", "BD-1"));
        add(pkg(T6, "Blue Dream 3.5g", "BD-0"));
        add(pkg(T7, "Blue Dream 3.5g", "BD-1"));
        add(pkg(T8, "Sour Diesel 3.5g", "SD-1"));
        add(pkg(T10, "OG Kush 1g", "OG-2"));
        add(Package {
            batch: None,
            source_batches: vec!["OG-1".into()],
            ..pkg(T11, "OG Kush Shake", "OG-1")
        });
        let order = Order {
            delivery_address: None,
            number: "SO-1".into(),
            short_id: None,
            status: OrderStatus("Accepted".into()),
            buyer: "Green Door".into(),
            buyer_license: None,
            buyer_license_inactive: false,
            ship_date: None,
            lines: vec![
                Line {
                    unit_price_cents: None,
                    id: "1".into(),
                    sku: Some("BD-35".into()),
                    name: None,
                    quantity: Some("2".into()),
                    unit: None,
                    batch: Some("BD-1".into()),
                    tags: vec![t(T1), t(T2)],
                },
                Line {
                    unit_price_cents: None,
                    id: "2".into(),
                    sku: None,
                    name: Some("OG Kush 1g".into()),
                    quantity: Some("3".into()),
                    unit: None,
                    batch: Some("OG-1".into()),
                    tags: vec![t(T3), t(T4), t(T10)],
                },
            ],
        };
        let list = PickList::new(&order, &packages);
        let mut allocations: HashMap<MetrcTag, Vec<(String, String)>> = HashMap::new();
        for a in order.allocations() {
            allocations
                .entry(a.tag)
                .or_default()
                .push((a.order, a.line));
        }
        allocations.insert(t(T5), vec![("SO-2".into(), "9".into())]);
        World {
            list,
            packages,
            allocations,
        }
    }

    impl World {
        fn decide(&self, state: &PickState, raw: &str) -> Verdict {
            let parsed = TagParser::default().parse(raw.as_bytes());
            let facts = match &parsed {
                Ok(tag) => TagFacts {
                    package: self.packages.get(tag).cloned(),
                    allocated_to: self.allocations.get(tag).cloned().unwrap_or_default(),
                },
                Err(_) => TagFacts::default(),
            };
            decide(
                &self.list,
                state,
                &parsed,
                &facts,
                &Rules::default(),
                day("2026-11-27"),
            )
        }
    }

    fn accepted(tag: &str, line: &str) -> Event {
        Event {
            person: None,
            device: "d1".into(),
            seq: 1,
            at: "2026-11-27T00:00:00.000Z".into(),
            order: "SO-1".into(),
            kind: EventKind::scan(
                tag.as_bytes(),
                tag.len(),
                MetrcTag::new(tag).ok(),
                Verdict::Accepted {
                    line: line.into(),
                    expires_in_days: None,
                },
            ),
        }
    }

    #[test]
    fn verdict_table() {
        let w = world();
        let mut state = PickState::default();
        state.apply(&accepted(T1, "1"));
        let s = |x: &str| Some(x.to_string());
        // (scan, verdict word, reason word, line)
        let table: &[(&str, &str, Option<&str>, Option<String>)] = &[
            ("nonsense", "not_a_tag", Some("malformed"), None),
            (
                "https://id.1a4.com/abc",
                "not_a_tag",
                Some("retail_id"),
                None,
            ),
            ("0012345678905", "not_a_tag", Some("other_barcode"), None),
            (T1, "already_scanned", None, s("1")),
            (&T1.to_lowercase(), "already_scanned", None, s("1")),
            (T2, "ineligible", Some("on_hold"), s("1")),
            (T4, "ineligible", Some("expired"), s("2")),
            (T3, "accepted", None, s("2")),
            (T5, "wrong_order", None, None),
            (T6, "wrong_batch", None, s("1")),
            (T10, "wrong_batch", None, s("2")),
            (T7, "not_on_list", Some("same_batch_unallocated"), s("1")),
            (T11, "not_on_list", Some("same_batch_unallocated"), s("2")),
            (T8, "not_on_list", Some("item_not_on_order"), None),
            (T9, "not_on_list", Some("unknown_package"), None),
        ];
        for (raw, word, reason, line) in table {
            let v = w.decide(&state, raw);
            assert_eq!(
                (v.word(), v.reason(), v.line().map(str::to_string)),
                (*word, *reason, line.clone()),
                "scan {raw}: {v:?}"
            );
            assert!(!v.message().is_empty());
        }
    }

    #[test]
    fn accepted_warns_near_expiry_and_names_the_other_order() {
        let w = world();
        let state = PickState::default();
        assert_eq!(
            w.decide(&state, T3),
            Verdict::Accepted {
                line: "2".into(),
                expires_in_days: Some(4)
            }
        );
        assert_eq!(
            w.decide(&state, T5),
            Verdict::WrongOrder {
                order: "SO-2".into(),
                line: "9".into()
            }
        );
    }

    #[test]
    fn already_scanned_wins_over_a_later_hold() {
        // Picked while eligible, put on hold afterwards: the pick stands, the rescan
        // says already scanned (precedence), not ineligible.
        let mut w = world();
        let mut state = PickState::default();
        state.apply(&accepted(T1, "1"));
        w.packages
            .get_mut(&MetrcTag::new(T1).unwrap())
            .unwrap()
            .on_hold = true;
        assert_eq!(w.decide(&state, T1).word(), "already_scanned");
    }

    #[test]
    fn state_folds_picks_undos_and_shorts() {
        let w = world();
        let mut state = PickState::default();
        state.apply(&accepted(T1, "1"));
        state.apply(&accepted(T3, "2"));
        let p = state.progress(&w.list);
        assert_eq!((p.picked, p.total, p.complete), (2, 5, false));
        let undo = Event {
            kind: EventKind::Undo {
                tag: MetrcTag::new(T3).unwrap(),
                reason: "wrong shelf".into(),
                undoes: vec![],
            },
            ..accepted(T3, "2")
        };
        state.apply(&undo);
        assert_eq!(w.decide(&state, T3).word(), "accepted");
        let short = |line: &str| Event {
            kind: EventKind::Short {
                line: line.into(),
                reason: "damaged".into(),
            },
            ..accepted(T3, "2")
        };
        state.apply(&short("2"));
        let p = state.progress(&w.list);
        assert_eq!((p.lines[1].short, p.lines[1].remaining), (3, 0));
        assert!(!p.complete);
        state.apply(&short("1"));
        let p = state.progress(&w.list);
        assert_eq!((p.lines[0].picked, p.lines[0].short), (1, 1));
        assert!(p.complete);
        // A rejected scan changes nothing.
        let before = state.progress(&w.list);
        let rejected = Event {
            kind: EventKind::scan(b"junk", 4, None, w.decide(&state, "junk")),
            ..accepted(T3, "2")
        };
        state.apply(&rejected);
        assert_eq!(state.progress(&w.list), before);
    }
}

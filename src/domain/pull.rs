//! The pick list a picker walks: every allocated package of an order with where it
//! is, what it holds and whether it is picked, in [walking order](super::walk), and
//! the next one to pull. One rule for the pick screen, `tagtally status`, `pick
//! --json`'s `next` and the paper pick list.
//!
//! Pure: no IO, no clock (today's date is an argument).

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::package::{Ineligibility, Package, Rules};
use super::pick::PickList;
use super::state::PickState;
use super::walk::{Place, WalkOrder};
use crate::tag::MetrcTag;

/// One allocated package on the pick list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pull {
    pub tag: MetrcTag,
    /// The order line it is allocated to.
    pub line: String,
    /// The package's item (the line's label when the package is not known here).
    pub item: String,
    /// What the package holds, when known (`10` `Each`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    /// Metrc's `LocationName` and `SublocationName` (absent: "No location").
    pub location: Option<String>,
    pub sublocation: Option<String>,
    /// Picked: on which device, by whom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picked: Option<PickedBy>,
    /// The line was closed short: its packages not yet picked will not be.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub short: bool,
    /// By this database's facts the package may not ship (a hold, a recall...):
    /// leave it, and tell the coordinator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<Ineligibility>,
}

/// Who picked a package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PickedBy {
    pub device: String,
    pub person: Option<String>,
}

impl Pull {
    /// Still to pull: not picked, and its line not closed short.
    pub fn to_pull(&self) -> bool {
        self.picked.is_none() && !self.short
    }

    /// The location heading it is listed under: its location, or `No location`.
    pub fn group(&self) -> String {
        self.location
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .unwrap_or(NO_LOCATION)
            .to_string()
    }

    /// `Vault A · Shelf 3`, or `No location`.
    pub fn place(&self) -> String {
        place_of(self.location.as_deref(), self.sublocation.as_deref())
    }

    /// `10 Each`, or nothing when the package is not known here.
    pub fn amount(&self) -> String {
        match (self.quantity, &self.unit) {
            (Some(q), Some(u)) => format!("{} {u}", trim_number(q)),
            (Some(q), None) => trim_number(q),
            _ => String::new(),
        }
    }
}

/// `Vault A · Shelf 3`, `Vault A`, or `No location` (a sublocation without its
/// location is still shown).
pub fn place_of(location: Option<&str>, sublocation: Option<&str>) -> String {
    fn present(s: Option<&str>) -> Option<&str> {
        s.map(str::trim).filter(|s| !s.is_empty())
    }
    match (present(location), present(sublocation)) {
        (Some(l), Some(s)) => format!("{l} · {s}"),
        (Some(l), None) => l.to_string(),
        (None, Some(s)) => format!("No location · {s}"),
        (None, None) => NO_LOCATION.to_string(),
    }
}

/// The group of packages whose location Metrc does not give.
pub const NO_LOCATION: &str = "No location";

/// `10`, `3.5`, `0.25`: a quantity as people write it.
fn trim_number(q: f64) -> String {
    let s = format!("{q:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// An order's allocated tags in walking order: sorted once when the order is opened
/// (or its allocation or package facts change), read on every scan.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Walk {
    tags: Vec<MetrcTag>,
}

impl Walk {
    /// Sort the allocated tags of `list` by where `packages` says each one is.
    pub fn new(list: &PickList, packages: &HashMap<MetrcTag, Package>, walk: &WalkOrder) -> Walk {
        let mut tags: Vec<(MetrcTag, Option<&str>, Option<&str>)> = list
            .lines
            .iter()
            .flat_map(|l| list.tags_of(&l.id))
            .map(|t| {
                let p = packages.get(t);
                (
                    t.clone(),
                    p.and_then(|p| p.location.as_deref()),
                    p.and_then(|p| p.sublocation.as_deref()),
                )
            })
            .collect();
        walk.sort(&mut tags, |(t, l, s)| Place {
            location: *l,
            sublocation: *s,
            tag: t.as_str(),
        });
        Walk {
            tags: tags.into_iter().map(|(t, _, _)| t).collect(),
        }
    }

    /// The tags in walking order.
    pub fn tags(&self) -> &[MetrcTag] {
        &self.tags
    }

    /// Every allocated package in walking order, picked or not.
    pub fn pulls(
        &self,
        list: &PickList,
        state: &PickState,
        packages: &HashMap<MetrcTag, Package>,
        rules: &Rules,
        today: NaiveDate,
    ) -> Vec<Pull> {
        let short: std::collections::HashSet<&str> = state.shorts().map(|(l, _)| l).collect();
        self.tags
            .iter()
            .filter_map(|t| pull(t, list, state, packages, &short, rules, today))
            .collect()
    }

    /// The next package to pull: the first in walking order still to pull that may
    /// ship (`line`: of that line only). Looks at each package at most once and
    /// builds only the one it returns.
    pub fn next(
        &self,
        list: &PickList,
        state: &PickState,
        packages: &HashMap<MetrcTag, Package>,
        rules: &Rules,
        today: NaiveDate,
        line: Option<&str>,
    ) -> Option<Pull> {
        let short: std::collections::HashSet<&str> = state.shorts().map(|(l, _)| l).collect();
        self.tags.iter().find_map(|t| {
            let l = list.line_of(t)?;
            if line.is_some_and(|want| want != l.id)
                || state.is_picked(t)
                || short.contains(l.id.as_str())
                || packages
                    .get(t)
                    .is_some_and(|p| p.ineligibility(rules, today).is_some())
            {
                return None;
            }
            pull(t, list, state, packages, &short, rules, today)
        })
    }
}

/// One package of the list, as [`Walk::pulls`] shows it.
fn pull(
    tag: &MetrcTag,
    list: &PickList,
    state: &PickState,
    packages: &HashMap<MetrcTag, Package>,
    short: &std::collections::HashSet<&str>,
    rules: &Rules,
    today: NaiveDate,
) -> Option<Pull> {
    let line = list.line_of(tag)?;
    let p = packages.get(tag);
    Some(Pull {
        tag: tag.clone(),
        line: line.id.clone(),
        item: p.map_or_else(|| line.label.clone(), |p| p.item.clone()),
        quantity: p.map(|p| p.quantity),
        unit: p.map(|p| p.unit.clone()),
        batch: p.map(Package::batch_label).or_else(|| line.batch.clone()),
        location: p.and_then(|p| p.location.clone()),
        sublocation: p.and_then(|p| p.sublocation.clone()),
        picked: state.picked_by(tag).map(|(device, person)| PickedBy {
            device: device.to_string(),
            person: person.map(str::to_string),
        }),
        short: short.contains(line.id.as_str()),
        blocked: p.and_then(|p| p.ineligibility(rules, today)),
    })
}

/// Every allocated package of the order in walking order, picked or not (the
/// [`Walk`] made and read once). `packages` are this database's facts about the
/// order's tags (one missing is listed with its line's label and no location).
pub fn pick_list(
    list: &PickList,
    state: &PickState,
    packages: &HashMap<MetrcTag, Package>,
    walk: &WalkOrder,
    rules: &Rules,
    today: NaiveDate,
) -> Vec<Pull> {
    Walk::new(list, packages, walk).pulls(list, state, packages, rules, today)
}

/// The next package to pull in `pulls` (a list in walking order): the first still to
/// pull that may ship. `line` keeps to one line's packages.
pub fn next<'a>(pulls: &'a [Pull], line: Option<&str>) -> Option<&'a Pull> {
    pulls
        .iter()
        .filter(|p| line.is_none_or(|l| p.line == l))
        .find(|p| p.to_pull() && p.blocked.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{Event, EventKind};
    use crate::domain::order::{Line, Order, OrderStatus};
    use crate::domain::pick::Verdict;

    fn tag(n: u32) -> MetrcTag {
        MetrcTag::new(&format!("1A40603000030000000{n:05}")).unwrap()
    }

    fn package(n: u32, location: Option<&str>, sublocation: Option<&str>) -> Package {
        Package {
            label: tag(n),
            item: format!("Item {n}"),
            quantity: 10.0,
            unit: "Each".into(),
            batch: Some("B-1".into()),
            source_batches: vec![],
            lab_state: "TestPassed".into(),
            on_hold: false,
            on_recall: false,
            on_investigation: false,
            finished: false,
            archived: None,
            expiration: None,
            use_by: None,
            packaged: None,
            last_modified: "2026-11-01T00:00:00.000Z".into(),
            location: location.map(str::to_string),
            sublocation: sublocation.map(str::to_string),
            metrc_id: None,
            coa: None,
        }
    }

    fn order(lines: &[(&str, &[u32])]) -> Order {
        Order {
            number: "SO-1".into(),
            short_id: None,
            status: OrderStatus("Accepted".into()),
            buyer: "Green Door".into(),
            buyer_license: None,
            buyer_license_inactive: false,
            ship_date: None,
            delivery_address: None,
            lines: lines
                .iter()
                .map(|(id, tags)| Line {
                    id: id.to_string(),
                    sku: None,
                    name: Some(format!("Line {id}")),
                    quantity: None,
                    unit: None,
                    batch: Some("B-1".into()),
                    unit_price_cents: None,
                    tags: tags.iter().map(|&n| tag(n)).collect(),
                })
                .collect(),
        }
    }

    fn accepted(n: u32, line: &str, seq: i64, person: Option<&str>) -> Event {
        Event {
            device: "vault-1".into(),
            seq,
            at: "2026-12-01T10:00:00.000Z".into(),
            order: "SO-1".into(),
            person: person.map(str::to_string),
            kind: EventKind::scan(
                tag(n).as_str().as_bytes(),
                24,
                Some(tag(n)),
                Verdict::Accepted {
                    line: line.into(),
                    expires_in_days: None,
                },
            ),
        }
    }

    fn today() -> NaiveDate {
        "2026-12-01".parse().unwrap()
    }

    #[test]
    fn the_list_walks_the_vault_and_the_next_moves_on() {
        let mut pkgs = HashMap::new();
        for p in [
            package(1, Some("Vault B"), Some("Shelf 1")),
            package(2, Some("Vault A"), Some("Shelf 10")),
            package(3, Some("Vault A"), Some("Shelf 2")),
            package(4, None, None),
        ] {
            pkgs.insert(p.label.clone(), p);
        }
        let o = order(&[("1", &[1, 2]), ("2", &[3, 4, 5])]);
        let list = PickList::new(&o, &pkgs);
        let mut state = PickState::default();
        let walk = WalkOrder::default();
        let pulls = pick_list(&list, &state, &pkgs, &walk, &Rules::default(), today());
        let tags: Vec<u32> = pulls
            .iter()
            .map(|p| p.tag.as_str()[19..].parse().unwrap())
            .collect();
        // 5 is allocated but unknown here: listed with its line's label, no location.
        assert_eq!(tags, [3, 2, 1, 4, 5]);
        assert_eq!(pulls[0].place(), "Vault A · Shelf 2");
        assert_eq!(pulls[0].amount(), "10 Each");
        assert_eq!(pulls[4].place(), NO_LOCATION);
        assert_eq!(
            (pulls[4].item.as_str(), pulls[4].amount()),
            ("Line 2", String::new())
        );
        assert_eq!(next(&pulls, None).unwrap().tag, tag(3));
        assert_eq!(next(&pulls, Some("1")).unwrap().tag, tag(2));
        let w = Walk::new(&list, &pkgs, &walk);
        let r = Rules::default();
        assert_eq!(
            w.next(&list, &state, &pkgs, &r, today(), None).as_ref(),
            next(&pulls, None)
        );
        assert_eq!(
            w.next(&list, &state, &pkgs, &r, today(), Some("1"))
                .as_ref(),
            next(&pulls, Some("1"))
        );

        state.apply(&accepted(3, "2", 1, Some("Pia")));
        let pulls = pick_list(&list, &state, &pkgs, &walk, &Rules::default(), today());
        assert_eq!(next(&pulls, None).unwrap().tag, tag(2));
        let picked = pulls.iter().find(|p| p.tag == tag(3)).unwrap();
        assert_eq!(
            picked.picked,
            Some(PickedBy {
                device: "vault-1".into(),
                person: Some("Pia".into())
            })
        );
        assert!(!picked.to_pull());
    }

    #[test]
    fn blocked_and_short_packages_are_not_next() {
        let mut held = package(1, Some("Vault A"), None);
        held.on_hold = true;
        let mut pkgs = HashMap::new();
        for p in [
            held,
            package(2, Some("Vault B"), None),
            package(3, Some("Vault C"), None),
        ] {
            pkgs.insert(p.label.clone(), p);
        }
        let o = order(&[("1", &[1, 2]), ("2", &[3])]);
        let list = PickList::new(&o, &pkgs);
        let mut state = PickState::default();
        state.apply(&Event {
            kind: EventKind::Short {
                line: "1".into(),
                reason: "damaged".into(),
            },
            ..accepted(1, "1", 1, None)
        });
        let pulls = pick_list(
            &list,
            &state,
            &pkgs,
            &WalkOrder::default(),
            &Rules::default(),
            today(),
        );
        assert_eq!(pulls[0].blocked, Some(Ineligibility::OnHold));
        assert!(pulls[0].short && pulls[1].short && !pulls[2].short);
        assert_eq!(next(&pulls, None).unwrap().tag, tag(3));
        let w = Walk::new(&list, &pkgs, &WalkOrder::default());
        let r = Rules::default();
        assert_eq!(
            w.next(&list, &state, &pkgs, &r, today(), None).unwrap().tag,
            tag(3)
        );
        // The last one picked: nothing next, the order is complete.
        state.apply(&accepted(3, "2", 2, None));
        let pulls = pick_list(
            &list,
            &state,
            &pkgs,
            &WalkOrder::default(),
            &Rules::default(),
            today(),
        );
        assert!(next(&pulls, None).is_none());
    }

    #[test]
    fn places_and_amounts_read_as_people_write_them() {
        assert_eq!(
            place_of(Some("Vault A"), Some("Shelf 3")),
            "Vault A · Shelf 3"
        );
        assert_eq!(place_of(Some(" Vault A "), Some(" ")), "Vault A");
        assert_eq!(place_of(None, Some("Shelf 3")), "No location · Shelf 3");
        assert_eq!(place_of(Some(""), None), "No location");
        assert_eq!(trim_number(10.0), "10");
        assert_eq!(trim_number(3.5), "3.5");
        assert_eq!(trim_number(0.25), "0.25");
    }
}

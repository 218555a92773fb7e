//! Walking order: the order a picker meets packages walking the vault, used alike by
//! the pick screen, `tagtally status`, `pick --json`'s `next` and the paper pick list.
//!
//! By location, then sublocation, each in natural order ("Shelf 2" before "Shelf 10",
//! letters without regard to case), or, for locations the site lists in
//! `[pick] location_order`, in that order first. Packages without a location come last
//! (the "No location" group). Ties are broken by tag, so the order is total and the
//! same everywhere.
//!
//! Pure: no IO.

use std::cmp::Ordering;

/// How a site walks: its explicit order of locations, if it set one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalkOrder {
    /// `[pick] location_order`, folded for comparison (trimmed, lower case).
    explicit: Vec<String>,
}

impl WalkOrder {
    /// `location_order`: location names in the order the site walks them; a location
    /// not listed comes after every listed one, in natural order. Matched without
    /// regard to case or surrounding spaces.
    pub fn new(location_order: &[String]) -> Self {
        WalkOrder {
            explicit: location_order.iter().map(|l| fold(l)).collect(),
        }
    }

    /// Compare two packages' places (`location`, `sublocation`, `tag`) in walking order.
    pub fn compare(&self, a: Place<'_>, b: Place<'_>) -> Ordering {
        let (la, lb) = (present(a.location), present(b.location));
        match (la, lb) {
            (None, None) => {}
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) => {
                let rank = |l: &str| {
                    let l = fold(l);
                    self.explicit
                        .iter()
                        .position(|e| *e == l)
                        .unwrap_or(usize::MAX)
                };
                let by_rank = rank(x).cmp(&rank(y));
                if by_rank != Ordering::Equal {
                    return by_rank;
                }
                let by_name = natural(x, y);
                if by_name != Ordering::Equal {
                    return by_name;
                }
            }
        }
        let by_sub = match (present(a.sublocation), present(b.sublocation)) {
            (None, None) => Ordering::Equal,
            // Within a location, the packages on no particular shelf come first: they
            // are where the location begins.
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => natural(x, y),
        };
        by_sub.then_with(|| a.tag.cmp(b.tag))
    }

    /// Sort `items` in walking order, `place` giving each one's place.
    pub fn sort<T>(&self, items: &mut [T], place: impl Fn(&T) -> Place<'_>) {
        items.sort_by(|a, b| self.compare(place(a), place(b)));
    }
}

/// Where one package is, as the walk sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place<'a> {
    pub location: Option<&'a str>,
    pub sublocation: Option<&'a str>,
    pub tag: &'a str,
}

/// A location or sublocation worth the name: not absent, not blank.
fn present(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Natural order: runs of digits compare as numbers (any length), everything else
/// without regard to case; equal so far, the exact text decides.
pub fn natural(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        match (x.is_empty(), y.is_empty()) {
            (true, true) => return a.cmp(b),
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let (cx, cy) = (x.chars().next().unwrap(), y.chars().next().unwrap());
        if cx.is_ascii_digit() && cy.is_ascii_digit() {
            let (dx, rx) = split_digits(x);
            let (dy, ry) = split_digits(y);
            let (tx, ty) = (dx.trim_start_matches('0'), dy.trim_start_matches('0'));
            let by_value = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty));
            if by_value != Ordering::Equal {
                return by_value;
            }
            (x, y) = (rx, ry);
        } else {
            let by_char = cx
                .to_lowercase()
                .cmp(cy.to_lowercase())
                .then(Ordering::Equal);
            if by_char != Ordering::Equal {
                return by_char;
            }
            (x, y) = (&x[cx.len_utf8()..], &y[cy.len_utf8()..]);
        }
    }
}

fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_table() {
        use Ordering::*;
        let cases = [
            ("Shelf 2", "Shelf 10", Less),
            ("Shelf 10", "Shelf 2", Greater),
            ("shelf 2", "Shelf 2", Greater), // equal but for case: the text decides
            ("Shelf 02", "Shelf 2", Less),
            ("Shelf 2", "Shelf 2b", Less),
            ("Vault A", "vault b", Less),
            ("A10-3", "A10-12", Less),
            (
                "Bin 99999999999999999999",
                "Bin 100000000000000000000",
                Less,
            ),
            ("", "A", Less),
            ("Rack 1", "Rack 1", Equal),
            ("Étagère 2", "Étagère 10", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(natural(a, b), want, "{a:?} vs {b:?}");
        }
    }

    fn p<'a>(l: Option<&'a str>, s: Option<&'a str>, t: &'a str) -> Place<'a> {
        Place {
            location: l,
            sublocation: s,
            tag: t,
        }
    }

    /// (case, the site's order, places as given, the tags in walking order)
    #[test]
    fn walking_order_table() {
        type Row = (Option<&'static str>, Option<&'static str>, &'static str);
        type Case = (&'static str, Vec<&'static str>, Vec<Row>, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            (
                "by location, then sublocation, naturally",
                vec![],
                vec![
                    (Some("Vault B"), Some("Shelf 1"), "t1"),
                    (Some("Vault A"), Some("Shelf 10"), "t2"),
                    (Some("Vault A"), Some("Shelf 2"), "t3"),
                ],
                vec!["t3", "t2", "t1"],
            ),
            (
                "no location last, blank counts as none",
                vec![],
                vec![
                    (None, None, "t1"),
                    (Some("  "), Some("Shelf 1"), "t0"),
                    (Some("Cage"), None, "t2"),
                ],
                vec!["t2", "t1", "t0"],
            ),
            (
                "no sublocation first within its location",
                vec![],
                vec![
                    (Some("Vault A"), Some("Shelf 1"), "t1"),
                    (Some("Vault A"), None, "t2"),
                ],
                vec!["t2", "t1"],
            ),
            (
                "ties by tag",
                vec![],
                vec![
                    (Some("Vault A"), Some("Shelf 1"), "t9"),
                    (Some("Vault A"), Some("Shelf 1"), "t1"),
                ],
                vec!["t1", "t9"],
            ),
            (
                "the site's order first, matched without case; the rest naturally after",
                vec!["Cage", "vault b"],
                vec![
                    (Some("Vault A"), None, "t1"),
                    (Some("Vault B"), None, "t2"),
                    (Some("Annex"), None, "t3"),
                    (Some("CAGE "), None, "t4"),
                    (None, None, "t5"),
                ],
                vec!["t4", "t2", "t3", "t1", "t5"],
            ),
            (
                "every package without a location: by tag",
                vec![],
                vec![
                    (None, None, "t3"),
                    (None, Some("Shelf 1"), "t1"),
                    (None, None, "t2"),
                ],
                vec!["t2", "t3", "t1"],
            ),
        ];
        for (case, order, mut rows, want) in cases {
            let walk = WalkOrder::new(&order.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            walk.sort(&mut rows, |r| p(r.0, r.1, r.2));
            let got: Vec<&str> = rows.iter().map(|r| r.2).collect();
            assert_eq!(got, want, "{case}");
        }
    }
}

//! The buyer's license: whether an order may be picked, loaded and delivered, by the
//! state's license register, and a supervisor's release of an order held for it.
//!
//! An order's buyer license is in good standing when the register lists it with an
//! active status and it has not expired (it is good through its expiration date). An
//! order whose buyer license is missing, unknown to the register, not active or
//! expired is on *license hold*: the floor refuses it until a supervisor releases it
//! ([`EventKind::LicenseRelease`], counted like every event through
//! [`super::ruling::counted`], so the hub and every device agree).
//!
//! The check applies once a register has been imported (or when the site requires
//! it, `[licenses] require`): a site that never uses the register is not blocked.
//!
//! License numbers are opaque strings; they are compared trimmed and in upper case.
//!
//! Pure: no IO, no clock (today is an argument).

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::event::{Event, EventKind, EventRef};

/// A license number as compared: trimmed, upper case.
pub fn normalise(number: &str) -> String {
    number.trim().to_ascii_uppercase()
}

/// One license as the register lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// As the register writes it.
    pub number: String,
    /// The register's status word, as written.
    pub status: String,
    /// Whether that status is one of the site's active statuses (decided at import).
    pub active: bool,
    pub expires: Option<NaiveDate>,
}

/// The register as the hub sends it to devices in its snapshot: when it was
/// imported on the hub, and its entries for the buyer licenses of the open orders
/// (a license the hub's register does not list is absent, so unknown here too).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterFacts {
    pub imported_at: String,
    pub entries: Vec<Entry>,
}

/// One license of a register file, with the line of the file it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterRow {
    pub row: usize,
    pub entry: Entry,
}

/// What the floor knows of an order's buyer license.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// A register has been imported here.
    pub register_loaded: bool,
    /// The site requires the check even without a register (`[licenses] require`).
    pub required: bool,
    /// The register's entry for the order's buyer license, if any.
    pub entry: Option<Entry>,
    /// The ordering platform says the license is inactive (LeafLink
    /// `license_inactive`): held even where no register is imported.
    pub platform_inactive: bool,
}

/// Why an order is on license hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// The order names no buyer license.
    NoLicense,
    /// The site requires the check and no register is imported.
    NoRegister,
    /// The register does not list it.
    Unknown { license: String },
    /// Listed, with a status that is not active.
    Inactive { license: String, status: String },
    /// The ordering platform (LeafLink) says it is inactive.
    PlatformInactive { license: String },
    /// Listed, but its expiration date has passed.
    Expired { license: String, on: NaiveDate },
}

impl Problem {
    pub fn word(&self) -> &'static str {
        match self {
            Problem::NoLicense => "no_license",
            Problem::NoRegister => "no_register",
            Problem::Unknown { .. } => "unknown",
            Problem::Inactive { .. } => "inactive",
            Problem::Expired { .. } => "expired",
            Problem::PlatformInactive { .. } => "inactive_on_leaflink",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NoLicense => write!(f, "the order names no buyer license"),
            Problem::NoRegister => write!(
                f,
                "no license register is imported and [licenses] require is on (tagtally licenses import FILE)"
            ),
            Problem::Unknown { license } => write!(
                f,
                "buyer license {license} is not in the state's license register"
            ),
            Problem::Inactive { license, status } => write!(
                f,
                "buyer license {license} is {status:?} in the state's license register, not active"
            ),
            Problem::PlatformInactive { license } => {
                write!(f, "LeafLink says buyer license {license} is inactive")
            }
            Problem::Expired { license, on } => {
                write!(f, "buyer license {license} expired on {on}")
            }
        }
    }
}

/// A supervisor's release of an order from its license hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Release {
    pub event: EventRef,
    /// The person who released it (as the event records).
    pub by: Option<String>,
    pub reason: String,
    pub at: String,
}

/// Where an order's buyer license stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "license", rename_all = "snake_case")]
pub enum Standing {
    /// No register here and none required: not checked.
    NotChecked,
    /// In good standing.
    Good,
    /// On license hold.
    Held { problem: Problem },
    /// On hold by the register, released by a supervisor.
    Released { problem: Problem, release: Release },
}

impl Standing {
    /// Whether the floor must refuse the order.
    pub fn holds(&self) -> bool {
        matches!(self, Standing::Held { .. })
    }

    /// One line for lists and the floor: why it is held, or who released it.
    pub fn sentence(&self, order: &str) -> Option<String> {
        match self {
            Standing::NotChecked | Standing::Good => None,
            Standing::Held { problem } => Some(format!(
                "order {order} is on license hold: {problem}; a coordinator or a supervisor may release it (tagtally licenses release {order} --reason ...)"
            )),
            Standing::Released { problem, release } => Some(format!(
                "order {order}: {problem}, released by {} ({}): {}",
                release.by.as_deref().unwrap_or("nobody named"),
                release.event,
                release.reason
            )),
        }
    }
}

/// The last release (in fold order) of `license` among an order's counted events
/// (`counted` already applied: a release the hub held is not there until accepted).
/// A release names the license it releases: after the order's license changes, it no
/// longer applies.
pub fn release_of(counted: &[Event], license: Option<&str>) -> Option<Release> {
    let want = normalise(license.unwrap_or(""));
    counted.iter().rev().find_map(|e| match &e.kind {
        EventKind::LicenseRelease { license, reason } if normalise(license) == want => {
            Some(Release {
                event: e.id(),
                by: e.person.clone(),
                reason: reason.clone(),
                at: e.at.clone(),
            })
        }
        _ => None,
    })
}

/// The problem with `license` by `facts`, if any, on `today`.
pub fn problem(license: Option<&str>, facts: &Facts, today: NaiveDate) -> Option<Problem> {
    let license = license.map(str::trim).filter(|l| !l.is_empty());
    let Some(license) = license else {
        return Some(Problem::NoLicense);
    };
    if facts.platform_inactive {
        return Some(Problem::PlatformInactive {
            license: license.to_string(),
        });
    }
    if !facts.register_loaded {
        return Some(Problem::NoRegister);
    }
    let Some(entry) = &facts.entry else {
        return Some(Problem::Unknown {
            license: license.to_string(),
        });
    };
    if !entry.active {
        return Some(Problem::Inactive {
            license: license.to_string(),
            status: entry.status.clone(),
        });
    }
    match entry.expires {
        Some(on) if on < today => Some(Problem::Expired {
            license: license.to_string(),
            on,
        }),
        _ => None,
    }
}

/// Where an order with buyer license `license` stands, by the register's `facts`, the
/// release found among its events (see [`release_of`]), on `today`.
pub fn standing(
    license: Option<&str>,
    facts: &Facts,
    release: Option<Release>,
    today: NaiveDate,
) -> Standing {
    if !facts.register_loaded && !facts.required && !facts.platform_inactive {
        return Standing::NotChecked;
    }
    match (problem(license, facts, today), release) {
        (None, _) => Standing::Good,
        (Some(problem), Some(release)) => Standing::Released { problem, release },
        (Some(problem), None) => Standing::Held { problem },
    }
}

/// Why a release cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseRefused {
    #[error("order {0} is not on license hold: there is nothing to release")]
    NotHeld(String),
    #[error("say why the order is released (a reason is needed)")]
    NoReason,
}

/// The release of `order` (held as `standing` says) from its license hold.
pub fn release(
    order: &str,
    license: Option<&str>,
    standing: &Standing,
    reason: &str,
) -> Result<EventKind, ReleaseRefused> {
    if !standing.holds() {
        return Err(ReleaseRefused::NotHeld(order.to_string()));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ReleaseRefused::NoReason);
    }
    Ok(EventKind::LicenseRelease {
        license: license.unwrap_or("").trim().to_string(),
        reason: reason.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn entry(status: &str, active: bool, expires: Option<&str>) -> Option<Entry> {
        Some(Entry {
            number: "C10-0000001-LIC".into(),
            status: status.into(),
            active,
            expires: expires.map(day),
        })
    }

    fn released(seq: i64, license: &str) -> Event {
        Event {
            device: "hub".into(),
            seq,
            at: format!("2026-03-01T10:00:0{seq}.000Z"),
            order: "SO-1".into(),
            person: Some("Sam".into()),
            kind: EventKind::LicenseRelease {
                license: license.into(),
                reason: "renewal filed".into(),
            },
        }
    }

    #[test]
    fn the_standing_of_an_order_by_its_license() {
        let today = day("2026-03-01");
        let loaded = |entry| Facts {
            register_loaded: true,
            required: false,
            entry,
            platform_inactive: false,
        };
        let lic = Some("C10-0000001-LIC");
        type Case<'a> = (&'a str, Option<&'a str>, Facts, Option<&'a str>);
        let cases: Vec<Case> = vec![
            ("no register: not checked", lic, Facts::default(), None),
            (
                "active",
                lic,
                loaded(entry("Active", true, Some("2026-12-31"))),
                Some("good"),
            ),
            (
                "active, no expiry",
                lic,
                loaded(entry("Active", true, None)),
                Some("good"),
            ),
            (
                "expires today: still good",
                lic,
                loaded(entry("Active", true, Some("2026-03-01"))),
                Some("good"),
            ),
            (
                "expired yesterday",
                lic,
                loaded(entry("Active", true, Some("2026-02-28"))),
                Some("expired"),
            ),
            (
                "inactive status",
                lic,
                loaded(entry("Suspended", false, Some("2026-12-31"))),
                Some("inactive"),
            ),
            (
                "unknown to the register",
                lic,
                loaded(None),
                Some("unknown"),
            ),
            (
                "no license on the order",
                None,
                loaded(None),
                Some("no_license"),
            ),
            (
                "blank license on the order",
                Some("  "),
                loaded(None),
                Some("no_license"),
            ),
            (
                "required without a register",
                lic,
                Facts {
                    required: true,
                    ..Facts::default()
                },
                Some("no_register"),
            ),
            (
                "inactive on LeafLink, no register",
                lic,
                Facts {
                    platform_inactive: true,
                    ..Facts::default()
                },
                Some("inactive_on_leaflink"),
            ),
            (
                "inactive on LeafLink, active in the register",
                lic,
                Facts {
                    platform_inactive: true,
                    ..loaded(entry("Active", true, None))
                },
                Some("inactive_on_leaflink"),
            ),
        ];
        for (name, license, facts, want) in cases {
            let s = standing(license, &facts, None, today);
            let got = match &s {
                Standing::NotChecked => None,
                Standing::Good => Some("good"),
                Standing::Held { problem } => Some(problem.word()),
                Standing::Released { .. } => Some("released"),
            };
            assert_eq!(got, want, "{name}");
            assert_eq!(s.holds(), !matches!(want, None | Some("good")), "{name}");
        }
    }

    #[test]
    fn a_release_lifts_the_hold_of_the_license_it_names() {
        let today = day("2026-03-01");
        let facts = Facts {
            register_loaded: true,
            ..Facts::default()
        };
        let events = vec![released(1, "c10-0000001-lic "), released(2, "OTHER")];
        let r = release_of(&events, Some("C10-0000001-LIC"));
        assert_eq!(r.as_ref().map(|r| r.event.seq), Some(1));
        let s = standing(Some("C10-0000001-LIC"), &facts, r, today);
        assert!(matches!(s, Standing::Released { .. }), "{s:?}");
        assert!(!s.holds());
        assert!(s.sentence("SO-1").unwrap().contains("released by Sam"));
        // Another license on the order: the release does not apply.
        assert!(release_of(&events[..1], Some("C10-0000002-LIC")).is_none());
        // The last release counts.
        let r = release_of(&[released(1, "X"), released(3, "X")], Some("x")).unwrap();
        assert_eq!(r.event.seq, 3);
    }

    #[test]
    fn a_release_needs_a_hold_and_a_reason() {
        let held = Standing::Held {
            problem: Problem::NoLicense,
        };
        assert_eq!(
            release("SO-1", None, &Standing::Good, "x"),
            Err(ReleaseRefused::NotHeld("SO-1".into()))
        );
        assert_eq!(
            release("SO-1", None, &held, " "),
            Err(ReleaseRefused::NoReason)
        );
        assert_eq!(
            release("SO-1", Some(" L-1 "), &held, " ok "),
            Ok(EventKind::LicenseRelease {
                license: "L-1".into(),
                reason: "ok".into()
            })
        );
        let s = held.sentence("SO-1").unwrap();
        assert!(
            s.contains("license hold") && s.contains("no buyer license"),
            "{s}"
        );
    }
}

//! A Metrc package as the pick rules see it, and the rules that make it ineligible.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::coa::CoaFact;
use crate::tag::MetrcTag;

/// The facts of one Metrc package that decide whether it may be picked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub label: MetrcTag,
    pub item: String,
    pub quantity: f64,
    pub unit: String,
    /// `ProductionBatchNumber`.
    pub batch: Option<String>,
    /// `SourceProductionBatchNumbers`, for packages derived from other batches.
    pub source_batches: Vec<String>,
    pub lab_state: String,
    pub on_hold: bool,
    pub on_recall: bool,
    pub on_investigation: bool,
    pub finished: bool,
    pub archived: Option<NaiveDate>,
    pub expiration: Option<NaiveDate>,
    pub use_by: Option<NaiveDate>,
    /// `PackagedDate`: the older package goes first among equals (stock rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packaged: Option<NaiveDate>,
    /// `LastModified`, normalised to UTC `YYYY-MM-DDTHH:MM:SS.fffZ` so it sorts as text.
    pub last_modified: String,
    /// Where the package is: Metrc's `LocationName` and `SublocationName` (either may
    /// be absent). The pick list walks by them ([`super::walk`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sublocation: Option<String>,
    /// Metrc's numeric package `Id` (the lab results endpoint takes it, not the tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrc_id: Option<i64>,
    /// What its lab results say of its COA; `None` until they have been read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coa: Option<CoaFact>,
}

impl Package {
    /// True if the package belongs to `batch`: its own production batch, or for a
    /// derived package one of its source batches.
    pub fn in_batch(&self, batch: &str) -> bool {
        self.batch.as_deref() == Some(batch) || self.source_batches.iter().any(|b| b == batch)
    }

    /// The batch to show for this package.
    pub fn batch_label(&self) -> String {
        match (&self.batch, self.source_batches.is_empty()) {
            (Some(b), _) => b.clone(),
            (None, false) => self.source_batches.join(","),
            (None, true) => "(no batch)".to_string(),
        }
    }

    /// True when its lab results name a COA that was read and stored.
    pub fn has_coa(&self) -> bool {
        self.coa.as_ref().is_some_and(CoaFact::has_coa)
    }

    /// The first reason this package may not ship today, in the fixed precedence
    /// hold, recall, investigation, lab state, expiry, finished, no COA (only with
    /// `[metrc] require_coa`; a package whose results were never read has none).
    pub fn ineligibility(&self, rules: &Rules, today: NaiveDate) -> Option<Ineligibility> {
        if self.on_hold {
            Some(Ineligibility::OnHold)
        } else if self.on_recall {
            Some(Ineligibility::Recall)
        } else if self.on_investigation {
            Some(Ineligibility::Investigation)
        } else if !rules.lab_state_allowed(&self.lab_state) {
            Some(Ineligibility::LabState)
        } else if self.expiry().is_some_and(|d| d < today) {
            Some(Ineligibility::Expired)
        } else if self.finished || self.archived.is_some() {
            Some(Ineligibility::Finished)
        } else if rules.require_coa && !self.has_coa() {
            Some(Ineligibility::NoCoa)
        } else {
            None
        }
    }

    /// The earlier of expiration and use-by date.
    pub fn expiry(&self) -> Option<NaiveDate> {
        match (self.expiration, self.use_by) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Days until expiry, if it falls within the warning horizon (0 = expires today).
    pub fn expires_soon(&self, rules: &Rules, today: NaiveDate) -> Option<i64> {
        let days = (self.expiry()? - today).num_days();
        (0..=i64::from(rules.expiry_warning_days))
            .contains(&days)
            .then_some(days)
    }
}

/// Why an allocated package may not ship.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ineligibility {
    OnHold,
    Recall,
    Investigation,
    LabState,
    Expired,
    Finished,
    /// No COA in Metrc (or none read yet) while `[metrc] require_coa` is set.
    NoCoa,
}

impl Ineligibility {
    pub fn word(self) -> &'static str {
        match self {
            Ineligibility::OnHold => "on_hold",
            Ineligibility::Recall => "recall",
            Ineligibility::Investigation => "investigation",
            Ineligibility::LabState => "lab_state",
            Ineligibility::Expired => "expired",
            Ineligibility::Finished => "finished",
            Ineligibility::NoCoa => "no_coa",
        }
    }
}

/// The site-configurable parts of the eligibility rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// `LabTestingState` values that may ship. The per-state list is unconfirmed
    /// (DOMAIN.md section 3), so it is configuration.
    pub allowed_lab_states: Vec<String>,
    /// Warn (but accept) when a package expires within this many days.
    pub expiry_warning_days: u32,
    /// `[metrc] require_coa`, copied here when the settings are loaded: a package
    /// without a COA is ineligible (`no_coa`) rather than a warning on its order.
    #[serde(skip)]
    pub require_coa: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            allowed_lab_states: vec![
                "TestPassed".into(),
                "RetestPassed".into(),
                "NotRequired".into(),
            ],
            expiry_warning_days: 30,
            require_coa: false,
        }
    }
}

impl Rules {
    pub fn lab_state_allowed(&self, state: &str) -> bool {
        self.allowed_lab_states
            .iter()
            .any(|s| s.eq_ignore_ascii_case(state))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn pkg(label: &str, item: &str, batch: &str) -> Package {
        Package {
            label: MetrcTag::new(label).unwrap(),
            item: item.into(),
            quantity: 1.0,
            unit: "Each".into(),
            batch: Some(batch.into()),
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
            last_modified: "2026-01-01T00:00:00.000Z".into(),
            location: None,
            sublocation: None,
            metrc_id: None,
            coa: None,
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn precedence_of_ineligibility() {
        let r = Rules::default();
        let today = day("2026-11-27");
        let mut p = pkg("1A4000000000000000000001", "Item", "B1");
        assert_eq!(p.ineligibility(&r, today), None);
        p.finished = true;
        assert_eq!(p.ineligibility(&r, today), Some(Ineligibility::Finished));
        p.expiration = Some(day("2026-11-26"));
        assert_eq!(p.ineligibility(&r, today), Some(Ineligibility::Expired));
        p.lab_state = "TestFailed".into();
        assert_eq!(p.ineligibility(&r, today), Some(Ineligibility::LabState));
        p.on_investigation = true;
        assert_eq!(
            p.ineligibility(&r, today),
            Some(Ineligibility::Investigation)
        );
        p.on_recall = true;
        assert_eq!(p.ineligibility(&r, today), Some(Ineligibility::Recall));
        p.on_hold = true;
        assert_eq!(p.ineligibility(&r, today), Some(Ineligibility::OnHold));
    }

    #[test]
    fn expiry_is_the_earlier_date_and_today_still_ships() {
        let r = Rules::default();
        let today = day("2026-11-27");
        let mut p = pkg("1A4000000000000000000001", "Item", "B1");
        p.expiration = Some(day("2026-11-27"));
        assert_eq!(p.ineligibility(&r, today), None);
        assert_eq!(p.expires_soon(&r, today), Some(0));
        p.use_by = Some(day("2026-11-20"));
        assert_eq!(p.ineligibility(&r, today), Some(Ineligibility::Expired));
        p.use_by = None;
        p.expiration = Some(day("2027-06-01"));
        assert_eq!(p.expires_soon(&r, today), None);
    }

    #[test]
    fn archived_counts_as_finished_and_source_batches_count_as_batch() {
        let r = Rules::default();
        let today = day("2026-11-27");
        let mut p = pkg("1A4000000000000000000001", "Item", "B1");
        p.archived = Some(day("2026-10-01"));
        assert_eq!(p.ineligibility(&r, today), Some(Ineligibility::Finished));
        p.batch = None;
        p.source_batches = vec!["B7".into(), "B8".into()];
        assert!(p.in_batch("B8"));
        assert!(!p.in_batch("B1"));
        assert_eq!(p.batch_label(), "B7,B8");
    }

    #[test]
    fn a_coa_is_required_only_when_the_setting_says_so() {
        use crate::domain::coa::{CoaDocument, CoaFact};
        let today = day("2026-11-27");
        let with = |docs: &[i64]| {
            Some(CoaFact {
                documents: docs
                    .iter()
                    .map(|d| CoaDocument {
                        document_id: *d,
                        sha256: "ab".into(),
                    })
                    .collect(),
                unreadable: vec![],
            })
        };
        // (case, require_coa, fact, on hold, expected)
        let cases = [
            ("not required, never read", false, None, false, None),
            ("not required, none in Metrc", false, with(&[]), false, None),
            (
                "required, never read",
                true,
                None,
                false,
                Some(Ineligibility::NoCoa),
            ),
            (
                "required, none in Metrc",
                true,
                with(&[]),
                false,
                Some(Ineligibility::NoCoa),
            ),
            ("required, one COA", true, with(&[7]), false, None),
            (
                "a hold comes first",
                true,
                None,
                true,
                Some(Ineligibility::OnHold),
            ),
        ];
        for (case, require, fact, hold, want) in cases {
            let r = Rules {
                require_coa: require,
                ..Rules::default()
            };
            let mut p = pkg("1A4000000000000000000001", "Item", "B1");
            p.coa = fact;
            p.on_hold = hold;
            assert_eq!(p.ineligibility(&r, today), want, "{case}");
        }
        assert_eq!(Ineligibility::NoCoa.word(), "no_coa");
        assert_eq!(
            serde_json::to_string(&Ineligibility::NoCoa).unwrap(),
            "\"no_coa\""
        );
    }

    #[test]
    fn lab_states_are_configurable() {
        let mut r = Rules::default();
        let today = day("2026-11-27");
        let mut p = pkg("1A4000000000000000000001", "Item", "B1");
        p.lab_state = "Remediated".into();
        assert_eq!(p.ineligibility(&r, today), Some(Ineligibility::LabState));
        r.allowed_lab_states.push("Remediated".into());
        assert_eq!(p.ineligibility(&r, today), None);
    }
}

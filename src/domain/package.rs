//! A Metrc package as the pick rules see it, and the rules that make it ineligible.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

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
    /// `LastModified`, normalised to UTC `YYYY-MM-DDTHH:MM:SS.fffZ` so it sorts as text.
    pub last_modified: String,
    /// Where the package is: Metrc's `LocationName` and `SublocationName` (either may
    /// be absent). The pick list walks by them ([`super::walk`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sublocation: Option<String>,
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

    /// The first reason this package may not ship today, in the fixed precedence
    /// hold, recall, investigation, lab state, expiry, finished.
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
            last_modified: "2026-01-01T00:00:00.000Z".into(),
            location: None,
            sublocation: None,
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

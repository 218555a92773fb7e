//! Metrc's receipt beside the driver's record: the receiver enters the receipt in
//! Metrc (accepting or rejecting each package) within 24 hours of the delivery
//! (4 CCR 15049(b)); the driver recorded the receiver's word at the door. Where the
//! two disagree, or Metrc has no receipt a day after the signature, a supervisor must
//! look. Pure: the time is an argument.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::ship::DeliveryState;
use crate::domain::Decision;

/// How long the receiver has to enter the receipt in Metrc (4 CCR 15049(b)).
pub const RECEIPT_HOURS: i64 = 24;

/// Metrc's `ShipmentPackageState` of one package on a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetrcState {
    /// Sent, not received yet.
    Shipped,
    Accepted,
    Rejected,
    /// Rejected and back with the shipper.
    Returned,
    /// A state this code does not know, as Metrc wrote it.
    Other(String),
}

impl MetrcState {
    pub fn of(s: &str) -> MetrcState {
        match s.trim().to_ascii_lowercase().as_str() {
            "shipped" => MetrcState::Shipped,
            "accepted" => MetrcState::Accepted,
            "rejected" => MetrcState::Rejected,
            "returned" => MetrcState::Returned,
            _ => MetrcState::Other(s.to_string()),
        }
    }

    pub fn label(&self) -> &str {
        match self {
            MetrcState::Shipped => "Shipped",
            MetrcState::Accepted => "Accepted",
            MetrcState::Rejected => "Rejected",
            MetrcState::Returned => "Returned",
            MetrcState::Other(s) => s,
        }
    }
}

/// Metrc's side of an order's delivery, as last read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetrcReceipt {
    pub manifest_number: Option<String>,
    /// When the receiver entered the receipt (`None`: not yet).
    pub received_at: Option<DateTime<Utc>>,
    /// By tag.
    pub packages: BTreeMap<String, MetrcState>,
    /// When tagtally last read it.
    pub read_at: DateTime<Utc>,
}

/// Where Metrc and the driver disagree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReceiptIssue {
    /// The driver recorded it rejected; Metrc says the receiver accepted it.
    AcceptedInMetrc { tag: String },
    /// The driver recorded it accepted; Metrc says rejected (or returned).
    RejectedInMetrc { tag: String, state: String },
    /// On the load, not on Metrc's delivery.
    NotInMetrc { tag: String },
    /// On Metrc's delivery, not on the load.
    NotOnLoad { tag: String },
    /// Signed this many hours ago; Metrc has no receipt yet.
    NotReceived { hours: i64 },
    /// Received in Metrc this many hours after the signature: late.
    ReceivedLate { hours: i64 },
    /// Signed this many hours ago; no delivery of this load in Metrc at all.
    NoTransfer { hours: i64 },
}

impl std::fmt::Display for ReceiptIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReceiptIssue::AcceptedInMetrc { tag } => write!(
                f,
                "{tag}: the driver recorded it rejected, Metrc says the receiver accepted it"
            ),
            ReceiptIssue::RejectedInMetrc { tag, state } => write!(
                f,
                "{tag}: the driver recorded it accepted, Metrc says {state}"
            ),
            ReceiptIssue::NotInMetrc { tag } => {
                write!(f, "{tag}: on the load, not on Metrc's delivery")
            }
            ReceiptIssue::NotOnLoad { tag } => {
                write!(f, "{tag}: on Metrc's delivery, not on the load")
            }
            ReceiptIssue::NotReceived { hours } => write!(
                f,
                "signed {hours} h ago and not received in Metrc (due within {RECEIPT_HOURS} h)"
            ),
            ReceiptIssue::ReceivedLate { hours } => write!(
                f,
                "received in Metrc {hours} h after the signature (due within {RECEIPT_HOURS} h)"
            ),
            ReceiptIssue::NoTransfer { hours } => write!(
                f,
                "signed {hours} h ago and no delivery of this load has been read from Metrc (was the template registered? is the hub reading Metrc?)"
            ),
        }
    }
}

/// What a supervisor must look at, comparing the driver's record of an order's
/// delivery (`driver`) with Metrc's receipt (`metrc`, none if Metrc has no
/// delivery of this load), at `now`.
pub fn compare(
    driver: &DeliveryState,
    metrc: Option<&MetrcReceipt>,
    now: DateTime<Utc>,
) -> Vec<ReceiptIssue> {
    let mut out = vec![];
    let signed = driver
        .finished
        .as_ref()
        .and_then(|f| DateTime::parse_from_rfc3339(&f.at).ok())
        .map(|t| t.with_timezone(&Utc));
    let overdue = signed
        .map(|s| now - s)
        .filter(|d| *d > Duration::hours(RECEIPT_HOURS))
        .map(|d| d.num_hours());
    let Some(m) = metrc else {
        if let Some(hours) = overdue {
            out.push(ReceiptIssue::NoTransfer { hours });
        }
        return out;
    };
    for p in &driver.packages {
        let tag = p.tag.to_string();
        match (m.packages.get(&tag), &p.decision) {
            (None, _) => out.push(ReceiptIssue::NotInMetrc { tag }),
            // Metrc's word counts once the driver has one to compare.
            (Some(MetrcState::Accepted), Some(Decision::Rejected { .. })) => {
                out.push(ReceiptIssue::AcceptedInMetrc { tag })
            }
            (Some(s @ (MetrcState::Rejected | MetrcState::Returned)), Some(Decision::Accepted)) => {
                out.push(ReceiptIssue::RejectedInMetrc {
                    tag,
                    state: s.label().to_string(),
                })
            }
            _ => {}
        }
    }
    for tag in m.packages.keys() {
        if !driver.packages.iter().any(|p| p.tag.as_str() == tag) {
            out.push(ReceiptIssue::NotOnLoad { tag: tag.clone() });
        }
    }
    match (m.received_at, signed) {
        (None, _) => {
            if let Some(hours) = overdue {
                out.push(ReceiptIssue::NotReceived { hours });
            }
        }
        (Some(r), Some(s)) if r - s > Duration::hours(RECEIPT_HOURS) => {
            out.push(ReceiptIssue::ReceivedLate {
                hours: (r - s).num_hours(),
            });
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RejectReason;
    use crate::domain::ship::{DeliveryPackage, Finished};
    use crate::tag::MetrcTag;

    fn tag(n: u32) -> MetrcTag {
        MetrcTag::new(&format!("1A4060300003C350000{n:05}")).unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn driver(decisions: &[(u32, Option<bool>)], signed: Option<&str>) -> DeliveryState {
        let packages: Vec<DeliveryPackage> = decisions
            .iter()
            .map(|(n, d)| DeliveryPackage {
                tag: tag(*n),
                line: "1".into(),
                decision: d.map(|ok| {
                    if ok {
                        Decision::Accepted
                    } else {
                        Decision::Rejected {
                            reason: RejectReason::Damaged,
                            note: None,
                        }
                    }
                }),
            })
            .collect();
        DeliveryState {
            order: "SO-1".into(),
            total: packages.len(),
            accepted: 0,
            rejected: 0,
            open: 0,
            loaded: true,
            finished: signed.map(|at| Finished {
                at: at.into(),
                receiver: "Rae".into(),
                signature: "sig".into(),
                person: None,
            }),
            packages,
        }
    }

    fn metrc(states: &[(u32, &str)], received: Option<&str>) -> MetrcReceipt {
        MetrcReceipt {
            manifest_number: Some("0000000001".into()),
            received_at: received.map(t),
            packages: states
                .iter()
                .map(|(n, s)| (tag(*n).to_string(), MetrcState::of(s)))
                .collect(),
            read_at: t("2026-12-02T12:00:00Z"),
        }
    }

    #[test]
    fn metrc_beside_the_driver() {
        let signed = "2026-12-01T10:00:00Z";
        let soon = t("2026-12-01T12:00:00Z");
        let late = t("2026-12-02T11:00:00Z");
        let full = [(1, Some(true)), (2, Some(false))];
        // (what, the driver's record, Metrc's, now, the issues)
        type Row = (
            &'static str,
            DeliveryState,
            Option<MetrcReceipt>,
            DateTime<Utc>,
            Vec<ReceiptIssue>,
        );
        let table: Vec<Row> = vec![
            (
                "agree",
                driver(&full, Some(signed)),
                Some(metrc(&[(1, "Accepted"), (2, "Rejected")], Some(signed))),
                late,
                vec![],
            ),
            (
                "a returned package is a rejected one",
                driver(&full, Some(signed)),
                Some(metrc(&[(1, "Accepted"), (2, "Returned")], Some(signed))),
                late,
                vec![],
            ),
            (
                "the receiver accepted in Metrc what the driver recorded rejected, and the other way",
                driver(&full, Some(signed)),
                Some(metrc(&[(1, "Rejected"), (2, "Accepted")], Some(signed))),
                soon,
                vec![
                    ReceiptIssue::RejectedInMetrc {
                        tag: tag(1).to_string(),
                        state: "Rejected".into(),
                    },
                    ReceiptIssue::AcceptedInMetrc {
                        tag: tag(2).to_string(),
                    },
                ],
            ),
            (
                "not received yet, within the day: nothing to say",
                driver(&full, Some(signed)),
                Some(metrc(&[(1, "Shipped"), (2, "Shipped")], None)),
                soon,
                vec![],
            ),
            (
                "not received a day after the signature",
                driver(&full, Some(signed)),
                Some(metrc(&[(1, "Shipped"), (2, "Shipped")], None)),
                late,
                vec![ReceiptIssue::NotReceived { hours: 25 }],
            ),
            (
                "received in Metrc, but 30 hours after the signature",
                driver(&full, Some(signed)),
                Some(metrc(
                    &[(1, "Accepted"), (2, "Rejected")],
                    Some("2026-12-02T16:00:00Z"),
                )),
                late,
                vec![ReceiptIssue::ReceivedLate { hours: 30 }],
            ),
            (
                "no transfer in Metrc a day after the signature",
                driver(&full, Some(signed)),
                None,
                late,
                vec![ReceiptIssue::NoTransfer { hours: 25 }],
            ),
            (
                "no transfer, not signed yet: nothing to say",
                driver(&[(1, None)], None),
                None,
                late,
                vec![],
            ),
            (
                "packages on one side only",
                driver(&[(1, Some(true)), (3, Some(true))], Some(signed)),
                Some(metrc(&[(1, "Accepted"), (4, "Accepted")], Some(signed))),
                soon,
                vec![
                    ReceiptIssue::NotInMetrc {
                        tag: tag(3).to_string(),
                    },
                    ReceiptIssue::NotOnLoad {
                        tag: tag(4).to_string(),
                    },
                ],
            ),
            (
                "Metrc received before the driver recorded a word: nothing to compare",
                driver(&[(1, None)], None),
                Some(metrc(&[(1, "Rejected")], Some(signed))),
                soon,
                vec![],
            ),
        ];
        for (what, d, m, now, want) in table {
            assert_eq!(compare(&d, m.as_ref(), now), want, "{what}");
        }
    }

    #[test]
    fn every_state_metrc_lists_reads() {
        for (s, want) in [
            ("Shipped", MetrcState::Shipped),
            ("Accepted", MetrcState::Accepted),
            ("rejected", MetrcState::Rejected),
            ("Returned", MetrcState::Returned),
            ("Lost", MetrcState::Other("Lost".into())),
        ] {
            assert_eq!(MetrcState::of(s), want);
        }
    }
}

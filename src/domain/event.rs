//! Append-only events: every answered scan, short pick, undo, and every step of the
//! load and the delivery.
//!
//! Events are never changed; a correction is a new event. Each carries the device that
//! made it and that device's sequence number, which together identify it everywhere,
//! and the person signed in when it was made.

use serde::{Deserialize, Serialize};

use super::pick::Verdict;
use super::transport::{Driver, Vehicle};
use crate::tag::MetrcTag;

/// Most bytes of a raw scanner line kept in an event; longer input is cut and its
/// full length recorded, so a 10 MB burst of garbage does not bloat the log.
pub const RAW_KEEP: usize = 1024;

/// One recorded event, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub device: String,
    pub seq: i64,
    /// UTC, RFC 3339 with milliseconds.
    pub at: String,
    pub order: String,
    /// Who was signed in on the device (none on a station without people, and on
    /// events recorded before people were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    pub kind: EventKind,
}

/// An event's identity everywhere: the device that made it and its sequence number
/// there.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventRef {
    pub device: String,
    pub seq: i64,
}

impl Event {
    pub fn id(&self) -> EventRef {
        EventRef {
            device: self.device.clone(),
            seq: self.seq,
        }
    }

    /// Where the event stands in [`fold_order`]: its time (milliseconds since the
    /// epoch; an unreadable time first), then its device, then its sequence number.
    pub fn fold_key(&self) -> (i64, String, i64) {
        let at = chrono::DateTime::parse_from_rfc3339(&self.at)
            .map(|t| t.timestamp_millis())
            .unwrap_or(i64::MIN);
        (at, self.device.clone(), self.seq)
    }
}

/// Put one order's events in the order every fold reads them: by the time each was
/// recorded, then device id, then sequence number. The order depends on the events
/// alone, never on when or from where they arrived, so the hub and every device that
/// hold the same events fold the same state (picks, shorts, the load, the delivery).
/// Across devices "earlier" is by the devices' clocks, which the hub checks (a clock
/// more than a day off is logged); where a clock is off, the observed-remove undo
/// (an [`EventKind::Undo`] names the picks it takes back) keeps a pick from being
/// taken back, or brought back, by a stranger's event.
pub fn fold_order(events: &mut [Event]) {
    events.sort_by_cached_key(Event::fold_key);
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A scan and the verdict it got (accepted or not).
    Scan {
        /// The scanner line as received, cut to [`RAW_KEEP`] bytes.
        raw: Vec<u8>,
        /// The length of the line as received.
        raw_len: usize,
        tag: Option<MetrcTag>,
        verdict: Verdict,
    },
    /// The rest of a line will not be picked.
    Short { line: String, reason: String },
    /// A pick taken back: the accepted scans of `tag` named in `undoes`, those the
    /// device held when the undo was made (an observed-remove: a pick of the same tag
    /// the device had not heard of still stands). An undo recorded before undoes were
    /// named (empty `undoes`) takes back every pick of the tag folded before it.
    Undo {
        tag: MetrcTag,
        reason: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        undoes: Vec<EventRef>,
    },
    /// A scan at the dock and the verdict it got ([`Verdict::Loaded`] puts the package
    /// on the vehicle).
    LoadScan {
        raw: Vec<u8>,
        raw_len: usize,
        tag: Option<MetrcTag>,
        verdict: Verdict,
    },
    /// A supervisor took a package off the shipment: it leaves the manifest and the
    /// invoice (and the vehicle, if it was loaded).
    Remove { tag: MetrcTag, reason: String },
    /// The load was confirmed: exactly these packages of this order are on the vehicle.
    LoadConfirm(Box<LoadConfirm>),
    /// A scan at hand-over and its verdict ([`Verdict::HandedOver`]: the receiver has
    /// it and accepts it unless they reject it).
    DeliverScan {
        raw: Vec<u8>,
        raw_len: usize,
        tag: Option<MetrcTag>,
        verdict: Verdict,
    },
    /// The receiver accepts or rejects one whole package.
    Decision { tag: MetrcTag, decision: Decision },
    /// The delivery is finished and signed.
    DeliverFinish {
        receiver: String,
        /// SHA-256 (hex) of the signature PNG, stored as an attachment with the event.
        signature: String,
    },
    /// The hub keeps `event` as a fact of the floor but does not count it until a
    /// supervisor rules on it ([`EventKind::Ruling`]): its person's role may not do
    /// it, or it names nobody, or nobody the hub knows. Recorded by the hub alone
    /// (a device's push of one is refused); see [`super::ruling`].
    Hold { event: EventRef, why: String },
    /// A supervisor's word on a held event: accepted, it counts at its own place in
    /// [`fold_order`]; rejected, it stays kept and never counts. A later ruling on the
    /// same event (in fold order) replaces an earlier one.
    Ruling {
        event: EventRef,
        accept: bool,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reason: String,
    },
    /// A supervisor releases the order from its license hold
    /// ([`super::license`]): the buyer license it names is let through, with why.
    LicenseRelease { license: String, reason: String },
    /// A flow refused the order because it is on license hold: one event each time
    /// a session would open (not one per scan).
    LicenseRefused { stage: Stage, why: String },
}

/// The three hand-offs a package is scanned at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Pick,
    Load,
    Deliver,
}

impl Stage {
    pub fn word(self) -> &'static str {
        match self {
            Stage::Pick => "pick",
            Stage::Load => "load",
            Stage::Deliver => "deliver",
        }
    }
}

/// What a confirmed load records for one order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadConfirm {
    /// The load's id, shared by every order on the vehicle.
    pub load: String,
    /// Every order on this load (the route), this one included.
    pub orders: Vec<String>,
    pub driver: Driver,
    pub vehicle: Vehicle,
    /// This order's packages on the vehicle: its manifest.
    pub tags: Vec<MetrcTag>,
    /// SHA-256 of the manifest PDF made at confirmation, stored as an attachment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_pdf: Option<String>,
}

/// The receiver's word on one package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Accepted,
    Rejected {
        reason: RejectReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
}

/// Why a receiver rejects a whole package.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    Damaged,
    WrongItem,
    NotOrdered,
    FailedInspection,
    /// Needs a note saying what.
    Other,
}

impl RejectReason {
    pub const ALL: [RejectReason; 5] = [
        RejectReason::Damaged,
        RejectReason::WrongItem,
        RejectReason::NotOrdered,
        RejectReason::FailedInspection,
        RejectReason::Other,
    ];

    pub fn word(self) -> &'static str {
        match self {
            RejectReason::Damaged => "damaged",
            RejectReason::WrongItem => "wrong_item",
            RejectReason::NotOrdered => "not_ordered",
            RejectReason::FailedInspection => "failed_inspection",
            RejectReason::Other => "other",
        }
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            RejectReason::Damaged => "Damaged",
            RejectReason::WrongItem => "Wrong item",
            RejectReason::NotOrdered => "Not ordered",
            RejectReason::FailedInspection => "Failed inspection",
            RejectReason::Other => "Other",
        }
    }

    pub fn parse(s: &str) -> Option<RejectReason> {
        let s = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        Self::ALL.into_iter().find(|r| r.word() == s)
    }
}

impl EventKind {
    /// A scan event, keeping at most [`RAW_KEEP`] bytes of the raw line; `raw_len` is
    /// the length of the line as received, which may exceed `raw.len()`.
    pub fn scan(raw: &[u8], raw_len: usize, tag: Option<MetrcTag>, verdict: Verdict) -> Self {
        Self::scan_at(Stage::Pick, raw, raw_len, tag, verdict)
    }

    /// A scan event of the pick, the load or the delivery, keeping at most
    /// [`RAW_KEEP`] bytes of the raw line.
    pub fn scan_at(
        stage: Stage,
        raw: &[u8],
        raw_len: usize,
        tag: Option<MetrcTag>,
        verdict: Verdict,
    ) -> Self {
        let raw_len = raw_len.max(raw.len());
        let raw = raw[..raw.len().min(RAW_KEEP)].to_vec();
        match stage {
            Stage::Pick => EventKind::Scan {
                raw,
                raw_len,
                tag,
                verdict,
            },
            Stage::Load => EventKind::LoadScan {
                raw,
                raw_len,
                tag,
                verdict,
            },
            Stage::Deliver => EventKind::DeliverScan {
                raw,
                raw_len,
                tag,
                verdict,
            },
        }
    }

    /// One sentence a person reads in an order's history.
    pub fn sentence(&self) -> String {
        let tag = |t: &Option<MetrcTag>| {
            t.as_ref()
                .map_or_else(|| "not a tag".to_string(), MetrcTag::to_string)
        };
        match self {
            EventKind::Scan {
                tag: t, verdict, ..
            } => match verdict {
                super::Verdict::Accepted { line, .. } => {
                    format!("picked {} for line {line}", tag(t))
                }
                v => format!(
                    "scanned {} at the pick: {}",
                    tag(t),
                    v.word().replace('_', " ")
                ),
            },
            EventKind::Short { line, reason } => format!("line {line} short: {reason}"),
            EventKind::Undo { tag, reason, .. } => format!("pick of {tag} undone: {reason}"),
            EventKind::LoadScan {
                tag: t, verdict, ..
            } => {
                format!(
                    "scanned {} at the dock: {}",
                    tag(t),
                    verdict.word().replace('_', " ")
                )
            }
            EventKind::Remove { tag, reason } => {
                format!("{tag} taken off the shipment: {reason}")
            }
            EventKind::LoadConfirm(c) => format!(
                "load {} confirmed: {} packages, driver {}",
                c.load,
                c.tags.len(),
                c.driver.name
            ),
            EventKind::DeliverScan {
                tag: t, verdict, ..
            } => {
                format!(
                    "scanned {} at the hand-over: {}",
                    tag(t),
                    verdict.word().replace('_', " ")
                )
            }
            EventKind::Decision { tag, decision } => match decision {
                Decision::Accepted => format!("{tag} accepted by the receiver"),
                Decision::Rejected { reason, note } => format!(
                    "{tag} rejected by the receiver: {}{}",
                    reason.label(),
                    note.as_deref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                ),
            },
            EventKind::DeliverFinish { receiver, .. } => {
                format!("delivery signed for by {receiver}")
            }
            EventKind::Hold { event, why } => format!("event {event} held for a ruling: {why}"),
            EventKind::Ruling {
                event,
                accept,
                reason,
            } => format!(
                "event {event} {}{}",
                if *accept { "accepted" } else { "rejected" },
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                }
            ),
            EventKind::LicenseRelease { license, reason } => {
                format!("license hold on {license} released: {reason}")
            }
            EventKind::LicenseRefused { stage, why } => {
                format!("the {} refused the order: {why}", stage.word())
            }
        }
    }

    pub fn word(&self) -> &'static str {
        match self {
            EventKind::Scan { .. } => "scan",
            EventKind::Short { .. } => "short",
            EventKind::Undo { .. } => "undo",
            EventKind::LoadScan { .. } => "load_scan",
            EventKind::Remove { .. } => "remove",
            EventKind::LoadConfirm(_) => "load_confirm",
            EventKind::DeliverScan { .. } => "deliver_scan",
            EventKind::Decision { .. } => "decision",
            EventKind::DeliverFinish { .. } => "deliver_finish",
            EventKind::Hold { .. } => "hold",
            EventKind::Ruling { .. } => "ruling",
            EventKind::LicenseRelease { .. } => "license_release",
            EventKind::LicenseRefused { .. } => "license_refused",
        }
    }

    /// The tag the event is about, if one.
    pub fn tag(&self) -> Option<&MetrcTag> {
        match self {
            EventKind::Scan { tag, .. }
            | EventKind::LoadScan { tag, .. }
            | EventKind::DeliverScan { tag, .. } => tag.as_ref(),
            EventKind::Undo { tag, .. }
            | EventKind::Remove { tag, .. }
            | EventKind::Decision { tag, .. } => Some(tag),
            EventKind::Short { .. }
            | EventKind::LoadConfirm(_)
            | EventKind::DeliverFinish { .. }
            | EventKind::Hold { .. }
            | EventKind::Ruling { .. }
            | EventKind::LicenseRelease { .. }
            | EventKind::LicenseRefused { .. } => None,
        }
    }

    /// The verdict, for the three kinds of scan.
    pub fn verdict(&self) -> Option<&Verdict> {
        match self {
            EventKind::Scan { verdict, .. }
            | EventKind::LoadScan { verdict, .. }
            | EventKind::DeliverScan { verdict, .. } => Some(verdict),
            _ => None,
        }
    }

    /// A hold or a ruling: an event about another event, which changes what counts
    /// ([`super::ruling::counted`]) rather than the state itself.
    pub fn is_hold_or_ruling(&self) -> bool {
        matches!(self, EventKind::Hold { .. } | EventKind::Ruling { .. })
    }

    /// The attachments (SHA-256 hex) the event refers to, which travel with it.
    pub fn attachments(&self) -> Vec<&str> {
        match self {
            EventKind::LoadConfirm(c) => c.manifest_pdf.iter().map(String::as_str).collect(),
            EventKind::DeliverFinish { signature, .. } => vec![signature.as_str()],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_sentence_naming_what_and_why() {
        let tag = MetrcTag::new("1A4060300003C35000010001").unwrap();
        let r = EventRef {
            device: "vault-1".into(),
            seq: 4,
        };
        for (kind, want) in [
            (
                EventKind::Short {
                    line: "2".into(),
                    reason: "lab".into(),
                },
                "line 2 short: lab",
            ),
            (
                EventKind::Undo {
                    tag: tag.clone(),
                    reason: "damaged".into(),
                    undoes: vec![],
                },
                "pick of 1A4060300003C35000010001 undone: damaged",
            ),
            (
                EventKind::Remove {
                    tag: tag.clone(),
                    reason: "crushed".into(),
                },
                "1A4060300003C35000010001 taken off the shipment: crushed",
            ),
            (
                EventKind::Decision {
                    tag: tag.clone(),
                    decision: Decision::Rejected {
                        reason: RejectReason::Damaged,
                        note: Some("corner".into()),
                    },
                },
                "1A4060300003C35000010001 rejected by the receiver: Damaged (corner)",
            ),
            (
                EventKind::DeliverFinish {
                    receiver: "Rae".into(),
                    signature: "ab".into(),
                },
                "delivery signed for by Rae",
            ),
            (
                EventKind::Hold {
                    event: r.clone(),
                    why: "names nobody".into(),
                },
                "event vault-1/4 held for a ruling: names nobody",
            ),
            (
                EventKind::Ruling {
                    event: r,
                    accept: false,
                    reason: String::new(),
                },
                "event vault-1/4 rejected",
            ),
            (
                EventKind::LicenseRefused {
                    stage: Stage::Load,
                    why: "suspended".into(),
                },
                "the load refused the order: suspended",
            ),
        ] {
            assert_eq!(kind.sentence(), want);
        }
    }
}

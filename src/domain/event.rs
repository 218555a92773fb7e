//! Append-only events: every answered scan, short pick and undo.
//!
//! Events are never changed; a correction is a new event. Each carries the device that
//! made it and that device's sequence number, which together identify it everywhere.

use serde::{Deserialize, Serialize};

use super::pick::Verdict;
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
    pub kind: EventKind,
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
    /// A pick taken back.
    Undo { tag: MetrcTag, reason: String },
}

impl EventKind {
    /// A scan event, keeping at most [`RAW_KEEP`] bytes of the raw line; `raw_len` is
    /// the length of the line as received, which may exceed `raw.len()`.
    pub fn scan(raw: &[u8], raw_len: usize, tag: Option<MetrcTag>, verdict: Verdict) -> Self {
        EventKind::Scan {
            raw: raw[..raw.len().min(RAW_KEEP)].to_vec(),
            raw_len: raw_len.max(raw.len()),
            tag,
            verdict,
        }
    }

    pub fn word(&self) -> &'static str {
        match self {
            EventKind::Scan { .. } => "scan",
            EventKind::Short { .. } => "short",
            EventKind::Undo { .. } => "undo",
        }
    }
}

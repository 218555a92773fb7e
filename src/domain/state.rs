//! What has happened on one order so far: the picks and shorts folded from its
//! events ([`PickState`]) and the progress they make against the pick list.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::event::{Event, EventKind};
use super::pick::{PickList, Verdict};
use crate::tag::MetrcTag;

/// What has happened on one order so far, rebuilt from its events.
#[derive(Clone, Debug, Default)]
pub struct PickState {
    picked: HashMap<MetrcTag, String>,
    shorts: HashMap<String, String>,
}

impl PickState {
    /// Fold one event of this order into the state.
    pub fn apply(&mut self, event: &Event) {
        match &event.kind {
            EventKind::Scan {
                tag: Some(tag),
                verdict: Verdict::Accepted { line, .. },
                ..
            } => {
                self.picked.insert(tag.clone(), line.clone());
            }
            EventKind::Scan { .. } => {}
            EventKind::Short { line, reason } => {
                self.shorts.insert(line.clone(), reason.clone());
            }
            EventKind::Undo { tag, .. } => {
                self.picked.remove(tag);
            }
            // The load and the delivery ([`crate::domain::ship`]) do not change picks.
            _ => {}
        }
    }

    /// The line `tag` is picked for, if it is picked.
    pub fn line_picked(&self, tag: &MetrcTag) -> Option<&str> {
        self.picked.get(tag).map(String::as_str)
    }

    pub fn is_picked(&self, tag: &MetrcTag) -> bool {
        self.picked.contains_key(tag)
    }

    pub fn picked_tags(&self) -> impl Iterator<Item = &MetrcTag> {
        self.picked.keys()
    }

    /// Picked tags with the line each was picked for.
    pub fn picked_lines(&self) -> impl Iterator<Item = (&MetrcTag, &str)> {
        self.picked.iter().map(|(t, l)| (t, l.as_str()))
    }

    pub fn picked(&self) -> usize {
        self.picked.len()
    }

    /// Per-line and whole-order progress.
    pub fn progress(&self, list: &PickList) -> Progress {
        let mut per_line: HashMap<&str, usize> = HashMap::new();
        for line in self.picked.values() {
            *per_line.entry(line.as_str()).or_default() += 1;
        }
        let lines: Vec<LineProgress> = list
            .lines
            .iter()
            .map(|l| {
                let picked = per_line.get(l.id.as_str()).copied().unwrap_or(0);
                let open = l.allocated.saturating_sub(picked);
                let short_reason = self.shorts.get(&l.id).cloned();
                let (short, remaining) = if short_reason.is_some() {
                    (open, 0)
                } else {
                    (0, open)
                };
                LineProgress {
                    id: l.id.clone(),
                    label: l.label.clone(),
                    batch: l.batch.clone(),
                    allocated: l.allocated,
                    picked,
                    short,
                    remaining,
                    short_reason,
                }
            })
            .collect();
        let complete = !lines.is_empty() && lines.iter().all(|l| l.remaining == 0);
        Progress {
            order: list.order.clone(),
            picked: self.picked.len(),
            total: list.total(),
            complete,
            lines,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub order: String,
    pub picked: usize,
    pub total: usize,
    pub complete: bool,
    pub lines: Vec<LineProgress>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineProgress {
    pub id: String,
    pub label: String,
    pub batch: Option<String>,
    pub allocated: usize,
    pub picked: usize,
    pub short: usize,
    pub remaining: usize,
    pub short_reason: Option<String>,
}

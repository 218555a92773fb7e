//! What the floor did, written back to the order's B2B platform (LeafLink, Apex):
//! which writes are due from an order's folded facts, how a due write relates to the
//! one already queued, and which single step brings the platform's order to a
//! stage from where it stands. Pure; the queue (`store`) and the platforms' clients
//! (`leaflink`, `apex`) do the rest.
//!
//! The rule is level-triggered: every round decides again what should be true at
//! the platform from the events, so a write lost, doubled or overtaken by an undo
//! is mended by the next round, never by remembering what was meant.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Event, LoadOrder};

/// A B2B platform orders come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    LeafLink,
    Apex,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::LeafLink => "leaflink",
            Platform::Apex => "apex",
        }
    }

    pub fn of(s: &str) -> Option<Platform> {
        match s {
            "leaflink" => Some(Platform::LeafLink),
            "apex" => Some(Platform::Apex),
            _ => None,
        }
    }

    /// Its name as people write it.
    pub fn name(self) -> &'static str {
        match self {
            Platform::LeafLink => "LeafLink",
            Platform::Apex => "Apex",
        }
    }
}

/// An order's stage as the platform knows it, in the order they follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Picked and packed: LeafLink's Fulfilled, Apex's "Pending Shipment".
    Fulfilled,
    /// On the vehicle, Metrc's manifest printed: LeafLink's Shipped, Apex's "In Transit".
    Shipped,
    /// Handed over and signed for: LeafLink's Complete, Apex's "Delivered".
    Delivered,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Fulfilled => "fulfilled",
            Stage::Shipped => "shipped",
            Stage::Delivered => "delivered",
        }
    }
}

/// What kind of fact a write carries; the queue keeps one row per (order, kind,
/// subject).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteKind {
    /// A line packed (LeafLink only; the subject is the line's id).
    Packed,
    Fulfilled,
    Shipped,
    /// Metrc's manifest number on the order (LeafLink only).
    Manifest,
    Delivered,
}

impl WriteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteKind::Packed => "packed",
            WriteKind::Fulfilled => "fulfilled",
            WriteKind::Shipped => "shipped",
            WriteKind::Manifest => "manifest",
            WriteKind::Delivered => "delivered",
        }
    }

    pub fn of(s: &str) -> Option<WriteKind> {
        Some(match s {
            "packed" => WriteKind::Packed,
            "fulfilled" => WriteKind::Fulfilled,
            "shipped" => WriteKind::Shipped,
            "manifest" => WriteKind::Manifest,
            "delivered" => WriteKind::Delivered,
            _ => return None,
        })
    }

    /// The stage a kind moves the order to, for the stage kinds.
    pub fn stage(self) -> Option<Stage> {
        match self {
            WriteKind::Fulfilled => Some(Stage::Fulfilled),
            WriteKind::Shipped => Some(Stage::Shipped),
            WriteKind::Delivered => Some(Stage::Delivered),
            WriteKind::Packed | WriteKind::Manifest => None,
        }
    }
}

/// One line of an order as the floor left it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineFacts {
    pub id: String,
    pub allocated: usize,
    /// The picked packages' tags, sorted.
    pub picked: Vec<String>,
    /// When the last standing pick of the line was recorded.
    pub last_pick_at: Option<String>,
    pub shorted: bool,
}

/// One order as the floor left it (folded from its counted events).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FloorFacts {
    pub lines: Vec<LineFacts>,
    /// Every line with an allocation fully picked or shorted.
    pub complete: bool,
    /// When the load was confirmed.
    pub loaded_at: Option<String>,
    /// Metrc's manifest number of the order's transfer, once read back.
    pub manifest_number: Option<String>,
    /// When the delivery was signed for.
    pub delivered_at: Option<String>,
}

impl FloorFacts {
    /// The facts of one order: its lines' picks (with the time of each line's last
    /// standing pick, from `events`, the order's counted events), whether it is
    /// complete, its load and its delivery; Metrc's manifest number as read back.
    pub fn of(order: &LoadOrder, events: &[Event], manifest_number: Option<String>) -> FloorFacts {
        let at: HashMap<super::EventRef, &str> =
            events.iter().map(|e| (e.id(), e.at.as_str())).collect();
        let mut picked: HashMap<&str, Vec<(String, Option<&str>)>> = HashMap::new();
        for (tag, line) in order.pick.picked_lines() {
            let last = order
                .pick
                .picks_of(tag)
                .iter()
                .filter_map(|id| at.get(id).copied())
                .max();
            picked
                .entry(line)
                .or_default()
                .push((tag.as_str().to_string(), last));
        }
        let shorted: Vec<&str> = order.pick.shorts().map(|(l, _)| l).collect();
        let lines = order
            .list
            .lines
            .iter()
            .map(|l| {
                let mut p = picked.remove(l.id.as_str()).unwrap_or_default();
                p.sort();
                LineFacts {
                    id: l.id.clone(),
                    allocated: l.allocated,
                    last_pick_at: p.iter().filter_map(|(_, t)| *t).max().map(str::to_string),
                    picked: p.into_iter().map(|(t, _)| t).collect(),
                    shorted: shorted.contains(&l.id.as_str()),
                }
            })
            .collect();
        FloorFacts {
            lines,
            complete: order.pick.progress(&order.list).complete,
            loaded_at: order.ship.confirmed().map(|c| c.at.clone()),
            manifest_number,
            delivered_at: order.ship.finished().map(|f| f.at.clone()),
        }
    }
}

/// What is to be true at the platform: the body of a queued write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "write", rename_all = "snake_case")]
pub enum Wanted {
    /// A line marked packed with its packages (or unmarked, after an undo).
    Line {
        line: String,
        packed: bool,
        tags: Vec<String>,
        packed_at: Option<String>,
    },
    /// The order at `stage` (or past it).
    Stage { stage: Stage, at: Option<String> },
    /// Metrc's manifest number on the order.
    Manifest { number: String },
}

impl Wanted {
    pub fn kind(&self) -> WriteKind {
        match self {
            Wanted::Line { .. } => WriteKind::Packed,
            Wanted::Stage {
                stage: Stage::Fulfilled,
                ..
            } => WriteKind::Fulfilled,
            Wanted::Stage {
                stage: Stage::Shipped,
                ..
            } => WriteKind::Shipped,
            Wanted::Stage {
                stage: Stage::Delivered,
                ..
            } => WriteKind::Delivered,
            Wanted::Manifest { .. } => WriteKind::Manifest,
        }
    }

    /// The queue's subject: the line for a line, nothing for the order's facts.
    pub fn subject(&self) -> &str {
        match self {
            Wanted::Line { line, .. } => line,
            _ => "",
        }
    }

    /// In words, for `tagtally status`.
    pub fn describe(&self) -> String {
        match self {
            Wanted::Line {
                line,
                packed: true,
                tags,
                ..
            } => format!("line {line} packed ({} packages)", tags.len()),
            Wanted::Line {
                line,
                packed: false,
                ..
            } => format!("line {line} no longer packed"),
            Wanted::Stage { stage, .. } => format!("order {}", stage.as_str()),
            Wanted::Manifest { number } => format!("manifest number {number}"),
        }
    }
}

/// The writes the floor's facts call for on `platform`, in the order they are to
/// be sent (lines, then the stages; the manifest number after the shipment).
/// Lines not packed are listed too (`packed: false`): [`reconcile`] sends those only
/// where a line was marked packed before.
pub fn wanted(platform: Platform, f: &FloorFacts) -> Vec<Wanted> {
    let mut out = Vec::new();
    if platform == Platform::LeafLink {
        for l in &f.lines {
            // Packed: every allocated package picked, or the line shorted with what
            // was picked of it.
            let packed = !l.picked.is_empty() && (l.picked.len() >= l.allocated || l.shorted);
            out.push(Wanted::Line {
                line: l.id.clone(),
                packed,
                tags: if packed { l.picked.clone() } else { vec![] },
                packed_at: if packed { l.last_pick_at.clone() } else { None },
            });
        }
    }
    if f.complete || f.loaded_at.is_some() || f.delivered_at.is_some() {
        let at = f.lines.iter().filter_map(|l| l.last_pick_at.clone()).max();
        out.push(Wanted::Stage {
            stage: Stage::Fulfilled,
            at,
        });
    }
    if let Some(at) = &f.loaded_at {
        out.push(Wanted::Stage {
            stage: Stage::Shipped,
            at: Some(at.clone()),
        });
        if platform == Platform::LeafLink
            && let Some(n) = &f.manifest_number
        {
            out.push(Wanted::Manifest { number: n.clone() });
        }
    }
    if let Some(at) = &f.delivered_at {
        out.push(Wanted::Stage {
            stage: Stage::Delivered,
            at: Some(at.clone()),
        });
    }
    out
}

/// A write already in the queue for one (kind, subject) of an order.
#[derive(Clone, Debug, PartialEq)]
pub struct Queued {
    pub kind: WriteKind,
    pub subject: String,
    pub wanted: Wanted,
}

/// What the queue is to do about one wanted write.
#[derive(Clone, Debug, PartialEq)]
pub enum Enqueue {
    /// A new row.
    New(Wanted),
    /// The row's body changed (an undo after a line was packed, a second manifest
    /// number): queue it again with this body.
    Changed(Wanted),
}

/// Compare what is wanted with what is queued: new facts are queued, changed ones
/// queued again, the rest left alone. A line not packed is queued only when it was
/// queued packed before (to take the mark back). A stage, once queued, is never
/// changed by a later time: a stage cannot go back.
pub fn reconcile(wanted: &[Wanted], queued: &[Queued]) -> Vec<Enqueue> {
    let mut out = Vec::new();
    for w in wanted {
        let row = queued
            .iter()
            .find(|q| q.kind == w.kind() && q.subject == w.subject());
        match (w, row) {
            (Wanted::Line { packed: false, .. }, None) => {}
            (_, None) => out.push(Enqueue::New(w.clone())),
            (Wanted::Stage { .. }, Some(_)) => {}
            (_, Some(q)) if q.wanted != *w => out.push(Enqueue::Changed(w.clone())),
            (_, Some(_)) => {}
        }
    }
    out
}

mod step;
pub use step::{
    Action, ApexOrderState, ApexStatusIds, Failure, Step, apex_parent, apex_step, backoff_seconds,
    failure_of, leaflink_notes, leaflink_step,
};

#[cfg(test)]
mod tests {
    use super::*;
    fn line(id: &str, allocated: usize, picked: &[&str], shorted: bool) -> LineFacts {
        LineFacts {
            id: id.into(),
            allocated,
            picked: picked.iter().map(|s| s.to_string()).collect(),
            last_pick_at: (!picked.is_empty())
                .then(|| format!("2026-12-01T10:0{}:00Z", picked.len())),
            shorted,
        }
    }

    fn kinds(w: &[Wanted]) -> Vec<(WriteKind, String, bool)> {
        w.iter()
            .map(|w| {
                let packed = matches!(w, Wanted::Line { packed: true, .. });
                (w.kind(), w.subject().to_string(), packed)
            })
            .collect()
    }

    #[test]
    fn what_is_wanted_follows_the_floor() {
        use WriteKind::*;
        let partly = FloorFacts {
            lines: vec![
                line("1", 2, &["A", "B"], false),
                line("2", 3, &["C"], false),
            ],
            ..Default::default()
        };
        let complete = FloorFacts {
            lines: vec![line("1", 2, &["A", "B"], false), line("2", 3, &["C"], true)],
            complete: true,
            ..Default::default()
        };
        let loaded = FloorFacts {
            loaded_at: Some("2026-12-01T11:00:00Z".into()),
            ..complete.clone()
        };
        let manifest = FloorFacts {
            manifest_number: Some("0000012345".into()),
            ..loaded.clone()
        };
        let delivered = FloorFacts {
            delivered_at: Some("2026-12-01T15:00:00Z".into()),
            ..manifest.clone()
        };
        let s = String::new;
        for (platform, facts, want) in [
            (
                Platform::LeafLink,
                &partly,
                vec![(Packed, "1".into(), true), (Packed, "2".into(), false)],
            ),
            (
                Platform::LeafLink,
                &complete,
                vec![
                    (Packed, "1".into(), true),
                    (Packed, "2".into(), true),
                    (Fulfilled, s(), false),
                ],
            ),
            (Platform::Apex, &partly, vec![]),
            (Platform::Apex, &complete, vec![(Fulfilled, s(), false)]),
            (
                Platform::Apex,
                &delivered,
                vec![
                    (Fulfilled, s(), false),
                    (Shipped, s(), false),
                    (Delivered, s(), false),
                ],
            ),
            (
                Platform::LeafLink,
                &loaded,
                vec![
                    (Packed, "1".into(), true),
                    (Packed, "2".into(), true),
                    (Fulfilled, s(), false),
                    (Shipped, s(), false),
                ],
            ),
            (
                Platform::LeafLink,
                &delivered,
                vec![
                    (Packed, "1".into(), true),
                    (Packed, "2".into(), true),
                    (Fulfilled, s(), false),
                    (Shipped, s(), false),
                    (Manifest, s(), false),
                    (Delivered, s(), false),
                ],
            ),
        ] {
            assert_eq!(
                kinds(&wanted(platform, facts)),
                want,
                "{platform:?} {facts:?}"
            );
        }
        // A line with nothing picked is not packed even when shorted.
        let nothing = FloorFacts {
            lines: vec![line("1", 2, &[], true)],
            complete: true,
            ..Default::default()
        };
        assert_eq!(
            kinds(&wanted(Platform::LeafLink, &nothing)),
            vec![(Packed, "1".into(), false), (Fulfilled, s(), false)]
        );
        // The packed line carries its tags and its last pick's time.
        assert_eq!(
            wanted(Platform::LeafLink, &partly)[0],
            Wanted::Line {
                line: "1".into(),
                packed: true,
                tags: vec!["A".into(), "B".into()],
                packed_at: Some("2026-12-01T10:02:00Z".into()),
            }
        );
    }

    #[test]
    fn reconcile_queues_new_and_changed_facts_only() {
        let packed = |tags: &[&str]| Wanted::Line {
            line: "1".into(),
            packed: !tags.is_empty(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            packed_at: None,
        };
        let q = |w: &Wanted| Queued {
            kind: w.kind(),
            subject: w.subject().into(),
            wanted: w.clone(),
        };
        let fulfilled = |at: &str| Wanted::Stage {
            stage: Stage::Fulfilled,
            at: Some(at.into()),
        };
        let man = |n: &str| Wanted::Manifest { number: n.into() };
        for (wanted, queued, want) in [
            // Nothing queued: the packed line and the stage are new; an unpacked line
            // never marked is left alone.
            (
                vec![packed(&["A"]), fulfilled("t1")],
                vec![],
                vec![Enqueue::New(packed(&["A"])), Enqueue::New(fulfilled("t1"))],
            ),
            (vec![packed(&[])], vec![], vec![]),
            // The same again: nothing.
            (
                vec![packed(&["A"]), fulfilled("t1")],
                vec![q(&packed(&["A"])), q(&fulfilled("t1"))],
                vec![],
            ),
            // An undo after the line was packed takes the mark back; another pick
            // changes the tags.
            (
                vec![packed(&[])],
                vec![q(&packed(&["A"]))],
                vec![Enqueue::Changed(packed(&[]))],
            ),
            (
                vec![packed(&["A", "B"])],
                vec![q(&packed(&["A"]))],
                vec![Enqueue::Changed(packed(&["A", "B"]))],
            ),
            // A stage is never queued again for a later time.
            (vec![fulfilled("t2")], vec![q(&fulfilled("t1"))], vec![]),
            // A manifest number Metrc gave again differently is written again.
            (
                vec![man("2")],
                vec![q(&man("1"))],
                vec![Enqueue::Changed(man("2"))],
            ),
        ] {
            assert_eq!(reconcile(&wanted, &queued), want, "{wanted:?} {queued:?}");
        }
    }
}

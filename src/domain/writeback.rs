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

/// One step towards a stage at the platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The order is at the stage or past it: nothing to send.
    There,
    /// Send this (LeafLink: a transition action; Apex: a status id).
    Send(Action),
    /// The order cannot get there from where it stands: for a person.
    Impossible(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `POST /orders-received/{number}/transition/{action}/`.
    LeafLink(&'static str),
    /// `PUT /v1/shipping-orders/{id}` with this `order_status_id`.
    ApexStatus(i64),
}

/// LeafLink's statuses in the order an order moves through them (B2B-API.md §4c),
/// with the action that leaves each towards the next; the spellings LeafLink uses
/// (`Complete`, `Completed`) both count.
fn leaflink_rank(status: &str) -> Option<u8> {
    let s = status.trim().to_ascii_lowercase();
    Some(match s.as_str() {
        "accepted" | "backorder" => 1,
        "fulfilled" => 2,
        "shipped" => 3,
        "complete" | "completed" => 4,
        _ => return None,
    })
}

fn stage_rank(stage: Stage) -> u8 {
    match stage {
        Stage::Fulfilled => 2,
        Stage::Shipped => 3,
        Stage::Delivered => 4,
    }
}

/// The next LeafLink transition from `status` towards `target`.
pub fn leaflink_step(status: &str, target: Stage) -> Step {
    let want = stage_rank(target);
    match leaflink_rank(status) {
        Some(r) if r >= want => Step::There,
        Some(1) => Step::Send(Action::LeafLink("fulfill")),
        Some(2) => Step::Send(Action::LeafLink("ship")),
        Some(3) => Step::Send(Action::LeafLink("complete")),
        _ => Step::Impossible(format!(
            "the order is {status} in LeafLink, so it cannot be marked {}",
            target.as_str()
        )),
    }
}

/// Which Apex status ids mean which stage (`[apex] status_ids`); an unset one is
/// looked up in the order's deal flow by its parent status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApexStatusIds {
    pub accepted: Option<i64>,
    pub packed: Option<i64>,
    pub in_transit: Option<i64>,
    pub delivered: Option<i64>,
}

impl ApexStatusIds {
    pub fn of(&self, stage: Stage) -> Option<i64> {
        match stage {
            Stage::Fulfilled => self.packed,
            Stage::Shipped => self.in_transit,
            Stage::Delivered => self.delivered,
        }
    }
}

/// Apex's parent status (fixed across companies; B2B-API.md §8) a stage is.
pub fn apex_parent(stage: Stage) -> &'static str {
    match stage {
        Stage::Fulfilled => "Pending Shipment",
        Stage::Shipped => "In Transit",
        Stage::Delivered => "Delivered",
    }
}

fn apex_parent_rank(parent: &str) -> Option<u8> {
    let p = parent.trim().to_ascii_lowercase();
    Some(match p.as_str() {
        "submitted" => 0,
        "accepted" => 1,
        "pending shipment" => 2,
        "in transit" => 3,
        "delivered" => 4,
        "complete" | "completed" => 5,
        _ => return None,
    })
}

/// An Apex order as read: its status id, the status's parent (when the answer
/// carries it) and whether it is cancelled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApexOrderState {
    pub status_id: i64,
    pub parent: Option<String>,
    pub cancelled: bool,
}

/// The next Apex write from `order` towards `target`, whose status id is
/// `target_id` (from the settings or the deal flow). Apex moves in one PUT.
pub fn apex_step(
    order: &ApexOrderState,
    target: Stage,
    target_id: i64,
    ids: &ApexStatusIds,
) -> Step {
    if order.cancelled {
        return Step::Impossible(format!(
            "the order is cancelled in Apex, so it cannot be marked {}",
            target.as_str()
        ));
    }
    if order.status_id == target_id {
        return Step::There;
    }
    let want = stage_rank(target);
    // Where the order stands: its parent status when given, else the stage its id
    // is configured as.
    let rank = order
        .parent
        .as_deref()
        .and_then(apex_parent_rank)
        .or_else(|| {
            [
                (ids.accepted, 1),
                (ids.packed, 2),
                (ids.in_transit, 3),
                (ids.delivered, 4),
            ]
            .into_iter()
            .find(|(id, _)| *id == Some(order.status_id))
            .map(|(_, r)| r)
        });
    match rank {
        Some(r) if r >= want => Step::There,
        Some(0) => Step::Impossible(format!(
            "the order is not accepted in Apex yet, so it cannot be marked {}",
            target.as_str()
        )),
        _ => Step::Send(Action::ApexStatus(target_id)),
    }
}

/// What the platform's answer to a write means for the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Try again later: 5xx, a timeout, the network, a 429.
    Retry,
    /// The key was refused (401/403): every write waits until a person fixes the
    /// settings; tried again later, not counted against the write.
    Key,
    /// The platform refused this write (another 4xx): another try will not mend it;
    /// shown to the coordinator, not retried until a person queues it again.
    Refused,
}

/// The class of an HTTP status a write was answered with.
pub fn failure_of(status: u16) -> Failure {
    match status {
        401 | 403 => Failure::Key,
        408 | 425 | 429 => Failure::Retry,
        400..=499 => Failure::Refused,
        _ => Failure::Retry,
    }
}

/// Seconds to wait before try `attempts + 1` of a write that failed `attempts`
/// times: 5 s doubling, at most 5 minutes, so a platform back after an hour down
/// gets its queue within five minutes.
pub fn backoff_seconds(attempts: u32) -> u64 {
    let n = attempts.saturating_sub(1).min(16);
    (5u64 << n).min(300)
}

/// The text a packed line's `notes` carry (the tags cannot be written to LeafLink's
/// `package_tags`): the line's other notes are kept, and a part of ours written
/// before is replaced.
pub fn leaflink_notes(existing: Option<&str>, tags: &[String]) -> String {
    const MARK: &str = "Metrc packages (tagtally):";
    let kept = existing
        .unwrap_or("")
        .lines()
        .filter(|l| !l.trim_start().starts_with(MARK))
        .collect::<Vec<_>>()
        .join("\n");
    let kept = kept.trim_end();
    let ours = if tags.is_empty() {
        String::new()
    } else {
        format!("{MARK} {}", tags.join(", "))
    };
    match (kept.is_empty(), ours.is_empty()) {
        (true, _) => ours,
        (false, true) => kept.to_string(),
        (false, false) => format!("{kept}\n{ours}"),
    }
}

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

    #[test]
    fn leaflink_moves_one_transition_at_a_time_and_never_back() {
        use Stage::*;
        let send = |a| Step::Send(Action::LeafLink(a));
        for (status, target, want) in [
            ("Accepted", Fulfilled, send("fulfill")),
            ("accepted", Delivered, send("fulfill")),
            ("Backorder", Fulfilled, send("fulfill")),
            ("Fulfilled", Fulfilled, Step::There),
            ("Fulfilled", Shipped, send("ship")),
            ("Shipped", Fulfilled, Step::There),
            ("Shipped", Delivered, send("complete")),
            ("Complete", Delivered, Step::There),
            ("Completed", Shipped, Step::There),
        ] {
            assert_eq!(leaflink_step(status, target), want, "{status} {target:?}");
        }
        for status in [
            "Cancelled",
            "Rejected",
            "Submitted",
            "Draft",
            "Combined",
            "",
        ] {
            assert!(
                matches!(leaflink_step(status, Fulfilled), Step::Impossible(m) if m.contains("LeafLink")),
                "{status}"
            );
        }
    }

    #[test]
    fn apex_goes_to_the_stage_s_status_unless_it_is_there_or_past() {
        use Stage::*;
        let ids = ApexStatusIds {
            accepted: Some(301),
            packed: Some(302),
            in_transit: Some(303),
            delivered: Some(304),
        };
        let at = |id: i64, parent: Option<&str>| ApexOrderState {
            status_id: id,
            parent: parent.map(str::to_string),
            cancelled: false,
        };
        for (order, target, id, want) in [
            (
                at(301, Some("Accepted")),
                Fulfilled,
                302,
                Step::Send(Action::ApexStatus(302)),
            ),
            (
                at(301, None),
                Shipped,
                303,
                Step::Send(Action::ApexStatus(303)),
            ),
            (at(302, None), Fulfilled, 302, Step::There),
            (at(303, None), Fulfilled, 302, Step::There),
            // Another status of the same parent (a company's own "Packed - Cold"):
            // there already.
            (
                at(399, Some("Pending Shipment")),
                Fulfilled,
                302,
                Step::There,
            ),
            (
                at(399, Some("In Transit")),
                Delivered,
                304,
                Step::Send(Action::ApexStatus(304)),
            ),
            (at(500, Some("Complete")), Delivered, 304, Step::There),
            // Unknown id and no parent: send.
            (
                at(777, None),
                Fulfilled,
                302,
                Step::Send(Action::ApexStatus(302)),
            ),
        ] {
            assert_eq!(
                apex_step(&order, target, id, &ids),
                want,
                "{order:?} {target:?}"
            );
        }
        assert!(matches!(
            apex_step(&at(1, Some("Submitted")), Fulfilled, 302, &ids),
            Step::Impossible(_)
        ));
        let cancelled = ApexOrderState {
            cancelled: true,
            ..at(301, None)
        };
        assert!(matches!(
            apex_step(&cancelled, Fulfilled, 302, &ids),
            Step::Impossible(m) if m.contains("cancelled")
        ));
    }

    #[test]
    fn failures_and_backoff() {
        for (status, want) in [
            (400, Failure::Refused),
            (404, Failure::Refused),
            (422, Failure::Refused),
            (401, Failure::Key),
            (403, Failure::Key),
            (429, Failure::Retry),
            (408, Failure::Retry),
            (500, Failure::Retry),
            (503, Failure::Retry),
        ] {
            assert_eq!(failure_of(status), want, "{status}");
        }
        let waits: Vec<u64> = (1..=9).map(backoff_seconds).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(backoff_seconds(0), 5);
        assert_eq!(backoff_seconds(u32::MAX), 300);
    }

    #[test]
    fn notes_keep_the_line_s_own_words() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for (existing, tags, want) in [
            (None, t(&["A", "B"]), "Metrc packages (tagtally): A, B"),
            (Some(""), t(&["A"]), "Metrc packages (tagtally): A"),
            (
                Some("Leave at back door"),
                t(&["A"]),
                "Leave at back door\nMetrc packages (tagtally): A",
            ),
            (
                Some("Leave at back door\nMetrc packages (tagtally): A"),
                t(&["A", "B"]),
                "Leave at back door\nMetrc packages (tagtally): A, B",
            ),
            (
                Some("Leave at back door\nMetrc packages (tagtally): A"),
                t(&[]),
                "Leave at back door",
            ),
            (Some("Metrc packages (tagtally): A"), t(&[]), ""),
        ] {
            assert_eq!(leaflink_notes(existing, &tags), want, "{existing:?}");
        }
    }
}

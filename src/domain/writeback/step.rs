//! The single step from where a platform's order stands towards a stage (LeafLink's
//! transitions, Apex's status ids), what an answer means for the queue, its backoff,
//! and the notes a packed LeafLink line carries. Pure.

use serde::{Deserialize, Serialize};

use super::Stage;

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

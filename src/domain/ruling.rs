//! Events held for a supervisor's ruling, and what counts.
//!
//! On a hub with people, an event whose person's role may not do it (by the role the
//! person had when the event was recorded), or that names nobody, or somebody the
//! hub does not list, is kept as a fact of the floor but not counted: the hub records
//! an [`EventKind::Hold`] naming it, in the same transaction as the push. A supervisor
//! then accepts or rejects it with an [`EventKind::Ruling`]. A push is never refused
//! for a role, so a held event never blocks the device's later events.
//!
//! The holds and rulings are events like the others, so what counts is a function of
//! the set of an order's events, and the hub and every device that hold the same
//! events count the same ([`counted`]). An event counts unless it is held and its
//! last counting ruling (in [`fold_order`]) is missing or a rejection; a ruling is an
//! event too, and a held ruling (made by a non-supervisor) counts only once a
//! supervisor accepts it.
//!
//! Pure: no IO, no clock.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use super::event::{Event, EventKind, EventRef, fold_order};

impl fmt::Display for EventRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.device, self.seq)
    }
}

impl FromStr for EventRef {
    type Err = String;

    /// `DEVICE/SEQ`, as [`EventRef`] prints (`vault-1/12`).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an event: write DEVICE/SEQ, e.g. vault-1/12");
        let (device, seq) = s.trim().rsplit_once('/').ok_or_else(bad)?;
        let seq: i64 = seq.parse().map_err(|_| bad())?;
        if device.is_empty() || seq < 1 {
            return Err(bad());
        }
        Ok(EventRef {
            device: device.to_string(),
            seq,
        })
    }
}

/// Where one event stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// It counts (it was never held, or a supervisor accepted it).
    Counts,
    /// Held by the hub for a ruling, none made yet.
    Held { why: String },
    /// Held, and a supervisor rejected it: kept, never counted.
    Rejected { by: EventRef, reason: String },
}

/// A ruling on a held event, as read from its event.
#[derive(Clone, Debug)]
struct Made {
    ruling: EventRef,
    key: (i64, String, i64),
    accept: bool,
    reason: String,
}

/// The holds and rulings of one order's events.
#[derive(Clone, Debug, Default)]
pub struct Rulings {
    /// Held events with why (the first hold of each).
    held: HashMap<EventRef, String>,
    /// The standing of every held event, worked out once.
    standing: HashMap<EventRef, Standing>,
}

impl Rulings {
    /// Read the holds and rulings among `events` (any order).
    pub fn of(events: &[Event]) -> Rulings {
        let mut held: HashMap<EventRef, String> = HashMap::new();
        let mut made: HashMap<EventRef, Vec<Made>> = HashMap::new();
        for e in events {
            match &e.kind {
                EventKind::Hold { event, why } => {
                    // The first hold by fold order gives the reason; any is enough.
                    held.entry(event.clone())
                        .and_modify(|w| {
                            if why < w {
                                w.clone_from(why)
                            }
                        })
                        .or_insert_with(|| why.clone());
                }
                EventKind::Ruling {
                    event,
                    accept,
                    reason,
                } => made.entry(event.clone()).or_default().push(Made {
                    ruling: e.id(),
                    key: e.fold_key(),
                    accept: *accept,
                    reason: reason.clone(),
                }),
                _ => {}
            }
        }
        for rulings in made.values_mut() {
            rulings.sort_by(|a, b| a.key.cmp(&b.key));
        }
        let mut standing = HashMap::new();
        // In a fixed order, so even a forged cycle of rulings settles one way.
        let mut ids: Vec<&EventRef> = held.keys().collect();
        ids.sort();
        for id in ids {
            let mut visiting = Vec::new();
            settle(id, &held, &made, &mut standing, &mut visiting);
        }
        Rulings { held, standing }
    }

    /// Where the event `id` stands.
    pub fn standing(&self, id: &EventRef) -> Standing {
        self.standing.get(id).cloned().unwrap_or(Standing::Counts)
    }

    /// Whether `e` changes the state: not a hold or a ruling itself, and counting.
    pub fn counts(&self, e: &Event) -> bool {
        !e.kind.is_hold_or_ruling()
            && matches!(self.standing.get(&e.id()), None | Some(Standing::Counts))
    }

    /// Held events waiting for a ruling, with why, by event.
    pub fn pending(&self) -> Vec<(EventRef, String)> {
        let mut v: Vec<(EventRef, String)> = self
            .standing
            .iter()
            .filter_map(|(id, s)| match s {
                Standing::Held { why } => Some((id.clone(), why.clone())),
                _ => None,
            })
            .collect();
        v.sort();
        v
    }

    /// Whether `id` was held by the hub (whatever was ruled since).
    pub fn is_held(&self, id: &EventRef) -> bool {
        self.held.contains_key(id)
    }
}

/// Work out the standing of the held event `id`: its last counting ruling decides.
/// A cycle of rulings (only a forged history makes one) leaves its events held.
fn settle(
    id: &EventRef,
    held: &HashMap<EventRef, String>,
    made: &HashMap<EventRef, Vec<Made>>,
    standing: &mut HashMap<EventRef, Standing>,
    visiting: &mut Vec<EventRef>,
) -> bool {
    let Some(why) = held.get(id) else {
        return true;
    };
    if let Some(s) = standing.get(id) {
        return *s == Standing::Counts;
    }
    if visiting.contains(id) {
        return false;
    }
    visiting.push(id.clone());
    let mut last: Option<&Made> = None;
    for m in made.get(id).into_iter().flatten() {
        if settle(&m.ruling, held, made, standing, visiting) {
            last = Some(m);
        }
    }
    visiting.pop();
    let s = match last {
        None => Standing::Held { why: why.clone() },
        Some(m) if m.accept => Standing::Counts,
        Some(m) => Standing::Rejected {
            by: m.ruling.clone(),
            reason: m.reason.clone(),
        },
    };
    let counts = s == Standing::Counts;
    standing.insert(id.clone(), s);
    counts
}

/// An order's events as every fold reads them: in [`fold_order`], without the
/// events that do not count (held and not accepted, rejected, and the holds and
/// rulings themselves).
pub fn counted(mut events: Vec<Event>) -> Vec<Event> {
    fold_order(&mut events);
    if !events.iter().any(|e| e.kind.is_hold_or_ruling()) {
        return events;
    }
    let rulings = Rulings::of(&events);
    events.retain(|e| rulings.counts(e));
    events
}

/// Why a ruling cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RulingRefused {
    #[error("event {0} is not held for a ruling on this order")]
    NotHeld(EventRef),
    #[error("say why the event is rejected (a reason is needed)")]
    NoReason,
}

/// The ruling on the held event `target` (accept, or reject with a reason), checked
/// against the order's holds. Ruling again on an event already ruled replaces the
/// earlier ruling.
pub fn ruling(
    rulings: &Rulings,
    target: &EventRef,
    accept: bool,
    reason: &str,
) -> Result<EventKind, RulingRefused> {
    if !rulings.is_held(target) {
        return Err(RulingRefused::NotHeld(target.clone()));
    }
    let reason = reason.trim();
    if !accept && reason.is_empty() {
        return Err(RulingRefused::NoReason);
    }
    Ok(EventKind::Ruling {
        event: target.clone(),
        accept,
        reason: reason.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pick::Verdict;
    use crate::domain::state::PickState;
    use crate::tag::MetrcTag;

    const T1: &str = "1A4060300003C35000010001";

    fn at(device: &str, seq: i64, ms: i64, kind: EventKind) -> Event {
        let t = chrono::DateTime::from_timestamp_millis(1_790_000_000_000 + ms).unwrap();
        Event {
            device: device.into(),
            seq,
            at: t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            order: "SO-1".into(),
            person: None,
            kind,
        }
    }

    fn pick(device: &str, seq: i64, ms: i64) -> Event {
        at(
            device,
            seq,
            ms,
            EventKind::scan(
                T1.as_bytes(),
                24,
                Some(MetrcTag::new(T1).unwrap()),
                Verdict::Accepted {
                    line: "1".into(),
                    expires_in_days: None,
                },
            ),
        )
    }

    fn r(device: &str, seq: i64) -> EventRef {
        EventRef {
            device: device.into(),
            seq,
        }
    }

    fn hold(seq: i64, ms: i64, of: EventRef) -> Event {
        at(
            "hub",
            seq,
            ms,
            EventKind::Hold {
                event: of,
                why: "recorded with nobody signed in".into(),
            },
        )
    }

    fn rule(device: &str, seq: i64, ms: i64, of: EventRef, accept: bool) -> Event {
        at(
            device,
            seq,
            ms,
            EventKind::Ruling {
                event: of,
                accept,
                reason: if accept { "" } else { "not ours" }.into(),
            },
        )
    }

    fn picked(events: &[Event]) -> usize {
        let mut s = PickState::default();
        for e in counted(events.to_vec()) {
            s.apply(&e);
        }
        s.picked()
    }

    #[test]
    fn event_refs_print_and_parse_as_device_slash_seq() {
        let id = r("vault-1", 12);
        assert_eq!(id.to_string(), "vault-1/12");
        assert_eq!("vault-1/12".parse::<EventRef>().unwrap(), id);
        assert_eq!(" a.b/3 ".parse::<EventRef>().unwrap(), r("a.b", 3));
        for bad in [
            "vault-1",
            "/3",
            "vault-1/",
            "vault-1/x",
            "vault-1/0",
            "v/-2",
            "",
        ] {
            let e = bad.parse::<EventRef>().unwrap_err();
            assert!(e.contains("DEVICE/SEQ"), "{bad}: {e}");
        }
    }

    /// What each history counts: (events, picked, pending holds).
    #[test]
    fn what_counts_table() {
        let p = || pick("vault-1", 1, 0);
        let h = || hold(1, 10, r("vault-1", 1));
        let cases: Vec<(&str, Vec<Event>, usize, usize)> = vec![
            ("a pick, nothing held", vec![p()], 1, 0),
            ("a held pick does not count", vec![p(), h()], 0, 1),
            (
                "accepted by a supervisor, it counts",
                vec![p(), h(), rule("desk", 1, 20, r("vault-1", 1), true)],
                1,
                0,
            ),
            (
                "rejected, it never counts",
                vec![p(), h(), rule("desk", 1, 20, r("vault-1", 1), false)],
                0,
                0,
            ),
            (
                "the later ruling in fold order replaces the earlier",
                vec![
                    p(),
                    h(),
                    rule("desk", 2, 30, r("vault-1", 1), true),
                    rule("desk", 1, 20, r("vault-1", 1), false),
                ],
                1,
                0,
            ),
            (
                "a ruling on an event never held changes nothing",
                vec![p(), rule("desk", 1, 20, r("vault-1", 1), false)],
                1,
                0,
            ),
            (
                "a held ruling (by a non-supervisor) does not count",
                vec![
                    p(),
                    h(),
                    rule("vault-2", 1, 20, r("vault-1", 1), true),
                    hold(2, 25, r("vault-2", 1)),
                ],
                0,
                2,
            ),
            (
                "until a supervisor accepts the held ruling",
                vec![
                    p(),
                    h(),
                    rule("vault-2", 1, 20, r("vault-1", 1), true),
                    hold(2, 25, r("vault-2", 1)),
                    rule("desk", 1, 40, r("vault-2", 1), true),
                ],
                1,
                0,
            ),
            (
                "a cycle of forged rulings leaves its events held",
                vec![
                    p(),
                    h(),
                    rule("x", 1, 20, r("y", 1), true),
                    hold(2, 21, r("x", 1)),
                    rule("y", 1, 22, r("x", 1), true),
                    hold(3, 23, r("y", 1)),
                    rule("y", 2, 24, r("vault-1", 1), true),
                    hold(4, 25, r("y", 2)),
                ],
                0,
                4,
            ),
        ];
        for (name, events, want_picked, want_pending) in cases {
            assert_eq!(picked(&events), want_picked, "{name}");
            assert_eq!(Rulings::of(&events).pending().len(), want_pending, "{name}");
            // A function of the set: every order of arrival counts the same.
            let mut rev = events.clone();
            rev.reverse();
            assert_eq!(picked(&rev), want_picked, "{name}, reversed");
        }
    }

    #[test]
    fn counted_leaves_out_holds_rulings_and_held_events_in_fold_order() {
        let events = vec![
            hold(1, 10, r("vault-1", 1)),
            pick("vault-2", 1, 5),
            pick("vault-1", 1, 0),
        ];
        let kept: Vec<EventRef> = counted(events).iter().map(Event::id).collect();
        assert_eq!(kept, [r("vault-2", 1)]);
    }

    #[test]
    fn a_ruling_needs_a_held_event_and_a_rejection_a_reason() {
        let events = vec![pick("vault-1", 1, 0), hold(1, 10, r("vault-1", 1))];
        let rulings = Rulings::of(&events);
        assert_eq!(
            ruling(&rulings, &r("vault-1", 2), true, ""),
            Err(RulingRefused::NotHeld(r("vault-1", 2)))
        );
        assert_eq!(
            ruling(&rulings, &r("vault-1", 1), false, "  "),
            Err(RulingRefused::NoReason)
        );
        assert_eq!(
            ruling(&rulings, &r("vault-1", 1), true, "").unwrap(),
            EventKind::Ruling {
                event: r("vault-1", 1),
                accept: true,
                reason: String::new()
            }
        );
        assert_eq!(
            rulings.standing(&r("vault-1", 1)),
            Standing::Held {
                why: "recorded with nobody signed in".into()
            }
        );
    }
}

//! What has happened on one order so far: the picks and shorts folded from its
//! events ([`PickState`]) and the progress they make against the pick list.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::event::{Event, EventKind, EventRef};
use super::pick::{PickList, Verdict};
use crate::tag::MetrcTag;

/// What has happened on one order so far, rebuilt from its events (in
/// [`super::event::fold_order`]).
///
/// Picks are an observed-remove set: an accepted scan adds its event to its tag, an
/// undo takes back the accepted scans it names, and a tag is picked while any of its
/// accepted scans stands. So a pick made on a device the undoing device had not
/// heard of survives the undo, whatever order the two arrive in anywhere.
#[derive(Clone, Debug, Default)]
pub struct PickState {
    /// Standing accepted scans per tag, each with the line it was picked for and who
    /// was signed in.
    picks: HashMap<MetrcTag, BTreeMap<EventRef, Picked>>,
    /// Accepted scans taken back by name: kept, so a scan folded after its undo (its
    /// device's clock was ahead) stays taken back.
    undone: HashSet<EventRef>,
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
                let id = event.id();
                if !self.undone.contains(&id) {
                    self.picks.entry(tag.clone()).or_default().insert(
                        id,
                        Picked {
                            line: line.clone(),
                            person: event.person.clone(),
                        },
                    );
                }
            }
            EventKind::Scan { .. } => {}
            EventKind::Short { line, reason } => {
                self.shorts.insert(line.clone(), reason.clone());
            }
            EventKind::Undo { tag, undoes, .. } if undoes.is_empty() => {
                self.picks.remove(tag);
            }
            EventKind::Undo { tag, undoes, .. } => {
                if let Some(standing) = self.picks.get_mut(tag) {
                    for id in undoes {
                        standing.remove(id);
                    }
                    if standing.is_empty() {
                        self.picks.remove(tag);
                    }
                }
                self.undone.extend(undoes.iter().cloned());
            }
            // The load and the delivery ([`crate::domain::ship`]) do not change picks.
            _ => {}
        }
    }

    /// The accepted scans that make `tag` picked: what an undo of it names.
    pub fn picks_of(&self, tag: &MetrcTag) -> Vec<EventRef> {
        self.picks
            .get(tag)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The line `tag` is picked for, if it is picked (that of its first standing
    /// scan, by device and sequence number, should two stand).
    pub fn line_picked(&self, tag: &MetrcTag) -> Option<&str> {
        self.picks
            .get(tag)
            .and_then(|m| m.values().next())
            .map(|p| p.line.as_str())
    }

    /// Who picked `tag`, if it is picked: the device and the person signed in there
    /// (of its first standing scan, should two stand).
    pub fn picked_by(&self, tag: &MetrcTag) -> Option<(&str, Option<&str>)> {
        self.picks
            .get(tag)
            .and_then(|m| m.iter().next())
            .map(|(id, p)| (id.device.as_str(), p.person.as_deref()))
    }

    pub fn is_picked(&self, tag: &MetrcTag) -> bool {
        self.picks.contains_key(tag)
    }

    pub fn picked_tags(&self) -> impl Iterator<Item = &MetrcTag> {
        self.picks.keys()
    }

    /// Picked tags with the line each was picked for.
    pub fn picked_lines(&self) -> impl Iterator<Item = (&MetrcTag, &str)> {
        self.picks
            .iter()
            .filter_map(|(t, m)| m.values().next().map(|p| (t, p.line.as_str())))
    }

    pub fn picked(&self) -> usize {
        self.picks.len()
    }

    /// Short reasons by line id.
    pub fn shorts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.shorts.iter().map(|(l, r)| (l.as_str(), r.as_str()))
    }

    /// Per-line and whole-order progress.
    pub fn progress(&self, list: &PickList) -> Progress {
        let mut per_line: HashMap<&str, usize> = HashMap::new();
        for (_, line) in self.picked_lines() {
            *per_line.entry(line).or_default() += 1;
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
        // Complete: every line with an allocation fully picked or shorted; an order
        // with nothing allocated is not complete.
        let complete = lines.iter().any(|l| l.allocated > 0)
            && lines
                .iter()
                .filter(|l| l.allocated > 0)
                .all(|l| l.remaining == 0);
        Progress {
            order: list.order.clone(),
            picked: self.picks.len(),
            total: list.total(),
            complete,
            lines,
        }
    }
}

/// One standing accepted scan: the line it was picked for, who was signed in.
#[derive(Clone, Debug)]
struct Picked {
    line: String,
    person: Option<String>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::fold_order;

    const T: &str = "1A4060300003C35000010001";

    fn ev(device: &str, seq: i64, at: &str, kind: EventKind) -> Event {
        Event {
            device: device.into(),
            seq,
            at: format!("2026-12-01T10:{at}.000Z"),
            order: "SO-1001".into(),
            person: None,
            kind,
        }
    }

    fn pick(device: &str, seq: i64, at: &str) -> Event {
        let tag = MetrcTag::new(T).unwrap();
        ev(
            device,
            seq,
            at,
            EventKind::scan(
                T.as_bytes(),
                24,
                Some(tag),
                Verdict::Accepted {
                    line: "1".into(),
                    expires_in_days: None,
                },
            ),
        )
    }

    fn undo(device: &str, seq: i64, at: &str, undoes: &[(&str, i64)]) -> Event {
        ev(
            device,
            seq,
            at,
            EventKind::Undo {
                tag: MetrcTag::new(T).unwrap(),
                reason: "wrong shelf".into(),
                undoes: undoes
                    .iter()
                    .map(|(d, s)| EventRef {
                        device: (*d).into(),
                        seq: *s,
                    })
                    .collect(),
            },
        )
    }

    fn fold(mut events: Vec<Event>) -> PickState {
        fold_order(&mut events);
        let mut s = PickState::default();
        for e in &events {
            s.apply(e);
        }
        s
    }

    /// Every order of `events` folds to the same picks.
    fn every_order_picks(events: &[Event]) -> Vec<bool> {
        let n = events.len();
        let mut seen = vec![];
        // All rotations and their reverses: enough orders for three or four events.
        for r in 0..n {
            for rev in [false, true] {
                let mut v: Vec<Event> = events[r..].iter().chain(&events[..r]).cloned().collect();
                if rev {
                    v.reverse();
                }
                seen.push(fold(v).is_picked(&MetrcTag::new(T).unwrap()));
            }
        }
        seen
    }

    #[test]
    fn an_undo_takes_back_only_the_picks_it_names() {
        // Issue 11's case: A picks T offline; B picks T, then B's supervisor undoes it
        // (B had not heard of A's pick). Whatever order they arrive in, T stays
        // picked, by A.
        let events = vec![
            pick("A", 1, "00:00"),
            pick("B", 1, "01:00"),
            undo("B", 2, "02:00", &[("B", 1)]),
        ];
        assert!(every_order_picks(&events).iter().all(|&p| p));
        let s = fold(events);
        let tag = MetrcTag::new(T).unwrap();
        assert_eq!(
            s.picks_of(&tag),
            vec![EventRef {
                device: "A".into(),
                seq: 1
            }]
        );
        assert_eq!(s.picked(), 1);
    }

    #[test]
    fn an_undo_folded_before_its_pick_still_takes_it_back() {
        // A's clock is ahead: its pick sorts after B's undo of it.
        let events = vec![pick("A", 1, "09:00"), undo("B", 1, "02:00", &[("A", 1)])];
        assert!(every_order_picks(&events).iter().all(|&p| !p));
    }

    #[test]
    fn an_undo_of_both_picks_and_an_old_undo_without_names() {
        let both = vec![
            pick("A", 1, "00:00"),
            pick("B", 1, "01:00"),
            undo("B", 2, "02:00", &[("A", 1), ("B", 1)]),
        ];
        assert!(every_order_picks(&both).iter().all(|&p| !p));
        // An undo recorded before undos named their picks takes back every pick of
        // the tag folded before it, and not a later one.
        let legacy = vec![pick("A", 1, "00:00"), undo("A", 2, "01:00", &[])];
        assert!(every_order_picks(&legacy).iter().all(|&p| !p));
        let later = vec![
            pick("A", 1, "00:00"),
            undo("A", 2, "01:00", &[]),
            pick("B", 1, "03:00"),
        ];
        assert!(every_order_picks(&later).iter().all(|&p| p));
    }

    #[test]
    fn the_last_short_of_a_line_in_fold_order_gives_its_reason() {
        let short = |device: &str, at: &str, reason: &str| {
            ev(
                device,
                1,
                at,
                EventKind::Short {
                    line: "1".into(),
                    reason: reason.into(),
                },
            )
        };
        let a = short("A", "00:00", "damaged");
        let b = short("B", "05:00", "not found");
        for events in [vec![a.clone(), b.clone()], vec![b, a]] {
            let s = fold(events);
            assert_eq!(s.shorts().collect::<Vec<_>>(), vec![("1", "not found")]);
        }
    }
}

//! What to do about one transfer template: post it, look for it first, take the one
//! Metrc already has, or refuse because the load changed. Pure and table-tested; the
//! queue ([`super::push`]) does what this decides.
//!
//! The rule that makes a post idempotent: a try is recorded durably *before* the
//! request is sent, and any record of a try that did not end with Metrc's id means the
//! template may be in Metrc already, so the templates are listed and matched by
//! `Name` (unique: it carries the load's id) before anything is posted again.

use std::collections::BTreeSet;

use crate::export::ManifestDoc;

/// What a template says that matters: the load and, per destination, the receiver
/// and exactly which packages. Prices, names and times may be filled in differently
/// on another day; these may not change once Metrc has the template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPrint {
    pub load: String,
    /// `(order, recipient license, tags)`, in the manifest's order.
    pub destinations: Vec<(String, String, BTreeSet<String>)>,
}

impl LoadPrint {
    pub fn of(doc: &ManifestDoc) -> LoadPrint {
        LoadPrint {
            load: doc.load_id.clone(),
            destinations: doc
                .destinations
                .iter()
                .map(|d| {
                    (
                        d.order.clone(),
                        d.recipient_license.clone(),
                        d.packages.iter().map(|p| p.tag.to_string()).collect(),
                    )
                })
                .collect(),
        }
    }

    /// One line a destination, `order recipient tag tag ...`: how the queue keeps it.
    pub fn to_text(&self) -> String {
        let mut out = format!("load {}\n", self.load);
        for (order, recipient, tags) in &self.destinations {
            out.push_str(order);
            out.push(' ');
            out.push_str(recipient);
            for t in tags {
                out.push(' ');
                out.push_str(t);
            }
            out.push('\n');
        }
        out
    }

    /// The inverse of [`LoadPrint::to_text`]; `None` for text it did not write.
    pub fn from_text(text: &str) -> Option<LoadPrint> {
        let mut lines = text.lines();
        let load = lines.next()?.strip_prefix("load ")?.to_string();
        let mut destinations = vec![];
        for l in lines {
            let mut words = l.split(' ');
            let order = words.next()?.to_string();
            let recipient = words.next()?.to_string();
            destinations.push((order, recipient, words.map(str::to_string).collect()));
        }
        Some(LoadPrint { load, destinations })
    }

    pub fn orders(&self) -> impl Iterator<Item = &str> {
        self.destinations.iter().map(|(o, _, _)| o.as_str())
    }

    /// What differs from `before`, in words ("order SO-1: 1A40...0001 removed").
    pub fn changes_from(&self, before: &LoadPrint) -> Vec<String> {
        let mut out = vec![];
        if self.load != before.load {
            out.push(format!("load {} instead of {}", self.load, before.load));
        }
        for (order, recipient, tags) in &self.destinations {
            match before.destinations.iter().find(|(o, _, _)| o == order) {
                None => out.push(format!("order {order} added")),
                Some((_, r, was)) => {
                    if r != recipient {
                        out.push(format!(
                            "order {order}: receiver {recipient} instead of {r}"
                        ));
                    }
                    for t in was.difference(tags) {
                        out.push(format!("order {order}: {t} removed"));
                    }
                    for t in tags.difference(was) {
                        out.push(format!("order {order}: {t} added"));
                    }
                }
            }
        }
        for (order, _, _) in &before.destinations {
            if !self.destinations.iter().any(|(o, _, _)| o == order) {
                out.push(format!("order {order} taken off"));
            }
        }
        out
    }
}

/// What the queue remembers of one template (of one load).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub load: String,
    /// Tries recorded as started (each before its request was sent).
    pub attempts: u32,
    /// The id Metrc gave it, once known.
    pub metrc_id: Option<i64>,
    /// Metrc answered a try with success but no id: it has the template.
    pub acknowledged: bool,
    /// What was (or is to be) posted.
    pub print: LoadPrint,
}

/// What listing the templates found for a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listed {
    NotAsked,
    /// The ids of the templates with this name, lowest first.
    Found(Vec<i64>),
    Absent,
}

/// The next thing to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Metrc has it (as this id): post nothing.
    Done { id: i64 },
    /// A try may have reached Metrc: list the templates and match the name first.
    List,
    /// Metrc has it: keep this id and post nothing. `duplicates`: other templates of
    /// the same name (made by hand, or before this rule): for a person to archive.
    Adopt { id: i64, duplicates: Vec<i64> },
    /// Send it.
    Post,
    /// Metrc took it (a success without an id) but does not list it yet: look again
    /// later; never send it again.
    Wait,
    /// Refused: the load Metrc has (or may have) is not this one any more.
    Changed {
        /// The load it was posted (or tried) as, and its template id if known.
        load: String,
        id: Option<i64>,
        changes: Vec<String>,
    },
}

/// The step for the template of `current`, given the queue's record of this load
/// (`mine`), the records of other loads that share an order with it (`others`, each
/// tried at least once), and what a listing found.
pub fn template_step(
    current: &LoadPrint,
    mine: Option<&Record>,
    others: &[Record],
    listed: &Listed,
) -> Step {
    // An order already sent (or perhaps sent) on another load: Metrc may list these
    // packages on that template; a second template would ship them twice on paper.
    if let Some(o) = others.iter().find(|o| o.load != current.load) {
        return Step::Changed {
            load: o.load.clone(),
            id: o.metrc_id,
            changes: current.changes_from(&o.print),
        };
    }
    let Some(mine) = mine else {
        return Step::Post;
    };
    if let Some(id) = mine.metrc_id {
        return if mine.print == *current {
            Step::Done { id }
        } else {
            Step::Changed {
                load: mine.load.clone(),
                id: Some(id),
                changes: current.changes_from(&mine.print),
            }
        };
    }
    if mine.attempts == 0 {
        // Never sent: whatever it says now is what goes.
        return Step::Post;
    }
    match listed {
        Listed::NotAsked => Step::List,
        Listed::Found(ids) => {
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            let id = ids.remove(0);
            Step::Adopt {
                id,
                duplicates: ids,
            }
        }
        // Metrc said it took it: not listed yet is not absent.
        Listed::Absent if mine.acknowledged => Step::Wait,
        // Not in Metrc: the earlier try never got there. What to send is what the
        // load says now.
        Listed::Absent => Step::Post,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(load: &str, dests: &[(&str, &[&str])]) -> LoadPrint {
        LoadPrint {
            load: load.into(),
            destinations: dests
                .iter()
                .map(|(o, tags)| {
                    (
                        o.to_string(),
                        "C11-0000002-LIC".to_string(),
                        tags.iter().map(|t| t.to_string()).collect(),
                    )
                })
                .collect(),
        }
    }

    fn record(p: &LoadPrint, attempts: u32, id: Option<i64>) -> Record {
        Record {
            load: p.load.clone(),
            attempts,
            metrc_id: id,
            acknowledged: false,
            print: p.clone(),
        }
    }

    fn acknowledged(p: &LoadPrint, attempts: u32) -> Record {
        Record {
            acknowledged: true,
            ..record(p, attempts, None)
        }
    }

    #[test]
    fn the_step_for_every_state_of_the_queue() {
        let a = print("L-1", &[("SO-1", &["T1", "T2"])]);
        let a_less = print("L-1", &[("SO-1", &["T1"])]);
        let b = print("L-2", &[("SO-1", &["T1"])]);
        let changed = |load: &str, id, changes: &[&str]| Step::Changed {
            load: load.into(),
            id,
            changes: changes.iter().map(|c| c.to_string()).collect(),
        };
        // (what, the load now, its record, other loads' records, listing, step)
        type Row<'a> = (
            &'a str,
            &'a LoadPrint,
            Option<Record>,
            Vec<Record>,
            Listed,
            Step,
        );
        let table: Vec<Row> = vec![
            (
                "never queued",
                &a,
                None,
                vec![],
                Listed::NotAsked,
                Step::Post,
            ),
            (
                "queued, never sent",
                &a,
                Some(record(&a, 0, None)),
                vec![],
                Listed::NotAsked,
                Step::Post,
            ),
            (
                "queued, never sent, load changed meanwhile: the new one goes",
                &a_less,
                Some(record(&a, 0, None)),
                vec![],
                Listed::NotAsked,
                Step::Post,
            ),
            (
                "posted: nothing to do",
                &a,
                Some(record(&a, 1, Some(7))),
                vec![],
                Listed::NotAsked,
                Step::Done { id: 7 },
            ),
            (
                "posted, then a package removed: refused",
                &a_less,
                Some(record(&a, 1, Some(7))),
                vec![],
                Listed::NotAsked,
                changed("L-1", Some(7), &["order SO-1: T2 removed"]),
            ),
            (
                "tried, no id (timeout, crash): look first",
                &a,
                Some(record(&a, 1, None)),
                vec![],
                Listed::NotAsked,
                Step::List,
            ),
            (
                "tried, and Metrc has it: take its id",
                &a,
                Some(record(&a, 3, None)),
                vec![],
                Listed::Found(vec![9]),
                Step::Adopt {
                    id: 9,
                    duplicates: vec![],
                },
            ),
            (
                "tried, Metrc has two of that name: the first, the other named",
                &a,
                Some(record(&a, 2, None)),
                vec![],
                Listed::Found(vec![12, 9, 12]),
                Step::Adopt {
                    id: 9,
                    duplicates: vec![12],
                },
            ),
            (
                "tried, not in Metrc: send again",
                &a,
                Some(record(&a, 2, None)),
                vec![],
                Listed::Absent,
                Step::Post,
            ),
            (
                "Metrc took it without an id and does not list it yet: never again",
                &a,
                Some(acknowledged(&a, 1)),
                vec![],
                Listed::Absent,
                Step::Wait,
            ),
            (
                "Metrc took it without an id, and lists it: its id",
                &a,
                Some(acknowledged(&a, 1)),
                vec![],
                Listed::Found(vec![4]),
                Step::Adopt {
                    id: 4,
                    duplicates: vec![],
                },
            ),
            (
                "the order went on another load that was posted: refused",
                &b,
                None,
                vec![record(&a, 1, Some(7))],
                Listed::NotAsked,
                changed(
                    "L-1",
                    Some(7),
                    &["load L-2 instead of L-1", "order SO-1: T2 removed"],
                ),
            ),
            (
                "the order went on another load that may have been posted: refused",
                &b,
                None,
                vec![record(&a, 1, None)],
                Listed::NotAsked,
                changed(
                    "L-1",
                    None,
                    &["load L-2 instead of L-1", "order SO-1: T2 removed"],
                ),
            ),
        ];
        for (what, current, mine, others, listed, want) in table {
            assert_eq!(
                template_step(current, mine.as_ref(), &others, &listed),
                want,
                "{what}"
            );
        }
    }

    #[test]
    fn a_print_reads_back_as_written_and_names_its_changes() {
        let p = print("L-1", &[("SO-1", &["T1", "T2"]), ("SO-2", &["T3"])]);
        assert_eq!(LoadPrint::from_text(&p.to_text()), Some(p.clone()));
        assert_eq!(LoadPrint::from_text("not a print"), None);
        let q = print("L-1", &[("SO-1", &["T1", "T4"])]);
        assert_eq!(
            q.changes_from(&p),
            vec![
                "order SO-1: T2 removed",
                "order SO-1: T4 added",
                "order SO-2 taken off"
            ]
        );
        assert!(p.changes_from(&p).is_empty());
    }
}

//! The pick: one open order until it is closed or another is opened.

use std::sync::mpsc::Receiver;

use crate::config::Settings;
use crate::scan::ScanEvent;
use crate::store::{Store, StoreError};

use super::*;
use crate::domain::pull::Pull;

/// The pick screen's state after a change: the order's progress and every allocated
/// package in walking order, picked or not (the screen filters by line and by the
/// "show picked" toggle).
#[derive(Clone, Debug, PartialEq)]
pub struct PickView {
    pub progress: Progress,
    pub pulls: Vec<Pull>,
}

impl PickView {
    fn of(session: &PickSession<'_>) -> PickView {
        PickView {
            progress: session.progress(),
            pulls: session.pulls(),
        }
    }
}

/// Run one open order until it is closed or another is opened; returns the command
/// that ended it, for the outer loop.
pub(super) fn pick_loop(
    store: &mut Store,
    settings: &Settings,
    key: &str,
    first_scan: Option<ScanEvent>,
    rx: &Receiver<Command>,
    report: &impl Fn(Update),
) -> Option<Command> {
    let mut session = match open_pick(&mut *store, settings, key) {
        Ok(s) => s,
        Err(e) => {
            report(Update::Error(e.to_string()));
            return None;
        }
    };
    report(Update::Opened {
        buyer: session.list().buyer.clone(),
        view: PickView::of(&session),
    });
    let order = session.list().order.clone();
    // Tags accepted here, most recent last (for "undo the last pick").
    let mut recent: Vec<String> = Vec::new();
    let mut pending = first_scan.map(Command::Scan);
    loop {
        let cmd = match pending.take() {
            Some(c) => c,
            None => rx.recv().ok()?,
        };
        let cmd = match common(cmd, session.store(), report) {
            Common::Done => continue,
            Common::Leave(next) => return next,
            Common::Mine(c) => c,
        };
        match cmd {
            Command::Scan(scan) => match session.scan_event(&scan) {
                Ok(mut answer) => {
                    answer.source = scan.source;
                    answer.manual = scan.manual;
                    if answer.verdict == "accepted"
                        && let Some(t) = &answer.tag
                    {
                        recent.retain(|r| r != t.as_str());
                        recent.push(t.to_string());
                    }
                    report(Update::Answer {
                        answer: Box::new(answer),
                        view: PickView::of(&session),
                    });
                }
                Err(e @ StoreError::OrderClosed { .. }) => {
                    return closed(e, session.store(), report);
                }
                Err(e) => report(not_recorded(e)),
            },
            Command::Heard => match session.follow_other_devices() {
                Ok(()) => report(Update::Refreshed(Refreshed::Pick(PickView::of(&session)))),
                Err(e @ StoreError::OrderClosed { .. }) => {
                    return closed(e, session.store(), report);
                }
                Err(e) => report(Update::Error(e.to_string())),
            },
            Command::Short { line, reason } => match session.short(&line, &reason) {
                Ok(_) => report(Update::Progress(PickView::of(&session))),
                Err(e) => report(Update::Error(e.to_string())),
            },
            Command::ListPicked => report(picked(session.store(), &order, &recent)),
            Command::Undo {
                tag,
                reason,
                supervisor,
            } => {
                let done = as_supervisor(
                    &mut session,
                    PickSession::store_mut,
                    settings,
                    supervisor.as_ref(),
                    |s| s.undo(&tag, &reason).map_err(|e| e.to_string()),
                );
                match done {
                    Ok(_) => {
                        recent.retain(|r| *r != tag);
                        report(Update::Undone {
                            tag,
                            view: PickView::of(&session),
                        })
                    }
                    Err(why) => report(Update::Refused(why)),
                }
            }
            _ => report(Update::Refused(
                "That is not done while picking an order.".into(),
            )),
        }
    }
}

fn open_pick<'s>(
    store: &'s mut Store,
    settings: &Settings,
    key: &str,
) -> Result<PickSession<'s>, StoreError> {
    PickSession::open_for(store, key, settings)
}

/// The picked tags of `order`, the ones picked in this session last-first, then the
/// rest in tag order.
fn picked(store: &Store, order: &str, recent: &[String]) -> Update {
    let load = store.find_order(order).and_then(|o| store.shipment_of(&o));
    match load {
        Ok(o) => {
            let mut all: Vec<(String, String)> = o
                .pick
                .picked_lines()
                .map(|(t, l)| (t.to_string(), l.to_string()))
                .collect();
            all.sort();
            let rank = |t: &str| {
                recent
                    .iter()
                    .rev()
                    .position(|r| r == t)
                    .unwrap_or(usize::MAX)
            };
            all.sort_by_key(|(t, _)| rank(t));
            Update::Picked(all)
        }
        Err(e) => Update::Error(e.to_string()),
    }
}

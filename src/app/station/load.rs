//! The dock: one open load until it is confirmed, closed or another is opened.

use std::sync::mpsc::Receiver;

use crate::config::Settings;
use crate::store::{Store, StoreError};

use super::*;

fn open_load<'s>(
    store: &'s mut Store,
    settings: &Settings,
    keys: &[String],
) -> Result<LoadSession<'s>, ShipError> {
    LoadSession::open(store, keys, settings.tags.parser(), settings.rules.clone())
}

fn load_view(session: &LoadSession<'_>) -> LoadView {
    let checks = session.checks();
    let mut missing = Vec::new();
    let mut extra = Vec::new();
    let mut loaded = Vec::new();
    for o in session.orders() {
        let manifest = o.ship.manifest(&o.pick, &o.list);
        for (tag, line) in &manifest {
            let row = LoadRow {
                order: o.list.order.clone(),
                tag: tag.to_string(),
                line: line.clone(),
                state: if o.ship.is_loaded(tag) {
                    "loaded"
                } else {
                    "missing"
                },
            };
            if row.state == "loaded" {
                loaded.push(row);
            } else {
                missing.push(row);
            }
        }
        let check = o.check();
        for tag in &check.extra {
            extra.push(LoadRow {
                order: o.list.order.clone(),
                tag: tag.to_string(),
                line: o
                    .list
                    .line_of(tag)
                    .map(|l| l.id.clone())
                    .unwrap_or_default(),
                state: "extra",
            });
        }
    }
    missing.extend(extra);
    missing.extend(loaded);
    LoadView {
        checks,
        rows: missing,
    }
}

/// Run one load (one or more orders onto one vehicle) until it is left.
pub(super) fn load_loop(
    store: &mut Store,
    settings: &Settings,
    keys: &[String],
    rx: &Receiver<Command>,
    report: &impl Fn(Update),
) -> Option<Command> {
    let mut session = match open_load(&mut *store, settings, keys) {
        Ok(s) => s,
        Err(e) => {
            report(Update::Error(e.to_string()));
            return None;
        }
    };
    let recent = |s: &LoadSession<'_>| {
        (
            s.store().recent_drivers(6).unwrap_or_default(),
            s.store().recent_vehicles(6).unwrap_or_default(),
        )
    };
    let (drivers, vehicles) = recent(&session);
    report(Update::LoadOpened {
        view: load_view(&session),
        drivers,
        vehicles,
    });
    loop {
        let cmd = rx.recv().ok()?;
        let cmd = match common(cmd, session.store(), report) {
            Common::Done => continue,
            Common::Leave(next) => return next,
            Common::Mine(c) => c,
        };
        match cmd {
            Command::Heard => match session.follow_other_devices() {
                Ok(()) => report(Update::Refreshed(Refreshed::Load(load_view(&session)))),
                Err(e @ StoreError::OrderClosed { .. }) => {
                    return closed(e, session.store(), report);
                }
                Err(e) => report(Update::Error(e.to_string())),
            },
            Command::Scan(scan) => match session.scan_event(&scan) {
                Ok(mut answer) => {
                    answer.source = scan.source;
                    answer.manual = scan.manual;
                    report(Update::LoadAnswer {
                        answer: Box::new(answer),
                        view: load_view(&session),
                    });
                }
                Err(e @ StoreError::OrderClosed { .. }) => {
                    return closed(e, session.store(), report);
                }
                Err(e) => report(not_recorded(e)),
            },
            Command::Remove {
                tag,
                reason,
                supervisor,
            } => {
                let done = as_supervisor(
                    &mut session,
                    LoadSession::store_mut,
                    settings,
                    supervisor.as_ref(),
                    |s| s.remove(&tag, &reason).map_err(|e| e.to_string()),
                );
                match done {
                    Ok(_) => report(Update::Removed {
                        tag,
                        view: load_view(&session),
                    }),
                    Err(why) => report(Update::Refused(why)),
                }
            }
            Command::ConfirmLoad { driver, vehicle } => {
                match session.confirm(
                    &driver,
                    &vehicle,
                    crate::app::docs::manifest_attachment(&settings.ship),
                ) {
                    Ok(events) => {
                        let load = events
                            .iter()
                            .find_map(|e| match &e.kind {
                                crate::domain::EventKind::LoadConfirm(c) => Some(c.load.clone()),
                                _ => None,
                            })
                            .unwrap_or_default();
                        report(Update::LoadConfirmed {
                            load,
                            view: load_view(&session),
                        })
                    }
                    Err(e) => report(Update::Refused(e.to_string())),
                }
            }
            _ => report(Update::Refused("That is not done while loading.".into())),
        }
    }
}

//! The hand-over: one open delivery until it is finished, closed or another is opened.

use std::sync::mpsc::Receiver;

use crate::config::Settings;
use crate::store::Store;

use super::*;

/// Run one delivery until it is left.
pub(super) fn delivery_loop(
    store: &mut Store,
    settings: &Settings,
    key: &str,
    rx: &Receiver<Command>,
    report: &impl Fn(Update),
) -> Option<Command> {
    let mut session =
        match DeliverySession::open(store, key, settings.tags.parser(), settings.rules.clone()) {
            Ok(s) => s,
            Err(e) => {
                report(Update::Error(e.to_string()));
                return None;
            }
        };
    report(Update::DeliveryOpened(session.state()));
    loop {
        let cmd = rx.recv().ok()?;
        let cmd = match common(cmd, session.store(), report) {
            Common::Done => continue,
            Common::Leave(next) => return next,
            Common::Mine(c) => c,
        };
        match cmd {
            Command::Heard => match session.follow_other_devices() {
                Ok(()) => report(Update::Refreshed(Refreshed::Delivery(session.state()))),
                Err(e) => report(Update::Error(e.to_string())),
            },
            Command::Scan(scan) => match session.scan_event(&scan) {
                Ok(mut answer) => {
                    answer.source = scan.source;
                    answer.manual = scan.manual;
                    report(Update::DeliveryAnswer {
                        answer: Box::new(answer),
                        state: session.state(),
                    });
                }
                Err(e) => report(not_recorded(e)),
            },
            Command::Decide { tag, decision } => match session.decide(&tag, decision) {
                Ok(state) => report(Update::Delivery(state)),
                Err(e) => report(Update::Refused(e.to_string())),
            },
            Command::Finish {
                receiver,
                signature_png,
                has_ink,
            } => match session.finish(&receiver, signature_png, has_ink) {
                Ok(state) => report(Update::Delivery(state)),
                Err(e) => report(Update::Refused(e.to_string())),
            },
            _ => report(Update::Refused("That is not done while delivering.".into())),
        }
    }
}

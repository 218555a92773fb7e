//! Events held for a supervisor's ruling: list them, accept or reject one
//! (`tagtally held`, `tagtally rule`). The rule is [`crate::domain::ruling`]; this is
//! its use on a store, the same on a device and on the hub's database.

use std::io::Write;

use serde::Serialize;

use super::AppError;
use crate::domain::ruling::{Rulings, Standing, ruling};
use crate::domain::{Event, EventRef};
use crate::store::{Store, StoreError};
use crate::tag::MetrcTag;

/// One held event, as a supervisor reads it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Held {
    /// `DEVICE/SEQ`, what `tagtally rule` takes.
    pub event: String,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<MetrcTag>,
    pub at: String,
    pub person: Option<String>,
    pub why: String,
}

/// The events of `order` held for a ruling and not yet ruled on, oldest first.
pub fn held(store: &Store, order: &str) -> Result<Vec<Held>, StoreError> {
    let order = store.find_order(order)?;
    let events = store.events_for_order(&order.number)?;
    let rulings = Rulings::of(&events);
    let pending = rulings.pending();
    Ok(events
        .iter()
        .filter_map(|e| {
            let (_, why) = pending.iter().find(|(id, _)| *id == e.id())?;
            Some(Held {
                event: e.id().to_string(),
                kind: e.kind.word(),
                tag: e.kind.tag().cloned(),
                at: e.at.clone(),
                person: e.person.clone(),
                why: why.clone(),
            })
        })
        .collect())
}

/// Print the held events under an order's progress (nothing when there are none).
pub fn print_held(held: &[Held], out: &mut impl Write) -> std::io::Result<()> {
    if held.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{} held for a supervisor (`tagtally rule ORDER EVENT --accept` or `--reject --reason ...`):",
        super::count(held.len(), "event", "events")
    )?;
    for h in held {
        writeln!(
            out,
            "  {:<16} {:<12} {:<24} {} by {}: {}",
            h.event,
            h.kind,
            h.tag.as_ref().map_or("-", MetrcTag::as_str),
            h.at,
            h.person.as_deref().unwrap_or("nobody"),
            h.why
        )?;
    }
    Ok(())
}

/// Accept (it counts from now on) or reject (never counted, kept) the held event
/// `target` of `order`, recorded by the signed-in person. Who may rule is checked by
/// the caller ([`super::act_as`] with a supervisor) and again by the hub.
pub fn rule(
    store: &mut Store,
    order: &str,
    target: &EventRef,
    accept: bool,
    reason: &str,
) -> Result<Event, AppError> {
    let order = store.find_order(order)?;
    let rulings = Rulings::of(&store.events_for_order(&order.number)?);
    let kind = ruling(&rulings, target, accept, reason)
        .map_err(|e| AppError::NotAllowed(e.to_string()))?;
    Ok(store.append(&order.number, kind)?)
}

/// What a ruling did, in one line, from where the event stood before and stands now
/// (a ruling is ordered by its device's clock: one recorded on a device whose clock
/// is ahead still stands after a later one, and that is said).
pub fn describe(target: &EventRef, accept: bool, before: &Standing, after: &Standing) -> String {
    let word = if accept { "accepted" } else { "rejected" };
    let took = matches!(
        (accept, after),
        (true, Standing::Counts) | (false, Standing::Rejected { .. })
    );
    if !took {
        let stands = match after {
            Standing::Rejected { by, .. } => format!("the rejection {by} stands"),
            Standing::Counts => "the acceptance made before stands".to_string(),
            Standing::Held { .. } => "it is still held".to_string(),
        };
        return format!(
            "{target}: the {word} ruling is recorded, but {stands} (it sorts later: that device's clock is ahead); check the devices' clocks"
        );
    }
    let again = match before {
        Standing::Held { .. } => "",
        _ => " (replacing the earlier ruling)",
    };
    let then = if accept {
        "it counts"
    } else {
        "it is kept and never counts"
    };
    format!("{target} {word}{again}: {then}")
}

/// Where `target` stands on `order` now.
pub fn standing(store: &Store, order: &str, target: &EventRef) -> Result<Standing, StoreError> {
    let order = store.find_order(order)?;
    Ok(Rulings::of(&store.events_for_order(&order.number)?).standing(target))
}

//! The buyer's license on a store: import the state's register, an order's standing,
//! a supervisor's release, and the check again before a load is confirmed
//! (`tagtally licenses ...`, `tagtally orders`, `tagtally status`). The rule is
//! [`crate::domain::license`]; see docs/licenses.md.

use std::path::Path;

use chrono::{Local, NaiveDate};

use super::AppError;
use crate::config::Settings;
use crate::domain::license::{self, Standing};
use crate::domain::{Event, LoadOrder, Order, Stage};
use crate::store::{Store, StoreError};

/// Import the register file at `path` whole (columns from `preset`, else the
/// settings), replacing the one held; the number of licenses read.
pub fn import(
    store: &mut Store,
    settings: &Settings,
    path: &Path,
    preset: Option<&str>,
) -> Result<usize, AppError> {
    let cols = settings
        .licenses
        .columns(preset)
        .map_err(AppError::NotAllowed)?;
    let bytes = super::read(path)?;
    let file = path.display().to_string();
    let rows = crate::import::licenses::parse(&file, &bytes, &cols)?;
    store.import_licenses(&rows, &file)?;
    Ok(rows.len())
}

/// `order` (number or short id) and where its buyer license stands today.
pub fn standing(store: &Store, order: &str) -> Result<(Order, Standing), StoreError> {
    let order = store.find_order(order)?;
    let s = store.license_standing(&order, today())?;
    Ok((order, s))
}

/// A supervisor releases `order` from its license hold with `reason`, recorded with
/// the signed-in person (the caller checks who: [`super::act_as`]; the hub checks the
/// role again).
pub fn release(store: &mut Store, order: &str, reason: &str) -> Result<Event, AppError> {
    let (order, s) = standing(store, order)?;
    let kind = license::release(&order.number, order.buyer_license.as_deref(), &s, reason)
        .map_err(|e| AppError::NotAllowed(e.to_string()))?;
    Ok(store.append(&order.number, kind)?)
}

/// Before a load is confirmed: every order on it still in good standing (or
/// released); else the refusal, recorded once, of the first that is not.
pub(crate) fn recheck(store: &mut Store, orders: &[LoadOrder]) -> Result<(), StoreError> {
    for o in orders {
        let order = store.find_order(&o.list.order)?;
        store.refuse_if_license_held(&order, Stage::Load, today())?;
    }
    Ok(())
}

fn today() -> NaiveDate {
    Local::now().date_naive()
}

/// For order lists: a short note when the order is on license hold or was released.
pub fn list_note(s: &Standing) -> Option<String> {
    match s {
        Standing::Held { problem } => Some(format!(
            "LICENSE HOLD ({})",
            problem.word().replace('_', " ")
        )),
        Standing::Released { .. } => Some("license released".into()),
        Standing::NotChecked | Standing::Good => None,
    }
}

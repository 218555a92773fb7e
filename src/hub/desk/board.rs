//! The board's rows, gathered on the store thread from the hub's cached merge of
//! each open order, through [`crate::app::board::row`].

use std::collections::HashMap;

use chrono::{Duration, Local, Utc};

use super::super::{ApiError, HubOptions, Inner};
use crate::app::board::{self, BoardRow};

/// Every open order's row, by ship date then number.
pub(super) fn rows(inner: &mut Inner, opts: &HubOptions) -> Result<Vec<BoardRow>, ApiError> {
    let numbers = inner.store.open_order_numbers()?;
    let names = device_names(inner)?;
    numbers
        .iter()
        .map(|n| row_with(inner, opts, n, &names))
        .collect()
}

/// One order's row (open or not).
pub(super) fn row(
    inner: &mut Inner,
    opts: &HubOptions,
    number: &str,
) -> Result<BoardRow, ApiError> {
    let names = device_names(inner)?;
    row_with(inner, opts, number, &names)
}

pub(super) fn device_names(inner: &Inner) -> Result<HashMap<String, String>, ApiError> {
    Ok(inner
        .store
        .devices()?
        .into_iter()
        .filter_map(|d| d.device_id.map(|id| (id, d.name)))
        .collect())
}

fn row_with(
    inner: &mut Inner,
    opts: &HubOptions,
    number: &str,
    names: &HashMap<String, String>,
) -> Result<BoardRow, ApiError> {
    let (number, _) = inner.merged(number, &opts.rules)?;
    let open = inner.store.order_open(&number)?;
    let c = &inner.orders[&number];
    let license = inner
        .store
        .license_standing(&c.order, Local::now().date_naive())?;
    let merged = c.view();
    Ok(board::row(
        &board::Facts {
            order: &c.order,
            open,
            merged: &merged,
            ship: &c.ship,
            workers: &c.workers,
            license: &license,
        },
        names,
        Duration::minutes(i64::from(opts.ship.departure_minutes)),
        Utc::now(),
    ))
}

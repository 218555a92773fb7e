//! The desk's order page (`/desk/orders/{number}`): the order's lines with allocated
//! / picked / short / remaining, every allocated package (its full tag) with its
//! state, the open exceptions, and the event history oldest first with each event's
//! device and person. Gathered on the store thread from the hub's cached merge,
//! through [`crate::app::board::detail`]; the actions on exceptions come later.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Local;

use super::pages::{Chrome, OrderPage, RowView, html};
use super::{Desk, board, error_page};
use crate::app::board::{DetailFacts, detail};
use crate::hub::Hub;

pub(super) async fn page(
    State(hub): State<Arc<Hub>>,
    desk: Desk,
    Path(number): Path<String>,
) -> Response {
    let got = hub
        .with(move |inner, opts| {
            let row = board::row(inner, opts, &number)?;
            let names = board::device_names(inner)?;
            let events = inner.store.events_for_order(&row.number)?;
            let counted = crate::domain::counted(events.clone());
            let c = &inner.orders[&row.number];
            let merged = c.view();
            let d = detail(
                &c.order,
                &DetailFacts {
                    pick: c.merger.state(),
                    ship: &c.ship,
                    packages: &c.packages,
                    rules: &opts.rules,
                    today: Local::now().date_naive(),
                    events: &events,
                    counted: &counted,
                    merged: &merged,
                },
                &names,
            );
            Ok((row, d))
        })
        .await;
    match got {
        Ok((row, d)) => {
            let role = desk.session.role;
            html(
                StatusCode::OK,
                &OrderPage {
                    chrome: Some(Chrome::of(&desk.session)),
                    csrf: desk.session.csrf.clone(),
                    row: RowView::of(&row, role),
                    detail: d,
                },
            )
        }
        Err(e) => error_page(&desk, e),
    }
}

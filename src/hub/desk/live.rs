//! The board, live: server-sent events from the hub's broadcast of every order's
//! changes, with the session cookie as the credential (a browser's `EventSource`
//! sends it). First a `board` event with every row the filter shows, then a `row`
//! event each time an order changes: its row as HTML, or none when the filter no
//! longer shows it.

use std::convert::Infallible;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use tokio::sync::broadcast;

use super::pages::{RowView, Rows};
use super::{BoardQuery, Desk, board, error_page};
use crate::app::board::Filter;
use crate::domain::people::Role;
use crate::hub::Hub;

/// What the stream knows of its viewer.
struct Viewer {
    hub: Arc<Hub>,
    filter: Filter,
    role: Role,
    csrf: String,
}

pub(super) async fn board(
    State(hub): State<Arc<Hub>>,
    desk: Desk,
    Query(q): Query<BoardQuery>,
) -> Response {
    // Subscribe before reading the board, so no change falls between the two.
    let rx = hub.live.subscribe();
    let viewer = Viewer {
        hub: hub.clone(),
        filter: q.filter(),
        role: desk.session.role,
        csrf: desk.session.csrf.clone(),
    };
    let first = match viewer.all().await {
        Ok(ev) => ev,
        Err(e) => return error_page(&desk, e),
    };
    let closing = hub.closing.clone();
    let state = (Some(first), rx, closing, viewer);
    let stream =
        futures_util::stream::unfold(state, |(first, mut rx, mut closing, v)| async move {
            if let Some(ev) = first {
                return Some((Ok::<_, Infallible>(ev), (None, rx, closing, v)));
            }
            loop {
                if *closing.borrow() {
                    return None;
                }
                let ev = tokio::select! {
                    msg = rx.recv() => match msg {
                        Ok(u) => v.one(&u.order).await,
                        // Missed some: send the whole board again.
                        Err(broadcast::error::RecvError::Lagged(_)) => v.all().await,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = closing.changed() => return None,
                };
                match ev {
                    Ok(ev) => return Some((Ok(ev), (None, rx, closing, v))),
                    Err(e) => tracing::warn!(error = ?e, "a desk board update failed"),
                }
            }
        });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

impl Viewer {
    fn render(&self, rows: &[RowView]) -> String {
        Rows {
            csrf: &self.csrf,
            rows,
        }
        .render()
        .unwrap_or_default()
    }

    /// Every row the filter shows.
    async fn all(&self) -> Result<SseEvent, crate::hub::ApiError> {
        let rows = self.hub.with(board::rows).await?;
        let open = rows.len();
        let shown: Vec<RowView> = rows
            .iter()
            .filter(|r| self.filter.matches(r))
            .map(|r| RowView::of(r, self.role))
            .collect();
        let data = serde_json::json!({ "html": self.render(&shown), "open": open });
        Ok(SseEvent::default().event("board").data(data.to_string()))
    }

    /// The row of `order`, or none when the filter does not show it.
    async fn one(&self, order: &str) -> Result<SseEvent, crate::hub::ApiError> {
        let key = order.to_string();
        let row = self
            .hub
            .with(move |inner, opts| board::row(inner, opts, &key))
            .await?;
        let html = self
            .filter
            .matches(&row)
            .then(|| self.render(&[RowView::of(&row, self.role)]));
        let data = serde_json::json!({ "order": row.number, "html": html });
        Ok(SseEvent::default().event("row").data(data.to_string()))
    }
}

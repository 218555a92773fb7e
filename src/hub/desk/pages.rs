//! The desk's pages: askama templates (`templates/desk/`, compiled and checked at
//! build time, every value HTML-escaped) and the views they show. A view holds words
//! and numbers already decided by `app` and `domain`; the templates only lay out.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::session::Session;
use crate::app::board::BoardRow;
use crate::domain::people::{DeskAction, Role};
use crate::domain::stage::{OrderStage, STAGES};

/// Who is signed in, for the header of every page.
pub(super) struct Chrome {
    pub(super) person: String,
    pub(super) role: Role,
    pub(super) csrf: String,
    /// May do something at the desk, not only look.
    pub(super) may_act: bool,
}

impl Chrome {
    pub(super) fn of(s: &Session) -> Chrome {
        Chrome {
            person: s.person.clone(),
            role: s.role,
            csrf: s.csrf.clone(),
            may_act: s.role.may(DeskAction::ReleaseHold),
        }
    }
}

/// One board row as shown.
pub(super) struct RowView {
    pub(super) number: String,
    pub(super) short_id: Option<String>,
    pub(super) buyer: String,
    pub(super) ship_date: String,
    pub(super) stage_key: &'static str,
    pub(super) stage_words: &'static str,
    /// The colour class of the stage, as the floor's verdicts: good, warn, bad, info,
    /// muted. The stage is always written beside it.
    pub(super) tone: &'static str,
    pub(super) progress_tone: &'static str,
    pub(super) picked: usize,
    pub(super) allocated: usize,
    pub(super) workers: Vec<String>,
    pub(super) exceptions: usize,
    pub(super) hold: Option<String>,
    /// Show the release form (on hold, and the person may release).
    pub(super) release: bool,
}

impl RowView {
    pub(super) fn of(r: &BoardRow, role: Role) -> RowView {
        let tone = match r.stage {
            OrderStage::OnHold => "bad",
            OrderStage::NotAllocated | OrderStage::Picking | OrderStage::Loading => "warn",
            OrderStage::Picked
            | OrderStage::Loaded
            | OrderStage::InTransit
            | OrderStage::Delivered => "good",
            OrderStage::Allocated => "info",
            OrderStage::Closed => "muted",
        };
        // As the floor's order list: nothing yet plain, part amber, all green.
        let progress_tone = if r.allocated > 0 && r.picked >= r.allocated {
            "good"
        } else if r.picked > 0 {
            "warn"
        } else {
            "plain"
        };
        RowView {
            number: r.number.clone(),
            short_id: r.short_id.clone(),
            buyer: r.buyer.clone(),
            ship_date: r.ship_date.clone().unwrap_or_else(|| "not set".into()),
            stage_key: r.stage.key(),
            stage_words: r.stage.words(),
            tone,
            progress_tone,
            picked: r.picked,
            allocated: r.allocated,
            workers: r
                .workers
                .iter()
                .map(|w| match &w.person {
                    Some(p) => format!("{p} on {}", w.device),
                    None => format!("{} (nobody signed in)", w.device),
                })
                .collect(),
            exceptions: r.exceptions,
            hold: r.hold.clone(),
            release: r.stage == OrderStage::OnHold && role.may(DeskAction::ReleaseHold),
        }
    }
}

#[derive(Template)]
#[template(path = "desk/signin.html")]
pub(super) struct SignInPage {
    pub(super) chrome: Option<Chrome>,
    pub(super) message: Option<String>,
    pub(super) person: String,
}

#[derive(Template)]
#[template(path = "desk/refused.html")]
pub(super) struct RefusedPage {
    pub(super) chrome: Option<Chrome>,
    pub(super) why: String,
}

#[derive(Template)]
#[template(path = "desk/board.html")]
pub(super) struct BoardPage {
    pub(super) chrome: Option<Chrome>,
    pub(super) csrf: String,
    /// (key, words, selected) of every stage.
    pub(super) stages: Vec<(&'static str, &'static str, bool)>,
    pub(super) search: String,
    pub(super) rows: Vec<RowView>,
    /// Open orders before the filter.
    pub(super) open: usize,
}

impl BoardPage {
    pub(super) fn stages(selected: Option<OrderStage>) -> Vec<(&'static str, &'static str, bool)> {
        STAGES
            .into_iter()
            .map(|s| (s.key(), s.words(), Some(s) == selected))
            .collect()
    }
}

#[derive(Template)]
#[template(path = "desk/order.html")]
pub(super) struct OrderPage {
    pub(super) chrome: Option<Chrome>,
    pub(super) csrf: String,
    pub(super) row: RowView,
    pub(super) detail: crate::app::board::OrderDetail,
}

/// Rows alone, for the live stream.
#[derive(Template)]
#[template(
    source = r#"{% for r in rows %}{% include "desk/row.html" %}{% endfor %}"#,
    ext = "html"
)]
pub(super) struct Rows<'a> {
    pub(super) csrf: &'a str,
    pub(super) rows: &'a [RowView],
}

/// A page as an HTML response with the desk's headers: no script or style from
/// anywhere but the hub, no framing, no caching of what a session saw.
pub(super) fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut r = (status, body).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            secure_headers(h);
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "a desk page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page did not render: see the hub's log",
            )
                .into_response()
        }
    }
}

/// The headers every desk answer carries.
pub(super) fn secure_headers(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// A refusal: 403 and the page that says why.
pub(super) fn refused(chrome: Option<Chrome>, why: impl Into<String>) -> Response {
    html(
        StatusCode::FORBIDDEN,
        &RefusedPage {
            chrome,
            why: why.into(),
        },
    )
}

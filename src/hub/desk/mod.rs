//! The coordinator's desk: server-rendered pages at `/desk` beside the sync API, on
//! the same store thread. Sign-in with a person's name and PIN (the floor's lock-out),
//! a session cookie, the board of open orders updated live, and the actions a
//! coordinator or a supervisor may take. `docs/desk.md` tells the security model.
//!
//! Handlers call `app` and `domain` as the command line does: who may act is
//! [`Role::may`], the stage [`crate::domain::stage`], the row [`crate::app::board`].

mod board;
mod live;
mod order;
mod pages;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::{Hub, LiveUpdate};
use crate::app::board::Filter;
use crate::domain::people::{DeskAction, Role};
use crate::domain::stage::OrderStage;
use crate::store::SignInError;
use pages::{BoardPage, Chrome, RowView, SignInPage, html, refused};
pub(super) use session::Sessions;
use session::{Session, clear_cookie, cookie_token, foreign_origin, same_token, set_cookie};

/// Every route of the desk: (method, path). HTML for people, not the API: they are
/// not in `/openapi.json`.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/desk"),
    ("GET", "/desk/sign-in"),
    ("POST", "/desk/sign-in"),
    ("POST", "/desk/sign-out"),
    ("GET", "/desk/live"),
    ("GET", "/desk/orders/{number}"),
    ("POST", "/desk/orders/{number}/release"),
    ("GET", "/desk/assets/desk.css"),
    ("GET", "/desk/assets/board.js"),
];

/// The desk's router, merged into the hub's.
pub(super) fn routes() -> Router<Arc<Hub>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/desk") }))
        .route("/desk", get(board_page))
        .route("/desk/sign-in", get(sign_in_page).post(sign_in))
        .route("/desk/sign-out", post(sign_out))
        .route("/desk/live", get(live::board))
        .route("/desk/orders/{number}", get(order::page))
        .route("/desk/orders/{number}/release", post(release))
        .route(
            "/desk/assets/desk.css",
            get(|| async { asset("text/css", include_str!("assets/desk.css")) }),
        )
        .route(
            "/desk/assets/board.js",
            get(|| async { asset("text/javascript", include_str!("assets/board.js")) }),
        )
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    pages::secure_headers(h);
    r
}

/// Served over HTTPS: the cookie is then Secure, and the origin `https://`.
fn secure(hub: &Hub) -> bool {
    hub.options.tls.is_some()
}

// ---- who is signed in ----

/// A signed-in person, from the session cookie. Without a live session (none,
/// forged, expired) the request is sent to the sign-in page and nothing is done.
pub(super) struct Desk {
    session: Session,
    token: String,
}

impl FromRequestParts<Arc<Hub>> for Desk {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, hub: &Arc<Hub>) -> Result<Self, Response> {
        let to_sign_in = || Redirect::to("/desk/sign-in").into_response();
        let token = cookie_token(&parts.headers).ok_or_else(to_sign_in)?;
        let session = hub
            .desk
            .touch(&token, hub.options.desk.idle)
            .ok_or_else(|| {
                // The browser's cookie is stale: clear it as it goes to sign in.
                let mut r = to_sign_in();
                if let Ok(v) = HeaderValue::from_str(&clear_cookie(secure(hub))) {
                    r.headers_mut().insert(header::SET_COOKIE, v);
                }
                r
            })?;
        Ok(Desk { session, token })
    }
}

impl Desk {
    /// `Ok` when a state-changing form carries this session's CSRF token and comes
    /// from the hub's own origin; else the 403 page, logged.
    async fn check_form(
        &self,
        hub: &Arc<Hub>,
        headers: &HeaderMap,
        csrf: &str,
    ) -> Result<(), Response> {
        let why = if let Some(why) = foreign_origin(headers, secure(hub)) {
            why
        } else if csrf.is_empty() || !same_token(csrf, &self.session.csrf) {
            "this form did not carry the desk's token (it is older than this sign-in, or was made elsewhere): nothing was changed; reload the page and try again".to_string()
        } else {
            return Ok(());
        };
        log(
            hub,
            "desk_forged_form",
            format!("{}: {why}", self.session.person),
        )
        .await;
        Err(refused(Some(Chrome::of(&self.session)), why))
    }

    /// `Ok` when the person's role may do `action`; else the 403 page, logged.
    async fn may(&self, hub: &Arc<Hub>, action: DeskAction, what: &str) -> Result<(), Response> {
        let s = &self.session;
        if s.role.may(action) {
            return Ok(());
        }
        log(
            hub,
            "desk_refused",
            format!("{} ({}) tried to {what} at the desk", s.person, s.role),
        )
        .await;
        Err(refused(
            Some(Chrome::of(s)),
            format!(
                "{} is a {}: to {} needs a {} or a {}",
                s.person,
                s.role,
                action.words(),
                Role::Coordinator,
                Role::Supervisor
            ),
        ))
    }
}

/// A line in the hub's security log (once per cause).
async fn log(hub: &Arc<Hub>, kind: &'static str, detail: String) {
    let logged = hub
        .with(move |inner, _| Ok(inner.store.log_security(None, kind, &detail)?))
        .await;
    if let Err(e) = logged {
        tracing::error!(error = ?e, "the desk could not write the security log");
    }
}

// ---- sign-in and sign-out ----

async fn sign_in_page() -> Response {
    html(
        StatusCode::OK,
        &SignInPage {
            chrome: None,
            message: None,
            person: String::new(),
        },
    )
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    person: String,
    #[serde(default)]
    pin: String,
}

/// Check the name and PIN as the floor does (wrong PINs count toward the lock-out);
/// a good one starts a session.
async fn sign_in(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    Form(f): Form<SignInForm>,
) -> Response {
    if let Some(why) = foreign_origin(&headers, secure(&hub)) {
        log(
            &hub,
            "desk_forged_form",
            format!("sign-in as {:?}: {why}", f.person),
        )
        .await;
        return refused(None, why);
    }
    let name = f.person.trim().to_string();
    let lockout = hub.options.desk.lockout;
    let who = name.clone();
    let outcome = hub
        .with(move |inner, _| {
            let r = inner
                .store
                .sign_in(&who, &f.pin, chrono::Utc::now(), lockout)?;
            if let Err(SignInError::Locked { name, until }) = &r {
                inner.store.log_security(
                    None,
                    "desk_locked_out",
                    &format!("{name} is locked out of the desk until {until} after wrong PINs"),
                )?;
            }
            Ok(r)
        })
        .await;
    let message = match outcome {
        Ok(Ok(person)) => {
            let token = hub.desk.start(&person.name, person.role);
            let mut r = Redirect::to("/desk").into_response();
            if let Ok(v) = HeaderValue::from_str(&set_cookie(&token, secure(&hub))) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            return r;
        }
        Ok(Err(refused)) => refused.to_string(),
        Err(e) => e.message().to_string(),
    };
    html(
        StatusCode::UNAUTHORIZED,
        &SignInPage {
            chrome: None,
            message: Some(message),
            person: name,
        },
    )
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(hub): State<Arc<Hub>>,
    desk: Desk,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = desk.check_form(&hub, &headers, &f.csrf).await {
        return r;
    }
    hub.desk.end(&desk.token);
    let mut r = Redirect::to("/desk/sign-in").into_response();
    if let Ok(v) = HeaderValue::from_str(&clear_cookie(secure(&hub))) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

// ---- the board ----

#[derive(Deserialize, Default, Clone)]
pub(super) struct BoardQuery {
    #[serde(default)]
    stage: String,
    #[serde(default)]
    q: String,
}

impl BoardQuery {
    fn filter(&self) -> Filter {
        Filter {
            stage: OrderStage::from_key(self.stage.trim()),
            search: self.q.clone(),
        }
    }
}

async fn board_page(
    State(hub): State<Arc<Hub>>,
    desk: Desk,
    Query(q): Query<BoardQuery>,
) -> Response {
    let filter = q.filter();
    let rows = match hub.with(board::rows).await {
        Ok(rows) => rows,
        Err(e) => return error_page(&desk, e),
    };
    let open = rows.len();
    let role = desk.session.role;
    let shown: Vec<RowView> = rows
        .iter()
        .filter(|r| filter.matches(r))
        .map(|r| RowView::of(r, role))
        .collect();
    html(
        StatusCode::OK,
        &BoardPage {
            csrf: desk.session.csrf.clone(),
            chrome: Some(Chrome::of(&desk.session)),
            stages: BoardPage::stages(filter.stage),
            search: filter.search.clone(),
            rows: shown,
            open,
        },
    )
}

fn error_page(desk: &Desk, e: super::ApiError) -> Response {
    let mut r = refused(Some(Chrome::of(&desk.session)), e.message().to_string());
    *r.status_mut() = e.status;
    r
}

// ---- actions ----

#[derive(Deserialize)]
struct ReleaseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// Release an order from its license hold, as `tagtally licenses release` does
/// ([`crate::app::license::release`]), recorded with the signed-in person.
async fn release(
    State(hub): State<Arc<Hub>>,
    desk: Desk,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(f): Form<ReleaseForm>,
) -> Response {
    if let Err(r) = desk.check_form(&hub, &headers, &f.csrf).await {
        return r;
    }
    if let Err(r) = desk
        .may(
            &hub,
            DeskAction::ReleaseHold,
            &format!("release the hold on {number}"),
        )
        .await
    {
        return r;
    }
    let person = desk.session.person.clone();
    let key = number.clone();
    let done = hub
        .with(move |inner, opts| {
            inner.store.set_signed_in(Some(&person));
            let released = crate::app::license::release(&mut inner.store, &key, &f.reason);
            inner.store.set_signed_in(None);
            match released {
                Ok(e) => {
                    let (number, c) = inner.merged(&e.order, &opts.rules)?;
                    Ok(Ok((
                        number,
                        serde_json::to_string(&c.view()).expect("serialises"),
                    )))
                }
                Err(crate::app::AppError::Store(s)) => Err(s.into()),
                Err(refusal) => Ok(Err(refusal.to_string())),
            }
        })
        .await;
    match done {
        Ok(Ok((order, json))) => {
            let _ = hub.live.send(LiveUpdate {
                order,
                json: json.into(),
            });
            Redirect::to("/desk").into_response()
        }
        Ok(Err(why)) => refused(Some(Chrome::of(&desk.session)), why),
        Err(e) => error_page(&desk, e),
    }
}

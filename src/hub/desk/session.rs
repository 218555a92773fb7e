//! Desk sessions, kept in the hub's memory: a random token from the OS in an
//! HttpOnly, SameSite=Strict cookie (Secure over HTTPS), only its SHA-256 kept here,
//! ended by sign-out or after the idle time. Each session has its own CSRF token,
//! which every state-changing form carries; a POST must also come from the hub's own
//! origin (`Origin`, else `Referer`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};

use crate::domain::people::Role;
use crate::store::{new_token, token_hash};

/// The session cookie's name.
pub(super) const COOKIE: &str = "tagtally_desk";

/// A signed-in person at the desk.
#[derive(Clone, Debug)]
pub(super) struct Session {
    pub(super) person: String,
    pub(super) role: Role,
    /// The token every form of this session carries.
    pub(super) csrf: String,
    last: Instant,
}

/// The signed-in sessions, by the SHA-256 of their cookie.
#[derive(Default)]
pub(in crate::hub) struct Sessions {
    by_hash: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// A new session for `person`; returns the cookie's token (kept only hashed).
    pub(super) fn start(&self, person: &str, role: Role) -> String {
        let token = new_token();
        let session = Session {
            person: person.to_string(),
            role,
            csrf: new_token(),
            last: Instant::now(),
        };
        let mut map = self.by_hash.lock().expect("sessions lock");
        map.insert(token_hash(&token), session);
        token
    }

    /// The live session of `token`, its idle time restarted; an expired one is
    /// ended. `None` for an unknown, forged or expired token.
    pub(super) fn touch(&self, token: &str, idle: Duration) -> Option<Session> {
        let now = Instant::now();
        let mut map = self.by_hash.lock().expect("sessions lock");
        // Ended sessions go whenever any is looked up: the map stays small.
        map.retain(|_, s| now.duration_since(s.last) <= idle);
        let s = map.get_mut(&token_hash(token))?;
        s.last = now;
        Some(s.clone())
    }

    /// End the session of `token` (sign-out).
    pub(super) fn end(&self, token: &str) {
        let mut map = self.by_hash.lock().expect("sessions lock");
        map.remove(&token_hash(token));
    }
}

/// The session token in the request's cookies, if any.
pub(super) fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value that starts a session.
pub(super) fn set_cookie(token: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that ends one in the browser.
pub(super) fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Whether two tokens are equal, compared in full whatever differs first.
pub(super) fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Why a POST is refused before anything is done, in words for the 403 page.
pub(super) fn foreign_origin(headers: &HeaderMap, secure: bool) -> Option<String> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok())?;
    let ours = format!("{}://{host}", if secure { "https" } else { "http" });
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
    match (origin, referer) {
        (Some(o), _) if o == ours => None,
        (Some(o), _) => Some(format!(
            "this form was sent from {o}, not from the desk ({ours}): refused"
        )),
        (None, Some(r)) if r == ours || r.starts_with(&format!("{ours}/")) => None,
        (None, Some(_)) => Some("this form was sent from another site: refused".into()),
        (None, None) => Some(
            "this form came without its origin (Origin or Referer), so it cannot be told from another site's: refused"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_session_is_found_by_its_token_only_and_ends_when_idle_or_signed_out() {
        let s = Sessions::default();
        let token = s.start("Ana", Role::Coordinator);
        let found = s.touch(&token, Duration::from_secs(60)).unwrap();
        assert_eq!(
            (found.person.as_str(), found.role),
            ("Ana", Role::Coordinator)
        );
        assert!(s.touch("tt_forged", Duration::from_secs(60)).is_none());
        assert!(
            !s.by_hash.lock().unwrap().contains_key(&token),
            "only the hash is kept"
        );
        std::thread::sleep(Duration::from_millis(5));
        assert!(s.touch(&token, Duration::from_millis(1)).is_none(), "idle");
        assert!(s.touch(&token, Duration::from_secs(60)).is_none(), "ended");
        let t2 = s.start("Bo", Role::Picker);
        s.end(&t2);
        assert!(s.touch(&t2, Duration::from_secs(60)).is_none());
    }

    #[test]
    fn cookies_and_origins() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; tagtally_desk=tt_x; b=2"),
        );
        assert_eq!(cookie_token(&h).as_deref(), Some("tt_x"));
        assert!(set_cookie("t", true).contains("HttpOnly; SameSite=Strict; Secure"));
        assert!(!set_cookie("t", false).contains("Secure"));
        h.insert(header::HOST, HeaderValue::from_static("hub:7878"));
        assert!(foreign_origin(&h, false).is_some(), "no origin at all");
        h.insert(
            header::REFERER,
            HeaderValue::from_static("http://hub:7878/desk"),
        );
        assert_eq!(foreign_origin(&h, false), None);
        assert!(
            foreign_origin(&h, true).is_some(),
            "https hub, http referer"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(foreign_origin(&h, false).unwrap().contains("evil.example"));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://hub:7878"));
        assert_eq!(foreign_origin(&h, false), None);
        assert!(same_token("abc", "abc") && !same_token("abc", "abd") && !same_token("a", "ab"));
    }
}

//! What the Apex client's calls end in ([`ApexError`]): in words a coordinator can
//! act on, with what a write-back queue needs to know (the HTTP status, whether the
//! request may have reached Apex, and the [`Failure`] class); and Apex's words in an
//! error body ([`message_of`]).

use serde_json::Value;

use crate::domain::writeback::Failure;

/// What went wrong, in words a coordinator can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApexError {
    #[error("[apex] is not set up: {0}")]
    NotConfigured(String),
    /// 401 or 403: the token, or its abilities.
    #[error(
        "Apex refused the token ({status}: {message}): check [apex] token (TAGTALLY_APEX__TOKEN), and that it has the abilities view:shipping-orders (to pull) and update:shipping-orders (to write back)"
    )]
    Key { status: u16, message: String },
    /// Another 4xx: this request will not succeed as it is.
    #[error("Apex refused {what} ({status}: {message})")]
    Refused {
        what: String,
        status: u16,
        message: String,
    },
    /// A 5xx, or 429s past the tries.
    #[error("Apex failed {what} ({status}: {message}) after {tries} tries")]
    Server {
        what: String,
        status: u16,
        message: String,
        tries: u32,
    },
    /// No answer in time; `sent`: the request had left (a write may have landed).
    #[error("Apex did not answer {what} within {seconds} s ({tries} tries)")]
    Timeout {
        what: String,
        seconds: u64,
        tries: u32,
        sent: bool,
    },
    /// Unreachable; `sent`: the connection broke after the request had left.
    #[error("cannot reach Apex at {url}: {message}")]
    Network {
        url: String,
        message: String,
        sent: bool,
    },
    /// An HTML page where JSON was asked for.
    #[error(
        "Apex's answer to {what} is not JSON (an HTML page, status {status}): the Accept header or the base_url is wrong; [apex] base_url should be the API root, https://app.apextrading.com/api"
    )]
    NotJson { what: String, status: u16 },
    #[error("Apex's answer to {what} is not what Apex sends: {message}")]
    BadAnswer { what: String, message: String },
}

impl ApexError {
    /// The HTTP status Apex answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApexError::Key { status, .. }
            | ApexError::Refused { status, .. }
            | ApexError::Server { status, .. }
            | ApexError::NotJson { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether a write may have reached Apex although its answer did not come back
    /// (a timeout or a broken connection after sending; a 5xx, which Apex may have
    /// applied before failing): the next try reads the order first.
    pub fn uncertain(&self) -> bool {
        match self {
            ApexError::Timeout { sent, .. } | ApexError::Network { sent, .. } => *sent,
            ApexError::Server { status, .. } => *status != 429,
            _ => false,
        }
    }

    /// What the write-back queue does with it: try again later, wait for a person
    /// to fix the token (or the base_url), or show the refusal.
    pub fn failure(&self) -> Failure {
        match self {
            ApexError::Key { .. } | ApexError::NotConfigured(_) | ApexError::NotJson { .. } => {
                Failure::Key
            }
            ApexError::Refused { status, .. } => crate::domain::writeback::failure_of(*status),
            ApexError::BadAnswer { .. } => Failure::Refused,
            ApexError::Server { .. } | ApexError::Timeout { .. } | ApexError::Network { .. } => {
                Failure::Retry
            }
        }
    }
}

/// Apex's words in an error body: `{"message"}` (with a 422's `errors`:
/// `{"field": ["..."]}`), `{"error"}`, or plain text.
pub fn message_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let words = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => {
            let head = o
                .get("message")
                .or(o.get("error"))
                .map(|m| m.as_str().map(str::to_string).unwrap_or(m.to_string()))
                .unwrap_or_default();
            let fields: Vec<String> = match o.get("errors") {
                Some(Value::Object(errs)) => errs
                    .iter()
                    .map(|(k, v)| match v {
                        Value::Array(a) => format!(
                            "{k}: {}",
                            a.iter()
                                .map(|m| m.as_str().map(str::to_string).unwrap_or(m.to_string()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        other => format!("{k}: {other}"),
                    })
                    .collect(),
                _ => vec![],
            };
            match (head.is_empty(), fields.is_empty()) {
                (false, true) => head,
                (true, true) => Value::Object(o).to_string(),
                (true, false) => fields.join("; "),
                (false, false) => format!("{head} {}", fields.join("; ")),
            }
        }
        _ if looks_like_html(body) => "an HTML page".to_string(),
        _ => text.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    let words = if words.trim().is_empty() {
        "no message".to_string()
    } else {
        words
    };
    if words.chars().count() > 300 {
        words.chars().take(299).chain(['…']).collect()
    } else {
        words
    }
}

pub(super) fn looks_like_html(body: &[u8]) -> bool {
    let start: String = String::from_utf8_lossy(&body[..body.len().min(64)])
        .trim_start()
        .to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apex_s_words_in_every_error_shape() {
        for (body, want) in [
            (&br#"{"message":"Unauthenticated."}"#[..], "Unauthenticated."),
            (
                br#"{"message":"The given data was invalid.","errors":{"updated_at_from":["The updated at from field is required."]}}"#,
                "The given data was invalid. updated_at_from: The updated at from field is required.",
            ),
            (
                br#"{"error":"The order status does not belong to this order's deal flow."}"#,
                "The order status does not belong to this order's deal flow.",
            ),
            (b"<!DOCTYPE html><html><body>Login</body></html>", "an HTML page"),
            (b"Bad Gateway", "Bad Gateway"),
            (b"", "no message"),
        ] {
            assert_eq!(message_of(body), want);
        }
    }

    #[test]
    fn errors_say_what_the_queue_does() {
        let timeout = |sent| ApexError::Timeout {
            what: "w".into(),
            seconds: 1,
            tries: 1,
            sent,
        };
        assert!(timeout(true).uncertain() && !timeout(false).uncertain());
        assert_eq!(timeout(true).failure(), Failure::Retry);
        let key = ApexError::Key {
            status: 401,
            message: "Unauthenticated.".into(),
        };
        assert_eq!((key.failure(), key.status()), (Failure::Key, Some(401)));
        let refused = ApexError::Refused {
            what: "w".into(),
            status: 400,
            message: "no".into(),
        };
        assert_eq!(refused.failure(), Failure::Refused);
        assert!(!refused.uncertain());
        let server = ApexError::Server {
            what: "w".into(),
            status: 500,
            message: "Server Error".into(),
            tries: 1,
        };
        assert!(server.uncertain() && server.failure() == Failure::Retry);
    }
}

//! The one client of LeafLink's Marketplace V2 API: `Authorization: App KEY`, a
//! `User-Agent`, every path ending in a slash (LeafLink answers 400 otherwise), one
//! rate limiter per client (`max_requests_per_minute`, under LeafLink's 300), a 429
//! that waits for `Retry-After` (else a backoff), 5xx, timeouts and unreachable hosts
//! retried, a 401 or 403 answered at once with what to do. The key is sent, never
//! shown.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{StatusCode, Url};
use serde_json::Value;

use crate::config::{LeafLinkSettings, Secret};

const TRIES: u32 = 5;

/// What went wrong, in words a coordinator can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeafLinkError {
    #[error("[leaflink] is not set up: {0}")]
    NotConfigured(String),
    #[error(
        "LeafLink refused the API key ({status}: {message}): check [leaflink] api_key (TAGTALLY_LEAFLINK__API_KEY), and that its user may Manage Orders Received"
    )]
    Key { status: u16, message: String },
    #[error("LeafLink refused {what} ({status}: {message})")]
    Refused {
        what: String,
        status: u16,
        message: String,
    },
    #[error("LeafLink failed {what} ({status}: {message}) after {tries} tries")]
    Server {
        what: String,
        status: u16,
        message: String,
        tries: u32,
    },
    #[error("LeafLink did not answer {what} within {seconds} s ({tries} tries)")]
    Timeout {
        what: String,
        seconds: u64,
        tries: u32,
    },
    #[error("cannot reach LeafLink at {url}: {message}")]
    Network { url: String, message: String },
    #[error("LeafLink's answer to {what} is not what LeafLink sends: {message}")]
    BadAnswer { what: String, message: String },
}

impl LeafLinkError {
    /// What the error means for a queued write.
    pub fn failure(&self) -> crate::domain::writeback::Failure {
        use crate::domain::writeback::{Failure, failure_of};
        match self {
            LeafLinkError::NotConfigured(_) | LeafLinkError::Key { .. } => Failure::Key,
            LeafLinkError::Refused { status, .. } => failure_of(*status),
            LeafLinkError::Server { .. }
            | LeafLinkError::Timeout { .. }
            | LeafLinkError::Network { .. }
            | LeafLinkError::BadAnswer { .. } => Failure::Retry,
        }
    }
}

/// LeafLink's words in an error body: DRF's `{"detail": ...}`, `{"field": ["msg"]}`,
/// the newer API's `{"errors": [{"detail": ...}]}`, or plain text.
pub fn message_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let words = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => {
            if let Some(d) = o.get("detail").and_then(Value::as_str) {
                d.to_string()
            } else if let Some(Value::Array(errs)) = o.get("errors") {
                errs.iter()
                    .filter_map(|e| e.get("detail").or(e.get("title")).and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("; ")
            } else {
                o.iter()
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
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        }
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

/// The client, cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    key: Secret,
    timeout: Duration,
    limiter: Arc<DefaultDirectRateLimiter>,
    requests: Arc<AtomicU64>,
}

impl Client {
    pub fn new(s: &LeafLinkSettings) -> Result<Client, LeafLinkError> {
        let base = s.base_url.trim();
        if base.is_empty() {
            return Err(LeafLinkError::NotConfigured(
                "set [leaflink] base_url (https://app.leaflink.com/api/v2/)".into(),
            ));
        }
        if !s.api_key.is_set() {
            return Err(LeafLinkError::NotConfigured(
                "set [leaflink] api_key (or TAGTALLY_LEAFLINK__API_KEY)".into(),
            ));
        }
        let mut base = Url::parse(base).map_err(|e| {
            LeafLinkError::NotConfigured(format!("[leaflink] base_url {base:?} is not a URL: {e}"))
        })?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let timeout = Duration::from_secs(s.timeout_seconds.max(1));
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent("tagtally")
            .build()
            .map_err(|e| {
                LeafLinkError::NotConfigured(format!("cannot make an HTTP client: {e}"))
            })?;
        let per_minute = NonZeroU32::new(s.max_requests_per_minute.clamp(1, 300)).expect("above 0");
        Ok(Client {
            http,
            base,
            key: s.api_key.clone(),
            timeout,
            limiter: Arc::new(RateLimiter::direct(Quota::per_minute(per_minute))),
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Requests sent so far (retries counted).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The URL of `path` (relative to the API root; a trailing slash added) with
    /// `query`.
    pub fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, LeafLinkError> {
        let path = if path.ends_with('/') {
            path.to_string()
        } else {
            format!("{path}/")
        };
        let mut url = self
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| LeafLinkError::NotConfigured(e.to_string()))?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    /// GET `url` (a `next` link is followed verbatim) as JSON, retried while
    /// retrying can help.
    pub async fn get_json(&self, url: Url, what: &str) -> Result<Value, LeafLinkError> {
        self.send(reqwest::Method::GET, url, None, what, true).await
    }

    /// GET `url` once (a 429 still waits): the read before a queued write, whose
    /// queue retries with its own backoff.
    pub async fn get_json_once(&self, url: Url, what: &str) -> Result<Value, LeafLinkError> {
        self.send(reqwest::Method::GET, url, None, what, false)
            .await
    }

    /// PATCH `body` to `url`; the answer as JSON. Retried only where LeafLink surely
    /// did not act (a 429, a connection refused): after a 5xx or a timeout the
    /// caller reads before it writes again.
    pub async fn patch_json(
        &self,
        url: Url,
        body: &Value,
        what: &str,
    ) -> Result<Value, LeafLinkError> {
        self.send(reqwest::Method::PATCH, url, Some(body), what, false)
            .await
    }

    /// POST to `url` without a body (a status transition); retried as
    /// [`Client::patch_json`].
    pub async fn post_json(&self, url: Url, what: &str) -> Result<Value, LeafLinkError> {
        self.send(reqwest::Method::POST, url, None, what, false)
            .await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: Url,
        body: Option<&Value>,
        what: &str,
        retry: bool,
    ) -> Result<Value, LeafLinkError> {
        // A read is retried (`retry`) after anything that may pass; a write only
        // where LeafLink cannot have acted on it.
        let read = retry && method == reqwest::Method::GET;
        let mut backoff = Duration::from_millis(250);
        let mut tries = 0;
        loop {
            tries += 1;
            self.limiter.until_ready().await;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let mut request = self.http.request(method.clone(), url.clone()).header(
                reqwest::header::AUTHORIZATION,
                format!("App {}", self.key.expose()),
            );
            if let Some(body) = body {
                request = request.json(body);
            }
            let sent = request.send().await;
            let failure = match sent {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    match resp.bytes().await {
                        Ok(body) if status.is_success() => {
                            if body.is_empty() {
                                return Ok(Value::Null);
                            }
                            return serde_json::from_slice(&body).map_err(|e| {
                                LeafLinkError::BadAnswer {
                                    what: what.into(),
                                    message: e.to_string(),
                                }
                            });
                        }
                        Ok(body) => {
                            let message = message_of(&body);
                            match status {
                                StatusCode::TOO_MANY_REQUESTS => {
                                    let wait = retry_after
                                        .map(Duration::from_secs)
                                        .unwrap_or(backoff)
                                        .min(Duration::from_secs(60));
                                    tokio::time::sleep(wait).await;
                                    backoff = (backoff * 2).min(Duration::from_secs(30));
                                    if tries < TRIES * 3 {
                                        continue;
                                    }
                                    LeafLinkError::Server {
                                        what: what.into(),
                                        status: 429,
                                        message,
                                        tries,
                                    }
                                }
                                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                                    return Err(LeafLinkError::Key {
                                        status: status.as_u16(),
                                        message,
                                    });
                                }
                                s if s.is_server_error() => LeafLinkError::Server {
                                    what: what.into(),
                                    status: s.as_u16(),
                                    message,
                                    tries,
                                },
                                s => {
                                    return Err(LeafLinkError::Refused {
                                        what: what.into(),
                                        status: s.as_u16(),
                                        message,
                                    });
                                }
                            }
                        }
                        Err(e) if e.is_timeout() => LeafLinkError::Timeout {
                            what: what.into(),
                            seconds: self.timeout.as_secs(),
                            tries,
                        },
                        Err(e) => network(&url, &e),
                    }
                }
                Err(e) if e.is_timeout() => LeafLinkError::Timeout {
                    what: what.into(),
                    seconds: self.timeout.as_secs(),
                    tries,
                },
                // Refused before anything was sent: a write may go again too.
                Err(e) if e.is_connect() && !read && tries < TRIES => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
                Err(e) => network(&url, &e),
            };
            if !read || tries >= TRIES {
                return Err(failure);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }
}

fn network(url: &Url, e: &reqwest::Error) -> LeafLinkError {
    let mut url = url.clone();
    url.set_query(None);
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message = s.to_string();
        source = s.source();
    }
    LeafLinkError::Network {
        url: url.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaflink_s_words_in_every_error_shape() {
        for (body, want) in [
            (
                &br#"{"detail": "Authentication credentials were not provided."}"#[..],
                "Authentication credentials were not provided.",
            ),
            (
                br#"{"is_packed": ["Must be a valid boolean."]}"#,
                "is_packed: Must be a valid boolean.",
            ),
            (br#"{"errors": [{"detail": "Not found."}]}"#, "Not found."),
            (b"<h1>Bad Request</h1>", "<h1>Bad Request</h1>"),
            (b"", "no message"),
        ] {
            assert_eq!(message_of(body), want);
        }
    }
}

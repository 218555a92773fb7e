//! The one client of Apex Trading's API: `Authorization: Bearer TOKEN` and `Accept:
//! application/json` on every request (without it Apex answers HTML), one rate limiter
//! a second shared by every clone (`max_requests_per_second`, under Apex's 15 a
//! token), a 429 that pauses every clone for `Retry-After` (else a backoff), 5xx,
//! timeouts and unreachable hosts retried for reads, a 401 or 403 answered at once
//! with what to do. A status write ([`Client::put_status`]) is not retried where it may
//! have reached Apex: the caller's durable queue decides. The token is sent, never
//! shown.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::{ApexSettings, Secret};
use crate::domain::writeback::ApexOrderState;
use crate::import::apex::{int, state_of};

use super::error::looks_like_html;
pub use super::error::{ApexError, message_of};

/// Tries of a read (a 429 counts three times as many).
const TRIES: u32 = 5;

/// One status of a deal flow (`OrderStatusResource`, B2B-API.md §8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApexStatus {
    pub id: i64,
    pub name: String,
    pub position: i64,
    /// Its fixed parent: Submitted, Accepted, Pending Shipment, In Transit,
    /// Delivered or Complete.
    pub parent: Option<String>,
    pub archived: bool,
}

/// The status to PUT for `parent`, as Apex says to choose it: the deal flow's
/// statuses under that parent, not archived, the lowest `position` first.
pub fn first_status_of(statuses: &[ApexStatus], parent: &str) -> Option<i64> {
    statuses
        .iter()
        .filter(|s| !s.archived)
        .filter(|s| {
            s.parent
                .as_deref()
                .is_some_and(|p| p.trim().eq_ignore_ascii_case(parent.trim()))
        })
        .min_by_key(|s| (s.position, s.id))
        .map(|s| s.id)
}

/// What `GET /v1/welcome` says of the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Welcome {
    pub name: String,
    pub abilities: Vec<String>,
}

/// The client, cheap to clone; clones share the limiter and a 429's pause.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Secret,
    timeout: Duration,
    limiter: Arc<DefaultDirectRateLimiter>,
    /// Until when every call waits (after a 429).
    paused_until: Arc<Mutex<Option<Instant>>>,
    requests: Arc<AtomicU64>,
}

/// How one exchange ended, before the retry policy decides.
enum Exchange {
    Ok(Value),
    Failed {
        error: ApexError,
        /// Another try may help, and cannot do harm for this method.
        again: bool,
        retry_after: Option<Duration>,
    },
}

impl Client {
    pub fn new(s: &ApexSettings) -> Result<Client, ApexError> {
        let base = s.base_url.trim();
        if base.is_empty() {
            return Err(ApexError::NotConfigured(
                "set [apex] base_url (https://app.apextrading.com/api)".into(),
            ));
        }
        if !s.token.is_set() {
            return Err(ApexError::NotConfigured(
                "set [apex] token (or TAGTALLY_APEX__TOKEN)".into(),
            ));
        }
        let mut base = Url::parse(base).map_err(|e| {
            ApexError::NotConfigured(format!("[apex] base_url {base:?} is not a URL: {e}"))
        })?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let timeout = Duration::from_secs(s.timeout_seconds.max(1));
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent("tagtally")
            .build()
            .map_err(|e| ApexError::NotConfigured(format!("cannot make an HTTP client: {e}")))?;
        let per_second = NonZeroU32::new(s.max_requests_per_second.clamp(1, 15)).expect("above 0");
        Ok(Client {
            http,
            base,
            token: s.token.clone(),
            timeout,
            limiter: Arc::new(RateLimiter::direct(Quota::per_second(per_second))),
            paused_until: Arc::new(Mutex::new(None)),
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Requests sent so far (retries counted), by this client and its clones.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The URL of `path` (relative to the API root, e.g. `v1/shipping-orders`) with
    /// `query`.
    pub fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, ApexError> {
        let mut url = self
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| ApexError::NotConfigured(e.to_string()))?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    /// GET `url` (a `links.next` is followed verbatim) as JSON, retried while
    /// retrying can help.
    pub async fn get_json(&self, url: Url, what: &str) -> Result<Value, ApexError> {
        self.call(Method::GET, url, None, what, true).await
    }

    /// `GET /v1/welcome`: the token's name and abilities (B2B-API.md §7).
    pub async fn welcome(&self) -> Result<Welcome, ApexError> {
        let v = self
            .get_json(self.url("v1/welcome", &[])?, "the welcome")
            .await?;
        let abilities = match v.get("access") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(Value::Object(o)) => o.keys().cloned().collect(),
            Some(Value::String(s)) => s.split(',').map(|a| a.trim().to_string()).collect(),
            _ => vec![],
        };
        Ok(Welcome {
            name: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            abilities,
        })
    }

    /// `GET /v1/shipping-orders/{id}`: where the order stands, and its deal flow.
    pub async fn order(&self, id: i64) -> Result<(ApexOrderState, Option<i64>), ApexError> {
        let what = format!("shipping order {id}");
        let v = self
            .get_json(self.url(&format!("v1/shipping-orders/{id}"), &[])?, &what)
            .await?;
        order_state(&v, &what)
    }

    /// `GET /v1/deal-flows/{id}` (with its statuses): every status of the deal flow.
    pub async fn deal_flow_statuses(
        &self,
        deal_flow_id: i64,
    ) -> Result<Vec<ApexStatus>, ApexError> {
        let what = format!("deal flow {deal_flow_id}");
        let v = self
            .get_json(
                self.url(
                    &format!("v1/deal-flows/{deal_flow_id}"),
                    &[("with_order_statuses", "true".into())],
                )?,
                &what,
            )
            .await?;
        let flow = v.get("dealflow").or(v.get("deal_flow")).unwrap_or(&v);
        let Some(Value::Array(statuses)) = flow.get("order_statuses") else {
            return Err(ApexError::BadAnswer {
                what,
                message: "no `order_statuses` list".into(),
            });
        };
        statuses
            .iter()
            .map(|s| {
                let id = s
                    .get("id")
                    .and_then(int)
                    .ok_or_else(|| ApexError::BadAnswer {
                        what: what.clone(),
                        message: "a status without an `id`".into(),
                    })?;
                Ok(ApexStatus {
                    id,
                    name: s
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    position: s.get("position").and_then(int).unwrap_or(i64::MAX),
                    parent: s
                        .get("parent_status")
                        .and_then(|p| p.get("name").or(Some(p)))
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    archived: s.get("archived").and_then(Value::as_bool).unwrap_or(false),
                })
            })
            .collect()
    }

    /// `PUT /v1/shipping-orders/{id}` `{"order_status_id": n}`: the order as Apex
    /// answers it. Tried again only where it cannot have reached Apex (a 429, a
    /// connection refused); a 5xx or a timeout is the caller's to decide
    /// ([`ApexError::uncertain`]).
    pub async fn put_status(&self, id: i64, status_id: i64) -> Result<ApexOrderState, ApexError> {
        let what = format!("the status of shipping order {id}");
        let v = self
            .call(
                Method::PUT,
                self.url(&format!("v1/shipping-orders/{id}"), &[])?,
                Some(json!({"order_status_id": status_id})),
                &what,
                false,
            )
            .await?;
        order_state(&v, &what).map(|(s, _)| s)
    }

    /// One request with the retry policy: `idempotent` retries 5xx, timeouts and
    /// broken connections too.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
        what: &str,
        idempotent: bool,
    ) -> Result<Value, ApexError> {
        let mut backoff = Duration::from_millis(250);
        let mut tries = 0;
        loop {
            tries += 1;
            self.wait_turn().await;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let exchange = self
                .exchange(method.clone(), &url, body.as_ref(), what, tries, idempotent)
                .await;
            let (error, again, retry_after) = match exchange {
                Exchange::Ok(v) => return Ok(v),
                Exchange::Failed {
                    error,
                    again,
                    retry_after,
                } => (error, again, retry_after),
            };
            let limit = if error.status() == Some(429) {
                TRIES * 3
            } else {
                TRIES
            };
            if !again || tries >= limit {
                return Err(error);
            }
            let wait = retry_after.unwrap_or(backoff).min(Duration::from_secs(60));
            if error.status() == Some(429) {
                let until = Instant::now() + wait;
                let mut p = self.paused_until.lock().expect("lock");
                *p = Some(p.map_or(until, |q| q.max(until)));
            }
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }

    /// The limiter's turn, after any pause a 429 set.
    async fn wait_turn(&self) {
        let until = *self.paused_until.lock().expect("lock");
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
        self.limiter.until_ready().await;
    }

    async fn exchange(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        what: &str,
        tries: u32,
        idempotent: bool,
    ) -> Exchange {
        let mut req = self
            .http
            .request(method, url.clone())
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let failed = |error: ApexError, again: bool| Exchange::Failed {
            error,
            again,
            retry_after: None,
        };
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                // A connect error never sent the request: safe to try again.
                let sent = !e.is_connect();
                let error = if e.is_timeout() {
                    ApexError::Timeout {
                        what: what.into(),
                        seconds: self.timeout.as_secs(),
                        tries,
                        sent,
                    }
                } else {
                    network(url, &e, sent)
                };
                return failed(error, idempotent || !sent);
            }
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let html = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.contains("text/html"));
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) if e.is_timeout() => {
                let error = ApexError::Timeout {
                    what: what.into(),
                    seconds: self.timeout.as_secs(),
                    tries,
                    sent: true,
                };
                return failed(error, idempotent);
            }
            Err(e) => return failed(network(url, &e, true), idempotent),
        };
        if (html || looks_like_html(&bytes)) && status != StatusCode::TOO_MANY_REQUESTS {
            return failed(
                ApexError::NotJson {
                    what: what.into(),
                    status: status.as_u16(),
                },
                false,
            );
        }
        if status.is_success() {
            return match serde_json::from_slice(&bytes) {
                Ok(v) => Exchange::Ok(v),
                Err(e) => failed(
                    ApexError::BadAnswer {
                        what: what.into(),
                        message: format!("not JSON: {e}"),
                    },
                    false,
                ),
            };
        }
        let message = message_of(&bytes);
        match status {
            StatusCode::TOO_MANY_REQUESTS => Exchange::Failed {
                error: ApexError::Server {
                    what: what.into(),
                    status: 429,
                    message,
                    tries,
                },
                again: true,
                retry_after,
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => failed(
                ApexError::Key {
                    status: status.as_u16(),
                    message,
                },
                false,
            ),
            s if s.is_server_error() => failed(
                ApexError::Server {
                    what: what.into(),
                    status: s.as_u16(),
                    message,
                    tries,
                },
                idempotent,
            ),
            s => failed(
                ApexError::Refused {
                    what: what.into(),
                    status: s.as_u16(),
                    message,
                },
                false,
            ),
        }
    }
}

/// `{"order": {...}}` (or the bare order): its state and deal flow.
fn order_state(v: &Value, what: &str) -> Result<(ApexOrderState, Option<i64>), ApexError> {
    let order = v.get("order").unwrap_or(v);
    let state = state_of(order).map_err(|message| ApexError::BadAnswer {
        what: what.into(),
        message,
    })?;
    Ok((state, order.get("deal_flow_id").and_then(int)))
}

fn network(url: &Url, e: &reqwest::Error, sent: bool) -> ApexError {
    let mut url = url.clone();
    url.set_query(None);
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message = s.to_string();
        source = s.source();
    }
    ApexError::Network {
        url: url.to_string(),
        message,
        sent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_to_put_is_the_first_unarchived_under_its_parent() {
        let s = |id, position, parent: &str, archived| ApexStatus {
            id,
            name: format!("s{id}"),
            position,
            parent: Some(parent.into()),
            archived,
        };
        let flow = [
            s(301, 2, "Accepted", false),
            s(310, 3, "Pending Shipment", true),
            s(312, 5, "Pending Shipment", false),
            s(311, 4, "pending shipment", false),
            s(320, 6, "In Transit", false),
        ];
        assert_eq!(first_status_of(&flow, "Pending Shipment"), Some(311));
        assert_eq!(first_status_of(&flow, "In Transit"), Some(320));
        assert_eq!(first_status_of(&flow, "Delivered"), None);
    }
}

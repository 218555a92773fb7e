//! The one client of Metrc: HTTP Basic (vendor key : user key), one rate limiter
//! and one cap on requests in flight shared by every call, a 429 that pauses every
//! call (for `Retry-After`, else a jittered backoff), 5xx, timeouts and unreachable
//! hosts retried with backoff, 4xx answered at once in Metrc's own words. The keys
//! are sent and never shown.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use tokio::sync::{Mutex, Semaphore};

use super::plan::{self, MetrcError, Window};
use crate::config::{MetrcSettings, Secret};

/// Tries of one GET before a retryable failure is reported.
const TRIES: u32 = 5;
/// 429s one GET sits out before it gives up.
const THROTTLED: u32 = 12;

/// The client, cheap to clone (everything shared).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    license: String,
    vendor: Secret,
    user: Secret,
    timeout: Duration,
    shared: Arc<Shared>,
}

struct Shared {
    limiter: DefaultDirectRateLimiter,
    in_flight: Semaphore,
    /// No call starts before this (a 429 pauses them all).
    paused_until: Mutex<Option<Instant>>,
    requests: AtomicU64,
}

/// One facility the keys reach (`GET /facilities/v2`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Facility {
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub license: FacilityLicense,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FacilityLicense {
    pub number: String,
    #[serde(default)]
    pub license_type: Option<String>,
}

/// How a request may be tried again ([`Client::send`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Retry {
    /// A read: every retryable failure is tried again.
    Read,
    /// A write: only when Metrc cannot have acted on it.
    Write,
}

/// A successful answer as Metrc sent it.
pub(super) struct Answer {
    pub body: Vec<u8>,
    pub status: StatusCode,
    pub content_type: Option<String>,
}

/// One page of a package list: the bytes as Metrc sent them (the package parser
/// reads them) and where the paging stands.
pub struct Page {
    pub body: Vec<u8>,
    pub page: u32,
    pub total_pages: u32,
    /// `TotalRecords`: if it moves between the pages of one list, the list changed
    /// while it was read.
    pub total_records: Option<u64>,
}

impl Client {
    /// The client of `[metrc]`; refused when the connection is not set up.
    pub fn new(s: &MetrcSettings) -> Result<Client, MetrcError> {
        let base = s.base_url.trim();
        if base.is_empty() {
            return Err(MetrcError::NotConfigured(
                "set [metrc] base_url (e.g. https://api-ca.metrc.com)".into(),
            ));
        }
        if s.license_number.trim().is_empty() {
            return Err(MetrcError::NotConfigured(
                "set [metrc] license_number (the facility's license)".into(),
            ));
        }
        if !s.vendor_key.is_set() || !s.user_key.is_set() {
            return Err(MetrcError::NotConfigured(
                "set [metrc] vendor_key and user_key (or TAGTALLY_METRC__VENDOR_KEY and TAGTALLY_METRC__USER_KEY)"
                    .into(),
            ));
        }
        let mut base = Url::parse(base).map_err(|e| {
            MetrcError::NotConfigured(format!("[metrc] base_url {base:?} is not a URL: {e}"))
        })?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let timeout = Duration::from_secs(s.timeout_seconds.max(1));
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| MetrcError::NotConfigured(format!("cannot make an HTTP client: {e}")))?;
        let per_second = NonZeroU32::new(s.max_requests_per_second.clamp(1, 50)).expect("above 0");
        // No burst beyond the per-second figure: a one-second window never holds more.
        let limiter = RateLimiter::direct(
            Quota::per_second(per_second).allow_burst(NonZeroU32::new(1).expect("above 0")),
        );
        Ok(Client {
            http,
            base,
            license: s.license_number.trim().to_string(),
            vendor: s.vendor_key.clone(),
            user: s.user_key.clone(),
            timeout,
            shared: Arc::new(Shared {
                limiter,
                in_flight: Semaphore::new(s.max_concurrent.clamp(1, 10) as usize),
                paused_until: Mutex::new(None),
                requests: AtomicU64::new(0),
            }),
        })
    }

    pub fn license(&self) -> &str {
        &self.license
    }

    /// Requests sent so far (retries counted).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// The facilities the keys reach: the call that proves them.
    pub async fn facilities(&self) -> Result<Vec<Facility>, MetrcError> {
        let (body, _) = self
            .get("facilities/v2", &[], "the facilities list", None)
            .await?;
        serde_json::from_slice(&body).map_err(|e| MetrcError::BadAnswer {
            what: "the facilities list".into(),
            message: e.to_string(),
        })
    }

    /// Page `page` of package list `list` (active, onhold, inactive) in `window`.
    pub async fn packages_page(
        &self,
        list: &str,
        window: &Window,
        page: u32,
    ) -> Result<Page, MetrcError> {
        let what = format!("page {page} of the {list} packages");
        let [start, end] = window.query();
        let query = [
            ("licenseNumber", self.license.clone()),
            start,
            end,
            ("pageNumber", page.to_string()),
            ("pageSize", plan::PAGE_SIZE.to_string()),
        ];
        let license = self.license.clone();
        let (body, _) = self
            .get(
                &format!("packages/v2/{list}"),
                &query,
                &what,
                Some(&license),
            )
            .await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Envelope {
            #[serde(default)]
            total_pages: Option<u32>,
            #[serde(default)]
            total_records: Option<u64>,
            #[serde(default)]
            total: Option<u64>,
            #[serde(default)]
            page_size: Option<u64>,
            #[serde(default)]
            records_on_page: Option<u64>,
            #[serde(default)]
            page: Option<u32>,
            #[serde(default)]
            current_page: Option<u32>,
        }
        let env: Envelope = serde_json::from_slice(&body).map_err(|e| MetrcError::BadAnswer {
            what: what.clone(),
            message: e.to_string(),
        })?;
        let records = env.total_records.or(env.total);
        // Without TotalPages: from the records and the page size; failing those, one
        // more page while this one is full.
        let total_pages = match (env.total_pages, records, env.page_size) {
            (Some(t), _, _) => t,
            (None, Some(r), Some(s)) if s > 0 => r.div_ceil(s) as u32,
            _ if env.records_on_page == Some(u64::from(plan::PAGE_SIZE)) => page + 1,
            _ => page,
        };
        Ok(Page {
            page: env.current_page.or(env.page).unwrap_or(page),
            total_pages,
            total_records: records,
            body,
        })
    }

    /// Page `page` of the lab results of the package with Metrc `Id` `package_id`
    /// (`/labtests/v2/results`, [`plan::PAGE_SIZE`] rows a page): the bytes as sent
    /// ([`super::lab::results_page`] reads them).
    pub async fn lab_results(&self, package_id: i64, page: u32) -> Result<Vec<u8>, MetrcError> {
        let query = [
            ("packageId", package_id.to_string()),
            ("licenseNumber", self.license.clone()),
            ("pageNumber", page.to_string()),
            ("pageSize", plan::PAGE_SIZE.to_string()),
        ];
        let license = self.license.clone();
        let what = format!("page {page} of the lab results of package Id {package_id}");
        let (body, _) = self
            .get("labtests/v2/results", &query, &what, Some(&license))
            .await?;
        Ok(body)
    }

    /// COA document `id` (`/labtests/v2/labtestdocument/{id}`): its Content-Type and
    /// bytes as sent ([`super::lab::read_document`] reads them).
    pub async fn lab_document(&self, id: i64) -> Result<(Option<String>, Vec<u8>), MetrcError> {
        let query = [("licenseNumber", self.license.clone())];
        let license = self.license.clone();
        let a = self
            .fetch(
                &format!("labtests/v2/labtestdocument/{id}"),
                &query,
                &format!("COA document {id}"),
                Some(&license),
            )
            .await?;
        Ok((a.content_type, a.body))
    }

    /// One GET under the shared limits, retried while retrying can help.
    pub(super) async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        what: &str,
        license: Option<&str>,
    ) -> Result<(Vec<u8>, StatusCode), MetrcError> {
        let a = self
            .send(
                reqwest::Method::GET,
                path,
                query,
                None,
                what,
                license,
                Retry::Read,
            )
            .await?;
        Ok((a.body, a.status))
    }

    /// [`Client::get`], with the answer's Content-Type.
    async fn fetch(
        &self,
        path: &str,
        query: &[(&str, String)],
        what: &str,
        license: Option<&str>,
    ) -> Result<Answer, MetrcError> {
        self.send(
            reqwest::Method::GET,
            path,
            query,
            None,
            what,
            license,
            Retry::Read,
        )
        .await
    }

    /// One request under the shared limits: every call to Metrc goes through here.
    /// A read is retried while retrying can help; a write only when Metrc cannot
    /// have acted on it (a 429, a connection never made): a 5xx or a timeout may
    /// have been stored, so it is answered as it is and the caller looks before it
    /// writes again.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        what: &str,
        license: Option<&str>,
        retry: Retry,
    ) -> Result<Answer, MetrcError> {
        let mut url = self
            .base
            .join(path)
            .map_err(|e| MetrcError::NotConfigured(e.to_string()))?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut backoff = Duration::from_millis(250);
        let mut tries = 0;
        let mut throttled = 0;
        loop {
            tries += 1;
            self.wait_for_pause().await;
            let slot = self
                .shared
                .in_flight
                .acquire()
                .await
                .expect("the semaphore is never closed");
            self.shared.limiter.until_ready().await;
            self.shared.requests.fetch_add(1, Ordering::Relaxed);
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .basic_auth(self.vendor.expose(), Some(self.user.expose()));
            if let Some(b) = body {
                request = request.json(b);
            }
            let sent = request.send().await;
            // Whether Metrc can have acted on this request.
            let mut reached = true;
            let failure = match sent {
                Ok(resp) => {
                    let status = resp.status();
                    let content_type = resp
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let retry_header = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    match resp.bytes().await {
                        Err(e) if e.is_timeout() => self.timed_out(what, tries),
                        Err(e) => self.unreachable(&url, &e),
                        Ok(body) if status.is_success() => {
                            return Ok(Answer {
                                body: body.to_vec(),
                                status,
                                content_type,
                            });
                        }
                        Ok(body) => {
                            let body = body.to_vec();
                            if status == StatusCode::TOO_MANY_REQUESTS {
                                // Every call waits, not only this one.
                                let wait =
                                    plan::retry_after(retry_header.as_deref(), jitter(backoff));
                                self.pause_all(wait).await;
                                backoff = (backoff * 2).min(Duration::from_secs(30));
                                // A throttled try is not a failed one.
                                tries -= 1;
                                throttled += 1;
                                if throttled < THROTTLED {
                                    continue;
                                }
                                return Err(MetrcError::Server {
                                    status: 429,
                                    message: plan::message_of(content_type.as_deref(), &body),
                                    tries: tries + throttled,
                                });
                            }
                            let e = plan::classify(
                                what,
                                status.as_u16(),
                                content_type.as_deref(),
                                &body,
                                license,
                            );
                            match e {
                                MetrcError::Server {
                                    status, message, ..
                                } => MetrcError::Server {
                                    status,
                                    message,
                                    tries,
                                },
                                other => return Err(other),
                            }
                        }
                    }
                }
                Err(e) if e.is_timeout() => self.timed_out(what, tries),
                Err(e) => {
                    reached = !e.is_connect();
                    self.unreachable(&url, &e)
                }
            };
            // Nobody else's slot is held while this one waits.
            drop(slot);
            let again = match retry {
                Retry::Read => failure.is_retryable(),
                Retry::Write => !reached,
            };
            if tries >= TRIES || !again {
                return Err(failure);
            }
            tokio::time::sleep(jitter(backoff)).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }

    fn timed_out(&self, what: &str, tries: u32) -> MetrcError {
        MetrcError::Timeout {
            what: what.to_string(),
            seconds: self.timeout.as_secs(),
            tries,
        }
    }

    fn unreachable(&self, url: &Url, e: &reqwest::Error) -> MetrcError {
        let mut url = url.clone();
        url.set_query(None);
        // The innermost causes say what happened (refused, no route, DNS); the URL
        // (with the query) is left out.
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            causes.push(s.to_string());
            source = s.source();
        }
        let message = causes
            .last()
            .cloned()
            .unwrap_or_else(|| "no answer".to_string());
        MetrcError::Network {
            url: url.to_string(),
            message,
        }
    }

    async fn wait_for_pause(&self) {
        loop {
            let until = *self.shared.paused_until.lock().await;
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t.into()).await,
                _ => return,
            }
        }
    }

    async fn pause_all(&self, wait: Duration) {
        let mut p = self.shared.paused_until.lock().await;
        let until = Instant::now() + wait;
        if p.is_none_or(|t| t < until) {
            *p = Some(until);
        }
        tracing::warn!(
            seconds = wait.as_secs_f64(),
            "Metrc answered 429: every call waits"
        );
    }
}

/// A delay of `d` give or take a quarter, so clients that failed together do not
/// retry together (the clock's microseconds and a counter, mixed: enough spread for
/// a backoff, no randomness needed).
fn jitter(d: Duration) -> Duration {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.as_micros() as u64)
        .unwrap_or(0);
    let mut x = micros
        ^ CALLS
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    let f = 0.75 + (x % 1000) as f64 / 2000.0;
    d.mul_f64(f)
}

//! The device's side of sync: the only code that makes HTTP calls to the hub.
//!
//! Offline first. The pick path never waits for the network: it appends its events to
//! the local store and answers. Sync ships them later: [`sync_once`] pushes this
//! device's unacknowledged events (the outbox) per order, oldest first, records the
//! hub's acknowledgements, takes in other devices' picks of the same orders (so a
//! second scan of a tag picked elsewhere gets `already_scanned`), and pulls the open
//! orders and changed package facts. [`Background`] runs it beside a pick session,
//! backing off with jitter ([`Backoff`]) while the hub is away.
//!
//! A push is idempotent by (device, seq), so a resend after a timeout or a crash never
//! doubles a pick; errors are classified retryable (hub away, busy) or permanent
//! (revoked, refused), see [`SyncError::is_retryable`].

mod background;
pub mod cli;

pub use background::{Background, Backoff, LoopOptions, SyncHealth};

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::Event;
use crate::domain::merge::MergedOrder;
use crate::hub::api::{
    ErrorBody, Feed, JoinRequest, JoinResponse, OrderRow, PushRequest, PushResponse, Snapshot,
};
use crate::store::{Store, StoreError};

/// `meta` keys a joined device keeps.
pub const META_HUB_URL: &str = "hub_url";
pub const META_HUB_TOKEN: &str = "hub_token";
/// A PEM certificate to trust for the hub (a site's own CA or a self-signed hub).
pub const META_HUB_CA: &str = "hub_ca";
const META_PACKAGES_CURSOR: &str = "hub_packages_cursor";

/// Events sent in one push (the hub takes at most [`crate::hub::api::MAX_PUSH_EVENTS`]).
pub const PUSH_BATCH: usize = 1000;

/// Why a sync did not complete, said so a person can act on it.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("this device has not joined a hub: run `tagtally device join URL TOKEN`")]
    NotJoined,
    #[error("bad hub URL {url:?}: {message}")]
    BadUrl { url: String, message: String },
    #[error("hub {url} unreachable ({message}); events stay queued here and are retried")]
    Unreachable { url: String, message: String },
    #[error("the hub refused this device ({error}: {message}); ask a supervisor to enrol it again")]
    Auth {
        status: u16,
        error: String,
        message: String,
    },
    #[error("the hub refused it ({status} {error}): {message}")]
    Refused {
        status: u16,
        error: String,
        message: String,
    },
    #[error("the hub failed ({status} {error}): {message}; retrying")]
    Server {
        status: u16,
        error: String,
        message: String,
    },
    #[error("the hub sent a reply tagtally cannot read: {0}")]
    Protocol(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Worth retrying later without a person doing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SyncError::Unreachable { .. }
                | SyncError::Server { .. }
                | SyncError::Store(StoreError::Locked { .. })
        )
    }
}

/// A client of one hub, with this device's token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: String,
}

impl Client {
    /// `timeout` bounds each request (a live stream is not bounded).
    pub fn new(url: &str, token: &str, timeout: Duration) -> Result<Client, SyncError> {
        Client::with_ca(url, token, timeout, None)
    }

    /// As [`Client::new`], also trusting the PEM certificate(s) `ca` for https.
    pub fn with_ca(
        url: &str,
        token: &str,
        timeout: Duration,
        ca: Option<&str>,
    ) -> Result<Client, SyncError> {
        let bad = |message: String| SyncError::BadUrl {
            url: url.to_string(),
            message,
        };
        let base = Url::parse(url.trim()).map_err(|e| bad(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(bad("use http://HOST:PORT or https://HOST:PORT".into()));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .read_timeout(timeout);
        if let Some(pem) = ca {
            for cert in reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| bad(format!("the hub certificate to trust: {e}")))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| bad(e.to_string()))?;
        Ok(Client {
            http,
            base,
            token: token.trim().to_string(),
        })
    }

    /// A client for the hub this device joined.
    pub fn joined(store: &Store, timeout: Duration) -> Result<Client, SyncError> {
        let url = store.meta(META_HUB_URL)?.ok_or(SyncError::NotJoined)?;
        let token = store.meta(META_HUB_TOKEN)?.ok_or(SyncError::NotJoined)?;
        let ca = store.meta(META_HUB_CA)?;
        Client::with_ca(&url, &token, timeout, ca.as_deref())
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut u = self.base.clone();
        {
            let mut p = u.path_segments_mut().expect("checked: can be a base");
            p.pop_if_empty();
            p.extend(segments);
        }
        u
    }

    fn unreachable(&self, e: reqwest::Error) -> SyncError {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message = format!("{message}: {s}");
            source = s.source();
        }
        SyncError::Unreachable {
            url: self.base.to_string(),
            message,
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&impl Serialize>,
    ) -> Result<T, SyncError> {
        let mut req = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| SyncError::Protocol(e.to_string()));
        }
        let (error, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(b) => (b.error, b.message),
            Err(_) => (
                status.canonical_reason().unwrap_or("error").to_string(),
                String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            ),
        };
        let status_u16 = status.as_u16();
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => SyncError::Auth {
                status: status_u16,
                error,
                message,
            },
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => SyncError::Server {
                status: status_u16,
                error,
                message,
            },
            _ => SyncError::Refused {
                status: status_u16,
                error,
                message,
            },
        })
    }

    pub async fn join(&self, device_id: &str) -> Result<JoinResponse, SyncError> {
        let body = JoinRequest {
            device_id: device_id.to_string(),
        };
        self.call(Method::POST, self.url(&["devices", "join"]), Some(&body))
            .await
    }

    pub async fn snapshot(&self, packages_since: &str) -> Result<Snapshot, SyncError> {
        let mut url = self.url(&["sync", "snapshot"]);
        url.query_pairs_mut()
            .append_pair("packages_since", packages_since);
        self.call(Method::GET, url, None::<&()>).await
    }

    pub async fn orders(&self) -> Result<Vec<OrderRow>, SyncError> {
        self.call(Method::GET, self.url(&["orders"]), None::<&()>)
            .await
    }

    /// The order's merged state on the hub.
    pub async fn order(&self, order: &str) -> Result<MergedOrder, SyncError> {
        self.call(Method::GET, self.url(&["orders", order]), None::<&()>)
            .await
    }

    pub async fn push(
        &self,
        order: &str,
        events: &[Event],
        attachments: &[crate::store::Attachment],
        since: i64,
    ) -> Result<PushResponse, SyncError> {
        let body = PushRequest {
            events: events.to_vec(),
            since,
            attachments: attachments
                .iter()
                .map(crate::hub::api::WireAttachment::encode)
                .collect(),
        };
        self.call(
            Method::POST,
            self.url(&["orders", order, "events"]),
            Some(&body),
        )
        .await
    }

    /// Events of `order` after hub event `since`; with `mine`, this device's own
    /// too (a reinstalled device restoring them).
    pub async fn feed(&self, order: &str, since: i64, mine: bool) -> Result<Feed, SyncError> {
        let mut url = self.url(&["orders", order, "events"]);
        url.query_pairs_mut()
            .append_pair("since", &since.to_string());
        if mine {
            url.query_pairs_mut().append_pair("mine", "true");
        }
        self.call(Method::GET, url, None::<&()>).await
    }

    /// Follow an order's merged state as the hub streams it (server-sent events).
    pub async fn live(&self, order: &str) -> Result<Live, SyncError> {
        let resp = self
            .http
            .get(self.url(&["orders", order, "live"]))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            let body: ErrorBody = resp
                .json()
                .await
                .map_err(|e| SyncError::Protocol(e.to_string()))?;
            return Err(SyncError::Refused {
                status,
                error: body.error,
                message: body.message,
            });
        }
        Ok(Live {
            resp,
            buf: String::new(),
            url: self.base.to_string(),
        })
    }
}

/// An order's live stream: each [`Live::next`] is the merged state after a change.
pub struct Live {
    resp: reqwest::Response,
    buf: String,
    url: String,
}

impl Live {
    /// The next merged state; `None` when the hub ends the stream.
    pub async fn next(&mut self) -> Result<Option<MergedOrder>, SyncError> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let data: Vec<&str> = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(|d| d.strip_prefix(' ').unwrap_or(d))
                    .collect();
                if data.is_empty() {
                    continue; // keep-alive comment
                }
                return serde_json::from_str(&data.join("\n"))
                    .map(Some)
                    .map_err(|e| SyncError::Protocol(e.to_string()));
            }
            match self.resp.chunk().await {
                Ok(Some(c)) => self.buf.push_str(&String::from_utf8_lossy(&c)),
                Ok(None) => return Ok(None),
                Err(e) => {
                    return Err(SyncError::Unreachable {
                        url: self.url.clone(),
                        message: e.to_string(),
                    });
                }
            }
        }
    }
}

/// What one sync did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SyncReport {
    /// Events the hub stored from this push.
    pub pushed: usize,
    /// Events the hub already held (resends).
    pub duplicates: usize,
    /// Other devices' events taken in.
    pub received: usize,
    /// Open orders on the hub.
    pub orders: usize,
    /// Orders that changed here (new, changed or closed by the hub).
    pub orders_changed: usize,
    /// Package facts pulled.
    pub packages: usize,
    /// Orders whose events the hub refused, with why: they stay queued.
    pub refused: Vec<String>,
    /// This device's events the hub took but holds for a supervisor's ruling (their
    /// person may not do them, or they name nobody the hub knows), with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<String>,
    /// This device's events still waiting for the hub.
    pub waiting: i64,
    /// People rows changed from the hub's list.
    pub people: usize,
}

/// Look at the hub (is it the one this device knows?), push the outbox (oldest
/// first, per order), then take in orders, packages and other devices' events.
/// Everything acknowledged is recorded as it comes, so an error part-way keeps what
/// was done.
pub async fn sync_once(store: &mut Store, client: &Client) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport::default();
    let since = store.meta(META_PACKAGES_CURSOR)?.unwrap_or_default();
    let mut snap = client.snapshot(&since).await?;
    // Before pushing (a push would hide it): another hub than before at this address
    // (a new one), or the same one gone back in time (restored from a backup: it
    // holds fewer of this device's events than it acknowledged, or fewer events of an
    // order than this device has read). What this device knew of its log is
    // forgotten; everything is pushed again (the hub keeps what it has once) and
    // pulled from the start.
    let mut rewound = snap
        .your_last_seq
        .is_some_and(|held| held < store.last_acked_seq().unwrap_or(0));
    for o in &snap.orders {
        rewound |= store.sync_cursor(&o.order.number)? > o.last_event;
    }
    if rewound {
        store.forget_hub()?;
    }
    if store.meet_hub(&snap.hub)? || rewound {
        tracing::warn!(
            hub = snap.hub,
            "the hub is not the one this device synced with (new, or restored from a backup): pushing and pulling everything again"
        );
        snap = client.snapshot("").await?;
    }
    push_outbox(store, client, &mut report).await?;
    report.orders = snap.orders.len();
    report.packages = snap.packages.len();
    let orders: Vec<_> = snap.orders.iter().map(|o| o.order.clone()).collect();
    report.orders_changed = store.apply_hub_snapshot(&orders, &snap.packages)?;
    report.people = store.apply_hub_people(&snap.people)?;
    if let Some(register) = &snap.licenses {
        store.apply_hub_register(register)?;
    }
    if snap.packages_cursor != since {
        store.set_meta(&[(META_PACKAGES_CURSOR, &snap.packages_cursor)])?;
    }
    // A reinstalled device reads each order from the start once, its own earlier
    // events included (the push's answer above brought only others').
    let mine = store.lacks_own_events()?;
    for o in &snap.orders {
        let mut cursor = if mine {
            0
        } else {
            store.sync_cursor(&o.order.number)?
        };
        while cursor < o.last_event {
            let feed = client.feed(&o.order.number, cursor, mine).await?;
            report.received += store.record_sync(
                &o.order.number,
                &[],
                &feed.events,
                &feed.decoded_attachments().map_err(SyncError::Protocol)?,
                feed.cursor,
            )?;
            if feed.cursor <= cursor {
                break;
            }
            cursor = feed.cursor;
        }
    }
    if mine {
        store.own_events_restored()?;
    }
    report.waiting = store.outbox_len()?;
    Ok(report)
}

/// Push this device's unacknowledged events, oldest first. An order the hub refuses
/// (unknown there, an altered replay) is reported and skipped; its events stay queued.
pub async fn push_outbox(
    store: &mut Store,
    client: &Client,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let mut skip: Vec<String> = vec![];
    loop {
        let batch = store.outbox(PUSH_BATCH, &skip)?;
        if batch.is_empty() {
            return Ok(());
        }
        let mut groups: Vec<(String, Vec<Event>)> = vec![];
        for e in batch {
            match groups.iter_mut().find(|(o, _)| *o == e.order) {
                Some((_, g)) => g.push(e),
                None => groups.push((e.order.clone(), vec![e])),
            }
        }
        for (order, events) in groups {
            let since = store.sync_cursor(&order)?;
            // The files the events refer to travel with them (the hub refuses an
            // event whose file it does not get).
            let mut attachments = vec![];
            for sha in events.iter().flat_map(|e| e.kind.attachments()) {
                if let Some(a) = store.attachment(sha)? {
                    attachments.push(a);
                }
            }
            match client.push(&order, &events, &attachments, since).await {
                Ok(r) => {
                    report.pushed += r.accepted;
                    report.duplicates += r.duplicates;
                    let me = store.device_id().to_string();
                    report.held.extend(
                        r.held
                            .iter()
                            .map(|h| format!("order {order}: event {me}/{}: {}", h.seq, h.why)),
                    );
                    report.received += store.record_sync(
                        &order,
                        &r.acked,
                        &r.feed.events,
                        &r.feed.decoded_attachments().map_err(SyncError::Protocol)?,
                        r.feed.cursor,
                    )?;
                    if r.acked.len() < events.len() {
                        return Err(SyncError::Protocol(format!(
                            "hub acknowledged {} of {} events of order {order}",
                            r.acked.len(),
                            events.len()
                        )));
                    }
                }
                Err(SyncError::Refused {
                    status,
                    error,
                    message,
                }) => {
                    tracing::warn!(order, status, error, message, "hub refused a push");
                    report
                        .refused
                        .push(format!("order {order}: {message} ({error})"));
                    skip.push(order);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// `tagtally device join URL TOKEN`: check the token with the hub, bind this
/// database's device id to it, and keep URL and token in the database.
pub async fn join(
    store: &mut Store,
    url: &str,
    token: &str,
    ca: Option<&str>,
) -> Result<JoinResponse, SyncError> {
    let client = Client::with_ca(url, token, Duration::from_secs(10), ca)?;
    let r = client.join(store.device_id()).await?;
    // A reinstalled device continues after what the hub holds of it.
    store.raise_seq_floor(r.last_seq)?;
    store.meet_hub(&r.hub)?;
    let base = client.base().to_string();
    let mut meta = vec![
        (META_HUB_URL, base.as_str()),
        (META_HUB_TOKEN, token.trim()),
    ];
    if let Some(ca) = ca {
        meta.push((META_HUB_CA, ca));
    }
    store.set_meta(&meta)?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_jitter_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(2000), 42);
        // (attempt, ceiling): each delay lies in [ceiling/2, ceiling].
        for ceiling in [100, 200, 400, 800, 1600, 2000, 2000, 2000] {
            let d = b.next_delay();
            assert!(
                d >= ms(ceiling / 2) && d <= ms(ceiling),
                "{d:?} not in [{}, {ceiling}] ms",
                ceiling / 2
            );
        }
        b.reset();
        assert!(b.next_delay() <= ms(100));
        // Jitter: two devices with different seeds do not wait in step.
        let mut a = Backoff::new(ms(1000), ms(30_000), 1);
        let mut c = Backoff::new(ms(1000), ms(30_000), 2);
        let same = (0..5).filter(|_| a.next_delay() == c.next_delay()).count();
        assert!(same < 5);
        // Many attempts never overflow.
        let mut big = Backoff::new(ms(250), Duration::from_secs(30), 7);
        for _ in 0..100 {
            assert!(big.next_delay() <= Duration::from_secs(30));
        }
    }

    #[test]
    fn errors_are_classified() {
        let un = SyncError::Unreachable {
            url: "u".into(),
            message: "m".into(),
        };
        assert!(un.is_retryable());
        let auth = SyncError::Auth {
            status: 403,
            error: "revoked".into(),
            message: "m".into(),
        };
        assert!(!auth.is_retryable());
        assert!(!SyncError::NotJoined.is_retryable());
    }
}

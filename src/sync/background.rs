//! Sync beside a station: [`Background`] runs [`super::sync_once`] on its own thread
//! and connection, backing off with jitter ([`Backoff`]) while the hub is away, and
//! reports [`SyncHealth`] for a screen.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::{Client, SyncError, SyncReport, push_outbox, sync_once};
use crate::store::Store;

/// Exponential backoff with equal jitter: attempt n waits between half and all of
/// `min(cap, base * 2^n)`, so devices that lost the hub together do not return in step.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration, seed: u64) -> Backoff {
        Backoff {
            base,
            cap,
            attempt: 0,
            rng: seed | 1,
        }
    }

    /// Seeded from the clock and process id.
    pub fn seeded(base: Duration, cap: Duration) -> Backoff {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        Backoff::new(base, cap, t ^ (u64::from(std::process::id()) << 32))
    }

    /// The wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let half = ceiling / 2;
        let jitter_ns = (half.as_nanos() as u64).max(1);
        half + Duration::from_nanos(r % (jitter_ns + 1))
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

/// How the background sync runs.
#[derive(Clone, Debug)]
pub struct LoopOptions {
    /// Between syncs while the hub answers.
    pub interval: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Per request.
    pub timeout: Duration,
    /// On stop, one last push is tried for at most this long.
    pub final_drain: Duration,
}

impl Default for LoopOptions {
    fn default() -> Self {
        LoopOptions {
            interval: Duration::from_secs(1),
            backoff_base: Duration::from_millis(250),
            backoff_cap: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            final_drain: Duration::from_secs(3),
        }
    }
}

/// What the background sync knows after each round (and each second while it waits
/// to retry), for a screen: online or not, and how many of this device's events the
/// hub does not hold yet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncHealth {
    /// The last round reached the hub.
    pub online: bool,
    /// This device's events the hub has not acknowledged.
    pub waiting: i64,
    /// Other devices' events, orders or package facts the last round took in: a
    /// screen showing an order should read it again.
    pub news: bool,
    /// Why the last round failed (empty when it did not).
    pub problem: String,
}

/// Sync running on its own thread beside a pick session, with its own connection to
/// the device database. The pick path never waits for it.
pub struct Background {
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
    last: Arc<Mutex<Option<SyncReport>>>,
}

impl Background {
    /// Start syncing the database at `db` (already joined). Status lines
    /// ("offline: 12 events wait; retry in 2.1s") go to `status`.
    pub fn start(
        db: PathBuf,
        busy_timeout: Duration,
        device_id: Option<String>,
        options: LoopOptions,
        status: impl Write + Send + 'static,
    ) -> Result<Background, SyncError> {
        Self::start_reporting(db, busy_timeout, device_id, options, status, |_| {})
    }

    /// [`Background::start`], calling `on_health` (on the sync thread) after every
    /// round, and every second while it waits to retry, so a screen always shows
    /// whether the hub is reachable and how many events wait.
    pub fn start_reporting(
        db: PathBuf,
        busy_timeout: Duration,
        device_id: Option<String>,
        options: LoopOptions,
        mut status: impl Write + Send + 'static,
        on_health: impl Fn(&SyncHealth) + Send + 'static,
    ) -> Result<Background, SyncError> {
        let mut store = Store::open(&db, busy_timeout)?;
        if let Some(id) = &device_id {
            store.claim_device_id(id)?;
        }
        let client = Client::joined(&store, options.timeout)?;
        let (stop, mut stopped) = watch::channel(false);
        let last = Arc::new(Mutex::new(None));
        let last2 = last.clone();
        let thread = std::thread::Builder::new()
            .name("tagtally-sync".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a current-thread runtime builds");
                rt.block_on(async {
                    let mut backoff = Backoff::seeded(options.backoff_base, options.backoff_cap);
                    let mut offline = false;
                    loop {
                        let result = tokio::select! {
                            r = sync_once(&mut store, &client) => r,
                            _ = stopped.changed() => break,
                        };
                        let mut health = SyncHealth::default();
                        let wait = match result {
                            Ok(r) => {
                                health = SyncHealth {
                                    online: true,
                                    waiting: r.waiting,
                                    news: r.received > 0
                                        || r.orders_changed > 0
                                        || r.packages > 0
                                        || r.people > 0,
                                    problem: String::new(),
                                };
                                if offline {
                                    let _ = writeln!(status, "[sync] hub reachable again: queue drained ({} waiting)", r.waiting);
                                }
                                for refused in &r.refused {
                                    let _ = writeln!(status, "[sync] refused: {refused}");
                                }
                                offline = false;
                                backoff.reset();
                                *last2.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                                options.interval
                            }
                            Err(e) => {
                                offline = true;
                                let d = backoff.next_delay();
                                let waiting = store.outbox_len().unwrap_or(-1);
                                let _ = writeln!(
                                    status,
                                    "[sync] {}: {e}; {}; retry in {:.1}s",
                                    if e.is_retryable() { "offline" } else { "refused" },
                                    waiting_words(store.outbox_len()),
                                    d.as_secs_f64()
                                );
                                health.waiting = waiting;
                                health.problem = e.to_string();
                                d
                            }
                        };
                        let _ = status.flush();
                        on_health(&health);
                        // Wait, telling the screen each second how many events wait
                        // (the station records meanwhile).
                        let until = tokio::time::Instant::now() + wait;
                        loop {
                            let step = until
                                .saturating_duration_since(tokio::time::Instant::now())
                                .min(Duration::from_secs(1));
                            if step.is_zero() {
                                break;
                            }
                            tokio::select! {
                                _ = tokio::time::sleep(step) => {},
                                _ = stopped.changed() => return finish(&mut store, &client, &options, &mut status).await,
                            }
                            if let Ok(waiting) = store.outbox_len()
                                && waiting != health.waiting
                            {
                                health.waiting = waiting;
                                health.news = false;
                                on_health(&health);
                            }
                        }
                    }
                    finish(&mut store, &client, &options, &mut status).await
                });
            })
            .expect("a thread starts");
        Ok(Background {
            stop,
            thread: Some(thread),
            last,
        })
    }

    /// The report of the last successful sync.
    pub fn last(&self) -> Option<SyncReport> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stop (after one bounded last push) and wait for the thread.
    pub fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One last push, bounded: picks made just before the end reach the hub if it is
/// there; if not they wait in the outbox.
async fn finish(
    store: &mut Store,
    client: &Client,
    options: &LoopOptions,
    status: &mut impl Write,
) {
    let mut report = SyncReport::default();
    let drained =
        tokio::time::timeout(options.final_drain, push_outbox(store, client, &mut report)).await;
    let waiting = store.outbox_len();
    if !matches!(drained, Ok(Ok(()))) || waiting.as_ref().map_or(true, |w| *w > 0) {
        let _ = writeln!(
            status,
            "[sync] stopped: {} for the hub (`tagtally sync` sends them)",
            waiting_words(waiting)
        );
    }
}

/// "1 event waits", "12 events wait", or what could not be counted.
fn waiting_words(n: Result<i64, crate::store::StoreError>) -> String {
    match n {
        Ok(1) => "1 event waits".to_string(),
        Ok(n) => format!("{n} events wait"),
        Err(e) => format!("the events waiting could not be counted ({e})"),
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

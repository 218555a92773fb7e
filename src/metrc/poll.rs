//! The hub's Metrc thread: one thread of its own, with its own connection to the
//! hub's database, that pulls package facts every `poll_seconds` while the hub
//! serves and, with `push_templates`, posts each load it learns was confirmed (every
//! couple of seconds it looks at the queue of writes, and for newly confirmed loads
//! when another connection has written). Its writes are another connection's, so
//! the hub's caches see them (`data_version`) and devices get the changed packages in
//! their next snapshot (the package change counter). Stopped and joined when the hub
//! stops.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::client::Client;
use crate::config::{MetrcSettings, ShipSettings};
use crate::periodic::Periodic;

/// How often the writer looks at the queue.
const WRITER_TICK: Duration = Duration::from_secs(2);
/// How often it looks for newly confirmed loads even when nothing was written.
const RESCAN: Duration = Duration::from_secs(60);

/// The running thread; dropping it stops it (after the pull or post in progress).
pub struct Poller {
    _thread: Periodic,
}

impl Poller {
    /// Start pulling into the database at `path` now and every `poll_seconds` (0: no
    /// pulls), and posting templates when `push_templates`. A failed pull or post is
    /// logged and kept (`metrc status`); the next round tries again.
    pub fn start(
        path: PathBuf,
        busy_timeout: Duration,
        settings: MetrcSettings,
        ship: ShipSettings,
    ) -> Result<Poller, String> {
        let client = Client::new(&settings).map_err(|e| e.to_string())?;
        let pull_every =
            (settings.poll_seconds > 0).then(|| Duration::from_secs(settings.poll_seconds));
        let tick = match pull_every {
            Some(p) if !settings.push_templates => p,
            Some(p) => p.min(WRITER_TICK),
            None => WRITER_TICK,
        };
        let mut next_pull = Instant::now();
        let mut seen_version = None;
        let mut last_scan = Instant::now();
        let thread = Periodic::start("metrc", path, busy_timeout, tick, move |rt, store| {
            if pull_every.is_some() && Instant::now() >= next_pull {
                let now = chrono::Utc::now();
                match rt.block_on(super::pull::pull(store, &client, &settings, false, now)) {
                    Ok(r) if r.packages > 0 => tracing::info!("{}", r.line()),
                    Ok(r) => tracing::debug!("{}", r.line()),
                    Err(e) => tracing::warn!(%e, "Metrc pull failed; the next poll tries again"),
                }
                next_pull = Instant::now() + pull_every.unwrap_or(tick);
            }
            if settings.push_templates {
                // Another connection wrote (a device's confirmation, say), or a minute
                // went by: look for new loads. The version is read before the scan, so
                // a write during it is seen next round.
                let version = store.data_version().ok();
                let scan =
                    version.is_none() || version != seen_version || last_scan.elapsed() >= RESCAN;
                seen_version = version;
                if scan {
                    last_scan = Instant::now();
                }
                if let Err(e) =
                    rt.block_on(super::push::drain(store, &client, &ship, &settings, scan))
                {
                    tracing::warn!(%e, "the Metrc writer cannot read its queue");
                }
            }
        })?;
        Ok(Poller { _thread: thread })
    }
}

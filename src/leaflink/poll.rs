//! The hub's LeafLink thread: its own connection to the hub's database, a pull every
//! `poll_seconds` while the hub serves, and with `push = true` a round of the
//! write-back queue after it. Its writes are another connection's, so the
//! hub's caches see them and devices get new and changed orders in their next
//! snapshot. Stopped and joined when the hub stops.

use std::path::PathBuf;
use std::time::Duration;

use super::client::Client;
use crate::config::LeafLinkSettings;
use crate::periodic::Periodic;

/// The running thread; dropping it stops it (after the pull in progress).
pub struct Poller {
    _thread: Periodic,
}

impl Poller {
    pub fn start(
        path: PathBuf,
        busy_timeout: Duration,
        settings: LeafLinkSettings,
    ) -> Result<Poller, String> {
        let client = Client::new(&settings).map_err(|e| e.to_string())?;
        let every = Duration::from_secs(settings.poll_seconds.max(1));
        let thread = Periodic::start("leaflink", path, busy_timeout, every, move |rt, store| {
            let now = chrono::Utc::now();
            match rt.block_on(super::pull::pull(store, &client, &settings, now)) {
                Ok(r) if r.orders > 0 => tracing::info!("{}", r.line()),
                Ok(r) => tracing::debug!("{}", r.line()),
                Err(e) => tracing::warn!(%e, "LeafLink pull failed; the next poll tries again"),
            }
            if settings.push {
                let sink = super::push::LeafLinkSink { client: &client };
                match rt.block_on(crate::writeback::round(store, &sink, chrono::Utc::now())) {
                    Ok(r) if r.sent + r.refused.len() + r.retry.len() > 0 || r.key.is_some() => {
                        tracing::info!("{}", r.line(crate::domain::writeback::Platform::LeafLink))
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(%e, "LeafLink write-back failed; the next poll tries again")
                    }
                }
            }
        })?;
        Ok(Poller { _thread: thread })
    }
}

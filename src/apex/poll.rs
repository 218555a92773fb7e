//! The hub's Apex thread: its own connection to the hub's database, a pull every
//! `poll_seconds` while the hub serves, and with `push = true` a round of the
//! write-back queue after it. Its writes are another connection's, so the
//! hub's caches see them and devices get new and changed orders in their next
//! snapshot. Stopped and joined when the hub stops.

use std::path::PathBuf;
use std::time::Duration;

use super::client::Client;
use crate::config::ApexSettings;
use crate::periodic::Periodic;

/// The running thread; dropping it stops it (after the pull in progress).
pub struct Poller {
    _thread: Periodic,
}

impl Poller {
    pub fn start(
        path: PathBuf,
        busy_timeout: Duration,
        settings: ApexSettings,
    ) -> Result<Poller, String> {
        let client = Client::new(&settings).map_err(|e| e.to_string())?;
        let every = Duration::from_secs(settings.poll_seconds.max(1));
        let thread = Periodic::start("apex", path, busy_timeout, every, move |rt, store| {
            let now = chrono::Utc::now();
            match rt.block_on(super::pull::pull(store, &client, &settings, now)) {
                Ok(r) if r.orders > 0 => tracing::info!("{}", r.line()),
                Ok(r) => tracing::debug!("{}", r.line()),
                Err(e) => tracing::warn!(%e, "Apex pull failed; the next poll tries again"),
            }
            if settings.push {
                let sink = super::push::ApexSink::new(&client, settings.status_ids.clone());
                match rt.block_on(crate::writeback::round(store, &sink, chrono::Utc::now())) {
                    Ok(r) if r.sent + r.refused.len() + r.retry.len() > 0 || r.key.is_some() => {
                        tracing::info!("{}", r.line(crate::domain::writeback::Platform::Apex))
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(%e, "Apex write-back failed; the next poll tries again")
                    }
                }
            }
        })?;
        Ok(Poller { _thread: thread })
    }
}

//! The hub's Metrc poller: a thread of its own, with its own connection to the hub's
//! database, that pulls package facts every `poll_seconds` while the hub serves. Its
//! writes are another connection's, so the hub's caches see them (`data_version`) and
//! devices get the changed packages in their next snapshot (the package change
//! counter). Stopped and joined when the hub stops.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::client::Client;
use crate::config::MetrcSettings;
use crate::store::Store;

/// The running poller; dropping it stops it (after the pull in progress, if any).
pub struct Poller {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    /// Start pulling into the database at `path` now and every `poll_seconds`. A
    /// failed pull is logged and kept for `metrc status`; the next one tries again.
    pub fn start(
        path: PathBuf,
        busy_timeout: Duration,
        settings: MetrcSettings,
    ) -> Result<Poller, String> {
        let client = Client::new(&settings).map_err(|e| e.to_string())?;
        let every = Duration::from_secs(settings.poll_seconds.max(1));
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("metrc-poll".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(%e, "the Metrc poller cannot start a runtime");
                        return;
                    }
                };
                loop {
                    match Store::open(&path, busy_timeout) {
                        Ok(mut store) => {
                            let now = chrono::Utc::now();
                            match rt.block_on(super::pull::pull(
                                &mut store, &client, &settings, false, now,
                            )) {
                                Ok(r) if r.packages > 0 => tracing::info!("{}", r.line()),
                                Ok(r) => tracing::debug!("{}", r.line()),
                                Err(e) => tracing::warn!(%e, "Metrc pull failed; the next poll tries again"),
                            }
                        }
                        Err(e) => tracing::error!(%e, "the Metrc poller cannot open the database"),
                    }
                    match stopped.recv_timeout(every) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })
            .map_err(|e| format!("cannot start the Metrc poller: {e}"))?;
        Ok(Poller {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

//! The hub's LeafLink thread: its own connection to the hub's database, a pull every
//! `poll_seconds` while the hub serves. Its writes are another connection's, so the
//! hub's caches see them and devices get new and changed orders in their next
//! snapshot. Stopped and joined when the hub stops.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::client::Client;
use crate::config::LeafLinkSettings;
use crate::store::Store;

/// The running thread; dropping it stops it (after the pull in progress).
pub struct Poller {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    pub fn start(
        path: PathBuf,
        busy_timeout: Duration,
        settings: LeafLinkSettings,
    ) -> Result<Poller, String> {
        let client = Client::new(&settings).map_err(|e| e.to_string())?;
        let every = Duration::from_secs(settings.poll_seconds.max(1));
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("leaflink".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(%e, "the LeafLink thread cannot start a runtime");
                        return;
                    }
                };
                let mut store: Option<Store> = None;
                loop {
                    if store.is_none() {
                        match Store::open(&path, busy_timeout) {
                            Ok(s) => store = Some(s),
                            Err(e) => {
                                tracing::error!(%e, "the LeafLink thread cannot open the database")
                            }
                        }
                    }
                    if let Some(store) = store.as_mut() {
                        let now = chrono::Utc::now();
                        match rt.block_on(super::pull::pull(store, &client, &settings, now)) {
                            Ok(r) if r.orders > 0 => tracing::info!("{}", r.line()),
                            Ok(r) => tracing::debug!("{}", r.line()),
                            Err(e) => tracing::warn!(%e, "LeafLink pull failed; the next poll tries again"),
                        }
                    }
                    match stopped.recv_timeout(every) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })
            .map_err(|e| format!("cannot start the LeafLink thread: {e}"))?;
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

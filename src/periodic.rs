//! The two small services the outside-system modules share: a thread of its own
//! that works on its own connection to a database every so often while the hub
//! serves ([`Periodic`]: the Metrc and LeafLink pollers), and an axum router served
//! on a loopback port of its own thread ([`serve_on_loopback`]: the emulators, for
//! tests, demos and benches).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::store::Store;

/// A thread that runs `round` on its own connection to a database now and then every
/// `every` (the database opened again on the next round when it cannot be); dropping
/// it stops it after the round in progress.
pub struct Periodic {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Periodic {
    /// `round` gets a current-thread runtime to block on and the store.
    pub fn start(
        name: &str,
        path: PathBuf,
        busy_timeout: Duration,
        every: Duration,
        mut round: impl FnMut(&tokio::runtime::Runtime, &mut Store) + Send + 'static,
    ) -> Result<Periodic, String> {
        let (stop, stopped) = mpsc::channel::<()>();
        let what = name.to_string();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(%e, thread = what, "cannot start a runtime");
                        return;
                    }
                };
                let mut store: Option<Store> = None;
                loop {
                    if store.is_none() {
                        match Store::open(&path, busy_timeout) {
                            Ok(s) => store = Some(s),
                            Err(e) => {
                                tracing::error!(%e, thread = what, "cannot open the database")
                            }
                        }
                    }
                    if let Some(store) = store.as_mut() {
                        round(&rt, store);
                    }
                    match stopped.recv_timeout(every) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })
            .map_err(|e| format!("cannot start the {name} thread: {e}"))?;
        Ok(Periodic {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Periodic {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serve `router` on a loopback port of a thread of its own until the process ends;
/// returns the address.
pub fn serve_on_loopback(router: axum::Router) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port");
            tx.send(l.local_addr().expect("bound"))
                .expect("the caller waits");
            let _ = axum::serve(l, router).await;
        });
    });
    rx.recv().expect("the server started")
}

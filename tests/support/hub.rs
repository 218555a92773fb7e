//! A real hub on a loopback port and real device databases, for `tests/hub.rs` and
//! `tests/sync.rs`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tagtally::app;
use tagtally::domain::Rules;
use tagtally::hub::{self, HubOptions};
use tagtally::scan::Frame;
use tagtally::store::Store;
use tagtally::sync::{self, Client, SyncReport};
use tagtally::tag::TagParser;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const BIN: &str = env!("CARGO_BIN_EXE_tagtally");
pub const ORDER: &str = "SO-1001";
pub const T1: &str = "1A4060300003C35000010001";
pub const T2: &str = "1A4060300003C35000010002";
pub const T4: &str = "1A4060300003C35000010004";

pub fn open(path: &Path) -> Store {
    Store::open(path, Duration::from_secs(5)).unwrap()
}

/// A site: a temp dir with a hub database holding the demo packages and orders.
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let mut hub = open(&dir.path().join("hub.db"));
        app::load_demo(&mut hub).unwrap();
        Site { dir }
    }

    pub fn hub_db(&self) -> PathBuf {
        self.dir.path().join("hub.db")
    }

    pub fn hub_store(&self) -> Store {
        open(&self.hub_db())
    }

    pub fn enroll(&self, name: &str) -> String {
        self.hub_store().enroll_device(name).unwrap()
    }

    /// Events held by the hub.
    pub fn hub_events(&self) -> i64 {
        self.hub_store().event_count().unwrap()
    }

    /// A new device database, enrolled and joined to `url`, with the hub's orders.
    pub async fn device(&self, name: &str, url: &str) -> Device {
        let token = self.enroll(name);
        let path = self.dir.path().join(format!("{name}.db"));
        let mut store = open(&path);
        sync::join(&mut store, url, &token, None).await.unwrap();
        let client = Client::joined(&store, Duration::from_secs(5)).unwrap();
        let mut d = Device {
            store,
            client,
            path,
            token,
        };
        d.sync().await.unwrap();
        d
    }
}

/// One device: its database and its client of the hub.
pub struct Device {
    pub store: Store,
    pub client: Client,
    pub path: PathBuf,
    pub token: String,
}

impl Device {
    pub async fn sync(&mut self) -> Result<SyncReport, sync::SyncError> {
        sync::sync_once(&mut self.store, &self.client).await
    }

    /// Scan lines through a real pick session; returns the verdict words.
    pub fn pick(&mut self, lines: &[&str]) -> Vec<String> {
        let mut s = app::pick::PickSession::open(
            &mut self.store,
            ORDER,
            TagParser::default(),
            Rules::default(),
        )
        .unwrap();
        lines
            .iter()
            .map(|l| {
                s.scan(&Frame {
                    bytes: l.as_bytes().to_vec(),
                    len: l.len(),
                })
                .unwrap()
                .verdict
                .to_string()
            })
            .collect()
    }

    pub fn id(&self) -> String {
        self.store.device_id().to_string()
    }
}

/// A hub served in this process on its own runtime thread.
pub struct TestHub {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestHub {
    /// Start on `127.0.0.1:0`, or on `addr` to restart where a stopped hub was.
    pub fn start(db: &Path, addr: Option<SocketAddr>) -> TestHub {
        Self::serve(open(db), addr)
    }

    /// Serve a store prepared by the test.
    pub fn serve(store: Store, addr: Option<SocketAddr>) -> TestHub {
        Self::serve_with(store, addr, HubOptions::default())
    }

    pub fn serve_with(store: Store, addr: Option<SocketAddr>, options: HubOptions) -> TestHub {
        let (tx, rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let addr = addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = bind_retrying(addr).await;
                ready_tx.send(listener.local_addr().unwrap()).unwrap();
                hub::run(listener, store, options, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = ready_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        TestHub {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop serving and wait until the listener is closed.
    pub fn stop(mut self) -> SocketAddr {
        self.shutdown();
        self.addr
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn bind_retrying(addr: SocketAddr) -> TcpListener {
    for _ in 0..100 {
        if let Ok(l) = TcpListener::bind(addr).await {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot bind {addr}");
}

/// A hub as a child process (`tagtally hub`), for kill -9.
pub struct ChildHub {
    pub child: Child,
    pub addr: String,
}

impl ChildHub {
    pub fn start(db: &Path, listen: &str, fault: Option<&str>) -> ChildHub {
        for _ in 0..50 {
            let mut c = Command::new(BIN);
            c.arg("--db")
                .arg(db)
                .args(["hub", "--listen", listen])
                .env_remove("TAGTALLY_CONFIG")
                .env("RUST_LOG", "off")
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            match fault {
                Some(f) => c.env("TAGTALLY_HUB_FAULT", f),
                None => c.env_remove("TAGTALLY_HUB_FAULT"),
            };
            let mut child = c.spawn().unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            if let Some(rest) = line.strip_prefix("tagtally hub listening on ") {
                let addr = rest.split_whitespace().next().unwrap().to_string();
                return ChildHub { child, addr };
            }
            // The port may still be held by the hub just killed: try again.
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("hub child did not start on {listen}");
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// kill -9, and reap.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ChildHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Now, as events are stamped.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Wait, generously, for `f` to hold.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

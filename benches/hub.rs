//! The hub under load, over loopback, with its database on disk (WAL,
//! `synchronous=FULL`: every acknowledged push is fsynced).
//!
//! - `push_ack`: criterion, one device pushing one event and waiting for the ack.
//! - steady load: N devices (50), each pushing one event every 100 ms for S seconds
//!   (20; `HUB_BENCH_SECS` changes it): push-acknowledge latency p50/p99/max and the
//!   events per second the hub took.
//! - saturation: the same devices pushing back to back (closed loop) for S/4 seconds:
//!   the most events per second one-event pushes reach, and their latency.
//! - offline drain: a device that queued 10,000 events offline, draining them with
//!   `sync::push_outbox` when the hub returns.
//! - live: one device pushes, another follows the order's live stream: time from the
//!   push to the other device seeing the new state, p50/p99.
//!
//! Run with `cargo bench --bench hub`; `cargo test --benches` runs everything small.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use tagtally::app;
use tagtally::domain::{Event, EventKind, Verdict};
use tagtally::hub::{self, HubOptions};
use tagtally::store::Store;
use tagtally::sync::{self, Client, SyncReport};
use tagtally::tag::NotATag;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

const ORDER: &str = "SO-1001";

struct Bench {
    dir: TempDir,
    url: String,
    _hub: std::thread::JoinHandle<()>,
}

fn open(path: &std::path::Path) -> Store {
    Store::open(path, Duration::from_secs(30)).unwrap()
}

impl Bench {
    fn new() -> Bench {
        let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = tempfile::tempdir_in(root).unwrap();
        let db = dir.path().join("hub.db");
        let mut store = open(&db);
        app::load_demo(&mut store).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let hub = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(l.local_addr().unwrap()).unwrap();
                hub::run(l, store, HubOptions::default(), std::future::pending())
                    .await
                    .unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        Bench {
            dir,
            url: format!("http://{addr}"),
            _hub: hub,
        }
    }

    /// Enrol and bind a simulated device; its client and id.
    fn device(&self, name: &str) -> (Client, String) {
        let mut hub = open(&self.dir.path().join("hub.db"));
        let token = hub.enroll_device(name).unwrap();
        let id = format!("bench-{name}");
        hub.bind_device(name, &id).unwrap();
        (
            Client::new(&self.url, &token, Duration::from_secs(30)).unwrap(),
            id,
        )
    }
}

fn event(device: &str, seq: i64) -> Event {
    Event {
        person: None,
        device: device.into(),
        seq,
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        order: ORDER.into(),
        kind: EventKind::scan(
            b"012345678905",
            12,
            None,
            Verdict::NotATag {
                reason: NotATag::OtherBarcode,
            },
        ),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// `devices` devices push one event each `every` (or back to back if `None`) for
/// `secs`; returns every push's latency and the wall time.
fn load(
    rt: &Runtime,
    b: &Bench,
    devices: usize,
    every: Option<Duration>,
    secs: f64,
    tag: &str,
) -> (Vec<Duration>, Duration) {
    let clients: Vec<(Client, String)> = (0..devices)
        .map(|i| b.device(&format!("{tag}-{i}")))
        .collect();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let lat = rt.block_on(async {
        let mut tasks = vec![];
        for (i, (client, id)) in clients.into_iter().enumerate() {
            tasks.push(tokio::spawn(async move {
                let mut out = vec![];
                // Spread the devices over the period.
                if let Some(e) = every {
                    tokio::time::sleep(e.mul_f64(i as f64 / devices as f64)).await;
                }
                let mut tick = every.map(tokio::time::interval);
                let mut seq = 0;
                // Like a device, ask only for what happened since the last answer.
                let mut since = 0;
                while Instant::now() < end {
                    if let Some(t) = tick.as_mut() {
                        t.tick().await;
                    }
                    seq += 1;
                    let t0 = Instant::now();
                    let r = client
                        .push(ORDER, &[event(&id, seq)], &[], since)
                        .await
                        .unwrap();
                    out.push(t0.elapsed());
                    assert_eq!(r.accepted, 1);
                    since = r.feed.cursor;
                }
                out
            }));
        }
        let mut all = vec![];
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    (lat, start.elapsed())
}

fn report(name: &str, mut lat: Vec<Duration>, wall: Duration) {
    lat.sort();
    println!(
        "{name}: {} pushes in {:.1} s = {:.0} events/s; ack latency p50 {} p99 {} max {}",
        lat.len(),
        wall.as_secs_f64(),
        lat.len() as f64 / wall.as_secs_f64(),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default()),
    );
}

fn drain(rt: &Runtime, b: &Bench, events: usize) {
    let (client, _) = b.device("drainer");
    // The device's database with `events` of its own events, queued while offline
    // (written in one transaction to set up quickly; the drain is what is timed).
    let path = b.dir.path().join("drainer.db");
    let mut store = open(&path);
    let id = store.device_id().to_string();
    let mut hub = open(&b.dir.path().join("hub.db"));
    hub.revoke_device("drainer").unwrap();
    let token = hub.enroll_device("drainer-2").unwrap();
    hub.bind_device("drainer-2", &id).unwrap();
    drop(client);
    let client = Client::new(&b.url, &token, Duration::from_secs(30)).unwrap();
    let queued: Vec<Event> = (1..=events as i64).map(|s| event(&id, s)).collect();
    for chunk in queued.chunks(5000) {
        store.receive_events(chunk).unwrap();
    }
    assert_eq!(store.outbox_len().unwrap(), events as i64);
    let t0 = Instant::now();
    let mut r = SyncReport::default();
    rt.block_on(sync::push_outbox(&mut store, &client, &mut r))
        .unwrap();
    let took = t0.elapsed();
    assert_eq!(r.pushed, events);
    assert_eq!(store.outbox_len().unwrap(), 0);
    println!(
        "offline drain: {events} events in {:.2} s ({:.0} events/s)",
        took.as_secs_f64(),
        events as f64 / took.as_secs_f64()
    );
}

fn live(rt: &Runtime, b: &Bench, n: usize) {
    let (pusher, id) = b.device("live-pusher");
    let (watcher, _) = b.device("live-watcher");
    let mut lat = rt.block_on(async {
        let mut live = watcher.live(ORDER).await.unwrap();
        let first = live.next().await.unwrap().unwrap();
        let mut events = first.events;
        let mut out = vec![];
        for seq in 1..=n as i64 {
            let t0 = Instant::now();
            pusher
                .push(ORDER, &[event(&id, seq)], &[], 0)
                .await
                .unwrap();
            loop {
                let m = live.next().await.unwrap().unwrap();
                if m.events > events {
                    events = m.events;
                    break;
                }
            }
            out.push(t0.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        out
    });
    lat.sort();
    println!(
        "live update (push to another device's stream): {n} updates, p50 {} p99 {}",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99))
    );
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let secs: f64 = std::env::var("HUB_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if bench_mode { 20.0 } else { 1.0 });
    let devices = if bench_mode { 50 } else { 5 };
    let b = Bench::new();
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap(),
    );

    let (client, id) = b.device("criterion");
    let mut seq = 0;
    let mut c = Criterion::default().configure_from_args();
    let mut since = 0;
    c.bench_function("push_ack", |bch| {
        bch.iter(|| {
            seq += 1;
            let r = rt
                .block_on(client.push(ORDER, &[event(&id, seq)], &[], since))
                .unwrap();
            since = r.feed.cursor;
        })
    });

    let (lat, wall) = load(
        &rt,
        &b,
        devices,
        Some(Duration::from_millis(100)),
        secs,
        "steady",
    );
    report(
        &format!("steady: {devices} devices x 1 event / 100 ms"),
        lat,
        wall,
    );
    let (lat, wall) = load(&rt, &b, devices, None, secs / 4.0, "flat-out");
    report(
        &format!("saturation: {devices} devices back to back"),
        lat,
        wall,
    );
    drain(&rt, &b, if bench_mode { 10_000 } else { 500 });
    live(&rt, &b, if bench_mode { 200 } else { 5 });
    c.final_summary();
}

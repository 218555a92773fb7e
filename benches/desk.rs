//! The desk's board under a busy day: 200 open orders of 50 packages each, half
//! of each line picked (rounded up: the count is printed), on a hub over loopback with its database on disk. Measures the
//! time of `GET /desk` (sign-in cookie, the whole board rendered) over loopback,
//! p50/p99/max over 200 requests after a warm-up, and the page's size.
//!
//! Run with `cargo bench --bench desk`; `cargo test --benches` runs it small.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use tagtally::domain::people::Role;
use tagtally::domain::{EventKind, Verdict};
use tagtally::hub::{self, HubOptions};
use tagtally::store::Store;
use tagtally::synthetic;
use tagtally::tag::MetrcTag;

fn main() {
    let small =
        std::env::args().any(|a| a == "--test") || !std::env::args().any(|a| a == "--bench");
    let (orders, per_order, requests) = if small { (10, 50, 10) } else { (200, 50, 200) };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let mut store = Store::open(&path, Duration::from_secs(30)).unwrap();
    // Enough eligible packages: every 50th is on hold and every 70th lab-failed.
    let count = orders * per_order * 11 / 10 + 100;
    let packages = tagtally::import::metrc::parse(
        "bench",
        synthetic::packages_json(count).to_string().as_bytes(),
    )
    .unwrap();
    store.import_packages(&packages).unwrap();
    let mut n = 0;
    let mut results = vec![];
    let mut picks = vec![];
    for k in 0..orders {
        let number = format!("SO-{:05}", 10_000 + k);
        let mut lines: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
        let mut taken = 0;
        while taken < per_order {
            if n % 50 != 49 && n % 70 != 69 {
                lines
                    .entry((n % 20, (n / 20) % 5))
                    .or_default()
                    .push(synthetic::tag(n));
                taken += 1;
            }
            n += 1;
        }
        let items: Vec<_> = lines
            .iter()
            .enumerate()
            .map(|(id, ((item, batch), tags))| {
                json!({"id": id + 1, "product": {"sku": format!("SKU-{item:02}"), "name": format!("Item {item:02}")},
                       "quantity": tags.len().to_string(), "batch": format!("B{item:02}-{batch}"),
                       "package_tags": tags})
            })
            .collect();
        // Half of each line picked, rounded up.
        for (id, (_, tags)) in lines.iter().enumerate() {
            for t in tags.iter().take(tags.len().div_ceil(2)) {
                picks.push((
                    number.clone(),
                    EventKind::scan(
                        t.as_bytes(),
                        t.len(),
                        Some(MetrcTag::new(t).unwrap()),
                        Verdict::Accepted {
                            line: (id + 1).to_string(),
                            expires_in_days: None,
                        },
                    ),
                ));
            }
        }
        results.push(
            json!({"number": number, "short_id": number, "status": "Accepted",
            "customer": {"display_name": format!("Buyer {k}"), "license_number": "C10-0000000-LIC"},
            "ship_date": format!("2026-12-{:02}", 1 + k % 28), "line_items": items}),
        );
    }
    let orders_json = json!({ "results": results }).to_string();
    let parsed = tagtally::import::parse_orders("bench orders", orders_json.as_bytes()).unwrap();
    store.import_orders(&parsed).unwrap();
    store.set_signed_in(Some("Pia"));
    let picked = picks.len();
    store.record(picks, &[]).unwrap();
    store.set_signed_in(None);
    store.set_person("Cora", Role::Coordinator, "2468").unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(hub::run(listener, store, HubOptions::default(), std::future::pending()));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let signed = http
            .post(format!("{url}/desk/sign-in"))
            .header("origin", &url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("person=Cora&pin=2468")
            .send()
            .await
            .unwrap();
        let cookie = signed.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        let get = || async {
            let r = http.get(format!("{url}/desk")).header("cookie", &cookie).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap().len()
        };
        // Warm-up: the first board folds every order into the hub's cache.
        let t = Instant::now();
        let size = get().await;
        let first = t.elapsed();
        let mut times = vec![];
        for _ in 0..requests {
            let t = Instant::now();
            get().await;
            times.push(t.elapsed());
        }
        times.sort();
        let pct = |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
        println!(
            "desk board: {orders} open orders x {per_order} packages ({picked} picked): \
             first (cold cache) {:.1} ms; then over {requests} requests p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; page {:.1} KB",
            first.as_secs_f64() * 1e3,
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            times.last().unwrap().as_secs_f64() * 1e3,
            size as f64 / 1024.0
        );
    });
}

//! The hub's HTTP API against a real hub on a loopback port and real SQLite files:
//! authentication, idempotent pushes, refusals of bad input, live updates, OpenAPI.

#[path = "support/hub.rs"]
mod support;

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{Value, json};
use support::*;
use tagtally::domain::{Event, EventKind, Verdict};
use tagtally::hub::ROUTES;
use tagtally::tag::MetrcTag;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn accepted(device: &str, seq: i64, tag: &str) -> Event {
    Event {
        person: None,
        device: device.into(),
        seq,
        at: now(),
        order: ORDER.into(),
        kind: EventKind::scan(
            tag.as_bytes(),
            tag.len(),
            Some(MetrcTag::new(tag).unwrap()),
            Verdict::Accepted {
                line: "1".into(),
                expires_in_days: None,
            },
        ),
    }
}

async fn push(url: &str, token: &str, order: &str, body: Value) -> (u16, Value) {
    let r = http()
        .post(format!("{url}/orders/{order}/events"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_is_idempotent_and_an_altered_replay_is_refused_and_logged() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let dev = site.device("vault-1", &hub.url()).await;
    let id = dev.id();
    let events = vec![
        accepted(&id, 1, T1),
        accepted(&id, 2, T2),
        accepted(&id, 3, T4),
    ];
    let (s, r) = push(&hub.url(), &dev.token, ORDER, json!({ "events": events })).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["accepted"].as_u64(), r["duplicates"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(r["acked"], json!([1, 2, 3]));
    assert_eq!(r["feed"]["merged"]["picked"], 3);
    // The answer was lost (a timeout): the device sends the same again.
    let (s, r) = push(&hub.url(), &dev.token, ORDER, json!({ "events": events })).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["accepted"].as_u64(), r["duplicates"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(r["feed"]["merged"]["picked"], 3);
    assert_eq!(site.hub_events(), 3);
    // Same (device, seq), other contents: refused, nothing stored, logged.
    let mut altered = events[1].clone();
    altered.kind = accepted(&id, 2, T4).kind;
    let (s, r) = push(
        &hub.url(),
        &dev.token,
        ORDER,
        json!({ "events": [altered, accepted(&id, 4, "1A4060300003C35000010011")] }),
    )
    .await;
    assert_eq!(s, 409, "{r}");
    assert_eq!(r["error"], "altered_replay");
    assert_eq!(
        site.hub_events(),
        3,
        "all or nothing: seq 4 not kept either"
    );
    let log = site.hub_store().security_log().unwrap();
    assert!(
        log.iter()
            .any(|e| e.kind == "altered_replay" && e.detail.contains(&format!("{id}/2"))),
        "{log:?}"
    );
}

/// A non-tag scan: stored and acknowledged, counts no pick.
fn other_barcode(device: &str, seq: i64, raw: &str) -> Event {
    Event {
        person: None,
        device: device.into(),
        seq,
        at: now(),
        order: ORDER.into(),
        kind: EventKind::scan(
            raw.as_bytes(),
            raw.len(),
            None,
            Verdict::NotATag {
                reason: tagtally::tag::NotATag::OtherBarcode,
            },
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
/// Concurrent pushes, some refused, each get their own answer, and the refused ones
/// store nothing. It does not prove they shared one commit (it would pass with one
/// commit per push): the grouping itself is proved on the store thread, by the unit
/// test `a_group_commits_once_and_answers_each_push_with_its_own_result` in
/// `src/hub/push.rs`.
async fn concurrent_pushes_each_get_their_own_answer_and_refused_ones_store_nothing() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let url = hub.url();
    let mut devices = vec![];
    for i in 0..6 {
        devices.push(site.device(&format!("vault-{i}"), &url).await);
    }
    let bad = devices[0].id();
    let (s, r) = push(
        &url,
        &devices[0].token,
        ORDER,
        json!({ "events": [other_barcode(&bad, 1, "first")] }),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    // Rounds of pushes sent at once (the hub may commit those waiting together): in each,
    // device 0 resends its seq 1 altered along with a new event, the others push one
    // event each, and one of them pushes to an order the hub does not have.
    let rounds = 5;
    for round in 1..=rounds {
        let mut tasks = vec![];
        for (i, d) in devices.iter().enumerate() {
            let (url, token, id) = (url.clone(), d.token.clone(), d.id());
            tasks.push(tokio::spawn(async move {
                if i == 0 {
                    let body = json!({ "events": [
                        other_barcode(&id, 1, &format!("altered-{round}")),
                        other_barcode(&id, 1 + round, "never stored"),
                    ] });
                    push(&url, &token, ORDER, body).await
                } else if i == 1 {
                    let mut e = other_barcode(&id, round, "nowhere");
                    e.order = "SO-9999".into();
                    push(&url, &token, "SO-9999", json!({ "events": [e] })).await
                } else {
                    let e = other_barcode(&id, round, &format!("r{round}"));
                    push(&url, &token, ORDER, json!({ "events": [e] })).await
                }
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            let (s, r) = t.await.unwrap();
            match i {
                0 => {
                    assert_eq!(s, 409, "{r}");
                    assert_eq!(r["error"], "altered_replay");
                }
                1 => {
                    assert_eq!(s, 404, "{r}");
                    assert_eq!(r["error"], "no_such_order");
                }
                _ => {
                    assert_eq!(s, 200, "device {i} round {round}: {r}");
                    assert_eq!(r["accepted"], 1, "{r}");
                    assert_eq!(r["acked"], json!([round]), "{r}");
                }
            }
        }
    }
    // The first event, and four devices' events each round: nothing of the refused.
    assert_eq!(site.hub_events(), 1 + 4 * rounds);
    // The same altered replay, refused every round, is one cause: logged once.
    let log = site.hub_store().security_log().unwrap();
    assert_eq!(
        log.iter().filter(|e| e.kind == "altered_replay").count(),
        1,
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_missing_and_revoked_tokens_are_refused() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let dev = site.device("vault-1", &hub.url()).await;
    let url = hub.url();
    let r = http().get(format!("{url}/orders")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http()
        .get(format!("{url}/orders"))
        .bearer_auth("tt_forged0000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "bad_token");
    let r = http()
        .get(format!("{url}/orders"))
        .bearer_auth(&dev.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Revoked on the hub's database by the CLI's code path: refused at once.
    site.hub_store().revoke_device("vault-1").unwrap();
    let (s, r) = push(
        &url,
        &dev.token,
        ORDER,
        json!({ "events": [accepted(&dev.id(), 1, T1)] }),
    )
    .await;
    assert_eq!(s, 403, "{r}");
    assert_eq!(r["error"], "revoked");
    assert_eq!(site.hub_events(), 0);
    let kinds: Vec<String> = site
        .hub_store()
        .security_log()
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&"unknown_token".into()) && kinds.contains(&"revoked_device".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_pushes_are_refused_with_clear_messages_and_store_nothing() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let a = site.device("vault-1", &hub.url()).await;
    let b = site.device("vault-2", &hub.url()).await;
    let url = hub.url();
    // An order the hub does not have.
    let mut e = accepted(&a.id(), 1, T1);
    e.order = "SO-9999".into();
    let (s, r) = push(&url, &a.token, "SO-9999", json!({ "events": [e] })).await;
    assert_eq!(s, 404, "{r}");
    assert_eq!(r["error"], "no_such_order");
    // Malformed JSON.
    let r = http()
        .post(format!("{url}/orders/{ORDER}/events"))
        .bearer_auth(&a.token)
        .header("content-type", "application/json")
        .body("{\"events\": [ {nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON body"),
        "{body}"
    );
    // Well-formed JSON of the wrong shape.
    let (s, r) = push(&url, &a.token, ORDER, json!({ "events": [{"seq": "x"}] })).await;
    assert_eq!(s, 400, "{r}");
    // Another device's events.
    let (s, r) = push(
        &url,
        &a.token,
        ORDER,
        json!({ "events": [accepted(&b.id(), 1, T1)] }),
    )
    .await;
    assert_eq!(s, 403, "{r}");
    assert_eq!(r["error"], "foreign_device");
    // Out of sequence order.
    let (s, _) = push(
        &url,
        &a.token,
        ORDER,
        json!({ "events": [accepted(&a.id(), 2, T1), accepted(&a.id(), 1, T2)] }),
    )
    .await;
    assert_eq!(s, 400);
    // An event of another order pushed under this one.
    let mut e = accepted(&a.id(), 1, T1);
    e.order = "SO-1002".into();
    let (s, _) = push(&url, &a.token, ORDER, json!({ "events": [e] })).await;
    assert_eq!(s, 400);
    assert_eq!(site.hub_events(), 0);
}

#[test]
fn a_50_mb_body_is_refused_with_413() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let token = site.enroll("vault-1");
    // Announce 50 MB and send the start of it: the hub answers from the header.
    let mut s = std::net::TcpStream::connect(hub.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let len = 50 * 1024 * 1024;
    write!(
        s,
        "POST /orders/{ORDER}/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n"
    )
    .unwrap();
    let _ = s.write_all(&vec![b' '; 64 * 1024]);
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_eq!(site.hub_events(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_every_route_and_every_route_answers() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let dev = site.device("vault-1", &hub.url()).await;
    let url = hub.url();
    let doc: Value = http()
        .get(format!("{url}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for (method, path) in ROUTES {
        let op = &doc["paths"][path][method.to_lowercase()];
        assert!(op.is_object(), "{method} {path} not in /openapi.json");
        let real = path.replace("{number}", ORDER);
        let mut req = http().request(method.parse().unwrap(), format!("{url}{real}"));
        req = req.bearer_auth(&dev.token);
        if *method == "POST" {
            req = req.json(&json!({ "events": [], "device_id": dev.id() }));
        }
        let r = req.send().await.unwrap();
        // A fresh order is neither loaded nor delivered: the documents answer 409,
        // which the document must list; every other route answers success.
        let documented_refusal = path.ends_with("/manifest") || path.ends_with("/report");
        assert!(
            r.status().is_success()
                || (documented_refusal && op["responses"][r.status().as_str()].is_object()),
            "{method} {path}: {} {}",
            r.status(),
            if path.ends_with("/live") {
                String::new()
            } else {
                r.text().await.unwrap()
            }
        );
    }
    // And the fallback says where to look.
    let r = http().get(format!("{url}/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("openapi.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_stream_shows_another_devices_pick() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let mut a = site.device("vault-1", &hub.url()).await;
    let b = site.device("vault-2", &hub.url()).await;
    let mut live = b.client.live(ORDER).await.unwrap();
    let first = live.next().await.unwrap().unwrap();
    assert_eq!(first.progress.picked, 0);
    assert_eq!(a.pick(&[T1]), vec!["accepted"]);
    a.sync().await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(20), live.next())
        .await
        .expect("a live update")
        .unwrap()
        .unwrap();
    assert_eq!(next.progress.picked, 1);
    assert_eq!(next.progress.lines[0].picked, 1);
    drop(live);
    // Shutdown ends live streams rather than waiting on them.
    let mut live = b.client.live(ORDER).await.unwrap();
    live.next().await.unwrap().unwrap();
    hub.stop();
    assert!(matches!(live.next().await, Ok(None) | Err(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_clock_days_wrong_is_accepted_and_reported() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let dev = site.device("vault-1", &hub.url()).await;
    let mut e = accepted(&dev.id(), 1, T1);
    e.at = "2020-01-01T00:00:00.000Z".into();
    let (s, r) = push(&hub.url(), &dev.token, ORDER, json!({ "events": [e] })).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r["feed"]["merged"]["picked"], 1,
        "merged by arrival, not device time"
    );
    let log = site.hub_store().security_log().unwrap();
    assert!(
        log.iter()
            .any(|l| l.kind == "clock_skew" && l.detail.contains("2020-01-01")),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hub_disk_refuses_the_push_cleanly_and_the_device_keeps_its_queue() {
    let site = Site::new();
    let hub = TestHub::start(&site.hub_db(), None);
    let mut dev = site.device("vault-1", &hub.url()).await;
    let addr = hub.stop();
    // The same database, but no room for another page.
    let mut store = site.hub_store();
    let pages = store.set_max_pages(1).unwrap();
    assert!(pages > 1, "the cap is the current size");
    let hub = TestHub::serve(store, Some(addr));
    let junk: Vec<String> = (0..40)
        .map(|i| format!("junk-{i}-{}", "x".repeat(900)))
        .collect();
    let lines: Vec<&str> = junk.iter().map(String::as_str).collect();
    dev.pick(&lines);
    let err = dev.sync().await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("full"), "{err}");
    assert_eq!(site.hub_events(), 0, "nothing half-stored");
    assert_eq!(
        dev.store.outbox_len().unwrap(),
        40,
        "nothing lost on the device"
    );
    // Space again: the queue drains.
    let addr = hub.stop();
    let _hub = TestHub::start(&site.hub_db(), Some(addr));
    let r = dev.sync().await.unwrap();
    assert_eq!((r.pushed, r.waiting), (40, 0));
    assert_eq!(site.hub_events(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_serves_https_with_a_configured_certificate() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let site = Site::new();
    let options = tagtally::hub::cli::options(
        Default::default(),
        Default::default(),
        None,
        Some((&fixtures.join("hub.crt"), &fixtures.join("hub.key"))),
    )
    .unwrap();
    let hub = TestHub::serve_with(site.hub_store(), None, options);
    let url = format!("https://{}", hub.addr);
    let ca = std::fs::read_to_string(fixtures.join("hub.crt")).unwrap();
    let token = site.enroll("vault-1");
    // A device that trusts the hub's certificate joins and syncs over TLS.
    let mut store = open(&site.dir.path().join("tls-device.db"));
    tagtally::sync::join(&mut store, &url, &token, Some(&ca))
        .await
        .unwrap();
    let client = tagtally::sync::Client::joined(&store, Duration::from_secs(5)).unwrap();
    let r = tagtally::sync::sync_once(&mut store, &client)
        .await
        .unwrap();
    assert_eq!(r.orders, 2);
    // One that does not trust it is refused by its own TLS check; plain HTTP gets nothing.
    let stranger = tagtally::sync::Client::new(&url, &token, Duration::from_secs(5)).unwrap();
    assert!(stranger.orders().await.is_err());
    let plain = format!("http://{}", hub.addr);
    let plain = tagtally::sync::Client::new(&plain, &token, Duration::from_secs(5)).unwrap();
    assert!(plain.orders().await.is_err());
    // A bad certificate path is refused with a clear message.
    let err = tagtally::hub::cli::options(
        Default::default(),
        Default::default(),
        None,
        Some((&fixtures.join("missing.crt"), &fixtures.join("hub.key"))),
    )
    .unwrap_err();
    assert!(err.to_string().contains("missing.crt"), "{err}");
}

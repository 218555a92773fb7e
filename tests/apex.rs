//! The Apex client against the Apex emulator on a loopback port: `tagtally apex pull`
//! (a real child process on a real database) follows every page, accepts every shape
//! B2B-API.md lists, keeps each order's identity by its Apex id (a changed invoice
//! number, a split order sharing one), imports an order without a buyer license
//! (which the license hold then holds), refuses an order that breaks the one-batch
//! rule alone and takes it once it is fixed, closes a cancelled order, rides out 429s
//! and 500s, and says in clear words what a wrong token, a wrong base_url or Apex down
//! means; the client's status write lands once; a hub with `[apex]` pulls while it
//! serves.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tagtally::apex::client::{ApexError, Client, first_status_of};
use tagtally::apex::emulator::{Emulator, Fault};
use tagtally::config::{ApexSettings, Secret};
use tagtally::domain::writeback::Failure;
use tagtally::hub::HubOptions;

#[path = "support/site.rs"]
mod site;
use site::{Site, demo_file};

#[path = "support/hub.rs"]
mod hub;

const TOKEN: &str = "apex-token-secret";
const P: &str = "1A4060300003C350000";

fn t(n: u32) -> String {
    format!("{P}{n:05}")
}

/// Apex order `id` (invoice `AX-{id}`), accepted, one line of Blue Dream BD-0412
/// with `labels` and money in the shape given.
fn order(id: i64, labels: Value, money: (&str, Value)) -> Value {
    let mut item = json!({
        "id": id * 10, "order_id": id, "product_sku": "BD-35", "product_name": "Blue Dream 3.5g",
        "batch_name": "BD-0412", "order_quantity": if id % 2 == 0 { json!("48.00") } else { json!(48) },
        "order_unit_measurement": {"id": 1, "name": "Unit", "alias": "ea"},
        "metrc_package_label": labels, "unknown_field": {"passes": true}
    });
    item[money.0] = money.1;
    json!({
        "id": id, "invoice_number": format!("AX-{id}"), "order_status_id": 301, "cancelled": false,
        "deal_flow_id": 7, "delivery_date": "2026-12-04", "ship_name": format!("Ship {id}"),
        "buyer": {"id": 9000 + id, "name": format!("Dispensary {id}")},
        "buyer_state_license": format!("C10-{id:07}-LIC"), "excise_tax": "0.00",
        "items": [item]
    })
}

/// Seven orders to take, in every shape, and two not to: one submitted, one
/// cancelled before tagtally held it.
fn orders() -> Vec<Value> {
    let mut v = vec![
        order(
            1,
            json!(format!("{}, {}", t(10001), t(10002))),
            ("order_price", json!("18.00")),
        ),
        order(
            2,
            json!([t(10003), t(10004)]),
            ("order_price_raw", json!(1800)),
        ),
        order(3, json!(t(10005)), ("order_price", json!("1,018.50"))),
        order(4, Value::Null, ("order_price_raw", json!("1850"))),
        order(5, json!([]), ("order_price", Value::Null)),
        order(6, json!(""), ("order_price", json!("7"))),
        order(7, Value::Null, ("order_price", json!("2,400.00"))),
    ];
    // No parent in the answer: `[apex] status_ids.accepted` says what 301 is.
    v[6]["order_status"] = Value::Null;
    let mut submitted = order(8, Value::Null, ("order_price", json!("1.00")));
    submitted["order_status_id"] = json!(300);
    let mut cancelled = order(9, Value::Null, ("order_price", json!("1.00")));
    cancelled["cancelled"] = json!(true);
    v.extend([submitted, cancelled]);
    v
}

fn setup() -> (Arc<Emulator>, Site, String) {
    let emu = Emulator::new(TOKEN, orders());
    let url = emu.spawn();
    let site = Site::new();
    site.ok(&[
        "import",
        "packages",
        demo_file("packages.json").to_str().unwrap(),
    ]);
    configure(&site, &url, TOKEN);
    (emu, site, url)
}

fn configure(site: &Site, url: &str, token: &str) {
    let dir = site.dir.path().join("tagtally");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[apex]\nbase_url = \"{url}\"\ntoken = \"{token}\"\nper_page = 3\n\
             max_requests_per_second = 15\ntimeout_seconds = 5\n\
             [apex.status_ids]\naccepted = 301\n"
        ),
    )
    .unwrap();
}

#[test]
fn a_pull_takes_every_page_and_every_shape_and_keeps_each_order_s_identity() {
    let (emu, site, _) = setup();
    let out = site.ok(&["apex", "pull"]);
    // 9 orders on pages of 3: 3 pages, one request each; 2 skipped.
    assert!(
        out.contains("3 pages, 3 requests, 9 orders read: 7 new")
            && out.contains("2 skipped, 0 refused"),
        "{out}"
    );
    let paths = emu.paths();
    assert!(
        paths.iter().all(|p| p.contains("updated_at_from=")
            && p.contains("with_items=true")
            && p.contains("per_page=3")),
        "{paths:?}"
    );
    let orders = site.ok(&["orders"]);
    for n in 1..=7 {
        assert!(orders.contains(&format!("AX-{n}")), "{orders}");
    }
    assert!(
        !orders.contains("AX-8") && !orders.contains("AX-9"),
        "{orders}"
    );
    let license: String = site.sql("SELECT buyer_license FROM orders WHERE number = 'AX-3'");
    assert_eq!(license, "C10-0000003-LIC");
    let status: String = site.sql("SELECT status FROM orders WHERE number = 'AX-7'");
    assert_eq!(status, "Accepted", "the configured id names the stage");
    // Labels as a comma string, a list and one tag are the allocation.
    let allocated: i64 =
        site.sql("SELECT count(*) FROM allocations WHERE order_number IN ('AX-1', 'AX-2', 'AX-3')");
    assert_eq!(allocated, 5);
    for (n, cents) in [
        (1, 1800),
        (2, 1800),
        (3, 101850),
        (4, 1850),
        (6, 700),
        (7, 240000),
    ] {
        let got: i64 = site.sql(&format!(
            "SELECT unit_price_cents FROM order_lines WHERE order_number = 'AX-{n}'"
        ));
        assert_eq!(got, cents, "AX-{n}");
    }
    let qty: String = site.sql("SELECT quantity FROM order_lines WHERE order_number = 'AX-2'");
    assert_eq!(qty, "48.00");
    let sources: i64 = site.sql(
        "SELECT count(*) FROM order_sources WHERE platform = 'apex' AND platform_status = '301'",
    );
    assert_eq!(sources, 7, "each order keeps its Apex id and status");

    // Again: the overlap sends them again, none written twice.
    let out = site.ok(&["apex", "pull"]);
    assert!(out.contains("0 new, 0 updated, 7 unchanged"), "{out}");

    // The invoice number changes in Apex: the same order (by its Apex id), which
    // answers to the new invoice number too.
    assert!(emu.change(4, json!({"invoice_number": "AX-4-R1"})));
    let out = site.ok(&["apex", "pull"]);
    assert!(out.contains("0 new, 1 updated"), "{out}");
    let n: i64 = site.sql("SELECT count(*) FROM orders");
    assert_eq!(n, 7, "still one order");
    let short: String = site.sql("SELECT short_id FROM orders WHERE number = 'AX-4'");
    assert_eq!(short, "AX-4-R1");

    // The buyer cancels one: closed here, and the floor says so.
    assert!(emu.change(5, json!({"cancelled": true})));
    let out = site.ok(&["apex", "pull"]);
    assert!(out.contains("1 closed"), "{out}");
    let err = site.fails(&["pick", "AX-5"]);
    assert!(err.contains("closed"), "{err}");
}

#[test]
fn split_orders_sharing_an_invoice_number_stay_apart() {
    let (emu, site, _) = setup();
    site.ok(&["apex", "pull"]);
    // Apex splits AX-7: the new part has its own id and the same invoice number.
    let mut part = order(70, Value::Null, ("order_price", json!("9.00")));
    part["invoice_number"] = json!("AX-7");
    part["split_from_order_id"] = json!(7);
    emu.put_order(part);
    let out = site.ok(&["apex", "pull"]);
    assert!(
        out.contains("1 new") && out.contains("renumbered: Apex order 70 (AX-7) is AX-7-#70 here"),
        "{out}"
    );
    let both: i64 = site.sql("SELECT count(*) FROM orders WHERE number IN ('AX-7', 'AX-7-#70')");
    assert_eq!(both, 2, "neither overwrites the other");
    let id: String =
        site.sql("SELECT platform_id FROM order_sources WHERE order_number = 'AX-7-#70'");
    assert_eq!(id, "70");
}

#[test]
fn an_order_without_a_buyer_license_imports_and_is_held_once_a_register_exists() {
    let (emu, site, _) = setup();
    let mut o = order(11, Value::Null, ("order_price", json!("9.00")));
    o["buyer_state_license"] = Value::Null;
    emu.put_order(o);
    let mut o = order(12, Value::Null, ("order_price", json!("9.00")));
    o.as_object_mut().unwrap().remove("buyer_state_license");
    emu.put_order(o);
    let out = site.ok(&["apex", "pull"]);
    assert!(out.contains("9 new") && out.contains("0 refused"), "{out}");
    let none: i64 = site.sql(
        "SELECT count(*) FROM orders WHERE number IN ('AX-11', 'AX-12') AND buyer_license IS NULL",
    );
    assert_eq!(none, 2);
    let register = site.file(
        "register.csv",
        "license_number,status,expiration_date\nC10-0000001-LIC,Active,2030-01-01\n",
    );
    site.ok(&["licenses", "import", &register]);
    let err = site.fails(&["pick", "AX-11"]);
    assert!(err.contains("the order names no buyer license"), "{err}");
    let listed = site.ok(&["orders"]);
    assert!(listed.contains("LICENSE HOLD"), "{listed}");
}

#[test]
fn an_order_breaking_the_one_batch_rule_is_refused_alone_until_fixed() {
    let (emu, site, _) = setup();
    // 10007 is Blue Dream BD-0412, 10008 BD-0399: two batches on one line.
    emu.put_order(order(
        20,
        json!([t(10007), t(10008)]),
        ("order_price", json!("18.00")),
    ));
    let out = site.ok(&["apex", "pull"]);
    assert!(out.contains("7 new") && out.contains("1 refused"), "{out}");
    assert!(
        out.contains("refused: order AX-20 refused") && out.contains(&t(10008)),
        "{out}"
    );
    let held: i64 = site.sql("SELECT count(*) FROM orders WHERE number = 'AX-20'");
    assert_eq!(held, 0, "nothing of it stored");
    assert!(emu.change(
        20,
        json!({"items": [{"id": 200, "product_sku": "BD-35", "batch_name": "BD-0412",
            "order_quantity": 24, "order_price_raw": 1800, "metrc_package_label": t(10007)}]})
    ));
    let out = site.ok(&["apex", "pull"]);
    assert!(out.contains("1 new") && out.contains("0 refused"), "{out}");
}

#[test]
fn throttling_failures_a_wrong_token_and_a_wrong_base_url_end_in_clear_words() {
    let (emu, site, url) = setup();
    emu.inject(Fault::TooMany);
    emu.inject(Fault::ServerError);
    emu.inject(Fault::TooMany);
    let out = site.ok(&["apex", "pull"]);
    assert!(out.contains("7 new") && out.contains("6 requests"), "{out}");

    configure(&site, &url, "not-the-token");
    let err = site.fails(&["apex", "pull"]);
    assert!(
        err.contains("Apex refused the token (401: Unauthenticated.)")
            && err.contains("TAGTALLY_APEX__TOKEN")
            && err.contains("view:shipping-orders"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-token"),
        "the token is never shown: {err}"
    );
    let status = site.ok(&["apex", "status"]);
    assert!(status.contains("refused the token"), "{status}");
    let config = site.ok(&["config"]);
    assert!(!config.contains("not-the-token"), "{config}");

    // The web app's root instead of the API's: HTML, named as such.
    configure(&site, url.trim_end_matches("/api"), TOKEN);
    let err = site.fails(&["apex", "pull"]);
    assert!(
        err.contains("not JSON") && err.contains("the Accept header or the base_url is wrong"),
        "{err}"
    );

    // Apex in maintenance: tried again, then said.
    configure(&site, &url, TOKEN);
    emu.set_down(true);
    let err = site.fails(&["apex", "pull"]);
    assert!(err.contains("Apex failed") && err.contains("503"), "{err}");
    emu.set_down(false);

    // Nothing listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    configure(&site, &format!("http://{closed}/api"), TOKEN);
    let err = site.fails(&["apex", "pull"]);
    assert!(err.contains("cannot reach Apex"), "{err}");

    // The token never reaches the database.
    let db = std::fs::read(site.db()).unwrap();
    assert!(!db.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()));
}

#[test]
fn check_names_the_token_s_abilities_and_what_is_missing() {
    let (emu, site, _) = setup();
    emu.set_abilities(&["view:shipping-orders"]);
    let out = site.ok(&["apex", "check"]);
    assert!(
        out.contains("abilities view:shipping-orders")
            && out.contains("missing update:shipping-orders: needed for the write-back"),
        "{out}"
    );
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_emulator_answers_as_apex_does() {
    let emu = Emulator::new(TOKEN, orders());
    let url = emu.spawn();
    let get = |path: &str, accept: bool| {
        let mut r = reqwest::Client::new()
            .get(format!("{url}{path}"))
            .bearer_auth(TOKEN);
        if accept {
            r = r.header("Accept", "application/json");
        }
        async move {
            let r = r.send().await.unwrap();
            let h = r.headers().clone();
            (r.status().as_u16(), h, r.text().await.unwrap())
        }
    };
    rt().block_on(async {
        let (status, _, body) = get("/v1/shipping-orders?updated_at_from=2020-01-01", false).await;
        assert!(
            status == 200 && body.starts_with("<!DOCTYPE html>"),
            "{body}"
        );
        let (status, _, body) = get("/v1/shipping-orders", true).await;
        assert_eq!(status, 422);
        assert!(
            body.contains("The updated at from field is required."),
            "{body}"
        );
        let (status, h, body) = get("/v1/shipping-orders?updated_at_from=2020-01-01", true).await;
        assert_eq!(status, 200);
        assert_eq!(h["x-ratelimit-limit"], "15");
        let page: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(page["meta"]["per_page"], 15, "Apex's default");
        assert_eq!(page["meta"]["total"], 9);
        assert!(
            page["orders"][0].get("items").is_none(),
            "items only with with_items"
        );
        assert!(
            page["links"]["first"]
                .as_str()
                .unwrap()
                .starts_with("http://")
        );
        let (status, _, body) = get("/v1/shipping-orders/99999", true).await;
        assert_eq!(
            (status, body.as_str()),
            (404, r#"{"message":"Order not found"}"#)
        );
        // 15 a second a token; here 3 a minute, so the 4th is refused whatever the
        // machine's speed.
        emu.throttle(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert_eq!(get("/v1/welcome", true).await.0, 200);
        }
        let (status, h, body) = get("/v1/welcome", true).await;
        assert_eq!(status, 429);
        assert_eq!(h["x-ratelimit-remaining"], "0");
        assert!(h.contains_key("retry-after") && h.contains_key("x-ratelimit-reset"));
        assert!(body.contains("Rate limit exceeded."), "{body}");
    });
}

fn client(url: &str, timeout_seconds: u64) -> Client {
    Client::new(&ApexSettings {
        base_url: url.into(),
        token: Secret::new(TOKEN),
        max_requests_per_second: 15,
        timeout_seconds,
        ..ApexSettings::default()
    })
    .unwrap()
}

#[test]
fn a_status_write_lands_once_and_a_refusal_is_in_apex_s_words() {
    let emu = Emulator::new(TOKEN, orders());
    let url = emu.spawn();
    let c = client(&url, 1);
    rt().block_on(async {
        let (state, flow) = c.order(3).await.unwrap();
        assert_eq!(
            (state.status_id, state.parent.as_deref(), flow),
            (301, Some("Accepted"), Some(7))
        );
        let statuses = c.deal_flow_statuses(7).await.unwrap();
        assert_eq!(statuses.len(), 8);
        let packed = first_status_of(&statuses, "Pending Shipment").unwrap();
        assert_eq!(packed, 302, "the first unarchived by position");

        // A 429 first: tried again (it cannot have landed); the write lands once.
        emu.inject(Fault::TooMany);
        let state = c.put_status(3, packed).await.unwrap();
        assert_eq!(
            (state.status_id, state.parent.as_deref()),
            (302, Some("Pending Shipment"))
        );
        let writes = emu.writes();
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert_eq!(writes[0].body, json!({"order_status_id": 302}));
        assert_eq!((writes[0].order_id, writes[0].status), (3, 200));
        assert_eq!(c.order(3).await.unwrap().0.status_id, 302);

        // A status of another deal flow: Apex's 400 in its words, not retried.
        let e = c.put_status(3, 402).await.unwrap_err();
        assert_eq!(e.status(), Some(400));
        assert_eq!(e.failure(), Failure::Refused);
        assert!(
            e.to_string()
                .contains("does not belong to this order's deal flow"),
            "{e}"
        );
        assert!(!e.uncertain());

        // A 500: not retried (it may have landed), said to be uncertain.
        let before = emu.requests();
        emu.inject(Fault::ServerError);
        let e = c.put_status(3, 303).await.unwrap_err();
        assert_eq!((e.status(), e.failure()), (Some(500), Failure::Retry));
        assert!(e.uncertain(), "{e:?}");
        assert_eq!(emu.requests() - before, 1, "one request, no retry");

        // No answer within the timeout: the write landed, the client cannot know.
        emu.inject(Fault::Delay(Duration::from_secs(3)));
        let e = c.put_status(3, 303).await.unwrap_err();
        assert!(matches!(e, ApexError::Timeout { sent: true, .. }), "{e:?}");
        assert!(e.uncertain() && e.status().is_none());
        hub::eventually("the delayed write lands", || {
            emu.order(3).unwrap()["order_status_id"] == 303
        });
        assert_eq!(emu.writes().len(), 3, "sent once each: {:?}", emu.writes());

        // A token without the ability: the key error, for a person.
        emu.set_abilities(&["view:shipping-orders"]);
        let e = c.put_status(3, 304).await.unwrap_err();
        assert_eq!((e.status(), e.failure()), (Some(403), Failure::Key));
        assert!(e.to_string().contains("update:shipping-orders"), "{e}");
    });
    // Nothing listening: refused before sending, so tried again, and never uncertain.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = rt()
        .block_on(client(&format!("http://{closed}/api"), 1).put_status(3, 303))
        .unwrap_err();
    assert!(matches!(e, ApexError::Network { sent: false, .. }), "{e:?}");
    assert!(!e.uncertain() && e.failure() == Failure::Retry);
}

#[test]
fn an_apex_file_imports_as_an_order_file() {
    let site = Site::new();
    site.ok(&[
        "import",
        "packages",
        demo_file("packages.json").to_str().unwrap(),
    ]);
    let out = site.ok(&[
        "import",
        "order",
        demo_file("apex-orders.json").to_str().unwrap(),
    ]);
    assert!(out.contains("4"), "{out}");
    let buyer: String = site.sql("SELECT buyer FROM orders WHERE number = 'AX-2002'");
    assert_eq!(buyer, "Leaf & Co");
}

#[test]
fn a_hub_with_apex_set_pulls_orders_while_it_serves() {
    let (emu, site, url) = setup();
    let h = hub::TestHub::serve_with(
        hub::open(&site.db()),
        None,
        HubOptions {
            apex: Some(ApexSettings {
                base_url: url,
                token: Secret::new(TOKEN),
                poll_seconds: 1,
                per_page: 3,
                ..ApexSettings::default()
            }),
            ..HubOptions::default()
        },
    );
    // Order 7 has no parent in its answer and no status_ids here: not taken.
    hub::eventually("the hub pulls the orders", || {
        site.sql::<i64>("SELECT count(*) FROM orders") == 6
    });
    emu.put_order(order(30, Value::Null, ("order_price", json!("9.00"))));
    hub::eventually("a new order reaches the hub on its next poll", || {
        site.sql::<i64>("SELECT count(*) FROM orders") == 7
    });
    h.stop();
}

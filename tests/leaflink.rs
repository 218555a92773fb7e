//! The LeafLink client against the LeafLink emulator on a loopback port: `tagtally
//! leaflink pull` (a real child process on a real database) follows every page,
//! reads each customer given by id once, accepts every shape B2B-API.md lists,
//! refuses an order that breaks the one-batch rule alone and takes it once it is
//! fixed, closes a cancelled order, and rides out 429s and 500s; a hub with
//! `[leaflink]` pulls while it serves.

use std::sync::Arc;

use serde_json::{Value, json};
use tagtally::config::{LeafLinkSettings, Secret};
use tagtally::hub::HubOptions;
use tagtally::leaflink::emulator::{Emulator, Fault};

#[path = "support/site.rs"]
mod site;
use site::{Site, demo_file};

#[path = "support/hub.rs"]
mod hub;

const KEY: &str = "ll-key-secret";
const P: &str = "1A4060300003C350000";

fn t(n: u32) -> String {
    format!("{P}{n:05}")
}

/// A LeafLink order `n` for customer `customer`, one line of Blue Dream with `tags`
/// (in the shape given) and money in the shape given.
fn order(n: u32, customer: i64, tags: Value, price: Value) -> Value {
    json!({
        "number": format!("ll-{n:04}-uuid"), "short_id": format!("LL{n:04}"),
        "status": "Accepted", "ship_date": "2026-12-03",
        "customer": {"id": customer, "display_name": format!("Dispensary {customer}"), "delinquent": false},
        "total": {"amount": 594, "currency": "USD"},
        "line_items": [{
            "id": n * 10, "product": if n.is_multiple_of(2) { json!(101) } else { json!({"id": 101, "sku": "BD-35", "name": "Blue Dream 3.5g"}) },
            "quantity": "48.0000", "unit_of_measure": "Unit", "batch": null,
            "package_tags": tags, "ordered_unit_price": price, "is_packed": false
        }]
    })
}

/// The emulator with seven orders in every shape, customers 41 and 42 (each order
/// answering only the id), and a site holding the demo packages that talks to it.
fn setup() -> (Arc<Emulator>, Site) {
    let orders = vec![
        order(
            1,
            41,
            json!([t(10001), t(10002)]),
            json!({"amount": "18.00", "currency": "USD"}),
        ),
        order(
            2,
            41,
            json!(format!("{}, {}", t(10003), t(10004))),
            json!({"amount": 18, "currency": "USD"}),
        ),
        order(
            3,
            42,
            Value::Null,
            json!({"amount": 18.5, "currency": "USD"}),
        ),
        order(4, 42, json!([]), json!("18.00")),
        order(5, 41, Value::Null, Value::Null),
        order(
            6,
            42,
            Value::Null,
            json!({"amount": "7", "currency": "USD"}),
        ),
        order(
            7,
            41,
            Value::Null,
            json!({"amount": "7.25", "currency": "USD"}),
        ),
    ];
    let emu = Emulator::new(KEY, orders);
    emu.customer_ids_only(true);
    emu.put_customer(41, json!({"id": 41, "display_name": "Green Door Dispensary", "license_number": "C10-0000481-LIC"}));
    emu.put_customer(
        42,
        json!({"id": 42, "name": "Leaf & Co", "license_number": "C10-0000777-LIC"}),
    );
    let url = emu.spawn();
    let site = Site::new();
    site.ok(&[
        "import",
        "packages",
        demo_file("packages.json").to_str().unwrap(),
    ]);
    configure(&site, &url, KEY);
    (emu, site)
}

fn configure(site: &Site, url: &str, key: &str) {
    let dir = site.dir.path().join("tagtally");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[leaflink]\nbase_url = \"{url}\"\napi_key = \"{key}\"\npage_size = 3\n\
             max_requests_per_minute = 300\ntimeout_seconds = 5\n"
        ),
    )
    .unwrap();
}

#[test]
fn a_pull_takes_every_page_every_shape_and_each_customer_once() {
    let (emu, site) = setup();
    let out = site.ok(&["leaflink", "pull"]);
    // 7 orders on pages of 3: 3 pages; customers 41 and 42 read once each.
    assert!(
        out.contains("3 pages, 5 requests, 7 orders read: 7 new"),
        "{out}"
    );
    assert!(out.contains("2 customers"), "{out}");
    let paths = emu.paths();
    assert!(
        paths.iter().all(|p| p.ends_with('/')),
        "every path ends in a slash: {paths:?}"
    );
    let orders = site.ok(&["orders"]);
    for n in 1..=7 {
        assert!(orders.contains(&format!("ll-{n:04}-uuid")), "{orders}");
    }
    // The customer's record gave the buyer and the license.
    let license: String =
        site.sql("SELECT buyer_license FROM orders WHERE number = 'll-0003-uuid'");
    assert_eq!(license, "C10-0000777-LIC");
    let buyer: String = site.sql("SELECT buyer FROM orders WHERE number = 'll-0001-uuid'");
    assert_eq!(buyer, "Green Door Dispensary");
    // Tags as a list and as one string are the allocation; the batch from the packages.
    let allocated: i64 = site.sql(
        "SELECT count(*) FROM allocations WHERE order_number IN ('ll-0001-uuid', 'll-0002-uuid')",
    );
    assert_eq!(allocated, 4);
    let batch: String =
        site.sql("SELECT batch FROM order_lines WHERE order_number = 'll-0002-uuid'");
    assert_eq!(batch, "BD-0412");
    // Money as a string, a whole number, a fraction and bare.
    let cents: i64 =
        site.sql("SELECT unit_price_cents FROM order_lines WHERE order_number = 'll-0003-uuid'");
    assert_eq!(cents, 1850);
    let cents: i64 =
        site.sql("SELECT unit_price_cents FROM order_lines WHERE order_number = 'll-0002-uuid'");
    assert_eq!(cents, 1800);

    // Again: the overlap sends them again, none written twice; customers are kept.
    let requests = emu.requests();
    let out = site.ok(&["leaflink", "pull"]);
    assert!(out.contains("0 new, 0 updated, 7 unchanged"), "{out}");
    assert_eq!(
        emu.requests() - requests,
        3,
        "three pages, no customer read again"
    );

    // The coordinator takes a picked package off the order: the new version is
    // taken, the picks stay, and the package is an exception for a supervisor.
    let a = site.pick_json("LL0001", format!("{}\n{}\n", t(10001), t(10002)).as_bytes());
    assert_eq!(a[1]["complete"], true, "{a:?}");
    assert!(emu.change(
        "ll-0001-uuid",
        json!({"line_items": [{"id": 10, "product": 101, "quantity": "24.0000",
            "unit_of_measure": "Unit", "batch": null, "package_tags": [t(10001)],
            "ordered_unit_price": {"amount": "18.00", "currency": "USD"}}]})
    ));
    let out = site.ok(&["leaflink", "pull"]);
    assert!(
        out.contains("1 updated")
            && out.contains(&format!(
                "exception: ll-0001-uuid: {} was picked but LeafLink no longer orders it",
                t(10002)
            )),
        "{out}"
    );
    let picks: i64 = site
        .sql("SELECT count(*) FROM events WHERE order_number = 'll-0001-uuid' AND kind = 'scan'");
    assert_eq!(picks, 2, "no pick dropped");

    // The buyer cancels one: closed here, and the floor says so.
    assert!(emu.change("ll-0003-uuid", json!({"status": "Cancelled"})));
    let out = site.ok(&["leaflink", "pull"]);
    assert!(out.contains("1 closed"), "{out}");
    let err = site.fails(&["pick", "LL0003"]);
    assert!(err.contains("closed"), "{err}");
}

#[test]
fn an_order_breaking_the_one_batch_rule_is_refused_alone_until_fixed() {
    let (emu, site) = setup();
    // 10005 is Blue Dream BD-0412, 10011 OG Kush OG-0301: two batches on one line.
    emu.put_order(order(
        8,
        41,
        json!([t(10005), t(10011)]),
        json!({"amount": "18.00", "currency": "USD"}),
    ));
    let out = site.ok(&["leaflink", "pull"]);
    assert!(out.contains("7 new") && out.contains("1 refused"), "{out}");
    assert!(
        out.contains("refused: order ll-0008-uuid refused") && out.contains(&t(10011)),
        "{out}"
    );
    let held: i64 = site.sql("SELECT count(*) FROM orders WHERE number = 'll-0008-uuid'");
    assert_eq!(held, 0, "nothing of it stored");
    // The coordinator fixes it in LeafLink: the next pull takes it.
    assert!(emu.change(
        "ll-0008-uuid",
        json!({"line_items": [{"id": 80, "product": 101, "quantity": "24.0000",
            "unit_of_measure": "Unit", "batch": null, "package_tags": [t(10005)],
            "ordered_unit_price": {"amount": "18.00", "currency": "USD"}}]})
    ));
    let out = site.ok(&["leaflink", "pull"]);
    assert!(out.contains("1 new") && out.contains("0 refused"), "{out}");

    // A line with LeafLink's batch id and no tags: the batch record names Metrc's
    // batch, read once.
    let mut o = order(9, 42, Value::Null, json!("9.00"));
    o["line_items"][0]["batch"] = json!(5521);
    emu.put_order(o);
    emu.put_batch(
        5521,
        json!({"id": 5521, "production_batch_number": "OG-0301"}),
    );
    let out = site.ok(&["leaflink", "pull"]);
    assert!(
        out.contains("1 new") && out.contains("1 batches read"),
        "{out}"
    );
    let batch: String =
        site.sql("SELECT batch FROM order_lines WHERE order_number = 'll-0009-uuid'");
    assert_eq!(batch, "OG-0301");
}

#[test]
fn throttling_failures_and_a_wrong_key_end_in_clear_words() {
    let (emu, site) = setup();
    emu.inject(Fault::TooMany {
        retry_after: Some(1),
    });
    emu.inject(Fault::TooMany { retry_after: None });
    emu.inject(Fault::ServerError);
    let out = site.ok(&["leaflink", "pull"]);
    assert!(out.contains("7 new"), "{out}");

    configure(&site, &emu_url(&emu, &site), "not-the-key");
    let err = site.fails(&["leaflink", "pull"]);
    assert!(
        err.contains("LeafLink refused the API key") && err.contains("api_key"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-key"),
        "the key is never shown: {err}"
    );
    let status = site.ok(&["leaflink", "status"]);
    assert!(status.contains("refused the API key"), "{status}");
    // The keys never reach the database.
    let db = std::fs::read(site.db()).unwrap();
    assert!(!db.windows(KEY.len()).any(|w| w == KEY.as_bytes()));
}

/// The emulator's URL, as the site's settings hold it.
fn emu_url(_emu: &Emulator, site: &Site) -> String {
    let text =
        std::fs::read_to_string(site.dir.path().join("tagtally").join("config.toml")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("base_url = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap()
        .to_string()
}

#[test]
fn the_emulator_answers_a_path_without_its_slash_with_leaflink_s_400() {
    let emu = Emulator::new(KEY, vec![]);
    let url = emu.spawn();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, body) = rt.block_on(async {
        let r = reqwest::Client::new()
            .get(format!("{url}orders-received"))
            .header("Authorization", format!("App {KEY}"))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    assert_eq!(status, 400);
    assert!(body.contains("must end in a slash"), "{body}");
}

#[test]
fn a_hub_with_leaflink_set_pulls_orders_while_it_serves() {
    let (emu, site) = setup();
    let url = emu_url(&emu, &site);
    let h = hub::TestHub::serve_with(
        hub::open(&site.db()),
        None,
        HubOptions {
            leaflink: Some(LeafLinkSettings {
                base_url: url,
                api_key: Secret::new(KEY),
                poll_seconds: 1,
                page_size: 3,
                max_requests_per_minute: 300,
                ..LeafLinkSettings::default()
            }),
            ..HubOptions::default()
        },
    );
    hub::eventually("the hub pulls the orders", || {
        site.sql::<i64>("SELECT count(*) FROM orders") == 7
    });
    emu.put_order(order(9, 42, Value::Null, json!("9.00")));
    hub::eventually("a new order reaches the hub on its next poll", || {
        site.sql::<i64>("SELECT count(*) FROM orders") == 8
    });
    h.stop();
}

#[test]
fn a_line_reduced_below_what_was_picked_keeps_the_picks_and_becomes_an_exception() {
    let (emu, site) = setup();
    site.ok(&["leaflink", "pull"]);
    let a = site.pick_json("LL0001", format!("{}\n{}\n", t(10001), t(10002)).as_bytes());
    assert_eq!(a[1]["verdict"], "accepted", "{a:?}");
    // The buyer cuts the line to one package in LeafLink.
    let mut o = order(
        1,
        41,
        json!([t(10001)]),
        json!({"amount": "18.00", "currency": "USD"}),
    );
    o["line_items"][0]["quantity"] = json!("24.0000");
    emu.put_order(o);
    let out = site.ok(&["leaflink", "pull"]);
    assert!(out.contains("1 updated"), "{out}");
    assert!(
        out.contains(&format!(
            "exception: ll-0001-uuid: {} was picked but LeafLink no longer orders it",
            t(10002)
        )),
        "{out}"
    );
    // Nothing is dropped: both picks stand in the log, and the hub's merge (the one
    // a supervisor sees) raises the package that is no longer allocated.
    let store = hub::open(&site.db());
    let order = store.find_order("ll-0001-uuid").unwrap();
    assert_eq!(order.allocations().count(), 1);
    let events = store.events_for_order(&order.number).unwrap();
    let (list, _) = store.pick_list(&order).unwrap();
    let tags: Vec<_> = order.allocations().map(|a| a.tag).collect();
    let packages = store.packages(&tags).unwrap();
    let merged = tagtally::domain::merge::merge(
        &list,
        &packages,
        &tagtally::domain::Rules::default(),
        chrono::Local::now().date_naive(),
        &events,
    )
    .view(&list);
    assert_eq!(merged.exceptions.len(), 1, "{merged:?}");
    let e = &merged.exceptions[0];
    assert_eq!(e.tag.as_ref().map(|t| t.to_string()), Some(t(10002)));
    assert!(e.message.contains("no longer"), "{}", e.message);
}

#[test]
fn an_order_allocated_here_is_unchanged_when_leaflink_sends_it_again() {
    let emu = Emulator::new(
        KEY,
        vec![order(
            21,
            41,
            Value::Null,
            json!({"amount": "18.00", "currency": "USD"}),
        )],
    );
    let url = emu.spawn();
    let site = Site::new();
    site.ok(&[
        "import",
        "packages",
        demo_file("packages.json").to_str().unwrap(),
    ]);
    configure(&site, &url, KEY);
    let out = site.ok(&["leaflink", "pull"]);
    assert!(out.contains("1 new"), "{out}");
    site.ok(&["items", "map", "BD-35", "Blue Dream 3.5g"]);
    site.ok(&["allocate", "LL0021", "--accept"]);
    assert_eq!(site.sql::<i64>("SELECT count(*) FROM allocations"), 2);
    // LeafLink sends the order again as it was (the pulls overlap): nothing to write.
    let out = site.ok(&["leaflink", "pull"]);
    assert!(out.contains("1 unchanged"), "{out}");
    assert_eq!(site.sql::<i64>("SELECT count(*) FROM allocations"), 2);

    // One package picked, then the buyer halves the line in LeafLink: the
    // allocation no longer sums to the line, so it is not kept (allocate again),
    // and the package already picked stands as an exception for a supervisor.
    let a = site.pick_json("LL0021", format!("{}\n", t(10001)).as_bytes());
    assert_eq!(a[0]["verdict"], "accepted", "{a:?}");
    let mut o = order(
        21,
        41,
        Value::Null,
        json!({"amount": "18.00", "currency": "USD"}),
    );
    o["line_items"][0]["quantity"] = json!("24.0000");
    emu.put_order(o);
    let out = site.ok(&["leaflink", "pull"]);
    assert!(
        out.contains("1 updated")
            && out.contains(&format!(
                "exception: ll-0021-uuid: {} was picked but LeafLink no longer orders it",
                t(10001)
            )),
        "{out}"
    );
    assert_eq!(site.sql::<i64>("SELECT count(*) FROM allocations"), 0);
    let picks: i64 = site.sql("SELECT count(*) FROM events WHERE kind = 'scan'");
    assert_eq!(picks, 1, "no pick dropped");
}

//! The transfer template of a confirmed load, posted to the Metrc emulator on a
//! loopback port exactly once: by `tagtally metrc push` (a real child process on a
//! real database) and by a hub with `push_templates`. A timeout after Metrc stored
//! it, a kill -9 mid-post, 429s, a 500, wrong keys and a load that changed after it
//! was posted each end with one template in Metrc (or none) and a clear message.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tagtally::config::{MetrcSettings, Secret, ShipSettings};
use tagtally::hub::HubOptions;
use tagtally::metrc::emulator::{Emulator, Fault};

#[path = "support/site.rs"]
mod site;
use site::{Site, demo_file};

#[path = "support/hub.rs"]
mod hub;

const LICENSE: &str = "C11-0000224-LIC";
const P: &str = "1A4060300003C350000";

fn t(n: u32) -> String {
    format!("{P}{n:05}")
}

fn lines(tags: &[u32]) -> Vec<u8> {
    tags.iter()
        .map(|n| format!("{}\n", t(*n)))
        .collect::<String>()
        .into_bytes()
}

fn emulator() -> (Arc<Emulator>, String) {
    let bytes = std::fs::read(demo_file("packages.json")).unwrap();
    let emu = Emulator::new(
        LICENSE,
        "vendor-k",
        "user-k-secret",
        Emulator::packages_of(&bytes).unwrap(),
    );
    let url = emu.spawn();
    (emu, url)
}

/// The site's settings: the shipper, and Metrc at `url` with `user_key`.
fn configure(site: &Site, url: &str, user_key: &str, timeout: u64) {
    let dir = site.dir.path().join("tagtally");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[ship]\nfacility_name = \"Demo Wholesale LLC\"\nphone = \"916-555-0100\"\n\n\
             [metrc]\nbase_url = \"{url}\"\nlicense_number = \"{LICENSE}\"\n\
             vendor_key = \"vendor-k\"\nuser_key = \"{user_key}\"\n\
             timeout_seconds = {timeout}\nmax_requests_per_second = 50\n"
        ),
    )
    .unwrap();
}

/// SO-1002 (10005, 10006) picked and loaded on a site that talks to `url`.
fn loaded(url: &str, timeout: u64) -> Site {
    let site = Site::demo();
    configure(&site, url, "user-k-secret", timeout);
    let a = site.pick_json("SO-1002", &lines(&[10005, 10006]));
    assert_eq!(a[1]["complete"], true, "{a:?}");
    site.json_lines(&["load", "SO-1002", "--json"], &lines(&[10005, 10006]));
    site
}

/// The load of SO-1002 confirmed.
fn confirm(site: &Site) {
    site.ok(&[
        "load",
        "SO-1002",
        "--confirm",
        "--driver",
        "Dee Driver",
        "--occupational-license",
        "OL-55501",
        "--drivers-license",
        "D1234567",
        "--make",
        "Ford",
        "--model",
        "Transit",
        "--plate",
        "8abc 123",
    ]);
}

/// SO-1002 picked, loaded and confirmed on a site that talks to `url`.
fn confirmed(url: &str, timeout: u64) -> Site {
    let site = loaded(url, timeout);
    confirm(&site);
    site
}

/// Long enough after a try whose answer was lost (twice the timeout) for the next
/// push to look for it.
fn settle(timeout: u64) {
    std::thread::sleep(Duration::from_millis(timeout * 2000 + 100));
}

fn manifest_template(site: &Site) -> Value {
    serde_json::from_str(&site.ok(&["manifest", "SO-1002", "--format", "metrc-template"])).unwrap()
}

#[test]
fn a_confirmed_load_is_posted_once_exactly_as_the_manifest_template() {
    let (emu, url) = emulator();
    let site = confirmed(&url, 5);
    let out = site.ok(&["metrc", "push", "SO-1002"]);
    let templates = emu.templates();
    assert_eq!(templates.len(), 1, "{out}");
    let (id, name) = &templates[0];
    assert!(
        out.contains(&format!("{name:?} posted; Metrc's id {id}")),
        "{out}"
    );
    assert!(name.starts_with("L-SO-1002-"), "{name}");
    // What Metrc holds is what `manifest --format metrc-template` prints.
    assert_eq!(
        Value::Array(vec![emu.template_body(*id).unwrap()]),
        manifest_template(&site)
    );

    // Again: nothing posted, and it says so.
    let requests = emu.requests();
    let out = site.ok(&["metrc", "push", "SO-1002"]);
    assert!(
        out.contains("was already posted") && out.contains("nothing posted"),
        "{out}"
    );
    assert_eq!(emu.templates().len(), 1);
    assert_eq!(emu.requests(), requests, "a second push asks Metrc nothing");
    let status = site.ok(&["metrc", "status"]);
    assert!(status.contains(&format!("posted as {id}")), "{status}");
    // The keys never reach the database.
    let db = std::fs::read(site.db()).unwrap();
    assert!(!db.windows(13).any(|w| w == b"user-k-secret"));
}

#[test]
fn a_timeout_after_metrc_stored_the_template_leaves_exactly_one() {
    let (emu, url) = emulator();
    let site = confirmed(&url, 1);
    emu.slow_after_write(Duration::from_secs(3));
    let out = site.run(&["metrc", "push", "SO-1002"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("not posted yet") && text.contains("tried again at"),
        "{text}"
    );
    assert_eq!(
        emu.templates().len(),
        1,
        "Metrc stored it before the timeout"
    );
    let tries: i64 = site.sql("SELECT attempts FROM metrc_writes");
    assert_eq!(tries, 1);

    // Straight away: the answer may still be on its way into Metrc; nothing sent.
    let out = site.run(&["metrc", "push", "SO-1002"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && text.contains("may still reach Metrc"),
        "{text}"
    );
    // Once it has settled, the next push looks first, finds it, and posts nothing.
    settle(1);
    let out = site.ok(&["metrc", "push", "SO-1002"]);
    let (id, _) = emu.templates()[0].clone();
    assert!(
        out.contains(&format!("already in Metrc (id {id})")) && out.contains("nothing posted"),
        "{out}"
    );
    assert_eq!(emu.templates().len(), 1);
    let out = site.ok(&["metrc", "push", "SO-1002"]);
    assert!(out.contains("was already posted"), "{out}");
    assert_eq!(emu.templates().len(), 1);
}

#[test]
fn a_push_killed_mid_post_is_finished_by_the_next_without_a_second_template() {
    let (emu, url) = emulator();
    let site = confirmed(&url, 60);
    emu.slow_after_write(Duration::from_secs(60));
    let mut child = site
        .cmd(&["metrc", "push", "SO-1002"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    hub::eventually("the template stored while the push waits", || {
        emu.templates().len() == 1
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // The dead process's lease is no obstacle; the try it counted makes the next
    // push look before it posts (once it has settled: the timeout made short).
    configure(&site, &url, "user-k-secret", 1);
    settle(1);
    let out = site.ok(&["metrc", "push", "SO-1002"]);
    assert!(out.contains("already in Metrc"), "{out}");
    assert_eq!(emu.templates().len(), 1);
}

#[test]
fn throttled_and_failed_posts_end_with_one_template() {
    let (emu, url) = emulator();
    let site = confirmed(&url, 5);
    // Two 429s: a write refused before anything was done is sent again at once.
    emu.inject(Fault::TooMany {
        retry_after: Some(1),
    });
    emu.inject(Fault::TooMany { retry_after: None });
    let out = site.ok(&["metrc", "push", "SO-1002"]);
    assert!(out.contains("posted; Metrc's id"), "{out}");
    assert_eq!(emu.templates().len(), 1);

    // A 500 on a second site's post: not sent again blindly (it may have been
    // stored); the next push lists, finds nothing, and posts.
    let (emu, url) = emulator();
    let site = confirmed(&url, 1);
    emu.inject(Fault::ServerError);
    let out = site.run(&["metrc", "push", "SO-1002"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && text.contains("500"), "{text}");
    assert_eq!(emu.templates().len(), 0);
    settle(1);
    let out = site.ok(&["metrc", "push", "SO-1002"]);
    assert!(out.contains("posted; Metrc's id"), "{out}");
    assert_eq!(emu.templates().len(), 1);
    let tries: i64 = site.sql("SELECT attempts FROM metrc_writes");
    assert_eq!(tries, 2);

    // Metrc takes a post and says no id ("No response"): never posted again; the
    // listing finds it.
    let (emu, url) = emulator();
    let site = confirmed(&url, 1);
    emu.post_without_ids(true);
    let out = site.run(&["metrc", "push", "SO-1002"], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && text.contains("not posted yet"),
        "{text}"
    );
    assert_eq!(emu.templates().len(), 1);
    settle(1);
    let out = site.ok(&["metrc", "push", "SO-1002"]);
    assert!(out.contains("already in Metrc"), "{out}");
    assert_eq!(emu.templates().len(), 1);
    let tries: i64 = site.sql("SELECT attempts FROM metrc_writes");
    assert_eq!(tries, 1, "sent once");
}

#[test]
fn wrong_keys_and_an_unconfirmed_load_post_nothing_and_say_why() {
    let (emu, url) = emulator();
    let site = confirmed(&url, 5);
    configure(&site, &url, "not-the-key", 5);
    let err = site.fails(&["metrc", "push", "SO-1002"]);
    assert!(err.contains("Metrc refused template"), "{err}");
    assert!(
        !err.contains("not-the-key"),
        "the key is never shown: {err}"
    );
    assert_eq!(emu.templates().len(), 0);
    let status = site.ok(&["metrc", "status"]);
    assert!(status.contains("waits for a person"), "{status}");
    // With the right keys the same push goes through.
    configure(&site, &url, "user-k-secret", 5);
    let out = site.ok(&["metrc", "push", "SO-1002"]);
    assert!(out.contains("posted"), "{out}");
    assert_eq!(emu.templates().len(), 1);

    // An order whose load is not confirmed has no template.
    let err = site.fails(&["metrc", "push", "SO-1001"]);
    assert!(err.contains("no confirmed load"), "{err}");
    assert_eq!(emu.templates().len(), 1);
}

#[test]
fn an_order_posted_on_another_load_is_refused_rather_than_posted_twice() {
    let (emu, url) = emulator();
    let site = confirmed(&url, 5);
    // The record of an earlier load of SO-1002 that Metrc has (another dock's
    // confirmation, since overruled): its packages are on that template.
    {
        let mut store = hub::open(&site.db());
        let now = chrono::Utc::now();
        let w = store
            .queue_template(
                "L-SO-1002-OTHER",
                "L-SO-1002-OTHER 2026-12-01",
                "[]",
                &format!(
                    "load L-SO-1002-OTHER\nSO-1002 C11-0000002-LIC {}\n",
                    t(10005)
                ),
                &["SO-1002".into()],
                now,
            )
            .unwrap();
        let until = now + chrono::Duration::minutes(1);
        assert!(store.lease_metrc_write(w.id, now, until).unwrap());
        assert!(store.metrc_write_attempt(w.id, now, until).unwrap());
        store.metrc_write_posted(w.id, 41, now).unwrap();
        store.release_metrc_write(w.id).unwrap();
    }
    let err = site.fails(&["metrc", "push", "SO-1002"]);
    assert!(
        err.contains("changed after its template went to Metrc")
            && err.contains("template 41")
            && err.contains("nothing was posted"),
        "{err}"
    );
    assert!(err.contains(&format!("{} added", t(10006))), "{err}");
    assert_eq!(emu.templates().len(), 0);
}

#[test]
fn a_hub_with_push_templates_posts_each_confirmed_load_once() {
    let (emu, url) = emulator();
    // Loaded, and confirmed once the hub serves: a load confirmed before the hub
    // ever posted templates was sent by hand, if at all, and the hub leaves it.
    let site = loaded(&url, 5);
    let metrc = MetrcSettings {
        base_url: url.clone(),
        license_number: LICENSE.into(),
        vendor_key: Secret::new("vendor-k"),
        user_key: Secret::new("user-k-secret"),
        poll_seconds: 0,
        push_templates: true,
        max_requests_per_second: 50,
        timeout_seconds: 5,
        ..MetrcSettings::default()
    };
    let ship = ShipSettings {
        facility_name: "Demo Wholesale LLC".into(),
        facility_license: LICENSE.into(),
        phone: "916-555-0100".into(),
        ..ShipSettings::default()
    };
    let h = hub::TestHub::serve_with(
        hub::open(&site.db()),
        None,
        HubOptions {
            ship,
            metrc: Some(metrc),
            ..HubOptions::default()
        },
    );
    hub::eventually("the hub's writer starts", || {
        site.sql::<i64>("SELECT count(*) FROM meta WHERE key = 'metrc_push_templates_since'") == 1
    });
    confirm(&site);
    hub::eventually("the hub posts the load confirmed while it serves", || {
        emu.templates().len() == 1
    });
    hub::eventually("the hub records Metrc's id", || {
        site.ok(&["metrc", "status"]).contains("posted as")
    });
    // The command line agrees: already posted, nothing sent.
    let out = site.ok(&["metrc", "push", "SO-1002"]);
    assert!(out.contains("was already posted"), "{out}");
    h.stop();
    assert_eq!(emu.templates().len(), 1);
}

/// A signature PNG with ink.
fn signature(site: &Site) -> String {
    let mut img = image::GrayImage::from_pixel(300, 120, image::Luma([255]));
    for x in 20..280u32 {
        let y = 60.0 + 30.0 * ((x as f32) / 20.0).sin();
        img.put_pixel(x, y as u32, image::Luma([0]));
        img.put_pixel(x, y as u32 + 1, image::Luma([0]));
    }
    let path = site.dir.path().join("sig.png");
    img.save(&path).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn metrc_s_receipt_is_read_back_and_shown_beside_the_driver_s() {
    let (emu, url) = emulator();
    let site = confirmed(&url, 5);
    // No transfer yet: a pull reads the outgoing transfers and keeps nothing.
    let out = site.ok(&["metrc", "pull"]);
    assert!(out.contains("0 deliveries kept"), "{out}");
    site.ok(&["metrc", "push", "SO-1002"]);
    let (template, _) = emu.templates()[0].clone();
    // A person registers the template as a transfer in Metrc.
    let (_, deliveries) = emu.register(template).unwrap();

    // The driver: 10005 accepted, 10006 rejected, signed.
    site.json_lines(&["deliver", "SO-1002", "--json"], &lines(&[10005]));
    site.ok(&[
        "deliver",
        "SO-1002",
        "--reject",
        &t(10006),
        "--reason",
        "damaged",
    ]);
    let sig = signature(&site);
    site.ok(&[
        "deliver",
        "SO-1002",
        "--finish",
        "--receiver",
        "Rae Receiver",
        "--signature",
        &sig,
    ]);
    // Before Metrc has the receipt: within the day, nothing to say.
    let out = site.ok(&["metrc", "pull"]);
    assert!(out.contains("1 deliveries kept"), "{out}");
    let status = site.ok(&["status", "SO-1002"]);
    assert!(status.contains("not received yet"), "{status}");
    assert!(!status.contains("exception:"), "{status}");

    // The receiver records the opposite of what the driver did, in Metrc.
    assert!(emu.receive(deliveries[0], &[(&t(10005), "Rejected")]));
    let out = site.ok(&["metrc", "pull"]);
    assert!(out.contains("1 deliveries kept"), "{out}");
    let status = site.ok(&["status", "SO-1002"]);
    assert!(
        status.contains("1 accepted, 1 rejected of 2") && status.contains("received 20"),
        "{status}"
    );
    assert!(
        status.contains(&format!(
            "exception: {}: the driver recorded it accepted, Metrc says Rejected",
            t(10005)
        )),
        "{status}"
    );
    assert!(
        status.contains(&format!(
            "exception: {}: the driver recorded it rejected, Metrc says the receiver accepted it",
            t(10006)
        )),
        "{status}"
    );
    // The report shows Metrc's state beside the driver's, package by package.
    let report: Value = serde_json::from_str(&site.ok(&["report", "SO-1002"])).unwrap();
    let packages = report["metrc"]["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 2, "{report}");
    let p5 = packages.iter().find(|p| p["tag"] == t(10005)).unwrap();
    assert_eq!(p5["driver"], "accepted");
    assert_eq!(p5["metrc"], "Rejected");
    let p6 = packages.iter().find(|p| p["tag"] == t(10006)).unwrap();
    assert_eq!(p6["metrc"], "Accepted");
    assert_eq!(report["metrc"]["issues"].as_array().unwrap().len(), 2);
    // The delivery report, JSON and PDF, carries Metrc's word beside the driver's.
    let json: Value =
        serde_json::from_str(&site.ok(&["report", "SO-1002", "--format", "json"])).unwrap();
    let p5 = json["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["tag"] == t(10005))
        .unwrap();
    assert_eq!(
        (&p5["outcome"], &p5["metrc_state"]),
        (&Value::from("accepted"), &Value::from("Rejected")),
        "{p5}"
    );
    assert_eq!(json["metrc"]["issues"].as_array().unwrap().len(), 2);
    let pdf = site.dir.path().join("report.pdf");
    site.ok(&[
        "report",
        "SO-1002",
        "--format",
        "pdf",
        "--out",
        pdf.to_str().unwrap(),
    ]);
    let text = std::process::Command::new("pdftotext")
        .args(["-layout", pdf.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext is installed by scripts/setup (poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Metrc's receipt"), "{text}");
    assert!(
        text.contains(&format!(
            "Exception: {}: the driver recorded it accepted",
            t(10005)
        )),
        "{text}"
    );

    // Read again, nothing changed: nothing kept again.
    let out = site.ok(&["metrc", "pull"]);
    assert!(out.contains("0 deliveries kept"), "{out}");
}

#[test]
fn a_hub_killed_mid_post_finishes_the_template_once_when_it_starts_again() {
    use std::io::{BufRead, BufReader};
    let (emu, url) = emulator();
    let site = loaded(&url, 60);
    emu.slow_after_write(Duration::from_secs(120));
    let start = || {
        let mut hub = site
            .cmd(&["hub", "--listen", "127.0.0.1:0"])
            .env("TAGTALLY_METRC__PUSH_TEMPLATES", "true")
            .env("TAGTALLY_METRC__POLL_SECONDS", "0")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(hub.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("tagtally hub listening on"), "{line}");
        hub
    };
    let mut hub = start();
    hub::eventually("the hub's writer starts", || {
        site.sql::<i64>("SELECT count(*) FROM meta WHERE key = 'metrc_push_templates_since'") == 1
    });
    confirm(&site);
    hub::eventually(
        "the hub's post stored while it waits for the answer",
        || emu.templates().len() == 1,
    );
    hub.kill().unwrap(); // SIGKILL, mid-post
    hub.wait().unwrap();
    let status = site.ok(&["metrc", "status"]);
    assert!(status.contains("queued, 1 tries"), "{status}");

    // Started again (the timeout made short, so the lost answer settles soon), the
    // hub's writer looks before it posts, and takes Metrc's id.
    configure(&site, &url, "user-k-secret", 1);
    let mut hub = start();
    hub::eventually("the restarted hub records Metrc's id", || {
        site.ok(&["metrc", "status"]).contains("posted as")
    });
    hub.kill().unwrap();
    hub.wait().unwrap();
    assert_eq!(emu.templates().len(), 1);
}

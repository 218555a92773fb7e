//! The desk in a real browser: headless Chromium driven over WebDriver
//! (chromedriver) against a hub on a loopback port. Sign in, see the board, watch an
//! order's count change after a device pushes a pick (server-sent events, no
//! reload), and a buyer name holding `<script>` and `onerror=` from an imported
//! file shown as text, never run. Makes `docs/screenshots/desk-board-1280x800.png`.
//!
//! `scripts/setup` installs Debian's `chromium` and `chromium-driver`; without them
//! this test fails, unless `TAGTALLY_SKIP_BROWSER_TEST=1` says to skip it (README).

#[path = "support/hub.rs"]
mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;
use tagtally::domain::people::Role;
use thirtyfour::prelude::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a loopback port, ended when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let d = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium at 1280x800 with a fresh profile.
async fn browser(driver: &Driver, profile: &Path) -> WebDriver {
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary(CHROMIUM).unwrap();
    for arg in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,800",
        "--hide-scrollbars",
        &format!("--user-data-dir={}", profile.display()),
    ] {
        caps.add_arg(arg).unwrap();
    }
    let b = WebDriver::new(&driver.url, caps).await.unwrap();
    // The viewport, not the window, is 1280x800: add what the window's frame takes.
    let frame = b
        .execute("return window.outerHeight - window.innerHeight", vec![])
        .await
        .unwrap()
        .json()
        .as_u64()
        .unwrap_or(0) as u32;
    b.set_window_rect(0, 0, 1280, 800 + frame).await.unwrap();
    b
}

/// Wait (at most 20 s, a bound on failing, not a timing assertion) until `js`
/// returns true in the page.
async fn until(b: &WebDriver, js: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = b.execute(js, vec![]).await.unwrap();
        if v.json().as_bool() == Some(true) {
            return;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn text_of(b: &WebDriver, js: &str) -> String {
    b.execute(js, vec![])
        .await
        .unwrap()
        .json()
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn skip_or_require() -> bool {
    if std::env::var_os("TAGTALLY_SKIP_BROWSER_TEST").is_some_and(|v| v == "1") {
        let _ = writeln!(
            std::io::stderr(),
            "note: TAGTALLY_SKIP_BROWSER_TEST=1: the desk's browser test was not run"
        );
        return true;
    }
    assert!(
        Path::new(CHROMIUM).is_file() && Path::new(CHROMEDRIVER).is_file(),
        "{CHROMIUM} or {CHROMEDRIVER} is missing: run scripts/setup (it installs chromium \
         and chromium-driver), or set TAGTALLY_SKIP_BROWSER_TEST=1 to skip this test on purpose"
    );
    false
}

/// A buyer name an imported file may hold: markup that would run if not escaped.
const EVIL_BUYER: &str =
    "<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\">Evil & Co";

const ROW_1001: &str = "tr[data-order='SO-1001']";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_watch_a_pick_arrive_live_and_no_markup_from_a_file_runs() {
    if skip_or_require() {
        return;
    }
    let site = Site::new();
    {
        let mut hub = site.hub_store();
        hub.set_person("Cora", Role::Coordinator, "2468").unwrap();
        hub.set_person("Pia", Role::Picker, "1111").unwrap();
        // An order from a file whose buyer is markup (a CSV as a coordinator imports).
        let csv = site.dir.path().join("evil.csv");
        std::fs::write(
            &csv,
            format!(
                "order,buyer,buyer_license,line,sku,batch,tag\nSO-6666,\"{}\",C10-0000666-LIC,1,\"<img src=x onerror=alert(1)>\",SD-0105,1A4060300003C35000010031\n",
                EVIL_BUYER.replace('"', "\"\"")
            ),
        )
        .unwrap();
        tagtally::app::import_orders(&mut hub, &csv).unwrap();
    }
    let hub = TestHub::start(&site.hub_db(), None);
    let mut dev = site.device("vault-1", &hub.url()).await;

    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let b = browser(&driver, profile.path()).await;
    b.goto(&hub.url()).await.unwrap();
    assert!(
        b.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/desk/sign-in")
    );
    b.find(By::Name("person"))
        .await
        .unwrap()
        .send_keys("Cora")
        .await
        .unwrap();
    b.find(By::Name("pin"))
        .await
        .unwrap()
        .send_keys("2468")
        .await
        .unwrap();
    b.find(By::Css("form.signin button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(&b, "return !!document.getElementById('rows')", "the board").await;
    assert_eq!(b.current_url().await.unwrap().path(), "/desk");
    let who = text_of(&b, "return document.getElementById('who').textContent").await;
    assert!(who.contains("Cora") && who.contains("coordinator"), "{who}");

    // The markup is text: the cell reads as the file wrote it, nothing ran, nothing
    // was added to the page.
    let buyer = text_of(
        &b,
        "return document.querySelector(\"tr[data-order='SO-6666'] td.buyer\").textContent",
    )
    .await;
    assert_eq!(buyer, EVIL_BUYER);
    let injected = b
        .execute(
            "return [typeof window.pwned, document.querySelectorAll('#rows script, #rows img, [onerror]').length]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(injected.json(), &serde_json::json!(["undefined", 0]));

    // Live: the board's stream is open, the order shows nothing picked.
    until(
        &b,
        "return document.getElementById('live').textContent === 'live'",
        "the live stream",
    )
    .await;
    let progress = format!("return document.querySelector(\"{ROW_1001} .big\").textContent");
    let before = text_of(&b, &progress).await;
    assert!(before.starts_with("0 / "), "{before}");
    // A device pushes a pick, Pia signed in on it.
    dev.store.set_signed_in(Some("Pia"));
    assert_eq!(dev.pick(&[T1]), ["accepted"]);
    dev.sync().await.unwrap();
    let after = before.replacen("0 / ", "1 / ", 1);
    until(
        &b,
        &format!("return document.querySelector(\"{ROW_1001} .big\").textContent === {after:?}"),
        "the pick on the board",
    )
    .await;
    let row = text_of(
        &b,
        &format!("return document.querySelector(\"{ROW_1001}\").textContent"),
    )
    .await;
    assert!(
        row.contains("picking") && row.contains("Pia on vault-1"),
        "{row}"
    );
    assert_eq!(
        b.execute(
            "return performance.getEntriesByType('navigation').length",
            vec![]
        )
        .await
        .unwrap()
        .json(),
        &serde_json::json!(1),
        "no reload"
    );
    // Every asset came from the hub.
    let foreign = b
        .execute(
            &format!(
                "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith({:?}))",
                hub.url()
            ),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(foreign.json(), &serde_json::json!([]));

    let shot =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots/desk-board-1280x800.png");
    b.screenshot(&shot).await.unwrap();
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let (w, h) = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert_eq!((w, h), (1280, 800), "the screenshot's size");

    // The order page, from the board's link: the full tags and who picked them.
    b.find(By::Css("tr[data-order='SO-1001'] td.order a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &b,
        "return location.pathname === '/desk/orders/SO-1001'",
        "the order page",
    )
    .await;
    let text = b.find(By::Css("main")).await.unwrap().text().await.unwrap();
    assert!(
        text.contains("1A4060300003C35000010001") && text.contains("picked by Pia on vault-1"),
        "{text}"
    );
    let shot =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots/desk-order-1280x800.png");
    b.screenshot(&shot).await.unwrap();
    assert_eq!(&std::fs::read(&shot).unwrap()[1..4], b"PNG");
    b.goto(&format!("{}/desk", hub.url())).await.unwrap();

    // Sign out: back to sign-in, the board no longer reachable.
    b.find(By::Css("form.who button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &b,
        "return location.pathname === '/desk/sign-in'",
        "the sign-in page",
    )
    .await;
    b.goto(&format!("{}/desk", hub.url())).await.unwrap();
    assert!(
        b.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/desk/sign-in")
    );
    b.quit().await.unwrap();
}

//! The coordinator's desk over HTTP against a real hub on a loopback port: sign-in
//! and the floor's lock-out, sessions (none, forged, expired, signed out), the CSRF
//! token and the same-origin check on every form, and a picker refused a
//! coordinator's action (403, logged, nothing changed). The browser's view of the
//! same pages is `tests/desk_browser.rs`.

#[path = "support/hub.rs"]
mod support;

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use support::*;
use tagtally::domain::EventKind;
use tagtally::domain::people::Role;
use tagtally::hub::{DESK_ROUTES, DeskOptions, HubOptions};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A hub on the demo data with Cora (coordinator, 2468), Pia (picker, 1111) and
/// Sam (supervisor, 9999); with `hold`, every order is on license hold (a register
/// required, none imported).
fn hub(hold: bool, idle: Option<Duration>) -> (Site, TestHub) {
    let site = Site::new();
    let mut store = site.hub_store();
    store.set_person("Cora", Role::Coordinator, "2468").unwrap();
    store.set_person("Pia", Role::Picker, "1111").unwrap();
    store.set_person("Sam", Role::Supervisor, "9999").unwrap();
    store.set_license_required(hold);
    let mut desk = DeskOptions::default();
    if let Some(idle) = idle {
        desk.idle = idle;
    }
    let hub = TestHub::serve_with(
        store,
        None,
        HubOptions {
            desk,
            ..HubOptions::default()
        },
    );
    (site, hub)
}

struct Answer {
    status: StatusCode,
    location: String,
    set_cookie: String,
    body: String,
}

async fn answer(r: reqwest::Response) -> Answer {
    let h = |name| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (location, set_cookie) = (h(LOCATION), h(SET_COOKIE));
    Answer {
        status: r.status(),
        location,
        set_cookie,
        body: r.text().await.unwrap(),
    }
}

async fn get(hub: &TestHub, path: &str, cookie: Option<&str>) -> Answer {
    let mut req = http().get(format!("{}{path}", hub.url()));
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    answer(req.send().await.unwrap()).await
}

/// A form POST, from the hub's own origin unless `origin` says otherwise ("" sends
/// none).
async fn post(
    hub: &TestHub,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
    origin: Option<&str>,
) -> Answer {
    let mut req = http()
        .post(format!("{}{path}", hub.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(urlencoded(form));
    match origin {
        None => req = req.header(ORIGIN, hub.url()),
        Some("") => {}
        Some(o) => req = req.header(ORIGIN, o),
    }
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    answer(req.send().await.unwrap()).await
}

/// A form's fields.
type Form<'a> = &'a [(&'a str, &'a str)];

fn urlencoded(form: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    form.iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Sign in; the cookie to send back (`name=value`).
async fn sign_in(hub: &TestHub, person: &str, pin: &str) -> String {
    let a = post(
        hub,
        "/desk/sign-in",
        None,
        &[("person", person), ("pin", pin)],
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location, "/desk");
    a.set_cookie.split(';').next().unwrap().to_string()
}

/// The CSRF token of the signed-in page.
fn csrf(body: &str) -> String {
    let at = body
        .find("name=\"csrf\" value=\"")
        .expect("a form with the token")
        + 19;
    body[at..].split('"').next().unwrap().to_string()
}

fn releases(site: &Site, order: &str) -> Vec<tagtally::domain::Event> {
    site.hub_store()
        .events_for_order(order)
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::LicenseRelease { .. }))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_see_the_board_and_sign_out() {
    let (_site, hub) = hub(false, None);
    let a = get(&hub, "/", None).await;
    assert_eq!(
        (a.status, a.location.as_str()),
        (StatusCode::SEE_OTHER, "/desk")
    );
    let a = get(&hub, "/desk", None).await;
    assert_eq!(
        (a.status, a.location.as_str()),
        (StatusCode::SEE_OTHER, "/desk/sign-in")
    );
    let a = get(&hub, "/desk/sign-in", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("name=\"person\"") && a.body.contains("name=\"pin\""));

    let a = post(
        &hub,
        "/desk/sign-in",
        None,
        &[("person", "Cora"), ("pin", "2468")],
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(a.set_cookie.contains(attr), "{}", a.set_cookie);
    }
    assert!(
        !a.set_cookie.contains("Secure"),
        "plain HTTP: {}",
        a.set_cookie
    );
    let cookie = a.set_cookie.split(';').next().unwrap().to_string();
    let board = get(&hub, "/desk", Some(&cookie)).await;
    assert_eq!(board.status, StatusCode::OK);
    for text in [
        "SO-1001",
        "Green Door Dispensary",
        "0 / ",
        "allocated",
        "Cora · coordinator",
    ] {
        assert!(board.body.contains(text), "{text} in {}", board.body);
    }
    // Filters: by stage, by search.
    let held = get(&hub, "/desk?stage=on_hold", Some(&cookie)).await;
    assert!(!held.body.contains("data-order=\"SO-1001\""), "not on hold");
    let found = get(&hub, "/desk?q=green+door", Some(&cookie)).await;
    assert!(found.body.contains("data-order=\"SO-1001\""));
    assert!(!found.body.contains("data-order=\"SO-1002\""));
    let by_tag = get(&hub, "/desk?q=C35000010001", Some(&cookie)).await;
    assert!(by_tag.body.contains("data-order=\"SO-1001\""));

    // Sign-out is a form like the others: without its token, refused.
    let token = csrf(&board.body);
    let a = post(&hub, "/desk/sign-out", Some(&cookie), &[], None).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("Refused"), "{}", a.body);
    let a = post(
        &hub,
        "/desk/sign-out",
        Some(&cookie),
        &[("csrf", &token)],
        Some("http://evil.example"),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(
        get(&hub, "/desk", Some(&cookie)).await.status,
        StatusCode::OK,
        "still signed in"
    );
    let a = post(
        &hub,
        "/desk/sign-out",
        Some(&cookie),
        &[("csrf", &token)],
        None,
    )
    .await;
    assert_eq!(
        (a.status, a.location.as_str()),
        (StatusCode::SEE_OTHER, "/desk/sign-in")
    );
    assert!(a.set_cookie.contains("Max-Age=0"), "{}", a.set_cookie);
    let a = get(&hub, "/desk", Some(&cookie)).await;
    assert_eq!(
        (a.status, a.location.as_str()),
        (StatusCode::SEE_OTHER, "/desk/sign-in")
    );

    // Every desk route is served (none falls through to the API's 404).
    for (method, path) in DESK_ROUTES {
        let path = path.replace("{number}", "SO-1001");
        let a = match *method {
            "GET" => get(&hub, &path, None).await,
            _ => post(&hub, &path, None, &[], None).await,
        };
        assert_ne!(a.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_pins_lock_a_person_out_of_the_desk_as_on_the_floor() {
    let (site, hub) = hub(false, None);
    for left in (1..=4).rev() {
        let a = post(
            &hub,
            "/desk/sign-in",
            None,
            &[("person", "Cora"), ("pin", "0000")],
            None,
        )
        .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert!(a.set_cookie.is_empty());
        assert!(
            a.body.contains(&format!("{left} more wrong PIN(s)")),
            "{}",
            a.body
        );
    }
    let a = post(
        &hub,
        "/desk/sign-in",
        None,
        &[("person", "Cora"), ("pin", "0000")],
        None,
    )
    .await;
    assert!(a.body.contains("locked out"), "{}", a.body);
    // The right PIN too, now.
    let a = post(
        &hub,
        "/desk/sign-in",
        None,
        &[("person", "Cora"), ("pin", "2468")],
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(
        a.body.contains("locked out") && a.set_cookie.is_empty(),
        "{}",
        a.body
    );
    let a = post(
        &hub,
        "/desk/sign-in",
        None,
        &[("person", "Nobody"), ("pin", "2468")],
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let log = site.hub_store().security_log().unwrap();
    assert!(
        log.iter()
            .any(|e| e.kind == "desk_locked_out" && e.detail.contains("Cora")),
        "{log:?}"
    );
    // A sign-in posted from another site is refused before the PIN is tried.
    let a = post(
        &hub,
        "/desk/sign-in",
        None,
        &[("person", "Sam"), ("pin", "9999")],
        Some("http://evil.example"),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.set_cookie.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_forged_or_expired_session_does_anything() {
    let (site, hub) = hub(true, Some(Duration::from_millis(200)));
    for cookie in ["tagtally_desk=tt_00ff", "tagtally_desk=", "other=1"] {
        let a = get(&hub, "/desk", Some(cookie)).await;
        assert_eq!(
            (a.status, a.location.as_str()),
            (StatusCode::SEE_OTHER, "/desk/sign-in"),
            "{cookie}"
        );
        let a = post(
            &hub,
            "/desk/orders/SO-1001/release",
            Some(cookie),
            &[("csrf", "x"), ("reason", "r")],
            None,
        )
        .await;
        assert_eq!(
            (a.status, a.location.as_str()),
            (StatusCode::SEE_OTHER, "/desk/sign-in")
        );
        let a = get(&hub, "/desk/live", Some(cookie)).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
    }
    let cookie = sign_in(&hub, "Cora", "2468").await;
    let token = csrf(&get(&hub, "/desk", Some(&cookie)).await.body);
    // Idle past [desk] idle_minutes (here 200 ms): the session has ended.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let a = post(
        &hub,
        "/desk/orders/SO-1001/release",
        Some(&cookie),
        &[("csrf", &token), ("reason", "paper seen")],
        None,
    )
    .await;
    assert_eq!(
        (a.status, a.location.as_str()),
        (StatusCode::SEE_OTHER, "/desk/sign-in")
    );
    assert!(
        a.set_cookie.contains("Max-Age=0"),
        "the stale cookie is cleared"
    );
    assert!(releases(&site, "SO-1001").is_empty(), "nothing done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_releases_a_hold_and_no_forged_form_or_picker_does() {
    let (site, hub) = hub(true, None);
    let pia = sign_in(&hub, "Pia", "1111").await;
    let board = get(&hub, "/desk", Some(&pia)).await;
    assert_eq!(board.status, StatusCode::OK, "a picker may look");
    assert!(board.body.contains("data-stage=\"on_hold\"") && board.body.contains("looking only"));
    assert!(
        !board.body.contains("Release hold"),
        "and is offered no action"
    );
    let token = csrf(&board.body);
    let a = post(
        &hub,
        "/desk/orders/SO-1001/release",
        Some(&pia),
        &[("csrf", &token), ("reason", "paper seen")],
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(
        a.body.contains("Pia is a picker") && a.body.contains("coordinator"),
        "{}",
        a.body
    );
    assert!(releases(&site, "SO-1001").is_empty());
    let log = site.hub_store().security_log().unwrap();
    assert!(
        log.iter().any(|e| e.kind == "desk_refused"
            && e.detail
                .contains("Pia (picker) tried to release the hold on SO-1001")),
        "{log:?}"
    );

    let cora = sign_in(&hub, "Cora", "2468").await;
    let board = get(&hub, "/desk", Some(&cora)).await;
    assert!(board.body.contains("Release hold"));
    let token = csrf(&board.body);
    let path = "/desk/orders/SO-1001/release";
    let refusals: [(Form, Option<&str>); 5] = [
        (&[("reason", "paper seen")], None),
        (&[("csrf", "tt_wrong"), ("reason", "paper seen")], None),
        (
            &[
                ("csrf", &csrf(&get(&hub, "/desk", Some(&pia)).await.body)),
                ("reason", "paper seen"),
            ],
            None,
        ),
        (
            &[("csrf", &token), ("reason", "paper seen")],
            Some("http://evil.example"),
        ),
        (&[("csrf", &token), ("reason", "paper seen")], Some("")),
    ];
    for (form, origin) in refusals {
        let a = post(&hub, path, Some(&cora), form, origin).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{form:?} {origin:?}");
        assert!(a.body.contains("nothing was changed"), "{}", a.body);
    }
    assert!(releases(&site, "SO-1001").is_empty(), "nothing done");
    let log = site.hub_store().security_log().unwrap();
    assert!(log.iter().any(|e| e.kind == "desk_forged_form"), "{log:?}");
    // The rule's own refusal (a reason is needed) is a 403 too.
    let a = post(
        &hub,
        path,
        Some(&cora),
        &[("csrf", &token), ("reason", " ")],
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(a.body.contains("reason"), "{}", a.body);

    let a = post(
        &hub,
        path,
        Some(&cora),
        &[("csrf", &token), ("reason", "paper seen")],
        None,
    )
    .await;
    assert_eq!(
        (a.status, a.location.as_str()),
        (StatusCode::SEE_OTHER, "/desk"),
        "{}",
        a.body
    );
    let done = releases(&site, "SO-1001");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].person.as_deref(), Some("Cora"));
    let board = get(&hub, "/desk?q=SO-1001", Some(&cora)).await;
    assert!(
        board.body.contains("data-stage=\"allocated\"")
            && !board.body.contains("data-stage=\"on_hold\""),
        "{}",
        board.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_page_shows_lines_packages_exceptions_and_the_history() {
    let (site, hub) = hub(false, None);
    // Pia picks one package on vault-1; a pick naming nobody is held for a ruling.
    let mut dev = site.device("vault-1", &hub.url()).await;
    dev.store.set_signed_in(Some("Pia"));
    assert_eq!(dev.pick(&[T1]), ["accepted"]);
    dev.store.set_signed_in(None);
    assert_eq!(dev.pick(&[T2]), ["accepted"]);
    dev.sync().await.unwrap();

    // Without a session: to sign in, nothing shown.
    let a = get(&hub, "/desk/orders/SO-1001", None).await;
    assert_eq!(
        (a.status, a.location.as_str()),
        (StatusCode::SEE_OTHER, "/desk/sign-in")
    );
    // Anyone signed in may look.
    let cookie = sign_in(&hub, "Pia", "1111").await;
    let board = get(&hub, "/desk", Some(&cookie)).await;
    assert!(
        board.body.contains("href=\"/desk/orders/SO-1001\""),
        "the board links each order"
    );
    let a = get(&hub, "/desk/orders/SO-1001", Some(&cookie)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let page = a.body;
    for text in [
        "Green Door Dispensary",
        // The full tag, and who picked it where.
        T1,
        "picked by Pia on vault-1",
        // The lines with their counts (line 1: 4 allocated, 1 counted).
        "<td>1</td><td>Blue Dream 3.5g</td>",
        // The held pick: an exception, and in the history, not counted.
        "not counted",
        &format!("picked {T1} for line 1"),
        &format!("picked {T2} for line 1"),
        "to pull",
    ] {
        assert!(
            page.contains(text),
            "{text:?} missing from the order page:\n{page}"
        );
    }
    assert!(page.contains("exception</span>"), "{page}");
    // Oldest first: T1's pick before T2's.
    assert!(
        page.find(&format!("picked {T1}")).unwrap() < page.find(&format!("picked {T2}")).unwrap()
    );
    // An order the hub does not have: said, not a crash.
    let a = get(&hub, "/desk/orders/NO-SUCH", Some(&cookie)).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.body);
    assert!(a.body.contains("NO-SUCH"), "{}", a.body);
}

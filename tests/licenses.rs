//! The buyer's license through the `tagtally` binary on real SQLite: the register
//! imported whole, orders on license hold listed and refused by the pick, the load
//! (again before its confirmation) and the delivery, each refusal recorded once, and
//! a supervisor's release naming the person.

#[path = "support/site.rs"]
mod site;
use site::*;

const P: &str = "1A4060300003C350000";
/// The demo orders' buyer licenses.
const L1001: &str = "C10-0000481-LIC";
const L1002: &str = "C10-0000733-LIC";

fn lines(tags: &[u32]) -> Vec<u8> {
    tags.iter()
        .map(|n| format!("{P}{n:05}\n"))
        .collect::<String>()
        .into_bytes()
}

const DRIVER: &[&str] = &[
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
];

fn register(site: &Site, name: &str, rows: &[(&str, &str, &str)]) -> String {
    let mut csv = String::from("license_number,status,expiration_date\n");
    for (n, s, x) in rows {
        csv.push_str(&format!("{n},{s},{x}\n"));
    }
    site.file(name, csv)
}

fn import(site: &Site, rows: &[(&str, &str, &str)]) -> String {
    let f = register(site, "register.csv", rows);
    site.ok(&["licenses", "import", &f])
}

fn refusals(site: &Site, order: &str) -> i64 {
    site.sql(&format!(
        "SELECT count(*) FROM events WHERE kind = 'license_refused' AND order_number = '{order}'"
    ))
}

fn with_settings(site: &Site, toml: &str) {
    let dir = site.dir.path().join("tagtally");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!("[ship]\nfacility_name = \"Demo Wholesale LLC\"\nfacility_license = \"C11-0000224-LIC\"\n{toml}"),
    )
    .unwrap();
}

#[test]
fn without_a_register_nothing_is_held() {
    let site = Site::demo();
    assert!(!site.ok(&["orders"]).contains("LICENSE HOLD"));
    let a = site.pick_json("SO-1002", &lines(&[10005]));
    assert_eq!(a[0]["verdict"], "accepted");
    assert!(
        site.ok(&["licenses", "show"])
            .contains("no license register imported")
    );
}

#[test]
fn an_inactive_license_is_held_listed_refused_once_and_released_by_a_supervisor() {
    let site = Site::demo();
    let out = import(
        &site,
        &[
            (L1001, "Active", "2099-12-31"),
            (L1002, "Suspended", "2099-12-31"),
        ],
    );
    assert!(out.contains("2 licenses, 1 active"), "{out}");

    // Listed as such.
    let orders = site.ok(&["orders"]);
    let line = |n: &str| {
        orders
            .lines()
            .find(|l| l.starts_with(n))
            .unwrap()
            .to_string()
    };
    assert!(
        line("SO-1002").contains("LICENSE HOLD (inactive)"),
        "{orders}"
    );
    assert!(!line("SO-1001").contains("LICENSE"), "{orders}");
    let shown = site.ok(&["licenses", "show"]);
    assert!(
        shown.contains("order SO-1002 is on license hold") && !shown.contains("SO-1001"),
        "{shown}"
    );
    let status = site.ok(&["status", "SO-1002"]);
    assert!(
        status.contains(&format!(
            "order SO-1002 is on license hold: buyer license {L1002} is \"Suspended\""
        )),
        "{status}"
    );
    assert_eq!(site.status("SO-1002")["license"]["license"], "held");

    // The pick refuses it with one message, and records the refusal once.
    let err = site.fails(&["pick", "SO-1002"]);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("license hold") && err.contains("cannot be picked"),
        "{err}"
    );
    assert_eq!(refusals(&site, "SO-1002"), 1);
    // Tried again with nothing new: refused again, no second event.
    site.fails(&["pick", "SO-1002"]);
    assert_eq!(refusals(&site, "SO-1002"), 1);
    let e: String = site.sql("SELECT detail FROM events WHERE kind = 'license_refused'");
    assert!(e.contains("\"stage\":\"pick\""), "{e}");
    // The other order picks.
    assert_eq!(
        site.pick_json("SO-1001", &lines(&[10001]))[0]["verdict"],
        "accepted"
    );

    // Only a supervisor releases, with a reason; the release names the person.
    site.ok(&["user", "add", "Pia", "--role", "picker", "--pin", "1111"]);
    site.ok(&[
        "user",
        "add",
        "Sam",
        "--role",
        "supervisor",
        "--pin",
        "9999",
    ]);
    let err = site.fails(&[
        "licenses", "release", "SO-1002", "--reason", "ok", "--person", "Pia", "--pin", "1111",
    ]);
    assert!(err.contains("supervisor"), "{err}");
    let err = site.fails(&[
        "licenses", "release", "SO-1002", "--reason", " ", "--person", "Sam", "--pin", "9999",
    ]);
    assert!(err.contains("a reason is needed"), "{err}");
    let out = site.ok(&[
        "licenses",
        "release",
        "SO-1002",
        "--reason",
        "renewal shown on paper",
        "--person",
        "Sam",
        "--pin",
        "9999",
    ]);
    assert!(
        out.contains("released from its license hold by Sam"),
        "{out}"
    );
    let who: String = site.sql("SELECT person FROM events WHERE kind = 'license_release'");
    assert_eq!(who, "Sam");
    // Released: listed so, and it picks. Releasing again is refused.
    assert!(site.ok(&["orders"]).contains("license released"));
    assert!(site.ok(&["status", "SO-1002"]).contains("released by Sam"));
    let err = site.fails(&[
        "licenses", "release", "SO-1002", "--reason", "again", "--person", "Sam", "--pin", "9999",
    ]);
    assert!(err.contains("not on license hold"), "{err}");
    let a = site.json_lines(
        &[
            "pick", "SO-1002", "--json", "--person", "Pia", "--pin", "1111",
        ],
        &lines(&[10005]),
    );
    assert_eq!(a[0]["verdict"], "accepted");
}

#[test]
fn unknown_expired_and_missing_licenses_are_held() {
    let site = Site::demo();
    import(
        &site,
        &[
            (L1001, "Active", "2020-01-31"),
            ("C10-9999999-LIC", "Active", ""),
        ],
    );
    let s = site.ok(&["status", "SO-1001"]);
    assert!(
        s.contains(&format!("buyer license {L1001} expired on 2020-01-31")),
        "{s}"
    );
    let s = site.ok(&["status", "SO-1002"]);
    assert!(s.contains("is not in the state's license register"), "{s}");
    let orders = site.ok(&["orders"]);
    assert!(
        orders.contains("LICENSE HOLD (expired)") && orders.contains("LICENSE HOLD (unknown)"),
        "{orders}"
    );
    // Numbers compare without case or spaces around them.
    import(
        &site,
        &[(
            &format!(" {} ", L1001.to_lowercase()),
            "ACTIVE",
            "2099-01-31",
        )],
    );
    assert!(!site.ok(&["status", "SO-1001"]).contains("license hold"));
}

#[test]
fn required_without_a_register_holds() {
    let site = Site::demo();
    with_settings(&site, "[licenses]\nrequire = true\n");
    let err = site.fails(&["pick", "SO-1001"]);
    assert!(err.contains("no license register is imported"), "{err}");
}

#[test]
fn the_load_is_checked_again_before_it_is_confirmed_and_the_delivery_refuses() {
    let site = Site::demo();
    with_settings(&site, "");
    import(&site, &[(L1002, "Active", "2099-12-31")]);
    site.pick_json("SO-1002", &lines(&[10005, 10006]));
    let a = site.json_lines(&["load", "SO-1002", "--json"], &lines(&[10005, 10006]));
    assert_eq!(a[1]["complete"], true, "{a:?}");
    // The state revokes the license meanwhile.
    import(&site, &[(L1002, "Revoked", "2099-12-31")]);
    let mut args = vec!["load", "SO-1002", "--confirm"];
    args.extend_from_slice(DRIVER);
    let err = site.fails(&args);
    assert!(
        err.contains("license hold") && err.contains("\"Revoked\""),
        "{err}"
    );
    let confirmed: i64 = site.sql("SELECT count(*) FROM events WHERE kind = 'load_confirm'");
    assert_eq!(confirmed, 0);
    assert_eq!(refusals(&site, "SO-1002"), 1);

    // Active again: confirmed; then revoked: the delivery refuses it.
    import(&site, &[(L1002, "Active", "2099-12-31")]);
    site.ok(&args);
    import(&site, &[(L1002, "Revoked", "2099-12-31")]);
    let err = site.fails(&["deliver", "SO-1002"]);
    assert!(err.contains("cannot be delivered"), "{err}");
    let e: String = site
        .sql("SELECT detail FROM events WHERE kind = 'license_refused' ORDER BY id DESC LIMIT 1");
    assert!(e.contains("\"stage\":\"deliver\""), "{e}");
}

#[test]
fn a_bad_register_is_refused_whole_naming_the_row() {
    let site = Site::demo();
    import(&site, &[(L1001, "Active", ""), (L1002, "Active", "")]);
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "cols.csv",
            "licence,state\nX,Active\n",
            &["no `license_number`", "`status`", "found `licence`"],
        ),
        (
            "garbage.csv",
            "license_number,status,expiration_date\nA-1,Active,2099-01-01\n\"broken,row\n",
            &["row 3"],
        ),
        (
            "fields.csv",
            "license_number,status,expiration_date\nA-1,Active,2099-01-01\nA-2,Active\n",
            &["row 3", "not a CSV row"],
        ),
        (
            "dup.csv",
            "license_number,status,expiration_date\nA-1,Active,2099-01-01\nA-1,Active,2099-01-01\nA-1,Revoked,2099-01-01\n",
            &["row 4", "also on row 2"],
        ),
        (
            "date.csv",
            "license_number,status,expiration_date\nA-1,Active,soon\n",
            &["row 2", "\"soon\" is not a date"],
        ),
    ];
    for (name, text, want) in cases {
        let f = site.file(name, text);
        let err = site.fails(&["licenses", "import", &f]);
        for w in *want {
            assert!(err.contains(w), "{name}: {err:?} lacks {w:?}");
        }
        // Nothing half-imported: the register held before stands.
        let n: i64 = site.sql("SELECT count(*) FROM license_register");
        assert_eq!(n, 2, "{name}");
    }
    // Agreeing duplicates are read once.
    let f = site.file(
        "twice.csv",
        format!("license_number,status,expiration_date\n{L1001},Active,\n{L1001},Active,\n"),
    );
    assert!(site.ok(&["licenses", "import", &f]).contains("1 licenses"));
}

#[test]
fn the_new_york_preset_reads_the_state_list() {
    let site = Site::demo();
    let f = site.file(
        "ocm.csv",
        format!(
            "license_number,license_type,license_status,entity_name,expiration_date\n\
             {L1001},Adult-Use Retail Dispensary License,Active,A,2099-08-01T00:00:00.000\n\
             {L1002},Adult-Use Retail Dispensary License,Expired,B,2024-08-01T00:00:00.000\n"
        ),
    );
    let err = site.fails(&["licenses", "import", &f]);
    assert!(err.contains("no `status` column"), "{err}");
    let out = site.ok(&["licenses", "import", &f, "--preset", "ny-ocm"]);
    assert!(out.contains("2 licenses, 1 active"), "{out}");
    assert!(site.ok(&["status", "SO-1002"]).contains("\"Expired\""));
    let err = site.fails(&["licenses", "import", &f, "--preset", "xx"]);
    assert!(err.contains("ny-ocm"), "{err}");
}

#[test]
fn leaflinks_license_inactive_holds_even_without_a_register() {
    let site = Site::demo();
    let json = std::fs::read_to_string(demo_file("orders.json")).unwrap();
    let flagged = json.replacen(
        &format!("\"license_number\": \"{L1002}\""),
        &format!("\"license_number\": \"{L1002}\", \"license_inactive\": true"),
        1,
    );
    assert_ne!(flagged, json);
    let f = site.file("flagged.json", flagged);
    site.ok(&["import", "order", &f]);
    let s = site.ok(&["status", "SO-1002"]);
    assert!(
        s.contains(&format!("LeafLink says buyer license {L1002} is inactive")),
        "{s}"
    );
    let err = site.fails(&["pick", "SO-1002"]);
    assert!(err.contains("cannot be picked"), "{err}");
    // The other order is not checked: no register is imported.
    assert!(!site.ok(&["status", "SO-1001"]).contains("license"));
}

//! The `tagtally` binary as users run it: real files, real SQLite databases, real
//! child processes. Each test works in its own temporary directory.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

#[path = "support/site.rs"]
mod site;
use site::*;

const P: &str = "1A4060300003C350000";

fn t(n: u32) -> String {
    format!("{P}{n:05}")
}

#[test]
fn every_verdict_from_stdin_as_json() {
    let site = Site::demo();
    let input = format!(
        "{a}\r\n{a_lower}\n]C0{hold}\n{lab}\n{expired}\n{recall}\n{other}\n{batch}\n{same}\n{item}\n{unknown}\nhttps://id.1a4.com/AB12\n012345678905\nnot a tag\n  {b}  \t\n",
        a = t(10001),
        a_lower = t(10001).to_lowercase(),
        hold = t(10003),
        lab = t(10012),
        expired = t(10013),
        recall = t(10022),
        other = t(10005),
        batch = t(10008),
        same = t(10007),
        item = t(10031),
        unknown = t(99999),
        b = t(10002),
    );
    let answers = site.pick_json("SO-1001", input.as_bytes());
    let got: Vec<(String, Option<String>)> = answers
        .iter()
        .map(|a| {
            (
                a["verdict"].as_str().unwrap().to_string(),
                a["reason"].as_str().map(str::to_string),
            )
        })
        .collect();
    let want = [
        ("accepted", None),
        ("already_scanned", None),
        ("ineligible", Some("on_hold")),
        ("ineligible", Some("lab_state")),
        ("ineligible", Some("expired")),
        ("ineligible", Some("recall")),
        ("wrong_order", None),
        ("wrong_batch", None),
        ("not_on_list", Some("same_batch_unallocated")),
        ("not_on_list", Some("item_not_on_order")),
        ("not_on_list", Some("unknown_package")),
        ("not_a_tag", Some("retail_id")),
        ("not_a_tag", Some("other_barcode")),
        ("not_a_tag", Some("malformed")),
        ("accepted", None),
    ];
    let want: Vec<(String, Option<String>)> = want
        .iter()
        .map(|(v, r)| (v.to_string(), r.map(str::to_string)))
        .collect();
    assert_eq!(got, want);

    // The fields of an answer.
    let first = &answers[0];
    assert_eq!(first["input"], t(10001));
    assert_eq!(first["tag"], t(10001));
    assert_eq!(first["line"], "1");
    assert_eq!(
        (first["picked"].as_u64(), first["total"].as_u64()),
        (Some(1), Some(9))
    );
    assert_eq!(answers[2]["input"], format!("]C0{}", t(10003)));
    assert_eq!(answers[6]["other_order"], "SO-1002");
    assert_eq!(answers[7]["line"], "1");
    assert_eq!(answers[13]["tag"], Value::Null);
    assert_eq!(answers[14]["picked"], 2);

    // Every answered scan is one event; only the accepted ones count as picks.
    assert_eq!(site.sql::<i64>("SELECT count(*) FROM events"), 15);
    let st = site.status("LL-1001");
    assert_eq!(
        (st["picked"].as_u64(), st["total"].as_u64()),
        (Some(2), Some(9))
    );
    assert_eq!(st["complete"], false);
}

#[test]
fn answers_arrive_one_line_at_a_time() {
    // A scanner waits for nothing: each answer must come before the next scan is sent.
    let site = Site::demo();
    let mut picker = site.interactive_pick("SO-1001");
    for (tag, want) in [
        (t(10001), "accepted"),
        (t(10001), "already_scanned"),
        (t(10004), "accepted"),
    ] {
        assert_eq!(picker.scan(&format!("{tag}\r"))["verdict"], want);
    }
    drop(picker.stdin);
    assert!(picker.child.wait().unwrap().success());
}

#[test]
fn kill_9_loses_no_answered_scan() {
    let site = Site::demo();
    let mut picker = site.interactive_pick("SO-1001");
    let answered: Vec<Value> = [10001, 10002, 10099, 10004, 10021]
        .iter()
        .map(|&n| picker.scan(&format!("{}\n", t(n))))
        .collect();
    // Send one more and kill at once, answered or not.
    picker
        .stdin
        .write_all(format!("{}\n", t(10011)).as_bytes())
        .unwrap();
    picker.child.kill().unwrap(); // SIGKILL
    picker.child.wait().unwrap();

    let c = rusqlite::Connection::open(site.db()).unwrap();
    let mut st = c
        .prepare("SELECT seq, tag, verdict FROM events ORDER BY seq")
        .unwrap();
    let stored: Vec<(i64, String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(stored.len() >= answered.len(), "{stored:?}");
    for (a, (seq, tag, verdict)) in answered.iter().zip(&stored) {
        assert_eq!(a["seq"].as_i64(), Some(*seq));
        assert_eq!(a["tag"].as_str(), Some(tag.as_str()));
        assert_eq!(a["verdict"].as_str(), Some(verdict.as_str()));
    }
    // The four accepted answers are there; the sixth scan, sent as the kill came, may
    // have been committed too (then it was not answered, but it is not lost either).
    let picked = site.status("SO-1001")["picked"].as_u64().unwrap();
    assert!((4..=5).contains(&picked), "picked {picked}");
}

#[test]
fn garbage_and_huge_lines_change_nothing_and_do_not_stop_the_session() {
    let site = Site::demo();
    let mut input: Vec<u8> = vec![0, 159, 146, 150, 255, b'\n', b'\n', b'\r', b'\t', b'\n'];
    input.extend(std::iter::repeat_n(b'A', 10 * 1024 * 1024));
    input.push(b'\n');
    input.extend(std::iter::repeat_n(0xfeu8, 64 * 1024));
    input.extend(format!("\r\n{}\n", t(10001)).as_bytes());
    let answers = site.pick_json("SO-1001", &input);
    let verdicts: Vec<&str> = answers
        .iter()
        .map(|a| a["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        [
            "not_a_tag",
            "not_a_tag",
            "not_a_tag",
            "not_a_tag",
            "not_a_tag",
            "not_a_tag",
            "accepted"
        ]
    );
    assert_eq!(answers[4]["input_len"], 10 * 1024 * 1024);
    assert!(answers[4]["message"].as_str().unwrap().contains("too long"));
    // Empty lines are answered but not recorded; the rest are, with the raw bytes cut.
    assert_eq!(site.sql::<i64>("SELECT count(*) FROM events"), 4);
    assert_eq!(site.sql::<i64>("SELECT max(length(raw)) FROM events"), 1024);
    assert_eq!(
        site.sql::<i64>("SELECT max(raw_len) FROM events"),
        10 * 1024 * 1024
    );
    assert_eq!(
        site.sql::<Vec<u8>>("SELECT raw FROM events ORDER BY id LIMIT 1"),
        vec![0, 159, 146, 150, 255]
    );
    assert_eq!(site.status("SO-1001")["picked"], 1);
}

#[test]
fn packages_v1_and_v2_and_newer_snapshots() {
    let site = Site::new();
    let v1 = format!(
        r#"[{{"Label":"{}","ItemName":"OG 1g","Quantity":5,"UnitOfMeasureName":"Each",
        "ProductionBatchNumber":"OG-1","LabTestingState":"TestPassed","IsOnHold":false,
        "IsFinished":false,"LastModified":"2026-11-01T00:00:00Z"}}]"#,
        t(1)
    );
    let out = site.ok(&["import", "packages", &site.file("v1.json", &v1)]);
    assert!(out.contains("1 new"), "{out}");
    assert!(out.contains(": 1 package read:"), "{out}");
    let newer = v1
        .replace(r#""IsOnHold":false"#, r#""IsOnHold":true"#)
        .replace("2026-11-01", "2026-11-02");
    let out = site.ok(&["import", "packages", &site.file("v1b.json", &newer)]);
    assert!(out.contains("1 updated"), "{out}");
    assert_eq!(site.sql::<i64>("SELECT on_hold FROM packages"), 1);
    // An older snapshot does not roll the package back.
    let out = site.ok(&["import", "packages", &site.file("v1c.json", &v1)]);
    assert!(out.contains("1 older"), "{out}");
    assert_eq!(site.sql::<i64>("SELECT on_hold FROM packages"), 1);
    // v2 shape from the demo.
    let out = site.ok(&[
        "import",
        "packages",
        demo_file("packages.json").to_str().unwrap(),
    ]);
    assert!(out.contains("14 new"), "{out}");
    assert_eq!(site.sql::<i64>("SELECT count(*) FROM packages"), 15);
}

#[test]
fn bad_package_files_are_refused_whole() {
    let site = Site::demo();
    let before = site.dump();
    let good = std::fs::read_to_string(demo_file("packages.json")).unwrap();
    // The 5th record loses a required field: nothing of the file is imported, even
    // though the first four records are fine and newer.
    let mut doc: Value = serde_json::from_str(&good).unwrap();
    for p in doc["Data"].as_array_mut().unwrap() {
        p["LastModified"] = "2026-11-26T00:00:00Z".into();
        p["IsOnHold"] = true.into();
    }
    doc["Data"][4]
        .as_object_mut()
        .unwrap()
        .remove("LabTestingState");
    let f = site.file("missing.json", doc.to_string());
    let err = site.fails(&["import", "packages", &f]);
    assert!(
        err.contains("missing.json")
            && err.contains(&format!("record 5 (Label {})", t(10011)))
            && err.contains("LabTestingState"),
        "{err}"
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "trunc.json",
            good.as_bytes()[..good.len() / 2].to_vec(),
            "truncated",
        ),
        (
            "latin1.json",
            b"[{\"Label\": \"caf\xe9\"}]".to_vec(),
            "UTF-8",
        ),
        ("nonsense.json", b"{\"hello\": 1}".to_vec(), "Data"),
        ("empty.json", b"".to_vec(), "ends early"),
    ];
    for (name, bytes, want) in cases {
        let err = site.fails(&["import", "packages", &site.file(name, bytes)]);
        assert!(err.contains(name) && err.contains(want), "{name}: {err}");
    }
    let err = site.fails(&["import", "packages", "/nonexistent/p.json"]);
    assert!(err.contains("cannot read /nonexistent/p.json"), "{err}");
    assert_eq!(site.dump(), before);
}

#[test]
fn order_allocation_rules_are_enforced_at_import() {
    let site = Site::demo();
    let before = site.dump();
    let order = |number: &str, batch: &str, tags: &[String]| {
        serde_json::json!({"number": number, "status": "Accepted",
            "customer": {"display_name": "X", "license_number": "C10-1"},
            "line_items": [{"id": 1, "product": 5, "quantity": "1", "batch": batch,
                            "package_tags": tags}]})
        .to_string()
    };
    let cases = [
        (
            "unknown.json",
            order("SO-9", "BD-0412", &[t(10001).replace("10001", "77777")]),
            "not in the package data",
        ),
        (
            "batch.json",
            order("SO-9", "BD-0412", &[t(10008)]),
            "batch BD-0399, not the line's batch BD-0412",
        ),
        (
            "taken.json",
            order("SO-9", "BD-0412", &[t(10007), t(10006)]),
            "already allocated to open order SO-1002",
        ),
    ];
    for (name, body, want) in cases {
        let err = site.fails(&["import", "order", &site.file(name, body)]);
        assert!(err.contains("SO-9") && err.contains(want), "{name}: {err}");
    }
    // Two orders in one file both claiming a free tag: the second is refused, and so
    // is the first (all or nothing).
    let both = format!(
        "[{},{}]",
        order("SO-8", "BD-0412", &[t(10007)]),
        order("SO-9", "BD-0412", &[t(10007)])
    );
    let err = site.fails(&["import", "order", &site.file("both.json", both)]);
    assert!(
        err.contains("already allocated to open order SO-8"),
        "{err}"
    );
    let err = site.fails(&["import", "order", &site.file("bad.json", "{\"number\": ")]);
    assert!(
        err.contains("bad.json") && err.contains("truncated"),
        "{err}"
    );
    assert_eq!(site.dump(), before);

    // A cancelled order frees its tags for another order.
    let mut cancelled: Value =
        serde_json::from_str(&order("SO-1002", "BD-0412", &[t(10005), t(10006)])).unwrap();
    cancelled["status"] = "Cancelled".into();
    site.ok(&[
        "import",
        "order",
        &site.file("c.json", cancelled.to_string()),
    ]);
    site.ok(&[
        "import",
        "order",
        &site.file("ok.json", order("SO-9", "BD-0412", &[t(10006)])),
    ]);
    let err = site.fails(&["pick", "SO-1002"]);
    assert!(err.contains("closed"), "{err}");
}

#[test]
fn csv_orders_and_reimport_keep_picks() {
    let site = Site::demo();
    let out = site.ok(&["import", "order", demo_file("orders.csv").to_str().unwrap()]);
    assert!(
        out.contains("SO-2001: ") || out.contains("order SO-2001"),
        "{out}"
    );
    // One line, one package: said in the singular.
    assert!(
        out.contains(": 1 line, 1 package allocated (") && !out.contains("1 lines"),
        "{out}"
    );
    let a = site.pick_json("SO-2001", format!("{}\n", t(10031)).as_bytes());
    assert_eq!(a[0]["verdict"], "accepted");
    assert_eq!(a[0]["complete"], true);
    // Re-importing the same order keeps its events and picks.
    site.ok(&["import", "order", demo_file("orders.csv").to_str().unwrap()]);
    assert_eq!(site.status("SO-2001")["picked"], 1);
    // A re-import that drops a picked tag is refused.
    let other = site.file(
        "moved.csv",
        format!(
            "order,buyer,buyer_license,line,sku,batch,tag\nSO-2001,Corner Cannabis,C10-0000999-LIC,1,BD-35,BD-0412,{}\n",
            t(10007)
        ),
    );
    let err = site.fails(&["import", "order", &other]);
    assert!(err.contains("already been picked"), "{err}");
    let err = site.fails(&[
        "import",
        "order",
        &site.file("h.csv", "order,buyer\nSO-1,X\n"),
    ]);
    assert!(
        err.contains("h.csv") && err.contains("buyer_license"),
        "{err}"
    );
}

#[test]
fn short_pick_undo_and_status() {
    let site = Site::demo();
    site.pick_json(
        "SO-1001",
        format!("{}\n{}\n", t(10001), t(10021)).as_bytes(),
    );
    let err = site.fails(&["pick", "SO-1001", "--short", "7", "--reason", "gone"]);
    assert!(
        err.contains("no line \"7\"") && err.contains("1, 2, 3"),
        "{err}"
    );
    let err = site.fails(&["pick", "SO-1001", "--short", "2"]);
    assert!(err.contains("--reason"), "{err}");
    site.ok(&[
        "pick",
        "SO-1001",
        "--short",
        "2",
        "--reason",
        "lab failed, expired",
    ]);
    site.ok(&["pick", "SO-1001", "--short", "3", "--reason", "recall"]);
    let st = site.status("SO-1001");
    let line2 = &st["lines"][1];
    assert_eq!(
        (line2["short"].as_u64(), line2["remaining"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(line2["short_reason"], "lab failed, expired");
    assert_eq!(st["complete"], false);

    // Undo is a new event: the pick's event stays.
    site.ok(&[
        "pick",
        "SO-1001",
        "--undo",
        &t(10001),
        "--reason",
        "wrong shelf",
    ]);
    let err = site.fails(&["pick", "SO-1001", "--undo", &t(10001), "--reason", "again"]);
    assert!(err.contains("not picked"), "{err}");
    assert_eq!(site.status("SO-1001")["picked"], 1);
    assert_eq!(
        site.sql::<i64>("SELECT count(*) FROM events WHERE verdict = 'accepted'"),
        2
    );

    let a = site.pick_json(
        "SO-1001",
        format!("{}\n{}\n{}\n", t(10001), t(10002), t(10004)).as_bytes(),
    );
    assert_eq!(a[2]["picked"], 4);
    site.ok(&["pick", "SO-1001", "--short", "1", "--reason", "on hold"]);
    let st = site.status("SO-1001");
    assert_eq!(st["complete"], true);
    let text = site.ok(&["status", "SO-1001"]);
    assert!(
        text.contains("COMPLETE") && text.contains("short: on hold"),
        "{text}"
    );
}

#[test]
fn events_are_append_only() {
    let site = Site::demo();
    site.pick_json("SO-1001", format!("{}\n", t(10001)).as_bytes());
    let c = rusqlite::Connection::open(site.db()).unwrap();
    let e = c
        .execute("UPDATE events SET verdict = 'x'", [])
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = c.execute("DELETE FROM events", []).unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
}

#[test]
fn locked_database_is_refused_and_unchanged() {
    let site = Site::demo();
    let before = site.dump();
    let holder = rusqlite::Connection::open(site.db()).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let out = site
        .cmd(&[
            "import",
            "packages",
            demo_file("packages.json").to_str().unwrap(),
        ])
        .env("TAGTALLY_STORE__BUSY_TIMEOUT_MS", "200")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("locked by another process"), "{err}");
    let out = site
        .cmd(&["pick", "SO-1001"])
        .env("TAGTALLY_STORE__BUSY_TIMEOUT_MS", "200")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("locked"));
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    assert_eq!(site.dump(), before);
}

#[test]
fn newer_schema_and_foreign_files_are_refused_untouched() {
    let site = Site::demo();
    {
        let c = rusqlite::Connection::open(site.db()).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
    }
    let before = site.dump();
    let err = site.fails(&["status", "SO-1001"]);
    assert!(
        err.contains("schema version 99") && err.contains("upgrade tagtally"),
        "{err}"
    );
    assert_eq!(site.dump(), before);
    assert_eq!(site.sql::<i64>("PRAGMA user_version"), 99);

    let other = Site::new();
    std::fs::write(other.db(), vec![7u8; 8192]).unwrap();
    let err = other.fails(&["orders"]);
    assert!(err.contains("not a tagtally database"), "{err}");
    assert_eq!(std::fs::read(other.db()).unwrap(), vec![7u8; 8192]);
}

#[test]
fn settings_layers_reach_the_pick() {
    // Metrc documentation placeholders are refused by default, accepted when lenient.
    let site = Site::new();
    let pkgs = r#"[{"Label":"ABCDEF012345670000010042","ItemName":"Doc Item","Quantity":1,
        "UnitOfMeasureName":"Each","ProductionBatchNumber":"D-1","LabTestingState":"Remediated",
        "IsOnHold":false,"IsFinished":false,"LastModified":"2026-11-01T00:00:00Z"}]"#;
    site.ok(&["import", "packages", &site.file("p.json", pkgs)]);
    site.ok(&[
        "import",
        "order",
        &site.file(
            "o.csv",
            "order,buyer,buyer_license,line,sku,batch,tag\nD-1,Doc,L-1,1,S,D-1,ABCDEF012345670000010042\n",
        ),
    ]);
    let a = site.pick_json("D-1", b"abcdef012345670000010042\n");
    assert_eq!(
        (a[0]["verdict"].as_str(), a[0]["reason"].as_str()),
        (Some("not_a_tag"), Some("malformed"))
    );
    let conf = site.file(
        "site.toml",
        "[tags]\nlenient = true\n[rules]\nallowed_lab_states = [\"TestPassed\", \"Remediated\"]\n",
    );
    let out = site.run(
        &["--config", &conf, "pick", "D-1", "--json"],
        b"abcdef012345670000010042\n",
    );
    let a: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["verdict"], "accepted");
    // An environment variable overrides the file; a typo is refused by name.
    let out = site
        .cmd(&["--config", &conf, "config"])
        .env("TAGTALLY_RULES__EXPIRY_WARNING_DAYS", "3")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("expiry_warning_days = 3"));
    let out = site
        .cmd(&["orders"])
        .env("TAGTALLY_TAGS__LENENT", "true")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TAGTALLY_TAGS__LENENT"));
}

#[test]
fn demo_runs_on_embedded_data() {
    let site = Site::new();
    let mut c = Command::new(BIN);
    c.args(["demo", "--terminal"])
        .env("TMPDIR", site.dir.path())
        .env_remove("TAGTALLY_DB")
        .env("XDG_CONFIG_HOME", site.dir.path());
    let out = {
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{}\n{}\n", t(10001), t(10003)).as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("ACCEPTED") && text.contains("ON HOLD"),
        "{text}"
    );
    assert!(text.contains("order SO-1001: 1/9 picked"), "{text}");
    // The temporary database is gone afterwards.
    let left: Vec<_> = std::fs::read_dir(site.dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn people_sign_in_with_a_pin_and_are_locked_out_after_wrong_ones() {
    let site = Site::new();
    let out = site.ok(&[
        "user",
        "add",
        "Ana",
        "--role",
        "supervisor",
        "--pin",
        "2468",
    ]);
    assert!(out.contains("Ana may sign in as supervisor"), "{out}");
    let err = site.fails(&["user", "add", "Bo", "--role", "boss", "--pin", "1234"]);
    assert!(err.contains("unknown role"), "{err}");
    let err = site.fails(&["user", "add", "Bo", "--role", "picker", "--pin", "12"]);
    assert!(err.contains("4 to 8 digits"), "{err}");
    assert!(
        site.ok(&["user", "check", "Ana", "--pin", "2468"])
            .contains("signed in")
    );
    // Three wrong PINs lock Ana out (TAGTALLY_PEOPLE__MAX_FAILURES=3).
    let check = |pin: &str| {
        site.cmd(&["user", "check", "Ana", "--pin", pin])
            .env("TAGTALLY_PEOPLE__MAX_FAILURES", "3")
            .output()
            .unwrap()
    };
    for left in [2, 1] {
        let o = check("0000");
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&format!("{left} more wrong PIN")), "{err}");
    }
    let o = check("0000");
    assert!(String::from_utf8_lossy(&o.stderr).contains("locked out until"));
    let o = check("2468");
    assert!(!o.status.success(), "the right PIN is refused while locked");
    assert!(site.ok(&["user", "list"]).contains("locked until"));
    // A new PIN from a supervisor lifts the lock.
    site.ok(&[
        "user",
        "add",
        "Ana",
        "--role",
        "supervisor",
        "--pin",
        "97531",
    ]);
    assert!(check("97531").status.success());
    let pins: i64 = site.sql("SELECT count(*) FROM people WHERE pin_hash LIKE '%97531%'");
    assert_eq!(pins, 0, "the PIN itself is never stored");
}

/// An error reaches the user once, as `tagtally: ...`, with the default log filter
/// (not once as a log line and again as the error).
#[test]
fn an_error_is_printed_once() {
    let site = Site::demo();
    site.ok(&["hub", "enroll-device", "vault-1"]);
    let cases: [&[&str]; 4] = [
        &["hub", "enroll-device", "vault-1"],
        &["import", "packages", "/nonexistent/p.json"],
        &["import", "order", "/nonexistent/o.json"],
        &["pick", "SO-NOPE"],
    ];
    for args in cases {
        let out = site
            .cmd(args)
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?} printed: {err}");
        assert!(
            lines[0].starts_with("tagtally: "),
            "{args:?} printed: {err}"
        );
    }
}

/// A device id set in the settings is written into a new database once; set later
/// (after offline picks), or changed, it is refused, and nothing is lost.
#[test]
fn a_configured_device_id_is_fixed_in_the_database() {
    let site = Site::demo();
    // The demo database was made without one and has recorded nothing yet: adopted.
    let out = site
        .cmd(&["pick", "SO-1001", "--json"])
        .env("TAGTALLY_DEVICE__ID", "vault-7")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(format!("{}\n", t(10001)).as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    let device: String = site.sql("SELECT device FROM events");
    assert_eq!(device, "vault-7");
    // Another id later: refused, saying what to do; the events are untouched.
    let before = site.dump();
    let out = site
        .cmd(&["pick", "SO-1001"])
        .env("TAGTALLY_DEVICE__ID", "vault-8")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("belongs to device \"vault-7\"")
            && err.contains("the settings say device \"vault-8\""),
        "{err}"
    );
    assert_eq!(site.dump(), before);
    // Its own id, or none: fine.
    site.ok(&["status", "SO-1001"]);
    // An id that could not travel safely (quotes, spaces, a path) is refused.
    let fresh = Site::new();
    let out = fresh
        .cmd(&["orders"])
        .env("TAGTALLY_DEVICE__ID", "dock \"1\"")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("use 1 to 64 letters"));
}

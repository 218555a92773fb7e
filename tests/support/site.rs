//! The `tagtally` binary as users run it, for the integration tests: a site is a
//! temporary directory with its own database; commands run as real child processes.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_tagtally");

pub fn demo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/demo")
        .join(name)
}

pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn new() -> Site {
        Site {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A site with the demo packages and orders imported.
    pub fn demo() -> Site {
        let s = Site::new();
        s.ok(&[
            "import",
            "packages",
            demo_file("packages.json").to_str().unwrap(),
        ]);
        s.ok(&[
            "import",
            "order",
            demo_file("orders.json").to_str().unwrap(),
        ]);
        s
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("site.db")
    }

    pub fn file(&self, name: &str, content: impl AsRef<[u8]>) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p.to_str().unwrap().to_string()
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--db")
            .arg(self.db())
            .args(args)
            .env_remove("TAGTALLY_CONFIG")
            .env("XDG_CONFIG_HOME", self.dir.path())
            .env("RUST_LOG", "off");
        c
    }

    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, b"");
        assert!(
            out.status.success(),
            "tagtally {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run and expect failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, b"");
        assert!(
            !out.status.success(),
            "tagtally {args:?} should have failed; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn pick_json(&self, order: &str, stdin: &[u8]) -> Vec<Value> {
        self.json_lines(&["pick", order, "--json"], stdin)
    }

    /// Run a `--json` command to the end; one JSON value per output line.
    pub fn json_lines(&self, args: &[&str], stdin: &[u8]) -> Vec<Value> {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "tagtally {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// A `pick --json` child answering one line at a time.
    pub fn interactive_pick(&self, order: &str) -> Picker {
        self.interactive(&["pick", order, "--json"])
    }

    /// Any `--json` scanning command as a child answering one line at a time.
    pub fn interactive(&self, args: &[&str]) -> Picker {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Picker {
            child,
            stdin,
            stdout,
        }
    }

    pub fn status(&self, order: &str) -> Value {
        serde_json::from_str(&self.ok(&["status", order, "--json"])).unwrap()
    }

    pub fn sql<T: rusqlite::types::FromSql>(&self, q: &str) -> T {
        let c = rusqlite::Connection::open(self.db()).unwrap();
        c.query_row(q, [], |r| r.get(0)).unwrap()
    }

    /// Everything stored, as text, to prove a refused command changed nothing.
    pub fn dump(&self) -> String {
        let c = rusqlite::Connection::open(self.db()).unwrap();
        let mut out = String::new();
        for table in ["packages", "orders", "order_lines", "allocations", "events"] {
            let mut st = c
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
                .unwrap();
            let n = st.column_count();
            let rows = st
                .query_map([], |r| {
                    Ok((0..n)
                        .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                        .join("|"))
                })
                .unwrap();
            for row in rows {
                out.push_str(&row.unwrap());
                out.push('\n');
            }
        }
        out
    }
}

pub struct Picker {
    pub child: std::process::Child,
    pub stdin: std::process::ChildStdin,
    pub stdout: BufReader<std::process::ChildStdout>,
}

impl Picker {
    /// Send one scanner line and wait for its answer.
    pub fn scan(&mut self, line: &str) -> Value {
        self.stdin.write_all(line.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).unwrap();
        serde_json::from_str(&answer).unwrap()
    }
}

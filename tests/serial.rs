//! Serial scanners on real pseudo-terminal pairs: the source opens the slave by path,
//! exactly as it opens `/dev/ttyACM0`, and the test writes to the master the way a
//! scanner does (split writes, noise, CRLF, no terminator, a pulled cable).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};
use tagtally::scan::{SourceEvent, SourceSpec, Sources, StatusLevel, open_source};

const WAIT: Duration = Duration::from_secs(10);

struct Scanner {
    master: TTYPort,
    // Held open so the pty stays up until the test unplugs it.
    _slave: TTYPort,
    path: PathBuf,
}

fn scanner() -> Scanner {
    let (master, slave) = TTYPort::pair().expect("a pty pair");
    let path = PathBuf::from(slave.name().expect("the slave has a path"));
    Scanner {
        master,
        _slave: slave,
        path,
    }
}

impl Scanner {
    fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
        self.master.flush().unwrap();
    }
}

fn start(spec: &str) -> Sources {
    let spec: SourceSpec = spec.parse().unwrap();
    let mut s = Sources::new();
    s.start(open_source(&spec, 4096, &Default::default()).unwrap());
    s
}

/// The next scan's raw text, skipping status events (returned separately).
fn next_scan(rx: &Receiver<SourceEvent>) -> (String, usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left).expect("a scan within the wait") {
            SourceEvent::Scan(s) => return (String::from_utf8_lossy(&s.raw).into_owned(), s.len),
            SourceEvent::Status { .. } => continue,
        }
    }
}

/// Wait for a status message containing `text`.
fn status_with(rx: &Receiver<SourceEvent>, text: &str) -> (StatusLevel, String) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(SourceEvent::Status { level, message, .. }) if message.contains(text) => {
                return (level, message);
            }
            Ok(_) => continue,
            Err(e) => panic!("no status containing {text:?}: {e}"),
        }
    }
}

const A: &str = "1A4060300003C35000019794";
const B: &str = "1A4060300003C35000019795";
const C: &str = "1A4060300003C35000019796";

#[test]
fn split_writes_several_tags_noise_and_crlf_frame_correctly() {
    let mut sc = scanner();
    let mut sources = start(&format!("serial:{}?baud=115200", sc.path.display()));
    let rx = sources.events();
    status_with(rx, "reading scanner");
    sc.send(&A.as_bytes()[..10]);
    std::thread::sleep(Duration::from_millis(20));
    sc.send(&A.as_bytes()[10..]);
    sc.send(b"\r");
    sc.send(format!("\n{B}\r\n\x00\x00garbage\x00\r\n{C}\r\n]C0{A}\n").as_bytes());
    sc.send(&[0x80, 0xff, 0xfe, 0x13, 0x9b, b'\r']);
    let got: Vec<String> = (0..6).map(|_| next_scan(rx).0).collect();
    assert_eq!(
        got,
        vec![
            A.to_string(),
            B.to_string(),
            "\0\0garbage\0".to_string(),
            C.to_string(),
            format!("]C0{A}"),
            "\u{fffd}\u{fffd}\u{fffd}\u{13}\u{fffd}".to_string()
        ]
    );
    sources.stop();
}

#[test]
fn no_terminator_ends_on_a_pause_and_a_megabyte_of_noise_is_bounded() {
    let mut sc = scanner();
    let mut sources = start(&format!(
        "serial:{}?terminator=none&gap_ms=100",
        sc.path.display()
    ));
    let rx = sources.events();
    status_with(rx, "reading scanner");
    sc.send(A.as_bytes());
    assert_eq!(next_scan(rx), (A.to_string(), 24));
    // 1 MB without a terminator arrives as one cut scan, then scanning goes on.
    let noise = vec![b'X'; 1024 * 1024];
    for chunk in noise.chunks(4096) {
        sc.send(chunk);
    }
    let (text, len) = next_scan(rx);
    assert_eq!((text.len(), len), (4096, 1024 * 1024));
    sc.send(B.as_bytes());
    assert_eq!(next_scan(rx).0, B);
    sources.stop();
}

#[test]
fn a_pulled_cable_is_reported_and_the_scanner_comes_back_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    // Like /dev/serial/by-id/...: a stable link to whichever node the scanner gets.
    let link = dir.path().join("scanner");
    let mut first = scanner();
    std::os::unix::fs::symlink(&first.path, &link).unwrap();
    let mut other = scanner();
    let mut sources = Sources::new();
    for spec in [
        format!("serial:{}?baud=9600", link.display()),
        format!("serial:{}?baud=9600", other.path.display()),
    ] {
        sources.start(open_source(&spec.parse().unwrap(), 4096, &Default::default()).unwrap());
    }
    let rx = sources.events();
    first.send(format!("{A}\r\n").as_bytes());
    assert_eq!(next_scan(rx).0, A);

    drop(first); // pull the cable: master and slave gone
    let (level, msg) = status_with(rx, "unplugged");
    assert_eq!(level, StatusLevel::Warn);
    assert!(msg.contains(&link.display().to_string()), "{msg}");
    // The other scanner keeps working meanwhile.
    other.send(format!("{C}\r").as_bytes());
    assert_eq!(next_scan(rx).0, C);

    // Plug it back in: a new node, the same link.
    let mut second = scanner();
    replace_link(&link, &second.path);
    status_with(rx, "is back");
    second.send(format!("{B}\r\n").as_bytes());
    assert_eq!(next_scan(rx).0, B);
    sources.stop();
}

fn replace_link(link: &Path, target: &Path) {
    let tmp = link.with_extension("new");
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
}

#[test]
fn a_missing_port_says_so_and_is_waited_for() {
    let mut sources = start("serial:/dev/ttyNOPE9?baud=9600");
    let rx = sources.events();
    let (level, msg) = status_with(rx, "cannot open scanner on /dev/ttyNOPE9");
    assert_eq!(level, StatusLevel::Error);
    assert!(msg.contains("retrying"), "{msg}");
    sources.stop();
}

#[test]
fn pick_and_scan_test_read_a_serial_scanner() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo");
    let bin = env!("CARGO_BIN_EXE_tagtally");
    for (what, file) in [("packages", "packages.json"), ("order", "orders.json")] {
        let ok = Command::new(bin)
            .arg("--db")
            .arg(&db)
            .args(["import", what])
            .arg(demo.join(file))
            .status()
            .unwrap();
        assert!(ok.success());
    }
    for args in [
        vec!["pick", "SO-1001", "--json"],
        vec!["scan-test", "--json"],
    ] {
        let mut sc = scanner();
        let mut child = Command::new(bin)
            .arg("--db")
            .arg(&db)
            .args(&args)
            .arg("--source")
            .arg(format!("serial:{}?baud=9600", sc.path.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        // The source may not have opened the port yet: resend until answered.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut line = String::new();
            while out.read_line(&mut line).unwrap_or(0) > 0 {
                if !line.contains("\"status\"") {
                    let _ = tx.send(line.clone());
                }
                line.clear();
            }
        });
        let first = loop {
            sc.send(b"1A4060300003C35000010001\r\n");
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
                break l;
            }
        };
        let v: serde_json::Value = serde_json::from_str(&first).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        if args[0] == "pick" {
            assert_eq!(v["verdict"], "accepted");
            assert!(v["source"].as_str().unwrap().starts_with("serial:"));
        } else {
            assert_eq!(v["tag"], "1A4060300003C35000010001");
            assert_eq!(v["raw_hex"].as_str().unwrap().len(), 24 * 2);
        }
    }
}

//! Real-device tests: run on a handheld or kiosk with the devices plugged in (see
//! hardware/README.md). A test whose device variable is unset fails, saying which
//! variable to set: run only the tests of the devices you have by naming them
//! (`cargo test --features hardware-tests --test hardware serial`).

use std::time::{Duration, Instant};

use tagtally::scan::{SourceEvent, SourceSpec, Sources, open_source};
use tagtally::tag::TagParser;

fn read_one_tag(var: &str, kind: &str) {
    let target = std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: set it to the {kind} device to test, or leave this test out \
             by naming the ones to run (cargo test --features hardware-tests --test hardware NAME)"
        )
    });
    let spec: SourceSpec = format!("{kind}:{target}").parse().unwrap();
    let parser = TagParser {
        lenient: true,
        ..TagParser::default()
    };
    let mut sources = Sources::new();
    sources.start(open_source(&spec, 4096, &parser).unwrap());
    eprintln!("scan any Metrc tag with the {kind} device {target} within 60 s");
    let deadline = Instant::now() + Duration::from_secs(60);
    let rx = sources.events();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left).expect("a scan within 60 s") {
            SourceEvent::Scan(s) => {
                let tag = parser.parse(&s.raw);
                eprintln!("read {:?} -> {tag:?}", String::from_utf8_lossy(&s.raw));
                assert!(
                    tag.is_ok(),
                    "not a tag: {:?}",
                    String::from_utf8_lossy(&s.raw)
                );
                assert!(!s.manual, "scanner keys arrived at typing speed");
                break;
            }
            SourceEvent::Status { message, .. } => eprintln!("status: {message}"),
        }
    }
    sources.stop();
}

#[test]
fn serial_scanner_reads_a_tag() {
    read_one_tag("TAGTALLY_TEST_SERIAL", "serial");
}

#[test]
fn hid_scanner_reads_a_tag() {
    read_one_tag("TAGTALLY_TEST_HID", "hid");
}

#[test]
fn camera_reads_a_tag() {
    read_one_tag("TAGTALLY_TEST_CAMERA", "camera");
}

//! Camera sources on real image files: a folder of frames and a Y4M video, decoded on
//! the source's thread, each barcode reported once while in view, decoys answered as
//! not a tag, broken frames skipped with a message.

use std::path::Path;
use std::process::{Command, Stdio};

use rxing::BarcodeFormat;
use serde_json::Value;
use tagtally::scan::camera::decode::GreyImage;
use tagtally::synthetic::barcode_frame;

const BIN: &str = env!("CARGO_BIN_EXE_tagtally");

#[path = "support/camera.rs"]
mod camera;
use camera::dev_frame;

fn save(img: &GreyImage, path: &Path) {
    image::GrayImage::from_raw(img.width, img.height, img.pixels.clone())
        .unwrap()
        .save(path)
        .unwrap();
}

fn run(args: &[&str], db: Option<&Path>) -> Vec<Value> {
    let mut c = Command::new(BIN);
    if let Some(db) = db {
        c.arg("--db").arg(db);
    }
    let out = c
        .args(args)
        .env("RUST_LOG", "off")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn scans(lines: &[Value]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter(|l| l.get("status").is_none())
        .map(|l| {
            (
                l["raw"].as_str().unwrap().to_string(),
                l["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_folder_of_frames_reads_tags_once_and_decoys_as_not_a_tag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Frame order is name order: the same tag twice in a row, a frame with a decoy
    // UPC beside a tag, an empty frame, a file that is not an image.
    std::fs::copy(dev_frame("0000.png"), d.join("01.png")).unwrap();
    std::fs::copy(dev_frame("0000.png"), d.join("02.png")).unwrap();
    std::fs::copy(dev_frame("0011.png"), d.join("03.png")).unwrap();
    std::fs::write(d.join("04.png"), b"this is not a picture").unwrap();
    // A product UPC is not even searched for (formats are restricted); a Code 128
    // that is not a tag (an invoice number) is read and reported as not a tag.
    let upc = barcode_frame("012345678905", BarcodeFormat::UPC_A, 3, 640, 480).unwrap();
    save(&upc, &d.join("05.png"));
    let invoice = barcode_frame("INV-2024-00042", BarcodeFormat::CODE_128, 3, 640, 480).unwrap();
    save(&invoice, &d.join("06.png"));
    let spec = format!("images:{}?fps=0", d.display());
    let lines = run(&["scan-test", "--source", &spec, "--json"], None);
    assert_eq!(
        scans(&lines),
        vec![
            ("1A4E65E92873332421312713".to_string(), "tag".to_string()),
            ("INV-2024-00042".to_string(), "not_a_tag".to_string())
        ],
        "{lines:?}"
    );
    // Asked to look for UPCs too, the camera reads the decoy, as not a tag.
    let upc_dir = tempfile::tempdir().unwrap();
    save(&upc, &upc_dir.path().join("a.png"));
    let spec = format!(
        "images:{}?fps=0&formats=code128,upca",
        upc_dir.path().display()
    );
    let upc_lines = run(&["scan-test", "--source", &spec, "--json"], None);
    let upc_reads: Vec<&Value> = upc_lines
        .iter()
        .filter(|l| l.get("status").is_none())
        .collect();
    assert_eq!(upc_reads.len(), 1, "{upc_lines:?}");
    assert_eq!(upc_reads[0]["verdict"], "not_a_tag");
    assert_eq!(upc_reads[0]["reason"], "other_barcode");
    let skipped: Vec<&Value> = lines.iter().filter(|l| l.get("status").is_some()).collect();
    assert!(
        skipped
            .iter()
            .any(|l| l["status"].as_str().unwrap().contains("04.png")),
        "{skipped:?}"
    );
}

#[test]
fn a_tag_is_reported_again_after_it_left_the_view() {
    let dir = tempfile::tempdir().unwrap();
    let tag = "1A4060300003C35000010001";
    let frame = barcode_frame(tag, BarcodeFormat::CODE_128, 3, 1280, 720).unwrap();
    for n in 0..3 {
        save(&frame, &dir.path().join(format!("{n}.png")));
    }
    // 10 frames a second: three sightings within 0.3 s.
    let held = format!("images:{}?fps=10&hold_off_ms=1000", dir.path().display());
    assert_eq!(
        scans(&run(&["scan-test", "--source", &held, "--json"], None)).len(),
        1
    );
    let short = format!("images:{}?fps=10&hold_off_ms=50", dir.path().display());
    assert_eq!(
        scans(&run(&["scan-test", "--source", &short, "--json"], None)).len(),
        3
    );
}

#[test]
fn pick_from_a_camera_source_and_a_y4m_video() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo");
    for (what, file) in [("packages", "packages.json"), ("order", "orders.json")] {
        let ok = Command::new(BIN)
            .arg("--db")
            .arg(&db)
            .args(["import", what])
            .arg(demo.join(file))
            .status()
            .unwrap();
        assert!(ok.success());
    }
    // A Y4M clip (mono): the tag held in view for 5 frames, then a QR of another.
    let a = barcode_frame(
        "1A4060300003C35000010001",
        BarcodeFormat::CODE_128,
        3,
        1280,
        720,
    )
    .unwrap();
    let b = barcode_frame(
        "1A4060300003C35000010002",
        BarcodeFormat::QR_CODE,
        6,
        1280,
        720,
    )
    .unwrap();
    let mut clip = b"YUV4MPEG2 W1280 H720 F30:1 Ip A1:1 Cmono\n".to_vec();
    for f in [&a, &a, &a, &a, &a, &b] {
        clip.extend(b"FRAME\n");
        clip.extend(&f.pixels);
    }
    let video = dir.path().join("clip.y4m");
    std::fs::write(&video, clip).unwrap();
    let spec = format!("images:{}?fps=0", video.display());
    let answers = run(&["pick", "SO-1001", "--json", "--source", &spec], Some(&db));
    let got: Vec<(&str, &str)> = answers
        .iter()
        .map(|a| (a["tag"].as_str().unwrap(), a["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("1A4060300003C35000010001", "accepted"),
            ("1A4060300003C35000010002", "accepted")
        ]
    );
    assert!(
        answers[0]["source"]
            .as_str()
            .unwrap()
            .starts_with("images:")
    );
}

#[test]
fn missing_folders_and_broken_videos_are_refused_clearly() {
    let out = Command::new(BIN)
        .args(["scan-test", "--source", "images:/nonexistent/frames"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such folder"));
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("bad.y4m");
    std::fs::write(&v, b"YUV4MPEG2 W64 H64 Cmono\nFRAME\n\x01\x02\x03").unwrap();
    let spec = format!("images:{}?fps=0", v.display());
    let lines = run(&["scan-test", "--source", &spec, "--json"], None);
    assert!(
        lines[0]["status"].as_str().unwrap().contains("cut short"),
        "{lines:?}"
    );
}

#[test]
fn a_camera_that_vanishes_mid_stream_is_reported_and_comes_back() {
    use tagtally::scan::{SourceEvent, Sources, open_source};
    let dir = tempfile::tempdir().unwrap();
    let cam = dir.path().join("camera");
    std::fs::create_dir(&cam).unwrap();
    let a = barcode_frame(
        "1A4060300003C35000010001",
        BarcodeFormat::CODE_128,
        3,
        1280,
        720,
    )
    .unwrap();
    save(&a, &cam.join("a.png"));
    let spec = format!("camera:{}?fps=20", cam.display()).parse().unwrap();
    let mut sources = Sources::new();
    sources.start(open_source(&spec, 4096, &Default::default()).unwrap());
    let rx = sources.events();
    let wait = std::time::Duration::from_secs(20);
    let next = |want: &dyn Fn(&SourceEvent) -> bool| loop {
        let ev = rx.recv_timeout(wait).expect("an event in time");
        if want(&ev) {
            return ev;
        }
    };
    let scan_of = |ev: &SourceEvent| match ev {
        SourceEvent::Scan(s) => String::from_utf8_lossy(&s.raw).into_owned(),
        _ => String::new(),
    };
    let status_has = |ev: &SourceEvent, text: &str| matches!(ev, SourceEvent::Status { message, .. } if message.contains(text));
    let ev = next(&|e| matches!(e, SourceEvent::Scan(_)));
    assert_eq!(scan_of(&ev), "1A4060300003C35000010001");

    // Unplug: the folder goes away.
    let away = dir.path().join("away");
    std::fs::rename(&cam, &away).unwrap();
    next(&|e| status_has(e, "gone"));
    // Plug it back with another package in view.
    std::fs::remove_file(away.join("a.png")).unwrap();
    let b = barcode_frame(
        "1A4060300003C35000010002",
        BarcodeFormat::CODE_128,
        3,
        1280,
        720,
    )
    .unwrap();
    save(&b, &away.join("b.png"));
    std::fs::rename(&away, &cam).unwrap();
    next(&|e| status_has(e, "(back)"));
    let ev = next(&|e| matches!(e, SourceEvent::Scan(_)));
    assert_eq!(scan_of(&ev), "1A4060300003C35000010002");
    sources.stop();
}

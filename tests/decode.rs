//! The camera decode pipeline on real image files: frames of the dev set with known
//! tags, a no-barcode frame, decoys, a zxing-cpp sample, images rendered with rxing's
//! encoder, and bad files that must give errors, never panics. The frames are the
//! committed copies in `tests/fixtures/camera` (see `support/camera.rs`); the full set
//! in `../shared/testdata/camera`, where present, is checked against them. The
//! whole-set evaluation is in `benches/decode.rs`; here only a handful of frames, so
//! the debug profile stays quick.

#[path = "support/camera.rs"]
mod camera;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rxing::{BarcodeFormat, MultiFormatWriter, Writer};
use tagtally::app;
use tagtally::scan::camera::decode::{
    DecodeError, Decoder, FrameResult, Symbology, eval, load_luma, load_luma_bytes,
};
use tagtally::tag::{NotATag, TagParser};

fn dev(file: &str) -> PathBuf {
    camera::dev_frame(file)
}

/// The default pipeline, lenient (40% of the dev tags are in the lenient shape), with
/// a budget no debug build reaches, so results do not depend on the machine's speed.
fn decoder() -> Decoder {
    let mut d = Decoder::new(TagParser {
        lenient: true,
        ..TagParser::default()
    });
    d.budget = Duration::from_secs(30);
    d
}

fn decode(d: &Decoder, path: &Path) -> FrameResult {
    d.decode_file(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tags(r: &FrameResult) -> Vec<String> {
    r.tags().map(|t| t.to_string()).collect()
}

#[test]
fn dev_frames_read_their_exact_tags() {
    let d = decoder();
    for (file, want) in [
        // Code 128, read line by line from a straightened strip.
        ("0010.png", "1A4DD40837410D1820851742"),
        // Code 128 tilted 20 degrees: peers read under 2% at this tilt.
        ("0027.png", "1A43FCF59892637857538360"),
        // DataMatrix and QR (lenient shape), from a squared, upscaled patch.
        ("0012.png", "1A444HRWTANJA8XXJPJN8PW6"),
        ("0028.png", "1A48Z8EXKZ7O3VD1OGMX2OXL"),
        // QR read by the fast whole-frame pass.
        ("0024.png", "1A4060433408236834075649"),
    ] {
        let r = decode(&d, &dev(file));
        assert_eq!(tags(&r), vec![want.to_string()], "{file}: {:?}", r.barcodes);
    }
}

#[test]
fn strict_parser_refuses_lenient_shaped_tags() {
    let mut d = decoder();
    d.parser.lenient = false;
    let r = decode(&d, &dev("0028.png"));
    assert!(r.tags().next().is_none(), "{:?}", r.barcodes);
    assert!(
        r.barcodes
            .iter()
            .all(|b| b.tag == Err(NotATag::Malformed) && b.text == "1A48Z8EXKZ7O3VD1OGMX2OXL"),
        "{:?}",
        r.barcodes
    );
}

#[test]
fn no_barcode_frames_yield_no_tag() {
    let d = decoder();
    for file in ["0011.png", "0013.png"] {
        let r = decode(&d, &dev(file));
        assert!(r.tags().next().is_none(), "{file}: {:?}", r.barcodes);
    }
}

#[test]
fn decoys_are_never_tags() {
    let mut d = decoder();
    d.stop_at_first_tag = false;
    // A Code 128 decoy beside the tag: both read, only the tag is a tag.
    let r = decode(&d, &dev("0060.png"));
    assert_eq!(tags(&r), vec!["1A47ACC409866C5295383867".to_string()]);
    let decoy = r.barcodes.iter().find(|b| b.text == "B38701617");
    assert_eq!(
        decoy.map(|b| b.tag.clone()),
        Some(Err(NotATag::Malformed)),
        "{:?}",
        r.barcodes
    );
    // Code 128 and QR decoys (an inventory code, a COA URL) on other frames.
    for (file, decoy) in [
        ("0112.png", "INV#39168285"),
        ("0116.png", "INV#65422409"),
        ("0076.png", "https://example.com/coa/wg2rrurs"),
    ] {
        let r = decode(&d, &dev(file));
        for b in &r.barcodes {
            if b.text == decoy {
                assert!(b.tag.is_err(), "{file}: decoy taken for a tag");
            }
        }
        assert!(
            r.tags().all(|t| t.as_str() != decoy.to_ascii_uppercase()),
            "{file}"
        );
    }
    // With EAN/UPC enabled, a UPC decoy is reported as another barcode, never a tag.
    d.formats.extend([Symbology::Ean13, Symbology::UpcA]);
    for (file, upc) in [("0020.png", "875952891521"), ("0094.png", "238356240508")] {
        let r = decode(&d, &dev(file));
        for b in &r.barcodes {
            if b.text == upc {
                assert_eq!(b.tag, Err(NotATag::OtherBarcode), "{file}");
            }
        }
        assert!(r.tags().all(|t| t.as_str() != upc), "{file}");
    }
}

#[test]
fn zxing_cpp_samples_decode() {
    let d = decoder();
    for (file, sym, want) in [
        ("code128-1/1.png", Symbology::Code128, "168901"),
        ("code128-1/4.png", Symbology::Code128, "123456"),
        (
            "datamatrix-1/0123456789.png",
            Symbology::DataMatrix,
            "0123456789",
        ),
    ] {
        let r = decode(&d, &camera::sample(file));
        let b = r
            .barcodes
            .iter()
            .find(|b| b.text == want)
            .unwrap_or_else(|| panic!("{file}: {:?}", r.barcodes));
        assert_eq!(b.symbology, sym);
        // Not tags: short numbers are malformed, not mistaken for anything else.
        assert!(b.tag.is_err());
    }
}

/// Render `text` as `format` with rxing's encoder into a white frame, `module` px per
/// module, turned by `degrees` about the centre.
fn render(text: &str, format: BarcodeFormat, module: u32, degrees: f32) -> (Vec<u8>, u32, u32) {
    let m = MultiFormatWriter
        .encode(text, &format, 0, 0)
        .expect("rxing encodes the text");
    let (mw, mh) = (m.width(), m.height());
    // 1D symbols come out one row tall: give them bars 60 modules high.
    let bar_rows = if mh <= 1 { 60 } else { 1 };
    let (sw, sh) = (mw * module, mh * bar_rows * module);
    // Square, so any turn fits.
    let side = sw.max(sh) + 240;
    let (w, h) = (side, side);
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (c, s) = (degrees.to_radians().cos(), degrees.to_radians().sin());
    let mut px = vec![235u8; (w * h) as usize];
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let u = c * dx + s * dy + sw as f32 / 2.0;
            let v = -s * dx + c * dy + sh as f32 / 2.0;
            if u >= 0.0 && v >= 0.0 && (u as u32) < sw && (v as u32) < sh {
                let (mx, my) = (u as u32 / module, v as u32 / module / bar_rows);
                if m.get(mx, my.min(mh - 1)) {
                    px[(y * w + x) as usize] = 25;
                }
            }
        }
    }
    (px, w, h)
}

#[test]
fn generated_codes_decode_back() {
    let d = decoder();
    let tag = "1A4060300003C35000019794";
    for (format, module, degrees) in [
        (BarcodeFormat::CODE_128, 2, 0.0),
        (BarcodeFormat::CODE_128, 3, 25.0),
        (BarcodeFormat::CODE_128, 2, 90.0),
        (BarcodeFormat::QR_CODE, 4, 30.0),
        (BarcodeFormat::DATA_MATRIX, 4, 0.0),
    ] {
        let (px, w, h) = render(tag, format, module, degrees);
        let r = d.decode_luma(&px, w, h).unwrap();
        assert_eq!(
            tags(&r),
            vec![tag.to_string()],
            "{format:?} at {degrees} degrees"
        );
    }
}

/// A PNG holding only a header (IHDR) for `width` x `height`, an empty IDAT and IEND.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c]);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn bad_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
        p
    };
    let frame = std::fs::read(dev("0010.png")).unwrap();
    let mut noise = Vec::with_capacity(4096);
    let mut x = 0x2545_F491_u32;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.push(x as u8);
    }
    let d = decoder();
    let cases = [
        ("text.png", write("text.png", b"1A4060300003C35000019794\n")),
        (
            "truncated.png",
            write("truncated.png", &frame[..frame.len() / 2]),
        ),
        ("zero.png", write("zero.png", &png_header(0, 0))),
        ("huge.png", write("huge.png", &png_header(20_000, 20_000))),
        ("noise.png", write("noise.png", &noise)),
        ("empty.png", write("empty.png", b"")),
        ("missing.png", dir.path().join("missing.png")),
    ];
    for (name, path) in &cases {
        let e = d.decode_file(path).expect_err(name);
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{name}: {msg}");
        match *name {
            "text.png" | "noise.png" | "empty.png" => {
                assert!(matches!(e, DecodeError::NotAnImage { .. }), "{name}: {e}")
            }
            "huge.png" => assert!(matches!(e, DecodeError::TooLarge { .. }), "{name}: {e}"),
            "missing.png" => assert!(matches!(e, DecodeError::Read { .. }), "{name}: {e}"),
            _ => {}
        }
    }
    // Bytes in memory take the same checks.
    assert!(load_luma_bytes("x", &png_header(20_000, 20_000)).is_err());
    assert!(load_luma_bytes("x", &noise).is_err());
}

#[test]
fn odd_grey_buffers_never_panic() {
    let d = decoder();
    let mut x = 0x1234_5678_u32;
    for (w, h) in [(1, 1), (3, 500), (500, 3), (17, 17), (320, 240)] {
        let px: Vec<u8> = (0..w * h)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let r = d.decode_luma(&px, w, h).unwrap();
        assert!(r.tags().next().is_none());
        // Pure black and pure white too.
        for v in [0u8, 255] {
            let flat = vec![v; (w * h) as usize];
            assert!(d.decode_luma(&flat, w, h).unwrap().barcodes.is_empty());
        }
    }
}

#[test]
fn loads_png_as_grey() {
    let img = load_luma(&dev("0013.png")).unwrap();
    assert_eq!((img.width, img.height), (640, 480));
    assert_eq!(img.pixels.len(), 640 * 480);
}

#[test]
fn evaluation_on_a_few_frames() {
    let dir = camera::fixtures().join("dev");
    let frames = eval::load_manifest(&dir).unwrap();
    assert_eq!(frames.len(), 14);
    let pick: Vec<_> = frames
        .into_iter()
        .filter(|f| ["0010.png", "0013.png", "0060.png"].contains(&f.file.as_str()))
        .collect();
    let report = eval::evaluate(&decoder(), &dir, &pick);
    let s = report.summary();
    assert_eq!((s.frames, s.with_tag, s.no_barcode), (3, 2, 1));
    assert_eq!(s.read, 2, "{s}");
    assert_eq!((s.misreads, s.false_reads, s.decoys_as_tags), (0, 0, 0));
    assert!(
        report
            .breakdown_table()
            .contains("| symbology | Code128 | 2 | 2 |")
    );
}

#[test]
fn decode_command_prints_each_image_and_counts_failures() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("notes.png");
    std::fs::write(&bad, "not an image").unwrap();
    let paths = vec![dev("0060.png"), bad.clone(), dev("0013.png")];
    let mut d = decoder();
    d.stop_at_first_tag = false;

    let mut out = Vec::new();
    let s = app::decode::run(&paths, false, &d, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!((s.decoded, s.failed, s.tags), (2, 1, 1), "{text}");
    assert!(
        text.contains("tag 1A47ACC409866C5295383867 (Code128)"),
        "{text}"
    );
    assert!(
        text.contains("not_a_tag malformed: \"B38701617\""),
        "{text}"
    );
    assert!(text.contains("notes.png: error:"), "{text}");
    assert!(text.contains("0013.png: no barcode found"), "{text}");

    let mut out = Vec::new();
    let s = app::decode::run(&paths, true, &d, &mut out).unwrap();
    assert_eq!(s.failed, 1);
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["tags"][0], "1A47ACC409866C5295383867");
    assert!(lines[0]["decode_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(lines[1]["ok"], false);
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("not a PNG or JPEG")
    );
    assert_eq!(lines[2]["tags"].as_array().unwrap().len(), 0);
}

/// The committed frames are the full set's own (same bytes, same manifest rows), and
/// the full set holds what its README says: 300 dev frames. Where the full set is
/// absent this says so (and fails under `TAGTALLY_REQUIRE_FULL_CAMERA_SET=1`).
#[test]
fn the_committed_frames_are_copies_of_the_full_set() {
    let ours = camera::fixtures();
    let our_rows = std::fs::read_to_string(ours.join("dev/manifest.csv")).unwrap();
    let mut our_lines = our_rows.lines();
    let header = our_lines.next().unwrap();
    let files: Vec<&str> = our_lines
        .clone()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(files.len(), 14, "{our_rows}");
    for f in &files {
        assert!(
            dev(f).is_file(),
            "{f} is in the committed manifest but not committed"
        );
    }
    let Some(full) = camera::full_set("tests/decode.rs") else {
        return;
    };
    let rows = std::fs::read_to_string(full.join("dev/manifest.csv")).unwrap();
    assert_eq!(rows.lines().next(), Some(header));
    assert_eq!(eval::load_manifest(&full.join("dev")).unwrap().len(), 300);
    for line in our_lines {
        assert!(
            rows.lines().any(|r| r == line),
            "manifest row differs: {line}"
        );
    }
    for f in &files {
        assert_eq!(
            std::fs::read(dev(f)).unwrap(),
            std::fs::read(full.join("dev").join(f)).unwrap(),
            "{f} differs from the full set's"
        );
    }
    for s in [
        "code128-1/1.png",
        "code128-1/4.png",
        "datamatrix-1/0123456789.png",
    ] {
        assert_eq!(
            std::fs::read(camera::sample(s)).unwrap(),
            std::fs::read(full.join("zxing-cpp-samples/gray").join(s)).unwrap(),
            "{s} differs from the full set's"
        );
    }
}

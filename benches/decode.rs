//! Camera frame decoding: time per frame, and accuracy on the dev set.
//!
//! - `decode_frame/{file}`: criterion timing of [`Decoder::decode_luma`] (decode only,
//!   the PNG already loaded) on representative frames: a Code 128 read from a
//!   straightened strip, a Code 128 tilted 20°, a QR read by the fast pass, a
//!   DataMatrix read from an upscaled patch, and a frame with no barcode (which runs
//!   every step until the time budget).
//! - After criterion, the evaluation over all 300 frames of
//!   `../shared/testdata/camera/dev` (one thread, frames loaded before timing): share of
//!   tags read, misreads, false reads, decoys taken for tags, median and p95 ms; first
//!   for the default pipeline (lenient tags), then strict tags, then the pipeline with
//!   steps left out, for comparison; then the breakdown by symbology and condition.
//!
//! Run with `cargo bench --bench decode`. `cargo test --benches` runs each benchmark
//! once and evaluates only 12 frames. The timed frames are the committed copies in
//! `tests/fixtures/camera/dev`; where the full set is absent (a plain clone) the
//! evaluation runs on the 14 committed frames instead, and says so.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group};
use tagtally::scan::camera::decode::{Decoder, eval, load_luma};
use tagtally::tag::TagParser;

const FRAMES: [&str; 5] = ["0010.png", "0027.png", "0024.png", "0012.png", "0013.png"];

#[path = "../tests/support/camera.rs"]
mod camera;

fn lenient() -> Decoder {
    Decoder::new(TagParser {
        lenient: true,
        ..TagParser::default()
    })
}

fn decode_frame(c: &mut Criterion) {
    let d = lenient();
    let mut group = c.benchmark_group("decode_frame");
    for file in FRAMES {
        let img = load_luma(&camera::dev_frame(file)).expect("dev frame loads");
        group.bench_with_input(BenchmarkId::from_parameter(file), &img, |b, img| {
            b.iter(|| d.decode_image(black_box(img)).expect("decodes"))
        });
    }
    group.finish();
}

fn evaluation(all: bool) {
    let (dir, set) = match camera::full_set("benches/decode.rs") {
        Some(full) => (full.join("dev"), "the full dev set"),
        None => (
            camera::fixtures().join("dev"),
            "the committed frames only (full set absent)",
        ),
    };
    let mut frames = eval::load_manifest(&dir).expect("dev manifest");
    if !all {
        frames.truncate(12);
    }
    let n = frames.len();
    let run = |name: &str, d: &Decoder| {
        let report = eval::evaluate(d, &dir, &frames);
        println!(
            "decode eval [{name}] over {n} frames of {set}: {}",
            report.summary()
        );
        report
    };
    let default = run("default, lenient tags", &lenient());
    let mut strict = lenient();
    strict.parser.lenient = false;
    run("default, strict tags", &strict);
    if all {
        let mut d = lenient();
        d.regions = false;
        d.try_harder = false;
        run("rxing fast pass only", &d);
        let mut d = lenient();
        d.regions = false;
        run("rxing fast + TryHarder, no regions", &d);
        let mut d = lenient();
        d.line_reader = false;
        run("no line reader (rxing on strips only)", &d);
        let mut d = lenient();
        d.try_harder = false;
        run("no TryHarder pass", &d);
        let mut d = lenient();
        d.budget = Duration::from_secs(10);
        run("no time budget", &d);
    }
    println!("\n{}", default.breakdown_table());
    for o in default.problems() {
        println!(
            "problem: {} expected {:?} wrong tags {:?} read {:?} error {:?}",
            o.frame.file, o.frame.expected, o.wrong_tags, o.texts, o.error
        );
    }
}

criterion_group! {
    name = frames;
    config = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    targets = decode_frame
}

fn main() {
    frames();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and only checks
    // that everything runs.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    evaluation(bench_mode);
    Criterion::default().configure_from_args().final_summary();
}

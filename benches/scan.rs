//! Framing and normalisation of one scanner line: what every scan pays before the pick
//! check. Run with `cargo bench --bench scan`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tagtally::scan::wedge::TypedFramer;
use tagtally::scan::{LineFramer, Terminator};
use tagtally::tag::TagParser;

fn framing_and_parsing(c: &mut Criterion) {
    let line = b"]C01a4060300003c35000019794\r\n";
    let parser = TagParser::default();
    c.bench_function("frame_and_parse_one_scan", |b| {
        let mut framer = LineFramer::new(4096);
        b.iter(|| {
            let mut tag = None;
            framer.push(black_box(line), |f| tag = Some(parser.parse(&f.bytes)));
            black_box(tag)
        })
    });
    c.bench_function("parse_only", |b| {
        b.iter(|| black_box(parser.parse(black_box(b"]C01a4060300003c35000019794"))))
    });
    c.bench_function("wedge_typed_scan", |b| {
        let text = "1A4060300003C35000019794\r";
        let mut framer =
            TypedFramer::new(Terminator::Any, 4096, std::time::Duration::from_millis(35));
        let mut t = std::time::Duration::ZERO;
        b.iter(|| {
            let mut out = vec![];
            for ch in text.chars() {
                t += std::time::Duration::from_millis(2);
                out.extend(framer.feed(ch.encode_utf8(&mut [0; 4]), t));
            }
            black_box(out)
        })
    });
}

criterion_group!(benches, framing_and_parsing);
criterion_main!(benches);

//! `tagtally decode [--json] [--lenient] IMAGE...`: read the barcodes in still images.
//!
//! Each image is decoded with [`Decoder`]; for each the tags found are printed, every
//! other barcode as `not_a_tag` with its reason, and the decode time. With `--json`,
//! one JSON object per image and line. A file that cannot be read or is not an image
//! gets its own error line and the other files still run; the returned [`Summary`]
//! counts them so the caller can exit non-zero.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use crate::scan::camera::decode::{Barcode, Decoder, FrameResult};

/// What a run did, for the exit code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Images decoded (whether or not they held a barcode).
    pub decoded: usize,
    /// Files that could not be read or decoded.
    pub failed: usize,
    /// Tags found over all images.
    pub tags: usize,
}

#[derive(Serialize)]
struct JsonBarcode<'a> {
    symbology: &'a str,
    text: &'a str,
    /// The tag, or `null` for a barcode that is not one.
    tag: Option<&'a str>,
    /// `null` for a tag; otherwise `malformed`, `retail_id` or `other_barcode`.
    not_a_tag: Option<&'a str>,
    reason: Option<String>,
    pass: &'a str,
}

#[derive(Serialize)]
struct JsonImage<'a> {
    file: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    decode_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    barcodes: Option<Vec<JsonBarcode<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn json_barcode(b: &Barcode) -> JsonBarcode<'_> {
    JsonBarcode {
        symbology: b.symbology.name(),
        text: &b.text,
        tag: b.tag.as_ref().ok().map(|t| t.as_str()),
        not_a_tag: b.tag.as_ref().err().map(|e| e.word()),
        reason: b.tag.as_ref().err().map(|e| e.to_string()),
        pass: b.pass.name(),
    }
}

fn ms(r: &FrameResult) -> f64 {
    (r.elapsed.as_secs_f64() * 1e5).round() / 100.0
}

/// Decode each image and print what was found. Only a failure to write `out` is an
/// `Err`; a bad image is counted in [`Summary::failed`] and reported in `out`.
pub fn run(
    paths: &[PathBuf],
    json: bool,
    decoder: &Decoder,
    out: &mut impl Write,
) -> std::io::Result<Summary> {
    let mut summary = Summary::default();
    for path in paths {
        let file = path.display().to_string();
        match decoder.decode_file(path) {
            Ok(r) => {
                summary.decoded += 1;
                summary.tags += r.tags().count();
                if json {
                    let img = JsonImage {
                        file,
                        ok: true,
                        decode_ms: Some(ms(&r)),
                        tags: Some(r.tags().map(|t| t.as_str()).collect()),
                        barcodes: Some(r.barcodes.iter().map(json_barcode).collect()),
                        error: None,
                    };
                    writeln!(out, "{}", serde_json::to_string(&img)?)?;
                } else {
                    print_text(&file, &r, out)?;
                }
            }
            Err(e) => {
                summary.failed += 1;
                if json {
                    let img = JsonImage {
                        file,
                        ok: false,
                        decode_ms: None,
                        tags: None,
                        barcodes: None,
                        error: Some(e.to_string()),
                    };
                    writeln!(out, "{}", serde_json::to_string(&img)?)?;
                } else {
                    writeln!(out, "{file}: error: {e}")?;
                }
            }
        }
    }
    Ok(summary)
}

fn print_text(file: &str, r: &FrameResult, out: &mut impl Write) -> std::io::Result<()> {
    let n = r.barcodes.len();
    let tags = r.tags().count();
    let head = match (n, tags) {
        (0, _) => "no barcode found".to_string(),
        (_, 0) => format!(
            "no tag ({n} other barcode{})",
            if n == 1 { "" } else { "s" }
        ),
        _ => format!("{tags} tag{}", if tags == 1 { "" } else { "s" }),
    };
    writeln!(out, "{file}: {head} ({:.1} ms)", ms(r))?;
    for b in &r.barcodes {
        match &b.tag {
            Ok(tag) => writeln!(out, "  tag {tag} ({})", b.symbology)?,
            Err(why) => writeln!(
                out,
                "  not_a_tag {}: {:?} ({}): {why}",
                why.word(),
                b.text,
                b.symbology
            )?,
        }
    }
    Ok(())
}

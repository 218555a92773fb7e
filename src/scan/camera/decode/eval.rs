//! Scoring a [`Decoder`] on a folder of frames with a `manifest.csv` (the layout of
//! `shared/testdata/camera/dev`): share of tags read, misreads, false reads, decoys
//! taken for tags, and decode time, overall and broken down by condition.
//!
//! Used by `benches/decode.rs` (all frames) and `tests/decode.rs` (a few).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::Path;

use super::{Decoder, Symbology, load_luma};

/// One row of the manifest.
#[derive(Clone, Debug)]
pub struct Frame {
    pub file: String,
    /// The symbology of the tag barcode; `None` for a frame without a barcode.
    pub symbology: Option<Symbology>,
    /// The tag text expected; `None` for a frame without a barcode.
    pub expected: Option<String>,
    pub module_px: Option<f32>,
    pub rotation_deg: Option<f32>,
    pub skew: Option<f32>,
    pub blur_sigma: Option<f32>,
    pub motion_blur: Option<f32>,
    pub noise_sigma: Option<f32>,
    pub contrast: String,
    pub lighting: String,
    pub jpeg_q: Option<u32>,
    pub scene: String,
    pub decoy_symbology: Option<String>,
    pub decoy_text: Option<String>,
    pub width: u32,
}

impl Frame {
    /// Degrees off the nearest axis (0–45).
    pub fn tilt(&self) -> Option<f32> {
        self.rotation_deg.map(|r| {
            let m = r.rem_euclid(90.0);
            m.min(90.0 - m)
        })
    }

    /// The condition buckets this frame falls in, as `(dimension, bucket)` pairs.
    pub fn conditions(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let sym = self.symbology.map_or("none", Symbology::name).to_string();
        out.push(("symbology", sym.clone()));
        if self.symbology.is_none() {
            return out;
        }
        if let Some(m) = self.module_px {
            let b = if m < 1.5 {
                "<1.5"
            } else if m < 2.0 {
                "1.5-2"
            } else if m < 3.0 {
                "2-3"
            } else {
                ">=3"
            };
            out.push(("module_px", b.into()));
        }
        if let Some(t) = self.tilt() {
            let b = if t <= 8.0 {
                "0-8"
            } else if t <= 15.0 {
                "8-15"
            } else {
                ">15"
            };
            out.push(("tilt_deg", format!("{sym} {b}")));
        }
        if let Some(s) = self.blur_sigma {
            out.push(("blur_sigma", if s > 1.0 { ">1" } else { "<=1" }.into()));
        }
        if self.motion_blur.unwrap_or(0.0) > 0.0 {
            out.push(("motion_blur", "yes".into()));
        } else {
            out.push(("motion_blur", "no".into()));
        }
        if let Some(n) = self.noise_sigma {
            out.push(("noise_sigma", if n >= 2.0 { ">=2" } else { "<2" }.into()));
        }
        out.push(("contrast", self.contrast.clone()));
        out.push((
            "shadow",
            if self.lighting.contains("shadow") {
                "shadow"
            } else {
                "no shadow"
            }
            .into(),
        ));
        out.push((
            "jpeg",
            match self.jpeg_q {
                Some(q) if q < 50 => "q<50".into(),
                Some(_) => "q>=50".into(),
                None => "lossless".into(),
            },
        ));
        out.push(("scene", self.scene.clone()));
        out.push(("resolution", format!("{}w", self.width)));
        out.push((
            "decoy",
            self.decoy_symbology
                .clone()
                .unwrap_or_else(|| "none".into()),
        ));
        if let Some(e) = &self.expected {
            let strict = e.len() == 24
                && e.starts_with("1A4")
                && e[3..]
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase());
            out.push((
                "tag_shape",
                if strict { "strict" } else { "lenient" }.into(),
            ));
        }
        out
    }
}

/// Read `manifest.csv` from `dir`.
pub fn load_manifest(dir: &Path) -> Result<Vec<Frame>, String> {
    let path = dir.join("manifest.csv");
    let mut rdr = csv::Reader::from_path(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let headers = rdr
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let idx: BTreeMap<&str, Option<usize>> = [
        "file",
        "symbology",
        "expected",
        "width",
        "scene",
        "module_px",
        "rotation_deg",
        "skew",
        "blur_sigma",
        "motion_blur",
        "noise_sigma",
        "contrast",
        "lighting",
        "jpeg_q",
        "decoy_symbology",
        "decoy_text",
    ]
    .into_iter()
    .map(|n| (n, col(n)))
    .collect();
    let mut frames = Vec::new();
    for (n, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("{} row {}: {e}", path.display(), n + 2))?;
        let get = |name: &str| -> String {
            idx.get(name)
                .copied()
                .flatten()
                .and_then(|i| rec.get(i))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let opt = |name: &str| Some(get(name)).filter(|s| !s.is_empty());
        let num = |name: &str| opt(name).and_then(|s| s.parse::<f32>().ok());
        let file = get("file");
        if file.is_empty() {
            return Err(format!("{} row {}: no file name", path.display(), n + 2));
        }
        frames.push(Frame {
            file,
            symbology: opt("symbology").and_then(|s| Symbology::from_name(&s)),
            expected: opt("expected"),
            module_px: num("module_px"),
            rotation_deg: num("rotation_deg"),
            skew: num("skew"),
            blur_sigma: num("blur_sigma"),
            motion_blur: num("motion_blur"),
            noise_sigma: num("noise_sigma"),
            contrast: get("contrast"),
            lighting: get("lighting"),
            jpeg_q: opt("jpeg_q").and_then(|s| s.parse().ok()),
            scene: get("scene"),
            decoy_symbology: opt("decoy_symbology"),
            decoy_text: opt("decoy_text"),
            width: num("width").map_or(0, |w| w as u32),
        });
    }
    Ok(frames)
}

/// What the decoder made of one frame.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub frame: Frame,
    /// The expected tag was among the tags read.
    pub read: bool,
    /// Tags read that differ from the expected one (or any tag on a frame without one).
    pub wrong_tags: Vec<String>,
    /// The decoy's text was reported as a tag.
    pub decoy_as_tag: bool,
    /// Every barcode text read, with its symbology and pass.
    pub texts: Vec<String>,
    pub decode_ms: f64,
    pub error: Option<String>,
}

/// Counts for a set of frames.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub frames: usize,
    /// Frames that hold a tag barcode.
    pub with_tag: usize,
    /// Of those, frames whose expected tag was read.
    pub read: usize,
    /// Frames with a tag where a different tag was read.
    pub misreads: usize,
    pub no_barcode: usize,
    /// Frames without a barcode where any tag was read.
    pub false_reads: usize,
    /// Frames where a decoy's text came out as a tag.
    pub decoys_as_tags: usize,
    pub errors: usize,
    pub median_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    pub fn read_share(&self) -> f64 {
        if self.with_tag == 0 {
            0.0
        } else {
            self.read as f64 / self.with_tag as f64
        }
    }

    fn of<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> Summary {
        let mut s = Summary::default();
        let mut ms = Vec::new();
        for o in outcomes {
            s.frames += 1;
            ms.push(o.decode_ms);
            if o.error.is_some() {
                s.errors += 1;
            }
            if o.frame.expected.is_some() {
                s.with_tag += 1;
                s.read += usize::from(o.read);
                s.misreads += usize::from(!o.wrong_tags.is_empty());
            } else {
                s.no_barcode += 1;
                s.false_reads += usize::from(!o.wrong_tags.is_empty());
            }
            s.decoys_as_tags += usize::from(o.decoy_as_tag);
        }
        ms.sort_by(f64::total_cmp);
        s.median_ms = percentile(&ms, 0.50);
        s.p95_ms = percentile(&ms, 0.95);
        s.max_ms = ms.last().copied().unwrap_or(0.0);
        s
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read {}/{} ({:.1}%), misreads {}, false reads {}/{}, decoys as tags {}, errors {}, \
             median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            self.read,
            self.with_tag,
            100.0 * self.read_share(),
            self.misreads,
            self.false_reads,
            self.no_barcode,
            self.decoys_as_tags,
            self.errors,
            self.median_ms,
            self.p95_ms,
            self.max_ms
        )
    }
}

/// The outcomes of a run over frames.
#[derive(Clone, Debug)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
}

impl Report {
    pub fn summary(&self) -> Summary {
        Summary::of(self.outcomes.iter())
    }

    /// Summaries per bucket of each condition dimension.
    pub fn breakdown(&self) -> BTreeMap<(&'static str, String), Summary> {
        let mut groups: BTreeMap<(&'static str, String), Vec<&Outcome>> = BTreeMap::new();
        for o in &self.outcomes {
            for key in o.frame.conditions() {
                groups.entry(key).or_default().push(o);
            }
        }
        groups
            .into_iter()
            .map(|(k, v)| (k, Summary::of(v.into_iter())))
            .collect()
    }

    /// A Markdown table of the breakdown: dimension, bucket, frames, read share.
    pub fn breakdown_table(&self) -> String {
        let mut out = String::from(
            "| condition | bucket | frames with tag | read | share | median ms | p95 ms |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for ((dim, bucket), s) in self.breakdown() {
            let _ = writeln!(
                out,
                "| {dim} | {bucket} | {} | {} | {:.1}% | {:.1} | {:.1} |",
                s.with_tag,
                s.read,
                100.0 * s.read_share(),
                s.median_ms,
                s.p95_ms
            );
        }
        out
    }

    /// Frames that went wrong: misreads, false reads, decoys taken as tags, errors.
    pub fn problems(&self) -> Vec<&Outcome> {
        self.outcomes
            .iter()
            .filter(|o| !o.wrong_tags.is_empty() || o.decoy_as_tag || o.error.is_some())
            .collect()
    }
}

/// Decode `frames` (files in `dir`) and score them. Loading is not timed.
pub fn evaluate(decoder: &Decoder, dir: &Path, frames: &[Frame]) -> Report {
    let outcomes = frames
        .iter()
        .map(|f| evaluate_one(decoder, &dir.join(&f.file), f))
        .collect();
    Report { outcomes }
}

fn evaluate_one(decoder: &Decoder, path: &Path, frame: &Frame) -> Outcome {
    let mut o = Outcome {
        frame: frame.clone(),
        read: false,
        wrong_tags: Vec::new(),
        decoy_as_tag: false,
        texts: Vec::new(),
        decode_ms: 0.0,
        error: None,
    };
    let result = load_luma(path).and_then(|img| decoder.decode_image(&img));
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            o.error = Some(e.to_string());
            return o;
        }
    };
    o.decode_ms = r.elapsed.as_secs_f64() * 1000.0;
    let expected = frame.expected.as_ref().map(|e| e.to_ascii_uppercase());
    let decoy = frame.decoy_text.as_ref().map(|d| d.to_ascii_uppercase());
    for b in &r.barcodes {
        o.texts
            .push(format!("{}:{}:{}", b.symbology, b.pass.name(), b.text));
        if let Ok(tag) = &b.tag {
            if Some(tag.as_str()) == expected.as_deref() {
                o.read = true;
            } else {
                o.wrong_tags.push(tag.to_string());
            }
            if decoy.as_deref() == Some(tag.as_str())
                || frame.decoy_text.as_deref() == Some(b.text.as_str())
            {
                o.decoy_as_tag = true;
            }
        }
    }
    o
}

//! Camera scanning: frames from a V4L2 camera, a folder of images or a Y4M video file,
//! decoded on a worker thread ([`decode::Decoder`]), each barcode reported once while it
//! stays in view ([`Deduper`]).
//!
//! Every barcode read is sent on as a scan with its decoded text, so a decoy (a UPC, a
//! Retail ID QR) reaches the pick check and is answered `not_a_tag`, never as a tag.

pub mod decode;
pub mod v4l2;
pub mod y4m;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use self::decode::{Decoder, GreyImage, load_luma};
use super::framing::Frame;
use super::source::{Options, ScanSource, Sink, StatusLevel, opt_u32};

/// Reports a text once, then again only after it has been out of view for `hold_off`.
#[derive(Debug)]
pub struct Deduper {
    hold_off: Duration,
    last_seen: HashMap<String, Duration>,
}

impl Deduper {
    pub fn new(hold_off: Duration) -> Self {
        Deduper {
            hold_off,
            last_seen: HashMap::new(),
        }
    }

    /// True if `text` seen at `at` should be reported. Every sighting extends the hold.
    pub fn fresh(&mut self, text: &str, at: Duration) -> bool {
        let fresh = match self.last_seen.get(text) {
            Some(&last) => at.saturating_sub(last) > self.hold_off,
            None => true,
        };
        self.last_seen.insert(text.to_string(), at);
        if self.last_seen.len() > 256 {
            let hold = self.hold_off;
            self.last_seen
                .retain(|_, &mut t| at.saturating_sub(t) <= hold);
        }
        fresh
    }
}

/// Decode one frame and send what is new. Returns false once nobody listens.
pub fn emit_frame(
    decoder: &Decoder,
    dedupe: &mut Deduper,
    frame: &GreyImage,
    at: Duration,
    sink: &Sink,
    label: &str,
) -> bool {
    match decoder.decode_image(frame) {
        Ok(result) => {
            for b in result.barcodes {
                if !dedupe.fresh(&b.text, at) {
                    continue;
                }
                // The decoder's own verdict travels with the text: it refuses reads
                // (lower-case letters, for one) that the plain parser would accept.
                let sent = match &b.tag {
                    Ok(tag) => {
                        let bytes = tag.as_str().as_bytes().to_vec();
                        sink.scan(
                            Frame {
                                len: bytes.len(),
                                bytes,
                            },
                            false,
                        )
                    }
                    Err(reason) => {
                        let bytes = b.text.into_bytes();
                        sink.scan_refused(
                            Frame {
                                len: bytes.len(),
                                bytes,
                            },
                            *reason,
                        )
                    }
                };
                if !sent {
                    return false;
                }
            }
            true
        }
        Err(e) => sink.status(StatusLevel::Warn, format!("{label}: {e}")),
    }
}

/// A `formats=code128,qrcode,...` option: the symbologies a camera looks for.
pub fn parse_formats(list: &str) -> Result<Vec<decode::Symbology>, String> {
    list.split(',')
        .map(|f| {
            decode::Symbology::from_name(f.trim()).ok_or_else(|| {
                format!(
                    "unknown barcode format {f:?}: use code128, qrcode, datamatrix, ean13, ean8, upca or upce"
                )
            })
        })
        .collect()
}

/// The decoder a camera or image source uses: `parser`'s tag rules, and the
/// spec's `formats` if given (default Code 128, QR, DataMatrix).
pub fn decoder_for(parser: &crate::tag::TagParser, opts: &Options) -> Decoder {
    let mut d = Decoder::new(parser.clone());
    if let Some(f) = opts.get("formats").and_then(|f| parse_formats(f).ok()) {
        d.formats = f;
    }
    d
}

/// Frame options shared by camera and image sources.
#[derive(Clone, Debug)]
pub struct FrameOptions {
    /// Frames a second (images: the pace of playback, 0 = as fast as decoding goes).
    pub fps: u32,
    pub hold_off: Duration,
}

impl FrameOptions {
    pub fn from_options(opts: &Options, default_fps: u32) -> Self {
        FrameOptions {
            fps: opt_u32(opts, "fps", default_fps),
            hold_off: Duration::from_millis(u64::from(opt_u32(opts, "hold_off_ms", 1500))),
        }
    }

    /// The time of frame `n` on the source's own clock.
    fn time_of(&self, n: u64) -> Duration {
        let fps = u64::from(self.fps.max(1));
        Duration::from_micros(n * 1_000_000 / fps)
    }
}

/// A folder of PNG/JPEG images (in name order) or a Y4M video file, played as camera
/// frames: for tests, demos, and checking a camera's pictures offline.
pub struct ImagesSource {
    path: PathBuf,
    frames: FrameOptions,
    repeat: bool,
    decoder: Decoder,
}

impl ImagesSource {
    pub fn new(path: PathBuf, opts: &Options, decoder: Decoder) -> Self {
        ImagesSource {
            path,
            frames: FrameOptions::from_options(opts, 10),
            repeat: opts.get("loop").is_some_and(|v| v == "true" || v == "1"),
            decoder,
        }
    }
}

/// The image files of a folder, in name order.
pub fn image_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        })
        .collect();
    files.sort();
    Ok(files)
}

impl ScanSource for ImagesSource {
    fn name(&self) -> String {
        format!("images:{}", self.path.display())
    }

    fn run(self: Box<Self>, sink: Sink) {
        let mut dedupe = Deduper::new(self.frames.hold_off);
        let pace = (self.frames.fps > 0)
            .then(|| Duration::from_micros(1_000_000 / u64::from(self.frames.fps)));
        let mut n: u64 = 0;
        loop {
            let frames: Box<dyn Iterator<Item = (String, Result<GreyImage, String>)>> =
                if self.path.is_dir() {
                    match image_files(&self.path) {
                        Ok(files) => Box::new(files.into_iter().map(|f| {
                            let label = f.display().to_string();
                            let img = load_luma(&f).map_err(|e| e.to_string());
                            (label, img)
                        })),
                        Err(e) => {
                            sink.status(
                                StatusLevel::Error,
                                format!("cannot read folder {}: {e}", self.path.display()),
                            );
                            return;
                        }
                    }
                } else {
                    match y4m::Y4mReader::open(&self.path) {
                        Ok(r) => {
                            let label = self.path.display().to_string();
                            Box::new(r.enumerate().map(move |(i, f)| {
                                (format!("{label} frame {i}"), f.map_err(|e| e.to_string()))
                            }))
                        }
                        Err(e) => {
                            sink.status(StatusLevel::Error, e.to_string());
                            return;
                        }
                    }
                };
            for (label, img) in frames {
                if sink.stopped() {
                    return;
                }
                let at = self.frames.time_of(n);
                n += 1;
                let alive = match img {
                    Ok(img) => emit_frame(&self.decoder, &mut dedupe, &img, at, &sink, &label),
                    Err(e) => sink.status(StatusLevel::Warn, format!("skipping {e}")),
                };
                if !alive {
                    return;
                }
                if let Some(p) = pace
                    && !sink.sleep(p)
                {
                    return;
                }
            }
            if !self.repeat {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_in_view_is_reported_once_until_it_leaves() {
        let mut d = Deduper::new(Duration::from_millis(1000));
        let ms = Duration::from_millis;
        assert!(d.fresh("A", ms(0)));
        assert!(!d.fresh("A", ms(33)));
        assert!(!d.fresh("A", ms(900)));
        assert!(!d.fresh("A", ms(1800)), "each sighting extends the hold");
        assert!(d.fresh("B", ms(1800)));
        assert!(d.fresh("A", ms(3000)), "out of view long enough");
    }
}

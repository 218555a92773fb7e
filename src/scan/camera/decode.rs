//! Decoding barcodes in one grey frame, and telling Metrc tags from everything else.
//!
//! [`Decoder::decode_luma`] takes an 8-bit grey frame and answers every barcode it
//! found, each classified by [`TagParser`]: a tag, or `not_a_tag` with the reason. A
//! UPC/EAN or a Code 128 that does not have the shape of a tag is never reported as a
//! tag. [`load_luma`] reads a PNG or JPEG file into a grey frame, refusing files that
//! are not images, empty images and absurd sizes before decoding their pixels.
//!
//! The pipeline (see `docs/camera-decode.md` for what each step is worth):
//!
//! 1. a fast whole-frame pass with rxing, formats restricted, without TryHarder;
//! 2. regions of interest found from image gradients (blocks of strong, coherent
//!    gradient for 1D codes; strong gradient in any direction for 2D codes); a 1D
//!    region is resampled along its bars into a straight, upscaled strip (whatever its
//!    tilt), averaged along the bars and binarised locally; a 2D region is cropped,
//!    turned square to the grid and upscaled;
//! 3. a whole-frame TryHarder pass, if the time budget allows.
//!
//! Every rxing call runs under `catch_unwind`: a panic inside the decoder becomes a
//! [`DecodeError::DecoderPanicked`] (or is ignored when another pass read something),
//! never a crash.

mod code128;
pub mod eval;
mod regions;

use std::collections::HashSet;
use std::fmt;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use rxing::common::{GlobalHistogramBinarizer, HybridBinarizer};
use rxing::{
    BarcodeFormat, Binarizer, BinaryBitmap, DecodeHints, Luma8Source, MultiFormatReader,
    RXingResult, Reader,
};
use serde::Serialize;

use crate::tag::{MetrcTag, NotATag, TagParser};

/// Largest image accepted, in pixels (a 12-megapixel photo fits; 20000x20000 does not).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Largest image side accepted, in pixels.
pub const MAX_SIDE: u32 = 16_384;
/// Largest image file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Why a frame could not be loaded or decoded. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("cannot read {path}: {source}; check the path and its permissions")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{what} is {bytes} bytes, more than the {max} byte limit; use a smaller image")]
    FileTooLarge { what: String, bytes: u64, max: u64 },
    #[error("{what} is not a PNG or JPEG image; save the frame as PNG or JPEG and try again")]
    NotAnImage { what: String },
    #[error("{what} has no pixels ({width}x{height}); export the frame again")]
    Empty {
        what: String,
        width: u32,
        height: u32,
    },
    #[error(
        "{what} is {width}x{height} pixels, above the limit of {MAX_PIXELS} pixels \
         ({MAX_SIDE} per side); scale it down (1280x720 is plenty for a tag)"
    )]
    TooLarge {
        what: String,
        width: u32,
        height: u32,
    },
    #[error("{what} is damaged or truncated ({detail}); export the frame again")]
    Corrupt { what: String, detail: String },
    #[error(
        "a {width}x{height} grey frame needs {need} bytes but {len} were given; pass one \
         byte per pixel (luma8), rows without padding"
    )]
    BadBuffer {
        width: u32,
        height: u32,
        len: usize,
        need: u64,
    },
    #[error(
        "the barcode decoder failed on this frame ({detail}); try another frame, and \
         report it with the image if it keeps happening"
    )]
    DecoderPanicked { detail: String },
}

/// An 8-bit grey image, one byte per pixel, rows packed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GreyImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// Read a PNG or JPEG file into a grey frame. The size is checked from the header
/// before any pixel is decoded.
pub fn load_luma(path: &Path) -> Result<GreyImage, DecodeError> {
    let what = path.display().to_string();
    let read_err = |source| DecodeError::Read {
        path: what.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(DecodeError::FileTooLarge {
            what,
            bytes: meta.len(),
            max: MAX_FILE_BYTES,
        });
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    load_luma_bytes(&what, &bytes)
}

/// [`load_luma`] for bytes already in memory; `what` names them in errors.
pub fn load_luma_bytes(what: &str, bytes: &[u8]) -> Result<GreyImage, DecodeError> {
    use image::{ImageFormat, ImageReader, Limits};
    let what = what.to_string();
    let reader = || -> Result<ImageReader<Cursor<&[u8]>>, DecodeError> {
        let r = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| DecodeError::Corrupt {
                what: what.clone(),
                detail: e.to_string(),
            })?;
        match r.format() {
            Some(ImageFormat::Png | ImageFormat::Jpeg) => Ok(r),
            _ => Err(DecodeError::NotAnImage { what: what.clone() }),
        }
    };
    let corrupt = |e: image::ImageError| DecodeError::Corrupt {
        what: what.clone(),
        detail: e.to_string(),
    };
    // The header alone first: refuse absurd sizes before allocating anything.
    let (width, height) = reader()?.into_dimensions().map_err(corrupt)?;
    if width == 0 || height == 0 {
        return Err(DecodeError::Empty {
            what,
            width,
            height,
        });
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(DecodeError::TooLarge {
            what,
            width,
            height,
        });
    }
    let mut r = reader()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // Room for the widest decoded form (16-bit RGBA) of the largest image allowed.
    limits.max_alloc = Some(MAX_PIXELS * 8 + (1 << 20));
    r.limits(limits);
    let decoded = catch_unwind(AssertUnwindSafe(|| r.decode()))
        .map_err(|p| DecodeError::Corrupt {
            what: what.clone(),
            detail: format!("image decoder panicked: {}", panic_text(&p)),
        })?
        .map_err(corrupt)?;
    let grey = decoded.into_luma8();
    let (width, height) = grey.dimensions();
    Ok(GreyImage {
        width,
        height,
        pixels: grey.into_raw(),
    })
}

/// The symbologies this decoder can be asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Symbology {
    Code128,
    QrCode,
    DataMatrix,
    Ean13,
    Ean8,
    UpcA,
    UpcE,
}

impl Symbology {
    /// Code 128, QR and DataMatrix: what Metrc tags are printed as.
    pub const TAGS: [Symbology; 3] = [Symbology::Code128, Symbology::QrCode, Symbology::DataMatrix];

    /// The name used in reports and in the test manifest (`Code128`, `QRCode`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Symbology::Code128 => "Code128",
            Symbology::QrCode => "QRCode",
            Symbology::DataMatrix => "DataMatrix",
            Symbology::Ean13 => "EAN13",
            Symbology::Ean8 => "EAN8",
            Symbology::UpcA => "UPCA",
            Symbology::UpcE => "UPCE",
        }
    }

    /// Parse a name as [`Symbology::name`] writes it (case-insensitive).
    pub fn from_name(s: &str) -> Option<Symbology> {
        [
            Symbology::Code128,
            Symbology::QrCode,
            Symbology::DataMatrix,
            Symbology::Ean13,
            Symbology::Ean8,
            Symbology::UpcA,
            Symbology::UpcE,
        ]
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(s))
    }

    pub fn is_1d(self) -> bool {
        !matches!(self, Symbology::QrCode | Symbology::DataMatrix)
    }

    fn rxing(self) -> BarcodeFormat {
        match self {
            Symbology::Code128 => BarcodeFormat::CODE_128,
            Symbology::QrCode => BarcodeFormat::QR_CODE,
            Symbology::DataMatrix => BarcodeFormat::DATA_MATRIX,
            Symbology::Ean13 => BarcodeFormat::EAN_13,
            Symbology::Ean8 => BarcodeFormat::EAN_8,
            Symbology::UpcA => BarcodeFormat::UPC_A,
            Symbology::UpcE => BarcodeFormat::UPC_E,
        }
    }

    fn from_rxing(f: &BarcodeFormat) -> Option<Symbology> {
        Some(match f {
            BarcodeFormat::CODE_128 => Symbology::Code128,
            BarcodeFormat::QR_CODE => Symbology::QrCode,
            BarcodeFormat::DATA_MATRIX => Symbology::DataMatrix,
            BarcodeFormat::EAN_13 => Symbology::Ean13,
            BarcodeFormat::EAN_8 => Symbology::Ean8,
            BarcodeFormat::UPC_A => Symbology::UpcA,
            BarcodeFormat::UPC_E => Symbology::UpcE,
            _ => return None,
        })
    }
}

impl fmt::Display for Symbology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The pipeline step that read a barcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pass {
    /// Whole frame, rxing without TryHarder.
    Fast,
    /// A 1D region straightened into a strip, read by rxing.
    Strip,
    /// A 1D region straightened into a strip, read line by line with sub-pixel edges.
    Lines,
    /// A 2D region cropped, squared and upscaled.
    Patch,
    /// Whole frame, rxing with TryHarder.
    TryHarder,
}

impl Pass {
    pub fn name(self) -> &'static str {
        match self {
            Pass::Fast => "fast",
            Pass::Strip => "strip",
            Pass::Lines => "lines",
            Pass::Patch => "patch",
            Pass::TryHarder => "try_harder",
        }
    }
}

/// One barcode found in a frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Barcode {
    pub symbology: Symbology,
    /// The text as decoded, before any normalisation.
    pub text: String,
    /// What [`TagParser`] made of it.
    pub tag: Result<MetrcTag, NotATag>,
    /// The step that read it.
    pub pass: Pass,
}

/// Everything found in one frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameResult {
    pub barcodes: Vec<Barcode>,
    /// Time spent decoding (not loading).
    pub elapsed: Duration,
    /// True if the time budget stopped the search before every step ran.
    pub budget_hit: bool,
    /// rxing panics caught and survived on this frame.
    pub decoder_panics: u32,
}

impl FrameResult {
    /// The tags found, in the order they were read.
    pub fn tags(&self) -> impl Iterator<Item = &MetrcTag> {
        self.barcodes.iter().filter_map(|b| b.tag.as_ref().ok())
    }
}

/// A configured camera-frame decoder. Cheap to build; `decode_*` take `&self`.
#[derive(Clone, Debug)]
pub struct Decoder {
    /// Tells tags from other barcodes; the same parser as scanner input.
    pub parser: TagParser,
    /// Symbologies searched for. Default: Code 128, QR, DataMatrix. Adding EAN/UPC only
    /// lets decoys be reported as `not_a_tag`; it costs time and never adds a tag.
    pub formats: Vec<Symbology>,
    /// Look for regions of interest and straighten, upscale and binarise them locally.
    pub regions: bool,
    /// Most regions of each kind (1D, 2D) tried per frame.
    pub max_regions: usize,
    /// Run rxing's TryHarder over the whole frame when nothing else read a tag.
    pub try_harder: bool,
    /// No new step starts after this much time on a frame.
    pub budget: Duration,
    /// Read straightened Code 128 strips line by line with sub-pixel edges (besides
    /// rxing on the same strips).
    pub line_reader: bool,
    /// Scan lines of a strip that must read the same Code 128 text before it counts.
    pub line_agreement: usize,
    /// Stop at the first tag found (a scan loop wants one tag per frame).
    pub stop_at_first_tag: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            parser: TagParser::default(),
            formats: Symbology::TAGS.to_vec(),
            regions: true,
            max_regions: 6,
            try_harder: true,
            budget: Duration::from_millis(22),
            line_reader: true,
            line_agreement: 2,
            stop_at_first_tag: true,
        }
    }
}

/// A grey view used by the pipeline.
#[derive(Clone, Copy)]
pub(crate) struct Grey<'a> {
    pub px: &'a [u8],
    pub w: usize,
    pub h: usize,
}

/// What a pipeline run collects.
struct Collector<'p> {
    parser: &'p TagParser,
    seen: HashSet<(Symbology, String)>,
    barcodes: Vec<Barcode>,
    panics: u32,
    panic_detail: Option<String>,
}

impl Collector<'_> {
    fn add(&mut self, r: &RXingResult, pass: Pass) {
        let Some(symbology) = Symbology::from_rxing(r.getBarcodeFormat()) else {
            return;
        };
        self.add_text(symbology, r.getText().to_string(), pass);
    }

    fn add_text(&mut self, symbology: Symbology, text: String, pass: Pass) {
        if !self.seen.insert((symbology, text.clone())) {
            return;
        }
        let mut tag = self.parser.parse(text.as_bytes());
        // Tags are printed in upper case. A lower-case letter in a camera read is a
        // misread (a Code 128 set B/C slip), even if the parser would fold its case.
        if tag.is_ok() && text.bytes().any(|b| b.is_ascii_lowercase()) {
            tag = Err(NotATag::Malformed);
        }
        self.barcodes.push(Barcode {
            symbology,
            text,
            tag,
            pass,
        });
    }

    fn has_tag(&self) -> bool {
        self.barcodes.iter().any(|b| b.tag.is_ok())
    }
}

impl Decoder {
    /// A decoder with the default pipeline and the given tag parser.
    pub fn new(parser: TagParser) -> Self {
        Decoder {
            parser,
            ..Decoder::default()
        }
    }

    /// Load an image file and decode it.
    pub fn decode_file(&self, path: &Path) -> Result<FrameResult, DecodeError> {
        let img = load_luma(path)?;
        self.decode_image(&img)
    }

    pub fn decode_image(&self, img: &GreyImage) -> Result<FrameResult, DecodeError> {
        self.decode_luma(&img.pixels, img.width, img.height)
    }

    /// Decode one grey frame (`width * height` bytes, one per pixel).
    pub fn decode_luma(
        &self,
        luma: &[u8],
        width: u32,
        height: u32,
    ) -> Result<FrameResult, DecodeError> {
        let need = u64::from(width) * u64::from(height);
        if width == 0 || height == 0 || need != luma.len() as u64 {
            return Err(DecodeError::BadBuffer {
                width,
                height,
                len: luma.len(),
                need,
            });
        }
        let start = Instant::now();
        let g = Grey {
            px: luma,
            w: width as usize,
            h: height as usize,
        };
        let mut c = Collector {
            parser: &self.parser,
            seen: HashSet::new(),
            barcodes: Vec::new(),
            panics: 0,
            panic_detail: None,
        };
        let budget_hit = self.run(g, &mut c, start);
        if c.barcodes.is_empty()
            && let Some(detail) = c.panic_detail.take()
        {
            return Err(DecodeError::DecoderPanicked { detail });
        }
        Ok(FrameResult {
            barcodes: c.barcodes,
            elapsed: start.elapsed(),
            budget_hit,
            decoder_panics: c.panics,
        })
    }

    fn formats_where(&self, pred: impl Fn(Symbology) -> bool) -> HashSet<BarcodeFormat> {
        self.formats
            .iter()
            .copied()
            .filter(|f| pred(*f))
            .map(Symbology::rxing)
            .collect()
    }

    /// Returns true if the budget stopped the search.
    fn run(&self, g: Grey<'_>, c: &mut Collector<'_>, start: Instant) -> bool {
        let done = |c: &Collector<'_>| self.stop_at_first_tag && c.has_tag();
        let over = || start.elapsed() >= self.budget;
        let all = self.formats_where(|_| true);
        if all.is_empty() {
            return false;
        }
        let one_d = self.formats_where(Symbology::is_1d);
        let two_d = self.formats_where(|f| !f.is_1d());

        // 1. Whole frame, fast.
        rxing_decode(g, &all, false, Bin::Hybrid, c, Pass::Fast);
        if done(c) {
            return false;
        }

        // 2. Regions of interest.
        if self.regions {
            let found = regions::find(g);
            let mut strips = found.one_d.iter().take(self.max_regions);
            let mut patches = found.two_d.iter().take(self.max_regions);
            // Interleave the two kinds, strongest first, so a frame of either kind gets
            // its best region early.
            loop {
                let mut any = false;
                if !one_d.is_empty()
                    && let Some(r) = strips.next()
                {
                    any = true;
                    if over() {
                        return true;
                    }
                    let strip = regions::strip(g, r);
                    if self.line_reader
                        && self.formats.contains(&Symbology::Code128)
                        && let Some(text) =
                            code128::read_rows(&strip.grey, strip.w, strip.h, self.line_agreement)
                    {
                        c.add_text(Symbology::Code128, text, Pass::Lines);
                    }
                    if !c.has_tag() {
                        for img in [strip.binary(), strip.grey_u8()] {
                            rxing_decode(img.view(), &one_d, false, Bin::Global, c, Pass::Strip);
                            if c.has_tag() {
                                break;
                            }
                        }
                    }
                    if done(c) {
                        return false;
                    }
                }
                if !two_d.is_empty()
                    && let Some(r) = patches.next()
                {
                    any = true;
                    if over() {
                        return true;
                    }
                    let patch = regions::patch(g, r);
                    let pg = patch.view();
                    rxing_decode(pg, &two_d, true, Bin::Hybrid, c, Pass::Patch);
                    if !c.has_tag() {
                        rxing_decode(pg, &two_d, true, Bin::Global, c, Pass::Patch);
                    }
                    if done(c) {
                        return false;
                    }
                }
                if !any {
                    break;
                }
            }
        }

        // 3. Whole frame, TryHarder.
        if self.try_harder && !c.has_tag() {
            if over() {
                return true;
            }
            rxing_decode(g, &all, true, Bin::Hybrid, c, Pass::TryHarder);
        }
        false
    }
}

#[derive(Clone, Copy)]
enum Bin {
    Hybrid,
    Global,
}

/// One rxing call on a grey view, panics caught. Results go to the collector.
fn rxing_decode(
    g: Grey<'_>,
    formats: &HashSet<BarcodeFormat>,
    try_harder: bool,
    bin: Bin,
    c: &mut Collector<'_>,
    pass: Pass,
) {
    if g.w == 0 || g.h == 0 || formats.is_empty() {
        return;
    }
    let hints = DecodeHints {
        PossibleFormats: Some(formats.clone()),
        TryHarder: Some(try_harder),
        ..DecodeHints::default()
    };
    let run = || -> Option<RXingResult> {
        let src = Luma8Source::new_with_slice(g.px, g.w as u32, g.h as u32).ok()?;
        let mut reader = MultiFormatReader::default();
        match bin {
            Bin::Hybrid => decode_with(&mut reader, HybridBinarizer::new(src), &hints),
            Bin::Global => decode_with(&mut reader, GlobalHistogramBinarizer::new(src), &hints),
        }
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Some(r)) => c.add(&r, pass),
        Ok(None) => {}
        Err(p) => {
            c.panics += 1;
            c.panic_detail
                .get_or_insert_with(|| format!("rxing panicked: {}", panic_text(&p)));
        }
    }
}

fn decode_with<B: Binarizer>(
    reader: &mut MultiFormatReader,
    bin: B,
    hints: &DecodeHints,
) -> Option<RXingResult> {
    reader
        .decode_with_hints(&mut BinaryBitmap::new(bin), hints)
        .ok()
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_buffers_are_errors() {
        let d = Decoder::default();
        assert!(matches!(
            d.decode_luma(&[], 0, 0),
            Err(DecodeError::BadBuffer { .. })
        ));
        assert!(matches!(
            d.decode_luma(&[0; 10], 4, 4),
            Err(DecodeError::BadBuffer { .. })
        ));
    }

    #[test]
    fn blank_and_tiny_frames_decode_to_nothing() {
        let d = Decoder::default();
        for (w, h) in [(1, 1), (2, 3), (7, 1), (64, 64)] {
            let px = vec![200u8; w * h];
            let r = d.decode_luma(&px, w as u32, h as u32).unwrap();
            assert!(r.barcodes.is_empty());
        }
    }

    #[test]
    fn symbology_names_round_trip() {
        for s in Symbology::TAGS {
            assert_eq!(Symbology::from_name(s.name()), Some(s));
        }
        assert_eq!(Symbology::from_name("qrcode"), Some(Symbology::QrCode));
        assert_eq!(Symbology::from_name("aztec"), None);
    }
}

//! The receiver's signature, drawn with a finger on the delivery screen's pad.
//!
//! [`Signature`] is a plain model (no UI types): the pad's pointer callbacks feed it
//! [`Signature::begin`], [`Signature::extend`] and [`Signature::end`] in the pad's
//! logical pixels, the pad draws [`Signature::path_commands`] live, and the record keeps
//! [`Signature::to_png`]. [`Signature::has_ink`] says whether enough was drawn to count
//! as a signature (a tap or a dot does not); [`png_has_ink`] checks a stored image from
//! its pixels alone (a looser floor: a blank or a speck is refused), so the store can
//! refuse an empty signature without trusting the screen. It uses no UI crate and
//! sits below both `app` (the command line's and the station's check of a stored
//! image) and `ui` (the pad).
//!
//! Every input is clamped or ignored, never trusted: NaN points are dropped, other
//! points are clamped onto the pad, and the number of points is capped
//! ([`MAX_POINTS_PER_STROKE`], [`MAX_POINTS`]) so a stuck finger cannot eat memory.

use std::io::Cursor;

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, ImageFormat, ImageReader, Limits};

/// A move shorter than this (logical px) from a stroke's last point is not recorded.
pub const MIN_STEP: f32 = 1.5;

/// At most this many points in one stroke; later moves of that stroke are dropped.
/// At [`MIN_STEP`] apart that is over 3,000 px of line, several times across any pad.
pub const MAX_POINTS_PER_STROKE: usize = 2_048;

/// At most this many points in the whole signature (64 KiB of points); once reached,
/// new strokes and moves are dropped until [`Signature::clear`].
pub const MAX_POINTS: usize = 8_192;

/// The pen's width in logical px, on the pad and in the image (times the scale).
pub const PEN_WIDTH: f32 = 3.0;

/// Total stroke length (logical px) below which the drawing is not a signature.
pub const MIN_INK_LENGTH: f32 = 40.0;

/// The drawing must span at least this much (logical px) across or down to count: a
/// finger resting on one spot and jittering does not.
pub const MIN_INK_EXTENT: f32 = 12.0;

/// The pad's sides are clamped to 1..=this (logical px).
pub const MAX_PAD_SIDE: f32 = 4_096.0;

/// The widest and tallest image [`Signature::to_png`] makes and [`png_has_ink`] reads.
pub const MAX_PNG_SIDE: u32 = 4_096;

/// [`png_has_ink`] wants at least this many dark pixels.
pub const MIN_DARK_PIXELS: usize = 30;

/// [`png_has_ink`] wants the dark pixels to span at least this many pixels across or
/// down.
pub const MIN_DARK_SPAN: u32 = 8;

/// A pixel at or below this grey level (0 black, 255 white) is ink.
const DARK: u8 = 127;

/// A signature as strokes of points in the pad's logical pixels, (0, 0) top left.
#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    strokes: Vec<Vec<(f32, f32)>>,
    width: f32,
    height: f32,
    /// Whether the last stroke is still being drawn (finger down).
    open: bool,
    /// Points in all strokes, kept so the cap costs nothing to check.
    points: usize,
}

/// A side of the pad, made sane: at least 1, at most [`MAX_PAD_SIDE`].
fn side(v: f32) -> f32 {
    if v.is_nan() {
        1.0
    } else {
        v.clamp(1.0, MAX_PAD_SIDE)
    }
}

fn distance(a: (f32, f32), b: (f32, f32)) -> f32 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

impl Signature {
    /// An empty signature on a pad of `width` x `height` logical px.
    pub fn new(width: f32, height: f32) -> Signature {
        Signature {
            strokes: Vec::new(),
            width: side(width),
            height: side(height),
            open: false,
            points: 0,
        }
    }

    /// The pad's width in logical px.
    pub fn width(&self) -> f32 {
        self.width
    }

    /// The pad's height in logical px.
    pub fn height(&self) -> f32 {
        self.height
    }

    /// The pad now has this size (a new layout, a turned handheld). What is drawn is
    /// scaled to the new size, so it stays on the pad and nothing is lost.
    pub fn set_size(&mut self, width: f32, height: f32) {
        let (width, height) = (side(width), side(height));
        if width == self.width && height == self.height {
            return;
        }
        let (sx, sy) = (width / self.width, height / self.height);
        for stroke in &mut self.strokes {
            for p in stroke.iter_mut() {
                *p = ((p.0 * sx).clamp(0.0, width), (p.1 * sy).clamp(0.0, height));
            }
        }
        self.width = width;
        self.height = height;
    }

    /// The strokes drawn so far, each at least one point.
    pub fn strokes(&self) -> &[Vec<(f32, f32)>] {
        &self.strokes
    }

    /// How many points are recorded, in all strokes.
    pub fn point_count(&self) -> usize {
        self.points
    }

    /// `(x, y)` clamped onto the pad, or `None` for NaN.
    fn clamp(&self, x: f32, y: f32) -> Option<(f32, f32)> {
        if x.is_nan() || y.is_nan() {
            return None;
        }
        Some((x.clamp(0.0, self.width), y.clamp(0.0, self.height)))
    }

    fn start(&mut self, p: (f32, f32)) -> bool {
        if self.points >= MAX_POINTS {
            return false;
        }
        self.strokes.push(vec![p]);
        self.points += 1;
        self.open = true;
        true
    }

    /// A finger went down at `(x, y)`: a new stroke (ending any open one). Returns
    /// whether anything was recorded (not for NaN, nor past [`MAX_POINTS`]).
    pub fn begin(&mut self, x: f32, y: f32) -> bool {
        self.end();
        match self.clamp(x, y) {
            Some(p) => self.start(p),
            None => false,
        }
    }

    /// The finger moved to `(x, y)`. Returns whether a point was recorded, so the pad
    /// is redrawn only when something changed: not for a move under [`MIN_STEP`], NaN,
    /// or past the caps. A move with no stroke open (its press was missed) starts one.
    pub fn extend(&mut self, x: f32, y: f32) -> bool {
        let Some(p) = self.clamp(x, y) else {
            return false;
        };
        if !self.open {
            return self.start(p);
        }
        if self.points >= MAX_POINTS {
            return false;
        }
        let Some(stroke) = self.strokes.last_mut() else {
            return self.start(p);
        };
        let far_enough = stroke
            .last()
            .is_none_or(|&last| distance(last, p) >= MIN_STEP);
        if !far_enough || stroke.len() >= MAX_POINTS_PER_STROKE {
            return false;
        }
        stroke.push(p);
        self.points += 1;
        true
    }

    /// The finger lifted (or the press was cancelled): the stroke is finished.
    pub fn end(&mut self) {
        self.open = false;
    }

    /// Wipe the pad: no strokes, and the caps count from zero again.
    pub fn clear(&mut self) {
        self.strokes.clear();
        self.points = 0;
        self.open = false;
    }

    /// Nothing drawn at all.
    pub fn is_empty(&self) -> bool {
        self.strokes.is_empty()
    }

    /// The length of all strokes together, in logical px.
    pub fn ink_length(&self) -> f32 {
        self.strokes
            .iter()
            .flat_map(|s| s.windows(2).map(|w| distance(w[0], w[1])))
            .sum()
    }

    /// Enough drawn to count as a signature: at least one stroke of two or more
    /// points, [`MIN_INK_LENGTH`] px of line in all, spanning at least
    /// [`MIN_INK_EXTENT`] px across or down. A tap, a dot or a jittering finger is not.
    pub fn has_ink(&self) -> bool {
        if !self.strokes.iter().any(|s| s.len() >= 2) || self.ink_length() < MIN_INK_LENGTH {
            return false;
        }
        let mut points = self.strokes.iter().flatten();
        let Some(&(x, y)) = points.next() else {
            return false;
        };
        let (x0, y0, x1, y1) = points.fold((x, y, x, y), |(x0, y0, x1, y1), &(x, y)| {
            (x0.min(x), y0.min(y), x1.max(x), y1.max(y))
        });
        (x1 - x0).max(y1 - y0) >= MIN_INK_EXTENT
    }

    /// The strokes as SVG path commands ("M x y L x y ... M ..."), in the pad's logical
    /// px, for the pad's `Path` to draw. Empty when nothing is drawn. A one-point
    /// stroke becomes a tiny line, so a round cap shows it as a dot.
    pub fn path_commands(&self) -> String {
        use std::fmt::Write;
        let mut out = String::with_capacity(self.points * 14);
        for stroke in &self.strokes {
            let Some(&(x, y)) = stroke.first() else {
                continue;
            };
            if !out.is_empty() {
                out.push(' ');
            }
            // Writing to a String cannot fail.
            let _ = write!(out, "M {x:.1} {y:.1}");
            if stroke.len() == 1 {
                out.push_str(" l 0.1 0");
            }
            for &(x, y) in &stroke[1..] {
                let _ = write!(out, " L {x:.1} {y:.1}");
            }
        }
        out
    }

    /// The signature as a greyscale PNG, black ink on white, `scale` image pixels per
    /// logical px (so the image is the pad's size times `scale`), lines
    /// [`PEN_WIDTH`] x `scale` wide with round ends and joins, anti-aliased.
    ///
    /// Refused: a `scale` that is not a positive finite number, or an image wider or
    /// taller than [`MAX_PNG_SIDE`].
    pub fn to_png(&self, scale: f32) -> Result<Vec<u8>, String> {
        if !scale.is_finite() || scale <= 0.0 {
            return Err(format!(
                "signature image scale must be a positive number, not {scale}"
            ));
        }
        let (fw, fh) = ((self.width * scale).ceil(), (self.height * scale).ceil());
        if fw > MAX_PNG_SIDE as f32 || fh > MAX_PNG_SIDE as f32 {
            return Err(format!(
                "a signature image of {fw} x {fh} px is larger than {MAX_PNG_SIDE} px a side"
            ));
        }
        let (w, h) = (fw.max(1.0) as u32, fh.max(1.0) as u32);
        let mut pixels = vec![255u8; w as usize * h as usize];
        let mut canvas = Canvas {
            pixels: &mut pixels,
            width: w,
            height: h,
            radius: PEN_WIDTH * scale / 2.0,
        };
        for stroke in &self.strokes {
            let scaled = |&(x, y): &(f32, f32)| (x * scale, y * scale);
            match stroke.as_slice() {
                [] => {}
                [p] => canvas.segment(scaled(p), scaled(p)),
                _ => {
                    for pair in stroke.windows(2) {
                        canvas.segment(scaled(&pair[0]), scaled(&pair[1]));
                    }
                }
            }
        }
        let mut png = Vec::new();
        PngEncoder::new(&mut png)
            .write_image(&pixels, w, h, ExtendedColorType::L8)
            .map_err(|e| format!("cannot encode the signature image: {e}"))?;
        Ok(png)
    }
}

/// A grey image being inked.
struct Canvas<'a> {
    pixels: &'a mut [u8],
    width: u32,
    height: u32,
    /// Half the pen's width, in image pixels.
    radius: f32,
}

impl Canvas<'_> {
    /// Ink the capsule around the segment `a`-`b` (a disc when they are the same point):
    /// each pixel darkened by how much of it the pen covers.
    fn segment(&mut self, a: (f32, f32), b: (f32, f32)) {
        let reach = self.radius + 1.0;
        let x0 = (a.0.min(b.0) - reach).floor().max(0.0) as u32;
        let y0 = (a.1.min(b.1) - reach).floor().max(0.0) as u32;
        let x1 = ((a.0.max(b.0) + reach).ceil().max(0.0) as u32).min(self.width);
        let y1 = ((a.1.max(b.1) + reach).ceil().max(0.0) as u32).min(self.height);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        for y in y0..y1 {
            for x in x0..x1 {
                let c = (x as f32 + 0.5, y as f32 + 0.5);
                let t = if len2 > 0.0 {
                    (((c.0 - a.0) * dx + (c.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let d = distance(c, (a.0 + t * dx, a.1 + t * dy));
                let cover = (self.radius + 0.5 - d).clamp(0.0, 1.0);
                if cover > 0.0 {
                    let grey = (255.0 * (1.0 - cover)).round() as u8;
                    let i = y as usize * self.width as usize + x as usize;
                    self.pixels[i] = self.pixels[i].min(grey);
                }
            }
        }
    }
}

/// Whether a stored signature image shows a signature, from its pixels alone: it
/// decodes as a PNG of at most [`MAX_PNG_SIDE`] px a side, has at least
/// [`MIN_DARK_PIXELS`] dark pixels spanning at least [`MIN_DARK_SPAN`] px across or
/// down, and is mostly light (ink on paper, not a black square). Transparent pixels
/// count as paper. This is a floor for the store (a blank or a speck is refused),
/// looser than [`Signature::has_ink`], because the image's scale is unknown here. A lone
/// dot is refused in images made at a scale up to 2, so store signatures at 1 or 2.
pub fn png_has_ink(png: &[u8]) -> bool {
    let mut reader = ImageReader::with_format(Cursor::new(png), ImageFormat::Png);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_PNG_SIDE);
    limits.max_image_height = Some(MAX_PNG_SIDE);
    limits.max_alloc = Some(256 << 20);
    reader.limits(limits);
    let Ok(image) = reader.decode() else {
        return false;
    };
    let image = image.to_luma_alpha8();
    let (mut dark, mut x0, mut y0, mut x1, mut y1) = (0usize, u32::MAX, u32::MAX, 0u32, 0u32);
    for (x, y, p) in image.enumerate_pixels() {
        let [grey, alpha] = p.0;
        if grey <= DARK && alpha >= 128 {
            dark += 1;
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    let total = image.width() as usize * image.height() as usize;
    dark >= MIN_DARK_PIXELS && dark * 2 <= total && (x1 - x0 + 1).max(y1 - y0 + 1) >= MIN_DARK_SPAN
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The grey level at image pixel (x, y) of a PNG.
    fn grey_at(png: &[u8], x: u32, y: u32) -> u8 {
        let img = image::load_from_memory_with_format(png, ImageFormat::Png)
            .unwrap()
            .to_luma8();
        img.get_pixel(x, y).0[0]
    }

    /// A zigzag across the pad, like a quick scrawl.
    fn scribble(s: &mut Signature) {
        assert!(s.begin(20.0, 60.0));
        for i in 1..=40 {
            let x = 20.0 + i as f32 * 5.0;
            let y = if i % 2 == 0 { 60.0 } else { 90.0 };
            assert!(s.extend(x, y));
        }
        s.end();
    }

    #[test]
    fn a_new_pad_is_empty_and_refused() {
        let s = Signature::new(400.0, 200.0);
        assert!(s.is_empty());
        assert!(!s.has_ink());
        assert_eq!(s.path_commands(), "");
        assert_eq!(s.point_count(), 0);
        let png = s.to_png(1.0).unwrap();
        assert!(!png_has_ink(&png), "a blank image is not a signature");
    }

    #[test]
    fn a_tap_or_a_dot_is_not_a_signature() {
        let mut s = Signature::new(400.0, 200.0);
        assert!(s.begin(100.0, 100.0));
        s.end();
        assert!(!s.is_empty());
        assert!(!s.has_ink(), "a tap");
        assert_eq!(s.path_commands(), "M 100.0 100.0 l 0.1 0");

        // A finger resting and jittering: long enough in total, but all in one spot.
        s.clear();
        s.begin(100.0, 100.0);
        for i in 0..60 {
            let d = if i % 2 == 0 { 2.0 } else { -2.0 };
            s.extend(100.0 + d, 100.0);
        }
        s.end();
        assert!(s.ink_length() >= MIN_INK_LENGTH);
        assert!(!s.has_ink(), "jitter on one spot");

        // Many taps are many dots, not a line.
        s.clear();
        for i in 0..20 {
            s.begin(10.0 + i as f32 * 15.0, 100.0);
            s.end();
        }
        assert!(!s.has_ink(), "taps");

        // A short flick.
        s.clear();
        s.begin(100.0, 100.0);
        s.extend(110.0, 100.0);
        s.extend(120.0, 100.0);
        s.end();
        assert!(!s.has_ink(), "20 px is not a signature");

        let mut d = Signature::new(400.0, 200.0);
        d.begin(100.0, 100.0);
        let dot = d.to_png(1.0).unwrap();
        assert!(grey_at(&dot, 100, 100) < 64, "the dot is drawn");
        assert!(!png_has_ink(&dot), "a dot's image is refused too");
        let dot2 = d.to_png(2.0).unwrap();
        assert!(grey_at(&dot2, 200, 200) < 64, "the dot is drawn at scale 2");
        assert!(!png_has_ink(&dot2), "and refused at scale 2");
    }

    #[test]
    fn a_scribble_is_a_signature() {
        let mut s = Signature::new(400.0, 200.0);
        scribble(&mut s);
        assert!(s.has_ink());
        assert_eq!(s.strokes().len(), 1);
        assert_eq!(s.point_count(), 41);
        let c = s.path_commands();
        assert!(c.starts_with("M 20.0 60.0 L 25.0 90.0 L 30.0 60.0"), "{c}");
        assert_eq!(c.matches('L').count(), 40);
        assert!(png_has_ink(&s.to_png(1.0).unwrap()));
        assert!(png_has_ink(&s.to_png(2.0).unwrap()));
    }

    #[test]
    fn strokes_are_separate_paths() {
        let mut s = Signature::new(400.0, 200.0);
        s.begin(10.0, 10.0);
        s.extend(50.0, 10.0);
        s.end();
        s.begin(10.0, 50.0);
        s.extend(50.0, 50.0);
        s.end();
        assert_eq!(
            s.path_commands(),
            "M 10.0 10.0 L 50.0 10.0 M 10.0 50.0 L 50.0 50.0"
        );
        // Two strokes of 40 px, 40 px apart: a signature (initials).
        assert!(s.has_ink());
    }

    #[test]
    fn tiny_moves_are_dropped() {
        let mut s = Signature::new(400.0, 200.0);
        s.begin(10.0, 10.0);
        assert!(!s.extend(11.0, 10.0), "1 px from the last point");
        assert!(!s.extend(10.5, 11.0));
        assert!(s.extend(11.5, 10.0), "1.5 px from the last point");
        assert!(!s.extend(12.5, 10.0), "1 px from the new last point");
        assert_eq!(s.point_count(), 2);
    }

    #[test]
    fn a_move_without_a_press_starts_a_stroke() {
        let mut s = Signature::new(400.0, 200.0);
        assert!(s.extend(10.0, 10.0));
        assert!(s.extend(60.0, 10.0));
        s.end();
        assert!(s.extend(10.0, 80.0), "after the lift, a new stroke");
        assert_eq!(s.strokes().len(), 2);
        assert_eq!(s.strokes()[0], vec![(10.0, 10.0), (60.0, 10.0)]);
    }

    #[test]
    fn the_png_shows_the_strokes() {
        let mut s = Signature::new(300.0, 160.0);
        // A horizontal line at y = 40 from x = 20 to 200, and a vertical one at x = 250.
        s.begin(20.0, 40.0);
        s.extend(200.0, 40.0);
        s.end();
        s.begin(250.0, 20.0);
        s.extend(250.0, 140.0);
        s.end();

        let png = s.to_png(1.0).unwrap();
        let img = image::load_from_memory_with_format(&png, ImageFormat::Png)
            .unwrap()
            .to_luma8();
        assert_eq!((img.width(), img.height()), (300, 160));
        for x in [20, 60, 110, 199] {
            assert!(img.get_pixel(x, 40).0[0] < 64, "ink at ({x}, 40)");
            assert!(img.get_pixel(x, 39).0[0] < 64, "ink at ({x}, 39)");
        }
        for y in [20, 80, 139] {
            assert!(img.get_pixel(250, y).0[0] < 64, "ink at (250, {y})");
        }
        // About 3 px wide: white 4 px off the line, and everywhere away from it.
        assert_eq!(img.get_pixel(110, 44).0[0], 255);
        assert_eq!(img.get_pixel(110, 35).0[0], 255);
        assert_eq!(img.get_pixel(254, 80).0[0], 255);
        for (x, y) in [
            (0, 0),
            (150, 100),
            (10, 40),
            (205, 40),
            (299, 159),
            (100, 150),
        ] {
            assert_eq!(img.get_pixel(x, y).0[0], 255, "paper at ({x}, {y})");
        }
        // 180 + 120 px of line, 3 px wide, with round ends: about 914 px of ink.
        let ink: f32 = img.pixels().map(|p| f32::from(255 - p.0[0]) / 255.0).sum();
        assert!((880.0..=950.0).contains(&ink), "{ink} px of ink");

        // Twice the scale: twice the size, the same drawing.
        let png2 = s.to_png(2.0).unwrap();
        let img2 = image::load_from_memory_with_format(&png2, ImageFormat::Png)
            .unwrap()
            .to_luma8();
        assert_eq!((img2.width(), img2.height()), (600, 320));
        assert!(img2.get_pixel(220, 80).0[0] < 64);
        assert!(img2.get_pixel(220, 78).0[0] < 64, "6 px wide at scale 2");
        assert_eq!(img2.get_pixel(220, 86).0[0], 255);
        assert_eq!(img2.get_pixel(300, 200).0[0], 255);
    }

    #[test]
    fn bad_scales_and_huge_images_are_refused() {
        let s = Signature::new(400.0, 200.0);
        for scale in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            assert!(s.to_png(scale).is_err(), "scale {scale}");
        }
        assert!(s.to_png(20.0).is_err(), "8000 px wide");
        let tiny = s.to_png(0.001).unwrap();
        let img = image::load_from_memory(&tiny).unwrap();
        assert_eq!((img.width(), img.height()), (1, 1));
    }

    #[test]
    fn wild_coordinates_are_clamped_or_dropped() {
        let mut s = Signature::new(200.0, 100.0);
        assert!(!s.begin(f32::NAN, 10.0));
        assert!(!s.extend(10.0, f32::NAN));
        assert!(s.is_empty());
        assert!(s.begin(-50.0, -1e30));
        assert!(s.extend(f32::INFINITY, 50.0));
        assert!(s.extend(1e9, f32::NEG_INFINITY));
        assert!(s.extend(f32::MAX, f32::MAX));
        assert!(!s.extend(f32::NAN, f32::NAN));
        s.end();
        assert_eq!(
            s.strokes()[0],
            vec![(0.0, 0.0), (200.0, 50.0), (200.0, 0.0), (200.0, 100.0)]
        );
        assert!(!s.path_commands().contains("NaN") && !s.path_commands().contains("inf"));
        let png = s.to_png(1.0).unwrap();
        assert!(png_has_ink(&png));
        assert!(grey_at(&png, 199, 50) < 64, "ink on the edge");

        // A pad of nonsense size is a sane one.
        for (w, h) in [(f32::NAN, -5.0), (0.0, 0.0), (1e12, f32::INFINITY)] {
            let mut s = Signature::new(w, h);
            assert!(s.width() >= 1.0 && s.width() <= MAX_PAD_SIDE);
            assert!(s.height() >= 1.0 && s.height() <= MAX_PAD_SIDE);
            s.begin(1e6, 1e6);
            s.set_size(f32::NAN, 1e20);
            assert_eq!((s.width(), s.height()), (1.0, MAX_PAD_SIDE));
            assert!(s.to_png(1.0).is_ok());
        }
    }

    #[test]
    fn the_caps_hold() {
        // One stroke that never ends: a stuck finger sliding around.
        let mut s = Signature::new(400.0, 200.0);
        s.begin(0.0, 0.0);
        for i in 0..10_000 {
            let x = (i % 200) as f32 * 2.0;
            let y = if (i / 200) % 2 == 0 { 10.0 } else { 190.0 };
            s.extend(x, y);
        }
        assert_eq!(s.strokes().len(), 1);
        assert_eq!(s.strokes()[0].len(), MAX_POINTS_PER_STROKE);
        assert_eq!(s.point_count(), MAX_POINTS_PER_STROKE);

        // Many strokes: the total stops at MAX_POINTS, then nothing more is taken.
        s.clear();
        let mut taken = 0;
        for i in 0..20_000 {
            let y = (i % 20) as f32 * 10.0;
            taken += s.begin(0.0, y) as usize;
            taken += s.extend(300.0, y) as usize;
        }
        assert_eq!(taken, MAX_POINTS);
        assert_eq!(s.point_count(), MAX_POINTS);
        assert_eq!(s.strokes().iter().map(Vec::len).sum::<usize>(), MAX_POINTS);
        assert!(!s.begin(10.0, 10.0));
        assert!(!s.extend(100.0, 100.0));
        // Still drawable.
        assert!(png_has_ink(&s.to_png(1.0).unwrap()));

        // Clear starts the count again.
        s.clear();
        assert!(s.begin(10.0, 10.0));
        assert_eq!(s.point_count(), 1);
    }

    #[test]
    fn clear_wipes_everything() {
        let mut s = Signature::new(400.0, 200.0);
        scribble(&mut s);
        s.begin(5.0, 5.0);
        s.clear();
        assert!(s.is_empty());
        assert!(!s.has_ink());
        assert_eq!(s.point_count(), 0);
        assert_eq!(s.path_commands(), "");
        assert!(!png_has_ink(&s.to_png(1.0).unwrap()));
        // The open stroke went too: a move now starts a fresh stroke.
        s.extend(50.0, 50.0);
        assert_eq!(s.strokes(), &[vec![(50.0, 50.0)]]);
    }

    #[test]
    fn a_resized_pad_keeps_the_drawing_on_it() {
        let mut s = Signature::new(400.0, 200.0);
        s.begin(400.0, 100.0);
        s.extend(200.0, 200.0);
        s.set_size(200.0, 100.0);
        assert_eq!(s.strokes()[0], vec![(200.0, 50.0), (100.0, 100.0)]);
        assert_eq!((s.width(), s.height()), (200.0, 100.0));
        // The stroke is still open and goes on in the new size.
        assert!(s.extend(150.0, 100.0));
        assert_eq!(s.strokes().len(), 1);
    }

    #[test]
    fn other_images_are_judged_by_their_pixels() {
        assert!(!png_has_ink(b""));
        assert!(!png_has_ink(b"not a png at all"));
        let encode = |img: image::RgbaImage| {
            let mut out = Vec::new();
            PngEncoder::new(&mut out)
                .write_image(
                    img.as_raw(),
                    img.width(),
                    img.height(),
                    ExtendedColorType::Rgba8,
                )
                .unwrap();
            out
        };
        // All black is not ink on paper.
        assert!(!png_has_ink(&encode(image::RgbaImage::from_pixel(
            100,
            50,
            image::Rgba([0, 0, 0, 255])
        ))));
        // Fully transparent (black with no alpha) is blank paper.
        assert!(!png_has_ink(&encode(image::RgbaImage::from_pixel(
            100,
            50,
            image::Rgba([0, 0, 0, 0])
        ))));
        // A dark blue line on white, with alpha, is a signature.
        let mut img = image::RgbaImage::from_pixel(100, 50, image::Rgba([255, 255, 255, 255]));
        for x in 10..90 {
            for y in 24..27 {
                img.put_pixel(x, y, image::Rgba([10, 20, 120, 255]));
            }
        }
        assert!(png_has_ink(&encode(img)));
        // A line in an image 4,096 px wide is read; 4,097 px wide is refused unread.
        let wide = |width: u32| {
            let mut img = image::GrayImage::from_pixel(width, 4, image::Luma([255]));
            for x in 0..200 {
                img.put_pixel(x, 1, image::Luma([0]));
            }
            let mut out = Vec::new();
            PngEncoder::new(&mut out)
                .write_image(img.as_raw(), width, 4, ExtendedColorType::L8)
                .unwrap();
            out
        };
        assert!(png_has_ink(&wide(MAX_PNG_SIDE)));
        assert!(
            !png_has_ink(&wide(MAX_PNG_SIDE + 1)),
            "wider than MAX_PNG_SIDE"
        );
    }
}

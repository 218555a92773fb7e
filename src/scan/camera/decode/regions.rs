//! Regions of interest from image gradients, and the resampled images decoded from them.
//!
//! The frame is cut into 16x16 blocks; each block sums its gradient structure tensor
//! (`gx²`, `gy²`, `gx·gy`) and the fourth-harmonic angle sums of its gradients. A
//! block of a 1D code has strong gradients all in one direction (high coherence); a
//! block of a 2D code has strong gradients in two perpendicular directions, whose
//! common angle modulo 90° the fourth harmonic gives. Neighbouring blocks of the same
//! kind (and, for 1D, the same bar angle) join into a region.

use super::Grey;

/// Block side in pixels.
const B: usize = 16;
/// Output strip rows (scan lines across the bars).
const STRIP_ROWS: usize = 16;
/// Wanted strip width in pixels after upscaling: about 4 px per Code 128 module.
const STRIP_TARGET: f32 = 1200.0;
const STRIP_MAX_W: usize = 2400;
const MAX_ZOOM_1D: f32 = 3.5;
const MAX_ZOOM_2D: f32 = 4.0;
const PATCH_MAX: usize = 640;

#[derive(Clone, Copy, Default)]
struct Block {
    sxx: f32,
    syy: f32,
    sxy: f32,
    c4: f32,
    s4: f32,
}

impl Block {
    fn energy(&self) -> f32 {
        (self.sxx + self.syy) / (B * B) as f32
    }

    fn coherence(&self) -> f32 {
        let t = self.sxx + self.syy;
        if t <= 0.0 {
            return 0.0;
        }
        ((self.sxx - self.syy).powi(2) + 4.0 * self.sxy * self.sxy).sqrt() / t
    }

    /// Direction of the gradient (across the bars), in radians, modulo π.
    fn angle(&self) -> f32 {
        0.5 * (2.0 * self.sxy).atan2(self.sxx - self.syy)
    }

    fn add(&mut self, o: &Block) {
        self.sxx += o.sxx;
        self.syy += o.syy;
        self.sxy += o.sxy;
        self.c4 += o.c4;
        self.s4 += o.s4;
    }
}

/// A candidate barcode region.
#[derive(Clone, Debug)]
pub(crate) struct Region {
    pub cx: f32,
    pub cy: f32,
    /// 1D: gradient direction (across the bars). 2D: grid angle modulo 90°.
    pub angle: f32,
    /// Extents around the centre, along the angle (u) and across it (v).
    pub umin: f32,
    pub umax: f32,
    pub vmin: f32,
    pub vmax: f32,
    pub score: f32,
}

pub(crate) struct Found {
    pub one_d: Vec<Region>,
    pub two_d: Vec<Region>,
}

/// A resampled image owned by the pipeline.
pub(crate) struct Owned {
    pub px: Vec<u8>,
    pub w: usize,
    pub h: usize,
}

impl Owned {
    pub fn view(&self) -> Grey<'_> {
        Grey {
            px: &self.px,
            w: self.w,
            h: self.h,
        }
    }
}

fn block_stats(g: Grey<'_>) -> (usize, usize, Vec<Block>) {
    let bw = g.w / B;
    let bh = g.h / B;
    let mut blocks = vec![Block::default(); bw * bh];
    if bw == 0 || bh == 0 {
        return (bw, bh, blocks);
    }
    for y in 1..(bh * B).min(g.h - 1) {
        let row = &g.px[y * g.w..(y + 1) * g.w];
        let up = &g.px[(y - 1) * g.w..y * g.w];
        let down = &g.px[(y + 1) * g.w..(y + 2) * g.w];
        let brow = &mut blocks[(y / B) * bw..(y / B + 1) * bw];
        for (bx, b) in brow.iter_mut().enumerate() {
            let (mut sxx, mut syy, mut sxy, mut c4, mut s4) = (0i64, 0i64, 0i64, 0f32, 0f32);
            let x0 = (bx * B).max(1);
            let x1 = ((bx + 1) * B).min(g.w - 1);
            for x in x0..x1 {
                let gx = i32::from(row[x + 1]) - i32::from(row[x - 1]);
                let gy = i32::from(down[x]) - i32::from(up[x]);
                let (xx, yy, xy) = (gx * gx, gy * gy, gx * gy);
                sxx += i64::from(xx);
                syy += i64::from(yy);
                sxy += i64::from(xy);
                let m = xx + yy;
                if m > 64 {
                    // (gx + i gy)^4 / |g|^2: fourth harmonic, weighted by |g|^2.
                    let a = (xx - yy) as f32;
                    let b2 = 2.0 * xy as f32;
                    let inv = 1.0 / m as f32;
                    c4 += (a * a - b2 * b2) * inv;
                    s4 += 2.0 * a * b2 * inv;
                }
            }
            b.sxx += sxx as f32;
            b.syy += syy as f32;
            b.sxy += sxy as f32;
            b.c4 += c4;
            b.s4 += s4;
        }
    }
    (bw, bh, blocks)
}

fn angle_diff(a: f32, b: f32) -> f32 {
    let pi = std::f32::consts::PI;
    let d = (a - b).rem_euclid(pi);
    d.min(pi - d)
}

/// Find candidate regions, strongest first.
pub(crate) fn find(g: Grey<'_>) -> Found {
    let (bw, bh, blocks) = block_stats(g);
    let mut found = Found {
        one_d: Vec::new(),
        two_d: Vec::new(),
    };
    if blocks.is_empty() {
        return found;
    }
    let energy: Vec<f32> = blocks.iter().map(Block::energy).collect();
    let coh: Vec<f32> = blocks.iter().map(Block::coherence).collect();
    let ang: Vec<f32> = blocks.iter().map(Block::angle).collect();
    let mut sorted = energy.clone();
    sorted.sort_by(f32::total_cmp);
    let median = sorted[sorted.len() / 2];
    let top = sorted[(sorted.len() * 995 / 1000).min(sorted.len() - 1)];
    let t1 = (median * 3.0).max(top * 0.02).max(24.0);
    let t2 = (median * 6.0).max(top * 0.05).max(60.0);

    // 1D: coherent, energetic blocks joined with neighbours of a similar bar angle.
    let is1 = |i: usize| energy[i] > t1 && coh[i] > 0.5;
    let joins1 = |a: usize, b: usize| angle_diff(ang[a], ang[b]) < 0.35;
    for comp in components(bw, bh, &is1, &joins1) {
        let mut sum = Block::default();
        let mut score = 0.0;
        for &i in &comp {
            sum.add(&blocks[i]);
            score += energy[i] * coh[i] * coh[i];
        }
        // Scan along the region's long axis when it is clearly elongated (bars may
        // lean under perspective), and also across the mean bar direction.
        let mut angles = Vec::with_capacity(2);
        if let Some(axis) = long_axis(&comp, bw, &energy) {
            angles.push(axis);
        }
        let across = sum.angle();
        if angles.iter().all(|a| angle_diff(*a, across) > 0.04) {
            angles.push(across);
        }
        for angle in angles {
            if let Some(r) = region(&comp, bw, angle, score)
                && r.umax - r.umin >= 2.0 * B as f32
            {
                found.one_d.push(r);
            }
        }
    }

    // 2D: energetic blocks of any direction; the grid angle from the fourth harmonic.
    let is2 = |i: usize| energy[i] > t2;
    let joins2 = |_: usize, _: usize| true;
    let max_blocks = (bw * bh / 6).max(4);
    for comp in components(bw, bh, &is2, &joins2) {
        if comp.len() < 2 || comp.len() > max_blocks {
            continue;
        }
        let mut sum = Block::default();
        let mut score = 0.0;
        for &i in &comp {
            sum.add(&blocks[i]);
            score += energy[i];
        }
        if sum.coherence() > 0.7 {
            continue; // bars or a single edge, not a grid
        }
        let angle = 0.25 * sum.s4.atan2(sum.c4);
        if let Some(r) = region(&comp, bw, angle, score) {
            found.two_d.push(r);
        }
    }
    found.one_d.sort_by(|a, b| b.score.total_cmp(&a.score));
    found.two_d.sort_by(|a, b| b.score.total_cmp(&a.score));
    found
}

/// The direction of elongation of a component (energy-weighted), if it is at least
/// twice as long as it is wide.
fn long_axis(comp: &[usize], bw: usize, energy: &[f32]) -> Option<f32> {
    if comp.len() < 4 {
        return None;
    }
    let (mut sw, mut mx, mut my) = (0.0f32, 0.0f32, 0.0f32);
    for &i in comp {
        let w = energy[i];
        sw += w;
        mx += w * (i % bw) as f32;
        my += w * (i / bw) as f32;
    }
    if sw <= 0.0 {
        return None;
    }
    mx /= sw;
    my /= sw;
    let (mut cxx, mut cyy, mut cxy) = (0.0f32, 0.0f32, 0.0f32);
    for &i in comp {
        let w = energy[i] / sw;
        let dx = (i % bw) as f32 - mx;
        let dy = (i / bw) as f32 - my;
        cxx += w * dx * dx;
        cyy += w * dy * dy;
        cxy += w * dx * dy;
    }
    let tr = cxx + cyy;
    let disc = ((cxx - cyy).powi(2) + 4.0 * cxy * cxy).sqrt();
    let (l1, l2) = ((tr + disc) / 2.0, (tr - disc) / 2.0);
    if l1 < 4.0 * l2.max(1e-3) {
        return None;
    }
    Some(0.5 * (2.0 * cxy).atan2(cxx - cyy))
}

fn region(comp: &[usize], bw: usize, angle: f32, score: f32) -> Option<Region> {
    if comp.is_empty() {
        return None;
    }
    let centre = |i: usize| {
        (
            ((i % bw) * B) as f32 + B as f32 / 2.0,
            ((i / bw) * B) as f32 + B as f32 / 2.0,
        )
    };
    let n = comp.len() as f32;
    let (mut cx, mut cy) = (0.0, 0.0);
    for &i in comp {
        let (x, y) = centre(i);
        cx += x / n;
        cy += y / n;
    }
    let (c, s) = (angle.cos(), angle.sin());
    let (mut umin, mut umax, mut vmin, mut vmax) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for &i in comp {
        let (x, y) = centre(i);
        let (dx, dy) = (x - cx, y - cy);
        let u = dx * c + dy * s;
        let v = -dx * s + dy * c;
        umin = umin.min(u);
        umax = umax.max(u);
        vmin = vmin.min(v);
        vmax = vmax.max(v);
    }
    let h = B as f32 / 2.0;
    Some(Region {
        cx,
        cy,
        angle,
        umin: umin - h,
        umax: umax + h,
        vmin: vmin - h,
        vmax: vmax + h,
        score,
    })
}

/// 8-connected components of the blocks where `keep` holds, joined where `joins` holds.
fn components(
    bw: usize,
    bh: usize,
    keep: &dyn Fn(usize) -> bool,
    joins: &dyn Fn(usize, usize) -> bool,
) -> Vec<Vec<usize>> {
    let mut seen = vec![false; bw * bh];
    let mut out = Vec::new();
    for start in 0..bw * bh {
        if seen[start] || !keep(start) {
            continue;
        }
        seen[start] = true;
        let mut comp = vec![start];
        let mut k = 0;
        while k < comp.len() {
            let i = comp[k];
            k += 1;
            let (x, y) = ((i % bw) as isize, (i / bw) as isize);
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= bw as isize || ny >= bh as isize {
                        continue;
                    }
                    let j = ny as usize * bw + nx as usize;
                    if !seen[j] && keep(j) && joins(i, j) {
                        seen[j] = true;
                        comp.push(j);
                    }
                }
            }
        }
        out.push(comp);
    }
    out
}

/// Bilinear sample, clamped to the frame.
#[inline]
fn sample(g: Grey<'_>, x: f32, y: f32) -> f32 {
    let x = x.clamp(0.0, (g.w - 1) as f32);
    let y = y.clamp(0.0, (g.h - 1) as f32);
    let x0 = x as usize;
    let y0 = y as usize;
    let x1 = (x0 + 1).min(g.w - 1);
    let y1 = (y0 + 1).min(g.h - 1);
    let fx = x - x0 as f32;
    let fy = y - y0 as f32;
    let p = |xx: usize, yy: usize| f32::from(g.px[yy * g.w + xx]);
    let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
    let bot = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
    top * (1.0 - fy) + bot * fy
}

/// A 1D region straightened: scan lines across the bars, upscaled and averaged along
/// the bars, as grey values.
pub(crate) struct Strip {
    pub grey: Vec<f32>,
    pub w: usize,
    pub h: usize,
}

impl Strip {
    /// Each row thresholded against its local mean.
    pub fn binary(&self) -> Owned {
        let radius = (self.w / 50).max(6);
        Owned {
            px: binarise_rows(&self.grey, self.w, self.h, radius),
            w: self.w,
            h: self.h,
        }
    }

    pub fn grey_u8(&self) -> Owned {
        Owned {
            px: self
                .grey
                .iter()
                .map(|v| v.round().clamp(0.0, 255.0) as u8)
                .collect(),
            w: self.w,
            h: self.h,
        }
    }
}

pub(crate) fn strip(g: Grey<'_>, r: &Region) -> Strip {
    let len = r.umax - r.umin;
    let margin = (1.5 * B as f32).max(0.08 * len);
    let (u0, u1) = (r.umin - margin, r.umax + margin);
    let zoom = (STRIP_TARGET / len).clamp(1.0, MAX_ZOOM_1D);
    let w = (((u1 - u0) * zoom) as usize).clamp(8, STRIP_MAX_W);
    let step = (u1 - u0) / w as f32;
    let hgt = r.vmax - r.vmin;
    // Scan lines spread over the middle 80% of the bars' height.
    let (v0, v1) = (r.vmin + 0.1 * hgt, r.vmax - 0.1 * hgt);
    let spacing = (v1 - v0) / STRIP_ROWS as f32;
    let taps = (spacing.floor() as usize).clamp(1, 5);
    let tap_step = if taps > 1 {
        (spacing / taps as f32).min(1.0)
    } else {
        0.0
    };
    let (c, s) = (r.angle.cos(), r.angle.sin());
    let mut grey = vec![0f32; w * STRIP_ROWS];
    for row in 0..STRIP_ROWS {
        let v = v0 + spacing * (row as f32 + 0.5);
        let out = &mut grey[row * w..(row + 1) * w];
        for t in 0..taps {
            let vv = v + (t as f32 - (taps - 1) as f32 / 2.0) * tap_step;
            let bx = r.cx - vv * s;
            let by = r.cy + vv * c;
            for (i, o) in out.iter_mut().enumerate() {
                let u = u0 + step * (i as f32 + 0.5);
                *o += sample(g, bx + u * c, by + u * s);
            }
        }
        for o in out.iter_mut() {
            *o /= taps as f32;
        }
    }
    Strip {
        grey,
        w,
        h: STRIP_ROWS,
    }
}

/// Threshold each row against its local mean (window `2*radius+1`), with a small
/// dead band so flat quiet zones stay white.
fn binarise_rows(grey: &[f32], w: usize, h: usize, radius: usize) -> Vec<u8> {
    let mut out = vec![255u8; w * h];
    let mut prefix = vec![0f64; w + 1];
    for y in 0..h {
        let row = &grey[y * w..(y + 1) * w];
        for (i, v) in row.iter().enumerate() {
            prefix[i + 1] = prefix[i] + f64::from(*v);
        }
        let mut sorted: Vec<f32> = row.to_vec();
        sorted.sort_by(f32::total_cmp);
        let range = sorted[w * 95 / 100] - sorted[w * 5 / 100];
        let band = (0.06 * range).max(1.5);
        for (x, v) in row.iter().enumerate() {
            let a = x.saturating_sub(radius);
            let b = (x + radius + 1).min(w);
            let mean = ((prefix[b] - prefix[a]) / (b - a) as f64) as f32;
            if *v < mean - band {
                out[y * w + x] = 0;
            }
        }
    }
    out
}

/// A 2D region cropped, turned square to its grid and upscaled.
pub(crate) fn patch(g: Grey<'_>, r: &Region) -> Owned {
    let ext = (r.umax - r.umin).max(r.vmax - r.vmin);
    let inner = (ext - B as f32).max(B as f32);
    let zoom = (100.0 / inner).clamp(1.0, MAX_ZOOM_2D);
    let side_src = ext + 2.0 * B as f32;
    let side = ((side_src * zoom) as usize).clamp(8, PATCH_MAX);
    let step = side_src / side as f32;
    let (c, s) = (r.angle.cos(), r.angle.sin());
    let mid_u = (r.umin + r.umax) / 2.0;
    let mid_v = (r.vmin + r.vmax) / 2.0;
    let cx = r.cx + mid_u * c - mid_v * s;
    let cy = r.cy + mid_u * s + mid_v * c;
    let mut px = vec![0u8; side * side];
    for j in 0..side {
        let v = (j as f32 + 0.5) * step - side_src / 2.0;
        for i in 0..side {
            let u = (i as f32 + 0.5) * step - side_src / 2.0;
            let x = cx + u * c - v * s;
            let y = cy + u * s + v * c;
            px[j * side + i] = sample(g, x, y).round().clamp(0.0, 255.0) as u8;
        }
    }
    Owned {
        px,
        w: side,
        h: side,
    }
}

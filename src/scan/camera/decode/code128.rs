//! A Code 128 reader for straightened grey scan lines, with sub-pixel edges.
//!
//! rxing thresholds whole pixels; on small, blurred modules a bar one pixel too wide
//! spoils the character. Here each scan line is thresholded against its local mean,
//! edges are placed where the line crosses it (interpolated between pixels), and each
//! character is matched on its edge-to-similar-edge distances, which blur and ink
//! spread do not move. A read is kept only with a valid check character, a stop
//! pattern, and a quiet zone on both sides; the caller also wants two scan lines to
//! agree before it believes one.

/// Element widths (bar, space, bar, space, bar, space) of values 0..=105; 106 is the
/// stop pattern, which has a seventh element (a final bar of 2).
const PATTERNS: [[u8; 6]; 107] = [
    [2, 1, 2, 2, 2, 2],
    [2, 2, 2, 1, 2, 2],
    [2, 2, 2, 2, 2, 1],
    [1, 2, 1, 2, 2, 3],
    [1, 2, 1, 3, 2, 2],
    [1, 3, 1, 2, 2, 2],
    [1, 2, 2, 2, 1, 3],
    [1, 2, 2, 3, 1, 2],
    [1, 3, 2, 2, 1, 2],
    [2, 2, 1, 2, 1, 3],
    [2, 2, 1, 3, 1, 2],
    [2, 3, 1, 2, 1, 2],
    [1, 1, 2, 2, 3, 2],
    [1, 2, 2, 1, 3, 2],
    [1, 2, 2, 2, 3, 1],
    [1, 1, 3, 2, 2, 2],
    [1, 2, 3, 1, 2, 2],
    [1, 2, 3, 2, 2, 1],
    [2, 2, 3, 2, 1, 1],
    [2, 2, 1, 1, 3, 2],
    [2, 2, 1, 2, 3, 1],
    [2, 1, 3, 2, 1, 2],
    [2, 2, 3, 1, 1, 2],
    [3, 1, 2, 1, 3, 1],
    [3, 1, 1, 2, 2, 2],
    [3, 2, 1, 1, 2, 2],
    [3, 2, 1, 2, 2, 1],
    [3, 1, 2, 2, 1, 2],
    [3, 2, 2, 1, 1, 2],
    [3, 2, 2, 2, 1, 1],
    [2, 1, 2, 1, 2, 3],
    [2, 1, 2, 3, 2, 1],
    [2, 3, 2, 1, 2, 1],
    [1, 1, 1, 3, 2, 3],
    [1, 3, 1, 1, 2, 3],
    [1, 3, 1, 3, 2, 1],
    [1, 1, 2, 3, 1, 3],
    [1, 3, 2, 1, 1, 3],
    [1, 3, 2, 3, 1, 1],
    [2, 1, 1, 3, 1, 3],
    [2, 3, 1, 1, 1, 3],
    [2, 3, 1, 3, 1, 1],
    [1, 1, 2, 1, 3, 3],
    [1, 1, 2, 3, 3, 1],
    [1, 3, 2, 1, 3, 1],
    [1, 1, 3, 1, 2, 3],
    [1, 1, 3, 3, 2, 1],
    [1, 3, 3, 1, 2, 1],
    [3, 1, 3, 1, 2, 1],
    [2, 1, 1, 3, 3, 1],
    [2, 3, 1, 1, 3, 1],
    [2, 1, 3, 1, 1, 3],
    [2, 1, 3, 3, 1, 1],
    [2, 1, 3, 1, 3, 1],
    [3, 1, 1, 1, 2, 3],
    [3, 1, 1, 3, 2, 1],
    [3, 3, 1, 1, 2, 1],
    [3, 1, 2, 1, 1, 3],
    [3, 1, 2, 3, 1, 1],
    [3, 3, 2, 1, 1, 1],
    [3, 1, 4, 1, 1, 1],
    [2, 2, 1, 4, 1, 1],
    [4, 3, 1, 1, 1, 1],
    [1, 1, 1, 2, 2, 4],
    [1, 1, 1, 4, 2, 2],
    [1, 2, 1, 1, 2, 4],
    [1, 2, 1, 4, 2, 1],
    [1, 4, 1, 1, 2, 2],
    [1, 4, 1, 2, 2, 1],
    [1, 1, 2, 2, 1, 4],
    [1, 1, 2, 4, 1, 2],
    [1, 2, 2, 1, 1, 4],
    [1, 2, 2, 4, 1, 1],
    [1, 4, 2, 1, 1, 2],
    [1, 4, 2, 2, 1, 1],
    [2, 4, 1, 2, 1, 1],
    [2, 2, 1, 1, 1, 4],
    [4, 1, 3, 1, 1, 1],
    [2, 4, 1, 1, 1, 2],
    [1, 3, 4, 1, 1, 1],
    [1, 1, 1, 2, 4, 2],
    [1, 2, 1, 1, 4, 2],
    [1, 2, 1, 2, 4, 1],
    [1, 1, 4, 2, 1, 2],
    [1, 2, 4, 1, 1, 2],
    [1, 2, 4, 2, 1, 1],
    [4, 1, 1, 2, 1, 2],
    [4, 2, 1, 1, 1, 2],
    [4, 2, 1, 2, 1, 1],
    [2, 1, 2, 1, 4, 1],
    [2, 1, 4, 1, 2, 1],
    [4, 1, 2, 1, 2, 1],
    [1, 1, 1, 1, 4, 3],
    [1, 1, 1, 3, 4, 1],
    [1, 3, 1, 1, 4, 1],
    [1, 1, 4, 1, 1, 3],
    [1, 1, 4, 3, 1, 1],
    [4, 1, 1, 1, 1, 3],
    [4, 1, 1, 3, 1, 1],
    [1, 1, 3, 1, 4, 1],
    [1, 1, 4, 1, 3, 1],
    [3, 1, 1, 1, 4, 1],
    [4, 1, 1, 1, 3, 1],
    [2, 1, 1, 4, 1, 2],
    [2, 1, 1, 2, 1, 4],
    [2, 1, 1, 2, 3, 2],
    [2, 3, 3, 1, 1, 1],
];
const START_A: usize = 103;
const START_C: usize = 105;
/// Longest symbol tried, in characters (a tag needs at most 26 with start and check).
const MAX_CHARS: usize = 48;
/// Worst total deviation (in modules) accepted for one character.
const MAX_CHAR_ERR: f32 = 1.3;
/// Quiet zone wanted on each side, in modules (the standard asks 10).
const QUIET: f32 = 5.0;

/// Edges of one grey scan line: run widths, alternating, the first a space.
/// `None` if the line has no contrast.
pub(crate) fn runs(row: &[f32]) -> Option<Vec<f32>> {
    let w = row.len();
    if w < 16 {
        return None;
    }
    let mut sorted = row.to_vec();
    sorted.sort_by(f32::total_cmp);
    let range = sorted[w * 95 / 100] - sorted[w * 5 / 100];
    if range < 8.0 {
        return None;
    }
    let radius = (w / 40).max(6);
    let mut prefix = vec![0f64; w + 1];
    let mut prefix2 = vec![0f64; w + 1];
    for (i, v) in row.iter().enumerate() {
        let v = f64::from(*v);
        prefix[i + 1] = prefix[i] + v;
        prefix2[i + 1] = prefix2[i] + v * v;
    }
    let flat = f64::from(0.08 * range);
    // d > 0: space, d < 0: bar.
    let d: Vec<f32> = (0..w)
        .map(|x| {
            let a = x.saturating_sub(radius);
            let b = (x + radius + 1).min(w);
            let n = (b - a) as f64;
            let mean = (prefix[b] - prefix[a]) / n;
            let var = (prefix2[b] - prefix2[a]) / n - mean * mean;
            if var.max(0.0).sqrt() < flat {
                1.0
            } else {
                (f64::from(row[x]) - mean) as f32
            }
        })
        .collect();
    let mut edges = vec![0.0f32];
    let mut bar = false;
    for x in 1..w {
        let now = d[x] < 0.0;
        if now != bar {
            let (a, b) = (d[x - 1], d[x]);
            let t = if (a - b).abs() > 1e-6 {
                a / (a - b)
            } else {
                0.5
            };
            edges.push(x as f32 - 1.0 + t.clamp(0.0, 1.0));
            bar = now;
        }
    }
    edges.push(w as f32);
    Some(edges.windows(2).map(|p| p[1] - p[0]).collect())
}

/// Best pattern for six element widths, and its error in modules.
fn best_match(e: &[f32], candidates: std::ops::Range<usize>) -> Option<(usize, f32, f32)> {
    let total: f32 = e.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let m = 11.0 / total;
    let n: [f32; 6] = std::array::from_fn(|k| e[k] * m);
    // Edge-to-similar-edge distances: immune to bars growing or shrinking evenly.
    let t: [f32; 4] = std::array::from_fn(|k| n[k] + n[k + 1]);
    let (mut best, mut best_err, mut second) = (usize::MAX, f32::MAX, f32::MAX);
    for c in candidates {
        let p = &PATTERNS[c];
        let mut err = 0.0;
        for k in 0..4 {
            err += (t[k] - f32::from(p[k] + p[k + 1])).abs();
        }
        let mut werr = 0.0;
        for k in 0..6 {
            werr += (n[k] - f32::from(p[k])).abs();
        }
        let err = err + 0.25 * werr;
        if err < best_err {
            second = best_err;
            best_err = err;
            best = c;
        } else if err < second {
            second = err;
        }
    }
    (best != usize::MAX).then_some((best, best_err, second))
}

/// Decode the first Code 128 symbol found on a line of runs (first run a space).
fn decode_runs(r: &[f32]) -> Option<String> {
    // Bars are at odd indices.
    let mut i = 1;
    while i + 6 < r.len() {
        if let Some(text) = decode_at(r, i) {
            return Some(text);
        }
        i += 2;
    }
    None
}

fn decode_at(r: &[f32], start: usize) -> Option<String> {
    let (code, err, _) = best_match(&r[start..start + 6], START_A..START_C + 1)?;
    if err > MAX_CHAR_ERR {
        return None;
    }
    let module = r[start..start + 6].iter().sum::<f32>() / 11.0;
    if r[start - 1] < QUIET * module {
        return None;
    }
    let mut codes = vec![code];
    let mut i = start + 6;
    let mut module = module;
    loop {
        if codes.len() > MAX_CHARS || i + 7 > r.len() {
            return None;
        }
        // Stop: 2 3 3 1 1 1 2 (13 modules), then the quiet zone.
        let stop7: f32 = r[i..i + 7].iter().sum();
        let stop_err = {
            let m = 13.0 / stop7;
            let p = [2.0, 3.0, 3.0, 1.0, 1.0, 1.0, 2.0];
            (0..7).map(|k| (r[i + k] * m - p[k]).abs()).sum::<f32>()
        };
        if stop_err < MAX_CHAR_ERR && (stop7 / 13.0 - module).abs() < 0.35 * module {
            // The quiet zone after it, or the end of the line not far past it.
            let after = r.get(i + 7).copied().unwrap_or(0.0);
            let last = i + 8 >= r.len();
            if after >= QUIET * module || (last && after >= 2.0 * module) {
                break;
            }
            return None;
        }
        let (c, err, second) = best_match(&r[i..i + 6], 0..106)?;
        if err > MAX_CHAR_ERR || second - err < 0.25 {
            return None;
        }
        let width: f32 = r[i..i + 6].iter().sum::<f32>() / 11.0;
        if (width - module).abs() > 0.3 * module {
            return None;
        }
        module = 0.7 * module + 0.3 * width;
        codes.push(c);
        i += 6;
    }
    if codes.len() < 3 {
        return None;
    }
    let check = *codes.last()?;
    let data = &codes[..codes.len() - 1];
    let sum: usize = data
        .iter()
        .enumerate()
        .map(|(k, c)| if k == 0 { *c } else { k * c })
        .sum();
    if sum % 103 != check {
        return None;
    }
    text(data)
}

#[derive(Clone, Copy, PartialEq)]
enum Set {
    A,
    B,
    C,
}

fn text(codes: &[usize]) -> Option<String> {
    let mut set = match codes[0] {
        103 => Set::A,
        104 => Set::B,
        105 => Set::C,
        _ => return None,
    };
    let mut out = String::new();
    let mut shift = false;
    for &c in &codes[1..] {
        let cur = if shift {
            match set {
                Set::A => Set::B,
                Set::B => Set::A,
                Set::C => return None,
            }
        } else {
            set
        };
        shift = false;
        match cur {
            Set::C => match c {
                0..=99 => {
                    out.push(char::from(b'0' + (c / 10) as u8));
                    out.push(char::from(b'0' + (c % 10) as u8));
                }
                100 => set = Set::B,
                101 => set = Set::A,
                102 => {}
                _ => return None,
            },
            Set::A | Set::B => match c {
                0..=63 => out.push(char::from(32 + c as u8)),
                64..=95 if cur == Set::A => out.push(char::from((c - 64) as u8)),
                64..=95 => out.push(char::from(32 + c as u8)),
                96 | 97 | 102 => {}
                98 => shift = true,
                99 => set = Set::C,
                100 if cur == Set::A => set = Set::B,
                101 if cur == Set::B => set = Set::A,
                _ => return None, // FNC4: extended characters, never in a tag
            },
        }
    }
    Some(out)
}

/// Read a strip of scan lines (`h` rows of `w`): the text at least `agree` lines
/// decoded identically, the most voted first.
pub(crate) fn read_rows(grey: &[f32], w: usize, h: usize, agree: usize) -> Option<String> {
    let mut votes: Vec<(String, usize)> = Vec::new();
    for y in 0..h {
        if let Some(t) = decode_line(&grey[y * w..(y + 1) * w]) {
            match votes.iter_mut().find(|(s, _)| *s == t) {
                Some((_, n)) => *n += 1,
                None => votes.push((t, 1)),
            }
            if let Some((s, _)) = votes.iter().find(|(_, n)| *n >= agree.max(1)) {
                return Some(s.clone());
            }
        }
    }
    None
}

/// Decode a grey scan line in both directions.
pub(crate) fn decode_line(row: &[f32]) -> Option<String> {
    let r = runs(row)?;
    if let Some(t) = decode_runs(&r) {
        return Some(t);
    }
    let mut rev = r;
    rev.reverse();
    // Reversed, the line must again start with a space.
    if rev.len() % 2 == 0 {
        rev.insert(0, 0.0);
    }
    decode_runs(&rev)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Render codes as a grey line, `module` pixels per module.
    fn render(codes: &[usize], module: f32) -> Vec<f32> {
        let mut widths: Vec<u8> = vec![12];
        for &c in codes {
            widths.extend_from_slice(&PATTERNS[c]);
        }
        widths.extend_from_slice(&[2, 3, 3, 1, 1, 1, 2, 12]);
        let mut row = Vec::new();
        for (k, w) in widths.iter().enumerate() {
            let v = if k % 2 == 0 { 220.0 } else { 30.0 };
            for _ in 0..((f32::from(*w) * module).round() as usize) {
                row.push(v);
            }
        }
        row
    }

    fn with_check(mut codes: Vec<usize>) -> Vec<usize> {
        let sum: usize = codes
            .iter()
            .enumerate()
            .map(|(k, c)| if k == 0 { *c } else { k * c })
            .sum();
        codes.push(sum % 103);
        codes
    }

    #[test]
    fn reads_set_b_and_c_both_ways() {
        // Start B, "1A4", Code C, 12 34, check.
        let codes = with_check(vec![104, 17, 33, 20, 99, 12, 34]);
        for module in [2.0, 3.0, 4.0] {
            let row = render(&codes, module);
            assert_eq!(decode_line(&row).as_deref(), Some("1A41234"));
            let rev: Vec<f32> = row.iter().rev().copied().collect();
            assert_eq!(decode_line(&rev).as_deref(), Some("1A41234"));
        }
    }

    #[test]
    fn a_wrong_check_character_is_refused() {
        let mut codes = with_check(vec![104, 17, 33, 20]);
        let last = codes.len() - 1;
        codes[last] = (codes[last] + 1) % 103;
        assert_eq!(decode_line(&render(&codes, 3.0)), None);
    }
}

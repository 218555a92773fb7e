//! The subset sum behind a proposal: the fewest quantities summing exactly to a
//! target, and the nearest sums below and above it, within [`MAX_CELLS`].

use super::MAX_CELLS;

/// What the subset search found among quantities for one target.
#[derive(Debug, PartialEq)]
pub enum Search {
    Done {
        /// Indices of the fewest quantities summing exactly to the target.
        exact: Option<Vec<usize>>,
        /// The largest sum below the target, and its indices.
        below: Option<(i64, Vec<usize>)>,
        /// The smallest sum above the target, and its indices.
        above: Option<(i64, Vec<usize>)>,
    },
    /// More than [`MAX_CELLS`] to search.
    TooLarge,
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Subset sum over positive `qs` for `target`: the fewest-item exact subset, and the
/// nearest subsets below and above. The smallest sum above the target is less than
/// the target plus the largest quantity (take away any one of its items and it is
/// not above any more), so sums up to there are all it needs.
pub fn search(qs: &[i64], target: i64) -> Search {
    run(qs, target, true)
}

/// The fewest of `qs` summing exactly to `target`, if any (a batch beyond the bound
/// has none). Cheaper than [`search`]: sums above the target are not followed, and a
/// batch whose quantities cannot make the target (too little in all, or the target
/// not a multiple of their common divisor) is not searched at all.
pub fn exact(qs: &[i64], target: i64) -> Option<Vec<usize>> {
    let common = qs.iter().fold(0, |g, &q| gcd(g, q));
    if qs.iter().sum::<i64>() < target || common == 0 || target % common != 0 {
        return None;
    }
    match run(qs, target, false) {
        Search::Done { exact, .. } => exact,
        Search::TooLarge => None,
    }
}

fn run(qs: &[i64], target: i64, nearest: bool) -> Search {
    let g = qs.iter().fold(target, |g, &q| gcd(g, q)).max(1);
    let t = (target / g) as usize;
    let scaled: Vec<usize> = qs.iter().map(|&q| (q / g) as usize).collect();
    let total: usize = scaled.iter().sum();
    let reach_above = if nearest {
        scaled.iter().copied().max().unwrap_or(0)
    } else {
        0
    };
    let limit = total.min(t + reach_above);
    let width = limit + 1;
    if qs.len().saturating_mul(width) > MAX_CELLS {
        return Search::TooLarge;
    }
    let words = width.div_ceil(64);
    let mut count = vec![u32::MAX; width];
    let mut took = vec![0u64; qs.len() * words];
    count[0] = 0;
    for (i, &q) in scaled.iter().enumerate() {
        if q > limit {
            continue;
        }
        for s in (q..=limit).rev() {
            let from = count[s - q];
            if from != u32::MAX && from + 1 < count[s] {
                count[s] = from + 1;
                took[i * words + s / 64] |= 1 << (s % 64);
            }
        }
    }
    let back = |mut s: usize| {
        let mut idx = Vec::new();
        for i in (0..qs.len()).rev() {
            if took[i * words + s / 64] & (1 << (s % 64)) != 0 {
                idx.push(i);
                s -= scaled[i];
            }
        }
        idx.reverse();
        idx
    };
    let reach = |s: usize| count[s] != u32::MAX;
    let exact = (t <= limit && reach(t)).then(|| back(t));
    let below = (1..t.min(width))
        .rev()
        .find(|&s| reach(s))
        .map(|s| (s as i64 * g, back(s)));
    let above = (t + 1..width)
        .find(|&s| reach(s))
        .map(|s| (s as i64 * g, back(s)));
    Search::Done {
        exact,
        below,
        above,
    }
}

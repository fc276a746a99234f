//! Change points in a series of nightly figures: which shifts persist, and which are noise.
//!
//! Method: E-divisive means (Matteson and James, "A Nonparametric Approach for Multiple Change
//! Point Analysis of Multivariate Data", JASA 109(505), 2014), the method MongoDB's CI uses
//! (Daly et al., ICPE 2020) and DataStax's Hunter builds on (Fleming et al., ICPE 2023), which
//! kube-burner's companion Orion runs. Why this one: it assumes no distribution (run-to-run
//! noise in scheduling latency is skewed and heavy-tailed, so a t-test's normality is wrong),
//! it finds several change points by splitting recursively, and a segment must hold
//! `min_segment` runs, so a single bad night can never be a segment of its own.
//!
//! For a segment `x`, each split `t` is scored by the energy statistic with exponent 1,
//! `Q(t) = m*k/(m+k) * (2/(m*k) * sum|a-b| - 1/C(m,2) * sum|a-a'| - 1/C(k,2) * sum|b-b'|)`,
//! `a` the `m` values before `t` and `b` the `k` after it. The best split is kept when the medians
//! on its two sides differ by at least `min_change` and a permutation test says so: the segment's values are shuffled `permutations` times (a seeded
//! generator, so the answer is the same on every machine), and the split counts when the
//! share of shuffles scoring at least as high is at most `alpha`. Then both halves are
//! searched again. The cost is O(n^2) per scan, so a long history is cut to its last
//! [`MAX_RUNS`] values.

/// The longest history searched: 400 runs is more than a year of nightlies, and 200 shuffles
/// of it cost ~32 M distance terms.
pub const MAX_RUNS: usize = 400;

/// How the search decides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Fewest runs on each side of a change point (at least 2: a segment's spread needs two).
    pub min_segment: usize,
    /// Significance level of [`detect`]'s permutation tests.
    pub alpha: f64,
    /// Significance level of [`recent_shift`]: stricter, because it fails a nightly check. With
    /// `k` = 2 after 20 runs the smallest p is 1/231 (0.004); in the tests, a spike after a
    /// night that noise put 7.7% high scored p = 0.0125, and must not fail the check.
    pub confirm_alpha: f64,
    /// Smallest relative change of the median that counts (0.05: 5%). The permutation test
    /// alone, repeated on every half it splits, finds a few-percent wobble inside a segment
    /// that no one would act on; a capacity check cares about shifts larger than that.
    pub min_change: f64,
    /// Shuffles per test.
    pub permutations: usize,
    /// Seed of the shuffles.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            min_segment: 2,
            alpha: 0.05,
            confirm_alpha: 0.01,
            min_change: 0.05,
            permutations: 199,
            seed: 0x6372_6f6e_6265_6e63,
        }
    }
}

/// A persistent shift: runs from `index` on differ from the runs before it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangePoint {
    /// The first run after the shift (an index into the series given).
    pub index: usize,
    /// The permutation test's p-value.
    pub p_value: f64,
    /// Median of the segment before and of the segment from `index` on.
    pub before: f64,
    pub after: f64,
}

impl ChangePoint {
    /// The relative change of the median, `after / before - 1` (None when `before` is 0).
    pub fn relative(&self) -> Option<f64> {
        (self.before != 0.0).then(|| self.after / self.before - 1.0)
    }
}

/// The change points of `series`, in order. Values that are not finite are left out of the
/// search (their runs can still be change points' neighbours, by index).
pub fn detect(series: &[f64], opts: &Options) -> Vec<ChangePoint> {
    let kept = searched(series);
    let values: Vec<f64> = kept.iter().map(|i| series[*i]).collect();
    let ranked = ranks(&values);
    let min = opts.min_segment.max(2);
    let mut rng = fastrand::Rng::with_seed(opts.seed);
    let mut cuts = Vec::new();
    let mut tests = 0;
    let mut todo = vec![(0, values.len())];
    while let Some((lo, hi)) = todo.pop() {
        let Some((t, q)) = best_split(&ranked[lo..hi], min) else {
            continue;
        };
        if !large_enough(&values[lo..lo + t], &values[lo + t..hi], opts.min_change) {
            continue;
        }
        let p = permutation_p(&ranked[lo..hi], q, min, opts, &mut rng);
        tests += 1;
        if p <= opts.alpha / tests as f64 {
            cuts.push((lo + t, p));
            todo.push((lo, lo + t));
            todo.push((lo + t, hi));
        }
    }
    cuts.sort_by_key(|(t, _)| *t);
    describe(&values, &kept, &cuts)
}

/// Indices of the values searched: the finite ones among the last [`MAX_RUNS`].
fn searched(series: &[f64]) -> Vec<usize> {
    let start = series.len().saturating_sub(MAX_RUNS);
    (start..series.len())
        .filter(|i| series[*i].is_finite())
        .collect()
}

/// Medians of the segments on either side of each cut, against the segments the cuts make.
fn describe(values: &[f64], kept: &[usize], cuts: &[(usize, f64)]) -> Vec<ChangePoint> {
    let bounds: Vec<usize> = std::iter::once(0)
        .chain(cuts.iter().map(|(t, _)| *t))
        .chain(std::iter::once(values.len()))
        .collect();
    cuts.iter()
        .enumerate()
        .map(|(i, (t, p))| ChangePoint {
            index: kept[*t],
            p_value: *p,
            before: median(&values[bounds[i]..*t]),
            after: median(&values[*t..bounds[i + 2]]),
        })
        .collect()
}

/// Which direction of a figure is a regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worse {
    /// Latencies, missed and stuck runs, the harness's CPU and memory.
    Higher,
    /// Throughput, the sustainable rate.
    Lower,
}

/// Whether the last `k` runs shifted the worse way from the runs before them (up to
/// [`MAX_RUNS`] in all): the rule of `compare --history`, where one bad night must not fail
/// the check and `k` bad nights in a row must.
///
/// Every one of the last `k` runs must be worse than the median before them by `min_change`
/// (`after` is the least bad of them). Then the rank sum of the last `k` runs is tested:
/// when the history is long enough for the test to reach `confirm_alpha` (C(n, k) runs'
/// orders >= 1 / `confirm_alpha`: 15 runs for `k` = 2), by `permutations` seeded shuffles;
/// with fewer runs the strongest evidence they can give is asked for instead, the last `k`
/// being the `k` worst of all, whose exact p-value is 1 / C(n, k). At least
/// [`MIN_BEFORE`] runs must precede them.
pub fn recent_shift(series: &[f64], k: usize, worse: Worse, opts: &Options) -> Option<ChangePoint> {
    let kept = searched(series);
    let n = kept.len();
    if k == 0 || n < k + MIN_BEFORE {
        return None;
    }
    // Worse is higher from here on.
    let sign = if worse == Worse::Higher { 1.0 } else { -1.0 };
    let signed: Vec<f64> = kept.iter().map(|i| sign * series[*i]).collect();
    let (earlier, last) = signed.split_at(n - k);
    let least_bad = last.iter().copied().fold(f64::INFINITY, f64::min);
    let before = median(earlier);
    if least_bad <= before || !large_enough(&[before], &[least_bad], opts.min_change) {
        return None;
    }
    let p_value = if orders(n, k) * opts.confirm_alpha >= 1.0 {
        rank_sum_p(&signed, k, opts)
    } else {
        let worst_before = earlier.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if least_bad <= worst_before {
            return None;
        }
        1.0 / orders(n, k)
    };
    (p_value <= opts.confirm_alpha.max(1.0 / orders(n, k))).then_some(ChangePoint {
        index: kept[n - k],
        p_value,
        before: sign * before,
        after: sign * least_bad,
    })
}

/// Fewest runs before the last `k` that [`recent_shift`] judges against.
pub const MIN_BEFORE: usize = 3;

/// C(n, k): the ways `k` of `n` runs can be the last ones (saturating, as f64).
fn orders(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// The share of seeded shuffles of the ranks whose last `k` sum at least as high as observed.
fn rank_sum_p(signed: &[f64], k: usize, opts: &Options) -> f64 {
    let n = signed.len();
    let ranked = ranks(signed);
    let tail_sum = |r: &[f64]| r[n - k..].iter().sum::<f64>();
    let observed = tail_sum(&ranked);
    let shuffles = opts.permutations.max(RECENT_PERMUTATIONS);
    let mut rng = fastrand::Rng::with_seed(opts.seed);
    let mut shuffled = ranked.clone();
    let at_least = (0..shuffles)
        .filter(|_| {
            rng.shuffle(&mut shuffled);
            tail_sum(&shuffled) >= observed
        })
        .count();
    (at_least + 1) as f64 / (shuffles + 1) as f64
}

/// Shuffles for [`recent_shift`]: enough to resolve p = 1/231 well below alpha.
const RECENT_PERMUTATIONS: usize = 1999;

/// Each value's rank (ties share the mean rank): the energy statistic on ranks is not moved
/// by how far a single outlier lies, only by where runs fall in order.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        for k in &order[i..=j] {
            out[*k] = (i + j) as f64 / 2.0 + 1.0;
        }
        i = j + 1;
    }
    out
}

/// Whether the medians of `a` and `b` differ by at least `min_change` of `a`'s (any change
/// counts when `a`'s median is 0).
fn large_enough(a: &[f64], b: &[f64], min_change: f64) -> bool {
    let (before, after) = (median(a), median(b));
    if before == 0.0 {
        return after != 0.0;
    }
    ((after - before) / before).abs() >= min_change
}

/// The median (mean of the two middle values for an even count); NaN for no values.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The split of `x` with the highest energy statistic, each side at least `min` long.
fn best_split(x: &[f64], min: usize) -> Option<(usize, f64)> {
    let n = x.len();
    if n < 2 * min {
        return None;
    }
    let dist = |i: usize, j: usize| (x[i] - x[j]).abs();
    // Sums for the split at t: within the left part, within the right, and between them.
    let t0 = min;
    let mut left: f64 = pairs(0..t0).map(|(i, j)| dist(i, j)).sum();
    let mut right: f64 = pairs(t0..n).map(|(i, j)| dist(i, j)).sum();
    let mut between: f64 = (0..t0)
        .flat_map(|i| (t0..n).map(move |j| (i, j)))
        .map(|(i, j)| dist(i, j))
        .sum();
    let mut best: Option<(usize, f64)> = None;
    for t in t0..=n - min {
        if t > t0 {
            // Move x[t-1] from the right part to the left.
            let moved = t - 1;
            let to_left: f64 = (0..moved).map(|i| dist(i, moved)).sum();
            let to_right: f64 = (t..n).map(|j| dist(moved, j)).sum();
            left += to_left;
            right -= to_right;
            between += to_right - to_left;
        }
        let q = energy(t, n - t, left, right, between);
        if best.is_none_or(|(_, b)| q > b) {
            best = Some((t, q));
        }
    }
    best
}

fn pairs(r: std::ops::Range<usize>) -> impl Iterator<Item = (usize, usize)> {
    let end = r.end;
    r.flat_map(move |i| (i + 1..end).map(move |j| (i, j)))
}

/// Q for sides of `m` and `k` values with the given sums of distances.
fn energy(m: usize, k: usize, left: f64, right: f64, between: f64) -> f64 {
    let (m, k) = (m as f64, k as f64);
    let e = 2.0 * between / (m * k) - left / (m * (m - 1.0) / 2.0) - right / (k * (k - 1.0) / 2.0);
    m * k / (m + k) * e
}

/// The share of shuffles of `x` whose best split scores at least `q` (counting the data).
fn permutation_p(x: &[f64], q: f64, min: usize, opts: &Options, rng: &mut fastrand::Rng) -> f64 {
    let mut shuffled = x.to_vec();
    let mut at_least = 0usize;
    for _ in 0..opts.permutations {
        rng.shuffle(&mut shuffled);
        if best_split(&shuffled, min).is_some_and(|(_, s)| s >= q) {
            at_least += 1;
        }
    }
    (at_least + 1) as f64 / (opts.permutations + 1) as f64
}

#[cfg(test)]
mod tests;

//! Compact per-run residue of runs already over: what must outlive a run (its scheduled time,
//! its start's minute and second, its pod's pending span) in a few bits or bytes each, so that
//! analysis memory stays flat however long the log is; and the series made from them.

use std::collections::BTreeMap;

use crate::results::{MinuteCount, PENDING_MAX_POINTS, PENDING_STEP_MS, PendingPoint, Window};

/// A set of scheduled times: one bit per whole minute, in 64-minute words kept sorted in a
/// vector. Cron ticks fall on whole minutes; a time that does not (a hand-made annotation) is
/// kept as it is. A vector, not a map: most CronJobs of a fleet hold one word, and a map's
/// first node took 192 bytes for it (heaptrack of a 50,000-CronJob log: 1.6 MB of the
/// analysis's growth was these nodes); ticks come in order, so inserts append.
#[derive(Debug, Default)]
pub struct Ticks {
    words: Vec<(i64, u64)>,
    other: Vec<i64>,
}

impl Ticks {
    /// Adds `t` (Unix ms); false when it was already there.
    pub fn insert(&mut self, t: i64) -> bool {
        match Self::slot(t) {
            Some((word, bit)) => {
                let w = match self.find(word) {
                    Ok(i) => &mut self.words[i].1,
                    Err(i) => {
                        if self.words.capacity() == 0 {
                            self.words.reserve_exact(1);
                        }
                        self.words.insert(i, (word, 0));
                        &mut self.words[i].1
                    }
                };
                let new = *w & bit == 0;
                *w |= bit;
                new
            }
            None if self.other.contains(&t) => false,
            None => {
                self.other.push(t);
                true
            }
        }
    }

    pub fn contains(&self, t: i64) -> bool {
        match Self::slot(t) {
            Some((word, bit)) => self.find(word).is_ok_and(|i| self.words[i].1 & bit != 0),
            None => self.other.contains(&t),
        }
    }

    /// Where `word` is, or would go; the last word first (ticks come in order).
    fn find(&self, word: i64) -> Result<usize, usize> {
        match self.words.last() {
            None => Err(0),
            Some(&(last, _)) if last == word => Ok(self.words.len() - 1),
            Some(&(last, _)) if last < word => Err(self.words.len()),
            Some(_) => self.words.binary_search_by_key(&word, |&(w, _)| w),
        }
    }

    fn slot(t: i64) -> Option<(i64, u64)> {
        (t.rem_euclid(60_000) == 0).then(|| {
            let minute = t.div_euclid(60_000);
            (minute.div_euclid(64), 1u64 << minute.rem_euclid(64))
        })
    }
}

/// Start counts per wall-clock minute, with the busiest second of each minute: 4 bytes per
/// second of the run instead of a map entry per second.
#[derive(Debug, Default)]
pub struct Buckets {
    minutes: BTreeMap<i64, Box<[u32; 60]>>,
    pub total: u64,
}

impl Buckets {
    pub fn add(&mut self, t: i64) {
        let seconds = self
            .minutes
            .entry(t.div_euclid(60_000))
            .or_insert_with(|| Box::new([0; 60]));
        let s = t.rem_euclid(60_000) / 1000;
        if let Some(c) = usize::try_from(s).ok().and_then(|s| seconds.get_mut(s)) {
            *c = c.saturating_add(1);
        }
        self.total += 1;
    }

    /// Starts in `second` (Unix seconds).
    pub fn in_second(&self, second: i64) -> u64 {
        let minute = self.minutes.get(&second.div_euclid(60));
        let at = usize::try_from(second.rem_euclid(60)).ok();
        minute
            .zip(at)
            .and_then(|(s, i)| s.get(i))
            .map_or(0, |&c| u64::from(c))
    }

    /// Starts in `minute` (Unix minutes).
    pub fn in_minute(&self, minute: i64) -> u64 {
        self.minutes
            .get(&minute)
            .map_or(0, |s| s.iter().map(|&c| u64::from(c)).sum())
    }

    /// The most starts in one minute, and in one second.
    pub fn peaks(&self) -> (u64, u64) {
        let per_minute = self.minutes.keys().map(|&m| self.in_minute(m)).max();
        let per_second = self.minutes.values().flat_map(|s| s.iter()).max();
        (
            per_minute.unwrap_or(0),
            per_second.map_or(0, |&c| u64::from(c)),
        )
    }
}

impl Buckets {
    /// Series over every minute touching the window, mean per minute, peaks per minute and
    /// per second.
    pub fn summarize(&self, w: &Window) -> (Vec<MinuteCount>, Option<f64>, u64, u64) {
        let first = w.start_ms.div_euclid(60_000);
        let last = (w.end_ms - 1).div_euclid(60_000).max(first);
        let series = (first..=last)
            .map(|m| MinuteCount {
                minute_ms: m * 60_000,
                started: self.in_minute(m),
            })
            .collect();
        // Whole seconds: the phase boundaries are timed by the harness to the second, and the
        // milliseconds of scheduling jitter must not turn 20 runs in 120 s into 9.9998/min.
        let minutes = ((w.end_ms - w.start_ms) as f64 / 1000.0).round() / 60.0;
        let mean = (minutes > 0.0).then(|| self.total as f64 / minutes);
        let (peak_min, peak_sec) = self.peaks();
        (series, mean, peak_min, peak_sec)
    }
}

/// Pending-pod deltas (+1 first seen, -1 started, finished or deleted): exact until the
/// series' origin (the window start) is known, then summed per [`PENDING_STEP_MS`] step from it.
#[derive(Debug, Default)]
pub struct Pending {
    exact: Vec<(i64, i64)>,
    origin: Option<i64>,
    steps: BTreeMap<i64, i64>,
}

impl Pending {
    /// The series starts at `origin`: from now on deltas are kept per step.
    pub fn start_at(&mut self, origin: i64) {
        if self.origin.is_some() {
            return;
        }
        self.origin = Some(origin);
        for (at, d) in std::mem::take(&mut self.exact) {
            *self.steps.entry(step_of(origin, at)).or_insert(0) += d;
        }
    }

    pub fn add(&mut self, at: i64, d: i64) {
        match self.origin {
            Some(origin) => *self.steps.entry(step_of(origin, at)).or_insert(0) += d,
            None => self.exact.push((at, d)),
        }
    }

    /// Pods created but not yet started, finished or deleted, every [`PENDING_STEP_MS`] of
    /// `[from, to]`.
    pub fn series(self, from: i64, to: i64) -> Vec<PendingPoint> {
        let Pending {
            exact: mut deltas,
            origin,
            steps,
        } = self;
        let mut by_step = None;
        match origin {
            Some(o) if o == from => by_step = Some(steps),
            // The origin moved (cannot happen: it is the window start): place each step's
            // sum at its end, which keeps every level it contributes to.
            Some(o) => deltas.extend(steps.iter().map(|(k, d)| (o + k * PENDING_STEP_MS, *d))),
            None => {}
        }
        deltas.sort_unstable();
        let mut out = Vec::new();
        let mut level: i64 = 0;
        let mut i = 0;
        let mut t = from;
        let mut k = 0i64;
        let mut folded = by_step.as_ref().map(|s| s.iter().peekable());
        // Bounded by the run's span (lines outside it are left out), and never past i64::MAX
        // when a recorded time is absurd.
        let max_points =
            (super::ingest::SPAN_BEFORE_MS + super::ingest::SPAN_AFTER_MS) / PENDING_STEP_MS + 2;
        while t <= to && (out.len() as i64) < max_points {
            while let Some(&(at, d)) = deltas.get(i) {
                if at > t {
                    break;
                }
                level += d;
                i += 1;
            }
            if let Some(it) = folded.as_mut() {
                while let Some((_, d)) = it.next_if(|(step, _)| **step <= k) {
                    level += d;
                }
            }
            k += 1;
            out.push(PendingPoint {
                t_ms: t,
                pending: level.max(0).unsigned_abs(),
            });
            match t.checked_add(PENDING_STEP_MS) {
                Some(next) => t = next,
                None => break,
            }
        }
        coarsen(out)
    }
}

/// `points` merged `n` at a time (the highest level, at the first one's time) so that at
/// most [`PENDING_MAX_POINTS`] remain.
fn coarsen(points: Vec<PendingPoint>) -> Vec<PendingPoint> {
    if points.len() <= PENDING_MAX_POINTS {
        return points;
    }
    let n = points.len().div_ceil(PENDING_MAX_POINTS);
    points
        .chunks(n)
        .filter_map(|group| {
            let first = group.first()?;
            Some(PendingPoint {
                t_ms: first.t_ms,
                pending: group.iter().map(|p| p.pending).max().unwrap_or(0),
            })
        })
        .collect()
}

/// Step of the pending series that first includes a delta at `at`.
fn step_of(origin: i64, at: i64) -> i64 {
    if at <= origin {
        0
    } else {
        (at - origin + PENDING_STEP_MS - 1) / PENDING_STEP_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_hold_minutes_as_bits_and_odd_times_as_they_are() {
        let mut t = Ticks::default();
        let m = 1_700_000_040_000_i64; // a whole minute
        assert_eq!(m % 60_000, 0);
        for k in [0, 1, 63, 64, 65, -1, -64, 10_000] {
            assert!(t.insert(m + k * 60_000), "{k} is new");
        }
        assert!(!t.insert(m + 63 * 60_000), "63 again");
        for k in [0, 1, 63, 64, 65, -1, -64, 10_000] {
            assert!(t.contains(m + k * 60_000), "{k} is in");
        }
        for k in [2, 62, -2, 9_999] {
            assert!(!t.contains(m + k * 60_000), "{k} is not in");
        }
        assert!(t.insert(m + 1_500));
        assert!(!t.insert(m + 1_500));
        assert!(t.contains(m + 1_500) && !t.contains(m + 1_501));
        assert!(t.insert(-60_000) && t.contains(-60_000) && !t.contains(0));
    }

    proptest::proptest! {
        #[test]
        fn ticks_answer_as_a_set_of_times_whatever_the_order(
            minutes in proptest::collection::vec(-300i64..300, 0..60),
            odd in proptest::collection::vec(1i64..59_999, 0..4),
        ) {
            let mut t = Ticks::default();
            let mut want = std::collections::BTreeSet::new();
            let base = 29_000_000 * 60_000_i64;
            for (i, m) in minutes.iter().enumerate() {
                let at = base + m * 60_000 + odd.get(i).copied().unwrap_or(0);
                proptest::prop_assert_eq!(t.insert(at), want.insert(at));
            }
            for m in -310i64..310 {
                let at = base + m * 60_000;
                proptest::prop_assert_eq!(t.contains(at), want.contains(&at));
            }
        }
    }

    #[test]
    fn buckets_count_minutes_and_the_busiest_second() {
        let mut b = Buckets::default();
        let m = 1_700_000_040_000_i64;
        for t in [m, m + 10, m + 999, m + 1000, m + 59_999, m + 60_000, m - 1] {
            b.add(t);
        }
        let minute = m / 60_000;
        assert_eq!(b.in_minute(minute), 5);
        assert_eq!(b.in_minute(minute + 1), 1);
        assert_eq!(b.in_minute(minute - 1), 1);
        assert_eq!(b.in_minute(minute + 2), 0);
        assert_eq!(b.peaks(), (5, 3));
        assert_eq!(b.total, 7);
    }

    #[test]
    fn a_pending_series_over_a_day_long_keeps_its_peak_in_at_most_the_point_bound() {
        let mut p = Pending::default();
        p.start_at(0);
        p.add(1_000, 1);
        // A peak of 3 in one 10 s step, 20 hours in.
        let at = 20 * 3_600_000;
        p.add(at, 2);
        p.add(at + 5_000, -2);
        let s = p.series(0, 27 * 3_600_000);
        assert!(s.len() <= PENDING_MAX_POINTS, "{}", s.len());
        assert_eq!(s.iter().map(|q| q.pending).max(), Some(3));
        assert_eq!(s.first().map(|q| q.t_ms), Some(0));
        assert!(s.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
    }
}

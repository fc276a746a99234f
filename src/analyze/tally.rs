//! Compact per-run residue of folded runs: what must outlive a run (its scheduled time, its
//! start's minute and second) in a few bits or bytes each, so that analysis memory stays flat
//! however long the log is.

use std::collections::BTreeMap;

/// A set of scheduled times: one bit per whole minute, in 64-minute words. Cron ticks fall on
/// whole minutes; a time that does not (a hand-made annotation) is kept as it is.
#[derive(Debug, Default)]
pub struct Ticks {
    words: BTreeMap<i64, u64>,
    other: Vec<i64>,
}

impl Ticks {
    /// Adds `t` (Unix ms); false when it was already there.
    pub fn insert(&mut self, t: i64) -> bool {
        match Self::slot(t) {
            Some((word, bit)) => {
                let w = self.words.entry(word).or_insert(0);
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
            Some((word, bit)) => self.words.get(&word).is_some_and(|w| w & bit != 0),
            None => self.other.contains(&t),
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
}

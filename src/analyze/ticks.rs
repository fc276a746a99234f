//! Cron math for the expected runs: the ticks of a 5-field schedule in a time range, in UTC
//! (the CronJob controller's time zone when a CronJob sets none).
//!
//! Private stand-in until `crate::scenario::cron::ticks_between` lands.

use std::cmp::Ordering;
use std::str::FromStr;

use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};
use croner::{CivilDate, CivilDateTime, CivilTime, CronDateTime, Resolution, Weekday};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// A UTC wall-clock time that croner can search over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Utc(DateTime);

fn to_civil(dt: DateTime) -> CivilDateTime {
    CivilDateTime::new(
        CivilDate::from_parts_unchecked(
            i32::from(dt.year()),
            u32::from(dt.month().unsigned_abs()),
            u32::from(dt.day().unsigned_abs()),
        ),
        CivilTime::from_parts_unchecked(
            u32::from(dt.hour().unsigned_abs()),
            u32::from(dt.minute().unsigned_abs()),
            u32::from(dt.second().unsigned_abs()),
        ),
    )
}

fn from_civil(c: CivilDateTime) -> Result<DateTime, CronError> {
    let year = i16::try_from(c.year()).map_err(|_| CronError::InvalidDate)?;
    let part = |v: u32| i8::try_from(v).map_err(|_| CronError::InvalidDate);
    DateTime::new(
        year,
        part(c.month())?,
        part(c.day())?,
        part(c.hour())?,
        part(c.minute())?,
        part(c.second())?,
        0,
    )
    .map_err(|_| CronError::InvalidDate)
}

impl CronDateTime for Utc {
    fn to_civil(&self) -> CivilDateTime {
        to_civil(self.0)
    }

    fn civil_weekday(&self) -> Weekday {
        Weekday::from_days_from_sunday(
            self.0
                .weekday()
                .to_sunday_zero_offset()
                .unsigned_abs()
                .into(),
        )
    }

    fn resolve_civil(&self, civil: CivilDateTime) -> Result<Resolution<Self>, CronError> {
        Ok(Resolution::Single(Utc(from_civil(civil)?)))
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .ok()
            .map(Utc)
    }

    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

/// A parsed 5-field schedule.
#[derive(Debug, Clone)]
pub(crate) struct Schedule(croner::Cron);

impl FromStr for Schedule {
    type Err = CronError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(s)
            .map(Schedule)
    }
}

impl Schedule {
    /// Ticks `t` (Unix ms) with `from_ms <= t < to_ms`, in order.
    pub(crate) fn ticks_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<i64>, CronError> {
        let mut out = Vec::new();
        if from_ms >= to_ms {
            return Ok(out);
        }
        let from = Timestamp::from_millisecond(from_ms).map_err(|_| CronError::InvalidDate)?;
        let start = Utc(TimeZone::UTC.to_datetime(from));
        let mut next = self.0.find_next_occurrence(&start, true)?;
        loop {
            let ts = TimeZone::UTC
                .to_timestamp(next.0)
                .map_err(|_| CronError::InvalidDate)?;
            let ms = ts.as_millisecond();
            // The search works on whole seconds; a sub-second `from` can yield a tick before it.
            if ms >= to_ms {
                return Ok(out);
            }
            if ms >= from_ms {
                out.push(ms);
            }
            next = self.0.find_next_occurrence(&next, false)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    #[test]
    fn every_minute_ticks_are_half_open() {
        let s: Schedule = "* * * * *".parse().expect("schedule");
        let ticks = s.ticks_between(T0, T0 + 180_000).expect("ticks");
        assert_eq!(ticks, vec![T0, T0 + 60_000, T0 + 120_000]);
    }

    #[test]
    fn sub_minute_start_skips_the_earlier_tick() {
        let s: Schedule = "*/2 * * * *".parse().expect("schedule");
        let ticks = s.ticks_between(T0 + 500, T0 + 300_000).expect("ticks");
        assert_eq!(ticks, vec![T0 + 120_000, T0 + 240_000]);
    }

    #[test]
    fn six_fields_are_rejected() {
        assert!("0 * * * * *".parse::<Schedule>().is_err());
    }

    #[test]
    fn weekday_and_hour_fields_apply() {
        // 2026-01-01 is a Thursday.
        let s: Schedule = "30 1 * * 5".parse().expect("schedule");
        let ticks = s.ticks_between(T0, T0 + 8 * 86_400_000).expect("ticks");
        assert_eq!(ticks, vec![T0 + 86_400_000 + 90 * 60_000]);
    }
}

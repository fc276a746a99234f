//! Cron schedules as the Kubernetes CronJob controller reads them, and the math the analysis needs.
//!
//! Kubernetes validates `spec.schedule` with `cron.ParseStandard` from robfig/cron v3 and rejects
//! any `TZ` in it. [`parse_schedule`] mirrors that parser's rules (exactly 5 fields, ranges, steps,
//! lists, `?`, JAN-DEC and SUN-SAT names, the lowercase `@yearly`... macros; no `L`, `W`, `#`,
//! seconds or years) and keeps robfig's day-matching rule: when the day-of-month or day-of-week
//! field starts with `*` or `?` (and has no step above 1) a day must match both fields, otherwise
//! either. The parsed fields are handed to `croner` (5 fields, no seconds, no years) as an explicit
//! pattern with the same meaning, and croner walks the calendar for [`ticks_between`]. croner's
//! parse is made on the first walk that can find a tick: over a range of at most a day, the
//! schedule's own fields first tell whether any minute of it matches (in a 50,000-CronJob fleet's
//! 20-minute window most of its 1,501 schedules cannot fire, and croner's parse of them was 9% of
//! the log's analysis).
//!
//! [`Schedule::ticks_between`] is UTC, as the controller fires a CronJob without
//! `spec.timeZone`; [`super::zone`] maps the same wall-clock matches into a time zone.

use std::collections::HashMap;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::Offset;

use super::civil::Utc;
use super::{CronJobDef, ScenarioError};

/// The macros Kubernetes accepts, and the 5-field expression each stands for.
const MACROS: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// One field of a cron expression: its name, its bounds, and the names it accepts.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// The value of `names[0]`.
    first_name_value: u32,
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        first_name_value: 0,
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        first_name_value: 0,
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        first_name_value: 0,
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTH_NAMES,
        first_name_value: 1,
    },
    Field {
        name: "day-of-week",
        min: 0,
        max: 6,
        names: &DAY_NAMES,
        first_name_value: 0,
    },
];

/// A schedule the CronJob controller accepts, parsed.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The expression as written.
    pub expression: String,
    /// Bit `i` set when value `i` is in the field: minute, hour, day-of-month, month, day-of-week.
    bits: [u64; 5],
    /// The day-of-month field started with `*` or `?` (and had no step above 1).
    dom_star: bool,
    /// The day-of-week field started with `*` or `?` (and had no step above 1).
    dow_star: bool,
    /// croner's pattern for the fields, and its parse once a walk needs it.
    pattern: String,
    cron: std::sync::OnceLock<Cron>,
}

fn invalid(schedule: &str, reason: impl Into<String>) -> ScenarioError {
    ScenarioError::Schedule {
        schedule: schedule.to_string(),
        reason: reason.into(),
    }
}

/// Parses a CronJob `spec.schedule` the way Kubernetes validates it.
///
/// Errors name the problem and the fix.
pub fn parse_schedule(schedule: &str) -> Result<Schedule, ScenarioError> {
    if schedule.trim().is_empty() {
        return Err(invalid(
            schedule,
            "the schedule is empty; write a 5-field cron expression such as '* * * * *'",
        ));
    }
    if schedule.contains("TZ") {
        return Err(invalid(
            schedule,
            "Kubernetes rejects TZ= and CRON_TZ= in spec.schedule (it wants spec.timeZone \
             instead); remove the prefix and name the zone in load.time_zone (or \
             kubernetes.time_zone of a job definition)",
        ));
    }
    let parts = five_fields(schedule, expand_macro(schedule)?)?;
    let mut bits = [0u64; 5];
    let mut stars = [false; 5];
    for (i, (part, field)) in parts.iter().zip(FIELDS.iter()).enumerate() {
        let (b, star) = parse_field(part, field).map_err(|reason| invalid(schedule, reason))?;
        bits[i] = b;
        stars[i] = star;
    }
    Ok(Schedule {
        expression: schedule.to_string(),
        bits,
        dom_star: stars[2],
        dow_star: stars[4],
        pattern: parts_to_croner(&bits, &stars),
        cron: std::sync::OnceLock::new(),
    })
}

/// The 5-field expression a `@macro` stands for, or the schedule itself.
fn expand_macro(schedule: &str) -> Result<&str, ScenarioError> {
    if !schedule.starts_with('@') {
        return Ok(schedule);
    }
    if schedule.starts_with("@every") {
        return Err(invalid(
            schedule,
            "Kubernetes accepts '@every <duration>', but it runs relative to the CronJob's \
             creation and then to each run, so cronbench cannot predict its ticks; write a \
             5-field expression such as '*/5 * * * *'",
        ));
    }
    MACROS
        .iter()
        .find(|(name, _)| *name == schedule)
        .map(|(_, expr)| *expr)
        .ok_or_else(|| {
            invalid(
                schedule,
                "unknown macro; use one of @yearly, @annually, @monthly, @weekly, @daily, \
                 @midnight, @hourly (lowercase, nothing else on the line) or a 5-field \
                 expression",
            )
        })
}

/// Exactly five whitespace-separated fields, or an error saying what the extra ones look like.
fn five_fields<'a>(schedule: &str, expanded: &'a str) -> Result<Vec<&'a str>, ScenarioError> {
    let parts: Vec<&str> = expanded.split_whitespace().collect();
    if parts.len() == 5 {
        return Ok(parts);
    }
    let hint = match parts.len() {
        6 | 7 => {
            "Kubernetes CronJobs have no seconds or year field; remove the extra field(s) so \
             it reads minute hour day-of-month month day-of-week"
        }
        _ => "write minute hour day-of-month month day-of-week, e.g. '*/5 * * * *'",
    };
    Err(invalid(
        schedule,
        format!(
            "expected exactly 5 fields (minute hour day-of-month month day-of-week), found \
             {}; {hint}",
            parts.len()
        ),
    ))
}

/// A field is a comma-separated list of ranges (robfig/cron `getField`; empty items are skipped).
fn parse_field(part: &str, field: &Field) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut star = false;
    for item in part.split(',').filter(|s| !s.is_empty()) {
        let (b, s) = parse_range(item, field)?;
        bits |= b;
        star |= s;
    }
    Ok((bits, star))
}

/// `*`, `?`, `N`, `N-M`, each optionally followed by `/step` (robfig/cron v3 `getRange`).
fn parse_range(item: &str, field: &Field) -> Result<(u64, bool), String> {
    let name = field.name;
    check_supported(item, field)?;
    let mut range_and_step = item.split('/');
    let range = range_and_step.next().unwrap_or_default();
    let step = range_and_step.next();
    if range_and_step.next().is_some() {
        return Err(format!(
            "{name} field '{item}' has more than one '/'; write range/step, e.g. '0-30/5'"
        ));
    }
    let (start, mut end, mut star, single) = range_bounds(range, item, field)?;
    let step = match step {
        None => 1,
        Some(step) => {
            let step = number(step).ok_or_else(|| {
                format!("{name} field '{item}': step '{step}' is not a number; write e.g. '*/5'")
            })?;
            if single && !star {
                // robfig: "N/step" means "N-max/step".
                end = field.max;
            }
            if step > 1 {
                star = false;
            }
            step
        }
    };
    check_range(item, field, start, end, step)?;
    let mut bits = 0u64;
    let mut v = start;
    while v <= end {
        bits |= 1 << v;
        v = v.saturating_add(step);
    }
    Ok((bits, star))
}

/// Rejects `L`, `W` and `#`, which robfig/cron does not know.
fn check_supported(item: &str, field: &Field) -> Result<(), String> {
    for unsupported in ['L', 'W', '#'] {
        if item.contains(unsupported) || item.contains(unsupported.to_ascii_lowercase()) {
            // Month and day names contain these letters ("wed", "jul"), so only complain when
            // the item is not made of names.
            if !item
                .split(['-', '/'])
                .all(|t| field.names.iter().any(|n| n.eq_ignore_ascii_case(t)) || is_digits(t))
            {
                return Err(format!(
                    "{} field '{item}' uses '{unsupported}', which the Kubernetes cron parser \
                     does not support (no L, W or #); list the values explicitly, e.g. '1,15'",
                    field.name
                ));
            }
        }
    }
    Ok(())
}

/// The start and end of `N`, `N-M`, `*` or `?`, whether it was a star, and whether it was a
/// single value.
fn range_bounds(range: &str, item: &str, field: &Field) -> Result<(u32, u32, bool, bool), String> {
    let low_and_high: Vec<&str> = range.split('-').collect();
    if low_and_high[0] == "*" || low_and_high[0] == "?" {
        return Ok((field.min, field.max, true, low_and_high.len() == 1));
    }
    let start = value(low_and_high[0], item, field)?;
    let end = match low_and_high.len() {
        1 => start,
        2 => value(low_and_high[1], item, field)?,
        _ => {
            return Err(format!(
                "{} field '{item}' has more than one '-'; write a range as start-end",
                field.name
            ));
        }
    };
    Ok((start, end, false, low_and_high.len() == 1))
}

/// The range lies within the field's bounds, runs forwards and has a positive step.
fn check_range(item: &str, field: &Field, start: u32, end: u32, step: u32) -> Result<(), String> {
    let (name, min, max) = (field.name, field.min, field.max);
    if start < min {
        return Err(format!(
            "{name} field '{item}': {start} is below the minimum {min}; use {min}-{max}"
        ));
    }
    if end > max {
        let hint = if name == "day-of-week" && end == 7 {
            " (Kubernetes does not accept 7 for Sunday; use 0 or SUN)"
        } else {
            ""
        };
        return Err(format!(
            "{name} field '{item}': {end} is above the maximum {max}{hint}; use {min}-{max}"
        ));
    }
    if start > end {
        return Err(format!(
            "{name} field '{item}': the range starts at {start}, after its end {end}; write the \
             smaller value first"
        ));
    }
    if step == 0 {
        return Err(format!(
            "{name} field '{item}': a step must be a positive number; use /1 or more"
        ));
    }
    Ok(())
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A number as robfig/cron reads one (Go's `strconv.Atoi`): digits, with one optional `+`.
fn number(s: &str) -> Option<u32> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if is_digits(digits) {
        digits.parse().ok()
    } else {
        None
    }
}

fn value(token: &str, item: &str, field: &Field) -> Result<u32, String> {
    if let Some(i) = field
        .names
        .iter()
        .position(|n| n.eq_ignore_ascii_case(token))
    {
        // Names are at most 12, so the cast cannot truncate.
        return Ok(field.first_name_value + i as u32);
    }
    number(token).ok_or_else(|| {
        let names = if field.names.is_empty() {
            String::new()
        } else {
            format!(
                " or a name ({}-{})",
                field.names[0].to_uppercase(),
                field.names[field.names.len() - 1].to_uppercase()
            )
        };
        format!(
            "{} field '{item}': '{token}' is not a number{names}; use {}-{}",
            field.name, field.min, field.max
        )
    })
}

/// The same schedule as an explicit croner pattern: starred fields stay `*` (croner's rule for
/// `*` in day-of-month/day-of-week then matches robfig's), others become value lists.
fn parts_to_croner(bits: &[u64; 5], stars: &[bool; 5]) -> String {
    let mut out = Vec::with_capacity(5);
    for (i, field) in FIELDS.iter().enumerate() {
        if stars[i] {
            out.push("*".to_string());
            continue;
        }
        let values: Vec<String> = (field.min..=field.max)
            .filter(|v| bits[i] & (1 << v) != 0)
            .map(|v| v.to_string())
            .collect();
        if values.is_empty() {
            // An empty list (e.g. the field ","): nothing matches. Croner has no empty list, so
            // use a value and let `Schedule::never_fires` tell the truth.
            out.push(field.min.to_string());
        } else {
            out.push(values.join(","));
        }
    }
    out.join(" ")
}

/// Days in a 400-year Gregorian cycle; weekdays repeat with it too (146097 = 7 * 20871).
const CYCLE_DAYS: u32 = 146_097;

/// Longest range, in minutes, that [`Schedule::may_fire_between`] checks minute by minute.
const QUICK_CHECK_MINUTES: u32 = 1440;

impl Schedule {
    /// croner's walker for the fields, parsed on first use.
    fn cron(&self) -> Result<&Cron, ScenarioError> {
        if let Some(cron) = self.cron.get() {
            return Ok(cron);
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(&self.pattern)
            .map_err(|_| {
                invalid(
                    &self.expression,
                    format!(
                        "it could not be walked as '{}'; simplify the expression",
                        self.pattern
                    ),
                )
            })?;
        Ok(self.cron.get_or_init(|| cron))
    }

    /// False when no whole minute of `[from, to)` matches the fields, told minute by minute
    /// for a range of at most [`QUICK_CHECK_MINUTES`]; true otherwise (then the walk decides).
    fn may_fire_between(&self, from: DateTime, to: DateTime) -> bool {
        let whole = from
            .round(
                jiff::civil::DateTimeRound::new()
                    .smallest(jiff::Unit::Minute)
                    .mode(jiff::RoundMode::Ceil),
            )
            .unwrap_or(from);
        let mut t = whole;
        for _ in 0..QUICK_CHECK_MINUTES {
            if t >= to {
                return false;
            }
            if self.has(0, t.minute() as u32)
                && self.has(1, t.hour() as u32)
                && self.day_matches(t.date())
            {
                return true;
            }
            match t.checked_add(jiff::SignedDuration::from_mins(1)) {
                Ok(next) => t = next,
                Err(_) => return true,
            }
        }
        true
    }

    fn has(&self, field: usize, value: u32) -> bool {
        self.bits[field] & (1 << value) != 0
    }

    fn count(&self, field: usize) -> u32 {
        self.bits[field].count_ones()
    }

    /// Whether a day is scheduled, by robfig/cron's rule.
    fn day_matches(&self, date: Date) -> bool {
        // Month, day and weekday are small positive numbers.
        let month = date.month() as u32;
        let day = date.day() as u32;
        let dow = date.weekday().to_sunday_zero_offset() as u32;
        if !self.has(3, month) {
            return false;
        }
        let dom = self.has(2, day);
        let dow = self.has(4, dow);
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// Scheduled days in one 400-year cycle (which repeats exactly), or only whether there is
    /// one when `stop_at_first`.
    fn days_per_cycle(&self, stop_at_first: bool) -> u32 {
        if self.dom_star && self.dow_star && self.count(3) == 12 {
            return CYCLE_DAYS;
        }
        let mut date = Date::constant(2000, 1, 1);
        let mut n = 0;
        for _ in 0..CYCLE_DAYS {
            if self.day_matches(date) {
                n += 1;
                if stop_at_first {
                    break;
                }
            }
            match date.tomorrow() {
                Ok(d) => date = d,
                Err(_) => break,
            }
        }
        n
    }

    /// True when no date ever matches (e.g. `0 0 30 2 *`, February 30th). Kubernetes accepts
    /// such schedules; they simply never run.
    pub fn never_fires(&self) -> bool {
        self.count(0) == 0 || self.count(1) == 0 || self.days_per_cycle(true) == 0
    }

    /// The exact long-run average number of runs per minute.
    pub fn runs_per_minute(&self) -> f64 {
        let per_day = f64::from(self.count(0)) * f64::from(self.count(1));
        let day_share = f64::from(self.days_per_cycle(false)) / f64::from(CYCLE_DAYS);
        per_day * day_share / 1440.0
    }

    /// Whether the schedule fires at this UTC minute (seconds are ignored).
    pub fn matches(&self, t: Timestamp) -> bool {
        let dt = Offset::UTC.to_datetime(t);
        self.has(0, dt.minute() as u32)
            && self.has(1, dt.hour() as u32)
            && self.day_matches(dt.date())
    }

    /// Every time `t` with `from <= t < to` at which this schedule fires, in UTC (as
    /// [`super::zone::ticks_in`] in UTC, which has neither gaps nor folds).
    ///
    /// Empty when `from >= to` or the schedule never fires.
    pub fn ticks_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Timestamp>, ScenarioError> {
        super::zone::ticks_in(self, &jiff::tz::TimeZone::UTC, from, to)
    }

    /// Every wall-clock time `dt` with `from <= dt < to` (to the second) that the schedule's
    /// fields match, in a calendar without a time zone.
    pub(super) fn civil_ticks(
        &self,
        from: DateTime,
        to: DateTime,
    ) -> Result<Vec<DateTime>, ScenarioError> {
        let mut ticks = Vec::new();
        if from >= to || self.never_fires() || !self.may_fire_between(from, to) {
            return Ok(ticks);
        }
        let cron = self.cron()?;
        let mut cursor = Utc(from);
        let mut inclusive = true;
        loop {
            let next = cron
                .find_next_occurrence(&cursor, inclusive)
                .map_err(|source| ScenarioError::Ticks {
                    schedule: self.expression.clone(),
                    source,
                })?;
            if next.0 >= to {
                break;
            }
            ticks.push(next.0);
            cursor = next;
            inclusive = false;
        }
        Ok(ticks)
    }
}

/// Every time `t` with `from <= t < to` (start inclusive, end exclusive) at which `schedule`
/// fires, in UTC, as the CronJob controller computes them when `spec.timeZone` is unset.
pub fn ticks_between(
    schedule: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Timestamp>, ScenarioError> {
    parse_schedule(schedule)?.ticks_between(from, to)
}

/// The long-run average number of runs per minute that these CronJobs schedule together.
///
/// Exact: each schedule's matching days are counted over a 400-year Gregorian cycle, so monthly
/// and weekly schedules count correctly. Defs with an invalid schedule count 0 (validation reports
/// them).
pub fn jobs_per_minute(defs: &[CronJobDef]) -> f64 {
    let mut per_schedule: HashMap<&str, usize> = HashMap::new();
    // A suspended CronJob schedules nothing.
    for def in defs
        .iter()
        .filter(|d| !d.class.as_ref().is_some_and(|c| c.suspend))
    {
        *per_schedule.entry(def.schedule.as_str()).or_default() += 1;
    }
    per_schedule
        .into_iter()
        .map(|(schedule, n)| match parse_schedule(schedule) {
            Ok(s) => s.runs_per_minute() * n as f64,
            Err(_) => 0.0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn reason(schedule: &str) -> String {
        match parse_schedule(schedule) {
            Err(ScenarioError::Schedule { reason, .. }) => reason,
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("'{schedule}' should be rejected"),
        }
    }

    fn def(schedule: &str) -> CronJobDef {
        CronJobDef {
            defined_in: None,
            name: "x".into(),
            schedule: schedule.into(),
            time_zone: None,
            command: vec!["true".into()],
            resources: Default::default(),
            class: None,
        }
    }

    #[test]
    fn every_minute_over_three_minutes_gives_three_ticks() {
        let ticks = ticks_between(
            "* * * * *",
            ts("2024-01-01T00:00:00Z"),
            ts("2024-01-01T00:03:00Z"),
        )
        .unwrap();
        assert_eq!(
            ticks,
            [
                ts("2024-01-01T00:00:00Z"),
                ts("2024-01-01T00:01:00Z"),
                ts("2024-01-01T00:02:00Z")
            ]
        );
    }

    #[test]
    fn every_fifteen_minutes_over_an_hour_gives_four_ticks() {
        let ticks = ticks_between(
            "*/15 * * * *",
            ts("2024-03-05T10:00:00Z"),
            ts("2024-03-05T11:00:00Z"),
        )
        .unwrap();
        let minutes: Vec<i8> = ticks
            .iter()
            .map(|t| Offset::UTC.to_datetime(*t).minute())
            .collect();
        assert_eq!(minutes, [0, 15, 30, 45]);
    }

    #[test]
    fn start_is_inclusive_and_end_is_exclusive() {
        let at = ts("2024-01-01T00:05:00Z");
        assert_eq!(
            ticks_between("5 * * * *", at, ts("2024-01-01T00:06:00Z")).unwrap(),
            [at]
        );
        assert!(
            ticks_between("5 * * * *", ts("2024-01-01T00:00:00Z"), at)
                .unwrap()
                .is_empty()
        );
        // A start just after a tick (even by a nanosecond) excludes it.
        let after = ts("2024-01-01T00:05:00.000000001Z");
        assert!(
            ticks_between("5 * * * *", after, ts("2024-01-01T00:06:00Z"))
                .unwrap()
                .is_empty()
        );
        // Empty or reversed windows have no ticks.
        assert!(ticks_between("* * * * *", at, at).unwrap().is_empty());
        assert!(
            ticks_between("* * * * *", at, ts("2024-01-01T00:00:00Z"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn ticks_are_in_utc_and_cross_day_and_month_boundaries() {
        let ticks = ticks_between(
            "@daily",
            ts("2024-01-30T12:00:00Z"),
            ts("2024-02-02T12:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            ticks,
            [
                ts("2024-01-31T00:00:00Z"),
                ts("2024-02-01T00:00:00Z"),
                ts("2024-02-02T00:00:00Z")
            ]
        );
    }

    #[test]
    fn never_firing_schedule_has_no_ticks() {
        let s = parse_schedule("0 0 30 2 *").unwrap();
        assert!(s.never_fires());
        assert_eq!(s.runs_per_minute(), 0.0);
        assert!(
            s.ticks_between(ts("2024-01-01T00:00:00Z"), ts("2030-01-01T00:00:00Z"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn accepts_what_kubernetes_accepts() {
        for s in [
            "* * * * *",
            "*/15 * * * *",
            "15 */2 * * *",
            "0 9-17 * * MON-FRI",
            "0 0 1,15 * *",
            "0 0 * JAN,jul *",
            "5/15 * * * *",
            "0-30/10 * * * *",
            "0 0 ? * *",
            "? ? ? ? ?",
            "0 0 * * sun",
            "  * * * * *  ",
            "1,,2 * * * *",
            "@yearly",
            "@annually",
            "@monthly",
            "@weekly",
            "@daily",
            "@midnight",
            "@hourly",
        ] {
            assert!(
                parse_schedule(s).is_ok(),
                "{s:?} should parse: {:?}",
                parse_schedule(s).err()
            );
        }
    }

    #[test]
    fn rejects_out_of_range_values_with_the_limit() {
        let r = reason("61 * * * *");
        assert!(r.contains("61 is above the maximum 59"), "{r}");
        assert!(reason("* 24 * * *").contains("maximum 23"));
        assert!(reason("* * 0 * *").contains("below the minimum 1"));
        assert!(reason("* * * 13 *").contains("maximum 12"));
        assert!(reason("* * * * 7").contains("use 0 or SUN"));
        assert!(reason("10-5 * * * *").contains("after its end"));
        assert!(reason("*/0 * * * *").contains("positive"));
    }

    #[test]
    fn rejects_six_and_seven_fields_naming_the_seconds_field() {
        let r = reason("0 * * * * *");
        assert!(r.contains("found 6"), "{r}");
        assert!(r.contains("no seconds"), "{r}");
        assert!(reason("0 0 * * * * 2024").contains("found 7"));
        assert!(reason("* * * *").contains("found 4"));
        assert!(reason("").contains("empty"));
    }

    #[test]
    fn rejects_time_zone_prefixes() {
        for s in ["TZ=UTC * * * * *", "CRON_TZ=Europe/Paris 0 0 * * *"] {
            assert!(reason(s).contains("spec.timeZone"), "{s}");
        }
    }

    #[test]
    fn rejects_quartz_extensions_that_croner_would_accept() {
        for s in [
            "0 0 L * *",
            "0 0 15W * *",
            "0 0 * * 5#2",
            "0 0 * * 5L",
            "0 0 LW * *",
        ] {
            assert!(
                CronParser::builder()
                    .seconds(Seconds::Disallowed)
                    .build()
                    .parse(s)
                    .is_ok(),
                "croner accepts {s}, so our own check matters"
            );
            let r = reason(s);
            assert!(r.contains("does not support"), "{s}: {r}");
        }
    }

    #[test]
    fn rejects_bad_macros_and_every() {
        assert!(reason("@every 1h").contains("@every"));
        assert!(reason("@HOURLY").contains("unknown macro"));
        assert!(reason("@fortnightly").contains("unknown macro"));
        assert!(reason("@daily 5").contains("unknown macro"));
    }

    #[test]
    fn rejects_garbage_tokens() {
        assert!(reason("a * * * *").contains("'a' is not a number"));
        assert!(reason("* * * FOO *").contains("JAN-DEC"));
        assert!(reason("1-2-3 * * * *").contains("more than one '-'"));
        assert!(reason("*/2/3 * * * *").contains("more than one '/'"));
        assert!(reason("/5 * * * *").contains("not a number"));
        assert!(reason("5- * * * *").contains("not a number"));
    }

    #[test]
    fn day_of_month_and_day_of_week_follow_robfig_rules() {
        // Both restricted: either matches (OR). 2024-01-01 is a Monday, 2024-01-13 a Saturday.
        let or = parse_schedule("0 0 13 * MON").unwrap();
        assert!(or.matches(ts("2024-01-01T00:00:00Z")));
        assert!(or.matches(ts("2024-01-13T00:00:00Z")));
        assert!(!or.matches(ts("2024-01-02T00:00:00Z")));
        // A '*'- or '?'-started day field means both must match (AND), even with step 1.
        for s in ["0 0 */1 * MON", "0 0 ? * MON", "0 0 *,13 * MON"] {
            let and = parse_schedule(s).unwrap();
            assert!(and.matches(ts("2024-01-01T00:00:00Z")), "{s}");
            assert!(!and.matches(ts("2024-01-13T00:00:00Z")), "{s}");
        }
        // A step above 1 drops the star: OR again.
        let stepped = parse_schedule("0 0 */2 * MON").unwrap();
        assert!(stepped.matches(ts("2024-01-01T00:00:00Z")));
        assert!(stepped.matches(ts("2024-01-03T00:00:00Z")));
        assert!(stepped.matches(ts("2024-01-08T00:00:00Z")));
        assert!(!stepped.matches(ts("2024-01-02T00:00:00Z")));
    }

    #[test]
    fn croner_ticks_agree_with_our_matcher() {
        let from = ts("2024-02-26T00:00:00Z");
        let to = ts("2024-03-11T00:00:00Z");
        for s in [
            "*/7 * * * *",
            "15 */2 * * *",
            "0 9-17 * * MON-FRI",
            "0 0 13 * MON",
            "0 0 */1 * MON",
            "0 0 */2 * MON",
            "30 12 29 2 *",
            "5/20 1 * FEB,MAR SAT",
            "@weekly",
        ] {
            let sched = parse_schedule(s).unwrap();
            let ticks = sched.ticks_between(from, to).unwrap();
            let mut expected = Vec::new();
            let mut t = from;
            while t < to {
                if sched.matches(t) {
                    expected.push(t);
                }
                t = t.checked_add(jiff::SignedDuration::from_mins(1)).unwrap();
            }
            assert_eq!(ticks, expected, "{s}");
        }
    }

    #[test]
    fn short_windows_that_the_fields_rule_out_agree_with_the_walk() {
        let base = ts("2024-02-28T22:00:13Z");
        for s in [
            "*/7 * * * *",
            "15 */2 * * *",
            "0 0 13 * MON",
            "30 23 29 2 *",
            "59 * * * *",
        ] {
            let sched = parse_schedule(s).unwrap();
            for k in 0..400 {
                let from = base
                    .checked_add(jiff::SignedDuration::from_secs(k * 437))
                    .unwrap();
                let to = from
                    .checked_add(jiff::SignedDuration::from_mins(20))
                    .unwrap();
                let mut expected = Vec::new();
                let mut t = from
                    .round(
                        jiff::TimestampRound::new()
                            .smallest(jiff::Unit::Minute)
                            .mode(jiff::RoundMode::Ceil),
                    )
                    .unwrap();
                while t < to {
                    if sched.matches(t) {
                        expected.push(t);
                    }
                    t = t.checked_add(jiff::SignedDuration::from_mins(1)).unwrap();
                }
                assert_eq!(
                    sched.ticks_between(from, to).unwrap(),
                    expected,
                    "{s} from {from}"
                );
            }
        }
    }

    #[test]
    fn jobs_per_minute_is_exact_for_common_schedules() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(jobs_per_minute(&[def("* * * * *")]), 1.0));
        assert!(close(jobs_per_minute(&vec![def("* * * * *"); 50]), 50.0));
        assert!(close(jobs_per_minute(&[def("*/15 * * * *")]), 1.0 / 15.0));
        assert!(close(jobs_per_minute(&[def("@hourly")]), 1.0 / 60.0));
        assert!(close(jobs_per_minute(&[def("@daily")]), 1.0 / 1440.0));
        assert!(close(
            jobs_per_minute(&[def("@weekly")]),
            1.0 / (7.0 * 1440.0)
        ));
        assert!(close(
            jobs_per_minute(&[def("@monthly")]),
            12.0 / (365.2425 * 1440.0)
        ));
        assert!(close(
            jobs_per_minute(&[def("15 */2 * * *")]),
            12.0 / 1440.0
        ));
        assert_eq!(jobs_per_minute(&[def("61 * * * *")]), 0.0);
        assert_eq!(jobs_per_minute(&[]), 0.0);
    }

    #[test]
    fn jobs_per_minute_matches_a_week_of_ticks_for_weekly_periodic_schedules() {
        let from = ts("2024-01-01T00:00:00Z");
        let to = ts("2024-01-08T00:00:00Z");
        for s in ["0 9-17 * * MON-FRI", "*/10 8 * * SAT,SUN", "7 * * * *"] {
            let n = ticks_between(s, from, to).unwrap().len() as f64;
            let rate = jobs_per_minute(&[def(s)]);
            assert!(
                (rate - n / (7.0 * 1440.0)).abs() < 1e-12,
                "{s}: {rate} vs {n}"
            );
        }
    }
}

//! `spec.timeZone`: names checked as the apiserver checks them, and the times a schedule fires
//! in a zone, as the CronJob controller fires them.
//!
//! The controller (kube-controller-manager v1.36, `pkg/controller/cronjob`) parses
//! `TZ=<spec.timeZone> <spec.schedule>` with robfig/cron v3 and walks `Schedule.Next`, which
//! steps through real time in the zone. So a wall-clock time that a spring-forward gap skips
//! (02:30 on the day New York goes from 02:00 to 03:00) does not fire that day, and one that a
//! fall-back fold repeats (01:30 on the day New York goes from 02:00 back to 01:00) fires twice,
//! an hour apart, as two Jobs. [`ticks_in`] does the same; tests/fixtures/dst-ticks.txt holds
//! what robfig/cron itself fires for the cases in tests/fixtures/dst-cases.txt (regenerated
//! and checked by tools/crontz), and the tests below match it.

use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use super::ScenarioError;
use super::cron::Schedule;

/// What the apiserver accepts as one `/`-separated part of a zone name (batch validation:
/// `^[A-Za-z\.\-_0-9+]{1,14}$`).
fn part_ok(part: &str) -> bool {
    (1..=14).contains(&part.len())
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
}

/// The zone `name` names, or why the apiserver would refuse it as `spec.timeZone`: empty, a
/// part that is `.`, `..`, starts with `-` or has other characters or over 14 of them,
/// `Local`, or a name the time zone database does not know (the apiserver asks its own Go
/// time zone database; this asks the system's, /usr/share/zoneinfo, which Go reads too).
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    let fix = "use an IANA name such as Europe/Berlin or America/New_York (`timedatectl \
               list-timezones` lists them)";
    if name.is_empty() {
        return Err(format!(
            "the time zone is empty; {fix}, or remove the key for UTC"
        ));
    }
    if name
        .split('/')
        .any(|p| p == "." || p == ".." || p.starts_with('-') || !part_ok(p))
    {
        return Err(format!(
            "'{name}' is not a time zone name the apiserver accepts (each part of at most 14 \
             letters, digits, '.', '-', '_' or '+'); {fix}"
        ));
    }
    if name.eq_ignore_ascii_case("local") {
        return Err(format!(
            "'{name}' is not an explicit time zone and the apiserver refuses it; {fix}"
        ));
    }
    match TimeZone::get(name) {
        // The database is searched without regard to case, the apiserver's is not.
        Ok(tz) if tz.iana_name() == Some(name) => Ok(tz),
        found => zoneinfo_file(name).ok_or_else(|| match found {
            Ok(tz) => format!(
                "unknown time zone '{name}' (names are case-sensitive: did you mean '{}'?); {fix}",
                tz.iana_name().unwrap_or_default()
            ),
            Err(_) => format!("unknown time zone '{name}'; {fix}"),
        }),
    }
}

/// Where Go's time package, and so the apiserver and the controller, reads zones on Linux.
const ZONEINFO: &str = "/usr/share/zoneinfo";
/// The largest zone file read (the biggest in tzdata are under 4 KiB).
const ZONE_FILE_MAX: u64 = 64 * 1024;

/// A zone the apiserver would load from its zoneinfo folder but that jiff's database leaves
/// out (`right/...` and `posix/...`). `name`'s parts were checked: it cannot leave the folder.
fn zoneinfo_file(name: &str) -> Option<TimeZone> {
    use std::io::Read as _;
    let file = std::fs::File::open(std::path::Path::new(ZONEINFO).join(name)).ok()?;
    let mut bytes = Vec::new();
    file.take(ZONE_FILE_MAX).read_to_end(&mut bytes).ok()?;
    TimeZone::tzif(name, &bytes).ok()
}

/// The largest gap or fold there is (Antarctica/Troll moves 2 hours), and a margin: the
/// wall-clock walk is widened by this on both sides so that no instant in the range is missed.
const WIDEN: SignedDuration = SignedDuration::from_hours(3);

/// Every time `t` with `from <= t < to` at which `schedule` fires in `zone`: each wall-clock
/// match once, none in a gap, twice (earlier first) in a fold.
pub fn ticks_in(
    schedule: &Schedule,
    zone: &TimeZone,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<Timestamp>, ScenarioError> {
    if from >= to {
        return Ok(Vec::new());
    }
    // A fixed offset (UTC, a zone-less CronJob) has neither gaps nor folds: the walk need not
    // be widened (for a 20-minute window it was 6 h 20 min of ticks).
    let widen = match zone.to_fixed_offset() {
        Ok(_) => SignedDuration::ZERO,
        Err(_) => WIDEN,
    };
    let civil = |t: Timestamp, d: SignedDuration| {
        let dt = zone.to_datetime(t);
        dt.checked_add(d).unwrap_or(dt)
    };
    let walk = schedule.civil_ticks(civil(from, -widen), civil(to, widen))?;
    let mut out = Vec::with_capacity(walk.len());
    for dt in walk {
        let offsets = match zone.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => [Some(offset), None],
            AmbiguousOffset::Gap { .. } => [None, None],
            AmbiguousOffset::Fold { before, after } => [Some(before), Some(after)],
        };
        for offset in offsets.into_iter().flatten() {
            if let Ok(t) = offset.to_timestamp(dt)
                && from <= t
                && t < to
            {
                out.push(t);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_schedule;

    /// Each line of tests/fixtures/dst-ticks.txt: `zone|schedule|from|to => tick tick ...`.
    const RECORDED: &str = include_str!("../../tests/fixtures/dst-ticks.txt");

    #[test]
    fn ticks_across_dst_transitions_are_what_the_controller_fires() {
        let mut cases = 0;
        for line in RECORDED.lines().filter(|l| !l.trim().is_empty()) {
            let (case, want) = line.split_once(" => ").expect("case => ticks");
            let f: Vec<&str> = case.split('|').collect();
            let zone = time_zone(f[0]).expect("a known zone");
            let schedule = parse_schedule(f[1]).expect("a valid schedule");
            let (from, to) = (f[2].parse().expect("from"), f[3].parse().expect("to"));
            let got: Vec<String> = ticks_in(&schedule, &zone, from, to)
                .expect("ticks")
                .iter()
                .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                .collect();
            assert_eq!(got.join(" "), want, "{case}");
            cases += 1;
        }
        assert_eq!(cases, 13);
    }

    #[test]
    fn a_spring_forward_skips_the_run_and_a_fall_back_runs_it_twice() {
        let ny = time_zone("America/New_York").expect("zone");
        let at = |s: &str| s.parse::<Timestamp>().expect("time");
        let day = |sched: &str, d: &str| {
            let s = parse_schedule(sched).expect("schedule");
            let from = at(&format!("{d}T04:00:00Z"));
            ticks_in(&s, &ny, from, at(&format!("{d}T12:00:00Z")))
                .expect("ticks")
                .len()
        };
        assert_eq!(day("30 2 * * *", "2026-03-08"), 0);
        assert_eq!(day("30 2 * * *", "2026-03-09"), 1);
        assert_eq!(day("30 1 * * *", "2026-11-01"), 2);
        assert_eq!(day("30 1 * * *", "2026-11-02"), 1);
    }

    #[test]
    fn zone_names_are_refused_as_the_apiserver_refuses_them() {
        for bad in [
            "",
            "Local",
            "local",
            "../etc/passwd",
            "Europe/./Berlin",
            "-Europe",
            "America/Argentina_Buenos_Aires_Long",
            "Mars/Olympus_Mons",
            "Europe/Berlin ",
            "europe/berlin",
        ] {
            assert!(time_zone(bad).is_err(), "{bad:?} is refused");
        }
        for good in [
            "UTC",
            "Europe/Berlin",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
        ] {
            assert!(time_zone(good).is_ok(), "{good} is accepted");
        }
    }
}

//! Bounds on the numbers in a scenario, each with the reason for it, and the checks that need
//! the resolved CronJobs (object size, apply time, a window that can miss every tick).
//!
//! Memory stays bounded on any input: a file is read up to `error::MAX_FILE_BYTES`, the count of
//! CronJobs is checked before one is built, and so is the memory their commands would take.

use super::cron::parse_schedule;
use super::{Apply, CronJobDef, Durations};

/// The most CronJobs one run creates. Every CronJob is created, watched and analysed by one
/// process; the largest run measured (the bench) creates 10,000.
pub const MAX_CRONJOBS: u64 = 100_000;

/// etcd's default request limit (`--max-request-bytes`): the apiserver refuses a bigger object.
pub const ETCD_REQUEST_BYTES: u64 = 1_572_864;

/// Room left in an object for everything but the command (metadata, labels, pod template).
const OBJECT_OVERHEAD_BYTES: u64 = 16 * 1024;

/// The most bytes of commands the resolved CronJobs may hold together: cronbench keeps every
/// definition in memory for the whole run.
pub const MAX_TOTAL_COMMAND_BYTES: u64 = 64 * 1024 * 1024;

/// The longest phase: 30 days. Longer runs overflow nothing but are certainly a typo (seconds
/// written as milliseconds), and the per-second series of a run are sized by it.
pub const MAX_DURATION_S: u64 = 30 * 24 * 3600;

/// The lowest creation rate above 0 (unlimited): one creation every 1000 s. The pacer's slot
/// length is `1 / qps`, which must stay a representable duration.
pub const MIN_QPS: f64 = 0.001;

/// The most requests in flight while creating CronJobs.
pub const MAX_CONCURRENCY: usize = 1000;

/// A number as a message shows it: in exponent form when tiny or huge (`1e-300`, not three
/// hundred zeros).
pub fn show(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e15).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// Problems with `duration`, as (key path, message).
pub fn duration_problems(d: &Durations) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if d.measure_s == 0 {
        out.push((
            "duration.measure_s".to_string(),
            "duration.measure_s is 0, so nothing would be measured; set it above 0 (e.g. 180)"
                .to_string(),
        ));
    }
    for (field, v) in [
        ("duration.warmup_s", d.warmup_s),
        ("duration.measure_s", d.measure_s),
        ("duration.drain_s", d.drain_s),
    ] {
        if v > MAX_DURATION_S {
            out.push((
                field.to_string(),
                format!(
                    "{field} is {v} s, above the bound of {MAX_DURATION_S} s (30 days); durations \
                     are in seconds: set it to {MAX_DURATION_S} or less"
                ),
            ));
        }
    }
    out
}

/// The whole run in seconds (warm-up, measure, drain), saturating on absurd values (which
/// [`duration_problems`] reports).
pub fn run_seconds(d: &Durations) -> u64 {
    d.warmup_s
        .saturating_add(d.measure_s)
        .saturating_add(d.drain_s)
}

/// Bytes of one command as the apiserver stores them (roughly: the strings).
pub fn command_bytes(command: &[String]) -> u64 {
    command.iter().map(|c| c.len() as u64 + 3).sum()
}

/// A command that makes its CronJob too large for etcd.
pub fn command_size_problem(what: &str, command: &[String]) -> Option<String> {
    let bytes = command_bytes(command);
    let max = ETCD_REQUEST_BYTES - OBJECT_OVERHEAD_BYTES;
    (bytes > max).then(|| {
        format!(
            "{what} is {bytes} bytes; a CronJob must fit etcd's default request limit of \
             {ETCD_REQUEST_BYTES} bytes (1.5 MiB), which leaves {max} for the command: put the \
             script in the image or a ConfigMap"
        )
    })
}

/// Problems with `load.cronjobs` copies of `command`, checked before any is built.
pub fn inline_count_problems(cronjobs: u32, command: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if u64::from(cronjobs) > MAX_CRONJOBS {
        out.push((
            "load.cronjobs".to_string(),
            format!(
                "load.cronjobs is {cronjobs}, above the bound of {MAX_CRONJOBS}: one process \
                 creates, watches and analyses every CronJob; set it to {MAX_CRONJOBS} or less"
            ),
        ));
    }
    if let Some(msg) = command_size_problem("load.command", command) {
        out.push(("load.command".to_string(), msg));
    }
    let total = command_bytes(command).saturating_mul(u64::from(cronjobs));
    if out.is_empty() && total > MAX_TOTAL_COMMAND_BYTES {
        out.push((
            "load.command".to_string(),
            format!(
                "load.cronjobs x load.command is {total} bytes, above the bound of \
                 {MAX_TOTAL_COMMAND_BYTES} (64 MiB) that cronbench holds in memory for a run; \
                 shorten the command or create fewer CronJobs"
            ),
        ));
    }
    out
}

/// The apply phase must end before the run would: (key path, message) when it does not.
pub fn apply_time_problem(
    apply: &Apply,
    d: &Durations,
    cronjobs: usize,
) -> Option<(String, String)> {
    if !(apply.qps.is_finite() && apply.qps > 0.0) {
        return None;
    }
    let paced = (cronjobs as f64 - f64::from(apply.burst.max(1))).max(0.0);
    let apply_s = paced / apply.qps;
    let run_s = run_seconds(d) as f64;
    (apply_s > run_s).then(|| {
        (
            "apply.qps".to_string(),
            format!(
                "creating {cronjobs} CronJobs at apply.qps {} (after a burst of {}) takes {:.0} s, \
                 longer than the whole run (warm-up, measure and drain: {run_s:.0} s); raise \
                 apply.qps to at least {:.3}, or set it to 0 for unlimited",
                apply.qps,
                apply.burst,
                apply_s,
                paced / run_s.max(1.0)
            ),
        )
    })
}

/// Minutes looked ahead for gaps between ticks: 8 days covers every weekly pattern.
const GAP_HORIZON_MIN: usize = 8 * 24 * 60;

/// Distinct schedules beyond which the gap check is skipped (its cost grows with them).
const GAP_MAX_SCHEDULES: usize = 200;

/// The window check: when the CronJobs' ticks (together) leave a gap longer than
/// `duration.measure_s`, a measure window can fall between two ticks and count nothing.
pub fn window_problem(defs: &[CronJobDef], d: &Durations) -> Option<(String, String)> {
    let mut schedules: Vec<&str> = defs.iter().map(|d| d.schedule.as_str()).collect();
    schedules.sort_unstable();
    schedules.dedup();
    if schedules.is_empty()
        || schedules.len() > GAP_MAX_SCHEDULES
        || d.measure_s >= (GAP_HORIZON_MIN as u64) * 60
    {
        return None;
    }
    let mut ticks = vec![false; GAP_HORIZON_MIN];
    let start = jiff::Timestamp::from_second(1_767_225_600).ok()?; // 2026-01-01T00:00Z
    for s in schedules {
        let schedule = parse_schedule(s).ok()?;
        for (i, tick) in ticks.iter_mut().enumerate() {
            if !*tick {
                let t = start
                    .checked_add(jiff::SignedDuration::from_mins(i as i64))
                    .ok()?;
                *tick = schedule.matches(t);
            }
        }
    }
    let marks: Vec<usize> = (0..GAP_HORIZON_MIN).filter(|i| ticks[*i]).collect();
    if marks.len() <= 1 {
        return Some((
            "duration.measure_s".to_string(),
            format!(
                "the CronJobs' schedules fire at most once in 8 days, so a measure window of \
                 {} s (duration.measure_s) can contain no tick and the run would measure \
                 nothing; schedule the CronJobs at least hourly for a run of minutes",
                d.measure_s
            ),
        ));
    }
    let gap_s = marks
        .windows(2)
        .map(|w| (w[1] - w[0]) * 60)
        .max()
        .unwrap_or(0);
    (gap_s as u64 > d.measure_s).then(|| {
        (
            "duration.measure_s".to_string(),
            format!(
                "duration.measure_s is {} s, but the CronJobs' schedules leave up to {gap_s} s \
                 without a tick, so the measure window can contain none and the run would \
                 measure nothing; set duration.measure_s to at least {gap_s}, or schedule the \
                 CronJobs more often",
                d.measure_s
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(schedule: &str) -> CronJobDef {
        CronJobDef {
            defined_in: None,
            name: "a".into(),
            schedule: schedule.into(),
            time_zone: None,
            command: vec!["true".into()],
            resources: Default::default(),
            class: None,
        }
    }

    fn durations(measure_s: u64) -> Durations {
        Durations {
            warmup_s: 60,
            measure_s,
            drain_s: 60,
        }
    }

    #[test]
    fn an_hourly_schedule_cannot_fill_a_three_minute_window() {
        let p = window_problem(&[def("0 * * * *")], &durations(180));
        assert!(p.is_some_and(|(_, m)| m.contains("3600 s without a tick")));
        assert!(window_problem(&[def("0 * * * *")], &durations(3600)).is_none());
    }

    #[test]
    fn an_every_minute_schedule_fills_any_window_of_a_minute() {
        assert!(window_problem(&[def("* * * * *")], &durations(60)).is_none());
        assert!(
            window_problem(&[def("*/2 * * * *"), def("1-59/2 * * * *")], &durations(60)).is_none()
        );
    }

    #[test]
    fn an_apply_phase_longer_than_the_run_is_a_problem() {
        let apply = Apply {
            qps: 0.000001,
            burst: 100,
            concurrency: 16,
        };
        let p = apply_time_problem(&apply, &durations(180), 1000);
        assert!(
            p.is_some_and(|(f, m)| f == "apply.qps" && m.contains("longer than the whole run"))
        );
        let fast = Apply { qps: 50.0, ..apply };
        assert!(apply_time_problem(&fast, &durations(180), 1000).is_none());
    }

    #[test]
    fn ten_million_cronjobs_are_refused_before_any_is_built() {
        let p = inline_count_problems(10_000_000, &["true".into()]);
        assert_eq!(p.len(), 1);
        assert!(p[0].1.contains("above the bound of 100000"), "{}", p[0].1);
    }

    #[test]
    fn a_command_larger_than_etcd_takes_is_refused() {
        let p = inline_count_problems(1, &["x".repeat(2 * 1024 * 1024)]);
        assert!(
            p[0].1.contains("etcd's default request limit"),
            "{}",
            p[0].1
        );
    }
}

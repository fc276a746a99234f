//! The runs the log should hold, from cron math: every tick of each CronJob's schedule in the
//! window after the CronJob was created, matched against the runs observed.

use std::collections::hash_map::Entry;

use super::AnalyzeError;
use super::tally::run_key;
use crate::results::{MISSED_LIST_MAX, RunKey, Window};
use crate::scenario::{ScenarioError, parse_schedule, ticks_in, time_zone};

/// A CronJob as the log tells it: its `cron_job_created` line.
pub(super) type CronJobSeen = crate::schema::CronJobCreated;

/// The CronJobs of the log by name, in the order they were created: a hash index, not a
/// B-tree (50,000 inserts of names sharing long prefixes were 6% of a fleet log's analysis in
/// memcmp).
pub(super) type CronJobTable = super::NameIndex<String, CronJobSeen>;

/// What became of one expected tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    Observed,
    Missed,
    /// No run: a `Forbid` CronJob's earlier Job was active.
    SkippedWhileActive,
    /// No run: the controller reported it past `startingDeadlineSeconds`.
    SkippedPastDeadline,
}

/// Expected runs, how many of them were observed, and the missed ones.
#[derive(Debug, Default)]
pub(super) struct Expected {
    pub expected: u64,
    pub matched: u64,
    /// Ticks without a run that no policy explains.
    pub missed: u64,
    pub skipped_while_active: u64,
    pub skipped_past_deadline: u64,
    /// The first [`MISSED_LIST_MAX`] missed runs, by scheduled time.
    pub missed_runs: Vec<RunKey>,
}

/// Gives each CronJob's ticks in `w` their [`Fate`] by `fate(cronjob, tick)`. Schedules (in a
/// zone) shared by many CronJobs are computed once.
pub(super) fn expected_runs(
    cronjobs: &CronJobTable,
    w: &Window,
    mut fate: impl FnMut(&CronJobSeen, i64) -> Fate,
) -> Result<Expected, AnalyzeError> {
    let mut out = Expected::default();
    let mut missed: Vec<(i64, &str)> = Vec::new();
    let mut ticks_by_schedule: super::NameMap<(&str, Option<&str>), Vec<i64>> =
        super::NameMap::default();
    // A suspended CronJob is expected to run never.
    for (name, cj) in cronjobs.iter().filter(|(_, cj)| !cj.suspend) {
        let key = (cj.schedule.as_str(), cj.time_zone.as_deref());
        let ticks = match ticks_by_schedule.entry(key) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let ticks =
                    window_ticks(key.0, key.1, w).map_err(|source| AnalyzeError::Schedule {
                        cronjob: name.clone(),
                        schedule: cj.schedule.clone(),
                        source: Box::new(source),
                    })?;
                e.insert(ticks)
            }
        };
        for &t in ticks.iter().filter(|&&t| t > cj.recv_ms) {
            out.expected += 1;
            match fate(cj, t) {
                Fate::Observed => out.matched += 1,
                Fate::Missed => missed.push((t, name.as_str())),
                Fate::SkippedWhileActive => out.skipped_while_active += 1,
                Fate::SkippedPastDeadline => out.skipped_past_deadline += 1,
            }
        }
    }
    out.missed = missed.len() as u64;
    missed.sort_unstable();
    out.missed_runs = missed
        .iter()
        .take(MISSED_LIST_MAX)
        .map(|&(t, c)| run_key(c, t))
        .collect();
    Ok(out)
}

/// Ticks of `schedule` in the window, Unix ms, as the CronJob controller computes them: in
/// `zone` (`spec.timeZone`), else UTC.
pub(super) fn window_ticks(
    schedule: &str,
    zone: Option<&str>,
    w: &Window,
) -> Result<Vec<i64>, ScenarioError> {
    let bad_time = |source| ScenarioError::Time {
        schedule: schedule.to_string(),
        source,
    };
    let from = jiff::Timestamp::from_millisecond(w.start_ms).map_err(bad_time)?;
    let to = jiff::Timestamp::from_millisecond(w.end_ms).map_err(bad_time)?;
    let tz = match zone {
        None => jiff::tz::TimeZone::UTC,
        Some(name) => time_zone(name).map_err(|reason| ScenarioError::Schedule {
            schedule: format!("TZ={name} {schedule}"),
            reason,
        })?,
    };
    Ok(ticks_in(&parse_schedule(schedule)?, &tz, from, to)?
        .into_iter()
        .map(|t| t.as_millisecond())
        .collect())
}

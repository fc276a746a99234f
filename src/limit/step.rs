//! One step of the search: which runs of the step's CronJobs were scheduled in its window,
//! which started on time, the backlog at each minute boundary, and whether the step held.
//!
//! [`Ledger`] folds the search's event log (it is pure: feed it lines, ask it about a window).
//! Every-minute CronJobs fire at each minute boundary, so windows are whole minutes
//! `[start, end)`, and a run counts as started when its pod was first seen started
//! (`PodObs::started`: a Failed pod only with a container start time).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::analyze::ingest::MAX_LINE_BYTES;
use crate::analyze::runs::{RunEvent, Runs};
use crate::schema::LogLine;

pub const MINUTE_MS: i64 = 60_000;

/// What makes a step sustainable.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Criteria {
    /// A run is on time when its pod starts within this many seconds of its schedule.
    pub start_within_s: f64,
    /// On-time runs / expected runs must reach this.
    pub min_on_time_ratio: f64,
    /// The backlog at the end may exceed this only if it is not growing.
    pub max_backlog: u64,
    /// The scenario's p99 schedule -> started (client clock), seconds.
    pub p99_schedule_to_start_s: f64,
}

impl Default for Criteria {
    fn default() -> Self {
        Criteria {
            start_within_s: 30.0,
            min_on_time_ratio: 0.95,
            max_backlog: 2,
            p99_schedule_to_start_s: 60.0,
        }
    }
}

/// Runs not started at a minute boundary, of those scheduled in the window before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BacklogPoint {
    pub t_ms: i64,
    pub backlog: u64,
}

/// What the ledger saw of one step's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepCounts {
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    /// Ticks of the step's CronJobs in the window after each one's (latest) creation.
    pub expected: u64,
    pub started_on_time: u64,
    /// Started, but later than `start_within_s`.
    pub started_late: u64,
    /// Not started by the end of the window.
    pub not_started: u64,
    /// Expected runs per minute: the offered load.
    pub offered_per_minute: f64,
    /// On-time runs per minute.
    pub achieved_per_minute: f64,
    /// Runs of the step's CronJobs (any schedule time) whose pod started in the window's whole
    /// minutes before it was judged, per minute: under overload, the rate the cluster can
    /// actually start.
    pub started_per_minute: f64,
    /// At every minute boundary after the window's start before the judgement, and at it.
    pub backlog: Vec<BacklogPoint>,
}

impl StepCounts {
    pub fn on_time_ratio(&self) -> Option<f64> {
        (self.expected > 0).then(|| self.started_on_time as f64 / self.expected as f64)
    }
}

/// Why a step did not hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Failure {
    /// No run was expected in the window: nothing to judge, so it does not count as held.
    NoExpectedRuns,
    /// Too few runs started on time.
    LowOnTimeRatio { ratio: f64, min: f64 },
    /// The backlog is above the bound and grew in the last minute.
    GrowingBacklog { previous: u64, end: u64, max: u64 },
    /// The p99 schedule -> started exceeded the scenario's SLO.
    SloP99 { p99_s: f64, limit_s: f64 },
    /// No run started, so there is no p99 to check.
    NoStarts,
}

/// The judgement of one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepVerdict {
    pub sustainable: bool,
    pub failures: Vec<Failure>,
}

/// Judges a step from its counts and its p99 schedule -> started (client clock, ms).
pub fn judge(
    counts: &StepCounts,
    p99_schedule_to_start_ms: Option<u64>,
    c: &Criteria,
) -> StepVerdict {
    let mut failures = Vec::new();
    match counts.on_time_ratio() {
        None => failures.push(Failure::NoExpectedRuns),
        Some(r) if r < c.min_on_time_ratio => failures.push(Failure::LowOnTimeRatio {
            ratio: r,
            min: c.min_on_time_ratio,
        }),
        Some(_) => {}
    }
    let n = counts.backlog.len();
    if let Some(end) = counts.backlog.last().map(|p| p.backlog) {
        let previous = if n >= 2 {
            counts.backlog[n - 2].backlog
        } else {
            0
        };
        if end > c.max_backlog && end > previous {
            failures.push(Failure::GrowingBacklog {
                previous,
                end,
                max: c.max_backlog,
            });
        }
    }
    match p99_schedule_to_start_ms {
        Some(p99) => {
            let p99_s = p99 as f64 / 1000.0;
            if p99_s > c.p99_schedule_to_start_s {
                failures.push(Failure::SloP99 {
                    p99_s,
                    limit_s: c.p99_schedule_to_start_s,
                });
            }
        }
        None if counts.expected > 0 => failures.push(Failure::NoStarts),
        None => {}
    }
    StepVerdict {
        sustainable: failures.is_empty(),
        failures,
    }
}

/// The first minute boundary at least `margin_ms` after `now_ms`: where a step's window starts
/// once its CronJobs exist (every-minute CronJobs created before it fire at it).
pub fn window_start(now_ms: i64, margin_ms: i64) -> i64 {
    (now_ms + margin_ms).div_euclid(MINUTE_MS) * MINUTE_MS + MINUTE_MS
}

/// Per-run facts from the event log, as the log grows: the runs are reconstructed by
/// [`Runs`] (the one reconstruction analyze and report use), and the ledger keeps only what a
/// step is judged on, indexed by CronJob, so a check costs the step's ticks, not the log's
/// length.
#[derive(Debug)]
pub struct Ledger {
    /// CronJob name -> its latest creation (client time).
    created: HashMap<String, i64>,
    runs: Runs,
    /// CronJob -> scheduled time -> when a pod of that run was first seen started (any Job
    /// of the schedule, any of its pods).
    starts: HashMap<String, BTreeMap<i64, i64>>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            created: HashMap::new(),
            runs: Runs::new(true),
            starts: HashMap::new(),
        }
    }
}

impl Ledger {
    pub fn push(&mut self, line: LogLine) {
        let starts = &mut self.starts;
        let mut take = |e: RunEvent<'_>| {
            if let RunEvent::Started {
                cronjob,
                scheduled_ms,
                at_ms,
            } = e
            {
                let s = starts
                    .entry(cronjob.to_string())
                    .or_default()
                    .entry(scheduled_ms)
                    .or_insert(at_ms);
                *s = (*s).min(at_ms);
            }
        };
        match line {
            LogLine::CronJobCreated(c) => {
                self.created.insert(c.name, c.recv_ms);
            }
            LogLine::Job(j) => self.runs.push_job(j, &mut take),
            LogLine::Pod(p) => self.runs.push_pod(p, &mut take),
            _ => {}
        }
    }

    /// The counts of the every-minute CronJobs `names` for the ticks in `[start_ms, end_ms)`,
    /// as known at `at_ms` (starts seen later do not count): on-time and late starts, the
    /// backlog at each minute boundary after the start and before `at_ms`, and at `at_ms`.
    ///
    /// `at_ms` may come before `end_ms`: once the last tick's on-time deadline has passed the
    /// step can be judged, and the next one set up before the next tick.
    pub fn counts(
        &self,
        names: &[String],
        (start_ms, end_ms): (i64, i64),
        at_ms: i64,
        start_within_s: f64,
    ) -> StepCounts {
        let within_ms = (start_within_s * 1000.0) as i64;
        let mut boundaries: Vec<i64> = (1..)
            .map(|k| start_ms + k * MINUTE_MS)
            .take_while(|&b| b < at_ms.min(end_ms))
            .collect();
        boundaries.push(at_ms.min(end_ms));
        let mut backlog = vec![0u64; boundaries.len()];
        let first_tick = start_ms.div_euclid(MINUTE_MS) * MINUTE_MS
            + if start_ms.rem_euclid(MINUTE_MS) == 0 {
                0
            } else {
                MINUTE_MS
            };
        let (mut expected, mut on_time, mut late, mut not_started) = (0, 0, 0, 0);
        for name in names {
            let Some(&created) = self.created.get(name) else {
                continue;
            };
            let starts = self.starts.get(name);
            let ticks = (0..)
                .map(|k| first_tick + k * MINUTE_MS)
                .take_while(|&t| t < end_ms)
                .filter(|&t| t > created);
            for t in ticks {
                expected += 1;
                let s = starts
                    .and_then(|m| m.get(&t))
                    .copied()
                    .filter(|&s| s < at_ms);
                match s {
                    Some(s) if s - t <= within_ms => on_time += 1,
                    Some(_) => late += 1,
                    _ => not_started += 1,
                }
                for (i, &b) in boundaries.iter().enumerate() {
                    if t < b && s.is_none_or(|s| s >= b) {
                        backlog[i] += 1;
                    }
                }
            }
        }
        // Whole minutes only: each holds exactly one tick's burst of starts, so the rate is not
        // inflated by a second burst early in a partial minute.
        let whole = (at_ms.min(end_ms) - start_ms).div_euclid(MINUTE_MS).max(1);
        let rate_end = (start_ms + whole * MINUTE_MS).min(at_ms);
        let wanted: HashSet<&str> = names.iter().map(String::as_str).collect();
        let started_in_window = wanted
            .iter()
            .filter_map(|name| self.starts.get(*name))
            .flat_map(|m| m.values())
            .filter(|&&s| start_ms <= s && s < rate_end)
            .count();
        let minutes = ((end_ms - start_ms) as f64 / MINUTE_MS as f64).max(1e-9);
        StepCounts {
            window_start_ms: start_ms,
            window_end_ms: end_ms,
            expected,
            started_on_time: on_time,
            started_late: late,
            not_started,
            offered_per_minute: expected as f64 / minutes,
            achieved_per_minute: on_time as f64 / minutes,
            started_per_minute: started_in_window as f64 / whole as f64,
            backlog: boundaries
                .iter()
                .zip(backlog)
                .map(|(&t_ms, backlog)| BacklogPoint { t_ms, backlog })
                .collect(),
        }
    }
}

/// A drain waits at least this long when the backlog is still there ...
pub const DRAIN_BASE: Duration = Duration::from_secs(120);
/// ... and beyond it, while the controllers keep catching up, at most this long.
pub const DRAIN_MAX: Duration = Duration::from_secs(360);

/// Whether to keep waiting for a backlog to drain, given (time waited, runs of the last due
/// tick started on time) at each check so far: always within [`DRAIN_BASE`]; after it only
/// while that count is higher than a minute before (each minute's tick is served sooner as
/// the backlog shrinks), and never beyond [`DRAIN_MAX`]. An overload that collapsed the
/// on-time rate can take minutes to work off on a loaded machine (measured: a backlog of
/// 740 runs still there after the former fixed 2 minutes).
pub fn keep_draining(history: &[(Duration, u64)]) -> bool {
    let Some(&(waited, on_time)) = history.last() else {
        return true;
    };
    if waited < DRAIN_BASE {
        return true;
    }
    if waited >= DRAIN_MAX {
        return false;
    }
    let minute_ago = waited.saturating_sub(Duration::from_secs(60));
    match history.iter().rev().find(|(t, _)| *t <= minute_ago) {
        Some(&(_, before)) => on_time > before,
        None => true,
    }
}

/// The event log read as it grows, into one [`Ledger`]: each read parses only the bytes
/// appended since the last (the offset is kept), and a line cut off mid-write waits for the
/// next read. Find-limit checks the log once per step and every few seconds while draining; a
/// fresh read of the whole log each time grew with steps x log size.
#[derive(Debug)]
pub struct LogTail {
    path: PathBuf,
    // A mutex, not a RefCell: the drain loop's future holds `&LogTail` across awaits.
    state: Mutex<TailState>,
}

#[derive(Debug, Default)]
struct TailState {
    offset: u64,
    partial: Vec<u8>,
    ledger: Ledger,
}

impl LogTail {
    pub fn new(path: &Path) -> LogTail {
        LogTail {
            path: path.to_path_buf(),
            state: Mutex::new(TailState::default()),
        }
    }

    /// The event log this tail reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads what was appended since the last call and hands `f` the ledger of the log so far.
    ///
    /// Reads in chunks of [`MAX_LINE_BYTES`], so memory stays bounded however much was
    /// appended; a line longer than that without a newline is an `InvalidData` error (it is no
    /// event log line, and waiting for its end would hold it all).
    pub fn with_ledger<T>(&self, f: impl FnOnce(&Ledger) -> T) -> std::io::Result<T> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut file = std::fs::File::open(&self.path)?;
        if file.metadata()?.len() < st.offset {
            // The log was replaced: start over rather than read from the middle of a line.
            *st = TailState::default();
        }
        file.seek(SeekFrom::Start(st.offset))?;
        let chunk = MAX_LINE_BYTES as u64;
        loop {
            let read = (&mut file).take(chunk).read_to_end(&mut st.partial)?;
            st.offset += read as u64;
            st.push_complete_lines();
            if st.partial.len() > MAX_LINE_BYTES {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "event log {}: the line ending at byte {} is longer than {} MiB without a newline; it is not an event log line (pass the run's events.jsonl)",
                        self.path.display(),
                        st.offset,
                        MAX_LINE_BYTES >> 20
                    ),
                ));
            }
            if (read as u64) < chunk {
                break;
            }
        }
        Ok(f(&st.ledger))
    }
}

impl TailState {
    /// Folds the complete lines read into the ledger; a partial last line waits.
    fn push_complete_lines(&mut self) {
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        for line in self.partial[..=end].split(|&b| b == b'\n') {
            // A line that does not parse was skipped by the whole-file read too.
            if let Ok(l) = serde_json::from_slice::<LogLine>(line) {
                self.ledger.push(l);
            }
        }
        self.partial.drain(..=end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{JobObs, PodObs};

    /// 2026-01-01T00:00:00Z.
    const T0: i64 = 1_767_225_600_000;

    /// Checks every 5 s with the on-time count given per second waited.
    fn drain_history(until_s: u64, on_time: impl Fn(u64) -> u64) -> Vec<(Duration, u64)> {
        (0..=until_s)
            .step_by(5)
            .map(|t| (Duration::from_secs(t), on_time(t)))
            .collect()
    }

    #[test]
    fn drain_waits_the_base_then_only_while_the_backlog_shrinks() {
        assert!(keep_draining(&[]));
        // No progress at all: waits the base, then stops.
        assert!(keep_draining(&drain_history(115, |_| 3)));
        assert!(!keep_draining(&drain_history(120, |_| 3)));
        // Rising minute over minute: waits on, up to the cap.
        let rising = |t: u64| t / 10;
        assert!(keep_draining(&drain_history(120, rising)));
        assert!(keep_draining(&drain_history(355, rising)));
        assert!(!keep_draining(&drain_history(360, rising)));
        // Rose until 150 s, flat since: stops a minute later.
        let stalled = |t: u64| t.min(150);
        assert!(keep_draining(&drain_history(205, stalled)));
        assert!(!keep_draining(&drain_history(210, stalled)));
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("cb-{i:05}")).collect()
    }

    /// A ledger of `n` CronJobs created before `T0`, each run started `delay(i, tick)` ms
    /// after its tick (`None`: never), for ticks `T0 .. T0 + minutes`.
    fn ledger(n: usize, minutes: i64, delay: impl Fn(usize, i64) -> Option<i64>) -> Ledger {
        let mut l = Ledger::default();
        for (i, name) in names(n).iter().enumerate() {
            l.push(LogLine::CronJobCreated(crate::schema::CronJobCreated {
                recv_ms: T0 - 30_000 + i as i64,
                name: name.clone(),
                schedule: "* * * * *".into(),
                time_zone: None,
                ..Default::default()
            }));
            for k in 0..minutes {
                let tick = T0 + k * MINUTE_MS;
                let job = format!("{name}-{}", tick / MINUTE_MS);
                l.push(LogLine::Job(JobObs {
                    recv_ms: tick + 100,
                    name: job.clone(),
                    cronjob: Some(name.clone()),
                    ..JobObs::default()
                }));
                if let Some(d) = delay(i, k) {
                    l.push(LogLine::Pod(PodObs {
                        recv_ms: tick + d,
                        name: format!("{job}-x"),
                        job: Some(job),
                        phase: Some("Running".into()),
                        ..PodObs::default()
                    }));
                }
            }
        }
        l
    }

    #[test]
    fn a_healthy_step_holds() {
        let l = ledger(10, 3, |_, _| Some(2_000));
        let c = l.counts(
            &names(10),
            (T0, T0 + 2 * MINUTE_MS),
            T0 + 2 * MINUTE_MS,
            30.0,
        );
        assert_eq!(c.expected, 20);
        assert_eq!(c.started_on_time, 20);
        assert_eq!(c.offered_per_minute, 10.0);
        assert_eq!(c.achieved_per_minute, 10.0);
        assert_eq!(
            c.backlog.iter().map(|p| p.backlog).collect::<Vec<_>>(),
            vec![0, 0]
        );
        let v = judge(&c, Some(2_000), &Criteria::default());
        assert!(v.sustainable, "{v:?}");
    }

    #[test]
    fn a_growing_backlog_fails_the_step() {
        // Run i of tick k starts i * 10 s * (k + 1) late: later and later each minute.
        let l = ledger(20, 2, |i, k| Some(1_000 + i as i64 * 10_000 * (k + 1)));
        let c = l.counts(
            &names(20),
            (T0, T0 + 2 * MINUTE_MS),
            T0 + 2 * MINUTE_MS,
            30.0,
        );
        assert_eq!(c.expected, 40);
        assert!(c.achieved_per_minute < c.offered_per_minute);
        let b: Vec<u64> = c.backlog.iter().map(|p| p.backlog).collect();
        assert!(b[1] > b[0], "{b:?}");
        let v = judge(&c, Some(300_000), &Criteria::default());
        assert!(!v.sustainable);
        assert!(
            v.failures
                .iter()
                .any(|f| matches!(f, Failure::GrowingBacklog { .. }))
        );
        assert!(
            v.failures
                .iter()
                .any(|f| matches!(f, Failure::LowOnTimeRatio { .. }))
        );
        assert!(
            v.failures
                .iter()
                .any(|f| matches!(f, Failure::SloP99 { .. }))
        );
    }

    #[test]
    fn late_runs_count_as_started_but_not_on_time() {
        let l = ledger(4, 2, |i, _| if i == 0 { Some(45_000) } else { Some(1_000) });
        let c = l.counts(
            &names(4),
            (T0, T0 + 2 * MINUTE_MS),
            T0 + 2 * MINUTE_MS,
            30.0,
        );
        assert_eq!(
            (c.started_on_time, c.started_late, c.not_started),
            (6, 2, 0)
        );
        assert_eq!(c.on_time_ratio(), Some(0.75));
    }

    #[test]
    fn only_the_steps_cronjobs_and_ticks_after_creation_count() {
        let mut l = ledger(6, 2, |_, _| Some(1_000));
        // cb-00005 recreated mid-window: only its tick after that counts.
        l.push(LogLine::CronJobCreated(crate::schema::CronJobCreated {
            recv_ms: T0 + 30_000,
            name: "cb-00005".into(),
            schedule: "* * * * *".into(),
            time_zone: None,
            ..Default::default()
        }));
        let c = l.counts(
            &names(6),
            (T0, T0 + 2 * MINUTE_MS),
            T0 + 2 * MINUTE_MS,
            30.0,
        );
        assert_eq!(c.expected, 11);
        let c = l.counts(
            &names(3),
            (T0, T0 + 2 * MINUTE_MS),
            T0 + 2 * MINUTE_MS,
            30.0,
        );
        assert_eq!(c.expected, 6);
    }

    #[test]
    fn no_runs_is_not_a_pass() {
        let l = Ledger::default();
        let c = l.counts(
            &names(3),
            (T0, T0 + 2 * MINUTE_MS),
            T0 + 2 * MINUTE_MS,
            30.0,
        );
        let v = judge(&c, None, &Criteria::default());
        assert!(!v.sustainable);
        assert_eq!(v.failures, vec![Failure::NoExpectedRuns]);
    }

    #[test]
    fn a_step_is_judged_once_its_last_tick_is_due() {
        // Judged 32 s after the last tick: on time is settled, the tick-1 run that starts at
        // +40 s is not yet counted, and the backlog is taken at the judgement.
        let l = ledger(3, 2, |i, k| {
            Some(if i == 0 && k == 1 { 40_000 } else { 1_000 })
        });
        let at = T0 + MINUTE_MS + 32_000;
        let c = l.counts(&names(3), (T0, T0 + 2 * MINUTE_MS), at, 30.0);
        assert_eq!(
            (c.started_on_time, c.started_late, c.not_started),
            (5, 0, 1)
        );
        assert_eq!(
            c.backlog,
            vec![
                BacklogPoint {
                    t_ms: T0 + MINUTE_MS,
                    backlog: 0
                },
                BacklogPoint {
                    t_ms: at,
                    backlog: 1
                }
            ]
        );
        // The first whole minute: tick 0's three starts.
        assert_eq!(c.started_per_minute, 3.0);
    }

    #[test]
    fn windows_start_on_the_next_minute_boundary_with_a_margin() {
        assert_eq!(window_start(T0 + 10_000, 5_000), T0 + MINUTE_MS);
        assert_eq!(window_start(T0 + 56_000, 5_000), T0 + 2 * MINUTE_MS);
        assert_eq!(window_start(T0, 0), T0 + MINUTE_MS);
    }

    fn created(i: usize) -> String {
        let line = LogLine::CronJobCreated(crate::schema::CronJobCreated {
            recv_ms: T0 - 1000,
            name: format!("cb-{i:05}"),
            schedule: "* * * * *".into(),
            time_zone: None,
            ..Default::default()
        });
        serde_json::to_string(&line).expect("line to json") + "\n"
    }

    #[test]
    fn the_tail_reads_only_complete_lines_and_keeps_its_offset() {
        use std::io::Write;
        let path = std::env::temp_dir().join(format!("cb-tail-{}.jsonl", std::process::id()));
        let mut f = std::fs::File::create(&path).expect("create log");
        let tail = LogTail::new(&path);
        let (one, two) = (created(0), created(1));
        f.write_all(one.as_bytes()).expect("write");
        f.write_all(&two.as_bytes()[..10]).expect("write");
        let seen = |t: &LogTail| t.with_ledger(|l| l.created.len()).expect("read log");
        assert_eq!(seen(&tail), 1);
        f.write_all(&two.as_bytes()[10..]).expect("write");
        assert_eq!(seen(&tail), 2);
        assert_eq!(seen(&tail), 2);
        assert_eq!(
            tail.state.lock().expect("lock").offset,
            (one.len() + two.len()) as u64
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn the_tail_refuses_a_line_longer_than_the_bound_instead_of_holding_it() {
        let path = std::env::temp_dir().join(format!("cb-tail-long-{}.jsonl", std::process::id()));
        let mut blob = created(0).into_bytes();
        blob.resize(blob.len() + MAX_LINE_BYTES + 1, b'x');
        std::fs::write(&path, &blob).expect("write");
        let tail = LogTail::new(&path);
        let err = tail
            .with_ledger(|l| l.created.len())
            .expect_err("an endless line");
        let _ = std::fs::remove_file(&path);
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("16 MiB"), "{err}");
    }

    /// The drain loop's cost per check on a long log: the tail reads the few lines appended
    /// since the last check and the ledger counts one step's window. Measured, not asserted
    /// (timings vary with the machine); run with
    /// `cargo test --lib drain_check_time -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing on a 1,000,000-line log; scripts/test runs it on its own"]
    fn drain_check_time_on_a_long_log() {
        use std::io::Write;
        use std::time::Instant;
        let dir = std::env::temp_dir().join(format!("cronbench-drain-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("events.jsonl");
        let t = Instant::now();
        crate::bench::generate_log(&path, 500, 250).expect("generate");
        let text = std::fs::read_to_string(&path).expect("read");
        let lines = text.lines().count();
        let last = text.lines().last().expect("a last line").to_string();
        drop(text);
        println!("generated {lines} lines in {:?}", t.elapsed());
        let at = serde_json::from_str::<LogLine>(&last)
            .expect("json")
            .recv_ms();
        let start = (at - 5 * MINUTE_MS).div_euclid(MINUTE_MS) * MINUTE_MS;
        let names: Vec<String> = (0..10).map(|i| format!("cb-{i:05}")).collect();
        let tail = LogTail::new(&path);
        let t = Instant::now();
        let first = tail
            .with_ledger(|l| l.counts(&names, (start, start + 5 * MINUTE_MS), at, 30.0))
            .expect("first read");
        println!(
            "first read and count: {:?} ({} expected)",
            t.elapsed(),
            first.expected
        );
        let checks = 20;
        let t = Instant::now();
        for _ in 0..checks {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("open");
            for _ in 0..10 {
                writeln!(f, "{last}").expect("append");
            }
            drop(f);
            let c = tail
                .with_ledger(|l| l.counts(&names, (start, start + 5 * MINUTE_MS), at, 30.0))
                .expect("check");
            assert_eq!(c, first);
        }
        println!("per check (10 new lines): {:?}", t.elapsed() / checks);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

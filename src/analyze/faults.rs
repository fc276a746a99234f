//! What each game-day fault did to the schedule: runs missed, late or doubled in its window,
//! stuck pods, and how long the start rate took to come back.

use std::collections::{BTreeMap, HashMap};

use crate::results::{FaultWindow, Window, WindowEnd};
use crate::scenario::{CronJobDef, FaultKind, Slo, jobs_per_minute};
use crate::schema::FaultPhase;

/// A recovered minute holds at least this share of the baseline's starts.
pub const RECOVERED_SHARE: f64 = 0.9;

/// A fault window as the log tells it.
#[derive(Debug, Clone)]
pub(super) struct RawFault {
    pub kind: FaultKind,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
    pub detail: String,
}

/// Pairs `fault` lines: an `end` closes the latest open `start` of the same kind.
pub(super) fn push_fault(
    faults: &mut Vec<RawFault>,
    kind: FaultKind,
    phase: FaultPhase,
    recv_ms: i64,
    detail: String,
) {
    match phase {
        FaultPhase::Start => faults.push(RawFault {
            kind,
            start_ms: recv_ms,
            end_ms: None,
            detail,
        }),
        FaultPhase::End => {
            if let Some(open) = faults
                .iter_mut()
                .rev()
                .find(|f| f.kind == kind && f.end_ms.is_none())
            {
                open.end_ms = Some(recv_ms);
            }
        }
    }
}

/// One observed run: when it started (client clock) and how many Jobs it had.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunFact {
    pub started_ms: Option<i64>,
    pub jobs: u64,
}

/// One pod: first seen, and when it stopped pending (started, finished or deleted) if it did.
pub(super) struct PodFact {
    pub first_seen_ms: i64,
    pub started: bool,
    pub pending_until_ms: i64,
}

/// A schedule and its `spec.timeZone` (`None`: UTC).
pub(super) type Zoned<'a> = (&'a str, Option<&'a str>);

/// Everything the fault analysis reads.
pub(super) struct Inputs<'a> {
    pub slo: &'a Slo,
    /// (name, schedule in its zone, created_ms) of every CronJob.
    pub cronjobs: Vec<(&'a str, Zoned<'a>, i64)>,
    pub runs: HashMap<(&'a str, i64), RunFact>,
    pub pods: Vec<PodFact>,
    pub last_ms: i64,
}

/// What every fault window is measured against: the run's start rate and its SLO.
struct Context {
    /// Started runs per wall-clock minute, over the whole run.
    minutes: BTreeMap<i64, u64>,
    first_created: Option<i64>,
    /// The schedules' rate, runs per minute.
    scheduled_rate: Option<f64>,
    p99_ms: f64,
    max_pending_ms: f64,
}

impl Context {
    fn new(inp: &Inputs) -> Context {
        let mut minutes: BTreeMap<i64, u64> = BTreeMap::new();
        for r in inp.runs.values() {
            if let Some(t) = r.started_ms {
                *minutes.entry(t.div_euclid(60_000)).or_insert(0) += 1;
            }
        }
        let defs: Vec<CronJobDef> = inp
            .cronjobs
            .iter()
            .map(|(name, (schedule, zone), _)| CronJobDef {
                defined_in: None,
                name: name.to_string(),
                schedule: schedule.to_string(),
                time_zone: zone.map(str::to_string),
                command: Vec::new(),
                resources: Default::default(),
                class: None,
            })
            .collect();
        Context {
            minutes,
            first_created: inp.cronjobs.iter().map(|c| c.2).min(),
            scheduled_rate: (!defs.is_empty()).then(|| jobs_per_minute(&defs)),
            p99_ms: inp.slo.p99_schedule_to_start_s * 1000.0,
            max_pending_ms: inp.slo.max_pending_s * 1000.0,
        }
    }

    fn started_in(&self, minute: i64) -> u64 {
        self.minutes.get(&minute).copied().unwrap_or(0)
    }
}

pub(super) fn windows(
    raw: &[RawFault],
    inp: &Inputs,
    ticks: impl Fn(Zoned<'_>, &Window) -> Option<Vec<i64>>,
) -> Vec<FaultWindow> {
    let cx = Context::new(inp);
    raw.iter()
        .map(|f| {
            let end = f.end_ms.unwrap_or(inp.last_ms).max(f.start_ms);
            let mut out = FaultWindow {
                kind: f.kind,
                start_ms: f.start_ms,
                end_ms: f.end_ms,
                detail: f.detail.clone(),
                scheduled: 0,
                missed: 0,
                late: 0,
                max_schedule_to_start_ms: None,
                duplicates: 0,
                stuck_pods: 0,
                baseline_per_minute: None,
                baseline_source: None,
                recovery_s: None,
            };
            schedule_effects(&mut out, f, end, inp, &cx, &ticks);
            out.stuck_pods = inp
                .pods
                .iter()
                .filter(|p| f.start_ms <= p.first_seen_ms && p.first_seen_ms <= end)
                .filter(|p| !p.started)
                .filter(|p| (p.pending_until_ms - p.first_seen_ms) as f64 > cx.max_pending_ms)
                .count() as u64;
            baseline_and_recovery(&mut out, f, raw, inp, &cx);
            out
        })
        .collect()
}

/// Runs due in the fault's window: scheduled in it, or shortly before it and still within
/// their start SLO when it began (an apiserver restart a few seconds after a tick delays that
/// tick's pods); which were missed, late or doubled.
fn schedule_effects(
    out: &mut FaultWindow,
    f: &RawFault,
    end: i64,
    inp: &Inputs,
    cx: &Context,
    ticks: &impl Fn(Zoned<'_>, &Window) -> Option<Vec<i64>>,
) {
    let from = f.start_ms - cx.p99_ms as i64;
    let w = Window {
        start_ms: from,
        end_ms: end + 1,
        end: WindowEnd::Drain,
        duration_s: (end - from) as f64 / 1000.0,
    };
    for &(name, schedule, created) in &inp.cronjobs {
        for t in ticks(schedule, &w)
            .unwrap_or_default()
            .into_iter()
            .filter(|&t| t > created)
        {
            out.scheduled += 1;
            let Some(r) = inp.runs.get(&(name, t)) else {
                out.missed += 1;
                continue;
            };
            out.duplicates += r.jobs.saturating_sub(1);
            match r.started_ms {
                Some(s) => {
                    let d = s - t;
                    out.max_schedule_to_start_ms =
                        Some(out.max_schedule_to_start_ms.map_or(d, |m| m.max(d)));
                    if d as f64 > cx.p99_ms {
                        out.late += 1;
                    }
                }
                None => out.late += 1,
            }
        }
    }
}

/// The start rate before the fault (whole minutes after the first CronJob existed, touching
/// no fault's window; the schedule's rate without such minutes), and how long after the
/// fault ended a minute reached [`RECOVERED_SHARE`] of it.
fn baseline_and_recovery(
    out: &mut FaultWindow,
    f: &RawFault,
    raw: &[RawFault],
    inp: &Inputs,
    cx: &Context,
) {
    let clear = |m: i64| {
        let (a, b) = (m * 60_000, (m + 1) * 60_000);
        raw.iter().all(|g| {
            let g_end = g.end_ms.unwrap_or(inp.last_ms);
            b <= g.start_ms || g_end < a
        })
    };
    let pre: Vec<u64> = match cx.first_created {
        Some(c) => (c.div_euclid(60_000) + 1..f.start_ms.div_euclid(60_000))
            .filter(|&m| clear(m))
            .map(|m| cx.started_in(m))
            .collect(),
        None => Vec::new(),
    };
    let (baseline, source) = if pre.is_empty() {
        (cx.scheduled_rate, "schedule")
    } else {
        // Capped at the scheduled rate: minutes catching up after an earlier fault start more
        // than the schedule and would set a bar steady minutes never reach.
        let mean = pre.iter().sum::<u64>() as f64 / pre.len() as f64;
        (
            Some(cx.scheduled_rate.map_or(mean, |r| mean.min(r))),
            "pre-fault",
        )
    };
    out.baseline_per_minute = baseline;
    out.baseline_source = baseline.map(|_| source.to_string());
    if let (Some(base), Some(f_end)) = (baseline, f.end_ms) {
        let first = f_end.div_euclid(60_000) + i64::from(f_end.rem_euclid(60_000) != 0);
        // The log's last minute is partial: it counts once it already holds enough.
        let last = inp.last_ms.div_euclid(60_000);
        out.recovery_s = (first..=last)
            .find(|&m| cx.started_in(m) as f64 >= RECOVERED_SHARE * base)
            .map(|m| (m * 60_000 - f_end) as f64 / 1000.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slo() -> Slo {
        Slo {
            p99_schedule_to_start_s: 10.0,
            max_pending_s: 60.0,
            ..Slo::default()
        }
    }

    fn every_minute(_: Zoned<'_>, w: &Window) -> Option<Vec<i64>> {
        let first = w.start_ms.div_euclid(60_000) + i64::from(w.start_ms.rem_euclid(60_000) != 0);
        Some(
            (first..)
                .map(|m| m * 60_000)
                .take_while(|&t| t < w.end_ms)
                .collect(),
        )
    }

    #[test]
    fn fault_lines_pair_by_kind() {
        let mut f = Vec::new();
        push_fault(
            &mut f,
            FaultKind::RestartApiserver,
            FaultPhase::Start,
            10,
            "x".into(),
        );
        push_fault(
            &mut f,
            FaultKind::KillScheduler,
            FaultPhase::Start,
            20,
            String::new(),
        );
        push_fault(
            &mut f,
            FaultKind::RestartApiserver,
            FaultPhase::End,
            30,
            String::new(),
        );
        assert_eq!(f[0].end_ms, Some(30));
        assert_eq!(f[1].end_ms, None);
    }

    #[test]
    fn a_window_counts_missed_late_and_duplicate_runs_and_the_recovery() {
        let m = 60_000;
        let slo = slo();
        // Two CronJobs from minute 0; fault from 2:30 to 3:20 (one tick, 3:00).
        let cronjobs = vec![("a", ("* * * * *", None), 1), ("b", ("* * * * *", None), 1)];
        let mut runs = HashMap::new();
        for t in 1..=6 {
            let late = t == 3;
            runs.insert(
                ("a", t * m),
                RunFact {
                    started_ms: Some(t * m + if late { 25_000 } else { 1000 }),
                    jobs: if t == 3 { 2 } else { 1 },
                },
            );
            if t != 3 && t != 4 {
                runs.insert(
                    ("b", t * m),
                    RunFact {
                        started_ms: Some(t * m + 1000),
                        jobs: 1,
                    },
                );
            }
        }
        let inp = Inputs {
            slo: &slo,
            cronjobs,
            runs,
            pods: vec![PodFact {
                first_seen_ms: 3 * m + 100,
                started: false,
                pending_until_ms: 5 * m,
            }],
            last_ms: 7 * m + 5000,
        };
        let raw = vec![RawFault {
            kind: FaultKind::RestartControllerManager,
            start_ms: 2 * m + 30_000,
            end_ms: Some(3 * m + 20_000),
            detail: String::new(),
        }];
        let w = &windows(&raw, &inp, every_minute)[0];
        assert_eq!(w.scheduled, 2);
        assert_eq!(w.missed, 1, "b's 3:00 run");
        assert_eq!(w.late, 1, "a's 3:00 run started 25 s late");
        assert_eq!(w.max_schedule_to_start_ms, Some(25_000));
        assert_eq!(w.duplicates, 1);
        assert_eq!(w.stuck_pods, 1);
        // Minutes 1 (2 starts) before the fault: baseline 2. Minute 4 has one start (b
        // missed), minute 5 has two: recovered at 5:00, 100 s after the end.
        assert_eq!(w.baseline_per_minute, Some(2.0));
        assert_eq!(w.baseline_source.as_deref(), Some("pre-fault"));
        assert_eq!(w.recovery_s, Some(100.0));
    }

    #[test]
    fn without_a_whole_minute_before_the_fault_the_schedule_is_the_baseline() {
        let slo = slo();
        let inp = Inputs {
            slo: &slo,
            cronjobs: vec![("a", ("* * * * *", None), 50_000)],
            runs: HashMap::new(),
            pods: Vec::new(),
            last_ms: 200_000,
        };
        let raw = vec![RawFault {
            kind: FaultKind::KillScheduler,
            start_ms: 70_000,
            end_ms: None,
            detail: String::new(),
        }];
        let w = &windows(&raw, &inp, every_minute)[0];
        assert_eq!(w.baseline_source.as_deref(), Some("schedule"));
        assert_eq!(w.baseline_per_minute, Some(1.0));
        assert_eq!(w.recovery_s, None, "a fault never undone never recovers");
        assert_eq!(
            w.missed, 3,
            "1:00 (due within the 10 s SLO when the fault began), 2:00 and 3:00"
        );
    }
}

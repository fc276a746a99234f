//! Per-policy accounting: what `Forbid`, `Replace` and `startingDeadlineSeconds` did, as the
//! Jobs and the controller's events show it.
//!
//! It takes the reconstruction's runs ([`RunEvent`]) and the `event` lines. Memory: one span
//! (32 bytes) per run of a `Forbid` or `Replace` CronJob, since overlaps and skips are judged
//! once every run is known; one bit per minute per CronJob with `MissSchedule` events; nothing
//! per run of other CronJobs.

use std::collections::{BTreeMap, HashMap};

use super::expected::{CronJobSeen, Fate};
use super::runs::RunEvent;
use super::series::Ticks;
use crate::results::{ControllerWarning, Policies};
use crate::scenario::ConcurrencyPolicy;
use crate::schema::EventObs;

/// The kind of the object the controller's events regard.
const CRONJOB_KIND: &str = "CronJob";
/// The Normal event the controller sends when `Forbid` holds a tick back.
const JOB_ALREADY_ACTIVE: &str = "JobAlreadyActive";

/// One Job of a `Forbid` or `Replace` CronJob: when it was active (client clock).
#[derive(Debug, Clone, Copy)]
struct Span {
    scheduled_ms: i64,
    start_ms: i64,
    /// `None`: still active when the log ended.
    end_ms: Option<i64>,
    deleted_while_active: bool,
}

/// The policies a span list is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watched {
    Forbid,
    Replace,
}

/// Policy facts gathered while the log is read.
#[derive(Debug, Default)]
pub(super) struct PolicyLog {
    spans: HashMap<String, (Watched, Vec<Span>)>,
    /// Scheduled times the controller reported missed past the deadline, per CronJob.
    miss_schedule: HashMap<String, Ticks>,
    warnings: BTreeMap<ControllerWarning, u64>,
    pods_never_started: u64,
    already_active: u64,
    /// `MissSchedule` notes whose time did not parse.
    pub bad_notes: u64,
}

impl PolicyLog {
    /// A CronJob was created: keep its Jobs' spans if its policy needs them.
    pub fn cronjob(&mut self, cj: &CronJobSeen) {
        let watched = match cj.concurrency_policy {
            Some(ConcurrencyPolicy::Forbid) => Watched::Forbid,
            Some(ConcurrencyPolicy::Replace) => Watched::Replace,
            _ => return,
        };
        self.spans
            .entry(cj.name.clone())
            .or_insert_with(|| (watched, Vec::new()));
    }

    pub fn take(&mut self, event: &RunEvent<'_>) {
        match event {
            RunEvent::Over(run) => {
                if let Some((_, spans)) = self.spans.get_mut(run.cronjob) {
                    spans.push(Span {
                        scheduled_ms: run.scheduled_ms,
                        start_ms: run.job.first_seen_ms,
                        end_ms: run.job.ended_ms,
                        deleted_while_active: run.job.deleted_while_active,
                    });
                }
            }
            RunEvent::PodOver(p) => self.pods_never_started += u64::from(p.started_ms.is_none()),
            RunEvent::Started { .. } | RunEvent::Duplicate { .. } => {}
        }
    }

    /// An `event` line: counts the controller's warnings and keeps the missed times.
    pub fn event(&mut self, e: &EventObs) {
        if e.kind != CRONJOB_KIND {
            return;
        }
        if e.reason == JOB_ALREADY_ACTIVE {
            self.already_active += 1;
        }
        let Some(w) = ControllerWarning::from_reason(&e.reason) else {
            return;
        };
        *self.warnings.entry(w).or_insert(0) += 1;
        if w == ControllerWarning::MissSchedule {
            match e.note.as_deref().and_then(missed_time_ms) {
                Some(t) => {
                    self.miss_schedule
                        .entry(e.object.clone())
                        .or_default()
                        .insert(t);
                }
                None => self.bad_notes += 1,
            }
        }
    }

    /// Whether the controller sent any Warning event.
    pub fn warned(&self) -> bool {
        !self.warnings.is_empty()
    }

    /// The spans settled: overlaps and replacements of runs scheduled in `in_window`.
    pub fn settle(self, in_window: impl Fn(i64) -> bool) -> Settled {
        let mut policies = Policies {
            pods_never_started: self.pods_never_started,
            ..Policies::default()
        };
        policies.forbid.job_already_active_events = self.already_active;
        policies.controller_warnings = ControllerWarning::ALL
            .into_iter()
            .map(|w| (w, self.warnings.get(&w).copied().unwrap_or(0)))
            .collect();
        let mut active = HashMap::new();
        for (name, (watched, mut spans)) in self.spans {
            spans.sort_by_key(|s| (s.start_ms, s.scheduled_ms));
            match watched {
                Watched::Forbid => {
                    policies.forbid.overlaps += overlaps(&spans, &in_window);
                    active.insert(name, union(&spans));
                }
                Watched::Replace => {
                    policies.replace.replacements += replacements(&spans, &in_window);
                }
            }
        }
        Settled {
            active,
            miss_schedule: self.miss_schedule,
            policies,
        }
    }
}

/// Jobs first seen while an earlier one was active.
fn overlaps(spans: &[Span], in_window: impl Fn(i64) -> bool) -> u64 {
    let mut busy_until: Option<i64> = None;
    let mut n = 0;
    for s in spans {
        if busy_until.is_some_and(|end| s.start_ms < end) && in_window(s.scheduled_ms) {
            n += 1;
        }
        let end = s.end_ms.unwrap_or(i64::MAX);
        busy_until = Some(busy_until.map_or(end, |b| b.max(end)));
    }
    n
}

/// Jobs deleted while active with a Job of a later schedule after them.
fn replacements(spans: &[Span], in_window: impl Fn(i64) -> bool) -> u64 {
    let Some(latest) = spans.iter().map(|s| s.scheduled_ms).max() else {
        return 0;
    };
    spans
        .iter()
        .filter(|s| s.deleted_while_active && s.scheduled_ms < latest && in_window(s.scheduled_ms))
        .count() as u64
}

/// The union of the spans (sorted by start), as sorted disjoint (start, end) pairs.
fn union(spans: &[Span]) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for s in spans {
        let end = s.end_ms.unwrap_or(i64::MAX);
        match out.last_mut() {
            Some(last) if s.start_ms <= last.1 => last.1 = last.1.max(end),
            _ => out.push((s.start_ms, end)),
        }
    }
    out
}

/// The scheduled time in a `MissSchedule` note ("Missed scheduled time to start a job:
/// Mon, 02 Jan 2006 15:04:05 -0700", Go's RFC1123Z), Unix ms.
pub(super) fn missed_time_ms(note: &str) -> Option<i64> {
    let (_, time) = note.split_once(": ")?;
    let zoned = jiff::fmt::rfc2822::parse(time.trim()).ok()?;
    Some(zoned.timestamp().as_millisecond())
}

/// What the policies tell of the ticks without a run.
#[derive(Debug)]
pub(super) struct Settled {
    /// Per `Forbid` CronJob, when some Job of it was active.
    active: HashMap<String, Vec<(i64, i64)>>,
    miss_schedule: HashMap<String, Ticks>,
    pub policies: Policies,
}

impl Settled {
    /// Why the tick `t` of `cj` has no run: the deadline (a `MissSchedule` event names it)
    /// comes first, as in the controller; then `Forbid` with an earlier Job active; else missed.
    pub fn fate_of_missing(&self, cj: &CronJobSeen, t: i64) -> Fate {
        let reported = || {
            self.miss_schedule
                .get(&cj.name)
                .is_some_and(|m| m.contains(t))
        };
        if cj.starting_deadline_seconds.is_some() && reported() {
            return Fate::SkippedPastDeadline;
        }
        let busy = self.active.get(&cj.name).is_some_and(|spans| {
            let i = spans.partition_point(|&(start, _)| start < t);
            i > 0 && spans.get(i - 1).is_some_and(|&(_, end)| t < end)
        });
        if busy {
            Fate::SkippedWhileActive
        } else {
            Fate::Missed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_miss_schedule_note_gives_its_scheduled_time() {
        let t =
            missed_time_ms("Missed scheduled time to start a job: Thu, 01 Jan 2026 00:05:00 +0000");
        assert_eq!(t, Some(1_767_225_900_000));
        assert_eq!(
            missed_time_ms("Missed scheduled time to start a job: soon"),
            None
        );
    }

    fn span(scheduled_ms: i64, start_ms: i64, end_ms: Option<i64>) -> Span {
        Span {
            scheduled_ms,
            start_ms,
            end_ms,
            deleted_while_active: false,
        }
    }

    #[test]
    fn a_job_created_while_the_previous_is_active_is_an_overlap() {
        let spans = [
            span(0, 10, Some(100)),
            span(60, 70, Some(200)),
            span(120, 210, None),
        ];
        assert_eq!(overlaps(&spans, |_| true), 1);
        assert_eq!(union(&spans), vec![(10, 200), (210, i64::MAX)]);
    }

    #[test]
    fn only_a_deletion_with_a_later_job_is_a_replacement() {
        let mut a = span(0, 10, Some(60));
        a.deleted_while_active = true;
        let mut last = span(60, 61, Some(100));
        last.deleted_while_active = true;
        assert_eq!(replacements(&[a, last], |_| true), 1);
    }
}

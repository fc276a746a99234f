//! The one reconstruction of scheduled runs from the event log.
//!
//! [`Runs`] folds Job and Pod lines into per-Job and per-Pod state and hands each run on once,
//! as a [`RunEvent`], to a callback: when it is over, if retiring is on (its Job finished and
//! every Pod it counted terminal, or its Job and every Pod of it deleted), or when the log
//! ends. Memory follows the runs in flight, not the log's length ([`super::retired`]).
//! analyze tallies the events, report draws its timelines from them and find-limit's
//! ledger takes the start events as the log grows, so all three agree on what a run is:
//! - its key is (CronJob, scheduled time), from the scheduled annotation or else the Job name;
//! - the first Job seen for a key is the run, later ones are duplicates;
//! - its pod is the Job's first Pod seen (ties by name);
//! - a pod started, was bound or finished as [`PodObs::started`] and friends say.
//!
//! Watch streams are not ordered with each other: a Pod can be seen before its Job.

use std::collections::{BTreeMap, HashMap};

use super::retired::Retired;
use super::run_key::{counted_key_of, known_key};
use super::series::Ticks;
use super::{NameIndex, NameMap};
use crate::results::Stage;
use crate::schema::{JobObs, PodObs};

/// What is known about one Job.
#[derive(Debug, Default)]
pub(crate) struct JobState {
    pub cronjob: Option<String>,
    /// From the scheduled annotation.
    pub annotation_ms: Option<i64>,
    pub first_seen_ms: i64,
    /// Server `creationTimestamp`.
    pub created_ms: Option<i64>,
    /// Client time `completionTime` was first seen, and its value.
    pub completed_client_ms: Option<i64>,
    pub completed_server_ms: Option<i64>,
    pub succeeded: bool,
    pub failed: bool,
    /// The Job was seen deleted (the history limit or the run's teardown).
    pub deleted: bool,
    /// Client time of the first line showing the Job no longer active: complete, failed or
    /// deleted; and whether that line was its deletion (deleted while active).
    pub ended_ms: Option<i64>,
    pub deleted_while_active: bool,
    /// `status.active` of its latest line, and the most Pods its status counted as succeeded
    /// or failed: a finished run is over once that many Pods are seen terminal.
    pub active: i32,
    pub pods_counted: i32,
}

/// What is known about one Pod.
#[derive(Debug, Default)]
pub(crate) struct PodState {
    pub job: Option<String>,
    pub first_seen_ms: i64,
    pub node: Option<String>,
    /// Client times a stage was first seen reached.
    pub bound_ms: Option<i64>,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub deleted_ms: Option<i64>,
    pub succeeded: bool,
    /// Server times.
    pub created_s: Option<i64>,
    pub scheduled_at_s: Option<i64>,
    pub started_at_s: Option<i64>,
    pub finished_at_s: Option<i64>,
}

impl PodState {
    /// When the pod stopped pending (started, finished or deleted), if it did.
    pub fn pending_end_ms(&self) -> Option<i64> {
        [self.started_ms, self.finished_ms, self.deleted_ms]
            .into_iter()
            .flatten()
            .min()
    }

    /// Seen in a terminal phase or deleted: no later line can change what it did.
    pub fn terminal(&self) -> bool {
        self.finished_ms.is_some() || self.deleted_ms.is_some()
    }

    /// How long a pod that never started was pending, up to `last_ms` (the log's last line).
    pub fn unstarted_pending_until(&self, last_ms: i64) -> i64 {
        [self.finished_ms, self.deleted_ms]
            .into_iter()
            .flatten()
            .fold(last_ms, i64::min)
    }
}

/// Lines the reconstruction could not place, for `results.anomalies`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Oddities {
    pub bad_timestamps: u64,
    pub schedule_name_mismatch: u64,
    pub jobs_without_schedule: u64,
    pub orphan_pods: u64,
}

/// One scheduled run: the first Job seen for a (cronjob, scheduled time), and its first Pod.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run<'a> {
    pub cronjob: &'a str,
    pub scheduled_ms: i64,
    pub job_name: &'a str,
    pub job: &'a JobState,
    pub pod_name: Option<&'a str>,
    pub pod: Option<&'a PodState>,
    /// Jobs seen for this schedule (more than one: duplicates, still held at the end).
    pub jobs: u64,
}

/// What the reconstruction hands on; each run, duplicate and pod once.
#[derive(Debug)]
pub(crate) enum RunEvent<'a> {
    /// A pod of the run (`cronjob`, `scheduled_ms`) was seen started at `at_ms` (client time).
    /// Sent for every such pod and every earlier sighting: a consumer keeps the minimum.
    Started {
        cronjob: &'a str,
        scheduled_ms: i64,
        at_ms: i64,
    },
    /// A run is over (or the log ended).
    Over(Run<'a>),
    /// Extra Jobs for a run: `extra` of the Jobs named (all of them when listed at the end,
    /// where the first one is the run itself unless that was over earlier).
    Duplicate {
        cronjob: &'a str,
        scheduled_ms: i64,
        extra: u64,
        jobs: Vec<String>,
    },
    /// A pod is over (its run is, or the log ended); orphans too.
    PodOver(&'a PodState),
}

/// The end points of a stage's span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    Scheduled,
    JobCreated,
    PodCreated,
    Bound,
    Started,
    Finished,
}

impl Point {
    /// Where `stage` starts and ends.
    pub fn ends(stage: Stage) -> (Point, Point) {
        match stage {
            Stage::ScheduleToJobCreated => (Point::Scheduled, Point::JobCreated),
            Stage::JobCreatedToPodCreated => (Point::JobCreated, Point::PodCreated),
            Stage::PodCreatedToBound => (Point::PodCreated, Point::Bound),
            Stage::BoundToStarted => (Point::Bound, Point::Started),
            Stage::StartedToFinished => (Point::Started, Point::Finished),
            Stage::PodCreatedToStarted => (Point::PodCreated, Point::Started),
            Stage::ScheduleToStarted => (Point::Scheduled, Point::Started),
            Stage::ScheduleToFinished => (Point::Scheduled, Point::Finished),
        }
    }
}

/// One run's timeline on one clock, Unix ms; `None` where a point was not seen.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Timeline {
    pub scheduled: Option<i64>,
    pub job_created: Option<i64>,
    pub pod_created: Option<i64>,
    pub bound: Option<i64>,
    pub started: Option<i64>,
    pub finished: Option<i64>,
}

impl Timeline {
    pub fn at(&self, point: Point) -> Option<i64> {
        match point {
            Point::Scheduled => self.scheduled,
            Point::JobCreated => self.job_created,
            Point::PodCreated => self.pod_created,
            Point::Bound => self.bound,
            Point::Started => self.started,
            Point::Finished => self.finished,
        }
    }

    /// The latency of `stage` when both its ends were seen (negative values kept).
    pub fn span(&self, stage: Stage) -> Option<i64> {
        let (from, to) = Point::ends(stage);
        Some(self.at(to)? - self.at(from)?)
    }
}

impl Run<'_> {
    /// Client receive times (ms). The run finished when its Job completed or its pod finished,
    /// whichever was seen first.
    pub fn client(&self) -> Timeline {
        let job_finished = self.job.completed_client_ms;
        let pod_finished = self.pod.and_then(|p| p.finished_ms);
        let finished = match (job_finished, pod_finished) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Timeline {
            scheduled: Some(self.scheduled_ms),
            job_created: Some(self.job.first_seen_ms),
            pod_created: self.pod.map(|p| p.first_seen_ms),
            bound: self.pod.and_then(|p| p.bound_ms),
            started: self.started_ms(),
            finished,
        }
    }

    /// API timestamps (whole seconds).
    pub fn server(&self) -> Timeline {
        Timeline {
            scheduled: Some(self.scheduled_ms),
            job_created: self.job.created_ms,
            pod_created: self.pod.and_then(|p| p.created_s),
            bound: self.pod.and_then(|p| p.scheduled_at_s),
            started: self.pod.and_then(|p| p.started_at_s),
            finished: self
                .pod
                .and_then(|p| p.finished_at_s)
                .or(self.job.completed_server_ms),
        }
    }

    pub fn started_ms(&self) -> Option<i64> {
        self.pod.and_then(|p| p.started_ms)
    }

    pub fn completed(&self) -> bool {
        self.job.succeeded || self.pod.is_some_and(|p| p.succeeded)
    }
}

/// Parses an RFC 3339 time to Unix milliseconds, counting failures.
fn parse_ms(s: Option<&str>, bad: &mut u64) -> Option<i64> {
    let s = s?;
    match s.parse::<jiff::Timestamp>() {
        Ok(t) => Some(t.as_millisecond()),
        Err(_) => {
            *bad += 1;
            None
        }
    }
}

fn job_names(held: &[(&str, &JobState)]) -> Vec<String> {
    held.iter().map(|(n, _)| n.to_string()).collect()
}

fn min_opt(a: Option<i64>, b: i64) -> Option<i64> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// The reconstruction: Jobs and Pods of the runs in flight.
#[derive(Debug)]
pub(crate) struct Runs {
    /// IndexMap, not HashMap: runs come and go for the whole log, and a HashMap's removals
    /// leave tombstones that made it double its table in long logs (1,000 runs in flight held
    /// 7,168 slots of ~190 bytes); IndexMap's table holds only indices.
    jobs: NameIndex<String, JobState>,
    pods: NameIndex<String, PodState>,
    /// Pods of each Job (named by the Pod's first line), to tell when a run is over.
    pods_of_job: NameIndex<String, Vec<String>>,
    /// Scheduled times of the runs already over, per CronJob: a later Job for one is extra.
    over: NameMap<String, Ticks>,
    /// Hand runs on as they end; off when a consumer needs every run at the end.
    retire: bool,
    /// Runs handed on while their objects still exist.
    retired: Retired,
    pub oddities: Oddities,
}

impl Runs {
    /// With `retire`, runs are handed on and forgotten as soon as they are over.
    pub fn new(retire: bool) -> Runs {
        Runs {
            jobs: NameIndex::default(),
            pods: NameIndex::default(),
            pods_of_job: NameIndex::default(),
            over: NameMap::default(),
            retire,
            retired: Retired::default(),
            oddities: Oddities::default(),
        }
    }

    /// Jobs held (runs in flight).
    #[cfg(test)]
    pub fn jobs_held(&self) -> usize {
        self.jobs.len()
    }

    pub fn push_job(&mut self, obs: JobObs, sink: &mut impl FnMut(RunEvent<'_>)) {
        if self.retired.job_line(&obs.name, obs.deleted) {
            return;
        }
        let bad = &mut self.oddities.bad_timestamps;
        let annotation = parse_ms(obs.scheduled.as_deref(), bad);
        let created = parse_ms(obs.created.as_deref(), bad);
        let completed = parse_ms(obs.completed.as_deref(), bad);
        let name = obs.name;
        let existed = self.jobs.contains_key(&name);
        let st = self.jobs.entry(name.clone()).or_insert_with(|| JobState {
            first_seen_ms: obs.recv_ms,
            ..JobState::default()
        });
        let had_key = existed && known_key(&name, st).is_some();
        st.first_seen_ms = st.first_seen_ms.min(obs.recv_ms);
        if st.cronjob.is_none() {
            st.cronjob = obs.cronjob;
        }
        st.annotation_ms = st.annotation_ms.or(annotation);
        st.created_ms = st.created_ms.or(created);
        if let Some(c) = completed {
            st.completed_server_ms.get_or_insert(c);
            st.completed_client_ms = min_opt(st.completed_client_ms, obs.recv_ms);
        }
        st.succeeded |= obs.succeeded >= 1;
        st.failed |= obs.job_failed;
        st.deleted |= obs.deleted;
        st.active = obs.active;
        st.pods_counted = st
            .pods_counted
            .max(obs.succeeded.saturating_add(obs.failed));
        let finished = completed.is_some() || obs.job_failed;
        if st.ended_ms.is_none() && (finished || obs.deleted) {
            st.ended_ms = Some(obs.recv_ms);
            st.deleted_while_active = !finished;
        }
        if !had_key && let Some((cronjob, scheduled_ms)) = known_key(&name, st) {
            // Pods seen before their Job: their starts belong to this run now.
            for pod in self.pods_of_job.get(&name).into_iter().flatten() {
                if let Some(at_ms) = self.pods.get(pod).and_then(|p| p.started_ms) {
                    sink(RunEvent::Started {
                        cronjob,
                        scheduled_ms,
                        at_ms,
                    });
                }
            }
        }
        if obs.deleted || finished {
            self.retire_if_over(&name, sink);
        }
    }

    pub fn push_pod(&mut self, obs: PodObs, sink: &mut impl FnMut(RunEvent<'_>)) {
        if let Some(job) = &obs.job
            && self.retired.pod_line(job, &obs.name, obs.deleted)
        {
            return;
        }
        let bad = &mut self.oddities.bad_timestamps;
        let created = parse_ms(obs.created.as_deref(), bad);
        let scheduled_at = parse_ms(obs.scheduled_at.as_deref(), bad);
        let started_at = parse_ms(obs.started_at.as_deref(), bad);
        let finished_at = parse_ms(obs.finished_at.as_deref(), bad);
        let (started, bound) = (obs.started(), obs.bound());
        let (finished, succeeded) = (obs.finished(), obs.succeeded());
        if !self.pods.contains_key(&obs.name)
            && let Some(job) = &obs.job
        {
            self.pods_of_job
                .entry(job.clone())
                .or_default()
                .push(obs.name.clone());
        }
        let recv = obs.recv_ms;
        let st = self.pods.entry(obs.name).or_insert_with(|| PodState {
            first_seen_ms: recv,
            ..PodState::default()
        });
        st.first_seen_ms = st.first_seen_ms.min(recv);
        if st.job.is_none() {
            st.job = obs.job;
        }
        if obs.node.is_some() {
            st.node = obs.node;
        }
        if bound {
            st.bound_ms = min_opt(st.bound_ms, recv);
        }
        if started {
            st.started_ms = min_opt(st.started_ms, recv);
        }
        if finished {
            st.finished_ms = min_opt(st.finished_ms, recv);
        }
        if obs.deleted {
            st.deleted_ms = min_opt(st.deleted_ms, recv);
        }
        st.succeeded |= succeeded;
        st.created_s = st.created_s.or(created);
        st.scheduled_at_s = st.scheduled_at_s.or(scheduled_at);
        st.started_at_s = st.started_at_s.or(started_at);
        st.finished_at_s = st.finished_at_s.or(finished_at);
        if !(started || finished || obs.deleted) {
            return;
        }
        let Some(job) = st.job.clone() else {
            return;
        };
        if started
            && let Some((cronjob, scheduled_ms)) =
                self.jobs.get(&job).and_then(|j| known_key(&job, j))
        {
            sink(RunEvent::Started {
                cronjob,
                scheduled_ms,
                at_ms: recv,
            });
        }
        if obs.deleted || finished {
            self.retire_if_over(&job, sink);
        }
    }

    /// Whether the run of `job` is over: its Job finished, nothing active, and every Pod of it
    /// seen terminal, at least as many as the Job counted (a Pod watch that lags behind the
    /// Job watch has not yet shown them all); or its Job and every Pod of it deleted.
    fn is_over(&self, job: &str) -> bool {
        let Some(j) = self.jobs.get(job) else {
            return false;
        };
        let Some(names) = self.pods_of_job.get(job).filter(|n| !n.is_empty()) else {
            return false;
        };
        let pods = || names.iter().map(|n| self.pods.get(n));
        if j.deleted && pods().all(|p| p.is_some_and(|p| p.deleted_ms.is_some())) {
            return true;
        }
        let finished = j.completed_server_ms.is_some() || j.failed;
        finished
            && j.active == 0
            && names.len() >= usize::try_from(j.pods_counted).unwrap_or(0)
            && pods().all(|p| p.is_some_and(PodState::terminal))
    }

    /// Hands the run of `job` on and forgets its Job and Pods once it is over
    /// ([`Runs::is_over`]); lines that come later for them are ignored ([`Retired`]). Lines
    /// come in receive order, so a run over before the log ends counts as it would at the end.
    fn retire_if_over(&mut self, job: &str, sink: &mut impl FnMut(RunEvent<'_>)) {
        if !self.retire || !self.is_over(job) {
            return;
        }
        let names = self.pods_of_job.swap_remove(job).unwrap_or_default();
        let Some(job_state) = self.jobs.swap_remove(job) else {
            return;
        };
        let pods: Vec<(String, PodState)> = names
            .into_iter()
            .filter_map(|n| self.pods.swap_remove(&n).map(|p| (n, p)))
            .collect();
        let alive = pods.iter().filter(|(_, p)| p.deleted_ms.is_none());
        let alive = alive.map(|(n, _)| n.clone()).collect();
        self.retired.retire(job, job_state.deleted, alive);
        for (_, p) in &pods {
            sink(RunEvent::PodOver(p));
        }
        let Some((cronjob, scheduled_ms)) = counted_key_of(job, &job_state, &mut self.oddities)
        else {
            return;
        };
        if !self
            .over
            .entry(cronjob.to_string())
            .or_default()
            .insert(scheduled_ms)
        {
            sink(RunEvent::Duplicate {
                cronjob,
                scheduled_ms,
                extra: 1,
                jobs: vec![job.to_string()],
            });
            return;
        }
        let pod = pods
            .iter()
            .min_by(|a, b| (a.1.first_seen_ms, &a.0).cmp(&(b.1.first_seen_ms, &b.0)));
        sink(RunEvent::Over(Run {
            cronjob,
            scheduled_ms,
            job_name: job,
            job: &job_state,
            pod_name: pod.map(|(n, _)| n.as_str()),
            pod: pod.map(|(_, p)| p),
            jobs: 1,
        }));
    }

    /// The log ended: hands on every pod still held, then every run by key (duplicates
    /// first within a key).
    pub fn finish(self, sink: &mut impl FnMut(RunEvent<'_>)) -> Oddities {
        let Runs {
            jobs,
            pods,
            over,
            mut oddities,
            ..
        } = self;
        let mut by_key: BTreeMap<(&str, i64), Vec<(&str, &JobState)>> = BTreeMap::new();
        for (name, job) in &jobs {
            if let Some(key) = counted_key_of(name, job, &mut oddities) {
                by_key.entry(key).or_default().push((name.as_str(), job));
            }
        }
        let mut first_pod: HashMap<&str, (&str, &PodState)> = HashMap::new();
        for (name, pod) in &pods {
            sink(RunEvent::PodOver(pod));
            let Some(job) = pod.job.as_deref().filter(|j| jobs.contains_key(*j)) else {
                oddities.orphan_pods += 1;
                continue;
            };
            let entry = first_pod.entry(job).or_insert((name.as_str(), pod));
            if (pod.first_seen_ms, name.as_str()) < (entry.1.first_seen_ms, entry.0) {
                *entry = (name.as_str(), pod);
            }
        }
        for ((cronjob, scheduled_ms), mut held) in by_key {
            if over.get(cronjob).is_some_and(|t| t.contains(scheduled_ms)) {
                // A run already over had this schedule: these Jobs are extra.
                sink(RunEvent::Duplicate {
                    cronjob,
                    scheduled_ms,
                    extra: held.len() as u64,
                    jobs: job_names(&held),
                });
                continue;
            }
            held.sort_by_key(|(name, job)| (job.first_seen_ms, *name));
            if held.len() > 1 {
                sink(RunEvent::Duplicate {
                    cronjob,
                    scheduled_ms,
                    extra: held.len() as u64 - 1,
                    jobs: job_names(&held),
                });
            }
            if let Some(&(name, job)) = held.first() {
                let pod = first_pod.get(name);
                sink(RunEvent::Over(Run {
                    cronjob,
                    scheduled_ms,
                    job_name: name,
                    job,
                    pod_name: pod.map(|(n, _)| *n),
                    pod: pod.map(|(_, p)| *p),
                    jobs: held.len() as u64,
                }));
            }
        }
        oddities
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, recv_ms: i64, deleted: bool) -> JobObs {
        JobObs {
            recv_ms,
            name: name.into(),
            deleted,
            ..JobObs::default()
        }
    }

    fn pod(name: &str, job: &str, recv_ms: i64, phase: &str, deleted: bool) -> PodObs {
        PodObs {
            recv_ms,
            name: name.into(),
            job: Some(job.into()),
            phase: Some(phase.into()),
            deleted,
            ..PodObs::default()
        }
    }

    /// What the events say, as plain text (borrows do not outlive the callback).
    fn record(out: &mut Vec<String>) -> impl FnMut(RunEvent<'_>) + '_ {
        move |e| {
            out.push(match e {
                RunEvent::Started {
                    cronjob,
                    scheduled_ms,
                    at_ms,
                } => format!("started {cronjob} {scheduled_ms} {at_ms}"),
                RunEvent::Over(r) => format!(
                    "over {} {} started {:?}",
                    r.cronjob,
                    r.scheduled_ms,
                    r.started_ms()
                ),
                RunEvent::Duplicate { extra, jobs, .. } => format!("duplicate {extra} {jobs:?}"),
                RunEvent::PodOver(p) => format!("pod {}", p.first_seen_ms),
            })
        }
    }

    #[test]
    fn a_pod_seen_before_its_job_reports_its_start_once_the_job_names_the_run() {
        let mut runs = Runs::new(true);
        let mut out = Vec::new();
        runs.push_pod(
            pod("cb-1-p", "cb-1", 5_000, "Running", false),
            &mut record(&mut out),
        );
        assert!(out.is_empty(), "no run known yet: {out:?}");
        runs.push_job(job("cb-1", 6_000, false), &mut record(&mut out));
        assert_eq!(out, ["started cb 60000 5000"]);
    }

    #[test]
    fn a_run_is_handed_on_once_its_job_and_every_pod_are_deleted() {
        let mut runs = Runs::new(true);
        let mut out = Vec::new();
        runs.push_job(job("cb-1", 1_000, false), &mut record(&mut out));
        runs.push_pod(
            pod("cb-1-p", "cb-1", 2_000, "Running", false),
            &mut record(&mut out),
        );
        runs.push_job(job("cb-1", 3_000, true), &mut record(&mut out));
        assert_eq!(out, ["started cb 60000 2000"], "a pod is still there");
        runs.push_pod(
            pod("cb-1-p", "cb-1", 4_000, "Succeeded", true),
            &mut record(&mut out),
        );
        assert_eq!(
            out[1..],
            [
                "started cb 60000 4000",
                "pod 2000",
                "over cb 60000 started Some(2000)"
            ]
        );
        assert_eq!(runs.jobs_held(), 0);
        // A later Job for the same schedule is a duplicate, never a second run.
        runs.push_job(job("cb-1", 5_000, false), &mut record(&mut out));
        let odd = runs.finish(&mut record(&mut out));
        assert_eq!(
            out.last().map(String::as_str),
            Some("duplicate 1 [\"cb-1\"]")
        );
        assert_eq!(odd, Oddities::default());
    }

    fn finished_job(name: &str, recv_ms: i64, succeeded: i32, failed: i32) -> JobObs {
        JobObs {
            completed: (failed == 0).then(|| "1970-01-01T00:00:09Z".into()),
            job_failed: failed > 0,
            succeeded,
            failed,
            ..job(name, recv_ms, false)
        }
    }

    #[test]
    fn a_finished_run_is_handed_on_before_its_deletion_and_its_later_lines_are_ignored() {
        let mut runs = Runs::new(true);
        let mut out = Vec::new();
        runs.push_job(job("cb-1", 1_000, false), &mut record(&mut out));
        runs.push_pod(
            pod("cb-1-p", "cb-1", 2_000, "Succeeded", false),
            &mut record(&mut out),
        );
        assert_eq!(
            out,
            ["started cb 60000 2000"],
            "the Job has not finished yet"
        );
        runs.push_job(finished_job("cb-1", 3_000, 1, 0), &mut record(&mut out));
        assert_eq!(out[1..], ["pod 2000", "over cb 60000 started Some(2000)"]);
        assert_eq!(runs.jobs_held(), 0);
        // The history limit deletes them later: no second run, no duplicate, no extra pod.
        runs.push_job(job("cb-1", 9_000, true), &mut record(&mut out));
        runs.push_pod(
            pod("cb-1-p", "cb-1", 9_500, "Succeeded", true),
            &mut record(&mut out),
        );
        assert_eq!(runs.retired.len(), 0, "both deletions seen");
        assert_eq!(runs.finish(&mut record(&mut out)), Oddities::default());
        assert_eq!(out.len(), 3, "{out:?}");
    }

    #[test]
    fn a_failed_job_waits_for_every_pod_it_counted_when_the_pod_watch_lags() {
        let mut runs = Runs::new(true);
        let mut out = Vec::new();
        runs.push_pod(
            pod("cb-1-a", "cb-1", 1_000, "Failed", false),
            &mut record(&mut out),
        );
        runs.push_job(finished_job("cb-1", 2_000, 0, 2), &mut record(&mut out));
        assert!(
            out.is_empty(),
            "one of its two pods is not seen yet: {out:?}"
        );
        runs.push_pod(
            pod("cb-1-b", "cb-1", 3_000, "Failed", false),
            &mut record(&mut out),
        );
        assert_eq!(out, ["pod 1000", "pod 3000", "over cb 60000 started None"]);
    }

    #[test]
    fn a_failed_pod_without_a_container_start_never_starts_its_run() {
        let mut runs = Runs::new(false);
        let mut out = Vec::new();
        runs.push_job(job("cb-1", 1_000, false), &mut record(&mut out));
        runs.push_pod(
            pod("cb-1-p", "cb-1", 2_000, "Failed", false),
            &mut record(&mut out),
        );
        runs.finish(&mut record(&mut out));
        assert_eq!(out, ["pod 2000", "over cb 60000 started None"]);
    }

    #[test]
    fn stage_end_points_follow_the_stage_names() {
        for stage in Stage::ALL {
            let (from, to) = Point::ends(stage);
            assert_ne!(from, to, "{stage:?}");
            let label = format!("{from:?} -> {to:?}").to_lowercase();
            let name = stage
                .label()
                .replace(' ', "")
                .replace("schedule", "scheduled");
            assert_eq!(label.replace(" ", ""), name, "{stage:?}");
        }
    }
}

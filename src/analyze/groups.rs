//! Results per class (`load.classes`) and per time zone, and the top-of-hour herd.
//!
//! Memory is per group, never per run: counts and one histogram per stage (client clock, at
//! [`GROUP_SIGFIG`] digits) for each of at most [`CLASSES_MAX`] classes and [`ZONES_MAX`]
//! zones, plus a CronJob -> group index map the size of the CronJob map.

use std::collections::{BTreeSet, HashMap};

use super::NameMap;

use super::AnalyzeError;
use super::expected::{CronJobSeen, Fate};
use super::runs::Run;
use super::series::Buckets;
use super::tally::{Ctx, Latencies, SIGFIG};
use super::verdict::class_verdict;
use crate::results::{
    CLASSES_MAX, ClassResults, Clock, GROUP_SIGFIG, GroupCounts, HERD_AFTER_S, HERD_BEFORE_S, Herd,
    HerdLatency, Stage, Window, ZONES_MAX, ZoneResults,
};
use crate::scenario::ConcurrencyPolicy;
use crate::scenario::classes::{Class, ClassSlo};

const HOUR_MS: i64 = 3_600_000;
/// The zone name of CronJobs without `spec.timeZone`.
const UTC: &str = "UTC";

/// One class or zone.
struct Group {
    name: String,
    counts: GroupCounts,
    zones: BTreeSet<String>,
    slo: Option<ClassSlo>,
    within_ms: f64,
    /// One per [`Stage::ALL`], client clock.
    lat: Vec<Latencies>,
}

impl Group {
    fn new(name: &str, slo: Option<ClassSlo>, fleet_within_ms: f64) -> Result<Group, AnalyzeError> {
        let within_ms = slo
            .as_ref()
            .and_then(|s| s.start_within_s)
            .map_or(fleet_within_ms, |s| s * 1000.0);
        Ok(Group {
            name: name.to_string(),
            counts: GroupCounts::default(),
            zones: BTreeSet::new(),
            slo,
            within_ms,
            lat: Stage::ALL
                .iter()
                .map(|_| Latencies::new(GROUP_SIGFIG))
                .collect::<Result<_, _>>()?,
        })
    }

    fn add_run(&mut self, run: &Run<'_>) {
        let c = &mut self.counts;
        c.observed += 1;
        if let Some(started) = run.started_ms() {
            c.started += 1;
            if ((started - run.scheduled_ms) as f64) <= self.within_ms {
                c.started_on_time += 1;
            }
        }
        c.completed += u64::from(run.completed());
        c.failed += u64::from(run.job.failed);
        let client = run.client();
        for (stage, l) in Stage::ALL.iter().zip(&mut self.lat) {
            if let Some(v) = client.span(*stage) {
                l.record(v);
            }
        }
    }

    fn add_tick(&mut self, fate: Fate) {
        let c = &mut self.counts;
        c.expected += 1;
        match fate {
            Fate::Observed => {}
            Fate::Missed => c.missed += 1,
            Fate::SkippedWhileActive => c.skipped_while_active += 1,
            Fate::SkippedPastDeadline => c.skipped_past_deadline += 1,
        }
    }

    fn stages(&self) -> Vec<crate::results::StageStats> {
        Stage::ALL
            .iter()
            .zip(&self.lat)
            .map(|(s, l)| l.stats(*s, Clock::Client))
            .collect()
    }
}

/// Groups of one kind (classes or zones), at most `max`.
struct Set {
    groups: Vec<Group>,
    index: HashMap<String, usize>,
    max: usize,
    /// CronJobs whose group was over the bound.
    left_out: u64,
}

impl Set {
    fn new(max: usize) -> Set {
        Set {
            groups: Vec::new(),
            index: HashMap::new(),
            max,
            left_out: 0,
        }
    }

    fn add(&mut self, group: Group) -> Option<usize> {
        if let Some(&i) = self.index.get(&group.name) {
            return Some(i);
        }
        if self.groups.len() >= self.max {
            return None;
        }
        self.index.insert(group.name.clone(), self.groups.len());
        self.groups.push(group);
        Some(self.groups.len() - 1)
    }

    /// The group named `name`, made when new; `None` over the bound.
    fn of(&mut self, name: &str, within_ms: f64) -> Result<Option<usize>, AnalyzeError> {
        if let Some(&i) = self.index.get(name) {
            return Ok(Some(i));
        }
        if self.groups.len() >= self.max {
            self.left_out += 1;
            return Ok(None);
        }
        Ok(self.add(Group::new(name, None, within_ms)?))
    }
}

/// Per-class and per-zone accumulators, and the herd's latencies.
pub(super) struct Groups {
    classes: Set,
    zones: Set,
    of_cronjob: NameMap<String, [Option<usize>; 2]>,
    fleet_within_ms: f64,
    /// A CronJob had a class, a zone, a policy other than Allow, a deadline or suspend.
    pub mixed: bool,
    top_of_hour: Latencies,
    rest: Latencies,
}

impl Groups {
    /// Groups for the scenario's classes, in its order (the first [`CLASSES_MAX`]).
    pub fn new(classes: &[Class], fleet_within_ms: f64) -> Result<Groups, AnalyzeError> {
        let mut set = Set::new(CLASSES_MAX);
        for c in classes.iter().take(CLASSES_MAX) {
            set.add(Group::new(&c.name, c.slo.clone(), fleet_within_ms)?);
        }
        Ok(Groups {
            classes: set,
            zones: Set::new(ZONES_MAX),
            of_cronjob: NameMap::default(),
            fleet_within_ms,
            mixed: false,
            top_of_hour: Latencies::new(SIGFIG)?,
            rest: Latencies::new(SIGFIG)?,
        })
    }

    /// A CronJob was created.
    pub fn cronjob(&mut self, cj: &CronJobSeen) -> Result<(), AnalyzeError> {
        if self.of_cronjob.contains_key(&cj.name) {
            return Ok(());
        }
        self.mixed |= cj.class.is_some()
            || cj.time_zone.is_some()
            || cj
                .concurrency_policy
                .as_ref()
                .is_some_and(|p| *p != ConcurrencyPolicy::Allow)
            || cj.starting_deadline_seconds.is_some()
            || cj.suspend;
        let zone = cj.time_zone.as_deref().unwrap_or(UTC);
        let class = match &cj.class {
            Some(name) => self.classes.of(name, self.fleet_within_ms)?,
            None => None,
        };
        let zone_at = self.zones.of(zone, self.fleet_within_ms)?;
        let at = [class, zone_at];
        for g in self.groups_of(at) {
            g.counts.cronjobs += 1;
            g.counts.suspended += u64::from(cj.suspend);
            if !g.zones.contains(zone) {
                g.zones.insert(zone.to_string());
            }
        }
        self.of_cronjob.insert(cj.name.clone(), at);
        Ok(())
    }

    fn groups_of(&mut self, [class, zone]: [Option<usize>; 2]) -> impl Iterator<Item = &mut Group> {
        let c = class.and_then(|i| self.classes.groups.get_mut(i));
        let z = zone.and_then(|i| self.zones.groups.get_mut(i));
        c.into_iter().chain(z)
    }

    /// A run is over: counted in its groups when scheduled in the window.
    pub fn add_run(&mut self, run: &Run<'_>, ctx: &Ctx) {
        if !ctx.in_window(run.scheduled_ms) {
            return;
        }
        if let Some(started) = run.started_ms() {
            let herd = if run.scheduled_ms.rem_euclid(HOUR_MS) == 0 {
                &mut self.top_of_hour
            } else {
                &mut self.rest
            };
            herd.record(started - run.scheduled_ms);
        }
        if let Some(&at) = self.of_cronjob.get(run.cronjob) {
            for g in self.groups_of(at) {
                g.add_run(run);
            }
        }
    }

    /// An expected tick of `cj` and its fate.
    pub fn add_tick(&mut self, cj: &CronJobSeen, fate: Fate) {
        if let Some(&at) = self.of_cronjob.get(&cj.name) {
            for g in self.groups_of(at) {
                g.add_tick(fate);
            }
        }
    }

    /// CronJobs of classes and zones over the bounds, for a note.
    pub fn left_out(&self) -> (u64, u64) {
        (self.classes.left_out, self.zones.left_out)
    }

    /// Classes with at least one CronJob, judged by their own SLO where set.
    pub fn classes(&self, interrupted: bool) -> Vec<ClassResults> {
        self.classes
            .groups
            .iter()
            .filter(|g| g.counts.cronjobs > 0)
            .map(|g| {
                let stages = g.stages();
                let verdict = g.slo.as_ref().map(|slo| {
                    let p99 = stages
                        .iter()
                        .find(|s| s.stage == Stage::ScheduleToStarted)
                        .and_then(|s| s.p99_ms);
                    let mut v = class_verdict(slo, &g.counts, p99);
                    v.pass &= !interrupted;
                    v
                });
                ClassResults {
                    class: g.name.clone(),
                    zones: g.zones.iter().cloned().collect(),
                    counts: g.counts.clone(),
                    start_within_s: g.within_ms / 1000.0,
                    stages,
                    verdict,
                }
            })
            .collect()
    }

    /// Zones, sorted by name.
    pub fn zones(&self) -> Vec<ZoneResults> {
        let mut out: Vec<ZoneResults> = self
            .zones
            .groups
            .iter()
            .map(|g| ZoneResults {
                zone: g.name.clone(),
                counts: g.counts.clone(),
                stages: g.stages(),
            })
            .collect();
        out.sort_by(|a, b| a.zone.cmp(&b.zone));
        out
    }

    /// The herd around each UTC hour boundary whose herd window touches `w`, from the
    /// window's starts per second.
    pub fn herd(&self, w: &Window, starts: &Buckets) -> Herd {
        let len = (HERD_BEFORE_S + HERD_AFTER_S) as usize;
        let mut herd = Herd {
            from_offset_s: -HERD_BEFORE_S,
            starts_per_second: vec![0; len],
            top_of_hour: herd_latency(&self.top_of_hour),
            rest: herd_latency(&self.rest),
            ..Herd::default()
        };
        let first = (w.start_ms - HERD_AFTER_S * 1000).div_euclid(HOUR_MS) + 1;
        let mut hour = first * HOUR_MS;
        while hour - HERD_BEFORE_S * 1000 < w.end_ms {
            herd.hours += 1;
            let base = hour.div_euclid(1000) - HERD_BEFORE_S;
            for (i, sum) in herd.starts_per_second.iter_mut().enumerate() {
                let n = starts.in_second(base + i as i64);
                *sum += n;
                if n > herd.peak_per_second {
                    herd.peak_per_second = n;
                    herd.peak_offset_s = Some(i as i64 - HERD_BEFORE_S);
                }
            }
            hour += HOUR_MS;
        }
        herd
    }
}

fn herd_latency(l: &Latencies) -> HerdLatency {
    let s = l.stats(Stage::ScheduleToStarted, Clock::Client);
    HerdLatency {
        started: s.count + s.negatives,
        p50_ms: s.p50_ms,
        p99_ms: s.p99_ms,
        max_ms: s.max_ms,
    }
}

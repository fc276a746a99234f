//! The mixed-fleet floor: per-policy accounting ([`PolicyLog`]) and results per class, per
//! zone and of the herd ([`Groups`]), fed the same runs as the tally.

use super::AnalyzeError;
use super::expected::{CronJobSeen, CronJobTable, Expected};
use super::groups::Groups;
use super::policies::{PolicyLog, Settled};
use super::runs::RunEvent;
use super::series::Buckets;
use super::tally::Ctx;
use crate::results::{
    Anomalies, CLASSES_MAX, ClassResults, Counts, Herd, Policies, Window, ZONES_MAX, ZoneResults,
};
use crate::scenario::{ConcurrencyPolicy, Scenario};
use crate::schema::EventObs;

/// What the fleet floor adds to the results.
#[derive(Debug, Default)]
pub(super) struct FleetResults {
    pub policies: Option<Policies>,
    pub classes: Vec<ClassResults>,
    pub zones: Vec<ZoneResults>,
    pub herd: Option<Herd>,
}

pub(super) struct Fleet {
    log: PolicyLog,
    groups: Groups,
    /// A histogram that could not be made for a group (reported at the end).
    error: Option<AnalyzeError>,
}

impl Fleet {
    pub fn new(scenario: &Scenario) -> Result<Fleet, AnalyzeError> {
        Ok(Fleet {
            log: PolicyLog::default(),
            groups: Groups::new(&scenario.load.classes, scenario.slo.start_within_s * 1000.0)?,
            error: None,
        })
    }

    pub fn cronjob(&mut self, cj: &CronJobSeen) {
        self.log.cronjob(cj);
        if let Err(e) = self.groups.cronjob(cj) {
            self.error.get_or_insert(e);
        }
    }

    pub fn take(&mut self, event: &RunEvent<'_>, ctx: &Ctx) {
        self.log.take(event);
        if let RunEvent::Over(run) = event {
            self.groups.add_run(run, ctx);
        }
    }

    pub fn event(&mut self, e: &EventObs) {
        self.log.event(e);
    }

    /// Every run has been taken: the policy spans are settled for the ticks' fates.
    pub fn settle(&mut self, window: Option<&Window>) -> Result<Settled, AnalyzeError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let in_window = |t: i64| window.is_some_and(|w| w.start_ms <= t && t < w.end_ms);
        Ok(std::mem::take(&mut self.log).settle(in_window))
    }

    pub fn groups(&mut self) -> &mut Groups {
        &mut self.groups
    }

    /// The fleet's results, written only for a mixed fleet (policies also when the controller
    /// warned).
    #[allow(clippy::too_many_arguments)]
    pub fn results(
        &self,
        settled: Settled,
        warned: bool,
        cronjobs: &CronJobTable,
        counts: &Counts,
        expected: &Expected,
        window: Option<&Window>,
        starts: &Buckets,
        interrupted: bool,
    ) -> FleetResults {
        let mixed = self.groups.mixed;
        let mut p = settled.policies;
        for cj in cronjobs.values() {
            match cj.concurrency_policy {
                Some(ConcurrencyPolicy::Forbid) => p.forbid.cronjobs += 1,
                Some(ConcurrencyPolicy::Replace) => p.replace.cronjobs += 1,
                _ => {}
            }
            p.deadline.cronjobs += u64::from(cj.starting_deadline_seconds.is_some());
        }
        p.forbid.skipped_while_active = expected.skipped_while_active;
        p.deadline.skipped_past_deadline = expected.skipped_past_deadline;
        p.jobs_failed = counts.failed;
        p.runs_not_started = counts.observed.saturating_sub(counts.started);
        if !mixed {
            return FleetResults {
                policies: warned.then_some(p),
                ..FleetResults::default()
            };
        }
        FleetResults {
            policies: Some(p),
            classes: self.groups.classes(interrupted),
            zones: self.groups.zones(),
            herd: window.map(|w| self.groups.herd(w, starts)),
        }
    }

    /// Notes for what was left out.
    pub fn notes(&self, a: &mut Anomalies, bad_notes: u64) {
        let (classes, zones) = self.groups.left_out();
        if classes > 0 {
            a.notes.push(format!(
                "{classes} CronJobs belong to classes beyond the first {CLASSES_MAX}: they count \
                 in the whole fleet's figures only"
            ));
        }
        if zones > 0 {
            a.notes.push(format!(
                "{zones} CronJobs are in time zones beyond the first {ZONES_MAX}: they count in \
                 the whole fleet's figures only"
            ));
        }
        if bad_notes > 0 {
            a.notes.push(format!(
                "{bad_notes} MissSchedule events had a note without a time: their ticks count as \
                 missed"
            ));
        }
    }

    pub fn warned(&self) -> bool {
        self.log.warned()
    }

    pub fn bad_notes(&self) -> u64 {
        self.log.bad_notes
    }
}

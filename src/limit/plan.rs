//! The search's settings, from the options and the scenario, and the report before the first
//! step.

use super::driver::LimitOptions;
use super::metrics::Sources;
use super::report::{LIMIT_SCHEMA_VERSION, LimitReport};
use super::search::{Search, SearchConfig};
use super::step::Criteria;
use crate::scenario::Scenario;
use crate::session::Session;

/// The search's settings, from the options and the scenario.
pub(super) struct Plan {
    pub config: SearchConfig,
    pub criteria: Criteria,
    pub hold_minutes: u32,
    pub max_minutes: f64,
}

impl Plan {
    pub fn new(opts: &LimitOptions, scenario: &Scenario) -> Plan {
        let config = SearchConfig {
            start: opts
                .start
                .unwrap_or(scenario.slo.target_jobs_per_minute.round().max(1.0) as u32),
            factor: opts.factor,
            precision: opts.precision,
            max_cronjobs: opts.max_cronjobs.max(1),
        };
        let criteria = Criteria {
            start_within_s: opts.start_within_s,
            min_on_time_ratio: opts.min_on_time_ratio,
            p99_schedule_to_start_s: scenario.slo.p99_schedule_to_start_s,
            ..Criteria::default()
        };
        Plan {
            config,
            criteria,
            hold_minutes: opts.hold_minutes.max(2),
            max_minutes: opts.max_minutes,
        }
    }

    /// The report before the first step: what the search is, on which cluster.
    pub fn report(
        &self,
        session: &Session,
        scenario: &Scenario,
        search: &Search,
        sources: &Sources,
    ) -> LimitReport {
        let context = session.context();
        let notes = sources.notes(context);
        LimitReport {
            schema_version: LIMIT_SCHEMA_VERSION,
            search_id: session.id().to_string(),
            scenario_name: scenario.name.clone(),
            context: context.to_string(),
            server_version: session.facts().server_version.clone(),
            nodes: session.facts().ready_nodes,
            started_ms: session.started_ms(),
            wall_s: 0.0,
            max_minutes: self.max_minutes,
            config: self.config,
            criteria: self.criteria,
            hold_minutes: self.hold_minutes,
            state: search.state.clone(),
            outcome: None,
            limit_jobs_per_minute: None,
            interval: [None, None],
            target_jobs_per_minute: scenario.slo.target_jobs_per_minute,
            pass: None,
            curve: Vec::new(),
            bottleneck: None,
            steps: Vec::new(),
            notes,
            confirmation: None,
        }
    }

    pub fn announce(&self, session: &Session) {
        eprintln!(
            "find-limit {} on `{}` ({}, {} Ready nodes): start {} CronJobs, x{}, precision {}, budget {} min; writing {}",
            session.id(),
            session.context(),
            session.facts().server_version,
            session.facts().ready_nodes,
            self.config.start,
            self.config.factor,
            self.config.precision,
            self.max_minutes,
            session.dir().path().display()
        );
    }
}

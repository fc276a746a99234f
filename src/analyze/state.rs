//! The analyzer: routes each log line to its floor (the window, the reconstruction of runs,
//! the CronJobs, nodes and anomalies) and computes [`Results`] from them at the end, in named
//! steps.

use std::collections::{BTreeMap, BTreeSet};

use super::AnalyzeError;
use super::expected::{CronJobTable, Expected, Fate, expected_runs, window_ticks};
use super::faults::{self, Inputs, PodFact, RawFault, RunFact};
use super::fleet::{Fleet, FleetResults};
use super::ingest::{Phases, in_run_span};
use super::policies::Settled;
use super::runs::{Oddities, RunEvent, Runs};
use super::tally::{Ctx, Tally};
use super::verdict::verdict;
use crate::results::{
    Anomalies, Counts, FaultWindow, NegativeCount, NodeStats, Results, RunInfo, StageStats,
    Throughput, Verdict, Window,
};
use crate::scenario::Scenario;
use crate::schema::{EndReason, LogLine, Phase, RunStarted, SCHEMA_VERSION};

/// Folds log lines into what [`Analyzer::finish`] reports.
pub(super) struct Analyzer {
    run: RunStarted,
    scenario: Scenario,
    lines: u64,
    last_recv_ms: i64,
    phases: Phases,
    end_reason: Option<EndReason>,
    harness: Option<crate::host::HarnessCost>,
    cronjobs: CronJobTable,
    node_ready: BTreeMap<String, bool>,
    /// Nodes seen Ready at some line: the nodes a tick's pods could have spread over.
    nodes_seen_ready: BTreeSet<String>,
    anomalies: Anomalies,
    faults: Vec<RawFault>,
    /// Runs in flight. Runs are handed to the tally as they end, except in logs with faults,
    /// whose windows need every run at the end.
    runs: Runs,
    tally: Tally,
    /// Policies, classes, zones and the herd.
    fleet: Fleet,
    resources: super::resources::TimelineBuilder,
}

fn line_kind(line: &LogLine) -> &'static str {
    match line {
        LogLine::RunStarted(_) => "run_started",
        LogLine::Phase { .. } => "phase",
        LogLine::CronJobCreated(_) => "cron_job_created",
        LogLine::Job(_) => "job",
        LogLine::Pod(_) => "pod",
        LogLine::Node(_) => "node",
        LogLine::Event(_) => "event",
        LogLine::WatchError { .. } => "watch_error",
        LogLine::Step { .. } => "step",
        LogLine::Fault { .. } => "fault",
        LogLine::Resources { .. } => "resources",
        LogLine::RunEnded { .. } => "run_ended",
    }
}

/// Runs and pods as the fault windows read them.
#[derive(Default)]
struct FaultFacts {
    runs: Vec<(String, i64, RunFact)>,
    pods: Vec<PodFact>,
}

impl Analyzer {
    pub(super) fn new(first: LogLine) -> Result<Self, AnalyzeError> {
        let run = match first {
            LogLine::RunStarted(run) => run,
            other => {
                return Err(AnalyzeError::NotRunStarted {
                    found: line_kind(&other),
                });
            }
        };
        if run.schema_version != SCHEMA_VERSION {
            return Err(AnalyzeError::SchemaVersion {
                found: run.schema_version,
                expected: SCHEMA_VERSION,
            });
        }
        let scenario: Scenario = serde_json::from_value(run.scenario.clone())
            .map_err(|source| AnalyzeError::Scenario { source })?;
        let problems = crate::scenario::slo_problems(&scenario.slo);
        if !problems.is_empty() {
            let problems: Vec<String> = problems.into_iter().map(|(_, msg)| msg).collect();
            return Err(AnalyzeError::InvalidSlo {
                problems: problems.join("; "),
            });
        }
        let retire = scenario.faults.is_empty();
        let fleet = Fleet::new(&scenario)?;
        Ok(Analyzer {
            last_recv_ms: run.recv_ms,
            run,
            scenario,
            lines: 1,
            phases: Phases::default(),
            end_reason: None,
            harness: None,
            cronjobs: CronJobTable::default(),
            node_ready: BTreeMap::new(),
            nodes_seen_ready: BTreeSet::new(),
            anomalies: Anomalies::default(),
            faults: Vec::new(),
            runs: Runs::new(retire),
            tally: Tally::new()?,
            fleet,
            resources: Default::default(),
        })
    }

    /// Analyzes runs scheduled in `[start_ms, end_ms)` whatever the log's phases say.
    pub(super) fn set_window(&mut self, start_ms: i64, end_ms: i64) {
        self.phases.window_override = Some((start_ms, end_ms));
        self.tally.pending.start_at(start_ms);
    }

    /// Keeps every run until the end, as logs with faults do (tests compare both ways).
    #[cfg(test)]
    pub(super) fn keep_every_run(&mut self) {
        self.runs = Runs::new(false);
    }

    /// Jobs still held (runs in flight).
    #[cfg(test)]
    pub(super) fn jobs_held(&self) -> usize {
        self.runs.jobs_held()
    }

    /// Counts a line that did not parse; the first one is named in the notes.
    pub(super) fn drop_unparsed(&mut self, line: u64, error: &serde_json::Error) {
        if self.anomalies.lines_unparsed == 0 {
            self.anomalies.notes.push(format!(
                "line {line} of the event log did not parse ({error}) and was left out, as \
                 were any later lines counted in lines_unparsed"
            ));
        }
        self.anomalies.lines_unparsed += 1;
    }

    pub(super) fn set_truncated_last_line(&mut self, truncated: bool) {
        self.anomalies.truncated_last_line = truncated;
    }

    /// What counting a run needs now.
    fn ctx(&self, window: Option<(i64, Option<i64>)>) -> Ctx {
        Ctx {
            window,
            last_recv_ms: self.last_recv_ms,
            max_pending_ms: self.scenario.slo.max_pending_s * 1000.0,
            within_ms: self.scenario.slo.start_within_s * 1000.0,
        }
    }

    pub(super) fn push(&mut self, line: LogLine) {
        self.lines += 1;
        let recv = line.recv_ms();
        if !in_run_span(self.run.recv_ms, recv) {
            self.anomalies.lines_out_of_span += 1;
            return;
        }
        if recv < self.last_recv_ms {
            self.anomalies.out_of_order_lines += 1;
        }
        self.last_recv_ms = self.last_recv_ms.max(recv);
        match line {
            LogLine::RunStarted(_) => self.anomalies.notes.push(format!(
                "line {}: a second run_started line, ignored",
                self.lines
            )),
            LogLine::Phase { recv_ms, phase } => self.push_phase(recv_ms, phase),
            LogLine::CronJobCreated(c) => {
                if !self.cronjobs.contains_key(&c.name) {
                    self.fleet.cronjob(&c);
                    self.cronjobs.insert(c.name.clone(), c);
                }
            }
            LogLine::Job(job) => {
                let ctx = self.ctx(self.phases.window_now());
                let (tally, fleet) = (&mut self.tally, &mut self.fleet);
                self.runs.push_job(job, &mut |e| {
                    tally.take(&e, &ctx);
                    fleet.take(&e, &ctx);
                });
            }
            LogLine::Pod(pod) => {
                let ctx = self.ctx(self.phases.window_now());
                let (tally, fleet) = (&mut self.tally, &mut self.fleet);
                self.runs.push_pod(pod, &mut |e| {
                    tally.take(&e, &ctx);
                    fleet.take(&e, &ctx);
                });
            }
            LogLine::Node(node) => {
                let ready = node.ready && !node.deleted;
                if ready {
                    self.nodes_seen_ready.insert(node.name.clone());
                }
                self.node_ready.insert(node.name, ready);
            }
            LogLine::Event(event) => {
                self.fleet.event(&event);
                *self
                    .anomalies
                    .event_reasons
                    .entry(event.reason)
                    .or_insert(0) += 1;
            }
            LogLine::WatchError { .. } => self.anomalies.watch_errors += 1,
            // find-limit's steps: windows are set by the caller.
            LogLine::Step { .. } => {}
            LogLine::Fault {
                recv_ms,
                kind,
                phase,
                detail,
            } => faults::push_fault(&mut self.faults, kind, phase, recv_ms, detail),
            LogLine::Resources {
                recv_ms,
                source,
                readings,
            } => self.resources.push_line(recv_ms, source, &readings),
            LogLine::RunEnded {
                reason, harness, ..
            } => {
                self.end_reason = Some(reason);
                self.harness = harness;
            }
        }
    }

    fn push_phase(&mut self, recv_ms: i64, phase: Phase) {
        match phase {
            Phase::Measure => {
                let m = *self.phases.measure_ms.get_or_insert(recv_ms);
                if self.phases.window_override.is_none() {
                    self.tally.pending.start_at(m);
                }
            }
            Phase::Drain => {
                self.phases.drain_ms.get_or_insert(recv_ms);
            }
            Phase::Apply | Phase::Warmup | Phase::Teardown => {}
        }
    }
}

impl Analyzer {
    /// Computes the results from the state gathered.
    pub(super) fn finish(mut self) -> Result<Results, AnalyzeError> {
        let window = self.phases.window(self.last_recv_ms);
        if window.is_none() {
            self.anomalies
                .notes
                .push("the log has no measure phase: no run counts toward the verdict".into());
        }
        let facts = self.flush_runs(window.as_ref());
        let (warned, bad_notes) = (self.fleet.warned(), self.fleet.bad_notes());
        let settled = self.fleet.settle(window.as_ref())?;
        let (counts, expected) = self.counts(window.as_ref(), &settled)?;
        let throughput = self.throughput(window.as_ref());
        let nodes = self.nodes(window.as_ref());
        let node_balance = window
            .as_ref()
            .and_then(|_| self.tally.node_ticks.summarize(&self.nodes_seen_ready));
        let stages = self.tally.stages();
        self.anomalies.negative_latencies = negatives(&stages);
        let faults = self.fault_windows(facts);
        let interrupted = self.end_reason != Some(EndReason::Completed);
        let verdict = self.judge(&counts, &expected, &throughput, &stages, interrupted);
        let fleet = self.fleet.results(
            settled,
            warned,
            &self.cronjobs,
            &counts,
            &expected,
            window.as_ref(),
            &self.tally.all,
            interrupted,
        );
        self.fleet.notes(&mut self.anomalies, bad_notes);
        let FleetResults {
            policies,
            classes,
            zones,
            herd,
        } = fleet;
        let run = self.run;
        let resources = self.resources.finish(run.recv_ms, window.as_ref());
        Ok(Results {
            schema_version: SCHEMA_VERSION,
            run: RunInfo {
                run_id: run.run_id,
                namespace: run.namespace,
                scenario_name: self.scenario.name.clone(),
                scenario: run.scenario,
                cronbench_version: run.cronbench_version,
                context: run.context,
                server_version: run.server_version,
                nodes: run.nodes,
                host: run.host,
                started_ms: run.recv_ms,
                last_recv_ms: self.last_recv_ms,
                end_reason: self.end_reason,
                harness: self.harness,
                interrupted,
                lines: self.lines,
            },
            slo: self.scenario.slo,
            window,
            counts,
            stages,
            throughput,
            nodes,
            node_balance,
            verdict,
            anomalies: self.anomalies,
            faults,
            policies,
            classes,
            zones,
            herd,
            resources,
            components: None,
        })
    }

    /// The verdict. Ticks a policy skipped on purpose are not runs that should have started;
    /// a partial window (Ctrl-C, an error, a killed harness) can look healthy but never passes.
    fn judge(
        &self,
        counts: &Counts,
        expected: &Expected,
        throughput: &Throughput,
        stages: &[StageStats],
        interrupted: bool,
    ) -> Verdict {
        let skipped = expected.skipped_while_active + expected.skipped_past_deadline;
        let mut v = verdict(&self.scenario.slo, counts, skipped, throughput, stages);
        v.pass &= !interrupted;
        v
    }

    /// Hands the runs still held to the tally, and keeps what the fault windows read.
    fn flush_runs(&mut self, window: Option<&Window>) -> FaultFacts {
        let ctx = self.ctx(window.map(|w| (w.start_ms, Some(w.end_ms))));
        let with_faults = !self.faults.is_empty();
        let mut facts = FaultFacts::default();
        let (tally, fleet) = (&mut self.tally, &mut self.fleet);
        tally.log_ended();
        let runs = std::mem::replace(&mut self.runs, Runs::new(false));
        let odd = runs.finish(&mut |e| {
            tally.take(&e, &ctx);
            fleet.take(&e, &ctx);
            if with_faults {
                keep_fact(&mut facts, &e, ctx.last_recv_ms);
            }
        });
        add_oddities(&mut self.anomalies, odd);
        facts
    }

    /// The counts, with the expected ticks' fates (missed leaves out the policies' skips).
    fn counts(
        &mut self,
        window: Option<&Window>,
        settled: &Settled,
    ) -> Result<(Counts, Expected), AnalyzeError> {
        let t = &mut self.tally;
        let mut counts = Counts {
            cronjobs: self.cronjobs.len() as u64,
            pods: t.pods,
            observed: t.observed,
            observed_total: t.observed_total,
            started: t.started,
            started_within_slo: t.started_within_slo,
            completed: t.completed,
            failed: t.failed,
            stuck_pods: t.stuck_pods,
            duplicates: t.duplicates,
            duplicate_runs: t.duplicate_runs(),
            ..Counts::default()
        };
        let mut e = Expected::default();
        if let Some(w) = window {
            let (tally, groups) = (&self.tally, self.fleet.groups());
            e = expected_runs(&self.cronjobs, w, |cj, t| {
                let fate = if tally.observed_in_window(&cj.name, t) {
                    Fate::Observed
                } else {
                    settled.fate_of_missing(cj, t)
                };
                groups.add_tick(cj, fate);
                fate
            })?;
            counts.expected = e.expected;
            counts.missed = e.missed;
            counts.missed_runs = std::mem::take(&mut e.missed_runs);
        }
        counts.unexpected = counts.observed.saturating_sub(e.matched);
        Ok((counts, e))
    }

    fn throughput(&mut self, window: Option<&Window>) -> Throughput {
        let mut throughput = Throughput::default();
        if let Some(w) = window {
            let (series, mean, peak_min, peak_sec) = self.tally.all.summarize(w);
            throughput.started_in_window = self.tally.all.total;
            throughput.started_per_minute = series;
            throughput.started_per_minute_mean = mean;
            throughput.peak_per_minute = peak_min;
            throughput.peak_per_second = peak_sec;
        }
        let from = window.map_or(self.run.recv_ms, |w| w.start_ms);
        let pending = std::mem::take(&mut self.tally.pending);
        throughput.pending = pending.series(from, self.last_recv_ms);
        throughput.peak_pending = throughput
            .pending
            .iter()
            .map(|p| p.pending)
            .max()
            .unwrap_or(0);
        throughput
    }

    fn nodes(&self, window: Option<&Window>) -> Vec<NodeStats> {
        let Some(w) = window else {
            return Vec::new();
        };
        self.tally
            .per_node
            .iter()
            .map(|(node, b)| {
                let (series, mean, peak_min, peak_sec) = b.summarize(w);
                NodeStats {
                    node: node.to_string(),
                    started: b.total,
                    started_per_minute_mean: mean,
                    started_per_minute: series,
                    peak_per_minute: peak_min,
                    peak_per_second: peak_sec,
                    ready_at_end: self.node_ready.get(node).copied(),
                }
            })
            .collect()
    }

    /// The game-day fault windows of the log, with what each did to the schedule.
    fn fault_windows(&self, facts: FaultFacts) -> Vec<FaultWindow> {
        if self.faults.is_empty() {
            return Vec::new();
        }
        let inputs = Inputs {
            slo: &self.scenario.slo,
            cronjobs: self
                .cronjobs
                .iter()
                .map(|(n, c)| {
                    let zoned = (c.schedule.as_str(), c.time_zone.as_deref());
                    (n.as_str(), zoned, c.recv_ms)
                })
                .collect(),
            runs: facts
                .runs
                .iter()
                .map(|(c, t, f)| ((c.as_str(), *t), *f))
                .collect(),
            pods: facts.pods,
            last_ms: self.last_recv_ms,
        };
        faults::windows(&self.faults, &inputs, |(schedule, zone), w| {
            window_ticks(schedule, zone, w).ok()
        })
    }
}

fn keep_fact(facts: &mut FaultFacts, e: &RunEvent<'_>, last_ms: i64) {
    match e {
        RunEvent::Over(r) => facts.runs.push((
            r.cronjob.to_string(),
            r.scheduled_ms,
            RunFact {
                started_ms: r.started_ms(),
                jobs: r.jobs,
            },
        )),
        RunEvent::PodOver(p) => facts.pods.push(PodFact {
            first_seen_ms: p.first_seen_ms,
            started: p.started_ms.is_some(),
            pending_until_ms: p.unstarted_pending_until(last_ms),
        }),
        RunEvent::Started { .. } | RunEvent::Duplicate { .. } => {}
    }
}

fn add_oddities(a: &mut Anomalies, odd: Oddities) {
    a.bad_timestamps += odd.bad_timestamps;
    a.schedule_name_mismatch += odd.schedule_name_mismatch;
    a.jobs_without_schedule += odd.jobs_without_schedule;
    a.orphan_pods += odd.orphan_pods;
}

fn negatives(stages: &[StageStats]) -> Vec<NegativeCount> {
    stages
        .iter()
        .filter(|s| s.negatives > 0)
        .map(|s| NegativeCount {
            stage: s.stage,
            clock: s.clock,
            count: s.negatives,
        })
        .collect()
}

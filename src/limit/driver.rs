//! Runs the search on a cluster: one namespace and one event log for the whole search, the
//! load brought to each step's CronJob count (created or deleted), each step held for whole
//! minutes, judged from the log, and `limit.json` rewritten after every step.

use std::path::PathBuf;
use std::time::Duration;

use futures::{StreamExt, stream};
use k8s_openapi::api::batch::v1::CronJob;
use kube::api::{Api, DeleteParams};

use super::confirm::Confirmation;
use super::metrics::Sources;
use super::plan::Plan;
use super::report::{DrainRecord, LimitReport, StepRecord};
use super::search::{Action, Observation, Outcome, Search, State};
use super::step::{
    Criteria, Ledger, LogTail, MINUTE_MS, StepCounts, StepVerdict, judge, keep_draining,
    window_start,
};
use crate::analyze::{self, AnalyzeError};
use crate::call;
use crate::cluster::ClusterTarget;
use crate::observe::now_ms;
use crate::results::{Clock, Results, Stage};
use crate::scenario::{CronJobDef, Scenario, ScenarioError};
use crate::schema::{EndReason, LogLine};
use crate::session::{
    NamespaceOwner, Opening, Preflight, RunDir, RunFile, RunKind, Session, SessionError,
};
use crate::workload::{self, Pace, WorkloadError};

#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Cluster(crate::cluster::ClusterError),
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error(transparent)]
    Analyze(#[from] AnalyzeError),
    /// Deleting CronJobs, reading the log, writing `limit.json` or `sweep.json`.
    #[error(transparent)]
    Call(#[from] call::CallError),
    #[error(transparent)]
    Prometheus(#[from] crate::promql::PromError),
    #[error("invalid option: {0}")]
    Option(String),
}

/// What to search and where.
#[derive(Debug, Clone)]
pub struct LimitOptions {
    pub scenario: PathBuf,
    pub target: ClusterTarget,
    /// Default `runs/<search id>`.
    pub out: Option<PathBuf>,
    pub max_minutes: f64,
    pub precision: f64,
    /// First step's CronJobs; default the scenario's target jobs per minute.
    pub start: Option<u32>,
    pub factor: f64,
    pub max_cronjobs: u32,
    /// Whole minutes each step is judged on (at least 2).
    pub hold_minutes: u32,
    pub start_within_s: f64,
    pub min_on_time_ratio: f64,
    /// Scrape the components' `/metrics` directly (the local cluster's).
    pub scrape: bool,
    /// Also read the same evidence from this Prometheus by PromQL.
    pub prometheus: Option<String>,
    /// `--confirm`: after the search, hold the limit and 1.15x it for this many whole minutes
    /// each (at least 2).
    pub confirm_minutes: Option<u32>,
}

impl Default for LimitOptions {
    fn default() -> Self {
        LimitOptions {
            scenario: PathBuf::new(),
            target: ClusterTarget::default(),
            out: None,
            max_minutes: 15.0,
            precision: 0.10,
            start: None,
            factor: 2.0,
            max_cronjobs: 5000,
            hold_minutes: 2,
            start_within_s: 30.0,
            min_on_time_ratio: 0.95,
            scrape: true,
            prometheus: None,
            confirm_minutes: None,
        }
    }
}

/// How a search ended.
#[derive(Debug)]
pub struct LimitOutcome {
    pub dir: PathBuf,
    pub report: LimitReport,
    pub end: EndReason,
    pub error: Option<LimitError>,
    pub leftover: Option<String>,
}

/// Margin between the load being in place and the window's first tick.
const SETTLE_MS: i64 = 5_000;
/// Margin for the log to catch up with what happened before a step is judged.
const CATCH_UP_MS: i64 = 2_000;

fn defs(scenario: &Scenario, n: u32) -> Vec<CronJobDef> {
    (0..n)
        .map(|i| CronJobDef {
            defined_in: None,
            name: format!("{}{i:05}", scenario.load.name_prefix),
            schedule: "* * * * *".into(),
            time_zone: None,
            command: scenario.load.command.clone(),
            resources: scenario.load.resources.clone().into(),
            class: None,
        })
        .collect()
}

/// Runs a search end to end. Errors before anything was created are `Err`; later ones end
/// the search early, keep what it learned, and are reported in [`LimitOutcome::error`].
pub async fn find_limit(opts: &LimitOptions) -> Result<LimitOutcome, LimitError> {
    if !(opts.precision > 0.0 && opts.factor > 1.0 && opts.max_minutes > 0.0) {
        return Err(LimitError::Option(
            "--precision and --max-minutes must be > 0, --factor > 1".into(),
        ));
    }
    if opts.confirm_minutes.is_some_and(|m| m < 2) {
        return Err(LimitError::Option(
            "--confirm needs at least 2 whole minutes: a step is judged on whole minutes of ticks, as the search's are".into(),
        ));
    }
    let mut scenario = every_minute_scenario(opts)?;
    let prometheus = opts
        .prometheus
        .as_deref()
        .map(crate::promql::Prometheus::new)
        .transpose()?;
    let started = tokio::time::Instant::now();
    // Every CronJob of a search is the same but for its name: one stands for all.
    let template = defs(&scenario, 1);
    let cluster = Preflight::check(&opts.target, &mut scenario, &opts.scenario, &template).await?;
    let session = Session::open(
        cluster,
        Opening {
            id: RunKind::Limit.new_id(),
            out: opts.out.as_deref(),
            scenario_file: Some(&opts.scenario),
            scenario: &scenario,
            namespace: NamespaceOwner::Session,
            keep: false,
        },
    )
    .await?;
    let plan = Plan::new(opts, &scenario);
    let mut search = Search::new(plan.config);
    let sources = Sources {
        scrape: opts.scrape,
        endpoints: crate::metrics::local_endpoints(session.context()),
        prometheus,
    };
    let mut report = plan.report(&session, &scenario, &search, &sources);
    plan.announce(&session);
    let ctx = Ctx {
        session: &session,
        scenario: &scenario,
        tail: LogTail::new(&session.dir().file(RunFile::Events)),
        sources: &sources,
        criteria: plan.criteria,
        hold_minutes: plan.hold_minutes,
        started,
        budget: Duration::from_secs_f64(opts.max_minutes * 60.0),
    };
    let (end, error) = session
        .drive(
            "tearing down; limit.json keeps the steps finished so far",
            ctx.run(&mut search, &mut report, opts.confirm_minutes),
        )
        .await;
    if end != EndReason::Completed {
        // An interruption during the confirmation leaves the search's own outcome as it was.
        let outcome = match search.state {
            State::Done(o) => o,
            _ => search.interrupt(),
        };
        ended_early(&mut report, outcome, error.as_ref());
    }
    let closed = session.close(end, std::future::ready(())).await?;
    report.state = search.state.clone();
    report.wall_s = started.elapsed().as_secs_f64();
    report.summarize(search.bounds());
    write_report(&closed.dir, &report)?;
    Ok(LimitOutcome {
        dir: closed.dir.path().to_path_buf(),
        report,
        end,
        error,
        leftover: closed.leftover,
    })
}

/// The scenario's load as every-minute CronJobs without job definitions: a step's CronJob
/// count is then its offered jobs per minute.
fn every_minute_scenario(opts: &LimitOptions) -> Result<Scenario, LimitError> {
    let mut scenario = Scenario::from_file(&opts.scenario)?;
    scenario.load.schedule = "* * * * *".into();
    scenario.load.jobs_dir = None;
    Ok(scenario)
}

/// Records why a search that did not complete ended, with the outcome it had come to.
fn ended_early(report: &mut LimitReport, outcome: Outcome, error: Option<&LimitError>) {
    report.outcome = Some(outcome);
    report.notes.push(match error {
        Some(e) => format!("the search ended early: {e}"),
        None => "the search was interrupted".into(),
    });
}

/// Writes `limit.json` (whole or not at all).
pub fn write_report(dir: &RunDir, report: &LimitReport) -> Result<(), LimitError> {
    Ok(dir.write_json(RunFile::Limit, report)?)
}

/// Reads what the event log gained since the last read and asks the ledger `f`.
fn read_ledger<T>(tail: &LogTail, f: impl FnOnce(&Ledger) -> T) -> Result<T, LimitError> {
    Ok(tail
        .with_ledger(f)
        .map_err(call::io(format!("read {}", tail.path().display())))?)
}

async fn sleep_until_ms(t_ms: i64) {
    let wait = t_ms - now_ms();
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
}

/// The times of one step: the window it is judged on and when it is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    start_ms: i64,
    end_ms: i64,
    /// Once the last tick's on-time deadline has passed (plus time for the log to catch up),
    /// before the window's end: the next step's load is then in place for the next tick
    /// instead of a minute later.
    judge_ms: i64,
}

impl Window {
    /// The window starting at the first whole minute after `now_ms` and the settling margin.
    fn after(now_ms: i64, hold_minutes: u32, criteria: &Criteria) -> Window {
        let start_ms = window_start(now_ms, SETTLE_MS);
        let end_ms = start_ms + i64::from(hold_minutes) * MINUTE_MS;
        let judge_ms =
            (end_ms - MINUTE_MS + (criteria.start_within_s * 1000.0) as i64 + CATCH_UP_MS)
                .min(end_ms);
        Window {
            start_ms,
            end_ms,
            judge_ms,
        }
    }
}

fn timestamp(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| "?".into(), |t| t.to_string())
}

/// Where the search stands between steps: the load in place and whether the last step held.
#[derive(Debug, Clone, Copy, Default)]
struct Load {
    step: u32,
    cronjobs: u32,
    previous_failed: bool,
}

/// A step's judgement from the log.
struct Judged {
    counts: StepCounts,
    results: Results,
    p99: Option<u64>,
    verdict: StepVerdict,
}

struct Ctx<'a> {
    session: &'a Session,
    scenario: &'a Scenario,
    tail: LogTail,
    sources: &'a Sources,
    criteria: Criteria,
    hold_minutes: u32,
    started: tokio::time::Instant,
    budget: Duration,
}

impl Ctx<'_> {
    fn remaining(&self) -> Duration {
        self.budget.saturating_sub(self.started.elapsed())
    }

    /// One step from its load change to its judgement: the hold, less the part after the
    /// judgement, plus the alignment to the next tick (usually under 30 s; a full minute when
    /// creating the load misses the boundary, so the budget can overrun by up to a minute).
    fn step_estimate(&self) -> Duration {
        Duration::from_secs(u64::from(self.hold_minutes) * 60 + 30)
    }

    /// The search, then the confirmation when asked for.
    async fn run(
        &self,
        search: &mut Search,
        report: &mut LimitReport,
        confirm_minutes: Option<u32>,
    ) -> Result<(), LimitError> {
        let mut load = Load::default();
        self.search(&mut load, search, report).await?;
        match confirm_minutes {
            Some(minutes) => self.confirm(&mut load, minutes, report).await,
            None => Ok(()),
        }
    }

    /// Drives [`Search`] (the state machine that decides each step's load) on the cluster,
    /// writing `limit.json` after every step and at the end.
    async fn search(
        &self,
        load: &mut Load,
        search: &mut Search,
        report: &mut LimitReport,
    ) -> Result<(), LimitError> {
        let mut action = search.begin(self.remaining(), self.step_estimate());
        loop {
            let n = match action {
                Action::Hold { cronjobs } => cronjobs,
                Action::Finish(o) => {
                    report.outcome = Some(o);
                    return self.save(search, report);
                }
            };
            let (record, obs) = self.hold(load, n, self.hold_minutes).await?;
            report.steps.push(record);
            action = search.step(obs);
            self.save(search, report)?;
        }
    }

    /// Holds the search's limit, then 1.15x it, for `minutes` each with [`Ctx::hold`] (the
    /// search's own step: load change, drain after a failure, window, judgement), writing
    /// `limit.json` after each. Without a limit there is nothing to hold, and the report says so.
    async fn confirm(
        &self,
        load: &mut Load,
        minutes: u32,
        report: &mut LimitReport,
    ) -> Result<(), LimitError> {
        let limit = report.outcome.and_then(|o| o.sustainable);
        let mut confirmation = Confirmation::planned(minutes, limit);
        if limit.is_none() {
            eprintln!("confirmation: not run, the search found no load that held");
        }
        self.save_confirmation(report, &confirmation)?;
        for (side, n) in Confirmation::loads(limit) {
            eprintln!(
                "confirmation: {} ({n} CronJobs) for {minutes} min; it must {}hold",
                side.label(),
                if side.must_hold() { "" } else { "not " }
            );
            let (record, _) = self.hold(load, n, minutes).await?;
            confirmation.push(side, record, self.started.elapsed().as_secs_f64());
            self.save_confirmation(report, &confirmation)?;
        }
        Ok(())
    }

    fn save_confirmation(
        &self,
        report: &mut LimitReport,
        confirmation: &Confirmation,
    ) -> Result<(), LimitError> {
        report.confirmation = Some(confirmation.clone());
        report.wall_s = self.started.elapsed().as_secs_f64();
        write_report(self.session.dir(), report)
    }

    /// Brings the report up to the search's state and writes it.
    fn save(&self, search: &Search, report: &mut LimitReport) -> Result<(), LimitError> {
        report.state = search.state.clone();
        report.wall_s = self.started.elapsed().as_secs_f64();
        report.summarize(search.bounds());
        write_report(self.session.dir(), report)
    }

    /// One step: the load set to `n` CronJobs, the previous overload drained, `minutes` whole
    /// minutes waited out and judged.
    async fn hold(
        &self,
        load: &mut Load,
        n: u32,
        minutes: u32,
    ) -> Result<(StepRecord, Observation), LimitError> {
        load.step += 1;
        let step = load.step;
        self.set_load(load.cronjobs, n).await?;
        load.cronjobs = n;
        self.session.log().send(LogLine::Step {
            recv_ms: now_ms(),
            step,
            cronjobs: n,
        });
        let drain = if load.previous_failed {
            // Let the overload of the last step drain before judging a lower load.
            Some(self.drain(n).await?)
        } else {
            None
        };
        let window = Window::after(now_ms(), minutes, &self.criteria);
        eprintln!(
            "step {step}: {n} CronJobs; window {} .. {}",
            timestamp(window.start_ms),
            timestamp(window.end_ms),
        );
        sleep_until_ms(window.start_ms).await;
        let before = self.sources.take(self.session.client()).await;
        sleep_until_ms(window.judge_ms).await;
        let after = self.sources.take(self.session.client()).await;
        let j = self.judge(n, &window)?;
        report_step(step, &j);
        let obs = Observation {
            cronjobs: n,
            sustainable: j.verdict.sustainable,
            achieved_per_minute: Some(j.counts.achieved_per_minute),
            remaining: self.remaining(),
            next_step: self.step_estimate(),
        };
        load.previous_failed = !j.verdict.sustainable;
        let (metrics, metrics_prometheus) = before.until(&after);
        let mut record =
            StepRecord::from_results(step, n, j.counts, &j.results, metrics, j.verdict);
        record.metrics_prometheus = metrics_prometheus;
        record.drain = drain;
        Ok((record, obs))
    }

    /// Judges the first `n` CronJobs' runs in `window` from the log as read now.
    fn judge(&self, n: u32, window: &Window) -> Result<Judged, LimitError> {
        let names: Vec<String> = defs(self.scenario, n).into_iter().map(|d| d.name).collect();
        let counts = read_ledger(&self.tail, |l| {
            l.counts(
                &names,
                (window.start_ms, window.end_ms),
                window.judge_ms,
                self.criteria.start_within_s,
            )
        })?;
        let log_path = self.session.dir().file(RunFile::Events);
        let results = analyze::analyze_file_window(&log_path, window.start_ms, window.end_ms)?;
        let p99 = results
            .stages
            .iter()
            .find(|s| s.stage == Stage::ScheduleToStarted && s.clock == Clock::Client)
            .and_then(|s| s.p99_ms);
        let verdict = judge(&counts, p99, &self.criteria);
        Ok(Judged {
            counts,
            results,
            p99,
            verdict,
        })
    }

    /// Waits until the last tick due for its on-time deadline had its runs of the first `n`
    /// CronJobs started on time: the controllers caught up with an overload. Without it, the
    /// next (lower) step would be judged on the previous one's backlog. [`keep_draining`]
    /// decides how long.
    async fn drain(&self, n: u32) -> Result<DrainRecord, LimitError> {
        let names: Vec<String> = defs(self.scenario, n).into_iter().map(|d| d.name).collect();
        let started = tokio::time::Instant::now();
        let within_ms = (self.criteria.start_within_s * 1000.0) as i64;
        let mut history: Vec<(Duration, u64)> = Vec::new();
        loop {
            let now = now_ms();
            let tick = (now - within_ms - CATCH_UP_MS).div_euclid(MINUTE_MS) * MINUTE_MS;
            let c = read_ledger(&self.tail, |l| {
                l.counts(&names, (tick, tick + 1), now, self.criteria.start_within_s)
            })?;
            let waited = started.elapsed();
            if c.started_on_time + self.criteria.max_backlog >= c.expected {
                return Ok(DrainRecord {
                    waited_s: waited.as_secs_f64(),
                    drained: true,
                });
            }
            history.push((waited, c.started_on_time));
            if !keep_draining(&history) {
                eprintln!(
                    "the backlog did not drain within {:.0} s ({} of {} runs of the last tick on time); judging anyway",
                    waited.as_secs_f64(),
                    c.started_on_time,
                    c.expected
                );
                return Ok(DrainRecord {
                    waited_s: waited.as_secs_f64(),
                    drained: false,
                });
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }

    /// Creates or deletes CronJobs so that exactly the first `to` exist.
    async fn set_load(&self, from: u32, to: u32) -> Result<(), LimitError> {
        if to > from {
            let objects = defs(self.scenario, to)
                .into_iter()
                .skip(from as usize)
                .map(|d| workload::cronjob(self.scenario, &d, self.session.id()))
                .collect::<Result<Vec<_>, _>>()?;
            let pace = Pace {
                qps: self.scenario.apply.qps,
                burst: self.scenario.apply.burst,
                concurrency: self.scenario.apply.concurrency,
            };
            let (client, ns) = (self.session.client(), self.session.id());
            workload::create_all(client, ns, objects, pace, |cj| {
                self.session.log().send(crate::observe::cronjob_created(cj));
            })
            .await?;
        } else if to < from {
            let api: Api<CronJob> =
                Api::namespaced(self.session.client().clone(), self.session.id());
            let names: Vec<String> = defs(self.scenario, from)
                .into_iter()
                .skip(to as usize)
                .map(|d| d.name)
                .collect();
            let api = &api;
            let mut deletes = stream::iter(names)
                .map(|name| async move {
                    match api.delete(&name, &DeleteParams::background()).await {
                        Ok(_) => Ok(()),
                        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                        Err(source) => Err(call::api(format!("deleting CronJob {name}"))(source)),
                    }
                })
                .buffer_unordered(self.scenario.apply.concurrency.max(1));
            while let Some(r) = deletes.next().await {
                r?;
            }
        }
        Ok(())
    }
}

/// The step's figures on the terminal.
fn report_step(step: u32, j: &Judged) {
    let c = &j.counts;
    eprintln!(
        "step {step}: offered {:.1}/min, on time {:.1}/min, started {:.1}/min, backlog {:?}, p99 schedule->started {} -> {}",
        c.offered_per_minute,
        c.achieved_per_minute,
        c.started_per_minute,
        c.backlog.iter().map(|b| b.backlog).collect::<Vec<_>>(),
        j.p99
            .map_or("n/a".into(), |p| format!("{:.1} s", p as f64 / 1000.0)),
        if j.verdict.sustainable {
            "sustainable"
        } else {
            "unsustainable"
        },
    );
}

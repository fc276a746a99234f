//! Runs the search on a cluster: one namespace and one event log for the whole search, the
//! load brought to each step's CronJob count (created or deleted), each step held for whole
//! minutes, judged from the log, and `limit.json` rewritten after every step.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::{StreamExt, stream};
use k8s_openapi::api::batch::v1::CronJob;
use kube::api::{Api, DeleteParams};

use super::metrics::{self, Component};
use super::report::{DrainRecord, LIMIT_SCHEMA_VERSION, LimitReport, StepRecord};
use super::search::{Action, Observation, Search, SearchConfig};
use super::step::{Criteria, Ledger, LogTail, MINUTE_MS, judge, keep_draining, window_start};
use crate::analyze::{self, AnalyzeError};
use crate::call;
use crate::cluster::preflight::{self, PreflightError};
use crate::observe::{self, LogSender, Observer, now_ms};
use crate::results::{Clock, Stage};
use crate::scenario::{CronJobDef, Scenario, ScenarioError};
use crate::schema::{EndReason, LogLine};
use crate::workload::{self, Pace, WorkloadError};

#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    #[error(transparent)]
    Cluster(crate::cluster::ClusterError),
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error(transparent)]
    Log(#[from] observe::LogError),
    #[error(transparent)]
    Analyze(#[from] AnalyzeError),
    #[error(transparent)]
    Call(#[from] call::CallError),
    #[error("invalid option: {0}")]
    Option(String),
}

/// What to search and where.
#[derive(Debug, Clone)]
pub struct LimitOptions {
    pub scenario: PathBuf,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub allow_context: Vec<String>,
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
}

impl Default for LimitOptions {
    fn default() -> Self {
        LimitOptions {
            scenario: PathBuf::new(),
            kubeconfig: None,
            context: None,
            allow_context: Vec::new(),
            out: None,
            max_minutes: 15.0,
            precision: 0.10,
            start: None,
            factor: 2.0,
            max_cronjobs: 5000,
            hold_minutes: 2,
            start_within_s: 30.0,
            min_on_time_ratio: 0.95,
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
            name: format!("{}{i:05}", scenario.load.name_prefix),
            schedule: "* * * * *".into(),
            command: scenario.load.command.clone(),
            resources: scenario.load.resources.clone(),
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
    let mut scenario = Scenario::from_file(&opts.scenario)?;
    scenario.load.schedule = "* * * * *".into();
    scenario.load.jobs_dir = None;
    let started = tokio::time::Instant::now();
    let budget = Duration::from_secs_f64(opts.max_minutes * 60.0);

    let (client, context) =
        preflight::connect(opts.kubeconfig.clone(), opts.context.clone()).await?;
    preflight::check_context(&context, &opts.allow_context)?;
    crate::cluster::adapt_scenario(&context, &mut scenario);
    let facts = preflight::check_cluster(&client, &context, &scenario.load.node_selector).await?;

    let id = crate::run::run_id().replacen("cronbench-", "cronbench-limit-", 1);
    let dir = crate::run::open_run_dir(opts.out.as_deref(), &id, &opts.scenario)?;
    let log_path = dir.join("events.jsonl");
    let (log, writer) = observe::log::start(&log_path)?;
    let started_ms = now_ms();
    log.send(crate::run::started_line(&id, &scenario, &context, &facts));

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
    let hold_minutes = opts.hold_minutes.max(2);
    let mut search = Search::new(config);
    let endpoints = metrics::local_endpoints(&context);
    let mut report = LimitReport {
        schema_version: LIMIT_SCHEMA_VERSION,
        search_id: id.clone(),
        scenario_name: scenario.name.clone(),
        context: context.clone(),
        server_version: facts.server_version.clone(),
        nodes: facts.ready_nodes,
        started_ms,
        wall_s: 0.0,
        max_minutes: opts.max_minutes,
        config,
        criteria,
        hold_minutes,
        state: search.state.clone(),
        outcome: None,
        limit_jobs_per_minute: None,
        interval: [None, None],
        target_jobs_per_minute: scenario.slo.target_jobs_per_minute,
        pass: None,
        curve: Vec::new(),
        bottleneck: None,
        steps: Vec::new(),
        notes: Vec::new(),
    };
    if endpoints.is_empty() {
        report.notes.push(format!(
            "`{context}` is not a local cronbench cluster: controller-manager and scheduler metrics were not scraped"
        ));
    }
    eprintln!(
        "find-limit {id} on `{context}` ({}, {} Ready nodes): start {} CronJobs, x{}, precision {}, budget {} min; writing {}",
        facts.server_version,
        facts.ready_nodes,
        config.start,
        config.factor,
        config.precision,
        opts.max_minutes,
        dir.display()
    );

    workload::create_namespace(&client, &id).await?;
    let observer = Observer::start(&client, &id, &id, &log);

    let ctx = Ctx {
        client: &client,
        ns: &id,
        scenario: &scenario,
        log: &log,
        log_path: &log_path,
        tail: LogTail::new(&log_path),
        dir: &dir,
        endpoints: &endpoints,
        criteria,
        hold_minutes,
        started,
        budget,
    };
    let body = ctx.search(&mut search, &mut report);
    let (end, error) = tokio::select! {
        r = body => match r {
            Ok(()) => (EndReason::Completed, None),
            Err(e) => (EndReason::Error, Some(e)),
        },
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\ninterrupted: tearing down; limit.json keeps the steps finished so far");
            (EndReason::Interrupted, None)
        }
    };
    if end != EndReason::Completed {
        report.outcome = Some(search.interrupt());
        report.notes.push(match &error {
            Some(e) => format!("the search ended early: {e}"),
            None => "the search was interrupted".into(),
        });
    }
    observer.stop();
    let leftover = crate::run::teardown(&client, &id).await;
    log.send(LogLine::RunEnded {
        recv_ms: now_ms(),
        reason: end,
    });
    drop(log);
    match writer.await {
        Ok(r) => {
            r?;
        }
        Err(e) => {
            return Err(call::other("finish the event log")(e).into());
        }
    }
    report.state = search.state.clone();
    report.wall_s = started.elapsed().as_secs_f64();
    report.summarize(search.bounds());
    write_report(&dir, &report)?;
    Ok(LimitOutcome {
        dir,
        report,
        end,
        error,
        leftover,
    })
}

/// Writes `limit.json` (to a temporary file first, so a reader never sees half of it).
pub fn write_report(dir: &Path, report: &LimitReport) -> Result<(), LimitError> {
    write_json(dir, "limit.json", report)
}

/// Writes `dir/name` as pretty JSON through a temporary file and a rename.
pub(super) fn write_json(
    dir: &Path,
    name: &str,
    value: &impl serde::Serialize,
) -> Result<(), LimitError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let json = serde_json::to_vec_pretty(value)
        .map_err(call::other(format!("serialize {}", path.display())))?;
    std::fs::write(&tmp, json).map_err(call::io(format!("write {}", tmp.display())))?;
    std::fs::rename(&tmp, &path).map_err(call::io(format!("write {}", path.display())))?;
    Ok(())
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

struct Ctx<'a> {
    client: &'a kube::Client,
    ns: &'a str,
    scenario: &'a Scenario,
    log: &'a LogSender,
    log_path: &'a Path,
    tail: LogTail,
    dir: &'a Path,
    endpoints: &'a std::collections::BTreeMap<Component, String>,
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

    async fn search(
        &self,
        search: &mut Search,
        report: &mut LimitReport,
    ) -> Result<(), LimitError> {
        let mut current = 0u32;
        let mut action = search.begin(self.remaining(), self.step_estimate());
        let mut previous_failed = false;
        let mut step = 0u32;
        loop {
            let n = match action {
                Action::Hold { cronjobs } => cronjobs,
                Action::Finish(o) => {
                    report.outcome = Some(o);
                    report.state = search.state.clone();
                    report.wall_s = self.started.elapsed().as_secs_f64();
                    report.summarize(search.bounds());
                    write_report(self.dir, report)?;
                    return Ok(());
                }
            };
            step += 1;
            self.set_load(current, n).await?;
            current = n;
            self.log.send(LogLine::Step {
                recv_ms: now_ms(),
                step,
                cronjobs: n,
            });
            let drain = if previous_failed {
                // Let the overload of the last step drain before judging a lower load.
                Some(self.drain(n).await?)
            } else {
                None
            };
            let start_ms = window_start(now_ms(), SETTLE_MS);
            let end_ms = start_ms + i64::from(self.hold_minutes) * MINUTE_MS;
            eprintln!(
                "step {step}: {n} CronJobs; window {} .. {}",
                jiff::Timestamp::from_millisecond(start_ms)
                    .map_or_else(|_| "?".into(), |t| t.to_string()),
                jiff::Timestamp::from_millisecond(end_ms)
                    .map_or_else(|_| "?".into(), |t| t.to_string()),
            );
            // Judged once the last tick's on-time deadline has passed (plus time for the log
            // to catch up), before the window's end: the next step's load is then in place
            // for the next tick instead of a minute later.
            let judge_ms =
                (end_ms - MINUTE_MS + (self.criteria.start_within_s * 1000.0) as i64 + CATCH_UP_MS)
                    .min(end_ms);
            sleep_until_ms(start_ms).await;
            let before = metrics::snapshot(self.client, self.endpoints).await;
            sleep_until_ms(judge_ms).await;
            let after = metrics::snapshot(self.client, self.endpoints).await;

            let names: Vec<String> = defs(self.scenario, n).into_iter().map(|d| d.name).collect();
            let counts = read_ledger(&self.tail, |l| {
                l.counts(
                    &names,
                    (start_ms, end_ms),
                    judge_ms,
                    self.criteria.start_within_s,
                )
            })?;
            let results = analyze::analyze_file_window(self.log_path, start_ms, end_ms)?;
            let p99 = results
                .stages
                .iter()
                .find(|s| s.stage == Stage::ScheduleToStarted && s.clock == Clock::Client)
                .and_then(|s| s.p99_ms);
            let verdict = judge(&counts, p99, &self.criteria);
            eprintln!(
                "step {step}: offered {:.1}/min, on time {:.1}/min, started {:.1}/min, backlog {:?}, p99 schedule->started {} -> {}",
                counts.offered_per_minute,
                counts.achieved_per_minute,
                counts.started_per_minute,
                counts.backlog.iter().map(|b| b.backlog).collect::<Vec<_>>(),
                p99.map_or("n/a".into(), |p| format!("{:.1} s", p as f64 / 1000.0)),
                if verdict.sustainable {
                    "sustainable"
                } else {
                    "unsustainable"
                },
            );
            let obs = Observation {
                cronjobs: n,
                sustainable: verdict.sustainable,
                achieved_per_minute: Some(counts.achieved_per_minute),
                remaining: self.remaining(),
                next_step: self.step_estimate(),
            };
            previous_failed = !verdict.sustainable;
            let mut record = StepRecord::from_results(
                step,
                n,
                counts,
                &results,
                metrics::between(&before, &after),
                verdict,
            );
            record.drain = drain;
            report.steps.push(record);
            action = search.step(obs);
            report.state = search.state.clone();
            report.wall_s = self.started.elapsed().as_secs_f64();
            report.summarize(search.bounds());
            write_report(self.dir, report)?;
        }
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
                .map(|d| workload::cronjob(self.scenario, &d, self.ns))
                .collect::<Result<Vec<_>, _>>()?;
            let pace = Pace {
                qps: self.scenario.apply.qps,
                burst: self.scenario.apply.burst,
                concurrency: self.scenario.apply.concurrency,
            };
            workload::create_all(self.client, self.ns, objects, pace, |cj| {
                self.log.send(LogLine::CronJobCreated {
                    recv_ms: now_ms(),
                    name: cj.metadata.name.clone().unwrap_or_default(),
                    schedule: "* * * * *".into(),
                });
            })
            .await?;
        } else if to < from {
            let api: Api<CronJob> = Api::namespaced(self.client.clone(), self.ns);
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

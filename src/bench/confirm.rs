//! The confirm part: `cronbench find-limit --confirm` as a child process on a local cluster of
//! its own, after the bench cluster is down (never two at once). The bench cluster's knobs are
//! raised for the other parts; this one runs the controller manager at its defaults (full size)
//! or throttled to 2 requests per second (`--quick`, the size of tests/limit_local.rs). Its
//! `limit.json` becomes bench.json's `confirm` section: the limit, the confirmation's verdict
//! and steps, and the time to a confirmed answer.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::child::{ClusterRef, cronbench_on, failed, output_to};
use super::proc::{self, Child};
use super::report::LoadAvg;
use super::{BenchError, BenchOptions, then_down};
use crate::call;
use crate::cluster::{Binaries, Knobs, LocalCluster, StageDelays, UpOptions};
use crate::limit::confirm::{ConfirmVerdict, Side};
use crate::limit::report::LimitReport;
use crate::limit::step::Failure;

/// The scenario searched (find-limit forces every-minute schedules): the one
/// tests/limit_local.rs searches, written into the part's directory so the bench needs no
/// checkout.
const SCENARIO: &str = include_str!("../../scenarios/smoke.yaml");
const SCENARIO_NAME: &str = "smoke.yaml";
const WHAT: &str = "cronbench find-limit --confirm (child)";

/// How big the confirm part is.
#[derive(Debug, Clone, Copy)]
pub struct ConfirmSize {
    pub nodes: u32,
    /// The controller manager's `--kube-api-qps` and `--kube-api-burst`; `None`: its defaults.
    pub kcm_throttle: Option<(f32, u32)>,
    /// find-limit's `--start`, `--max-minutes` and `--confirm` (minutes per step).
    pub start: u32,
    pub max_minutes: u32,
    pub confirm_minutes: u32,
}

impl ConfirmSize {
    /// tests/limit_local.rs's search: about 400 s of search and 240 s of confirmation.
    pub const QUICK: ConfirmSize = ConfirmSize {
        nodes: 3,
        kcm_throttle: Some((2.0, 2)),
        start: 10,
        max_minutes: 7,
        confirm_minutes: 2,
    };
    /// The controller manager at its defaults (about 270 jobs per minute on this machine):
    /// a generous budget for the search, then 10 minutes per confirmation step.
    pub const FULL: ConfirmSize = ConfirmSize {
        nodes: 10,
        kcm_throttle: None,
        start: 40,
        max_minutes: 40,
        confirm_minutes: 10,
    };

    fn controller_manager(&self) -> ControllerManager {
        match self.kcm_throttle {
            Some(_) => ControllerManager::Throttled,
            None => ControllerManager::Defaults,
        }
    }

    fn up_options(&self) -> UpOptions {
        UpOptions {
            nodes: self.nodes,
            knobs: Knobs {
                kcm_api_qps: self.kcm_throttle.map(|(qps, _)| qps),
                kcm_api_burst: self.kcm_throttle.map(|(_, burst)| burst),
                ..Knobs::default()
            },
            delays: StageDelays::default(),
            // kwok nodes, no audit log.
            ..UpOptions::default()
        }
    }
}

/// The controller manager's client rate limits on the confirm part's cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ControllerManager {
    /// Its defaults (`--kube-api-qps` 20, `--kube-api-burst` 30): the full size.
    Defaults,
    /// Lowered (see `knobs`) so the limit is low and found quickly: `--quick`.
    Throttled,
}

impl ControllerManager {
    pub fn label(self) -> &'static str {
        match self {
            ControllerManager::Defaults => "at its defaults",
            ControllerManager::Throttled => "throttled",
        }
    }
}

/// bench.json's `confirm`: a find-limit search and its confirmation, from its `limit.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    /// The part's own local cluster, its kwok nodes, and the knobs set on it (the rest at
    /// their defaults).
    pub cluster: String,
    pub nodes: u32,
    pub controller_manager: ControllerManager,
    pub knobs: Knobs,
    pub scenario: String,
    /// find-limit's `--start` (CronJobs), `--max-minutes` and `--confirm` (minutes per step).
    pub start: u32,
    pub max_minutes: u32,
    pub duration_minutes: u32,
    /// The limit found, jobs per minute, and `[highest that held, lowest that did not]`.
    pub limit_jobs_per_minute: Option<f64>,
    pub interval: [Option<f64>; 2],
    pub search_steps: u32,
    /// From the search's start to the end of its last step's window.
    pub search_s: Option<f64>,
    /// `confirmed` is the target.
    pub verdict: ConfirmVerdict,
    pub contradicted: Vec<Side>,
    /// The limit, then ceil(1.15 x limit), in the order run.
    pub steps: Vec<ConfirmStepFigures>,
    /// From the search's start to the confirmation's last judgement, when it agrees (reported,
    /// no target); `finished_s` whatever the verdict.
    pub time_to_confirmed_s: Option<f64>,
    pub finished_s: Option<f64>,
    /// The find-limit child's wall time and exit code (0/1: the limit against the scenario's
    /// target; 3: contradicted).
    pub wall_s: f64,
    pub exit_code: Option<i32>,
    /// What the verdict means, in a sentence.
    pub note: String,
    /// The search's directory (limit.json, events.jsonl); find-limit's output is beside it.
    pub dir: String,
    pub load_avg_start: LoadAvg,
    pub load_avg_end: LoadAvg,
}

/// One confirmation step, as limit.json judged it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmStepFigures {
    pub side: Side,
    pub cronjobs: u32,
    /// Offered jobs per minute in the judged window.
    pub rate_per_minute: f64,
    pub on_time_ratio: Option<f64>,
    pub must_hold: bool,
    pub held: bool,
    /// `held == must_hold`.
    pub agrees: bool,
    /// Why it did not hold.
    pub failures: Vec<Failure>,
}

/// find-limit's exit code for an error or an interruption.
const STOPPED: i32 = 2;

/// What ran, beside what limit.json says.
pub(crate) struct Ran {
    pub cluster: String,
    pub size: ConfirmSize,
    pub dir: String,
    pub wall_s: f64,
    pub exit_code: Option<i32>,
    pub load_avg_start: LoadAvg,
    pub load_avg_end: LoadAvg,
}

impl Confirm {
    /// The section, from the search's `limit.json` and how the child ran.
    pub(crate) fn from_limit(limit: &LimitReport, ran: Ran) -> Confirm {
        let c = limit.confirmation.as_ref();
        // find-limit's exit 2 (an error or an interruption): what it wrote is kept, not judged.
        let verdict = match c {
            Some(c) if ran.exit_code != Some(STOPPED) => c.verdict,
            _ => ConfirmVerdict::Incomplete,
        };
        let steps = c.map_or_else(Vec::new, |c| {
            c.steps
                .iter()
                .map(|s| ConfirmStepFigures {
                    side: s.side,
                    cronjobs: s.cronjobs,
                    rate_per_minute: s.rate_per_minute,
                    on_time_ratio: s.record.on_time_ratio,
                    must_hold: s.must_hold,
                    held: s.held,
                    agrees: s.agrees,
                    failures: s.record.verdict.failures.clone(),
                })
                .collect()
        });
        let search_end = limit.steps.iter().map(|s| s.counts.window_end_ms).max();
        let mut confirm = Confirm {
            cluster: ran.cluster,
            nodes: ran.size.nodes,
            controller_manager: ran.size.controller_manager(),
            knobs: ran.size.up_options().knobs,
            scenario: limit.scenario_name.clone(),
            start: ran.size.start,
            max_minutes: ran.size.max_minutes,
            duration_minutes: c.map_or(ran.size.confirm_minutes, |c| c.duration_minutes),
            limit_jobs_per_minute: limit.limit_jobs_per_minute,
            interval: limit.interval,
            search_steps: u32::try_from(limit.steps.len()).unwrap_or(u32::MAX),
            search_s: search_end.map(|end| (end - limit.started_ms) as f64 / 1000.0),
            verdict,
            contradicted: c.map_or_else(Vec::new, |c| c.contradicted.clone()),
            steps,
            time_to_confirmed_s: c.and_then(|c| c.time_to_confirmed_s),
            finished_s: c.and_then(|c| c.finished_s),
            wall_s: ran.wall_s,
            exit_code: ran.exit_code,
            note: String::new(),
            dir: ran.dir,
            load_avg_start: ran.load_avg_start,
            load_avg_end: ran.load_avg_end,
        };
        confirm.note = confirm.explain();
        confirm
    }

    /// The target's measured value: 1 confirmed, 0 contradicted or no limit to confirm, none
    /// when the confirmation did not finish (nothing was measured).
    pub fn confirmed(&self) -> Option<f64> {
        match self.verdict {
            ConfirmVerdict::Confirmed => Some(1.0),
            ConfirmVerdict::Contradicted | ConfirmVerdict::NoLimit => Some(0.0),
            ConfirmVerdict::Incomplete => None,
        }
    }

    /// The verdict in a sentence.
    fn explain(&self) -> String {
        let minutes = self.duration_minutes;
        match self.verdict {
            ConfirmVerdict::Confirmed => {
                format!("confirmed: the limit held for {minutes} min and 1.15x it did not")
            }
            ConfirmVerdict::Contradicted => {
                let what: Vec<String> = self
                    .contradicted
                    .iter()
                    .map(|side| match side {
                        Side::Limit => format!("the limit did not hold for {minutes} min"),
                        Side::Above => format!("1.15x the limit held for {minutes} min"),
                    })
                    .collect();
                format!("contradicted: {}", what.join(", and "))
            }
            ConfirmVerdict::NoLimit => format!(
                "not confirmed: the search found no load that held (from {} CronJobs), so \
                 there was no limit to confirm",
                self.start
            ),
            ConfirmVerdict::Incomplete if self.exit_code == Some(STOPPED) => format!(
                "not confirmed: find-limit stopped with exit code {STOPPED} (an error or an \
                 interruption; see find-limit.log beside the search); the steps it finished are \
                 kept, not judged"
            ),
            ConfirmVerdict::Incomplete => {
                "not confirmed: the confirmation ended before both steps were judged \
                 (interrupted, or find-limit failed; see its output beside the search)"
                    .to_string()
            }
        }
    }

    /// The target's context in the bench table.
    pub fn context(&self) -> String {
        let steps: Vec<String> = self
            .steps
            .iter()
            .map(|s| {
                let did = if s.held { "held" } else { "did not hold" };
                format!("{} CronJobs {did}", s.cronjobs)
            })
            .collect();
        format!(
            "limit {} jobs/min [{}, {}], controller manager {}: {}; load {:.2}",
            one_decimal(self.limit_jobs_per_minute),
            one_decimal(self.interval[0]),
            one_decimal(self.interval[1]),
            self.controller_manager.label(),
            if steps.is_empty() {
                "no step".to_string()
            } else {
                steps.join(", ")
            },
            self.load_avg_end[0]
        )
    }

    /// The part's summary line, printed under the table.
    pub fn summary(&self) -> String {
        format!(
            "confirm: {}; time to a confirmed answer {} s (search {} s, then {} min per step), \
             find-limit wall {:.0} s",
            self.note,
            one_decimal(self.time_to_confirmed_s),
            one_decimal(self.search_s),
            self.duration_minutes,
            self.wall_s
        )
    }
}

fn one_decimal(v: Option<f64>) -> String {
    v.map_or_else(|| "?".into(), |v| format!("{v:.1}"))
}

/// The confirm part on a cluster of its own, `<bench cluster>-confirm`, always torn down. A
/// failure is kept in `errors` (and the part's target fails); Ctrl-C is `Err(Interrupted)`.
pub(super) async fn run(
    opts: &BenchOptions,
    size: &ConfirmSize,
    errors: &mut Vec<String>,
) -> Result<Option<Confirm>, BenchError> {
    let name = format!("{}-confirm", opts.cluster);
    let setup = Binaries::locate().and_then(|b| Ok((b, LocalCluster::new(&name)?)));
    let (bins, cluster) = match setup {
        Ok(s) => s,
        Err(e) => {
            errors.push(format!("confirm: {e}"));
            return Ok(None);
        }
    };
    let ended = then_down(&cluster, &bins, measure(&cluster, &bins, size, &opts.out)).await;
    ended.settle(errors, "confirm: ")
}

/// Brings the cluster up, runs the search with its confirmation and reads its limit.json.
async fn measure(
    cluster: &LocalCluster,
    bins: &Binaries,
    size: &ConfirmSize,
    out: &Path,
) -> Result<Confirm, BenchError> {
    let up = size.up_options();
    eprintln!(
        "bench: confirm: starting cluster `{}` ({} kwok nodes, controller manager {}), then \
         find-limit --start {} --max-minutes {} --confirm {}m",
        cluster.name,
        size.nodes,
        size.controller_manager().label(),
        size.start,
        size.max_minutes,
        size.confirm_minutes
    );
    cluster.up(bins, &up).await?;
    let dir = out.join("confirm");
    std::fs::create_dir_all(&dir).map_err(call::io(format!("create {}", dir.display())))?;
    let scenario = dir.join(SCENARIO_NAME);
    std::fs::write(&scenario, SCENARIO)
        .map_err(call::io(format!("write {}", scenario.display())))?;
    let search = dir.join("search");
    let log = dir.join("find-limit.log");
    let mut cmd = find_limit_command(cluster, size, &scenario, &search)?;
    output_to(&mut cmd, &log)?;
    let load_avg_start = proc::load_avg();
    let mut child = Child::spawn(cmd, WHAT)?;
    let exit = child.wait_sampling(Duration::from_secs(5), |_| {}).await?;
    let load_avg_end = proc::load_avg();
    // 0 or 1: the limit against the scenario's target; 3: the confirmation contradicted it;
    // 2 (STOPPED) with a limit.json: a search that ended early, kept as incomplete.
    let limit = match (exit.code, crate::report::load_limit(&search)) {
        (Some(0 | 1 | 3), limit) => limit?,
        (Some(STOPPED), Ok(limit)) => limit,
        _ => return Err(failed(WHAT.into(), &exit, &log)),
    };
    let ran = Ran {
        cluster: cluster.name.clone(),
        size: *size,
        dir: search.display().to_string(),
        wall_s: exit.wall_s,
        exit_code: exit.code,
        load_avg_start,
        load_avg_end,
    };
    let confirm = Confirm::from_limit(&limit, ran);
    eprintln!("bench: {}", confirm.summary());
    Ok(confirm)
}

/// `cronbench find-limit SCENARIO ... --confirm=Nm` on `cluster`, writing into `search`.
fn find_limit_command(
    cluster: &LocalCluster,
    size: &ConfirmSize,
    scenario: &Path,
    search: &Path,
) -> Result<Command, BenchError> {
    let ctx = ClusterRef {
        kubeconfig: cluster.kubeconfig(),
        context: cluster.context(),
        cluster: cluster.clone(),
    };
    let mut cmd = cronbench_on("find-limit", scenario, &ctx, search)?;
    cmd.arg("--start")
        .arg(size.start.to_string())
        .arg("--max-minutes")
        .arg(size.max_minutes.to_string())
        .arg(format!("--confirm={}m", size.confirm_minutes));
    Ok(cmd)
}

#[cfg(test)]
mod tests;

//! `limit.json`: what a search found, step by step, and the bottleneck named from the stages'
//! latency growth and the components' metrics. Written after every step.

use serde::{Deserialize, Serialize};

use super::confirm::Confirmation;
use super::metrics::StepMetrics;
use super::search::{Outcome, SearchConfig, State};
use super::step::{Criteria, StepCounts, StepVerdict};
use crate::results::{Clock, NodeBalance, Results, Stage};

/// Version of `limit.json`.
pub const LIMIT_SCHEMA_VERSION: u32 = 1;

/// The four stages a run goes through before it starts, and who is responsible for each.
pub const PIPELINE: [(Stage, &str); 4] = [
    (Stage::ScheduleToJobCreated, "CronJob controller"),
    (Stage::JobCreatedToPodCreated, "Job controller"),
    (Stage::PodCreatedToBound, "scheduler"),
    (Stage::BoundToStarted, "kubelet/nodes"),
];

/// One stage's latency in one step (client clock, runs scheduled in the step's window).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StageLatency {
    pub stage: Stage,
    pub count: u64,
    pub p50_ms: Option<u64>,
    pub p99_ms: Option<u64>,
}

/// Pods started on one node during a step's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeRate {
    pub node: String,
    pub started: u64,
    pub started_per_minute: Option<f64>,
    pub started_per_second: Option<f64>,
    pub peak_per_second: u64,
}

/// One step of the search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepRecord {
    pub step: u32,
    pub cronjobs: u32,
    pub counts: StepCounts,
    pub on_time_ratio: Option<f64>,
    /// The four pipeline stages plus schedule -> started.
    pub stages: Vec<StageLatency>,
    pub nodes: Vec<NodeRate>,
    /// Where the window's ticks put their pods (the analysis' [`NodeBalance`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_balance: Option<NodeBalance>,
    /// By scraping the components' `/metrics` directly (empty, saying why, with
    /// `--no-scrape`).
    pub metrics: StepMetrics,
    /// The same series over the same window by PromQL (`--prometheus URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_prometheus: Option<StepMetrics>,
    pub verdict: StepVerdict,
    /// The wait for the previous (failed) step's backlog before this step's window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain: Option<DrainRecord>,
}

/// How the wait for an overload to drain ended: `drained` false means the step was judged on
/// part of the previous step's backlog.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DrainRecord {
    pub waited_s: f64,
    pub drained: bool,
}

impl StepRecord {
    /// Latencies and per-node rates from the step window's analysis. Per-node rates are pods
    /// started in the window over the window's length: the log is read before the window
    /// ends, once the last tick's runs are due to have started, so the pods of both ticks are
    /// in (measured: 100 pods counted for 50 CronJobs over 2 minutes).
    pub fn from_results(
        step: u32,
        cronjobs: u32,
        counts: StepCounts,
        results: &Results,
        metrics: StepMetrics,
        verdict: StepVerdict,
    ) -> StepRecord {
        let stages = PIPELINE
            .iter()
            .map(|(s, _)| *s)
            .chain([Stage::ScheduleToStarted])
            .filter_map(|stage| {
                results
                    .stages
                    .iter()
                    .find(|s| s.stage == stage && s.clock == Clock::Client)
                    .map(|s| StageLatency {
                        stage,
                        count: s.count,
                        p50_ms: s.p50_ms,
                        p99_ms: s.p99_ms,
                    })
            })
            .collect();
        let nodes = results
            .nodes
            .iter()
            .map(|n| NodeRate {
                node: n.node.clone(),
                started: n.started,
                started_per_minute: n.started_per_minute_mean,
                started_per_second: n.started_per_minute_mean.map(|m| m / 60.0),
                peak_per_second: n.peak_per_second,
            })
            .collect();
        StepRecord {
            step,
            cronjobs,
            on_time_ratio: counts.on_time_ratio(),
            counts,
            stages,
            nodes,
            node_balance: results.node_balance.clone(),
            metrics,
            metrics_prometheus: None,
            verdict,
            drain: None,
        }
    }

    /// The metrics the evidence is read from: the direct ones when scraping read anything,
    /// else Prometheus'.
    pub fn evidence_metrics(&self) -> &StepMetrics {
        match &self.metrics_prometheus {
            Some(p) if !self.metrics.has_values() => p,
            _ => &self.metrics,
        }
    }

    /// The busiest node's pods started per second in the window: when the scheduler piles a
    /// tick onto one node, that node's rate, not the mean over the nodes, is what a node held.
    pub fn busiest_node_started_per_second(&self) -> Option<f64> {
        self.nodes
            .iter()
            .filter_map(|n| n.started_per_second)
            .reduce(f64::max)
    }

    /// A quantile of one stage's latency in this step.
    pub fn p(&self, stage: Stage, q: fn(&StageLatency) -> Option<u64>) -> Option<u64> {
        self.stages.iter().find(|s| s.stage == stage).and_then(q)
    }
}

/// One point of the capacity curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CurvePoint {
    pub cronjobs: u32,
    pub offered_per_minute: f64,
    pub achieved_per_minute: f64,
    pub started_per_minute: f64,
    pub sustainable: bool,
}

/// The stage named as the bottleneck, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Bottleneck {
    pub stage: Stage,
    pub component: String,
    /// Growth of the stage's p99 from the lowest load to the reference step, ms.
    pub p99_growth_ms: i64,
    pub p50_growth_ms: i64,
    /// The step the growth is measured at: the first to fail in search order, else the highest
    /// load.
    pub reference_cronjobs: u32,
    pub baseline_cronjobs: u32,
    /// The stage whose p99 first grew past max(1 s, 2x its baseline), as load rose.
    pub first_to_grow: Option<Stage>,
    /// What the components' metrics say at the reference step.
    pub evidence: Vec<String>,
}

fn component(stage: Stage) -> &'static str {
    PIPELINE
        .iter()
        .find(|(s, _)| *s == stage)
        .map_or("", |(_, c)| c)
}

/// Names the bottleneck: the pipeline stage whose latency grew most from the lowest load to
/// the reference step. `None` with fewer than two steps.
pub fn bottleneck(steps: &[StepRecord]) -> Option<Bottleneck> {
    let mut by_load: Vec<&StepRecord> = steps.iter().collect();
    by_load.sort_by_key(|s| (s.cronjobs, s.step));
    let base = *by_load.first()?;
    // The first step that failed, in search order: it followed a sustainable step, so its
    // latencies are the overload's own. Later (lower) probes may still carry its backlog.
    let reference = steps
        .iter()
        .find(|s| !s.verdict.sustainable)
        .or(by_load.last().copied())?;
    if reference.cronjobs == base.cronjobs {
        return None;
    }
    let growth = |s: &StepRecord, stage: Stage, q: fn(&StageLatency) -> Option<u64>| {
        let now = s.p(stage, q)?;
        let then = base.p(stage, q).unwrap_or(0);
        Some(now as i64 - then as i64)
    };
    let p99 = |l: &StageLatency| l.p99_ms;
    let p50 = |l: &StageLatency| l.p50_ms;
    let (stage, p99_growth_ms) = PIPELINE
        .iter()
        .filter_map(|(stage, _)| Some((*stage, growth(reference, *stage, p99)?)))
        // Ties go to the earlier stage: a late stage only waits when the earlier ones deliver.
        .fold(None::<(Stage, i64)>, |best, (s, g)| match best {
            Some((_, bg)) if bg >= g => best,
            _ => Some((s, g)),
        })?;
    let first_to_grow = by_load.iter().skip(1).find_map(|s| {
        PIPELINE.iter().map(|(st, _)| *st).find(|&st| {
            let then = base.p(st, p99).unwrap_or(0) as i64;
            growth(s, st, p99).is_some_and(|g| g > 1000.max(then))
        })
    });
    Some(Bottleneck {
        stage,
        component: component(stage).to_string(),
        p99_growth_ms,
        p50_growth_ms: growth(reference, stage, p50).unwrap_or(0),
        reference_cronjobs: reference.cronjobs,
        baseline_cronjobs: base.cronjobs,
        first_to_grow,
        evidence: evidence(base.evidence_metrics(), reference.evidence_metrics()),
    })
}

/// Plain statements from the components' metrics, baseline vs reference step.
pub fn evidence(base: &StepMetrics, at: &StepMetrics) -> Vec<String> {
    let mut out = Vec::new();
    let f = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.3}"));
    if let Some(w) = at.kcm_rate_limiter_wait_mean_s {
        let throttled = if w > 0.05 {
            " (client-side throttling: the controller manager's --kube-api-qps/--kube-api-burst)"
        } else {
            ""
        };
        out.push(format!(
            "kube-controller-manager rest_client_rate_limiter_duration_seconds mean {} s per request (lowest load: {} s){throttled}",
            f(Some(w)),
            f(base.kcm_rate_limiter_wait_mean_s)
        ));
    }
    if at.cronjob_job_creation_skew_mean_s.is_some() || at.cronjob_queue_depth_end.is_some() {
        out.push(format!(
            "CronJob controller: job creation skew mean {} s (lowest load: {} s), workqueue depth {} at the step's end, queue wait mean {} s",
            f(at.cronjob_job_creation_skew_mean_s),
            f(base.cronjob_job_creation_skew_mean_s),
            f(at.cronjob_queue_depth_end),
            f(at.cronjob_queue_wait_mean_s)
        ));
    }
    let n = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.0}"));
    if let Some(d) = at.job_queue_depth_end {
        out.push(format!(
            "Job controller workqueue depth {d:.0} at the step's end, {} adds during the step, work mean {} s",
            n(at.job_queue_adds),
            f(at.job_work_mean_s)
        ));
    }
    if let Some(p) = at.scheduler_pending_pods_end {
        out.push(format!(
            "scheduler_pending_pods {p:.0} at the step's end, {} scheduling attempts during the step",
            n(at.scheduler_attempts)
        ));
    }
    if at.apiserver_create_mean_s.is_some() || at.apiserver_inflight_end.is_some() {
        out.push(format!(
            "kube-apiserver: create (POST) latency mean {} s (lowest load: {} s), etcd request mean {} s (lowest load: {} s); at the step's end {} requests in flight, {} queued by priority and fairness; {} rejected with 429 during the step",
            f(at.apiserver_create_mean_s),
            f(base.apiserver_create_mean_s),
            f(at.etcd_request_mean_s),
            f(base.etcd_request_mean_s),
            n(at.apiserver_inflight_end),
            n(at.apiserver_inqueue_end),
            n(at.apiserver_rejected_429),
        ));
    }
    if at.stored_pods_end.is_some() || at.stored_jobs_end.is_some() {
        out.push(format!(
            "etcd objects at the step's end: {} CronJobs, {} Jobs, {} Pods",
            n(at.stored_cronjobs_end),
            n(at.stored_jobs_end),
            n(at.stored_pods_end)
        ));
    }
    for (c, why) in &at.unreachable {
        out.push(format!("{c} metrics unreachable: {why}"));
    }
    if !at.missing.is_empty() {
        let list: Vec<String> = at
            .missing
            .iter()
            .map(|(s, why)| format!("{s} ({why})"))
            .collect();
        out.push(format!("missing series: {}", list.join("; ")));
    }
    out
}

/// `limit.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LimitReport {
    pub schema_version: u32,
    pub search_id: String,
    pub scenario_name: String,
    pub context: String,
    pub server_version: String,
    pub nodes: u32,
    pub started_ms: i64,
    /// Wall time so far (final when `outcome` is set), seconds.
    pub wall_s: f64,
    pub max_minutes: f64,
    pub config: SearchConfig,
    pub criteria: Criteria,
    pub hold_minutes: u32,
    /// The search's state after the last step.
    pub state: State,
    pub outcome: Option<Outcome>,
    /// Highest sustainable jobs per minute found (offered load of the highest step that held).
    pub limit_jobs_per_minute: Option<f64>,
    /// `[highest that held, lowest that did not]`, jobs per minute; `None` where unknown.
    pub interval: [Option<f64>; 2],
    pub target_jobs_per_minute: f64,
    /// `Some(true)`: the limit is at or above the target; `Some(false)`: a load at or below the
    /// target did not hold, or nothing above it was shown to hold; `None`: not decided yet.
    pub pass: Option<bool>,
    pub curve: Vec<CurvePoint>,
    pub bottleneck: Option<Bottleneck>,
    pub steps: Vec<StepRecord>,
    pub notes: Vec<String>,
    /// `--confirm`: the limit and 1.15x it held for longer after the search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Confirmation>,
}

impl LimitReport {
    /// Recomputes the summary fields from the steps and the search's bounds.
    pub fn summarize(&mut self, bounds: (Option<u32>, Option<u32>)) {
        let rate = |n: u32| {
            self.steps
                .iter()
                .find(|s| s.cronjobs == n)
                .map_or(f64::from(n), |s| s.counts.offered_per_minute)
        };
        let lo = bounds.0.map(rate);
        let hi = bounds.1.map(rate);
        self.limit_jobs_per_minute = lo;
        self.interval = [lo, hi];
        let t = self.target_jobs_per_minute;
        self.pass = match (lo, hi) {
            (Some(lo), _) if lo >= t => Some(true),
            (_, Some(hi)) if hi <= t => Some(false),
            _ if self.outcome.is_some() => Some(false),
            _ => None,
        };
        let mut curve: Vec<CurvePoint> = self
            .steps
            .iter()
            .map(|s| CurvePoint {
                cronjobs: s.cronjobs,
                offered_per_minute: s.counts.offered_per_minute,
                achieved_per_minute: s.counts.achieved_per_minute,
                started_per_minute: s.counts.started_per_minute,
                sustainable: s.verdict.sustainable,
            })
            .collect();
        curve.sort_by_key(|p| p.cronjobs);
        self.curve = curve;
        self.bottleneck = bottleneck(&self.steps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit::step::BacklogPoint;

    fn step(cronjobs: u32, sustainable: bool, p99: [u64; 4]) -> StepRecord {
        let counts = StepCounts {
            window_start_ms: 0,
            window_end_ms: 120_000,
            expected: u64::from(cronjobs) * 2,
            started_on_time: u64::from(cronjobs) * 2,
            started_late: 0,
            not_started: 0,
            offered_per_minute: f64::from(cronjobs),
            achieved_per_minute: f64::from(cronjobs),
            started_per_minute: f64::from(cronjobs),
            backlog: vec![BacklogPoint {
                t_ms: 60_000,
                backlog: 0,
            }],
        };
        StepRecord {
            step: cronjobs,
            cronjobs,
            on_time_ratio: Some(1.0),
            counts,
            stages: PIPELINE
                .iter()
                .zip(p99)
                .map(|((stage, _), p)| StageLatency {
                    stage: *stage,
                    count: 10,
                    p50_ms: Some(p / 2),
                    p99_ms: Some(p),
                })
                .collect(),
            nodes: vec![],
            node_balance: None,
            metrics: StepMetrics::default(),
            metrics_prometheus: None,
            verdict: StepVerdict {
                sustainable,
                failures: vec![],
            },
            drain: None,
        }
    }

    #[test]
    fn the_stage_that_grows_most_up_to_the_first_failure_is_the_bottleneck() {
        let steps = vec![
            step(10, true, [300, 50, 20, 1000]),
            step(20, true, [2_500, 60, 20, 1000]),
            step(40, false, [40_000, 900, 30, 1000]),
            // Past the failure everything is late; it does not decide.
            step(80, false, [40_000, 90_000, 30, 1000]),
        ];
        let b = bottleneck(&steps).unwrap();
        assert_eq!(b.stage, Stage::ScheduleToJobCreated);
        assert_eq!(b.component, "CronJob controller");
        assert_eq!(b.reference_cronjobs, 40);
        assert_eq!(b.p99_growth_ms, 39_700);
        assert_eq!(b.first_to_grow, Some(Stage::ScheduleToJobCreated));
    }

    #[test]
    fn one_step_names_no_bottleneck() {
        assert_eq!(bottleneck(&[step(10, false, [1, 1, 1, 1])]), None);
    }

    fn report(steps: Vec<StepRecord>) -> LimitReport {
        LimitReport {
            schema_version: LIMIT_SCHEMA_VERSION,
            search_id: "s".into(),
            scenario_name: "x".into(),
            context: "c".into(),
            server_version: "v".into(),
            nodes: 1,
            started_ms: 0,
            wall_s: 0.0,
            max_minutes: 15.0,
            config: SearchConfig::default(),
            criteria: Criteria::default(),
            hold_minutes: 2,
            state: State::Start,
            outcome: None,
            limit_jobs_per_minute: None,
            interval: [None, None],
            target_jobs_per_minute: 50.0,
            pass: None,
            curve: vec![],
            bottleneck: None,
            steps,
            notes: vec![],
            confirmation: None,
        }
    }

    #[test]
    fn pass_needs_a_sustained_load_at_the_target() {
        let mut r = report(vec![step(25, true, [1; 4]), step(50, true, [1; 4])]);
        r.summarize((Some(25), None));
        assert_eq!(r.pass, None);
        r.summarize((Some(50), Some(100)));
        assert_eq!(r.pass, Some(true));
        assert_eq!(r.interval, [Some(50.0), Some(100.0)]);
        r.summarize((Some(25), Some(50)));
        assert_eq!(r.pass, Some(false));
        assert_eq!(r.curve.len(), 2);
    }

    #[test]
    fn the_per_node_rate_at_the_limit_is_the_busiest_nodes_of_the_highest_held_step() {
        let rate = |node: &str, per_s: f64| NodeRate {
            node: node.into(),
            started: 0,
            started_per_minute: Some(per_s * 60.0),
            started_per_second: Some(per_s),
            peak_per_second: 1,
        };
        let mut held = step(50, true, [1; 4]);
        held.nodes = vec![rate("n0", 0.8), rate("n1", 0.1)];
        let mut lower = step(25, true, [1; 4]);
        lower.nodes = vec![rate("n0", 2.0)];
        let mut failed = step(100, false, [1; 4]);
        failed.nodes = vec![rate("n0", 3.0)];
        let r = report(vec![lower, held, failed]);
        let text = crate::report::limit::limit_summary(&r);
        assert!(
            text.contains(
                "per node at the limit: 0.80 pods/s started on the busiest node (50 CronJobs)"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_summary_says_whether_the_confirmation_agrees_and_which_side_contradicts() {
        use crate::limit::confirm::{Confirmation, Side};
        use crate::limit::step::Failure;
        let mut late = step(40, false, [1; 4]);
        late.verdict.failures = vec![Failure::LowOnTimeRatio {
            ratio: 0.8,
            min: 0.95,
        }];
        let mut r = report(vec![step(40, true, [1; 4])]);
        let mut c = Confirmation::planned(10, Some(40));
        c.push(Side::Limit, late, 700.0);
        c.push(Side::Above, step(46, false, [1; 4]), 1400.0);
        r.confirmation = Some(c);
        let text = crate::report::limit::limit_summary(&r);
        assert!(
            text.contains("confirmation (10 min per step): CONTRADICTED: the limit did not hold\n"),
            "{text}"
        );
        assert!(
            text.contains("  the limit: 40 CronJobs, offered 40.0/min, on time 40.0/min (100.0%), backlog 0, p99 schedule->started -: did not hold (on time 80.0% < 95%), must hold -> CONTRADICTS"),
            "{text}"
        );
        assert!(text.contains("must not hold -> agrees"), "{text}");

        let mut c = Confirmation::planned(10, Some(40));
        c.push(Side::Limit, step(40, true, [1; 4]), 700.0);
        c.push(Side::Above, step(46, false, [1; 4]), 1500.0);
        r.confirmation = Some(c);
        let text = crate::report::limit::limit_summary(&r);
        assert!(
            text.contains(
                "confirmation (10 min per step): confirmed in 25.0 min from the search's start"
            ),
            "{text}"
        );

        r.confirmation = Some(Confirmation::planned(2, None));
        let text = crate::report::limit::limit_summary(&r);
        assert!(
            text.contains(
                "confirmation (2 min per step): not run: the search found no load that held"
            ),
            "{text}"
        );
    }
}

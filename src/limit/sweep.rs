//! `find-limit --sweep-nodes 1,2,3,5`: one search per kwok node count on the same cluster, to
//! tell a node-bound capacity (it grows with the nodes) from a control-plane-bound one (flat).
//! Each search keeps its own directory (`nodes-K/`, with its `limit.json` and event log);
//! `sweep.json` sums them up and is rewritten after every search.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::driver::{LimitError, LimitOptions, LimitOutcome, find_limit};
use crate::cluster::nodes;
use crate::cluster::preflight;
use crate::schema::EndReason;
use crate::session::{RunDir, RunFile};

/// Version of `sweep.json`.
pub const SWEEP_SCHEMA_VERSION: u32 = 1;

/// Without `--start`, each count's search after the first starts at the limit the previous
/// count found (the ramp from the scenario's target, about three 2-minute steps, is not
/// walked again); a start that does not hold is searched down from as usual.
fn seed(previous: Option<&SweepPoint>) -> Option<u32> {
    let limit = previous?.limit_jobs_per_minute?;
    (limit >= 1.0).then(|| limit.round() as u32)
}

/// One node count's search, summed up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    pub nodes: u32,
    pub limit_jobs_per_minute: Option<f64>,
    pub interval: [Option<f64>; 2],
    pub pass: Option<bool>,
    /// Pods started per second per node at the highest load that held: all the pods started
    /// over all `nodes` (those the scheduler left idle count as zero).
    pub per_node_started_per_second: Option<f64>,
    /// The busiest node's pods started per second at that load: the scheduler need not
    /// spread the pods evenly.
    #[serde(default)]
    pub busiest_node_started_per_second: Option<f64>,
    /// The component named as the bottleneck.
    pub bottleneck: Option<String>,
    pub steps: usize,
    pub wall_s: f64,
    /// This search's directory (limit.json, events.jsonl).
    pub dir: PathBuf,
}

/// How the limit moved with the node count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scaling {
    /// The limit grew at least half as fast as the node count: the nodes are the limit.
    NodeBound,
    /// The limit stayed within 25% while the nodes grew: the control plane is the limit.
    ControlPlaneBound,
    /// In between.
    Partly,
    /// Fewer than two node counts with a limit.
    Unknown,
}

/// `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    pub schema_version: u32,
    pub context: String,
    pub counts: Vec<u32>,
    pub points: Vec<SweepPoint>,
    pub scaling: Scaling,
    /// Limit at the most nodes / limit at the fewest.
    pub limit_ratio: Option<f64>,
    pub nodes_ratio: Option<f64>,
    pub wall_s: f64,
    /// Set when the sweep ended before every count was searched.
    pub ended_early: Option<String>,
}

/// Classifies the points (sorted by node count).
pub fn scaling(points: &[SweepPoint]) -> (Scaling, Option<f64>, Option<f64>) {
    let with_limit: Vec<(u32, f64)> = points
        .iter()
        .filter_map(|p| Some((p.nodes, p.limit_jobs_per_minute?)))
        .filter(|(_, l)| *l > 0.0)
        .collect();
    let (Some(first), Some(last)) = (
        with_limit.iter().min_by_key(|p| p.0),
        with_limit.iter().max_by_key(|p| p.0),
    ) else {
        return (Scaling::Unknown, None, None);
    };
    if first.0 == last.0 || first.0 == 0 {
        return (Scaling::Unknown, None, None);
    }
    let limit_ratio = last.1 / first.1;
    let nodes_ratio = f64::from(last.0) / f64::from(first.0);
    let s = if limit_ratio - 1.0 >= 0.5 * (nodes_ratio - 1.0) {
        Scaling::NodeBound
    } else if limit_ratio <= 1.25 {
        Scaling::ControlPlaneBound
    } else {
        Scaling::Partly
    };
    (s, Some(limit_ratio), Some(nodes_ratio))
}

fn point(nodes: u32, dir: &Path, report: &super::report::LimitReport) -> SweepPoint {
    let held = report
        .limit_jobs_per_minute
        .and_then(|_| report.outcome?.sustainable)
        .and_then(|n| report.steps.iter().rev().find(|s| s.cronjobs == n));
    let rates: Vec<f64> = held
        .map(|s| {
            s.nodes
                .iter()
                .filter_map(|n| n.started_per_second)
                .collect()
        })
        .unwrap_or_default();
    let per_node =
        (!rates.is_empty() && nodes > 0).then(|| rates.iter().sum::<f64>() / f64::from(nodes));
    let busiest = rates.iter().copied().reduce(f64::max);
    SweepPoint {
        nodes,
        limit_jobs_per_minute: report.limit_jobs_per_minute,
        interval: report.interval,
        pass: report.pass,
        per_node_started_per_second: per_node,
        busiest_node_started_per_second: busiest,
        bottleneck: report.bottleneck.as_ref().map(|b| b.component.clone()),
        steps: report.steps.len(),
        wall_s: report.wall_s,
        dir: dir.to_path_buf(),
    }
}

fn write(dir: &RunDir, report: &SweepReport) -> Result<(), LimitError> {
    Ok(dir.write_json(RunFile::Sweep, report)?)
}

/// Runs one search per node count (kwok nodes, scaled between searches) and puts the node
/// count back as it was. Each search has the full `opts.max_minutes` budget.
pub async fn sweep(
    opts: &LimitOptions,
    counts: &[u32],
    dir: &Path,
) -> Result<SweepReport, LimitError> {
    if counts.is_empty() || counts.contains(&0) {
        return Err(LimitError::Option(
            "--sweep-nodes needs node counts of at least 1, e.g. 1,2,3,5".into(),
        ));
    }
    let (client, context) = sweepable(opts).await?;
    let dir = RunDir::create_at(dir)?;
    let before = nodes::count(&client).await.map_err(LimitError::Cluster)?;
    let started = tokio::time::Instant::now();
    let mut report = SweepReport {
        schema_version: SWEEP_SCHEMA_VERSION,
        context,
        counts: counts.to_vec(),
        points: Vec::new(),
        scaling: Scaling::Unknown,
        limit_ratio: None,
        nodes_ratio: None,
        wall_s: 0.0,
        ended_early: None,
    };
    let mut result = Ok(());
    let mut previous: Option<SweepPoint> = None;
    for &n in counts {
        eprintln!("sweep: {n} kwok node(s)");
        result = search_at(&client, opts, n, previous.as_ref(), &dir, &mut report).await;
        if result.is_ok() {
            previous = report.points.iter().rev().find(|p| p.nodes == n).cloned();
        }
        report.points.sort_by_key(|p| p.nodes);
        (report.scaling, report.limit_ratio, report.nodes_ratio) = scaling(&report.points);
        report.wall_s = started.elapsed().as_secs_f64();
        write(&dir, &report)?;
        if result.is_err() || report.ended_early.is_some() {
            break;
        }
    }
    if let Err(e) = nodes::scale(&client, before).await {
        eprintln!("could not put the node count back to {before}: {e}");
    }
    if let Err(e) = &result {
        report.ended_early.get_or_insert_with(|| e.to_string());
    }
    report.wall_s = started.elapsed().as_secs_f64();
    write(&dir, &report)?;
    result.map(|()| report)
}

/// The client and context, refused unless the cluster is a local one with kwok nodes.
async fn sweepable(opts: &LimitOptions) -> Result<(kube::Client, String), LimitError> {
    let (client, context) = preflight::connect_checked(&opts.target)
        .await
        .map_err(crate::session::SessionError::from)?;
    if !context.starts_with("cronbench-") {
        return Err(LimitError::Option(format!(
            "--sweep-nodes scales kwok nodes and needs a local cronbench cluster; `{context}` is not one (start one with `cronbench cluster up`)"
        )));
    }
    if crate::cluster::node_runtime_of(&context) == crate::cluster::NodeRuntime::Kubelet {
        return Err(LimitError::Option(format!(
            "--sweep-nodes scales kwok nodes, and `{context}` runs real kubelets; search once per node count instead, each on its own `cronbench cluster up --node-runtime kubelet --nodes K`"
        )));
    }
    Ok((client, context))
}

/// Scales to `n` kwok nodes and searches in `dir/nodes-<n>`, adding the point to `report`
/// (and why the sweep stops, when it must).
async fn search_at(
    client: &kube::Client,
    opts: &LimitOptions,
    n: u32,
    previous: Option<&SweepPoint>,
    dir: &RunDir,
    report: &mut SweepReport,
) -> Result<(), LimitError> {
    nodes::scale(client, n).await.map_err(LimitError::Cluster)?;
    let sub = dir.path().join(format!("nodes-{n}"));
    let one = LimitOptions {
        out: Some(sub.clone()),
        start: opts.start.or_else(|| seed(previous)),
        ..opts.clone()
    };
    let outcome: LimitOutcome = find_limit(&one).await?;
    eprintln!("{}", crate::report::limit::limit_summary(&outcome.report));
    report.points.push(point(n, &sub, &outcome.report));
    match (&outcome.end, outcome.error) {
        (_, Some(e)) => {
            report.ended_early = Some(format!("the search at {n} node(s) did not complete"));
            Err(e)
        }
        (EndReason::Completed, None) => Ok(()),
        (_, None) => {
            report.ended_early = Some(format!("the search at {n} node(s) did not complete"));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(nodes: u32, limit: f64) -> SweepPoint {
        SweepPoint {
            nodes,
            limit_jobs_per_minute: Some(limit),
            interval: [Some(limit), None],
            pass: Some(true),
            per_node_started_per_second: None,
            busiest_node_started_per_second: None,
            bottleneck: None,
            steps: 5,
            wall_s: 600.0,
            dir: PathBuf::new(),
        }
    }

    #[test]
    fn each_search_after_the_first_starts_at_the_previous_limit() {
        assert_eq!(seed(None), None);
        assert_eq!(seed(Some(&p(1, 134.4))), Some(134));
        assert_eq!(seed(Some(&p(1, 0.4))), None, "no load held");
        let none = SweepPoint {
            limit_jobs_per_minute: None,
            ..p(2, 1.0)
        };
        assert_eq!(seed(Some(&none)), None);
    }

    #[test]
    fn a_flat_limit_is_control_plane_bound_and_a_growing_one_node_bound() {
        let flat = [p(1, 135.0), p(2, 140.0), p(3, 137.0), p(5, 141.0)];
        assert_eq!(scaling(&flat).0, Scaling::ControlPlaneBound);
        let linear = [p(1, 60.0), p(2, 118.0), p(3, 181.0)];
        let (s, l, n) = scaling(&linear);
        assert_eq!(s, Scaling::NodeBound);
        assert_eq!(n, Some(3.0));
        assert!((l.unwrap() - 181.0 / 60.0).abs() < 1e-9);
        assert_eq!(scaling(&[p(1, 60.0), p(5, 100.0)]).0, Scaling::Partly);
        assert_eq!(scaling(&[p(3, 60.0)]).0, Scaling::Unknown);
    }

    #[test]
    fn the_summary_has_a_row_per_node_count() {
        let r = SweepReport {
            schema_version: SWEEP_SCHEMA_VERSION,
            context: "c".into(),
            counts: vec![1, 2],
            points: vec![p(1, 135.0), p(2, 140.0)],
            scaling: Scaling::ControlPlaneBound,
            limit_ratio: Some(140.0 / 135.0),
            nodes_ratio: Some(2.0),
            wall_s: 1200.0,
            ended_early: None,
        };
        let text = crate::report::limit::sweep_summary(&r);
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(
            text.lines().nth(1).unwrap().trim_start().starts_with("1 "),
            "{text}"
        );
    }
}

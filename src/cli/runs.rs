//! Commands that load a cluster: run, find-limit, bench, clean.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{BenchArgs, FindLimitArgs, Outcome, RunArgs};
use crate::cluster::ClusterTarget;
use crate::cluster::select;
use crate::run::{RunOptions, RunOutcome};
use crate::schema::EndReason;
use crate::session::{RunFile, RunKind};

pub(super) async fn clean(target: ClusterTarget) -> anyhow::Result<Outcome> {
    let target = target.resolve()?;
    let (client, context) = crate::cluster::preflight::connect_checked(&target).await?;
    let cleaned = crate::session::clean(&client).await?;
    println!(
        "removed {} namespace(s) of earlier runs on `{context}`: {:?}",
        cleaned.removed.len(),
        cleaned.removed
    );
    if !cleaned.terminating.is_empty() {
        println!(
            "still terminating (deletion requested; the namespace controller finishes it): {:?}",
            cleaned.terminating
        );
    }
    Ok(Outcome::Pass)
}

pub(super) async fn run_scenario(args: RunArgs) -> anyhow::Result<Outcome> {
    let RunArgs {
        scenario,
        target,
        out,
        local,
        keep,
        pushgateway,
        prometheus,
        resources_from,
        run_id,
    } = args;
    // Fail on a bad scenario before starting anything.
    crate::scenario::Scenario::from_file(&scenario)?;
    let mut started_local = None;
    if local && let Some((cluster, bins)) = select::local_to_start()? {
        select::start_for_run(&cluster, &bins)
            .await
            .context("cluster up `local`")?;
        started_local = Some((cluster, bins));
    }
    let opts = RunOptions {
        scenario,
        target: target.resolve()?,
        out,
        keep,
        prometheus,
        resources_from,
        run_id,
    };
    let local_target = select::local_cluster_of(opts.target.context.as_deref())?;
    if let Some(cluster) = &local_target {
        cluster.check_health()?;
    }
    let outcome = crate::run::run(&opts).await;
    if let Some(cluster) = &local_target
        && let Err(e) = cluster.check_health()
    {
        eprintln!("warning: the local cluster lost a component during the run: {e}");
    }
    if let Some((cluster, bins)) = started_local
        && let Err(e) = cluster.down(&bins).await
    {
        eprintln!("warning: stopping the local cluster failed: {e}");
    }
    let outcome = outcome?;
    if let Some(url) = pushgateway.as_deref() {
        match crate::pushgateway::push(url, &outcome.results).await {
            Ok(target) => eprintln!("pushed the results to {target}"),
            Err(e) => eprintln!(
                "warning: {:#} (the results are kept in {})",
                anyhow::Error::new(e),
                outcome.dir.display()
            ),
        }
    }
    report_run(outcome)
}

/// `cronbench push`: the results of the run in `dir` to the Pushgateway at `url`.
pub(super) async fn push(dir: &Path, url: &str) -> anyhow::Result<Outcome> {
    let results = crate::report::load_results(dir)
        .with_context(|| format!("reading the results of {}", dir.display()))?;
    let target = crate::pushgateway::push(url, &results).await?;
    println!("pushed the results of {} to {target}", results.run.run_id);
    Ok(Outcome::Pass)
}

fn report_run(outcome: RunOutcome) -> anyhow::Result<Outcome> {
    println!("{}", crate::analyze::summary_table(&outcome.results));
    for line in crate::report::components::lines(&outcome.results) {
        println!("{line}");
    }
    println!("run directory: {}", outcome.dir.display());
    if let Some(ns) = &outcome.leftover {
        eprintln!("warning: namespace {ns} was still terminating; `cronbench clean` removes it");
    }
    if let Some(e) = outcome.error {
        return Err(
            anyhow::Error::new(e).context("the run ended early (results so far were written)")
        );
    }
    Ok(match outcome.end {
        EndReason::Completed => Outcome::pass_if(outcome.results.verdict.pass),
        EndReason::Interrupted | EndReason::Error => Outcome::Error,
    })
}

fn limit_options(args: &FindLimitArgs) -> anyhow::Result<crate::limit::LimitOptions> {
    Ok(crate::limit::LimitOptions {
        scenario: args.scenario.clone(),
        target: args.target.clone().resolve()?,
        out: args.out.clone(),
        max_minutes: args.max_minutes,
        precision: args.precision,
        start: args.start,
        factor: args.factor,
        max_cronjobs: args.max_cronjobs,
        hold_minutes: args.hold_minutes,
        start_within_s: args.start_within_s,
        min_on_time_ratio: args.min_on_time_ratio,
        scrape: !args.no_scrape,
        prometheus: args.prometheus.clone(),
        confirm_minutes: args.confirm,
    })
}

pub(super) async fn find_limit(args: FindLimitArgs) -> anyhow::Result<Outcome> {
    let opts = limit_options(&args)?;
    if !args.sweep_nodes.is_empty() {
        return sweep(&opts, &args.sweep_nodes).await;
    }
    let outcome = crate::limit::find_limit(&opts).await?;
    println!("{}", crate::report::limit::limit_summary(&outcome.report));
    println!(
        "limit.json: {}",
        outcome.dir.join(RunFile::Limit.name()).display()
    );
    if let Some(ns) = &outcome.leftover {
        eprintln!("namespace {ns} is still terminating; `cronbench clean` removes it");
    }
    if let Some(e) = outcome.error {
        return Err(anyhow::Error::new(e).context("find-limit ended early"));
    }
    Ok(match outcome.end {
        EndReason::Completed => limit_outcome(&outcome.report),
        EndReason::Interrupted | EndReason::Error => Outcome::Error,
    })
}

/// A completed search's outcome: contradicted by its confirmation, else the limit against the
/// target.
fn limit_outcome(report: &crate::limit::report::LimitReport) -> Outcome {
    use crate::limit::confirm::ConfirmVerdict;
    match report.confirmation.as_ref().map(|c| c.verdict) {
        Some(ConfirmVerdict::Contradicted) => Outcome::Contradicted,
        _ => Outcome::pass_if(report.pass == Some(true)),
    }
}

async fn sweep(opts: &crate::limit::LimitOptions, nodes: &[u32]) -> anyhow::Result<Outcome> {
    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(RunKind::Sweep.new_id()));
    let report = crate::limit::sweep::sweep(opts, nodes, &dir).await?;
    println!("{}", crate::report::limit::sweep_summary(&report));
    println!("sweep.json: {}", dir.join(RunFile::Sweep.name()).display());
    if report.ended_early.is_some() {
        return Ok(Outcome::Error);
    }
    Ok(Outcome::pass_if(
        report.points.iter().all(|p| p.pass == Some(true)),
    ))
}

pub(super) async fn bench(args: BenchArgs) -> anyhow::Result<Outcome> {
    let out = args.out.unwrap_or_else(|| {
        let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC);
        PathBuf::from("runs").join(format!("bench-{}", now.strftime("%Y%m%d-%H%M%S")))
    });
    let opts = crate::bench::BenchOptions {
        quick: args.quick,
        out: out.clone(),
        cluster: args.cluster,
        kube_burner: args.kube_burner,
        only: args.only,
    };
    let bench = crate::bench::run(&opts).await.context("cronbench bench")?;
    println!("{}", crate::report::bench::bench_table(&bench));
    println!("bench.json: {}", out.join(RunFile::Bench.name()).display());
    Ok(Outcome::pass_if(bench.pass()))
}

/// The bench's bare watcher: connects, then counts until SIGTERM or SIGINT.
pub(super) async fn bench_watch(
    kubeconfig: PathBuf,
    context: String,
    namespace: &str,
    selector: &str,
) -> anyhow::Result<Outcome> {
    let (client, _) = crate::cluster::preflight::connect(Some(kubeconfig), Some(context)).await?;
    crate::bench::watch::run(client, namespace, selector)
        .await
        .context("bench-watch")?;
    Ok(Outcome::Pass)
}

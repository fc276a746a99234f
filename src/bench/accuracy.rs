//! accuracy: the bench cluster's kwok starts every bound pod after exactly D ms; a light
//! `cronbench run` reports the bound -> started stage, and the error is |p50 - D|. The ground
//! truth beside it: every stage endpoint's client time against the apiserver's audit log
//! ([`super::audit`]), run by run.

use std::path::Path;

use super::child::{self, ClusterRef};
use super::floor::{Floor, FloorRun};
use super::report::{Accuracy, AccuracyStage};
use super::{ACCURACY_DELAY_MS, BenchError, POD_RUN_MS, Sizes, audit, proc};
use crate::call;
use crate::results::{Clock, Results, Stage};
use crate::session::RunFile;

/// The first tick falls in the warm-up and is not counted: kwok's first pods after it starts
/// wait for its cold start (measured: kwok saw the first tick's bound pods 40-90 ms after
/// cronbench did, then 0-10 ms).
const ACCURACY_WARMUP_S: u64 = 60;

/// Runs the accuracy part in namespace `namespace`, whose requests the cluster's audit log
/// records; an audit comparison that failed is pushed to `errors` (its targets then fail).
pub async fn run(
    ctx: &ClusterRef,
    client: &kube::Client,
    sizes: &Sizes,
    out: &Path,
    namespace: &str,
    errors: &mut Vec<String>,
) -> Result<Accuracy, BenchError> {
    let scenario = child::every_minute(
        "bench-accuracy",
        sizes.accuracy_cronjobs,
        ACCURACY_WARMUP_S,
        sizes.accuracy_measure_s,
        15,
    );
    let load_avg_start = proc::load_avg();
    let dir = out.join("accuracy");
    let (run, floor) = run_with_floor(ctx, client, &scenario, &dir, namespace).await?;
    let load_avg_end = proc::load_avg();
    let results = child::results(&run.dir)?;
    let rss_loaded_mb = child::loaded_rss_mb(&run);
    let stage = |stage, clock| {
        results
            .stages
            .iter()
            .find(|s| s.stage == stage && s.clock == clock)
    };
    let client = stage(Stage::BoundToStarted, Clock::Client);
    let Some((p50, samples)) = client.and_then(|s| s.p50_ms.map(|p| (p, s.count))) else {
        return Err(BenchError::Child {
            what: "the accuracy run".into(),
            detail: format!(
                "no bound -> started sample in {}",
                run.dir.join(RunFile::Results.name()).display()
            ),
        });
    };
    let error_ms = (p50 as f64 - ACCURACY_DELAY_MS as f64).abs();
    // kwok's own share of a delayed stage: started -> finished is delayed by POD_RUN_MS the
    // same way, so what it reports beyond that is kwok's processing, not the harness's error.
    let run_p50 = stage(Stage::StartedToFinished, Clock::Client).and_then(|s| s.p50_ms);
    let kwok_overhead_ms = run_p50.map(|r| r as f64 - POD_RUN_MS as f64);
    let error_net_ms = kwok_overhead_ms.map(|o| (p50 as f64 - ACCURACY_DELAY_MS as f64 - o).abs());
    eprintln!(
        "  bound -> started p50 {p50} ms for D {ACCURACY_DELAY_MS} ms ({samples} samples): error {error_ms} ms; \
         started -> finished p50 {} ms for {POD_RUN_MS} ms: net error {} ms",
        ms(run_p50.map(|v| v as f64)),
        ms(error_net_ms)
    );
    let (stages, audit_events) = match audit_stages(ctx, &dir, &run.dir, &results, &floor) {
        Ok(found) => found,
        Err(e) => {
            errors.push(format!("accuracy against the audit log: {e}"));
            (Vec::new(), 0)
        }
    };
    Ok(Accuracy {
        delay_ms: ACCURACY_DELAY_MS,
        cronjobs: sizes.accuracy_cronjobs,
        samples,
        reported_p50_ms: p50,
        reported_p90_ms: client.and_then(|s| s.p90_ms),
        server_p50_ms: stage(Stage::BoundToStarted, Clock::Server).and_then(|s| s.p50_ms),
        error_ms,
        started_to_finished_p50_ms: run_p50,
        kwok_overhead_ms,
        error_net_ms,
        load_avg_start,
        load_avg_end,
        stages,
        audit_events,
        rss_loaded_mb,
    })
}

/// The accuracy run, with the floor's raw watch beside it for as long as it lasts.
async fn run_with_floor(
    ctx: &ClusterRef,
    client: &kube::Client,
    scenario: &crate::scenario::Scenario,
    dir: &Path,
    namespace: &str,
) -> Result<(child::ChildRun, FloorRun), BenchError> {
    let floor = Floor::start(client, namespace);
    let run =
        child::run_scenario(ctx, scenario, dir, child::Beside::Nothing, Some(namespace)).await;
    let floor = floor.stop();
    Ok((run?, floor))
}

/// The audit log copied into `dir` (the cluster's state goes with it), read for `namespace`
/// and compared with the run's event log over its measured window.
fn audit_stages(
    ctx: &ClusterRef,
    dir: &Path,
    run_dir: &Path,
    results: &Results,
    floor: &FloorRun,
) -> Result<(Vec<AccuracyStage>, u64), BenchError> {
    let took = std::time::Instant::now();
    let copy = dir.join(crate::cluster::audit::LOG_FILE);
    let log = ctx.cluster.audit_log();
    std::fs::copy(&log, &copy).map_err(call::io(format!(
        "copy {} to {}",
        log.display(),
        copy.display()
    )))?;
    let window = results.window.as_ref().ok_or_else(|| BenchError::Child {
        what: "the accuracy run".into(),
        detail: format!(
            "no measured window in {}",
            run_dir.join(RunFile::Results.name()).display()
        ),
    })?;
    let times = audit::read(&copy, &results.run.namespace)?;
    let stages = audit::compare(
        &run_dir.join(RunFile::Events.name()),
        window,
        &times,
        Some(&floor.times),
    )?;
    for s in &stages {
        eprintln!(
            "  {:<12} {} of {} runs matched; |client - audit| p50 {} ms, p99 {} ms, max {} ms; signed p50 {} ms",
            s.endpoint.name(),
            s.matched,
            s.runs,
            ms(s.p50_ms),
            ms(s.p99_ms),
            ms(s.max_ms),
            ms(s.signed_p50_ms)
        );
        eprintln!(
            "  {:<12} floor (raw watch) - audit p50 {} ms, p99 {} ms; client - floor p50 {} ms, p99 {} ms",
            "",
            ms(s.floor_p50_ms),
            ms(s.floor_p99_ms),
            ms(s.added_p50_ms),
            ms(s.added_p99_ms)
        );
    }
    eprintln!(
        "  floor: {} watch lines, {} reconnects{}",
        floor.lines,
        floor.reconnects,
        floor
            .last_error
            .as_ref()
            .map_or_else(String::new, |e| format!(", last error: {e}"))
    );
    eprintln!(
        "  audit comparison: {} events of the namespace read and matched in {:.0} ms",
        times.events,
        took.elapsed().as_secs_f64() * 1000.0
    );
    Ok((stages, times.events))
}

/// A figure for the terminal: one decimal, or `?` when there is none.
fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "?".into(), |v| format!("{v:.1}"))
}

//! accuracy: the bench cluster's kwok starts every bound pod after exactly D ms; a light
//! `cronbench run` reports the bound -> started stage, and the error is |p50 - D|.

use std::path::Path;

use super::child::{self, ClusterRef};
use super::report::Accuracy;
use super::{ACCURACY_DELAY_MS, BenchError, Sizes, proc};
use crate::results::{Clock, Stage};

pub async fn run(ctx: &ClusterRef, sizes: &Sizes, out: &Path) -> Result<Accuracy, BenchError> {
    let scenario = child::every_minute(
        "bench-accuracy",
        sizes.accuracy_cronjobs,
        5,
        sizes.accuracy_measure_s,
        15,
    );
    let load_avg_start = proc::load_avg();
    let run = child::run_scenario(ctx, &scenario, &out.join("accuracy")).await?;
    let load_avg_end = proc::load_avg();
    let results = child::results(&run.dir)?;
    let stage = |clock| {
        results
            .stages
            .iter()
            .find(|s| s.stage == Stage::BoundToStarted && s.clock == clock)
    };
    let client = stage(Clock::Client);
    let Some((p50, samples)) = client.and_then(|s| s.p50_ms.map(|p| (p, s.count))) else {
        return Err(BenchError::Child {
            what: "the accuracy run".into(),
            detail: format!(
                "no bound -> started sample in {}",
                run.dir.join("results.json").display()
            ),
        });
    };
    let error_ms = (p50 as f64 - ACCURACY_DELAY_MS as f64).abs();
    eprintln!(
        "  bound -> started p50 {p50} ms for D {ACCURACY_DELAY_MS} ms ({samples} samples): error {error_ms} ms"
    );
    Ok(Accuracy {
        delay_ms: ACCURACY_DELAY_MS,
        cronjobs: sizes.accuracy_cronjobs,
        samples,
        reported_p50_ms: p50,
        reported_p90_ms: client.and_then(|s| s.p90_ms),
        server_p50_ms: stage(Clock::Server).and_then(|s| s.p50_ms),
        error_ms,
        load_avg_start,
        load_avg_end,
    })
}

//! Commands that read a cluster but change nothing on it: `import --context` (lists CronJobs)
//! and `lint --context` (dry runs, which store nothing). So, unlike run, they take any context,
//! not only test clusters.

use std::path::{Path, PathBuf};

use super::Outcome;
use crate::cluster::preflight;
use crate::cluster::{ClusterTarget, dryrun};
use crate::import::cluster::ClusterImport;
use crate::scenario::{LintKind, Scenario, scenario_dir};

/// Rejections printed in full; the rest are counted.
const SHOWN: usize = 20;

pub(super) async fn import(opts: ClusterImport) -> anyhow::Result<Outcome> {
    let done = crate::import::cluster::from_cluster(&opts).await?;
    super::offline::wrote_classes(&done, "CronJobs", opts.scale)
}

/// The offline checks, then a dry run of each distinct CronJob against `context`.
pub(super) async fn lint_context(
    path: &Path,
    context: String,
    kubeconfig: Option<PathBuf>,
) -> anyhow::Result<Outcome> {
    let report = crate::scenario::lint(path)?;
    println!("{report}");
    if !report.is_ok() {
        return Ok(Outcome::Missed);
    }
    anyhow::ensure!(
        report.kind == LintKind::Scenario,
        "lint --context dry-runs a scenario's CronJobs, and {} holds job definitions; lint the \
         scenario whose load.jobs_dir names them",
        path.display()
    );
    let mut scenario = Scenario::from_file(path)?;
    let defs = scenario.cronjob_defs(&scenario_dir(path))?;
    let target = ClusterTarget {
        kubeconfig,
        context: Some(context),
        allow_context: Vec::new(),
    }
    .resolve()?;
    let (client, context) = preflight::connect(target.kubeconfig, target.context).await?;
    crate::cluster::adapt_scenario(&context, &mut scenario);
    let judged = dryrun::judge(&client, &context, &scenario, path, &defs).await?;
    for r in judged.rejected.iter().take(SHOWN) {
        for cause in &r.causes {
            println!("error: {cause} (CronJob `{}`)", r.name);
        }
    }
    if judged.rejected.len() > SHOWN {
        println!(
            "error: ... and {} more rejected CronJobs",
            judged.rejected.len() - SHOWN
        );
    }
    println!(
        "{}: the apiserver of context `{context}` {} in a dry run (nothing was stored)",
        path.display(),
        match judged.rejected.len() {
            0 => format!("accepts all {} distinct CronJob(s)", judged.sent),
            n => format!("rejects {n} of {} distinct CronJob(s)", judged.sent),
        }
    );
    Ok(Outcome::pass_if(judged.rejected.is_empty()))
}

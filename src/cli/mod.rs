//! The command line: clap types ([`args`]), the commands, and the one outcome -> exit code map
//! ([`exit`]). The only place that uses `anyhow` and decides exit codes: 0 pass, 1 a target or
//! SLO missed (or lint problems), 2 an error.

mod args;
mod cluster;
mod exit;
mod live;
mod offline;
mod runs;

use std::process::ExitCode;

pub use args::{BenchArgs, ClusterCommand, Command, FindLimitArgs, Opts, RunArgs};
pub use exit::Outcome;

/// Runs the command and maps the outcome to an exit code.
pub async fn run(opts: Opts) -> ExitCode {
    let outcome = match dispatch(opts).await {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("error: {e:#}");
            Outcome::Error
        }
    };
    crate::bench::proc::report_peak_rss();
    outcome.into()
}

/// What `import` says when given no source (clap's group normally refuses that first).
const IMPORT_SOURCE: &str = "import needs --crontab FILE, --context CONTEXT or --jobs-dir DIR";

async fn dispatch(opts: Opts) -> anyhow::Result<Outcome> {
    match opts.command {
        Command::Cluster { command } => cluster::cluster(command).await,
        Command::Run(args) => runs::run_scenario(args).await,
        Command::Push { dir, pushgateway } => runs::push(&dir, &pushgateway).await,
        Command::FindLimit(args) => runs::find_limit(args).await,
        Command::Bench(args) => runs::bench(args).await,
        Command::Clean { target } => runs::clean(target).await,
        Command::BenchWatch {
            kubeconfig,
            context,
            namespace,
            selector,
        } => runs::bench_watch(kubeconfig, context, &namespace, &selector).await,
        Command::BenchCheck { path } => offline::bench_check(path),
        Command::Analyze { dir } => offline::analyze(dir),
        Command::Lint {
            path,
            context: None,
            ..
        } => offline::lint(&path),
        Command::Lint {
            path,
            context: Some(context),
            kubeconfig,
        } => live::lint_context(&path, context, kubeconfig).await,
        Command::Import {
            crontab: Some(crontab),
            out,
            scale,
            name,
            ..
        } => offline::import(&crontab, &out, scale, &name),
        Command::Import {
            jobs_dir: Some(dir),
            out,
            scale,
            name,
            ..
        } => offline::import_jobs_dir(&dir, &out, scale, &name),
        Command::Import {
            context: Some(context),
            kubeconfig,
            namespace,
            all_namespaces,
            out,
            scale,
            name,
            ..
        } => {
            let scope = crate::import::cluster::Scope::of(all_namespaces, namespace);
            let opts = crate::import::cluster::ClusterImport {
                kubeconfig,
                context,
                scope,
                out,
                scale,
                name,
            };
            live::import(opts).await
        }
        Command::Import { .. } => anyhow::bail!(IMPORT_SOURCE),
        Command::Report { dir, out, format } => offline::report(&dir, out.as_deref(), format),
        Command::Compare {
            history,
            current,
            confirm,
            ..
        } if !history.is_empty() => offline::compare_history(&history, &current, confirm.into()),
        Command::Compare {
            baseline,
            current,
            threshold,
            out,
            ..
        } => offline::compare(&baseline, &current, threshold, out.as_deref()),
        Command::History { dirs, out } => offline::history(&dirs, &out),
    }
}

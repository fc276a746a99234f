//! Commands that need no cluster: analyze, lint, import, report, compare, history,
//! bench-check.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::Outcome;
use crate::session::{RunDir, RunFile};

pub(super) fn bench_check(path: PathBuf) -> anyhow::Result<Outcome> {
    let path = if path.is_dir() {
        path.join("bench.json")
    } else {
        path
    };
    let bench = crate::bench::read_bench(&path)?;
    let missing = bench.incomplete();
    if missing.is_empty() {
        println!("{} is complete", path.display());
        Ok(Outcome::Pass)
    } else {
        anyhow::bail!("{} is incomplete: {}", path.display(), missing.join("; "))
    }
}

pub(super) fn lint(path: &Path) -> anyhow::Result<Outcome> {
    let report = crate::scenario::lint(path)?;
    println!("{report}");
    Ok(Outcome::pass_if(report.is_ok()))
}

pub(super) fn import(
    crontab: &Path,
    out: &Path,
    scale: u32,
    name: &str,
) -> anyhow::Result<Outcome> {
    let done = crate::import::from_crontab(crontab, out, scale, name)?;
    println!(
        "wrote {}: {} CronJobs from {} crontab lines, {:.4} jobs/min, measure window {} s",
        done.scenario.display(),
        done.cronjobs,
        done.lines,
        done.jobs_per_minute,
        done.measure_s
    );
    // What was written must lint: a scenario import cannot run is a bug here, not the user's.
    let report = crate::scenario::lint(&done.scenario)?;
    println!("{report}");
    Ok(Outcome::pass_if(report.is_ok()))
}

pub(super) fn import_jobs_dir(
    dir: &Path,
    out: &Path,
    scale: u32,
    name: &str,
) -> anyhow::Result<Outcome> {
    let done = crate::import::jobdir::from_jobs_dir(dir, out, scale, name)?;
    wrote_classes(&done, "job definitions", scale)
}

/// Says what a class-writing import wrote, and lints it: a scenario import cannot run is a bug
/// here, not the user's.
pub(super) fn wrote_classes(
    done: &crate::import::cluster::ImportedFleet,
    read: &str,
    scale: u32,
) -> anyhow::Result<Outcome> {
    println!(
        "wrote {}: {} {read} read, {} classes, {} CronJobs (x{scale}), {:.4} jobs/min, measure \
         window {} s",
        done.scenario.display(),
        done.read,
        done.classes,
        done.cronjobs,
        done.jobs_per_minute,
        done.measure_s
    );
    let report = crate::scenario::lint(&done.scenario)?;
    println!("{report}");
    Ok(Outcome::pass_if(report.is_ok()))
}

pub(super) fn analyze(dir: PathBuf) -> anyhow::Result<Outcome> {
    let (dir, log) = if dir.is_dir() {
        let dir = RunDir::existing(dir);
        let log = dir.file(RunFile::Events);
        (dir, log)
    } else {
        let parent = dir.parent().map(PathBuf::from).unwrap_or_default();
        (RunDir::existing(parent), dir)
    };
    let results =
        crate::analyze::analyze_file(&log).with_context(|| format!("analyze {}", log.display()))?;
    dir.write_json(RunFile::Results, &results)?;
    println!("{}", crate::analyze::summary_table(&results));
    println!("wrote {}", dir.file(RunFile::Results).display());
    Ok(Outcome::pass_if(results.verdict.pass))
}

pub(super) fn report(
    dir: &Path,
    out: Option<&Path>,
    format: crate::report::Format,
) -> anyhow::Result<Outcome> {
    let (written, text) = crate::report::report_command(dir, out, format)
        .with_context(|| format!("report of {}", dir.display()))?;
    if let Some(path) = written {
        eprintln!("wrote {}", path.display());
    }
    if let Some(text) = text {
        print!("{text}");
    }
    Ok(Outcome::Pass)
}

pub(super) fn compare(
    baseline: &[PathBuf],
    current: &Path,
    threshold: f64,
    out: Option<&Path>,
) -> anyhow::Result<Outcome> {
    let comparison = crate::compare::compare_command(baseline, current, threshold, out)?;
    print!("{}", crate::compare::summary(&comparison));
    if let Some(path) = out {
        eprintln!("wrote {}", path.display());
    }
    Ok(Outcome::pass_if(!comparison.regression))
}

pub(super) fn history(dirs: &[PathBuf], out: &Path) -> anyhow::Result<Outcome> {
    let opts = crate::changepoint::Options::default();
    let history = crate::history::load(&crate::history::run_dirs(dirs)?, &opts)?;
    let page = crate::report::history::history_html(&history, &opts)?;
    std::fs::write(out, page).with_context(|| format!("write {}", out.display()))?;
    print!("{}", crate::report::history::history_markdown(&history));
    eprintln!("wrote {}", out.display());
    Ok(Outcome::Pass)
}

pub(super) fn compare_history(
    history: &[PathBuf],
    current: &Path,
    confirm: usize,
) -> anyhow::Result<Outcome> {
    let opts = crate::changepoint::Options::default();
    let mut dirs = crate::history::run_dirs(history)?;
    dirs.retain(|d| !same_dir(d, current));
    dirs.push(current.to_path_buf());
    let h = crate::history::load(&dirs, &opts)?;
    anyhow::ensure!(
        h.runs.last().is_some_and(|r| same_dir(&r.dir, current)),
        "{} started before the newest run of the history; --current must be the newest run",
        current.display()
    );
    let shifts = crate::history::confirmed_shifts(&h, confirm, &opts);
    print!(
        "{}",
        crate::report::history::confirm_summary(&h, &shifts, confirm)
    );
    Ok(Outcome::pass_if(shifts.is_empty()))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

//! `cronbench import`: a scenario built from what a team already has: a crontab (an ordinary
//! scenario, `scenario.yaml`, with a folder of job definitions, `jobs/`) or a live cluster's
//! CronJobs (a scenario with `load.classes`). Each says where it came from, and `cronbench
//! lint` accepts it.

pub mod cluster;
pub mod crontab;
pub mod fleet;
pub mod jobdir;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::scenario::bounds::window_problem;
use crate::scenario::{CronJobDef, Durations, jobs_per_minute};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{} is a folder; pass the crontab file (`crontab -l > my.crontab`)", .0.display())]
    Folder(PathBuf),
    /// Reading the crontab: missing, unreadable, over the size bound, not UTF-8.
    #[error(transparent)]
    Read(#[from] crate::scenario::ScenarioError),
    #[error(
        "{} already holds a scenario.yaml; pass a new folder with --out (import never \
         overwrites)",
        .0.display()
    )]
    Exists(PathBuf),
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} exists; pass a new file or folder with --out (import never overwrites)", .0.display())]
    ExistsFile(PathBuf),
    #[error("--scale must be 1 to 1000 (got {0}): it multiplies every crontab line or CronJob")]
    Scale(u32),
    #[error(transparent)]
    Crontab(#[from] crontab::CrontabError),
    #[error(transparent)]
    Fleet(#[from] fleet::FleetError),
    /// Connecting: kubeconfig, context, or an unreachable apiserver (retryable).
    #[error(transparent)]
    Preflight(#[from] crate::cluster::preflight::PreflightError),
    #[error("{0}")]
    Cluster(String),
    #[error(
        "the identity of context `{context}` may not list CronJobs (cronjobs.batch) in {read}: \
         {message}; grant it list on cronjobs.batch (e.g. the `view` ClusterRole), or pass \
         --namespace with one it may read"
    )]
    Forbidden {
        context: String,
        read: cluster::Read,
        message: String,
    },
    #[error(
        "context `{context}` has more than {MAX_CRONJOBS} CronJobs in {read}, the most one run \
         creates; import one namespace at a time (--namespace)",
        MAX_CRONJOBS = crate::scenario::bounds::MAX_CRONJOBS
    )]
    TooMany {
        context: String,
        read: cluster::Read,
    },
    #[error(
        "context `{context}` has no CronJobs in {read}; pass --namespace with the one that has \
         them, or --all-namespaces"
    )]
    NoCronJobs {
        context: String,
        read: cluster::Read,
    },
    #[error(
        "{read} CronJobs times --scale {scale} is above the bound of {MAX_CRONJOBS} one run \
         creates; lower --scale",
        MAX_CRONJOBS = crate::scenario::bounds::MAX_CRONJOBS
    )]
    ScaledTooMany { read: u64, scale: u32 },
    #[error(
        "every CronJob in {read} of context `{context}` is suspended: a run of them would \
         measure nothing; import a namespace with running CronJobs"
    )]
    AllSuspended {
        context: String,
        read: cluster::Read,
    },
    #[error(
        "{} has no *.yaml or *.yml job definitions that schedule a run; pass the folder that \
         holds them (see scenarios/jobs-example/)",
        .0.display()
    )]
    NoDefinitions(PathBuf),
}

/// What an import wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub scenario: PathBuf,
    pub lines: usize,
    pub cronjobs: usize,
    pub jobs_per_minute: f64,
    pub measure_s: u64,
}

/// The measure windows tried, shortest first: the first long enough to hold a tick of every
/// schedule is used (a day holds one of any schedule that fires daily or more often).
const WINDOWS_S: [u64; 7] = [180, 600, 1_800, 3_600, 7_200, 21_600, 86_400];

/// Reads the crontab at `path` and writes `out/scenario.yaml` and `out/jobs/crontab.yaml`,
/// every line `scale` times.
pub fn from_crontab(
    path: &Path,
    out: &Path,
    scale: u32,
    name: &str,
) -> Result<Imported, ImportError> {
    check_scale(scale)?;
    if path.is_dir() {
        return Err(ImportError::Folder(path.to_path_buf()));
    }
    let text = crate::scenario::read_text(path)?;
    let entries = crontab::parse(&text, path)?;
    let defs = crontab::definitions(&entries, scale);
    let scenario = out.join("scenario.yaml");
    if scenario.exists() {
        return Err(ImportError::Exists(out.to_path_buf()));
    }
    let rate = jobs_per_minute(&defs);
    let measure_s = window_for(&defs);
    let origin = format!(
        "line(s) of {} imported by `cronbench import --crontab` (x{scale})",
        path.display()
    );
    write(
        &out.join("jobs").join("crontab.yaml"),
        &jobs_yaml(&defs, &entries, scale),
    )?;
    write(
        &scenario,
        &scenario_yaml(name, &origin, rate, measure_s, entries.len()),
    )?;
    Ok(Imported {
        scenario,
        lines: entries.len(),
        cronjobs: defs.len(),
        jobs_per_minute: rate,
        measure_s,
    })
}

fn check_scale(scale: u32) -> Result<(), ImportError> {
    if (1..=1000).contains(&scale) {
        Ok(())
    } else {
        Err(ImportError::Scale(scale))
    }
}

/// The shortest of [`WINDOWS_S`] that holds a tick of every schedule of `defs`.
fn window_for(defs: &[CronJobDef]) -> u64 {
    WINDOWS_S
        .into_iter()
        .find(|&m| {
            let d = Durations {
                measure_s: m,
                ..Durations::default()
            };
            window_problem(defs, &d).is_none()
        })
        .unwrap_or(86_400)
}

/// Writes `text` to `path`, which must not exist yet (created exclusively, so a file that
/// appeared meanwhile is not overwritten either).
fn write_new(path: &Path, text: &str) -> Result<(), ImportError> {
    use std::io::Write as _;
    let err = |source| ImportError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => ImportError::ExistsFile(path.to_path_buf()),
            _ => err(e),
        })?;
    file.write_all(text.as_bytes()).map_err(err)
}

fn write(path: &Path, text: &str) -> Result<(), ImportError> {
    let err = |source| ImportError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::write(path, text).map_err(err)
}

/// A YAML single-quoted scalar.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The job definitions, one document each, with the crontab line it came from.
fn jobs_yaml(defs: &[CronJobDef], entries: &[crontab::Entry], scale: u32) -> String {
    let mut out = String::new();
    // `definitions` made `scale` in a row for each entry, in order.
    let copies = entries
        .iter()
        .flat_map(|e| std::iter::repeat_n(e.line, scale as usize));
    for (d, line) in defs.iter().zip(copies) {
        let _ = writeln!(out, "---\n# crontab line {line}\nname: {}", d.name);
        let _ = writeln!(out, "kubernetes:\n  schedule: {}", quoted(&d.schedule));
        if let Some(zone) = &d.time_zone {
            let _ = writeln!(out, "  time_zone: {}", quoted(zone));
        }
        let command: Vec<String> = d.command.iter().map(|c| quoted(c)).collect();
        let _ = writeln!(out, "command: [{}]", command.join(", "));
    }
    out
}

fn scenario_yaml(name: &str, origin: &str, rate: f64, measure_s: u64, lines: usize) -> String {
    // Rounded down, so the target never exceeds what the schedules can start.
    let target = (rate * 1e6).floor() / 1e6;
    format!(
        "# {lines} {origin}.\n\
         # Only schedules and time zones were copied: every CronJob runs a placeholder command.\n\
         # The target is the rate the schedules fire at; the window is the shortest that holds a\n\
         # tick of every schedule. Edit freely, then `cronbench lint` this file.\n\
         name: {}\n\
         load:\n  jobs_dir: jobs\n\
         \x20 # On the local cluster's kwok nodes; remove both keys for real nodes.\n\
         \x20 node_selector: {{type: kwok}}\n\
         \x20 tolerations:\n\
         \x20 - {{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}}\n\
         duration:\n  warmup_s: 60\n  measure_s: {measure_s}\n  drain_s: 60\n\
         slo:\n  target_jobs_per_minute: {target}\n",
        quoted(name)
    )
}

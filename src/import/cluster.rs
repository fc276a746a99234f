//! `cronbench import --context`: read a live cluster's CronJobs (list only, paged and bounded)
//! and write a scenario whose `load.classes` reproduce their timing and policies.

use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::batch::v1::CronJob;
use kube::api::{Api, ListParams};

use super::fleet::{self, Fleet};
use super::{ImportError, window_for, write_new};
use crate::cluster::ClusterTarget;
use crate::cluster::preflight::{self, PreflightError};
use crate::scenario::bounds::MAX_CRONJOBS;
use crate::scenario::{CronJobDef, parse_schedule};

/// CronJobs asked for per list call.
const PAGE: u32 = 500;

/// Which namespaces to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One namespace; `None` is the context's own (its kubeconfig `namespace`, else `default`).
    Namespace(Option<String>),
    All,
}

impl Scope {
    /// `--all-namespaces`, else `--namespace` (or the context's own).
    pub fn of(all_namespaces: bool, namespace: Option<String>) -> Scope {
        if all_namespaces {
            Scope::All
        } else {
            Scope::Namespace(namespace)
        }
    }
}

/// A scope with the namespace filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    Namespace(String),
    All,
}

impl fmt::Display for Read {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Read::Namespace(ns) => write!(f, "namespace `{ns}`"),
            Read::All => f.write_str("all namespaces"),
        }
    }
}

/// What to import and where.
#[derive(Debug, Clone)]
pub struct ClusterImport {
    pub kubeconfig: Option<PathBuf>,
    pub context: String,
    pub scope: Scope,
    /// A `.yaml`/`.yml` file, or a folder to hold `scenario.yaml`.
    pub out: PathBuf,
    pub scale: u32,
    pub name: String,
}

/// What an import from a cluster wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedFleet {
    pub scenario: PathBuf,
    /// CronJobs read from the cluster.
    pub read: u64,
    pub classes: usize,
    /// CronJobs in the scenario (`read` times the scale).
    pub cronjobs: u64,
    pub jobs_per_minute: f64,
    pub measure_s: u64,
}

/// Lists the CronJobs `opts` names and writes the scenario; read-only on the cluster.
pub async fn from_cluster(opts: &ClusterImport) -> Result<ImportedFleet, ImportError> {
    super::check_scale(opts.scale)?;
    let scenario = scenario_path(&opts.out);
    if scenario.exists() {
        return Err(ImportError::ExistsFile(scenario));
    }
    let target = ClusterTarget {
        kubeconfig: opts.kubeconfig.clone(),
        context: Some(opts.context.clone()),
        allow_context: Vec::new(),
    }
    .resolve()
    .map_err(|e| ImportError::Cluster(e.to_string()))?;
    let (client, context) = preflight::connect(target.kubeconfig, target.context).await?;
    let read = match &opts.scope {
        Scope::Namespace(Some(ns)) => Read::Namespace(ns.clone()),
        Scope::Namespace(None) => Read::Namespace(client.default_namespace().to_string()),
        Scope::All => Read::All,
    };
    let fleet = list(&client, &context, &read).await?;
    write_fleet(&fleet, &context, &read, opts, &scenario)
}

/// Writes the scenario of `fleet` (read from `read` of `context`) to `scenario`.
fn write_fleet(
    fleet: &Fleet,
    context: &str,
    read: &Read,
    opts: &ClusterImport,
    scenario: &Path,
) -> Result<ImportedFleet, ImportError> {
    let header = format!(
        "# Imported by `cronbench import --context {context}` from {read} at {}:\n\
         # {} CronJob(s) in {} class(es) of identical settings, each count x{} (--scale).\n",
        jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        fleet.total,
        fleet.groups.len(),
        opts.scale
    );
    let suspended = || ImportError::AllSuspended {
        context: context.to_string(),
        read: read.clone(),
    };
    write_classes(fleet, &header, &opts.name, opts.scale, scenario, suspended)
}

/// Writes `fleet` as a scenario with `load.classes` (counts times `scale`) to `scenario`,
/// which must not exist; `all_suspended` is the error when no class can run.
pub(super) fn write_classes(
    fleet: &Fleet,
    header: &str,
    name: &str,
    scale: u32,
    scenario: &Path,
    all_suspended: impl FnOnce() -> ImportError,
) -> Result<ImportedFleet, ImportError> {
    let total = fleet.total * u64::from(scale);
    if total > MAX_CRONJOBS {
        return Err(ImportError::ScaledTooMany {
            read: fleet.total,
            scale,
        });
    }
    let names = fleet::class_names(&fleet.groups);
    let (rate, measure_s) = rate_and_window(fleet, scale);
    if rate <= 0.0 {
        return Err(all_suspended());
    }
    let classes = fleet::classes_yaml(&fleet.groups, &names, scale);
    let text = scenario_yaml(header, name, &classes, rate, measure_s);
    write_new(scenario, &text)?;
    Ok(ImportedFleet {
        scenario: scenario.to_path_buf(),
        read: fleet.total,
        classes: fleet.groups.len(),
        cronjobs: total,
        jobs_per_minute: rate,
        measure_s,
    })
}

/// `out` itself when it names a YAML file, else `out/scenario.yaml`.
pub(super) fn scenario_path(out: &Path) -> PathBuf {
    match out.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => out.to_path_buf(),
        _ => out.join("scenario.yaml"),
    }
}

/// Every CronJob of `read`, page by page; refused past [`MAX_CRONJOBS`] before reading more.
async fn list(client: &kube::Client, context: &str, read: &Read) -> Result<Fleet, ImportError> {
    let api: Api<CronJob> = match read {
        Read::Namespace(ns) => Api::namespaced(client.clone(), ns),
        Read::All => Api::all(client.clone()),
    };
    let mut fleet = Fleet::default();
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(PAGE);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page = api
            .list(&params)
            .await
            .map_err(|e| list_error(e, context, read))?;
        if fleet.total + page.items.len() as u64 > MAX_CRONJOBS {
            return Err(ImportError::TooMany {
                context: context.to_string(),
                read: read.clone(),
            });
        }
        for cj in &page.items {
            fleet.add(cj)?;
        }
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    if fleet.total == 0 {
        return Err(ImportError::NoCronJobs {
            context: context.to_string(),
            read: read.clone(),
        });
    }
    Ok(fleet)
}

fn list_error(e: kube::Error, context: &str, read: &Read) -> ImportError {
    match e {
        kube::Error::Api(status) if status.code == 403 || status.code == 401 => {
            ImportError::Forbidden {
                context: context.to_string(),
                read: read.clone(),
                message: status.message,
            }
        }
        source => ImportError::Preflight(PreflightError::Unreachable {
            context: context.to_string(),
            source,
        }),
    }
}

/// Jobs per minute the CronJobs that are not suspended schedule together (times `scale`), and
/// the shortest measure window that holds a tick of each of their schedules.
fn rate_and_window(fleet: &Fleet, scale: u32) -> (f64, u64) {
    let running = fleet.groups.iter().filter(|g| !g.settings.suspend);
    let mut rate = 0.0;
    let mut defs = Vec::new();
    for g in running {
        if let Ok(s) = parse_schedule(&g.settings.schedule) {
            rate += s.runs_per_minute() * f64::from(g.count) * f64::from(scale);
        }
        defs.push(CronJobDef {
            name: String::new(),
            schedule: g.settings.schedule.clone(),
            time_zone: g.settings.time_zone.clone(),
            command: Vec::new(),
            resources: Default::default(),
            defined_in: None,
            class: None,
        });
    }
    (rate, window_for(&defs))
}

fn scenario_yaml(header: &str, name: &str, classes: &str, rate: f64, measure_s: u64) -> String {
    // Rounded down, so the target never exceeds what the schedules can start.
    let target = (rate * 1e6).floor() / 1e6;
    format!(
        "{header}\
         # Copied: schedules, time zones, policies, deadlines, suspend, history limits, \
         parallelism,\n\
         # completions, backoff limits and the first container's resources. Never images, \
         commands,\n\
         # env, secrets or volumes: every CronJob runs a placeholder. The target is the rate \
         the\n\
         # schedules fire at (suspended ones left out); the window is the shortest that holds a \
         tick\n\
         # of every schedule. Edit freely, then `cronbench lint` this file.\n\
         name: {}\n\
         load:\n\
         \x20 name_prefix: {}\n\
         \x20 # On the local cluster's kwok nodes; remove both keys for real nodes.\n\
         \x20 node_selector: {{type: kwok}}\n\
         \x20 tolerations:\n\
         \x20 - {{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}}\n\
         {classes}\
         duration:\n  warmup_s: 60\n  measure_s: {measure_s}\n  drain_s: 60\n\
         slo:\n  target_jobs_per_minute: {target}\n",
        super::quoted(name),
        super::quoted(fleet::NAME_PREFIX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cronjob(name: &str, spec: serde_json::Value) -> CronJob {
        let mut spec = spec;
        spec["jobTemplate"] = serde_json::json!({ "spec": { "template": { "spec": {
            "containers": [{ "name": "c", "image": "app" }]
        }}}});
        serde_json::from_value(serde_json::json!({
            "metadata": { "namespace": "ns", "name": name }, "spec": spec,
        }))
        .expect("a CronJob")
    }

    fn opts(out: &Path, scale: u32) -> ClusterImport {
        ClusterImport {
            kubeconfig: None,
            context: "prod".into(),
            scope: Scope::All,
            out: out.to_path_buf(),
            scale,
            name: "ours".into(),
        }
    }

    #[test]
    fn a_forbidden_list_names_the_context_the_namespace_and_the_grant() {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "code": 403,
            "reason": "Forbidden",
            "message": "cronjobs.batch is forbidden: User \"dev\" cannot list resource \"cronjobs\"",
        }))
        .expect("a Status");
        let read = Read::Namespace("payments".into());
        let e = list_error(kube::Error::Api(Box::new(status)), "prod", &read).to_string();
        assert!(
            e.starts_with(
                "the identity of context `prod` may not list CronJobs (cronjobs.batch) in \
                 namespace `payments`: cronjobs.batch is forbidden"
            ),
            "{e}"
        );
        assert!(e.contains("grant it list on cronjobs.batch"), "{e}");
    }

    #[test]
    fn a_mixed_fleet_writes_a_scenario_that_lints_with_its_rate_as_the_target() {
        let mut fleet = Fleet::default();
        let specs = [
            serde_json::json!({"schedule": "0 * * * *"}),
            serde_json::json!({"schedule": "*/5 * * * *", "concurrencyPolicy": "Forbid",
                               "startingDeadlineSeconds": 30}),
            serde_json::json!({"schedule": "30 2 * * *", "timeZone": "Europe/Berlin"}),
            serde_json::json!({"schedule": "* * * * *", "suspend": true}),
        ];
        for (i, spec) in specs.iter().enumerate() {
            for j in 0..4 {
                fleet
                    .add(&cronjob(&format!("job-{i}-{j}"), spec.clone()))
                    .expect("adds");
            }
        }
        let dir = std::env::temp_dir().join(format!("cronbench-fleet-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let file = dir.join("fleet.yaml");
        let done = write_fleet(&fleet, "prod", &Read::All, &opts(&file, 3), &file).expect("writes");
        assert_eq!((done.read, done.classes, done.cronjobs), (16, 4, 48));
        // 12 hourly, 12 every 5 minutes, 12 daily; the 12 suspended every-minute ones fire
        // never.
        let want = 12.0 / 60.0 + 12.0 / 5.0 + 12.0 / 1440.0;
        assert!(
            (done.jobs_per_minute - want).abs() < 1e-9,
            "{}",
            done.jobs_per_minute
        );
        assert_eq!(
            done.measure_s, 600,
            "the every-5-minutes class sets the window"
        );
        let report = crate::scenario::lint(&file).expect("lints");
        assert!(report.is_ok(), "{report}");
        let again = write_fleet(&fleet, "prod", &Read::All, &opts(&file, 3), &file);
        assert!(
            matches!(again, Err(ImportError::ExistsFile(_))),
            "{again:?}"
        );
        let too_many = write_fleet(&fleet, "prod", &Read::All, &opts(&file, 7000), &file);
        assert!(matches!(too_many, Err(ImportError::ScaledTooMany { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! peer: kube-burner on the same kind of load, with its jobLatency and podLatency measurements,
//! while cronbench's own watchers observe the same CronJobs.
//!
//! kube-burner's configuration is generated here, in a temporary directory of the bench's
//! output (its format is kube-burner's public configuration reference). Half its CronJobs
//! have a jobTemplate without kube-burner's run label, as a user's CronJobs would: kube-burner's
//! measurements select by that label, so what they count shows whether they see those runs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::CronJob;
use kube::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};

use super::child::{self, ClusterRef};
use super::observe::Figures;
use super::proc::{self, Child, Exit};
use super::report::{Peer, ToolFigures};
use super::{BenchError, Sizes};
use crate::call;
use crate::observe::now_ms;
use crate::results::{Clock, Stage};
use crate::schema::{EndReason, LogLine, Phase, RUN_LABEL};
use crate::session::{NamespaceOwner, Opening, Preflight, RunFile, RunKind, Session};

/// Environment variable naming a kube-burner binary, when `--kube-burner` is not given.
pub const KUBE_BURNER_ENV: &str = "CRONBENCH_KUBE_BURNER";

/// Runs the comparison; never fails the bench: what could not be measured is in `note`.
pub async fn run(
    ctx: &ClusterRef,
    client: &kube::Client,
    sizes: &Sizes,
    out: &Path,
    kube_burner: Option<&Path>,
    observed: Option<Figures>,
) -> Peer {
    let load_avg_start = proc::load_avg();
    let cronbench = observed.map(|f| ToolFigures {
        cronjobs: u64::from(f.cronjobs),
        create_per_s: f.create_per_s,
        cpu_s: Some(f.cpu_s),
        cpu_s_per_min: Some(f.cpu_s / (f.wall_s / 60.0)),
        peak_rss_mb: Some(f.peak_rss_mb),
        runs_measured: None,
        wall_s: Some(f.wall_s),
    });
    let mut peer = Peer {
        tool: "kube-burner".into(),
        version: None,
        note: String::new(),
        kube_burner: None,
        cronbench,
        unlabelled_runs: None,
        unlabelled_runs_measured_by_kube_burner: None,
        kube_burner_job_start_p50_ms: None,
        cronbench_schedule_to_job_created_p50_ms: None,
        cronbench_schedule_to_started_p50_ms: None,
        load_avg_start,
        load_avg_end: load_avg_start,
    };
    let bin = kube_burner
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os(KUBE_BURNER_ENV).map(PathBuf::from));
    let Some(bin) = bin else {
        peer.note = format!(
            "not run: no kube-burner binary given (--kube-burner PATH or {KUBE_BURNER_ENV}); \
             build it from its public source with `go build ./cmd/kube-burner`"
        );
        return peer;
    };
    if !bin.is_file() {
        peer.note = format!("not run: {} is not a file", bin.display());
        return peer;
    }
    peer.version = version(&bin);
    match settle(client).await {
        Ok(waited_s) => {
            eprintln!("  waited {waited_s:.0} s for earlier parts' namespaces and Jobs to go");
            peer.note = format!(
                "started on a quiet cluster: waited {waited_s:.0} s for earlier parts' \
                 namespaces and Jobs to be gone"
            );
        }
        Err(e) => peer.note = format!("the cluster was not quiet when kube-burner started: {e}"),
    }
    match compare(ctx, client, sizes, out, &bin, &mut peer).await {
        Ok(()) => {}
        Err(e) => {
            peer.note = format!("{}. kube-burner run failed: {e}", peer.note);
        }
    }
    peer.load_avg_end = proc::load_avg();
    peer
}

/// Waits until no namespace is terminating and no Job is left anywhere: the observe part's
/// thousands of CronJobs leave Jobs and Pods for the garbage collector, and a controller
/// still busy with them made kube-burner's 300 s see no run at all. Seconds waited.
pub(super) async fn settle(client: &kube::Client) -> Result<f64, BenchError> {
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::Namespace;
    const LIMIT: Duration = Duration::from_secs(900);
    let started = std::time::Instant::now();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let jobs: Api<PartialObjectMeta<Job>> = Api::all(client.clone());
    loop {
        let terminating = namespaces
            .list(&Default::default())
            .await
            .map(|l| {
                l.items
                    .iter()
                    .filter(|n| {
                        n.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating")
                    })
                    .count()
            })
            .map_err(call::api("list namespaces"))?;
        let any_job = jobs
            .list_metadata(&kube::api::ListParams::default().limit(1))
            .await
            .map(|l| !l.items.is_empty())
            .map_err(call::api("list Jobs"))?;
        if terminating == 0 && !any_job {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > LIMIT {
            return Err(BenchError::Child {
                what: "the bench cluster".into(),
                detail: format!(
                    "after {} s, {terminating} namespaces still terminating, Jobs left: {any_job}",
                    LIMIT.as_secs()
                ),
            });
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

fn version(bin: &Path) -> Option<String> {
    let out = Command::new(bin).arg("version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<&str> = text
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let v = v.trim();
            (!v.is_empty() && matches!(k.trim(), "Version" | "Git Commit" | "Go Version"))
                .then_some(v)
        })
        .collect();
    (!v.is_empty()).then(|| v.join(" "))
}

/// CronJob template for kube-burner; `labelled` adds kube-burner's run label to the Jobs and
/// Pods (by default only the CronJob objects it creates carry it).
fn template(labelled: bool, run_id: &str) -> String {
    let prefix = if labelled { "kbl" } else { "kb" };
    let extra = if labelled {
        "\n        kube-burner.io/runid: \"{{.RunID}}\""
    } else {
        ""
    };
    let extra_pod = if labelled {
        "\n            kube-burner.io/runid: \"{{.RunID}}\""
    } else {
        ""
    };
    format!(
        r#"apiVersion: batch/v1
kind: CronJob
metadata:
  name: {prefix}-{{{{.Replica}}}}
spec:
  schedule: "* * * * *"
  concurrencyPolicy: Allow
  successfulJobsHistoryLimit: 1
  failedJobsHistoryLimit: 1
  jobTemplate:
    metadata:
      labels:
        {RUN_LABEL}: "{run_id}"{extra}
    spec:
      backoffLimit: 0
      template:
        metadata:
          labels:
            {RUN_LABEL}: "{run_id}"{extra_pod}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 0
          nodeSelector:
            type: kwok
          tolerations:
          - key: kwok.x-k8s.io/node
            operator: Exists
            effect: NoSchedule
          containers:
          - name: job
            image: busybox:1.36
            command: ["bash", "-c", "echo hello world"]
            resources:
              requests:
                cpu: 10m
                memory: 16Mi
"#
    )
}

fn config(namespace: &str, metrics_dir: &Path, replicas: u32, pause_s: u64) -> String {
    format!(
        r#"metricsEndpoints:
- indexer:
    type: local
    metricsDirectory: {metrics}
global:
  gc: false
  measurements:
  - name: jobLatency
  - name: podLatency
jobs:
- name: cronjobs
  jobIterations: 1
  qps: 500
  burst: 500
  namespace: {namespace}
  namespacedIterations: false
  waitWhenFinished: false
  cleanup: true
  jobPause: {pause_s}s
  objects:
  - objectTemplate: cronjob.yml
    replicas: {replicas}
  - objectTemplate: cronjob-labelled.yml
    replicas: {replicas}
"#,
        metrics = metrics_dir.display()
    )
}

/// Runs kube-burner on the bench cluster while a session watches its namespace, then fills
/// `peer` with both tools' figures.
async fn compare(
    ctx: &ClusterRef,
    client: &kube::Client,
    sizes: &Sizes,
    out: &Path,
    bin: &Path,
    peer: &mut Peer,
) -> Result<(), BenchError> {
    let dir = out.join("peer");
    let metrics = dir.join("metrics");
    std::fs::create_dir_all(&metrics).map_err(call::io(format!("create {}", metrics.display())))?;
    let run_id = RunKind::Peer.new_id();
    let half = sizes.peer_cronjobs / 2;
    write_config(&dir, &metrics, &run_id, half, sizes.peer_pause_s)?;
    let scenario = child::every_minute("bench-peer", half * 2, 0, sizes.peer_pause_s, 0);
    // cronbench's watchers on kube-burner's namespace, into their own event log.
    let session = Session::open(
        Preflight::unchecked(client.clone(), ctx.context.clone()),
        Opening {
            id: run_id.clone(),
            out: Some(&dir),
            scenario_file: None,
            scenario: &scenario,
            namespace: NamespaceOwner::Body,
            keep: false,
        },
    )
    .await?;
    session.phase(Phase::Measure);
    let span = Span::default();
    let watch = tokio::spawn(creation_times(client.clone(), run_id.clone(), span.clone()));
    let exit = kube_burner(ctx, bin, &dir, &run_id).await?;
    session.phase(Phase::Drain);
    watch.abort();
    let created = *span
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let closed = session
        .close(EndReason::Completed, std::future::ready(()))
        .await?;
    if let Some(ns) = closed.leftover {
        eprintln!("  namespace {ns} still terminating");
    }
    let seen = cronbench_figures(peer, &closed.dir.file(RunFile::Events))?;
    kube_burner_figures(peer, &metrics, &exit, created, half);
    let quiet = std::mem::take(&mut peer.note);
    peer.note = note(&quiet, peer, &exit, sizes, half, seen, &metrics);
    eprintln!("  {}", peer.note);
    Ok(())
}

/// kube-burner's two CronJob templates and its configuration, in `dir`.
fn write_config(
    dir: &Path,
    metrics: &Path,
    run_id: &str,
    half: u32,
    pause_s: u64,
) -> Result<(), BenchError> {
    for (file, text) in [
        ("cronjob.yml", template(false, run_id)),
        ("cronjob-labelled.yml", template(true, run_id)),
        ("kube-burner.yml", config(run_id, metrics, half, pause_s)),
    ] {
        std::fs::write(dir.join(file), text).map_err(call::io(format!("write {file}")))?;
    }
    Ok(())
}

/// Runs `kube-burner init` in `dir` to its end.
async fn kube_burner(
    ctx: &ClusterRef,
    bin: &Path,
    dir: &Path,
    run_id: &str,
) -> Result<Exit, BenchError> {
    let mut cmd = Command::new(bin);
    cmd.arg("init")
        .arg("-c")
        .arg("kube-burner.yml")
        .arg("--kubeconfig")
        .arg(&ctx.kubeconfig)
        .arg("--kube-context")
        .arg(&ctx.context)
        .arg("--uuid")
        .arg(run_id)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = Child::spawn(cmd, "kube-burner")?;
    child
        .wait_sampling(Duration::from_millis(500), |_| {})
        .await
}

/// Jobs cronbench's watchers saw, of (unlabelled, labelled) CronJobs.
#[derive(Debug, Clone, Copy)]
struct Seen {
    plain: u64,
    labelled: u64,
}

/// cronbench's figures from its event log of the peer run.
fn cronbench_figures(peer: &mut Peer, log_path: &Path) -> Result<Seen, BenchError> {
    let (plain, labelled) = jobs_seen(log_path)?;
    let results = crate::analyze::analyze_file(log_path)?;
    let stage = |s: Stage| {
        results
            .stages
            .iter()
            .find(|x| x.stage == s && x.clock == Clock::Client)
            .and_then(|x| x.p50_ms)
    };
    peer.cronbench_schedule_to_job_created_p50_ms = stage(Stage::ScheduleToJobCreated);
    peer.cronbench_schedule_to_started_p50_ms = stage(Stage::ScheduleToStarted);
    if let Some(c) = peer.cronbench.as_mut() {
        c.runs_measured = Some(plain + labelled);
    }
    peer.unlabelled_runs = Some(plain);
    Ok(Seen { plain, labelled })
}

/// kube-burner's figures from its process and its measurement files.
fn kube_burner_figures(
    peer: &mut Peer,
    metrics: &Path,
    exit: &Exit,
    created: Option<(u64, i64, i64)>,
    half: u32,
) {
    let jobs_measured = count_entries(metrics, "jobLatencyMeasurement", "k8sJobName");
    peer.kube_burner_job_start_p50_ms = job_start_p50(metrics);
    peer.unlabelled_runs_measured_by_kube_burner = jobs_measured.map(|(p, _)| p);
    let create_per_s = created.and_then(|(n, first, last)| {
        (n > 1 && last > first).then(|| (n - 1) as f64 / ((last - first) as f64 / 1000.0))
    });
    peer.kube_burner = Some(ToolFigures {
        cronjobs: u64::from(half * 2),
        create_per_s,
        cpu_s: Some(exit.cpu_s),
        cpu_s_per_min: Some(exit.cpu_s / (exit.wall_s / 60.0)),
        peak_rss_mb: Some(exit.peak_rss_kb as f64 / 1024.0),
        runs_measured: jobs_measured.map(|(p, l)| p + l),
        wall_s: Some(exit.wall_s),
    });
}

/// The comparison in words, after `quiet` (how the cluster was when kube-burner started).
fn note(
    quiet: &str,
    peer: &Peer,
    exit: &Exit,
    sizes: &Sizes,
    half: u32,
    seen: Seen,
    metrics: &Path,
) -> String {
    let measured = peer.kube_burner.as_ref().and_then(|k| k.runs_measured);
    let pods_measured =
        count_entries(metrics, "podLatencyMeasurement", "podName").map(|(p, l)| p + l);
    format!(
        "{quiet}. kube-burner exit {:?}; {} CronJobs ({} with kube-burner's run label on the jobTemplate), \
         {}s pause with measurements on. cronbench's watchers saw {} runs ({} of unlabelled \
         CronJobs); kube-burner's jobLatency measured {} Jobs ({} of unlabelled CronJobs) and \
         podLatency {} Pods: it \
         selects by kube-burner.io/runid, which Jobs made by the CronJob controller carry only \
         when the jobTemplate adds it. Its job latencies time from the Job's creation \
         (StartTime p50 {} ms), cronbench's from the schedule (schedule -> job created p50 {} \
         ms, schedule -> started p50 {} ms). cronbench's CPU and RSS are those of the observe \
         run's process ({} CronJobs).",
        exit.code,
        half * 2,
        half,
        sizes.peer_pause_s,
        seen.plain + seen.labelled,
        seen.plain,
        fmt_opt(measured),
        fmt_opt(peer.unlabelled_runs_measured_by_kube_burner),
        fmt_opt(pods_measured),
        fmt_opt(peer.kube_burner_job_start_p50_ms),
        fmt_opt(peer.cronbench_schedule_to_job_created_p50_ms),
        fmt_opt(peer.cronbench_schedule_to_started_p50_ms),
        peer.cronbench.as_ref().map_or(0, |c| c.cronjobs),
    )
}

fn fmt_opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "none".into(), |v| v.to_string())
}

/// How many CronJobs were seen created in a namespace, and the receive times of the first
/// and the last.
type Span = std::sync::Arc<std::sync::Mutex<Option<(u64, i64, i64)>>>;

/// Watches CronJob metadata in `namespace` until aborted, keeping `span` current.
async fn creation_times(client: kube::Client, namespace: String, span: Span) {
    let api: Api<PartialObjectMeta<CronJob>> = Api::namespaced(client, &namespace);
    let mut seen = HashSet::new();
    let stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .applied_objects();
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        let Ok(obj) = item else { continue };
        let Some(name) = obj.metadata.name else {
            continue;
        };
        if seen.insert(name) {
            let t = now_ms();
            let mut s = span
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *s = Some(s.map_or((1, t, t), |(n, a, _)| (n + 1, a, t)));
        }
    }
}

/// Distinct Jobs in a log: of `kb-*` (unlabelled) and `kbl-*` (labelled) CronJobs.
fn jobs_seen(events: &Path) -> Result<(u64, u64), BenchError> {
    use std::io::BufRead;
    let file =
        std::fs::File::open(events).map_err(call::io(format!("open {}", events.display())))?;
    let (mut plain, mut labelled) = (HashSet::new(), HashSet::new());
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(call::io(format!("read {}", events.display())))?;
        if let Ok(LogLine::Job(j)) = serde_json::from_str::<LogLine>(&line) {
            if j.name.starts_with("kbl-") {
                labelled.insert(j.name);
            } else if j.name.starts_with("kb-") {
                plain.insert(j.name);
            }
        }
    }
    Ok((plain.len() as u64, labelled.len() as u64))
}

/// Entries of kube-burner's `<measurement>-<job>.json` files (arrays of documents), split by
/// the object named in `field`: of unlabelled (`kb-*`) and labelled (`kbl-*`) CronJobs.
fn count_entries(metrics: &Path, measurement: &str, field: &str) -> Option<(u64, u64)> {
    let (mut plain, mut labelled) = (0, 0);
    for entry in std::fs::read_dir(metrics).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&format!("{measurement}-")) || !name.ends_with(".json") {
            continue;
        }
        let bytes = std::fs::read(entry.path()).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        for doc in v.as_array().map(Vec::as_slice).unwrap_or_default() {
            match doc.get(field).and_then(serde_json::Value::as_str) {
                Some(n) if n.starts_with("kbl-") => labelled += 1,
                Some(n) if n.starts_with("kb-") => plain += 1,
                _ => {}
            }
        }
    }
    // No file: kube-burner measured nothing.
    Some((plain, labelled))
}

/// kube-burner's jobLatency `StartTime` p50 (Job created -> started), ms.
fn job_start_p50(metrics: &Path) -> Option<f64> {
    for entry in std::fs::read_dir(metrics).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("jobLatencyQuantilesMeasurement-") {
            continue;
        }
        let bytes = std::fs::read(entry.path()).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        for q in v.as_array()? {
            if q.get("quantileName").and_then(|n| n.as_str()) == Some("StartTime") {
                return q.get("P50").and_then(serde_json::Value::as_f64);
            }
        }
    }
    None
}

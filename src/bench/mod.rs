//! `cronbench bench`: the harness's own benchmark. Starts one local cluster, measures each part
//! side by side with its baseline on it, always tears it down (Ctrl-C too), and writes
//! `bench.json` (see [`report::Bench`]) and a short table.
//!
//! Parts, in order: create (the applier vs a bare kube-rs loop, and the rate limit), accuracy
//! (a known kwok delay as the harness reports it), observe (a `cronbench run` child process
//! watching a heavy every-minute load, its CPU and memory read from `/proc` beside the
//! control plane's and beside a bare kube-rs watcher's on the same streams), peer
//! (kube-burner on the same load, when given), fleet (50,000 CronJobs of mixed schedules, last
//! on the cluster), and analyze (a generated event log against a parse-only loop, after the
//! cluster is down); then confirm (`find-limit --confirm` on a second cluster of its own, the
//! controller manager at its defaults).

mod accuracy;
mod analyze;
pub mod audit;
mod bare;
mod child;
mod confirm;
mod create;
pub mod fleet;
mod floor;
mod observe;
mod peer;
pub mod proc;
pub mod report;
pub mod watch;

use std::path::{Path, PathBuf};

use crate::call;
use crate::cluster::audit::AuditScope;
use crate::cluster::{Binaries, ClusterError, Knobs, LocalCluster, StageDelays, UpOptions};
use crate::session::{RunDir, RunFile, RunKind, until_interrupted};
pub use analyze::generate as generate_log;
pub use report::Bench;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Workload(#[from] crate::workload::WorkloadError),
    #[error(transparent)]
    Log(#[from] crate::observe::LogError),
    #[error(transparent)]
    Analyze(#[from] crate::analyze::AnalyzeError),
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    #[error(transparent)]
    Call(#[from] call::CallError),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error("{what} failed: {detail}")]
    Child { what: String, detail: String },
    #[error("interrupted")]
    Interrupted,
    /// A bench.json of another schema version: its fields may mean something else. Not
    /// retryable with this build.
    #[error(
        "{}: schema_version is {found}, but this cronbench reads bench.json version {expected}; \
         check it with the cronbench that wrote it, or run `cronbench bench` again with this one",
        path.display()
    )]
    SchemaVersion {
        path: PathBuf,
        found: u64,
        expected: u32,
    },
}

/// The parts of the bench, for `--only`, in the order they run.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Create,
    Accuracy,
    Observe,
    Peer,
    Analyze,
    Fleet,
    Confirm,
}

impl Part {
    pub const ALL: [Part; 7] = [
        Part::Create,
        Part::Accuracy,
        Part::Observe,
        Part::Peer,
        Part::Analyze,
        Part::Fleet,
        Part::Confirm,
    ];
    /// The parts a bench.json written before `parts` was recorded ran: all there were then.
    pub const BEFORE_CONFIRM: [Part; 5] = [
        Part::Create,
        Part::Accuracy,
        Part::Observe,
        Part::Peer,
        Part::Analyze,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Part::Create => "create",
            Part::Accuracy => "accuracy",
            Part::Observe => "observe",
            Part::Peer => "peer",
            Part::Analyze => "analyze",
            Part::Fleet => "fleet",
            Part::Confirm => "confirm",
        }
    }
}

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub quick: bool,
    pub out: PathBuf,
    /// Local cluster name the bench starts (and stops).
    pub cluster: String,
    /// A kube-burner binary for the peer comparison.
    pub kube_burner: Option<PathBuf>,
    /// Parts to run; empty runs all.
    pub only: Vec<Part>,
}

/// How big each part is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub create_objects: usize,
    pub qps_objects: usize,
    pub accuracy_cronjobs: u32,
    pub accuracy_measure_s: u64,
    pub observe_cronjobs: u32,
    pub observe_warmup_s: u64,
    pub observe_measure_s: u64,
    pub peer_cronjobs: u32,
    pub peer_pause_s: u64,
    pub analyze_cronjobs: u32,
    pub analyze_min_events: u64,
    pub fleet_hourly: u32,
    pub fleet_daily: u32,
    pub fleet_warmup_s: u64,
    pub fleet_measure_s: u64,
    pub fleet_drain_s: u64,
    pub confirm: confirm::ConfirmSize,
}

impl Sizes {
    pub fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                create_objects: 1000,
                qps_objects: 150,
                accuracy_cronjobs: 10,
                accuracy_measure_s: 60,
                observe_cronjobs: 300,
                observe_warmup_s: 15,
                observe_measure_s: 120,
                peer_cronjobs: 300,
                peer_pause_s: 120,
                analyze_cronjobs: 200,
                analyze_min_events: 100_000,
                fleet_hourly: 200,
                fleet_daily: 800,
                fleet_warmup_s: 10,
                fleet_measure_s: 60,
                fleet_drain_s: 10,
                confirm: confirm::ConfirmSize::QUICK,
            }
        } else {
            Sizes {
                create_objects: 10_000,
                qps_objects: 500,
                accuracy_cronjobs: 20,
                accuracy_measure_s: 180,
                observe_cronjobs: 5000,
                observe_warmup_s: 60,
                observe_measure_s: 1200,
                peer_cronjobs: 5000,
                peer_pause_s: 300,
                analyze_cronjobs: 1000,
                analyze_min_events: 1_000_000,
                fleet_hourly: 10_000,
                fleet_daily: 40_000,
                fleet_warmup_s: 60,
                fleet_measure_s: 1200,
                fleet_drain_s: 120,
                confirm: confirm::ConfirmSize::FULL,
            }
        }
    }
}

/// kwok's bound -> started delay on the bench cluster: the accuracy part's D.
pub const ACCURACY_DELAY_MS: u64 = 1500;
/// kwok's started -> finished delay on the bench cluster: the same mechanism as D, which
/// shows what kwok itself adds to a stage.
pub const POD_RUN_MS: u64 = 1000;

/// The bench cluster: throughput knobs raised so the control plane, not its client-side
/// limits, is what the heavy load meets; with `audit_namespace`, the apiserver's audit log
/// records that namespace's run requests (the accuracy part's ground truth).
fn cluster_options(audit_namespace: Option<String>) -> UpOptions {
    UpOptions {
        nodes: 10,
        port: None,
        knobs: Knobs {
            concurrent_cron_job_syncs: Some(50),
            concurrent_job_syncs: Some(50),
            kcm_api_qps: Some(500.0),
            kcm_api_burst: Some(1000),
            scheduler_api_qps: Some(500.0),
            scheduler_api_burst: Some(1000),
            max_requests_inflight: Some(1000),
            max_mutating_requests_inflight: Some(500),
            // One worker took over 35 minutes to delete the observe run's namespace (5,000
            // CronJobs, their Jobs, Pods and Events) on this cluster in the first full bench.
            delete_collection_workers: Some(16),
            // Enough workers that a tick's pods bound together start after D, not in turns.
            kwok_pod_parallelism: Some(32),
            ..Knobs::default()
        },
        delays: StageDelays {
            pod_start_delay_ms: ACCURACY_DELAY_MS,
            pod_start_jitter_ms: 0,
            pod_run_ms: POD_RUN_MS,
        },
        audit: audit_namespace.map(|ns| AuditScope {
            namespaces: vec![ns],
        }),
        // kwok nodes.
        ..UpOptions::default()
    }
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

/// Writes `bench.json` (pretty, whole or not at all) into `dir`.
pub fn write_bench(dir: &Path, bench: &Bench) -> Result<PathBuf, BenchError> {
    let dir = RunDir::existing(dir);
    dir.write_json(RunFile::Bench, bench)?;
    Ok(dir.file(RunFile::Bench))
}

/// Reads a `bench.json`.
pub fn read_bench(path: &Path) -> Result<Bench, BenchError> {
    let bytes = std::fs::read(path).map_err(call::io(format!("read {}", path.display())))?;
    // The version first: another version's fields may not parse, or parse and mean otherwise.
    #[derive(serde::Deserialize)]
    struct Version {
        schema_version: Option<u64>,
    }
    if let Ok(Version {
        schema_version: Some(found),
    }) = serde_json::from_slice(&bytes)
        && found != u64::from(report::BENCH_SCHEMA_VERSION)
    {
        return Err(BenchError::SchemaVersion {
            path: path.to_path_buf(),
            found,
            expected: report::BENCH_SCHEMA_VERSION,
        });
    }
    Ok(serde_json::from_slice(&bytes).map_err(call::other(format!("parse {}", path.display())))?)
}

/// Runs the bench. Each cluster is torn down whatever happens, and `bench.json` is written
/// whatever happens (Ctrl-C included) with the parts that finished; the parts that failed are
/// listed in `errors` and their targets fail.
pub async fn run(opts: &BenchOptions) -> Result<Bench, BenchError> {
    let sizes = Sizes::new(opts.quick);
    std::fs::create_dir_all(&opts.out)
        .map_err(call::io(format!("create {}", opts.out.display())))?;
    // The accuracy run's namespace, known before the cluster starts: its audit policy names it.
    let up = cluster_options(
        opts.wants(Part::Accuracy)
            .then(|| format!("{}-accuracy", RunKind::Run.new_id())),
    );
    let mut bench = new_bench(opts, &up);
    let outcome = parts(opts, &sizes, &up, &mut bench).await;
    // Written whatever happened, Ctrl-C included: the parts that finished are kept.
    if let Err(e) = &outcome {
        bench.errors.push(format!("the bench stopped: {e}"));
    }
    bench.finished = now_rfc3339();
    bench.judge();
    write_bench(&opts.out, &bench)?;
    outcome.map(|()| bench)
}

/// The parts asked for, in order; an interruption ends them.
async fn parts(
    opts: &BenchOptions,
    sizes: &Sizes,
    up: &UpOptions,
    bench: &mut Bench,
) -> Result<(), BenchError> {
    let needs_cluster = [
        Part::Create,
        Part::Accuracy,
        Part::Observe,
        Part::Peer,
        Part::Fleet,
    ]
    .into_iter()
    .any(|p| opts.wants(p));
    if needs_cluster {
        on_cluster(opts, sizes, up, bench).await?;
    }
    if opts.wants(Part::Analyze) {
        eprintln!(
            "bench: analyze (>= {} events, two lengths)",
            sizes.analyze_min_events
        );
        let r = until_interrupted(analyze::run(sizes, &opts.out))
            .await
            .ok_or(BenchError::Interrupted)?;
        match r {
            Ok(a) => bench.analyze = Some(a),
            Err(e) => bench.errors.push(format!("analyze: {e}")),
        }
    }
    // After the main cluster is down: never two clusters at once.
    if opts.wants(Part::Confirm) {
        bench.confirm = confirm::run(opts, &sizes.confirm, &mut bench.errors).await?;
    }
    Ok(())
}

impl BenchOptions {
    fn wants(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }

    /// The parts asked for, in the order they run.
    fn parts(&self) -> Vec<Part> {
        Part::ALL.into_iter().filter(|p| self.wants(*p)).collect()
    }
}

/// `bench.json` before any part ran.
fn new_bench(opts: &BenchOptions, up: &UpOptions) -> Bench {
    Bench {
        schema_version: report::BENCH_SCHEMA_VERSION,
        cronbench_version: env!("CARGO_PKG_VERSION").to_string(),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .into(),
        quick: opts.quick,
        started: now_rfc3339(),
        finished: String::new(),
        cluster: report::ClusterFacts {
            name: opts.cluster.clone(),
            nodes: up.nodes,
            knobs: up.knobs.clone(),
            delays: up.delays.clone(),
            up_seconds: 0.0,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        },
        create: None,
        accuracy: None,
        observe: None,
        peer: None,
        analyze: None,
        fleet: None,
        confirm: None,
        parts: opts.parts(),
        targets: Vec::new(),
        errors: Vec::new(),
    }
}

/// Starts the bench cluster, runs the parts that need it (Ctrl-C ends them) and stops it
/// whatever happened; a part's error is kept in `bench.errors`.
async fn on_cluster(
    opts: &BenchOptions,
    sizes: &Sizes,
    up: &UpOptions,
    bench: &mut Bench,
) -> Result<(), BenchError> {
    let bins = Binaries::locate()?;
    let cluster = LocalCluster::new(&opts.cluster)?;
    let ended = then_down(
        &cluster,
        &bins,
        cluster_parts(opts, sizes, up, &cluster, &bins, bench),
    )
    .await;
    ended.settle(&mut bench.errors, "")?;
    Ok(())
}

/// How work on a cluster ended, and the cluster's teardown after it.
struct Ended<T> {
    /// `None`: interrupted (Ctrl-C).
    work: Option<Result<T, BenchError>>,
    down: Result<(), ClusterError>,
}

/// Runs `work` (Ctrl-C ends it), then stops `cluster` whatever happened.
async fn then_down<T>(
    cluster: &LocalCluster,
    bins: &Binaries,
    work: impl Future<Output = Result<T, BenchError>>,
) -> Ended<T> {
    let outcome = until_interrupted(work).await;
    eprintln!("bench: stopping cluster `{}`", cluster.name);
    let down = cluster.down(bins).await;
    Ended {
        work: outcome,
        down,
    }
}

impl<T> Ended<T> {
    /// The work's value; `Ok(None)` when it failed, its error and a failed teardown added to
    /// `errors` (each prefixed with `part`); `Err(Interrupted)` on Ctrl-C.
    fn settle(self, errors: &mut Vec<String>, part: &str) -> Result<Option<T>, BenchError> {
        if let Err(e) = self.down {
            errors.push(format!("{part}cluster down: {e}"));
        }
        match self.work {
            None | Some(Err(BenchError::Interrupted)) => Err(BenchError::Interrupted),
            Some(Ok(v)) => Ok(Some(v)),
            Some(Err(e)) => {
                errors.push(format!("{part}{e}"));
                Ok(None)
            }
        }
    }
}

/// Brings the cluster up and runs create, accuracy, observe and peer on it, as wanted.
/// The accuracy part in the namespace the cluster's audit policy records.
async fn accuracy_part(
    ctx: &child::ClusterRef,
    client: &kube::Client,
    sizes: &Sizes,
    up: &UpOptions,
    out: &Path,
    bench: &mut Bench,
) {
    eprintln!("bench: accuracy (D = {ACCURACY_DELAY_MS} ms)");
    let namespace = up
        .audit
        .as_ref()
        .and_then(|a| a.namespaces.first())
        .map_or("", String::as_str);
    match accuracy::run(ctx, client, sizes, out, namespace, &mut bench.errors).await {
        Ok(a) => bench.accuracy = Some(a),
        Err(e) => bench.errors.push(format!("accuracy: {e}")),
    }
}

async fn cluster_parts(
    opts: &BenchOptions,
    sizes: &Sizes,
    up: &UpOptions,
    cluster: &LocalCluster,
    bins: &Binaries,
    bench: &mut Bench,
) -> Result<(), BenchError> {
    eprintln!(
        "bench: starting cluster `{}` ({} kwok nodes, knobs raised, pod start delay {} ms)",
        opts.cluster, up.nodes, ACCURACY_DELAY_MS
    );
    let info = cluster.up(bins, up).await?;
    bench.cluster.up_seconds = info.up_seconds;
    let client = cluster.client().await?;
    let ctx = child::ClusterRef {
        kubeconfig: cluster.kubeconfig(),
        context: cluster.context(),
        cluster: cluster.clone(),
    };
    if opts.wants(Part::Create) {
        eprintln!("bench: create ({} CronJobs per tool)", sizes.create_objects);
        match create::run(&client, sizes, &opts.out).await {
            Ok(c) => bench.create = Some(c),
            Err(e) => bench.errors.push(format!("create: {e}")),
        }
    }
    if opts.wants(Part::Accuracy) {
        accuracy_part(&ctx, &client, sizes, up, &opts.out, bench).await;
    }
    let mut observed = None;
    if opts.wants(Part::Observe) {
        eprintln!(
            "bench: observe ({} every-minute CronJobs, {} s window)",
            sizes.observe_cronjobs, sizes.observe_measure_s
        );
        match observe::run(&ctx, sizes, &opts.out).await {
            Ok(o) => {
                bench.observe = Some(o.observe);
                observed = Some(o.figures);
                if let Some(e) = o.bare_error {
                    bench.errors.push(format!("observe: bare watcher: {e}"));
                }
            }
            Err(e) => bench.errors.push(format!("observe: {e}")),
        }
    }
    if opts.wants(Part::Peer) {
        eprintln!("bench: peer (kube-burner)");
        let kube_burner = opts.kube_burner.as_deref();
        let peer = peer::run(&ctx, &client, sizes, &opts.out, kube_burner, observed).await;
        bench.peer = Some(peer);
    }
    // Last: 50,000 CronJobs leave the control plane larger than the other parts found it.
    if opts.wants(Part::Fleet) {
        eprintln!(
            "bench: fleet ({} hourly + {} daily CronJobs, {} s window)",
            sizes.fleet_hourly, sizes.fleet_daily, sizes.fleet_measure_s
        );
        let baseline = bench
            .accuracy
            .as_ref()
            .and_then(|a| Some((a.cronjobs, a.rss_loaded_mb?)));
        match fleet::run(&ctx, &client, sizes, &opts.out, baseline).await {
            Ok(f) => bench.fleet = Some(f),
            Err(e) => bench.errors.push(format!("fleet: {e}")),
        }
    }
    Ok(())
}

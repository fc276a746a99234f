//! The command line: option types and dispatch. The only place that uses `anyhow` and decides
//! exit codes: 0 pass, 1 a target or SLO missed (or lint problems), 2 an error.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use std::path::PathBuf;

use crate::cluster::{
    Binaries, Knobs, KubeletKnobs, LocalCluster, NodeRuntime, StageDelays, UpOptions,
};
use crate::run::{RunOptions, RunOutcome};
use crate::schema::EndReason;

#[derive(Debug, Parser)]
#[command(
    name = "cronbench",
    version,
    about = "Load-test the Kubernetes CronJob controller"
)]
pub struct Opts {
    #[command(subcommand)]
    pub command: Command,
}

/// Which cluster to talk to.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Kubeconfig file (default: the local cluster's when it is up, or that of the local cluster
    /// `--context cronbench-NAME` names; else $KUBECONFIG or ~/.kube/config)
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kube context (default: cronbench-local when the local cluster is up, else the current one)
    #[arg(long)]
    pub context: Option<String>,
    /// Also accept this context as a test cluster (besides cronbench-* and kind-*)
    #[arg(long)]
    pub allow_context: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load a cluster with a scenario's CronJobs, measure every scheduled run, give a verdict
    /// (exit 0 pass, 1 a target or SLO missed, 2 error or interrupted)
    Run {
        /// Scenario file (see scenarios/)
        scenario: PathBuf,
        #[command(flatten)]
        target: Target,
        /// Run directory for events.jsonl and results.json (default runs/<run id>)
        #[arg(long)]
        out: Option<PathBuf>,
        /// Start the local cluster for this run if it is not up, and stop it afterwards
        #[arg(long)]
        local: bool,
        /// Keep the run's namespace after a completed run (`cronbench clean` removes it)
        #[arg(long)]
        keep: bool,
    },
    /// Recompute results.json and the verdict from a run directory's event log alone
    Analyze {
        /// Run directory (or its events.jsonl)
        dir: PathBuf,
    },
    /// Check a scenario, a job definition file or a folder of them as Kubernetes would
    Lint { path: PathBuf },
    /// Delete what earlier runs left on a cluster (namespaces labelled cronbench.io/run)
    Clean {
        #[command(flatten)]
        target: Target,
    },
    /// Render a run directory's report: HTML (default, to DIR/report.html), Markdown (a GitHub
    /// step summary) or JUnit XML (one test case per SLO check); the last two go to stdout
    /// unless -o is given
    Report {
        /// Run directory (results.json, and events.jsonl for the charts over time)
        dir: PathBuf,
        /// Output file
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// html, markdown or junit
        #[arg(long, default_value = "html", value_parser = parse_format)]
        format: crate::report::Format,
    },
    /// Compare a run with baseline runs; exit 1 when a metric regressed beyond both the
    /// threshold and the baselines' spread
    Compare {
        /// Baseline run directories (several give the run-to-run noise)
        #[arg(required = true)]
        baseline: Vec<PathBuf>,
        /// The run directory to judge
        #[arg(long)]
        current: PathBuf,
        /// Relative change allowed in the bad direction
        #[arg(long, default_value = "10%", value_parser = parse_threshold)]
        threshold: f64,
        /// Write a side-by-side HTML view here
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Find the highest sustainable jobs per minute (every-minute CronJobs, ramped then
    /// bisected), the capacity curve and the bottleneck; writes DIR/limit.json after every
    /// step (exit 0 limit >= target, 1 below target or undecided, 2 error or interrupted)
    FindLimit(FindLimitArgs),
    /// Measure the harness itself on a local cluster it starts and always stops: creation
    /// against a bare client, watching cost against the control plane, stage accuracy,
    /// analysis against plain parsing, and kube-burner; writes DIR/bench.json and a table
    /// (exit 0 every target met, 1 one missed, 2 error or interrupted)
    Bench(BenchArgs),
    /// Check that a bench.json is complete and well-formed (exit 0) or say what it lacks (2)
    BenchCheck {
        /// bench.json, or the directory holding it
        path: PathBuf,
    },
    /// Manage the local test cluster (real control plane, kwok nodes)
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct FindLimitArgs {
    /// Scenario file: its CronJob template, node selector, apply pace and SLOs (the schedule
    /// is forced to every minute)
    pub scenario: PathBuf,
    #[command(flatten)]
    pub target: Target,
    /// Directory for events.jsonl and limit.json (default runs/<search id>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Wall-time budget of the search
    #[arg(long, default_value_t = 15.0)]
    pub max_minutes: f64,
    /// Stop when (unsustainable - sustainable) / sustainable is within this
    #[arg(long, default_value_t = 0.10)]
    pub precision: f64,
    /// CronJobs of the first step (default: the scenario's target jobs per minute)
    #[arg(long)]
    pub start: Option<u32>,
    /// Ramp factor between steps while they hold
    #[arg(long, default_value_t = 2.0)]
    pub factor: f64,
    /// Never offer more CronJobs than this
    #[arg(long, default_value_t = 5000)]
    pub max_cronjobs: u32,
    /// Whole minutes of ticks each step is judged on (at least 2)
    #[arg(long, default_value_t = 2)]
    pub hold_minutes: u32,
    /// A run is on time when its pod starts within this many seconds of its schedule
    #[arg(long, default_value_t = 30.0)]
    pub start_within_s: f64,
    /// A step holds when at least this share of its runs start on time
    #[arg(long, default_value_t = 0.95)]
    pub min_on_time_ratio: f64,
    /// Search once per kwok node count (e.g. 1,2,3,5) on the local cluster, each with the full
    /// budget, and say whether the limit grows with the nodes; writes DIR/sweep.json
    #[arg(long, value_delimiter = ',')]
    pub sweep_nodes: Vec<u32>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Small sizes (300 CronJobs watched for 2 minutes, 1,000 created, 100,000 events): about
    /// 5 minutes, for CI
    #[arg(long)]
    pub quick: bool,
    /// Directory for bench.json and each part's files (default runs/bench-<time>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Name of the local cluster the bench starts and stops
    #[arg(long, default_value = "bench")]
    pub cluster: String,
    /// kube-burner binary for the peer comparison (default $CRONBENCH_KUBE_BURNER)
    #[arg(long)]
    pub kube_burner: Option<PathBuf>,
    /// Run only these parts (comma-separated)
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<crate::bench::Part>,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Start a local cluster and wait until its nodes are Ready
    Up {
        /// Cluster name; its kube context is `cronbench-<name>`
        #[arg(long, default_value = "local")]
        name: String,
        /// Number of nodes (kwok: 32 CPU, 256Gi, 110 pods each; kubelet: this machine's)
        #[arg(long, default_value_t = 3)]
        nodes: u32,
        /// What runs the pods: kwok (simulated nodes) or kubelet (real kubelets with
        /// containerd, in a network namespace of the cluster; needs root)
        #[arg(long, value_enum, default_value_t = NodeRuntime::Kwok)]
        node_runtime: NodeRuntime,
        #[command(flatten)]
        kubelet: KubeletKnobs,
        /// Apiserver port on 127.0.0.1 (default: a free one)
        #[arg(long)]
        port: Option<u16>,
        #[command(flatten)]
        knobs: Knobs,
        #[command(flatten)]
        delays: StageDelays,
    },
    /// Stop every process of a local cluster and remove its state
    Down {
        #[arg(long, default_value = "local")]
        name: String,
    },
    /// Tell what runs
    Status {
        #[arg(long, default_value = "local")]
        name: String,
    },
}

/// Runs the command and maps the outcome to an exit code.
pub async fn run(opts: Opts) -> ExitCode {
    let code = match dispatch(opts).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    };
    crate::bench::proc::report_peak_rss();
    code
}

async fn dispatch(opts: Opts) -> anyhow::Result<ExitCode> {
    match opts.command {
        Command::Cluster { command } => cluster(command).await,
        Command::Run {
            scenario,
            target,
            out,
            local,
            keep,
        } => run_scenario(scenario, target, out, local, keep).await,
        Command::FindLimit(args) => find_limit(args).await,
        Command::Bench(args) => bench(args).await,
        Command::BenchCheck { path } => {
            let path = if path.is_dir() {
                path.join("bench.json")
            } else {
                path
            };
            let bench = crate::bench::read_bench(&path)?;
            let missing = bench.incomplete();
            if missing.is_empty() {
                println!("{} is complete", path.display());
                Ok(ExitCode::SUCCESS)
            } else {
                anyhow::bail!("{} is incomplete: {}", path.display(), missing.join("; "))
            }
        }
        Command::Analyze { dir } => analyze(dir),
        Command::Lint { path } => {
            let report = crate::scenario::lint(&path)?;
            println!("{report}");
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Report { dir, out, format } => report(&dir, out.as_deref(), format),
        Command::Compare {
            baseline,
            current,
            threshold,
            out,
        } => compare(&baseline, &current, threshold, out.as_deref()),
        Command::Clean { target } => {
            let target = default_to_local(target)?;
            let (client, context) =
                crate::cluster::preflight::connect(target.kubeconfig, target.context).await?;
            crate::cluster::preflight::check_context(&context, &target.allow_context)?;
            let cleaned = crate::run::clean(&client).await?;
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
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn cluster(command: ClusterCommand) -> anyhow::Result<ExitCode> {
    match command {
        ClusterCommand::Up {
            name,
            nodes,
            node_runtime,
            kubelet,
            port,
            knobs,
            delays,
        } => {
            let bins = Binaries::locate()?;
            let cluster = LocalCluster::new(&name)?;
            let kind = match node_runtime {
                NodeRuntime::Kwok => "kwok",
                NodeRuntime::Kubelet => "real (kubelet + containerd)",
            };
            eprintln!("starting local cluster `{name}` with {nodes} {kind} nodes ...");
            let info = cluster
                .up(
                    &bins,
                    &UpOptions {
                        nodes,
                        port,
                        knobs,
                        delays,
                        runtime: node_runtime,
                        kubelet,
                    },
                )
                .await
                .with_context(|| format!("cluster up `{name}`"))?;
            println!(
                "cluster `{}` is up in {:.1} s: apiserver https://127.0.0.1:{}, {} nodes Ready\n\
                 kubeconfig: {}\ncontext:    {}\n\n\
                 use it:\n  export KUBECONFIG={}\n  kubectl --context {} get nodes\n  \
                 cronbench run scenarios/smoke.yaml --kubeconfig {} --context {}\n\
                 stop it:\n  cronbench cluster down --name {}",
                info.name,
                info.up_seconds,
                info.port,
                info.nodes,
                info.kubeconfig.display(),
                info.context,
                info.kubeconfig.display(),
                info.context,
                info.kubeconfig.display(),
                info.context,
                info.name
            );
            Ok(ExitCode::SUCCESS)
        }
        ClusterCommand::Down { name } => {
            let bins = Binaries::locate()?;
            let cluster = LocalCluster::new(&name)?;
            cluster
                .down(&bins)
                .await
                .with_context(|| format!("cluster down `{name}`"))?;
            println!("cluster `{name}` is down; no process of it is left");
            Ok(ExitCode::SUCCESS)
        }
        ClusterCommand::Status { name } => {
            let cluster = LocalCluster::new(&name)?;
            let Some(info) = cluster.info()? else {
                println!("cluster `{name}` is not up");
                return Ok(ExitCode::from(1));
            };
            println!(
                "cluster `{}` ({:?} nodes): apiserver https://127.0.0.1:{}, context {}, kubeconfig {}",
                info.name,
                info.node_runtime,
                info.port,
                info.context,
                info.kubeconfig.display()
            );
            let components = cluster.components();
            for c in &components {
                println!(
                    "  {:<24} pid {:<8} {}",
                    c.component,
                    c.pid.map_or_else(|| "-".to_string(), |p| p.to_string()),
                    if c.running { "running" } else { "NOT running" }
                );
            }
            let all = !components.is_empty() && components.iter().all(|c| c.running);
            Ok(if all {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// The local cluster behind a `cronbench-<name>` context, when it is up on this machine.
fn local_cluster_of(context: Option<&str>) -> anyhow::Result<Option<LocalCluster>> {
    let Some(name) = context.and_then(|c| c.strip_prefix("cronbench-")) else {
        return Ok(None);
    };
    let Ok(cluster) = LocalCluster::new(name) else {
        return Ok(None);
    };
    Ok(cluster.info()?.map(|_| cluster))
}

/// With no kubeconfig or context given, use the local cluster when it is up.
/// Fills in the local cluster's kubeconfig: for `--context cronbench-NAME` alone, that
/// cluster's; with neither flag, the `local` cluster's when it is up.
fn default_to_local(target: Target) -> anyhow::Result<Target> {
    if target.kubeconfig.is_some() {
        return Ok(target);
    }
    if let Some(context) = &target.context {
        let local = context
            .strip_prefix("cronbench-")
            .and_then(|name| LocalCluster::new(name).ok())
            .and_then(|c| c.info().ok().flatten());
        return Ok(match local {
            Some(info) => Target {
                kubeconfig: Some(info.kubeconfig),
                ..target
            },
            None => target,
        });
    }
    let local = LocalCluster::new("local")?;
    Ok(match local.info()? {
        Some(info) => Target {
            kubeconfig: Some(info.kubeconfig),
            context: Some(info.context),
            ..target
        },
        None => target,
    })
}

async fn run_scenario(
    scenario: PathBuf,
    target: Target,
    out: Option<PathBuf>,
    local: bool,
    keep: bool,
) -> anyhow::Result<ExitCode> {
    // Fail on a bad scenario before starting anything.
    crate::scenario::Scenario::from_file(&scenario)?;
    let mut started_local = None;
    if local {
        let cluster = LocalCluster::new("local")?;
        if cluster.info()?.is_none() {
            let bins = Binaries::locate()?;
            eprintln!("starting the local cluster for this run ...");
            cluster
                .up(
                    &bins,
                    &UpOptions {
                        nodes: 3,
                        ..UpOptions::default()
                    },
                )
                .await
                .context("cluster up `local`")?;
            started_local = Some((cluster, bins));
        }
    }
    let target = default_to_local(target)?;
    let opts = RunOptions {
        scenario,
        kubeconfig: target.kubeconfig,
        context: target.context,
        allow_context: target.allow_context,
        out,
        keep,
    };
    let local_target = local_cluster_of(opts.context.as_deref())?;
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
    report_outcome(outcome?)
}

fn report_outcome(outcome: RunOutcome) -> anyhow::Result<ExitCode> {
    println!("{}", crate::analyze::summary_table(&outcome.results));
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
        EndReason::Completed if outcome.results.verdict.pass => ExitCode::SUCCESS,
        EndReason::Completed => ExitCode::from(1),
        EndReason::Interrupted | EndReason::Error => ExitCode::from(2),
    })
}

async fn find_limit(args: FindLimitArgs) -> anyhow::Result<ExitCode> {
    let target = default_to_local(args.target)?;
    let opts = crate::limit::LimitOptions {
        scenario: args.scenario,
        kubeconfig: target.kubeconfig,
        context: target.context,
        allow_context: target.allow_context,
        out: args.out,
        max_minutes: args.max_minutes,
        precision: args.precision,
        start: args.start,
        factor: args.factor,
        max_cronjobs: args.max_cronjobs,
        hold_minutes: args.hold_minutes,
        start_within_s: args.start_within_s,
        min_on_time_ratio: args.min_on_time_ratio,
    };
    if !args.sweep_nodes.is_empty() {
        let dir = opts.out.clone().unwrap_or_else(|| {
            PathBuf::from("runs").join(crate::run::run_id().replacen(
                "cronbench-",
                "cronbench-sweep-",
                1,
            ))
        });
        let report = crate::limit::sweep::sweep(&opts, &args.sweep_nodes, &dir).await?;
        println!("{}", report.summary_text());
        println!("sweep.json: {}", dir.join("sweep.json").display());
        let all_pass = report.points.iter().all(|p| p.pass == Some(true));
        return Ok(if report.ended_early.is_some() {
            ExitCode::from(2)
        } else if all_pass {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let outcome = crate::limit::find_limit(&opts).await?;
    println!("{}", outcome.report.summary_text());
    println!("limit.json: {}", outcome.dir.join("limit.json").display());
    if let Some(ns) = &outcome.leftover {
        eprintln!("namespace {ns} is still terminating; `cronbench clean` removes it");
    }
    if let Some(e) = outcome.error {
        return Err(anyhow::Error::new(e).context("find-limit ended early"));
    }
    Ok(match (outcome.end, outcome.report.pass) {
        (EndReason::Completed, Some(true)) => ExitCode::SUCCESS,
        (EndReason::Completed, _) => ExitCode::from(1),
        (EndReason::Interrupted | EndReason::Error, _) => ExitCode::from(2),
    })
}

async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
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
    println!("{}", bench.table());
    println!("bench.json: {}", out.join("bench.json").display());
    Ok(if bench.pass() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn analyze(dir: PathBuf) -> anyhow::Result<ExitCode> {
    let (dir, log) = if dir.is_dir() {
        (dir.clone(), dir.join("events.jsonl"))
    } else {
        (dir.parent().map(PathBuf::from).unwrap_or_default(), dir)
    };
    let results =
        crate::analyze::analyze_file(&log).with_context(|| format!("analyze {}", log.display()))?;
    crate::run::write_results(&dir, &results)?;
    println!("{}", crate::analyze::summary_table(&results));
    println!("wrote {}", dir.join("results.json").display());
    Ok(if results.verdict.pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn parse_format(s: &str) -> Result<crate::report::Format, String> {
    s.parse()
        .map_err(|e: crate::report::ReportError| e.to_string())
}

fn parse_threshold(s: &str) -> Result<f64, String> {
    crate::compare::parse_threshold(s).map_err(|e| e.to_string())
}

fn report(
    dir: &std::path::Path,
    out: Option<&std::path::Path>,
    format: crate::report::Format,
) -> anyhow::Result<ExitCode> {
    let (written, text) = crate::report::report_command(dir, out, format)
        .with_context(|| format!("report of {}", dir.display()))?;
    if let Some(path) = written {
        eprintln!("wrote {}", path.display());
    }
    if let Some(text) = text {
        print!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}

fn compare(
    baseline: &[PathBuf],
    current: &std::path::Path,
    threshold: f64,
    out: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let comparison = crate::compare::compare_command(baseline, current, threshold, out)?;
    print!("{}", crate::compare::summary(&comparison));
    if let Some(path) = out {
        eprintln!("wrote {}", path.display());
    }
    Ok(if comparison.regression {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

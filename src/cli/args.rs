//! The clap types of the command line: options and subcommands only (help text lives here).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::cluster::{ClusterTarget, Knobs, KubeletKnobs, NodeRuntime, StageDelays};
use crate::resources::ResourcesFrom;

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load a cluster with a scenario's CronJobs, measure every scheduled run, give a verdict
    /// (exit 0 pass, 1 a target or SLO missed, 2 error or interrupted)
    Run(RunArgs),
    /// Push a run's results to a Prometheus Pushgateway (the `report --format openmetrics`
    /// text, PUT to /metrics/job/cronbench/run_id/<run id>; exit 0 pushed, 2 not)
    Push {
        /// Run directory, or its results.json or events.jsonl
        dir: PathBuf,
        /// The Pushgateway's base URL, e.g. http://127.0.0.1:9091
        #[arg(long, value_name = "URL")]
        pushgateway: String,
    },
    /// Recompute results.json and the verdict from a run directory's event log alone
    Analyze {
        /// Run directory (or its events.jsonl)
        dir: PathBuf,
    },
    /// Check a scenario, a job definition file or a folder of them as Kubernetes would; with
    /// --context, also have that cluster's apiserver judge each distinct CronJob in a dry run
    /// (nothing is stored)
    Lint {
        path: PathBuf,
        /// Dry-run the scenario's CronJobs against this kube context after the offline checks
        #[arg(long)]
        context: Option<String>,
        /// Kubeconfig file for --context (default: the local cluster's for cronbench-NAME,
        /// else $KUBECONFIG or ~/.kube/config)
        #[arg(long, requires = "context")]
        kubeconfig: Option<PathBuf>,
    },
    /// Build a scenario from a crontab (its schedules and CRON_TZ=/TZ= zones; writes
    /// OUT/scenario.yaml and OUT/jobs/) or from a live cluster's CronJobs (read-only; schedules,
    /// zones, policies, deadlines, limits and resources grouped into load.classes; never
    /// images, commands, env, secrets or volumes) or from a folder of job definitions (as
    /// classes, like a cluster's); `lint` accepts what it writes
    #[command(group(clap::ArgGroup::new("source").required(true).args(["crontab", "context", "jobs_dir"])))]
    Import {
        /// The crontab (`crontab -l` output): NAME=value lines, comments, schedule lines
        #[arg(long)]
        crontab: Option<PathBuf>,
        /// A folder of job definitions in the simple format (see scenarios/jobs-example/):
        /// their schedules, zones and resources, never their commands
        #[arg(long)]
        jobs_dir: Option<PathBuf>,
        /// Read the CronJobs of this kube context instead (list only)
        #[arg(long)]
        context: Option<String>,
        /// Kubeconfig file for --context (default: the local cluster's for cronbench-NAME,
        /// else $KUBECONFIG or ~/.kube/config)
        #[arg(long, requires = "context")]
        kubeconfig: Option<PathBuf>,
        /// Namespace to read (default: the context's)
        #[arg(
            long,
            short = 'n',
            requires = "context",
            conflicts_with = "all_namespaces"
        )]
        namespace: Option<String>,
        /// Read every namespace
        #[arg(long, short = 'A', requires = "context")]
        all_namespaces: bool,
        /// With --crontab, a folder to write (it must not hold a scenario.yaml yet); with
        /// --context or --jobs-dir, a .yaml file or a folder for scenario.yaml (never
        /// overwritten)
        #[arg(long)]
        out: PathBuf,
        /// Each line, CronJob or definition becomes this many CronJobs (1 to 1000)
        #[arg(long, default_value_t = 1)]
        scale: u32,
        /// The scenario's name
        #[arg(long, default_value = "imported")]
        name: String,
    },
    /// Delete what earlier runs left on a cluster (namespaces labelled cronbench.io/run)
    Clean {
        #[command(flatten)]
        target: ClusterTarget,
    },
    /// Render a run directory's report: HTML (default, to DIR/report.html), Markdown (a GitHub
    /// step summary), JUnit XML (one test case per SLO check) or OpenMetrics (the results as
    /// metrics); all but HTML go to stdout unless -o is given
    Report {
        /// Run directory (results.json, and events.jsonl for the charts over time), or a
        /// results.json or events.jsonl file
        dir: PathBuf,
        /// Output file
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// html, markdown, junit or openmetrics
        #[arg(long, default_value = "html", value_parser = parse_format)]
        format: crate::report::Format,
    },
    /// Compare a run with baseline runs; exit 1 when a metric regressed beyond both the
    /// threshold and the baselines' spread
    Compare {
        /// Baseline run directories (several give the run-to-run noise)
        #[arg(required_unless_present = "history", conflicts_with = "history")]
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
        /// Judge against a history instead (run directories or folders of them, ordered by
        /// start): fail only when the last --confirm runs, the current one last, each shifted
        /// the worse way (see `cronbench history`)
        #[arg(long, num_args = 1..)]
        history: Vec<PathBuf>,
        /// Runs that must confirm a shift before --history fails
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=50))]
        confirm: u16,
    },
    /// Trend charts of the headline figures over many runs, with change points: writes one
    /// self-contained HTML page and prints a Markdown summary
    History {
        /// Run directories, or folders of them
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// The HTML page
        #[arg(short, long, default_value = "history.html")]
        out: PathBuf,
    },
    /// Find the highest sustainable jobs per minute (every-minute CronJobs, ramped then
    /// bisected), the capacity curve and the bottleneck; writes DIR/limit.json after every
    /// step (exit 0 limit >= target, 1 below target or undecided, 2 error or interrupted, 3
    /// --confirm contradicted the limit)
    FindLimit(FindLimitArgs),
    /// Measure the harness itself on a local cluster it starts and always stops: creation
    /// against a bare client, watching cost against the control plane, stage accuracy,
    /// analysis against plain parsing, and kube-burner; then find-limit --confirm on a second
    /// cluster at the controller manager's defaults; writes DIR/bench.json and a table (exit 0
    /// every target met, 1 one missed, 2 error or interrupted)
    Bench(BenchArgs),
    /// The bench's bare watcher (hidden): counts what kube-runtime watchers yield on a run's
    /// Jobs and Pods (by `selector`), its namespace's Events and all Nodes; prints a count as a
    /// JSON line when ready, on SIGUSR1, and on SIGTERM or SIGINT, then exits 0
    #[command(hide = true)]
    BenchWatch {
        #[arg(long)]
        kubeconfig: PathBuf,
        #[arg(long)]
        context: String,
        #[arg(long)]
        namespace: String,
        /// Label selector of the run's Jobs and Pods, e.g. cronbench.io/run=RUN_ID
        #[arg(long)]
        selector: String,
    },
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
pub struct RunArgs {
    /// Scenario file (see scenarios/)
    pub scenario: PathBuf,
    #[command(flatten)]
    pub target: ClusterTarget,
    /// Run directory for events.jsonl and results.json (default runs/<run id>)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Start the local cluster for this run if it is not up, and stop it afterwards
    #[arg(long)]
    pub local: bool,
    /// Keep the run's namespace after a completed run (`cronbench clean` removes it)
    #[arg(long)]
    pub keep: bool,
    /// Push the final results to this Prometheus Pushgateway (base URL, e.g.
    /// http://127.0.0.1:9091) as job=cronbench, run_id=<run id>; a failed push is reported
    /// and leaves the exit code to the verdict
    #[arg(long, value_name = "URL")]
    pub pushgateway: Option<String>,
    /// Read the components' evidence over the run (the CronJob and Job controllers' queues,
    /// the scheduler, the apiserver, etcd) by PromQL from this Prometheus (base URL, e.g.
    /// http://127.0.0.1:9090) into results.json; an unreachable Prometheus is reported
    /// and leaves the exit code to the verdict
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// Where the control plane's CPU and memory timeline comes from
    #[arg(long, value_enum, default_value_t = ResourcesFrom::Auto)]
    pub resources_from: ResourcesFrom,
    /// The run's id and namespace instead of a fresh cronbench-<time> one (a DNS label of at
    /// most 63 characters, not in use on the cluster): for a namespace known beforehand, as
    /// `cronbench bench` needs for the apiserver's audit policy
    #[arg(long, value_name = "ID", value_parser = parse_run_id)]
    pub run_id: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct FindLimitArgs {
    /// Scenario file: its CronJob template, node selector, apply pace and SLOs (the schedule
    /// is forced to every minute)
    pub scenario: PathBuf,
    #[command(flatten)]
    pub target: ClusterTarget,
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
    /// Also read the components' evidence by PromQL from this Prometheus (base URL, e.g.
    /// http://127.0.0.1:9090), at the same instants as the direct scrape; limit.json keeps
    /// both (metrics, metrics_prometheus)
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// Do not scrape the components' /metrics directly (with --prometheus, the evidence is
    /// Prometheus' alone)
    #[arg(long)]
    pub no_scrape: bool,
    /// After the search, hold the limit for DURATION (it must hold) and ceil(1.15 x limit) for
    /// DURATION (it must not), judged as the search's steps; whole minutes, at least 2 (e.g.
    /// 10m, 2m, 120s; alone: 10m). Exit 3 when they contradict the limit. Put it after the
    /// scenario, or write --confirm=DURATION
    #[arg(long, value_name = "DURATION", num_args = 0..=1, default_missing_value = "10m", value_parser = parse_confirm)]
    pub confirm: Option<u32>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Small sizes (300 CronJobs watched for 2 minutes, 1,000 created, 100,000 events; confirm
    /// on a throttled controller manager, 2 minutes per step): about 6 minutes, 18 with confirm
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
        /// A KubeSchedulerConfiguration (YAML) for the scheduler, e.g.
        /// configs/scheduler-spread.yaml; recorded in the cluster's info
        #[arg(long, value_name = "FILE")]
        scheduler_config: Option<PathBuf>,
        /// Also start a Prometheus on 127.0.0.1 scraping every component every 5 s (Debian's
        /// prometheus; kwok nodes only); its URL is printed, `cluster down` stops it
        #[arg(long)]
        prometheus: bool,
        /// One more target for that Prometheus, HOST:PORT (repeat for more), scraped every 5 s
        /// as job `extra` with honor_labels, e.g. the Pushgateway `run --pushgateway` pushes to,
        /// so dashboards/cronbench.json can be tried against the local cluster
        #[arg(long, value_name = "HOST:PORT", requires = "prometheus", value_parser = parse_scrape_target)]
        prometheus_scrape: Vec<String>,

        /// Run the apiserver with an audit log (JSON lines, microsecond timestamps) of Job and
        /// Pod creations, bindings and pod status writes in every namespace, nothing else;
        /// written to audit.log in the cluster's state directory (its path is printed)
        #[arg(long)]
        audit: bool,
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

pub(crate) fn parse_format(s: &str) -> Result<crate::report::Format, String> {
    s.parse()
        .map_err(|e: crate::report::ReportError| e.to_string())
}

pub(crate) fn parse_scrape_target(s: &str) -> Result<String, String> {
    crate::cluster::prometheus::check_target(s).map_err(|e| e.to_string())
}

/// `--confirm DURATION` in whole minutes: `10m`, `2 min`, `120s`, `1h`, ISO 8601 `PT10M`.
pub(crate) fn parse_confirm(s: &str) -> Result<u32, String> {
    let d: jiff::SignedDuration = s.trim().parse().map_err(|e| {
        format!("`{s}` is not a duration ({e}); write whole minutes such as 10m or 120s")
    })?;
    let secs = d.as_secs();
    if secs < 120 || secs % 60 != 0 || d.subsec_nanos() != 0 {
        return Err(format!(
            "`{s}`: a confirmation step is judged on whole minutes of ticks, at least 2 (as the search's steps); write e.g. 2m or 10m"
        ));
    }
    u32::try_from(secs / 60).map_err(|_| format!("`{s}` is too long; write e.g. 10m"))
}

pub(crate) fn parse_run_id(s: &str) -> Result<String, String> {
    if s.len() <= 63 && crate::scenario::validate::is_dns1123_label_chars(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a namespace name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
        ))
    }
}

pub(crate) fn parse_threshold(s: &str) -> Result<f64, String> {
    crate::compare::parse_threshold(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Command, Opts, parse_confirm};

    fn confirm_of(args: &[&str]) -> Option<u32> {
        let cli = Opts::try_parse_from(args).expect("parses");
        match cli.command {
            Command::FindLimit(a) => a.confirm,
            _ => panic!("find-limit"),
        }
    }

    #[test]
    fn confirm_takes_whole_minutes_and_defaults_to_ten() {
        assert_eq!(parse_confirm("10m"), Ok(10));
        assert_eq!(parse_confirm("120s"), Ok(2));
        assert_eq!(parse_confirm("1h"), Ok(60));
        assert_eq!(parse_confirm("PT3M"), Ok(3));
        for bad in ["60s", "90s", "2m30s", "ten", "-5m"] {
            let e = parse_confirm(bad).expect_err(bad);
            assert!(e.contains(bad) && e.contains("10m"), "{e}");
        }
        assert_eq!(
            confirm_of(&["cronbench", "find-limit", "s.yaml", "--confirm"]),
            Some(10)
        );
        assert_eq!(
            confirm_of(&["cronbench", "find-limit", "s.yaml", "--confirm", "2m"]),
            Some(2)
        );
        assert_eq!(confirm_of(&["cronbench", "find-limit", "s.yaml"]), None);
    }
}

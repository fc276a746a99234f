//! The resource timeline of a run: CPU and resident memory of the control-plane components
//! (and of real nodes' kubelets) over the run, per process, with a summary. The raw readings
//! are [`ResourceReading`]s in the event log's `resources` lines; `crate::analyze` turns them
//! into a [`ResourceTimeline`].

use serde::{Deserialize, Serialize};

/// A process whose resources a run samples. Its [`Component::name`] is the binary's name on
/// the local cluster and the Prometheus job's name of the local cluster's Prometheus (and of
/// the usual kube-prometheus scrape configs, `apiserver` aside).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    KubeApiserver,
    Etcd,
    KubeControllerManager,
    KubeScheduler,
    KwokController,
    /// A real node's kubelet (one per node; [`ResourceReading::instance`] names the node).
    Kubelet,
}

impl Component {
    pub const ALL: [Component; 6] = [
        Component::KubeApiserver,
        Component::Etcd,
        Component::KubeControllerManager,
        Component::KubeScheduler,
        Component::KwokController,
        Component::Kubelet,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Component::KubeApiserver => "kube-apiserver",
            Component::Etcd => "etcd",
            Component::KubeControllerManager => "kube-controller-manager",
            Component::KubeScheduler => "kube-scheduler",
            Component::KwokController => "kwok-controller",
            Component::Kubelet => "kubelet",
        }
    }

    /// The component a binary runs, from its file name (`argv[0]`'s last part). kwok's
    /// controller binary is `kwok`.
    pub fn from_binary(file_name: &str) -> Option<Component> {
        match file_name {
            "kwok" => Some(Component::KwokController),
            name => Component::from_prometheus_job(name),
        }
    }

    /// The component a Prometheus `job` label names: the local cluster's Prometheus scrapes
    /// each component under its [`Component::name`]; kube-prometheus calls the apiserver's
    /// job `apiserver`.
    pub fn from_prometheus_job(job: &str) -> Option<Component> {
        match job {
            "apiserver" => Some(Component::KubeApiserver),
            job => Component::ALL.into_iter().find(|c| c.name() == job),
        }
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a run's readings came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResourceSource {
    /// `/proc/PID/stat` and `/proc/PID/status` of the local cluster's processes.
    Proc,
    /// `process_cpu_seconds_total` and `process_resident_memory_bytes` through Prometheus.
    Prometheus,
}

/// One process's counters at one sample (one element of a `resources` log line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceReading {
    pub component: Component,
    /// Which process of the component, when there can be several: a kubelet's node, a
    /// Prometheus `instance` label. Empty for the only one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub instance: String,
    /// Tells one process from its successor (a pid, a process start time); a change is a
    /// restart, and the CPU counter starts again from it.
    pub process: u64,
    /// User + system CPU seconds since the process started (a counter).
    pub cpu_s: f64,
    /// Resident set size.
    pub rss_bytes: u64,
    /// When these figures were sampled (a Prometheus sample's own time), Unix milliseconds;
    /// absent: when the line was written (`/proc` is read on the spot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

/// CPU and memory of each sampled process over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResourceTimeline {
    pub source: ResourceSource,
    /// One per component and instance, in [`Component`] order then by instance.
    pub series: Vec<ComponentSeries>,
    /// Readings left out because the log named more processes than the timeline keeps.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_readings: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One process's (or one restarted process's successors') timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ComponentSeries {
    pub component: Component,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub instance: String,
    /// How many samples each point merges: 1 until the series reaches its point cap, then
    /// doubled as often as needed, so a long run keeps a bounded number of points.
    pub samples_per_point: u32,
    pub points: Vec<ResourcePoint>,
    pub summary: ResourceSummary,
    /// Samples where the CPU counter could not be differenced: a restarted process (a new
    /// [`ResourceReading::process`]) or a counter that went backwards. Their point has no
    /// CPU figure instead of a negative one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gaps: u64,
}

impl ComponentSeries {
    /// `kube-apiserver`, or `kubelet kubelet-node-0` for one of several.
    pub fn label(&self) -> String {
        if self.instance.is_empty() {
            self.component.name().to_string()
        } else {
            format!("{} {}", self.component, self.instance)
        }
    }
}

/// The samples of one interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResourcePoint {
    /// The interval's last sample, in seconds since the run started.
    pub t_s: f64,
    /// CPU seconds used per second over the interval (1.0 = one core busy); `None` for a
    /// process's first sample and after a gap.
    pub cpu_cores: Option<f64>,
    /// The highest resident set size sampled in the interval.
    pub rss_bytes: u64,
}

/// A series in a few figures.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResourceSummary {
    /// CPU seconds over the covered seconds of the whole run (gaps left out).
    pub mean_cpu_cores: Option<f64>,
    /// The busiest interval between two samples.
    pub peak_cpu_cores: Option<f64>,
    pub rss_first_bytes: u64,
    pub rss_last_bytes: u64,
    pub rss_peak_bytes: u64,
    /// Least-squares slope of RSS over the measured window (the whole run without one),
    /// bytes per hour; `None` over less than a minute or fewer than 3 points.
    ///
    /// Per hour rather than per 1,000 CronJobs: after the apply phase the number of CronJobs
    /// is constant, so what still grows grows with time (Jobs and Pods piling up until the
    /// history limits, caches, a leak), which a per-CronJob figure cannot show; and an hourly
    /// slope compares runs of any length and load, where a step measured across the apply
    /// phase mixes the CronJobs' cost with start-up. The growth with the number of CronJobs
    /// shows as the chart's rise during the apply phase and as first vs last.
    pub rss_growth_bytes_per_hour: Option<f64>,
}

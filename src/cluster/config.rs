//! The kwokctl configuration of a local cluster: options, component flags and kwok stages.
//!
//! Rendered as JSON documents separated by `---` (YAML is a superset of JSON).

use crate::schema::{FAIL_WEIGHT_ANNOTATION, RUN_TIME_ANNOTATION, SUCCEED_WEIGHT_ANNOTATION};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Binaries;

/// The knobs that bound CronJob throughput. `None` keeps the component's default, which is
/// what a default cluster (and the seeds' study) runs with.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema, clap::Args,
)]
pub struct Knobs {
    /// kube-controller-manager --concurrent-cron-job-syncs (default 5)
    #[arg(long)]
    pub concurrent_cron_job_syncs: Option<u32>,
    /// kube-controller-manager --concurrent-job-syncs (default 5)
    #[arg(long)]
    pub concurrent_job_syncs: Option<u32>,
    /// kube-controller-manager --kube-api-qps (default 20)
    #[arg(long)]
    pub kcm_api_qps: Option<f32>,
    /// kube-controller-manager --kube-api-burst (default 30)
    #[arg(long)]
    pub kcm_api_burst: Option<u32>,
    /// kube-scheduler --kube-api-qps (default 50)
    #[arg(long)]
    pub scheduler_api_qps: Option<f32>,
    /// kube-scheduler --kube-api-burst (default 100)
    #[arg(long)]
    pub scheduler_api_burst: Option<u32>,
    /// kube-scheduler -v (default 0); at 10 it logs every plugin's score of every node for
    /// every pod, which is how its choices are explained (and a lot of log)
    #[arg(long)]
    pub scheduler_verbosity: Option<u32>,
    /// kube-apiserver --max-requests-inflight (default 400)
    #[arg(long)]
    pub max_requests_inflight: Option<u32>,
    /// kube-apiserver --max-mutating-requests-inflight (default 200)
    #[arg(long)]
    pub max_mutating_requests_inflight: Option<u32>,
    /// kube-apiserver --delete-collection-workers (default 1): the workers of one
    /// DeleteCollection, which is how a namespace's Events, Jobs and Pods are deleted with it
    #[arg(long)]
    pub delete_collection_workers: Option<u32>,
    /// kwok's pod stage workers, podPlayStageParallelism (default 4): with more pods bound at
    /// once than workers, the rest wait their turn to be started
    #[arg(long)]
    pub kwok_pod_parallelism: Option<u32>,
}

impl Knobs {
    /// `(component, flag, value)` for every knob that is set.
    pub fn flags(&self) -> Vec<Flag> {
        let mut out = Vec::new();
        let mut push = |component, flag, value: Option<String>| {
            if let Some(v) = value {
                out.push((component, flag, v));
            }
        };
        let kcm = Component::KubeControllerManager;
        push(
            kcm,
            "concurrent-cron-job-syncs",
            self.concurrent_cron_job_syncs.map(|v| v.to_string()),
        );
        push(
            kcm,
            "concurrent-job-syncs",
            self.concurrent_job_syncs.map(|v| v.to_string()),
        );
        push(kcm, "kube-api-qps", self.kcm_api_qps.map(|v| v.to_string()));
        push(
            kcm,
            "kube-api-burst",
            self.kcm_api_burst.map(|v| v.to_string()),
        );
        let sched = Component::KubeScheduler;
        push(
            sched,
            "kube-api-qps",
            self.scheduler_api_qps.map(|v| v.to_string()),
        );
        push(
            sched,
            "kube-api-burst",
            self.scheduler_api_burst.map(|v| v.to_string()),
        );
        push(sched, "v", self.scheduler_verbosity.map(|v| v.to_string()));
        let api = Component::KubeApiserver;
        push(
            api,
            "max-requests-inflight",
            self.max_requests_inflight.map(|v| v.to_string()),
        );
        push(
            api,
            "max-mutating-requests-inflight",
            self.max_mutating_requests_inflight.map(|v| v.to_string()),
        );
        push(
            api,
            "delete-collection-workers",
            self.delete_collection_workers.map(|v| v.to_string()),
        );
        out
    }
}

/// How long kwok takes for each step of a Job pod's life, once the scheduler has bound it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, clap::Args)]
pub struct StageDelays {
    /// Bound pod -> Running (container started), milliseconds
    #[arg(long, default_value_t = 1000)]
    pub pod_start_delay_ms: u64,
    /// Adds a uniform random 0..J ms to the start delay
    #[arg(long, default_value_t = 0)]
    pub pod_start_jitter_ms: u64,
    /// Running -> Succeeded (the `echo hello world`), milliseconds
    #[arg(long, default_value_t = 1000)]
    pub pod_run_ms: u64,
}

impl Default for StageDelays {
    fn default() -> Self {
        StageDelays {
            pod_start_delay_ms: 1000,
            pod_start_jitter_ms: 0,
            pod_run_ms: 1000,
        }
    }
}

/// kwok's delay object: the jitter field is an upper bound, so it is only set when there is one.
fn delay(ms: u64, jitter_ms: u64) -> Value {
    if jitter_ms == 0 {
        json!({ "durationMilliseconds": ms })
    } else {
        json!({ "durationMilliseconds": ms, "jitterDurationMilliseconds": ms + jitter_ms })
    }
}

/// A control-plane component whose flags kwokctl's `componentsPatches` set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    KubeApiserver,
    KubeControllerManager,
    KubeScheduler,
    KwokController,
}

impl Component {
    /// kwokctl's name for the component.
    pub fn name(self) -> &'static str {
        match self {
            Component::KubeApiserver => "kube-apiserver",
            Component::KubeControllerManager => "kube-controller-manager",
            Component::KubeScheduler => "kube-scheduler",
            Component::KwokController => "kwok-controller",
        }
    }
}

/// A component flag: `(component, flag, value)`.
pub type Flag = (Component, &'static str, String);

/// What a cluster adds to the configuration beyond the knobs: component flags (after the
/// knobs) and fixed ports for components (kwokctl `options` keys such as `kubeSchedulerPort`)
/// of a kubelet-mode cluster, and the scheduler's configuration file if one was given.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    pub flags: Vec<Flag>,
    pub ports: Vec<(&'static str, u16)>,
    pub scheduler_config: Option<std::path::PathBuf>,
}

/// The whole `--config` file for `kwokctl create cluster`.
pub fn render(
    bins: &Binaries,
    port: u16,
    knobs: &Knobs,
    delays: &StageDelays,
    extra: &Extra,
) -> String {
    let path = |name: &str| bins.path(name).display().to_string();
    let mut options = json!({
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": {
            "runtime": "binary",
            "bindAddress": "127.0.0.1",
            "kubeApiserverPort": port,
            "kubeApiserverBinary": path("kube-apiserver"),
            "kubeControllerManagerBinary": path("kube-controller-manager"),
            "kubeSchedulerBinary": path("kube-scheduler"),
            "kubectlBinary": path("kubectl"),
            "etcdBinary": path("etcd"),
            "kwokControllerBinary": path("kwok"),
        },
        "componentsPatches": components_patches(knobs, &extra.flags),
    });
    if let Some(opts) = options["options"].as_object_mut() {
        for (key, port) in &extra.ports {
            opts.insert((*key).into(), json!(port));
        }
        if let Some(file) = &extra.scheduler_config {
            // kwokctl copies it and points its clientConnection at the cluster's kubeconfig.
            opts.insert(
                "kubeSchedulerConfig".into(),
                json!(file.display().to_string()),
            );
        }
    }
    let mut docs = vec![options];
    if let Some(n) = knobs.kwok_pod_parallelism {
        // A KwokConfiguration given here is taken as it is, without kwok's defaults for the
        // fields it leaves out (a missing node lease parallelism stops kwok): all of kwok
        // v0.8.0's defaults are spelled out, the pod workers replaced.
        docs.push(json!({
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "kind": "KwokConfiguration",
            "options": {
                "cidr": "10.0.0.0/24",
                "manageAllNodes": false,
                "enableDebuggingHandlers": true,
                "enableContentionProfiling": false,
                "enableProfilingHandler": true,
                "podPlayStageParallelism": n,
                "nodePlayStageParallelism": 4,
                "nodeLeaseParallelism": 4,
                "podsOnNodeSyncParallelism": 1,
                "enablePodsOnNodeSyncListPager": true,
                "enablePodsOnNodeSyncStreamWatch": false,
            },
        }));
    }
    docs.extend(stages(delays));
    docs.iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n---\n")
}

fn components_patches(knobs: &Knobs, extra: &[Flag]) -> Vec<Value> {
    // One instance each: leader election buys nothing, and on a loaded 2-core machine a missed
    // lease renewal makes the controller manager exit mid-run.
    let no_election = || vec![json!({ "key": "leader-elect", "value": "false" })];
    let mut by_component: Vec<(Component, Vec<Value>)> = vec![
        (Component::KubeControllerManager, no_election()),
        (Component::KubeScheduler, no_election()),
    ];
    for (component, flag, value) in knobs.flags().into_iter().chain(extra.iter().cloned()) {
        let arg = json!({ "key": flag, "value": value });
        match by_component.iter_mut().find(|(c, _)| *c == component) {
            Some((_, args)) => args.push(arg),
            None => by_component.push((component, vec![arg])),
        }
    }
    by_component
        .into_iter()
        .map(|(component, args)| json!({ "name": component.name(), "extraArgs": args }))
        .collect()
}

fn stage(name: &str, kind: &str, selector: Value, delay: Option<Value>, next: Value) -> Value {
    let mut spec = json!({
        "resourceRef": { "apiGroup": "v1", "kind": kind },
        "selector": { "matchExpressions": selector },
        "next": next,
    });
    if let (Some(d), Some(obj)) = (delay, spec.as_object_mut()) {
        obj.insert("delay".into(), d);
    }
    json!({
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": { "name": name },
        "spec": spec,
    })
}

fn expr(key: &str, operator: &str, values: &[&str]) -> Value {
    if values.is_empty() {
        json!({ "key": key, "operator": operator })
    } else {
        json!({ "key": key, "operator": operator, "values": values })
    }
}

const READY: &str = r#".status.conditions.[] | select( .type == "Ready" ) | .status"#;

/// Node conditions and addresses, refreshed by the heartbeat stage too.
const NODE_STATUS: &str = r#"{{ $now := Now }}
conditions:
{{ range NodeConditions }}
- lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $now | Quote }}
  message: {{ .message | Quote }}
  reason: {{ .reason | Quote }}
  status: {{ .status | Quote }}
  type: {{ .type | Quote }}
{{ end }}
addresses:
- address: {{ NodeIP | Quote }}
  type: InternalIP
- address: {{ NodeName | Quote }}
  type: Hostname
phase: Running
"#;

const POD_RUNNING: &str = r#"{{ $now := Now }}
conditions:
- { type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }} }
- { type: Ready, status: "True", lastTransitionTime: {{ $now | Quote }} }
- { type: ContainersReady, status: "True", lastTransitionTime: {{ $now | Quote }} }
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: true
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
{{ with NodeIPsWith .spec.nodeName }}
hostIP: {{ index . 0 | Quote }}
{{ end }}
{{ with PodIPsWith .spec.nodeName false .metadata.uid .metadata.name .metadata.namespace }}
podIP: {{ index . 0 | Quote }}
{{ end }}
phase: Running
startTime: {{ $now | Quote }}
"#;

/// A jq expression reading one annotation of the object.
fn annotation(name: &str) -> Value {
    json!({ "jq": { "expression": format!(".metadata.annotations[\"{name}\"]") } })
}

/// How a Job's running pod ends: it runs for the pod's run-time annotation (else the cluster's
/// `pod_run_ms`), then succeeds or fails. Both stages match a pod with the weight annotations
/// and kwok picks one at random by weight, so a class's failure share holds per pod; the fail
/// stage matches only such pods, so without them every pod succeeds.
fn pod_end_stage(name: &str, d: &StageDelays, weight_from: &str, exit_code: u8) -> Value {
    let mut selector = vec![
        expr(".metadata.deletionTimestamp", "DoesNotExist", &[]),
        expr(".status.phase", "In", &["Running"]),
        expr(".metadata.ownerReferences.[].kind", "In", &["Job"]),
    ];
    if weight_from == FAIL_WEIGHT_ANNOTATION {
        let key = format!(".metadata.annotations[\"{weight_from}\"]");
        selector.push(expr(&key, "Exists", &[]));
    }
    let mut delay = delay(d.pod_run_ms, 0);
    if let Some(obj) = delay.as_object_mut() {
        obj.insert("durationFrom".into(), annotation(RUN_TIME_ANNOTATION));
    }
    let mut st = stage(
        name,
        "Pod",
        Value::Array(selector),
        Some(delay),
        json!({ "statusTemplate": pod_ended(exit_code) }),
    );
    if let Some(spec) = st.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("weight".into(), json!(1));
        spec.insert("weightFrom".into(), annotation(weight_from));
    }
    st
}

/// A Job pod's end, keeping the container's start time from the Running stage; `EXIT`, `REASON`
/// and `PHASE` are filled in by [`pod_ended`].
const POD_ENDED: &str = r#"{{ $now := Now }}
{{ $started := $now }}
{{ range .status.containerStatuses }}{{ with .state.running }}{{ $started = .startedAt }}{{ end }}{{ end }}
conditions:
- { type: Ready, status: "False", reason: PodCompleted, lastTransitionTime: {{ $now | Quote }} }
- { type: ContainersReady, status: "False", reason: PodCompleted, lastTransitionTime: {{ $now | Quote }} }
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  ready: false
  started: false
  restartCount: 0
  state:
    terminated:
      exitCode: EXIT
      reason: REASON
      startedAt: {{ $started | Quote }}
      finishedAt: {{ $now | Quote }}
{{ end }}
phase: PHASE
"#;

/// The status template of a Job pod that exits with `exit_code`: Succeeded (reason Completed)
/// for 0, else Failed (reason Error).
fn pod_ended(exit_code: u8) -> String {
    let (reason, phase) = match exit_code {
        0 => ("Completed", "Succeeded"),
        _ => ("Error", "Failed"),
    };
    POD_ENDED
        .replace("EXIT", &exit_code.to_string())
        .replace("REASON", reason)
        .replace("PHASE", phase)
}

/// cronbench's own stages. Supplying any stage replaces all of kwok's defaults, so nodes get
/// theirs here too.
fn stages(d: &StageDelays) -> Vec<Value> {
    vec![
        stage(
            "node-initialize",
            "Node",
            json!([expr(READY, "NotIn", &["True"])]),
            None,
            json!({ "statusTemplate": NODE_STATUS }),
        ),
        stage(
            "node-heartbeat",
            "Node",
            json!([expr(READY, "In", &["True"])]),
            Some(delay(20_000, 5_000)),
            json!({ "statusTemplate": NODE_STATUS }),
        ),
        stage(
            "pod-ready",
            "Pod",
            json!([
                expr(".metadata.deletionTimestamp", "DoesNotExist", &[]),
                expr(".spec.nodeName", "Exists", &[]),
                expr(".status.phase", "In", &["Pending"]),
            ]),
            Some(delay(d.pod_start_delay_ms, d.pod_start_jitter_ms)),
            json!({ "statusTemplate": POD_RUNNING }),
        ),
        pod_end_stage("pod-complete", d, SUCCEED_WEIGHT_ANNOTATION, 0),
        pod_end_stage("pod-fail", d, FAIL_WEIGHT_ANNOTATION, 1),
        stage(
            "pod-delete",
            "Pod",
            json!([expr(".metadata.deletionTimestamp", "Exists", &[])]),
            None,
            json!({ "delete": true }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bins() -> Binaries {
        Binaries {
            dir: "/opt/cb".into(),
        }
    }

    #[test]
    fn knobs_left_unset_pass_no_flags() {
        let cfg = render(
            &bins(),
            6443,
            &Knobs::default(),
            &StageDelays::default(),
            &Extra::default(),
        );
        let first: Value = serde_json::from_str(cfg.split("\n---\n").next().unwrap_or("")).unwrap();
        for patch in first["componentsPatches"].as_array().unwrap() {
            assert_eq!(
                patch["extraArgs"].as_array().unwrap().len(),
                1,
                "only leader-elect: {patch}"
            );
            assert_eq!(patch["extraArgs"][0]["key"], "leader-elect");
        }
        assert!(cfg.contains("\"bindAddress\":\"127.0.0.1\""));
        assert!(cfg.contains("/opt/cb/kube-apiserver"));
    }

    #[test]
    fn kwok_pod_workers_come_with_every_other_kwok_default() {
        let docs = |knobs: &Knobs| -> Vec<Value> {
            render(
                &bins(),
                6443,
                knobs,
                &StageDelays::default(),
                &Extra::default(),
            )
            .split("\n---\n")
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
        };
        let kwok = |docs: &[Value]| {
            docs.iter()
                .find(|d| d["kind"] == "KwokConfiguration")
                .cloned()
        };
        assert_eq!(kwok(&docs(&Knobs::default())), None, "kwok's own defaults");
        let knobs = Knobs {
            kwok_pod_parallelism: Some(16),
            ..Knobs::default()
        };
        let doc = kwok(&docs(&knobs)).unwrap();
        assert_eq!(doc["options"]["podPlayStageParallelism"], 16);
        for key in [
            "nodeLeaseParallelism",
            "nodePlayStageParallelism",
            "podsOnNodeSyncParallelism",
        ] {
            assert!(doc["options"][key].as_u64().unwrap() > 0, "{key}");
        }
    }

    #[test]
    fn knobs_become_extra_args_of_their_component() {
        let knobs = Knobs {
            concurrent_cron_job_syncs: Some(50),
            kcm_api_qps: Some(200.0),
            scheduler_api_qps: Some(300.0),
            scheduler_verbosity: Some(10),
            max_requests_inflight: Some(1000),
            ..Knobs::default()
        };
        let cfg = render(
            &bins(),
            6443,
            &knobs,
            &StageDelays::default(),
            &Extra::default(),
        );
        let first: Value = serde_json::from_str(cfg.split("\n---\n").next().unwrap_or("")).unwrap();
        let patches = first["componentsPatches"].as_array().unwrap();
        assert_eq!(patches.len(), 3, "one patch per component: {patches:?}");
        let kcm = &patches[0];
        assert_eq!(kcm["name"], "kube-controller-manager");
        assert_eq!(kcm["extraArgs"][1]["key"], "concurrent-cron-job-syncs");
        assert_eq!(kcm["extraArgs"][1]["value"], "50");
        assert_eq!(kcm["extraArgs"][2]["value"], "200");
        let sched = &patches[1];
        assert_eq!(sched["name"], "kube-scheduler");
        assert!(
            sched["extraArgs"]
                .as_array()
                .unwrap()
                .contains(&json!({ "key": "v", "value": "10" })),
            "{sched}"
        );
    }

    #[test]
    fn extra_flags_join_their_component_s_patch() {
        let extra = [
            (
                Component::KubeApiserver,
                "advertise-address",
                "10.250.0.1".to_string(),
            ),
            (
                Component::KwokController,
                "manage-all-nodes",
                "false".to_string(),
            ),
        ];
        let cfg = render(
            &bins(),
            6443,
            &Knobs::default(),
            &StageDelays::default(),
            &Extra {
                flags: extra.to_vec(),
                ports: vec![("kubeSchedulerPort", 7001)],
                scheduler_config: Some("/abs/scheduler.yaml".into()),
            },
        );
        let first: Value = serde_json::from_str(cfg.split("\n---\n").next().unwrap_or("")).unwrap();
        let patches = first["componentsPatches"].as_array().unwrap();
        let api = patches
            .iter()
            .find(|p| p["name"] == "kube-apiserver")
            .unwrap();
        assert_eq!(api["extraArgs"][0]["value"], "10.250.0.1");
        assert!(patches.iter().any(|p| p["name"] == "kwok-controller"));
        assert_eq!(first["options"]["kubeSchedulerPort"], 7001);
        assert_eq!(
            first["options"]["kubeSchedulerConfig"],
            "/abs/scheduler.yaml"
        );
    }

    #[test]
    fn stage_delays_are_rendered_without_jitter_unless_asked() {
        let d = StageDelays {
            pod_start_delay_ms: 1500,
            pod_start_jitter_ms: 0,
            pod_run_ms: 250,
        };
        let cfg = render(&bins(), 6443, &Knobs::default(), &d, &Extra::default());
        let docs: Vec<Value> = cfg
            .split("\n---\n")
            .map(|s| serde_json::from_str(s).unwrap())
            .collect();
        let ready = docs
            .iter()
            .find(|d| d["metadata"]["name"] == "pod-ready")
            .unwrap();
        assert_eq!(
            ready["spec"]["delay"],
            json!({ "durationMilliseconds": 1500 })
        );
        let done = docs
            .iter()
            .find(|d| d["metadata"]["name"] == "pod-complete")
            .unwrap();
        assert_eq!(done["spec"]["delay"]["durationMilliseconds"], 250);
    }
}

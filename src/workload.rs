//! The load: CronJob objects from a scenario, created at a bounded rate, concurrently.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{StreamExt, stream};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use serde_json::json;

use crate::call::{self, CallError};
use crate::scenario::classes::ClassPart;
use crate::scenario::{CronJobDef, Scenario};
use crate::schema::{
    CLASS_LABEL, FAIL_WEIGHT_ANNOTATION, RUN_LABEL, RUN_TIME_ANNOTATION, SUCCEED_WEIGHT_ANNOTATION,
};

#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// Not retryable: the object is invalid, or the identity may not create it.
    #[error("creating {what} failed: {source}")]
    Create {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("building the CronJob object for {name}: {source}")]
    Build {
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Call(#[from] CallError),
}

/// The namespace a run owns, labelled with its run id.
pub fn namespace(run_id: &str) -> Result<Namespace, WorkloadError> {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": run_id, "labels": { RUN_LABEL: run_id } },
    }))
    .map_err(|source| WorkloadError::Build {
        name: run_id.to_string(),
        source,
    })
}

/// Creates the namespace a run owns ([`namespace`]).
pub async fn create_namespace(client: &kube::Client, run_id: &str) -> Result<(), WorkloadError> {
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace(run_id)?)
        .await
        .map_err(call::api(format!("creating namespace {run_id}")))?;
    Ok(())
}

/// One CronJob for `def`, carrying the run label on itself, its Jobs and their Pods.
pub fn cronjob(
    scenario: &Scenario,
    def: &CronJobDef,
    run_id: &str,
) -> Result<CronJob, WorkloadError> {
    let load = &scenario.load;
    let class = def.class.as_ref();
    let labels = match class {
        Some(c) => json!({ RUN_LABEL: run_id, CLASS_LABEL: c.class }),
        None => json!({ RUN_LABEL: run_id }),
    };
    let policy = class
        .and_then(|c| c.concurrency_policy.as_ref())
        .unwrap_or(&load.concurrency_policy);
    let deadline = class
        .and_then(|c| c.starting_deadline_seconds)
        .or(load.starting_deadline_seconds);
    let tolerations = tolerations_json(&load.tolerations);
    let mut spec = json!({
        "schedule": def.schedule,
        "concurrencyPolicy": policy.as_str(),
        "successfulJobsHistoryLimit": class
            .and_then(|c| c.successful_jobs_history_limit)
            .unwrap_or(load.successful_jobs_history_limit),
        "failedJobsHistoryLimit": class
            .and_then(|c| c.failed_jobs_history_limit)
            .unwrap_or(load.failed_jobs_history_limit),
        "jobTemplate": {
            "metadata": { "labels": labels },
            "spec": {
                "backoffLimit": class.and_then(|c| c.backoff_limit).unwrap_or(0),
                "template": {
                    "metadata": { "labels": labels, "annotations": pod_annotations(class) },
                    "spec": {
                        "restartPolicy": "Never",
                        "terminationGracePeriodSeconds": 0,
                        "nodeSelector": load.node_selector,
                        "tolerations": tolerations,
                        "containers": [{
                            "name": "job",
                            "image": load.image,
                            "imagePullPolicy": load.image_pull_policy.as_str(),
                            "command": def.command,
                            "resources": {
                                "requests": def.resources.requests,
                                "limits": def.resources.limits,
                            },
                        }],
                    },
                },
            },
        },
    });
    if let Some(obj) = spec.as_object_mut() {
        if let Some(deadline) = deadline {
            obj.insert("startingDeadlineSeconds".into(), json!(deadline));
        }
        if let Some(zone) = &def.time_zone {
            obj.insert("timeZone".into(), json!(zone));
        }
        if class.is_some_and(|c| c.suspend) {
            obj.insert("suspend".into(), json!(true));
        }
    }
    if let (Some(c), Some(job)) = (class, spec.pointer_mut("/jobTemplate/spec")) {
        set_job_fields(job, c);
    }
    serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": { "name": def.name, "labels": labels },
        "spec": spec,
    }))
    .map_err(|source| WorkloadError::Build {
        name: def.name.clone(),
        source,
    })
}

/// A class's Job fields, where it sets them.
fn set_job_fields(job: &mut serde_json::Value, c: &ClassPart) {
    for (key, v) in [
        ("parallelism", c.parallelism.map(i64::from)),
        ("completions", c.completions.map(i64::from)),
        ("activeDeadlineSeconds", c.active_deadline_seconds),
    ] {
        if let (Some(v), Some(obj)) = (v, job.as_object_mut()) {
            obj.insert(key.into(), json!(v));
        }
    }
}

/// The tolerations as the pod spec writes them (unset keys left out).
fn tolerations_json(tolerations: &[crate::scenario::Toleration]) -> Vec<serde_json::Value> {
    tolerations
        .iter()
        .map(|t| {
            let mut o = serde_json::Map::new();
            for (k, v) in [
                ("key", t.key.as_deref()),
                ("operator", t.operator.as_ref().map(|o| o.as_str())),
                ("value", t.value.as_deref()),
                ("effect", t.effect.as_ref().map(|e| e.as_str())),
            ] {
                if let Some(v) = v {
                    o.insert(k.into(), json!(v));
                }
            }
            serde_json::Value::Object(o)
        })
        .collect()
}

/// The pod annotations kwok's stages read (see `cluster::config`): the run time, and the
/// weights of completing and failing. On real nodes the command does the same.
fn pod_annotations(class: Option<&ClassPart>) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    let Some(c) = class else { return out };
    if let Some(ms) = c.run_ms {
        out.insert(RUN_TIME_ANNOTATION.into(), json!(format!("{ms}ms")));
    }
    if c.fail_permille > 0 {
        let fail = c.fail_permille.min(1000);
        out.insert(FAIL_WEIGHT_ANNOTATION.into(), json!(fail.to_string()));
        out.insert(
            SUCCEED_WEIGHT_ANNOTATION.into(),
            json!((1000 - fail).to_string()),
        );
    }
    out
}

/// Creation pacing: `qps` 0 means unlimited. The first `burst` creations may start at once;
/// creation `i` after them starts at `start + (i - burst + 1) / qps`.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub qps: f64,
    pub burst: u32,
    pub concurrency: usize,
}

/// Start times on a fixed grid from the first creation. Unlike a token bucket, a task that
/// wakes late (a loaded machine delays timers) does not push every later slot back: the
/// achieved rate stays the configured one, and creations that fell behind catch up.
#[derive(Debug)]
struct Slots {
    start: tokio::time::Instant,
    period: Duration,
    burst: u64,
    taken: AtomicU64,
}

impl Slots {
    fn new(qps: f64, burst: u32, start: tokio::time::Instant) -> Slots {
        Slots {
            start,
            period: Duration::from_secs_f64(1.0 / qps),
            burst: u64::from(burst.max(1)),
            taken: AtomicU64::new(0),
        }
    }

    /// The start time of the next creation (retries take a slot too).
    fn next(&self) -> tokio::time::Instant {
        let i = self.taken.fetch_add(1, Ordering::Relaxed);
        let after_burst = (i + 1).saturating_sub(self.burst);
        self.start + self.period.mul_f64(after_burst as f64)
    }
}

/// Whether a failed create is worth another try (throttling, server hiccups, timeouts).
fn retryable(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 429 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Creates `objects` in `namespace` at the given pace, taking each from the iterator only when
/// its turn comes (a lazy iterator keeps at most `concurrency` objects in memory). `on_created(name)` runs after each
/// success (the caller logs it and advances the progress bar). Stops at the first error that
/// retries do not cure; what was created stays for the caller's teardown.
pub async fn create_all(
    client: &kube::Client,
    namespace: &str,
    objects: impl IntoIterator<Item = CronJob>,
    pace: Pace,
    on_created: impl Fn(&CronJob) + Send + Sync,
) -> Result<u64, WorkloadError> {
    let api: Api<CronJob> = Api::namespaced(client.clone(), namespace);
    let limiter = (pace.qps > 0.0 && pace.qps.is_finite())
        .then(|| Slots::new(pace.qps, pace.burst, tokio::time::Instant::now()));
    let on_created = &on_created;
    let api = &api;
    let limiter = &limiter;
    let mut results = stream::iter(objects)
        .map(|obj| async move {
            let name = obj.metadata.name.clone().unwrap_or_default();
            let mut attempt = 0u32;
            loop {
                if let Some(l) = limiter {
                    tokio::time::sleep_until(l.next()).await;
                }
                match api.create(&PostParams::default(), &obj).await {
                    Ok(_) => {
                        on_created(&obj);
                        return Ok(());
                    }
                    Err(e) if retryable(&e) && attempt < 5 => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    }
                    Err(source) => {
                        return Err(WorkloadError::Create {
                            what: format!("CronJob {namespace}/{name}"),
                            source,
                        });
                    }
                }
            }
        })
        .buffer_unordered(pace.concurrency.max(1));
    let mut created = 0;
    while let Some(r) = results.next().await {
        r?;
        created += 1;
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_start_with_the_burst_then_keep_the_rate() {
        let t0 = tokio::time::Instant::now();
        let slots = Slots::new(50.0, 3, t0);
        let times: Vec<Duration> = (0..6).map(|_| slots.next() - t0).collect();
        let ms: Vec<u128> = times.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 0, 0, 20, 40, 60]);
    }
    use crate::scenario::Toleration;

    #[test]
    fn cronjob_carries_the_run_label_down_to_its_pods() {
        let mut scenario = Scenario::default();
        scenario.load.tolerations = vec![Toleration {
            key: Some("kwok.x-k8s.io/node".into()),
            operator: Some("Exists".into()),
            value: None,
            effect: Some("NoSchedule".into()),
        }];
        scenario.load.starting_deadline_seconds = Some(200);
        let def = CronJobDef {
            defined_in: None,
            name: "cb-00001".into(),
            schedule: "*/5 * * * *".into(),
            time_zone: None,
            command: vec!["sh".into(), "-c".into(), "echo hello world".into()],
            resources: scenario.load.resources.clone().into(),
            class: None,
        };
        let cj = cronjob(&scenario, &def, "run-1").unwrap();
        let v = serde_json::to_value(&cj).unwrap();
        assert_eq!(v["metadata"]["labels"][RUN_LABEL], "run-1");
        assert_eq!(
            v["spec"]["jobTemplate"]["metadata"]["labels"][RUN_LABEL],
            "run-1"
        );
        let pod = &v["spec"]["jobTemplate"]["spec"]["template"];
        assert_eq!(pod["metadata"]["labels"][RUN_LABEL], "run-1");
        assert_eq!(pod["spec"]["tolerations"][0]["operator"], "Exists");
        assert!(pod["spec"]["tolerations"][0].get("value").is_none());
        assert_eq!(v["spec"]["schedule"], "*/5 * * * *");
        assert_eq!(v["spec"]["startingDeadlineSeconds"], 200);
        assert!(v["spec"].get("timeZone").is_none(), "UTC is no timeZone");
    }

    #[test]
    fn a_definitions_time_zone_becomes_spec_time_zone() {
        let scenario = Scenario::default();
        let def = CronJobDef {
            name: "cb-00001".into(),
            schedule: "30 2 * * *".into(),
            time_zone: Some("Europe/Berlin".into()),
            command: vec!["true".into()],
            resources: scenario.load.resources.clone().into(),
            defined_in: None,
            class: None,
        };
        let v = serde_json::to_value(cronjob(&scenario, &def, "run-1").unwrap()).unwrap();
        assert_eq!(v["spec"]["timeZone"], "Europe/Berlin");
    }

    #[test]
    fn a_class_cronjob_carries_its_policies_label_and_kwok_annotations() {
        let scenario = Scenario::default();
        let def = CronJobDef {
            name: "cb-nightly-00000".into(),
            schedule: "0 2 * * *".into(),
            time_zone: None,
            command: vec!["sh".into(), "-c".into(), "sleep 90.000; exit 0".into()],
            resources: scenario.load.resources.clone().into(),
            defined_in: None,
            class: Some(ClassPart {
                class: "nightly".into(),
                concurrency_policy: Some("Forbid".into()),
                starting_deadline_seconds: Some(30),
                suspend: true,
                parallelism: Some(2),
                completions: Some(4),
                active_deadline_seconds: Some(600),
                backoff_limit: Some(1),
                successful_jobs_history_limit: Some(0),
                failed_jobs_history_limit: None,
                run_ms: Some(90_000),
                fail_permille: 250,
            }),
        };
        let v = serde_json::to_value(cronjob(&scenario, &def, "run-1").unwrap()).unwrap();
        let spec = &v["spec"];
        assert_eq!(spec["concurrencyPolicy"], "Forbid");
        assert_eq!(spec["startingDeadlineSeconds"], 30);
        assert_eq!(spec["suspend"], true);
        assert_eq!(spec["successfulJobsHistoryLimit"], 0);
        assert_eq!(spec["failedJobsHistoryLimit"], 1, "load's default");
        assert_eq!(v["metadata"]["labels"][CLASS_LABEL], "nightly");
        let job = &spec["jobTemplate"]["spec"];
        assert_eq!(job["parallelism"], 2);
        assert_eq!(job["completions"], 4);
        assert_eq!(job["activeDeadlineSeconds"], 600);
        assert_eq!(job["backoffLimit"], 1);
        let pod = &job["template"]["metadata"];
        assert_eq!(pod["labels"][CLASS_LABEL], "nightly");
        assert_eq!(pod["annotations"][RUN_TIME_ANNOTATION], "90000ms");
        assert_eq!(pod["annotations"][FAIL_WEIGHT_ANNOTATION], "250");
        assert_eq!(pod["annotations"][SUCCEED_WEIGHT_ANNOTATION], "750");
    }
}

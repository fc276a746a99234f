//! The series read as component evidence, defined once: each [`Field`] of a [`Snapshot`] is
//! the sum of one metric with exact label matches on one component, whether it is read by
//! scraping that component's `/metrics` or by PromQL. [`between`] turns two snapshots into a
//! window's [`StepMetrics`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The component a series comes from; its name is the local Prometheus' job name too.
pub use crate::results::Component;

/// One value of a snapshot.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Field {
    CronjobSkewSum,
    CronjobSkewCount,
    CronjobQueueDepth,
    CronjobQueueWaitSum,
    CronjobQueueWaitCount,
    CronjobQueueAdds,
    JobQueueDepth,
    JobQueueAdds,
    JobWorkSum,
    JobWorkCount,
    RateLimiterSum,
    RateLimiterCount,
    SchedulerPendingPods,
    SchedulerAttempts,
    ApiserverPostSum,
    ApiserverPostCount,
    ApiserverInflight,
    ApiserverInqueue,
    #[serde(rename = "apiserver-rejected-429")]
    ApiserverRejected429,
    EtcdRequestSum,
    EtcdRequestCount,
    StoredCronjobs,
    StoredJobs,
    StoredPods,
}

/// Where a field's value comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Series {
    pub field: Field,
    pub source: Component,
    pub metric: &'static str,
    pub labels: &'static [(&'static str, &'static str)],
    /// Other components export the same metric name: PromQL must select the source's job.
    pub shared: bool,
    /// A counter that only appears with its first increment: absent while the metric exists
    /// under other labels is zero, not missing.
    pub absent_is_zero: bool,
}

const fn s(
    field: Field,
    source: Component,
    metric: &'static str,
    labels: &'static [(&'static str, &'static str)],
) -> Series {
    Series {
        field,
        source,
        metric,
        labels,
        shared: false,
        absent_is_zero: false,
    }
}

const CRONJOB: &[(&str, &str)] = &[("name", "cronjob")];
const JOB: &[(&str, &str)] = &[("name", "job")];
const POST: &[(&str, &str)] = &[("verb", "POST")];
const KCM: Component = Component::KubeControllerManager;
const API: Component = Component::KubeApiserver;

/// Every series read, by field.
pub const SERIES: [Series; 24] = {
    use Field::*;
    [
        s(
            CronjobSkewSum,
            KCM,
            "cronjob_controller_job_creation_skew_duration_seconds_sum",
            &[],
        ),
        s(
            CronjobSkewCount,
            KCM,
            "cronjob_controller_job_creation_skew_duration_seconds_count",
            &[],
        ),
        s(CronjobQueueDepth, KCM, "workqueue_depth", CRONJOB),
        s(
            CronjobQueueWaitSum,
            KCM,
            "workqueue_queue_duration_seconds_sum",
            CRONJOB,
        ),
        s(
            CronjobQueueWaitCount,
            KCM,
            "workqueue_queue_duration_seconds_count",
            CRONJOB,
        ),
        s(CronjobQueueAdds, KCM, "workqueue_adds_total", CRONJOB),
        s(JobQueueDepth, KCM, "workqueue_depth", JOB),
        s(JobQueueAdds, KCM, "workqueue_adds_total", JOB),
        s(JobWorkSum, KCM, "workqueue_work_duration_seconds_sum", JOB),
        s(
            JobWorkCount,
            KCM,
            "workqueue_work_duration_seconds_count",
            JOB,
        ),
        Series {
            shared: true,
            ..s(
                RateLimiterSum,
                KCM,
                "rest_client_rate_limiter_duration_seconds_sum",
                &[],
            )
        },
        Series {
            shared: true,
            ..s(
                RateLimiterCount,
                KCM,
                "rest_client_rate_limiter_duration_seconds_count",
                &[],
            )
        },
        s(
            SchedulerPendingPods,
            Component::KubeScheduler,
            "scheduler_pending_pods",
            &[],
        ),
        s(
            SchedulerAttempts,
            Component::KubeScheduler,
            "scheduler_schedule_attempts_total",
            &[],
        ),
        s(
            ApiserverPostSum,
            API,
            "apiserver_request_duration_seconds_sum",
            POST,
        ),
        s(
            ApiserverPostCount,
            API,
            "apiserver_request_duration_seconds_count",
            POST,
        ),
        s(
            ApiserverInflight,
            API,
            "apiserver_current_inflight_requests",
            &[],
        ),
        s(
            ApiserverInqueue,
            API,
            "apiserver_flowcontrol_current_inqueue_requests",
            &[],
        ),
        Series {
            absent_is_zero: true,
            ..s(
                ApiserverRejected429,
                API,
                "apiserver_request_total",
                &[("code", "429")],
            )
        },
        s(
            EtcdRequestSum,
            API,
            "etcd_request_duration_seconds_sum",
            &[],
        ),
        s(
            EtcdRequestCount,
            API,
            "etcd_request_duration_seconds_count",
            &[],
        ),
        s(
            StoredCronjobs,
            API,
            "apiserver_storage_objects",
            &[("resource", "cronjobs.batch")],
        ),
        s(
            StoredJobs,
            API,
            "apiserver_storage_objects",
            &[("resource", "jobs.batch")],
        ),
        s(
            StoredPods,
            API,
            "apiserver_storage_objects",
            &[("resource", "pods")],
        ),
    ]
};

impl Series {
    /// The series as a PromQL selector: `metric{k="v",...}`, with the source's job where the
    /// metric name is shared.
    pub fn selector(&self) -> String {
        let mut matchers: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        if self.shared {
            matchers.push(format!("job={:?}", self.source.name()));
        }
        if matchers.is_empty() {
            self.metric.to_string()
        } else {
            format!("{}{{{}}}", self.metric, matchers.join(","))
        }
    }

    /// The PromQL expression of the field's value: the sum of the selector, zero for an
    /// absent-is-zero series whose metric exists.
    pub fn promql(&self) -> String {
        let sum = format!("sum({})", self.selector());
        if self.absent_is_zero {
            format!("{sum} or 0 * sum({})", self.metric)
        } else {
            sum
        }
    }
}

/// The series read at one instant, from one source (direct scraping or Prometheus).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Snapshot {
    pub values: BTreeMap<Field, f64>,
    /// Series a reachable source did not have, by selector, with why.
    pub missing: BTreeMap<String, String>,
    /// Components (or Prometheus) that could not be read, with why.
    pub unreachable: BTreeMap<String, String>,
}

impl Snapshot {
    pub fn get(&self, field: Field) -> Option<f64> {
        self.values.get(&field).copied()
    }

    pub fn set(&mut self, field: Field, value: f64) {
        self.values.insert(field, value);
    }

    /// Records a series' value, or that it was missing and why.
    pub fn record(
        &mut self,
        series: &Series,
        value: Option<f64>,
        why_missing: impl FnOnce() -> String,
    ) {
        match value {
            Some(v) => self.set(series.field, v),
            None => {
                self.missing.insert(series.selector(), why_missing());
            }
        }
    }
}

/// What the components said about one window: means over it (from counter deltas), counts
/// during it, and gauges at its end. `None` is missing, never zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepMetrics {
    /// Mean delay of the CronJob controller creating a Job after its schedule, seconds.
    pub cronjob_job_creation_skew_mean_s: Option<f64>,
    /// Mean wait of a CronJob key in the controller's work queue, seconds.
    pub cronjob_queue_wait_mean_s: Option<f64>,
    pub cronjob_queue_depth_end: Option<f64>,
    /// CronJob keys added to the controller's work queue during the window.
    #[serde(default)]
    pub cronjob_queue_adds: Option<f64>,
    pub job_queue_depth_end: Option<f64>,
    /// Job keys added to the Job controller's work queue during the window.
    #[serde(default)]
    pub job_queue_adds: Option<f64>,
    /// Mean time the Job controller worked on one key, seconds.
    #[serde(default)]
    pub job_work_mean_s: Option<f64>,
    /// Mean client-side throttling wait per request of the controller manager, seconds.
    pub kcm_rate_limiter_wait_mean_s: Option<f64>,
    pub scheduler_pending_pods_end: Option<f64>,
    /// The scheduler's scheduling attempts (all results) during the window.
    #[serde(default)]
    pub scheduler_attempts: Option<f64>,
    /// Mean latency of the apiserver's POST (create) requests, seconds.
    #[serde(default)]
    pub apiserver_create_mean_s: Option<f64>,
    /// Requests executing in the apiserver at the step's end.
    #[serde(default)]
    pub apiserver_inflight_end: Option<f64>,
    /// Requests queued by API Priority and Fairness at the step's end.
    #[serde(default)]
    pub apiserver_inqueue_end: Option<f64>,
    /// Requests the apiserver rejected with 429 during the step.
    #[serde(default)]
    pub apiserver_rejected_429: Option<f64>,
    /// Mean latency of the apiserver's etcd requests, seconds.
    #[serde(default)]
    pub etcd_request_mean_s: Option<f64>,
    /// Objects in etcd at the window's end (`apiserver_storage_objects`).
    #[serde(default)]
    pub stored_cronjobs_end: Option<f64>,
    #[serde(default)]
    pub stored_jobs_end: Option<f64>,
    #[serde(default)]
    pub stored_pods_end: Option<f64>,
    pub unreachable: BTreeMap<String, String>,
    /// Series missing at the window's start or end, by selector, with why.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub missing: BTreeMap<String, String>,
}

impl StepMetrics {
    /// Every value by its JSON name, in declaration order.
    pub fn values(&self) -> [(&'static str, Option<f64>); 18] {
        [
            (
                "cronjob_job_creation_skew_mean_s",
                self.cronjob_job_creation_skew_mean_s,
            ),
            ("cronjob_queue_wait_mean_s", self.cronjob_queue_wait_mean_s),
            ("cronjob_queue_depth_end", self.cronjob_queue_depth_end),
            ("cronjob_queue_adds", self.cronjob_queue_adds),
            ("job_queue_depth_end", self.job_queue_depth_end),
            ("job_queue_adds", self.job_queue_adds),
            ("job_work_mean_s", self.job_work_mean_s),
            (
                "kcm_rate_limiter_wait_mean_s",
                self.kcm_rate_limiter_wait_mean_s,
            ),
            (
                "scheduler_pending_pods_end",
                self.scheduler_pending_pods_end,
            ),
            ("scheduler_attempts", self.scheduler_attempts),
            ("apiserver_create_mean_s", self.apiserver_create_mean_s),
            ("apiserver_inflight_end", self.apiserver_inflight_end),
            ("apiserver_inqueue_end", self.apiserver_inqueue_end),
            ("apiserver_rejected_429", self.apiserver_rejected_429),
            ("etcd_request_mean_s", self.etcd_request_mean_s),
            ("stored_cronjobs_end", self.stored_cronjobs_end),
            ("stored_jobs_end", self.stored_jobs_end),
            ("stored_pods_end", self.stored_pods_end),
        ]
    }

    /// Whether any value was read.
    pub fn has_values(&self) -> bool {
        self.values().iter().any(|(_, v)| v.is_some())
    }
}

/// The components' metrics over a run: the same series as a find-limit step's, from snapshots
/// at the start of the warm-up (the load in place, before its first tick) and at the end of the
/// drain (or wherever the run ended).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ComponentEvidence {
    /// The Prometheus they were read from.
    pub prometheus: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Missing values are `null`; `missing` and `unreachable` say which and why.
    pub metrics: StepMetrics,
    /// The sums read at the start and at the end, as they came (empty where Prometheus did
    /// not answer).
    #[serde(default)]
    pub at_start: BTreeMap<Field, f64>,
    #[serde(default)]
    pub at_end: BTreeMap<Field, f64>,
}

fn mean_delta(a: &Snapshot, b: &Snapshot, sum: Field, count: Field) -> Option<f64> {
    let dn = b.get(count)? - a.get(count).unwrap_or(0.0);
    let ds = b.get(sum)? - a.get(sum).unwrap_or(0.0);
    (dn > 0.0).then(|| ds / dn)
}

/// A counter's increase; missing at either end is missing.
fn delta(a: &Snapshot, b: &Snapshot, field: Field) -> Option<f64> {
    Some(b.get(field)? - a.get(field)?)
}

/// The window's metrics from the snapshots at its start and end.
pub fn between(a: &Snapshot, b: &Snapshot) -> StepMetrics {
    use Field::*;
    let mut unreachable = a.unreachable.clone();
    unreachable.extend(b.unreachable.clone());
    let mut missing = a.missing.clone();
    missing.extend(b.missing.clone());
    StepMetrics {
        cronjob_job_creation_skew_mean_s: mean_delta(a, b, CronjobSkewSum, CronjobSkewCount),
        cronjob_queue_wait_mean_s: mean_delta(a, b, CronjobQueueWaitSum, CronjobQueueWaitCount),
        cronjob_queue_depth_end: b.get(CronjobQueueDepth),
        cronjob_queue_adds: delta(a, b, CronjobQueueAdds),
        job_queue_depth_end: b.get(JobQueueDepth),
        job_queue_adds: delta(a, b, JobQueueAdds),
        job_work_mean_s: mean_delta(a, b, JobWorkSum, JobWorkCount),
        kcm_rate_limiter_wait_mean_s: mean_delta(a, b, RateLimiterSum, RateLimiterCount),
        scheduler_pending_pods_end: b.get(SchedulerPendingPods),
        scheduler_attempts: delta(a, b, SchedulerAttempts),
        apiserver_create_mean_s: mean_delta(a, b, ApiserverPostSum, ApiserverPostCount),
        apiserver_inflight_end: b.get(ApiserverInflight),
        apiserver_inqueue_end: b.get(ApiserverInqueue),
        apiserver_rejected_429: b
            .get(ApiserverRejected429)
            .map(|n| n - a.get(ApiserverRejected429).unwrap_or(0.0)),
        etcd_request_mean_s: mean_delta(a, b, EtcdRequestSum, EtcdRequestCount),
        stored_cronjobs_end: b.get(StoredCronjobs),
        stored_jobs_end: b.get(StoredJobs),
        stored_pods_end: b.get(StoredPods),
        unreachable,
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_read_by_exactly_one_series() {
        let mut fields: Vec<Field> = SERIES.iter().map(|s| s.field).collect();
        fields.sort();
        fields.dedup();
        assert_eq!(fields.len(), SERIES.len());
    }

    #[test]
    fn promql_sums_the_selector_with_the_job_only_for_shared_names() {
        let find = |f| SERIES.iter().find(|s| s.field == f).expect("in the table");
        assert_eq!(
            find(Field::CronjobQueueDepth).promql(),
            r#"sum(workqueue_depth{name="cronjob"})"#
        );
        assert_eq!(
            find(Field::RateLimiterSum).promql(),
            r#"sum(rest_client_rate_limiter_duration_seconds_sum{job="kube-controller-manager"})"#
        );
        assert_eq!(
            find(Field::ApiserverRejected429).promql(),
            r#"sum(apiserver_request_total{code="429"}) or 0 * sum(apiserver_request_total)"#
        );
        assert_eq!(
            find(Field::StoredPods).selector(),
            r#"apiserver_storage_objects{resource="pods"}"#
        );
    }

    #[test]
    fn a_counter_missing_at_either_end_has_no_increase() {
        let mut a = Snapshot::default();
        let mut b = Snapshot::default();
        b.set(Field::SchedulerAttempts, 10.0);
        assert_eq!(between(&a, &b).scheduler_attempts, None);
        a.set(Field::SchedulerAttempts, 0.0);
        assert_eq!(between(&a, &b).scheduler_attempts, Some(10.0));
        assert!(between(&a, &b).has_values());
        assert!(!between(&Snapshot::default(), &Snapshot::default()).has_values());
    }
}

//! The watched kinds as the analysis reads them, and nothing more: each type deserializes only
//! the fields `convert` reads and skips the rest of the object (managedFields, the pod spec,
//! most labels and annotations) without allocating it. The watchers' cost is mostly this
//! deserialization, so what is never read is never built.
//!
//! The metadata is kept as an [`ObjectMeta`] because kube-runtime's watcher needs it (name,
//! resourceVersion); only the few labels and annotations listed here are kept in it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference, Time};
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::schema::SCHEDULED_ANNOTATION;

/// Labels the analysis reads (a pod's Job).
const KEPT_LABELS: [&str; 2] = ["batch.kubernetes.io/job-name", "job-name"];
/// Annotations the analysis reads (a Job's scheduled time).
const KEPT_ANNOTATIONS: [&str; 1] = [SCHEDULED_ANNOTATION];

/// A map of which only `keep` keys are built; the other values are skipped.
fn filtered_map<'de, D: Deserializer<'de>>(
    d: D,
    keep: &'static [&'static str],
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    struct V(&'static [&'static str]);
    impl<'de> Visitor<'de> for V {
        type Value = Option<BTreeMap<String, String>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map of strings or null")
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                if self.0.contains(&key.as_ref()) {
                    out.insert(key.into_owned(), map.next_value::<String>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(Some(out))
        }
    }
    d.deserialize_option(V(keep))
}

fn kept_labels<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    filtered_map(d, &KEPT_LABELS)
}

fn kept_annotations<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    filtered_map(d, &KEPT_ANNOTATIONS)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SlimOwner {
    kind: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SlimMeta {
    name: Option<String>,
    namespace: Option<String>,
    resource_version: Option<String>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
    #[serde(default, deserialize_with = "kept_labels")]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "kept_annotations")]
    annotations: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<SlimOwner>>,
}

fn slim_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    let m = SlimMeta::deserialize(d)?;
    Ok(ObjectMeta {
        name: m.name,
        namespace: m.namespace,
        resource_version: m.resource_version,
        creation_timestamp: m.creation_timestamp,
        deletion_timestamp: m.deletion_timestamp,
        labels: m.labels,
        annotations: m.annotations,
        owner_references: m.owner_references.map(|os| {
            os.into_iter()
                .map(|o| OwnerReference {
                    kind: o.kind,
                    name: o.name,
                    ..OwnerReference::default()
                })
                .collect()
        }),
        ..ObjectMeta::default()
    })
}

/// `kube::Resource` for a slim type that stands for a built-in kind.
macro_rules! slim_resource {
    ($ty:ident, $kind:literal, $group:literal, $version:literal, $plural:literal, $scope:ty) => {
        impl kube::Resource for $ty {
            type DynamicType = ();
            type Scope = $scope;
            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($group)
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($version)
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

/// A condition: type and status, and when it last changed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub last_transition_time: Option<Time>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    #[serde(deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    pub status: Option<JobStatus>,
}
slim_resource!(Job, "Job", "batch", "v1", "jobs", NamespaceResourceScope);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    pub active: Option<i32>,
    pub succeeded: Option<i32>,
    pub failed: Option<i32>,
    pub completion_time: Option<Time>,
    pub conditions: Option<Vec<Condition>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Pod {
    #[serde(deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    pub spec: Option<PodSpec>,
    pub status: Option<PodStatus>,
}
slim_resource!(Pod, "Pod", "", "v1", "pods", NamespaceResourceScope);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    pub node_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    pub phase: Option<String>,
    pub conditions: Option<Vec<Condition>>,
    pub container_statuses: Option<Vec<ContainerStatus>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContainerStatus {
    pub state: Option<ContainerState>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContainerState {
    pub running: Option<Running>,
    pub terminated: Option<Terminated>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Running {
    pub started_at: Option<Time>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Terminated {
    pub started_at: Option<Time>,
    pub finished_at: Option<Time>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Node {
    #[serde(deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    pub status: Option<NodeStatus>,
}
slim_resource!(Node, "Node", "", "v1", "nodes", ClusterResourceScope);

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeStatus {
    pub conditions: Option<Vec<Condition>>,
}

/// An events.k8s.io/v1 Event.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub regarding: Option<Regarding>,
    pub event_time: Option<MicroTime>,
    pub deprecated_first_timestamp: Option<Time>,
}
slim_resource!(
    Event,
    "Event",
    "events.k8s.io",
    "v1",
    "events",
    NamespaceResourceScope
);

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Regarding {
    pub kind: Option<String>,
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::convert;

    /// A pod as the API sends it in a watch event, managedFields and spec included.
    const POD: &str = r#"{
      "apiVersion": "v1", "kind": "Pod",
      "metadata": {
        "name": "cb-00001-29453760-x7k2p", "namespace": "run-1", "uid": "u-1",
        "resourceVersion": "4711", "creationTimestamp": "2026-01-01T00:00:01Z",
        "labels": {"batch.kubernetes.io/job-name": "cb-00001-29453760",
                   "batch.kubernetes.io/controller-uid": "x", "cronbench.io/run": "run-1"},
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job",
          "name": "cb-00001-29453760", "uid": "j-1", "controller": true}],
        "managedFields": [{"manager": "kube-controller-manager", "operation": "Update",
          "apiVersion": "v1", "fieldsType": "FieldsV1",
          "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}}}]
      },
      "spec": {"nodeName": "kwok-node-1", "restartPolicy": "Never",
        "containers": [{"name": "job", "image": "busybox:1.36", "command": ["sh"]}]},
      "status": {"phase": "Running",
        "conditions": [{"type": "PodScheduled", "status": "True",
          "lastTransitionTime": "2026-01-01T00:00:02Z"}],
        "containerStatuses": [{"name": "job", "ready": true, "restartCount": 0,
          "image": "busybox:1.36", "imageID": "",
          "state": {"running": {"startedAt": "2026-01-01T00:00:03Z"}}}]}
    }"#;

    #[test]
    fn slim_pod_keeps_what_the_analysis_reads_and_drops_the_rest() {
        let pod: Pod = serde_json::from_str(POD).unwrap();
        assert!(pod.metadata.managed_fields.is_none());
        assert!(
            pod.metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.is_empty())
        );
        assert_eq!(pod.metadata.labels.as_ref().map(|l| l.len()), Some(1));
        assert_eq!(pod.metadata.resource_version.as_deref(), Some("4711"));
        let obs = convert::pod(&pod, 7, false);
        assert_eq!(obs.job.as_deref(), Some("cb-00001-29453760"));
        assert_eq!(obs.node.as_deref(), Some("kwok-node-1"));
        assert_eq!(obs.phase, Some(crate::schema::PodPhase::Running));
        assert_eq!(obs.scheduled_at.as_deref(), Some("2026-01-01T00:00:02Z"));
        assert_eq!(obs.started_at.as_deref(), Some("2026-01-01T00:00:03Z"));
        assert_eq!(obs.created.as_deref(), Some("2026-01-01T00:00:01Z"));
    }

    #[test]
    fn slim_job_keeps_its_cronjob_and_scheduled_time() {
        let job: Job = serde_json::from_str(
            r#"{"metadata": {"name": "cb-00001-29453760", "resourceVersion": "1",
                 "creationTimestamp": "2026-01-01T00:00:01Z",
                 "annotations": {"batch.kubernetes.io/cronjob-scheduled-timestamp":
                   "2026-01-01T00:00:00Z", "other": "x"},
                 "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob",
                   "name": "cb-00001", "uid": "c-1"}]},
               "spec": {"template": {"spec": {"containers": []}}},
               "status": {"succeeded": 1, "completionTime": "2026-01-01T00:00:05Z",
                 "conditions": [{"type": "Complete", "status": "True"}]}}"#,
        )
        .unwrap();
        let obs = convert::job(&job, 7, false);
        assert_eq!(obs.cronjob.as_deref(), Some("cb-00001"));
        assert_eq!(obs.scheduled.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(obs.succeeded, 1);
        assert_eq!(obs.completed.as_deref(), Some("2026-01-01T00:00:05Z"));
        assert!(!obs.job_failed);
    }
}

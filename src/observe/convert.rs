//! Watched objects -> the few fields the analysis reads. The slim types already skipped the
//! rest while deserializing; nothing else is stored.

use std::hash::{DefaultHasher, Hash, Hasher};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::slim::{Event, Job, Node, Pod};

use crate::schema::{EventObs, JobObs, NodeObs, PodObs, PodPhase, SCHEDULED_ANNOTATION};

fn ts(t: &Time) -> String {
    t.0.to_string()
}

pub fn job(j: &Job, recv_ms: i64, deleted: bool) -> JobObs {
    let meta = &j.metadata;
    let status = j.status.as_ref();
    JobObs {
        recv_ms,
        name: meta.name.clone().unwrap_or_default(),
        cronjob: meta
            .owner_references
            .as_ref()
            .and_then(|o| o.iter().find(|o| o.kind == "CronJob"))
            .map(|o| o.name.clone()),
        scheduled: meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(SCHEDULED_ANNOTATION))
            .cloned(),
        created: meta.creation_timestamp.as_ref().map(ts),
        active: status.and_then(|s| s.active).unwrap_or(0),
        succeeded: status.and_then(|s| s.succeeded).unwrap_or(0),
        failed: status.and_then(|s| s.failed).unwrap_or(0),
        completed: status.and_then(|s| s.completion_time.as_ref()).map(ts),
        job_failed: status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Failed" && c.status == "True")),
        deleted,
    }
}

pub fn pod(p: &Pod, recv_ms: i64, deleted: bool) -> PodObs {
    let meta = &p.metadata;
    let status = p.status.as_ref();
    let containers = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let started_at = containers
        .iter()
        .filter_map(|c| c.state.as_ref())
        .filter_map(|s| {
            s.running
                .as_ref()
                .and_then(|r| r.started_at.as_ref())
                .or_else(|| s.terminated.as_ref().and_then(|t| t.started_at.as_ref()))
        })
        .min_by_key(|t| t.0)
        .map(ts);
    let finished_at = containers
        .iter()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .max_by_key(|t| t.0)
        .map(ts);
    PodObs {
        recv_ms,
        name: meta.name.clone().unwrap_or_default(),
        job: meta.labels.as_ref().and_then(|l| {
            l.get("batch.kubernetes.io/job-name")
                .or_else(|| l.get("job-name"))
                .cloned()
        }),
        created: meta.creation_timestamp.as_ref().map(ts),
        node: p.spec.as_ref().and_then(|s| s.node_name.clone()),
        phase: status.and_then(|s| s.phase.as_deref()).map(PodPhase::from),
        scheduled_at: status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.type_ == "PodScheduled" && c.status == "True")
            })
            .and_then(|c| c.last_transition_time.as_ref())
            .map(ts),
        started_at,
        finished_at,
        deleted,
    }
}

pub fn node(n: &Node, recv_ms: i64, deleted: bool) -> NodeObs {
    NodeObs {
        recv_ms,
        name: n.metadata.name.clone().unwrap_or_default(),
        ready: n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
        deleted,
    }
}

pub fn event(e: &Event, recv_ms: i64) -> EventObs {
    let regarding = e.regarding.as_ref();
    EventObs {
        recv_ms,
        reason: e.reason.clone().unwrap_or_default(),
        kind: regarding.and_then(|r| r.kind.clone()).unwrap_or_default(),
        object: regarding.and_then(|r| r.name.clone()).unwrap_or_default(),
        time: e
            .event_time
            .as_ref()
            .map(|t| t.0.to_string())
            .or_else(|| e.deprecated_first_timestamp.as_ref().map(ts)),
        note: e.note.clone(),
    }
}

/// A 64-bit hash: what the watchers remember of a name or an observation between events, so
/// that a pod waiting for its turn costs 16 bytes rather than its observation's strings.
pub fn hash_of(v: &impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// The observation without its receive time, to tell a real change from a resend.
pub fn pod_print(obs: &PodObs) -> u64 {
    hash_of(&PodObs {
        recv_ms: 0,
        ..obs.clone()
    })
}

pub fn job_print(obs: &JobObs) -> u64 {
    hash_of(&JobObs {
        recv_ms: 0,
        ..obs.clone()
    })
}

//! The accuracy part's ground truth: the apiserver's audit log (see [`crate::cluster::audit`]),
//! each request that moved a run along stamped to the microsecond by the apiserver, set
//! beside the client times cronbench recorded for the same run.
//!
//! The audit log is read line by line (each at most the event log's bound); what is kept is
//! one time per (endpoint, object) of the run's namespace: memory follows the lines, never a
//! value read from them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::report::{AccuracyStage, Endpoint};
use crate::analyze::AnalyzeError;
use crate::analyze::ingest::{LineReader, MAX_LINE_BYTES, replay_file};
use crate::analyze::runs::{Point, RunEvent};
use crate::report::data::quantile;
use crate::results::Window;
use crate::schema::PodPhase;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(
        "reading the apiserver audit log {path}: {source}; was the cluster started with its audit log (`cluster up --audit`)?"
    )]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "line {line} of the apiserver audit log {path} is not an audit event: {problem}; the apiserver writes one JSON audit.k8s.io/v1 Event per line (--audit-log-format=json): remove the damaged line or run the bench again"
    )]
    Line {
        path: PathBuf,
        line: u64,
        problem: String,
    },
    #[error("reading the run's event log for the audit comparison")]
    EventLog(#[source] AnalyzeError),
}

/// Per endpoint, object name -> earliest microsecond: the request stamps of an audit log, or
/// the line stamps of the floor's watch streams.
#[derive(Debug, Default)]
pub struct StageTimes {
    by_endpoint: [HashMap<String, i64>; 5],
    /// Events of the namespace read (all stages).
    pub events: u64,
}

impl StageTimes {
    fn slot(e: Endpoint) -> usize {
        match e {
            Endpoint::JobCreated => 0,
            Endpoint::PodCreated => 1,
            Endpoint::Bound => 2,
            Endpoint::Started => 3,
            Endpoint::Finished => 4,
        }
    }

    pub fn note(&mut self, e: Endpoint, name: &str, at_us: i64) {
        let slot = &mut self.by_endpoint[Self::slot(e)];
        match slot.get_mut(name) {
            Some(t) => *t = (*t).min(at_us),
            None => {
                slot.insert(name.to_string(), at_us);
            }
        }
    }

    pub fn at_us(&self, e: Endpoint, name: &str) -> Option<i64> {
        self.by_endpoint[Self::slot(e)].get(name).copied()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    stage: AuditStage,
    verb: String,
    stage_timestamp: String,
    object_ref: Option<ObjectRef>,
    response_status: Option<Status>,
    response_object: Option<Object>,
}

#[derive(Deserialize, PartialEq, Eq)]
enum AuditStage {
    ResponseComplete,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectRef {
    resource: Option<String>,
    subresource: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    code: Option<i64>,
}

#[derive(Deserialize)]
struct Object {
    metadata: Option<Meta>,
    status: Option<PodStatus>,
}

#[derive(Deserialize)]
struct Meta {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodStatus {
    phase: Option<PodPhase>,
    #[serde(default)]
    container_statuses: Vec<ContainerStatus>,
}

#[derive(Deserialize)]
struct ContainerStatus {
    state: Option<ContainerState>,
}

#[derive(Deserialize)]
struct ContainerState {
    running: Option<IgnoredAny>,
}

impl Event {
    /// The endpoints this request reached and the object it names (a pod status write can
    /// reach two: a pod seen Running for the first time already Succeeded).
    fn endpoints(&self) -> (Vec<Endpoint>, Option<&str>) {
        let none = (Vec::new(), None);
        let Some(r) = &self.object_ref else {
            return none;
        };
        let ok = self
            .response_status
            .as_ref()
            .and_then(|s| s.code)
            .is_none_or(|c| (200..300).contains(&c));
        if self.stage != AuditStage::ResponseComplete || !ok {
            return none;
        }
        let response_name = || {
            let meta = self.response_object.as_ref()?.metadata.as_ref()?;
            meta.name.as_deref()
        };
        let name = r.name.as_deref().filter(|n| !n.is_empty());
        let verb = self.verb.as_str();
        match (r.resource.as_deref(), r.subresource.as_deref(), verb) {
            (Some("jobs"), None, "create") => (vec![Endpoint::JobCreated], name),
            (Some("pods"), None, "create") => {
                (vec![Endpoint::PodCreated], name.or_else(response_name))
            }
            (Some("pods"), Some("binding"), "create") => (vec![Endpoint::Bound], name),
            (Some("pods"), Some("status"), "update" | "patch") => (self.pod_progress(), name),
            _ => none,
        }
    }

    /// What a pod status write made of the pod, by the same rule as the event log's
    /// `PodObs::started` and `finished`.
    fn pod_progress(&self) -> Vec<Endpoint> {
        let Some(status) = self
            .response_object
            .as_ref()
            .and_then(|o| o.status.as_ref())
        else {
            return Vec::new();
        };
        let phase = status.phase.as_ref();
        let running = status
            .container_statuses
            .iter()
            .any(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()));
        let mut out = Vec::new();
        if running || matches!(phase, Some(PodPhase::Running | PodPhase::Succeeded)) {
            out.push(Endpoint::Started);
        }
        if matches!(phase, Some(PodPhase::Succeeded | PodPhase::Failed)) {
            out.push(Endpoint::Finished);
        }
        out
    }
}

/// Reads the audit log at `path`, keeping the events of `namespace`.
pub fn read(path: &Path, namespace: &str) -> Result<StageTimes, AuditError> {
    let mut reader = LineReader::open(path).map_err(|e| reader_error(path, e))?;
    let mut times = StageTimes::default();
    while let Some(raw) = reader.next_line().map_err(|e| reader_error(path, e))? {
        if raw.text.is_empty() {
            continue;
        }
        let line_error = |problem: String| AuditError::Line {
            path: path.to_owned(),
            line: raw.number,
            problem,
        };
        let event: Event =
            serde_json::from_slice(raw.text).map_err(|e| line_error(e.to_string()))?;
        let in_scope = event
            .object_ref
            .as_ref()
            .is_some_and(|r| r.namespace.as_deref() == Some(namespace));
        if !in_scope {
            continue;
        }
        times.events += 1;
        let (endpoints, Some(name)) = event.endpoints() else {
            continue;
        };
        let at = event
            .stage_timestamp
            .parse::<jiff::Timestamp>()
            .map_err(|e| line_error(format!("stageTimestamp {:?}: {e}", event.stage_timestamp)))?;
        for e in endpoints {
            times.note(e, name, at.as_microsecond());
        }
    }
    Ok(times)
}

fn reader_error(path: &Path, e: AnalyzeError) -> AuditError {
    match e {
        AnalyzeError::Open { source, .. } | AnalyzeError::Read { source, .. } => AuditError::Io {
            path: path.to_owned(),
            source,
        },
        AnalyzeError::LineTooLong { line, .. } => AuditError::Line {
            path: path.to_owned(),
            line,
            problem: format!("longer than {} MiB", MAX_LINE_BYTES >> 20),
        },
        other => AuditError::EventLog(other),
    }
}

/// The stage endpoint's point of the run timeline: the one definition the analysis uses.
fn point(e: Endpoint) -> Point {
    match e {
        Endpoint::JobCreated => Point::JobCreated,
        Endpoint::PodCreated => Point::PodCreated,
        Endpoint::Bound => Point::Bound,
        Endpoint::Started => Point::Started,
        Endpoint::Finished => Point::Finished,
    }
}

/// Per endpoint: runs of the window, and the signed differences (ms) of those matched:
/// client - audit, floor - audit, client - floor.
#[derive(Default)]
struct Diffs {
    runs: u64,
    client: Vec<f64>,
    floor: Vec<f64>,
    added: Vec<f64>,
}

/// client - audit, ms, of each endpoint over the runs scheduled in `window`, from the run's
/// event log at `events`; with the floor's stamps, also floor - audit and client - floor.
pub fn compare(
    events: &Path,
    window: &Window,
    audit: &StageTimes,
    floor: Option<&StageTimes>,
) -> Result<Vec<AccuracyStage>, AuditError> {
    let mut diffs: [Diffs; 5] = Default::default();
    let with_floor = floor.is_some();
    let ms = |a: i64, b: i64| (a - b) as f64 / 1000.0;
    replay_file(events, &mut |e| {
        let RunEvent::Over(run) = e else {
            return;
        };
        if run.scheduled_ms < window.start_ms || run.scheduled_ms >= window.end_ms {
            return;
        }
        let client = run.client();
        for e in Endpoint::ALL {
            let d = &mut diffs[StageTimes::slot(e)];
            d.runs += 1;
            let name = match e {
                Endpoint::JobCreated => Some(run.job_name),
                _ => run.pod_name,
            };
            let at = |times: &StageTimes| name.and_then(|n| times.at_us(e, n));
            let (c, a) = (client.at(point(e)).map(|c| c * 1000), at(audit));
            let f = floor.and_then(at);
            if let (Some(c), Some(a)) = (c, a) {
                d.client.push(ms(c, a));
            }
            if let (Some(f), Some(a)) = (f, a) {
                d.floor.push(ms(f, a));
            }
            if let (Some(c), Some(f)) = (c, f) {
                d.added.push(ms(c, f));
            }
        }
    })
    .map_err(AuditError::EventLog)?;
    Ok(Endpoint::ALL
        .into_iter()
        .zip(diffs)
        .map(|(e, d)| stage(e, d, with_floor))
        .collect())
}

/// One endpoint's figures; the floor's are absent when no floor ran.
fn stage(endpoint: Endpoint, d: Diffs, with_floor: bool) -> AccuracyStage {
    let sorted = |mut v: Vec<f64>| {
        v.sort_unstable_by(f64::total_cmp);
        v
    };
    let abs = sorted(d.client.iter().map(|d| d.abs()).collect());
    let (signed, floor, added) = (sorted(d.client), sorted(d.floor), sorted(d.added));
    let matched = abs.len() as u64;
    AccuracyStage {
        endpoint,
        runs: d.runs,
        matched,
        matched_share: (d.runs > 0).then(|| matched as f64 / d.runs as f64),
        p50_ms: quantile(&abs, 0.5),
        p99_ms: quantile(&abs, 0.99),
        max_ms: abs.last().copied(),
        signed_p50_ms: quantile(&signed, 0.5),
        floor_matched: with_floor.then_some(floor.len() as u64),
        floor_p50_ms: quantile(&floor, 0.5),
        floor_p99_ms: quantile(&floor, 0.99),
        added_p50_ms: quantile(&added, 0.5),
        added_p99_ms: quantile(&added, 0.99),
    }
}

#[cfg(test)]
mod tests;

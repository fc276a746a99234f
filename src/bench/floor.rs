//! The accuracy part's floor: the earliest a client could have seen each change. Beside the
//! run, one raw watch request per kind (the run's Jobs and Pods, in its namespace, on the same
//! kube client and connection settings as the run) reads the apiserver's stream a line at a
//! time and stamps each line the moment it is read, in microseconds, before parsing it. The
//! line is then read with the run's own slim types and endpoint rules (`PodObs::bound`,
//! `started`, `finished`), so floor - audit is the apiserver's watch delivery and client -
//! floor is what the harness adds to it.
//!
//! Lines are read with a bound ([`MAX_LINE_BYTES`]); what is kept is one time per (endpoint,
//! object), as for the audit log.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::{AsyncBufReadExt, AsyncReadExt};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::audit::StageTimes;
use super::report::Endpoint;
use crate::analyze::ingest::MAX_LINE_BYTES;
use crate::observe::slim::{Job, Pod};

/// What the floor's readers saw over the run.
#[derive(Debug, Default)]
pub struct FloorRun {
    pub times: StageTimes,
    /// Watch lines read (bookmarks included).
    pub lines: u64,
    /// Watch requests made after the first of each kind (a stream the apiserver ended, or an
    /// error), and the last error, if any.
    pub reconnects: u64,
    pub last_error: Option<String>,
}

/// The running readers; [`Floor::stop`] ends them and returns what they saw.
pub struct Floor {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    seen: Arc<Mutex<FloorRun>>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Jobs,
    Pods,
}

impl Kind {
    fn path(self, namespace: &str) -> String {
        match self {
            Kind::Jobs => format!("/apis/batch/v1/namespaces/{namespace}/jobs"),
            Kind::Pods => format!("/api/v1/namespaces/{namespace}/pods"),
        }
    }
}

impl Floor {
    /// Starts watching `namespace`'s Jobs and Pods (the namespace need not exist yet).
    pub fn start(client: &kube::Client, namespace: &str) -> Floor {
        let seen = Arc::new(Mutex::new(FloorRun::default()));
        let tasks = [Kind::Jobs, Kind::Pods]
            .into_iter()
            .map(|kind| {
                let (client, seen, path) = (client.clone(), seen.clone(), kind.path(namespace));
                tokio::spawn(async move { read(&client, kind, &path, &seen).await })
            })
            .collect();
        Floor { tasks, seen }
    }

    pub fn stop(self) -> FloorRun {
        for t in &self.tasks {
            t.abort();
        }
        std::mem::take(&mut *lock(&self.seen))
    }
}

fn lock(seen: &Mutex<FloorRun>) -> std::sync::MutexGuard<'_, FloorRun> {
    seen.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Watches `path` until aborted, resuming from the last resource version after the stream
/// ends or fails.
async fn read(client: &kube::Client, kind: Kind, path: &str, seen: &Mutex<FloorRun>) {
    let mut version: Option<String> = None;
    loop {
        if let Err(e) = stream(client, kind, path, &mut version, seen).await {
            lock(seen).last_error = Some(e);
        }
        lock(seen).reconnects += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One watch request: reads its lines until the stream ends.
async fn stream(
    client: &kube::Client,
    kind: Kind,
    path: &str,
    version: &mut Option<String>,
    seen: &Mutex<FloorRun>,
) -> Result<(), String> {
    let mut uri = format!("{path}?watch=true&allowWatchBookmarks=true");
    if let Some(v) = version.as_deref() {
        uri.push_str(&format!("&resourceVersion={v}"));
    }
    let request = http::Request::get(&uri)
        .body(Vec::new())
        .map_err(|e| format!("watch request {uri}: {e}"))?;
    let body = client
        .request_stream(request)
        .await
        .map_err(|e| format!("watch {uri}: {e}"))?;
    let mut body = Box::pin(body);
    let mut line = Vec::with_capacity(8 << 10);
    loop {
        line.clear();
        let read = (&mut body)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .await;
        let at_us = jiff::Timestamp::now().as_microsecond();
        let n = read.map_err(|e| format!("reading watch {uri}: {e}"))?;
        if n == 0 {
            return Ok(());
        }
        if line.len() > MAX_LINE_BYTES {
            return Err(format!(
                "a line of watch {uri} is longer than {} MiB",
                MAX_LINE_BYTES >> 20
            ));
        }
        let mut seen = lock(seen);
        seen.lines += 1;
        match kind {
            Kind::Jobs => note::<Job>(&line, at_us, version, &mut seen.times, job_endpoints),
            Kind::Pods => note::<Pod>(&line, at_us, version, &mut seen.times, pod_endpoints),
        }
        .map_err(|e| format!("a line of watch {uri}: {e}"))?;
    }
}

#[derive(Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
enum WatchType {
    Added,
    Modified,
    Deleted,
    Bookmark,
    Error,
}

/// A watch line's type alone (its object is skipped).
#[derive(Deserialize)]
struct LineType {
    #[serde(rename = "type")]
    kind: WatchType,
}

#[derive(Deserialize)]
struct WatchLine<K> {
    object: K,
}

/// Notes the endpoints one watch line reached; a bookmark only moves the resource version, an
/// ERROR (e.g. 410 Gone) ends the stream and the next request starts from the current state.
fn note<K: DeserializeOwned + kube::Resource>(
    line: &[u8],
    at_us: i64,
    version: &mut Option<String>,
    times: &mut StageTimes,
    endpoints: fn(&K) -> Vec<Endpoint>,
) -> Result<(), String> {
    let kind = serde_json::from_slice::<LineType>(line)
        .map_err(|e| e.to_string())?
        .kind;
    if kind == WatchType::Error {
        *version = None;
        return Err("the apiserver ended the watch with an ERROR event".into());
    }
    let event: WatchLine<K> = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    let meta = event.object.meta();
    if let Some(v) = &meta.resource_version {
        *version = Some(v.clone());
    }
    if matches!(kind, WatchType::Added | WatchType::Modified)
        && let Some(name) = meta.name.as_deref()
    {
        for e in endpoints(&event.object) {
            times.note(e, name, at_us);
        }
    }
    Ok(())
}

fn job_endpoints(_: &Job) -> Vec<Endpoint> {
    vec![Endpoint::JobCreated]
}

/// By the event log's own rules: the same conversion and `PodObs` predicates.
fn pod_endpoints(pod: &Pod) -> Vec<Endpoint> {
    let obs = crate::observe::convert::pod(pod, 0, false);
    let mut out = vec![Endpoint::PodCreated];
    if obs.bound() {
        out.push(Endpoint::Bound);
    }
    if obs.started() {
        out.push(Endpoint::Started);
    }
    if obs.finished() {
        out.push(Endpoint::Finished);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noted(kind: &str, object: &str) -> (StageTimes, Option<String>) {
        let mut times = StageTimes::default();
        let mut version = None;
        let line = format!(r#"{{"type":"{kind}","object":{object}}}"#);
        note::<Pod>(line.as_bytes(), 7, &mut version, &mut times, pod_endpoints)
            .expect("a watch line");
        (times, version)
    }

    #[test]
    fn a_pod_line_reaches_the_endpoints_its_status_shows_at_the_time_it_was_read() {
        let pod = r#"{"metadata":{"name":"p","resourceVersion":"12"},"spec":{"nodeName":"n"},"status":{"phase":"Running"}}"#;
        let (times, version) = noted("MODIFIED", pod);
        assert_eq!(version.as_deref(), Some("12"));
        for e in [Endpoint::PodCreated, Endpoint::Bound, Endpoint::Started] {
            assert_eq!(times.at_us(e, "p"), Some(7), "{}", e.name());
        }
        assert_eq!(times.at_us(Endpoint::Finished, "p"), None);
    }

    #[test]
    fn a_bookmark_moves_the_version_and_reaches_nothing() {
        let (times, version) = noted(
            "BOOKMARK",
            r#"{"kind":"Pod","metadata":{"resourceVersion":"40"}}"#,
        );
        assert_eq!(version.as_deref(), Some("40"));
        assert_eq!(times.at_us(Endpoint::PodCreated, ""), None);
    }

    #[test]
    fn an_error_event_forgets_the_version_so_the_next_watch_starts_afresh() {
        let mut times = StageTimes::default();
        let mut version = Some("5".to_string());
        let line = br#"{"type":"ERROR","object":{"kind":"Status","code":410}}"#;
        let e = note::<Pod>(line, 1, &mut version, &mut times, pod_endpoints);
        assert!(e.is_err() && version.is_none());
    }
}

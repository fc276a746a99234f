//! Watchers -> event log. Each watched kind runs in its own task on a kube-runtime watcher,
//! which relists and resumes on its own after errors and expired resource versions; every
//! observed change becomes one line of `events.jsonl` with the client's receive time.

pub(crate) mod convert;
pub mod log;
pub mod slim;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};

use futures::{Stream, StreamExt};
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, watcher};
use serde::de::DeserializeOwned;

pub use log::{LogError, LogSender, now_ms};
use slim::{Event, Job, Node, Pod};

use crate::schema::{CLASS_LABEL, CronJobCreated, LogLine, RUN_LABEL, WatchedResource};

/// Counters for the live display; the event log remains the source of truth.
#[derive(Debug, Default)]
pub struct Live {
    pub jobs: u64,
    pub started: u64,
    /// Pods seen but not started (by name hash), with the receive time they were first seen.
    pending: HashMap<u64, i64>,
}

impl Live {
    /// Pods pending now, and how many of them for longer than `limit_ms`.
    pub fn pending(&self, now_ms: i64, limit_ms: i64) -> (usize, usize) {
        let stuck = self
            .pending
            .values()
            .filter(|t| now_ms - **t > limit_ms)
            .count();
        (self.pending.len(), stuck)
    }

    /// Counts a changed pod (by name hash): pending from its first sighting until it
    /// started or was deleted; started once, when a pending pod starts.
    fn pod_seen(&mut self, key: u64, recv_ms: i64, started: bool, deleted: bool, first: bool) {
        if deleted || started {
            if self.pending.remove(&key).is_some() && started {
                self.started += 1;
            }
        } else if first {
            self.pending.insert(key, recv_ms);
        }
    }
}

/// The event-log line for a CronJob the run has just created.
pub fn cronjob_created(cj: &k8s_openapi::api::batch::v1::CronJob) -> LogLine {
    let spec = cj.spec.as_ref();
    let policy = spec
        .and_then(|s| s.concurrency_policy.as_deref())
        .map(crate::scenario::ConcurrencyPolicy::from)
        .filter(|p| *p != crate::scenario::ConcurrencyPolicy::Allow);
    LogLine::CronJobCreated(CronJobCreated {
        recv_ms: now_ms(),
        name: cj.metadata.name.clone().unwrap_or_default(),
        schedule: spec.map(|s| s.schedule.clone()).unwrap_or_default(),
        time_zone: spec.and_then(|s| s.time_zone.clone()),
        class: cj
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(CLASS_LABEL).cloned()),
        concurrency_policy: policy,
        starting_deadline_seconds: spec.and_then(|s| s.starting_deadline_seconds),
        suspend: spec.and_then(|s| s.suspend).unwrap_or(false),
    })
}

pub type SharedLive = Arc<Mutex<Live>>;

fn lock(live: &SharedLive) -> std::sync::MutexGuard<'_, Live> {
    live.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The running watchers; dropping or `stop`ping ends them.
pub struct Observer {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub live: SharedLive,
}

impl Observer {
    /// Watches the run's Jobs, Pods and Events in `namespace`, and all Nodes.
    pub fn start(
        client: &kube::Client,
        namespace: &str,
        run_id: &str,
        log: &LogSender,
    ) -> Observer {
        let live = SharedLive::default();
        let labelled = watcher::Config::default().labels(&format!("{RUN_LABEL}={run_id}"));
        let tasks = vec![
            watch_jobs(
                Api::namespaced(client.clone(), namespace),
                labelled.clone(),
                log,
                &live,
            ),
            watch_pods(
                Api::namespaced(client.clone(), namespace),
                labelled,
                log,
                &live,
            ),
            watch_nodes(Api::all(client.clone()), log),
            watch_events(Api::namespaced(client.clone(), namespace), log),
        ];
        Observer { tasks, live }
    }

    pub fn stop(self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Per object, a hash of its name -> a hash of its last observation (16 bytes): a resend is
/// told from a change without keeping the observation.
type LastSeen = HashMap<u64, u64>;

/// Records an object's observation `print` (or forgets the object on deletion) and returns
/// its previous print, or `None` when the observation only resends the last one.
fn changed(last: &mut LastSeen, key: u64, print: u64, deleted: bool) -> Option<Option<u64>> {
    if deleted {
        return Some(last.remove(&key));
    }
    let prev = last.insert(key, print);
    (prev != Some(print)).then_some(prev)
}

/// Jobs: every change is logged once (resends are dropped); new Jobs are counted.
fn watch_jobs(
    api: Api<Job>,
    config: watcher::Config,
    log: &LogSender,
    live: &SharedLive,
) -> tokio::task::JoinHandle<()> {
    let mut last = LastSeen::new();
    let (l, lv) = (log.clone(), live.clone());
    spawn_watch(
        api,
        config,
        log.clone(),
        WatchedResource::Jobs,
        move |job, recv_ms, deleted| {
            let obs = convert::job(job, recv_ms, deleted);
            let key = convert::hash_of(&obs.name);
            let Some(prev) = changed(&mut last, key, convert::job_print(&obs), deleted) else {
                return;
            };
            if !deleted && prev.is_none() {
                lock(&lv).jobs += 1;
            }
            l.send(LogLine::Job(obs));
        },
    )
}

/// Pods: every change is logged once (resends are dropped); the live counter follows them
/// from first seen to started.
fn watch_pods(
    api: Api<Pod>,
    config: watcher::Config,
    log: &LogSender,
    live: &SharedLive,
) -> tokio::task::JoinHandle<()> {
    let mut last = LastSeen::new();
    let (l, lv) = (log.clone(), live.clone());
    spawn_watch(
        api,
        config,
        log.clone(),
        WatchedResource::Pods,
        move |pod, recv_ms, deleted| {
            let obs = convert::pod(pod, recv_ms, deleted);
            let key = convert::hash_of(&obs.name);
            let Some(prev) = changed(&mut last, key, convert::pod_print(&obs), deleted) else {
                return;
            };
            lock(&lv).pod_seen(key, recv_ms, obs.started(), deleted, prev.is_none());
            l.send(LogLine::Pod(obs));
        },
    )
}

/// Nodes: heartbeats change them every few seconds; only readiness changes are logged.
fn watch_nodes(api: Api<Node>, log: &LogSender) -> tokio::task::JoinHandle<()> {
    let mut last_ready: HashMap<String, bool> = HashMap::new();
    let l = log.clone();
    let config = watcher::Config::default();
    spawn_watch(
        api,
        config,
        log.clone(),
        WatchedResource::Nodes,
        move |node, recv_ms, deleted| {
            let obs = convert::node(node, recv_ms, deleted);
            if !deleted && last_ready.get(&obs.name) == Some(&obs.ready) {
                return;
            }
            last_ready.insert(obs.name.clone(), obs.ready);
            l.send(LogLine::Node(obs));
        },
    )
}

/// Events: each one logged as it arrives; their deletion (expiry) is not news.
fn watch_events(api: Api<Event>, log: &LogSender) -> tokio::task::JoinHandle<()> {
    let l = log.clone();
    let config = watcher::Config::default();
    spawn_watch(
        api,
        config,
        log.clone(),
        WatchedResource::Events,
        move |event, recv_ms, deleted| {
            if !deleted {
                l.send(LogLine::Event(convert::event(event, recv_ms)));
            }
        },
    )
}

fn spawn_watch<K>(
    api: Api<K>,
    config: watcher::Config,
    log: LogSender,
    resource: WatchedResource,
    mut on: impl FnMut(&K, i64, bool) + Send + 'static,
) -> tokio::task::JoinHandle<()>
where
    K: kube::Resource + Clone + Debug + DeserializeOwned + Send + 'static,
{
    tokio::spawn(async move {
        let stream = watcher(api, config).default_backoff();
        drive(stream, &log, resource, &mut on).await;
    })
}

async fn drive<K>(
    stream: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
    log: &LogSender,
    resource: WatchedResource,
    on: &mut impl FnMut(&K, i64, bool),
) {
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        let recv_ms = now_ms();
        match item {
            Ok(watcher::Event::Apply(obj) | watcher::Event::InitApply(obj)) => {
                on(&obj, recv_ms, false)
            }
            Ok(watcher::Event::Delete(obj)) => on(&obj, recv_ms, true),
            Ok(watcher::Event::Init | watcher::Event::InitDone) => {}
            Err(e) => log.send(LogLine::WatchError {
                recv_ms,
                resource,
                error: e.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_resend_is_dropped_and_a_change_or_deletion_returns_the_previous_print() {
        let mut last = super::LastSeen::new();
        assert_eq!(super::changed(&mut last, 1, 10, false), Some(None));
        assert_eq!(super::changed(&mut last, 1, 10, false), None);
        assert_eq!(super::changed(&mut last, 1, 11, false), Some(Some(10)));
        assert_eq!(super::changed(&mut last, 1, 11, true), Some(Some(11)));
        assert_eq!(super::changed(&mut last, 1, 11, true), Some(None));
    }

    use super::*;

    #[test]
    fn live_counts_a_pod_pending_until_it_starts_and_started_once() {
        let mut live = Live::default();
        live.pod_seen(1, 1_000, false, false, true);
        live.pod_seen(1, 2_000, false, false, false);
        assert_eq!(
            live.pending(5_000, 3_500),
            (1, 1),
            "pending since its first sighting"
        );
        live.pod_seen(1, 6_000, true, false, false);
        live.pod_seen(1, 7_000, true, false, false);
        assert_eq!((live.started, live.pending(8_000, 0)), (1, (0, 0)));
    }

    #[test]
    fn live_drops_a_deleted_pending_pod_without_counting_a_start() {
        let mut live = Live::default();
        live.pod_seen(2, 1_000, false, false, true);
        live.pod_seen(2, 2_000, false, true, false);
        assert_eq!((live.started, live.pending(3_000, 0)), (0, (0, 0)));
    }

    #[test]
    fn watch_error_lines_name_the_resource_as_before() {
        let line = LogLine::WatchError {
            recv_ms: 1,
            resource: WatchedResource::Pods,
            error: "watch stream ended".into(),
        };
        let json = serde_json::to_string(&line).expect("serializes");
        assert!(json.contains(r#""resource":"pods""#), "{json}");
    }
}

//! Watchers -> event log. Each watched kind runs in its own task on a kube-runtime watcher,
//! which relists and resumes on its own after errors and expired resource versions; every
//! observed change becomes one line of `events.jsonl` with the client's receive time.

mod convert;
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

use crate::schema::{LogLine, RUN_LABEL};

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
}

/// The event-log line for a CronJob the run has just created.
pub fn cronjob_created(cj: &k8s_openapi::api::batch::v1::CronJob) -> LogLine {
    LogLine::CronJobCreated {
        recv_ms: now_ms(),
        name: cj.metadata.name.clone().unwrap_or_default(),
        schedule: cj
            .spec
            .as_ref()
            .map(|s| s.schedule.clone())
            .unwrap_or_default(),
    }
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
        let mut tasks = Vec::new();

        // Per object, a hash of its name -> a hash of its last observation (16 bytes): a resend
        // is told from a change without keeping the observation.
        let mut last_jobs: HashMap<u64, u64> = HashMap::new();
        let (l, lv) = (log.clone(), live.clone());
        tasks.push(spawn_watch(
            Api::<Job>::namespaced(client.clone(), namespace),
            labelled.clone(),
            log.clone(),
            "jobs",
            move |job, recv_ms, deleted| {
                let obs = convert::job(job, recv_ms, deleted);
                let key = convert::hash_of(&obs.name);
                if deleted {
                    last_jobs.remove(&key);
                } else {
                    let print = convert::job_print(&obs);
                    match last_jobs.insert(key, print) {
                        Some(prev) if prev == print => return,
                        Some(_) => {}
                        None => lock(&lv).jobs += 1,
                    }
                }
                l.send(LogLine::Job(obs));
            },
        ));

        let mut last_pods: HashMap<u64, u64> = HashMap::new();
        let (l, lv) = (log.clone(), live.clone());
        tasks.push(spawn_watch(
            Api::<Pod>::namespaced(client.clone(), namespace),
            labelled,
            log.clone(),
            "pods",
            move |pod, recv_ms, deleted| {
                let obs = convert::pod(pod, recv_ms, deleted);
                let key = convert::hash_of(&obs.name);
                let print = convert::pod_print(&obs);
                let prev = if deleted {
                    last_pods.remove(&key)
                } else {
                    last_pods.insert(key, print)
                };
                if !deleted && prev == Some(print) {
                    return;
                }
                {
                    let mut live = lock(&lv);
                    let started = obs.started();
                    if deleted || started {
                        if live.pending.remove(&key).is_some() && started {
                            live.started += 1;
                        }
                    } else if prev.is_none() {
                        live.pending.insert(key, recv_ms);
                    }
                }
                l.send(LogLine::Pod(obs));
            },
        ));

        let mut last_ready: HashMap<String, bool> = HashMap::new();
        let l = log.clone();
        tasks.push(spawn_watch(
            Api::<Node>::all(client.clone()),
            watcher::Config::default(),
            log.clone(),
            "nodes",
            move |node, recv_ms, deleted| {
                let obs = convert::node(node, recv_ms, deleted);
                // Heartbeats change nodes every few seconds; only readiness matters here.
                if !deleted && last_ready.get(&obs.name) == Some(&obs.ready) {
                    return;
                }
                last_ready.insert(obs.name.clone(), obs.ready);
                l.send(LogLine::Node(obs));
            },
        ));

        let l = log.clone();
        tasks.push(spawn_watch(
            Api::<Event>::namespaced(client.clone(), namespace),
            watcher::Config::default(),
            log.clone(),
            "events",
            move |event, recv_ms, deleted| {
                if !deleted {
                    l.send(LogLine::Event(convert::event(event, recv_ms)));
                }
            },
        ));
        Observer { tasks, live }
    }

    pub fn stop(self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn spawn_watch<K>(
    api: Api<K>,
    config: watcher::Config,
    log: LogSender,
    resource: &'static str,
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
    resource: &'static str,
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
                resource: resource.to_string(),
                error: e.to_string(),
            }),
        }
    }
}

//! `cronbench bench-watch` (hidden): the bare watcher the observe part runs beside `cronbench
//! run`. It watches what the run's [`crate::observe::Observer`] watches (the run's Jobs and
//! Pods by its run label, the namespace's events.k8s.io Events, all Nodes) with kube-runtime's
//! `watcher` and the full k8s-openapi types, one task per kind like the run, and only counts
//! what the streams yield: no log, no conversion, no state.
//!
//! It prints one JSON line ([`WatchCount`]) to stdout once its signal handlers are in place, on
//! each SIGUSR1 (the bench's mark, sent with each `/proc` sample so both processes' events are
//! counted over the same window), and on SIGTERM or SIGINT, after which it exits 0.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{Stream, StreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, watcher};
use serde::{Deserialize, Serialize};
use tokio::signal::unix::{SignalKind, signal};

use crate::call::{self, CallError};

/// The bare watcher's counts at one instant. `events` is every object the streams yielded
/// (added, modified, deleted, and each object of an initial list or relist); the
/// `Init`/`InitDone` markers are not events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchCount {
    /// The watcher's clock (Unix ms) when it counted.
    pub t_ms: i64,
    pub events: u64,
    pub jobs: u64,
    pub pods: u64,
    pub nodes: u64,
    pub k8s_events: u64,
    /// Stream errors (each followed by kube-runtime's backoff and a retry).
    pub watch_errors: u64,
}

/// What a counter counts.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Jobs,
    Pods,
    Nodes,
    Events,
    Errors,
}

/// Where the watcher tasks count, one counter per [`Slot`].
#[derive(Default)]
struct Counters([AtomicU64; 5]);

impl Counters {
    fn add(&self, slot: Slot) {
        self.0[slot as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn read(&self) -> WatchCount {
        let n = |slot: Slot| self.0[slot as usize].load(Ordering::Relaxed);
        let (jobs, pods, nodes, k8s_events) = (
            n(Slot::Jobs),
            n(Slot::Pods),
            n(Slot::Nodes),
            n(Slot::Events),
        );
        WatchCount {
            t_ms: crate::observe::now_ms(),
            events: jobs + pods + nodes + k8s_events,
            jobs,
            pods,
            nodes,
            k8s_events,
            watch_errors: n(Slot::Errors),
        }
    }
}

/// Watches until SIGTERM or SIGINT, printing a [`WatchCount`] line as the module says.
pub async fn run(client: kube::Client, namespace: &str, selector: &str) -> Result<(), CallError> {
    let handler = |kind: SignalKind, name: &str| {
        signal(kind).map_err(call::io(format!("install the {name} handler")))
    };
    let mut usr1 = handler(SignalKind::user_defined1(), "SIGUSR1")?;
    let mut term = handler(SignalKind::terminate(), "SIGTERM")?;
    let mut int = handler(SignalKind::interrupt(), "SIGINT")?;
    let counters = Arc::new(Counters::default());
    print_count(&counters)?;
    let labelled = watcher::Config::default().labels(selector);
    let tasks = [
        spawn_count::<Job>(
            Api::namespaced(client.clone(), namespace),
            labelled.clone(),
            &counters,
            Slot::Jobs,
        ),
        spawn_count::<Pod>(
            Api::namespaced(client.clone(), namespace),
            labelled,
            &counters,
            Slot::Pods,
        ),
        spawn_count::<Node>(
            Api::all(client.clone()),
            Default::default(),
            &counters,
            Slot::Nodes,
        ),
        spawn_count::<Event>(
            Api::namespaced(client, namespace),
            Default::default(),
            &counters,
            Slot::Events,
        ),
    ];
    loop {
        tokio::select! {
            _ = usr1.recv() => print_count(&counters)?,
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    for t in &tasks {
        t.abort();
    }
    print_count(&counters)
}

fn print_count(counters: &Counters) -> Result<(), CallError> {
    use std::io::Write;
    let line = serde_json::to_string(&counters.read()).map_err(call::other("serialize a count"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(call::io("write a count to stdout"))
}

fn spawn_count<K>(
    api: Api<K>,
    config: watcher::Config,
    counters: &Arc<Counters>,
    slot: Slot,
) -> tokio::task::JoinHandle<()>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    let counters = counters.clone();
    tokio::spawn(async move {
        count(watcher(api, config).default_backoff(), &counters, slot).await;
    })
}

async fn count<K>(
    stream: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
    counters: &Counters,
    slot: Slot,
) {
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        let slot = match item {
            Ok(
                watcher::Event::Apply(_) | watcher::Event::InitApply(_) | watcher::Event::Delete(_),
            ) => slot,
            Ok(watcher::Event::Init | watcher::Event::InitDone) => continue,
            Err(_) => Slot::Errors,
        };
        counters.add(slot);
    }
}

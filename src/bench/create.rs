//! create: cronbench's applier (client rate limit off) against a bare kube-rs create loop at
//! the same concurrency, each round in its own namespace and followed by the run's teardown;
//! then the applier at `qps: 50`.

use std::path::Path;
use std::time::Instant;

use futures::{StreamExt, stream};
use k8s_openapi::api::batch::v1::CronJob;
use kube::api::{Api, PostParams};

use super::report::{Create, CreateRound};
use super::{BenchError, Sizes, proc};
use crate::call;
use crate::observe;
use crate::scenario::Scenario;
use crate::session::{self, RunKind};
use crate::workload::{self, Pace};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Cronbench,
    Bare,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Cronbench => "cronbench",
            Tool::Bare => "bare",
        }
    }
}

/// First and last creation instants of the applier.
type Span = std::sync::Mutex<Option<(Instant, Instant)>>;

/// The target of `create.qps_error`.
const QPS: f64 = 50.0;

/// `n` CronJobs that never fire during the bench (once a year), so creation is all they cost.
fn yearly(n: usize) -> Scenario {
    let mut scenario = Scenario::default();
    scenario.load.cronjobs = u32::try_from(n).unwrap_or(u32::MAX);
    scenario.load.schedule = "0 0 1 1 *".into();
    scenario
}

/// The CronJobs of `scenario`, as a run with the id `id` creates them.
fn objects(scenario: &Scenario, id: &str) -> Result<Vec<CronJob>, BenchError> {
    let defs = scenario.cronjob_defs(Path::new("."))?;
    Ok(defs
        .iter()
        .map(|d| workload::cronjob(scenario, d, id))
        .collect::<Result<Vec<_>, _>>()?)
}

pub async fn run(client: &kube::Client, sizes: &Sizes, out: &Path) -> Result<Create, BenchError> {
    let concurrency = crate::scenario::Apply::default().concurrency;
    let half = sizes.create_objects / 2;
    let mut rounds = Vec::new();
    for (i, tool) in [Tool::Bare, Tool::Cronbench, Tool::Cronbench, Tool::Bare]
        .into_iter()
        .enumerate()
    {
        let round = round(client, tool, i, &yearly(half), concurrency, None, out).await?;
        eprintln!(
            "  {:<9} {} CronJobs in {:.1} s = {:.0}/s (teardown {:.1} s, load {:.2})",
            round.tool,
            round.objects,
            round.seconds,
            round.per_s,
            round.teardown_s,
            round.load_avg[0]
        );
        rounds.push(round);
    }
    let rate = |tool: Tool| {
        let (n, s) = rounds
            .iter()
            .filter(|r| r.tool == tool.name())
            .fold((0u64, 0.0f64), |(n, s), r| (n + r.objects, s + r.seconds));
        (n, n as f64 / s.max(1e-9))
    };
    let (objects, cronbench_per_s) = rate(Tool::Cronbench);
    let (_, bare_per_s) = rate(Tool::Bare);

    let q = round(
        client,
        Tool::Cronbench,
        rounds.len(),
        &yearly(sizes.qps_objects),
        concurrency,
        Some(QPS),
        out,
    )
    .await?;
    let achieved = q.paced_per_s.unwrap_or(q.per_s);
    eprintln!(
        "  qps {QPS}: {} CronJobs in {:.2} s, {achieved:.2}/s between the first and the last",
        q.objects, q.seconds
    );
    Ok(Create {
        objects,
        concurrency,
        ratio: cronbench_per_s / bare_per_s,
        cronbench_per_s,
        bare_per_s,
        rounds,
        qps_target: QPS,
        qps_objects: q.objects,
        qps_seconds: q.seconds,
        qps_achieved: achieved,
        qps_error: (achieved - QPS).abs() / QPS,
        qps_load_avg: q.load_avg,
    })
}

/// The bare create loop on the CronJobs of `scenario` (the same objects a run of it creates,
/// so the same of them fire during the creation) in a namespace of its own, then its
/// teardown: the fleet part's baseline.
pub(super) async fn bare_round(
    client: &kube::Client,
    scenario: &Scenario,
    out: &Path,
) -> Result<CreateRound, BenchError> {
    let concurrency = scenario.apply.concurrency;
    round(client, Tool::Bare, 100, scenario, concurrency, None, out).await
}

/// One timed creation in a fresh namespace, then its teardown.
async fn round(
    client: &kube::Client,
    tool: Tool,
    index: usize,
    load: &Scenario,
    concurrency: usize,
    qps: Option<f64>,
    out: &Path,
) -> Result<CreateRound, BenchError> {
    let id = RunKind::CreateRound(index).new_id();
    let objs = objects(load, &id)?;
    workload::create_namespace(client, &id).await?;
    let load_avg = proc::load_avg();
    let span = Span::default();
    let started = Instant::now();
    let created = match tool {
        Tool::Cronbench => applier(client, &id, objs, concurrency, qps, out, &span).await,
        Tool::Bare => bare(client, &id, objs, concurrency).await,
    };
    let seconds = started.elapsed().as_secs_f64();
    let t = Instant::now();
    let leftover = session::teardown(client, &id).await;
    let teardown_s = t.elapsed().as_secs_f64();
    let created = created?;
    if let Some(ns) = leftover {
        eprintln!("  namespace {ns} still terminating after the round");
    }
    // The rate between the first and the last creation: n objects are n - 1 intervals.
    let paced_per_s = span
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .and_then(|(first, last)| {
            let s = last.duration_since(first).as_secs_f64();
            (created > 1 && s > 0.0).then(|| (created - 1) as f64 / s)
        });
    Ok(CreateRound {
        tool: tool.name().into(),
        objects: created,
        seconds,
        per_s: created as f64 / seconds.max(1e-9),
        paced_per_s,
        teardown_s,
        load_avg,
    })
}

/// What a run does: `workload::create_all`, logging each creation to an event log.
async fn applier(
    client: &kube::Client,
    namespace: &str,
    objects: Vec<CronJob>,
    concurrency: usize,
    qps: Option<f64>,
    out: &Path,
    span: &Span,
) -> Result<u64, BenchError> {
    let dir = out.join("create");
    std::fs::create_dir_all(&dir).map_err(call::io(format!("create {}", dir.display())))?;
    let (log, writer) = observe::log::start(&dir.join(format!("{namespace}.jsonl")))?;
    let span = &span;
    let pace = Pace {
        qps: qps.unwrap_or(0.0),
        burst: 1,
        concurrency,
    };
    let created = workload::create_all(client, namespace, objects, pace, |cj| {
        let now = Instant::now();
        let mut s = span
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *s = Some(s.map_or((now, now), |(first, _)| (first, now)));
        drop(s);
        log.send(crate::observe::cronjob_created(cj));
    })
    .await;
    drop(log);
    match writer.await {
        Ok(r) => {
            r?;
        }
        Err(e) => {
            return Err(call::other("finish the create log")(e).into());
        }
    }
    Ok(created?)
}

/// The baseline: plain `Api::create` calls, `concurrency` in flight, no retries, no logging.
async fn bare(
    client: &kube::Client,
    namespace: &str,
    objects: Vec<CronJob>,
    concurrency: usize,
) -> Result<u64, BenchError> {
    let api: Api<CronJob> = Api::namespaced(client.clone(), namespace);
    let api = &api;
    let pp = PostParams::default();
    let pp = &pp;
    let mut results = stream::iter(objects)
        .map(|o| async move { api.create(pp, &o).await })
        .buffer_unordered(concurrency.max(1));
    let mut created = 0u64;
    while let Some(r) = results.next().await {
        r.map_err(call::api(format!(
            "creating a CronJob in {namespace} (bare loop)"
        )))?;
        created += 1;
    }
    Ok(created)
}

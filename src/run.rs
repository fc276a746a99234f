//! `cronbench run`: preflight, create the load, observe it through warm-up, the measured
//! window and the drain, tear down what the run created, analyze, and give a verdict.
//!
//! Whatever happens after the namespace exists (an error, Ctrl-C), teardown runs and the
//! results collected so far are written.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams};

use crate::analyze::{self, AnalyzeError};
use crate::call;
use crate::cluster::preflight::{self, PreflightError};
use crate::faults;
use crate::observe::{self, LogSender, Observer, now_ms};
use crate::results::Results;
use crate::scenario::{Scenario, ScenarioError, scenario_dir};
use crate::schema::{EndReason, LogLine, Phase, RUN_LABEL, RunStarted, SCHEMA_VERSION};
use crate::workload::{self, Pace, WorkloadError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error(transparent)]
    Log(#[from] observe::LogError),
    #[error(transparent)]
    Analyze(#[from] AnalyzeError),
    #[error(transparent)]
    Faults(#[from] crate::faults::FaultError),
    #[error(transparent)]
    Call(#[from] call::CallError),
}

/// Where to run and what to load.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub scenario: PathBuf,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub allow_context: Vec<String>,
    /// Run directory; default `runs/<run id>`.
    pub out: Option<PathBuf>,
    /// Leave the run's namespace in place after a completed run (for inspection; `cronbench
    /// clean` removes it). Interrupted and failed runs are always torn down.
    pub keep: bool,
}

/// How a run ended.
#[derive(Debug)]
pub struct RunOutcome {
    pub dir: PathBuf,
    pub results: Results,
    pub end: EndReason,
    /// The error that ended the run early, if any.
    pub error: Option<RunError>,
    /// A namespace that was still terminating when teardown gave up waiting.
    pub leftover: Option<String>,
}

pub(crate) fn run_id() -> String {
    let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC);
    format!(
        "cronbench-{}-{:04x}",
        now.strftime("%Y%m%d-%H%M%S"),
        (std::process::id() ^ now.timestamp().subsec_nanosecond() as u32) & 0xffff
    )
}

/// Runs a scenario end to end. Errors before anything was created are returned as `Err`;
/// later ones end the run early and are reported in [`RunOutcome::error`].
pub async fn run(opts: &RunOptions) -> Result<RunOutcome, RunError> {
    let mut scenario = Scenario::from_file(&opts.scenario)?;
    let defs = scenario.cronjob_defs(&scenario_dir(&opts.scenario))?;

    let (client, context) =
        preflight::connect(opts.kubeconfig.clone(), opts.context.clone()).await?;
    preflight::check_context(&context, &opts.allow_context)?;
    crate::cluster::adapt_scenario(&context, &mut scenario);
    let facts = preflight::check_cluster(&client, &context, &scenario.load.node_selector).await?;
    // Refuse faults this cluster cannot take before anything is created.
    let injector = if scenario.faults.is_empty() {
        None
    } else {
        Some(faults::Injector::for_context(
            &context,
            client.clone(),
            &scenario.faults,
        )?)
    };

    let id = run_id();
    // Every object is built once here to fail before anything exists, and again, one at a
    // time, as it is created: 5,000 CronJobs held at once were ~20 MB of heap that the
    // process kept for the rest of the run.
    for d in &defs {
        workload::cronjob(&scenario, d, &id)?;
    }
    let dir = open_run_dir(opts.out.as_deref(), &id, &opts.scenario)?;
    let log_path = dir.join("events.jsonl");
    let (log, writer) = observe::log::start(&log_path)?;
    log.send(started_line(&id, &scenario, &context, &facts));
    eprintln!(
        "run {id}: {} CronJobs on `{context}` ({}, {} Ready nodes); writing {}",
        defs.len(),
        facts.server_version,
        facts.ready_nodes,
        dir.display()
    );

    workload::create_namespace(&client, &id).await?;
    let observer = Observer::start(&client, &id, &id, &log);
    let schedule =
        injector.map(|inj| faults::Schedule::new(inj, scenario.faults.clone(), log.clone()));

    let body = phases(
        &client,
        &scenario,
        &defs,
        &id,
        &log,
        &observer,
        schedule.as_ref(),
    );
    let (end, error) = tokio::select! {
        r = body => match r {
            Ok(()) => (EndReason::Completed, None),
            Err(e) => (EndReason::Error, Some(e)),
        },
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\ninterrupted: tearing down and writing the results collected so far");
            (EndReason::Interrupted, None)
        }
    };

    // Faults still applied are undone first: teardown needs the whole cluster.
    if let Some(schedule) = schedule {
        schedule.finish().await;
    }
    log.send(LogLine::Phase {
        recv_ms: now_ms(),
        phase: Phase::Teardown,
    });
    observer.stop();
    let leftover = if opts.keep && end == EndReason::Completed {
        eprintln!("keeping namespace {id} (--keep); `cronbench clean` removes it");
        None
    } else {
        teardown(&client, &id).await
    };
    log.send(LogLine::RunEnded {
        recv_ms: now_ms(),
        reason: end,
    });
    drop(log);
    let stats = match writer.await {
        Ok(r) => r?,
        Err(e) => {
            return Err(call::other("finish the event log")(e).into());
        }
    };
    write_harness(&dir, &stats)?;
    let results = analyze::analyze_file(&log_path)?;
    write_results(&dir, &results)?;
    Ok(RunOutcome {
        dir,
        results,
        end,
        error,
        leftover,
    })
}

/// Creates the run directory (`out`, default `runs/<id>`) with a copy of the scenario file.
pub(crate) fn open_run_dir(
    out: Option<&Path>,
    id: &str,
    scenario: &Path,
) -> Result<PathBuf, call::CallError> {
    let dir = out.map_or_else(|| PathBuf::from("runs").join(id), Path::to_path_buf);
    std::fs::create_dir_all(&dir)
        .map_err(call::io(format!("create run directory {}", dir.display())))?;
    std::fs::copy(scenario, dir.join("scenario.yaml")).map_err(call::io(format!(
        "copy the scenario into {}",
        dir.display()
    )))?;
    Ok(dir)
}

/// The event log's first line for run `id`, whose namespace has the same name.
pub(crate) fn started_line(
    id: &str,
    scenario: &Scenario,
    context: &str,
    facts: &preflight::ClusterFacts,
) -> LogLine {
    LogLine::RunStarted(RunStarted {
        schema_version: SCHEMA_VERSION,
        recv_ms: now_ms(),
        run_id: id.to_string(),
        namespace: id.to_string(),
        scenario: serde_json::to_value(scenario).unwrap_or_default(),
        cronbench_version: env!("CARGO_PKG_VERSION").to_string(),
        context: context.to_string(),
        server_version: facts.server_version.clone(),
        nodes: facts.ready_nodes,
    })
}

/// Writes `harness.json` into a run directory: the harness's own figures (lines written and
/// the record lag, client receive to line in the file). Not part of the analysis.
fn write_harness(dir: &Path, stats: &observe::log::LogStats) -> Result<(), RunError> {
    let path = dir.join("harness.json");
    let json = serde_json::to_vec_pretty(&serde_json::json!({ "record_lag": stats.summary() }))
        .map_err(call::other(format!("serialize {}", path.display())))?;
    std::fs::write(&path, json).map_err(call::io(format!("write {}", path.display())))?;
    Ok(())
}

/// Writes `results.json` into a run directory.
pub fn write_results(dir: &Path, results: &Results) -> Result<(), RunError> {
    let path = dir.join("results.json");
    let json = serde_json::to_vec_pretty(results)
        .map_err(call::other(format!("serialize {}", path.display())))?;
    std::fs::write(&path, json).map_err(call::io(format!("write {}", path.display())))?;
    Ok(())
}

async fn phases(
    client: &kube::Client,
    scenario: &Scenario,
    defs: &[crate::scenario::CronJobDef],
    id: &str,
    log: &LogSender,
    observer: &Observer,
    faults: Option<&faults::Schedule>,
) -> Result<(), RunError> {
    log.send(LogLine::Phase {
        recv_ms: now_ms(),
        phase: Phase::Apply,
    });
    let bar = progress_bar(defs.len() as u64);
    let pace = Pace {
        qps: scenario.apply.qps,
        burst: scenario.apply.burst,
        concurrency: scenario.apply.concurrency,
    };
    let started = std::time::Instant::now();
    // Validated before the run started: building cannot fail here.
    let objects = defs
        .iter()
        .filter_map(|d| workload::cronjob(scenario, d, id).ok());
    let created = workload::create_all(client, id, objects, pace, |cj| {
        log.send(observe::cronjob_created(cj));
        bar.inc(1);
    })
    .await?;
    bar.finish_and_clear();
    release_freed_memory();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "created {created} CronJobs in {secs:.1} s ({:.0}/s)",
        created as f64 / secs.max(1e-3)
    );

    let d = &scenario.duration;
    let max_pending_ms = (scenario.slo.max_pending_s * 1000.0) as i64;
    for (phase, secs) in [
        (Phase::Warmup, d.warmup_s),
        (Phase::Measure, d.measure_s),
        (Phase::Drain, d.drain_s),
    ] {
        log.send(LogLine::Phase {
            recv_ms: now_ms(),
            phase,
        });
        // Fault times count from the start of the warm-up.
        if let (Phase::Warmup, Some(f)) = (phase, faults) {
            f.start();
        }
        watch_phase(phase, Duration::from_secs(secs), observer, max_pending_ms).await;
    }
    Ok(())
}

/// Hands the heap that the apply phase freed back to the system. glibc keeps freed memory in
/// its arenas; after a burst of creations that is most of the process's resident memory for
/// the rest of the run.
fn release_freed_memory() {
    // SAFETY: malloc_trim only releases free memory; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("creating CronJobs {bar:40} {pos}/{len} {per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

/// Waits out a phase while showing what the watchers see, pending and stuck pods included.
async fn watch_phase(phase: Phase, length: Duration, observer: &Observer, max_pending_ms: i64) {
    let tty = std::io::stderr().is_terminal();
    let spinner = if tty {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_print = None::<tokio::time::Instant>;
    loop {
        tick.tick().await;
        let elapsed = start.elapsed();
        let status = {
            let live = observer
                .live
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let (pending, stuck) = live.pending(now_ms(), max_pending_ms);
            format!(
                "{phase:?} {}/{} s | jobs {} | pods started {} | pending {pending} | stuck > {} s: {stuck}",
                elapsed.as_secs(),
                length.as_secs(),
                live.jobs,
                live.started,
                max_pending_ms / 1000
            )
        };
        if tty {
            spinner.set_message(status);
            spinner.tick();
        } else if last_print.is_none_or(|t| t.elapsed() >= Duration::from_secs(15)) {
            eprintln!("{status}");
            last_print = Some(tokio::time::Instant::now());
        }
        if elapsed >= length {
            break;
        }
        // The watchers' short-lived buffers fragment the heap; give it back once a minute.
        if elapsed.as_secs() % 60 == 59 {
            release_freed_memory();
        }
    }
    spinner.finish_and_clear();
}

/// Deletes the run's namespace (and with it everything the run created) and waits until it is
/// gone. Returns the namespace's name if it was still terminating after two minutes.
pub async fn teardown(client: &kube::Client, namespace: &str) -> Option<String> {
    let api: Api<Namespace> = Api::all(client.clone());
    let dp = DeleteParams::background();
    match api.delete(namespace, &dp).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return None,
        Err(e) => {
            eprintln!(
                "teardown: deleting namespace {namespace} failed: {e}; run `cronbench clean`"
            );
            return Some(namespace.to_string());
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while tokio::time::Instant::now() < deadline {
        match api.get_opt(namespace).await {
            Ok(None) => return None,
            Ok(Some(_)) | Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    eprintln!("teardown: namespace {namespace} is still terminating; `cronbench clean` removes it");
    Some(namespace.to_string())
}

/// What `clean` did: namespaces gone, and namespaces whose deletion is still in progress.
#[derive(Debug, Default)]
pub struct Cleaned {
    pub removed: Vec<String>,
    pub terminating: Vec<String>,
}

/// Deletes every namespace any run left (those labelled with the run label).
pub async fn clean(client: &kube::Client) -> Result<Cleaned, RunError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let list = api
        .list(&ListParams::default().labels(RUN_LABEL))
        .await
        .map_err(call::api("listing namespaces of earlier runs"))?;
    let mut cleaned = Cleaned::default();
    for ns in list.items {
        let Some(name) = ns.metadata.name else {
            continue;
        };
        match teardown(client, &name).await {
            None => cleaned.removed.push(name),
            Some(left) => cleaned.terminating.push(left),
        }
    }
    Ok(cleaned)
}

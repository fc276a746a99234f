//! `cronbench run`: preflight, create the load, observe it through warm-up, the measured
//! window and the drain, tear down what the run created, analyze, and give a verdict.
//!
//! Whatever happens after the namespace exists (an error, Ctrl-C), teardown runs and the
//! results collected so far are written.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::analyze::{self, AnalyzeError};
use crate::call;
use crate::cluster::ClusterTarget;
use crate::faults;
use crate::metrics::{self, ComponentEvidence, Snapshot};
use crate::observe::{self, Observer, now_ms};
use crate::promql::Prometheus;
use crate::resources::{Chosen, ResourcesFrom};
use crate::results::Results;
use crate::scenario::{CronJobDef, Scenario, ScenarioError, scenario_dir};
use crate::schema::{EndReason, Phase};
use crate::session::{NamespaceOwner, Opening, Preflight, RunFile, RunKind, Session, SessionError};
use crate::workload::{self, Pace, WorkloadError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error(transparent)]
    Analyze(#[from] AnalyzeError),
    #[error(transparent)]
    Faults(#[from] crate::faults::FaultError),
    #[error(transparent)]
    Prometheus(#[from] crate::promql::PromError),
    #[error(transparent)]
    Resources(#[from] crate::resources::ChoiceError),
    /// Writing `results.json` or `harness.json`.
    #[error(transparent)]
    Call(#[from] call::CallError),
}

/// Where to run and what to load.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub scenario: PathBuf,
    pub target: ClusterTarget,
    /// Run directory; default `runs/<run id>`.
    pub out: Option<PathBuf>,
    /// Leave the run's namespace in place after a completed run (for inspection; `cronbench
    /// clean` removes it). Interrupted and failed runs are always torn down.
    pub keep: bool,
    /// Read the components' evidence over the run from this Prometheus (base URL).
    pub prometheus: Option<String>,
    /// Where the components' CPU and memory timeline comes from.
    pub resources_from: ResourcesFrom,
    /// The run id (and namespace); `None`: a fresh one.
    pub run_id: Option<String>,
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

/// Runs a scenario end to end. Errors before anything was created are returned as `Err`;
/// later ones end the run early and are reported in [`RunOutcome::error`].
pub async fn run(opts: &RunOptions) -> Result<RunOutcome, RunError> {
    let mut scenario = Scenario::from_file(&opts.scenario)?;
    let prometheus = opts
        .prometheus
        .as_deref()
        .map(Prometheus::new)
        .transpose()?;
    let defs = scenario.cronjob_defs(&scenario_dir(&opts.scenario))?;
    let cluster = Preflight::check(&opts.target, &mut scenario, &opts.scenario, &defs).await?;
    let injector = fault_injector(&cluster, &scenario)?;
    let resources = Chosen::choose(opts.resources_from, &cluster.context, prometheus.as_ref())?;
    let id = opts.run_id.clone().unwrap_or_else(|| RunKind::Run.new_id());
    // Every object is built once here to fail before anything exists, and again, one at a
    // time, as it is created: 5,000 CronJobs held at once were ~20 MB of heap that the
    // process kept for the rest of the run.
    for d in &defs {
        workload::cronjob(&scenario, d, &id)?;
    }
    let mut session = Session::open(
        cluster,
        Opening {
            id,
            out: opts.out.as_deref(),
            scenario_file: Some(&opts.scenario),
            scenario: &scenario,
            namespace: NamespaceOwner::Session,
            keep: opts.keep,
        },
    )
    .await?;
    session.sample_resources(resources);
    announce(&session, defs.len());
    let schedule = injector
        .map(|inj| faults::Schedule::new(inj, scenario.faults.clone(), session.log().clone()));
    let evidence = Evidence::new(prometheus);
    let (end, error) = session
        .drive(
            "tearing down and writing the results collected so far",
            phases(&session, &scenario, &defs, schedule.as_ref(), &evidence),
        )
        .await;
    // The definitions are not needed past the window; the analysis below holds its own.
    drop(defs);
    let components = evidence.finish().await;
    let undo_faults = async {
        if let Some(schedule) = schedule {
            schedule.finish().await;
        }
    };
    let closed = session.close(end, undo_faults).await?;
    closed.dir.write_harness(&closed.stats)?;
    let mut results = analyze::analyze_file(closed.dir.file(RunFile::Events))?;
    results.components = components;
    closed.dir.write_json(RunFile::Results, &results)?;
    Ok(RunOutcome {
        dir: closed.dir.path().to_path_buf(),
        results,
        end,
        error,
        leftover: closed.leftover,
    })
}

/// The scenario's faults' injector; refuses faults this cluster cannot take before anything
/// is created.
fn fault_injector(
    cluster: &Preflight,
    scenario: &Scenario,
) -> Result<Option<faults::Injector>, RunError> {
    if scenario.faults.is_empty() {
        return Ok(None);
    }
    Ok(Some(faults::Injector::for_context(
        &cluster.context,
        cluster.client.clone(),
        &scenario.faults,
    )?))
}

fn announce(session: &Session, cronjobs: usize) {
    let facts = session.facts();
    eprintln!(
        "run {}: {cronjobs} CronJobs on `{}` ({}, {} Ready nodes); writing {}",
        session.id(),
        session.context(),
        facts.server_version,
        facts.ready_nodes,
        session.dir().path().display()
    );
}

/// The run's body: create the load, then warm-up, measure and drain.
async fn phases(
    session: &Session,
    scenario: &Scenario,
    defs: &[CronJobDef],
    faults: Option<&faults::Schedule>,
    evidence: &Evidence,
) -> Result<(), RunError> {
    session.phase(Phase::Apply);
    apply(session, scenario, defs).await?;
    let d = &scenario.duration;
    let max_pending_ms = (scenario.slo.max_pending_s * 1000.0) as i64;
    for (phase, secs) in [
        (Phase::Warmup, d.warmup_s),
        (Phase::Measure, d.measure_s),
        (Phase::Drain, d.drain_s),
    ] {
        session.phase(phase);
        // Fault times count from the start of the warm-up.
        if let (Phase::Warmup, Some(f)) = (phase, faults) {
            f.start();
        }
        if phase == Phase::Warmup {
            evidence.start().await;
        }
        let length = Duration::from_secs(secs);
        watch_phase(phase, length, session.observer(), max_pending_ms).await;
    }
    Ok(())
}

/// The components' evidence over the run, by PromQL: a snapshot when the warm-up starts and
/// one when the run ends. Prometheus failing at either instant leaves the values missing and
/// says why; the run goes on.
struct Evidence {
    prometheus: Option<Prometheus>,
    start: std::sync::Mutex<Option<(i64, Snapshot)>>,
}

impl Evidence {
    fn new(prometheus: Option<Prometheus>) -> Evidence {
        Evidence {
            prometheus,
            start: std::sync::Mutex::new(None),
        }
    }

    async fn snapshot(&self, when: &str) -> Option<(i64, Snapshot)> {
        let prom = self.prometheus.as_ref()?;
        let at_ms = now_ms();
        let snap = metrics::snapshot_prometheus(prom, at_ms).await;
        for (what, why) in &snap.unreachable {
            eprintln!("warning: no component evidence at the run's {when}: {what}: {why}");
        }
        Some((at_ms, snap))
    }

    async fn start(&self) {
        let taken = self.snapshot("start").await;
        *self
            .start
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = taken;
    }

    /// The window's evidence, if the run got as far as its start.
    async fn finish(&self) -> Option<ComponentEvidence> {
        let start = self
            .start
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let (start_ms, a) = start?;
        let (end_ms, b) = self.snapshot("end").await?;
        Some(ComponentEvidence {
            prometheus: self.prometheus.as_ref()?.url().to_string(),
            start_ms,
            end_ms,
            metrics: metrics::between(&a, &b),
            at_start: a.values,
            at_end: b.values,
        })
    }
}

/// Creates the scenario's CronJobs at its pace, logging each one.
async fn apply(
    session: &Session,
    scenario: &Scenario,
    defs: &[CronJobDef],
) -> Result<(), RunError> {
    let bar = progress_bar(defs.len() as u64);
    let pace = Pace {
        qps: scenario.apply.qps,
        burst: scenario.apply.burst,
        concurrency: scenario.apply.concurrency,
    };
    let started = std::time::Instant::now();
    let id = session.id();
    // Validated before the run started: building cannot fail here.
    let objects = defs
        .iter()
        .filter_map(|d| workload::cronjob(scenario, d, id).ok());
    let created = workload::create_all(session.client(), id, objects, pace, |cj| {
        session.log().send(observe::cronjob_created(cj));
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

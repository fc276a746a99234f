//! `cronbench run` as a child process on the bench cluster, sampled from `/proc` beside the
//! control plane, so the harness's CPU and memory are its own and nothing of the bench's.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::BenchError;
use super::bare::{Bare, BareRun, BareSample};
use super::proc::{self, Child, Exit};
use crate::call;
use crate::cluster::LocalCluster;
use crate::scenario::Scenario;
use crate::schema::{LogLine, Phase, RUN_LABEL, RunStarted};
use crate::session::{RunDir, RunFile};

/// The bench cluster as a child process reaches it.
#[derive(Debug, Clone)]
pub struct ClusterRef {
    pub kubeconfig: PathBuf,
    pub context: String,
    pub cluster: LocalCluster,
}

/// The control-plane components whose CPU the harness is compared with.
pub const CONTROL_PLANE: [&str; 3] = ["kube-apiserver", "etcd", "kube-controller-manager"];

/// One reading, every second.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub t_ms: i64,
    pub cpu_s: f64,
    pub rss_kb: u64,
    /// Its anonymous part (`RssAnon`).
    pub anon_kb: u64,
    /// CPU seconds of each of [`CONTROL_PLANE`].
    pub cp_cpu_s: [f64; 3],
    /// The bare watcher beside the run, when there is one and it runs.
    pub bare: Option<BareSample>,
}

pub struct ChildRun {
    pub dir: PathBuf,
    pub exit: Exit,
    pub samples: Vec<Sample>,
    /// The bare watcher's end, when one ran beside the run: an error of its own does not
    /// void the run's figures.
    pub bare: Option<Result<BareRun, BenchError>>,
}

/// Whether a bare watcher ([`super::watch`]) runs beside the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beside {
    Nothing,
    BareWatcher,
}

/// Writes `scenario` into `dir` and runs `cronbench run` on it (with the run id, and so the
/// namespace, `run_id` when given), sampling every second; with [`Beside::BareWatcher`], the
/// bare watcher starts as soon as the run has named its namespace and stops when the run ends.
pub async fn run_scenario(
    ctx: &ClusterRef,
    scenario: &Scenario,
    dir: &Path,
    beside: Beside,
    run_id: Option<&str>,
) -> Result<ChildRun, BenchError> {
    std::fs::create_dir_all(dir).map_err(call::io(format!("create {}", dir.display())))?;
    let scenario_path = dir.join(RunFile::Scenario.name());
    // JSON is YAML: the scenario parser reads it as written.
    let text = serde_json::to_string_pretty(scenario)
        .map_err(call::other("serialize the bench scenario"))?;
    std::fs::write(&scenario_path, text)
        .map_err(call::io(format!("write {}", scenario_path.display())))?;
    let run_dir = dir.join("run");
    let log_path = dir.join("run.log");
    let peak_path = dir.join("peak_rss_kb");
    let mut cmd = run_command(ctx, &scenario_path, &run_dir, &log_path, &peak_path)?;
    if let Some(id) = run_id {
        cmd.arg("--run-id").arg(id);
    }
    let cp_pids = control_plane_pids(&ctx.cluster);
    let mut child = Child::spawn(cmd, "cronbench run (child)")?;
    let mut bare = None;
    if beside == Beside::BareWatcher {
        let events = run_dir.join(RunFile::Events.name());
        match run_started(&mut child, &events).await? {
            Ok(started) => {
                let selector = format!("{RUN_LABEL}={}", started.run_id);
                bare = Some(Bare::spawn(ctx, &started.namespace, &selector, dir)?);
            }
            Err(exit) => return Err(failed(run_what(&scenario_path), &exit, &log_path)),
        }
    }
    let mut samples = Vec::new();
    let mut exit = child
        .wait_sampling(Duration::from_secs(1), |pid| {
            samples.extend(sample(pid, &cp_pids, bare.as_mut()));
        })
        .await?;
    let bare = match bare {
        Some(b) => Some(b.stop().await),
        None => None,
    };
    if let Some(kb) = proc::read_peak_rss(&peak_path) {
        exit.peak_rss_kb = kb;
    }
    write_samples(&dir.join("samples.csv"), &samples)?;
    // Exit 1 is a missed SLO of the cluster: the harness's figures still stand.
    if !matches!(exit.code, Some(0 | 1)) {
        return Err(failed(run_what(&scenario_path), &exit, &log_path));
    }
    Ok(ChildRun {
        dir: run_dir,
        exit,
        samples,
        bare,
    })
}

/// Waits for the run's first log line (which names its namespace and run id), or for its
/// end (`Err` with how it ended) if it ends first.
async fn run_started(
    child: &mut Child,
    events: &Path,
) -> Result<Result<RunStarted, Exit>, BenchError> {
    use std::io::BufRead;
    loop {
        if let Some(exit) = child.try_wait()? {
            return Ok(Err(exit));
        }
        let mut first = String::new();
        if let Ok(file) = std::fs::File::open(events) {
            let _ = std::io::BufReader::new(file).read_line(&mut first);
        }
        if first.ends_with('\n') {
            return match serde_json::from_str(&first) {
                Ok(LogLine::RunStarted(started)) => Ok(Ok(started)),
                _ => Err(BenchError::Child {
                    what: child.what.clone(),
                    detail: format!(
                        "the first line of {} is not its run_started line",
                        events.display()
                    ),
                }),
            };
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `cronbench run` on the bench cluster, its output into `log_path`.
fn run_command(
    ctx: &ClusterRef,
    scenario_path: &Path,
    run_dir: &Path,
    log_path: &Path,
    peak_path: &Path,
) -> Result<Command, BenchError> {
    let mut cmd = cronbench_on("run", scenario_path, ctx, run_dir)?;
    cmd.env(proc::PEAK_RSS_ENV, peak_path);
    output_to(&mut cmd, log_path)?;
    Ok(cmd)
}

/// `cronbench COMMAND SCENARIO` on the cluster `ctx` reaches, writing into `out`.
pub(super) fn cronbench_on(
    command: &str,
    scenario_path: &Path,
    ctx: &ClusterRef,
    out: &Path,
) -> Result<Command, BenchError> {
    let mut cmd = proc::cronbench_command()?;
    cmd.arg(command)
        .arg(scenario_path)
        .arg("--kubeconfig")
        .arg(&ctx.kubeconfig)
        .arg("--context")
        .arg(&ctx.context)
        .arg("--out")
        .arg(out);
    Ok(cmd)
}

/// `cmd` with no input and its output (stdout and stderr) into `log_path`.
pub(super) fn output_to(cmd: &mut Command, log_path: &Path) -> Result<(), BenchError> {
    let log = std::fs::File::create(log_path)
        .map_err(call::io(format!("create {}", log_path.display())))?;
    let log2 = log
        .try_clone()
        .map_err(call::io(format!("open {}", log_path.display())))?;
    cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
    Ok(())
}

/// The pids of [`CONTROL_PLANE`], in that order.
fn control_plane_pids(cluster: &LocalCluster) -> Vec<Option<u32>> {
    let components = cluster.components();
    CONTROL_PLANE
        .iter()
        .map(|name| {
            components
                .iter()
                .find(|c| c.component == *name)
                .and_then(|c| c.pid)
        })
        .collect()
}

/// One reading of the child `pid`, the control plane and the bare watcher; none when the
/// child is gone.
fn sample(pid: u32, cp_pids: &[Option<u32>], bare: Option<&mut Bare>) -> Option<Sample> {
    let (cpu_s, mem) = (proc::cpu_s(pid)?, proc::mem(pid)?);
    let mut cp = [0.0; 3];
    for (slot, pid) in cp.iter_mut().zip(cp_pids) {
        *slot = pid.and_then(proc::cpu_s).unwrap_or(0.0);
    }
    Some(Sample {
        t_ms: crate::observe::now_ms(),
        cpu_s,
        rss_kb: mem.rss_kb,
        anon_kb: mem.anon_kb,
        cp_cpu_s: cp,
        bare: bare.and_then(Bare::sample),
    })
}

fn run_what(scenario_path: &Path) -> String {
    format!("cronbench run {}", scenario_path.display())
}

/// The child `what`'s failure, with the last lines of its output.
pub(super) fn failed(what: String, exit: &Exit, log_path: &Path) -> BenchError {
    let tail = std::fs::read_to_string(log_path).unwrap_or_default();
    let tail: Vec<&str> = tail.lines().rev().take(15).collect();
    BenchError::Child {
        what,
        detail: format!(
            "exit {:?}; last lines of {}:\n{}",
            exit.code,
            log_path.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ),
    }
}

fn write_samples(path: &Path, samples: &[Sample]) -> Result<(), BenchError> {
    use std::fmt::Write as _;
    let s = crate::report::write::render(|s| {
        s.push_str(
            "t_ms,cpu_s,rss_kb,apiserver_cpu_s,etcd_cpu_s,kcm_cpu_s,bare_cpu_s,bare_rss_kb\n",
        );
        for x in samples {
            write!(
                s,
                "{},{:.2},{},{:.2},{:.2},{:.2},",
                x.t_ms, x.cpu_s, x.rss_kb, x.cp_cpu_s[0], x.cp_cpu_s[1], x.cp_cpu_s[2]
            )?;
            match x.bare {
                Some(b) => writeln!(s, "{:.2},{}", b.cpu_s, b.rss_kb)?,
                None => writeln!(s, ",")?,
            }
        }
        Ok(())
    });
    std::fs::write(path, s).map_err(call::io(format!("write {}", path.display())))?;
    Ok(())
}

/// How many phases a run has: [`Phase::Teardown`] is the last.
const PHASES: usize = Phase::Teardown as usize + 1;

/// The receive time of the first line of each phase, in [`Phase`] order; `None` for a phase
/// the log does not have.
pub type PhaseTimes = [Option<i64>; PHASES];

/// The [`PhaseTimes`] of a run's event log.
pub fn phase_times(events: &Path) -> Result<PhaseTimes, BenchError> {
    use std::io::BufRead;
    let file =
        std::fs::File::open(events).map_err(call::io(format!("open {}", events.display())))?;
    let mut at = [None; PHASES];
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(call::io(format!("read {}", events.display())))?;
        if !line.contains("\"type\":\"phase\"") {
            continue;
        }
        if let Ok(LogLine::Phase { recv_ms, phase }) = serde_json::from_str(&line)
            && let Some(slot) = at.get_mut(phase as usize)
        {
            *slot = slot.or(Some(recv_ms));
        }
    }
    Ok(at)
}

/// The receive times of the measure and drain phase lines of a run's event log.
pub fn measure_window(events: &Path) -> Result<(i64, i64), BenchError> {
    window(&phase_times(events)?, events)
}

/// The measure phase's start and the drain phase's start among `at`, read from `events`.
pub fn window(at: &PhaseTimes, events: &Path) -> Result<(i64, i64), BenchError> {
    match (at[Phase::Measure as usize], at[Phase::Drain as usize]) {
        (Some(s), Some(e)) if e > s => Ok((s, e)),
        _ => Err(BenchError::Child {
            what: "the observe run".into(),
            detail: format!("{} has no measure and drain phase", events.display()),
        }),
    }
}

/// The run's highest RSS from its apply phase to its measured window, MB (`None` without
/// those phases in its log).
pub fn loaded_rss_mb(run: &ChildRun) -> Option<f64> {
    let events = run.dir.join(RunFile::Events.name());
    let phases = phase_times(&events).ok()?;
    let (start, _) = window(&phases, &events).ok()?;
    let apply = phases[Phase::Apply as usize].unwrap_or(start);
    Some(super::fleet::apply_rss(&run.samples, apply, start).1 as f64 / 1024.0)
}

/// The run's `results.json`.
pub fn results(run_dir: &Path) -> Result<crate::results::Results, BenchError> {
    Ok(RunDir::existing(run_dir).read_json(RunFile::Results)?)
}

/// The run's `harness.json` record lag.
pub fn record_lag(run_dir: &Path) -> Result<crate::observe::log::RecordLag, BenchError> {
    #[derive(serde::Deserialize)]
    struct Harness {
        record_lag: crate::observe::log::RecordLag,
    }
    let harness: Harness = RunDir::existing(run_dir).read_json(RunFile::Harness)?;
    Ok(harness.record_lag)
}

/// A scenario of `cronjobs` every-minute CronJobs on the bench cluster's kwok nodes.
pub fn every_minute(
    name: &str,
    cronjobs: u32,
    warmup_s: u64,
    measure_s: u64,
    drain_s: u64,
) -> Scenario {
    let mut s = Scenario {
        name: name.into(),
        ..Scenario::default()
    };
    s.load.cronjobs = cronjobs;
    s.load.schedule = "* * * * *".into();
    s.load.successful_jobs_history_limit = 1;
    s.load.failed_jobs_history_limit = 1;
    s.load.node_selector = [("type".to_string(), "kwok".to_string())].into();
    s.load.tolerations = vec![crate::scenario::Toleration {
        key: Some("kwok.x-k8s.io/node".into()),
        operator: Some("Exists".into()),
        value: None,
        effect: Some("NoSchedule".into()),
    }];
    // Unlimited creation: the load should be up before the window, whatever its size.
    s.apply.qps = 0.0;
    s.duration.warmup_s = warmup_s;
    s.duration.measure_s = measure_s;
    s.duration.drain_s = drain_s;
    s.slo.target_jobs_per_minute = f64::from(cronjobs);
    s
}

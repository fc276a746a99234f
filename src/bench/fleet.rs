//! fleet: a large estate's CronJobs (most hourly at a random minute, the rest daily at a random
//! time) created by a `cronbench run` child at an unlimited rate and observed for its window;
//! before it, the bare create loop on as many CronJobs. Beside the run, the controller
//! manager's CronJob work queue is read every [`QUEUE_EVERY`]; after it, the control plane's
//! memory comes from the run's own resource timeline and `cronbench analyze` of its log is
//! timed against parse-only, on the whole log and on its first half (memory must not grow).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::child::{self, Beside, ClusterRef, Sample};
use super::{BenchError, Sizes, analyze, create, proc};
use crate::call;
use crate::metrics::{self, Field, Snapshot, StepMetrics};
use crate::results::{Component, Results};
use crate::scenario::Scenario;
use crate::schema::Phase;
use crate::session::RunFile;

/// How often the CronJob controller's queue is read during the run.
const QUEUE_EVERY: Duration = Duration::from_secs(15);

/// What the fleet part measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Fleet {
    pub cronjobs: u32,
    pub hourly: u32,
    pub daily: u32,
    /// The run's measured window, seconds.
    pub window_s: f64,
    pub runs_expected: u64,
    pub runs_started: u64,
    pub runs_missed: u64,
    /// Lines the run wrote to its event log.
    pub lines: u64,
    /// CronJobs per second: the run's applier (from its apply phase to the last creation)
    /// and the bare create loop on as many; `create_ratio` = cronbench / bare. Target >= 0.9.
    pub create_per_s: f64,
    pub bare_per_s: f64,
    pub create_ratio: f64,
    /// Seconds waited for a quiet cluster (no namespace terminating, no Job left) before the
    /// bare loop, and between its teardown and the run; or why it was not quiet.
    #[serde(default)]
    pub settle: Vec<String>,
    /// The harness's peak RSS over its whole life, MB. Target <= 96.
    pub peak_rss_mb: f64,
    /// Its RSS at the last sample before the apply phase, and the highest from the apply
    /// phase to the window (the CronJobs created and watched), MB.
    pub rss_before_apply_mb: f64,
    pub rss_loaded_mb: f64,
    /// The state the harness holds per CronJob: (loaded - the accuracy run's loaded) /
    /// (CronJobs - its CronJobs), two sizes of the same `cronbench run` in one bench; absent
    /// without the accuracy part. (bench.json files of 2026-12-03 and before hold (loaded -
    /// before) / CronJobs here, which missed the definitions built before the apply phase.)
    pub bytes_per_cronjob: Option<f64>,
    /// The small size: the accuracy run's CronJobs and loaded RSS, MB.
    pub baseline_cronjobs: Option<u32>,
    pub baseline_rss_loaded_mb: Option<f64>,
    pub analyze: FleetAnalyze,
    /// Memory and CPU of the control plane over the run (its `/proc` resource timeline).
    pub control_plane: Vec<ComponentFigures>,
    /// The controller manager's and apiserver's series from the run's start to its end.
    pub components: StepMetrics,
    /// The highest CronJob work-queue depth read (every 15 s).
    pub cronjob_queue_depth_peak: Option<f64>,
    pub queue_reads: u32,
    pub run_dir: String,
    pub load_avg_start: [f64; 3],
    pub load_avg_end: [f64; 3],
}

/// `cronbench analyze` of the fleet run's log against parse-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FleetAnalyze {
    pub events: u64,
    pub analyze_s: f64,
    pub parse_s: f64,
    /// parse_s / analyze_s. Target >= 0.5.
    pub ratio: f64,
    pub peak_rss_mb: f64,
    /// Peak RSS of analyzing the log's first half, MB.
    pub half_peak_rss_mb: f64,
    /// peak_rss_mb / half_peak_rss_mb. Target <= 1.10.
    pub memory_growth: f64,
}

/// One control-plane process over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ComponentFigures {
    pub component: Component,
    pub rss_first_mb: f64,
    pub rss_last_mb: f64,
    pub rss_peak_mb: f64,
    pub mean_cpu_cores: Option<f64>,
}

/// The fleet: `hourly` CronJobs hourly at a random minute, `daily` daily at a random time.
pub(super) fn scenario(sizes: &Sizes) -> Result<Scenario, BenchError> {
    let (h, d) = (sizes.fleet_hourly, sizes.fleet_daily);
    let mut s = child::every_minute(
        "bench-fleet",
        h + d,
        sizes.fleet_warmup_s,
        sizes.fleet_measure_s,
        sizes.fleet_drain_s,
    );
    let classes = format!(
        "- {{name: hourly, count: {h}, schedule: {{hourly_at: random}}}}\n\
         - {{name: daily, count: {d}, schedule: {{daily_between: [0, 24]}}}}\n"
    );
    s.load.classes =
        serde_saphyr::from_str(&classes).map_err(call::other("the fleet's classes"))?;
    s.load.seed = 2026;
    s.slo.target_jobs_per_minute = f64::from(h) / 60.0;
    Ok(s)
}

pub(super) async fn run(
    ctx: &ClusterRef,
    client: &kube::Client,
    sizes: &Sizes,
    out: &Path,
    baseline: Option<(u32, f64)>,
) -> Result<Fleet, BenchError> {
    let scenario = scenario(sizes)?;
    let n = sizes.fleet_hourly + sizes.fleet_daily;
    let dir = out.join("fleet");
    // An earlier part's namespace still being deleted (5,000 CronJobs and their Jobs) slowed
    // the bare loop to a third of its rate in the first full bench: wait for a quiet cluster.
    let mut settle = vec![quiet(client, "before the bare loop").await];
    let bare = create::bare_round(client, &scenario, &dir).await?;
    eprintln!(
        "  bare loop: {} CronJobs in {:.1} s = {:.0}/s (teardown {:.1} s, load {:.2})",
        bare.objects, bare.seconds, bare.per_s, bare.teardown_s, bare.load_avg[0]
    );
    settle.push(quiet(client, "before the run").await);
    let load_avg_start = proc::load_avg();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let queue = tokio::spawn(read_queue(client.clone(), ctx.context.clone(), stopped));
    let run = child::run_scenario(ctx, &scenario, &dir, Beside::Nothing, None).await;
    let _ = stop.send(true);
    let queue = queue.await.unwrap_or_default();
    let run = run?;
    let load_avg_end = proc::load_avg();
    let events = run.dir.join(RunFile::Events.name());
    let results = child::results(&run.dir)?;
    let phases = child::phase_times(&events)?;
    let (start, end) = child::window(&phases, &events)?;
    let apply = phases[Phase::Apply as usize].unwrap_or(start);
    let (before_kb, loaded_kb) = apply_rss(&run.samples, apply, start);
    let analyze = analyze_log(&events).await?;
    let create_per_s = super::observe::creation_rate(&events).unwrap_or(0.0);
    let peak_rss_mb = run.exit.peak_rss_kb as f64 / 1024.0;
    let fleet = Fleet {
        cronjobs: n,
        hourly: sizes.fleet_hourly,
        daily: sizes.fleet_daily,
        window_s: (end - start) as f64 / 1000.0,
        runs_expected: results.counts.expected,
        runs_started: results.counts.started,
        runs_missed: results.counts.missed,
        lines: results.run.lines,
        create_per_s,
        bare_per_s: bare.per_s,
        create_ratio: create_per_s / bare.per_s.max(1e-9),
        settle,
        peak_rss_mb,
        rss_before_apply_mb: before_kb as f64 / 1024.0,
        rss_loaded_mb: loaded_kb as f64 / 1024.0,
        bytes_per_cronjob: baseline.and_then(|(small, mb)| {
            let more = n.checked_sub(small).filter(|d| *d > 0)?;
            Some((loaded_kb as f64 / 1024.0 - mb) * 1024.0 * 1024.0 / f64::from(more))
        }),
        baseline_cronjobs: baseline.map(|b| b.0),
        baseline_rss_loaded_mb: baseline.map(|b| b.1),
        analyze,
        control_plane: control_plane(&results),
        components: queue.window(),
        cronjob_queue_depth_peak: queue.depth_peak,
        queue_reads: queue.reads,
        run_dir: run.dir.display().to_string(),
        load_avg_start,
        load_avg_end,
    };
    print(&fleet);
    Ok(fleet)
}

/// Waits for a quiet cluster ([`super::peer::settle`]): what it waited, in words.
async fn quiet(client: &kube::Client, when: &str) -> String {
    let said = match super::peer::settle(client).await {
        Ok(s) => format!("{when}: waited {s:.0} s for a quiet cluster"),
        Err(e) => format!("{when}: not quiet: {e}"),
    };
    eprintln!("  {said}");
    said
}

/// The harness's RSS (kB) at the last sample before `apply` (the first sample if none is),
/// and the highest from `apply` to `measure`.
pub(super) fn apply_rss(samples: &[Sample], apply: i64, measure: i64) -> (u64, u64) {
    let before = samples
        .iter()
        .take_while(|s| s.t_ms <= apply)
        .last()
        .or(samples.first())
        .map_or(0, |s| s.rss_kb);
    let loaded = samples
        .iter()
        .filter(|s| s.t_ms >= apply && s.t_ms <= measure)
        .map(|s| s.rss_kb)
        .max()
        .unwrap_or(before);
    (before, loaded)
}

/// Apiserver, etcd and controller manager from the run's resource timeline.
fn control_plane(results: &Results) -> Vec<ComponentFigures> {
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    let wanted = [
        Component::KubeApiserver,
        Component::Etcd,
        Component::KubeControllerManager,
    ];
    results
        .resources
        .iter()
        .flat_map(|t| &t.series)
        .filter(|s| wanted.contains(&s.component))
        .map(|s| ComponentFigures {
            component: s.component,
            rss_first_mb: mb(s.summary.rss_first_bytes),
            rss_last_mb: mb(s.summary.rss_last_bytes),
            rss_peak_mb: mb(s.summary.rss_peak_bytes),
            mean_cpu_cores: s.summary.mean_cpu_cores,
        })
        .collect()
}

/// The CronJob controller's queue over the run.
#[derive(Debug, Default)]
struct Queue {
    first: Option<Snapshot>,
    last: Option<Snapshot>,
    depth_peak: Option<f64>,
    reads: u32,
}

impl Queue {
    fn add(&mut self, snap: Snapshot) {
        if let Some(d) = snap.get(Field::CronjobQueueDepth) {
            self.depth_peak = Some(self.depth_peak.map_or(d, |p| p.max(d)));
        }
        self.reads += 1;
        if self.first.is_none() {
            self.first = Some(snap);
        } else {
            self.last = Some(snap);
        }
    }

    fn window(&self) -> StepMetrics {
        match (&self.first, &self.last) {
            (Some(a), Some(b)) => metrics::between(a, b),
            _ => StepMetrics::default(),
        }
    }
}

/// Reads the components' metrics every [`QUEUE_EVERY`] until told to stop, then once more.
async fn read_queue(
    client: kube::Client,
    context: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Queue {
    let endpoints = metrics::local_endpoints(&context);
    let mut q = Queue::default();
    loop {
        q.add(metrics::snapshot(&client, &endpoints).await);
        if *stop.borrow() {
            return q;
        }
        tokio::select! {
            () = tokio::time::sleep(QUEUE_EVERY) => {}
            _ = stop.changed() => {}
        }
    }
}

/// `cronbench analyze` of the whole log and of its first half, and parse-only of the whole.
async fn analyze_log(events: &Path) -> Result<FleetAnalyze, BenchError> {
    let dir = events
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."))
        .join("analyze");
    let whole = dir.join("whole").join("events.jsonl");
    let half = dir.join("half").join("events.jsonl");
    let lines = copy_lines(events, &whole, u64::MAX)?;
    copy_lines(events, &half, lines / 2)?;
    let (parse_s, parsed) = analyze::parse_only(&whole).await?;
    let (analyze_s, peak_kb) = analyze::analyze_child(&whole).await?;
    let (_, half_kb) = analyze::analyze_child(&half).await?;
    let peak_rss_mb = peak_kb as f64 / 1024.0;
    let half_peak_rss_mb = half_kb as f64 / 1024.0;
    Ok(FleetAnalyze {
        events: parsed,
        analyze_s,
        parse_s,
        ratio: parse_s / analyze_s.max(1e-9),
        peak_rss_mb,
        half_peak_rss_mb,
        memory_growth: peak_rss_mb / half_peak_rss_mb.max(1e-9),
    })
}

/// Copies the first `max` lines of `from` into `to` (a folder of its own, so that analyze
/// writes its results beside it): the lines copied.
fn copy_lines(from: &Path, to: &Path, max: u64) -> Result<u64, BenchError> {
    let folder: PathBuf = to.parent().unwrap_or(Path::new(".")).to_path_buf();
    std::fs::create_dir_all(&folder).map_err(call::io(format!("create {}", folder.display())))?;
    let input = std::fs::File::open(from).map_err(call::io(format!("open {}", from.display())))?;
    let output = std::fs::File::create(to).map_err(call::io(format!("create {}", to.display())))?;
    let mut w = std::io::BufWriter::new(output);
    let mut n = 0u64;
    for line in std::io::BufReader::new(input).lines() {
        if n >= max {
            break;
        }
        let line = line.map_err(call::io(format!("read {}", from.display())))?;
        writeln!(w, "{line}").map_err(call::io(format!("write {}", to.display())))?;
        n += 1;
    }
    w.flush()
        .map_err(call::io(format!("write {}", to.display())))?;
    Ok(n)
}

fn print(f: &Fleet) {
    eprintln!(
        "  fleet: {} CronJobs ({} hourly, {} daily) created at {:.0}/s vs bare {:.0}/s: ratio {:.2}; \
         {} of {} runs started in {:.0} s, {} missed",
        f.cronjobs,
        f.hourly,
        f.daily,
        f.create_per_s,
        f.bare_per_s,
        f.create_ratio,
        f.runs_started,
        f.runs_expected,
        f.window_s,
        f.runs_missed
    );
    eprintln!(
        "  harness peak RSS {:.1} MB ({} bytes per CronJob); analyze {:.2} s vs parse {:.2} s: \
         ratio {:.2}, peak RSS {:.1} MB (half log {:.1} MB); CronJob queue depth peak {}",
        f.peak_rss_mb,
        f.bytes_per_cronjob
            .map_or_else(|| "?".into(), |b| format!("{b:.0}")),
        f.analyze.analyze_s,
        f.analyze.parse_s,
        f.analyze.ratio,
        f.analyze.peak_rss_mb,
        f.analyze.half_peak_rss_mb,
        f.cronjob_queue_depth_peak
            .map_or("?".into(), |v| format!("{v:.0}"))
    );
    for c in &f.control_plane {
        eprintln!(
            "  {}: RSS {:.0} -> {:.0} MiB (peak {:.0}), mean CPU {} cores",
            c.component.name(),
            c.rss_first_mb,
            c.rss_last_mb,
            c.rss_peak_mb,
            c.mean_cpu_cores.map_or("?".into(), |v| format!("{v:.3}"))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fleet_scenario_survives_the_round_trip_to_the_child() {
        let sizes = Sizes::new(true);
        let s = scenario(&sizes).expect("scenario");
        let text = serde_json::to_string_pretty(&s).expect("json");
        let back = Scenario::parse_str(&text, Path::new("fleet.json")).expect("parse");
        let defs = back.cronjob_defs(Path::new(".")).expect("defs");
        assert_eq!(defs.len() as u32, sizes.fleet_hourly + sizes.fleet_daily);
        let hourly = defs
            .iter()
            .filter(|d| d.schedule.split(' ').nth(1) == Some("*"))
            .count();
        assert_eq!(hourly as u32, sizes.fleet_hourly);
    }

    fn at(t_ms: i64, rss_kb: u64) -> Sample {
        Sample {
            t_ms,
            cpu_s: 0.0,
            rss_kb,
            anon_kb: rss_kb / 2,
            cp_cpu_s: [0.0; 3],
            bare: None,
        }
    }

    #[test]
    fn state_per_cronjob_is_the_rise_across_the_apply_phase() {
        let samples = [
            at(0, 10),
            at(900, 12),
            at(1100, 30),
            at(2000, 50),
            at(3000, 90),
        ];
        // Apply at 1000, the window at 2500: before = the 900 sample, loaded = the 2000 one;
        // the peak after the window (the final analysis) is not the CronJobs' state.
        assert_eq!(apply_rss(&samples, 1000, 2500), (12, 50));
        assert_eq!(apply_rss(&samples, -5, 0), (10, 10));
    }

    #[test]
    fn copy_lines_stops_at_the_count() {
        let dir = std::env::temp_dir().join(format!("cronbench-fleet-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create");
        let from = dir.join("in.jsonl");
        std::fs::write(&from, "a\nb\nc\nd\n").expect("write");
        let to = dir.join("half").join("out.jsonl");
        assert_eq!(copy_lines(&from, &to, 2).expect("copy"), 2);
        assert_eq!(std::fs::read_to_string(&to).expect("read"), "a\nb\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! analyze: `cronbench analyze` (a child process, for its own peak RSS) on a generated event
//! log, against a loop that only parses the same lines into [`LogLine`]; at two lengths with
//! the same CronJobs, so the same runs are in flight and only the length differs.
//!
//! The log is generated from the line shapes a real run writes, in the order a run sees them:
//! per scheduled run its Job (created, active, succeeded, deleted by the history limit), its
//! Pod (pending, bound, running, succeeded, deleted) and the Events of the three controllers.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::proc::{self, Child};
use super::report::{Analyze, AnalyzeLength};
use super::{BenchError, Sizes};
use crate::call;
use crate::schema::{
    EndReason, EventObs, JobObs, LogLine, NodeObs, Phase, PodObs, RunStarted, SCHEMA_VERSION,
};

/// Lines per scheduled run in the generated log.
pub const LINES_PER_RUN: u32 = 15;
const NODES: u32 = 10;
/// 2026-01-01T00:00:00Z: the generated run starts here.
const T0_MS: i64 = 1_767_225_600_000;

pub async fn run(sizes: &Sizes, out: &Path) -> Result<Analyze, BenchError> {
    let dir = out.join("analyze");
    std::fs::create_dir_all(&dir).map_err(call::io(format!("create {}", dir.display())))?;
    let c = sizes.analyze_cronjobs;
    let per_minute = u64::from(c * LINES_PER_RUN);
    let long_minutes = sizes.analyze_min_events.div_ceil(per_minute) + 2;
    let short_minutes = long_minutes / 2;
    let reps = if sizes.analyze_min_events >= 1_000_000 {
        2
    } else {
        1
    };
    let mut lengths = Vec::new();
    for (name, minutes) in [("short", short_minutes), ("long", long_minutes)] {
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub).map_err(call::io(format!("create {}", sub.display())))?;
        let path = sub.join("events.jsonl");
        let (events, bytes) = tokio::task::spawn_blocking({
            let path = path.clone();
            move || generate(&path, c, minutes)
        })
        .await
        .map_err(call::other("generate the event log"))??;
        let load_avg = proc::load_avg();
        let (mut analyze_s, mut parse_s, mut peak_kb) = (f64::MAX, f64::MAX, 0u64);
        for _ in 0..reps {
            let p = parse_only(&path).await?;
            parse_s = parse_s.min(p.0);
            if p.1 != events {
                return Err(BenchError::Child {
                    what: "the parse-only loop".into(),
                    detail: format!("parsed {} lines of {events}", p.1),
                });
            }
            let (secs, kb) = analyze_child(&path).await?;
            analyze_s = analyze_s.min(secs);
            peak_kb = peak_kb.max(kb);
        }
        let l = AnalyzeLength {
            events,
            bytes,
            analyze_s,
            parse_s,
            analyze_per_s: events as f64 / analyze_s,
            parse_per_s: events as f64 / parse_s,
            ratio: parse_s / analyze_s,
            peak_rss_mb: peak_kb as f64 / 1024.0,
            load_avg,
        };
        eprintln!(
            "  {name}: {events} events ({:.0} MB): analyze {:.2} s, parse only {:.2} s, ratio {:.2}; \
             analyze peak RSS {:.1} MB (load {:.2})",
            bytes as f64 / 1e6,
            analyze_s,
            parse_s,
            l.ratio,
            l.peak_rss_mb,
            load_avg[0]
        );
        lengths.push(l);
    }
    let long = lengths.pop().ok_or_else(|| BenchError::Child {
        what: "analyze".into(),
        detail: "no long log".into(),
    })?;
    let short = lengths.pop().ok_or_else(|| BenchError::Child {
        what: "analyze".into(),
        detail: "no short log".into(),
    })?;
    Ok(Analyze {
        cronjobs: c,
        lines_per_run: LINES_PER_RUN,
        ratio: long.ratio,
        memory_growth: long.peak_rss_mb / short.peak_rss_mb,
        short,
        long,
    })
}

/// `cronbench analyze PATH` as a child: wall seconds and peak RSS (kB).
pub(super) async fn analyze_child(path: &Path) -> Result<(f64, u64), BenchError> {
    let peak_path = path.with_file_name("peak_rss_kb");
    let _ = std::fs::remove_file(&peak_path);
    let mut cmd = proc::cronbench_command()?;
    cmd.arg("analyze")
        .arg(path)
        .env(proc::PEAK_RSS_ENV, &peak_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = Child::spawn(cmd, "cronbench analyze (child)")?;
    let exit = child
        .wait_sampling(Duration::from_millis(20), |_| {})
        .await?;
    // Exit 1 is a verdict (the generated run need not pass); 2 is an error.
    if !matches!(exit.code, Some(0 | 1)) {
        return Err(BenchError::Child {
            what: format!("cronbench analyze {}", path.display()),
            detail: format!("exit {:?}", exit.code),
        });
    }
    let peak = proc::read_peak_rss(&peak_path).ok_or_else(|| BenchError::Child {
        what: format!("cronbench analyze {}", path.display()),
        detail: format!("it wrote no peak RSS to {}", peak_path.display()),
    })?;
    Ok((exit.wall_s, peak))
}

/// Reads and parses every line into a [`LogLine`], nothing else: seconds and lines.
pub(super) async fn parse_only(path: &Path) -> Result<(f64, u64), BenchError> {
    let path: PathBuf = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let file =
            std::fs::File::open(&path).map_err(call::io(format!("open {}", path.display())))?;
        let mut reader = std::io::BufReader::new(file);
        let mut buf = String::new();
        let mut n = 0u64;
        loop {
            buf.clear();
            let read = reader
                .read_line(&mut buf)
                .map_err(call::io(format!("read {}", path.display())))?;
            if read == 0 {
                break;
            }
            let line: LogLine = serde_json::from_str(buf.trim()).map_err(call::other(format!(
                "parse line {} of {}",
                n + 1,
                path.display()
            )))?;
            std::hint::black_box(&line);
            n += 1;
        }
        Ok((started.elapsed().as_secs_f64(), n))
    })
    .await
    .map_err(call::other("join the parse-only loop"))?
}

fn ts(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

/// Whole seconds, as the API's timestamps are.
fn ts_s(ms: i64) -> String {
    ts(ms.div_euclid(1000) * 1000)
}

/// Writes a run of `cronjobs` every-minute CronJobs over `minutes` ticks: lines and bytes.
pub fn generate(path: &Path, cronjobs: u32, minutes: u64) -> Result<(u64, u64), BenchError> {
    let file =
        std::fs::File::create(path).map_err(call::io(format!("create {}", path.display())))?;
    let mut out = Wout {
        w: BufWriter::with_capacity(1 << 20, file),
        lines: 0,
        bytes: 0,
        path,
    };
    let minutes_i = i64::try_from(minutes).unwrap_or(i64::MAX / 120_000);
    let measure_ms = T0_MS + 60_000;
    // After the last run's lines, before the next tick.
    let drain_ms = T0_MS + minutes_i * 60_000 + 10_000;
    let end_ms = drain_ms + 10_000;
    let scenario = super::child::every_minute(
        "bench-analyze",
        cronjobs,
        30,
        ((drain_ms - measure_ms) / 1000).unsigned_abs(),
        10,
    );
    preamble(&mut out, cronjobs, &scenario)?;
    ticks(&mut out, cronjobs, minutes_i, measure_ms)?;
    out.line(&LogLine::Phase {
        recv_ms: drain_ms,
        phase: Phase::Drain,
    })?;
    out.line(&LogLine::Phase {
        recv_ms: end_ms,
        phase: Phase::Teardown,
    })?;
    out.line(&LogLine::RunEnded {
        recv_ms: end_ms + 1,
        reason: EndReason::Completed,
        harness: None,
    })?;
    out.w
        .flush()
        .map_err(call::io(format!("write {}", path.display())))?;
    Ok((out.lines, out.bytes))
}

fn cronjob_name(cj: u32) -> String {
    format!("cb-{cj:05}")
}

/// The lines before the first tick: run_started, the apply phase, nodes, CronJobs, warmup.
fn preamble(
    out: &mut Wout<'_>,
    cronjobs: u32,
    scenario: &crate::scenario::Scenario,
) -> Result<(), BenchError> {
    out.line(&LogLine::RunStarted(RunStarted {
        schema_version: SCHEMA_VERSION,
        recv_ms: T0_MS,
        run_id: "bench-analyze".into(),
        namespace: "bench-analyze".into(),
        scenario: serde_json::to_value(scenario).unwrap_or_default(),
        cronbench_version: env!("CARGO_PKG_VERSION").into(),
        context: "cronbench-bench".into(),
        server_version: "v1.33.0".into(),
        nodes: NODES,
        host: None,
    }))?;
    out.line(&LogLine::Phase {
        recv_ms: T0_MS,
        phase: Phase::Apply,
    })?;
    for n in 0..NODES {
        out.line(&LogLine::Node(NodeObs {
            recv_ms: T0_MS + 5,
            name: format!("kwok-node-{n}"),
            ready: true,
            deleted: false,
        }))?;
    }
    for cj in 0..cronjobs {
        out.line(&LogLine::CronJobCreated(crate::schema::CronJobCreated {
            recv_ms: T0_MS + 100 + i64::from(cj) / 100,
            name: cronjob_name(cj),
            schedule: "* * * * *".into(),
            time_zone: None,
            ..Default::default()
        }))?;
    }
    out.line(&LogLine::Phase {
        recv_ms: T0_MS + 1_000,
        phase: Phase::Warmup,
    })?;
    Ok(())
}

/// Each tick's runs, and the deletion of the tick before's, in receive order.
fn ticks(
    out: &mut Wout<'_>,
    cronjobs: u32,
    minutes: i64,
    measure_ms: i64,
) -> Result<(), BenchError> {
    let mut minute_lines: Vec<LogLine> = Vec::new();
    for m in 1..=minutes {
        let tick = T0_MS + m * 60_000;
        minute_lines.clear();
        if tick == measure_ms {
            minute_lines.push(LogLine::Phase {
                recv_ms: measure_ms,
                phase: Phase::Measure,
            });
        }
        for cj in 0..cronjobs {
            // The controllers work through a tick's CronJobs over a few seconds.
            let j = i64::from(cj) * 3_000 / i64::from(cronjobs.max(1));
            run_lines(&mut minute_lines, &cronjob_name(cj), cj, tick, j);
            if m > 1 {
                deletion_lines(
                    &mut minute_lines,
                    &cronjob_name(cj),
                    tick - 60_000,
                    tick + j,
                );
            }
        }
        minute_lines.sort_by_key(LogLine::recv_ms);
        for l in &minute_lines {
            out.line(l)?;
        }
    }
    Ok(())
}

struct Wout<'a> {
    w: BufWriter<std::fs::File>,
    lines: u64,
    bytes: u64,
    path: &'a Path,
}

impl Wout<'_> {
    fn line(&mut self, l: &LogLine) -> Result<(), BenchError> {
        let text = serde_json::to_string(l).map_err(call::other("serialize a generated line"))?;
        self.w
            .write_all(text.as_bytes())
            .and_then(|()| self.w.write_all(b"\n"))
            .map_err(call::io(format!("write {}", self.path.display())))?;
        self.lines += 1;
        self.bytes += text.len() as u64 + 1;
        Ok(())
    }
}

fn job_name(cronjob: &str, tick: i64) -> String {
    format!("{cronjob}-{}", tick / 60_000)
}

/// The 12 lines of one run up to its completion: created, bound, started, finished.
fn run_lines(out: &mut Vec<LogLine>, cronjob: &str, cj: u32, tick: i64, j: i64) {
    let job = job_name(cronjob, tick);
    let pod = format!("{job}-{}", pod_suffix(cj, tick));
    let node = format!("kwok-node-{}", cj % NODES);
    let base_job = JobObs {
        recv_ms: 0,
        name: job.clone(),
        cronjob: Some(cronjob.to_string()),
        scheduled: Some(ts(tick)),
        created: Some(ts_s(tick + j + 250)),
        ..JobObs::default()
    };
    let base_pod = PodObs {
        recv_ms: 0,
        name: pod.clone(),
        job: Some(job.clone()),
        created: Some(ts_s(tick + j + 340)),
        phase: Some("Pending".into()),
        ..PodObs::default()
    };
    let t = tick + j;
    creation_lines(out, cronjob, &job, &pod, t, &base_job, &base_pod);
    let bound = PodObs {
        node: Some(node),
        scheduled_at: Some(ts_s(t + 450)),
        ..base_pod
    };
    progress_lines(out, cronjob, &job, &pod, t, base_job, bound);
}

/// The Job and its Pod created, with their events.
fn creation_lines(
    out: &mut Vec<LogLine>,
    cronjob: &str,
    job: &str,
    pod: &str,
    t: i64,
    base_job: &JobObs,
    base_pod: &PodObs,
) {
    out.push(LogLine::Job(JobObs {
        recv_ms: t + 300,
        ..base_job.clone()
    }));
    out.push(event_line(
        t + 310,
        "SuccessfulCreate",
        "CronJob",
        cronjob,
        format!("Created job {job}"),
    ));
    out.push(LogLine::Pod(PodObs {
        recv_ms: t + 350,
        ..base_pod.clone()
    }));
    out.push(event_line(
        t + 355,
        "SuccessfulCreate",
        "Job",
        job,
        format!("Created pod: {pod}"),
    ));
    out.push(LogLine::Job(JobObs {
        recv_ms: t + 400,
        active: 1,
        ..base_job.clone()
    }));
}

/// The Pod bound, started and finished, and the Job completed, with their events.
fn progress_lines(
    out: &mut Vec<LogLine>,
    cronjob: &str,
    job: &str,
    pod: &str,
    t: i64,
    base_job: JobObs,
    bound: PodObs,
) {
    let node = bound.node.clone().unwrap_or_default();
    out.push(LogLine::Pod(PodObs {
        recv_ms: t + 450,
        ..bound.clone()
    }));
    out.push(event_line(
        t + 455,
        "Scheduled",
        "Pod",
        pod,
        format!("Successfully assigned bench-analyze/{pod} to {node}"),
    ));
    let running = PodObs {
        phase: Some("Running".into()),
        started_at: Some(ts_s(t + 1_950)),
        ..bound
    };
    out.push(LogLine::Pod(PodObs {
        recv_ms: t + 1_950,
        ..running.clone()
    }));
    out.push(LogLine::Pod(PodObs {
        recv_ms: t + 2_950,
        phase: Some("Succeeded".into()),
        finished_at: Some(ts_s(t + 2_950)),
        ..running
    }));
    out.push(LogLine::Job(JobObs {
        recv_ms: t + 3_000,
        succeeded: 1,
        completed: Some(ts_s(t + 3_000)),
        ..base_job
    }));
    out.push(event_line(
        t + 3_005,
        "Completed",
        "Job",
        job,
        "Job completed".into(),
    ));
    out.push(event_line(
        t + 3_010,
        "SawCompletedJob",
        "CronJob",
        cronjob,
        format!("Saw completed job: {job}, condition: Complete"),
    ));
}

/// The 3 lines of the history limit deleting the run of `tick` (its Job and with it its Pod).
fn deletion_lines(out: &mut Vec<LogLine>, cronjob: &str, tick: i64, at: i64) {
    let cj: u32 = cronjob
        .trim_start_matches("cb-")
        .parse()
        .unwrap_or_default();
    let job = job_name(cronjob, tick);
    let pod = format!("{job}-{}", pod_suffix(cj, tick));
    out.push(event_line(
        at + 3_020,
        "SuccessfulDelete",
        "CronJob",
        cronjob,
        format!("Deleted job {job}"),
    ));
    out.push(LogLine::Job(JobObs {
        recv_ms: at + 3_025,
        name: job.clone(),
        cronjob: Some(cronjob.to_string()),
        scheduled: Some(ts(tick)),
        created: Some(ts_s(at - 60_000 + 250)),
        succeeded: 1,
        completed: Some(ts_s(at - 60_000 + 3_000)),
        deleted: true,
        ..JobObs::default()
    }));
    out.push(LogLine::Pod(PodObs {
        recv_ms: at + 3_030,
        name: pod,
        job: Some(job),
        phase: Some("Succeeded".into()),
        deleted: true,
        ..PodObs::default()
    }));
}

fn event_line(recv_ms: i64, reason: &str, kind: &str, object: &str, note: String) -> LogLine {
    LogLine::Event(EventObs {
        recv_ms,
        reason: reason.into(),
        kind: kind.into(),
        object: object.into(),
        time: Some(ts(recv_ms - 3)),
        note: Some(note),
    })
}

/// A pod name suffix like the Job controller's five random characters, but reproducible.
fn pod_suffix(cj: u32, tick: i64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = (u64::from(cj) << 32) ^ tick.unsigned_abs();
    (0..5)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ALPHABET[((x >> 33) % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_log_analyzes_to_every_run_observed_and_started() {
        let dir = std::env::temp_dir().join(format!("cronbench-gen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.jsonl");
        let (lines, _) = generate(&path, 20, 6).unwrap();
        let r = crate::analyze::analyze_file(&path).unwrap();
        assert_eq!(r.run.lines, lines);
        assert_eq!(r.counts.missed, 0, "{:?}", r.counts.missed_runs);
        assert!(r.counts.observed >= 20 * 5, "{:?}", r.counts);
        assert_eq!(r.counts.started, r.counts.observed);
        assert_eq!(r.anomalies.out_of_order_lines, 0);
        assert_eq!(r.anomalies.orphan_pods, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

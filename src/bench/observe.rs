//! observe: a `cronbench run` child process watching a heavy every-minute load. Its CPU and RSS
//! come from `/proc` every second, beside the CPU of kube-apiserver, etcd and
//! kube-controller-manager and beside a bare watcher's ([`super::watch`]) on the same
//! streams; the window is the run's measure phase, read from its event log.

use std::path::Path;

use super::bare::{BareRun, count_at};
use super::child::{self, Beside, ClusterRef, Sample};
use super::report::{BareWatcher, Observe};
use super::watch::WatchCount;
use super::{BenchError, Sizes, proc};
use crate::schema::LogLine;
use crate::session::RunFile;

/// What the peer comparison takes from the observe run.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub cronjobs: u32,
    pub create_per_s: Option<f64>,
    pub cpu_s: f64,
    pub wall_s: f64,
    pub peak_rss_mb: f64,
}

/// What the observe part measured; a failed bare watcher leaves the harness's figures and
/// its error.
pub struct Observed {
    pub observe: Observe,
    pub figures: Figures,
    pub bare_error: Option<BenchError>,
}

pub async fn run(ctx: &ClusterRef, sizes: &Sizes, out: &Path) -> Result<Observed, BenchError> {
    let scenario = child::every_minute(
        "bench-observe",
        sizes.observe_cronjobs,
        sizes.observe_warmup_s,
        sizes.observe_measure_s,
        10,
    );
    let load_avg_start = proc::load_avg();
    let dir = out.join("observe");
    let run = child::run_scenario(ctx, &scenario, &dir, Beside::BareWatcher, None).await?;
    let load_avg_end = proc::load_avg();
    let events = run.dir.join(RunFile::Events.name());
    let (start, end) = child::measure_window(&events)?;
    let results = child::results(&run.dir)?;
    let lag = child::record_lag(&run.dir)?;
    let w = window(&run.samples, start, end).ok_or_else(|| BenchError::Child {
        what: "the observe run".into(),
        detail: "too few /proc samples in the measured window".into(),
    })?;
    let cp_total = w.cp_cpu_s.iter().sum::<f64>();
    let peak_rss_mb = run.exit.peak_rss_kb as f64 / 1024.0;
    let mut o = Observe {
        cronjobs: sizes.observe_cronjobs,
        window_s: (end - start) as f64 / 1000.0,
        lines: results.run.lines,
        runs_observed: results.counts.observed,
        runs_expected: results.counts.expected,
        peak_rss_mb,
        harness_cpu_s: w.cpu_s,
        apiserver_cpu_s: w.cp_cpu_s[0],
        etcd_cpu_s: w.cp_cpu_s[1],
        controller_manager_cpu_s: w.cp_cpu_s[2],
        cpu_share: w.cpu_s / cp_total,
        rss_second_fifth_mb: w.rss_second_fifth_kb / 1024.0,
        rss_last_fifth_mb: w.rss_last_fifth_kb / 1024.0,
        rss_growth: w.rss_last_fifth_kb / w.rss_second_fifth_kb,
        record_lag_p50_ms: lag.p50_ms,
        record_lag_p99_ms: lag.p99_ms,
        record_lag_max_ms: lag.max_ms,
        run_dir: run.dir.display().to_string(),
        load_avg_start,
        load_avg_end,
        watch_events: None,
        bare_watcher: None,
        cpu_per_event_ratio: None,
        cpu_ratio: None,
        rss_ratio: None,
        window_anon_mb: None,
        anon_rss_ratio: None,
    };
    let bare_error = run.bare.and_then(|r| {
        let beside = r.and_then(|b| {
            beside_bare(
                &b,
                &run.samples,
                (start, end),
                &events,
                run.exit.peak_rss_kb,
            )
        });
        beside.map(|b| b.fill(&mut o)).err()
    });
    print(&o, cp_total);
    let figures = Figures {
        cronjobs: sizes.observe_cronjobs,
        create_per_s: creation_rate(&events),
        cpu_s: run.exit.cpu_s,
        wall_s: run.exit.wall_s,
        peak_rss_mb,
    };
    Ok(Observed {
        observe: o,
        figures,
        bare_error,
    })
}

/// The harness beside the bare watcher over the same window.
struct BesideBare {
    bare: BareWatcher,
    harness_events: u64,
    cpu_per_event_ratio: f64,
    cpu_ratio: f64,
    rss_ratio: f64,
    /// Highest `RssAnon` of the harness and of the bare watcher over the same samples, kB.
    anon_kb: (u64, u64),
}

impl BesideBare {
    fn fill(self, o: &mut Observe) {
        o.watch_events = Some(self.harness_events);
        o.cpu_per_event_ratio = Some(self.cpu_per_event_ratio);
        o.cpu_ratio = Some(self.cpu_ratio);
        o.rss_ratio = Some(self.rss_ratio);
        let (mine, bare) = self.anon_kb;
        o.window_anon_mb = Some(mine as f64 / 1024.0);
        o.anon_rss_ratio = Some(mine as f64 / bare as f64);
        o.bare_watcher = Some(self.bare);
    }
}

/// Both processes' CPU between the first and the last sample inside `[start, end]` that read
/// the bare watcher too, both processes' events between the bare watcher's counts answering
/// those two samples, and their peak RSS.
fn beside_bare(
    bare: &BareRun,
    samples: &[Sample],
    (start, end): (i64, i64),
    events: &Path,
    harness_peak_kb: u64,
) -> Result<BesideBare, BenchError> {
    let problem = |detail: String| BenchError::Child {
        what: "the bare watcher beside the observe run".into(),
        detail,
    };
    let inside: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.t_ms >= start && s.t_ms <= end && s.bare.is_some())
        .collect();
    let (Some(first), Some(last)) = (inside.first(), inside.last()) else {
        return Err(problem(
            "no /proc sample of it in the measured window".into(),
        ));
    };
    let (Some(from), Some(to)) = (
        count_at(&bare.counts, first.t_ms),
        count_at(&bare.counts, last.t_ms),
    ) else {
        return Err(problem(
            "it did not answer the marks at the window's ends".into(),
        ));
    };
    let mine = watch_lines(events, from.t_ms, to.t_ms)?;
    let bare_events = to.events - from.events;
    let (b0, b1) = (
        first.bare.unwrap_or_default(),
        last.bare.unwrap_or_default(),
    );
    let (cpu_s, bare_cpu_s) = (last.cpu_s - first.cpu_s, b1.cpu_s - b0.cpu_s);
    print_beside(&from, &to, &mine, (cpu_s, bare_cpu_s));
    let harness_events = mine.iter().sum::<u64>();
    let anon_kb = window_anon_kb(&inside);
    if harness_events == 0
        || bare_events == 0
        || bare_cpu_s <= 0.0
        || bare.peak_rss_kb == 0
        || anon_kb.1 == 0
    {
        return Err(problem(format!(
            "nothing to compare: {harness_events} harness events, {bare_events} bare events, \
             {bare_cpu_s:.2} bare CPU s, bare peak RSS {} kB, bare RssAnon {} kB",
            bare.peak_rss_kb, anon_kb.1
        )));
    }
    let per_event = |cpu: f64, n: u64| cpu / n as f64;
    Ok(BesideBare {
        bare: BareWatcher {
            events: bare_events,
            cpu_s: bare_cpu_s,
            peak_rss_bytes: bare.peak_rss_kb * 1024,
            window_anon_bytes: Some(anon_kb.1 * 1024),
        },
        harness_events,
        cpu_per_event_ratio: per_event(cpu_s, harness_events) / per_event(bare_cpu_s, bare_events),
        cpu_ratio: cpu_s / bare_cpu_s,
        rss_ratio: harness_peak_kb as f64 / bare.peak_rss_kb as f64,
        anon_kb,
    })
}

/// The highest `RssAnon` of the harness and of the bare watcher over `inside`, kB.
fn window_anon_kb(inside: &[&Sample]) -> (u64, u64) {
    let harness = inside.iter().map(|s| s.anon_kb).max().unwrap_or(0);
    let bare = inside
        .iter()
        .filter_map(|s| s.bare.map(|b| b.anon_kb))
        .max();
    (harness, bare.unwrap_or(0))
}

/// The comparison's figures, for the bench's output.
fn print_beside(
    from: &WatchCount,
    to: &WatchCount,
    mine: &[u64; 4],
    (cpu_s, bare_cpu_s): (f64, f64),
) {
    eprintln!(
        "  beside a bare watcher over {:.0} s: harness {:.2} CPU s for {} watch events \
         (jobs {}, pods {}, nodes {}, events {}); bare {:.2} CPU s for {} (jobs {}, pods {}, \
         nodes {}, events {}, {} watch errors)",
        (to.t_ms - from.t_ms) as f64 / 1000.0,
        cpu_s,
        mine.iter().sum::<u64>(),
        mine[0],
        mine[1],
        mine[2],
        mine[3],
        bare_cpu_s,
        to.events - from.events,
        to.jobs - from.jobs,
        to.pods - from.pods,
        to.nodes - from.nodes,
        to.k8s_events - from.k8s_events,
        to.watch_errors
    );
}

/// The event log's Job, Pod, Node and Event lines (in that order) received in `[from, to)`.
fn watch_lines(events: &Path, from: i64, to: i64) -> Result<[u64; 4], BenchError> {
    use std::io::BufRead;
    let file = std::fs::File::open(events)
        .map_err(crate::call::io(format!("open {}", events.display())))?;
    let mut n = [0u64; 4];
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(crate::call::io(format!("read {}", events.display())))?;
        let Ok(parsed) = serde_json::from_str::<LogLine>(&line) else {
            continue;
        };
        let slot = match parsed {
            LogLine::Job(_) => 0,
            LogLine::Pod(_) => 1,
            LogLine::Node(_) => 2,
            LogLine::Event(_) => 3,
            _ => continue,
        };
        let t = parsed.recv_ms();
        if t >= from && t < to {
            n[slot] += 1;
        }
    }
    Ok(n)
}

fn print(o: &Observe, cp_total: f64) {
    eprintln!(
        "  harness {:.1} CPU s vs control plane {:.1} s in {:.0} s: share {:.4}; peak RSS {:.1} MB; \
         RSS {:.1} -> {:.1} MB; record lag p99 {} ms",
        o.harness_cpu_s,
        cp_total,
        o.window_s,
        o.cpu_share,
        o.peak_rss_mb,
        o.rss_second_fifth_mb,
        o.rss_last_fifth_mb,
        o.record_lag_p99_ms.map_or("?".into(), |v| v.to_string())
    );
}

/// CPU and memory over `[start, end)`.
struct WindowFigures {
    cpu_s: f64,
    cp_cpu_s: [f64; 3],
    rss_second_fifth_kb: f64,
    rss_last_fifth_kb: f64,
}

fn window(samples: &[Sample], start: i64, end: i64) -> Option<WindowFigures> {
    let inside: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.t_ms >= start && s.t_ms <= end)
        .collect();
    let (first, last) = (inside.first()?, inside.last()?);
    if inside.len() < 10 {
        return None;
    }
    let fifth = (end - start) / 5;
    let mean_rss = |k: i64| {
        let (from, to) = (start + k * fifth, start + (k + 1) * fifth);
        let v: Vec<f64> = inside
            .iter()
            .filter(|s| s.t_ms >= from && s.t_ms < to)
            .map(|s| s.rss_kb as f64)
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let mut cp = [0.0; 3];
    for (i, slot) in cp.iter_mut().enumerate() {
        *slot = last.cp_cpu_s[i] - first.cp_cpu_s[i];
    }
    Some(WindowFigures {
        cpu_s: last.cpu_s - first.cpu_s,
        cp_cpu_s: cp,
        rss_second_fifth_kb: mean_rss(1)?,
        rss_last_fifth_kb: mean_rss(4)?,
    })
}

/// CronJobs created per second by the run's applier, from its `cron_job_created` lines.
pub(super) fn creation_rate(events: &Path) -> Option<f64> {
    use std::io::BufRead;
    let file = std::fs::File::open(events).ok()?;
    let (mut first, mut last, mut n) = (None::<i64>, 0i64, 0u64);
    let mut apply_ms = None;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.ok()?;
        if line.contains("\"phase\":\"apply\"") {
            apply_ms = serde_json::from_str::<crate::schema::LogLine>(&line)
                .ok()
                .map(|l| l.recv_ms());
        }
        if !line.contains("\"type\":\"cron_job_created\"") {
            continue;
        }
        let t = serde_json::from_str::<crate::schema::LogLine>(&line)
            .ok()?
            .recv_ms();
        first = Some(first.map_or(t, |f| f.min(t)));
        last = last.max(t);
        n += 1;
    }
    let from = apply_ms.or(first)?;
    (n > 0 && last > from).then(|| n as f64 / ((last - from) as f64 / 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_ms: i64, cpu_s: f64, rss_kb: u64, cp: f64) -> Sample {
        Sample {
            t_ms,
            cpu_s,
            rss_kb,
            anon_kb: rss_kb / 2,
            cp_cpu_s: [cp, cp / 2.0, cp / 4.0],
            bare: None,
        }
    }

    #[test]
    fn the_anonymous_memory_compared_is_each_process_highest_over_the_samples() {
        let with_bare = |t_ms, anon_kb, bare_anon_kb| Sample {
            anon_kb,
            bare: Some(crate::bench::bare::BareSample {
                cpu_s: 0.0,
                rss_kb: 2 * bare_anon_kb,
                anon_kb: bare_anon_kb,
            }),
            ..sample(t_ms, 0.0, 2 * anon_kb, 0.0)
        };
        let samples = [
            with_bare(0, 800, 300),
            with_bare(1, 700, 340),
            with_bare(2, 830, 310),
        ];
        let inside: Vec<&Sample> = samples.iter().collect();
        assert_eq!(window_anon_kb(&inside), (830, 340));
        assert_eq!(window_anon_kb(&[]), (0, 0), "no sample: nothing to compare");
    }

    #[test]
    fn window_takes_cpu_deltas_and_fifths_of_rss_inside_the_window() {
        let samples: Vec<Sample> = (0..=100)
            .map(|i| sample(i * 1000, i as f64 * 0.01, 1000 + i as u64 * 10, i as f64))
            .collect();
        let w = window(&samples, 0, 100_000).expect("enough samples");
        assert!((w.cpu_s - 1.0).abs() < 1e-9);
        assert!((w.cp_cpu_s[0] - 100.0).abs() < 1e-9);
        // Second fifth: samples 20..40, mean rss 1000 + 29.5 * 10.
        assert!((w.rss_second_fifth_kb - 1295.0).abs() < 1e-9);
        assert!((w.rss_last_fifth_kb - 1895.0).abs() < 1e-9);
        assert!(window(&samples, 0, 5_000).is_none());
    }
}

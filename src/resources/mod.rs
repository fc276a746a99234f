//! Sampling the cluster's components' CPU and memory while a run goes on: a task that takes
//! readings from a [`ReadingSource`] every [`INTERVAL`] and writes them to the event log as
//! `resources` lines, from which the analysis builds the run's resource timeline
//! (`crate::analyze::resources`). Raw counters go to the log, not rates: a run interrupted or
//! analyzed again offline gets the same timeline, and the rate computation lives in one place.
//!
//! Sources: [`proc::ProcSource`] reads `/proc` on the local cluster; a Prometheus source turns
//! two instant queries into the same readings with [`prometheus_readings`].

pub mod proc;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use crate::observe::{LogSender, now_ms};
use crate::results::{Component, ResourceReading, ResourceSource};
use crate::schema::LogLine;

/// Time between two samples. With at most [`crate::analyze::resources::MAX_POINTS`] points
/// per series, a run of up to an hour keeps every sample; longer ones merge them.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// A source had no readings this time; the sampler says so once and goes on.
#[derive(Debug, thiserror::Error)]
#[error("reading the components' CPU and memory from {source_name}: {reason}")]
pub struct SourceError {
    pub source_name: &'static str,
    pub reason: String,
}

/// Where readings come from. One call gives every sampled process's counters at `at_ms`
/// (Unix milliseconds; `/proc` reads the present, a Prometheus source evaluates its queries
/// at that time).
pub trait ReadingSource: Send + 'static {
    const SOURCE: ResourceSource;
    fn read(
        &mut self,
        at_ms: i64,
    ) -> impl Future<Output = Result<Vec<ResourceReading>, SourceError>> + Send;
}

/// The sampling task of a session; stopped with the watchers.
#[derive(Debug)]
pub struct Sampler {
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    /// Samples `source` now and then every [`INTERVAL`] into `log`.
    pub fn start<S: ReadingSource>(source: S, log: LogSender) -> Sampler {
        Sampler::every(INTERVAL, source, log)
    }

    fn every<S: ReadingSource>(interval: Duration, mut source: S, log: LogSender) -> Sampler {
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failed = false;
            loop {
                tick.tick().await;
                let result = source.read(now_ms()).await;
                match result {
                    Ok(readings) if readings.is_empty() => {}
                    // Stamped when the readings are in hand, like every line, so the log stays
                    // in order; a /proc scan takes milliseconds of the 5 s between samples.
                    Ok(readings) => log.send(LogLine::Resources {
                        recv_ms: now_ms(),
                        source: S::SOURCE,
                        readings,
                    }),
                    Err(e) if !failed => {
                        failed = true;
                        eprintln!("warning: {e}; the resource timeline has a gap (said once)");
                    }
                    Err(_) => {}
                }
            }
        });
        Sampler { task }
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// `process_cpu_seconds_total`: the CPU counter a Prometheus source queries.
pub const PROMETHEUS_CPU: &str = "process_cpu_seconds_total";
/// `process_resident_memory_bytes`: the memory a Prometheus source queries.
pub const PROMETHEUS_RSS: &str = "process_resident_memory_bytes";
/// `process_start_time_seconds`: tells a restarted process from its predecessor.
pub const PROMETHEUS_START: &str = "process_start_time_seconds";

/// One element of an instant vector, by the labels the timeline reads.
#[derive(Debug, Clone, Copy)]
pub struct PromSample<'a> {
    pub job: &'a str,
    pub instance: &'a str,
    pub value: f64,
}

/// Readings from the instant vectors of [`PROMETHEUS_CPU`], [`PROMETHEUS_RSS`] and
/// [`PROMETHEUS_START`] evaluated at one time, joined by `job` and `instance`. A job that is
/// no [`Component`] (see [`Component::from_prometheus_job`]) and a process without both the
/// CPU and the memory figure are left out; without a start time the process identity is 0,
/// and only a counter that goes backwards shows a restart.
///
/// A Prometheus [`ReadingSource`] is these three instant queries at `at_ms`, each series
/// mapped to a [`PromSample`] by its `job` and `instance` labels, passed here; a failed query
/// is a [`SourceError`] (the sampler says so once and the timeline has a gap):
///
/// ```text
/// impl ReadingSource for PromSource {
///     const SOURCE: ResourceSource = ResourceSource::Prometheus;
///     async fn read(&mut self, at_ms: i64) -> Result<Vec<ResourceReading>, SourceError> {
///         let cpu = client.instant(PROMETHEUS_CPU, at_ms).await?;   // and RSS, start
///         let sample = |s: &Series| PromSample { job: s.labels["job"], instance: .., value: s.value };
///         Ok(prometheus_readings(cpu.iter().map(sample), rss.iter().map(sample), start.iter().map(sample)))
///     }
/// }
/// ```
///
/// and `run` starts it with `session.sample_resources(source)` where it now starts the
/// `/proc` one.
pub fn prometheus_readings<'a>(
    cpu: impl IntoIterator<Item = PromSample<'a>>,
    rss: impl IntoIterator<Item = PromSample<'a>>,
    start: impl IntoIterator<Item = PromSample<'a>>,
) -> Vec<ResourceReading> {
    let by_key = |samples: &mut dyn Iterator<Item = PromSample<'a>>| {
        samples
            .filter_map(|s| {
                let c = Component::from_prometheus_job(s.job)?;
                Some(((c, s.instance), s.value))
            })
            .collect::<BTreeMap<(Component, &'a str), f64>>()
    };
    let rss = by_key(&mut rss.into_iter());
    let start = by_key(&mut start.into_iter());
    by_key(&mut cpu.into_iter())
        .into_iter()
        .filter_map(|(key, cpu_s)| {
            let rss = *rss.get(&key)?;
            (rss.is_finite() && rss >= 0.0).then(|| ResourceReading {
                component: key.0,
                instance: key.1.to_string(),
                process: start.get(&key).map_or(0, |s| (s.max(0.0) * 1000.0) as u64),
                cpu_s,
                rss_bytes: rss as u64,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process whose CPU counter goes up by one second per read.
    struct Fake {
        cpu_s: f64,
    }

    impl ReadingSource for Fake {
        const SOURCE: ResourceSource = ResourceSource::Proc;

        async fn read(&mut self, _at_ms: i64) -> Result<Vec<ResourceReading>, SourceError> {
            self.cpu_s += 1.0;
            Ok(vec![ResourceReading {
                component: Component::Etcd,
                instance: String::new(),
                process: 1,
                cpu_s: self.cpu_s,
                rss_bytes: 1 << 20,
            }])
        }
    }

    #[tokio::test]
    async fn the_sampler_logs_a_reading_at_once_and_every_interval_until_stopped() {
        let path =
            std::env::temp_dir().join(format!("cronbench-sampler-{}.jsonl", std::process::id()));
        let (log, writer) = crate::observe::log::start(&path).expect("log");
        let every = Duration::from_millis(40);
        let sampler = Sampler::every(every, Fake { cpu_s: 0.0 }, log.clone());
        tokio::time::sleep(every * 3).await;
        sampler.stop();
        // Nothing is written after the stop.
        tokio::time::sleep(every * 3).await;
        drop(log);
        writer.await.expect("joins").expect("writes");
        let text = std::fs::read_to_string(&path).expect("read");
        let _ = std::fs::remove_file(&path);
        let cpu: Vec<f64> = text
            .lines()
            .map(
                |l| match serde_json::from_str::<LogLine>(l).expect("a log line") {
                    LogLine::Resources { readings, .. } => readings[0].cpu_s,
                    other => panic!("{other:?}"),
                },
            )
            .collect();
        // At once, then every interval (a loaded machine may delay the last one past the stop).
        assert!((2..=4).contains(&cpu.len()), "{cpu:?}");
        assert!(
            cpu.iter().zip(1..).all(|(c, i)| *c == f64::from(i)),
            "{cpu:?}"
        );
    }

    #[test]
    fn prometheus_series_become_readings_of_known_jobs_with_both_figures() {
        let s = |job, instance, value| PromSample {
            job,
            instance,
            value,
        };
        let cpu = [
            s("etcd", "127.0.0.1:2379", 12.5),
            s("apiserver", "10.0.0.1:6443", 40.0),
            s("node-exporter", "x", 1.0),
            s("kube-scheduler", "s", 3.0),
        ];
        let rss = [
            s("etcd", "127.0.0.1:2379", 5e7),
            s("apiserver", "10.0.0.1:6443", 3e8),
            s("node-exporter", "x", 1.0),
        ];
        let start = [s("etcd", "127.0.0.1:2379", 1_700_000_000.5)];
        let r = prometheus_readings(cpu, rss, start);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].component, Component::KubeApiserver);
        assert_eq!((r[0].process, r[0].rss_bytes), (0, 300_000_000));
        assert_eq!(r[1].component, Component::Etcd);
        assert_eq!(r[1].instance, "127.0.0.1:2379");
        assert_eq!((r[1].process, r[1].cpu_s), (1_700_000_000_500, 12.5));
    }

    #[test]
    fn each_component_is_named_by_its_prometheus_job_and_binary() {
        for c in Component::ALL {
            assert_eq!(Component::from_prometheus_job(c.name()), Some(c));
        }
        assert_eq!(
            Component::from_binary("kwok"),
            Some(Component::KwokController)
        );
        assert_eq!(Component::from_binary("etcd"), Some(Component::Etcd));
        assert_eq!(Component::from_binary("socat"), None);
        assert_eq!(Component::from_binary("containerd"), None);
    }
}

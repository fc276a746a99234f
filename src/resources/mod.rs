//! Sampling the cluster's components' CPU and memory while a run goes on: a task that takes
//! readings from a [`ReadingSource`] every [`INTERVAL`] and writes them to the event log as
//! `resources` lines, from which the analysis builds the run's resource timeline
//! (`crate::analyze::resources`). Raw counters go to the log, not rates: a run interrupted or
//! analyzed again offline gets the same timeline, and the rate computation lives in one place.
//!
//! Sources: [`proc::ProcSource`] reads `/proc` on the local cluster; a Prometheus source turns
//! instant queries into the same readings ([`prometheus::PromSource`]).

pub mod proc;
pub mod prometheus;

use std::future::Future;
use std::time::Duration;

use crate::observe::{LogSender, now_ms};
use crate::results::{ResourceReading, ResourceSource};
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

/// Where `run` reads the components' CPU and memory from (`--resources-from`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ResourcesFrom {
    /// /proc for a local cluster up on this machine, else the --prometheus URL, else nothing
    #[default]
    Auto,
    /// /proc of the local cluster's processes (a cronbench-* context up on this machine)
    Proc,
    /// process_cpu_seconds_total and process_resident_memory_bytes from the --prometheus URL
    Prometheus,
    /// no resource timeline
    Off,
}

/// A `--resources-from` that cannot be had, found before anything is created.
#[derive(Debug, thiserror::Error)]
pub enum ChoiceError {
    #[error(
        "--resources-from proc: context {context:?} is not a local cronbench cluster up on this machine; give --resources-from prometheus with --prometheus URL, or leave it at auto"
    )]
    NotLocal { context: String },
    #[error(
        "--resources-from prometheus needs --prometheus URL (the Prometheus that scrapes the components)"
    )]
    NoPrometheus,
}

/// The source a run samples, chosen from `--resources-from`.
#[derive(Debug)]
pub enum Chosen {
    Proc(proc::ProcSource),
    Prometheus(prometheus::PromSource),
    Nothing,
}

impl Chosen {
    pub fn choose(
        from: ResourcesFrom,
        context: &str,
        prom: Option<&crate::promql::Prometheus>,
    ) -> Result<Chosen, ChoiceError> {
        let local = || proc::ProcSource::for_context(context);
        let remote = || prom.map(|p| prometheus::PromSource::new(p.clone()));
        Ok(match from {
            ResourcesFrom::Off => Chosen::Nothing,
            ResourcesFrom::Proc => Chosen::Proc(local().ok_or_else(|| ChoiceError::NotLocal {
                context: context.to_string(),
            })?),
            ResourcesFrom::Prometheus => {
                Chosen::Prometheus(remote().ok_or(ChoiceError::NoPrometheus)?)
            }
            ResourcesFrom::Auto => match (local(), remote()) {
                (Some(p), _) => Chosen::Proc(p),
                (None, Some(p)) => Chosen::Prometheus(p),
                (None, None) => Chosen::Nothing,
            },
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Component;

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
                at_ms: None,
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

//! The components' CPU and memory through Prometheus (`run --prometheus URL` on a cluster that
//! is not a local one here, or `--resources-from prometheus`): the processes' own
//! `process_cpu_seconds_total`, `process_resident_memory_bytes` and `process_start_time_seconds`
//! as every Go component exports them, by `job` and `instance`.
//!
//! Each reading carries its sample's own time (`timestamp(process_cpu_seconds_total)`): the
//! sampler asks every 5 s and Prometheus scrapes every 5 s or more, so an instant query often
//! returns the sample it returned last time, and timing the counters by the query would give a
//! rate of zero and then twice the true one. A sample already read is left out instead.

use std::collections::BTreeMap;

use super::{ReadingSource, SourceError};
use crate::promql::{Prometheus, Series};
use crate::results::{Component, ResourceReading, ResourceSource};

/// `process_cpu_seconds_total`: the CPU counter a Prometheus source queries.
pub const PROMETHEUS_CPU: &str = "process_cpu_seconds_total";
/// `process_resident_memory_bytes`: the memory a Prometheus source queries.
pub const PROMETHEUS_RSS: &str = "process_resident_memory_bytes";
/// `process_start_time_seconds`: tells a restarted process from its predecessor.
pub const PROMETHEUS_START: &str = "process_start_time_seconds";
/// The time of each CPU sample, seconds.
const PROMETHEUS_AT: &str = "timestamp(process_cpu_seconds_total)";

/// At most this many processes are remembered (as many as a timeline keeps).
const MAX_PROCESSES: usize = crate::analyze::resources::MAX_SERIES;

/// One element of an instant vector, by the labels the timeline reads.
#[derive(Debug, Clone, Copy)]
pub struct PromSample<'a> {
    pub job: &'a str,
    pub instance: &'a str,
    pub value: f64,
}

impl<'a> PromSample<'a> {
    fn of(s: &'a Series) -> PromSample<'a> {
        let label = |k: &str| s.labels.get(k).map_or("", String::as_str);
        PromSample {
            job: label("job"),
            instance: label("instance"),
            value: s.value,
        }
    }
}

/// The four instant vectors a reading is made of, evaluated at one time.
#[derive(Debug, Default)]
pub struct PromVectors<'a> {
    pub cpu: Vec<PromSample<'a>>,
    pub rss: Vec<PromSample<'a>>,
    pub start: Vec<PromSample<'a>>,
    /// The CPU samples' own times, seconds.
    pub at: Vec<PromSample<'a>>,
}

fn samples(v: &[Series]) -> Vec<PromSample<'_>> {
    v.iter().map(PromSample::of).collect()
}

type Key<'a> = (Component, &'a str);

fn by_key<'a>(samples: &[PromSample<'a>]) -> BTreeMap<Key<'a>, f64> {
    samples
        .iter()
        .filter_map(|s| {
            Some((
                (Component::from_prometheus_job(s.job)?, s.instance),
                s.value,
            ))
        })
        .collect()
}

/// Readings from the vectors, joined by `job` and `instance`. A job that is no [`Component`]
/// (see [`Component::from_prometheus_job`]) and a process without both the CPU and the memory
/// figure are left out; without a start time the process identity is 0, and only a counter
/// that goes backwards shows a restart.
pub fn prometheus_readings(v: &PromVectors<'_>) -> Vec<ResourceReading> {
    let rss = by_key(&v.rss);
    let start = by_key(&v.start);
    let at = by_key(&v.at);
    by_key(&v.cpu)
        .into_iter()
        .filter_map(|(key, cpu_s)| {
            let rss = *rss.get(&key)?;
            (rss.is_finite() && rss >= 0.0).then(|| ResourceReading {
                component: key.0,
                instance: key.1.to_string(),
                process: start.get(&key).map_or(0, |s| (s.max(0.0) * 1000.0) as u64),
                cpu_s,
                rss_bytes: rss as u64,
                at_ms: at
                    .get(&key)
                    .filter(|t| t.is_finite() && **t > 0.0)
                    .map(|t| (t * 1000.0).round() as i64),
            })
        })
        .collect()
}

/// A [`ReadingSource`] querying a Prometheus.
#[derive(Debug)]
pub struct PromSource {
    prometheus: Prometheus,
    /// The last sample time read of each process.
    seen: BTreeMap<(Component, String), i64>,
}

impl PromSource {
    pub fn new(prometheus: Prometheus) -> PromSource {
        PromSource {
            prometheus,
            seen: BTreeMap::new(),
        }
    }

    /// Leaves out the readings whose sample was read before; remembers the rest.
    fn only_new(&mut self, readings: Vec<ResourceReading>) -> Vec<ResourceReading> {
        readings
            .into_iter()
            .filter(|r| {
                let Some(at) = r.at_ms else { return true };
                let key = (r.component, r.instance.clone());
                let full = self.seen.len() >= MAX_PROCESSES;
                match self.seen.get_mut(&key) {
                    Some(last) if *last >= at => false,
                    Some(last) => {
                        *last = at;
                        true
                    }
                    None if full => true,
                    None => {
                        self.seen.insert(key, at);
                        true
                    }
                }
            })
            .collect()
    }
}

impl ReadingSource for PromSource {
    const SOURCE: ResourceSource = ResourceSource::Prometheus;

    async fn read(&mut self, at_ms: i64) -> Result<Vec<ResourceReading>, SourceError> {
        let q = |expr| self.prometheus.instant(expr, at_ms);
        let (cpu, rss, start, at) = tokio::try_join!(
            q(PROMETHEUS_CPU),
            q(PROMETHEUS_RSS),
            q(PROMETHEUS_START),
            q(PROMETHEUS_AT)
        )
        .map_err(|e| SourceError {
            source_name: "Prometheus",
            reason: e.to_string(),
        })?;
        let readings = prometheus_readings(&PromVectors {
            cpu: samples(&cpu),
            rss: samples(&rss),
            start: samples(&start),
            at: samples(&at),
        });
        Ok(self.only_new(readings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s<'a>(job: &'a str, instance: &'a str, value: f64) -> PromSample<'a> {
        PromSample {
            job,
            instance,
            value,
        }
    }

    #[test]
    fn prometheus_series_become_readings_of_known_jobs_with_both_figures() {
        let v = PromVectors {
            cpu: vec![
                s("etcd", "127.0.0.1:2379", 12.5),
                s("apiserver", "10.0.0.1:6443", 40.0),
                s("node-exporter", "x", 1.0),
                s("kube-scheduler", "s", 3.0),
            ],
            rss: vec![
                s("etcd", "127.0.0.1:2379", 5e7),
                s("apiserver", "10.0.0.1:6443", 3e8),
                s("node-exporter", "x", 1.0),
            ],
            start: vec![s("etcd", "127.0.0.1:2379", 1_700_000_000.5)],
            at: vec![s("etcd", "127.0.0.1:2379", 1_700_000_100.25)],
        };
        let r = prometheus_readings(&v);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].component, Component::KubeApiserver);
        assert_eq!((r[0].process, r[0].rss_bytes), (0, 300_000_000));
        assert_eq!(r[0].at_ms, None);
        assert_eq!(r[1].component, Component::Etcd);
        assert_eq!(r[1].instance, "127.0.0.1:2379");
        assert_eq!((r[1].process, r[1].cpu_s), (1_700_000_000_500, 12.5));
        assert_eq!(r[1].at_ms, Some(1_700_000_100_250));
    }

    #[test]
    fn a_sample_already_read_is_left_out_and_a_newer_one_kept() {
        let mut source = PromSource::new(Prometheus::new("http://127.0.0.1:1").expect("url"));
        let reading = |at_ms| {
            prometheus_readings(&PromVectors {
                cpu: vec![s("etcd", "e", 1.0)],
                rss: vec![s("etcd", "e", 1.0)],
                start: vec![],
                at: vec![s("etcd", "e", at_ms)],
            })
        };
        assert_eq!(source.only_new(reading(100.0)).len(), 1);
        assert_eq!(source.only_new(reading(100.0)).len(), 0, "the same sample");
        assert_eq!(source.only_new(reading(105.0)).len(), 1, "the next scrape");
    }
}

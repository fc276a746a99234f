//! The resource timeline from the log's `resources` lines: CPU cores from the differences of
//! each process's CPU counter, resident memory as sampled, in a bounded number of points.

use std::collections::BTreeMap;

use crate::results::{
    Component, ComponentSeries, ResourcePoint, ResourceReading, ResourceSource, ResourceSummary,
    ResourceTimeline, Window,
};

/// Points kept per series (an hour at one sample per 5 s); at the cap, neighbouring points
/// are merged in pairs and later points take twice as many samples.
pub const MAX_POINTS: usize = 720;
/// Processes kept: the local cluster has at most a few dozen; more is a malformed log.
pub const MAX_SERIES: usize = 64;
/// Longest instance name kept (a node name, a `host:port`).
const MAX_INSTANCE_LEN: usize = 253;

/// Builds a [`ResourceTimeline`] from readings in log order. Its memory is bounded by
/// [`MAX_SERIES`] x [`MAX_POINTS`], whatever the log holds.
#[derive(Debug, Default)]
pub struct TimelineBuilder {
    source: Option<ResourceSource>,
    series: BTreeMap<(Component, String), SeriesBuilder>,
    dropped: u64,
}

/// The samples of one point, as counted so far.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    t_end_ms: i64,
    /// CPU seconds over `cpu_ms` milliseconds (the intervals that could be differenced).
    cpu_s: f64,
    cpu_ms: i64,
    rss_max: u64,
    samples: u32,
}

impl Acc {
    fn merge(self, later: Acc) -> Acc {
        Acc {
            t_end_ms: later.t_end_ms,
            cpu_s: self.cpu_s + later.cpu_s,
            cpu_ms: self.cpu_ms + later.cpu_ms,
            rss_max: self.rss_max.max(later.rss_max),
            samples: self.samples + later.samples,
        }
    }

    fn cores(&self) -> Option<f64> {
        (self.cpu_ms > 0).then(|| self.cpu_s / (self.cpu_ms as f64 / 1000.0))
    }
}

#[derive(Debug, Clone, Copy)]
struct Last {
    t_ms: i64,
    process: u64,
    cpu_s: f64,
}

#[derive(Debug)]
struct SeriesBuilder {
    stride: u32,
    last: Option<Last>,
    points: Vec<Acc>,
    open: Option<Acc>,
    gaps: u64,
    /// All differenced intervals together, for the mean.
    total: Acc,
    peak_cores: Option<f64>,
    rss_first: u64,
    rss_last: u64,
    rss_peak: u64,
}

impl SeriesBuilder {
    fn new(rss_first: u64) -> SeriesBuilder {
        SeriesBuilder {
            stride: 1,
            last: None,
            points: Vec::new(),
            open: None,
            gaps: 0,
            total: Acc::default(),
            peak_cores: None,
            rss_first,
            rss_last: 0,
            rss_peak: 0,
        }
    }

    /// The CPU seconds and milliseconds since this process's last sample; `None` for its
    /// first sample, a new process, a counter that went backwards or time that did not pass.
    fn delta(&mut self, t_ms: i64, r: &ResourceReading) -> Option<(f64, i64)> {
        let last = self.last.replace(Last {
            t_ms,
            process: r.process,
            cpu_s: r.cpu_s,
        })?;
        let same = last.process == r.process;
        if same && r.cpu_s.is_finite() && r.cpu_s >= last.cpu_s && t_ms > last.t_ms {
            return Some((r.cpu_s - last.cpu_s, t_ms - last.t_ms));
        }
        self.gaps += 1;
        None
    }

    fn push(&mut self, t_ms: i64, r: &ResourceReading) {
        let delta = self.delta(t_ms, r);
        let acc = self.open.get_or_insert_with(Acc::default);
        acc.t_end_ms = t_ms;
        acc.rss_max = acc.rss_max.max(r.rss_bytes);
        acc.samples += 1;
        if let Some((cpu_s, cpu_ms)) = delta {
            acc.cpu_s += cpu_s;
            acc.cpu_ms += cpu_ms;
            self.total.cpu_s += cpu_s;
            self.total.cpu_ms += cpu_ms;
            let cores = cpu_s / (cpu_ms as f64 / 1000.0);
            self.peak_cores = Some(self.peak_cores.map_or(cores, |p| p.max(cores)));
        }
        self.rss_last = r.rss_bytes;
        self.rss_peak = self.rss_peak.max(r.rss_bytes);
        if acc.samples >= self.stride
            && let Some(full) = self.open.take()
        {
            self.points.push(full);
            if self.points.len() >= MAX_POINTS {
                self.points = self
                    .points
                    .chunks(2)
                    .map(|c| c.iter().copied().reduce(Acc::merge).unwrap_or_default())
                    .collect();
                self.stride = self.stride.saturating_mul(2);
            }
        }
    }

    fn finish(
        self,
        key: (Component, String),
        start_ms: i64,
        window: Option<(i64, i64)>,
    ) -> ComponentSeries {
        let accs: Vec<Acc> = self.points.into_iter().chain(self.open).collect();
        let growth = rss_slope_per_hour(&accs, window);
        ComponentSeries {
            component: key.0,
            instance: key.1,
            samples_per_point: self.stride,
            points: accs
                .iter()
                .map(|a| ResourcePoint {
                    t_s: (a.t_end_ms - start_ms) as f64 / 1000.0,
                    cpu_cores: a.cores(),
                    rss_bytes: a.rss_max,
                })
                .collect(),
            summary: ResourceSummary {
                mean_cpu_cores: self.total.cores(),
                peak_cpu_cores: self.peak_cores,
                rss_first_bytes: self.rss_first,
                rss_last_bytes: self.rss_last,
                rss_peak_bytes: self.rss_peak,
                rss_growth_bytes_per_hour: growth,
            },
            gaps: self.gaps,
        }
    }
}

/// Least-squares slope of the points' RSS in `window` (all points without one), per hour.
fn rss_slope_per_hour(points: &[Acc], window: Option<(i64, i64)>) -> Option<f64> {
    let inside: Vec<(f64, f64)> = points
        .iter()
        .filter(|a| window.is_none_or(|(lo, hi)| (lo..=hi).contains(&a.t_end_ms)))
        .map(|a| (a.t_end_ms as f64 / 3_600_000.0, a.rss_max as f64))
        .collect();
    let (first, last) = (inside.first()?, inside.last()?);
    if inside.len() < 3 || (last.0 - first.0) * 3600.0 < 60.0 {
        return None;
    }
    let n = inside.len() as f64;
    let (st, sr) = inside
        .iter()
        .fold((0.0, 0.0), |(t, r), p| (t + p.0, r + p.1));
    let (mt, mr) = (st / n, sr / n);
    let (cov, var) = inside.iter().fold((0.0, 0.0), |(c, v), (t, r)| {
        (c + (t - mt) * (r - mr), v + (t - mt) * (t - mt))
    });
    (var > 0.0).then(|| cov / var)
}

impl TimelineBuilder {
    /// Takes one `resources` line.
    pub fn push_line(&mut self, t_ms: i64, source: ResourceSource, readings: &[ResourceReading]) {
        if *self.source.get_or_insert(source) != source {
            self.dropped += readings.len() as u64;
            return;
        }
        for r in readings {
            self.push(t_ms, r);
        }
    }

    fn push(&mut self, t_ms: i64, r: &ResourceReading) {
        let t_ms = r.at_ms.unwrap_or(t_ms);
        if r.instance.len() > MAX_INSTANCE_LEN {
            self.dropped += 1;
            return;
        }
        let key = (r.component, r.instance.clone());
        let full = self.series.len() >= MAX_SERIES;
        match self.series.get_mut(&key) {
            Some(s) => s.push(t_ms, r),
            None if full => self.dropped += 1,
            None => self
                .series
                .entry(key)
                .or_insert_with(|| SeriesBuilder::new(r.rss_bytes))
                .push(t_ms, r),
        }
    }

    /// The timeline, with times relative to `start_ms` (the run's start) and the RSS growth
    /// over `window`; `None` when no reading was taken.
    pub fn finish(self, start_ms: i64, window: Option<&Window>) -> Option<ResourceTimeline> {
        let source = self.source?;
        let window = window.map(|w| (w.start_ms, w.end_ms));
        Some(ResourceTimeline {
            source,
            series: self
                .series
                .into_iter()
                .map(|(key, s)| s.finish(key, start_ms, window))
                .collect(),
            dropped_readings: self.dropped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(component: Component, process: u64, cpu_s: f64, rss_bytes: u64) -> ResourceReading {
        ResourceReading {
            component,
            instance: String::new(),
            process,
            cpu_s,
            rss_bytes,
            at_ms: None,
        }
    }

    fn one(readings: &[(i64, u64, f64, u64)]) -> ComponentSeries {
        let mut b = TimelineBuilder::default();
        for &(t, pid, cpu, rss) in readings {
            b.push_line(
                t,
                ResourceSource::Proc,
                &[reading(Component::Etcd, pid, cpu, rss)],
            );
        }
        let mut t = b.finish(0, None).expect("a timeline");
        assert_eq!(t.series.len(), 1);
        t.series.remove(0)
    }

    #[test]
    fn cpu_cores_are_counter_differences_over_elapsed_time() {
        let s = one(&[
            (0, 7, 10.0, 100),
            (5_000, 7, 12.5, 300),
            (10_000, 7, 17.5, 200),
        ]);
        let cores: Vec<Option<f64>> = s.points.iter().map(|p| p.cpu_cores).collect();
        assert_eq!(cores, [None, Some(0.5), Some(1.0)]);
        assert_eq!(s.points[2].t_s, 10.0);
        assert_eq!(s.summary.mean_cpu_cores, Some(0.75));
        assert_eq!(s.summary.peak_cpu_cores, Some(1.0));
        assert_eq!(
            (
                s.summary.rss_first_bytes,
                s.summary.rss_last_bytes,
                s.summary.rss_peak_bytes
            ),
            (100, 200, 300)
        );
        assert_eq!(s.gaps, 0);
    }

    #[test]
    fn a_restart_or_a_counter_reset_is_a_gap_never_a_negative_rate() {
        let s = one(&[
            (0, 7, 50.0, 1),
            (5_000, 7, 55.0, 1),
            // The counter went backwards: the same pid, a reset.
            (10_000, 7, 1.0, 1),
            (15_000, 7, 2.0, 1),
            // A new process whose counter happens to be higher than the old one's.
            (20_000, 8, 90.0, 1),
            (25_000, 8, 90.5, 1),
            // Time did not pass.
            (25_000, 8, 91.0, 1),
        ]);
        let cores: Vec<Option<f64>> = s.points.iter().map(|p| p.cpu_cores).collect();
        assert_eq!(
            cores,
            [None, Some(1.0), None, Some(0.2), None, Some(0.1), None]
        );
        assert_eq!(s.gaps, 3);
        assert!(cores.iter().flatten().all(|c| *c >= 0.0));
        // Mean over the differenced intervals only: 6.5 CPU seconds in 15 s.
        let mean = s.summary.mean_cpu_cores.expect("a mean");
        assert!((mean - 6.5 / 15.0).abs() < 1e-9, "{mean}");
    }

    #[test]
    fn a_long_run_keeps_a_bounded_number_of_points_and_the_same_mean() {
        let n = MAX_POINTS as i64 * 5 + 3;
        let readings: Vec<(i64, u64, f64, u64)> = (0..n)
            .map(|i| (i * 5_000, 1, i as f64 * 2.5, 1000 + i as u64))
            .collect();
        let s = one(&readings);
        assert!(s.points.len() <= MAX_POINTS, "{}", s.points.len());
        assert!(s.points.len() >= MAX_POINTS / 4, "{}", s.points.len());
        assert_eq!(s.samples_per_point, 8);
        assert_eq!(s.summary.mean_cpu_cores, Some(0.5));
        assert!(s.points.iter().skip(1).all(|p| p.cpu_cores == Some(0.5)));
        // A point keeps the highest RSS of its samples; the last sample is in the last point.
        assert_eq!(
            s.points.last().map(|p| p.rss_bytes),
            Some(1000 + n as u64 - 1)
        );
        assert_eq!(s.points.last().map(|p| p.t_s), Some((n - 1) as f64 * 5.0));
        // 1 byte per 5 s is 720 bytes per hour.
        let g = s.summary.rss_growth_bytes_per_hour.expect("a slope");
        assert!((g - 720.0).abs() < 5.0, "{g}");
    }

    #[test]
    fn growth_is_the_slope_inside_the_window_only() {
        let mut b = TimelineBuilder::default();
        for i in 0..100 {
            // Flat until 250 s, then 1 MB per minute.
            let rss = 1_000_000 + (i.max(50) - 50) as u64 * 83_333;
            b.push_line(
                i * 5_000,
                ResourceSource::Proc,
                &[reading(Component::KubeApiserver, 1, 0.0, rss)],
            );
        }
        let flat = b
            .finish(
                0,
                Some(&Window {
                    start_ms: 0,
                    end_ms: 240_000,
                    end: crate::results::WindowEnd::Drain,
                    duration_s: 240.0,
                }),
            )
            .expect("a timeline");
        let g = flat.series[0].summary.rss_growth_bytes_per_hour;
        assert!(g.is_some_and(|g| g.abs() < 1.0), "{g:?}");
    }

    #[test]
    fn too_many_processes_are_dropped_and_counted() {
        let mut b = TimelineBuilder::default();
        let readings: Vec<ResourceReading> = (0..MAX_SERIES + 5)
            .map(|i| ResourceReading {
                instance: format!("node-{i}"),
                ..reading(Component::Kubelet, 1, 1.0, 1)
            })
            .collect();
        b.push_line(0, ResourceSource::Proc, &readings);
        b.push_line(5_000, ResourceSource::Prometheus, &readings);
        let t = b.finish(0, None).expect("a timeline");
        assert_eq!(t.series.len(), MAX_SERIES);
        assert_eq!(t.dropped_readings, 5 + readings.len() as u64);
        assert_eq!(t.series[0].label(), "kubelet node-0");
    }

    #[test]
    fn no_reading_is_no_timeline() {
        assert_eq!(TimelineBuilder::default().finish(0, None), None);
    }
}

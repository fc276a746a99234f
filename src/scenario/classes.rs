//! Classes of CronJobs in one scenario (`load.classes`): a mixed fleet, each class with its own
//! schedule (written or generated), zone, run time, failure share and policies.
//!
//! A class expands to `count` CronJobs named `{load.name_prefix}{class}-{i:05}`. Generated
//! schedules, run times drawn from a distribution and suspended CronJobs are chosen by one
//! random stream seeded with `load.seed`, so the same file gives the same fleet every time.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{ConcurrencyPolicy, CronJobDef, Resources};

/// One class of CronJobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Class {
    /// A DNS-1123 label; part of each CronJob's name and the `cronbench.io/class` label.
    pub name: String,
    /// How many CronJobs (or give `share`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// The share of `load.cronjobs` this class takes (0..1), instead of `count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    /// A 5-field expression or macro, or a generator.
    pub schedule: ClassSchedule,
    /// `spec.timeZone` (default `load.time_zone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// How long each run's pod runs (default: the cluster's pod run time, about 1 s on kwok).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_time: Option<RunTime>,
    /// The share of pods that exit non-zero (0..1).
    #[serde(default)]
    pub failure_share: f64,
    /// `spec.concurrencyPolicy` (default `load.concurrency_policy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency_policy: Option<ConcurrencyPolicy>,
    /// `spec.startingDeadlineSeconds` (default `load.starting_deadline_seconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<i64>,
    /// The share of the class's CronJobs created suspended (0..1): they must never run.
    #[serde(default)]
    pub suspend_share: f64,
    /// The Job's `parallelism` and `completions` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completions: Option<i32>,
    /// The Job's `activeDeadlineSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<i64>,
    /// The Job's `backoffLimit` (default 0: a failed pod fails the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<i32>,
    /// Requests and limits (default `load.resources`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// `spec.successfulJobsHistoryLimit` and `spec.failedJobsHistoryLimit` (default `load.`'s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful_jobs_history_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_jobs_history_limit: Option<i32>,
    /// What this class must meet, beside the whole fleet's `slo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<ClassSlo>,
}

/// A class's schedule: written out, or generated per CronJob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClassSchedule {
    /// A 5-field expression or macro, the same for every CronJob of the class.
    Cron(String),
    Generated(Generator),
}

/// A schedule made per CronJob from the seeded random stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Generator {
    /// Every N minutes (N in 1..=60) at a random offset: `{o}-59/{N} * * * *`, o in 0..N.
    EveryMinutes(u32),
    /// Hourly at this minute (0..=59), or at a random minute per CronJob (`random`).
    HourlyAt(Minute),
    /// Daily at a random time in [H1:00, H2:00) local time (0 <= H1 < H2 <= 24).
    DailyBetween([u32; 2]),
}

/// A minute of the hour, or one drawn at random per CronJob.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Minute {
    At(u32),
    Random(RandomWord),
}

/// The word `random`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RandomWord {
    Random,
}

/// How long a run's pod runs: fixed, or drawn per CronJob from a log-normal distribution with
/// this median and 99th percentile.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunTime {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_s: Option<f64>,
}

/// A class's own objectives; unset ones are not checked for the class.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ClassSlo {
    /// p99 of scheduled -> container started, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_schedule_to_start_s: Option<f64>,
    /// Runs started within this many seconds of their schedule ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_within_s: Option<f64>,
    /// ... must be at least this share of the class's expected runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_started_share: Option<f64>,
}

/// What a class sets on each of its CronJobs beyond name, schedule, zone, command and resources.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClassPart {
    pub class: String,
    pub concurrency_policy: Option<ConcurrencyPolicy>,
    pub starting_deadline_seconds: Option<i64>,
    pub suspend: bool,
    pub parallelism: Option<i32>,
    pub completions: Option<i32>,
    pub active_deadline_seconds: Option<i64>,
    pub backoff_limit: Option<i32>,
    pub successful_jobs_history_limit: Option<i32>,
    pub failed_jobs_history_limit: Option<i32>,
    /// The pod's run time; `None` leaves it to the cluster.
    pub run_ms: Option<u64>,
    /// Pods that exit non-zero, per thousand.
    pub fail_permille: u16,
}

/// z of the 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874;

/// The default seed of the random stream (`load.seed`).
pub const DEFAULT_SEED: u64 = 1;

/// The seeded stream every class draws from, in class order (fastrand, as the change-point
/// test's permutations).
pub struct Draw(fastrand::Rng);

impl Draw {
    pub fn new(seed: u64) -> Draw {
        Draw(fastrand::Rng::with_seed(seed))
    }

    /// Uniform in 0..n (0 when n is 0).
    fn below(&mut self, n: u32) -> u32 {
        if n == 0 { 0 } else { self.0.u32(0..n) }
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        self.0.f64()
    }

    /// A standard normal draw (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

impl Generator {
    /// One CronJob's schedule.
    pub fn schedule(&self, draw: &mut Draw) -> String {
        match *self {
            Generator::EveryMinutes(1) => "* * * * *".to_string(),
            Generator::EveryMinutes(n) if n >= 60 => format!("{} * * * *", draw.below(60)),
            Generator::EveryMinutes(n) => format!("{}-59/{n} * * * *", draw.below(n)),
            Generator::HourlyAt(Minute::At(m)) => format!("{m} * * * *"),
            Generator::HourlyAt(Minute::Random(_)) => format!("{} * * * *", draw.below(60)),
            Generator::DailyBetween([from, to]) => {
                let offset = draw.below(to.saturating_sub(from).max(1) * 60);
                format!("{} {} * * *", offset % 60, from + offset / 60)
            }
        }
    }
}

impl RunTime {
    /// One CronJob's run time in ms; `None` when nothing is set.
    pub fn draw_ms(&self, draw: &mut Draw) -> Option<u64> {
        let s = match (self.fixed_s, self.p50_s, self.p99_s) {
            (Some(s), _, _) => s,
            (None, Some(p50), Some(p99)) if p50 > 0.0 && p99 >= p50 => {
                let sigma = (p99.ln() - p50.ln()) / Z99;
                (p50.ln() + sigma * draw.normal()).exp()
            }
            (None, Some(p50), _) => p50,
            _ => return None,
        };
        Some((s.clamp(0.0, super::bounds::MAX_DURATION_S as f64) * 1000.0).round() as u64)
    }
}

impl Class {
    /// How many CronJobs the class has, given `load.cronjobs` for shares.
    pub fn size(&self, total: u32) -> u32 {
        match (self.count, self.share) {
            (Some(n), _) => n,
            (None, Some(share)) => (f64::from(total) * share.clamp(0.0, 1.0)).round() as u32,
            (None, None) => 0,
        }
    }
}

/// Everything `load:` gives a class that the class does not set.
pub struct ClassDefaults<'a> {
    pub name_prefix: &'a str,
    pub total: u32,
    pub time_zone: Option<&'a str>,
    pub command: &'a [String],
    pub resources: &'a Resources,
}

/// The CronJobs of every class, in class order.
/// `size` is their number, within [`super::bounds::MAX_CRONJOBS`] (checked by the caller).
pub fn expand(classes: &[Class], seed: u64, d: &ClassDefaults, size: usize) -> Vec<CronJobDef> {
    let mut draw = Draw::new(seed);
    let mut out = Vec::with_capacity(size.min(super::bounds::MAX_CRONJOBS as usize));
    for class in classes {
        let resources = Arc::new(
            class
                .resources
                .clone()
                .unwrap_or_else(|| d.resources.clone()),
        );
        let fail_permille = (class.failure_share.clamp(0.0, 1.0) * 1000.0).round() as u16;
        for i in 0..class.size(d.total) {
            let schedule = match &class.schedule {
                ClassSchedule::Cron(s) => s.clone(),
                ClassSchedule::Generated(g) => g.schedule(&mut draw),
            };
            let run_ms = class.run_time.as_ref().and_then(|r| r.draw_ms(&mut draw));
            let suspend = class.suspend_share > 0.0 && draw.unit() < class.suspend_share;
            let part = ClassPart {
                class: class.name.clone(),
                concurrency_policy: class.concurrency_policy.clone(),
                starting_deadline_seconds: class.starting_deadline_seconds,
                suspend,
                parallelism: class.parallelism,
                completions: class.completions,
                active_deadline_seconds: class.active_deadline_seconds,
                backoff_limit: class.backoff_limit,
                successful_jobs_history_limit: class.successful_jobs_history_limit,
                failed_jobs_history_limit: class.failed_jobs_history_limit,
                run_ms,
                fail_permille,
            };
            out.push(CronJobDef {
                name: format!("{}{}-{i:05}", d.name_prefix, class.name),
                schedule,
                time_zone: class.time_zone.clone().or(d.time_zone.map(str::to_string)),
                command: class_command(&part, d.command),
                resources: Arc::clone(&resources),
                defined_in: None,
                class: Some(part),
            });
        }
    }
    out
}

/// The container command: on real nodes the run time and failure happen in the shell (busybox
/// sh: `$RANDOM` is 0..32767); on kwok nodes the pod's annotations do it and the command is
/// never run. Without either, `load.command`.
fn class_command(part: &ClassPart, command: &[String]) -> Vec<String> {
    if part.run_ms.is_none() && part.fail_permille == 0 {
        return command.to_vec();
    }
    let sleep = part
        .run_ms
        .map(|ms| format!("sleep {}.{:03}; ", ms / 1000, ms % 1000))
        .unwrap_or_default();
    let end = match part.fail_permille {
        0 => "exit 0".to_string(),
        1000.. => "exit 1".to_string(),
        k => format!("[ $((RANDOM % 1000)) -ge {k} ]"),
    };
    vec!["sh".into(), "-c".into(), format!("{sleep}{end}")]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults(resources: &Resources) -> ClassDefaults<'_> {
        ClassDefaults {
            name_prefix: "cb-",
            total: 100,
            time_zone: None,
            command: &[],
            resources,
        }
    }

    fn class(yaml: &str) -> Class {
        serde_saphyr::from_str(yaml).expect("class yaml")
    }

    #[test]
    fn generated_schedules_are_the_same_for_the_same_seed_and_differ_for_another() {
        let classes = vec![class("{name: a, count: 50, schedule: {every_minutes: 5}}")];
        let r = Resources::default();
        let one: Vec<String> = expand(&classes, 7, &defaults(&r), 0)
            .into_iter()
            .map(|d| d.schedule)
            .collect();
        let again: Vec<String> = expand(&classes, 7, &defaults(&r), 0)
            .into_iter()
            .map(|d| d.schedule)
            .collect();
        let other: Vec<String> = expand(&classes, 8, &defaults(&r), 0)
            .into_iter()
            .map(|d| d.schedule)
            .collect();
        assert_eq!(one, again);
        assert_ne!(one, other);
        for s in &one {
            let offset: u32 = s.split('-').next().unwrap().parse().unwrap();
            assert!(offset < 5, "{s}");
            assert!(s.ends_with("-59/5 * * * *"), "{s}");
        }
        // 50 draws of 0..5 hit every offset.
        for o in 0..5 {
            assert!(one.iter().any(|s| s.starts_with(&format!("{o}-"))), "{o}");
        }
    }

    #[test]
    fn hourly_and_daily_generators_stay_in_their_ranges() {
        let mut draw = Draw::new(3);
        assert_eq!(
            Generator::HourlyAt(Minute::At(0)).schedule(&mut draw),
            "0 * * * *"
        );
        for _ in 0..500 {
            let s = Generator::HourlyAt(Minute::Random(RandomWord::Random)).schedule(&mut draw);
            let m: u32 = s.split(' ').next().unwrap().parse().unwrap();
            assert!(m < 60);
            let s = Generator::DailyBetween([1, 5]).schedule(&mut draw);
            let f: Vec<u32> = s.split(' ').take(2).map(|x| x.parse().unwrap()).collect();
            assert!(f[0] < 60 && (1..5).contains(&f[1]), "{s}");
        }
    }

    #[test]
    fn log_normal_run_times_have_the_asked_median_and_p99() {
        let rt = RunTime {
            p50_s: Some(60.0),
            p99_s: Some(2400.0),
            ..RunTime::default()
        };
        let mut draw = Draw::new(11);
        let mut ms: Vec<u64> = (0..20_000)
            .map(|_| rt.draw_ms(&mut draw).unwrap())
            .collect();
        ms.sort_unstable();
        let p50 = ms[10_000] as f64 / 1000.0;
        let p99 = ms[19_800] as f64 / 1000.0;
        assert!((p50 / 60.0 - 1.0).abs() < 0.05, "p50 {p50}");
        assert!((p99 / 2400.0 - 1.0).abs() < 0.15, "p99 {p99}");
    }

    #[test]
    fn a_class_yaml_reads_its_schedule_forms_and_policies() {
        let c = class(
            "{name: nightly, count: 3, schedule: {daily_between: [1, 3]}, time_zone: Asia/Tokyo, \
             concurrency_policy: Forbid, run_time: {fixed_s: 90}, failure_share: 0.25}",
        );
        assert_eq!(
            c.schedule,
            ClassSchedule::Generated(Generator::DailyBetween([1, 3]))
        );
        let c = class("{name: x, share: 0.5, schedule: '@hourly'}");
        assert_eq!(c.schedule, ClassSchedule::Cron("@hourly".into()));
        assert_eq!(c.size(9), 5);
        let c = class("{name: x, count: 1, schedule: {hourly_at: random}}");
        assert_eq!(
            c.schedule,
            ClassSchedule::Generated(Generator::HourlyAt(Minute::Random(RandomWord::Random)))
        );
    }

    #[test]
    fn run_time_and_failure_become_the_real_node_command() {
        let part = ClassPart {
            run_ms: Some(1500),
            fail_permille: 250,
            ..ClassPart::default()
        };
        assert_eq!(
            class_command(&part, &[]),
            ["sh", "-c", "sleep 1.500; [ $((RANDOM % 1000)) -ge 250 ]"]
        );
        let plain = ClassPart::default();
        assert_eq!(class_command(&plain, &["echo".into()]), ["echo"]);
    }
}

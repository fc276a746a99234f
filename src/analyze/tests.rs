//! Behaviour of the analysis on event logs built here with known delays.

use super::*;
use crate::results::{Check, Clock, Stage, StageStats, WindowEnd};
use crate::scenario::Scenario;
use crate::schema::{EndReason, JobObs, Phase, PodObs, RunStarted, SCHEMA_VERSION};

/// 2026-01-01T00:00:00Z, a minute boundary: the measured window starts here.
const T0: i64 = 1_767_225_600_000;
const MIN: i64 = 60_000;

fn rfc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .expect("test time in range")
        .to_string()
}

/// Whole seconds, as the API server writes them (truncated).
fn rfc_s(ms: i64) -> String {
    rfc(ms.div_euclid(1000) * 1000)
}

/// Client-side delays of one run, each from the previous stage, in ms.
#[derive(Clone, Copy)]
struct Delays {
    job: i64,
    pod: i64,
    bind: i64,
    start: i64,
    finish: i64,
}

const FAST: Delays = Delays {
    job: 1000,
    pod: 500,
    bind: 200,
    start: 2000,
    finish: 3000,
};

/// Builds an event log line by line; [`Log::lines`] orders it by receive time.
struct Log {
    first: LogLine,
    rest: Vec<LogLine>,
}

impl Log {
    fn new(scenario: &Scenario) -> Log {
        Log {
            first: LogLine::RunStarted(RunStarted {
                schema_version: SCHEMA_VERSION,
                recv_ms: T0 - 2 * MIN,
                run_id: "test-run".into(),
                namespace: "cb-test".into(),
                scenario: serde_json::to_value(scenario).expect("scenario to json"),
                cronbench_version: "0.1.0".into(),
                context: "kind-test".into(),
                server_version: "v1.33.1".into(),
                nodes: 2,
                host: None,
            }),
            rest: Vec::new(),
        }
    }

    /// A standard run: apply, `n` CronJobs on `schedule` created before the window, warmup,
    /// measure from `T0` to `T0 + measure_ms` (drain then), teardown, run_ended.
    fn standard(scenario: &Scenario, n: usize, schedule: &str, measure_ms: i64) -> Log {
        let mut log = Log::new(scenario);
        log.phase(T0 - 2 * MIN, Phase::Apply);
        for i in 0..n {
            log.cronjob(T0 - 110_000 + i as i64, &cj(i), schedule);
        }
        log.phase(T0 - 100_000, Phase::Warmup);
        log.phase(T0, Phase::Measure);
        log.phase(T0 + measure_ms, Phase::Drain);
        log.phase(T0 + measure_ms + MIN, Phase::Teardown);
        log.push(LogLine::RunEnded {
            recv_ms: T0 + measure_ms + MIN + 1000,
            reason: EndReason::Completed,
            harness: Some(HARNESS),
        });
        log
    }

    fn push(&mut self, line: LogLine) {
        self.rest.push(line);
    }

    fn phase(&mut self, recv_ms: i64, phase: Phase) {
        self.push(LogLine::Phase { recv_ms, phase });
    }

    fn cronjob(&mut self, recv_ms: i64, name: &str, schedule: &str) {
        self.push(LogLine::CronJobCreated(crate::schema::CronJobCreated {
            recv_ms,
            name: name.into(),
            schedule: schedule.into(),
            time_zone: None,
            ..Default::default()
        }));
    }

    /// One run of `cronjob` scheduled at `tick`, observed as a Job and a Pod going through
    /// every stage with `d`; server timestamps are the client times truncated to seconds.
    fn run(&mut self, cronjob: &str, tick: i64, d: Delays, node: &str) {
        let job = job_name(cronjob, tick);
        let pod = format!("{job}-abcde");
        let job_seen = tick + d.job;
        let pod_seen = job_seen + d.pod;
        let bound = pod_seen + d.bind;
        let started = bound + d.start;
        let finished = started + d.finish;
        let job_obs = JobObs {
            recv_ms: job_seen,
            name: job.clone(),
            cronjob: Some(cronjob.into()),
            scheduled: Some(rfc(tick)),
            created: Some(rfc_s(job_seen)),
            ..JobObs::default()
        };
        self.push(LogLine::Job(job_obs.clone()));
        let pod_obs = PodObs {
            recv_ms: pod_seen,
            name: pod,
            job: Some(job),
            created: Some(rfc_s(pod_seen)),
            phase: Some("Pending".into()),
            ..PodObs::default()
        };
        self.push(LogLine::Pod(pod_obs.clone()));
        let bound_obs = PodObs {
            recv_ms: bound,
            node: Some(node.into()),
            scheduled_at: Some(rfc_s(bound)),
            ..pod_obs
        };
        self.push(LogLine::Pod(bound_obs.clone()));
        let running = PodObs {
            recv_ms: started,
            phase: Some("Running".into()),
            started_at: Some(rfc_s(started)),
            ..bound_obs
        };
        self.push(LogLine::Pod(running.clone()));
        self.push(LogLine::Pod(PodObs {
            recv_ms: finished,
            phase: Some("Succeeded".into()),
            finished_at: Some(rfc_s(finished)),
            ..running
        }));
        self.push(LogLine::Job(JobObs {
            recv_ms: finished + 100,
            succeeded: 1,
            completed: Some(rfc_s(finished)),
            ..job_obs
        }));
    }

    fn lines(mut self) -> Vec<LogLine> {
        self.rest.sort_by_key(LogLine::recv_ms);
        std::iter::once(self.first).chain(self.rest).collect()
    }

    fn analyze(self) -> Results {
        analyze_lines(self.lines()).expect("analysis succeeds")
    }
}

fn cj(i: usize) -> String {
    format!("cb-{i:05}")
}

fn job_name(cronjob: &str, tick: i64) -> String {
    format!("{cronjob}-{}", tick / MIN)
}

fn scenario() -> Scenario {
    let mut s = Scenario {
        name: "unit".into(),
        ..Scenario::default()
    };
    s.slo.target_jobs_per_minute = 2.0;
    s.slo.p99_schedule_to_start_s = 10.0;
    s.slo.start_within_s = 60.0;
    s.slo.min_started_share = 1.0;
    s.slo.min_completed_share = 1.0;
    s.slo.max_missed = 0;
    s.slo.max_pending_s = 60.0;
    s.slo.max_stuck_pods = 0;
    s
}

fn stage(r: &Results, stage: Stage, clock: Clock) -> &StageStats {
    r.stages
        .iter()
        .find(|s| s.stage == stage && s.clock == clock)
        .expect("every stage and clock is reported")
}

fn check(r: &Results, c: Check) -> &crate::results::CheckResult {
    r.verdict
        .checks
        .iter()
        .find(|x| x.check == c)
        .expect("every check is reported")
}

/// Within the 3-significant-digit resolution of the histograms.
fn assert_close(got: Option<u64>, want: u64) {
    let got = got.expect("a value");
    assert!(
        got.abs_diff(want) <= want / 1000 + 1,
        "got {got}, want {want}"
    );
}

/// Two CronJobs, three ticks in a 3-minute window, every run with `FAST` delays.
fn healthy() -> Log {
    let s = scenario();
    let mut log = Log::standard(&s, 2, "* * * * *", 3 * MIN);
    for i in 0..2 {
        for k in 0..3 {
            log.run(
                &cj(i),
                T0 + k * MIN,
                FAST,
                if i == 0 { "node-a" } else { "node-b" },
            );
        }
    }
    log
}

#[test]
fn known_delays_give_the_right_percentiles_on_both_clocks() {
    let s = scenario();
    let mut log = Log::standard(&s, 1, "* * * * *", 5 * MIN);
    // Five runs whose job appears 1, 2, 3, 4, 5 s after the tick.
    for k in 0..5 {
        let d = Delays {
            job: 1000 * (k + 1),
            ..FAST
        };
        log.run(&cj(0), T0 + k * MIN, d, "node-a");
    }
    let r = log.analyze();
    let s2j = stage(&r, Stage::ScheduleToJobCreated, Clock::Client);
    assert_eq!(s2j.count, 5);
    assert_close(s2j.p50_ms, 3000);
    assert_eq!(s2j.max_ms, Some(5000));
    assert_eq!(s2j.mean_ms, Some(3000.0));
    let bound = stage(&r, Stage::PodCreatedToBound, Clock::Client);
    assert_close(bound.p50_ms, 200);
    let s2s = stage(&r, Stage::ScheduleToStarted, Clock::Client);
    assert_close(s2s.p50_ms, 3000 + 500 + 200 + 2000);
    let s2f = stage(&r, Stage::ScheduleToFinished, Clock::Client);
    assert_close(s2f.p99_ms, 5000 + 500 + 200 + 2000 + 3000);
    // Server clock: whole seconds.
    let server = stage(&r, Stage::ScheduleToJobCreated, Clock::Server);
    assert_eq!(server.precision, "1 s (API timestamps)");
    assert_close(server.p50_ms, 3000);
    assert_eq!(
        stage(&r, Stage::ScheduleToJobCreated, Clock::Client).precision,
        "1 ms (client receive time)"
    );
    assert_eq!(r.counts.expected, 5);
    assert_eq!(r.counts.observed, 5);
    assert_eq!(r.counts.started, 5);
    assert_eq!(r.counts.completed, 5);
}

#[test]
fn healthy_run_passes_every_check() {
    let r = healthy().analyze();
    assert!(r.verdict.pass, "{:#?}", r.verdict);
    assert_eq!(r.schema_version, SCHEMA_VERSION);
    assert_eq!(r.run.run_id, "test-run");
    assert_eq!(r.run.scenario_name, "unit");
    assert!(!r.run.interrupted);
    let w = r.window.as_ref().expect("window");
    assert_eq!(
        (w.start_ms, w.end_ms, w.end),
        (T0, T0 + 3 * MIN, WindowEnd::Drain)
    );
    assert_eq!(r.counts.expected, 6);
    assert_eq!(r.counts.missed, 0);
    assert_eq!(r.counts.duplicates, 0);
    assert_eq!(r.counts.stuck_pods, 0);
    // 6 starts in 3 minutes.
    assert_eq!(r.throughput.started_in_window, 6);
    assert_eq!(r.throughput.started_per_minute_mean, Some(2.0));
    assert_eq!(r.throughput.started_per_minute.len(), 3);
    assert!(
        r.throughput
            .started_per_minute
            .iter()
            .all(|m| m.started == 2)
    );
    assert_eq!(r.throughput.peak_per_second, 2);
    assert_eq!(r.nodes.len(), 2);
    assert_eq!(r.nodes[0].node, "node-a");
    assert_eq!(r.nodes[0].started, 3);
    assert_eq!(r.nodes[0].peak_per_second, 1);
    assert!(r.anomalies.negative_latencies.is_empty());
}

#[test]
fn runs_outside_the_window_are_observed_but_not_counted() {
    let mut log = healthy();
    // A warmup tick and a drain tick.
    log.run(&cj(0), T0 - MIN, FAST, "node-a");
    log.run(&cj(0), T0 + 3 * MIN, FAST, "node-a");
    let r = log.analyze();
    assert_eq!(r.counts.observed, 6);
    assert_eq!(r.counts.observed_total, 8);
    assert_eq!(r.counts.expected, 6);
    assert_eq!(stage(&r, Stage::ScheduleToStarted, Clock::Client).count, 6);
    assert!(r.verdict.pass);
}

#[test]
fn scheduled_time_comes_from_the_name_suffix_without_annotation() {
    let s = scenario();
    let mut log = Log::standard(&s, 1, "* * * * *", 2 * MIN);
    log.run(&cj(0), T0, FAST, "node-a");
    log.run(&cj(0), T0 + MIN, FAST, "node-a");
    // Drop the annotation and the owner from every Job line.
    for line in &mut log.rest {
        if let LogLine::Job(j) = line {
            j.scheduled = None;
            j.cronjob = None;
        }
    }
    let r = log.analyze();
    assert_eq!(r.counts.observed, 2);
    assert_eq!(r.counts.missed, 0);
    assert_eq!(r.anomalies.jobs_without_schedule, 0);
    assert_close(
        stage(&r, Stage::ScheduleToJobCreated, Clock::Client).p50_ms,
        1000,
    );
}

#[test]
fn jobs_without_annotation_or_minutes_suffix_are_reported() {
    let s = scenario();
    let mut log = Log::standard(&s, 1, "* * * * *", MIN);
    log.push(LogLine::Job(JobObs {
        recv_ms: T0 + 1000,
        name: "manual-run".into(),
        ..JobObs::default()
    }));
    let r = log.analyze();
    assert_eq!(r.anomalies.jobs_without_schedule, 1);
    assert_eq!(r.counts.observed, 0);
}

#[test]
fn missed_schedules_are_counted_from_cron_math() {
    let s = scenario();
    let mut log = Log::standard(&s, 3, "* * * * *", 3 * MIN);
    for i in 0..3 {
        for k in 0..3 {
            // cb-00001 misses its second tick.
            if !(i == 1 && k == 1) {
                log.run(&cj(i), T0 + k * MIN, FAST, "node-a");
            }
        }
    }
    // A CronJob created inside the window only expects the ticks after its creation.
    log.cronjob(T0 + 90_000, "late", "* * * * *");
    log.run("late", T0 + 2 * MIN, FAST, "node-a");
    let r = log.analyze();
    assert_eq!(r.counts.expected, 9 + 1);
    assert_eq!(r.counts.observed, 8 + 1);
    assert_eq!(r.counts.missed, 1);
    assert_eq!(r.counts.unexpected, 0);
    assert_eq!(r.counts.missed_runs.len(), 1);
    assert_eq!(r.counts.missed_runs[0].cronjob, "cb-00001");
    assert_eq!(r.counts.missed_runs[0].scheduled_ms, T0 + MIN);
    assert_eq!(r.counts.missed_runs[0].scheduled, "2026-01-01T00:01:00Z");
    let c = check(&r, Check::Missed);
    assert_eq!(c.measured, Some(1.0));
    assert!(!c.pass);
    assert!(!r.verdict.pass);
}

#[test]
fn sparse_schedules_expect_only_their_ticks() {
    let s = scenario();
    let mut log = Log::standard(&s, 1, "*/2 * * * *", 5 * MIN);
    for k in [0, 2, 4] {
        log.run(&cj(0), T0 + k * MIN, FAST, "node-a");
    }
    let r = log.analyze();
    assert_eq!(r.counts.expected, 3);
    assert_eq!(r.counts.missed, 0);
}

#[test]
fn negative_latencies_are_counted_not_clamped() {
    let s = scenario();
    let mut log = Log::standard(&s, 1, "* * * * *", 2 * MIN);
    log.run(&cj(0), T0, FAST, "node-a");
    log.run(&cj(0), T0 + MIN, FAST, "node-a");
    // The API says the second run's pod was created a second before its Job.
    let second = job_name(&cj(0), T0 + MIN);
    for line in &mut log.rest {
        if let LogLine::Pod(p) = line
            && p.job.as_deref() == Some(second.as_str())
        {
            p.created = Some(rfc_s(T0 + MIN));
        }
        if let LogLine::Job(j) = line
            && j.name == second
        {
            j.created = Some(rfc_s(T0 + MIN + 1000));
        }
    }
    let r = log.analyze();
    let st = stage(&r, Stage::JobCreatedToPodCreated, Clock::Server);
    assert_eq!(st.negatives, 1);
    assert_eq!(st.min_negative_ms, Some(-1000));
    // The negative value is not in the histogram as a zero.
    assert_eq!(st.count, 1);
    assert_eq!(st.p50_ms, Some(0));
    assert_eq!(r.anomalies.negative_latencies.len(), 1);
    assert_eq!(
        r.anomalies.negative_latencies[0].stage,
        Stage::JobCreatedToPodCreated
    );
    assert_eq!(r.anomalies.negative_latencies[0].clock, Clock::Server);
}

#[test]
fn latencies_above_the_maximum_are_outliers_not_lost() {
    let s = scenario();
    let mut log = Log::standard(&s, 1, "* * * * *", MIN);
    log.run(
        &cj(0),
        T0,
        Delays {
            start: 2 * 3_600_000,
            ..FAST
        },
        "node-a",
    );
    let r = log.analyze();
    let st = stage(&r, Stage::BoundToStarted, Clock::Client);
    assert_eq!(st.count, 1);
    assert_eq!(st.outliers, 1);
    assert_eq!(st.max_ms, Some(2 * 3_600_000));
    let c = check(&r, Check::P99ScheduleToStart);
    assert!(!c.pass);
    assert!(c.note.as_deref().is_some_and(|n| n.contains("above")));
}

#[test]
fn zero_samples_fail_the_verdict() {
    let s = scenario();
    let log = Log::standard(&s, 2, "* * * * *", 3 * MIN);
    let r = log.analyze();
    assert_eq!(r.counts.expected, 6);
    assert_eq!(r.counts.missed, 6);
    assert!(!r.verdict.pass);
    for c in &r.verdict.checks {
        assert!(!c.pass, "{c:?}");
    }
    let p99 = check(&r, Check::P99ScheduleToStart);
    assert_eq!(p99.measured, None);
    assert!(
        p99.note
            .as_deref()
            .is_some_and(|n| n.starts_with("no samples"))
    );
    // Even with thresholds that zero would meet (the target as low as a recorded SLO may
    // be: 0 or less is refused as an SLO no run can be judged by).
    let mut lenient = scenario();
    lenient.slo.target_jobs_per_minute = f64::MIN_POSITIVE;
    lenient.slo.max_missed = 100;
    lenient.slo.min_started_share = 0.0;
    lenient.slo.min_completed_share = 0.0;
    let mut log = Log::new(&lenient);
    log.phase(T0, Phase::Measure);
    log.phase(T0 + MIN, Phase::Drain);
    let r = log.analyze();
    assert!(r.verdict.checks.iter().all(|c| !c.pass));
}

#[test]
fn duplicate_jobs_for_one_schedule_are_detected() {
    let s = scenario();
    let mut log = Log::standard(&s, 1, "* * * * *", MIN);
    log.run(&cj(0), T0, FAST, "node-a");
    log.push(LogLine::Job(JobObs {
        recv_ms: T0 + 5000,
        name: "cb-00000-dup".into(),
        cronjob: Some(cj(0)),
        scheduled: Some(rfc(T0)),
        ..JobObs::default()
    }));
    let r = log.analyze();
    assert_eq!(r.counts.duplicates, 1);
    assert_eq!(r.counts.observed, 1);
    assert_eq!(r.counts.duplicate_runs.len(), 1);
    // The run's own Job finished before the log ended, so it was forgotten: only the extra
    // Job, still in flight, is named.
    assert_eq!(
        r.counts.duplicate_runs[0].jobs,
        vec!["cb-00000-dup".to_string()]
    );
    // The first Job is the run: its timeline is used.
    assert_eq!(stage(&r, Stage::ScheduleToStarted, Clock::Client).count, 1);
}

#[test]
fn interrupted_log_without_drain_still_analyzes() {
    let s = scenario();
    let mut log = Log::new(&s);
    log.cronjob(T0 - MIN, &cj(0), "* * * * *");
    log.phase(T0, Phase::Measure);
    log.run(&cj(0), T0, FAST, "node-a");
    log.run(&cj(0), T0 + MIN, FAST, "node-a");
    let r = log.analyze();
    assert!(r.run.interrupted);
    assert_eq!(r.run.end_reason, None);
    let w = r.window.as_ref().expect("window");
    assert_eq!(w.end, WindowEnd::LastLine);
    // The last line is the second run's job completion.
    assert_eq!(w.end_ms, T0 + MIN + 6800);
    assert_eq!(r.counts.expected, 2);
    assert_eq!(r.counts.observed, 2);
    assert_eq!(r.counts.started, 2);
}

#[test]
fn log_without_measure_phase_has_no_window() {
    let s = scenario();
    let mut log = Log::new(&s);
    log.cronjob(T0 - MIN, &cj(0), "* * * * *");
    log.run(&cj(0), T0, FAST, "node-a");
    let r = log.analyze();
    assert!(r.window.is_none());
    assert_eq!(r.counts.observed, 0);
    assert_eq!(r.counts.observed_total, 1);
    assert!(!r.verdict.pass);
}

#[test]
fn pods_pending_past_the_limit_are_stuck() {
    let s = scenario(); // max_pending_s = 60
    let mut log = Log::standard(&s, 1, "* * * * *", 2 * MIN);
    log.run(&cj(0), T0, FAST, "node-a");
    let job = job_name(&cj(0), T0 + MIN);
    log.push(LogLine::Job(JobObs {
        recv_ms: T0 + MIN + 500,
        name: job.clone(),
        cronjob: Some(cj(0)),
        scheduled: Some(rfc(T0 + MIN)),
        ..JobObs::default()
    }));
    // Never bound: pending from T0+61 s to the end of the log (T0+181 s).
    log.push(LogLine::Pod(PodObs {
        recv_ms: T0 + MIN + 1000,
        name: format!("{job}-xyz"),
        job: Some(job),
        phase: Some("Pending".into()),
        ..PodObs::default()
    }));
    // Another pod pending only briefly before it was deleted: not stuck.
    log.push(LogLine::Pod(PodObs {
        recv_ms: T0 + 2000,
        name: "other".into(),
        job: Some(job_name(&cj(0), T0)),
        phase: Some("Pending".into()),
        ..PodObs::default()
    }));
    log.push(LogLine::Pod(PodObs {
        recv_ms: T0 + 9000,
        name: "other".into(),
        job: Some(job_name(&cj(0), T0)),
        deleted: true,
        ..PodObs::default()
    }));
    let r = log.analyze();
    assert_eq!(r.counts.stuck_pods, 1);
    assert_eq!(r.counts.started, 1);
    let c = check(&r, Check::StuckPods);
    assert_eq!(c.measured, Some(1.0));
    assert!(!c.pass);
    assert!(r.throughput.peak_pending >= 1);
    // At the end of the log the stuck pod is still pending.
    assert_eq!(r.throughput.pending.last().map(|p| p.pending), Some(1));
}

#[test]
fn slow_starts_count_against_the_started_share() {
    let s = scenario(); // start_within_s = 60
    let mut log = Log::standard(&s, 1, "* * * * *", 2 * MIN);
    log.run(&cj(0), T0, FAST, "node-a");
    log.run(
        &cj(0),
        T0 + MIN,
        Delays {
            start: 90_000,
            ..FAST
        },
        "node-a",
    );
    let r = log.analyze();
    assert_eq!(r.counts.started, 2);
    assert_eq!(r.counts.started_within_slo, 1);
    let c = check(&r, Check::StartedShare);
    assert_eq!(c.measured, Some(0.5));
    assert!(!c.pass);
}

#[test]
fn pod_seen_before_its_job_is_joined() {
    let s = scenario();
    let mut log = Log::standard(&s, 1, "* * * * *", MIN);
    // The pod watch delivers before the job watch.
    log.run(&cj(0), T0, Delays { pod: -300, ..FAST }, "node-a");
    let r = log.analyze();
    assert_eq!(r.anomalies.orphan_pods, 0);
    let st = stage(&r, Stage::JobCreatedToPodCreated, Clock::Client);
    assert_eq!(st.negatives, 1);
    assert_eq!(r.counts.started, 1);
}

#[test]
fn first_line_must_be_run_started() {
    let err = analyze_lines([LogLine::Phase {
        recv_ms: T0,
        phase: Phase::Measure,
    }])
    .expect_err("not run_started");
    assert!(matches!(
        err,
        AnalyzeError::NotRunStarted { found: "phase" }
    ));
    assert!(matches!(
        analyze_lines(std::iter::empty()),
        Err(AnalyzeError::Empty)
    ));
}

#[test]
fn summary_table_shows_percentiles_precision_and_verdict() {
    let r = healthy().analyze();
    let t = summary_table(&r);
    assert!(t.contains("schedule -> started"), "{t}");
    assert!(t.contains("1 ms (client receive time)"));
    assert!(t.contains("1 s (API timestamps)"));
    assert!(t.contains("verdict: PASS"));
    assert!(
        t.contains("PASS  missed schedules: 0 (required <= 0)"),
        "{t}"
    );
    let r = Log::standard(&scenario(), 1, "* * * * *", MIN).analyze();
    let t = summary_table(&r);
    assert!(t.contains("verdict: FAIL"));
    assert!(
        t.contains("FAIL  p99 schedule -> started (s, client): none"),
        "{t}"
    );
}

#[test]
fn results_round_trip_through_json() {
    let r = healthy().analyze();
    let json = serde_json::to_string(&r).expect("serialize");
    let back: Results = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, r);
}

#[test]
fn a_schedule_the_controller_would_reject_is_an_error() {
    let log = Log::standard(&scenario(), 1, "0 * * * * *", MIN);
    match analyze_lines(log.lines()) {
        Err(AnalyzeError::Schedule {
            cronjob, schedule, ..
        }) => {
            assert_eq!(cronjob, cj(0));
            assert_eq!(schedule, "0 * * * * *");
        }
        other => panic!("expected a schedule error, got {other:?}"),
    }
}

#[test]
fn a_caller_window_replaces_the_measure_phase() {
    let r = analyze_lines_window(healthy().lines(), T0 + MIN, T0 + 2 * MIN).unwrap();
    let w = r.window.as_ref().unwrap();
    assert_eq!((w.start_ms, w.end_ms), (T0 + MIN, T0 + 2 * MIN));
    // One tick of two CronJobs.
    assert_eq!(r.counts.expected, 2);
    assert_eq!(r.counts.observed, 2);
    assert_eq!(r.counts.started, 2);
    assert_eq!(stage(&r, Stage::ScheduleToStarted, Clock::Client).count, 2);
}

#[test]
fn a_controller_manager_restart_window_shows_its_late_runs_and_the_recovery() {
    use crate::scenario::{Fault, FaultKind};
    use crate::schema::FaultPhase;
    // A game day's scenario names its faults: its runs are kept to the end for the windows.
    let mut s = scenario();
    s.faults.push(Fault {
        at_s: 110,
        kind: FaultKind::RestartControllerManager,
        duration_s: 40,
        node: None,
    });
    // Two every-minute CronJobs, five measured minutes; the controller manager is down from
    // T0 + 1:50 to T0 + 2:30, so the 2:00 runs start 40 s late (above the 10 s p99 SLO).
    let mut log = Log::standard(&s, 2, "* * * * *", 5 * MIN);
    for m in -1..5 {
        let late = m == 2;
        let d = Delays {
            job: if late { 31_000 } else { FAST.job },
            ..FAST
        };
        for i in 0..2 {
            log.run(&cj(i), T0 + m * MIN, d, "node-a");
        }
    }
    let fault = |recv_ms, phase, detail: &str| LogLine::Fault {
        recv_ms,
        kind: FaultKind::RestartControllerManager,
        phase,
        detail: detail.into(),
    };
    log.push(fault(T0 + MIN + 50_000, FaultPhase::Start, "SIGTERM pid 1"));
    log.push(fault(
        T0 + 2 * MIN + 30_000,
        FaultPhase::End,
        "started pid 2",
    ));
    let r = log.analyze();
    assert_eq!(r.faults.len(), 1, "{:?}", r.faults);
    let f = &r.faults[0];
    assert_eq!(f.kind, FaultKind::RestartControllerManager);
    assert_eq!(f.end_ms, Some(T0 + 2 * MIN + 30_000));
    // Due: the 2:00 runs; the 1:00 runs were 50 s old when it began, past their 10 s SLO.
    assert_eq!(f.scheduled, 2);
    assert_eq!(f.missed, 0);
    assert_eq!(f.late, 2);
    assert_eq!(f.max_schedule_to_start_ms, Some(31_000 + 500 + 200 + 2000));
    // The whole minutes before the fault (-1:00 and 0:00; 1:00 holds its start) had two
    // starts each; minute 3:00 has two again: recovered 30 s after the end.
    assert_eq!(f.baseline_source.as_deref(), Some("pre-fault"));
    assert_eq!(f.baseline_per_minute, Some(2.0));
    assert_eq!(f.recovery_s, Some(30.0));
    let table = summary_table(&r);
    assert!(table.contains("restart-controller-manager at +"), "{table}");
    // A log without fault lines has no fault windows (and results.json no `faults` key).
    let plain = Log::standard(&scenario(), 1, "* * * * *", MIN).analyze();
    assert!(plain.faults.is_empty());
    let json = serde_json::to_string(&plain).expect("results serialize");
    assert!(!json.contains("\"faults\""));
}

/// A realistic log (the bench's generator: Jobs and Pods deleted by the history limit) with a
/// missed run, a duplicate Job for a run already over, and a pod that never starts.
fn folding_log() -> Vec<LogLine> {
    let dir = std::env::temp_dir().join(format!("cronbench-fold-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("events.jsonl");
    crate::bench::generate_log(&path, 12, 8).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let mut lines: Vec<LogLine> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        // cb-00003's run of the fourth minute never happened.
        .filter(|l| match l {
            LogLine::Job(j) => !j.name.starts_with("cb-00003-29453764"),
            LogLine::Pod(p) => !p.name.starts_with("cb-00003-29453764"),
            _ => true,
        })
        .collect();
    // A pod pending for a minute is stuck.
    if let Some(LogLine::RunStarted(r)) = lines.first_mut() {
        r.scenario["slo"]["max_pending_s"] = serde_json::json!(30.0);
    }
    let end = lines.len() - 3;
    let at = lines[end - 1].recv_ms();
    // A second Job for cb-00001's first run, long after that run was over.
    lines.insert(
        end,
        LogLine::Job(JobObs {
            recv_ms: at,
            name: "cb-00001-29453761-dup".into(),
            cronjob: Some("cb-00001".into()),
            scheduled: Some(rfc(29_453_761 * MIN)),
            ..JobObs::default()
        }),
    );
    // A pod that stays pending past the limit, then is deleted with its Job.
    let stuck_job = job_name("cb-00005", 29_453_762 * MIN);
    let pos = lines
        .iter()
        .position(|l| matches!(l, LogLine::Pod(p) if p.job.as_deref() == Some(&stuck_job)))
        .unwrap();
    let first = lines[pos].recv_ms();
    lines.insert(
        pos,
        LogLine::Pod(PodObs {
            recv_ms: first,
            name: format!("{stuck_job}-zzzzz"),
            job: Some(stuck_job.clone()),
            phase: Some("Pending".into()),
            ..PodObs::default()
        }),
    );
    let del = lines
        .iter()
        .position(|l| matches!(l, LogLine::Job(j) if j.name == stuck_job && j.deleted))
        .unwrap();
    lines.insert(
        del,
        LogLine::Pod(PodObs {
            recv_ms: lines[del].recv_ms(),
            name: format!("{stuck_job}-zzzzz"),
            job: Some(stuck_job),
            phase: Some("Pending".into()),
            deleted: true,
            ..PodObs::default()
        }),
    );
    lines
}

fn analyze_both_ways(lines: Vec<LogLine>) -> (Results, Results) {
    let mut it = lines.clone().into_iter();
    let mut folding = state::Analyzer::new(it.next().unwrap()).unwrap();
    it.for_each(|l| folding.push(l));
    let mut it = lines.into_iter();
    let mut keeping = state::Analyzer::new(it.next().unwrap()).unwrap();
    keeping.keep_every_run();
    it.for_each(|l| keeping.push(l));
    // Only the last minute's runs (12 CronJobs) and the duplicate are not over.
    assert!(folding.jobs_held() <= 13, "{}", folding.jobs_held());
    assert!(keeping.jobs_held() > 80, "{}", keeping.jobs_held());
    (folding.finish().unwrap(), keeping.finish().unwrap())
}

#[test]
fn runs_folded_as_they_end_give_the_same_results_as_runs_kept_to_the_end() {
    let (folded, kept) = analyze_both_ways(folding_log());
    assert_eq!(kept.counts.missed, 1, "{:?}", kept.counts.missed_runs);
    assert_eq!(kept.counts.duplicates, 1);
    assert_eq!(kept.counts.stuck_pods, 1);
    assert!(kept.throughput.peak_pending > 0);
    let mut a = serde_json::to_value(&folded).unwrap();
    let mut b = serde_json::to_value(&kept).unwrap();
    // The folded duplicate lists only the extra Job (the run's own Job is forgotten).
    a["counts"]["duplicate_runs"] = serde_json::Value::Null;
    b["counts"]["duplicate_runs"] = serde_json::Value::Null;
    assert_eq!(a, b);
}

/// Run `tick` of `cj(0)` whose one pod ends Failed, with or without a container start time.
fn failed_run(log: &mut Log, tick: i64, container_ran: bool) {
    let job = job_name(&cj(0), tick);
    log.push(LogLine::Job(JobObs {
        recv_ms: tick + 500,
        name: job.clone(),
        cronjob: Some(cj(0)),
        scheduled: Some(rfc(tick)),
        ..JobObs::default()
    }));
    let pod = PodObs {
        recv_ms: tick + 1000,
        name: format!("{job}-xyz"),
        job: Some(job),
        node: Some("node-a".into()),
        phase: Some("Pending".into()),
        ..PodObs::default()
    };
    log.push(LogLine::Pod(pod.clone()));
    log.push(LogLine::Pod(PodObs {
        recv_ms: tick + 3000,
        phase: Some("Failed".into()),
        started_at: container_ran.then(|| rfc_s(tick + 2000)),
        finished_at: container_ran.then(|| rfc_s(tick + 3000)),
        ..pod
    }));
}

#[test]
fn a_failed_pod_started_only_if_its_container_ran() {
    let s = scenario();
    let mut log = Log::standard(&s, 1, "* * * * *", 2 * MIN);
    failed_run(&mut log, T0, false);
    let never_ran = log.analyze();
    assert_eq!(never_ran.counts.started, 0);
    let mut log = Log::standard(&s, 1, "* * * * *", 2 * MIN);
    failed_run(&mut log, T0, true);
    let ran = log.analyze();
    assert_eq!(ran.counts.started, 1);
}

#[test]
fn the_started_definition_is_shared() {
    let failed = PodObs {
        phase: Some("Failed".into()),
        node: Some("n".into()),
        ..PodObs::default()
    };
    assert!(!failed.started() && failed.bound() && failed.finished());
    let ran = PodObs {
        started_at: Some(rfc_s(T0)),
        ..failed.clone()
    };
    assert!(ran.started() && ran.finished() && !ran.succeeded());
    let running = PodObs {
        phase: Some("Running".into()),
        ..PodObs::default()
    };
    assert!(running.started() && running.bound() && !running.finished());
}

/// A Failed pod counts as started only with a container start time, in every figure the
/// results give of starts: the count, the started share, the schedule -> started stage on both
/// clocks and the starts per minute.
#[test]
fn a_failed_pod_without_a_container_start_is_not_started_anywhere_in_the_results() {
    let s = scenario();
    let mut log = Log::standard(&s, 1, "* * * * *", 2 * MIN);
    failed_run(&mut log, T0, false);
    let r = log.analyze();
    assert_eq!((r.counts.observed, r.counts.started), (1, 0));
    assert_eq!(r.counts.started_within_slo, 0);
    assert_eq!(stage(&r, Stage::ScheduleToStarted, Clock::Client).count, 0);
    assert_eq!(stage(&r, Stage::ScheduleToStarted, Clock::Server).count, 0);
    assert_eq!(r.throughput.started_in_window, 0);
    assert_eq!(check(&r, Check::StartedShare).measured, Some(0.0));
}

#[test]
fn a_failed_pod_with_a_container_start_is_started_from_the_line_that_showed_it() {
    let s = scenario();
    let mut log = Log::standard(&s, 1, "* * * * *", 2 * MIN);
    failed_run(&mut log, T0, true);
    let r = log.analyze();
    assert_eq!((r.counts.observed, r.counts.started), (1, 1));
    assert_eq!(r.counts.started_within_slo, 1);
    // Client clock: the Failed line (T0 + 3 s) was the first to show the start; server clock:
    // the container's start time (T0 + 2 s).
    let client = stage(&r, Stage::ScheduleToStarted, Clock::Client);
    assert_eq!((client.count, client.max_ms), (1, Some(3_000)));
    let server = stage(&r, Stage::ScheduleToStarted, Clock::Server);
    assert_eq!((server.count, server.max_ms), (1, Some(2_000)));
    assert_eq!(r.throughput.started_in_window, 1);
}

#[test]
fn a_failed_run_over_before_the_log_ends_counts_its_start_the_same_way() {
    for container_ran in [false, true] {
        let s = scenario();
        let mut log = Log::standard(&s, 1, "* * * * *", 2 * MIN);
        failed_run(&mut log, T0, container_ran);
        let job = job_name(&cj(0), T0);
        // The history limit deletes the pod, then the Job: the run is handed on mid-log.
        log.push(LogLine::Pod(PodObs {
            recv_ms: T0 + 10_000,
            name: format!("{job}-xyz"),
            job: Some(job.clone()),
            phase: Some("Failed".into()),
            started_at: container_ran.then(|| rfc_s(T0 + 2000)),
            deleted: true,
            ..PodObs::default()
        }));
        log.push(LogLine::Job(JobObs {
            recv_ms: T0 + 11_000,
            name: job,
            cronjob: Some(cj(0)),
            scheduled: Some(rfc(T0)),
            deleted: true,
            ..JobObs::default()
        }));
        let mut lines = log.lines().into_iter();
        let mut a = state::Analyzer::new(lines.next().expect("run_started")).expect("analyzer");
        lines.for_each(|l| a.push(l));
        assert_eq!(a.jobs_held(), 0, "the run was over before the log ended");
        let r = a.finish().expect("results");
        assert_eq!(
            r.counts.started,
            u64::from(container_ran),
            "{container_ran}"
        );
        assert_eq!(
            stage(&r, Stage::ScheduleToStarted, Clock::Client).count,
            u64::from(container_ran)
        );
    }
}

/// A Pod line received at `recv_ms` for the run of `T0` of `cj(0)`.
fn stray_pod(recv_ms: i64) -> LogLine {
    let job = job_name(&cj(0), T0);
    LogLine::Pod(PodObs {
        recv_ms,
        name: format!("{job}-stray"),
        job: Some(job),
        phase: Some("Pending".into()),
        ..PodObs::default()
    })
}

const HARNESS: crate::host::HarnessCost = crate::host::HarnessCost {
    cpu_s: 1.5,
    peak_rss_kb: 20_480,
};

#[test]
fn the_harness_cost_of_the_run_ended_line_reaches_the_results() {
    assert_eq!(healthy().analyze().run.harness, Some(HARNESS));
}

#[test]
fn lines_received_years_away_are_anomalies_left_out_of_the_series() {
    let plain = healthy().analyze();
    let mut log = healthy();
    // Year 9999, and the largest time there is.
    log.push(stray_pod(253_402_300_799_000));
    log.push(stray_pod(i64::MAX));
    let r = log.analyze();
    assert_eq!(r.anomalies.lines_out_of_span, 2);
    assert_eq!(r.throughput.pending.len(), plain.throughput.pending.len());
    assert_eq!(r.run.last_recv_ms, plain.run.last_recv_ms);
    assert_eq!(r.counts, plain.counts);
    assert_eq!(r.run.lines, plain.run.lines + 2);
}

#[test]
fn a_measure_phase_received_at_time_zero_does_not_open_the_window() {
    let s = scenario();
    let mut log = Log::standard(&s, 1, "* * * * *", 2 * MIN);
    log.phase(0, Phase::Measure);
    let r = log.analyze();
    assert_eq!(r.anomalies.lines_out_of_span, 1);
    let w = r.window.expect("the log's own measure phase");
    assert_eq!(w.start_ms, T0);
    assert!(
        r.throughput.pending.len() < 100,
        "{}",
        r.throughput.pending.len()
    );
    assert!(r.throughput.started_per_minute.len() <= 3);
}

#[test]
fn a_line_within_the_run_span_is_kept() {
    assert!(super::ingest::in_run_span(T0, T0 - 1000));
    assert!(super::ingest::in_run_span(T0, T0 + 6 * 24 * 3_600_000));
    assert!(!super::ingest::in_run_span(T0, 0));
    assert!(!super::ingest::in_run_span(T0, i64::MAX));
    assert!(!super::ingest::in_run_span(i64::MAX, i64::MIN));
}

/// One CronJob on `*/2 * * * *` in `zone`, observed running at odd UTC minutes: what
/// `*/2` fires in Asia/Kathmandu (UTC+05:45), where even local minutes are odd UTC ones.
fn kathmandu_runs(zone: Option<&str>) -> Results {
    let s = scenario();
    let mut log = Log::standard(&s, 0, "*/2 * * * *", 6 * MIN);
    log.push(LogLine::CronJobCreated(crate::schema::CronJobCreated {
        recv_ms: T0 - 110_000,
        name: cj(0),
        schedule: "*/2 * * * *".into(),
        time_zone: zone.map(str::to_string),
        ..Default::default()
    }));
    for k in [1, 3, 5] {
        log.run(&cj(0), T0 + k * MIN, FAST, "node-a");
    }
    log.analyze()
}

#[test]
fn a_cronjob_with_a_time_zone_is_expected_at_its_zones_ticks() {
    let r = kathmandu_runs(Some("Asia/Kathmandu"));
    assert_eq!((r.counts.expected, r.counts.missed), (3, 0));
    assert_eq!(r.counts.unexpected, 0);
    // Read in UTC, the same runs are all off-schedule and every even minute is missed.
    let utc = kathmandu_runs(None);
    assert_eq!((utc.counts.expected, utc.counts.missed), (3, 3));
}

mod fleet;

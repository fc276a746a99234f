//! Per-policy accounting, per-class and per-zone results and the herd, on logs built here.

use super::*;
use crate::results::{ControllerWarning, Results};
use crate::scenario::ConcurrencyPolicy;
use crate::schema::{CronJobCreated, EventObs};

/// A CronJob line with a class, zone, policy and deadline.
fn cronjob_line(
    name: &str,
    schedule: &str,
    class: &str,
    zone: Option<&str>,
    policy: Option<ConcurrencyPolicy>,
    deadline: Option<i64>,
) -> LogLine {
    LogLine::CronJobCreated(CronJobCreated {
        recv_ms: T0 - 110_000,
        name: name.into(),
        schedule: schedule.into(),
        time_zone: zone.map(str::to_string),
        class: Some(class.into()),
        concurrency_policy: policy,
        starting_deadline_seconds: deadline,
        suspend: false,
    })
}

/// The standard phases around a window of `measure_ms` from T0, with no CronJob yet.
fn fleet_log(s: &Scenario, measure_ms: i64) -> Log {
    Log::standard(s, 0, "* * * * *", measure_ms)
}

fn cronjob_event(recv_ms: i64, reason: &str, object: &str, note: &str) -> LogLine {
    LogLine::Event(EventObs {
        recv_ms,
        reason: reason.into(),
        kind: "CronJob".into(),
        object: object.into(),
        time: None,
        note: Some(note.into()),
    })
}

/// Go's RFC1123Z, as the controller writes the MissSchedule note.
fn rfc1123z(ms: i64) -> String {
    let t = jiff::Timestamp::from_millisecond(ms).expect("test time in range");
    t.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

/// A log with one every-minute CronJob of class `c` and a window of `measure_ms`.
fn one_cronjob(
    measure_ms: i64,
    name: &str,
    policy: Option<ConcurrencyPolicy>,
    deadline: Option<i64>,
) -> Log {
    let mut log = fleet_log(&scenario(), measure_ms);
    log.push(cronjob_line(name, "* * * * *", "c", None, policy, deadline));
    log
}

fn policies(r: &Results) -> &crate::results::Policies {
    r.policies
        .as_ref()
        .expect("a mixed fleet has a policies section")
}

#[test]
fn forbid_ticks_while_the_previous_job_runs_are_skipped_not_missed() {
    let mut log = one_cronjob(4 * MIN, "fb", Some(ConcurrencyPolicy::Forbid), None);
    // The T0 run runs 150 s: the ticks at +1 and +2 minutes find it active.
    let long = Delays {
        finish: 150_000,
        ..FAST
    };
    log.run("fb", T0, long, "node-a");
    log.run("fb", T0 + 3 * MIN, FAST, "node-a");
    let r = log.analyze();
    assert_eq!(r.counts.expected, 4);
    assert_eq!(r.counts.missed, 0, "{:?}", r.counts.missed_runs);
    let p = policies(&r);
    assert_eq!(p.forbid.cronjobs, 1);
    assert_eq!(p.forbid.skipped_while_active, 2);
    assert_eq!(p.forbid.overlaps, 0);
    let class = &r.classes[0];
    assert_eq!(class.class, "c");
    assert_eq!(class.counts.skipped_while_active, 2);
    assert_eq!(class.counts.missed, 0);
}

#[test]
fn a_forbid_job_created_while_another_is_active_is_an_overlap() {
    let mut log = one_cronjob(3 * MIN, "fb", Some(ConcurrencyPolicy::Forbid), None);
    let long = Delays {
        finish: 90_000,
        ..FAST
    };
    log.run("fb", T0, long, "node-a");
    log.run("fb", T0 + MIN, FAST, "node-a");
    log.run("fb", T0 + 2 * MIN, FAST, "node-a");
    let r = log.analyze();
    assert_eq!(policies(&r).forbid.overlaps, 1);
    assert_eq!(policies(&r).forbid.skipped_while_active, 0);
}

#[test]
fn a_replace_job_deleted_while_active_for_a_newer_one_is_a_replacement() {
    let mut log = one_cronjob(2 * MIN, "rp", Some(ConcurrencyPolicy::Replace), None);
    let job = job_name("rp", T0);
    let obs = JobObs {
        recv_ms: T0 + 1000,
        name: job.clone(),
        cronjob: Some("rp".into()),
        scheduled: Some(rfc(T0)),
        ..JobObs::default()
    };
    log.push(LogLine::Job(obs.clone()));
    log.push(LogLine::Job(JobObs {
        recv_ms: T0 + MIN + 500,
        deleted: true,
        ..obs
    }));
    log.run("rp", T0 + MIN, FAST, "node-a");
    let r = log.analyze();
    let p = policies(&r);
    assert_eq!(p.replace.cronjobs, 1);
    assert_eq!(p.replace.replacements, 1);
    assert_eq!(p.runs_not_started, 1, "the replaced Job never had a pod");
}

#[test]
fn ticks_the_controller_reported_past_the_deadline_are_skipped_not_missed() {
    let mut log = one_cronjob(3 * MIN, "dl", None, Some(10));
    log.run("dl", T0, FAST, "node-a");
    let note = format!(
        "Missed scheduled time to start a job: {}",
        rfc1123z(T0 + MIN)
    );
    log.push(cronjob_event(
        T0 + MIN + 20_000,
        "MissSchedule",
        "dl",
        &note,
    ));
    // The +2 minute tick has neither a Job nor an event: missed.
    let r = log.analyze();
    let p = policies(&r);
    assert_eq!(p.deadline.cronjobs, 1);
    assert_eq!(p.deadline.skipped_past_deadline, 1);
    assert_eq!(r.counts.missed, 1);
    assert_eq!(r.counts.missed_runs[0].scheduled_ms, T0 + 2 * MIN);
    assert_eq!(p.controller_warnings[&ControllerWarning::MissSchedule], 1);
}

#[test]
fn the_controllers_warnings_are_counted_by_reason_and_other_objects_are_not() {
    let mut log = healthy();
    for reason in [
        "TooManyMissedTimes",
        "FailedCreate",
        "FailedCreate",
        "UnexpectedJob",
    ] {
        log.push(cronjob_event(T0 + 5_000, reason, &cj(0), "x"));
    }
    log.push(LogLine::Event(EventObs {
        recv_ms: T0 + 5_000,
        reason: "FailedCreate".into(),
        kind: "Job".into(),
        object: "j".into(),
        ..EventObs::default()
    }));
    log.push(cronjob_event(
        T0 + 5_000,
        "SuccessfulCreate",
        &cj(0),
        "Created job",
    ));
    let r = log.analyze();
    let w = &policies(&r).controller_warnings;
    assert_eq!(w[&ControllerWarning::TooManyMissedTimes], 1);
    assert_eq!(w[&ControllerWarning::FailedCreate], 2);
    assert_eq!(w[&ControllerWarning::UnexpectedJob], 1);
    assert_eq!(w[&ControllerWarning::FailedNeedsStart], 0);
    assert!(r.classes.is_empty() && r.zones.is_empty() && r.herd.is_none());
}

#[test]
fn a_uniform_fleet_has_no_fleet_sections() {
    let r = healthy().analyze();
    assert!(r.policies.is_none());
    assert!(r.classes.is_empty() && r.zones.is_empty() && r.herd.is_none());
    let json = serde_json::to_string(&r).expect("results to json");
    for key in ["\"policies\"", "\"classes\"", "\"zones\"", "\"herd\""] {
        assert!(!json.contains(key), "{key} in {json}");
    }
}

fn classes_scenario() -> Scenario {
    let mut s = scenario();
    s.load.classes = serde_json::from_value(serde_json::json!([
        {"name": "payouts", "count": 2, "schedule": "0 * * * *",
         "slo": {"p99_schedule_to_start_s": 5.0, "start_within_s": 5.0, "min_started_share": 1.0}},
        {"name": "reports", "count": 1, "schedule": "* * * * *"},
    ]))
    .expect("classes");
    s
}

/// Classes `payouts` (hourly at :00, `payouts-00000` in UTC, `payouts-00001` in
/// `payouts_zone`) and `reports` (every minute, with `reports_policy`), a 3-minute window.
fn classes_log(payouts_zone: Option<&str>, reports_policy: Option<ConcurrencyPolicy>) -> Log {
    let mut log = fleet_log(&classes_scenario(), 3 * MIN);
    for (name, zone) in [("payouts-00000", None), ("payouts-00001", payouts_zone)] {
        log.push(cronjob_line(name, "0 * * * *", "payouts", zone, None, None));
    }
    let reports = cronjob_line(
        "reports-00000",
        "* * * * *",
        "reports",
        None,
        reports_policy,
        None,
    );
    log.push(reports);
    log
}

#[test]
fn each_class_and_zone_has_its_counts_percentiles_and_verdict() {
    let mut log = classes_log(Some("America/New_York"), None);
    // payouts: one fast (3.7 s to start), one slow (7.7 s): its 5 s SLO fails.
    log.run("payouts-00000", T0, FAST, "node-a");
    let slow = Delays { job: 5000, ..FAST };
    log.run("payouts-00001", T0, slow, "node-b");
    for k in [0, 2] {
        log.run("reports-00000", T0 + k * MIN, FAST, "node-a");
    }
    let r = log.analyze();
    let [payouts, reports] = &r.classes[..] else {
        panic!("two classes: {:?}", r.classes);
    };
    assert_eq!(payouts.counts.cronjobs, 2);
    assert_eq!(payouts.counts.expected, 2);
    assert_eq!(payouts.counts.started, 2);
    assert_eq!(payouts.counts.started_on_time, 1);
    assert_eq!(payouts.zones, ["America/New_York", "UTC"]);
    let s2s = &payouts.stages[6];
    assert_eq!(s2s.stage, Stage::ScheduleToStarted);
    assert_eq!(s2s.count, 2);
    let v = payouts.verdict.as_ref().expect("payouts has an SLO");
    assert!(!v.pass);
    assert_eq!(v.checks.len(), 2);
    assert_eq!(v.checks[1].measured, Some(0.5));
    assert_eq!(reports.counts.expected, 3);
    assert_eq!(reports.counts.missed, 1);
    assert!(reports.verdict.is_none(), "no SLO: just reported");
    let zones: Vec<(&str, u64)> = r
        .zones
        .iter()
        .map(|z| (z.zone.as_str(), z.counts.expected))
        .collect();
    assert_eq!(zones, [("America/New_York", 1), ("UTC", 4)]);
}

#[test]
fn the_herd_sums_starts_around_each_hour_and_splits_top_of_hour_latency() {
    let mut log = classes_log(None, None);
    log.run("payouts-00000", T0, FAST, "node-a");
    log.run("payouts-00001", T0, FAST, "node-b");
    for k in [0, 1, 2] {
        log.run("reports-00000", T0 + k * MIN, FAST, "node-a");
    }
    let r = log.analyze();
    let h = r
        .herd
        .as_ref()
        .expect("a herd for a mixed fleet with a window");
    assert_eq!(h.hours, 1);
    assert_eq!(h.from_offset_s, -60);
    assert_eq!(h.starts_per_second.len(), 360);
    // FAST starts 3.7 s after the tick: three runs at +3 s, one at +63 s and one at +123 s.
    assert_eq!(h.starts_per_second[63], 3);
    assert_eq!(h.starts_per_second.iter().sum::<u64>(), 5);
    assert_eq!((h.peak_per_second, h.peak_offset_s), (3, Some(3)));
    assert_eq!(h.top_of_hour.started, 3);
    assert_eq!(h.rest.started, 2);
    assert_close(h.top_of_hour.p99_ms, 3700);
}

#[test]
fn the_reports_show_each_class_the_policies_and_the_herd() {
    use crate::report::{Format, render_results};
    let mut log = classes_log(None, Some(ConcurrencyPolicy::Forbid));
    log.run("payouts-00000", T0, FAST, "node-a");
    for k in [0, 1, 2] {
        log.run("reports-00000", T0 + k * MIN, FAST, "node-a");
    }
    let r = log.analyze();
    let html = render_results(&r, None, Format::Html).expect("html");
    assert!(
        html.contains("<h2>Classes and policies</h2>"),
        "no class section"
    );
    assert!(html.contains("<td>payouts</td>") && html.contains("<td>reports</td>"));
    assert!(html.contains("reported (no class SLO)"));
    assert!(html.contains("FAIL (share started within deadline)"));
    assert!(html.contains("id=\"chart-herd\""), "no herd chart");
    assert!(
        html.contains("seconds from the hour boundary"),
        "no herd chart"
    );
    assert!(html.contains("controller Warning TooManyMissedTimes"));
    let md = render_results(&r, None, Format::Markdown).expect("markdown");
    assert!(
        md.contains("| class | zone(s) | CronJobs | expected |"),
        "{md}"
    );
    assert!(
        md.contains("| payouts | UTC | 2 | 2 | 1 | 1 | 0 | 0 |"),
        "{md}"
    );
    assert!(
        md.contains("Top-of-hour herd: 1 hour boundary(ies): peak 2 starts/s at +3 s"),
        "{md}"
    );
    assert!(
        md.contains("- UTC: 3 CronJobs, 5 expected, 4 started on time, 1 missed"),
        "{md}"
    );
    let table = summary_table(&r);
    assert!(table.contains("classes (expected / on time"), "{table}");
    assert!(
        table.contains("Forbid: overlapping Jobs (must be 0): 0 (1 CronJobs)"),
        "{table}"
    );
}

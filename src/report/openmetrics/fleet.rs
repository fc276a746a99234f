//! The mixed-fleet parts of `results.json` as metrics: per class (label `class`) and per time
//! zone (label `zone`) counts and stage summaries, each class's verdict, the per-policy counts
//! and the top-of-hour herd. Results without those parts add no family (an empty family is not
//! written), so their text is unchanged.

use super::{Family, Group, Sample, Value, serde_name, singles, stage_summary};
use crate::results::{ClassResults, GroupCounts, Herd, HerdLatency, Policies, Results};

pub(super) fn families(r: &Results) -> Vec<Family> {
    let mut all = class_families(&r.classes);
    all.extend(zone_families(r));
    all.extend(r.policies.as_ref().map(policy_families).unwrap_or_default());
    all.extend(r.herd.as_ref().map(herd_families).unwrap_or_default());
    all
}

/// Reads one count of a class or zone.
type GroupCount = fn(&GroupCounts) -> u64;

/// (name for classes, name for zones, help, count): the counts of `classes[].counts` and
/// `zones[].counts`.
const GROUP_COUNTS: [(&str, &str, &str, GroupCount); 11] = [
    (
        "class_cronjobs",
        "zone_cronjobs",
        "CronJobs of the class or time zone created (suspended ones included).",
        |c| c.cronjobs,
    ),
    (
        "class_cronjobs_suspended",
        "zone_cronjobs_suspended",
        "CronJobs of the class or time zone created suspended.",
        |c| c.suspended,
    ),
    (
        "class_runs_expected",
        "zone_runs_expected",
        "Schedule ticks of the class or time zone in the window (cron math).",
        |c| c.expected,
    ),
    (
        "class_runs_observed",
        "zone_runs_observed",
        "Distinct runs of the class or time zone observed in the window.",
        |c| c.observed,
    ),
    (
        "class_runs_started",
        "zone_runs_started",
        "Runs of the class or time zone in the window whose pod started.",
        |c| c.started,
    ),
    (
        "class_runs_started_on_time",
        "zone_runs_started_on_time",
        "Runs of the class or time zone started within the on-time limit (the class's slo.start_within_s, else the fleet's).",
        |c| c.started_on_time,
    ),
    (
        "class_runs_missed",
        "zone_runs_missed",
        "Expected ticks of the class or time zone with no run, not skipped by a policy.",
        |c| c.missed,
    ),
    (
        "class_runs_skipped_while_active",
        "zone_runs_skipped_while_active",
        "Expected ticks of the class or time zone skipped by concurrencyPolicy Forbid while a run was active.",
        |c| c.skipped_while_active,
    ),
    (
        "class_runs_skipped_past_deadline",
        "zone_runs_skipped_past_deadline",
        "Expected ticks of the class or time zone skipped past startingDeadlineSeconds.",
        |c| c.skipped_past_deadline,
    ),
    (
        "class_runs_failed",
        "zone_runs_failed",
        "Runs of the class or time zone in the window whose Job failed.",
        |c| c.failed,
    ),
    (
        "class_runs_completed",
        "zone_runs_completed",
        "Runs of the class or time zone in the window that completed.",
        |c| c.completed,
    ),
];

const GROUP_STAGES_HELP: &str = "Latency of each stage of the class's or time zone's runs, client clock, from an HDR histogram (2 significant digits; quantiles are lower bounds when outliers > 0).";

/// One family per count of [`GROUP_COUNTS`], with a sample per group.
fn group_counts<'a>(
    name_of: fn(&(&'static str, &'static str, &'static str, GroupCount)) -> &'static str,
    groups: &[(Vec<(&'static str, String)>, &'a GroupCounts)],
) -> Vec<Family> {
    GROUP_COUNTS
        .iter()
        .map(|row| {
            groups
                .iter()
                .fold(Family::gauge(name_of(row), row.2), |f, (labels, c)| {
                    f.with(labels.clone(), Value::Count((row.3)(c)))
                })
        })
        .collect()
}

fn class_label(c: &ClassResults) -> Vec<(&'static str, String)> {
    vec![("class", c.class.clone())]
}

fn class_families(classes: &[ClassResults]) -> Vec<Family> {
    let groups: Vec<_> = classes
        .iter()
        .map(|c| (class_label(c), &c.counts))
        .collect();
    let mut all = group_counts(|row| row.0, &groups);
    let mut stages = Family::summary_seconds("class_stage_latency_seconds", GROUP_STAGES_HELP);
    let mut on_time = Family::gauge(
        "class_start_within_seconds",
        "The on-time limit of the class's runs_started_on_time.",
    )
    .seconds();
    let mut verdict = Family::gauge(
        "class_verdict_pass",
        "1 when every check of the class's own slo passed, else 0; absent for a class without an slo.",
    );
    let mut checks = Family::gauge(
        "class_slo_check_pass",
        "1 when the check of the class's own slo passed, 0 when it failed.",
    );
    for c in classes {
        let group: Group = &class_label(c);
        stages = stage_summary(stages, group, &c.stages);
        on_time = on_time.with(group.to_vec(), Value::Real(c.start_within_s));
        if let Some(v) = &c.verdict {
            verdict = verdict.with(group.to_vec(), Value::flag(v.pass));
            for check in &v.checks {
                let mut labels = group.to_vec();
                labels.push(("check", serde_name(check.check)));
                checks = checks.with(labels, Value::flag(check.pass));
            }
        }
    }
    all.extend([stages, on_time, verdict, checks]);
    all
}

fn zone_families(r: &Results) -> Vec<Family> {
    let label = |zone: &str| vec![("zone", zone.to_string())];
    let groups: Vec<_> = r
        .zones
        .iter()
        .map(|z| (label(&z.zone), &z.counts))
        .collect();
    let mut all = group_counts(|row| row.1, &groups);
    let stages = r.zones.iter().fold(
        Family::summary_seconds("zone_stage_latency_seconds", GROUP_STAGES_HELP),
        |f, z| stage_summary(f, &label(&z.zone), &z.stages),
    );
    all.push(stages);
    all
}

fn policy_families(p: &Policies) -> Vec<Family> {
    let mut all = singles([
        (
            "policy_forbid_cronjobs",
            "CronJobs with concurrencyPolicy Forbid.",
            p.forbid.cronjobs,
        ),
        (
            "policy_forbid_overlaps",
            "Jobs of a Forbid CronJob first seen while another of its Jobs was active (must be 0).",
            p.forbid.overlaps,
        ),
        (
            "policy_forbid_skipped_while_active",
            "Expected ticks of Forbid CronJobs skipped while an earlier run was active (not missed).",
            p.forbid.skipped_while_active,
        ),
        (
            "policy_forbid_job_already_active_events",
            "JobAlreadyActive events about a CronJob (one per sync that held a tick back).",
            p.forbid.job_already_active_events,
        ),
        (
            "policy_replace_cronjobs",
            "CronJobs with concurrencyPolicy Replace.",
            p.replace.cronjobs,
        ),
        (
            "policy_replace_replacements",
            "Active Jobs of a Replace CronJob deleted for a Job of a later schedule.",
            p.replace.replacements,
        ),
        (
            "policy_deadline_cronjobs",
            "CronJobs with startingDeadlineSeconds.",
            p.deadline.cronjobs,
        ),
        (
            "policy_deadline_skipped_past_deadline",
            "Expected ticks skipped past the starting deadline (a MissSchedule event names them; not missed).",
            p.deadline.skipped_past_deadline,
        ),
        (
            "runs_not_started",
            "Runs observed in the window whose pod never started.",
            p.runs_not_started,
        ),
        (
            "pods_never_started",
            "Pods of any run that never started.",
            p.pods_never_started,
        ),
    ]);
    all.push(p.controller_warnings.iter().fold(
        Family::gauge(
            "controller_warnings",
            "Warning events of the CronJob controller about a CronJob, by reason (every reason, zeros included).",
        ),
        |f, (w, n)| f.with(vec![("reason", w.reason().to_string())], Value::Count(*n)),
    ));
    all
}

fn herd_families(h: &Herd) -> Vec<Family> {
    let mut all = singles([
        (
            "herd_hour_boundaries",
            "UTC hour boundaries whose herd window (1 min before to 5 min after) touches the measured window.",
            h.hours,
        ),
        (
            "herd_pods_started_peak_per_second",
            "Most pod starts in one second of any one herd window.",
            h.peak_per_second,
        ),
    ]);
    if let Some(offset) = h.peak_offset_s {
        all.push(
            Family::single(
                "herd_peak_offset_seconds",
                "Offset of the herd's peak second from its hour boundary.",
                Value::Real(offset as f64),
            )
            .seconds(),
        );
    }
    let sets = [("top_of_hour", &h.top_of_hour), ("rest", &h.rest)];
    let mut latency = Family::summary_seconds(
        "herd_schedule_to_started_seconds",
        "Schedule to pod started (client clock, 3 significant digits) of the window's runs scheduled at a UTC :00 (runs=top_of_hour) and of the rest; _count is the runs started.",
    );
    let mut max = Family::gauge(
        "herd_schedule_to_started_max_seconds",
        "Exact largest schedule to started of the runs at a UTC :00 and of the rest.",
    )
    .seconds();
    for (runs, l) in sets {
        latency.samples.extend(herd_samples(runs, l));
        if let Some(ms) = l.max_ms {
            max = max.with(
                vec![("runs", runs.to_string())],
                Value::seconds_of_ms(ms as f64),
            );
        }
    }
    all.extend([latency, max]);
    all
}

/// The quantiles and `_count` of one set of herd runs (`results.json` holds no sum).
fn herd_samples(runs: &str, l: &HerdLatency) -> Vec<Sample> {
    let label = || vec![("runs", runs.to_string())];
    let mut samples: Vec<Sample> = [("0.5", l.p50_ms), ("0.99", l.p99_ms)]
        .into_iter()
        .filter_map(|(quantile, ms)| {
            let mut labels = label();
            labels.push(("quantile", quantile.to_string()));
            ms.map(|ms| Sample::new(labels, Value::seconds_of_ms(ms as f64)))
        })
        .collect();
    samples.push(Sample {
        suffix: "_count",
        labels: label(),
        value: Value::Count(l.started),
    });
    samples
}

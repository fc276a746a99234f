//! The checks of `load.classes`: every problem of every class at once, as (key path, message).

use std::collections::BTreeSet;

use super::bounds::{MAX_CRONJOBS, MAX_DURATION_S, show};
use super::classes::{Class, ClassSchedule, ClassSlo, Generator, Minute, RunTime};
use super::cron::parse_schedule;
use super::validate::{all_resources_problems, name_problems, word_problem};
use super::{ConcurrencyPolicy, Load};

/// The most pods one run of a class may ask for (`parallelism`, `completions`): each is a pod
/// the cluster must start, and the run is a test of the CronJob controller, not of Job fan-out.
pub const MAX_PODS_PER_RUN: i32 = 100;

/// Problems with `load.classes` and how they sit with the rest of `load:`.
pub fn classes_problems(load: &Load) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if load.jobs_dir.is_some() {
        out.push((
            "load.classes".to_string(),
            "load.classes and load.jobs_dir are both set; a scenario takes its CronJobs from one \
             of them: remove one"
                .to_string(),
        ));
    }
    let mut names = BTreeSet::new();
    let mut total: u64 = 0;
    for (i, class) in load.classes.iter().enumerate() {
        let at = |key: &str| format!("load.classes[{i}].{key}");
        if !names.insert(class.name.as_str()) {
            out.push((
                at("name"),
                format!(
                    "class name '{}' is used twice; give each class its own name",
                    class.name
                ),
            ));
        }
        let longest = format!("{}{}-{:05}", load.name_prefix, class.name, 0);
        for msg in name_problems(&longest) {
            out.push((
                at("name"),
                format!("{msg} (names are load.name_prefix, the class name, '-' and 5 digits)"),
            ));
        }
        out.extend(size_problems(class, &at));
        total += u64::from(class.size(load.cronjobs));
        out.extend(schedule_problems(&class.schedule, &at));
        if let Some(zone) = &class.time_zone
            && let Err(msg) = super::zone::time_zone(zone)
        {
            out.push((at("time_zone"), msg));
        }
        if let Some(rt) = &class.run_time {
            out.extend(run_time_problems(rt, &at));
        }
        out.extend(policy_problems(class, &at));
        if let Some(r) = &class.resources {
            let key = at("resources");
            for msg in all_resources_problems(&key, r) {
                out.push((key.clone(), msg));
            }
        }
        if let Some(slo) = &class.slo {
            out.extend(slo_problems(slo, &at));
        }
    }
    if total == 0 {
        out.push((
            "load.classes".to_string(),
            "the classes hold no CronJobs; give a class a count (or a share of load.cronjobs)"
                .to_string(),
        ));
    }
    if total > MAX_CRONJOBS {
        out.push((
            "load.classes".to_string(),
            format!(
                "the classes hold {total} CronJobs, above the bound of {MAX_CRONJOBS} one run \
                 creates; lower the counts"
            ),
        ));
    }
    out
}

fn size_problems(class: &Class, at: &impl Fn(&str) -> String) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match (class.count, class.share) {
        (Some(_), Some(_)) => out.push((
            at("count"),
            "give either count or share, not both".to_string(),
        )),
        (None, None) => out.push((
            at("count"),
            "the class has neither count nor share; set count: N, or share: 0..1 of \
             load.cronjobs"
                .to_string(),
        )),
        (Some(0), None) => out.push((at("count"), "count is 0; set it to 1 or more".to_string())),
        (None, Some(s)) if !(s > 0.0 && s <= 1.0) => out.push((
            at("share"),
            format!(
                "share is {}; set it above 0 and at most 1 (of load.cronjobs)",
                show(s)
            ),
        )),
        _ => {}
    }
    out
}

fn schedule_problems(s: &ClassSchedule, at: &impl Fn(&str) -> String) -> Vec<(String, String)> {
    let key = at("schedule");
    let msg = match s {
        ClassSchedule::Cron(expr) => match parse_schedule(expr) {
            Ok(s) if s.never_fires() => Some(format!(
                "schedule '{expr}' never fires (no date matches, e.g. February 30th); pick days \
                 that exist"
            )),
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        },
        ClassSchedule::Generated(Generator::EveryMinutes(n)) if !(1..=60).contains(n) => {
            Some(format!("every_minutes is {n}; set it from 1 to 60"))
        }
        ClassSchedule::Generated(Generator::HourlyAt(Minute::At(m))) if *m > 59 => Some(format!(
            "hourly_at is {m}; set a minute from 0 to 59, or random"
        )),
        ClassSchedule::Generated(Generator::DailyBetween([from, to])) if from >= to || *to > 24 => {
            Some(format!(
                "daily_between is [{from}, {to}]; give hours H1 < H2 with H2 at most 24 (the \
                 run time is drawn in [H1:00, H2:00))"
            ))
        }
        ClassSchedule::Generated(_) => None,
    };
    msg.map(|m| (key, m)).into_iter().collect()
}

fn run_time_problems(rt: &RunTime, at: &impl Fn(&str) -> String) -> Vec<(String, String)> {
    let key = at("run_time");
    let max = MAX_DURATION_S as f64;
    let bad = |v: f64| !(v.is_finite() && v >= 0.0 && v <= max);
    let msg = match (rt.fixed_s, rt.p50_s, rt.p99_s) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            Some("give either fixed_s or p50_s and p99_s, not both".to_string())
        }
        (None, None, _) => Some("run_time needs fixed_s, or p50_s and p99_s".to_string()),
        (Some(v), None, None) | (None, Some(v), None) if bad(v) => Some(format!(
            "{} s is not a run time from 0 to {MAX_DURATION_S} s",
            show(v)
        )),
        (None, Some(p50), Some(p99)) if bad(p50) || bad(p99) || p50 <= 0.0 || p99 < p50 => {
            Some(format!(
                "p50_s {} and p99_s {}: give 0 < p50_s <= p99_s <= {MAX_DURATION_S}",
                show(p50),
                show(p99)
            ))
        }
        _ => None,
    };
    msg.map(|m| (key, m)).into_iter().collect()
}

fn policy_problems(class: &Class, at: &impl Fn(&str) -> String) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, v) in [
        ("failure_share", class.failure_share),
        ("suspend_share", class.suspend_share),
    ] {
        if !(0.0..=1.0).contains(&v) {
            out.push((at(key), format!("{key} is {}; set it from 0 to 1", show(v))));
        }
    }
    if let Some(word) = class.concurrency_policy.as_ref().and_then(|p| p.unknown()) {
        let key = at("concurrency_policy");
        out.push((
            key.clone(),
            word_problem(&key, word, ConcurrencyPolicy::ALLOWED),
        ));
    }
    for (key, v, min) in [
        (
            "starting_deadline_seconds",
            class.starting_deadline_seconds,
            0,
        ),
        ("active_deadline_seconds", class.active_deadline_seconds, 1),
        ("backoff_limit", class.backoff_limit.map(i64::from), 0),
        (
            "successful_jobs_history_limit",
            class.successful_jobs_history_limit.map(i64::from),
            0,
        ),
        (
            "failed_jobs_history_limit",
            class.failed_jobs_history_limit.map(i64::from),
            0,
        ),
    ] {
        if let Some(v) = v
            && v < min
        {
            out.push((at(key), format!("{key} is {v}; set it to {min} or more")));
        }
    }
    for (key, v) in [
        ("parallelism", class.parallelism),
        ("completions", class.completions),
    ] {
        if let Some(v) = v
            && !(1..=MAX_PODS_PER_RUN).contains(&v)
        {
            out.push((
                at(key),
                format!(
                    "{key} is {v}; set it from 1 to {MAX_PODS_PER_RUN} (pods per run: the test \
                     is of the CronJob controller, not of Job fan-out)"
                ),
            ));
        }
    }
    out
}

fn slo_problems(slo: &ClassSlo, at: &impl Fn(&str) -> String) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (key, v) in [
        ("slo.p99_schedule_to_start_s", slo.p99_schedule_to_start_s),
        ("slo.start_within_s", slo.start_within_s),
    ] {
        if let Some(v) = v
            && !(v.is_finite() && v > 0.0)
        {
            out.push((
                at(key),
                format!("{key} is {}; set it above 0 seconds", show(v)),
            ));
        }
    }
    if let Some(v) = slo.min_started_share
        && !(0.0..=1.0).contains(&v)
    {
        out.push((
            at("slo.min_started_share"),
            format!("slo.min_started_share is {}; set it from 0 to 1", show(v)),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<(String, String)> {
        let load: Load = serde_saphyr::from_str(yaml).expect("load yaml");
        classes_problems(&load)
    }

    #[test]
    fn a_good_mixed_fleet_has_no_problems() {
        let p = problems(
            "classes:\n\
             - {name: hourly, count: 10, schedule: {hourly_at: 0}, time_zone: Europe/Berlin}\n\
             - {name: every5, count: 10, schedule: {every_minutes: 5}, failure_share: 0.1}\n\
             - {name: nightly, count: 3, schedule: {daily_between: [1, 4]}, \
                concurrency_policy: Forbid, run_time: {p50_s: 60, p99_s: 600}, \
                starting_deadline_seconds: 30, slo: {p99_schedule_to_start_s: 60}}\n",
        );
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn every_bad_class_field_is_named_with_its_key_path() {
        let p = problems(
            "jobs_dir: x\nclasses:\n\
             - {name: a, count: 1, share: 0.5, schedule: '61 * * * *'}\n\
             - {name: a, schedule: {every_minutes: 0}, time_zone: Mars/Base, \
                failure_share: 2, run_time: {p50_s: 10, p99_s: 5}, parallelism: 1000, \
                concurrency_policy: forbid, active_deadline_seconds: 0}\n",
        );
        let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        for key in [
            "load.classes",
            "load.classes[0].count",
            "load.classes[0].schedule",
            "load.classes[1].name",
            "load.classes[1].count",
            "load.classes[1].schedule",
            "load.classes[1].time_zone",
            "load.classes[1].failure_share",
            "load.classes[1].run_time",
            "load.classes[1].parallelism",
            "load.classes[1].concurrency_policy",
            "load.classes[1].active_deadline_seconds",
        ] {
            assert!(keys.contains(&key), "{key} missing from {p:#?}");
        }
    }
}

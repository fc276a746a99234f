//! A live cluster's CronJobs as classes (`load.classes`): CronJobs whose copied settings are
//! identical are one class with a count. Only timing, policies, limits and the first
//! container's resources are copied; images, commands, args, env, secrets and volumes never are
//! (they are not even read).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use k8s_openapi::api::batch::v1::CronJob;
use serde::Serialize;

use super::quoted;
use crate::scenario::{ConcurrencyPolicy, Resources, parse_schedule, time_zone};

/// The name prefix imported scenarios use (`load.name_prefix`).
pub const NAME_PREFIX: &str = "cb-";
/// The longest class name: `{NAME_PREFIX}{class}-{i:05}` stays within 52 characters (the
/// controller appends 11 to Job names).
pub const MAX_CLASS_NAME: usize = 52 - NAME_PREFIX.len() - 6;
/// CronJobs named in a class's comment.
const NAMED: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error(
        "CronJob {object}: schedule '{schedule}': {problem}; cronbench cannot measure this \
         CronJob: fix its schedule on the cluster, or import a namespace without it (--namespace)"
    )]
    Schedule {
        object: String,
        schedule: String,
        problem: String,
    },
    #[error(
        "CronJob {object}: time zone '{zone}': {problem}; fix spec.timeZone on the cluster, or \
         import a namespace without it (--namespace)"
    )]
    Zone {
        object: String,
        zone: String,
        problem: String,
    },
    #[error(
        "CronJob {object}: its schedule starts with {prefix} but spec.timeZone is '{zone}'; \
         the apiserver refuses both together: remove the prefix on the cluster"
    )]
    TwoZones {
        object: String,
        prefix: String,
        zone: String,
    },
    #[error("CronJob {object}: {problem}")]
    Object { object: String, problem: String },
}

/// What is copied from one CronJob; CronJobs with equal settings form one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    pub schedule: String,
    pub time_zone: Option<String>,
    pub concurrency_policy: ConcurrencyPolicy,
    pub starting_deadline_seconds: Option<i64>,
    pub suspend: bool,
    pub successful_jobs_history_limit: Option<i32>,
    pub failed_jobs_history_limit: Option<i32>,
    pub parallelism: Option<i32>,
    pub completions: Option<i32>,
    pub active_deadline_seconds: Option<i64>,
    pub backoff_limit: Option<i32>,
    /// The first container's requests and limits (empty when it sets none).
    pub resources: Resources,
}

/// CronJobs with the same settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub settings: Settings,
    /// `namespace/name` of the first few, the first naming the class.
    pub names: Vec<String>,
    pub count: u32,
}

/// The CronJobs read so far, grouped in the order their settings first appeared.
#[derive(Debug, Default)]
pub struct Fleet {
    pub groups: Vec<Group>,
    /// Settings (as JSON) -> index in `groups`.
    index: HashMap<String, usize>,
    pub total: u64,
}

impl Fleet {
    /// Adds one CronJob (checked: a schedule or zone cronbench cannot read is an error).
    pub fn add(&mut self, cj: &CronJob) -> Result<(), FleetError> {
        let object = object_name(cj);
        let settings = settings_of(cj, &object)?;
        let key = serde_json::to_string(&settings).map_err(|e| FleetError::Object {
            object: object.clone(),
            problem: e.to_string(),
        })?;
        self.total += 1;
        match self.index.get(&key) {
            Some(&i) => {
                let g = &mut self.groups[i];
                g.count += 1;
                if g.names.len() < NAMED {
                    g.names.push(object);
                }
            }
            None => {
                self.index.insert(key, self.groups.len());
                self.groups.push(Group {
                    settings,
                    names: vec![object],
                    count: 1,
                });
            }
        }
        Ok(())
    }
}

fn object_name(cj: &CronJob) -> String {
    let ns = cj.metadata.namespace.as_deref().unwrap_or("?");
    let name = cj.metadata.name.as_deref().unwrap_or("?");
    format!("{ns}/{name}")
}

/// `TZ=zone rest` or `CRON_TZ=zone rest` as (prefix, zone, rest).
fn zone_prefix(schedule: &str) -> Option<(&str, &str, &str)> {
    let (prefix, rest) = ["CRON_TZ=", "TZ="]
        .into_iter()
        .find_map(|p| schedule.strip_prefix(p).map(|r| (p, r)))?;
    let (zone, rest) = rest.split_once(char::is_whitespace)?;
    Some((prefix, zone, rest.trim()))
}

/// The copied settings of `cj` (named `object` in errors).
pub fn settings_of(cj: &CronJob, object: &str) -> Result<Settings, FleetError> {
    let spec = cj.spec.as_ref().ok_or_else(|| FleetError::Object {
        object: object.to_string(),
        problem: "it has no spec; the apiserver always sets one: is this a CronJob?".into(),
    })?;
    let raw = spec.schedule.trim();
    let (schedule, zone) = match (zone_prefix(raw), &spec.time_zone) {
        (Some((prefix, _, _)), Some(zone)) => {
            return Err(FleetError::TwoZones {
                object: object.to_string(),
                prefix: prefix.trim_end_matches('=').to_string(),
                zone: zone.clone(),
            });
        }
        (Some((_, zone, rest)), None) => (rest.to_string(), Some(zone.to_string())),
        (None, zone) => (raw.to_string(), zone.clone()),
    };
    let bad_schedule = |problem: String| FleetError::Schedule {
        object: object.to_string(),
        schedule: spec.schedule.clone(),
        problem,
    };
    match parse_schedule(&schedule) {
        Ok(s) if s.never_fires() => {
            return Err(bad_schedule(
                "it never fires (no date matches, e.g. February 30th)".into(),
            ));
        }
        Ok(_) => {}
        Err(e) => return Err(bad_schedule(e.to_string())),
    }
    if let Some(z) = &zone {
        time_zone(z).map_err(|problem| FleetError::Zone {
            object: object.to_string(),
            zone: z.clone(),
            problem,
        })?;
    }
    let policy = ConcurrencyPolicy::from(spec.concurrency_policy.as_deref().unwrap_or("Allow"));
    if let Some(word) = policy.unknown() {
        return Err(FleetError::Object {
            object: object.to_string(),
            problem: format!(
                "concurrencyPolicy '{word}' is none of Allow, Forbid, Replace; fix it on the \
                 cluster"
            ),
        });
    }
    let job = spec.job_template.spec.as_ref();
    let container = job
        .and_then(|j| j.template.spec.as_ref())
        .and_then(|p| p.containers.first());
    let quantities = |m: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >| {
        m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
            .unwrap_or_default()
    };
    let res = container.and_then(|c| c.resources.as_ref());
    Ok(Settings {
        schedule,
        time_zone: zone,
        concurrency_policy: policy,
        starting_deadline_seconds: spec.starting_deadline_seconds,
        suspend: spec.suspend.unwrap_or(false),
        successful_jobs_history_limit: spec.successful_jobs_history_limit,
        failed_jobs_history_limit: spec.failed_jobs_history_limit,
        parallelism: job.and_then(|j| j.parallelism),
        completions: job.and_then(|j| j.completions),
        active_deadline_seconds: job.and_then(|j| j.active_deadline_seconds),
        backoff_limit: job.and_then(|j| j.backoff_limit),
        resources: Resources {
            requests: quantities(res.and_then(|r| r.requests.as_ref())),
            limits: quantities(res.and_then(|r| r.limits.as_ref())),
        },
    })
}

/// One class name per group: the first CronJob's name as a DNS label of at most
/// [`MAX_CLASS_NAME`] characters, made unique with `-2`, `-3` ...
pub fn class_names(groups: &[Group]) -> Vec<String> {
    let mut used = BTreeSet::new();
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let first = g.names.first().map(String::as_str).unwrap_or("job");
        let base = super::crontab::label(first.rsplit('/').next().unwrap_or(first));
        let mut name = cut(&base, MAX_CLASS_NAME);
        let mut n = 2;
        while used.contains(&name) {
            let suffix = format!("-{n}");
            name = format!("{}{suffix}", cut(&base, MAX_CLASS_NAME - suffix.len()));
            n += 1;
        }
        used.insert(name.clone());
        out.push(name);
    }
    out
}

/// `s` cut to `max` characters without a trailing dash (labels are ASCII).
fn cut(s: &str, max: usize) -> String {
    let cut: String = s.chars().take(max).collect();
    let cut = cut.trim_end_matches('-');
    if cut.is_empty() {
        "job".into()
    } else {
        cut.into()
    }
}

/// The `classes:` block of `load:`, one commented class per group, counts times `scale`.
pub fn classes_yaml(groups: &[Group], names: &[String], scale: u32) -> String {
    let mut out = String::from("  classes:\n");
    // From one namespace (the header names it), the comments name CronJobs without it.
    let namespaces: BTreeSet<&str> = groups
        .iter()
        .flat_map(|g| &g.names)
        .filter_map(|n| n.split_once('/').map(|(ns, _)| ns))
        .collect();
    let shown = |n: &String| match n.split_once('/') {
        Some((_, name)) if namespaces.len() == 1 => name.to_string(),
        _ => n.clone(),
    };
    for (g, name) in groups.iter().zip(names) {
        let s = &g.settings;
        let more = g.count as usize - g.names.len();
        let mut like = g.names.iter().map(shown).collect::<Vec<_>>().join(", ");
        if more > 0 {
            let _ = write!(like, " and {more} more");
        }
        let _ = writeln!(out, "  # {} CronJob(s): {like}", g.count);
        let _ = writeln!(out, "  - name: {name}");
        let _ = writeln!(out, "    count: {}", u64::from(g.count) * u64::from(scale));
        let _ = writeln!(out, "    schedule: {}", quoted(&s.schedule));
        if let Some(z) = &s.time_zone {
            let _ = writeln!(out, "    time_zone: {}", quoted(z));
        }
        if s.concurrency_policy != ConcurrencyPolicy::Allow {
            let _ = writeln!(
                out,
                "    concurrency_policy: {}",
                s.concurrency_policy.as_str()
            );
        }
        if s.suspend {
            let _ = writeln!(out, "    suspend_share: 1  # suspended on the cluster");
        }
        for (key, v) in [
            ("starting_deadline_seconds", s.starting_deadline_seconds),
            (
                "successful_jobs_history_limit",
                s.successful_jobs_history_limit.map(i64::from),
            ),
            (
                "failed_jobs_history_limit",
                s.failed_jobs_history_limit.map(i64::from),
            ),
            ("parallelism", s.parallelism.map(i64::from)),
            ("completions", s.completions.map(i64::from)),
            ("active_deadline_seconds", s.active_deadline_seconds),
            ("backoff_limit", s.backoff_limit.map(i64::from)),
        ] {
            if let Some(v) = v {
                let _ = writeln!(out, "    {key}: {v}");
            }
        }
        out.push_str(&resources_yaml(&s.resources));
    }
    out
}

fn resources_yaml(r: &Resources) -> String {
    if r.requests.is_empty() && r.limits.is_empty() {
        return "    resources: {}  # none on the cluster\n".into();
    }
    let flow = |m: &std::collections::BTreeMap<String, String>| {
        let items: Vec<String> = m
            .iter()
            .map(|(k, v)| format!("{}: {}", quoted(k), quoted(v)))
            .collect();
        format!("{{{}}}", items.join(", "))
    };
    let mut out = String::from("    resources:\n");
    for (key, m) in [("requests", &r.requests), ("limits", &r.limits)] {
        if !m.is_empty() {
            let _ = writeln!(out, "      {key}: {}", flow(m));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cronjob(ns: &str, name: &str, spec: serde_json::Value) -> CronJob {
        let mut spec = spec;
        spec["jobTemplate"] = serde_json::json!({ "spec": { "template": { "spec": {
            "containers": [{ "name": "c", "image": "secret.example/app:1",
                             "command": ["/bin/deploy", "--token=hunter2"],
                             "env": [{"name": "PASSWORD", "value": "hunter2"}],
                             "resources": { "requests": { "cpu": "100m" } } }]
        }}}});
        serde_json::from_value(serde_json::json!({
            "metadata": { "namespace": ns, "name": name },
            "spec": spec,
        }))
        .expect("a CronJob")
    }

    #[test]
    fn equal_settings_group_into_one_class_and_different_ones_do_not() {
        let mut fleet = Fleet::default();
        for i in 0..5 {
            let cj = cronjob(
                "a",
                &format!("hourly-{i}"),
                serde_json::json!({"schedule": "0 * * * *"}),
            );
            fleet.add(&cj).expect("adds");
        }
        let forbid = serde_json::json!({"schedule": "0 * * * *", "concurrencyPolicy": "Forbid"});
        fleet.add(&cronjob("a", "forbid", forbid)).expect("adds");
        let tz = serde_json::json!({"schedule": "CRON_TZ=Asia/Tokyo 30 2 * * *"});
        fleet.add(&cronjob("b", "tokyo", tz)).expect("adds");
        assert_eq!(fleet.total, 7);
        let counts: Vec<u32> = fleet.groups.iter().map(|g| g.count).collect();
        assert_eq!(counts, [5, 1, 1]);
        assert_eq!(
            fleet.groups[0].names,
            ["a/hourly-0", "a/hourly-1", "a/hourly-2"]
        );
        let tokyo = &fleet.groups[2].settings;
        assert_eq!(tokyo.schedule, "30 2 * * *");
        assert_eq!(tokyo.time_zone.as_deref(), Some("Asia/Tokyo"));
        let yaml = classes_yaml(&fleet.groups, &class_names(&fleet.groups), 3);
        assert!(yaml.contains("count: 15"), "{yaml}");
        assert!(
            yaml.contains("a/hourly-0, a/hourly-1, a/hourly-2 and 2 more"),
            "{yaml}"
        );
        assert!(yaml.contains("concurrency_policy: Forbid"), "{yaml}");
        assert!(yaml.contains("requests: {'cpu': '100m'}"), "{yaml}");
        for leak in ["secret.example", "hunter2", "deploy", "PASSWORD"] {
            assert!(!yaml.contains(leak), "{leak} leaked: {yaml}");
        }
    }

    #[test]
    fn class_names_are_unique_labels_that_keep_cronjob_names_within_52() {
        let long = "Very_Long.Name".repeat(8);
        let groups: Vec<Group> = (0..12)
            .map(|i| {
                let cj = cronjob(
                    "n",
                    &long,
                    serde_json::json!({"schedule": format!("{i} * * * *")}),
                );
                let mut f = Fleet::default();
                f.add(&cj).expect("adds");
                f.groups.remove(0)
            })
            .collect();
        let names = class_names(&groups);
        let unique: BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), 12);
        for n in &names {
            let full = format!("{NAME_PREFIX}{n}-99999");
            assert!(full.len() <= 52, "{full}");
            assert!(
                crate::scenario::validate::name_problems(&full).is_empty(),
                "{full}"
            );
        }
        assert!(names[11].ends_with("-12"), "{}", names[11]);
    }

    #[test]
    fn an_unreadable_schedule_or_two_zones_name_the_object_and_the_fix() {
        let mut fleet = Fleet::default();
        let every = cronjob("ops", "poll", serde_json::json!({"schedule": "@every 5m"}));
        let e = fleet.add(&every).expect_err("refused").to_string();
        assert!(
            e.starts_with("CronJob ops/poll: schedule '@every 5m'"),
            "{e}"
        );
        assert!(e.contains("--namespace"), "{e}");
        let both = serde_json::json!({"schedule": "TZ=UTC 0 * * * *", "timeZone": "Europe/Berlin"});
        let e = fleet
            .add(&cronjob("ops", "both", both))
            .expect_err("refused")
            .to_string();
        assert!(e.contains("ops/both") && e.contains("TZ"), "{e}");
        let feb30 = serde_json::json!({"schedule": "0 0 30 2 *"});
        let e = fleet
            .add(&cronjob("ops", "never", feb30))
            .expect_err("refused")
            .to_string();
        assert!(e.contains("never fires"), "{e}");
        assert_eq!(fleet.total, 0);
    }
}

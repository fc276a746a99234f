//! Loading a scenario file, checking it, and resolving the CronJobs it asks for.

use std::path::{Path, PathBuf};

use super::bounds;
use super::cron::{jobs_per_minute, parse_schedule};
use super::jobdefs;
use super::text::{self, Doc};
use super::validate::{
    all_resources_problems, name_problems, node_selector_problems, toleration_problems,
    word_problem,
};
use super::{ConcurrencyPolicy, CronJobDef, ImagePullPolicy, Problem, Scenario, ScenarioError};

/// A shipped scenario showing every key, named in parse errors.
pub const SCENARIO_EXAMPLE: &str = "scenarios/smoke.yaml";

/// The keys a scenario file may have at the top level.
pub const SCENARIO_KEYS: [&str; 6] = ["name", "load", "apply", "duration", "slo", "faults"];

/// A checked scenario: the CronJobs it resolves to and every problem found.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub defs: Vec<CronJobDef>,
    pub problems: Vec<Problem>,
}

impl Scenario {
    /// Reads, parses and validates a scenario file, including the job definitions in
    /// `load.jobs_dir` if set: the same checks as `cronbench lint`, so a file lint rejects never
    /// runs. Unknown keys are rejected; every problem is reported at once.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let (report, scenario) = super::lint::inspect(path)?;
        match scenario {
            Some(scenario) if report.problems.is_empty() => Ok(scenario),
            _ if !report.problems.is_empty() => Err(ScenarioError::Invalid {
                path: path.to_path_buf(),
                problems: report.problems,
            }),
            _ => Err(ScenarioError::Invalid {
                path: path.to_path_buf(),
                problems: vec![Problem::new(
                    path,
                    None::<String>,
                    "this file holds job definitions, not a scenario; pass a scenario whose \
                     load.jobs_dir names their folder (see scenarios/jobs-example.yaml)",
                )],
            }),
        }
    }

    /// Reads and parses a scenario file without validating it.
    pub fn parse_file(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::parse_str(&text::read_text(path)?, path)
    }

    /// Parses scenario YAML without validating it; `path` is used in errors.
    pub fn parse_str(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        serde_saphyr::from_str(text).map_err(|e| text::parse_error(path, Doc::Scenario, &e))
    }

    /// The CronJobs to create.
    ///
    /// Without `load.jobs_dir`: `load.cronjobs` identical CronJobs named `{name_prefix}{i:05}`
    /// (i from 0) with the scenario's schedule, command and resources. With it: every `*.yaml` /
    /// `*.yml` file in that folder (resolved against `scenario_dir`, sorted by file name), each
    /// holding one or more job definitions in the simple format.
    ///
    /// The CronJobs are validated; problems with the inline fields are reported against
    /// `scenario_dir` (it does not know the scenario's file name; [`Scenario::from_file`] does).
    pub fn cronjob_defs(&self, scenario_dir: &Path) -> Result<Vec<CronJobDef>, ScenarioError> {
        let (defs, problems) = self.defs_and_problems(scenario_dir, scenario_dir)?;
        if problems.is_empty() {
            Ok(defs)
        } else {
            let path = match &self.load.jobs_dir {
                Some(dir) => scenario_dir.join(dir),
                None => scenario_dir.to_path_buf(),
            };
            Err(ScenarioError::Invalid { path, problems })
        }
    }

    /// Checks everything: scenario fields, the CronJobs, and whether they can reach the target.
    /// `file` is the scenario's path; `load.jobs_dir` is resolved against its folder.
    pub fn check(&self, file: &Path) -> Checked {
        let mut problems = self.field_problems(file);
        let dir = scenario_dir(file);
        let (defs, def_problems) = match self.defs_and_problems(file, &dir) {
            Ok(found) => found,
            Err(e) => (
                Vec::new(),
                vec![Problem::new(file, Some("load.jobs_dir"), e.to_string())],
            ),
        };
        // With broken CronJobs (e.g. a bad schedule) the rate would be wrong; fix those first.
        let check_defs = !defs.is_empty() && def_problems.is_empty();
        problems.extend(def_problems);
        if check_defs {
            problems.extend(self.defs_problems(file, &defs));
        }
        Checked { defs, problems }
    }

    /// Checks of the resolved CronJobs against the rest of the scenario: the target rate, the
    /// apply time and the measure window.
    fn defs_problems(&self, file: &Path, defs: &[CronJobDef]) -> Vec<Problem> {
        let mut out = Vec::new();
        let rate = jobs_per_minute(defs);
        let target = self.slo.target_jobs_per_minute;
        if rate + 1e-9 < target {
            out.push((
                "slo.target_jobs_per_minute".to_string(),
                format!(
                    "the {} CronJobs schedule {rate:.2} jobs per minute on average, below the \
                     target of {target}, so the run can never pass; add CronJobs \
                     (load.cronjobs), schedule them more often, or lower \
                     slo.target_jobs_per_minute",
                    defs.len()
                ),
            ));
        }
        out.extend(bounds::apply_time_problem(
            &self.apply,
            &self.duration,
            defs.len(),
        ));
        out.extend(bounds::window_problem(defs, &self.duration));
        out.into_iter()
            .map(|(field, msg)| Problem::new(file, Some(field), msg))
            .collect()
    }

    fn defs_and_problems(
        &self,
        file: &Path,
        scenario_dir: &Path,
    ) -> Result<(Vec<CronJobDef>, Vec<Problem>), ScenarioError> {
        if !self.load.classes.is_empty() {
            return Ok(self.class_defs(file));
        }
        match &self.load.jobs_dir {
            Some(dir) if dir.as_os_str().is_empty() => Ok((
                Vec::new(),
                vec![Problem::new(
                    file,
                    Some("load.jobs_dir"),
                    "load.jobs_dir is empty; name the folder of job definitions (relative to the \
                     scenario file), or remove the key to use load.cronjobs",
                )],
            )),
            Some(dir) => {
                let dir = scenario_dir.join(dir);
                let files = jobdefs::list_dir(&dir)?;
                if files.is_empty() {
                    return Ok((
                        Vec::new(),
                        vec![Problem::new(
                            file,
                            Some("load.jobs_dir"),
                            format!(
                                "{} has no *.yaml or *.yml files; add job definitions there or \
                                 point load.jobs_dir at the right folder",
                                dir.display()
                            ),
                        )],
                    ));
                }
                let loaded = jobdefs::load_files(&files)?;
                let mut problems = loaded.problems;
                let zone = self.time_zone_problem();
                problems.extend(zone.map(|msg| Problem::new(file, Some("load.time_zone"), msg)));
                // load.time_zone is the zone of every definition that names none.
                let defs = loaded.defs.into_iter().map(|(mut d, _)| {
                    if d.time_zone.is_none() {
                        d.time_zone.clone_from(&self.load.time_zone);
                    }
                    d
                });
                Ok((defs.collect(), problems))
            }
            None => Ok(self.inline_defs(file)),
        }
    }

    /// The CronJobs of `load.classes`, built only when every class checks out (the counts are
    /// bounded before anything is built).
    fn class_defs(&self, file: &Path) -> (Vec<CronJobDef>, Vec<Problem>) {
        let load = &self.load;
        let mut problems: Vec<Problem> = super::class_check::classes_problems(load)
            .into_iter()
            .chain(
                self.time_zone_problem()
                    .map(|m| ("load.time_zone".to_string(), m)),
            )
            .map(|(field, msg)| Problem::new(file, Some(field), msg))
            .collect();
        if !problems.is_empty() {
            return (Vec::new(), problems);
        }
        let defaults = super::classes::ClassDefaults {
            name_prefix: &load.name_prefix,
            total: load.cronjobs,
            time_zone: load.time_zone.as_deref(),
            command: &load.command,
            resources: &load.resources,
        };
        let total: u64 = load
            .classes
            .iter()
            .map(|c| u64::from(c.size(load.cronjobs)))
            .sum();
        let total = u32::try_from(total).unwrap_or(u32::MAX);
        let too_big = bounds::inline_count_problems(total, &load.command);
        if !too_big.is_empty() {
            let at_command = too_big
                .into_iter()
                .map(|(_, m)| ("load.command".to_string(), m));
            problems.extend(at_command.map(|(f, m)| Problem::new(file, Some(f), m)));
            return (Vec::new(), problems);
        }
        // Within bounds::MAX_CRONJOBS here, so the exact size is allocated once (a growing
        // Vec's doublings were 21 MB of a 50,000-CronJob run's heap peak).
        let defs = super::classes::expand(&load.classes, load.seed, &defaults, total as usize);
        (defs, problems)
    }

    /// The `load.cronjobs` identical CronJobs, with problems reported against scenario fields.
    fn inline_defs(&self, file: &Path) -> (Vec<CronJobDef>, Vec<Problem>) {
        let load = &self.load;
        let mut problems = Vec::new();
        let mut push =
            |field: &str, msg: String| problems.push(Problem::new(file, Some(field), msg));
        if load.cronjobs == 0 {
            push(
                "load.cronjobs",
                "load.cronjobs is 0; set it to 1 or more, or set load.jobs_dir".to_string(),
            );
        }
        let too_many = bounds::inline_count_problems(load.cronjobs, &load.command);
        if !too_many.is_empty() {
            // Building them is what the bound prevents.
            for (field, msg) in too_many {
                push(&field, msg);
            }
            return (Vec::new(), problems);
        }
        let resources = std::sync::Arc::new(load.resources.clone());
        let defs: Vec<CronJobDef> = (0..load.cronjobs)
            .map(|i| CronJobDef {
                defined_in: None,
                name: format!("{}{i:05}", load.name_prefix),
                schedule: load.schedule.clone(),
                time_zone: load.time_zone.clone(),
                command: load.command.clone(),
                resources: resources.clone(),
                class: None,
            })
            .collect();
        // All names share the prefix; the last is the longest.
        if let Some(last) = defs.last() {
            for msg in name_problems(&last.name) {
                push(
                    "load.name_prefix",
                    format!("{msg} (names are load.name_prefix followed by 5 or more digits)"),
                );
            }
        }
        match parse_schedule(&load.schedule) {
            Ok(s) if s.never_fires() => push(
                "load.schedule",
                format!(
                    "schedule '{}' never fires (no date matches, e.g. February 30th); pick days \
                     that exist",
                    load.schedule
                ),
            ),
            Ok(_) => {}
            Err(e) => push("load.schedule", e.to_string()),
        }
        if let Some(msg) = self.time_zone_problem() {
            push("load.time_zone", msg);
        }
        if load.command.is_empty() || load.command.iter().all(|c| c.trim().is_empty()) {
            push(
                "load.command",
                "load.command is empty; give the container a command, e.g. [bash, -c, 'echo \
                 hello world']"
                    .to_string(),
            );
        }
        for msg in all_resources_problems("load.resources", &load.resources) {
            push("load.resources", msg);
        }
        (defs, problems)
    }

    /// Why `load.time_zone`, when set, is not a zone the apiserver accepts.
    fn time_zone_problem(&self) -> Option<String> {
        super::zone::time_zone(self.load.time_zone.as_deref()?).err()
    }

    /// Problems with the scenario's own fields (not the CronJobs' names, schedules or resources).
    fn field_problems(&self, file: &Path) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.name.trim().is_empty() {
            out.push((
                "name".to_string(),
                "the scenario's name is empty; give it one for reports".to_string(),
            ));
        }
        out.extend(self.load_problems());
        out.extend(apply_problems(&self.apply));
        out.extend(bounds::duration_problems(&self.duration));
        out.extend(slo_problems(&self.slo));
        out.extend(super::validate::fault_problems(
            &self.faults,
            &self.duration,
        ));
        out.into_iter()
            .map(|(field, msg)| Problem::new(file, Some(field), msg))
            .collect()
    }

    /// Problems with `load`'s pod settings, as (key path, message).
    fn load_problems(&self) -> Vec<(String, String)> {
        let load = &self.load;
        let mut out = Vec::new();
        let mut push = |field: &str, msg: String| out.push((field.to_string(), msg));
        if load.image.trim().is_empty() {
            push(
                "load.image",
                "load.image is empty; set an image such as busybox:1.36".into(),
            );
        }
        if let Some(word) = load.image_pull_policy.unknown() {
            let field = "load.image_pull_policy";
            push(field, word_problem(field, word, ImagePullPolicy::ALLOWED));
        }
        if let Some(word) = load.concurrency_policy.unknown() {
            let field = "load.concurrency_policy";
            push(field, word_problem(field, word, ConcurrencyPolicy::ALLOWED));
        }
        for (field, v) in [
            (
                "load.successful_jobs_history_limit",
                load.successful_jobs_history_limit,
            ),
            (
                "load.failed_jobs_history_limit",
                load.failed_jobs_history_limit,
            ),
        ] {
            if v < 0 {
                push(field, format!("{field} is {v}; set it to 0 or more"));
            }
        }
        if let Some(s) = load.starting_deadline_seconds
            && s < 0
        {
            push(
                "load.starting_deadline_seconds",
                format!("load.starting_deadline_seconds is {s}; set it to 0 or more, or remove it"),
            );
        }
        for msg in node_selector_problems(&load.node_selector) {
            push("load.node_selector", msg);
        }
        for (i, t) in load.tolerations.iter().enumerate() {
            let field = format!("load.tolerations[{i}]");
            for msg in toleration_problems(&field, t) {
                push(&field, msg);
            }
        }
        out
    }
}

/// Problems with `apply`, as (key path, message).
fn apply_problems(apply: &super::Apply) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut push = |field: &str, msg: String| out.push((field.to_string(), msg));
    if !(apply.qps.is_finite() && apply.qps >= 0.0) {
        push(
            "apply.qps",
            format!(
                "apply.qps is {}; set it to 0 or more (0 means unlimited)",
                apply.qps
            ),
        );
    }
    if apply.qps > 0.0 && apply.qps < bounds::MIN_QPS {
        push(
            "apply.qps",
            format!(
                "apply.qps is {}, below the bound of {} (one creation every 1000 s, longer than \
                 a run's phases); raise it, or set it to 0 for unlimited",
                bounds::show(apply.qps),
                bounds::MIN_QPS
            ),
        );
    }
    if apply.qps > 0.0 && apply.burst == 0 {
        push(
            "apply.burst",
            "apply.burst is 0, so no request could ever start; set it to 1 or more".into(),
        );
    }
    if apply.concurrency < 1 {
        push(
            "apply.concurrency",
            "apply.concurrency is 0; set it to 1 or more requests in flight".into(),
        );
    }
    if apply.concurrency > bounds::MAX_CONCURRENCY {
        push(
            "apply.concurrency",
            format!(
                "apply.concurrency is {}, above the bound of {}: the apiserver serves at most \
                 400 mutating requests at once by default and queues the rest; set it to {} or \
                 less",
                apply.concurrency,
                bounds::MAX_CONCURRENCY,
                bounds::MAX_CONCURRENCY
            ),
        );
    }
    out
}

/// Problems with `slo`, as (key path, message); the analyzer checks the SLO recorded in an
/// event log with it too.
pub fn slo_problems(slo: &super::Slo) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut push = |field: &str, msg: String| out.push((field.to_string(), msg));
    if !(slo.target_jobs_per_minute.is_finite() && slo.target_jobs_per_minute > 0.0) {
        push(
            "slo.target_jobs_per_minute",
            format!(
                "slo.target_jobs_per_minute is {}; set it above 0",
                slo.target_jobs_per_minute
            ),
        );
    }
    for (field, v) in [
        ("slo.min_started_share", slo.min_started_share),
        ("slo.min_completed_share", slo.min_completed_share),
    ] {
        if !(0.0..=1.0).contains(&v) {
            push(
                field,
                format!("{field} is {v}; a share is between 0 and 1 (e.g. 0.9999)"),
            );
        }
    }
    for (field, v) in [
        ("slo.p99_schedule_to_start_s", slo.p99_schedule_to_start_s),
        ("slo.start_within_s", slo.start_within_s),
        ("slo.max_pending_s", slo.max_pending_s),
    ] {
        if !(v.is_finite() && v > 0.0) {
            push(
                field,
                format!("{field} is {v}; set it to a number of seconds above 0"),
            );
        } else if v > bounds::MAX_DURATION_S as f64 {
            push(
                field,
                format!(
                    "{field} is {} s, above the bound of {} s (30 days, the longest phase of \
                     a run); set it to {} or less",
                    bounds::show(v),
                    bounds::MAX_DURATION_S,
                    bounds::MAX_DURATION_S
                ),
            );
        }
    }
    out
}

/// The folder a scenario file is in (`.` for a bare file name).
pub fn scenario_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::scenario::{Load, Resources, Toleration};

    fn parse(yaml: &str) -> Scenario {
        Scenario::parse_str(yaml, Path::new("test.yaml")).unwrap()
    }

    fn problems(yaml: &str) -> Vec<Problem> {
        parse(yaml).check(Path::new("test.yaml")).problems
    }

    #[test]
    fn empty_mapping_is_a_valid_default_scenario() {
        let s = parse("{}");
        assert_eq!(s, Scenario::default());
        let checked = s.check(Path::new("test.yaml"));
        assert!(checked.problems.is_empty(), "{:#?}", checked.problems);
        assert_eq!(checked.defs.len(), 50);
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_key_and_an_example() {
        let err = Scenario::parse_str("load:\n  cronjob: 5\n", Path::new("s.yaml")).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ScenarioError::Parse { .. }));
        assert!(msg.contains("s.yaml"), "{msg}");
        assert!(msg.contains("cronjob"), "{msg}");
        assert!(msg.contains(SCENARIO_EXAMPLE), "{msg}");
    }

    #[test]
    fn numeric_quantities_in_a_scenario_are_kept_as_strings() {
        let s = parse("load:\n  resources:\n    requests: {cpu: 0.1, memory: 128M}\n");
        assert_eq!(s.load.resources.requests["cpu"], "0.1");
    }

    #[test]
    fn inline_defs_are_named_with_prefix_and_five_digit_index() {
        let s = parse("load: {cronjobs: 3, name_prefix: x-}\nslo: {target_jobs_per_minute: 3}");
        let defs = s.cronjob_defs(Path::new(".")).unwrap();
        let names: Vec<_> = defs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["x-00000", "x-00001", "x-00002"]);
        assert!(defs.iter().all(|d| d.schedule == "* * * * *"));
        assert_eq!(defs[0].command, Load::default().command);
        assert_eq!(*defs[0].resources, Load::default().resources);
    }

    #[test]
    fn all_field_problems_are_collected_not_just_the_first() {
        let p = problems(
            "load:\n  cronjobs: 0\n  concurrency_policy: allow\n  schedule: '* * * * * *'\n\
             apply: {qps: -1, concurrency: 0}\nduration: {measure_s: 0}\n\
             slo: {target_jobs_per_minute: 0, min_started_share: 1.5, min_completed_share: -0.1}\n",
        );
        let fields: Vec<_> = p.iter().filter_map(|p| p.name.as_deref()).collect();
        for f in [
            "load.cronjobs",
            "load.concurrency_policy",
            "load.schedule",
            "apply.qps",
            "apply.concurrency",
            "duration.measure_s",
            "slo.target_jobs_per_minute",
            "slo.min_started_share",
            "slo.min_completed_share",
        ] {
            assert!(fields.contains(&f), "missing {f} in {p:#?}");
        }
        assert!(p.iter().all(|p| p.file == Path::new("test.yaml")));
    }

    #[test]
    fn from_file_reports_invalid_scenarios_with_every_problem() {
        let dir = std::env::temp_dir().join(format!("cronbench-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.yaml");
        std::fs::write(&file, "apply: {qps: -1, concurrency: 0}\n").unwrap();
        let err = Scenario::from_file(&file).unwrap_err();
        match &err {
            ScenarioError::Invalid { problems, .. } => assert_eq!(problems.len(), 2),
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("2 problem(s)"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_file_is_a_read_error_naming_the_path() {
        let err = Scenario::from_file(Path::new("/nonexistent/s.yaml")).unwrap_err();
        assert!(matches!(err, ScenarioError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/s.yaml"));
    }

    #[test]
    fn too_few_cronjobs_for_the_target_is_a_problem() {
        let p = problems("load: {cronjobs: 20}\nslo: {target_jobs_per_minute: 50}\n");
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!(p[0].name.as_deref(), Some("slo.target_jobs_per_minute"));
        assert!(
            p[0].message.contains("20.00 jobs per minute"),
            "{}",
            p[0].message
        );
        assert!(problems("load: {cronjobs: 20}\nslo: {target_jobs_per_minute: 20}\n").is_empty());
    }

    #[test]
    fn long_name_prefix_is_reported_once_against_the_prefix() {
        let prefix = "p".repeat(50);
        let p = problems(&format!(
            "load: {{cronjobs: 2, name_prefix: {prefix}}}\nslo: {{target_jobs_per_minute: 1}}\n"
        ));
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!(p[0].name.as_deref(), Some("load.name_prefix"));
        assert!(p[0].message.contains("55 characters"), "{}", p[0].message);
    }

    #[test]
    fn bad_resources_selector_and_tolerations_are_reported_by_field() {
        let mut s = Scenario::default();
        s.slo.target_jobs_per_minute = 1.0;
        s.load.resources = Resources {
            requests: BTreeMap::from([("cpu".into(), "1 core".into())]),
            limits: BTreeMap::new(),
        };
        s.load.node_selector = BTreeMap::from([("type".into(), "kwok node".into())]);
        s.load.tolerations = vec![Toleration {
            key: Some("kwok.x-k8s.io/node".into()),
            operator: Some("Exist".into()),
            ..Toleration::default()
        }];
        let p = s.check(Path::new("t.yaml")).problems;
        let fields: Vec<_> = p.iter().filter_map(|p| p.name.as_deref()).collect();
        assert_eq!(
            fields,
            [
                "load.node_selector",
                "load.tolerations[0]",
                "load.resources"
            ],
            "{p:#?}"
        );
    }

    #[test]
    fn missing_jobs_dir_is_a_problem_and_a_read_dir_error() {
        let s = parse("load: {jobs_dir: no-such-dir}\n");
        let p = s.check(Path::new("/tmp/x/s.yaml")).problems;
        assert_eq!(p.len(), 1, "{p:#?}");
        assert_eq!(p[0].name.as_deref(), Some("load.jobs_dir"));
        assert!(
            p[0].message.contains("/tmp/x/no-such-dir"),
            "{}",
            p[0].message
        );
        let err = s.cronjob_defs(Path::new("/tmp/x")).unwrap_err();
        assert!(matches!(err, ScenarioError::ReadDir { .. }));
    }

    #[test]
    fn a_scenario_the_bench_writes_as_json_reads_back_and_passes_every_check() {
        // As bench/child.rs builds it: every-minute CronJobs on kwok nodes, unlimited apply.
        let mut s = Scenario::default();
        s.load.cronjobs = 200;
        s.load.node_selector = BTreeMap::from([("type".into(), "kwok".into())]);
        s.load.tolerations = vec![Toleration {
            key: Some("kwok.x-k8s.io/node".into()),
            operator: Some("Exists".into()),
            value: None,
            effect: Some("NoSchedule".into()),
        }];
        s.apply.qps = 0.0;
        s.slo.target_jobs_per_minute = 200.0;
        let json = serde_json::to_string_pretty(&s).unwrap_or_default();
        let back = Scenario::parse_str(&json, Path::new("scenario.yaml")).unwrap();
        assert_eq!(back, s);
        let checked = back.check(Path::new("scenario.yaml"));
        assert!(checked.problems.is_empty(), "{:#?}", checked.problems);
    }

    #[test]
    fn scenario_dir_of_bare_file_is_current_dir() {
        assert_eq!(scenario_dir(Path::new("s.yaml")), PathBuf::from("."));
        assert_eq!(scenario_dir(Path::new("a/s.yaml")), PathBuf::from("a"));
    }
}

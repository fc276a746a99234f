//! `cronbench lint`: check a scenario, a job-definition file, or a folder of job definitions.

use std::fmt;
use std::path::{Path, PathBuf};

use super::cron::jobs_per_minute;
use super::jobdefs;
use super::load::SCENARIO_KEYS;
use super::text::{self, Doc};
use super::{CronJobDef, Problem, Scenario, ScenarioError};

/// What was linted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LintKind {
    /// A scenario file (top-level keys among name, load, apply, duration, slo).
    Scenario,
    /// A job-definition file, or a folder of them.
    JobDefinitions,
    /// A file that is neither (its problems say why).
    Unknown,
}

/// What the linted CronJobs add up to.
#[derive(Debug, Clone, PartialEq)]
pub struct LintSummary {
    /// CronJobs defined (including ones with problems).
    pub cronjobs: usize,
    /// Long-run average number of runs per minute they schedule together.
    pub jobs_per_minute: f64,
    /// The scenario's `slo.target_jobs_per_minute`, for a scenario.
    pub target_jobs_per_minute: Option<f64>,
}

/// The result of [`lint`]: every problem found, and a summary.
#[derive(Debug, Clone, PartialEq)]
pub struct LintReport {
    /// The path that was linted.
    pub path: PathBuf,
    pub kind: LintKind,
    /// Empty when the input is fine.
    pub problems: Vec<Problem>,
    pub summary: LintSummary,
}

impl LintReport {
    /// True when there are no problems.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for LintReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            LintKind::Scenario => "scenario",
            LintKind::JobDefinitions => "job definitions",
            LintKind::Unknown => "file",
        };
        for p in &self.problems {
            writeln!(f, "error: {p}")?;
        }
        write!(
            f,
            "{} ({what}): {} CronJob(s) scheduling {:.2} jobs/min",
            self.path.display(),
            self.summary.cronjobs,
            self.summary.jobs_per_minute
        )?;
        if let Some(target) = self.summary.target_jobs_per_minute {
            write!(f, " (target {target})")?;
        }
        if self.problems.is_empty() {
            write!(f, "; ok")
        } else {
            write!(f, "; {} problem(s)", self.problems.len())
        }
    }
}

/// Lints a scenario file, a job-definition file, or a folder of job definitions.
///
/// A folder is read as job definitions (every `*.yaml`/`*.yml` in it). A file is a job
/// definition when a document has a `kubernetes` key (or `command`), and a scenario when its
/// single document only has keys among name, load, apply, duration, slo. Problems in the input
/// are collected in the report; `Err` only when the path itself cannot be read.
pub fn lint(path: &Path) -> Result<LintReport, ScenarioError> {
    Ok(inspect(path)?.0)
}

/// The one reading of a path that `lint` and every command loading a scenario share
/// ([`Scenario::from_file`]): the report, and the scenario when the file is one and parsed.
pub(crate) fn inspect(path: &Path) -> Result<(LintReport, Option<Scenario>), ScenarioError> {
    if path.is_dir() {
        let files = jobdefs::list_dir(path)?;
        let mut report = lint_job_files(path, &files)?;
        if files.is_empty() {
            report.problems.push(Problem::new(
                path,
                None::<String>,
                "the folder has no *.yaml or *.yml files; add job definitions or lint a file",
            ));
        }
        return Ok((report, None));
    }
    let text = text::read_text(path)?;
    let kind = match detect(&text) {
        Ok(kind) => kind,
        Err(e) => {
            let problem = text::yaml_problem(path, Doc::Yaml, &e);
            return Ok((report_of(path, LintKind::Unknown, vec![problem]), None));
        }
    };
    Ok(match kind {
        LintKind::Scenario => lint_scenario(path, &text),
        LintKind::JobDefinitions => (lint_job_files(path, &[path.to_path_buf()])?, None),
        LintKind::Unknown => {
            let problem = Problem::new(path, None::<String>, unknown_message(&text));
            (report_of(path, LintKind::Unknown, vec![problem]), None)
        }
    })
}

fn report_of(path: &Path, kind: LintKind, problems: Vec<Problem>) -> LintReport {
    LintReport {
        path: path.to_path_buf(),
        kind,
        problems,
        summary: summary(&[], None),
    }
}

fn documents(text: &str) -> Result<Vec<serde_json::Value>, serde_saphyr::Error> {
    serde_saphyr::from_multiple(text)
}

fn top_keys(doc: &serde_json::Value) -> Vec<&str> {
    doc.as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// Tells a scenario from job definitions by their top-level keys.
fn detect(text: &str) -> Result<LintKind, serde_saphyr::Error> {
    let docs = documents(text)?;
    let any_key = |key: &str| docs.iter().any(|d| top_keys(d).contains(&key));
    if any_key("kubernetes") || any_key("command") {
        return Ok(LintKind::JobDefinitions);
    }
    if let [doc] = docs.as_slice()
        && doc.is_object()
        && top_keys(doc).iter().all(|k| SCENARIO_KEYS.contains(k))
    {
        return Ok(LintKind::Scenario);
    }
    Ok(LintKind::Unknown)
}

fn unknown_message(text: &str) -> String {
    let docs = documents(text).unwrap_or_default();
    if docs.iter().all(serde_json::Value::is_null) {
        return format!(
            "the file is empty; write a scenario (see {}; `{{}}` takes every default) or job \
             definitions (see {})",
            super::load::SCENARIO_EXAMPLE,
            jobdefs::JOB_DEFINITION_EXAMPLE
        );
    }
    let keys: Vec<&str> = docs.iter().flat_map(top_keys).collect();
    if docs.len() > 1 && keys.iter().all(|k| SCENARIO_KEYS.contains(k)) {
        return format!(
            "the file holds {} YAML documents (separated by '---'); a scenario is one \
             document: remove the '---' and merge or delete what follows",
            docs.len()
        );
    }
    if let Some((typo, key)) = keys
        .iter()
        .find_map(|k| near_scenario_key(k).map(|n| (k, n)))
    {
        return format!(
            "unknown top-level key '{typo}'; did you mean '{key}'? A scenario's top-level keys \
             are {}",
            SCENARIO_KEYS.join(", ")
        );
    }
    let found = if keys.is_empty() {
        "no top-level keys (it is not a mapping)".to_string()
    } else {
        format!("top-level keys {}", keys.join(", "))
    };
    format!(
        "cannot tell what this file is: it has {found}; a scenario has top-level keys among \
         {} (one document), a job definition has name, kubernetes, command, resources",
        SCENARIO_KEYS.join(", ")
    )
}

/// The scenario key `key` is a likely typo of, if it is not one.
fn near_scenario_key(key: &str) -> Option<&'static str> {
    if SCENARIO_KEYS.contains(&key) {
        return None;
    }
    SCENARIO_KEYS
        .into_iter()
        // One letter off for short keys ("foo" is not "slo"), two for long ones.
        .find(|k| edit_distance(&key.to_ascii_lowercase(), k) <= (k.len() / 4).max(1))
}

/// Levenshtein distance; keys are short, so the quadratic table is small.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != *cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

fn summary(defs: &[CronJobDef], target: Option<f64>) -> LintSummary {
    LintSummary {
        cronjobs: defs.len(),
        // An empty sum is -0.0, printed "-0.00".
        jobs_per_minute: if defs.is_empty() {
            0.0
        } else {
            jobs_per_minute(defs)
        },
        target_jobs_per_minute: target,
    }
}

fn lint_scenario(path: &Path, text: &str) -> (LintReport, Option<Scenario>) {
    match Scenario::parse_str(text, path) {
        Ok(scenario) => {
            let checked = scenario.check(path);
            let report = LintReport {
                path: path.to_path_buf(),
                kind: LintKind::Scenario,
                summary: summary(&checked.defs, Some(scenario.slo.target_jobs_per_minute)),
                problems: checked.problems,
            };
            (report, Some(scenario))
        }
        Err(e) => (
            report_of(path, LintKind::Scenario, e.into_problems(path)),
            None,
        ),
    }
}

fn lint_job_files(path: &Path, files: &[PathBuf]) -> Result<LintReport, ScenarioError> {
    let loaded = jobdefs::load_files(files)?;
    let problems = loaded.problems;
    let defs: Vec<CronJobDef> = loaded.defs.into_iter().map(|(d, _)| d).collect();
    Ok(LintReport {
        path: path.to_path_buf(),
        kind: LintKind::JobDefinitions,
        summary: summary(&defs, None),
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("cronbench-lint-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let p = self.0.join(name);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            std::fs::write(&p, text).unwrap();
            p
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const JOB: &str = "name: a\nkubernetes: {schedule: '*/15 * * * *'}\ncommand: [true]\n";

    #[test]
    fn detects_scenarios_and_job_definitions_by_keys() {
        assert_eq!(detect("{}").unwrap(), LintKind::Scenario);
        assert_eq!(
            detect("name: x\nload: {cronjobs: 1}\n").unwrap(),
            LintKind::Scenario
        );
        assert_eq!(detect(JOB).unwrap(), LintKind::JobDefinitions);
        assert_eq!(
            detect("name: x\ncommand: [a]\n").unwrap(),
            LintKind::JobDefinitions
        );
        assert_eq!(detect("foo: 1\n").unwrap(), LintKind::Unknown);
        assert_eq!(detect("").unwrap(), LintKind::Unknown);
        assert!(detect("a: [\n").is_err());
    }

    #[test]
    fn lints_a_job_definition_file_with_summary() {
        let dir = TempDir::new("jobfile");
        let f = dir.write(
            "jobs.yaml",
            &format!("{JOB}---\n{}", JOB.replace("name: a", "name: b")),
        );
        let report = lint(&f).unwrap();
        assert_eq!(report.kind, LintKind::JobDefinitions);
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.summary.cronjobs, 2);
        assert!((report.summary.jobs_per_minute - 2.0 / 15.0).abs() < 1e-12);
        assert_eq!(report.summary.target_jobs_per_minute, None);
    }

    #[test]
    fn lints_a_folder_reporting_duplicates_across_files() {
        let dir = TempDir::new("folder");
        dir.write("a.yaml", JOB);
        dir.write("b.yml", JOB);
        dir.write("notes.txt", "not yaml");
        let report = lint(&dir.0).unwrap();
        assert_eq!(report.kind, LintKind::JobDefinitions);
        assert_eq!(report.summary.cronjobs, 2);
        assert_eq!(report.problems.len(), 1, "{report}");
        let p = &report.problems[0];
        assert!(p.message.contains("duplicate name 'a'"), "{p}");
        assert!(
            p.message.contains("a.yaml") && p.message.contains("b.yml"),
            "{p}"
        );
    }

    #[test]
    fn lints_a_scenario_with_jobs_dir() {
        let dir = TempDir::new("scenario");
        dir.write("jobs/one.yaml", JOB);
        let s = dir.write(
            "s.yaml",
            "name: t\nload: {jobs_dir: jobs}\nduration: {measure_s: 900}\n\
             slo: {target_jobs_per_minute: 0.05}\n",
        );
        let report = lint(&s).unwrap();
        assert_eq!(report.kind, LintKind::Scenario);
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.summary.cronjobs, 1);
        assert_eq!(report.summary.target_jobs_per_minute, Some(0.05));
        assert!(Scenario::from_file(&s).is_ok());
        let defs = Scenario::from_file(&s)
            .unwrap()
            .cronjob_defs(&dir.0)
            .unwrap();
        assert_eq!(defs[0].name, "a");
    }

    #[test]
    fn problems_in_job_files_of_a_scenario_name_the_job_file() {
        let dir = TempDir::new("scenario-bad");
        let job = dir.write("jobs/one.yaml", &JOB.replace("*/15", "61"));
        let s = dir.write(
            "s.yaml",
            "load: {jobs_dir: jobs}\nslo: {target_jobs_per_minute: 0.01}\n",
        );
        let report = lint(&s).unwrap();
        assert_eq!(report.problems.len(), 1, "{report}");
        assert_eq!(report.problems[0].file, job);
        assert_eq!(report.problems[0].name.as_deref(), Some("a"));
        let err = Scenario::from_file(&s).unwrap_err();
        assert!(err.to_string().contains("above the maximum 59"), "{err}");
    }

    #[test]
    fn unknown_and_broken_files_are_problems_not_errors() {
        let dir = TempDir::new("unknown");
        let f = dir.write("x.yaml", "foo: 1\n");
        let report = lint(&f).unwrap();
        assert_eq!(report.kind, LintKind::Unknown);
        assert!(
            report.problems[0].message.contains("cannot tell"),
            "{report}"
        );
        let f = dir.write("y.yaml", "a: [\n");
        let report = lint(&f).unwrap();
        assert_eq!(report.problems[0].name.as_deref(), Some("line 1, column 4"));
        assert!(
            report.problems[0].message.contains("fix the YAML there"),
            "{report}"
        );
    }

    #[test]
    fn missing_path_is_an_error() {
        assert!(matches!(
            lint(Path::new("/nonexistent/x.yaml")),
            Err(ScenarioError::Read { .. })
        ));
    }

    #[test]
    fn report_display_lists_problems_and_summary() {
        let dir = TempDir::new("display");
        let f = dir.write("j.yaml", &JOB.replace("name: a", "name: Bad"));
        let text = lint(&f).unwrap().to_string();
        assert!(text.contains("error: "), "{text}");
        assert!(text.contains(": Bad: "), "{text}");
        assert!(
            text.contains("1 CronJob(s) scheduling 0.07 jobs/min; 1 problem(s)"),
            "{text}"
        );
    }
}

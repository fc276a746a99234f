//! Job definitions in the "simple" format, one or more YAML documents per file:
//!
//! ```yaml
//! name: job-name-here
//! kubernetes:
//!   schedule: '15 */2 * * *'
//! command:
//! - ruby
//! - "/path/to/script.rb"
//! resources:
//!   requests:
//!     cpu: 0.1
//!     memory: 128M
//!   limits:
//!     memory: 1024M
//! ```
//!
//! Quantities may be YAML numbers or strings; they are kept as written (`0.1`). Unknown keys are
//! rejected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::bounds;
use super::cron::parse_schedule;
use super::text::{self, Doc};
use super::validate::{all_resources_problems, name_problems};
use super::{CronJobDef, Problem, Resources, ScenarioError};

/// A shipped example of the format, named in parse errors.
pub const JOB_DEFINITION_EXAMPLE: &str = "scenarios/jobs-example/";

/// One document of a job-definition file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobDefinition {
    /// The CronJob name: a DNS-1123 label of at most 52 characters.
    pub name: String,
    pub kubernetes: KubernetesSection,
    /// The container command.
    pub command: Vec<String>,
    #[serde(default)]
    pub resources: Resources,
}

/// The `kubernetes:` part of a job definition.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSection {
    /// A 5-field cron expression, in `time_zone`.
    pub schedule: String,
    /// `spec.timeZone`: an IANA name; unset is UTC.
    #[serde(default)]
    pub time_zone: Option<String>,
}

impl From<JobDefinition> for CronJobDef {
    fn from(d: JobDefinition) -> CronJobDef {
        CronJobDef {
            defined_in: None,
            name: d.name,
            schedule: d.kubernetes.schedule,
            time_zone: d.kubernetes.time_zone,
            command: d.command,
            resources: d.resources.into(),
            class: None,
        }
    }
}

/// Where a CronJob was defined: a file and the 1-based document in it (or index in the scenario).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub file: PathBuf,
    pub document: usize,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (document {})", self.file.display(), self.document)
    }
}

/// Reads every document of one job-definition file.
pub fn read_file(path: &Path) -> Result<Vec<JobDefinition>, ScenarioError> {
    parse_str(&text::read_text(path)?, path)
}

/// Parses job definitions from YAML text; `path` is used in errors.
pub fn parse_str(text: &str, path: &Path) -> Result<Vec<JobDefinition>, ScenarioError> {
    serde_saphyr::from_multiple(text).map_err(|e| text::parse_error(path, Doc::JobDefinitions, &e))
}

/// The `*.yaml` and `*.yml` files directly in `dir`, sorted by name.
///
/// An entry that cannot be followed (a symbolic link loop, a dangling link) is an error naming
/// it: skipping it would silently run fewer CronJobs than the folder holds.
pub fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    let read_dir_err = |cause| ScenarioError::ReadDir {
        path: dir.to_path_buf(),
        cause,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_dir_err)? {
        let path = entry.map_err(read_dir_err)?.path();
        let yaml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e == "yaml" || e == "yml");
        if !yaml {
            continue;
        }
        let meta = std::fs::metadata(&path).map_err(|cause| ScenarioError::Read {
            path: path.clone(),
            cause,
        })?;
        if meta.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Checks one CronJob definition, appending problems (with `file` and the CronJob name).
pub fn check_def(def: &CronJobDef, file: &Path, problems: &mut Vec<Problem>) {
    let name = Some(def.name.as_str());
    for msg in name_problems(&def.name) {
        problems.push(Problem::new(file, name, msg));
    }
    match parse_schedule(&def.schedule) {
        Ok(s) if s.never_fires() => problems.push(Problem::new(
            file,
            name,
            format!(
                "schedule '{}' never fires (no date matches, e.g. February 30th); pick days that \
                 exist",
                def.schedule
            ),
        )),
        Ok(_) => {}
        Err(e) => problems.push(Problem::new(file, name, e.to_string())),
    }
    if let Some(Err(msg)) = def.time_zone.as_deref().map(super::zone::time_zone) {
        problems.push(Problem::new(
            file,
            name,
            format!("kubernetes.time_zone: {msg}"),
        ));
    }
    if def.command.is_empty() || def.command.iter().all(|c| c.trim().is_empty()) {
        problems.push(Problem::new(
            file,
            name,
            "the command is empty; give the container a command, e.g. [bash, -c, 'echo hello']",
        ));
    }
    for msg in all_resources_problems("resources", &def.resources)
        .into_iter()
        .chain(bounds::command_size_problem("the command", &def.command))
    {
        problems.push(Problem::new(file, name, msg));
    }
}

/// Reports every name used more than once, naming both places, at the later one.
pub fn check_unique(defs: &[(CronJobDef, Place)], problems: &mut Vec<Problem>) {
    let mut seen: BTreeMap<&str, &Place> = BTreeMap::new();
    for (def, place) in defs {
        if let Some(first) = seen.get(def.name.as_str()) {
            problems.push(Problem::new(
                &place.file,
                Some(def.name.as_str()),
                format!(
                    "duplicate name '{}': defined in {first} and again in {place}; CronJob names \
                     must be unique in a namespace, rename one",
                    def.name
                ),
            ));
        } else {
            seen.insert(&def.name, place);
        }
    }
}

/// Job definitions loaded from files, with where each was defined, and every problem found.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub defs: Vec<(CronJobDef, Place)>,
    pub problems: Vec<Problem>,
}

/// Loads and checks job definitions from files, collecting every problem.
///
/// Files that fail to parse become one problem each; the rest are still checked.
pub fn load_files(files: &[PathBuf]) -> Result<Loaded, ScenarioError> {
    let mut defs = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        let parsed = match read_file(file) {
            Ok(parsed) => parsed,
            Err(
                e @ (ScenarioError::Parse { .. }
                | ScenarioError::NotUtf8 { .. }
                | ScenarioError::TooLarge { .. }),
            ) => {
                problems.extend(e.into_problems(file));
                continue;
            }
            Err(e) => return Err(e),
        };
        if (defs.len() + parsed.len()) as u64 > bounds::MAX_CRONJOBS {
            problems.push(Problem::new(
                file,
                None::<String>,
                format!(
                    "the job definitions add up to more than {} CronJobs, the bound for one \
                     run (one process creates, watches and analyses every CronJob); the files \
                     from this one on were not read: split them across scenarios",
                    bounds::MAX_CRONJOBS
                ),
            ));
            break;
        }
        if parsed.is_empty() {
            problems.push(Problem::new(
                file,
                None::<String>,
                "the file has no job definitions; add one (name, kubernetes.schedule, command) \
                 or remove the file",
            ));
        }
        for (i, d) in parsed.into_iter().enumerate() {
            let place = Place {
                file: file.clone(),
                document: i + 1,
            };
            let def = CronJobDef {
                defined_in: Some(place.clone()),
                ..CronJobDef::from(d)
            };
            check_def(&def, file, &mut problems);
            defs.push((def, place));
        }
    }
    check_unique(&defs, &mut problems);
    Ok(Loaded { defs, problems })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
name: job-name-here
kubernetes:
  schedule: '15 */2 * * *'
command:
- ruby
- "/path/to/script.rb"
resources:
  requests:
    cpu: 0.1
    memory: 128M
  limits:
    memory: 1024M
"#;

    #[test]
    fn simple_format_parses_with_numeric_quantities_kept_as_written() {
        let defs = parse_str(EXAMPLE, Path::new("x.yaml")).unwrap();
        assert_eq!(defs.len(), 1);
        let def = CronJobDef::from(defs[0].clone());
        assert_eq!(def.name, "job-name-here");
        assert_eq!(def.schedule, "15 */2 * * *");
        assert_eq!(def.command, vec!["ruby", "/path/to/script.rb"]);
        assert_eq!(def.resources.requests["cpu"], "0.1");
        assert_eq!(def.resources.requests["memory"], "128M");
        assert_eq!(def.resources.limits["memory"], "1024M");
        let mut problems = Vec::new();
        check_def(&def, Path::new("x.yaml"), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn several_documents_in_one_file_give_several_defs() {
        let text = format!(
            "{EXAMPLE}---\nname: other\nkubernetes: {{schedule: '@hourly'}}\ncommand: [true]\n"
        );
        let defs = parse_str(&text, Path::new("x.yaml")).unwrap();
        assert_eq!(defs.len(), 2);
        assert_eq!(defs[1].name, "other");
        assert_eq!(defs[1].resources, Resources::default());
    }

    #[test]
    fn unknown_keys_are_rejected_naming_the_file_and_key() {
        let text = format!("{EXAMPLE}retries: 3\n");
        let err = parse_str(&text, Path::new("jobs/x.yaml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("jobs/x.yaml"), "{msg}");
        assert!(msg.contains("retries"), "{msg}");
        assert!(msg.contains("unknown key 'retries'"), "{msg}");
    }

    #[test]
    fn unknown_keys_under_kubernetes_are_rejected() {
        let text = "name: a\nkubernetes: {schedule: '* * * * *', timezone: UTC}\ncommand: [x]\n";
        assert!(parse_str(text, Path::new("x.yaml")).is_err());
    }

    #[test]
    fn a_definitions_time_zone_is_read_and_checked() {
        let text =
            "name: a\nkubernetes: {schedule: '30 2 * * *', time_zone: Local}\ncommand: [x]\n";
        let defs = parse_str(text, Path::new("x.yaml")).expect("parses");
        let def = CronJobDef::from(defs.into_iter().next().expect("one definition"));
        assert_eq!(def.time_zone.as_deref(), Some("Local"));
        let mut problems = Vec::new();
        check_def(&def, Path::new("x.yaml"), &mut problems);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0]
                .message
                .starts_with("kubernetes.time_zone: 'Local'")
        );
    }

    #[test]
    fn check_def_collects_every_problem_of_a_def() {
        let def = CronJobDef {
            defined_in: None,
            name: "Bad_Name".into(),
            schedule: "61 * * * *".into(),
            time_zone: Some("Mars/Base".into()),
            command: vec![],
            resources: Resources {
                requests: BTreeMap::from([("cpu".into(), "lots".into())]),
                limits: BTreeMap::new(),
            }
            .into(),
            class: None,
        };
        let mut problems = Vec::new();
        check_def(&def, Path::new("f.yaml"), &mut problems);
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(
            problems
                .iter()
                .all(|p| p.name.as_deref() == Some("Bad_Name"))
        );
        assert!(problems.iter().all(|p| p.file == Path::new("f.yaml")));
    }

    #[test]
    fn never_firing_schedule_is_a_problem() {
        let def = CronJobDef {
            defined_in: None,
            name: "feb30".into(),
            schedule: "0 0 30 2 *".into(),
            time_zone: None,
            command: vec!["true".into()],
            resources: Default::default(),
            class: None,
        };
        let mut problems = Vec::new();
        check_def(&def, Path::new("f.yaml"), &mut problems);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("never fires"));
    }

    #[test]
    fn duplicate_names_report_both_places() {
        let def = CronJobDef {
            defined_in: None,
            name: "dup".into(),
            schedule: "* * * * *".into(),
            time_zone: None,
            command: vec!["true".into()],
            resources: Default::default(),
            class: None,
        };
        let defs = vec![
            (
                def.clone(),
                Place {
                    file: "a.yaml".into(),
                    document: 1,
                },
            ),
            (
                def,
                Place {
                    file: "b.yaml".into(),
                    document: 2,
                },
            ),
        ];
        let mut problems = Vec::new();
        check_unique(&defs, &mut problems);
        assert_eq!(problems.len(), 1);
        let msg = &problems[0].message;
        assert!(msg.contains("a.yaml (document 1)"), "{msg}");
        assert!(msg.contains("b.yaml (document 2)"), "{msg}");
        assert_eq!(problems[0].file, Path::new("b.yaml"));
    }
}

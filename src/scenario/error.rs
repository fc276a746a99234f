//! Errors and problems found in scenario and job-definition files.

use std::fmt;
use std::path::PathBuf;

/// One thing wrong with a scenario or job definition, found while validating.
///
/// Validation collects every problem instead of stopping at the first, so a user can fix a file in
/// one pass. Each message names what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file the problem is in.
    pub file: PathBuf,
    /// What the problem is about: a CronJob name (`cb-00001`), a scenario field
    /// (`apply.qps`), or `None` when it is about the whole file.
    pub name: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(
        file: impl Into<PathBuf>,
        name: Option<impl Into<String>>,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            file: file.into(),
            name: name.map(Into::into),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    /// `file: name: message`, or `file: message` when the message opens with the key path
    /// it is about (`load.cronjobs is 0; ...` under `load.cronjobs`): the place is said once.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) if !restates_key(&self.message, name) => {
                write!(f, "{}: {}: {}", self.file.display(), name, self.message)
            }
            _ => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Whether `message` opens with the key path `name` (or a path under it, `load.resources` ->
/// `load.resources.requests.cpu`). Only key paths count (they hold `.`, `[` or `_`): a
/// CronJob's name, a DNS label, never does, so a message about CronJob `a` keeps its name.
fn restates_key(message: &str, name: &str) -> bool {
    name.contains(['.', '[', '_'])
        && message
            .strip_prefix(name)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '.', '[', ':']))
}

/// The largest scenario or job-definition file cronbench reads, in bytes. The biggest shipped
/// scenario is under 2 KiB and a thousand job definitions fit in 1 MiB; the bound keeps a stray
/// file (a log, `/dev/zero`, a 50 MB command) from being read into memory whole.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Why loading, validating or analysing a scenario failed.
///
/// None of these is retryable: each names the file and what to change in it. Causes are printed
/// in the message, once, and are not chained as `source` (the CLI prints the chain, which would
/// repeat them).
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A file could not be read.
    #[error("could not read {}: {}", path.display(), read_advice(cause, "file"))]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },

    /// A file is larger than [`MAX_FILE_BYTES`].
    #[error(
        "{}: the file is larger than {max} bytes, the most cronbench reads (scenarios and job \
         definitions are small; this is likely the wrong file); pass a scenario or split the job \
         definitions across files",
        path.display()
    )]
    TooLarge { path: PathBuf, max: u64 },

    /// A file is not UTF-8 text.
    #[error(
        "{}: line {line}: the file is not UTF-8 text (byte {offset} is not valid UTF-8); save it \
         as UTF-8",
        path.display()
    )]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        offset: usize,
    },

    /// A folder of job definitions could not be listed.
    #[error(
        "could not list the job definitions in {}: {}; make load.jobs_dir name a folder of \
         job definitions (relative to the scenario file)",
        path.display(),
        read_advice(cause, "folder")
    )]
    ReadDir {
        path: PathBuf,
        cause: std::io::Error,
    },

    /// A file is not valid YAML, or does not have the expected shape (unknown keys, wrong types).
    #[error("{}", problem)]
    Parse { problem: Problem },

    /// A file parsed but holds values Kubernetes (or cronbench) would reject. The first line is
    /// the first problem, as `lint` prints it.
    #[error("{}\n{}: {} problem(s); fix them and run again", list(problems), path.display(), problems.len())]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },

    /// A cron expression the CronJob controller would not accept.
    #[error("invalid schedule '{schedule}': {reason}")]
    Schedule { schedule: String, reason: String },

    /// Computing the times a (valid) schedule fires failed in the cron library.
    #[error("could not compute when schedule '{schedule}' fires (use a simpler 5-field schedule)")]
    Ticks {
        schedule: String,
        #[source]
        source: croner::errors::CronError,
    },

    /// A time could not be converted while computing schedule ticks.
    #[error(
        "could not compute when schedule '{schedule}' fires (use times between the years 1 and \
         9999)"
    )]
    Time {
        schedule: String,
        #[source]
        source: jiff::Error,
    },
}

impl ScenarioError {
    /// The problems in this error, for a lint report: a parse error is one problem, `Invalid` is
    /// its list, anything else one problem about the whole file.
    pub fn into_problems(self, file: &std::path::Path) -> Vec<Problem> {
        match self {
            ScenarioError::Parse { problem } => vec![problem],
            ScenarioError::Invalid { problems, .. } => problems,
            ScenarioError::NotUtf8 { path, line, offset } => vec![Problem::new(
                path,
                Some(format!("line {line}")),
                format!(
                    "the file is not UTF-8 text (byte {offset} is not valid UTF-8); save it as \
                     UTF-8"
                ),
            )],
            ScenarioError::TooLarge { path, max } => vec![Problem::new(
                path,
                None::<String>,
                format!(
                    "the file is larger than {max} bytes, the most cronbench reads; split the job \
                     definitions across files"
                ),
            )],
            other => vec![Problem::new(file, None::<String>, other.to_string())],
        }
    }
}

/// What went wrong reading a file or folder, and what to do, in words (not the OS error code).
fn read_advice(cause: &std::io::Error, what: &str) -> String {
    use std::io::ErrorKind;
    if cause.raw_os_error() == Some(libc::ELOOP) {
        return "it is a symbolic link that loops back on itself; point it at a real file or \
                remove it"
            .to_string();
    }
    match cause.kind() {
        ErrorKind::NotFound if what == "folder" => "there is no such folder".to_string(),
        ErrorKind::NotFound => format!(
            "there is no such {what}; check the path (a relative path starts at the current folder)"
        ),
        ErrorKind::PermissionDenied => {
            format!("permission denied; make the {what} readable by this user")
        }
        ErrorKind::IsADirectory => {
            "it is a folder; pass the scenario's .yaml file (lint also takes a folder of job \
             definitions)"
                .to_string()
        }
        ErrorKind::NotADirectory => "it is a file, not a folder".to_string(),
        _ => format!("{cause}; check that it is a readable {what}"),
    }
}

/// One problem a line, the first at the start so the first line of the error is the first
/// problem, as `lint` prints it.
fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_error_is_send_sync_so_anyhow_can_carry_it() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<ScenarioError>();
    }

    #[test]
    fn a_key_path_the_message_opens_with_is_said_once() {
        let shown =
            |name: &str, message: &str| Problem::new("s.yaml", Some(name), message).to_string();
        assert_eq!(
            shown("load.cronjobs", "load.cronjobs is 0; set it to 1 or more"),
            "s.yaml: load.cronjobs is 0; set it to 1 or more"
        );
        assert_eq!(
            shown(
                "load.resources",
                "load.resources.requests.cpu: '-1' is negative"
            ),
            "s.yaml: load.resources.requests.cpu: '-1' is negative"
        );
        assert_eq!(
            shown("faults[1]", "faults[1] (kill-scheduler) overlaps faults[0]"),
            "s.yaml: faults[1] (kill-scheduler) overlaps faults[0]"
        );
        // A different key, and a CronJob's name, stay.
        assert_eq!(
            shown("load.schedule", "invalid schedule 'x'"),
            "s.yaml: load.schedule: invalid schedule 'x'"
        );
        assert_eq!(
            shown("load.image", "load.image_pull_policy is wrong"),
            "s.yaml: load.image: load.image_pull_policy is wrong"
        );
        assert_eq!(
            shown("resources", "resources.requests.cpu: '-1' is negative"),
            "s.yaml: resources: resources.requests.cpu: '-1' is negative"
        );
    }

    #[test]
    fn invalid_error_starts_with_the_first_problem_and_lists_every_one() {
        let err = ScenarioError::Invalid {
            path: "s.yaml".into(),
            problems: vec![
                Problem::new(
                    "s.yaml",
                    Some("apply.qps"),
                    "qps is -1; set it to 0 or more",
                ),
                Problem::new("j.yaml", None::<String>, "empty file; add a job"),
            ],
        };
        let text = err.to_string();
        assert!(text.starts_with("s.yaml: apply.qps: qps is -1"), "{text}");
        assert!(text.contains("j.yaml: empty file"), "{text}");
        assert!(
            text.ends_with("s.yaml: 2 problem(s); fix them and run again"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_file_is_named_once_with_the_fix_and_no_os_error_code() {
        let err = ScenarioError::Read {
            path: "x.yaml".into(),
            cause: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let text = err.to_string();
        assert_eq!(
            text,
            "could not read x.yaml: there is no such file; check the path (a relative path \
             starts at the current folder)"
        );
        assert!(std::error::Error::source(&err).is_none());
    }
}

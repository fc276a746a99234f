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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{}: {}: {}", self.file.display(), name, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Why loading, validating or analysing a scenario failed.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A file could not be read.
    #[error("could not read {}: {source}; check that the path exists and is readable", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A folder of job definitions could not be listed.
    #[error(
        "could not list the job definitions in {}: {source}; make sure load.jobs_dir names an \
         existing folder (relative to the scenario file)",
        path.display()
    )]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file is not valid YAML, or does not have the expected shape (unknown keys, wrong types).
    #[error(
        "could not parse {} as {what}: {source}\nfix the YAML there; unknown keys are rejected \
         (see {example} for the accepted keys)",
        path.display()
    )]
    Parse {
        path: PathBuf,
        /// "a scenario" or "job definitions".
        what: &'static str,
        /// A shipped file showing the accepted keys.
        example: &'static str,
        #[source]
        source: Box<serde_saphyr::Error>,
    },

    /// A file parsed but holds values Kubernetes (or cronbench) would reject.
    #[error("{} has {} problem(s):\n{}", path.display(), problems.len(), list(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },

    /// A cron expression the CronJob controller would not accept.
    #[error("invalid schedule '{schedule}': {reason}")]
    Schedule { schedule: String, reason: String },

    /// Computing the times a (valid) schedule fires failed in the cron library.
    #[error(
        "could not compute when schedule '{schedule}' fires: {source}; use a simpler 5-field \
         schedule"
    )]
    Ticks {
        schedule: String,
        #[source]
        source: croner::errors::CronError,
    },

    /// A time could not be converted while computing schedule ticks.
    #[error(
        "could not compute when schedule '{schedule}' fires: {source}; use times between the years 1 and 9999"
    )]
    Time {
        schedule: String,
        #[source]
        source: jiff::Error,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
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
    fn invalid_error_lists_every_problem_with_file_and_name() {
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
        assert!(text.contains("s.yaml has 2 problem(s)"), "{text}");
        assert!(text.contains("s.yaml: apply.qps: qps is -1"), "{text}");
        assert!(text.contains("j.yaml: empty file"), "{text}");
    }
}

//! Analysis of an event log: a pure function of `events.jsonl`.
//!
//! [`analyze_file`] reads the log line by line; [`analyze_lines`] takes already parsed lines.
//! The floors, each one concern: `ingest` (lines of bounded length, the window), `runs` (the
//! one reconstruction of runs, a stream of finished runs), `tally` (the counting of that
//! stream), `series` (compact per-run residue and the series made from it), `expected` (cron
//! math), `verdict`, `faults` (game-day windows); `state` drives them. Memory follows the
//! runs in flight, never the log's length.

mod balance;
mod expected;
mod faults;
mod fleet;
mod groups;
pub(crate) mod ingest;
mod policies;
pub mod resources;
mod retired;
mod run_key;
pub(crate) mod runs;
mod series;
mod state;
mod tally;
mod verdict;

use std::path::{Path, PathBuf};

use crate::results::Results;
use crate::schema::LogLine;

pub use crate::report::table::summary_table;

/// A map keyed by object names: foldhash, not SipHash (a profile of a 50,000-CronJob log's
/// analysis put 3.8% of it in SipHash); the names are the user's own cluster's.
pub(crate) type NameMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// The same in insertion order.
pub(crate) type NameIndex<K, V> = indexmap::IndexMap<K, V, foldhash::fast::RandomState>;

/// Why an event log could not be analyzed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("opening event log {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading line {line} of event log {path}")]
    Read {
        path: PathBuf,
        line: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing line {line} of event log {path}")]
    Parse {
        path: PathBuf,
        line: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "line {line} of event log {path} is longer than {} MiB without a newline: not an event log line; pass a run directory or its events.jsonl",
        .max >> 20
    )]
    LineTooLong {
        path: PathBuf,
        line: u64,
        max: usize,
    },
    #[error("reading the event log: it has no lines")]
    Empty,
    #[error("reading the event log: its first line is a {found} line, not run_started")]
    NotRunStarted { found: &'static str },
    #[error("reading the event log: schema version {found} is not the supported {expected}")]
    SchemaVersion { found: u32, expected: u32 },
    #[error(
        "the scenario recorded in run_started has an SLO no run can be judged by: {problems}; \
         the log was edited or written by a cronbench without these checks: fix the first line's \
         scenario.slo, or run the scenario again"
    )]
    InvalidSlo { problems: String },
    #[error("parsing the scenario recorded in run_started")]
    Scenario {
        #[source]
        source: serde_json::Error,
    },
    #[error("creating a latency histogram")]
    Histogram {
        #[source]
        source: hdrhistogram::CreationError,
    },
    #[error("computing the expected runs of CronJob {cronjob} (schedule {schedule:?})")]
    Schedule {
        cronjob: String,
        schedule: String,
        #[source]
        source: Box<crate::scenario::ScenarioError>,
    },
}

/// Analyzes the event log at `path`, reading it line by line.
///
/// Blank lines are skipped. A last line cut off mid-write (no newline, not valid JSON, as an
/// interrupted run can leave) is skipped and reported in `anomalies.truncated_last_line`; any
/// other unparsable line is an error.
pub fn analyze_file(path: impl AsRef<Path>) -> Result<Results, AnalyzeError> {
    analyze_file_in(path.as_ref(), None)
}

/// Like [`analyze_file`], for the runs scheduled in `[start_ms, end_ms)` instead of the
/// measure phase: one step of `find-limit`, in a log that holds the whole search. The log may
/// still be growing; a last line cut off mid-write is skipped.
pub fn analyze_file_window(
    path: impl AsRef<Path>,
    start_ms: i64,
    end_ms: i64,
) -> Result<Results, AnalyzeError> {
    analyze_file_in(path.as_ref(), Some((start_ms, end_ms)))
}

fn analyze_file_in(path: &Path, window: Option<(i64, i64)>) -> Result<Results, AnalyzeError> {
    let mut reader = ingest::LineReader::open(path)?;
    let mut analyzer: Option<state::Analyzer> = None;
    let mut truncated = false;
    while let Some(raw) = reader.next_line()? {
        if raw.text.is_empty() {
            continue;
        }
        let line: LogLine = match serde_json::from_slice(raw.text) {
            Ok(line) => line,
            Err(_) if !raw.complete && analyzer.is_some() => {
                truncated = true;
                break;
            }
            // A corrupted line inside the log: the rest is still worth analyzing, and the
            // results say how many lines were dropped and where the first was.
            Err(source) if analyzer.is_some() => {
                if let Some(a) = analyzer.as_mut() {
                    a.drop_unparsed(raw.number, &source);
                }
                continue;
            }
            Err(source) => {
                return Err(AnalyzeError::Parse {
                    path: path.to_owned(),
                    line: raw.number,
                    source,
                });
            }
        };
        match analyzer.as_mut() {
            Some(a) => a.push(line),
            None => {
                let mut a = state::Analyzer::new(line)?;
                if let Some((start, end)) = window {
                    a.set_window(start, end);
                }
                analyzer = Some(a);
            }
        }
    }
    let mut analyzer = analyzer.ok_or(AnalyzeError::Empty)?;
    analyzer.set_truncated_last_line(truncated);
    analyzer.finish()
}

/// Analyzes parsed log lines; the first must be `run_started`.
pub fn analyze_lines(lines: impl IntoIterator<Item = LogLine>) -> Result<Results, AnalyzeError> {
    analyze_lines_in(lines, None)
}

/// Like [`analyze_lines`], for the runs scheduled in `[start_ms, end_ms)`.
pub fn analyze_lines_window(
    lines: impl IntoIterator<Item = LogLine>,
    start_ms: i64,
    end_ms: i64,
) -> Result<Results, AnalyzeError> {
    analyze_lines_in(lines, Some((start_ms, end_ms)))
}

fn analyze_lines_in(
    lines: impl IntoIterator<Item = LogLine>,
    window: Option<(i64, i64)>,
) -> Result<Results, AnalyzeError> {
    let mut lines = lines.into_iter();
    let first = lines.next().ok_or(AnalyzeError::Empty)?;
    let mut analyzer = state::Analyzer::new(first)?;
    if let Some((start, end)) = window {
        analyzer.set_window(start, end);
    }
    for line in lines {
        analyzer.push(line);
    }
    analyzer.finish()
}

#[cfg(test)]
mod tests;

//! Reports of one run: a self-contained HTML page with SVG charts, a Markdown summary (for a
//! GitHub step summary) and JUnit XML (one test case per SLO check).
//!
//! [`render`] reads a run directory (`results.json`, and `events.jsonl` for the series that
//! `results.json` does not hold); [`render_results`] takes the results directly. The data
//! behind the charts ([`data`]) is built apart from the drawing ([`charts`]).

mod balance;
pub mod bench;
pub mod charts;
pub mod compare;
pub mod components;
pub mod data;
mod fleet;
pub mod history;
mod html;
pub mod limit;
pub mod openmetrics;
mod resources;
pub mod table;
mod text;
pub mod write;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::analyze::AnalyzeError;
use crate::limit::report::{LIMIT_SCHEMA_VERSION, LimitReport};
use crate::results::{Check, Clock, Results};
use crate::session::RunFile;

/// File name of the results in a run directory.
pub const RESULTS_FILE: &str = RunFile::Results.name();
/// File name of the event log in a run directory.
pub const EVENTS_FILE: &str = RunFile::Events.name();
/// File name of a find-limit search's report in its directory.
pub const LIMIT_FILE: &str = RunFile::Limit.name();
/// File name [`report_command`] writes an HTML report to by default.
pub const HTML_REPORT_FILE: &str = "report.html";

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One self-contained HTML page: verdict, tables, charts, metadata.
    #[default]
    Html,
    /// Verdict, SLO table and percentile table, for a GitHub step summary.
    Markdown,
    /// JUnit XML: one test suite, one test case per SLO check.
    Junit,
    /// The results as OpenMetrics text (also valid Prometheus text format 0.0.4).
    OpenMetrics,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::Html,
        Format::Markdown,
        Format::Junit,
        Format::OpenMetrics,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Markdown => "markdown",
            Format::Junit => "junit",
            Format::OpenMetrics => "openmetrics",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "html" => Ok(Format::Html),
            "markdown" | "md" => Ok(Format::Markdown),
            "junit" | "xml" => Ok(Format::Junit),
            "openmetrics" | "prometheus" => Ok(Format::OpenMetrics),
            _ => Err(ReportError::UnknownFormat(s.to_string())),
        }
    }
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing {path}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{dir} has neither {RESULTS_FILE} nor {EVENTS_FILE}; pass a run directory (runs/<run id>)"
    )]
    NotARunDir { dir: PathBuf },
    #[error("{dir} does not exist; pass a run directory (runs/<run id>)")]
    NoSuchDir { dir: PathBuf },
    #[error(
        "{path}: schema_version {found}, but this cronbench reads {expected}; re-create it with `cronbench analyze` on the run directory, or use the cronbench that wrote it"
    )]
    SchemaVersion {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error("analyzing the event log")]
    Analyze(#[from] AnalyzeError),
    #[error("reading the event log {path}")]
    Events {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("drawing the chart {chart}: {message}")]
    Chart {
        chart: &'static str,
        message: String,
    },
    #[error("rendering the HTML template")]
    Template(#[source] minijinja::Error),
    #[error("unknown report format {0:?} (expected html, markdown, junit or openmetrics)")]
    UnknownFormat(String),
    #[error("writing {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Loads the results of the run in `run_dir`: its `results.json`, or when there is none, the
/// analysis of its `events.jsonl`. `run_dir` may also be one of those files itself.
pub fn load_results(run_dir: &Path) -> Result<Results, ReportError> {
    if run_dir.is_file() {
        if run_dir.extension().is_some_and(|e| e == "jsonl") {
            return Ok(crate::analyze::analyze_file(run_dir)?);
        }
        let text = std::fs::read_to_string(run_dir).map_err(|source| ReportError::Read {
            path: run_dir.to_owned(),
            source,
        })?;
        return results_of_json(run_dir.to_owned(), &text);
    }
    let path = run_dir.join(RESULTS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => results_of_json(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !run_dir.exists() => {
            Err(ReportError::NoSuchDir {
                dir: run_dir.to_owned(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let events = run_dir.join(EVENTS_FILE);
            if events.is_file() {
                Ok(crate::analyze::analyze_file(events)?)
            } else {
                Err(ReportError::NotARunDir {
                    dir: run_dir.to_owned(),
                })
            }
        }
        Err(source) => Err(ReportError::Read { path, source }),
    }
}

/// Loads the `limit.json` of the find-limit search in `dir`.
pub fn load_limit(dir: &Path) -> Result<LimitReport, ReportError> {
    let path = dir.join(LIMIT_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| ReportError::Read {
        path: path.clone(),
        source,
    })?;
    let limit: LimitReport = parse_json(&path, &text)?;
    check_version(path, limit.schema_version, LIMIT_SCHEMA_VERSION)?;
    Ok(limit)
}

fn results_of_json(path: PathBuf, text: &str) -> Result<Results, ReportError> {
    let results: Results = parse_json(&path, text)?;
    check_version(path, results.schema_version, crate::schema::SCHEMA_VERSION)?;
    Ok(results)
}

/// The run directory of `path`: itself, or the folder of a results or event log file.
fn run_dir_of(path: &Path) -> &Path {
    if path.is_file() {
        path.parent().unwrap_or(Path::new("."))
    } else {
        path
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, ReportError> {
    serde_json::from_str(text).map_err(|source| ReportError::Parse {
        path: path.to_owned(),
        source,
    })
}

fn check_version(path: PathBuf, found: u32, expected: u32) -> Result<(), ReportError> {
    if found == expected {
        return Ok(());
    }
    Err(ReportError::SchemaVersion {
        path,
        found,
        expected,
    })
}

/// Renders the report of the run in `run_dir` (its `results.json`, and its `events.jsonl`
/// when present).
pub fn render(run_dir: &Path, format: Format) -> Result<String, ReportError> {
    let results = load_results(run_dir)?;
    let events = run_dir_of(run_dir).join(EVENTS_FILE);
    let events = events.is_file().then_some(events);
    render_results(&results, events.as_deref(), format)
}

/// Renders the report of `results`. Only the HTML format reads `events` (the run's event
/// log), for the latency distributions and the series over time; without it those charts
/// fall back to the percentiles or say "n/a".
pub fn render_results(
    results: &Results,
    events: Option<&Path>,
    format: Format,
) -> Result<String, ReportError> {
    match format {
        Format::Html => {
            let series = events
                .map(|p| data::EventSeries::from_file(p, results.window.as_ref()))
                .transpose()?;
            html::render(results, series.as_ref())
        }
        Format::Markdown => Ok(text::markdown(results)),
        Format::Junit => Ok(text::junit(results)),
        Format::OpenMetrics => Ok(openmetrics::render(results)),
    }
}

/// What `cronbench report` does: renders the run in `run_dir` and writes it to `out`, or for
/// HTML without `out` to `run_dir/report.html`; Markdown and JUnit without `out` are returned
/// for the caller to print. Returns the path written, if any, and the text not written.
pub fn report_command(
    run_dir: &Path,
    out: Option<&Path>,
    format: Format,
) -> Result<(Option<PathBuf>, Option<String>), ReportError> {
    let text = render(run_dir, format)?;
    let target = match (out, format) {
        (Some(p), _) => Some(p.to_owned()),
        (None, Format::Html) => Some(run_dir_of(run_dir).join(HTML_REPORT_FILE)),
        (None, Format::Markdown | Format::Junit | Format::OpenMetrics) => None,
    };
    match target {
        Some(path) => {
            std::fs::write(&path, text).map_err(|source| ReportError::Write {
                path: path.clone(),
                source,
            })?;
            Ok((Some(path), None))
        }
        None => Ok((None, Some(text))),
    }
}

/// "n/a" for missing values.
pub(crate) const NA: &str = "n/a";

/// A latency in milliseconds, to the precision of its clock.
pub(crate) fn fmt_latency(ms: Option<f64>, clock: Clock) -> String {
    match (ms, clock) {
        (Some(ms), _) if !ms.is_finite() => NA.to_string(),
        (Some(ms), Clock::Client) => format!("{:.3} s", ms / 1000.0),
        (Some(ms), Clock::Server) => format!("{:.0} s", ms / 1000.0),
        (None, _) => NA.to_string(),
    }
}

/// A number without needless decimals.
pub(crate) fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return NA.to_string();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A measured or threshold value of a check, with its unit.
pub(crate) fn fmt_check_value(check: Check, v: Option<f64>) -> String {
    let Some(v) = v.filter(|v| v.is_finite()) else {
        return NA.to_string();
    };
    match check {
        Check::JobsPerMinute => format!("{} /min", fmt_num(v)),
        Check::P99ScheduleToStart => format!("{} s", fmt_num(v)),
        Check::StartedShare | Check::CompletedShare => format!("{}%", fmt_num(v * 100.0)),
        Check::Missed | Check::StuckPods => fmt_num(v),
    }
}

/// An RFC 3339 time of Unix milliseconds.
pub(crate) fn fmt_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| NA.to_string(), |t| t.to_string())
}

/// "PASS" or "FAIL".
pub(crate) fn pass_word(pass: bool) -> &'static str {
    if pass { "PASS" } else { "FAIL" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().expect("parses"), f);
        }
        assert!("pdf".parse::<Format>().is_err());
    }

    #[test]
    fn a_results_file_of_another_schema_version_is_refused() {
        let dir = std::env::temp_dir().join(format!("cronbench-schema-999-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let events = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/healthy.jsonl");
        let mut json = serde_json::to_value(crate::analyze::analyze_file(events).expect("analyze"))
            .expect("to json");
        json["schema_version"] = serde_json::json!(999);
        std::fs::write(dir.join(RESULTS_FILE), json.to_string()).expect("write");
        let err = load_results(&dir).expect_err("version 999 refused");
        assert!(
            matches!(err, ReportError::SchemaVersion { found: 999, .. }),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn value_formatting() {
        assert_eq!(fmt_latency(Some(1234.0), Clock::Client), "1.234 s");
        assert_eq!(fmt_latency(Some(2000.0), Clock::Server), "2 s");
        assert_eq!(fmt_latency(None, Clock::Client), "n/a");
        assert_eq!(fmt_check_value(Check::StartedShare, Some(0.995)), "99.5%");
        assert_eq!(fmt_check_value(Check::JobsPerMinute, Some(50.0)), "50 /min");
        assert_eq!(fmt_check_value(Check::Missed, None), "n/a");
        assert_eq!(fmt_check_value(Check::Missed, Some(f64::NAN)), "n/a");
        assert_eq!(fmt_num(0.1 + 0.2), "0.3");
    }

    #[test]
    fn missing_run_dir_is_an_error() {
        let dir =
            std::env::temp_dir().join(format!("cronbench-report-none-{}", std::process::id()));
        let err = render(&dir, Format::Markdown).expect_err("no run there");
        assert!(matches!(err, ReportError::NoSuchDir { .. }), "{err}");
    }
}

//! Reading the event log: lines of bounded length, and the measured window its phases set.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::AnalyzeError;
use super::runs::{RunEvent, Runs};
use crate::results::{Window, WindowEnd};
use crate::schema::LogLine;

/// The longest line read. An observation is a few hundred bytes and `run_started` holds the
/// scenario (kilobytes); a line longer than this is not an event log line (`/dev/zero`, a
/// binary file), and reading it whole would exhaust memory.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// How long before `run_started` a line may have been received (a clock stepped back, a
/// watcher's replay).
pub const SPAN_BEFORE_MS: i64 = 3_600_000;
/// How long after `run_started` a line may have been received: a week, longer than any load
/// test runs. Per-second and per-minute series are sized by the span, so a line years away
/// (year 9999, `i64::MAX`) must not stretch it.
pub const SPAN_AFTER_MS: i64 = 7 * 24 * 3_600_000;

/// Whether a line received at `recv_ms` lies in the span of a run started at `run_start_ms`.
pub(crate) fn in_run_span(run_start_ms: i64, recv_ms: i64) -> bool {
    run_start_ms.saturating_sub(SPAN_BEFORE_MS) <= recv_ms
        && recv_ms <= run_start_ms.saturating_add(SPAN_AFTER_MS)
}

/// One line of the log, without its newline.
#[derive(Debug)]
pub(crate) struct RawLine<'a> {
    /// 1-based.
    pub number: u64,
    /// Leading and trailing ASCII whitespace trimmed; empty for a blank line.
    pub text: &'a [u8],
    /// It ended with a newline (a last line cut off mid-write does not).
    pub complete: bool,
}

/// Reads an event log line by line, each at most [`MAX_LINE_BYTES`].
pub(crate) struct LineReader {
    path: PathBuf,
    reader: BufReader<File>,
    buf: Vec<u8>,
    number: u64,
}

impl LineReader {
    pub fn open(path: &Path) -> Result<LineReader, AnalyzeError> {
        let file = File::open(path).map_err(|source| AnalyzeError::Open {
            path: path.to_owned(),
            source,
        })?;
        Ok(LineReader {
            path: path.to_owned(),
            reader: BufReader::new(file),
            buf: Vec::new(),
            number: 0,
        })
    }

    /// The next line, `None` at the end of the file.
    pub fn next_line(&mut self) -> Result<Option<RawLine<'_>>, AnalyzeError> {
        self.buf.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let n = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buf)
            .map_err(|source| AnalyzeError::Read {
                path: self.path.clone(),
                line: self.number + 1,
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.number += 1;
        let complete = self.buf.last() == Some(&b'\n');
        if !complete && self.buf.len() > MAX_LINE_BYTES {
            return Err(AnalyzeError::LineTooLong {
                path: self.path.clone(),
                line: self.number,
                max: MAX_LINE_BYTES,
            });
        }
        Ok(Some(RawLine {
            number: self.number,
            text: self.buf.trim_ascii(),
            complete,
        }))
    }
}

/// Folds a run's Job and Pod lines into [`Runs`], leaving out lines received far outside the
/// run's span as analysis leaves them out: the replay of the runs that report and bench read.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    /// From the `run_started` line.
    run_start_ms: Option<i64>,
}

impl Replay {
    pub fn push(&mut self, runs: &mut Runs, line: LogLine, sink: &mut impl FnMut(RunEvent<'_>)) {
        if let LogLine::RunStarted(r) = &line {
            self.run_start_ms.get_or_insert(r.recv_ms);
        }
        if self
            .run_start_ms
            .is_some_and(|start| !in_run_span(start, line.recv_ms()))
        {
            return;
        }
        match line {
            LogLine::Job(job) => runs.push_job(job, sink),
            LogLine::Pod(pod) => runs.push_pod(pod, sink),
            _ => {}
        }
    }
}

/// Replays the event log at `path` line by line into `sink`, each run handed on once as it
/// ends or at the end of the log. Lines that do not parse (a cut-off last line) are skipped;
/// their count is returned.
pub(crate) fn replay_file(
    path: &Path,
    sink: &mut impl FnMut(RunEvent<'_>),
) -> Result<u64, AnalyzeError> {
    let mut reader = LineReader::open(path)?;
    let mut runs = Runs::new(true);
    let mut replay = Replay::default();
    let mut skipped = 0;
    while let Some(raw) = reader.next_line()? {
        if raw.text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<LogLine>(raw.text) {
            Ok(line) => replay.push(&mut runs, line, sink),
            Err(_) => skipped += 1,
        }
    }
    runs.finish(sink);
    Ok(skipped)
}

/// The measured window as the phases of the log set it, or as the caller set it.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Phases {
    pub measure_ms: Option<i64>,
    pub drain_ms: Option<i64>,
    /// A window set by the caller, used instead of the measure and drain phases.
    pub window_override: Option<(i64, i64)>,
}

impl Phases {
    /// The window as far as the log has told it: start, and end once the drain began.
    pub fn window_now(&self) -> Option<(i64, Option<i64>)> {
        if let Some((s, e)) = self.window_override {
            return Some((s, Some(e)));
        }
        let start = self.measure_ms?;
        Some((start, self.drain_ms.filter(|&d| d >= start)))
    }

    /// The window once the log ended at `last_recv_ms`: a log without a drain phase
    /// (interrupted) ends at its last line.
    pub fn window(&self, last_recv_ms: i64) -> Option<Window> {
        let (start_ms, end_ms, end) = match self.window_override {
            Some((s, e)) => (s, e, WindowEnd::Drain),
            None => {
                let start_ms = self.measure_ms?;
                match self.drain_ms {
                    Some(d) if d >= start_ms => (start_ms, d, WindowEnd::Drain),
                    _ => (start_ms, last_recv_ms, WindowEnd::LastLine),
                }
            }
        };
        Some(Window {
            start_ms,
            end_ms,
            end,
            duration_s: (end_ms - start_ms) as f64 / 1000.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_line_is_an_error_naming_the_file_line_and_bound() {
        let Ok(mut r) = LineReader::open(Path::new("/dev/zero")) else {
            return; // no /dev/zero on this system
        };
        let err = r.next_line().expect_err("an endless line is refused");
        assert!(
            matches!(err, AnalyzeError::LineTooLong { line: 1, .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("/dev/zero") && text.contains("line 1"),
            "{text}"
        );
        assert!(text.contains("16 MiB"), "{text}");
    }

    #[test]
    fn lines_are_trimmed_and_a_cut_off_last_line_is_incomplete() {
        let path = std::env::temp_dir().join(format!("cronbench-ingest-{}", std::process::id()));
        std::fs::write(&path, " a \n\nb").expect("write");
        let mut r = LineReader::open(&path).expect("open");
        let mut got = Vec::new();
        while let Some(l) = r.next_line().expect("read") {
            got.push((l.number, l.text.to_vec(), l.complete));
        }
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            got,
            vec![
                (1, b"a".to_vec(), true),
                (2, Vec::new(), true),
                (3, b"b".to_vec(), false)
            ]
        );
    }
}

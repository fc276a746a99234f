//! `events.jsonl`: one writer task owns the file; everyone else sends lines over a channel.
//! Lines are written as they arrive and flushed whenever the channel runs dry, so a crash
//! loses at most what was still queued.

use std::io::Write;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::schema::LogLine;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("could not create the event log {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write the event log {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("creating the record-lag histogram: {source}")]
    Histogram {
        #[source]
        source: hdrhistogram::CreationError,
    },
    #[error("the event log writer stopped unexpectedly")]
    Stopped,
}

/// The sending side; cheap to clone.
#[derive(Debug, Clone)]
pub struct LogSender(mpsc::UnboundedSender<LogLine>);

impl LogSender {
    /// Queues a line. After the writer stopped, lines are dropped (the run is ending).
    pub fn send(&self, line: LogLine) {
        let _ = self.0.send(line);
    }
}

/// Current time as Unix milliseconds: the client receive time of an observation.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// What the writer did: lines written, and how long lines took from their client receive time
/// (`recv_ms`) to being flushed into the file.
#[derive(Debug, Clone)]
pub struct LogStats {
    pub lines: u64,
    /// Milliseconds from `recv_ms` to the end of the `write(2)` that put the line in the file;
    /// 1 ms resolution (both ends are wall-clock milliseconds), at most [`RECORD_LAG_MAX_MS`].
    pub record_lag_ms: Histogram<u64>,
    /// Lags above [`RECORD_LAG_MAX_MS`] (recorded at the maximum), and lines whose `recv_ms`
    /// lies after the write (a clock step), which are not recorded.
    pub record_lag_outliers: u64,
    pub record_lag_negative: u64,
}

/// Largest record lag the histogram holds: one minute.
pub const RECORD_LAG_MAX_MS: u64 = 60_000;

impl LogStats {
    fn new() -> Result<Self, LogError> {
        Ok(LogStats {
            lines: 0,
            record_lag_ms: Histogram::new_with_bounds(1, RECORD_LAG_MAX_MS, 3)
                .map_err(|source| LogError::Histogram { source })?,
            record_lag_outliers: 0,
            record_lag_negative: 0,
        })
    }

    fn record(&mut self, lag_ms: i64) {
        if lag_ms < 0 {
            self.record_lag_negative += 1;
            return;
        }
        let lag = lag_ms.unsigned_abs();
        if lag > RECORD_LAG_MAX_MS {
            self.record_lag_outliers += 1;
        }
        self.record_lag_ms
            .saturating_record(lag.min(RECORD_LAG_MAX_MS));
    }

    /// The summary written to a run directory's `harness.json`.
    pub fn summary(&self) -> RecordLag {
        let h = &self.record_lag_ms;
        let q = |q: f64| (!h.is_empty()).then(|| h.value_at_quantile(q));
        RecordLag {
            lines: self.lines,
            count: h.len(),
            p50_ms: q(0.5),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: (!h.is_empty()).then(|| h.max()),
            outliers: self.record_lag_outliers,
            negative: self.record_lag_negative,
        }
    }
}

/// The record lag of a run: client receive time to the line written in `events.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordLag {
    pub lines: u64,
    pub count: u64,
    pub p50_ms: Option<u64>,
    pub p99_ms: Option<u64>,
    pub p999_ms: Option<u64>,
    pub max_ms: Option<u64>,
    pub outliers: u64,
    pub negative: u64,
}

/// Starts the writer. Dropping every sender ends it; `join` returns what it wrote.
pub fn start(
    path: &Path,
) -> Result<
    (
        LogSender,
        tokio::task::JoinHandle<Result<LogStats, LogError>>,
    ),
    LogError,
> {
    let file = std::fs::File::create(path).map_err(|source| LogError::Create {
        path: path.to_path_buf(),
        source,
    })?;
    let mut stats = LogStats::new()?;
    let (tx, mut rx) = mpsc::unbounded_channel::<LogLine>();
    let path = path.to_path_buf();
    let handle = tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
        // Receive times of the lines buffered since the last flush: a line counts as recorded
        // once it is in the file, not in the buffer.
        let mut pending: Vec<i64> = Vec::with_capacity(1024);
        let werr = |source| LogError::Write {
            path: path.clone(),
            source,
        };
        let flush = |out: &mut std::io::BufWriter<std::fs::File>,
                     pending: &mut Vec<i64>,
                     stats: &mut LogStats|
         -> Result<(), LogError> {
            out.flush().map_err(werr)?;
            let now = now_ms();
            for recv in pending.drain(..) {
                stats.record(now - recv);
            }
            Ok(())
        };
        while let Some(line) = rx.blocking_recv() {
            let mut next = Some(line);
            while let Some(line) = next {
                serde_json::to_writer(&mut out, &line).map_err(|e| werr(e.into()))?;
                out.write_all(b"\n").map_err(werr)?;
                pending.push(line.recv_ms());
                stats.lines += 1;
                // A long burst is flushed in parts, so its first lines do not wait for its last.
                next = if pending.len() >= 256 {
                    None
                } else {
                    rx.try_recv().ok()
                };
            }
            flush(&mut out, &mut pending, &mut stats)?;
        }
        flush(&mut out, &mut pending, &mut stats)?;
        Ok(stats)
    });
    Ok((LogSender(tx), handle))
}

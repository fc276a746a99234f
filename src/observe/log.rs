//! `events.jsonl`: every observation is written to the file as soon as it is made, by the task
//! that made it, so a crash loses nothing that was observed, and the lag from the client's
//! receive time to the line in the file is measured for each line.

use std::io::Write;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, PoisonError};

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

/// The writing side; cheap to clone. Each line is serialized and written to the file by the
/// task that observed it, under a lock held for a few microseconds: no queue and no thread
/// hop between the receive time and the line being in the file.
#[derive(Debug, Clone)]
pub struct LogSender {
    writer: Arc<Mutex<Writer>>,
    /// Dropped with the last sender, which tells the join handle that the log is complete.
    _open: mpsc::Sender<()>,
}

#[derive(Debug)]
struct Writer {
    out: std::io::BufWriter<std::fs::File>,
    buf: Vec<u8>,
    stats: LogStats,
    /// The first write error; later lines are dropped and the join handle returns it.
    error: Option<LogError>,
    path: PathBuf,
}

impl LogSender {
    /// Writes a line (one `write(2)` of the whole line). After a write error lines are
    /// dropped; the error comes back from the join handle.
    pub fn send(&self, line: LogLine) {
        let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if w.error.is_some() {
            return;
        }
        let w = &mut *w;
        w.buf.clear();
        let written = serde_json::to_writer(&mut w.buf, &line)
            .map_err(std::io::Error::from)
            .and_then(|()| {
                w.buf.push(b'\n');
                w.out.write_all(&w.buf)?;
                w.out.flush()
            });
        match written {
            Ok(()) => {
                w.stats.lines += 1;
                w.stats.record(now_ms() - line.recv_ms());
            }
            Err(source) => {
                w.error = Some(LogError::Write {
                    path: w.path.clone(),
                    source,
                })
            }
        }
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
    let writer = Arc::new(Mutex::new(Writer {
        out: std::io::BufWriter::with_capacity(1 << 16, file),
        buf: Vec::with_capacity(1024),
        stats: LogStats::new()?,
        error: None,
        path: path.to_path_buf(),
    }));
    let (open, mut closed) = mpsc::channel::<()>(1);
    let handle = tokio::spawn({
        let writer = writer.clone();
        async move {
            // Ends when every sender is dropped.
            let _ = closed.recv().await;
            let mut w = writer.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(e) = w.error.take() {
                return Err(e);
            }
            let path = w.path.clone();
            w.out
                .flush()
                .map_err(|source| LogError::Write { path, source })?;
            Ok(w.stats.clone())
        }
    });
    Ok((
        LogSender {
            writer,
            _open: open,
        },
        handle,
    ))
}

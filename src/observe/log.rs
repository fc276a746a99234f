//! `events.jsonl`: one writer task owns the file; everyone else sends lines over a channel.
//! Lines are written as they arrive and flushed whenever the channel runs dry, so a crash
//! loses at most what was still queued.

use std::io::Write;
use std::path::{Path, PathBuf};

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

/// Starts the writer. Dropping every sender ends it; `join` returns how many lines it wrote.
pub fn start(
    path: &Path,
) -> Result<(LogSender, tokio::task::JoinHandle<Result<u64, LogError>>), LogError> {
    let file = std::fs::File::create(path).map_err(|source| LogError::Create {
        path: path.to_path_buf(),
        source,
    })?;
    let (tx, mut rx) = mpsc::unbounded_channel::<LogLine>();
    let path = path.to_path_buf();
    let handle = tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
        let mut written = 0u64;
        let werr = |source| LogError::Write {
            path: path.clone(),
            source,
        };
        while let Some(line) = rx.blocking_recv() {
            let mut next = Some(line);
            while let Some(line) = next {
                serde_json::to_writer(&mut out, &line).map_err(|e| werr(e.into()))?;
                out.write_all(b"\n").map_err(werr)?;
                written += 1;
                next = rx.try_recv().ok();
            }
            out.flush().map_err(werr)?;
        }
        out.flush().map_err(werr)?;
        Ok(written)
    });
    Ok((LogSender(tx), handle))
}

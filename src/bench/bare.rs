//! The bench's side of the bare watcher ([`super::watch`]): started as a child process once
//! the `cronbench run` beside it has named its namespace, sampled from `/proc` with the run,
//! asked for a count (SIGUSR1) at each sample, and stopped (SIGTERM) when the run ends.
//! Dropping a [`Bare`] kills the process (error paths, Ctrl-C): it never outlives the bench.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::BenchError;
use super::child::ClusterRef;
use super::proc::{self, Child, Exit};
use super::watch::WatchCount;
use crate::call;

/// How long the bare watcher may take to print its count and exit after SIGTERM.
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// One `/proc` reading of the bare watcher.
#[derive(Debug, Clone, Copy, Default)]
pub struct BareSample {
    pub cpu_s: f64,
    pub rss_kb: u64,
    pub anon_kb: u64,
}

/// The running bare watcher.
pub struct Bare {
    child: Child,
    /// Its stdout: one [`WatchCount`] line when ready, per mark, and at the end.
    counts_path: PathBuf,
    /// Its stderr.
    log_path: PathBuf,
    peak_path: PathBuf,
    /// It printed its first line, so its signal handlers are in place.
    ready: bool,
    /// It ended before it was stopped.
    ended: Option<Exit>,
}

/// What the bare watcher left: its counts in order (the last one its final count) and its
/// peak RSS.
#[derive(Debug, Clone)]
pub struct BareRun {
    pub counts: Vec<WatchCount>,
    pub peak_rss_kb: u64,
}

impl Bare {
    /// Starts `cronbench bench-watch` on the run's `namespace` and label `selector`, its files in
    /// `dir`.
    pub fn spawn(
        ctx: &ClusterRef,
        namespace: &str,
        selector: &str,
        dir: &Path,
    ) -> Result<Bare, BenchError> {
        let counts_path = dir.join("bare-watch.jsonl");
        let log_path = dir.join("bare-watch.log");
        let peak_path = dir.join("bare-watch-peak_rss_kb");
        let create = |p: &Path| {
            std::fs::File::create(p).map_err(call::io(format!("create {}", p.display())))
        };
        let mut cmd = proc::cronbench_command()?;
        cmd.arg("bench-watch")
            .arg("--kubeconfig")
            .arg(&ctx.kubeconfig)
            .arg("--context")
            .arg(&ctx.context)
            .arg("--namespace")
            .arg(namespace)
            .arg("--selector")
            .arg(selector)
            .env(proc::PEAK_RSS_ENV, &peak_path)
            .stdin(Stdio::null())
            .stdout(create(&counts_path)?)
            .stderr(create(&log_path)?);
        Ok(Bare {
            child: Child::spawn(cmd, "the bare watcher (cronbench bench-watch)")?,
            counts_path,
            log_path,
            peak_path,
            ready: false,
            ended: None,
        })
    }

    /// Reads its CPU and RSS, then asks it for a count; `None` once it has ended (kept for
    /// [`Bare::stop`] to report).
    pub fn sample(&mut self) -> Option<BareSample> {
        if self.ended.is_some() {
            return None;
        }
        let pid = self.child.pid();
        let reading = proc::cpu_s(pid).zip(proc::mem(pid)).map(|(cpu_s, m)| {
            self.child.saw_hwm(m.hwm_kb);
            BareSample {
                cpu_s,
                rss_kb: m.rss_kb,
                anon_kb: m.anon_kb,
            }
        });
        match self.child.try_wait() {
            Ok(None) => {}
            Ok(Some(exit)) => {
                self.ended = Some(exit);
                return None;
            }
            // Not reapable: stop() reports it.
            Err(_) => return None,
        }
        self.ready = self.ready || std::fs::metadata(&self.counts_path).is_ok_and(|m| m.len() > 0);
        if self.ready {
            self.child.signal(libc::SIGUSR1);
        }
        reading
    }

    /// Stops it (SIGTERM) and reads its counts. An early end, a non-zero exit, no exit within
    /// [`STOP_WITHIN`] (then it is killed) or unreadable counts are errors naming its log.
    pub async fn stop(mut self) -> Result<BareRun, BenchError> {
        let exit = match self.ended.take() {
            Some(exit) => return Err(self.failed(&exit, "ended before the run it watched beside")),
            None => self.wait_after_term().await?,
        };
        if exit.code != Some(0) {
            return Err(self.failed(&exit, "failed"));
        }
        let counts = read_counts(&self.counts_path)?;
        if counts.len() < 2 {
            return Err(self.failed(&exit, "printed no final count"));
        }
        Ok(BareRun {
            counts,
            peak_rss_kb: proc::read_peak_rss(&self.peak_path).unwrap_or(exit.peak_rss_kb),
        })
    }

    async fn wait_after_term(&mut self) -> Result<Exit, BenchError> {
        self.child.signal(libc::SIGTERM);
        let deadline = tokio::time::Instant::now() + STOP_WITHIN;
        while tokio::time::Instant::now() < deadline {
            if let Some(exit) = self.child.try_wait()? {
                return Ok(exit);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(BenchError::Child {
            what: self.child.what.clone(),
            detail: format!(
                "still running {} s after SIGTERM (killed); see {}",
                STOP_WITHIN.as_secs(),
                self.log_path.display()
            ),
        })
    }

    fn failed(&self, exit: &Exit, how: &str) -> BenchError {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(10).collect();
        let ended = match exit.code {
            Some(code) => format!("exit code {code}"),
            None => "killed by a signal".into(),
        };
        BenchError::Child {
            what: self.child.what.clone(),
            detail: format!(
                "{how} ({ended}); last lines of {}:\n{}",
                self.log_path.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ),
        }
    }
}

/// The count lines of its stdout.
fn read_counts(path: &Path) -> Result<Vec<WatchCount>, BenchError> {
    let text =
        std::fs::read_to_string(path).map_err(call::io(format!("read {}", path.display())))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| {
                call::other(format!("parse line {} of {}", i + 1, path.display()))(e).into()
            })
        })
        .collect()
}

/// The first count taken at or after `t_ms` (the answer to the mark sent with the sample of
/// that time), if it came within a second.
pub fn count_at(counts: &[WatchCount], t_ms: i64) -> Option<WatchCount> {
    counts
        .iter()
        .find(|c| c.t_ms >= t_ms)
        .filter(|c| c.t_ms - t_ms <= 1000)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(t_ms: i64, events: u64) -> WatchCount {
        WatchCount {
            t_ms,
            events,
            ..WatchCount::default()
        }
    }

    #[test]
    fn a_sample_takes_the_first_count_after_it_within_a_second() {
        let counts = [count(900, 1), count(1_005, 7), count(2_004, 9)];
        assert_eq!(count_at(&counts, 1_000).map(|c| c.events), Some(7));
        assert_eq!(count_at(&counts, 2_004).map(|c| c.events), Some(9));
        assert_eq!(count_at(&counts, 2_500), None, "no answer to that mark");
        assert_eq!(
            count_at(&[count(5_000, 3)], 1_000),
            None,
            "too late to be its answer"
        );
    }

    #[test]
    fn counts_that_do_not_parse_name_the_line_and_file() {
        let dir = std::env::temp_dir().join(format!("cronbench-bare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("bare-watch.jsonl");
        let good = serde_json::to_string(&count(1, 2)).expect("serializes");
        std::fs::write(&path, format!("{good}\nnot json\n")).expect("write");
        let e = read_counts(&path)
            .expect_err("line 2 is not a count")
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("bare-watch.jsonl"),
            "{e}"
        );
        std::fs::write(&path, format!("{good}\n{good}\n")).expect("write");
        assert_eq!(read_counts(&path).expect("parses").len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

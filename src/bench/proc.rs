//! What `wait4(2)` tells about the bench's child processes: exact CPU time and peak RSS; the
//! `/proc` readers are [`crate::procfs`]'s. Linux only, like the local cluster.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::BenchError;
use crate::call;

pub use crate::procfs::{Mem, cpu_s, mem};

/// Environment variable: when set, cronbench writes its own peak RSS (`VmHWM`, kB) to this file
/// as it exits. The bench sets it for its child processes: `wait4`'s `ru_maxrss` cannot be used,
/// because Linux carries the parent's peak over into a child across fork and exec.
pub const PEAK_RSS_ENV: &str = "CRONBENCH_PEAK_RSS_FILE";

/// Writes this process's peak RSS where [`PEAK_RSS_ENV`] says, if it is set.
pub fn report_peak_rss() {
    if let Some(path) = std::env::var_os(PEAK_RSS_ENV)
        && let Some(m) = mem(std::process::id())
        && let Err(e) = std::fs::write(&path, m.hwm_kb.to_string())
    {
        eprintln!("warning: could not write the peak RSS to {path:?}: {e}");
    }
}

/// The peak RSS (kB) a child wrote through [`PEAK_RSS_ENV`].
pub fn read_peak_rss(path: &std::path::Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The 1, 5 and 15 minute load averages (zeros when `/proc/loadavg` cannot be read).
pub fn load_avg() -> [f64; 3] {
    crate::procfs::load_avg().unwrap_or_default()
}

/// How a child process ended, from `wait4(2)`: exact CPU time and peak RSS of the child alone.
#[derive(Debug, Clone, Copy)]
pub struct Exit {
    /// Exit code, or `None` when a signal ended it.
    pub code: Option<i32>,
    pub cpu_s: f64,
    /// The largest `VmHWM` seen while sampling (see [`PEAK_RSS_ENV`] for the exact figure).
    pub peak_rss_kb: u64,
    pub wall_s: f64,
}

/// A child process reaped with `wait4` (std's `wait` does not give the child's own rusage).
/// Dropping it before it was reaped kills it.
pub struct Child {
    pid: u32,
    reaped: bool,
    hwm_kb: u64,
    started: std::time::Instant,
    pub what: String,
}

impl Child {
    pub fn spawn(mut cmd: Command, what: impl Into<String>) -> Result<Child, BenchError> {
        let what = what.into();
        let child = cmd.spawn().map_err(call::io(format!("start {what}")))?;
        Ok(Child {
            pid: child.id(),
            reaped: false,
            hwm_kb: 0,
            started: std::time::Instant::now(),
            what,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends `signal` unless the child was reaped (its pid may then be another's).
    pub fn signal(&self, signal: libc::c_int) {
        if !self.reaped
            && let Ok(pid) = libc::pid_t::try_from(self.pid)
        {
            // SAFETY: a plain syscall on our own unreaped child's pid.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }

    /// Notes a `VmHWM` read by the caller, for [`Exit::peak_rss_kb`].
    pub fn saw_hwm(&mut self, hwm_kb: u64) {
        self.hwm_kb = self.hwm_kb.max(hwm_kb);
    }

    /// Reaps the child if it has ended; `Ok(None)` while it runs.
    pub fn try_wait(&mut self) -> Result<Option<Exit>, BenchError> {
        if self.reaped {
            return Err(call::other(format!("wait for {}", self.what))("already reaped").into());
        }
        let mut status: libc::c_int = 0;
        // SAFETY: an all-zero rusage is a valid value; wait4 fills it.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let pid = libc::pid_t::try_from(self.pid)
            .map_err(call::other(format!("wait for {}", self.what)))?;
        // SAFETY: valid pointers to locals; WNOHANG never blocks.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == 0 {
            return Ok(None);
        }
        if r < 0 {
            let source = std::io::Error::last_os_error();
            return Err(call::io(format!("wait for {}", self.what))(source).into());
        }
        self.reaped = true;
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Ok(Some(Exit {
            code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
            cpu_s: tv(usage.ru_utime) + tv(usage.ru_stime),
            peak_rss_kb: self.hwm_kb,
            wall_s: self.started.elapsed().as_secs_f64(),
        }))
    }

    /// Waits for the end, calling `each` about every `period` while the child runs.
    pub async fn wait_sampling(
        &mut self,
        period: Duration,
        mut each: impl FnMut(u32),
    ) -> Result<Exit, BenchError> {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            if let Some(m) = mem(self.pid) {
                self.hwm_kb = self.hwm_kb.max(m.hwm_kb);
            }
            if let Some(exit) = self.try_wait()? {
                return Ok(exit);
            }
            each(self.pid);
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped
            && let Ok(pid) = libc::pid_t::try_from(self.pid)
        {
            // SAFETY: plain syscalls on our own child's pid (not yet reaped, so not reused).
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// The cronbench binary that runs this bench, for child runs.
///
/// `/proc/self/exe` where there is one: it opens the binary this process runs even when a
/// rebuild has replaced the file at its path, where `current_exe` then names `PATH (deleted)`
/// and every later child of a long bench would fail to start (it happened: a `cargo build`
/// during a fleet part). Children get `cronbench` as their `argv[0]` ([`cronbench_command`]).
fn cronbench_exe() -> Result<PathBuf, BenchError> {
    let me = Path::new("/proc/self/exe");
    if me.exists() {
        return Ok(me.to_path_buf());
    }
    Ok(std::env::current_exe().map_err(call::io("find the cronbench executable"))?)
}

/// A command that runs this cronbench ([`cronbench_exe`]), named `cronbench` in its `argv[0]`.
pub fn cronbench_command() -> Result<Command, BenchError> {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(cronbench_exe()?);
    cmd.arg0("cronbench");
    Ok(cmd)
}

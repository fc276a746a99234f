//! Game-day faults, applied to the local cluster during a run.
//!
//! kwokctl (v0.8.0) can only start and stop a whole cluster, so a component is stopped and
//! started here the way kwokctl does it: its pid file names the process; before it is
//! signalled, its executable, arguments, environment and working directory are read from
//! `/proc`; it is started again detached, with its output appended to the same log file and
//! its new pid written to the same pid file, so `cluster status` and `cluster down` keep
//! working. `delete-node` deletes the Node object and registers it again.
//!
//! [`Schedule`] runs the faults of a scenario as tasks during a run; [`Schedule::finish`]
//! undoes whatever is still broken (after Ctrl-C, or an error) before teardown.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use tokio::sync::watch;

use crate::call;
use crate::cluster::{LocalCluster, pid_alive};
use crate::observe::{LogSender, now_ms};
use crate::scenario::{Fault, FaultKind};
use crate::schema::{FaultPhase, LogLine};

/// Errors of fault injection. Only [`FaultError::NotLocal`] and [`FaultError::KwokOnly`] are
/// returned to the caller of a run (before anything is created); the others are written to
/// the event log as the fault's detail and the run goes on.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error(
        "context `{context}` is not a local cluster that cronbench started, so it cannot apply \
         the faults {faults}; run the scenario on a local cluster (`cronbench run --local`, or \
         --context cronbench-<name>), or remove these faults"
    )]
    NotLocal { context: String, faults: String },
    #[error(
        "the cluster `{context}` runs real kubelets, which the faults {faults} cannot stop (they \
         stop the kwok controller, which simulates nothing there); remove these faults, or run \
         the game day on a kwok cluster (`cronbench cluster up` without --node-runtime kubelet)"
    )]
    KwokOnly { context: String, faults: String },
    #[error("component {component} of the local cluster has no pid file at {path}")]
    NoPidFile { component: String, path: PathBuf },
    #[error(transparent)]
    Call(#[from] call::CallError),
    #[error("no node to delete: {0}")]
    NoNode(String),
}

/// "faults[i] KIND at T s, ..." for the faults `pick` selects; `None` when it selects none.
fn listed(faults: &[Fault], pick: impl Fn(&Fault) -> bool) -> Option<String> {
    let names: Vec<String> = faults
        .iter()
        .enumerate()
        .filter(|(_, f)| pick(f))
        .map(|(i, f)| format!("faults[{i}] {} at {} s", f.kind, f.at_s))
        .collect();
    (!names.is_empty()).then(|| names.join(", "))
}

/// How a component process was started, read from `/proc` before it is stopped.
#[derive(Debug, Clone)]
pub struct Process {
    pub component: String,
    pub pid: u32,
    pub exe: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub pid_file: PathBuf,
    pub log_file: PathBuf,
}

/// What undoes an applied fault.
#[derive(Debug, Clone)]
enum Undo {
    Start(Process),
    Register(Box<Node>),
}

/// Applies faults: on a local cluster all kinds, elsewhere only `delete-node`.
#[derive(Clone)]
pub struct Injector {
    cluster: Option<LocalCluster>,
    client: kube::Client,
}

impl Injector {
    /// An injector for `context`, or an error naming every fault it cannot apply there.
    pub fn for_context(
        context: &str,
        client: kube::Client,
        faults: &[Fault],
    ) -> Result<Injector, FaultError> {
        let cluster = context
            .strip_prefix("cronbench-")
            .and_then(|name| LocalCluster::new(name).ok())
            .filter(|c| matches!(c.info(), Ok(Some(_))));
        if cluster.is_none()
            && let Some(cannot) = listed(faults, |f| f.kind.component().is_some())
        {
            return Err(FaultError::NotLocal {
                context: context.to_string(),
                faults: cannot,
            });
        }
        if crate::cluster::node_runtime_of(context) == crate::cluster::NodeRuntime::Kubelet
            && let Some(kwok_only) = listed(faults, |f| f.kind == FaultKind::StopNodes)
        {
            return Err(FaultError::KwokOnly {
                context: context.to_string(),
                faults: kwok_only,
            });
        }
        Ok(Injector { cluster, client })
    }

    /// The running process of a component, as its pid file names it.
    pub fn process(&self, component: &str) -> Result<Process, FaultError> {
        let cluster = self.cluster.as_ref().ok_or_else(|| FaultError::NotLocal {
            context: "(not local)".into(),
            faults: component.into(),
        })?;
        let status = cluster
            .components()
            .into_iter()
            .find(|c| c.component == component);
        let log_file = status.as_ref().map(|s| s.log.clone()).unwrap_or_default();
        let pid_file = log_file
            .parent()
            .and_then(|logs| logs.parent())
            .map(|d| d.join("pids").join(format!("{component}.pid")))
            .unwrap_or_default();
        let pid = status
            .and_then(|s| s.pid.filter(|_| s.running))
            .ok_or_else(|| FaultError::NoPidFile {
                component: component.into(),
                path: pid_file.clone(),
            })?;
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let split = |bytes: Vec<u8>| -> Vec<String> {
            bytes
                .split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        };
        let args = split(
            std::fs::read(proc.join("cmdline")).map_err(call::io(format!(
                "read the command line of {component} (pid {pid})"
            )))?,
        );
        let env = split(
            std::fs::read(proc.join("environ")).map_err(call::io(format!(
                "read the environment of {component} (pid {pid})"
            )))?,
        )
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
        let cwd = std::fs::read_link(proc.join("cwd")).map_err(call::io(format!(
            "read the working directory of {component}"
        )))?;
        // The binary may have been rebuilt since (the link then ends in " (deleted)").
        let exe = std::fs::read_link(proc.join("exe"))
            .ok()
            .filter(|p| !p.to_string_lossy().ends_with(" (deleted)"))
            .or_else(|| args.first().map(PathBuf::from))
            .unwrap_or_default();
        Ok(Process {
            component: component.into(),
            pid,
            exe,
            args,
            env,
            cwd,
            pid_file,
            log_file,
        })
    }

    /// Reads what applying a fault needs and what will undo it (the process as it runs, or
    /// the Node object), and describes what applying it does.
    async fn prepare(&self, fault: &Fault) -> Result<(Undo, String), FaultError> {
        match fault.kind.component() {
            Some(component) => {
                let p = self.process(component)?;
                let detail = format!("SIG{} {component} pid {}", signal_of(fault.kind), p.pid);
                Ok((Undo::Start(p), detail))
            }
            None => {
                let api: Api<Node> = Api::all(self.client.clone());
                let name = match &fault.node {
                    Some(n) => n.clone(),
                    None => {
                        let mut names: Vec<String> = api
                            .list(&ListParams::default().labels("type=kwok"))
                            .await
                            .map_err(call::api("listing kwok nodes"))?
                            .items
                            .into_iter()
                            .filter_map(|n| n.metadata.name)
                            .collect();
                        names.sort();
                        names.into_iter().next().ok_or_else(|| {
                            FaultError::NoNode("no node labelled type=kwok".into())
                        })?
                    }
                };
                let node = api
                    .get(&name)
                    .await
                    .map_err(call::api(format!("reading node {name}")))?;
                Ok((
                    Undo::Register(Box::new(node)),
                    format!("delete node {name}"),
                ))
            }
        }
    }

    /// Applies a prepared fault: signals the process and waits for it to exit, or deletes
    /// the node.
    async fn apply(&self, kind: FaultKind, undo: &Undo) -> Result<(), FaultError> {
        match undo {
            Undo::Start(p) => {
                stop(p.pid, signal_of(kind)).await;
                Ok(())
            }
            Undo::Register(node) => {
                let name = node.metadata.name.clone().unwrap_or_default();
                let api: Api<Node> = Api::all(self.client.clone());
                api.delete(&name, &DeleteParams::default())
                    .await
                    .map(|_| ())
                    .map_err(call::api(format!("deleting node {name}")))?;
                Ok(())
            }
        }
    }

    /// Undoes a fault; returns a description.
    async fn undo(&self, undo: &Undo) -> Result<String, FaultError> {
        match undo {
            Undo::Start(p) => {
                // Never a second instance: the process may have survived, or been started.
                if pid_alive(p.pid) {
                    return Ok(format!("{} pid {} still running", p.component, p.pid));
                }
                if let Some(pid) = std::fs::read_to_string(&p.pid_file)
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok())
                    .filter(|&pid| pid != p.pid && pid_alive(pid))
                {
                    return Ok(format!("{} already running as pid {pid}", p.component));
                }
                let pid = start(p)?;
                // The apiserver must answer before the run goes on (teardown needs it).
                if p.component == "kube-apiserver" || p.component == "etcd" {
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
                    while tokio::time::Instant::now() < deadline {
                        if self.client.apiserver_version().await.is_ok() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                }
                Ok(format!("started {} pid {pid}", p.component))
            }
            Undo::Register(node) => {
                let mut node = (**node).clone();
                let name = node.metadata.name.clone().unwrap_or_default();
                node.metadata = kube::api::ObjectMeta {
                    name: node.metadata.name.take(),
                    labels: node.metadata.labels.take(),
                    annotations: node.metadata.annotations.take(),
                    ..Default::default()
                };
                let api: Api<Node> = Api::all(self.client.clone());
                match api.create(&PostParams::default(), &node).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 409 => {}
                    Err(source) => {
                        return Err(
                            call::api(format!("registering node {name} again"))(source).into()
                        );
                    }
                }
                Ok(format!("registered node {name} again"))
            }
        }
    }
}

/// A crash is SIGKILL; a restart lets the process shut down (SIGTERM).
fn signal_of(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::KillScheduler | FaultKind::RestartEtcd => "KILL",
        _ => "TERM",
    }
}

/// Signals `pid` and waits for it to go; SIGKILL after 15 s.
async fn stop(pid: u32, signal: &str) {
    for sig in [signal, "KILL"] {
        let _ = tokio::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .stderr(std::process::Stdio::null())
            .status()
            .await;
        for _ in 0..150 {
            if !pid_alive(pid) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Starts a process again as it was, detached in its own process group (Ctrl-C on the
/// terminal does not reach it), appending to its log and recording its pid.
fn start(p: &Process) -> Result<u32, FaultError> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p.log_file)
        .map_err(call::io(format!("open {}", p.log_file.display())))?;
    let err = log
        .try_clone()
        .map_err(call::io(format!("open {}", p.log_file.display())))?;
    let mut child = std::process::Command::new(&p.exe)
        .args(p.args.iter().skip(1))
        .env_clear()
        .envs(p.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&p.cwd)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(call::io(format!(
            "start {} ({})",
            p.component,
            p.exe.display()
        )))?;
    let pid = child.id();
    std::fs::write(&p.pid_file, pid.to_string())
        .map_err(call::io(format!("write {}", p.pid_file.display())))?;
    // Reap it if it exits while cronbench runs; afterwards init does.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(pid)
}

/// The faults of one run, each a task that waits for its time, applies the fault, waits its
/// duration and undoes it.
pub struct Schedule {
    injector: Injector,
    faults: Vec<Fault>,
    log: LogSender,
    cancel: watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Faults applied and not yet undone, by index.
    active: Arc<Mutex<Vec<(usize, Undo)>>>,
}

impl Schedule {
    pub fn new(injector: Injector, faults: Vec<Fault>, log: LogSender) -> Schedule {
        Schedule {
            injector,
            faults,
            log,
            cancel: watch::channel(false).0,
            tasks: Mutex::new(Vec::new()),
            active: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Starts the clock: fault `i` is applied `at_s` seconds from now.
    pub fn start(&self) {
        let t0 = tokio::time::Instant::now();
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        for (i, fault) in self.faults.iter().cloned().enumerate() {
            let injector = self.injector.clone();
            let log = self.log.clone();
            let active = self.active.clone();
            let mut cancel = self.cancel.subscribe();
            tasks.push(tokio::spawn(async move {
                let at = t0 + Duration::from_secs(fault.at_s);
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = cancel.wait_for(|c| *c) => return,
                }
                let kind = fault.kind;
                // The window opens when the fault is applied, before the process has exited.
                let undo = match injector.prepare(&fault).await {
                    Ok((undo, detail)) => {
                        active
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((i, undo.clone()));
                        eprintln!("fault: {kind} ({detail}) for {} s", fault.duration_s);
                        log_fault(&log, kind, FaultPhase::Start, detail);
                        undo
                    }
                    Err(e) => {
                        eprintln!("fault: {kind} could not be applied: {e}");
                        log_fault(&log, kind, FaultPhase::Start, format!("not applied: {e}"));
                        log_fault(&log, kind, FaultPhase::End, String::new());
                        return;
                    }
                };
                let applied = tokio::time::Instant::now();
                if let Err(e) = injector.apply(kind, &undo).await {
                    eprintln!("fault: {kind} could not be applied: {e}");
                    log_fault(&log, kind, FaultPhase::End, format!("not applied: {e}"));
                    active
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .retain(|(j, _)| *j != i);
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(applied + Duration::from_secs(fault.duration_s)) => {}
                    _ = cancel.wait_for(|c| *c) => {}
                }
                finish_one(&injector, &log, kind, &undo).await;
                active
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|(j, _)| *j != i);
            }));
        }
    }

    /// Undoes every fault still applied (each task does its own undo on cancel) and waits
    /// for all of them; faults not yet due are not applied.
    pub async fn finish(self) {
        let _ = self.cancel.send(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
        // A task that panicked leaves its fault applied: undo it here.
        let left = std::mem::take(&mut *self.active.lock().unwrap_or_else(|e| e.into_inner()));
        for (i, undo) in left {
            if let Some(f) = self.faults.get(i) {
                finish_one(&self.injector, &self.log, f.kind, &undo).await;
            }
        }
    }
}

async fn finish_one(injector: &Injector, log: &LogSender, kind: FaultKind, undo: &Undo) {
    let detail = match injector.undo(undo).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("fault: undoing {kind} failed: {e}");
            format!("undo failed: {e}")
        }
    };
    eprintln!("fault: {kind} undone ({detail})");
    log_fault(log, kind, FaultPhase::End, detail);
}

fn log_fault(log: &LogSender, kind: FaultKind, phase: FaultPhase, detail: String) {
    log.send(LogLine::Fault {
        recv_ms: now_ms(),
        kind,
        phase,
        detail,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(at_s: u64, kind: FaultKind) -> Fault {
        Fault {
            at_s,
            kind,
            duration_s: 10,
            node: None,
        }
    }

    #[test]
    fn listed_names_the_picked_faults_by_index_kind_and_time() {
        let faults = [
            fault(10, FaultKind::StopNodes),
            fault(20, FaultKind::DeleteNode),
            fault(30, FaultKind::StopNodes),
        ];
        assert_eq!(
            listed(&faults, |f| f.kind == FaultKind::StopNodes).as_deref(),
            Some("faults[0] stop-nodes at 10 s, faults[2] stop-nodes at 30 s")
        );
        assert_eq!(
            listed(&faults, |f| f.kind == FaultKind::KillScheduler),
            None
        );
        assert_eq!(listed(&[], |_| true), None);
    }
}

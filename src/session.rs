//! The run lifecycle, once: preflight, run id, run directory, event log, namespace, watchers,
//! Ctrl-C, teardown and the log's last line. `run`, `find-limit` and the bench's peer part are
//! bodies that a [`Session`] drives; none of them opens a log or deletes a namespace itself.
//!
//! ```text
//! Preflight::check ─► Session::open ─► Session::drive(body) ─► Session::close
//!  connect, context    run dir, log,     body under Ctrl-C        faults undone, Teardown line,
//!  check, cluster,     first line,       (one select!)            watchers stopped, namespace
//!  facts, dry run     namespace,                                 deleted (or kept), run_ended,
//!                      watchers                                   log flushed, its stats
//! ```

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, ListParams};

use crate::call::{self, CallError};
use crate::cluster::ClusterTarget;
use crate::cluster::dryrun;
use crate::cluster::preflight::{self, ClusterFacts, PreflightError};
use crate::observe::log::LogStats;
use crate::observe::{self, LogError, LogSender, Observer, now_ms};
use crate::scenario::{CronJobDef, Scenario};
use crate::schema::{EndReason, LogLine, Phase, RUN_LABEL, RunStarted, SCHEMA_VERSION};
use crate::workload::{self, WorkloadError};

/// What opening or closing a session can fail at. Only [`SessionError::Preflight`] with an
/// unreachable apiserver is worth retrying unchanged; the others need the user (a context,
/// a permission, a disk).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    /// Creating the run's namespace.
    #[error(transparent)]
    Namespace(#[from] WorkloadError),
    #[error(transparent)]
    Log(#[from] LogError),
    /// The run directory, or joining the log writer.
    #[error(transparent)]
    Call(#[from] CallError),
}

/// What a run id names. The kind is part of the id (and so of the run directory's and the
/// namespace's name), which tells a search's leftovers from a run's in `runs/` and in
/// `cronbench clean`'s list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// `cronbench run`: `cronbench-<stamp>`.
    Run,
    /// One find-limit search: `cronbench-limit-<stamp>`.
    Limit,
    /// A find-limit sweep's directory (its searches are [`RunKind::Limit`]s):
    /// `cronbench-sweep-<stamp>`.
    Sweep,
    /// Round `i` of the bench's create part: `cronbench-<stamp>-create-<i>`.
    CreateRound(usize),
    /// The bench's peer part: `cronbench-<stamp>-peer`.
    Peer,
}

impl RunKind {
    /// A fresh id: UTC time to the second, and 16 bits of pid and nanoseconds so two runs
    /// started in the same second differ.
    pub fn new_id(self) -> String {
        let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC);
        let stamp = format!(
            "{}-{:04x}",
            now.strftime("%Y%m%d-%H%M%S"),
            (std::process::id() ^ now.timestamp().subsec_nanosecond() as u32) & 0xffff
        );
        self.id_with(&stamp)
    }

    fn id_with(self, stamp: &str) -> String {
        match self {
            RunKind::Run => format!("cronbench-{stamp}"),
            RunKind::Limit => format!("cronbench-limit-{stamp}"),
            RunKind::Sweep => format!("cronbench-sweep-{stamp}"),
            RunKind::CreateRound(i) => format!("cronbench-{stamp}-create-{i}"),
            RunKind::Peer => format!("cronbench-{stamp}-peer"),
        }
    }
}

/// The files of a run directory. Their names are spelled here only, so a writer and a reader
/// (analyze, report, the bench reading a child run) cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunFile {
    /// The event log, the source of truth.
    Events,
    /// A copy of the scenario file the run was started with.
    Scenario,
    Results,
    /// The harness's own figures (record lag); not part of the analysis.
    Harness,
    Limit,
    Sweep,
    Bench,
}

impl RunFile {
    pub const fn name(self) -> &'static str {
        match self {
            RunFile::Events => "events.jsonl",
            RunFile::Scenario => "scenario.yaml",
            RunFile::Results => "results.json",
            RunFile::Harness => "harness.json",
            RunFile::Limit => "limit.json",
            RunFile::Sweep => "sweep.json",
            RunFile::Bench => "bench.json",
        }
    }
}

/// A run directory. Its JSON files are written whole or not at all (a temporary file, then a
/// rename): a reader polling `limit.json` mid-search, or a crash mid-write, never sees half.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// `out`, else `runs/<id>`, created if missing.
    pub fn create(out: Option<&Path>, id: &str) -> Result<RunDir, CallError> {
        RunDir::create_at(out.map_or_else(|| PathBuf::from("runs").join(id), Path::to_path_buf))
    }

    /// `path`, created if missing.
    pub fn create_at(path: impl Into<PathBuf>) -> Result<RunDir, CallError> {
        let path = path.into();
        std::fs::create_dir_all(&path)
            .map_err(call::io(format!("create run directory {}", path.display())))?;
        Ok(RunDir { path })
    }

    /// A directory that exists already (a run analyzed again offline, a bench's output).
    pub fn existing(path: impl Into<PathBuf>) -> RunDir {
        RunDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self, file: RunFile) -> PathBuf {
        self.path.join(file.name())
    }

    /// Copies the scenario file the run was started with into `scenario.yaml`.
    pub fn copy_scenario(&self, from: &Path) -> Result<(), CallError> {
        std::fs::copy(from, self.file(RunFile::Scenario)).map_err(call::io(format!(
            "copy the scenario into {}",
            self.path.display()
        )))?;
        Ok(())
    }

    /// Writes `file` as pretty JSON through a temporary file and a rename.
    pub fn write_json(
        &self,
        file: RunFile,
        value: &impl serde::Serialize,
    ) -> Result<(), CallError> {
        let path = self.file(file);
        let tmp = self.path.join(format!("{}.tmp", file.name()));
        let json = serde_json::to_vec_pretty(value)
            .map_err(call::other(format!("serialize {}", path.display())))?;
        std::fs::write(&tmp, json).map_err(call::io(format!("write {}", tmp.display())))?;
        std::fs::rename(&tmp, &path).map_err(call::io(format!("write {}", path.display())))?;
        Ok(())
    }

    /// Reads `file` as JSON.
    pub fn read_json<T: serde::de::DeserializeOwned>(&self, file: RunFile) -> Result<T, CallError> {
        let path = self.file(file);
        let bytes = std::fs::read(&path).map_err(call::io(format!("read {}", path.display())))?;
        serde_json::from_slice(&bytes).map_err(call::other(format!("parse {}", path.display())))
    }

    /// Writes `harness.json`: the event log's record lag (client receive to line in the file).
    pub fn write_harness(&self, stats: &LogStats) -> Result<(), CallError> {
        self.write_json(
            RunFile::Harness,
            &serde_json::json!({ "record_lag": stats.summary() }),
        )
    }
}

/// A cluster that passed preflight: reachable, a test cluster, the run's permissions granted,
/// Ready nodes for the scenario.
pub struct Preflight {
    pub client: kube::Client,
    pub context: String,
    pub facts: ClusterFacts,
}

impl Preflight {
    /// Connects to `target`, refuses a context that is not a test cluster, adapts `scenario`
    /// to the cluster's node runtime, checks the cluster for it, and has the apiserver judge
    /// (in a dry run) each distinct CronJob of `defs`, which came from `scenario_file`.
    pub async fn check(
        target: &ClusterTarget,
        scenario: &mut Scenario,
        scenario_file: &Path,
        defs: &[CronJobDef],
    ) -> Result<Preflight, SessionError> {
        let (client, context) = preflight::connect_checked(target).await?;
        crate::cluster::adapt_scenario(&context, scenario);
        let facts = preflight::check_cluster(
            &client,
            &context,
            &scenario.load.node_selector,
            scenario_file,
            defs,
        )
        .await?;
        dryrun::check(&client, &context, scenario, scenario_file, defs).await?;
        Ok(Preflight {
            client,
            context,
            facts,
        })
    }

    /// A cluster that was not preflighted (the bench's own, checked when it started): no
    /// server version or node count to record.
    pub fn unchecked(client: kube::Client, context: String) -> Preflight {
        Preflight {
            client,
            context,
            facts: ClusterFacts {
                server_version: String::new(),
                ready_nodes: 0,
            },
        }
    }
}

/// Who creates the run's namespace (whose name is the run id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceOwner {
    /// The session, when it opens.
    Session,
    /// The body (a peer tool creates its own); the session only watches it and deletes it.
    Body,
}

/// What [`Session::open`] needs besides the cluster.
pub struct Opening<'a> {
    /// From [`RunKind::new_id`]; also the namespace's name and the run label's value.
    pub id: String,
    /// Run directory; default `runs/<id>`.
    pub out: Option<&'a Path>,
    /// Copied into the run directory as `scenario.yaml`, when given.
    pub scenario_file: Option<&'a Path>,
    /// Recorded in the log's first line.
    pub scenario: &'a Scenario,
    pub namespace: NamespaceOwner,
    /// Leave the namespace in place after a completed run; interrupted and failed runs are
    /// always torn down.
    pub keep: bool,
}

/// An open run: its directory, its event log and (once the namespace exists) its watchers.
pub struct Session {
    client: kube::Client,
    context: String,
    facts: ClusterFacts,
    id: String,
    dir: RunDir,
    log: LogSender,
    writer: tokio::task::JoinHandle<Result<LogStats, LogError>>,
    observer: Observer,
    /// The components' CPU and memory, when the body asked for them.
    sampler: Option<crate::resources::Sampler>,
    started_ms: i64,
    keep: bool,
}

/// What a closed session leaves.
pub struct Closed {
    pub dir: RunDir,
    /// The namespace, when it was still terminating after teardown gave up waiting.
    pub leftover: Option<String>,
    pub stats: LogStats,
}

impl Session {
    /// Creates the run directory and the event log with its first line, then the namespace
    /// (unless the body creates it) and the watchers. An error here leaves nothing on the
    /// cluster.
    pub async fn open(cluster: Preflight, opening: Opening<'_>) -> Result<Session, SessionError> {
        let dir = RunDir::create(opening.out, &opening.id)?;
        if let Some(from) = opening.scenario_file {
            dir.copy_scenario(from)?;
        }
        let (log, writer) = observe::log::start(&dir.file(RunFile::Events))?;
        let started_ms = now_ms();
        log.send(started_line(
            &opening.id,
            opening.scenario,
            &cluster.context,
            &cluster.facts,
        ));
        if opening.namespace == NamespaceOwner::Session {
            workload::create_namespace(&cluster.client, &opening.id).await?;
        }
        let observer = Observer::start(&cluster.client, &opening.id, &opening.id, &log);
        Ok(Session {
            client: cluster.client,
            context: cluster.context,
            facts: cluster.facts,
            id: opening.id,
            dir,
            log,
            writer,
            observer,
            sampler: None,
            started_ms,
            keep: opening.keep,
        })
    }

    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    pub fn context(&self) -> &str {
        &self.context
    }

    pub fn facts(&self) -> &ClusterFacts {
        &self.facts
    }

    /// The run id, which is also the namespace's name.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn dir(&self) -> &RunDir {
        &self.dir
    }

    pub fn log(&self) -> &LogSender {
        &self.log
    }

    pub fn observer(&self) -> &Observer {
        &self.observer
    }

    /// When the log's first line was written.
    pub fn started_ms(&self) -> i64 {
        self.started_ms
    }

    /// Samples the cluster's components' CPU and memory from `source` into the log until the
    /// session closes (a second call replaces the first source).
    pub fn sample_resources(&mut self, source: crate::resources::Chosen) {
        use crate::resources::{Chosen, Sampler};
        let log = self.log.clone();
        let sampler = match source {
            Chosen::Proc(s) => Sampler::start(s, log),
            Chosen::Prometheus(s) => Sampler::start(s, log),
            Chosen::Nothing => return,
        };
        if let Some(old) = self.sampler.replace(sampler) {
            old.stop();
        }
    }

    /// Writes a phase line.
    pub fn phase(&self, phase: Phase) {
        self.log.send(LogLine::Phase {
            recv_ms: now_ms(),
            phase,
        });
    }

    /// Runs `body` until it ends or Ctrl-C comes (then it is dropped where it stands and
    /// `interrupted` says what happens next). Whatever happened, the caller goes on to
    /// [`Session::close`].
    pub async fn drive<E>(
        &self,
        interrupted: &str,
        body: impl Future<Output = Result<(), E>>,
    ) -> (EndReason, Option<E>) {
        match until_interrupted(body).await {
            Some(Ok(())) => (EndReason::Completed, None),
            Some(Err(e)) => (EndReason::Error, Some(e)),
            None => {
                eprintln!("\ninterrupted: {interrupted}");
                (EndReason::Interrupted, None)
            }
        }
    }

    /// Ends the run: `undo` first (a game day's faults still applied: teardown needs the
    /// whole cluster), then the Teardown line, the watchers stopped, the namespace deleted
    /// (kept after a completed run with `keep`), the `run_ended` line and the log flushed.
    pub async fn close(
        self,
        end: EndReason,
        undo: impl Future<Output = ()>,
    ) -> Result<Closed, SessionError> {
        undo.await;
        self.phase(Phase::Teardown);
        self.observer.stop();
        if let Some(sampler) = self.sampler {
            sampler.stop();
        }
        let leftover = if self.keep && end == EndReason::Completed {
            eprintln!(
                "keeping namespace {} (--keep); `cronbench clean` removes it",
                self.id
            );
            None
        } else {
            teardown(&self.client, &self.id).await
        };
        self.log.send(LogLine::RunEnded {
            recv_ms: now_ms(),
            reason: end,
            harness: crate::host::HarnessCost::now(),
        });
        drop(self.log);
        let stats = match self.writer.await {
            Ok(r) => r?,
            Err(e) => return Err(call::other("finish the event log")(e).into()),
        };
        Ok(Closed {
            dir: self.dir,
            leftover,
            stats,
        })
    }
}

/// `body`'s output, or `None` when Ctrl-C came first (`body` is then dropped). The one place
/// a command listens for Ctrl-C.
pub async fn until_interrupted<T>(body: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        r = body => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    }
}

/// The event log's first line for run `id`, whose namespace has the same name.
fn started_line(id: &str, scenario: &Scenario, context: &str, facts: &ClusterFacts) -> LogLine {
    LogLine::RunStarted(RunStarted {
        schema_version: SCHEMA_VERSION,
        recv_ms: now_ms(),
        run_id: id.to_string(),
        namespace: id.to_string(),
        scenario: serde_json::to_value(scenario).unwrap_or_default(),
        cronbench_version: env!("CARGO_PKG_VERSION").to_string(),
        context: context.to_string(),
        server_version: facts.server_version.clone(),
        nodes: facts.ready_nodes,
        host: Some(crate::host::RunHost::here(context)),
    })
}

/// Deletes a run's namespace (and with it everything the run created) and waits until it is
/// gone. Returns the namespace's name if it was still terminating after two minutes.
pub async fn teardown(client: &kube::Client, namespace: &str) -> Option<String> {
    let api: Api<Namespace> = Api::all(client.clone());
    match api.delete(namespace, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return None,
        Err(e) => {
            eprintln!(
                "teardown: deleting namespace {namespace} failed: {e}; run `cronbench clean`"
            );
            return Some(namespace.to_string());
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while tokio::time::Instant::now() < deadline {
        match api.get_opt(namespace).await {
            Ok(None) => return None,
            Ok(Some(_)) | Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    eprintln!("teardown: namespace {namespace} is still terminating; `cronbench clean` removes it");
    Some(namespace.to_string())
}

/// What `clean` did: namespaces gone, and namespaces whose deletion is still in progress.
#[derive(Debug, Default)]
pub struct Cleaned {
    pub removed: Vec<String>,
    pub terminating: Vec<String>,
}

/// Deletes every namespace any run left (those labelled with the run label).
pub async fn clean(client: &kube::Client) -> Result<Cleaned, CallError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let list = api
        .list(&ListParams::default().labels(RUN_LABEL))
        .await
        .map_err(call::api("listing namespaces of earlier runs"))?;
    let mut cleaned = Cleaned::default();
    for ns in list.items {
        let Some(name) = ns.metadata.name else {
            continue;
        };
        match teardown(client, &name).await {
            None => cleaned.removed.push(name),
            Some(left) => cleaned.terminating.push(left),
        }
    }
    Ok(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shapes `runs/`, `cronbench clean` and the README show; the kind used to be patched
    /// in with `replacen`.
    #[test]
    fn each_kind_of_run_has_its_id_shape() {
        let s = "20260101-120000-ab12";
        assert_eq!(RunKind::Run.id_with(s), "cronbench-20260101-120000-ab12");
        assert_eq!(
            RunKind::Limit.id_with(s),
            "cronbench-limit-20260101-120000-ab12"
        );
        assert_eq!(
            RunKind::Sweep.id_with(s),
            "cronbench-sweep-20260101-120000-ab12"
        );
        assert_eq!(
            RunKind::CreateRound(3).id_with(s),
            "cronbench-20260101-120000-ab12-create-3"
        );
        assert_eq!(
            RunKind::Peer.id_with(s),
            "cronbench-20260101-120000-ab12-peer"
        );
        let id = RunKind::Run.new_id();
        assert!(id.starts_with("cronbench-2") && id.len() == 30, "{id}");
    }

    #[test]
    fn a_json_file_is_replaced_whole_and_leaves_no_temporary_file() {
        let root = std::env::temp_dir().join(format!("cronbench-rundir-{}", std::process::id()));
        let dir = RunDir::create(Some(&root), "unused").expect("create");
        dir.write_json(RunFile::Limit, &serde_json::json!({ "a": 1 }))
            .expect("first write");
        dir.write_json(RunFile::Limit, &serde_json::json!({ "a": 2 }))
            .expect("second write");
        let v: serde_json::Value = dir.read_json(RunFile::Limit).expect("read");
        assert_eq!(v["a"], 2);
        let names: Vec<String> = std::fs::read_dir(&root)
            .expect("list")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["limit.json"]);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[tokio::test]
    async fn a_body_that_ends_is_not_interrupted() {
        assert_eq!(until_interrupted(async { 7 }).await, Some(7));
    }
}

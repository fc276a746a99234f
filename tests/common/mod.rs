//! Helpers for integration tests that talk to a real local cluster.
#![allow(dead_code)]

pub mod pushgateway;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};

use cronbench::cluster::{Binaries, NodeBinaries};

/// Set to `1` by `scripts/test`: there every test must run, so a missing prerequisite is a
/// failure instead of a skip (a suite that skips its cluster tests would pass having tested
/// nothing of the cluster).
pub const REQUIRE_CLUSTER: &str = "CRONBENCH_REQUIRE_CLUSTER";

/// Skips the calling test, or fails it under [`REQUIRE_CLUSTER`]. The caller returns right
/// after. The line goes straight to stderr so that a plain `cargo test`, which hides what
/// passing tests print, still shows it.
pub fn skip(reason: &str) {
    let required = std::env::var_os(REQUIRE_CLUSTER).is_some_and(|v| v == "1");
    assert!(
        !required,
        "cannot run: {reason} ({REQUIRE_CLUSTER}=1, as scripts/test sets, forbids skipping)"
    );
    let _ = writeln!(std::io::stderr(), "skipped: {reason}");
}

/// Why a local cluster with these `cluster up` flags cannot start here, if it cannot: the
/// binaries `scripts/setup` builds, and for real nodes root and the node binaries too.
pub fn cluster_unavailable(extra: &[&str]) -> Option<String> {
    if let Err(e) = Binaries::locate() {
        return Some(e.to_string());
    }
    let real_nodes = extra.windows(2).any(|w| w == ["--node-runtime", "kubelet"]);
    if real_nodes && let Err(e) = NodeBinaries::locate() {
        return Some(format!("real nodes cannot start: {e}"));
    }
    None
}

/// Runs the cronbench binary built for this test run.
pub fn cronbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cronbench"))
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the cronbench binary runs")
}

pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A local cluster that is torn down when the test ends, also when it fails.
pub struct TestCluster {
    pub name: String,
    pub kubeconfig: PathBuf,
    pub context: String,
    /// Held while the cluster lives (see [`lock_name`]); released after `cluster down`.
    _lock: std::fs::File,
}

/// Waits for, and holds, the machine-wide lock of test cluster `name`. Local clusters are named
/// machine-wide (their state lives in the cache), so two checkouts running the same test at
/// once would tear down each other's cluster; with the lock the second waits.
fn lock_name(name: &str) -> std::fs::File {
    use std::os::fd::AsRawFd;
    let dir = cronbench::cluster::cache_root().join("test-locks");
    std::fs::create_dir_all(&dir).expect("the test lock folder");
    let file = std::fs::File::create(dir.join(format!("{name}.lock"))).expect("a lock file");
    // SAFETY: a valid open descriptor; flock blocks until the lock is ours.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(r, 0, "lock {name}: {}", std::io::Error::last_os_error());
    file
}

impl TestCluster {
    /// Starts `cronbench cluster up --name NAME` with extra flags; panics with the command's
    /// output if it fails (a missing part must fail loudly). `None` when the cluster's
    /// prerequisites are not installed: the test is skipped (see [`skip`]) and should return.
    pub fn up(name: &str, extra: &[&str]) -> Option<TestCluster> {
        if let Some(reason) = cluster_unavailable(extra) {
            skip(&reason);
            return None;
        }
        let lock = lock_name(name);
        // A previous crashed test may have left it: clear it first.
        let _ = cronbench(&["cluster", "down", "--name", name]);
        let mut args = vec!["cluster", "up", "--name", name];
        args.extend_from_slice(extra);
        let out = cronbench(&args);
        assert!(out.status.success(), "cluster up failed: {}", text(&out));
        let cluster = cronbench::cluster::LocalCluster::new(name).expect("valid name");
        Some(TestCluster {
            name: name.to_string(),
            kubeconfig: cluster.kubeconfig(),
            context: cluster.context(),
            _lock: lock,
        })
    }

    pub async fn client(&self) -> kube::Client {
        cronbench::cluster::LocalCluster::new(&self.name)
            .expect("valid name")
            .client()
            .await
            .expect("a client for the test cluster")
    }

    /// Runs `cronbench clean` on this cluster and checks that no run's namespace is left.
    pub async fn clean_leaves_no_run_namespace(&self) {
        let kubeconfig = self.kubeconfig.display().to_string();
        let clean = cronbench(&[
            "clean",
            "--kubeconfig",
            &kubeconfig,
            "--context",
            &self.context,
        ]);
        assert!(clean.status.success(), "{}", text(&clean));
        let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
            kube::Api::all(self.client().await);
        let left = namespaces
            .list(&kube::api::ListParams::default().labels(cronbench::schema::RUN_LABEL))
            .await
            .expect("list namespaces");
        assert!(left.items.is_empty(), "clean left {}", left.items.len());
    }

    /// Pids of processes still running for this cluster.
    pub fn processes(&self) -> Vec<u32> {
        cronbench::cluster::LocalCluster::new(&self.name)
            .expect("valid name")
            .processes()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        let _ = cronbench(&["cluster", "down", "--name", &self.name]);
    }
}

/// A history of 12 nightly runs in `dir` (night-00 .. night-11), made from the stored
/// baselines/local-quick runs a day apart: night-05's p99 schedule -> job created is four
/// times the others' (one bad night), and from night-09 on p99 schedule -> started is 1.6
/// times (a persistent regression).
pub fn planted_history(dir: &std::path::Path) -> Vec<PathBuf> {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("baselines/local-quick");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&base)
        .expect("baselines/local-quick")
        .map(|e| e.expect("entry").path().join("results.json"))
        .collect();
    sources.sort();
    (0..12)
        .map(|i| {
            let text = std::fs::read_to_string(&sources[i % sources.len()]).expect("results");
            let mut r: serde_json::Value = serde_json::from_str(&text).expect("json");
            r["run"]["run_id"] = format!("night-{i:02}").into();
            let started = r["run"]["started_ms"].as_i64().expect("started_ms");
            r["run"]["started_ms"] = (started + i as i64 * 86_400_000).into();
            let scale = |r: &mut serde_json::Value, stage: &str, by: f64| {
                for s in r["stages"].as_array_mut().expect("stages") {
                    if s["stage"] == stage && s["clock"] == "client" {
                        let p99 = s["p99_ms"].as_f64().expect("p99");
                        s["p99_ms"] = ((p99 * by) as u64).into();
                    }
                }
            };
            if i == 5 {
                scale(&mut r, "schedule_to_job_created", 4.0);
            }
            if i >= 9 {
                scale(&mut r, "schedule_to_started", 1.6);
            }
            let run = dir.join(format!("night-{i:02}"));
            std::fs::create_dir_all(&run).expect("run dir");
            std::fs::write(run.join("results.json"), r.to_string()).expect("write");
            run
        })
        .collect()
}

/// A scratch directory under the system's temporary folder, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("cronbench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A plain HTTP/1.0 GET of `path` on 127.0.0.1:`port`: the status code and the body, or `None`
/// when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Read as _;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Whether `program` is a file in a folder of PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// Whether Debian's prometheus (with promtool) or prometheus-pushgateway is missing; a skip
/// then (a failure under [`REQUIRE_CLUSTER`]).
pub fn prometheus_missing() -> bool {
    if !on_path("prometheus") || !on_path("promtool") {
        skip(
            "prometheus or promtool is missing: install Debian's prometheus package (`apt-get install --no-install-recommends prometheus`, or run scripts/setup)",
        );
        return true;
    }
    pushgateway::missing()
}

/// The series of each of `components` in a run's resource timeline from `source`, checked:
/// at least 3 points, every RSS above 0, every CPU figure at least 0, a mean CPU and a
/// consistent RSS summary.
pub fn sampled<'a>(
    r: &'a cronbench::results::Results,
    source: cronbench::results::ResourceSource,
    components: &[cronbench::results::Component],
) -> Vec<&'a cronbench::results::ComponentSeries> {
    let t = r.resources.as_ref().expect("a resource timeline");
    assert_eq!(t.source, source);
    components
        .iter()
        .map(|c| {
            let s = t
                .series
                .iter()
                .find(|s| s.component == *c)
                .unwrap_or_else(|| panic!("{c} sampled: {t:?}"));
            assert!(s.points.len() >= 3, "{c}: {} points", s.points.len());
            assert!(s.points.iter().all(|p| p.rss_bytes > 0), "{c}: RSS > 0");
            assert!(
                s.points.iter().flat_map(|p| p.cpu_cores).all(|v| v >= 0.0),
                "{c}: CPU >= 0"
            );
            let m = &s.summary;
            assert!(m.mean_cpu_cores.is_some_and(|v| v >= 0.0), "{c}: {m:?}");
            assert!(
                m.rss_peak_bytes >= m.rss_last_bytes && m.rss_first_bytes > 0,
                "{c}: {m:?}"
            );
            s
        })
        .collect()
}

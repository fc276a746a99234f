//! A real Pushgateway (Debian's `prometheus-pushgateway`, which scripts/setup installs) on a
//! free 127.0.0.1 port, stopped when dropped, also when the test fails.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PUSHGATEWAY: &str = "prometheus-pushgateway";

/// A port nobody listened on a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Whether the Pushgateway binary is missing; a skip then (a failure under
/// CRONBENCH_REQUIRE_CLUSTER=1).
pub fn missing() -> bool {
    if super::on_path(PUSHGATEWAY) {
        return false;
    }
    super::skip(
        "prometheus-pushgateway is missing: install it with `apt-get install --no-install-recommends prometheus-pushgateway` (or run scripts/setup)",
    );
    true
}

/// The Pushgateway child process, killed and reaped when dropped.
pub struct Pushgateway {
    child: Child,
    pub port: u16,
}

impl Pushgateway {
    pub fn start() -> Pushgateway {
        let port = free_port();
        let child = Command::new(PUSHGATEWAY)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // Debian's default persists to /var/lib/prometheus/pushgateway.data: keep nothing.
            .arg("--persistence.file=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-pushgateway starts");
        let gateway = Pushgateway { child, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        while super::http_get(port, "/-/ready").is_none_or(|(status, _)| status != 200) {
            assert!(
                Instant::now() < deadline,
                "the Pushgateway on port {port} was not ready within 15 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        gateway
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// HOST:PORT, as a scrape target.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

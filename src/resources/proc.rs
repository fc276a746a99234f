//! Readings from `/proc` for the local cluster: every process whose command line names the
//! cluster's state directory ([`LocalCluster::processes`]), classified by its binary's name.

use std::sync::Arc;

use super::{ReadingSource, SourceError};
use crate::cluster::LocalCluster;
use crate::results::{Component, ResourceReading, ResourceSource};

/// The local cluster's processes, read from `/proc`.
#[derive(Debug, Clone)]
pub struct ProcSource {
    cluster: Arc<LocalCluster>,
}

impl ProcSource {
    /// The local cluster behind a `cronbench-<name>` context, when it is up on this machine.
    pub fn for_context(context: &str) -> Option<ProcSource> {
        LocalCluster::info_of_context(context)?;
        let name = context.strip_prefix("cronbench-")?;
        Some(ProcSource {
            cluster: Arc::new(LocalCluster::new(name).ok()?),
        })
    }
}

impl ReadingSource for ProcSource {
    const SOURCE: ResourceSource = ResourceSource::Proc;

    async fn read(&mut self, _at_ms: i64) -> Result<Vec<ResourceReading>, SourceError> {
        let cluster = Arc::clone(&self.cluster);
        // A scan of /proc: a few milliseconds of file reads, off the runtime's threads.
        tokio::task::spawn_blocking(move || read_all(&cluster))
            .await
            .map_err(|e| SourceError {
                source_name: "/proc",
                reason: e.to_string(),
            })
    }
}

/// Every component process of `cluster` that could be read, in a stable order.
fn read_all(cluster: &LocalCluster) -> Vec<ResourceReading> {
    let mut out: Vec<ResourceReading> = cluster
        .processes()
        .into_iter()
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let (component, instance) = classify(&cmdline)?;
            Some(ResourceReading {
                component,
                instance,
                process: u64::from(pid),
                cpu_s: crate::procfs::cpu_s(pid)?,
                rss_bytes: crate::procfs::mem(pid)?.rss_kb.saturating_mul(1024),
                at_ms: None,
            })
        })
        .collect();
    out.sort_by(|a, b| (a.component, &a.instance).cmp(&(b.component, &b.instance)));
    out
}

/// The component a process runs, from its NUL-separated command line: the file name of
/// `argv[0]`; a kubelet's instance is its node (`--hostname-override`). Forwarders,
/// containerd and its shims are no component.
pub fn classify(cmdline: &[u8]) -> Option<(Component, String)> {
    let mut args = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a));
    let argv0 = args.next()?;
    let binary = argv0.rsplit('/').next()?;
    let component = Component::from_binary(binary)?;
    let instance = match component {
        Component::Kubelet => args
            .find_map(|a| a.strip_prefix("--hostname-override=").map(str::to_string))
            .unwrap_or_default(),
        _ => String::new(),
    };
    Some((component, instance))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Case = (&'static [u8], Option<(Component, &'static str)>);

    #[test]
    fn processes_are_classified_by_their_binary_and_kubelets_by_node() {
        let cases: [Case; 7] = [
            (
                b"/home/u/.cache/cronbench/bin/v1/kube-apiserver\0--etcd-servers=x\0",
                Some((Component::KubeApiserver, "")),
            ),
            (
                b"/c/bin/etcd\0--data-dir=/c/etcd\0",
                Some((Component::Etcd, "")),
            ),
            (
                b"/c/bin/kube-controller-manager\0",
                Some((Component::KubeControllerManager, "")),
            ),
            (
                b"kube-scheduler\0--config=x\0",
                Some((Component::KubeScheduler, "")),
            ),
            (
                b"/c/bin/kwok\0--kubeconfig=x\0",
                Some((Component::KwokController, "")),
            ),
            (
                b"/c/bin/kubelet\0--config=x\0--hostname-override=kubelet-node-1\0",
                Some((Component::Kubelet, "kubelet-node-1")),
            ),
            (b"/usr/bin/socat\0UNIX-LISTEN:/c/api.sock\0", None),
        ];
        for (cmdline, want) in cases {
            let got = classify(cmdline);
            assert_eq!(
                got.as_ref().map(|(c, i)| (*c, i.as_str())),
                want,
                "{}",
                String::from_utf8_lossy(cmdline)
            );
        }
        assert_eq!(classify(b""), None);
    }
}

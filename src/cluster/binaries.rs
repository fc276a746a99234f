//! Where `scripts/setup` put the cluster's binaries.

use std::path::{Path, PathBuf};

use super::ClusterError;
use crate::call;

/// The binaries of the local cluster, all from one versioned cache directory.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub dir: PathBuf,
}

/// Every binary `scripts/setup` builds.
pub const NAMES: [&str; 8] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kubelet",
    "etcd",
    "kwok",
    "kwokctl",
];

/// cronbench's cache root: `$CRONBENCH_CACHE`, else `~/.cache/cronbench`.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("CRONBENCH_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache").join("cronbench")
}

impl Binaries {
    /// The directory named by `$CRONBENCH_BIN_DIR`, else the one `scripts/setup` linked as
    /// `<cache>/bin/current`. Fails, naming the setup command, when any binary is missing.
    pub fn locate() -> Result<Binaries, ClusterError> {
        let dir = std::env::var_os("CRONBENCH_BIN_DIR")
            .map_or_else(|| cache_root().join("bin").join("current"), PathBuf::from);
        Binaries::in_dir(&dir)
    }

    pub fn in_dir(dir: &Path) -> Result<Binaries, ClusterError> {
        for name in NAMES {
            if !dir.join(name).is_file() {
                return Err(ClusterError::BinariesMissing {
                    dir: dir.to_path_buf(),
                    missing: name.to_string(),
                });
            }
        }
        // Resolve `current` so that a later setup of another version does not swap binaries
        // under a running cluster.
        let dir = dir.canonicalize().map_err(call::io(format!(
            "resolve binary directory {}",
            dir.display()
        )))?;
        Ok(Binaries { dir })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_name_the_setup_command() {
        let dir = std::env::temp_dir().join("cronbench-no-binaries-here");
        let err = Binaries::in_dir(&dir).unwrap_err().to_string();
        assert!(err.contains("scripts/setup"), "{err}");
        assert!(err.contains("kube-apiserver"), "{err}");
    }
}

//! Mounts that real nodes leave under the cluster's state directory: the kubelet's tmpfs of
//! projected volumes, containerd's overlay root file systems and shm, pod network namespaces.
//! They must be unmounted, deepest first, before the directory can be removed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Undoes mountinfo's octal escapes (`\040` is a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        if bytes[i] == b'\\'
            && let Some(digits) = octal
        {
            let v = digits
                .iter()
                .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
            out.push(v as u8);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points at or below `dir` in a mountinfo text, deepest first.
fn under(mountinfo: &str, dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .map(|f| PathBuf::from(unescape(f)))
        .filter(|p| p.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

/// Mount points at or below `dir` now, deepest first.
pub fn list(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|s| under(&s, dir))
        .unwrap_or_default()
}

/// Unmounts everything below `dir`, deepest first; a busy mount is detached lazily. Returns
/// what is still mounted.
pub fn unmount_all(dir: &Path) -> Vec<PathBuf> {
    // Stacked mounts show up once per layer: repeat until nothing is left or nothing moves.
    for _ in 0..5 {
        let mounts = list(dir);
        if mounts.is_empty() {
            break;
        }
        for m in &mounts {
            let ok = Command::new("umount")
                .arg(m)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("umount")
                    .arg("-l")
                    .arg(m)
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
    list(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_below_the_directory_come_deepest_first() {
        let text = "\
100 30 0:50 / /s/c/n0/kubelet/pods/u1/volumes/kubernetes.io~projected/kube-api-access-x rw - tmpfs tmpfs rw
101 30 0:51 / /s/c/n0/containerd/state/io.containerd.runtime.v2.task/k8s.io/abc/rootfs rw - overlay overlay rw
102 30 0:52 / /s/other rw - tmpfs tmpfs rw
103 30 0:53 / /s/c/with\\040space rw - tmpfs tmpfs rw";
        let got = under(text, Path::new("/s/c"));
        assert_eq!(got.len(), 3);
        assert!(got[0].ends_with("kube-api-access-x"));
        assert_eq!(got[2], PathBuf::from("/s/c/with space"));
    }
}

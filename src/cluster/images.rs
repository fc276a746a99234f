//! The two images real nodes run, built locally because no registry is reachable: a pause
//! image (the pod sandbox) and an echo image (the job), both one layer holding Debian's static
//! busybox. Each is an OCI image layout in a tar archive that `ctr images import` reads.
//!
//! The archives are reproducible: the same busybox gives the same bytes, so the same digests
//! (no timestamps, owners or map iteration order end up in them).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ClusterError;
use crate::call;

/// Where `scripts/setup` has Debian's busybox-static put its binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// One local image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalImage {
    /// Its reference; a name under `cronbench.local` that no registry serves.
    pub reference: &'static str,
    /// The archive's file name in the cluster's image directory.
    pub file: &'static str,
    pub entrypoint: &'static [&'static str],
}

/// The sandbox ("pause") image: sleeps until it is killed. containerd stops sandboxes with
/// SIGKILL, so a process without signal handlers is enough.
pub const PAUSE: LocalImage = LocalImage {
    reference: "cronbench.local/pause:1",
    file: "pause.tar",
    entrypoint: &["/bin/sleep", "2147483647"],
};

/// The job image: `echo hello world`, the seeds' job.
pub const ECHO: LocalImage = LocalImage {
    reference: "cronbench.local/echo:1",
    file: "echo.tar",
    entrypoint: &["/bin/echo", "hello world"],
};

/// The programs both images have, as links to busybox in `/bin`.
const APPLETS: [&str; 4] = ["echo", "sh", "sleep", "true"];

/// busybox has no bash; scenarios' commands are `bash -c '...'`, which its sh runs alike.
const BASH: &[u8] = b"#!/bin/sh\n# busybox sh standing in for bash\nexec /bin/sh \"$@\"\n";

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

/// The OCI architecture name of this machine.
fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn descriptor(media_type: &str, bytes: &[u8]) -> Value {
    json!({
        "mediaType": media_type,
        "digest": format!("sha256:{}", sha256_hex(bytes)),
        "size": bytes.len(),
    })
}

/// A tar header with everything that could vary between builds fixed.
fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Appends `entries` (path, contents; `None` is a directory) in the given order.
fn tar_of(entries: &[(&str, Option<&[u8]>)], links: &[(&str, &str)]) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    b.mode(tar::HeaderMode::Deterministic);
    for (path, contents) in entries {
        match contents {
            None => {
                let mut h = header(tar::EntryType::Directory, 0o755, 0);
                b.append_data(&mut h, path, std::io::empty())?;
            }
            Some(bytes) => {
                let mut h = header(tar::EntryType::Regular, 0o755, bytes.len() as u64);
                b.append_data(&mut h, path, *bytes)?;
            }
        }
    }
    for (path, target) in links {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        b.append_link(&mut h, path, target)?;
    }
    b.into_inner()
}

/// The image's one layer: `/bin/busybox` and the applet links.
fn layer(busybox: &[u8]) -> std::io::Result<Vec<u8>> {
    let links: Vec<(String, &str)> = APPLETS
        .iter()
        .map(|a| (format!("bin/{a}"), "busybox"))
        .collect();
    let links: Vec<(&str, &str)> = links.iter().map(|(p, t)| (p.as_str(), *t)).collect();
    tar_of(
        &[
            ("bin/", None),
            ("bin/bash", Some(BASH)),
            ("bin/busybox", Some(busybox)),
        ],
        &links,
    )
}

/// The OCI image layout of `image`, as a tar archive.
pub fn layout(image: &LocalImage, busybox: &[u8]) -> std::io::Result<Vec<u8>> {
    let layer = layer(busybox)?;
    let config = serde_json::to_vec(&json!({
        "architecture": oci_arch(),
        "os": "linux",
        "config": { "Entrypoint": image.entrypoint, "Env": ["PATH=/bin"] },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(&layer))] },
    }))?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": descriptor(CONFIG_TYPE, &config),
        "layers": [descriptor(LAYER_TYPE, &layer)],
    }))?;
    let tag = image.reference.rsplit(':').next().unwrap_or("latest");
    let mut entry = descriptor(MANIFEST_TYPE, &manifest);
    if let Some(obj) = entry.as_object_mut() {
        obj.insert(
            "platform".into(),
            json!({ "architecture": oci_arch(), "os": "linux" }),
        );
        obj.insert(
            "annotations".into(),
            json!({
                "io.containerd.image.name": image.reference,
                "org.opencontainers.image.ref.name": tag,
            }),
        );
    }
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry],
    }))?;
    let oci_layout = serde_json::to_vec(&json!({ "imageLayoutVersion": "1.0.0" }))?;
    let mut blobs: Vec<(String, &[u8])> = [&layer[..], &config[..], &manifest[..]]
        .into_iter()
        .map(|b| (format!("blobs/sha256/{}", sha256_hex(b)), b))
        .collect();
    blobs.sort();
    let mut entries: Vec<(&str, Option<&[u8]>)> = vec![
        ("oci-layout", Some(&oci_layout[..])),
        ("index.json", Some(&index[..])),
        ("blobs/", None),
        ("blobs/sha256/", None),
    ];
    entries.extend(blobs.iter().map(|(p, b)| (p.as_str(), Some(*b))));
    tar_of(&entries, &[])
}

/// Writes both archives into `dir` from the busybox at `busybox`; returns their paths.
pub fn write_all(dir: &Path, busybox: &Path) -> Result<Vec<PathBuf>, ClusterError> {
    let bytes = std::fs::read(busybox).map_err(|e| ClusterError::Prerequisite {
        what: format!("busybox at {}: {e}", busybox.display()),
        fix: "run `scripts/setup` (it installs Debian's busybox-static)".into(),
    })?;
    std::fs::create_dir_all(dir).map_err(call::io(format!("create {}", dir.display())))?;
    let mut out = Vec::new();
    for image in [PAUSE, ECHO] {
        let path = dir.join(image.file);
        let archive =
            layout(&image, &bytes).map_err(call::io(format!("build image {}", image.reference)))?;
        std::fs::write(&path, archive).map_err(call::io(format!("write {}", path.display())))?;
        out.push(path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAKE_BUSYBOX: &[u8] = b"\x7fELF not really busybox";

    fn entries(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut a = tar::Archive::new(archive);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().display().to_string();
                let mut body = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut body).unwrap();
                (path, body)
            })
            .collect()
    }

    #[test]
    fn the_same_busybox_gives_the_same_bytes() {
        let a = layout(&ECHO, FAKE_BUSYBOX).unwrap();
        let b = layout(&ECHO, FAKE_BUSYBOX).unwrap();
        assert_eq!(sha256_hex(&a), sha256_hex(&b));
        let other = layout(&ECHO, b"another busybox").unwrap();
        assert_ne!(a, other);
        assert_ne!(a, layout(&PAUSE, FAKE_BUSYBOX).unwrap());
    }

    #[test]
    fn the_layout_names_the_image_and_its_blobs_match_their_digests() {
        let files = entries(&layout(&PAUSE, FAKE_BUSYBOX).unwrap());
        let get = |p: &str| {
            files
                .iter()
                .find(|(path, _)| path == p)
                .map(|(_, b)| b.clone())
                .unwrap_or_else(|| panic!("{p} missing: {files:?}"))
        };
        let index: Value = serde_json::from_slice(&get("index.json")).unwrap();
        let m = &index["manifests"][0];
        assert_eq!(
            m["annotations"]["io.containerd.image.name"],
            "cronbench.local/pause:1"
        );
        let digest = m["digest"].as_str().unwrap().trim_start_matches("sha256:");
        let manifest: Value =
            serde_json::from_slice(&get(&format!("blobs/sha256/{digest}"))).unwrap();
        for (path, body) in files.iter().filter(|(p, _)| p.starts_with("blobs/sha256/")) {
            if !body.is_empty() {
                assert!(path.ends_with(&sha256_hex(body)), "{path}");
            }
        }
        let config_digest = manifest["config"]["digest"].as_str().unwrap();
        let config: Value = serde_json::from_slice(&get(&format!(
            "blobs/sha256/{}",
            config_digest.trim_start_matches("sha256:")
        )))
        .unwrap();
        assert_eq!(config["config"]["Entrypoint"][0], "/bin/sleep");
        let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][0], layer_digest);
    }

    #[test]
    fn writing_the_archives_twice_gives_identical_files() {
        let base = std::env::temp_dir().join(format!("cb-images-{}", std::process::id()));
        let busybox = base.join("busybox");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(&busybox, FAKE_BUSYBOX).unwrap();
        let first = write_all(&base.join("a"), &busybox).unwrap();
        let second = write_all(&base.join("b"), &busybox).unwrap();
        assert_eq!(first.len(), 2);
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(
                std::fs::read(a).unwrap(),
                std::fs::read(b).unwrap(),
                "{a:?}"
            );
        }
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_missing_busybox_names_the_setup_script() {
        let err = write_all(
            &std::env::temp_dir().join("cb-images-unused"),
            Path::new("/nonexistent/busybox"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("scripts/setup"), "{err}");
    }

    #[test]
    fn the_layer_holds_busybox_and_links_to_it() {
        let layer = layer(FAKE_BUSYBOX).unwrap();
        let mut a = tar::Archive::new(&layer[..]);
        let mut seen = Vec::new();
        for e in a.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(h.mtime().unwrap(), 0);
            assert_eq!(h.uid().unwrap(), 0);
            let link = e.link_name().unwrap().map(|l| l.display().to_string());
            seen.push((e.path().unwrap().display().to_string(), link));
        }
        assert!(seen.contains(&("bin/busybox".into(), None)));
        assert!(seen.contains(&("bin/bash".into(), None)));
        assert!(seen.contains(&("bin/echo".into(), Some("busybox".into()))));
        assert!(seen.contains(&("bin/sleep".into(), Some("busybox".into()))));
    }
}

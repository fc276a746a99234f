//! `cluster up --scheduler-config FILE`: a KubeSchedulerConfiguration for the local scheduler,
//! checked before kwokctl sees it (kwokctl's own error for a bad file is a Go decoding trace).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Knobs;

const API_VERSION: &str = "kubescheduler.config.k8s.io/v1";
const KIND: &str = "KubeSchedulerConfiguration";

/// Why a scheduler configuration file was refused: each names the file, the problem and the fix.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerConfigError {
    #[error(
        "--scheduler-config {path}: cannot read it ({reason}); give the path of a KubeSchedulerConfiguration YAML file, e.g. configs/scheduler-spread.yaml"
    )]
    Read { path: PathBuf, reason: String },

    #[error(
        "--scheduler-config {path}: {place}not YAML: {reason}; fix the syntax (a KubeSchedulerConfiguration is one YAML document)"
    )]
    Yaml {
        path: PathBuf,
        place: String,
        reason: String,
    },

    #[error(
        "--scheduler-config {path}: {problem}; the file needs the top-level keys `apiVersion: {API_VERSION}` and `kind: {KIND}` (see configs/scheduler-spread.yaml)"
    )]
    NotSchedulerConfig { path: PathBuf, problem: String },

    #[error(
        "--scheduler-config {path} together with --{flag}: kube-scheduler ignores that flag when it reads a configuration file; set {field} in the file instead"
    )]
    IgnoredFlag {
        path: PathBuf,
        flag: &'static str,
        field: &'static str,
    },
}

/// The file, absolute, once it reads as a KubeSchedulerConfiguration that the knobs do not
/// contradict.
pub fn check(path: &Path, knobs: &Knobs) -> Result<PathBuf, SchedulerConfigError> {
    let read_error = |e: std::io::Error| SchedulerConfigError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let text = read_bounded(path).map_err(read_error)?;
    let doc: Value = serde_saphyr::from_str(&text).map_err(|e| SchedulerConfigError::Yaml {
        path: path.to_path_buf(),
        place: e
            .location()
            .filter(|l| l.line() > 0)
            .map(|l| format!("line {}, column {}: ", l.line(), l.column()))
            .unwrap_or_default(),
        reason: e.without_snippet().to_string(),
    })?;
    check_kind(&doc).map_err(|problem| SchedulerConfigError::NotSchedulerConfig {
        path: path.to_path_buf(),
        problem,
    })?;
    let ignored = [
        (
            knobs.scheduler_api_qps.is_some(),
            "scheduler-api-qps",
            "clientConnection.qps",
        ),
        (
            knobs.scheduler_api_burst.is_some(),
            "scheduler-api-burst",
            "clientConnection.burst",
        ),
    ];
    if let Some((_, flag, field)) = ignored.into_iter().find(|(set, _, _)| *set) {
        return Err(SchedulerConfigError::IgnoredFlag {
            path: path.to_path_buf(),
            flag,
            field,
        });
    }
    std::path::absolute(path).map_err(read_error)
}

/// The most of a configuration file read: a KubeSchedulerConfiguration is a few KiB, and a
/// stray path (`/dev/zero`, a log) must not be read into memory whole.
const MAX_BYTES: u64 = 1024 * 1024;

fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_BYTES {
        return Err(std::io::Error::other(format!(
            "it is larger than {MAX_BYTES} bytes"
        )));
    }
    Ok(text)
}

fn check_kind(doc: &Value) -> Result<(), String> {
    let Some(map) = doc.as_object() else {
        return Err("it is not a mapping of keys to values".into());
    };
    let field = |key: &str| map.get(key).and_then(Value::as_str);
    match (field("apiVersion"), field("kind")) {
        (Some(API_VERSION), Some(KIND)) => Ok(()),
        (Some(API_VERSION), other) => Err(format!("kind is {}", shown(other))),
        (other, _) => Err(format!("apiVersion is {}", shown(other))),
    }
}

fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "missing".to_string(), |v| format!("`{v}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` in a file `name` of a scratch directory, removed when the guard drops.
    fn write(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn the_shipped_spreading_configuration_is_accepted() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/scheduler-spread.yaml");
        let checked = check(&path, &Knobs::default()).unwrap();
        assert!(checked.is_absolute());
    }

    #[test]
    fn a_missing_file_is_named_with_the_fix() {
        let err = check(Path::new("no/such.yaml"), &Knobs::default()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("no/such.yaml") && text.contains("KubeSchedulerConfiguration"),
            "{text}"
        );
    }

    #[test]
    fn an_endless_file_is_refused_without_reading_it_whole() {
        let err = check(Path::new("/dev/zero"), &Knobs::default()).unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }

    #[test]
    fn broken_yaml_is_refused_with_its_line() {
        let (_dir, path) = write("broken.yaml", "apiVersion: x\nkind: [unclosed\n");
        let text = check(&path, &Knobs::default()).unwrap_err().to_string();
        assert!(text.contains("not YAML") && text.contains("line"), "{text}");
    }

    #[test]
    fn another_kind_of_document_is_refused() {
        let (_dir, path) = write("pod.yaml", "apiVersion: v1\nkind: Pod\n");
        let text = check(&path, &Knobs::default()).unwrap_err().to_string();
        assert!(text.contains("apiVersion is `v1`"), "{text}");
        let (_dir, path) = write(
            "kind.yaml",
            &format!("apiVersion: {API_VERSION}\nkind: Pod\n"),
        );
        let text = check(&path, &Knobs::default()).unwrap_err().to_string();
        assert!(text.contains("kind is `Pod`"), "{text}");
    }

    #[test]
    fn scheduler_qps_flags_that_the_file_would_override_are_refused() {
        let (_dir, path) = write(
            "ok.yaml",
            &format!("apiVersion: {API_VERSION}\nkind: {KIND}\n"),
        );
        let knobs = Knobs {
            scheduler_api_qps: Some(100.0),
            ..Knobs::default()
        };
        let text = check(&path, &knobs).unwrap_err().to_string();
        assert!(text.contains("clientConnection.qps"), "{text}");
    }
}

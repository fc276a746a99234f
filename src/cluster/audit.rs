//! The apiserver's audit log of a local cluster: a policy that records only the requests that
//! move a scheduled run along (Job and Pod creation, the binding, the pod status writes), so
//! that their server times, to the microsecond, can be set beside cronbench's client times.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::ClusterError;
use super::config::{Component, Flag};
use crate::call;

/// The audit policy file, in the cluster's state directory.
pub const POLICY_FILE: &str = "audit-policy.json";
/// The audit log (JSON lines of audit.k8s.io/v1 Events), in the cluster's state directory.
pub const LOG_FILE: &str = "audit.log";

/// Which namespaces the audit log records; empty: all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditScope {
    pub namespaces: Vec<String>,
}

/// The policy: pod status writes and pod creations with their objects (the new phase, and the
/// generated name), bindings and Job creations as metadata, nothing else. Only the
/// ResponseComplete stage is written.
pub fn policy(scope: &AuditScope) -> Value {
    let rule = |level: &str, verbs: &[&str], resources: Value| {
        let mut r = json!({ "level": level, "verbs": verbs, "resources": resources });
        if !scope.namespaces.is_empty()
            && let Some(obj) = r.as_object_mut()
        {
            obj.insert("namespaces".into(), json!(scope.namespaces));
        }
        r
    };
    json!({
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived", "ResponseStarted"],
        "rules": [
            rule(
                "RequestResponse",
                &["update", "patch"],
                json!([{ "group": "", "resources": ["pods/status"] }]),
            ),
            rule(
                "RequestResponse",
                &["create"],
                json!([{ "group": "", "resources": ["pods"] }]),
            ),
            rule(
                "Metadata",
                &["create"],
                json!([
                    { "group": "", "resources": ["pods/binding"] },
                    { "group": "batch", "resources": ["jobs"] },
                ]),
            ),
            { "level": "None" },
        ],
    })
}

/// Writes the policy into `dir` and returns the apiserver flags that turn the log on.
pub fn prepare(dir: &Path, scope: &AuditScope) -> Result<Vec<Flag>, ClusterError> {
    let policy_path = dir.join(POLICY_FILE);
    // JSON is YAML: the apiserver reads the policy as written.
    std::fs::write(&policy_path, policy(scope).to_string())
        .map_err(call::io(format!("write {}", policy_path.display())))?;
    let api = Component::KubeApiserver;
    Ok(vec![
        (api, "audit-policy-file", policy_path.display().to_string()),
        (api, "audit-log-path", log_path(dir).display().to_string()),
        (api, "audit-log-format", "json".into()),
    ])
}

/// Where the audit log of the cluster whose state directory is `dir` is written.
pub fn log_path(dir: &Path) -> PathBuf {
    dir.join(LOG_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_records_the_four_requests_in_the_scope_and_nothing_else() {
        let p = policy(&AuditScope {
            namespaces: vec!["run-1".into()],
        });
        let rules = p["rules"].as_array().expect("rules");
        assert_eq!(rules.len(), 4);
        for r in &rules[..3] {
            assert_eq!(r["namespaces"], json!(["run-1"]), "{r}");
        }
        assert_eq!(
            rules[0]["resources"][0]["resources"],
            json!(["pods/status"])
        );
        assert_eq!(rules[3], json!({ "level": "None" }));
        let all = policy(&AuditScope::default());
        assert!(all["rules"][0].get("namespaces").is_none(), "{all}");
    }
}

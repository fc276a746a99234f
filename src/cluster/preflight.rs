//! Checks before a run loads a cluster: is it a test cluster, is it reachable, may we do what
//! the run needs, are there Ready nodes.

use std::path::{Path, PathBuf};

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, PostParams};

use crate::scenario::CronJobDef;

/// Why a cluster may not be loaded. None is retryable without a change by the user except
/// [`PreflightError::Unreachable`].
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error(
        "refusing to load context `{0}`: it is not a test cluster. cronbench only loads local clusters (`cronbench-*`), kind clusters (`kind-*`), or a context named with --allow-context {0}"
    )]
    NotATestCluster(String),

    #[error(
        "no kube context: pass --context (e.g. cronbench-local or kind-cronbench), or start a local cluster with `cronbench cluster up`"
    )]
    NoContext,

    #[error(
        "could not read kubeconfig {path}: {reason}; pass --kubeconfig, or start a local cluster with `cronbench cluster up`"
    )]
    Kubeconfig { path: PathBuf, reason: String },

    #[error(transparent)]
    File(#[from] super::kubeconfig::KubeconfigError),

    #[error(
        "context `{context}` is not in kubeconfig {}: it has {known}; pass --context with one of those",
        files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(":")
    )]
    UnknownContext {
        context: String,
        files: Vec<PathBuf>,
        known: String,
    },

    #[error(
        "the apiserver of context `{context}` is unreachable: {source}; is the cluster up? (`cronbench cluster status`)"
    )]
    Unreachable {
        context: String,
        #[source]
        source: kube::Error,
    },

    #[error(
        "the identity of context `{context}` may not {verb} {resource}{group}; grant it (e.g. a ClusterRole with that verb) or use an admin context"
    )]
    Forbidden {
        context: String,
        verb: String,
        resource: String,
        group: String,
    },

    #[error("checking permissions in context `{context}` failed: {source}")]
    AccessReview {
        context: String,
        #[source]
        source: kube::Error,
    },

    #[error(
        "context `{context}` has no Ready node{selector}; add nodes (`cronbench cluster up --nodes 3`) or fix the scenario's node_selector"
    )]
    NoReadyNodes { context: String, selector: String },
    /// `key` is `file: key path` of the request (`s.yaml: load.resources.requests.cpu` or
    /// `jobs/a.yaml (document 1): resources.requests.cpu`).
    #[error(
        "{key} is {request}, but no Ready node of context \
         `{context}`{selector} has that much allocatable (the most is {largest}): no pod could \
         ever be scheduled; lower the request or add larger nodes"
    )]
    NoNodeFits {
        key: String,
        context: String,
        selector: String,
        request: String,
        largest: String,
    },

    /// The apiserver refused a dry-run create of a CronJob the run would create; `causes` are
    /// `file: key: reason` lines ([`super::dryrun`]).
    #[error(
        "{}\nthe apiserver of context `{context}` rejected the CronJob `{name}` in a dry run \
         (nothing was created; these are checks `cronbench lint` cannot make offline): fix the \
         key{} above and run again",
        causes.join("\n"),
        if causes.len() == 1 { "" } else { "s" }
    )]
    Rejected {
        context: String,
        name: String,
        causes: Vec<String>,
    },

    /// A CronJob object could not be built (a bug, not the input's fault).
    #[error("{0}")]
    Object(String),
}

/// Whether `context` may be loaded.
pub fn check_context(context: &str, allowed: &[String]) -> Result<(), PreflightError> {
    if context.starts_with("cronbench-")
        || context.starts_with("kind-")
        || allowed.iter().any(|a| a == context)
    {
        Ok(())
    } else {
        Err(PreflightError::NotATestCluster(context.to_string()))
    }
}

/// A client for `target`, refused unless its context is a test cluster: what every command
/// that changes a cluster does first.
pub async fn connect_checked(
    target: &super::ClusterTarget,
) -> Result<(kube::Client, String), PreflightError> {
    let (client, context) = connect(target.kubeconfig.clone(), target.context.clone()).await?;
    check_context(&context, &target.allow_context)?;
    Ok((client, context))
}

/// A client for a kubeconfig (explicit path, else `$KUBECONFIG`/`~/.kube/config`) and context
/// (explicit, else the kubeconfig's current one), with the context's name.
pub async fn connect(
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
) -> Result<(kube::Client, String), PreflightError> {
    let kc = super::kubeconfig::read(kubeconfig.as_deref())?;
    let name = context
        .clone()
        .or_else(|| kc.current_context.clone())
        .ok_or(PreflightError::NoContext)?;
    if !kc.contexts.iter().any(|c| c.name == name) {
        let mut known: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
        known.truncate(10);
        return Err(PreflightError::UnknownContext {
            context: name,
            files: super::kubeconfig::paths(kubeconfig.as_deref())?,
            known: if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            },
        });
    }
    let opts = kube::config::KubeConfigOptions {
        context: Some(name.clone()),
        ..Default::default()
    };
    let path = kubeconfig.unwrap_or_else(|| PathBuf::from("(default kubeconfig)"));
    let config = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .map_err(|e| PreflightError::Kubeconfig {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    let client = kube::Client::try_from(config).map_err(|e| PreflightError::Kubeconfig {
        path,
        reason: e.to_string(),
    })?;
    Ok((client, name))
}

/// What preflight learned about the cluster.
#[derive(Debug, Clone)]
pub struct ClusterFacts {
    pub server_version: String,
    pub ready_nodes: u32,
}

/// (verb, group, resource, namespaced) the run needs.
const NEEDS: [(&str, &str, &str); 9] = [
    ("create", "", "namespaces"),
    ("delete", "", "namespaces"),
    ("create", "batch", "cronjobs"),
    ("watch", "batch", "jobs"),
    ("watch", "", "pods"),
    ("watch", "events.k8s.io", "events"),
    ("watch", "", "nodes"),
    ("list", "", "nodes"),
    ("list", "batch", "jobs"),
];

/// Reachability, version, permissions, Ready nodes matching `node_selector`, and a node that
/// fits the requests of each distinct CronJob of `defs` (its own, for a job definition).
pub async fn check_cluster(
    client: &kube::Client,
    context: &str,
    node_selector: &std::collections::BTreeMap<String, String>,
    scenario_file: &Path,
    defs: &[CronJobDef],
) -> Result<ClusterFacts, PreflightError> {
    let version =
        client
            .apiserver_version()
            .await
            .map_err(|source| PreflightError::Unreachable {
                context: context.to_string(),
                source,
            })?;
    for (verb, group, resource) in NEEDS {
        check_access(client, context, verb, group, resource).await?;
    }
    let nodes = ready_nodes(client, context, node_selector).await?;
    let ready = nodes.len() as u32;
    if let Some((def, (resource, request, largest))) = unfit_def(&nodes, defs) {
        return Err(PreflightError::NoNodeFits {
            key: format!("{}.requests.{resource}", requests_place(scenario_file, def)),
            context: context.to_string(),
            selector: selector_text(node_selector),
            request,
            largest,
        });
    }
    Ok(ClusterFacts {
        server_version: version.git_version,
        ready_nodes: ready,
    })
}

/// Asks the apiserver whether the context's identity may `verb` `resource` of `group`.
async fn check_access(
    client: &kube::Client,
    context: &str,
    verb: &str,
    group: &str,
    resource: &str,
) -> Result<(), PreflightError> {
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_string()),
                group: Some(group.to_string()),
                resource: Some(resource.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = reviews
        .create(&PostParams::default(), &review)
        .await
        .map_err(|source| PreflightError::AccessReview {
            context: context.to_string(),
            source,
        })?;
    if answer.status.is_some_and(|s| s.allowed) {
        return Ok(());
    }
    Err(PreflightError::Forbidden {
        context: context.to_string(),
        verb: verb.to_string(),
        resource: resource.to_string(),
        group: if group.is_empty() {
            String::new()
        } else {
            format!(" in API group {group}")
        },
    })
}

/// The Ready nodes that match the scenario's node selector; an error when there is none.
async fn ready_nodes(
    client: &kube::Client,
    context: &str,
    node_selector: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<Node>, PreflightError> {
    let selector = label_selector(node_selector);
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| PreflightError::Unreachable {
            context: context.to_string(),
            source,
        })?;
    let ready: Vec<Node> = list
        .items
        .into_iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .collect();
    if ready.is_empty() {
        return Err(PreflightError::NoReadyNodes {
            context: context.to_string(),
            selector: selector_text(node_selector),
        });
    }
    Ok(ready)
}

/// The node selector as a label selector, `k=v,k2=v2`.
fn label_selector(node_selector: &std::collections::BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = node_selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    pairs.join(",")
}

/// " matching k=v,..." for messages; empty without a selector.
fn selector_text(node_selector: &std::collections::BTreeMap<String, String>) -> String {
    if node_selector.is_empty() {
        return String::new();
    }
    format!(" matching {}", label_selector(node_selector))
}

/// The first distinct CronJob of `defs` with a request no node can hold ([`unfit_request`]).
fn unfit_def<'a>(
    nodes: &[Node],
    defs: &'a [CronJobDef],
) -> Option<(&'a CronJobDef, (String, String, String))> {
    CronJobDef::distinct(defs)
        .find_map(|def| unfit_request(nodes, &def.resources.requests).map(|unfit| (def, unfit)))
}

/// `file: key` of `def`'s resources: its job definition's, else the scenario's `load:`.
fn requests_place(scenario_file: &Path, def: &CronJobDef) -> String {
    match &def.defined_in {
        Some(place) => format!("{place}: resources"),
        None => format!("{}: load.resources", scenario_file.display()),
    }
}

/// The first request no node can hold: (resource, the request, the largest allocatable).
/// A node that does not report a resource's allocatable is taken to fit it (the apiserver
/// leaves extended resources out until a device plugin adds them).
fn unfit_request(
    nodes: &[Node],
    requests: &std::collections::BTreeMap<String, String>,
) -> Option<(String, String, String)> {
    use crate::scenario::validate::quantity_value;
    requests.iter().find_map(|(resource, request)| {
        let want = quantity_value(request)?;
        let mut largest: Option<(f64, String)> = None;
        for n in nodes {
            let q = n
                .status
                .as_ref()
                .and_then(|s| s.allocatable.as_ref())
                .and_then(|a| a.get(resource))?;
            let have = quantity_value(&q.0)?;
            if have >= want {
                return None;
            }
            if largest.as_ref().is_none_or(|(l, _)| have > *l) {
                largest = Some((have, q.0.clone()));
            }
        }
        largest.map(|(_, q)| (resource.clone(), request.clone(), q))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_test_clusters_may_be_loaded() {
        assert!(check_context("cronbench-local", &[]).is_ok());
        assert!(check_context("kind-cronbench", &[]).is_ok());
        let err = check_context("prod-eu-1", &[]).unwrap_err().to_string();
        assert!(err.contains("--allow-context prod-eu-1"), "{err}");
        assert!(check_context("staging", &["staging".to_string()]).is_ok());
    }

    fn node(cpu: Option<&str>, memory: &str) -> Node {
        use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
        let mut allocatable = std::collections::BTreeMap::from([(
            "memory".to_string(),
            Quantity(memory.to_string()),
        )]);
        if let Some(cpu) = cpu {
            allocatable.insert("cpu".to_string(), Quantity(cpu.to_string()));
        }
        Node {
            status: Some(k8s_openapi::api::core::v1::NodeStatus {
                allocatable: Some(allocatable),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn requests(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_request_larger_than_every_node_names_the_resource_and_the_largest_node() {
        let nodes = [node(Some("32"), "256Gi"), node(Some("16"), "64Gi")];
        assert_eq!(
            unfit_request(&nodes, &requests(&[("cpu", "64")])),
            Some(("cpu".into(), "64".into(), "32".into()))
        );
        assert_eq!(
            unfit_request(&nodes, &requests(&[("cpu", "100m"), ("memory", "300Gi")])),
            Some(("memory".into(), "300Gi".into(), "256Gi".into()))
        );
    }

    fn def(name: &str, cpu: &str, file: Option<&str>) -> CronJobDef {
        CronJobDef {
            name: name.into(),
            schedule: "* * * * *".into(),
            time_zone: None,
            command: vec!["true".into()],
            resources: crate::scenario::Resources {
                requests: requests(&[("cpu", cpu)]),
                limits: Default::default(),
            }
            .into(),
            defined_in: file.map(|f| crate::scenario::jobdefs::Place {
                file: f.into(),
                document: 1,
            }),
            class: None,
        }
    }

    #[test]
    fn a_job_definition_no_node_fits_is_named_with_its_file_and_its_own_request() {
        let nodes = [node(Some("32"), "64Gi")];
        let defs = [
            def("small", "100m", Some("jobs/small.yaml")),
            def("huge", "48", Some("jobs/huge.yaml")),
        ];
        let (unfit, (resource, request, largest)) = unfit_def(&nodes, &defs).expect("one unfit");
        assert_eq!(unfit.name, "huge");
        assert_eq!((resource.as_str(), request.as_str()), ("cpu", "48"));
        assert_eq!(largest, "32");
        let err = PreflightError::NoNodeFits {
            key: format!(
                "{}.requests.{resource}",
                requests_place(Path::new("s.yaml"), unfit)
            ),
            context: "cronbench-local".into(),
            selector: String::new(),
            request,
            largest,
        }
        .to_string();
        assert!(
            err.starts_with(
                "jobs/huge.yaml (document 1): resources.requests.cpu is 48, but no Ready node"
            ),
            "{err}"
        );
        // The scenario's own identical CronJobs are checked once, against the scenario's keys.
        let inline = [def("cb-00000", "64", None), def("cb-00001", "64", None)];
        let (first, _) = unfit_def(&nodes, &inline).expect("unfit");
        assert_eq!(first.name, "cb-00000");
        assert_eq!(
            requests_place(Path::new("s.yaml"), first),
            "s.yaml: load.resources"
        );
        assert_eq!(CronJobDef::distinct(&inline).count(), 1);
        assert_eq!(CronJobDef::distinct(&defs).count(), 2);
    }

    #[test]
    fn a_request_one_node_can_hold_fits() {
        let nodes = [node(Some("2"), "4Gi"), node(Some("32"), "256Gi")];
        assert_eq!(unfit_request(&nodes, &requests(&[("cpu", "24")])), None);
        // A node that does not report the resource is taken to fit it.
        let unreported = [node(None, "4Gi")];
        assert_eq!(
            unfit_request(&unreported, &requests(&[("cpu", "64")])),
            None
        );
    }
}

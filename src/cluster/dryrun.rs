//! The apiserver as the judge of what is valid: before a run creates anything, each distinct
//! CronJob it would create is sent with `dryRun=All`, so admission and validation run in full
//! and nothing is stored. A rejection names the scenario (or job definition) file and the key
//! that set the rejected field.
//!
//! The dry run goes to the `default` namespace: the run's own namespace does not exist yet (it
//! is created when the session opens, and a dry-run create into a missing namespace is refused
//! as NotFound by the NamespaceLifecycle admission), and `default` exists in every cluster and
//! cannot be deleted. A CronJob of the same name already in `default` (409 AlreadyExists) says
//! nothing about the run's objects and passes. A `default` with admission rules of its own (an
//! object-count quota, a policy webhook) could refuse what the run's fresh namespace would
//! take; the test clusters cronbench loads have none.

use std::path::Path;

use futures::{StreamExt, stream};
use k8s_openapi::api::batch::v1::CronJob;
use kube::api::{Api, PostParams};

use super::preflight::PreflightError;
use crate::scenario::{CronJobDef, Scenario};

/// The run label's value on dry-run objects (the run id does not exist yet; a real one has
/// the same shape).
const DRY_RUN_ID: &str = "cronbench-00000000-000000-0000";

/// Before the apiserver's own words in each line.
const REJECTS: &str = "the apiserver rejects it: ";

/// Where the fields of a pod template live, as the apiserver names them.
const POD_SPEC: &str = "spec.jobTemplate.spec.template.spec.";

/// A CronJob the apiserver refused in a dry run, with a `file: key: reason` line per cause.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub name: String,
    pub causes: Vec<String>,
}

/// Sends each distinct CronJob of `defs` ([`CronJobDef::distinct`]) as a dry run,
/// `apply.concurrency` at a time (a jobs folder may hold thousands); the first rejection, in
/// the order of `defs`, is an error naming the file and key. Not retryable without a change to
/// the file, except [`PreflightError::Unreachable`].
pub async fn check(
    client: &kube::Client,
    context: &str,
    scenario: &Scenario,
    scenario_file: &Path,
    defs: &[CronJobDef],
) -> Result<(), PreflightError> {
    let judged = judge(client, context, scenario, scenario_file, defs).await?;
    match judged.rejected.into_iter().next() {
        Some(first) => Err(PreflightError::Rejected {
            context: context.to_string(),
            name: first.name,
            causes: first.causes,
        }),
        None => Ok(()),
    }
}

/// What [`judge`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// Distinct CronJobs sent.
    pub sent: usize,
    /// Those refused, in the order of `defs`.
    pub rejected: Vec<Rejection>,
}

/// Sends each distinct CronJob of `defs` as a dry run and collects every rejection (`lint
/// --context` reports them all; a run stops at the first). An error only when the cluster
/// could not answer.
pub async fn judge(
    client: &kube::Client,
    context: &str,
    scenario: &Scenario,
    scenario_file: &Path,
    defs: &[CronJobDef],
) -> Result<Judged, PreflightError> {
    let api: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let mut answers = stream::iter(CronJobDef::distinct(defs))
        .map(|def| {
            let api = api.clone();
            async move {
                let object = crate::workload::cronjob(scenario, def, DRY_RUN_ID)
                    .map_err(|e| PreflightError::Object(e.to_string()))?;
                let params = PostParams {
                    dry_run: true,
                    ..Default::default()
                };
                Ok::<_, PreflightError>((def, api.create(&params, &object).await))
            }
        })
        .buffered(scenario.apply.concurrency.max(1));
    let mut judged = Judged {
        sent: 0,
        rejected: Vec::new(),
    };
    while let Some(answer) = answers.next().await {
        let (def, answer) = answer?;
        judged.sent += 1;
        match answer {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(kube::Error::Api(status)) => judged.rejected.push(Rejection {
                name: def.name.clone(),
                causes: causes(scenario, scenario_file, def, &status),
            }),
            Err(source) => {
                return Err(PreflightError::Unreachable {
                    context: context.to_string(),
                    source,
                });
            }
        }
    }
    Ok(judged)
}

/// One line per cause the apiserver gave: `file: key: its message`; the whole message when it
/// gave no field.
fn causes(
    scenario: &Scenario,
    scenario_file: &Path,
    def: &CronJobDef,
    status: &kube::core::Status,
) -> Vec<String> {
    let class = class_index(scenario, def);
    let scenario = scenario_file.display().to_string();
    let listed = status.details.as_ref().map(|d| d.causes.as_slice());
    let lines: Vec<String> = listed
        .unwrap_or_default()
        .iter()
        .map(|c| match written(def, class, &c.field) {
            Some((Some(place), key)) => format!("{place}: {key}: {REJECTS}{}", c.message),
            Some((None, key)) => format!("{scenario}: {key}: {REJECTS}{}", c.message),
            None if c.field.is_empty() => format!("{scenario}: {REJECTS}{}", c.message),
            None => format!("{scenario}: {}: {REJECTS}{}", c.field, c.message),
        })
        .collect();
    if lines.is_empty() {
        return vec![format!("{scenario}: {REJECTS}{}", status.message)];
    }
    lines
}

/// The index of `def`'s class in `load.classes`, for a class's CronJob.
fn class_index(scenario: &Scenario, def: &CronJobDef) -> Option<usize> {
    let name = &def.class.as_ref()?.class;
    scenario.load.classes.iter().position(|c| &c.name == name)
}

/// The file (a job definition's place, `None` for the scenario) and key path that set the
/// CronJob field `field` (`spec.schedule`, `spec.jobTemplate...containers[0].image`), when
/// cronbench sets that field from a file. `class` is the index of `def`'s class in
/// `load.classes`, whose keys then win over `load:`'s.
fn written(
    def: &CronJobDef,
    class: Option<usize>,
    field: &str,
) -> Option<(Option<String>, String)> {
    let own = |key: String| match (&def.defined_in, class) {
        (Some(place), _) => Some((Some(place.to_string()), key)),
        (None, Some(i)) => Some((None, format!("load.classes[{i}].{}", class_key(&key)))),
        (None, None) => Some((None, format!("load.{}", inline_key(&key)))),
    };
    let scenario = |key: &str| match class {
        Some(i) if CLASS_KEYS.contains(&key) => Some((None, format!("load.classes[{i}].{key}"))),
        _ => Some((None, format!("load.{key}"))),
    };
    match field {
        "metadata.name" => return own("name".into()),
        "spec.schedule" => return own("kubernetes.schedule".into()),
        "spec.timeZone" => return own("kubernetes.time_zone".into()),
        "spec.concurrencyPolicy" => return scenario("concurrency_policy"),
        "spec.successfulJobsHistoryLimit" => return scenario("successful_jobs_history_limit"),
        "spec.failedJobsHistoryLimit" => return scenario("failed_jobs_history_limit"),
        "spec.startingDeadlineSeconds" => return scenario("starting_deadline_seconds"),
        _ => {}
    }
    if let (Some(job), Some(_)) = (field.strip_prefix("spec.jobTemplate.spec."), class) {
        let key = match job {
            "parallelism" => Some("parallelism"),
            "completions" => Some("completions"),
            "activeDeadlineSeconds" => Some("active_deadline_seconds"),
            "backoffLimit" => Some("backoff_limit"),
            _ => None,
        };
        if let Some(key) = key {
            return scenario(key);
        }
    }
    let pod = field.strip_prefix(POD_SPEC)?;
    if let Some(rest) = pod.strip_prefix("nodeSelector") {
        return scenario(&format!("node_selector{}", bracket_to_dot(rest)));
    }
    if let Some(rest) = pod.strip_prefix("tolerations") {
        return scenario(&format!("tolerations{rest}"));
    }
    let container = pod.strip_prefix("containers[0].")?;
    if container == "image" {
        return scenario("image");
    }
    if container == "imagePullPolicy" {
        return scenario("image_pull_policy");
    }
    if container.starts_with("command") || container.starts_with("resources") {
        return own(bracket_to_dot(container));
    }
    None
}

/// The keys a class sets for its CronJobs instead of `load:`'s.
const CLASS_KEYS: [&str; 8] = [
    "concurrency_policy",
    "successful_jobs_history_limit",
    "failed_jobs_history_limit",
    "starting_deadline_seconds",
    "parallelism",
    "completions",
    "active_deadline_seconds",
    "backoff_limit",
];

/// A job-definition key as a class spells it (the name's part is the class's name).
fn class_key(key: &str) -> String {
    match key {
        "kubernetes.schedule" => "schedule".into(),
        "kubernetes.time_zone" => "time_zone".into(),
        other => other.into(),
    }
}

/// A job-definition key as the scenario's `load:` spells it.
fn inline_key(key: &str) -> String {
    match key {
        "name" => "name_prefix".into(),
        "kubernetes.schedule" => "schedule".into(),
        "kubernetes.time_zone" => "time_zone".into(),
        other => other.into(),
    }
}

/// `requests[cpu]` as `requests.cpu`, the way scenario keys are written; list indexes
/// (`command[2]`) stay.
fn bracket_to_dot(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|c| open + c) else {
            break;
        };
        let inside = &rest[open + 1..close];
        out.push_str(&rest[..open]);
        if inside.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&rest[open..=close]);
        } else {
            out.push('.');
            out.push_str(inside);
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::jobdefs::Place;

    fn def(defined_in: Option<Place>) -> CronJobDef {
        CronJobDef {
            name: "cb-00000".into(),
            schedule: "* * * * *".into(),
            time_zone: None,
            command: vec!["true".into()],
            resources: Default::default(),
            defined_in,
            class: None,
        }
    }

    fn status(causes: &[(&str, &str)]) -> kube::core::Status {
        serde_json::from_value(serde_json::json!({
            "code": 422,
            "message": "CronJob.batch \"cb-00000\" is invalid",
            "reason": "Invalid",
            "details": {
                "causes": causes
                    .iter()
                    .map(|(f, m)| serde_json::json!({"field": f, "message": m}))
                    .collect::<Vec<_>>(),
            },
        }))
        .expect("a Status")
    }

    #[test]
    fn a_rejected_pod_field_names_the_scenario_key_that_set_it() {
        let d = def(None);
        let field = format!("{POD_SPEC}containers[0].resources.requests[example.com/gpu]");
        assert_eq!(
            causes(
                &Scenario::default(),
                Path::new("s.yaml"),
                &d,
                &status(&[(&field, "Invalid value: \"500m\": must be an integer")])
            ),
            [
                "s.yaml: load.resources.requests.example.com/gpu: the apiserver rejects it: Invalid value: \"500m\": must be an integer"
            ]
        );
        let tol = format!("{POD_SPEC}tolerations[1].key");
        assert_eq!(
            written(&d, None, &tol),
            Some((None, "load.tolerations[1].key".into()))
        );
        assert_eq!(
            written(&d, None, "metadata.name"),
            Some((None, "load.name_prefix".into()))
        );
        assert_eq!(
            written(&d, None, "spec.timeZone"),
            Some((None, "load.time_zone".into()))
        );
        let cmd = format!("{POD_SPEC}containers[0].command[2]");
        assert_eq!(
            written(&d, None, &cmd),
            Some((None, "load.command[2]".into()))
        );
    }

    #[test]
    fn a_rejected_job_definition_field_names_its_file_and_key() {
        let place = Place {
            file: "jobs/a.yaml".into(),
            document: 2,
        };
        let d = def(Some(place));
        let limits = format!("{POD_SPEC}containers[0].resources.limits");
        assert_eq!(
            causes(
                &Scenario::default(),
                Path::new("s.yaml"),
                &d,
                &status(&[
                    (&limits, "Required value: Limit must be set"),
                    (&format!("{POD_SPEC}containers[0].image"), "Required value"),
                ])
            ),
            [
                "jobs/a.yaml (document 2): resources.limits: the apiserver rejects it: Required value: Limit must be set",
                "s.yaml: load.image: the apiserver rejects it: Required value",
            ]
        );
        assert_eq!(
            written(&d, None, "spec.schedule"),
            Some((
                Some("jobs/a.yaml (document 2)".into()),
                "kubernetes.schedule".into()
            ))
        );
    }

    #[test]
    fn a_rejected_class_field_names_the_class_key() {
        let mut scenario = Scenario::default();
        scenario.load.classes = serde_saphyr::from_str(
            "[{name: a, count: 1, schedule: '@hourly'}, {name: b, count: 1, schedule: '@daily'}]",
        )
        .expect("classes");
        let mut d = def(None);
        d.class = Some(crate::scenario::classes::ClassPart {
            class: "b".into(),
            ..Default::default()
        });
        assert_eq!(
            causes(
                &scenario,
                Path::new("s.yaml"),
                &d,
                &status(&[
                    ("spec.timeZone", "Invalid value"),
                    ("spec.jobTemplate.spec.completions", "Invalid value"),
                    ("spec.concurrencyPolicy", "Unsupported value"),
                ])
            ),
            [
                "s.yaml: load.classes[1].time_zone: the apiserver rejects it: Invalid value",
                "s.yaml: load.classes[1].completions: the apiserver rejects it: Invalid value",
                "s.yaml: load.classes[1].concurrency_policy: the apiserver rejects it: Unsupported value",
            ]
        );
    }

    #[test]
    fn a_field_cronbench_does_not_set_is_named_as_the_apiserver_names_it() {
        let d = def(None);
        assert_eq!(
            causes(
                &Scenario::default(),
                Path::new("s.yaml"),
                &d,
                &status(&[("metadata.labels", "Invalid value")])
            ),
            ["s.yaml: metadata.labels: the apiserver rejects it: Invalid value"]
        );
        assert_eq!(
            causes(&Scenario::default(), Path::new("s.yaml"), &d, &status(&[])),
            ["s.yaml: the apiserver rejects it: CronJob.batch \"cb-00000\" is invalid"]
        );
    }
}

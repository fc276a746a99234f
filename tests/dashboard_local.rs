//! dashboards/cronbench.json, the Grafana dashboard of cronbench's pushed results and the
//! control plane's own series: its shape, its `cronbench_` names against the OpenMetrics
//! renderer (no cluster), and every PromQL expression in it (panels and variables) parsed and
//! answered with series by a real Prometheus (`cluster up --prometheus`) that scrapes a small
//! local cluster and a real Pushgateway holding a recorded fleet's pushed results.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use cronbench::cluster::LocalCluster;
use cronbench::cluster::prometheus::{SCRAPE_INTERVAL_S, dir_of, url_of};
use serde_json::Value;

const DASHBOARD: &str = include_str!("../dashboards/cronbench.json");

/// Recorded runs whose rendered metrics the dashboard's `cronbench_` names must be among: a
/// plain one and the mixed fleet (classes, zones, policies).
const FIXTURES: [&str; 2] = ["kwok-herd-3-nodes.jsonl", "mixed-classes.jsonl"];

/// Grafana's own variables, and what the test puts in their place: `$__rate_interval` is at
/// least four scrape intervals in Grafana, so that a rate always has two samples.
const BUILTINS: [(&str, &str); 3] = [
    ("__rate_interval", "30s"),
    ("__interval", "5s"),
    ("__range", "5m"),
];

fn dashboard() -> Value {
    serde_json::from_str(DASHBOARD).expect("dashboards/cronbench.json is JSON")
}

/// Every panel, the ones inside (collapsed) rows too.
fn panels(dash: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dash["panels"].as_array().expect("a panels array") {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner);
        }
    }
    out
}

/// (panel title, expr) of every query of every panel.
fn panel_exprs(dash: &Value) -> Vec<(String, String)> {
    panels(dash)
        .into_iter()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or("").to_string();
            p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |t| (title.clone(), t["expr"].as_str().unwrap_or("").to_string()))
        })
        .collect()
}

fn variables(dash: &Value) -> &Vec<Value> {
    dash["templating"]["list"]
        .as_array()
        .expect("templating.list")
}

/// A query variable's `label_values(EXPR, LABEL)`, split.
fn label_values(var: &Value) -> (String, String) {
    let query = var["query"]["query"]
        .as_str()
        .or(var["query"].as_str())
        .expect("a query variable has a query");
    let inner = query
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not label_values(EXPR, LABEL): {query}"));
    let (expr, label) = inner
        .rsplit_once(',')
        .unwrap_or_else(|| panic!("no label in {query}"));
    (expr.trim().to_string(), label.trim().to_string())
}

/// Every `$name` and `${name}` in `expr`.
fn references(expr: &str) -> Vec<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    expr.split('$')
        .skip(1)
        .map(|rest| {
            let rest = rest.strip_prefix('{').unwrap_or(rest);
            rest.chars().take_while(|c| ident(*c)).collect()
        })
        .collect()
}

/// `expr` with every variable replaced by `values` (longest name first: `$run_id` before a
/// `$run`), `${name}` and `$name` alike.
fn substitute(expr: &str, values: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = values.iter().collect();
    sorted.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    let mut out = expr.to_string();
    for (name, value) in sorted {
        out = out.replace(&format!("${{{name}}}"), value);
        out = out.replace(&format!("${name}"), value);
    }
    assert!(!out.contains('$'), "a variable is left in {out}");
    out
}

/// The metric names in `expr` that start with `cronbench_`.
fn cronbench_names(expr: &str) -> BTreeSet<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    expr.match_indices("cronbench_")
        .filter(|(i, _)| !expr[..*i].ends_with(ident))
        .map(|(i, _)| expr[i..].chars().take_while(|c| ident(*c)).collect())
        .collect()
}

fn fixture_results(name: &str) -> cronbench::results::Results {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    cronbench::analyze::analyze_file(path).expect("the fixture analyzes")
}

#[test]
fn the_dashboard_is_grafana_json_whose_panels_each_query_prometheus_with_unique_ids() {
    let dash = dashboard();
    assert!(dash["schemaVersion"].as_u64().expect("schemaVersion") >= 39);
    let vars = variables(&dash);
    let ds = vars
        .iter()
        .find(|v| v["type"] == "datasource")
        .expect("a datasource variable");
    assert_eq!(
        (&ds["name"], &ds["query"]),
        (&"datasource".into(), &"prometheus".into())
    );
    for name in ["run_id", "scenario"] {
        let var = vars.iter().find(|v| v["name"] == name).expect(name);
        let (expr, label) = label_values(var);
        assert_eq!(label, name);
        assert!(expr.starts_with("cronbench_"), "{name}: {expr}");
    }
    let defined: BTreeSet<String> = vars
        .iter()
        .map(|v| v["name"].as_str().expect("a variable's name").to_string())
        .chain(BUILTINS.iter().map(|(n, _)| n.to_string()))
        .collect();
    let mut ids = BTreeSet::new();
    for panel in panels(&dash) {
        let title = panel["title"].as_str().expect("every panel has a title");
        let id = panel["id"].as_u64().expect("every panel has an id");
        assert!(ids.insert(id), "panel id {id} ({title}) is used twice");
        assert!(
            panel["gridPos"]["w"].as_u64().is_some(),
            "{title}: no gridPos"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        let mut refs = BTreeSet::new();
        for t in targets {
            assert_eq!(t["datasource"]["type"], "prometheus", "{title}");
            assert!(refs.insert(t["refId"].as_str().expect("refId")), "{title}");
            let expr = t["expr"].as_str().expect("expr");
            assert!(!expr.trim().is_empty(), "{title}: an empty expr");
            for name in references(expr) {
                assert!(
                    defined.contains(&name),
                    "{title}: ${name} is not a variable"
                );
            }
        }
    }
    assert!(ids.len() >= 10, "only {} panels", ids.len());
}

#[test]
fn every_cronbench_series_the_dashboard_reads_is_one_the_openmetrics_renderer_emits() {
    let rendered: BTreeSet<String> = FIXTURES
        .iter()
        .flat_map(|f| {
            let text = cronbench::report::openmetrics::render(&fixture_results(f));
            text.lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .map(|l| l.split(['{', ' ']).next().unwrap_or("").to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let dash = dashboard();
    let mut exprs: Vec<(String, String)> = panel_exprs(&dash);
    for var in variables(&dash).iter().filter(|v| v["type"] == "query") {
        exprs.push((format!("variable {}", var["name"]), label_values(var).0));
    }
    let mut read = BTreeSet::new();
    for (title, expr) in &exprs {
        for name in cronbench_names(expr) {
            assert!(
                rendered.contains(&name),
                "{title}: {name} is not a series `report --format openmetrics` writes for {FIXTURES:?}"
            );
            read.insert(name);
        }
    }
    assert!(read.len() >= 8, "the dashboard reads only {read:?}");
}

/// `promtool query instant -o json URL EXPR`: the series, or what Prometheus said when the
/// query failed (a parse error, above all).
fn query(url: &str, expr: &str) -> Result<Vec<Value>, String> {
    let out = Command::new("promtool")
        .args(["query", "instant", "-o", "json", url, expr])
        .output()
        .expect("promtool runs");
    if !out.status.success() {
        return Err(common::text(&out));
    }
    let answer: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "promtool's answer is not JSON ({e}): {}",
            common::text(&out)
        )
    })?;
    match answer {
        Value::Array(series) => Ok(series),
        other => Err(format!("not a vector of series: {other}")),
    }
}

/// One Job in the test cluster, so that the apiserver has counted a Job creation.
async fn create_a_job(cluster: &common::TestCluster) {
    use k8s_openapi::api::batch::v1::Job;
    let job: Job = serde_json::from_value(serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "dashboard-probe"},
        "spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "nodeSelector": {"type": "kwok"},
            "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [{"name": "probe", "image": "busybox"}],
        }}},
    }))
    .expect("a Job");
    kube::Api::<Job>::namespaced(cluster.client().await, "default")
        .create(&Default::default(), &job)
        .await
        .expect("the Job is created");
}

#[tokio::test]
async fn integration_every_dashboard_query_parses_and_returns_series_from_the_pushgateway_and_the_components()
 {
    if common::prometheus_missing() {
        return;
    }
    let started = Instant::now();
    let gateway = common::pushgateway::Pushgateway::start();
    let target = gateway.target();
    let Some(cluster) = common::TestCluster::up(
        "it-dash",
        &[
            "--nodes",
            "1",
            "--prometheus",
            "--prometheus-scrape",
            &target,
        ],
    ) else {
        return;
    };
    let local = LocalCluster::new(&cluster.name).expect("valid name");
    let url = url_of(&local).expect("cluster up --prometheus wrote the URL");
    let config = dir_of(&local).join("prometheus.yml");
    let check = Command::new("promtool")
        .args(["check", "config"])
        .arg(&config)
        .output()
        .expect("promtool runs");
    assert!(check.status.success(), "{}", common::text(&check));

    let results = fixture_results("mixed-classes.jsonl");
    let dir = common::TempDir::new("dashboard-run");
    std::fs::write(
        dir.0.join("results.json"),
        serde_json::to_string(&results).expect("serializes"),
    )
    .expect("write results.json");
    let push = common::cronbench(&[
        "push",
        "--pushgateway",
        &gateway.url(),
        &dir.0.to_string_lossy(),
    ]);
    assert!(push.status.success(), "{}", common::text(&push));
    create_a_job(&cluster).await;

    let pushed = [
        ("scenario", results.run.scenario_name.as_str()),
        ("run_id", results.run.run_id.as_str()),
    ];
    let checks = checks(&dashboard(), &pushed);
    let total = checks.len();
    let empty = poll(&url, checks);
    assert!(
        empty.is_empty(),
        "no series after {:?}:\n{}",
        started.elapsed(),
        empty.join("\n")
    );
    eprintln!(
        "all {total} dashboard queries answered with series, {:.1} s after the start",
        started.elapsed().as_secs_f64()
    );
}

/// One query of the dashboard, its variables replaced.
struct Check {
    /// The panel's title, or `variable NAME`.
    what: String,
    expr: String,
    /// For a variable's query: the label it lists and the value it must list.
    lists: Option<(String, String)>,
}

/// Every query of `dash`, variables' and panels', with the variables replaced: Grafana's own
/// by [`BUILTINS`], a query variable by its `pushed` value (the run's), a textbox by its text,
/// any other by its current value.
fn checks(dash: &Value, pushed: &[(&str, &str)]) -> Vec<Check> {
    let mut values: Vec<(String, String)> = BUILTINS
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let mut out = Vec::new();
    for var in variables(dash) {
        let name = var["name"].as_str().expect("name").to_string();
        let value = match var["type"].as_str() {
            Some("datasource") => continue,
            Some("query") => {
                let (expr, label) = label_values(var);
                let (_, value) = pushed
                    .iter()
                    .find(|(n, _)| *n == name)
                    .unwrap_or_else(|| panic!("no pushed value for query variable {name}"));
                let lists = Some((label, value.to_string()));
                out.push(Check {
                    what: format!("variable {name}"),
                    expr,
                    lists,
                });
                value.to_string()
            }
            Some("textbox") => var["query"].as_str().expect("a textbox's text").to_string(),
            _ => var["current"]["value"]
                .as_str()
                .expect("a current value")
                .to_string(),
        };
        values.push((name, value));
    }
    out.extend(panel_exprs(dash).into_iter().map(|(what, expr)| Check {
        what,
        expr,
        lists: None,
    }));
    for check in &mut out {
        check.expr = substitute(&check.expr, &values);
    }
    out
}

/// Queries every check until each answers with series (and a variable's lists its value):
/// a few scrapes of the Pushgateway and the components, two samples for a rate. A query that
/// fails (a parse error) fails the test at once; the ones still empty at the deadline are
/// returned.
fn poll(url: &str, mut pending: Vec<Check>) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(12 * SCRAPE_INTERVAL_S);
    loop {
        pending.retain(|check| match query(url, &check.expr) {
            Err(said) => panic!("{}: `{}` failed:\n{said}", check.what, check.expr),
            Ok(series) => {
                let listed = |(label, value): &(String, String)| {
                    series
                        .iter()
                        .any(|s| s["metric"][label.as_str()] == value.as_str())
                };
                series.is_empty() || check.lists.as_ref().is_some_and(|w| !listed(w))
            }
        });
        if pending.is_empty() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    pending
        .iter()
        .map(|c| format!("{}: {}", c.what, c.expr))
        .collect()
}

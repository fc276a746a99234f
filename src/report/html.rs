//! The HTML report: one self-contained page (inline CSS and SVG, no scripts, no links).

use std::collections::BTreeMap;

use minijinja::{Environment, Value};
use serde_json::json;

use crate::results::Results;

use super::charts::{self, Chart};
use super::data::{ChartData, EventSeries};
use super::text::{PERCENTILE_HEADERS, check_rows, percentile_rows};
use super::{NA, ReportError, fmt_num, fmt_time, pass_word};

const TEMPLATE: &str = include_str!("template.html");

/// Converts JSON into a template value (the template engine is built without serde).
fn to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => a.iter().map(to_value).collect(),
        serde_json::Value::Object(o) => Value::from(
            o.iter()
                .map(|(k, v)| (k.clone(), to_value(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
    }
}

fn opt_time(ms: Option<i64>) -> String {
    ms.map_or_else(|| NA.to_string(), fmt_time)
}

fn or_na(s: &str) -> String {
    if s.trim().is_empty() {
        NA.to_string()
    } else {
        s.to_string()
    }
}

/// The page's data, apart from the charts.
fn context(results: &Results, events: Option<&EventSeries>) -> serde_json::Value {
    let run = &results.run;
    let a = &results.anomalies;
    let checks: Vec<serde_json::Value> = check_rows(results)
        .into_iter()
        .map(|r| {
            json!({
                "name": r.name, "want": r.want, "measured": r.measured,
                "pass": r.pass, "note": r.note,
            })
        })
        .collect();
    let percentiles: Vec<serde_json::Value> = percentile_rows(results)
        .into_iter()
        .map(|r| {
            json!({
                "stage": r.stage, "clock": r.clock, "precision": r.precision,
                "count": r.count, "values": r.values, "outliers": r.outliers,
                "negatives": r.negatives,
            })
        })
        .collect();
    let event_reasons: Vec<serde_json::Value> = a
        .event_reasons
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();

    let counts = count_rows(results);
    let anomalies = anomaly_lines(results, events);
    let metadata = metadata_rows(results);
    let faults = fault_rows(results);
    let scenario = serde_json::to_string_pretty(&run.scenario).unwrap_or_else(|_| NA.into());
    let fleet = fleet_context(results);
    json!({
        "fleet": fleet,
        "resources": super::resources::html_context(results),
        "faults": faults,
        "components": super::components::lines(results),
        "p99_slo_s": fmt_num(results.slo.p99_schedule_to_start_s),
        "title": format!("cronbench report: {}", or_na(&run.scenario_name)),
        "pass": results.verdict.pass,
        "verdict": pass_word(results.verdict.pass),
        "failed_checks": results.verdict.checks.iter().filter(|c| !c.pass).count(),
        "total_checks": results.verdict.checks.len(),
        "interrupted": run.interrupted,
        "run_id": or_na(&run.run_id),
        "context": or_na(&run.context),
        "started": fmt_time(run.started_ms),
        "checks": checks,
        "percentile_headers": PERCENTILE_HEADERS,
        "percentiles": percentiles,
        "counts": counts,
        "anomalies": anomalies,
        "event_reasons": event_reasons,
        "metadata": metadata,
        "scenario": scenario,
        "has_events": events.is_some(),
    })
}

/// The mixed fleet: classes, policies and the herd (`null` for a uniform fleet).
fn fleet_context(results: &Results) -> serde_json::Value {
    if results.classes.is_empty() && results.policies.is_none() && results.herd.is_none() {
        return serde_json::Value::Null;
    }
    let rows: Vec<serde_json::Value> = results
        .classes
        .iter()
        .map(|c| {
            let failed = c.verdict.as_ref().is_some_and(|v| !v.pass);
            json!({"cells": super::fleet::class_row(c), "failed": failed})
        })
        .collect();
    let policies: Vec<serde_json::Value> = results
        .policies
        .iter()
        .flat_map(super::fleet::policy_rows)
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    json!({
        "class_headers": super::fleet::CLASS_HEADERS,
        "classes": rows,
        "policies": policies,
        "herd": results.herd.as_ref().map(super::fleet::herd_line),
        "zones": results.zones.iter().map(super::fleet::zone_line).collect::<Vec<_>>(),
    })
}

/// The counts table: name and value.
fn count_rows(results: &Results) -> Vec<serde_json::Value> {
    let c = &results.counts;
    let a = &results.anomalies;
    let negatives: u64 = a.negative_latencies.iter().map(|n| n.count).sum();
    let outliers: u64 = results.stages.iter().map(|s| s.outliers).sum();
    let counts = [
        ("CronJobs", c.cronjobs.to_string()),
        ("expected runs", c.expected.to_string()),
        ("observed runs (window)", c.observed.to_string()),
        ("observed runs (all)", c.observed_total.to_string()),
        ("missed", c.missed.to_string()),
        ("unexpected", c.unexpected.to_string()),
        ("started", c.started.to_string()),
        ("started within deadline", c.started_within_slo.to_string()),
        ("completed", c.completed.to_string()),
        ("failed", c.failed.to_string()),
        ("pods", c.pods.to_string()),
        ("stuck pods", c.stuck_pods.to_string()),
        ("duplicates", c.duplicates.to_string()),
        ("negative latencies", negatives.to_string()),
        ("latency outliers (> 1 h)", outliers.to_string()),
        (
            "jobs started per minute (mean)",
            results
                .throughput
                .started_per_minute_mean
                .map_or_else(|| NA.to_string(), fmt_num),
        ),
        (
            "peak starts per minute / second",
            format!(
                "{} / {}",
                results.throughput.peak_per_minute, results.throughput.peak_per_second
            ),
        ),
        (
            "peak pending pods",
            results.throughput.peak_pending.to_string(),
        ),
    ];
    let balance = results.node_balance.as_ref().map(|b| {
        (
            "node balance per tick",
            super::balance::summary_with_meaning(b),
        )
    });
    counts
        .iter()
        .chain(balance.iter())
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect()
}

/// What in the log or the run looked wrong, one sentence each.
fn anomaly_lines(results: &Results, events: Option<&EventSeries>) -> Vec<String> {
    let c = &results.counts;
    let a = &results.anomalies;
    let mut anomalies: Vec<String> = Vec::new();
    for n in &a.negative_latencies {
        anomalies.push(format!(
            "{} negative latencies: {} ({} clock)",
            n.count,
            n.stage.label(),
            n.clock.label()
        ));
    }
    let flags = [
        (a.jobs_without_schedule, "Jobs without a scheduled time"),
        (a.orphan_pods, "Pods whose Job was never seen"),
        (a.bad_timestamps, "timestamps that did not parse"),
        (
            a.schedule_name_mismatch,
            "Jobs whose annotation and name disagree",
        ),
        (a.watch_errors, "watch errors"),
        (a.out_of_order_lines, "out-of-order log lines"),
        (
            a.lines_out_of_span,
            "log lines received far outside the run's time span, left out",
        ),
        (a.lines_unparsed, "log lines that did not parse, left out"),
    ];
    for (n, what) in flags {
        if n > 0 {
            anomalies.push(format!("{n} {what}"));
        }
    }
    if a.truncated_last_line {
        anomalies.push("the log's last line was cut off and skipped".into());
    }
    if let Some(ev) = events
        && ev.skipped_lines > 0
    {
        anomalies.push(format!(
            "{} event log lines did not parse and were left out of the charts",
            ev.skipped_lines
        ));
    }
    anomalies.extend(a.notes.iter().cloned());
    if !c.missed_runs.is_empty() {
        let list: Vec<String> = c
            .missed_runs
            .iter()
            .take(20)
            .map(|r| format!("{} @ {}", r.cronjob, r.scheduled))
            .collect();
        anomalies.push(format!(
            "missed runs (first {}): {}",
            list.len(),
            list.join(", ")
        ));
    }
    anomalies
}

/// The run's metadata table: name and value.
fn metadata_rows(results: &Results) -> Vec<serde_json::Value> {
    let run = &results.run;
    let window = results.window.as_ref();
    let end_reason = run.end_reason.map_or(NA, |r| match r {
        crate::schema::EndReason::Completed => "completed",
        crate::schema::EndReason::Interrupted => "interrupted",
        crate::schema::EndReason::Error => "error",
    });
    let metadata = [
        ("run id", or_na(&run.run_id)),
        ("scenario", or_na(&run.scenario_name)),
        ("namespace", or_na(&run.namespace)),
        ("kube context", or_na(&run.context)),
        ("server version", or_na(&run.server_version)),
        ("nodes", run.nodes.to_string()),
        ("cronbench version", or_na(&run.cronbench_version)),
        ("report by cronbench", env!("CARGO_PKG_VERSION").to_string()),
        ("run started", fmt_time(run.started_ms)),
        ("last log line", fmt_time(run.last_recv_ms)),
        ("window start", opt_time(window.map(|w| w.start_ms))),
        ("window end", opt_time(window.map(|w| w.end_ms))),
        (
            "window length",
            window.map_or_else(
                || NA.to_string(),
                |w| format!("{} s", fmt_num(w.duration_s)),
            ),
        ),
        ("run ended", end_reason.to_string()),
        ("log lines", run.lines.to_string()),
        ("results schema", results.schema_version.to_string()),
    ];
    metadata
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect()
}

/// One row per game-day fault window.
fn fault_rows(results: &Results) -> Vec<serde_json::Value> {
    let run = &results.run;
    results
        .faults
        .iter()
        .map(|f| {
            let secs = |v: Option<f64>| v.map_or_else(|| NA.to_string(), |v| format!("{} s", fmt_num(v)));
            json!({
                "label": f.label(run.started_ms),
                "start": fmt_time(f.start_ms),
                "end": opt_time(f.end_ms),
                "detail": f.detail,
                "scheduled": f.scheduled,
                "missed": f.missed,
                "late": f.late,
                "max_late": secs(f.max_schedule_to_start_ms.map(|m| m as f64 / 1000.0)),
                "duplicates": f.duplicates,
                "stuck": f.stuck_pods,
                "baseline": f.baseline_per_minute.map_or_else(
                    || NA.to_string(),
                    |b| format!("{}/min ({})", fmt_num(b), f.baseline_source.as_deref().unwrap_or(NA)),
                ),
                "recovery": secs(f.recovery_s),
                "bad": f.missed + f.late + f.duplicates + f.stuck_pods > 0,
            })
        })
        .collect()
}

fn chart_values(charts: &[Chart]) -> Value {
    charts
        .iter()
        .map(|c| {
            let mut m: BTreeMap<String, Value> = BTreeMap::new();
            m.insert("id".into(), Value::from(c.id));
            m.insert("title".into(), Value::from(c.title));
            m.insert("caption".into(), Value::from(c.caption.as_str()));
            // Plotters escapes the text it writes.
            m.insert("svg".into(), Value::from_safe_string(c.svg.clone()));
            Value::from(m)
        })
        .collect()
}

/// Renders the HTML page.
pub(super) fn render(
    results: &Results,
    events: Option<&EventSeries>,
) -> Result<String, ReportError> {
    let data = ChartData::build(results, events);
    let mut charts = charts::all(&data)?;
    if let Some(h) = &results.herd {
        charts.push(charts::herd(h)?);
    }
    if let Some(t) = &results.resources {
        charts.extend(charts::resources(t)?);
    }
    let mut env = Environment::new();
    env.add_template("report.html", TEMPLATE)
        .map_err(ReportError::Template)?;
    let template = env
        .get_template("report.html")
        .map_err(ReportError::Template)?;
    let mut ctx: BTreeMap<String, Value> = BTreeMap::new();
    if let serde_json::Value::Object(fields) = context(results, events) {
        for (k, v) in &fields {
            ctx.insert(k.clone(), to_value(v));
        }
    }
    ctx.insert("charts".into(), chart_values(&charts));
    let ctx = Value::from(ctx);
    template.render(ctx).map_err(ReportError::Template)
}

//! The terminal table of a `cronbench bench` ([`Bench`]): each target, its measured value,
//! its limit and what it was measured against, with the load average beside it.

use std::fmt::Write;

use super::write::render;
use crate::bench::report::{Bench, Comparison, LoadAvg};

/// The short table printed after a bench.
pub fn bench_table(b: &Bench) -> String {
    render(|s| {
        writeln!(
            s,
            "cronbench bench{} ({} build) on cluster `{}` ({} nodes, {} cores)",
            if b.quick { " --quick" } else { "" },
            b.build,
            b.cluster.name,
            b.cluster.nodes,
            b.cluster.cores
        )?;
        writeln!(
            s,
            "{:<42} {:>12} {:>10} {:>6}  measured side by side (load average 1/5/15 min)",
            "target", "measured", "limit", ""
        )?;
        for t in &b.targets {
            let op = match t.comparison {
                Comparison::AtLeast => ">=",
                Comparison::AtMost => "<=",
            };
            let m = t
                .measured
                .map_or_else(|| "-".to_string(), |m| format!("{m:.3}"));
            writeln!(
                s,
                "{:<42} {:>12} {:>3}{:>7} {:>6}  {}",
                t.name,
                m,
                op,
                t.threshold,
                if t.pass { "ok" } else { "MISSED" },
                context_of(b, &t.name)
            )?;
        }
        for e in &b.errors {
            writeln!(s, "error: {e}")?;
        }
        if let Some(p) = &b.peer {
            writeln!(s, "peer {}: {}", p.tool, p.note)?;
        }
        if let Some(c) = &b.confirm {
            writeln!(s, "{}", c.summary())?;
        }
        Ok(())
    })
}

fn context_of(b: &Bench, target: &str) -> String {
    let la = |l: &LoadAvg| format!("load {:.2}/{:.2}/{:.2}", l[0], l[1], l[2]);
    if let Some(rest) = target.strip_prefix("accuracy.stages.") {
        return stage_context(b, rest);
    }
    let part = target.split('.').next().unwrap_or_default();
    match part {
        "create" => b.create.as_ref().map_or_else(String::new, |c| {
            if target == "create.ratio" {
                format!(
                    "{:.0}/s vs bare {:.0}/s, {} each; {}",
                    c.cronbench_per_s,
                    c.bare_per_s,
                    c.objects,
                    c.rounds
                        .first()
                        .map(|r| la(&r.load_avg))
                        .unwrap_or_default()
                )
            } else {
                format!(
                    "{:.2}/s for {}/s; {}",
                    c.qps_achieved,
                    c.qps_target,
                    la(&c.qps_load_avg)
                )
            }
        }),
        "observe" if matches!(target, "observe.cpu_per_event_ratio" | "observe.rss_ratio") => b
            .observe
            .as_ref()
            .map_or_else(String::new, |o| beside_bare(o, target)),
        "observe" => b.observe.as_ref().map_or_else(String::new, |o| {
            format!(
                "{} CronJobs, {:.0} s window, {:.1} CPU s vs control plane {:.1}; {}",
                o.cronjobs,
                o.window_s,
                o.harness_cpu_s,
                o.apiserver_cpu_s + o.etcd_cpu_s + o.controller_manager_cpu_s,
                la(&o.load_avg_end)
            )
        }),
        "accuracy" => b.accuracy.as_ref().map_or_else(String::new, |a| {
            format!(
                "p50 {} ms for D {} ms, {} samples; kwok adds {} ms (net error {}); {}",
                a.reported_p50_ms,
                a.delay_ms,
                a.samples,
                a.kwok_overhead_ms
                    .map_or_else(|| "?".into(), |v| format!("{v:.0}")),
                a.error_net_ms
                    .map_or_else(|| "?".into(), |v| format!("{v:.0} ms")),
                la(&a.load_avg_end)
            )
        }),
        "confirm" => b.confirm.as_ref().map_or_else(String::new, |c| c.context()),
        "analyze" => b.analyze.as_ref().map_or_else(String::new, |a| {
            format!(
                "{} events: {:.0}/s vs parse {:.0}/s; RSS {:.1} MB ({} events) -> {:.1} MB; {}",
                a.long.events,
                a.long.analyze_per_s,
                a.long.parse_per_s,
                a.short.peak_rss_mb,
                a.short.events,
                a.long.peak_rss_mb,
                la(&a.long.load_avg)
            )
        }),
        _ => String::new(),
    }
}

/// A stage endpoint's target: runs matched, and the signed p50 (the watch's delivery).
fn stage_context(b: &Bench, rest: &str) -> String {
    let name = rest.split('.').next().unwrap_or_default();
    let stage = b
        .accuracy
        .as_ref()
        .and_then(|a| a.stages.iter().find(|s| s.endpoint.name() == name));
    stage.map_or_else(String::new, |s| {
        format!(
            "vs the audit log: {} of {} runs matched, client - audit p50 {} ms",
            s.matched,
            s.runs,
            s.signed_p50_ms
                .map_or_else(|| "?".into(), |v| format!("{v:.1}"))
        )
    })
}

/// The observe part's comparison with the bare watcher, for its two targets.
fn beside_bare(o: &crate::bench::report::Observe, target: &str) -> String {
    let Some(bare) = &o.bare_watcher else {
        return "no bare watcher figures (see the errors)".into();
    };
    if target == "observe.rss_ratio" {
        return format!(
            "peak RSS {:.1} MB vs bare {:.1} MB",
            o.peak_rss_mb,
            bare.peak_rss_bytes as f64 / (1024.0 * 1024.0)
        );
    }
    format!(
        "{:.2} CPU s for {} events vs bare {:.2} for {}; load {:.2}",
        o.harness_cpu_s,
        o.watch_events.unwrap_or_default(),
        bare.cpu_s,
        bare.events,
        o.load_avg_end[0]
    )
}

//! The terminal table of a `cronbench bench` ([`Bench`]): each target, its measured value,
//! its limit and what it was measured against, with the load average beside it.

use std::fmt::Write;

use super::write::render;
use crate::bench::Part;
use crate::bench::report::{Bench, Comparison, LoadAvg};

/// The short table printed after a bench.
pub fn bench_table(b: &Bench) -> String {
    // A confirm-only bench ran on the confirm part's own cluster alone.
    let (cluster, nodes) = match (&b.confirm, b.parts_asked()) {
        (Some(c), [Part::Confirm]) => (c.cluster.as_str(), c.nodes),
        _ => (b.cluster.name.as_str(), b.cluster.nodes),
    };
    render(|s| {
        writeln!(
            s,
            "cronbench bench{} ({} build) on cluster `{}` ({} nodes, {} cores)",
            if b.quick { " --quick" } else { "" },
            b.build,
            cluster,
            nodes,
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

/// A stage endpoint's target: runs matched, the signed p50 against the audit log, and the
/// apiserver's own delivery (floor - audit) that the harness's share is judged net of.
fn stage_context(b: &Bench, rest: &str) -> String {
    let name = rest.split('.').next().unwrap_or_default();
    let stage = b
        .accuracy
        .as_ref()
        .and_then(|a| a.stages.iter().find(|s| s.endpoint.name() == name));
    stage.map_or_else(String::new, |s| {
        format!(
            "vs the audit log: {} of {} runs matched, client - audit p50 {} ms, p99 {} ms; \
             the apiserver's delivery (floor - audit) p50 {} ms, p99 {} ms",
            s.matched,
            s.runs,
            ms(s.signed_p50_ms),
            ms(s.p99_ms),
            ms(s.floor_p50_ms),
            ms(s.floor_p99_ms)
        )
    })
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "?".into(), |v| format!("{v:.1}"))
}

/// The observe part's comparison with the bare watcher, for its two targets.
fn beside_bare(o: &crate::bench::report::Observe, target: &str) -> String {
    let Some(bare) = &o.bare_watcher else {
        return "no bare watcher figures (see the errors)".into();
    };
    if target == "observe.rss_ratio" {
        let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
        return format!(
            "peak RSS {:.1} MB vs bare {:.1} MB; RssAnon in the window {:.1} MB vs bare {:.1} MB",
            o.peak_rss_mb,
            mb(bare.peak_rss_bytes),
            o.window_anon_mb.unwrap_or_default(),
            bare.window_anon_bytes.map_or(0.0, mb)
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

#[cfg(test)]
mod tests {
    use super::*;

    const BENCH: &str = include_str!("../../tests/fixtures/bench-quick.json");

    #[test]
    fn a_confirm_only_table_names_the_confirm_cluster() {
        let mut b: Bench = serde_json::from_str(BENCH).expect("the fixture parses");
        let all = bench_table(&b);
        assert!(
            all.contains(&format!("on cluster `{}`", b.cluster.name)),
            "{all}"
        );
        b.parts = vec![Part::Confirm];
        let confirm = b.confirm.as_ref().expect("the fixture has a confirm part");
        let want = format!("on cluster `{}` ({} nodes", confirm.cluster, confirm.nodes);
        let table = bench_table(&b);
        assert!(table.contains(&want), "{table}");
    }
}

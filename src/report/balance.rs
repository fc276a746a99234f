//! Per-tick node balance as text, shared by the terminal summary and the Markdown: one
//! summary sentence and one line per tick, so both say the same thing in the same words.

use crate::results::{NodeBalance, TickNodes};

use super::{NA, fmt_time};

/// Ticks listed one by one; a long run's further ticks are summed up in one line.
pub(crate) const TICKS_LISTED: usize = 12;

/// What the imbalance means, for a heading.
pub(crate) fn definition(b: &NodeBalance) -> String {
    format!("pods bound per node per tick; {}", meaning(b))
}

/// How to read the imbalance figure.
fn meaning(b: &NodeBalance) -> String {
    format!(
        "imbalance = busiest node / mean over {n} node(s) (1.0 even, {n} all on one node)",
        n = b.nodes
    )
}

/// The run's figures over the ticks, with what they mean.
pub(crate) fn summary_with_meaning(b: &NodeBalance) -> String {
    format!("{}; {}", summary(b), meaning(b))
}

/// The run's figures over the ticks.
pub(crate) fn summary(b: &NodeBalance) -> String {
    format!(
        "{} tick(s): imbalance mean {:.2}, max {:.2}; busiest node's share p50 {:.0}%, max {:.0}%",
        b.ticks,
        b.mean_imbalance,
        b.max_imbalance,
        b.busiest_share_p50 * 100.0,
        b.busiest_share_max * 100.0
    )
}

/// One tick: its time, imbalance, and each node's bound (started) pods.
pub(crate) fn tick_line(t: &TickNodes) -> String {
    let nodes: Vec<String> = t
        .nodes
        .iter()
        .map(|n| format!("{} {} ({} started)", n.node, n.bound, n.started))
        .collect();
    let unbound = if t.unbound > 0 {
        format!(", {} unbound", t.unbound)
    } else {
        String::new()
    };
    format!(
        "{}  imbalance {}  {}{unbound}",
        fmt_time(t.scheduled_ms),
        t.imbalance
            .map_or_else(|| NA.to_string(), |v| format!("{v:.2}")),
        if nodes.is_empty() {
            NA.to_string()
        } else {
            nodes.join(", ")
        }
    )
}

/// The line after the listed ticks, if some were left out.
pub(crate) fn more_line(b: &NodeBalance) -> Option<String> {
    let more = b.per_tick.len().saturating_sub(TICKS_LISTED);
    (more > 0).then(|| format!("... {more} more tick(s) in results.json (node_balance.per_tick)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::NodeTickCount;

    #[test]
    fn a_tick_line_names_each_node_with_bound_and_started_pods() {
        let t = TickNodes {
            scheduled_ms: 0,
            unbound: 1,
            nodes: vec![NodeTickCount {
                node: "n0".into(),
                bound: 20,
                started: 19,
            }],
            imbalance: Some(3.0),
            busiest_node: Some("n0".into()),
            busiest_share: Some(1.0),
        };
        assert_eq!(
            tick_line(&t),
            "1970-01-01T00:00:00Z  imbalance 3.00  n0 20 (19 started), 1 unbound"
        );
    }
}

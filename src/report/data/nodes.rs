//! The per-tick node balance as stacked bars: one bar per tick, one segment per node.

use crate::results::Results;

/// Pods bound per node per tick, from `results.node_balance`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeTickBars {
    /// Each tick's scheduled time, minutes since the chart origin.
    pub ticks: Vec<f64>,
    /// Per node (sorted by name): its bound pods in each tick, aligned with `ticks`.
    pub nodes: Vec<(String, Vec<u64>)>,
    /// Each tick's imbalance (busiest node / mean per node), aligned with `ticks`.
    pub imbalance: Vec<Option<f64>>,
    /// Nodes the mean is taken over (Ready or given a pod), including those given nothing.
    pub node_count: u32,
}

impl NodeTickBars {
    /// The bars of `results`; empty without a node balance. `m` maps Unix ms to the x axis.
    pub fn build(results: &Results, m: impl Fn(i64) -> f64) -> NodeTickBars {
        let Some(b) = &results.node_balance else {
            return NodeTickBars::default();
        };
        let mut names: Vec<&str> = b
            .per_tick
            .iter()
            .flat_map(|t| t.nodes.iter().map(|n| n.node.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        let nodes = names
            .into_iter()
            .map(|name| {
                let counts = b
                    .per_tick
                    .iter()
                    .map(|t| {
                        t.nodes
                            .iter()
                            .find(|n| n.node == name)
                            .map_or(0, |n| n.bound)
                    })
                    .collect();
                (name.to_string(), counts)
            })
            .collect();
        NodeTickBars {
            ticks: b.per_tick.iter().map(|t| m(t.scheduled_ms)).collect(),
            nodes,
            imbalance: b.per_tick.iter().map(|t| t.imbalance).collect(),
            node_count: b.nodes,
        }
    }

    /// The tallest bar: the most pods bound in one tick.
    pub fn max_total(&self) -> u64 {
        (0..self.ticks.len())
            .map(|i| {
                self.nodes
                    .iter()
                    .map(|(_, v)| v.get(i).copied().unwrap_or(0))
                    .sum()
            })
            .max()
            .unwrap_or(0)
    }
}

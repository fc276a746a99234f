//! Per-tick node balance: where each scheduled minute's pods landed.
//!
//! Fed from the one reconstruction of runs (each run's first pod, as the tally sees it) for
//! the runs scheduled in the window, so memory is a small node -> counts map per tick of the
//! window, never per pod.

use std::collections::{BTreeMap, BTreeSet};

use crate::results::{NodeBalance, NodeTickCount, TickNodes};

/// Counts of one tick: per node (bound, started), and runs whose pod never got a node.
#[derive(Debug, Default)]
struct Tick {
    nodes: BTreeMap<String, (u64, u64)>,
    unbound: u64,
}

/// The window's ticks, keyed by scheduled time.
#[derive(Debug, Default)]
pub(super) struct NodeTicks {
    ticks: BTreeMap<i64, Tick>,
}

impl NodeTicks {
    /// Counts one run of the tick `scheduled_ms`: its pod's node (`None`: never bound, or no
    /// pod seen) and whether that pod started.
    pub fn add(&mut self, scheduled_ms: i64, node: Option<&str>, started: bool) {
        let tick = self.ticks.entry(scheduled_ms).or_default();
        match node {
            Some(n) => {
                let c = tick.nodes.entry(n.to_string()).or_default();
                c.0 += 1;
                c.1 += u64::from(started);
            }
            None => tick.unbound += 1,
        }
    }

    /// The balance over `ready` (nodes seen Ready) plus every node that received a pod;
    /// `None` when no pod of the window was bound.
    pub fn summarize(&self, ready: &BTreeSet<String>) -> Option<NodeBalance> {
        let mut nodes: BTreeSet<&str> = ready.iter().map(String::as_str).collect();
        nodes.extend(
            self.ticks
                .values()
                .flat_map(|t| t.nodes.keys().map(String::as_str)),
        );
        let n = nodes.len();
        let per_tick: Vec<TickNodes> = self.ticks.iter().map(|(&t, c)| tick(t, c, n)).collect();
        let imbalances: Vec<f64> = per_tick.iter().filter_map(|t| t.imbalance).collect();
        let mut shares: Vec<f64> = per_tick.iter().filter_map(|t| t.busiest_share).collect();
        let max_imbalance = imbalances.iter().copied().reduce(f64::max)?;
        shares.sort_by(f64::total_cmp);
        Some(NodeBalance {
            nodes: u32::try_from(n).unwrap_or(u32::MAX),
            ticks: imbalances.len() as u64,
            mean_imbalance: imbalances.iter().sum::<f64>() / imbalances.len() as f64,
            max_imbalance,
            busiest_share_p50: median(&shares),
            busiest_share_max: shares.last().copied().unwrap_or(0.0),
            per_tick,
        })
    }
}

/// One tick's entry; `n` is the number of nodes the mean is taken over.
fn tick(scheduled_ms: i64, c: &Tick, n: usize) -> TickNodes {
    let bound: u64 = c.nodes.values().map(|v| v.0).sum();
    // Ties go to the first name, so the busiest node is stable across re-analysis.
    let busiest = c
        .nodes
        .iter()
        .fold(None::<(&String, u64)>, |best, (node, v)| match best {
            Some((_, b)) if b >= v.0 => best,
            _ => Some((node, v.0)),
        });
    let (imbalance, busiest_share) = match busiest {
        Some((_, max)) if bound > 0 => (
            Some(max as f64 * n as f64 / bound as f64),
            Some(max as f64 / bound as f64),
        ),
        _ => (None, None),
    };
    TickNodes {
        scheduled_ms,
        unbound: c.unbound,
        nodes: c
            .nodes
            .iter()
            .map(|(node, &(bound, started))| NodeTickCount {
                node: node.clone(),
                bound,
                started,
            })
            .collect(),
        imbalance,
        busiest_node: busiest.map(|(node, _)| node.clone()),
        busiest_share,
    }
}

/// The lower median of sorted values (one of the observed shares, never an average of two).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        len => sorted[(len - 1) / 2],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_tick_on_one_node_has_imbalance_equal_to_the_node_count() {
        let mut t = NodeTicks::default();
        for _ in 0..20 {
            t.add(60_000, Some("n0"), true);
        }
        let b = t
            .summarize(&ready(&["n0", "n1", "n2"]))
            .expect("bound pods");
        assert_eq!(b.nodes, 3);
        assert_eq!(b.per_tick[0].imbalance, Some(3.0));
        assert_eq!(b.per_tick[0].busiest_share, Some(1.0));
        assert_eq!(b.per_tick[0].busiest_node.as_deref(), Some("n0"));
    }

    #[test]
    fn an_even_spread_has_imbalance_one() {
        let mut t = NodeTicks::default();
        for i in 0..12 {
            t.add(60_000, Some(["n0", "n1", "n2"][i % 3]), i % 2 == 0);
        }
        let b = t.summarize(&ready(&[])).expect("bound pods");
        assert_eq!(b.max_imbalance, 1.0);
        assert_eq!(b.per_tick[0].nodes.len(), 3);
        assert_eq!(b.per_tick[0].nodes[0].bound, 4);
    }

    #[test]
    fn a_ready_node_that_got_nothing_counts_in_the_mean() {
        let mut t = NodeTicks::default();
        t.add(0, Some("n0"), true);
        t.add(0, Some("n1"), true);
        let b = t
            .summarize(&ready(&["n0", "n1", "n2", "n3"]))
            .expect("bound");
        assert_eq!(b.per_tick[0].imbalance, Some(2.0));
        assert_eq!(b.per_tick[0].busiest_share, Some(0.5));
    }

    #[test]
    fn unbound_pods_are_counted_apart_and_a_tick_without_bound_pods_has_no_imbalance() {
        let mut t = NodeTicks::default();
        t.add(0, None, false);
        assert_eq!(t.summarize(&ready(&["n0"])), None);
        t.add(60_000, Some("n0"), false);
        let b = t.summarize(&ready(&["n0", "n1"])).expect("bound");
        assert_eq!(b.ticks, 1);
        assert_eq!(b.per_tick.len(), 2);
        assert_eq!(b.per_tick[0].unbound, 1);
        assert_eq!(b.per_tick[0].imbalance, None);
        assert_eq!(b.per_tick[1].nodes[0].started, 0);
    }

    #[test]
    fn summary_figures_are_over_the_ticks() {
        let mut t = NodeTicks::default();
        // Tick 0: all on n0 (2.0); tick 1 and 2: even (1.0).
        t.add(0, Some("n0"), true);
        t.add(0, Some("n0"), true);
        for tick in [60_000, 120_000] {
            t.add(tick, Some("n0"), true);
            t.add(tick, Some("n1"), true);
        }
        let b = t.summarize(&ready(&[])).expect("bound");
        assert_eq!(b.ticks, 3);
        assert_eq!(b.max_imbalance, 2.0);
        assert!((b.mean_imbalance - 4.0 / 3.0).abs() < 1e-9);
        assert_eq!(b.busiest_share_p50, 0.5);
        assert_eq!(b.busiest_share_max, 1.0);
    }
}

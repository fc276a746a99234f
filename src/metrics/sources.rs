//! Where a window's component evidence is read from: direct scraping of the components'
//! `/metrics` (the local cluster's), a Prometheus, or both, at the same instants.

use std::collections::BTreeMap;

use super::series::{Snapshot, StepMetrics, between};
use super::{Component, snapshot, snapshot_prometheus};
use crate::promql::Prometheus;

/// The key of [`StepMetrics::unreachable`] when direct scraping is off.
pub const DIRECT: &str = "direct scraping";

/// The sources of one run or search.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Scrape the components directly (the apiserver through the run's client, the others at
    /// `endpoints`).
    pub scrape: bool,
    pub endpoints: BTreeMap<Component, String>,
    pub prometheus: Option<Prometheus>,
}

/// The snapshots taken at one instant.
#[derive(Debug, Clone, Default)]
pub struct Taken {
    pub at_ms: i64,
    pub direct: Option<Snapshot>,
    pub prometheus: Option<Snapshot>,
}

impl Sources {
    /// What a report says about where its evidence came from.
    pub fn notes(&self, context: &str) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.scrape {
            notes.push("direct scraping of the components' /metrics was off (--no-scrape)".into());
        } else if self.endpoints.is_empty() {
            notes.push(format!(
                "`{context}` is not a local cronbench cluster: controller-manager and scheduler metrics were not scraped"
            ));
        }
        if let Some(p) = &self.prometheus {
            notes.push(format!(
                "component evidence also read by PromQL from {} (metrics_prometheus)",
                p.url()
            ));
        }
        notes
    }

    /// Snapshots of every source at the same instant (Prometheus is asked for the instant the
    /// direct scrape began).
    pub async fn take(&self, client: &kube::Client) -> Taken {
        let at_ms = crate::observe::now_ms();
        let direct = if self.scrape {
            Some(snapshot(client, &self.endpoints).await)
        } else {
            None
        };
        let prometheus = match &self.prometheus {
            Some(p) => Some(snapshot_prometheus(p, at_ms).await),
            None => None,
        };
        Taken {
            at_ms,
            direct,
            prometheus,
        }
    }
}

impl Taken {
    /// The window from `self` to `end`: the direct metrics (empty, saying why, when scraping
    /// is off) and Prometheus' when it was asked.
    pub fn until(&self, end: &Taken) -> (StepMetrics, Option<StepMetrics>) {
        let direct = match (&self.direct, &end.direct) {
            (Some(a), Some(b)) => between(a, b),
            _ => StepMetrics {
                unreachable: BTreeMap::from([(
                    DIRECT.to_string(),
                    "off (--no-scrape)".to_string(),
                )]),
                ..StepMetrics::default()
            },
        };
        let prometheus = match (&self.prometheus, &end.prometheus) {
            (Some(a), Some(b)) => Some(between(a, b)),
            _ => None,
        };
        (direct, prometheus)
    }
}

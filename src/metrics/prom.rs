//! The second source of a [`Snapshot`]: the same series summed by PromQL instant queries at
//! the instant a direct scrape would be taken.

use futures::future::join_all;

use super::series::{SERIES, Series, Snapshot};
use crate::promql::{PromError, Prometheus};

/// The key of [`Snapshot::unreachable`] when Prometheus did not answer.
pub const PROMETHEUS: &str = "prometheus";

/// Every series of the table from `prom`, evaluated at `at_ms`. An unreachable Prometheus
/// leaves every field missing and says why; a query it refused leaves that series missing.
pub async fn snapshot_prometheus(prom: &Prometheus, at_ms: i64) -> Snapshot {
    let answers = join_all(
        SERIES
            .iter()
            .map(|series| async move { (series, prom.sum_at(&series.promql(), at_ms).await) }),
    )
    .await;
    from_answers(answers, prom.url(), at_ms)
}

fn from_answers(
    answers: Vec<(&Series, Result<Option<f64>, PromError>)>,
    url: &str,
    at_ms: i64,
) -> Snapshot {
    let mut snap = Snapshot::default();
    let unreachable = answers.iter().find_map(|(_, r)| match r {
        Err(e @ PromError::Unreachable { .. }) => Some(e.to_string()),
        _ => None,
    });
    if let Some(why) = unreachable {
        snap.unreachable.insert(PROMETHEUS.into(), why);
        return snap;
    }
    let at = jiff::Timestamp::from_millisecond(at_ms)
        .map_or_else(|_| at_ms.to_string(), |t| t.to_string());
    for (series, answer) in answers {
        match answer {
            Ok(value) => snap.record(series, value, || {
                format!(
                    "no series in Prometheus {url} at {at}: {} does not export it (yet), or is not scraped",
                    series.source.name()
                )
            }),
            Err(e) => {
                snap.missing.insert(series.selector(), e.to_string());
            }
        }
    }
    snap
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::series::Field;

    fn answers(
        f: impl Fn(&Series) -> Result<Option<f64>, PromError>,
    ) -> Vec<(&'static Series, Result<Option<f64>, PromError>)> {
        SERIES.iter().map(|s| (s, f(s))).collect()
    }

    #[test]
    fn an_empty_answer_is_missing_and_zero_is_zero() {
        let snap = from_answers(
            answers(|s| Ok((s.field == Field::ApiserverRejected429).then_some(0.0))),
            "http://p",
            0,
        );
        assert_eq!(snap.get(Field::ApiserverRejected429), Some(0.0));
        assert_eq!(snap.get(Field::CronjobQueueDepth), None);
        assert_eq!(snap.missing.len(), SERIES.len() - 1);
        let why = &snap.missing[r#"workqueue_depth{name="cronjob"}"#];
        assert!(why.contains("kube-controller-manager"), "{why}");
        assert!(snap.unreachable.is_empty());
    }

    #[test]
    fn an_unreachable_prometheus_leaves_every_field_missing_and_says_why() {
        let snap = from_answers(
            answers(|s| {
                if s.field == Field::StoredPods {
                    Err(PromError::Unreachable {
                        url: "http://p".into(),
                        why: "connection refused".into(),
                    })
                } else {
                    Ok(Some(1.0))
                }
            }),
            "http://p",
            0,
        );
        assert!(snap.values.is_empty());
        assert!(snap.unreachable[PROMETHEUS].contains("connection refused"));
    }

    #[test]
    fn a_refused_query_is_that_series_missing_with_the_error() {
        let snap = from_answers(
            answers(|s| {
                if s.field == Field::StoredPods {
                    Err(PromError::Query {
                        expr: s.promql(),
                        why: "bad_data: parse error".into(),
                    })
                } else {
                    Ok(Some(2.0))
                }
            }),
            "http://p",
            0,
        );
        assert_eq!(snap.values.len(), SERIES.len() - 1);
        assert!(
            snap.missing[r#"apiserver_storage_objects{resource="pods"}"#].contains("parse error")
        );
    }

    #[tokio::test]
    async fn nothing_listening_is_prometheus_unreachable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let prom = Prometheus::new(&format!("http://127.0.0.1:{port}")).expect("valid URL");
        let snap = snapshot_prometheus(&prom, 0).await;
        assert!(snap.values.is_empty());
        assert!(snap.unreachable.contains_key(PROMETHEUS), "{snap:?}");
    }
}

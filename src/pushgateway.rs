//! Pushing a run's results to a Prometheus Pushgateway: the text of
//! [`crate::report::openmetrics::render`], `PUT` to `/metrics/job/cronbench/run_id/<run id>`,
//! so each run is its own group and a second push of the same run replaces the first.
//!
//! The HTTP client is kube's (already built for the cluster, rustls only), as for the
//! components' `/metrics` in `crate::limit::metrics`; `http` is a direct dependency only for
//! the request type kube takes (it is in the tree through kube).

use std::time::Duration;

use crate::report::openmetrics;
use crate::results::Results;

/// The `job` label of every pushed group.
pub const JOB: &str = "cronbench";

/// How long one push may wait to connect, and then for the answer.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Why a push failed. None is retryable by itself; each says how to push again.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(
        "--pushgateway {url:?} is not a usable URL: {problem}; give the Pushgateway's base URL, e.g. http://127.0.0.1:9091"
    )]
    BadUrl { url: String, problem: String },
    #[error(
        "run id {run_id:?} cannot be a Pushgateway grouping label in a URL path (only letters, digits, '.', '_' and '-', starting with a letter or digit); results written by cronbench always have such a run id"
    )]
    BadRunId { run_id: String },
    #[error(
        "the Pushgateway answered {status} to PUT {target}: {message}; check the URL (the Pushgateway's own address, no /metrics path) and its log, then push again with `cronbench push --pushgateway URL RUN_DIR`"
    )]
    Refused {
        target: String,
        status: u16,
        message: String,
    },
    #[error(
        "could not push to {target}; is the Pushgateway running there? Push again with `cronbench push --pushgateway URL RUN_DIR`"
    )]
    Unreachable {
        target: String,
        #[source]
        source: kube::Error,
    },
}

/// The path of a run's group: `/metrics/job/cronbench/run_id/<run id>`.
pub fn group_path(run_id: &str) -> Result<String, PushError> {
    let safe = run_id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !safe {
        return Err(PushError::BadRunId {
            run_id: run_id.to_string(),
        });
    }
    Ok(format!("/metrics/job/{JOB}/run_id/{run_id}"))
}

/// Pushes `results` to the Pushgateway at `url` (its base URL); returns the group's URL.
pub async fn push(url: &str, results: &Results) -> Result<String, PushError> {
    let base = url.trim_end_matches('/');
    let bad_url = |problem: String| PushError::BadUrl {
        url: url.to_string(),
        problem,
    };
    let uri: http::Uri = base.parse().map_err(|e| bad_url(format!("{e}")))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.authority().is_some() => {}
        _ => return Err(bad_url("it needs http:// or https:// and a host".into())),
    }
    if uri.query().is_some() {
        return Err(bad_url("it has a query string".into()));
    }
    let path = group_path(&results.run.run_id)?;
    let target = format!("{base}{path}");
    let client = http_client(uri).map_err(|source| PushError::Unreachable {
        target: target.clone(),
        source,
    })?;
    let request = http::Request::put(path)
        .header(http::header::CONTENT_TYPE, openmetrics::TEXT_CONTENT_TYPE)
        .body(openmetrics::render(results).into_bytes())
        .map_err(|e| bad_url(e.to_string()))?;
    match client.request_text(request).await {
        Ok(_) => Ok(target),
        Err(kube::Error::Api(status)) => Err(PushError::Refused {
            target,
            status: status.code,
            message: status.message.trim().to_string(),
        }),
        Err(source) => Err(PushError::Unreachable { target, source }),
    }
}

/// A client for a plain HTTP(S) server at `base` (kube's client, no credentials), with
/// [`TIMEOUT`]s on connecting, reading and writing.
pub(crate) fn http_client(base: http::Uri) -> Result<kube::Client, kube::Error> {
    let mut config = kube::Config::new(base);
    config.connect_timeout = Some(TIMEOUT);
    config.read_timeout = Some(TIMEOUT);
    config.write_timeout = Some(TIMEOUT);
    kube::Client::try_from(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_gets_its_own_group() {
        assert_eq!(
            group_path("cronbench-20261123-111257-a40f").expect("safe id"),
            "/metrics/job/cronbench/run_id/cronbench-20261123-111257-a40f"
        );
    }

    #[test]
    fn run_ids_that_a_url_path_cannot_carry_are_refused() {
        for id in ["", "a/b", "a b", "..", "-x", "é"] {
            assert!(
                matches!(group_path(id), Err(PushError::BadRunId { .. })),
                "{id:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_url_without_scheme_or_host_is_refused_before_connecting() {
        let r = crate::analyze::analyze_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/healthy.jsonl"
        ))
        .expect("fixture analyzes");
        for url in ["127.0.0.1:9091", "ftp://host", "http://h:9091/?x=1", "::"] {
            let err = push(url, &r).await.expect_err(url);
            assert!(matches!(err, PushError::BadUrl { .. }), "{url}: {err}");
        }
    }
}

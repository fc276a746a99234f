//! A small client of the Prometheus HTTP API (`--prometheus URL`): instant queries at a given
//! time, their vectors as plain label maps and values, and sums where an empty answer stays
//! missing instead of becoming zero.
//!
//! The queries go through `prometheus-http-query` on reqwest with rustls and the ring
//! provider (the one kube already brings; see Cargo.toml). Every failure is an error value
//! that names the URL or the expression: callers record it as missing evidence and go on.

use std::collections::BTreeMap;
use std::time::Duration;

use prometheus_http_query::Client;

/// How long one query may take, connection included.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a query gave no answer. `Unreachable` is worth retrying later (Prometheus may come
/// back); `Query` and `Answer` are not (the expression or the server's answer is wrong).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromError {
    #[error(
        "--prometheus {url:?} is not a usable URL: {problem}; give Prometheus' base URL, e.g. http://127.0.0.1:9090 (`cronbench cluster status` prints the local one)"
    )]
    BadUrl { url: String, problem: String },
    #[error("Prometheus at {url} did not answer: {why}")]
    Unreachable { url: String, why: String },
    #[error("Prometheus refused the query `{expr}`: {why}")]
    Query { expr: String, why: String },
    #[error("Prometheus answered the query `{expr}` with {what}, not an instant vector")]
    Answer { expr: String, what: String },
}

/// One series of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A Prometheus server's HTTP API.
#[derive(Clone)]
pub struct Prometheus {
    client: Client,
    url: String,
}

impl std::fmt::Debug for Prometheus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prometheus")
            .field("url", &self.url)
            .finish()
    }
}

impl Prometheus {
    /// A client of the Prometheus at `url` (http or https, no query string). Nothing is sent
    /// yet: an unreachable server shows on the first query.
    pub fn new(url: &str) -> Result<Prometheus, PromError> {
        let bad = |problem: String| PromError::BadUrl {
            url: url.to_string(),
            problem,
        };
        let parsed: http::Uri = url.parse().map_err(|e| bad(format!("{e}")))?;
        match parsed.scheme_str() {
            Some("http" | "https") => {}
            Some(other) => return Err(bad(format!("scheme {other:?} is not http or https"))),
            None => return Err(bad("no scheme (http:// or https://)".into())),
        }
        if parsed.host().is_none_or(str::is_empty) {
            return Err(bad("no host".into()));
        }
        if parsed.query().is_some() {
            return Err(bad("a query string has no place in the base URL".into()));
        }
        // reqwest with `rustls-no-provider` takes the process default provider; an error here
        // only means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(QUERY_TIMEOUT)
            .connect_timeout(QUERY_TIMEOUT)
            .build()
            .map_err(|e| bad(error_chain(&e)))?;
        let client =
            Client::from(http, url.trim_end_matches('/')).map_err(|e| bad(error_chain(&e)))?;
        Ok(Prometheus {
            client,
            url: url.to_string(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The instant vector of `expr` evaluated at `at_ms` (Unix milliseconds).
    pub async fn instant(&self, expr: &str, at_ms: i64) -> Result<Vec<Series>, PromError> {
        let answer = self
            .client
            .query(expr)
            .query("time", format!("{:.3}", at_ms as f64 / 1000.0))
            .timeout(QUERY_TIMEOUT.as_millis() as i64)
            .get()
            .await
            .map_err(|e| self.classify(expr, e))?;
        let (data, _) = answer.into_inner();
        match data {
            prometheus_http_query::response::Data::Vector(v) => Ok(v
                .into_iter()
                .map(|s| {
                    let (labels, sample) = s.into_inner();
                    Series {
                        labels: labels.into_iter().collect(),
                        value: sample.value(),
                    }
                })
                .collect()),
            other => Err(PromError::Answer {
                expr: expr.to_string(),
                what: match other {
                    prometheus_http_query::response::Data::Matrix(_) => "a range vector",
                    prometheus_http_query::response::Data::Scalar(_) => "a scalar",
                    _ => "something else",
                }
                .into(),
            }),
        }
    }

    /// The sum of `expr`'s series at `at_ms`; `None` when no series matched (missing, never
    /// zero).
    pub async fn sum_at(&self, expr: &str, at_ms: i64) -> Result<Option<f64>, PromError> {
        Ok(sum_of(&self.instant(expr, at_ms).await?))
    }

    fn classify(&self, expr: &str, e: prometheus_http_query::Error) -> PromError {
        match &e {
            prometheus_http_query::Error::Prometheus(p) => PromError::Query {
                expr: expr.to_string(),
                why: p.to_string(),
            },
            prometheus_http_query::Error::Client(c)
                if c.inner()
                    .is_some_and(|r| r.is_connect() || r.is_timeout() || r.is_request()) =>
            {
                PromError::Unreachable {
                    url: self.url.clone(),
                    why: error_chain(&e),
                }
            }
            _ => PromError::Query {
                expr: expr.to_string(),
                why: error_chain(&e),
            },
        }
    }
}

/// The sum of a vector's values; `None` for an empty vector.
pub fn sum_of(series: &[Series]) -> Option<f64> {
    series.iter().map(|s| s.value).reduce(|a, b| a + b)
}

/// An error and its causes on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_http_or_a_host_is_refused_naming_the_option() {
        for url in [
            "127.0.0.1:9090",
            "ftp://x",
            "http://",
            "not a url",
            "http://h:1/?q=1",
        ] {
            let e = Prometheus::new(url).expect_err(url);
            let text = e.to_string();
            assert!(text.starts_with("--prometheus"), "{text}");
            assert!(text.contains("http://127.0.0.1:9090"), "{text}");
        }
        assert!(Prometheus::new("http://127.0.0.1:9090/").is_ok());
        assert!(Prometheus::new("https://prom.example:443/prometheus").is_ok());
    }

    #[test]
    fn an_empty_vector_sums_to_missing_not_zero() {
        assert_eq!(sum_of(&[]), None);
        let s = |v| Series {
            labels: BTreeMap::new(),
            value: v,
        };
        assert_eq!(sum_of(&[s(0.0)]), Some(0.0));
        assert_eq!(sum_of(&[s(1.5), s(2.0)]), Some(3.5));
    }

    /// A port nothing listens on: bound, then released.
    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    }

    #[tokio::test]
    async fn nothing_listening_is_unreachable_naming_the_url() {
        let url = format!("http://127.0.0.1:{}", closed_port());
        let p = Prometheus::new(&url).expect("valid URL");
        match p.sum_at("up", 0).await {
            Err(PromError::Unreachable { url: u, why }) => {
                assert_eq!(u, url);
                assert!(!why.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    /// TLS to a server that speaks plain HTTP: an error from rustls (ring), not a panic over
    /// a missing crypto provider.
    #[tokio::test]
    async fn https_is_an_error_not_a_panic() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        let p = Prometheus::new(&format!("https://127.0.0.1:{port}")).expect("valid URL");
        let e = p.instant("up", 0).await.expect_err("not TLS");
        assert!(matches!(e, PromError::Unreachable { .. }), "{e:?}");
    }
}

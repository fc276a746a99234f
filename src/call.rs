//! A failed call to the file system or the Kubernetes API, named by what it was doing.

/// A file-system (or other local) call or a Kubernetes API call that failed, with the
/// operation it was part of. The commands' own error types wrap it transparently.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("could not {op}: {source}")]
    Io {
        op: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Kubernetes API call failed while {op}: {source}")]
    Api {
        op: String,
        #[source]
        source: kube::Error,
    },
}

/// For `map_err`: an I/O error while doing `op` ("write {path}").
pub fn io(op: impl Into<String>) -> impl FnOnce(std::io::Error) -> CallError {
    let op = op.into();
    move |source| CallError::Io { op, source }
}

/// For `map_err`: any other local error (serializing, parsing, joining a task) while doing
/// `op`, reported as an I/O error.
pub fn other<E>(op: impl Into<String>) -> impl FnOnce(E) -> CallError
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let op = op.into();
    move |e| CallError::Io {
        op,
        source: std::io::Error::other(e),
    }
}

/// For `map_err`: a Kubernetes API error while doing `op` ("creating namespace {id}").
pub fn api(op: impl Into<String>) -> impl FnOnce(kube::Error) -> CallError {
    let op = op.into();
    move |source| CallError::Api { op, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error(transparent)]
        Call(#[from] CallError),
    }

    #[test]
    fn a_wrapping_error_keeps_the_message_and_the_source() {
        let e: Outer = io("write x.json")(std::io::Error::other("disk full")).into();
        assert_eq!(e.to_string(), "could not write x.json: disk full");
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk full"));

        let e: Outer = other("parse y.json")("expected value").into();
        assert_eq!(e.to_string(), "could not parse y.json: expected value");
    }
}

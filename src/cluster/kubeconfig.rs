//! Reading kubeconfig files before kube-client sees them.
//!
//! kube-client decodes a file that starts with a UTF-16 byte-order mark two bytes at a time and
//! panics on an odd byte count (`printf '\xff\xfeA'`); it also reads a file of any size into
//! memory. Each file is checked here first, so a bad one is an error that names it.

use std::path::{Path, PathBuf};

use kube::config::Kubeconfig;

/// Files larger than this are refused unread: a kubeconfig with a few dozen clusters and
/// inline certificates is well under 1 MiB.
pub const MAX_KUBECONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// What is wrong with one kubeconfig file. Not retryable without a change to the file.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("kubeconfig {path}: cannot be read ({cause}); check the path, or pass --kubeconfig")]
    Unreadable {
        path: PathBuf,
        cause: std::io::Error,
    },

    #[error("kubeconfig {path}: is not a regular file; pass the path of a kubeconfig file")]
    NotAFile { path: PathBuf },

    #[error(
        "kubeconfig {path}: is {size} bytes, over the {max} bytes a kubeconfig can take; pass the right file"
    )]
    TooLarge { path: PathBuf, size: u64, max: u64 },

    #[error(
        "kubeconfig {path}: {problem}; save it as UTF-8 (e.g. `iconv -f {from} -t UTF-8 {path} > kubeconfig.utf8`)"
    )]
    Encoding {
        path: PathBuf,
        problem: &'static str,
        from: &'static str,
    },

    #[error("kubeconfig {path}: {reason}")]
    Parse { path: PathBuf, reason: String },

    #[error(
        "no kubeconfig: $KUBECONFIG is unset and $HOME is unknown; pass --kubeconfig, or start a local cluster with `cronbench cluster up`"
    )]
    NoPath,
}

/// The files a kubeconfig is read from: `explicit`, else every path in `$KUBECONFIG`, else
/// `~/.kube/config`.
pub fn paths(explicit: Option<&Path>) -> Result<Vec<PathBuf>, KubeconfigError> {
    if let Some(p) = explicit {
        return Ok(vec![p.to_path_buf()]);
    }
    if let Some(v) = std::env::var_os("KUBECONFIG") {
        let listed: Vec<PathBuf> = std::env::split_paths(&v)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if !listed.is_empty() {
            return Ok(listed);
        }
    }
    let home = std::env::var_os("HOME").ok_or(KubeconfigError::NoPath)?;
    Ok(vec![PathBuf::from(home).join(".kube").join("config")])
}

/// Reads and merges the kubeconfig files (see [`paths`]), each checked first.
pub fn read(explicit: Option<&Path>) -> Result<Kubeconfig, KubeconfigError> {
    let mut merged: Option<Kubeconfig> = None;
    for path in paths(explicit)? {
        check_file(&path)?;
        let kc = Kubeconfig::read_from(&path).map_err(|e| KubeconfigError::Parse {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        merged = Some(match merged {
            None => kc,
            Some(m) => m.merge(kc).map_err(|e| KubeconfigError::Parse {
                path: path.clone(),
                reason: e.to_string(),
            })?,
        });
    }
    Ok(merged.unwrap_or_default())
}

/// Refuses what kube-client would panic on or read without bound.
pub fn check_file(path: &Path) -> Result<(), KubeconfigError> {
    let unreadable = |cause| KubeconfigError::Unreadable {
        path: path.to_path_buf(),
        cause,
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(KubeconfigError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if meta.len() > MAX_KUBECONFIG_BYTES {
        return Err(KubeconfigError::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
            max: MAX_KUBECONFIG_BYTES,
        });
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    check_encoding(&bytes).map_err(|(problem, from)| KubeconfigError::Encoding {
        path: path.to_path_buf(),
        problem,
        from,
    })
}

/// The encoding problem of a kubeconfig's bytes, with the encoding to convert from.
fn check_encoding(bytes: &[u8]) -> Result<(), (&'static str, &'static str)> {
    let utf16 = |body: &[u8], le: bool, name: &'static str| {
        if !body.len().is_multiple_of(2) {
            return Err((
                "starts with a UTF-16 byte-order mark but has an odd number of bytes (truncated?)",
                name,
            ));
        }
        let units = body.chunks_exact(2).map(|c| {
            let pair = [c[0], c[1]];
            if le {
                u16::from_le_bytes(pair)
            } else {
                u16::from_be_bytes(pair)
            }
        });
        if char::decode_utf16(units).any(|c| c.is_err()) {
            return Err(("is not valid UTF-16", name));
        }
        Ok(())
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true, "UTF-16LE"),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false, "UTF-16BE"),
        [0xEF, 0xBB, 0xBF, rest @ ..] => std::str::from_utf8(rest).map(|_| ()).map_err(|_| {
            (
                "starts with a UTF-8 byte-order mark but is not valid UTF-8",
                "LATIN1",
            )
        }),
        _ => std::str::from_utf8(bytes)
            .map(|_| ())
            .map_err(|_| ("is not valid UTF-8 text", "LATIN1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_odd_length_utf16_kubeconfig_is_an_encoding_error_not_a_panic() {
        let err = check_encoding(b"\xff\xfeA").expect_err("odd UTF-16 refused");
        assert!(err.0.contains("odd number of bytes"), "{err:?}");
        assert_eq!(err.1, "UTF-16LE");
        assert!(check_encoding(b"\xfe\xffA").is_err());
    }

    #[test]
    fn well_formed_utf16_and_utf8_kubeconfigs_pass_the_check() {
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("kind: Config".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert!(check_encoding(&le).is_ok());
        assert!(check_encoding(b"\xef\xbb\xbfkind: Config").is_ok());
        assert!(check_encoding(b"kind: Config").is_ok());
    }

    #[test]
    fn invalid_utf8_and_lone_surrogates_are_refused() {
        assert!(check_encoding(b"kind: \xc3\x28").is_err());
        assert!(check_encoding(&[0xFF, 0xFE, 0x00, 0xD8]).is_err());
    }

    #[test]
    fn a_directory_given_as_kubeconfig_is_named_as_not_a_file() {
        let err = check_file(Path::new("/")).expect_err("directory refused");
        assert!(matches!(err, KubeconfigError::NotAFile { .. }), "{err}");
    }
}

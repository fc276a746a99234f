//! Reading scenario and job-definition files: a bounded read, a UTF-8 check that says where, and
//! YAML errors in cronbench's words (the YAML library's advice is meant for programmers).

use std::io::Read as _;
use std::path::Path;

use super::error::MAX_FILE_BYTES;
use super::{Problem, ScenarioError};

/// What a file was read as; picks the example named in a fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doc {
    Scenario,
    JobDefinitions,
    /// Not yet known (lint reads a file before telling what it is).
    Yaml,
}

impl Doc {
    fn example(self) -> &'static str {
        match self {
            Doc::Scenario => super::load::SCENARIO_EXAMPLE,
            Doc::JobDefinitions => super::jobdefs::JOB_DEFINITION_EXAMPLE,
            Doc::Yaml => "scenarios/smoke.yaml or scenarios/jobs-example/",
        }
    }
}

/// Reads a file as UTF-8 text, at most [`MAX_FILE_BYTES`] of it (also from a device or a pipe,
/// whose size is not known in advance).
pub fn read_text(path: &Path) -> Result<String, ScenarioError> {
    let read_err = |cause| ScenarioError::Read {
        path: path.to_path_buf(),
        cause,
    };
    if path.is_dir() {
        return Err(read_err(std::io::Error::from(
            std::io::ErrorKind::IsADirectory,
        )));
    }
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ScenarioError::TooLarge {
            path: path.to_path_buf(),
            max: MAX_FILE_BYTES,
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        ScenarioError::NotUtf8 {
            path: path.to_path_buf(),
            line,
            offset,
        }
    })
}

/// A YAML error as a lint problem: the file, `line L, column C`, the problem and the fix.
pub fn yaml_problem(path: &Path, doc: Doc, err: &serde_saphyr::Error) -> Problem {
    let place = err
        .location()
        .filter(|l| l.line() > 0)
        .map(|l| format!("line {}, column {}", l.line(), l.column()));
    let raw = err.without_snippet().to_string();
    Problem {
        file: path.to_path_buf(),
        name: place,
        message: reword(&raw, doc),
    }
}

/// A YAML error as a [`ScenarioError::Parse`].
pub fn parse_error(path: &Path, doc: Doc, err: &serde_saphyr::Error) -> ScenarioError {
    ScenarioError::Parse {
        problem: yaml_problem(path, doc, err),
    }
}

/// The library's message without its location prefix, in the project's words, with a fix.
fn reword(raw: &str, doc: Doc) -> String {
    let msg = strip_location(raw.trim().trim_start_matches("error: "));
    // The place is already in the problem's name.
    let msg = match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains("column") => &msg[..i],
        _ => msg,
    };
    let example = doc.example();
    if let Some(said) = plain_syntax(msg) {
        return format!("{said} (see {example})");
    }
    if let Some(rest) = msg.split_once("duplicate mapping key: ").map(|(_, r)| r) {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return format!("the key '{key}' appears twice in one mapping; keep one of them");
    }
    if msg.contains("multiple YAML documents") {
        return "the file holds more than one YAML document (a '---' line after the first \
                content); a scenario is one document: remove the '---' and merge or delete what \
                follows"
            .to_string();
    }
    if msg.contains("budget") {
        return "the YAML has more nodes, aliases or nesting than cronbench reads (at most \
                250,000 nodes); a scenario or job file this large is a mistake: write a smaller \
                file, or split the job definitions across files"
            .to_string();
    }
    if let Some(range) = integer_range(msg) {
        return format!("expected a whole number from {range}; write one in that range");
    }
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        let (key, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let expected = quotes(expected.trim_start_matches("one of "));
        return format!(
            "unknown key {}; the keys allowed here are {expected} (see {example})",
            quotes(key)
        );
    }
    if let Some(rest) = msg.strip_prefix("unknown variant ") {
        let (value, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let expected = quotes(expected.trim_start_matches("one of "));
        return format!("unknown value {}; use one of {expected}", quotes(value));
    }
    if let Some(key) = msg.strip_prefix("missing field ") {
        return format!("the key {} is missing; add it (see {example})", quotes(key));
    }
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        let (found, expected) = rest
            .split_once(", expected ")
            .unwrap_or((rest, "another type"));
        return format!(
            "found {found} where {} belongs; write that instead (see {example})",
            plain_type(expected)
        );
    }
    // Drop advice addressed to programmers ("set X in Options", "use from_str_multiple").
    let msg = msg
        .split(", set ")
        .next()
        .unwrap_or(msg)
        .split("; use ")
        .next()
        .unwrap_or(msg);
    format!("{msg}; fix the YAML there (see {example})")
}

/// The parser's terse phrases for common mistakes, in words with a fix.
fn plain_syntax(msg: &str) -> Option<String> {
    let said = if msg.contains("non-finite float") {
        let value = msg.split('`').nth(1).unwrap_or("it");
        format!("'{value}' is not a finite number; write a number such as 50 or 0.5")
    } else if msg.starts_with("expected sequence start") {
        "expected a list here; write [a, b] or one '- item' per line".to_string()
    } else if msg.starts_with("expected mapping start") {
        "expected a mapping here; write key: value pairs (or {key: value})".to_string()
    } else if msg.starts_with("expected string scalar") {
        "expected a single string here; quote it ('like this')".to_string()
    } else if msg.starts_with("invalid floating point") {
        "expected a number here, such as 50 or 0.5".to_string()
    } else if msg.contains("recursion limit") {
        "the YAML nests deeper than cronbench reads; a scenario needs at most a few levels: \
         remove the extra brackets"
            .to_string()
    } else {
        return None;
    };
    Some(said)
}

fn strip_location(msg: &str) -> &str {
    if msg.starts_with("line ")
        && let Some((head, rest)) = msg.split_once(": ")
        && head.contains("column")
    {
        return rest;
    }
    msg
}

/// serde quotes names in backticks; cronbench messages use single quotes.
fn quotes(s: &str) -> String {
    s.replace('`', "'")
}

/// "invalid u32" and friends as the range they allow.
fn integer_range(msg: &str) -> Option<&'static str> {
    let ty = msg
        .strip_prefix("invalid ")?
        .split([' ', ',', ':'])
        .next()?;
    Some(match ty {
        "u8" => "0 to 255",
        "u16" => "0 to 65535",
        "u32" => "0 to 4294967295",
        "u64" | "usize" => "0 to 18446744073709551615",
        "i32" => "-2147483648 to 2147483647",
        "i64" | "isize" => "-9223372036854775808 to 9223372036854775807",
        _ => return None,
    })
}

/// A serde "expected" phrase without Rust type names.
fn plain_type(expected: &str) -> String {
    let e = expected.trim();
    if e.starts_with("struct ") || e.contains("map") {
        return "a mapping of keys".to_string();
    }
    if let Some(range) = integer_range(&format!("invalid {e}")) {
        return format!("a whole number from {range}");
    }
    match e {
        "f64" | "f32" => "a number".to_string(),
        "a string" | "a sequence" | "a boolean" => e.to_string(),
        s if s.starts_with("a sequence") || s.starts_with("a list") => "a list".to_string(),
        s if s.starts_with("u") || s.starts_with("i") => "a number".to_string(),
        _ => quotes(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(yaml: &str) -> Problem {
        match serde_saphyr::from_str::<crate::scenario::Scenario>(yaml) {
            Ok(s) => panic!("parsed: {s:?}"),
            Err(e) => yaml_problem(Path::new("s.yaml"), Doc::Scenario, &e),
        }
    }

    #[test]
    fn a_duplicate_key_is_named_at_its_line_without_library_advice() {
        let p = problem("name: a\nname: b\n");
        assert_eq!(p.name.as_deref(), Some("line 2, column 1"));
        assert_eq!(
            p.message,
            "the key 'name' appears twice in one mapping; keep one of them"
        );
    }

    #[test]
    fn an_out_of_range_count_states_the_range() {
        let p = problem("load: {cronjobs: -1}\n");
        assert!(p.message.contains("0 to 4294967295"), "{p}");
        assert!(!p.message.contains("u32"), "{p}");
    }

    #[test]
    fn more_than_one_document_names_the_fix_not_the_api() {
        let p = problem("name: a\n---\nname: b\n");
        assert!(!p.message.contains("from_str"), "{p}");
        assert!(p.message.contains("remove the '---'"), "{p}");
    }

    #[test]
    fn an_unknown_key_lists_the_allowed_ones_in_quotes() {
        let p = problem("load: {cronjob: 5}\n");
        assert!(p.message.starts_with("unknown key 'cronjob'"), "{p}");
        assert!(!p.message.contains('`'), "{p}");
    }

    #[test]
    fn a_file_that_is_not_utf8_names_the_line_and_is_not_a_missing_file() {
        let dir = std::env::temp_dir().join(format!("cronbench-text-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let f = dir.join("latin1.yaml");
        let _ = std::fs::write(&f, b"name: a\nload: {image: caf\xe9}\n");
        let err = read_text(&f).map(|_| ()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 2: the file is not UTF-8"), "{text}");
        assert!(!text.contains("exists"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_endless_file_is_read_up_to_the_bound_only() {
        let err = read_text(Path::new("/dev/zero")).map(|_| ()).unwrap_err();
        assert!(matches!(err, ScenarioError::TooLarge { .. }), "{err}");
    }
}

//! The committed JSON Schemas under `schemas/` are the contract other tools read the output
//! files by. They are generated from the Rust types (schemars), so a changed type must come
//! with a changed schema in the same commit: these tests fail otherwise.
//!
//! After changing a type on purpose, rewrite the committed schemas with
//! `CRONBENCH_BLESS=1 cargo test --test schemas` and commit them (and bump
//! `schema::SCHEMA_VERSION` when a field changes meaning).

use std::path::PathBuf;

use cronbench::bench::report::Bench;
use cronbench::limit::report::LimitReport;
use cronbench::results::Results;
use cronbench::schema::LogLine;

const BLESS: &str = "CRONBENCH_BLESS";

fn schema_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(file)
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Every output file with its committed schema and the type that writes it.
fn generated() -> [(&'static str, schemars::Schema); 4] {
    [
        ("events.schema.json", schemars::schema_for!(LogLine)),
        ("results.schema.json", schemars::schema_for!(Results)),
        ("limit.schema.json", schemars::schema_for!(LimitReport)),
        ("bench.schema.json", schemars::schema_for!(Bench)),
    ]
}

fn pretty(schema: &schemars::Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema serializes");
    text.push('\n');
    text
}

#[test]
fn committed_schemas_match_the_types() {
    let bless = std::env::var_os(BLESS).is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (file, schema) in generated() {
        let path = schema_path(file);
        let want = pretty(&schema);
        if bless {
            std::fs::create_dir_all(path.parent().expect("schemas/ has a parent"))
                .expect("schemas/ can be created");
            std::fs::write(&path, &want).expect("the schema can be written");
            continue;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "schemas/{{{}}} differ from the types that write those files; if the change is \
         intended, run `{BLESS}=1 cargo test --test schemas` and commit schemas/",
        stale.join(",")
    );
}

fn validator(file: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(schema_path(file)).expect("the committed schema exists");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

fn problems(validator: &jsonschema::Validator, doc: &serde_json::Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn recorded_event_logs_validate_against_the_events_schema() {
    let validator = validator("events.schema.json");
    for name in ["healthy.jsonl", "interrupted.jsonl"] {
        let text = std::fs::read_to_string(fixture(name)).expect("the fixture exists");
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let Ok(doc) = serde_json::from_str::<serde_json::Value>(line) else {
                // interrupted.jsonl ends in a line cut mid-write, as a crash leaves it.
                assert_eq!(n + 1, text.lines().count(), "{name}:{} is not JSON", n + 1);
                continue;
            };
            let errors = problems(&validator, &doc);
            assert!(errors.is_empty(), "{name}:{}: {errors:?}", n + 1);
        }
    }
}

#[test]
fn recorded_bench_report_validates_against_the_bench_schema() {
    let text = std::fs::read_to_string(fixture("bench-quick.json")).expect("the fixture exists");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("the fixture is JSON");
    let errors = problems(&validator("bench.schema.json"), &doc);
    assert!(errors.is_empty(), "bench-quick.json: {errors:?}");
}

#[test]
fn analyzed_results_validate_against_the_results_schema() {
    let results = cronbench::analyze::analyze_file(fixture("healthy.jsonl"))
        .expect("the healthy fixture analyzes");
    let doc = serde_json::to_value(&results).expect("results serialize");
    let errors = problems(&validator("results.schema.json"), &doc);
    assert!(errors.is_empty(), "results of healthy.jsonl: {errors:?}");
}

#[test]
fn events_schema_rejects_a_line_with_an_unknown_field_as_the_reader_does() {
    let line = serde_json::json!({
        "type": "node", "recv_ms": 1, "name": "node-a", "ready": true, "colour": "red"
    });
    assert!(serde_json::from_value::<LogLine>(line.clone()).is_err());
    assert!(!validator("events.schema.json").is_valid(&line));
}

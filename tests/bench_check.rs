//! `cronbench bench-check`: what CI asserts about the quick bench's bench.json.

mod common;

use common::{cronbench, text};

const FIXTURE: &str = "tests/fixtures/bench-quick.json";

fn fixture() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap()
}

/// `cronbench bench-check` on `v` written as bench.json into a fresh directory `tag`.
fn check(v: &serde_json::Value, tag: &str) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!("cronbench-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bench.json"), v.to_string()).unwrap();
    let out = cronbench(&["bench-check", dir.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn fails_naming(out: &std::process::Output, what: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", text(out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(what),
        "{}",
        text(out)
    );
}

#[test]
fn a_complete_bench_json_passes_the_check() {
    let out = cronbench(&["bench-check", FIXTURE]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_bench_json_without_a_part_fails_the_check_naming_it() {
    let mut v = fixture();
    v["observe"] = serde_json::Value::Null;
    fails_naming(&check(&v, "bench-check"), "observe is missing");
}

/// CI runs `bench --quick --only create,accuracy,observe,peer,analyze,fleet`: without the
/// confirm part it was not asked for, the bench.json is complete.
#[test]
fn a_bench_json_is_complete_for_the_parts_it_asked_for() {
    let mut v = fixture();
    v["confirm"] = serde_json::Value::Null;
    v["parts"] = serde_json::json!(["create", "accuracy", "observe", "peer", "analyze", "fleet"]);
    v["targets"]
        .as_array_mut()
        .unwrap()
        .retain(|t| t["name"] != "confirm.confirmed");
    let out = check(&v, "bench-parts");
    assert!(out.status.success(), "{}", text(&out));
    v["parts"] = serde_json::json!([
        "create", "accuracy", "observe", "peer", "analyze", "fleet", "confirm"
    ]);
    fails_naming(&check(&v, "bench-parts"), "confirm is missing");
}

#[test]
fn a_bench_json_with_an_unknown_field_is_not_well_formed() {
    let mut v = fixture();
    v["surprise"] = serde_json::json!(1);
    fails_naming(&check(&v, "bench-bad"), "unknown field");
}

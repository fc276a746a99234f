//! Bad input gets a clear message that names the problem and the fix, and a non-zero exit,
//! before anything is created.

mod common;

use common::{cronbench, text};

/// A kubeconfig in a scratch directory removed when the guard drops.
fn kubeconfig(context: &str, server: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(format!("kubeconfig-{context}"));
    let yaml = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: {context}\n\
         clusters:\n- name: c\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\n\
         users:\n- name: u\n  user:\n    token: not-a-real-token\n\
         contexts:\n- name: {context}\n  context:\n    cluster: c\n    user: u\n"
    );
    std::fs::write(&path, yaml).expect("write kubeconfig");
    (dir, path)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `run SCENARIO` exits 2 before touching any cluster, with `expected` in its message.
fn assert_run_refuses(scenario: &str, expected: &str) {
    let out = cronbench(&["run", scenario, "--context", "cronbench-x"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains(expected), "{}", text(&out));
}

#[test]
fn run_refuses_a_bad_schedule_naming_it() {
    assert_run_refuses("tests/scenarios/bad-schedule.yaml", "61 * * * *");
}

#[test]
fn run_refuses_a_name_over_52_characters() {
    assert_run_refuses("tests/scenarios/long-name.yaml", "at most 52");
}

#[test]
fn run_refuses_duplicate_names() {
    assert_run_refuses(
        "tests/scenarios/duplicate-names.yaml",
        "duplicate name 'nightly-report'",
    );
}

/// `run` against a kubeconfig whose only context is `context`, pointing at `server`: exits 2;
/// returns what it printed on stderr.
fn run_against(context: &str, server: &str) -> String {
    let (_dir, kc) = kubeconfig(context, server);
    let out = cronbench(&[
        "run",
        "scenarios/smoke.yaml",
        "--kubeconfig",
        &kc.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    stderr(&out)
}

#[test]
fn run_refuses_a_context_that_is_not_a_test_cluster() {
    let err = run_against("prod-eu-1", "https://127.0.0.1:1");
    assert!(
        err.contains("not a test cluster") && err.contains("--allow-context prod-eu-1"),
        "{err}"
    );
}

#[test]
fn run_reports_an_unreachable_cluster() {
    let err = run_against("cronbench-nowhere", "https://127.0.0.1:1");
    assert!(
        err.contains("unreachable") && err.contains("cronbench-nowhere"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn lint_exits_1_and_names_each_problem() {
    let out = cronbench(&["lint", "scenarios/bad/name-too-long.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn a_truncated_utf16_kubeconfig_is_a_clean_error_for_run_and_clean() {
    let kc = std::env::temp_dir().join(format!("cronbench-kc-utf16-{}", std::process::id()));
    std::fs::write(&kc, b"\xff\xfeA").expect("write kubeconfig");
    let path = kc.display().to_string();
    for args in [
        vec![
            "run",
            "scenarios/smoke.yaml",
            "--kubeconfig",
            &path,
            "--context",
            "kind-test",
        ],
        vec!["clean", "--kubeconfig", &path, "--context", "kind-test"],
    ] {
        let out = cronbench(&args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let err = stderr(&out);
        assert!(err.contains(&path) && err.contains("UTF-16"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let _ = std::fs::remove_file(&kc);
}

#[test]
fn bench_check_refuses_another_schema_version_naming_the_file_both_versions_and_the_fix() {
    let fixture = std::fs::read_to_string("tests/fixtures/bench-quick.json").expect("fixture");
    let future = fixture.replacen("\"schema_version\": 1", "\"schema_version\": 999", 1);
    assert_ne!(fixture, future, "the fixture has schema_version 1");
    let path =
        std::env::temp_dir().join(format!("cronbench-bench-999-{}.json", std::process::id()));
    std::fs::write(&path, future).expect("write bench.json");
    let out = cronbench(&["bench-check", &path.display().to_string()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&path.display().to_string())
            && err.contains("schema_version is 999")
            && err.contains("version 1")
            && err.contains("cronbench bench"),
        "{err}"
    );
}

#[test]
fn run_refuses_an_empty_scenario_that_lint_rejects_instead_of_running_defaults() {
    let path = std::env::temp_dir().join(format!("cronbench-empty-{}.yaml", std::process::id()));
    std::fs::write(&path, "").expect("write scenario");
    let out = cronbench(&[
        "run",
        &path.display().to_string(),
        "--context",
        "cronbench-x",
    ]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("the file is empty"), "{}", text(&out));
}

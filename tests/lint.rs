//! Lints the shipped scenarios: everything in scenarios/ passes, everything in scenarios/bad/
//! fails with the expected message.

use std::path::{Path, PathBuf};

use cronbench::scenario::{LintKind, Scenario, lint};

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_scenario_and_job_definition_passes_lint() {
    let dir = scenarios();
    let mut paths = yaml_files(&dir);
    paths.extend(yaml_files(&dir.join("jobs-example")));
    paths.push(dir.join("jobs-example"));
    assert!(paths.len() >= 8, "{paths:?}");
    for path in paths {
        let report = lint(&path).unwrap();
        assert!(report.is_ok(), "{report}");
        assert_ne!(report.kind, LintKind::Unknown, "{}", path.display());
        assert!(report.summary.cronjobs >= 1, "{report}");
    }
}

#[test]
fn shipped_scenarios_load_and_resolve_to_the_documented_cronjobs() {
    let dir = scenarios();
    for (file, cronjobs, target, per_minute) in [
        ("smoke.yaml", 20, 20.0, 20.0),
        ("target-50.yaml", 50, 50.0, 50.0),
        ("stripe-2018.yaml", 1000, 50.0, 1000.0),
    ] {
        let s = Scenario::from_file(&dir.join(file)).unwrap();
        let defs = s.cronjob_defs(&dir).unwrap();
        assert_eq!(defs.len(), cronjobs, "{file}");
        assert_eq!(s.slo.target_jobs_per_minute, target, "{file}");
        let rate = cronbench::scenario::jobs_per_minute(&defs);
        assert!((rate - per_minute).abs() < 1e-9, "{file}: {rate}");
        assert_eq!(s.load.node_selector["type"], "kwok", "{file}");
        assert_eq!(
            s.load.tolerations[0].key.as_deref(),
            Some("kwok.x-k8s.io/node"),
            "{file}"
        );
    }
    let smoke = Scenario::from_file(&dir.join("smoke.yaml")).unwrap();
    assert_eq!(
        (
            smoke.duration.warmup_s,
            smoke.duration.measure_s,
            smoke.duration.drain_s
        ),
        (60, 180, 60)
    );
    let stripe = Scenario::from_file(&dir.join("stripe-2018.yaml")).unwrap();
    assert_eq!(
        (stripe.duration.measure_s, stripe.duration.drain_s),
        (600, 300)
    );
    assert_eq!(stripe.load.command, ["bash", "-c", "echo hello world"]);
    assert_eq!(
        Scenario::from_file(&dir.join("target-50.yaml"))
            .unwrap()
            .duration
            .measure_s,
        300
    );
}

#[test]
fn jobs_example_reads_every_definition_in_its_folder() {
    let dir = scenarios();
    let s = Scenario::from_file(&dir.join("jobs-example.yaml")).unwrap();
    let defs = s.cronjob_defs(&dir).unwrap();
    let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    // Files sorted by name (billing.yaml, heartbeat.yaml, reports.yml), documents in order.
    assert_eq!(
        names,
        [
            "billing-export",
            "billing-reconcile",
            "heartbeat",
            "office-hours-report"
        ]
    );
    assert_eq!(defs[0].resources.requests["cpu"], "0.1");
    assert_eq!(defs[0].resources.limits["memory"], "1024M");
}

#[test]
fn every_bad_file_fails_lint_with_the_expected_message() {
    let expected = [
        ("bad-schedule.yaml", "61 is above the maximum 59"),
        ("duplicate-names.yaml", "duplicate name 'cleanup'"),
        ("name-too-long.yaml", "is 60 characters"),
        ("six-fields.yaml", "found 6"),
        ("target-too-high.yaml", "below the target of 50"),
    ];
    let files = yaml_files(&scenarios().join("bad"));
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        expected.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
        "every file in scenarios/bad/ needs an expected message here"
    );
    for (file, message) in expected {
        let path = scenarios().join("bad").join(file);
        let report = lint(&path).unwrap();
        assert_eq!(report.problems.len(), 1, "{file}: {report}");
        let problem = &report.problems[0];
        assert!(problem.message.contains(message), "{file}: {problem}");
        assert_eq!(problem.file, path);
        assert!(problem.name.is_some(), "{file}: {problem}");
    }
}

#[test]
fn linting_the_bad_folder_collects_problems_from_all_job_files() {
    let report = lint(&scenarios().join("bad")).unwrap();
    // The scenario in bad/ is not a job definition, so it is reported as a parse problem too.
    let text = report.to_string();
    for message in [
        "61 is above the maximum 59",
        "duplicate name 'cleanup'",
        "is 60 characters",
        "found 6",
    ] {
        assert!(text.contains(message), "{text}");
    }
}

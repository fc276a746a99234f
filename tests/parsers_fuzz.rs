//! Property tests over the scenario parser, the job-definition parser, the cron parser and
//! lint: on any input they return a value or a clean error that names the file, and never
//! panic. Cases are bounded (a few hundred per property) so the file runs in seconds.

use std::path::Path;

use cronbench::scenario::{Scenario, jobdefs, lint, parse_schedule};
use proptest::prelude::*;

mod fuzz;

const SMOKE: &str = include_str!("../scenarios/smoke.yaml");
const JOB: &str = "name: a\nkubernetes: {schedule: '*/5 * * * *'}\ncommand: [echo, hi]\n\
                   resources: {requests: {cpu: 100m}, limits: {cpu: 200m}}\n";

/// Values a hand edit might leave behind: numbers out of range, words, YAML punctuation.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        Just("99999999999999999999".to_string()),
        Just("-1".to_string()),
        Just(".nan".to_string()),
        Just("~".to_string()),
        Just("[".to_string()),
        Just("{a: b}".to_string()),
        Just("''".to_string()),
        "[a-zA-Z0-9*/@ ,:-]{0,12}",
    ]
}

/// `text` with the value after the `n`th `: ` replaced.
fn mutate(text: &str, n: usize, replacement: &str) -> String {
    let spots: Vec<usize> = text.match_indices(": ").map(|(i, _)| i + 2).collect();
    if spots.is_empty() {
        return text.to_string();
    }
    let at = spots[n % spots.len()];
    let end = text[at..].find('\n').map_or(text.len(), |e| at + e);
    format!("{}{}{}", &text[..at], replacement, &text[end..])
}

proptest! {
    #![proptest_config(fuzz::config(256))]

    #[test]
    fn the_cron_parser_never_panics_and_errors_quote_the_schedule(s in "[0-9*/,?@a-zA-Z -]{0,30}") {
        match parse_schedule(&s) {
            Ok(schedule) => {
                let rate = schedule.runs_per_minute();
                prop_assert!(rate.is_finite() && (0.0..=1.0).contains(&rate), "{s}: {rate}");
            }
            Err(e) => prop_assert!(e.to_string().contains(&format!("'{s}'")), "{e}"),
        }
    }

    #[test]
    fn the_cron_parser_never_panics_on_any_text(s in "\\PC{0,40}") {
        let _ = parse_schedule(&s);
    }

    #[test]
    fn a_scenario_with_one_value_changed_parses_and_checks_or_errors_naming_the_file(
        n in 0usize..200,
        v in value(),
    ) {
        let text = mutate(SMOKE, n, &v);
        let file = Path::new("fuzz.yaml");
        match Scenario::parse_str(&text, file) {
            Ok(scenario) => {
                for p in scenario.check(file).problems {
                    prop_assert!(!p.message.is_empty());
                }
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("fuzz.yaml: "), "{msg}");
                prop_assert!(!msg.contains("from_str") && !msg.contains("Options"), "{msg}");
            }
        }
    }

    #[test]
    fn the_scenario_parser_never_panics_on_any_text(s in "\\PC{0,200}") {
        let _ = Scenario::parse_str(&s, Path::new("fuzz.yaml")).map(|sc| sc.check(Path::new("fuzz.yaml")));
    }

    #[test]
    fn a_job_definition_with_one_value_changed_is_checked_or_errors_naming_the_file(
        n in 0usize..20,
        v in value(),
    ) {
        let text = mutate(JOB, n, &v);
        let file = Path::new("jobs/fuzz.yaml");
        match jobdefs::parse_str(&text, file) {
            Ok(defs) => {
                let mut problems = Vec::new();
                for d in defs {
                    jobdefs::check_def(&d.into(), file, &mut problems);
                }
                prop_assert!(problems.iter().all(|p| p.file == file));
            }
            Err(e) => prop_assert!(e.to_string().starts_with("jobs/fuzz.yaml: "), "{e}"),
        }
    }

    #[test]
    fn lint_of_any_bytes_is_a_report_or_an_error_naming_the_file(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let file = dir.path().join("any.yaml");
        std::fs::write(&file, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let name = file.display().to_string();
        match lint(&file) {
            Ok(report) => prop_assert!(report.problems.iter().all(|p| p.to_string().contains(&name))),
            Err(e) => prop_assert!(e.to_string().contains(&name), "{e}"),
        }
    }
}

//! The corpus of bad inputs in tests/bad-inputs/: every one is refused by `lint` and by `run`
//! with the same first line (file, place, problem, fix), `run` exits 2 before it connects to
//! anything (the kubeconfig it is given does not exist), and nothing panics (exit 101) or is
//! killed (no exit code) on the way. `expected.tsv` holds the expected first lines: a message
//! that changes on purpose is updated there.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{cronbench, text};

const EXPECTED: &str = "tests/bad-inputs/expected.tsv";

/// One row of expected.tsv.
struct Case {
    input: String,
    lint_exit: i32,
    first_line: String,
}

fn cases() -> Vec<Case> {
    let table = std::fs::read_to_string(EXPECTED).expect("the expected table is readable");
    table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let mut cols = line.splitn(3, '\t');
            let (Some(input), Some(exit), Some(first)) = (cols.next(), cols.next(), cols.next())
            else {
                panic!("{EXPECTED}: a row needs input, lint exit and first line: {line}");
            };
            Case {
                input: input.to_string(),
                lint_exit: exit.parse().expect("lint exit is a number"),
                first_line: first.to_string(),
            }
        })
        .collect()
}

fn first_line(out: &Output) -> String {
    // lint prints its problems on stdout (exit 1) and errors on stderr (exit 2).
    let stream = if out.status.code() == Some(1) {
        &out.stdout
    } else {
        &out.stderr
    };
    String::from_utf8_lossy(stream)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn lint(input: &str) -> Output {
    cronbench(&["lint", input])
}

/// `run` with a kubeconfig that does not exist: a bad scenario must be refused before it is read.
fn run(input: &str) -> Output {
    cronbench(&[
        "run",
        input,
        "--kubeconfig",
        "/nonexistent/cronbench-kubeconfig",
        "--context",
        "cronbench-x",
    ])
}

fn assert_refused(input: &str, lint_exit: i32, expected: impl Fn(&str) -> bool, what: &str) {
    let l = lint(input);
    assert_eq!(
        l.status.code(),
        Some(lint_exit),
        "lint {input}: {}",
        text(&l)
    );
    if lint_exit != 0 {
        assert!(
            expected(&first_line(&l)),
            "lint {input}: want {what}\n{}",
            text(&l)
        );
    }
    let r = run(input);
    assert_eq!(r.status.code(), Some(2), "run {input}: {}", text(&r));
    assert!(
        expected(&first_line(&r)),
        "run {input}: want {what}\n{}",
        text(&r)
    );
    for out in [&l, &r] {
        let all = text(out);
        assert!(!all.contains("panicked"), "{input}: {all}");
        assert!(
            !all.contains("kubeconfig"),
            "{input} reached the cluster step: {all}"
        );
    }
}

#[test]
fn every_bad_input_in_the_corpus_is_refused_with_its_expected_first_line() {
    let cases = cases();
    assert!(cases.len() >= 100, "the corpus has {} inputs", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let l = lint(&case.input);
        let r = run(&case.input);
        let lint_ok = l.status.code() == Some(case.lint_exit)
            && (case.lint_exit == 0 || first_line(&l) == case.first_line);
        let run_ok = r.status.code() == Some(2) && first_line(&r) == case.first_line;
        if !(lint_ok && run_ok) {
            failures.push(format!(
                "{}\n  want (lint exit {}): {}\n  lint: {}\n  run: {}",
                case.input,
                case.lint_exit,
                case.first_line,
                text(&l),
                text(&r)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} inputs differ from {EXPECTED}:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_file_in_the_corpus_has_a_row_in_the_table() {
    let rows: Vec<String> = cases().into_iter().map(|c| c.input).collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir("tests/bad-inputs")
        .expect("the corpus folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for f in files {
        let f = f.display().to_string();
        assert!(rows.contains(&f), "{f} has no row in {EXPECTED}");
    }
}

/// A scratch folder removed at the end, for inputs too large to commit.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("cronbench-bad-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch folder");
        Scratch(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folder");
        }
        std::fs::write(&path, bytes).expect("write input");
        path.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_50_mb_command_is_refused_by_the_file_bound_without_reading_it_whole() {
    let dir = Scratch::new("50mb");
    let mut yaml = b"load:\n  command: [sh, -c, '".to_vec();
    yaml.resize(yaml.len() + 50 * 1024 * 1024, b'x');
    yaml.extend_from_slice(b"']\n");
    let input = dir.write("big.yaml", &yaml);
    let want = format!("error: {input}: the file is larger than 4194304 bytes");
    assert_refused(&input, 2, |l| l.starts_with(&want), &want);
}

#[test]
fn a_command_larger_than_etcd_accepts_is_refused_naming_the_limit() {
    let dir = Scratch::new("2mb");
    let command = "x".repeat(2 * 1024 * 1024);
    let input = dir.write(
        "big.yaml",
        format!("load:\n  command: [sh, -c, '{command}']\n").as_bytes(),
    );
    let want = format!("error: {input}: load.command is ");
    assert_refused(
        &input,
        1,
        |l| l.starts_with(&want) && l.contains("etcd's default request limit of 1572864 bytes"),
        &want,
    );
}

#[test]
fn a_too_large_job_file_in_a_jobs_folder_is_a_problem_naming_it() {
    let dir = Scratch::new("bigjob");
    let mut job = b"name: a\nkubernetes: {schedule: '* * * * *'}\ncommand: [x]\n#".to_vec();
    job.resize(job.len() + 5 * 1024 * 1024, b'x');
    let job_path = dir.write("jobs/a.yaml", &job);
    let input = dir.write(
        "s.yaml",
        b"load: {jobs_dir: jobs}\nduration: {measure_s: 600}\nslo: {target_jobs_per_minute: 1}\n",
    );
    assert_refused(
        &input,
        1,
        |l| l.contains(&job_path) && l.contains("larger than 4194304 bytes"),
        "the job file and the bound",
    );
}

#[test]
fn the_shipped_scenarios_still_pass_so_the_corpus_tests_the_checks_not_the_loader() {
    for s in ["scenarios/smoke.yaml", "scenarios/jobs-example.yaml"] {
        let out = lint(s);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    assert!(Path::new(EXPECTED).is_file());
}

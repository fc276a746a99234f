//! `cronbench history` and `compare --history` on a planted history (tests/common): the
//! regression is marked at the run it began and fails the check once two runs confirm it;
//! the single bad night is neither.

mod common;

use common::{cronbench, planted_history, text};

/// A scratch directory removed when the guard drops.
fn scratch(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let guard = tempfile::Builder::new()
        .prefix(&format!("cronbench-{name}-"))
        .tempdir()
        .expect("scratch dir");
    let dir = guard.path().to_path_buf();
    (guard, dir)
}

#[test]
fn history_marks_the_planted_regression_and_not_the_spike() {
    let (_guard, dir) = scratch("history-cli");
    planted_history(&dir);
    let page = dir.join("history.html");
    let out = cronbench(&[
        "history",
        dir.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    let row = |name: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("a row for {name} in\n{md}"))
            .to_string()
    };
    assert!(
        row("p99 schedule -> started (s, client)").contains("#10 `night-09`"),
        "{md}"
    );
    assert!(
        row("p99 schedule -> job created (s, client)").ends_with("| none |"),
        "{md}"
    );
    assert!(std::fs::read_to_string(&page).unwrap().contains("night-09"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compare_history_fails_only_when_two_runs_confirm_the_shift() {
    let (_guard, dir) = scratch("history-compare");
    let runs = planted_history(&dir);
    let judge = |current: usize| {
        let mut args = vec!["compare", "--history"];
        let earlier: Vec<String> = runs[..current]
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        args.extend(earlier.iter().map(String::as_str));
        let current = runs[current].display().to_string();
        let out = cronbench(&[&args[..], &["--current", &current]].concat());
        (out.status.code(), text(&out))
    };
    // night-05 alone is bad (one night), night-06 is fine again.
    assert_eq!(judge(5).0, Some(0), "{}", judge(5).1);
    assert_eq!(judge(6).0, Some(0), "{}", judge(6).1);
    // night-09 is the first of the regression: one run, not yet confirmed.
    assert_eq!(judge(9).0, Some(0), "{}", judge(9).1);
    let (code, out) = judge(10);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("REGRESSED: the last 2 runs, from #10"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compare_history_refuses_a_current_run_older_than_the_history() {
    let (_guard, dir) = scratch("history-order");
    let runs = planted_history(&dir);
    let (first, rest) = runs.split_first().unwrap();
    let mut args = vec!["compare".to_string(), "--history".to_string()];
    args.extend(rest.iter().map(|p| p.display().to_string()));
    args.extend(["--current".to_string(), first.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = cronbench(&args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--current must be the newest run"),
        "{}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compare_history_says_when_the_history_is_too_short_to_confirm_anything() {
    let (_guard, dir) = scratch("history-short");
    let runs = planted_history(&dir);
    let earlier = runs[0].display().to_string();
    let current = runs[1].display().to_string();
    let out = cronbench(&["compare", "--history", &earlier, "--current", &current]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("a shift can be confirmed from 5 runs on (2 confirming and 3 before them); with 2 none can fail yet"),
        "{}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

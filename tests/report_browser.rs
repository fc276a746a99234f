//! The HTML report of the healthy fixture, loaded in headless Chromium: the DOM has every
//! chart, the page logs no errors, and a screenshot is made (kept in the temp dir for review).
//! The same for the history page of a planted history (tests/common).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cronbench::analyze::analyze_file;
use cronbench::report::charts::CHART_IDS;
use cronbench::report::{Format, render_results};

const CHROMIUM: &str = "/usr/bin/chromium";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn chromium(profile: &Path, args: &[&str], page: &Path) -> Output {
    let url = format!("file://{}", page.display());
    Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs")
}

/// Lines of Chromium's log that report an error from the page itself.
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains("Uncaught")
                || (l.contains("CONSOLE") && (l.contains("ERROR") || l.contains("error")))
                || l.contains(":ERROR:CONSOLE")
        })
        .collect()
}

#[test]
fn report_renders_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        common::skip(&format!(
            "{CHROMIUM} is missing: install it with `apt-get install chromium` (or run scripts/setup)"
        ));
        return;
    }
    let work = common::TempDir::new("report-browser");
    let results = analyze_file(fixture("healthy.jsonl")).expect("fixture analyzes");
    let html =
        render_results(&results, Some(&fixture("healthy.jsonl")), Format::Html).expect("renders");
    let page = work.0.join("report.html");
    std::fs::write(&page, html).expect("write page");

    // The DOM as the browser built it.
    let dom = chromium(&work.0.join("profile-dom"), &["--dump-dom"], &page);
    let stdout = String::from_utf8_lossy(&dom.stdout);
    let stderr = String::from_utf8_lossy(&dom.stderr);
    assert!(dom.status.success(), "chromium failed:\n{stderr}");
    for id in CHART_IDS {
        let at = stdout
            .find(&format!("id=\"chart-{id}\""))
            .unwrap_or_else(|| panic!("chart {id} in the DOM"));
        assert!(stdout[at..].contains("<svg"), "chart {id} has an <svg>");
    }
    assert_eq!(stdout.matches("<svg").count(), CHART_IDS.len());
    assert!(stdout.contains("<div class=\"word\">PASS</div>"));
    assert!(stdout.contains("class=\"slo-table\""));
    let errors = page_errors(&stderr);
    assert!(errors.is_empty(), "page errors:\n{}", errors.join("\n"));

    // A screenshot; kept next to the build output for a person to look at.
    let png = work.0.join("report.png");
    let shot = chromium(
        &work.0.join("profile-shot"),
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,4000",
            "--hide-scrollbars",
        ],
        &page,
    );
    let stderr = String::from_utf8_lossy(&shot.stderr);
    assert!(shot.status.success(), "chromium failed:\n{stderr}");
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(bytes.len() > 20_000, "the screenshot has content");
    let errors = page_errors(&stderr);
    assert!(errors.is_empty(), "page errors:\n{}", errors.join("\n"));
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-healthy.png");
    std::fs::copy(&png, &keep).expect("keep the screenshot");
    std::fs::copy(&page, keep.with_extension("html")).expect("keep the page");
}

#[test]
fn history_page_renders_its_trend_charts_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        common::skip(&format!(
            "{CHROMIUM} is missing: install it with `apt-get install chromium` (or run scripts/setup)"
        ));
        return;
    }
    let work = common::TempDir::new("history-browser");
    let runs = common::planted_history(&work.0.join("runs"));
    let opts = cronbench::changepoint::Options::default();
    let history = cronbench::history::load(&runs, &opts).expect("the history loads");
    let html = cronbench::report::history::history_html(&history, &opts).expect("renders");
    let page = work.0.join("history.html");
    std::fs::write(&page, html).expect("write page");

    let dom = chromium(&work.0.join("profile-dom"), &["--dump-dom"], &page);
    let stdout = String::from_utf8_lossy(&dom.stdout);
    let stderr = String::from_utf8_lossy(&dom.stderr);
    assert!(dom.status.success(), "chromium failed:\n{stderr}");
    // The compared figures and stuck pods (the planted runs predate the harness's cost).
    let metrics = &history.trends;
    assert_eq!(metrics.len(), cronbench::compare::Metric::all().len() + 1);
    for i in 0..metrics.len() {
        let at = stdout
            .find(&format!("id=\"trend-{i}\""))
            .unwrap_or_else(|| panic!("trend {i} in the DOM"));
        assert!(stdout[at..].contains("<svg"), "trend {i} has an <svg>");
    }
    assert_eq!(stdout.matches("<svg").count(), metrics.len());
    assert_eq!(stdout.matches("<tr class=").count(), 12, "a row per run");
    // The planted regression is marked at night-09, and only there.
    assert_eq!(
        stdout.matches("class=\"shift worse\"").count(),
        1,
        "{stdout}"
    );
    assert!(stdout.contains("run #10 <code>night-09</code>"), "{stdout}");
    let errors = page_errors(&stderr);
    assert!(errors.is_empty(), "page errors:\n{}", errors.join("\n"));

    let png = work.0.join("history.png");
    let shot = chromium(
        &work.0.join("profile-shot"),
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,5000",
            "--hide-scrollbars",
        ],
        &page,
    );
    assert!(shot.status.success(), "chromium failed");
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 20_000);
    let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("history-planted.png");
    std::fs::copy(&png, &keep).expect("keep the screenshot");
    std::fs::copy(&page, keep.with_extension("html")).expect("keep the page");
}

//! Reports of the recorded fixtures in every format.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use cronbench::analyze::analyze_file;
use cronbench::report::charts::CHART_IDS;
use cronbench::report::{Format, render, render_results};
use cronbench::results::Results;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn results(name: &str) -> Results {
    analyze_file(fixture(name)).expect("the fixture analyzes")
}

const FIXTURES: [&str; 2] = ["healthy.jsonl", "interrupted.jsonl"];

/// A run directory (results.json and events.jsonl) removed when dropped.
struct RunDir(PathBuf);

impl RunDir {
    fn new(fixture_name: &str) -> RunDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cronbench-report-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            fixture_name.trim_end_matches(".jsonl")
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::copy(fixture(fixture_name), dir.join("events.jsonl")).expect("copy log");
        let r = results(fixture_name);
        std::fs::write(
            dir.join("results.json"),
            serde_json::to_string_pretty(&r).expect("serializes"),
        )
        .expect("write results");
        RunDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn check_html(html: &str, r: &Results) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    let verdict = if r.verdict.pass { "PASS" } else { "FAIL" };
    assert!(html.contains(&format!("<div class=\"word\">{verdict}</div>")));
    // The verdict comes before the tables and the charts.
    let v = html.find("id=\"verdict\"").expect("verdict");
    let slo = html.find("class=\"slo-table\"").expect("SLO table");
    let charts = html.find("id=\"charts\"").expect("charts");
    assert!(v < slo && slo < charts);
    for c in &r.verdict.checks {
        let name = c.name.replace('>', "&gt;");
        assert!(html.contains(&name), "SLO table lists {}", c.name);
    }
    assert!(html.contains("class=\"percentile-table\""));
    for p in ["p50", "p90", "p99", "p99.9", "p99.99", "max"] {
        assert!(html.contains(&format!("<th>{p}</th>")), "{p} column");
    }
    for id in CHART_IDS {
        let at = html
            .find(&format!("id=\"chart-{id}\""))
            .unwrap_or_else(|| panic!("chart {id}"));
        assert!(
            html[at..].trim_start_matches(|c| c != '>')[1..]
                .trim_start()
                .starts_with("<svg")
        );
    }
    assert_eq!(html.matches("<svg").count(), CHART_IDS.len());
    for needle in [
        r.run.run_id.as_str(),
        r.run.server_version.as_str(),
        r.run.context.as_str(),
        "cronbench version",
        "expected runs",
        "stuck pods",
        "duplicates",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    // Self-contained.
    for bad in ["<script", "http://", "https://", "<link", "src="] {
        let hits: Vec<_> = html.match_indices(bad).collect();
        // The only URL allowed is the SVG namespace.
        let allowed = hits
            .iter()
            .all(|(i, _)| html[*i..].starts_with("http://www.w3.org/2000/svg"));
        assert!(allowed, "{bad} in the report");
    }
}

#[test]
fn html_of_both_fixtures() {
    for name in FIXTURES {
        let dir = RunDir::new(name);
        let html = render(dir.path(), Format::Html).expect("renders");
        check_html(&html, &results(name));
    }
}

#[test]
fn html_without_event_log_says_na() {
    let r = results("healthy.jsonl");
    let html = render_results(&r, None, Format::Html).expect("renders");
    check_html(&html, &r);
    assert!(html.contains("n/a: needs the run"));
}

#[test]
fn html_from_a_run_dir_without_results_json() {
    let dir = RunDir::new("interrupted.jsonl");
    std::fs::remove_file(dir.path().join("results.json")).expect("remove");
    let html = render(dir.path(), Format::Html).expect("analyzes events.jsonl");
    check_html(&html, &results("interrupted.jsonl"));
}

#[test]
fn markdown_of_both_fixtures() {
    for name in FIXTURES {
        let r = results(name);
        let md = render_results(&r, None, Format::Markdown).expect("renders");
        let verdict = if r.verdict.pass { "PASS" } else { "FAIL" };
        assert!(md.starts_with("## "), "{md}");
        assert!(md.lines().next().is_some_and(|l| l.contains(verdict)));
        assert!(md.contains("| check | target | measured | result | note |"));
        assert!(md.contains("| stage | clock | count | p50 | p90 | p99 | p99.9 | p99.99 | max |"));
        // Every table row has the header's number of cells.
        for table in md.split("\n\n").filter(|t| t.starts_with('|')) {
            let cells = |l: &str| l.replace("\\|", "").matches('|').count();
            let mut lines = table.lines();
            let head = cells(lines.next().expect("header"));
            assert!(lines.all(|l| cells(l) == head), "{table}");
        }
        assert_eq!(
            md.matches("PASS |").count() + md.matches("FAIL |").count(),
            6
        );
    }
}

/// A small well-formedness check: tags nest and close, attributes are quoted, entities are
/// known, and no raw `<` or `&` appears in text.
fn assert_well_formed_xml(xml: &str) {
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .expect("XML declaration");
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body;
    let check_text = |t: &str| {
        assert!(!t.contains('<'), "raw < in {t:?}");
        let mut parts = t.split('&');
        parts.next();
        for p in parts {
            assert!(
                ["amp;", "lt;", "gt;", "quot;", "apos;"]
                    .iter()
                    .any(|e| p.starts_with(e)),
                "bad entity in {t:?}"
            );
        }
    };
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open]);
        let close = rest[open..].find('>').expect("tag closes") + open;
        let tag = &rest[open + 1..close];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "closing tag");
        } else {
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, attrs) = tag.split_once(' ').unwrap_or((tag, ""));
            assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()));
            // name="value" pairs.
            let mut a = attrs.trim();
            while !a.is_empty() {
                let (key, after) = a.split_once("=\"").expect("quoted attribute");
                assert!(key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                let end = after.find('"').expect("attribute closes");
                check_text(&after[..end]);
                a = after[end + 1..].trim_start();
            }
            if !self_closing {
                stack.push(name.to_string());
            }
        }
        rest = &rest[close + 1..];
    }
    check_text(rest);
    assert!(stack.is_empty(), "unclosed {stack:?}");
}

#[test]
fn junit_of_both_fixtures() {
    for name in FIXTURES {
        let r = results(name);
        let xml = render_results(&r, None, Format::Junit).expect("renders");
        assert_well_formed_xml(&xml);
        assert_eq!(xml.matches("<testsuite ").count(), 1);
        assert_eq!(xml.matches("<testcase ").count(), r.verdict.checks.len());
        let failed = r.verdict.checks.iter().filter(|c| !c.pass).count();
        assert_eq!(xml.matches("<failure ").count(), failed);
        assert!(xml.contains(&format!("failures=\"{failed}\"")));
    }
}

#[test]
fn fixtures_have_both_verdicts() {
    // The interrupted fixture fails at least one check, so failures are exercised.
    assert!(results("healthy.jsonl").verdict.pass);
    assert!(!results("interrupted.jsonl").verdict.pass);
}

#[test]
fn junit_escapes_hostile_names() {
    let mut r = results("interrupted.jsonl");
    r.run.scenario_name = "a<b>&\"c'".into();
    r.run.run_id = "x\u{1}y".into();
    for c in &mut r.verdict.checks {
        c.note = Some("note with <tags> & \"quotes\"".into());
    }
    let xml = render_results(&r, None, Format::Junit).expect("renders");
    assert_well_formed_xml(&xml);
    let html = render_results(&r, None, Format::Html).expect("renders");
    assert!(!html.contains("a<b>"));
    assert!(!html.contains("<tags>"));
}

fn cronbench(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_cronbench"))
        .args(args)
        .output()
        .expect("cronbench runs")
}

#[test]
fn cli_report_and_compare() {
    let healthy = RunDir::new("healthy.jsonl");
    let interrupted = RunDir::new("interrupted.jsonl");
    let h = healthy.path().as_os_str();
    let i = interrupted.path().as_os_str();
    let s = |s: &'static str| std::ffi::OsStr::new(s);

    let out = cronbench(&[s("report"), h]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let html = std::fs::read_to_string(healthy.path().join("report.html")).expect("report.html");
    assert!(html.contains("<div class=\"word\">PASS</div>"));

    let out = cronbench(&[s("report"), i, s("--format"), s("junit")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_well_formed_xml(&String::from_utf8_lossy(&out.stdout));

    let out = cronbench(&[s("report"), i, s("--format"), s("markdown")]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("**FAIL**"));

    let out = cronbench(&[s("compare"), h, s("--current"), h]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let page = healthy.path().join("compare.html");
    let out = cronbench(&[
        s("compare"),
        h,
        h,
        s("--current"),
        i,
        s("--threshold"),
        s("10%"),
        s("-o"),
        page.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "a regression: {out:?}");
    assert!(
        std::fs::read_to_string(&page)
            .expect("compare.html")
            .contains("REGRESSION")
    );

    let missing = healthy.path().join("no-such-run");
    let out = cronbench(&[s("compare"), missing.as_os_str(), s("--current"), h]);
    assert_eq!(out.status.code(), Some(2), "an error: {out:?}");
}

#[test]
fn markdown_and_html_show_each_ticks_node_balance() {
    let r = results("healthy.jsonl");
    let md = render_results(&r, None, Format::Markdown).expect("renders");
    assert!(md.contains("### Node balance per tick"), "{md}");
    assert!(
        md.contains("| 2026-01-01T00:00:00Z | 1.00 | node-a | 50% | node-a 1 (1), node-b 1 (1) |")
    );
    let html = render_results(&r, None, Format::Html).expect("renders");
    assert!(html.contains("id=\"chart-node-balance\""));
    assert!(html.contains("3 tick(s): imbalance mean 1.00, max 1.00"));
}

/// A healthy run's results with a resource timeline of three components (the etcd process
/// restarted once).
fn with_timeline() -> Results {
    use cronbench::analyze::resources::TimelineBuilder;
    use cronbench::results::{Component, ResourceReading, ResourceSource};
    let mut r = results("healthy.jsonl");
    let start = r.run.started_ms;
    let mut b = TimelineBuilder::default();
    for i in 0..60i64 {
        let reading = |component, process, cpu_s, rss_mib: i64| ResourceReading {
            component,
            instance: String::new(),
            process,
            cpu_s,
            rss_bytes: (rss_mib as u64) << 20,
            at_ms: None,
        };
        let etcd_pid = if i < 30 { 10 } else { 11 };
        let readings = [
            reading(Component::KubeApiserver, 1, i as f64 * 1.5, 300 + i),
            reading(Component::Etcd, etcd_pid, (i % 30) as f64 * 0.5, 60),
            reading(Component::KubeControllerManager, 3, i as f64, 120),
        ];
        b.push_line(start + i * 5_000, ResourceSource::Proc, &readings);
    }
    r.resources = b.finish(start, r.window.as_ref());
    r
}

#[test]
fn a_timeline_is_charted_and_tabled_in_html_markdown_and_the_terminal() {
    use cronbench::report::charts::RESOURCE_CHART_IDS;
    let r = with_timeline();
    let t = r.resources.as_ref().expect("a timeline");
    assert_eq!(t.series.len(), 3);
    assert_eq!(t.series[1].gaps, 1, "etcd's restart is a gap");
    let html = render_results(&r, Some(&fixture("healthy.jsonl")), Format::Html).expect("html");
    for id in RESOURCE_CHART_IDS {
        let at = html
            .find(&format!("id=\"chart-{id}\""))
            .unwrap_or_else(|| panic!("chart {id}"));
        let svg = &html[at..];
        assert!(svg.contains("<svg"), "{id}");
    }
    assert_eq!(
        html.matches("<svg").count(),
        CHART_IDS.len() + RESOURCE_CHART_IDS.len()
    );
    assert!(html.contains("class=\"resources-table\""));
    for needle in [
        "kube-apiserver",
        "etcd",
        "kube-controller-manager",
        "0.300",
        "359.0 MiB",
    ] {
        assert!(html.contains(needle), "html has {needle}");
    }
    let md = render_results(&r, None, Format::Markdown).expect("markdown");
    assert!(md.contains("### Control-plane resources"), "{md}");
    assert!(
        md.contains("| kube-apiserver | 0.300 | 0.300 | 300.0 MiB | 359.0 MiB | 359.0 MiB |"),
        "{md}"
    );
    let term = cronbench::report::table::summary_table(&r);
    let line = term
        .lines()
        .find(|l| l.starts_with("resources"))
        .unwrap_or_else(|| panic!("{term}"));
    assert!(
        line.contains("kube-apiserver 0.300/0.300 cores 359 MiB"),
        "{line}"
    );
}

#[test]
fn results_without_a_timeline_load_and_draw_no_resource_chart() {
    let r = results("healthy.jsonl");
    assert!(r.resources.is_none());
    let mut json: serde_json::Value = serde_json::to_value(&r).expect("serializes");
    assert!(json.get("resources").is_none());
    json.as_object_mut().map(|o| o.remove("resources"));
    let back: Results = serde_json::from_value(json).expect("loads without the field");
    let html = render_results(&back, None, Format::Html).expect("html");
    assert!(!html.contains("resources-table"));
    assert_eq!(html.matches("<svg").count(), CHART_IDS.len());
}

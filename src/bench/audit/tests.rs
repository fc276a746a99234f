use super::*;

/// `text` in a file `name` of a scratch directory, removed when the guard drops.
fn write(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

const POD_RUNNING: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","stage":"ResponseComplete","verb":"patch","objectRef":{"resource":"pods","namespace":"ns","name":"p-1","apiVersion":"v1","subresource":"status"},"responseStatus":{"code":200},"responseObject":{"metadata":{"name":"p-1"},"status":{"phase":"Running"}},"stageTimestamp":"2026-12-03T15:00:01.123456Z"}"#;

#[test]
fn a_status_write_that_made_the_pod_running_is_its_start_to_the_microsecond() {
    let (_dir, path) = write("running.log", &format!("{POD_RUNNING}\n"));
    let times = read(&path, "ns").expect("read");
    let want = "2026-12-03T15:00:01.123456Z"
        .parse::<jiff::Timestamp>()
        .expect("ts")
        .as_microsecond();
    assert_eq!(times.at_us(Endpoint::Started, "p-1"), Some(want));
    assert_eq!(times.at_us(Endpoint::Finished, "p-1"), None);
    assert_eq!(read(&path, "other").expect("read").events, 0);
}

#[test]
fn a_malformed_audit_line_is_an_error_naming_the_file_and_line() {
    let (_dir, path) = write("bad.log", &format!("{POD_RUNNING}\n{{\"stage\": 12\n"));
    let err = read(&path, "ns").expect_err("a broken line is refused");
    let text = err.to_string();
    assert!(
        text.contains("bad.log") && text.contains("line 2"),
        "{text}"
    );
    let (_dir, path) = write(
        "badtime.log",
        &POD_RUNNING.replace("2026-12-03T15:00:01.123456Z", "yesterday"),
    );
    let text = read(&path, "ns")
        .expect_err("a bad time is refused")
        .to_string();
    assert!(
        text.contains("line 1") && text.contains("stageTimestamp"),
        "{text}"
    );
}

/// Two CronJobs of a quick bench's accuracy run (2026-12-03, 15:10-15:12 UTC): their lines of
/// the event log and of the apiserver's audit log, objects slimmed to name and status.
const FIXTURE: &str = "tests/fixtures/audit";
const NAMESPACE: &str = "cronbench-20261203-150932-983b-accuracy";

fn window(start_ms: i64, end_ms: i64) -> Window {
    Window {
        start_ms,
        end_ms,
        end: crate::results::WindowEnd::Drain,
        duration_s: (end_ms - start_ms) as f64 / 1000.0,
    }
}

#[test]
fn every_endpoint_of_every_run_in_the_window_is_matched_with_its_request() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let times = read(&dir.join("audit.log"), NAMESPACE).expect("read the audit log");
    assert_eq!(times.events, 42);
    // The run's measured window: the 15:11 tick of both CronJobs.
    let stages = compare(
        &dir.join("events.jsonl"),
        &window(1_796_310_641_966, 1_796_310_701_988),
        &times,
        None,
    )
    .expect("compare");
    let got: Vec<_> = stages
        .iter()
        .map(|s| (s.endpoint, s.runs, s.matched))
        .collect();
    let want: Vec<_> = Endpoint::ALL.iter().map(|&e| (e, 2, 2)).collect();
    assert_eq!(got, want);
    // cb-00000-29938511: first seen at 15:11:00.129, created at 15:11:00.118196.
    let job = &stages[0];
    assert!(
        job.max_ms.is_some_and(|m| m >= 10.804) && job.p50_ms.is_some_and(|p| p <= 10.804),
        "{job:?}"
    );
    for s in &stages {
        assert!(
            s.signed_p50_ms.is_some_and(|d| d > 0.0),
            "the client sees it after: {s:?}"
        );
        assert_eq!(s.floor_matched, None, "no floor ran: {s:?}");
    }
}

#[test]
fn runs_whose_requests_are_not_in_the_audit_log_count_as_unmatched() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let times = read(&dir.join("audit.log"), "another-namespace").expect("read");
    let stages = compare(
        &dir.join("events.jsonl"),
        &window(0, i64::MAX),
        &times,
        None,
    )
    .expect("compare");
    for s in &stages {
        assert_eq!(
            (s.runs, s.matched, s.matched_share),
            (4, 0, Some(0.0)),
            "{s:?}"
        );
        assert_eq!(s.p50_ms, None);
    }
}

#[test]
fn with_a_floor_the_delivery_and_what_the_client_adds_are_split() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let times = read(&dir.join("audit.log"), NAMESPACE).expect("read the audit log");
    // A floor that read cb-00000-29938511's Job 2.5 ms after its create completed
    // (15:11:00.118196) and 8.304 ms before the client's 15:11:00.129.
    let mut floor = StageTimes::default();
    floor.note(
        Endpoint::JobCreated,
        "cb-00000-29938511",
        1_796_310_660_118_196 + 2_500,
    );
    let stages = compare(
        &dir.join("events.jsonl"),
        &window(1_796_310_641_966, 1_796_310_701_988),
        &times,
        Some(&floor),
    )
    .expect("compare");
    let job = &stages[0];
    assert_eq!(job.floor_matched, Some(1));
    assert_eq!(job.floor_p50_ms, Some(2.5));
    assert_eq!(job.added_p50_ms, Some(8.304));
    assert_eq!(stages[1].floor_matched, Some(0), "no floor time, no pair");
}

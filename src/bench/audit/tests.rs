use super::*;

fn write(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cronbench-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

const POD_RUNNING: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","stage":"ResponseComplete","verb":"patch","objectRef":{"resource":"pods","namespace":"ns","name":"p-1","apiVersion":"v1","subresource":"status"},"responseStatus":{"code":200},"responseObject":{"metadata":{"name":"p-1"},"status":{"phase":"Running"}},"stageTimestamp":"2026-12-03T15:00:01.123456Z"}"#;

#[test]
fn a_status_write_that_made_the_pod_running_is_its_start_to_the_microsecond() {
    let path = write("running.log", &format!("{POD_RUNNING}\n"));
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
    let path = write("bad.log", &format!("{POD_RUNNING}\n{{\"stage\": 12\n"));
    let err = read(&path, "ns").expect_err("a broken line is refused");
    let text = err.to_string();
    assert!(
        text.contains("bad.log") && text.contains("line 2"),
        "{text}"
    );
    let path = write(
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

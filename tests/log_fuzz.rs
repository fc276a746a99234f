//! Property tests over the event-log reader and analyzer and the kubeconfig pre-check, on
//! mutations of recorded inputs: truncated files, numbers replaced by extremes, bytes flipped.
//! Each returns results or a clean error, never panics, and never sizes its output by a value
//! read from the file: a results.json stays under [`RESULTS_MAX`] whatever `recv_ms` says.

use std::io::Write as _;

use proptest::prelude::*;

mod fuzz;

const HEALTHY: &str = include_str!("fixtures/healthy.jsonl");
/// The healthy fixture's results.json is ~20 kB; one far-off line must not grow it past this.
const RESULTS_MAX: usize = 256 * 1024;

/// Numbers a killed harness, a clock step or a hand edit might leave in a log.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(i64::MAX.to_string()),
        Just(i64::MIN.to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("253402300799000".to_string()), // 9999-12-31
        Just("1e308".to_string()),
        Just("null".to_string()),
        Just("\"x\"".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
    ]
}

/// `log` with the digits of the `n`th number after a `":` replaced.
fn replace_number(log: &str, n: usize, with: &str) -> String {
    let spots: Vec<usize> = log
        .match_indices("\":")
        .map(|(i, _)| i + 2)
        .filter(|i| log[*i..].starts_with(|c: char| c.is_ascii_digit() || c == '-'))
        .collect();
    if spots.is_empty() {
        return log.to_string();
    }
    let at = spots[n % spots.len()];
    let len = log[at..]
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(log.len() - at);
    format!("{}{}{}", &log[..at], with, &log[at + len..])
}

fn analyze(text: &[u8]) -> Result<usize, String> {
    let dir = tempdir();
    let path = dir.join("events.jsonl");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(text))
        .expect("write the log");
    let out = cronbench::analyze::analyze_file(&path)
        .map(|r| serde_json::to_string(&r).expect("results serialize").len())
        .map_err(|e| format!("{e:#}"));
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn tempdir() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "cronbench-logfuzz-{}-{:?}-{}",
        std::process::id(),
        std::thread::current().id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

proptest! {
    #![proptest_config(fuzz::config(96))]

    #[test]
    fn a_log_with_an_extreme_number_analyzes_or_errs_with_bounded_output(
        n in 0usize..4000, with in number()
    ) {
        if let Ok(size) = analyze(replace_number(HEALTHY, n, &with).as_bytes()) {
            prop_assert!(size <= RESULTS_MAX, "results.json of {size} bytes");
        }
    }

    #[test]
    fn a_truncated_log_analyzes_or_errs(cut in 0usize..HEALTHY.len()) {
        if let Ok(size) = analyze(&HEALTHY.as_bytes()[..cut]) {
            prop_assert!(size <= RESULTS_MAX);
        }
    }

    #[test]
    fn a_log_with_flipped_bytes_analyzes_or_errs(
        flips in proptest::collection::vec((0usize..HEALTHY.len(), any::<u8>()), 1..8)
    ) {
        let mut bytes = HEALTHY.as_bytes().to_vec();
        for (at, b) in flips {
            bytes[at] = b;
        }
        if let Ok(size) = analyze(&bytes) {
            prop_assert!(size <= RESULTS_MAX);
        }
    }

    #[test]
    fn the_kubeconfig_check_takes_any_bytes_without_panicking(
        bytes in proptest::collection::vec(any::<u8>(), 0..512)
    ) {
        let dir = tempdir();
        let path = dir.join("kubeconfig");
        std::fs::write(&path, &bytes).expect("write");
        let _ = cronbench::cluster::kubeconfig::check_file(&path);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn one_line_far_in_the_future_leaves_the_results_small() {
    // The case: a stray line in year 9999 gave gigabytes of series before.
    let last = HEALTHY.lines().last().expect("a last line");
    let stray = last.replacen(
        &last[last.find("\"recv_ms\":").expect("recv_ms")..]
            .split(',')
            .next()
            .expect("field")
            .to_string(),
        "\"recv_ms\":253402300799000",
        1,
    );
    let log = format!("{HEALTHY}{stray}\n");
    let size = analyze(log.as_bytes()).expect("analyzes");
    assert!(size <= RESULTS_MAX, "results.json of {size} bytes");
}

#[test]
fn the_number_proptest_once_set_to_i64_max_no_longer_overflows_the_pending_series() {
    // Found by the property above: the pending series stepped past i64::MAX.
    if let Ok(size) = analyze(replace_number(HEALTHY, 553, &i64::MAX.to_string()).as_bytes()) {
        assert!(size <= RESULTS_MAX, "results.json of {size} bytes");
    }
}

#[test]
fn a_line_a_day_late_within_the_span_leaves_the_results_small() {
    // Found by the flipped-bytes property in CI: one pod line's recv_ms +100,000,000 ms (27.8
    // h, inside the 7-day span) gave a 10,007-point pending series and a 703 kB results.json.
    let mut bytes = HEALTHY.as_bytes().to_vec();
    bytes[5146] = b'3';
    let size = analyze(&bytes).expect("analyzes");
    assert!(size <= RESULTS_MAX, "results.json of {size} bytes");
}

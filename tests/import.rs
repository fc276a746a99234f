//! `cronbench import --crontab`: a recorded crontab becomes a scenario that `lint` accepts, with
//! its schedules and zones and none of its commands; bad crontabs are refused at their line.

mod common;

use common::{cronbench, text};

const CRONTAB: &str = "tests/fixtures/crontab.txt";

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cronbench-import-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn import(crontab: &str, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let out = out.display().to_string();
    let args = [&["import", "--crontab", crontab, "--out", &out][..], extra].concat();
    cronbench(&args)
}

#[test]
fn a_crontab_becomes_a_scenario_that_lints_with_its_zones_and_without_its_commands() {
    let out = scratch("ok");
    let done = import(CRONTAB, &out, &["--scale", "3"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    assert!(
        String::from_utf8_lossy(&done.stdout).contains("21 CronJobs from 7 crontab lines"),
        "{}",
        text(&done)
    );
    let jobs = std::fs::read_to_string(out.join("jobs/crontab.yaml")).expect("jobs written");
    assert_eq!(jobs.matches("\nname: ").count(), 21);
    assert_eq!(jobs.matches("time_zone: 'America/New_York'").count(), 6);
    assert_eq!(jobs.matches("time_zone: 'Europe/Berlin'").count(), 6);
    // Names keep the program (cron-curl-10-0), never its arguments, paths or hosts.
    for secret in [
        "example.com",
        "/ping",
        "/usr/bin/",
        "--full",
        "logrotate.conf",
    ] {
        assert!(!jobs.contains(secret), "{secret} copied");
    }
    let mut names: Vec<&str> = jobs
        .lines()
        .filter_map(|l| l.strip_prefix("name: "))
        .collect();
    assert!(names.iter().all(|n| n.len() <= 52), "{names:?}");
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 21, "unique names");
    // The scenario lints on its own, and a second import never overwrites it.
    let lint = cronbench(&["lint", &out.join("scenario.yaml").display().to_string()]);
    assert_eq!(lint.status.code(), Some(0), "{}", text(&lint));
    let again = import(CRONTAB, &out, &[]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("already holds a scenario.yaml"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_bad_crontab_is_refused_at_its_line_with_the_fix() {
    let dir = scratch("bad");
    std::fs::create_dir_all(&dir).expect("dir");
    let cases = [
        ("61 * * * * /bin/x\n", ":1: invalid schedule '61 * * * *'"),
        ("# c\n@reboot /bin/x\n", ":2: @reboot runs once at boot"),
        (
            "CRON_TZ=Mars/Base\n* * * * * x\n",
            ":1: CRON_TZ=Mars/Base: unknown time zone",
        ),
        ("* * * *\n", ":1: a schedule line needs 5 time fields"),
        ("# only comments\nMAILTO=x\n", "has no schedule lines"),
    ];
    for (i, (crontab, want)) in cases.iter().enumerate() {
        let file = dir.join(format!("crontab-{i}"));
        std::fs::write(&file, crontab).expect("write");
        let out = import(
            &file.display().to_string(),
            &dir.join(format!("out-{i}")),
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{crontab:?}: {}", text(&out));
        assert!(
            text(&out).contains(want),
            "{crontab:?}: want {want:?} in {}",
            text(&out)
        );
        assert!(
            !dir.join(format!("out-{i}")).exists(),
            "nothing written for {crontab:?}"
        );
    }
    let zero = import(CRONTAB, &dir.join("zero"), &["--scale", "0"]);
    assert!(
        text(&zero).contains("--scale must be 1 to 1000"),
        "{}",
        text(&zero)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A kubeconfig whose apiserver is a closed port on this machine.
fn unreachable_kubeconfig(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).expect("scratch dir");
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n\
         clusters:\n- name: gone\n  cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}\n\
         users:\n- name: gone\n  user: {token: t}\n\
         contexts:\n- name: gone\n  context: {cluster: gone, user: gone}\n",
    )
    .expect("kubeconfig");
    path
}

#[test]
fn import_and_lint_from_an_unreachable_cluster_exit_2_naming_the_context_and_the_fix() {
    let dir = scratch("unreachable");
    let kubeconfig = unreachable_kubeconfig(&dir);
    let kc = kubeconfig.display().to_string();
    let out = dir.join("fleet.yaml").display().to_string();
    let import = cronbench(&[
        "import",
        "--context",
        "gone",
        "--kubeconfig",
        &kc,
        "--out",
        &out,
    ]);
    assert_eq!(import.status.code(), Some(2), "{}", text(&import));
    let said = text(&import);
    assert!(
        said.contains("the apiserver of context `gone` is unreachable")
            && said.contains("is the cluster up"),
        "{said}"
    );
    assert!(!std::path::Path::new(&out).exists(), "nothing written");
    let lint = cronbench(&[
        "lint",
        "scenarios/smoke.yaml",
        "--context",
        "gone",
        "--kubeconfig",
        &kc,
    ]);
    assert_eq!(lint.status.code(), Some(2), "{}", text(&lint));
    assert!(
        text(&lint).contains("context `gone` is unreachable"),
        "{}",
        text(&lint)
    );
    let neither = cronbench(&["import", "--out", &out]);
    assert_eq!(neither.status.code(), Some(2), "{}", text(&neither));
    assert!(text(&neither).contains("--crontab") && text(&neither).contains("--context"));
    let _ = std::fs::remove_dir_all(&dir);
}

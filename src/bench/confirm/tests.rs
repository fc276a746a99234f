use super::*;
use crate::bench::Part;
use crate::bench::report::Bench;
use crate::limit::confirm::Confirmation;

/// The limit.json of a real `bench --quick --only confirm` (2026-12-03, controller manager at
/// 2 requests per second): limit 14, 14 held for 2 min and 17 did not.
const LIMIT: &str = include_str!("../../../tests/fixtures/limit-confirmed-quick.json");
/// A bench.json of all the parts, the confirm part's from the same run.
const BENCH: &str = include_str!("../../../tests/fixtures/bench-quick.json");

fn limit() -> LimitReport {
    serde_json::from_str(LIMIT).expect("the fixture is a limit.json")
}

fn ran() -> Ran {
    Ran {
        cluster: "bc-confirm-confirm".into(),
        size: ConfirmSize::QUICK,
        dir: "search".into(),
        wall_s: 690.0,
        exit_code: Some(1),
        load_avg_start: [2.56, 2.01, 1.45],
        load_avg_end: [2.1, 1.99, 1.72],
    }
}

/// A bench.json of the confirm part alone, from `limit`, judged.
fn judged(limit: &LimitReport) -> Bench {
    let mut b: Bench = serde_json::from_str(BENCH).expect("the fixture is a bench.json");
    (b.create, b.accuracy, b.observe, b.peer, b.analyze) = (None, None, None, None, None);
    b.parts = vec![Part::Confirm];
    b.confirm = Some(Confirm::from_limit(limit, ran()));
    b.judge();
    b
}

fn target(b: &Bench) -> &crate::bench::report::Target {
    assert_eq!(b.targets.len(), 1, "one target for the confirm part");
    &b.targets[0]
}

#[test]
fn a_recorded_confirmed_search_becomes_the_section_and_meets_its_target() {
    let b = judged(&limit());
    let c = b.confirm.as_ref().expect("the section");
    assert_eq!(c.verdict, ConfirmVerdict::Confirmed);
    assert_eq!(c.limit_jobs_per_minute, Some(14.0));
    assert_eq!(c.interval, [Some(14.0), Some(20.0)]);
    assert_eq!(c.controller_manager, ControllerManager::Throttled);
    assert_eq!(
        (c.knobs.kcm_api_qps, c.knobs.kcm_api_burst),
        (Some(2.0), Some(2))
    );
    assert_eq!((c.search_steps, c.duration_minutes), (3, 2));
    let loads: Vec<(Side, u32, bool, bool)> = c
        .steps
        .iter()
        .map(|s| (s.side, s.cronjobs, s.must_hold, s.held))
        .collect();
    assert_eq!(
        loads,
        vec![
            (Side::Limit, 14, true, true),
            (Side::Above, 17, false, false)
        ]
    );
    assert!(c.steps.iter().all(|s| s.agrees));
    assert!(!c.steps[1].failures.is_empty(), "why 17 did not hold");
    let search_s = c.search_s.expect("the search's length");
    let confirmed_s = c
        .time_to_confirmed_s
        .expect("the time to a confirmed answer");
    // Judged once the last tick's runs are due: the second step's last tick is 3 minutes
    // after the search's last window.
    assert!(
        search_s > 0.0 && confirmed_s > search_s + 180.0,
        "{search_s} then two 2-minute steps: {confirmed_s}"
    );
    let t = target(&b);
    assert_eq!(
        (t.name.as_str(), t.measured, t.pass),
        ("confirm.confirmed", Some(1.0), true)
    );
    assert!(b.incomplete().is_empty(), "{:?}", b.incomplete());
}

#[test]
fn a_contradicted_confirmation_misses_the_target_naming_the_side() {
    let mut l = limit();
    let c = l.confirmation.as_mut().expect("confirmation");
    c.verdict = ConfirmVerdict::Contradicted;
    c.agrees = false;
    c.contradicted = vec![Side::Above];
    c.time_to_confirmed_s = None;
    let b = judged(&l);
    let t = target(&b);
    assert_eq!((t.measured, t.pass), (Some(0.0), false));
    let section = b.confirm.as_ref().expect("the section");
    assert_eq!(section.time_to_confirmed_s, None);
    assert_eq!(
        section.note, "contradicted: 1.15x the limit held for 2 min",
        "the note says which side"
    );
    assert!(
        b.incomplete().is_empty(),
        "a contradiction is a measurement"
    );
}

#[test]
fn no_limit_to_confirm_misses_the_target_and_says_why() {
    let mut l = limit();
    l.confirmation = Some(Confirmation::planned(2, None));
    (l.limit_jobs_per_minute, l.interval) = (None, [None, Some(10.0)]);
    let b = judged(&l);
    let t = target(&b);
    assert_eq!((t.measured, t.pass), (Some(0.0), false));
    let note = &b.confirm.as_ref().expect("the section").note;
    assert!(note.contains("found no load that held"), "{note}");
}

#[test]
fn an_incomplete_confirmation_has_no_measured_value_and_says_why() {
    for confirmation in [Some(Confirmation::planned(2, Some(14))), None] {
        let mut l = limit();
        l.confirmation = confirmation;
        let b = judged(&l);
        let t = target(&b);
        assert_eq!((t.measured, t.pass), (None, false));
        let c = b.confirm.as_ref().expect("the section");
        assert_eq!(c.verdict, ConfirmVerdict::Incomplete);
        assert!(c.note.contains("ended before both steps"), "{}", c.note);
        assert_eq!(
            b.incomplete(),
            vec!["target confirm.confirmed has no measured value".to_string()]
        );
    }
}

#[test]
fn the_quick_size_is_limit_local_and_the_full_one_the_controller_managers_defaults() {
    let quick = ConfirmSize::QUICK.up_options();
    assert_eq!(
        (quick.knobs.kcm_api_qps, quick.knobs.kcm_api_burst),
        (Some(2.0), Some(2))
    );
    assert_eq!(ConfirmSize::QUICK.confirm_minutes, 2);
    let full = ConfirmSize::FULL.up_options();
    assert_eq!(
        full.knobs,
        Knobs::default(),
        "every knob at its default, the controller manager's too"
    );
    assert_eq!(ConfirmSize::FULL.confirm_minutes, 10);
    assert!(full.audit.is_none() && quick.audit.is_none());
}

#[test]
fn a_search_that_exited_with_an_error_is_incomplete_whatever_its_limit_json_says() {
    let mut stopped = ran();
    stopped.exit_code = Some(STOPPED);
    let c = Confirm::from_limit(&limit(), stopped);
    assert_eq!(c.verdict, ConfirmVerdict::Incomplete);
    assert_eq!(c.confirmed(), None, "nothing judged, the target fails");
    assert!(c.note.contains("exit code 2"), "{}", c.note);
    assert_eq!(c.limit_jobs_per_minute, Some(14.0), "what it found is kept");
}

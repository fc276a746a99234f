use super::*;

/// `n` values around `level` with noise of about `spread` (relative), reproducible per seed.
fn noisy(n: usize, level: f64, spread: f64, seed: u64) -> Vec<f64> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|_| {
            // Sum of four uniforms: bell-shaped, bounded, standard deviation ~0.58 * spread.
            let u: f64 = (0..4).map(|_| rng.f64() - 0.5).sum();
            level * (1.0 + spread * u)
        })
        .collect()
}

fn indices(series: &[f64]) -> Vec<usize> {
    detect(series, &Options::default())
        .iter()
        .map(|c| c.index)
        .collect()
}

#[test]
fn noise_alone_has_no_change_point_in_most_histories() {
    // alpha is 0.05 per test, and the medians must move 5%: of 100 noise-only histories
    // (noise of ~3.5% standard deviation), a few may show a false change.
    let false_alarms = (0..100)
        .filter(|seed| !indices(&noisy(30, 100.0, 0.06, *seed)).is_empty())
        .count();
    assert!(
        false_alarms <= 5,
        "{false_alarms} of 100 noise-only histories had a change point"
    );
}

#[test]
fn a_step_is_found_at_the_first_run_after_it() {
    for seed in 0..20 {
        let mut s = noisy(15, 100.0, 0.06, seed);
        s.extend(noisy(15, 120.0, 0.06, seed + 1000));
        assert_eq!(indices(&s), vec![15], "seed {seed}: {s:?}");
    }
}

#[test]
fn the_change_point_reports_medians_on_both_sides() {
    let s = [10.0, 11.0, 10.0, 11.0, 10.0, 20.0, 21.0, 20.0, 21.0, 20.0];
    let cps = detect(&s, &Options::default());
    assert_eq!(cps.len(), 1);
    assert_eq!((cps[0].index, cps[0].before, cps[0].after), (5, 10.0, 20.0));
    assert_eq!(cps[0].relative(), Some(1.0));
    assert!(cps[0].p_value <= 0.05);
}

#[test]
fn a_single_spike_is_not_a_change_point_wherever_it_falls() {
    for at in [0, 10, 20, 28, 29] {
        for seed in 0..10 {
            let mut s = noisy(30, 100.0, 0.06, seed);
            s[at] = 160.0;
            assert_eq!(
                indices(&s),
                Vec::<usize>::new(),
                "spike at {at}, seed {seed}"
            );
        }
    }
}

#[test]
fn a_recent_shift_counts_once_the_last_k_runs_confirm_it() {
    let mut s = noisy(20, 100.0, 0.04, 7);
    let opts = Options::default();
    s.push(140.0);
    assert_eq!(recent_shift(&s, 2, Worse::Higher, &opts), None);
    s.push(141.0);
    let cp = recent_shift(&s, 2, Worse::Higher, &opts).expect("confirmed by two runs");
    assert_eq!(cp.index, 20);
    assert!(cp.p_value < 0.01, "{cp:?}");
    // The same runs are no regression where lower is worse, nor for K = 3.
    assert_eq!(recent_shift(&s, 2, Worse::Lower, &opts), None);
    assert_eq!(recent_shift(&s, 3, Worse::Higher, &opts), None);
}

#[test]
fn a_recent_spike_is_not_a_shift() {
    for seed in 0..20 {
        let mut s = noisy(20, 100.0, 0.06, seed);
        s.push(170.0);
        assert_eq!(
            recent_shift(&s, 2, Worse::Higher, &Options::default()),
            None
        );
        s.push(100.0);
        assert_eq!(
            recent_shift(&s, 2, Worse::Higher, &Options::default()),
            None
        );
    }
}

#[test]
fn a_recent_shift_needs_enough_history_before_it() {
    // Two runs before and two after can never be significant: 1 in 6 orders puts the two
    // highest last.
    assert_eq!(
        recent_shift(
            &[100.0, 100.0, 150.0, 150.0],
            2,
            Worse::Higher,
            &Options::default()
        ),
        None
    );
}

#[test]
fn a_slow_drift_is_reported_once_it_has_moved_well_past_the_noise() {
    // +1% a night for 40 nights under 6% noise: a shift of 40% in all.
    for seed in 0..10 {
        let s: Vec<f64> = noisy(40, 100.0, 0.06, seed)
            .iter()
            .enumerate()
            .map(|(i, v)| v * (1.0 + 0.01 * i as f64))
            .collect();
        let cps = indices(&s);
        assert!(!cps.is_empty(), "seed {seed}: drift not reported");
        assert!(
            cps.iter().all(|i| (4..=36).contains(i)),
            "seed {seed}: change points {cps:?} at the very ends of a drift"
        );
    }
}

#[test]
fn two_steps_are_both_found() {
    let mut s = noisy(12, 100.0, 0.04, 1);
    s.extend(noisy(12, 130.0, 0.04, 2));
    s.extend(noisy(12, 100.0, 0.04, 3));
    assert_eq!(indices(&s), vec![12, 24]);
}

#[test]
fn values_that_are_not_finite_are_left_out_and_indices_stay_those_of_the_series() {
    let mut s = vec![10.0, 11.0, 10.0, 11.0, 10.0, 20.0, 21.0, 20.0, 21.0, 20.0];
    s.insert(2, f64::NAN);
    assert_eq!(indices(&s), vec![6]);
}

#[test]
fn the_answer_is_the_same_on_every_call() {
    let s = noisy(50, 100.0, 0.1, 3);
    assert_eq!(
        detect(&s, &Options::default()),
        detect(&s, &Options::default())
    );
}

#[test]
fn a_significant_but_small_shift_is_not_reported() {
    let s = [
        100.0, 100.5, 100.0, 100.5, 100.0, 103.0, 103.5, 103.0, 103.5, 103.0,
    ];
    assert!(indices(&s).is_empty());
    let any = Options {
        min_change: 0.0,
        ..Options::default()
    };
    assert_eq!(detect(&s, &any).len(), 1);
}

#[test]
fn short_or_flat_series_have_no_change_point() {
    assert!(indices(&[]).is_empty());
    assert!(indices(&[1.0, 2.0, 3.0]).is_empty());
    assert!(indices(&[5.0; 20]).is_empty());
}

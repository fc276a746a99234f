//! The property tests' one configuration. CI runs a fixed seed, so a landing is judged on the
//! same cases every time; `CRONBENCH_FUZZ_SEED=random` (or a number) and
//! `CRONBENCH_FUZZ_CASES=N` explore further by hand, and a failure prints its minimal input.

use proptest::test_runner::{Config, RngSeed};

/// The seed CI runs with.
const CI_SEED: u64 = 20_261_202;

pub fn config(cases: u32) -> Config {
    let seed = match std::env::var("CRONBENCH_FUZZ_SEED").ok().as_deref() {
        Some("random") => RngSeed::Random,
        Some(n) => n.parse().map_or(RngSeed::Fixed(CI_SEED), RngSeed::Fixed),
        None => RngSeed::Fixed(CI_SEED),
    };
    let cases = std::env::var("CRONBENCH_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        rng_seed: seed,
        failure_persistence: None,
        ..Config::default()
    }
}

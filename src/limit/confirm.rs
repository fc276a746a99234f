//! `find-limit --confirm`: after the search, two steady steps check its answer, held and judged
//! by the search's own step (the driver's `hold`, the same [`super::step::judge`] and
//! criteria), only longer: the limit must hold, and [`ABOVE_PERCENT`] of it must not. This
//! module is the pure part: which loads, and whether the steps agree with the search.

use serde::{Deserialize, Serialize};

use super::report::StepRecord;

/// The load of the step above the limit, in percent of the limit.
pub const ABOVE_PERCENT: u64 = 115;

/// Which of the two confirmation steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The found limit: it must hold.
    Limit,
    /// ceil(1.15 x the limit): it must not hold.
    Above,
}

impl Side {
    /// Whether a step at this side must hold for the confirmation to agree with the search.
    pub fn must_hold(self) -> bool {
        matches!(self, Side::Limit)
    }

    pub fn label(self) -> &'static str {
        match self {
            Side::Limit => "the limit",
            Side::Above => "1.15x the limit",
        }
    }
}

/// ceil(1.15 x `limit`) CronJobs, in integers (1.15 has no exact binary form), and always
/// above the limit.
pub fn above(limit: u32) -> u32 {
    let n = (u64::from(limit) * ABOVE_PERCENT).div_ceil(100);
    u32::try_from(n)
        .unwrap_or(u32::MAX)
        .max(limit.saturating_add(1))
}

/// One confirmation step: its load, how long it was held, and its verdict by the search's
/// criteria (`record` carries the counts, on-time ratio, backlog, stage latencies and the
/// verdict's failures, as a search step's does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConfirmStep {
    pub side: Side,
    pub cronjobs: u32,
    /// Offered jobs per minute in the judged window.
    pub rate_per_minute: f64,
    /// Whole minutes of ticks the step was judged on.
    pub duration_minutes: u32,
    pub must_hold: bool,
    pub held: bool,
    /// `held == must_hold`.
    pub agrees: bool,
    pub record: StepRecord,
}

/// What the confirmation came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmVerdict {
    /// The limit held and 1.15x did not.
    Confirmed,
    /// The limit did not hold, or 1.15x did (`contradicted` says which).
    Contradicted,
    /// The search found no load that held: there is nothing to confirm, and no step was run.
    NoLimit,
    /// Interrupted or ended by an error before both steps were judged.
    Incomplete,
}

/// `limit.json`'s `confirmation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Confirmation {
    /// Whole minutes each step is judged on (`--confirm DURATION`).
    pub duration_minutes: u32,
    pub verdict: ConfirmVerdict,
    /// Both steps judged and both agree with the search.
    pub agrees: bool,
    /// The sides whose step contradicted the search.
    pub contradicted: Vec<Side>,
    /// In the order run: the limit, then above it.
    pub steps: Vec<ConfirmStep>,
    /// From the search's start to the last step's judgement, when the confirmation agrees.
    pub time_to_confirmed_s: Option<f64>,
    /// From the search's start to the last step's judgement, whatever the verdict.
    pub finished_s: Option<f64>,
}

impl Confirmation {
    /// Before any step: `NoLimit` without a limit, else `Incomplete` until both are judged.
    pub fn planned(duration_minutes: u32, limit: Option<u32>) -> Confirmation {
        Confirmation {
            duration_minutes,
            verdict: match limit {
                Some(_) => ConfirmVerdict::Incomplete,
                None => ConfirmVerdict::NoLimit,
            },
            agrees: false,
            contradicted: Vec::new(),
            steps: Vec::new(),
            time_to_confirmed_s: None,
            finished_s: None,
        }
    }

    /// The steps to hold, in order: the limit, then [`above`] it; none without a limit.
    pub fn loads(limit: Option<u32>) -> Vec<(Side, u32)> {
        limit
            .map(|n| vec![(Side::Limit, n), (Side::Above, above(n))])
            .unwrap_or_default()
    }

    /// Adds a judged step, `elapsed_s` after the search's start, and settles the verdict once
    /// both sides are in.
    pub fn push(&mut self, side: Side, record: StepRecord, elapsed_s: f64) {
        let held = record.verdict.sustainable;
        self.steps.push(ConfirmStep {
            side,
            cronjobs: record.cronjobs,
            rate_per_minute: record.counts.offered_per_minute,
            duration_minutes: self.duration_minutes,
            must_hold: side.must_hold(),
            held,
            agrees: held == side.must_hold(),
            record,
        });
        self.contradicted = self
            .steps
            .iter()
            .filter(|s| !s.agrees)
            .map(|s| s.side)
            .collect();
        let judged = |side| self.steps.iter().any(|s| s.side == side);
        if !(judged(Side::Limit) && judged(Side::Above)) {
            return;
        }
        self.agrees = self.contradicted.is_empty();
        self.verdict = if self.agrees {
            ConfirmVerdict::Confirmed
        } else {
            ConfirmVerdict::Contradicted
        };
        self.finished_s = Some(elapsed_s);
        self.time_to_confirmed_s = self.agrees.then_some(elapsed_s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit::step::{StepCounts, StepVerdict};

    fn record(cronjobs: u32, sustainable: bool) -> StepRecord {
        let counts = StepCounts {
            window_start_ms: 0,
            window_end_ms: 600_000,
            expected: u64::from(cronjobs) * 10,
            started_on_time: u64::from(cronjobs) * 10,
            started_late: 0,
            not_started: 0,
            offered_per_minute: f64::from(cronjobs),
            achieved_per_minute: f64::from(cronjobs),
            started_per_minute: f64::from(cronjobs),
            backlog: vec![],
        };
        let verdict = StepVerdict {
            sustainable,
            failures: vec![],
        };
        StepRecord {
            step: 1,
            cronjobs,
            on_time_ratio: counts.on_time_ratio(),
            counts,
            stages: vec![],
            nodes: vec![],
            node_balance: None,
            metrics: Default::default(),
            metrics_prometheus: None,
            verdict,
            drain: None,
        }
    }

    fn confirm(limit_held: bool, above_held: bool) -> Confirmation {
        let mut c = Confirmation::planned(10, Some(40));
        let loads = Confirmation::loads(Some(40));
        c.push(loads[0].0, record(loads[0].1, limit_held), 700.0);
        assert_eq!(
            c.verdict,
            ConfirmVerdict::Incomplete,
            "one step is not a verdict"
        );
        c.push(loads[1].0, record(loads[1].1, above_held), 1400.0);
        c
    }

    #[test]
    fn the_step_above_is_ceil_of_1_15_times_the_limit_in_integers() {
        assert_eq!(above(20), 23, "1.15 x 20 is 23 exactly, not 24");
        assert_eq!(above(100), 115);
        assert_eq!(above(37), 43, "42.55 rounds up");
        assert_eq!(above(1), 2, "always above the limit");
        assert_eq!(above(u32::MAX), u32::MAX);
        assert_eq!(
            Confirmation::loads(Some(134)),
            vec![(Side::Limit, 134), (Side::Above, 155)]
        );
    }

    #[test]
    fn the_limit_holding_and_above_failing_confirms_with_the_time_to_it() {
        let c = confirm(true, false);
        assert_eq!(c.verdict, ConfirmVerdict::Confirmed);
        assert!(c.agrees);
        assert!(c.contradicted.is_empty());
        assert_eq!(c.time_to_confirmed_s, Some(1400.0));
        assert_eq!(c.steps[1].cronjobs, 46);
        assert_eq!(c.steps[1].rate_per_minute, 46.0);
        assert!(!c.steps[1].must_hold && !c.steps[1].held && c.steps[1].agrees);
    }

    #[test]
    fn either_side_disagreeing_contradicts_and_names_the_side() {
        let failed_limit = confirm(false, false);
        assert_eq!(failed_limit.verdict, ConfirmVerdict::Contradicted);
        assert!(!failed_limit.agrees);
        assert_eq!(failed_limit.contradicted, vec![Side::Limit]);
        assert_eq!(failed_limit.time_to_confirmed_s, None);
        assert_eq!(failed_limit.finished_s, Some(1400.0));
        assert_eq!(confirm(true, true).contradicted, vec![Side::Above]);
        assert_eq!(
            confirm(false, true).contradicted,
            vec![Side::Limit, Side::Above]
        );
    }

    #[test]
    fn no_limit_means_no_step_and_says_so() {
        assert!(Confirmation::loads(None).is_empty());
        let c = Confirmation::planned(10, None);
        assert_eq!(c.verdict, ConfirmVerdict::NoLimit);
        assert!(!c.agrees && c.steps.is_empty());
    }
}

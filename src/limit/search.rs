//! The search itself, as a pure state machine: it never sleeps, never talks to a cluster and
//! never reads a clock. The driver holds a step at the load [`Action::Hold`] names, judges it,
//! and feeds the verdict back with [`Search::step`].
//!
//! Ramp: multiply the load by `factor` while steps are sustainable. Narrow: between the last
//! sustainable and the first unsustainable load until `(hi - lo) / lo <= precision` (or the
//! interval is one CronJob wide). Either phase ends when the next step would not fit in the
//! remaining time budget, or when the ramp reaches `max_cronjobs`.
//!
//! Narrowing is guided by the overload itself: an unsustainable step reports the rate at which
//! its runs did start on time, which under overload is close to the capacity (measured: 140
//! per minute offered 200, for a limit of 137). The next probe sits just below that estimate;
//! when it holds, the probe after it sits at the precision's edge above it, so that a failure
//! there ends the search. Without an estimate inside the interval, it bisects.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Search parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SearchConfig {
    /// Load of the first step (every-minute CronJobs = offered jobs per minute).
    pub start: u32,
    /// Ramp factor (> 1).
    pub factor: f64,
    /// Relative width of the bracketing interval at which the search stops.
    pub precision: f64,
    /// The ramp never offers more than this.
    pub max_cronjobs: u32,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            start: 50,
            factor: 2.0,
            precision: 0.10,
            max_cronjobs: 5000,
        }
    }
}

/// What the driver learned from one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// The load the step held.
    pub cronjobs: u32,
    pub sustainable: bool,
    /// For an unsustainable step: the rate (jobs per minute) at which runs did start on time.
    /// Under overload this is close to the capacity, so it is a better next probe than a
    /// midpoint.
    pub achieved_per_minute: Option<f64>,
    /// Time left in the budget now.
    pub remaining: Duration,
    /// How long the next step is expected to take (alignment, hold, analysis).
    pub next_step: Duration,
}

/// Where the search is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Nothing observed yet; the first step holds `start`.
    Start,
    /// Growing the load; `last_ok` is the highest sustainable load so far.
    Ramp { last_ok: Option<u32>, current: u32 },
    /// Narrowing `[lo, hi)`: `lo` held (0: nothing held yet), `hi` did not; `current` is
    /// being probed.
    Bisect { lo: u32, hi: u32, current: u32 },
    /// Finished.
    Done(Outcome),
}

/// Why the search stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The interval is within the precision.
    Converged,
    /// The next step would not fit in the time budget.
    Budget,
    /// The ramp reached `max_cronjobs` and it held.
    Ceiling,
    /// Even the first step was unsustainable and one CronJob is the floor.
    Floor,
    /// The search was interrupted (Ctrl-C or an error) before it finished.
    Interrupted,
}

impl StopReason {
    /// What stopped the search, in words.
    pub fn describe(self) -> &'static str {
        match self {
            StopReason::Converged => "converged",
            StopReason::Budget => "time budget reached",
            StopReason::Ceiling => "held at --max-cronjobs",
            StopReason::Floor => "even the first step failed",
            StopReason::Interrupted => "interrupted",
        }
    }
}

/// What the search found: the highest sustainable load and the lowest unsustainable one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outcome {
    /// Highest load that held (`None`: none did).
    pub sustainable: Option<u32>,
    /// Lowest load that did not hold (`None`: every step held).
    pub unsustainable: Option<u32>,
    pub reason: StopReason,
}

/// What the driver should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Bring the load to `cronjobs` and hold a step.
    Hold { cronjobs: u32 },
    /// Stop; the outcome is final.
    Finish(Outcome),
}

/// The search state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub config: SearchConfig,
    pub state: State,
    /// The capacity estimate from the last unsustainable step, until a probe guided by it
    /// holds twice (then it is stale: the capacity is above it).
    estimate: Option<f64>,
}

impl Search {
    pub fn new(config: SearchConfig) -> Search {
        Search {
            config,
            state: State::Start,
            estimate: None,
        }
    }

    /// The first action: hold the start load, unless the budget cannot fit one step.
    pub fn begin(&mut self, remaining: Duration, next_step: Duration) -> Action {
        if remaining < next_step {
            return self.finish(None, None, StopReason::Budget);
        }
        let current = self.config.start.clamp(1, self.config.max_cronjobs.max(1));
        self.state = State::Ramp {
            last_ok: None,
            current,
        };
        Action::Hold { cronjobs: current }
    }

    /// Feeds the verdict of the step just held and returns what to do next.
    pub fn step(&mut self, obs: Observation) -> Action {
        let (lo, hi) = match &self.state {
            State::Start => return self.begin(obs.remaining, obs.next_step),
            State::Done(o) => return Action::Finish(*o),
            State::Ramp { last_ok, current } => {
                if obs.sustainable {
                    (Some(*current), None)
                } else {
                    (*last_ok, Some(*current))
                }
            }
            State::Bisect { lo, hi, current } => {
                if obs.sustainable {
                    (Some(*current), Some(*hi))
                } else {
                    ((*lo > 0).then_some(*lo), Some(*current))
                }
            }
        };
        let ramping = matches!(self.state, State::Ramp { .. }) && obs.sustainable;
        let next = match (lo, hi) {
            (Some(lo), None) if ramping => {
                if lo >= self.config.max_cronjobs {
                    return self.finish(Some(lo), None, StopReason::Ceiling);
                }
                let grown = (f64::from(lo) * self.config.factor.max(1.01)).round() as u32;
                let next = grown.max(lo + 1).min(self.config.max_cronjobs);
                if obs.remaining < obs.next_step {
                    return self.finish(Some(lo), None, StopReason::Budget);
                }
                self.state = State::Ramp {
                    last_ok: Some(lo),
                    current: next,
                };
                return Action::Hold { cronjobs: next };
            }
            (lo, Some(hi)) => {
                let floor = lo.unwrap_or(0);
                if converged(floor, hi, self.config.precision) {
                    let reason = if lo.is_none() {
                        StopReason::Floor
                    } else {
                        StopReason::Converged
                    };
                    return self.finish(lo, Some(hi), reason);
                }
                if obs.remaining < obs.next_step {
                    return self.finish(lo, Some(hi), StopReason::Budget);
                }
                let guided = if obs.sustainable {
                    // The estimate served once; the edge probe is its last use.
                    self.estimate
                        .take()
                        .filter(|&e| obs.cronjobs >= guess(e))
                        .map(|_| edge(floor, self.config.precision))
                } else {
                    self.estimate = obs.achieved_per_minute.filter(|e| e.is_finite());
                    self.estimate.map(guess)
                };
                probe(floor, hi, guided)
            }
            // A sustainable bisect step always leaves `hi` set; ramp with no `hi` is above.
            (lo, None) => return self.finish(lo, None, StopReason::Ceiling),
        };
        self.state = State::Bisect {
            lo: lo.unwrap_or(0),
            hi: hi.unwrap_or(next),
            current: next,
        };
        Action::Hold { cronjobs: next }
    }

    /// Ends the search early (Ctrl-C, an error) with what it has learned.
    pub fn interrupt(&mut self) -> Outcome {
        let (lo, hi) = self.bounds();
        let o = Outcome {
            sustainable: lo,
            unsustainable: hi,
            reason: StopReason::Interrupted,
        };
        self.state = State::Done(o);
        o
    }

    /// The bracketing loads known so far.
    pub fn bounds(&self) -> (Option<u32>, Option<u32>) {
        match &self.state {
            State::Start => (None, None),
            State::Ramp { last_ok, .. } => (*last_ok, None),
            State::Bisect { lo, hi, .. } => ((*lo > 0).then_some(*lo), Some(*hi)),
            State::Done(o) => (o.sustainable, o.unsustainable),
        }
    }

    fn finish(&mut self, lo: Option<u32>, hi: Option<u32>, reason: StopReason) -> Action {
        let o = Outcome {
            sustainable: lo,
            unsustainable: hi,
            reason,
        };
        self.state = State::Done(o);
        Action::Finish(o)
    }
}

/// Whether `[lo, hi)` is narrow enough: one CronJob wide, or relatively within `precision`.
pub fn converged(lo: u32, hi: u32, precision: f64) -> bool {
    hi <= lo + 1 || (lo > 0 && f64::from(hi - lo) / f64::from(lo) <= precision)
}

/// A probe just below a capacity estimate, so that it is likely to hold.
fn guess(estimate: f64) -> u32 {
    (estimate * 0.97).floor().max(0.0) as u32
}

/// The load at the precision's edge above `lo`: if it fails, the search has converged.
fn edge(lo: u32, precision: f64) -> u32 {
    lo + (f64::from(lo) * precision).floor().max(1.0) as u32
}

/// The next load to try strictly inside `(lo, hi)`: the guided one when it is inside, else the
/// midpoint.
fn probe(lo: u32, hi: u32, guided: Option<u32>) -> u32 {
    let mid = lo + (hi - lo) / 2;
    guided
        .filter(|&n| n > lo && n < hi)
        .unwrap_or(mid)
        .clamp(lo + 1, hi.saturating_sub(1).max(lo + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOTS: Duration = Duration::from_secs(3600);
    const STEP: Duration = Duration::from_secs(180);

    fn obs(cronjobs: u32, sustainable: bool) -> Observation {
        Observation {
            cronjobs,
            sustainable,
            achieved_per_minute: None,
            remaining: LOTS,
            next_step: STEP,
        }
    }

    /// Drives a search against a cluster whose true capacity is `capacity` CronJobs.
    fn run_against(config: SearchConfig, capacity: u32) -> (Outcome, Vec<u32>) {
        let mut s = Search::new(config);
        let mut held = Vec::new();
        let mut action = s.begin(LOTS, STEP);
        loop {
            match action {
                Action::Hold { cronjobs } => {
                    held.push(cronjobs);
                    assert!(held.len() < 50, "search does not terminate: {held:?}");
                    action = s.step(obs(cronjobs, cronjobs <= capacity));
                }
                Action::Finish(o) => return (o, held),
            }
        }
    }

    #[test]
    fn ramps_geometrically_then_bisects_to_the_precision() {
        let (o, held) = run_against(SearchConfig::default(), 180);
        assert_eq!(&held[..3], &[50, 100, 200]);
        assert_eq!(o.reason, StopReason::Converged);
        let (lo, hi) = (o.sustainable.unwrap(), o.unsustainable.unwrap());
        assert!(lo <= 180 && hi > 180, "{lo}..{hi} must bracket 180");
        assert!(f64::from(hi - lo) / f64::from(lo) <= 0.10);
        // 100..200 halves to within 10 % in 3 bisections.
        assert_eq!(held.len(), 6, "{held:?}");
    }

    #[test]
    fn the_bracket_always_holds_the_true_capacity() {
        for capacity in [1, 7, 49, 50, 51, 99, 123, 180, 333, 1999] {
            let (o, _) = run_against(SearchConfig::default(), capacity);
            let lo = o.sustainable.unwrap_or(0);
            let hi = o.unsustainable.unwrap();
            assert!(lo <= capacity && capacity < hi, "{capacity}: {o:?}");
            assert!(converged(lo, hi, 0.10), "{capacity}: {o:?}");
        }
    }

    #[test]
    fn an_unsustainable_first_step_bisects_below_it() {
        let (o, held) = run_against(
            SearchConfig {
                start: 10,
                ..SearchConfig::default()
            },
            3,
        );
        assert_eq!(held[0], 10);
        assert_eq!(held[1], 5);
        assert_eq!(o.sustainable, Some(3));
        assert_eq!(o.unsustainable, Some(4));
    }

    #[test]
    fn nothing_sustainable_stops_at_the_floor() {
        let (o, held) = run_against(
            SearchConfig {
                start: 4,
                ..SearchConfig::default()
            },
            0,
        );
        assert_eq!(held, vec![4, 2, 1]);
        assert_eq!(o.sustainable, None);
        assert_eq!(o.unsustainable, Some(1));
        assert_eq!(o.reason, StopReason::Floor);
    }

    #[test]
    fn the_ramp_stops_at_the_ceiling() {
        let (o, held) = run_against(
            SearchConfig {
                start: 50,
                max_cronjobs: 300,
                ..SearchConfig::default()
            },
            10_000,
        );
        assert_eq!(held, vec![50, 100, 200, 300]);
        assert_eq!(o.sustainable, Some(300));
        assert_eq!(o.unsustainable, None);
        assert_eq!(o.reason, StopReason::Ceiling);
    }

    /// Drives a search against a cluster of capacity `capacity` whose overloaded steps start
    /// `achieved(offered)` runs per minute on time.
    fn run_guided(capacity: u32, achieved: impl Fn(u32) -> f64) -> (Outcome, Vec<u32>) {
        let mut s = Search::new(SearchConfig::default());
        let mut held = Vec::new();
        let mut action = s.begin(LOTS, STEP);
        while let Action::Hold { cronjobs } = action {
            held.push(cronjobs);
            assert!(held.len() < 50, "search does not terminate: {held:?}");
            let ok = cronjobs <= capacity;
            action = s.step(Observation {
                achieved_per_minute: (!ok).then(|| achieved(cronjobs)),
                ..obs(cronjobs, ok)
            });
        }
        let Action::Finish(o) = action else {
            unreachable!()
        };
        (o, held)
    }

    #[test]
    fn the_overload_rate_guides_the_next_probes() {
        // As measured with default controller-manager settings: 200 offered, 140 on time.
        let (o, held) = run_guided(137, |_| 140.0);
        assert_eq!(held, vec![50, 100, 200, 135, 148]);
        assert_eq!((o.sustainable, o.unsustainable), (Some(135), Some(148)));
        assert_eq!(o.reason, StopReason::Converged);
        // The raised settings: 800 offered, 533 on time.
        let (o, held) = run_guided(520, |_| 533.0);
        assert_eq!(held, vec![50, 100, 200, 400, 800, 517, 568]);
        assert!(converged(
            o.sustainable.unwrap(),
            o.unsustainable.unwrap(),
            0.10
        ));
    }

    #[test]
    fn a_wrong_estimate_costs_steps_but_never_the_bracket() {
        for capacity in [7, 49, 123, 180, 333, 1999] {
            for factor in [0.2, 0.9, 1.0, 1.3, 5.0] {
                let (o, held) = run_guided(capacity, |_| f64::from(capacity) * factor);
                let lo = o.sustainable.unwrap_or(0);
                let hi = o.unsustainable.unwrap();
                assert!(
                    lo <= capacity && capacity < hi,
                    "{capacity} x{factor}: {held:?}"
                );
                assert!(converged(lo, hi, 0.10), "{capacity} x{factor}: {held:?}");
            }
        }
    }

    #[test]
    fn an_estimate_below_what_held_bisects() {
        let mut s = Search::new(SearchConfig::default());
        s.state = State::Bisect {
            lo: 400,
            hi: 800,
            current: 800,
        };
        let a = s.step(Observation {
            achieved_per_minute: Some(300.0),
            ..obs(800, false)
        });
        assert_eq!(a, Action::Hold { cronjobs: 600 });
    }

    #[test]
    fn the_budget_ends_the_search_with_what_it_knows() {
        let mut s = Search::new(SearchConfig::default());
        assert_eq!(s.begin(LOTS, STEP), Action::Hold { cronjobs: 50 });
        let a = s.step(Observation {
            remaining: Duration::from_secs(100),
            ..obs(50, true)
        });
        assert_eq!(
            a,
            Action::Finish(Outcome {
                sustainable: Some(50),
                unsustainable: None,
                reason: StopReason::Budget,
            })
        );
        // No room for even one step.
        let mut s = Search::new(SearchConfig::default());
        assert!(matches!(
            s.begin(Duration::from_secs(10), STEP),
            Action::Finish(Outcome {
                reason: StopReason::Budget,
                ..
            })
        ));
    }

    #[test]
    fn interrupting_keeps_the_bracket() {
        let mut s = Search::new(SearchConfig::default());
        s.begin(LOTS, STEP);
        s.step(obs(50, true));
        s.step(obs(100, false));
        let o = s.interrupt();
        assert_eq!(o.sustainable, Some(50));
        assert_eq!(o.unsustainable, Some(100));
        assert_eq!(o.reason, StopReason::Interrupted);
        assert_eq!(s.step(obs(75, true)), Action::Finish(o));
    }

    #[test]
    fn the_state_round_trips_through_json() {
        let mut s = Search::new(SearchConfig::default());
        s.begin(LOTS, STEP);
        s.step(obs(50, true));
        s.step(obs(100, false));
        let json = serde_json::to_string(&s.state).unwrap();
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s.state);
    }
}

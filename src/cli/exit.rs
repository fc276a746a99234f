//! The one place that turns a command's outcome into the process exit code.
//!
//! | outcome             | code | when                                                          |
//! |---------------------|------|---------------------------------------------------------------|
//! | [`Outcome::Pass`]   | 0    | verdict passed, target met, lint clean, bench.json complete,  |
//! |                     |      | cluster up/down done, status: every component running         |
//! | [`Outcome::Missed`] | 1    | a target or SLO missed, lint problems, a regression, a limit  |
//! |                     |      | below target or undecided, status: not up or a component down |
//! | [`Outcome::Error`]  | 2    | an error (any `Err` of a command), an interrupted run, a run  |
//! |                     |      | or sweep that ended early, bench.json incomplete              |
//! | [`Outcome::Contradicted`] | 3 | find-limit --confirm: the limit did not hold for longer, |
//! |                     |      | or 1.15x it held: the search's answer is wrong                |

use std::process::ExitCode;

/// What a command came to, before it is a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Missed,
    Error,
    /// A measured answer its own check refuted (find-limit's confirmation).
    Contradicted,
}

impl Outcome {
    /// `Pass` when `ok`, else `Missed`.
    pub fn pass_if(ok: bool) -> Outcome {
        if ok { Outcome::Pass } else { Outcome::Missed }
    }

    pub fn code(self) -> u8 {
        match self {
            Outcome::Pass => 0,
            Outcome::Missed => 1,
            Outcome::Error => 2,
            Outcome::Contradicted => 3,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> ExitCode {
        ExitCode::from(outcome.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    /// The codes README and scripts rely on.
    #[test]
    fn codes_are_the_documented_ones() {
        assert_eq!(Outcome::Pass.code(), 0);
        assert_eq!(Outcome::Missed.code(), 1);
        assert_eq!(Outcome::Error.code(), 2);
        assert_eq!(Outcome::Contradicted.code(), 3);
        assert_eq!(Outcome::pass_if(true), Outcome::Pass);
        assert_eq!(Outcome::pass_if(false), Outcome::Missed);
    }
}

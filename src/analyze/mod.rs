//! Analysis of an event log: a pure function of `events.jsonl`.

//! Snapshot tests of the command line's output (DESIGN.md asks for them): every `--help`, and
//! the README's command lines that need no cluster, with their exit codes. The cases are
//! tests/cmd/*.toml; `TRYCMD=overwrite cargo test --test cli_snapshots` rewrites the snapshots
//! (create empty `.stdout`/`.stderr` files for a new case first: only existing ones are rewritten).
//! `analyze` writes results.json beside the log, so its case runs in a sandbox copied from
//! tests/cmd/analyze-healthy.in/, whose events.jsonl is a copy of tests/fixtures/healthy.jsonl.

#[test]
fn cli_snapshots() {
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}

//! Snapshot tests of the command line's output (DESIGN.md asks for them): every `--help`, and
//! the README's command lines that need no cluster, with their exit codes. The cases are
//! tests/cmd/*.toml; `TRYCMD=overwrite cargo test --test cli_snapshots` rewrites the snapshots.

#[test]
fn cli_snapshots() {
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}

//! Bakes the git commit of the checkout into the binary (CRONBENCH_GIT_COMMIT) so that each
//! run's metadata says which build made it. Outside a checkout, or without git, it is left
//! empty; the build never fails over it.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_default();
    // --no-optional-locks: a plain `git status` refreshes and rewrites .git/index (always in a
    // fresh clone), which the rerun-if-changed above then takes for a change: the next build
    // ran this script again and recompiled the crate (CI's second release build, 2 min 33 s).
    let dirty = git(&[
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--untracked-files=no",
    ])
    .is_some_and(|s| !s.is_empty());
    let value = match (commit.is_empty(), dirty) {
        (true, _) => String::new(),
        (false, true) => format!("{commit}+dirty"),
        (false, false) => commit,
    };
    println!("cargo:rustc-env=CRONBENCH_GIT_COMMIT={value}");
}

//! `cronbench import --jobs-dir`: a folder of job definitions (the simple format, see
//! `scenario::jobdefs`) as a scenario with `load.classes`. Each definition is made into the
//! CronJob a run would create and read back as the live import reads one, so definitions with
//! the same schedule, zone and resources become one class; `--scale K` multiplies the counts.
//! Commands are never copied.

use std::path::{Path, PathBuf};

use super::ImportError;
use super::cluster::{ImportedFleet, scenario_path, write_classes};
use super::fleet::Fleet;
use crate::scenario::{Scenario, ScenarioError, jobdefs};

/// Reads every definition in `dir` and writes the scenario to `out` (a .yaml file, or a folder
/// for scenario.yaml; never overwritten).
pub fn from_jobs_dir(
    dir: &Path,
    out: &Path,
    scale: u32,
    name: &str,
) -> Result<ImportedFleet, ImportError> {
    super::check_scale(scale)?;
    if !dir.is_dir() {
        return Err(ImportError::NoDefinitions(dir.to_path_buf()));
    }
    let files = jobdefs::list_dir(dir)?;
    if files.is_empty() {
        return Err(ImportError::NoDefinitions(dir.to_path_buf()));
    }
    let loaded = jobdefs::load_files(&files)?;
    if !loaded.problems.is_empty() {
        return Err(ScenarioError::Invalid {
            path: dir.to_path_buf(),
            problems: loaded.problems,
        }
        .into());
    }
    let plain = Scenario::default();
    let mut fleet = Fleet::default();
    for (def, place) in &loaded.defs {
        let mut cj = crate::workload::cronjob(&plain, def, "import")
            .map_err(|e| ImportError::Cluster(format!("{place}: {e}")))?;
        // Class comments name a definition by its file, as a live CronJob by its namespace.
        cj.metadata.namespace = Some(file_stem(&place.file));
        fleet.add(&cj)?;
    }
    let header = format!(
        "# Imported by `cronbench import --jobs-dir {}`:\n\
         # {} job definition(s) in {} class(es) of identical settings, each count x{scale} \
         (--scale).\n",
        dir.display(),
        fleet.total,
        fleet.groups.len(),
    );
    let scenario = scenario_path(out);
    let never = || ImportError::NoDefinitions(dir.to_path_buf());
    write_classes(&fleet, &header, name, scale, &scenario, never)
}

fn file_stem(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| PathBuf::from(file).display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cb-jobdir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_example_folder_becomes_classes_that_lint_without_its_commands() {
        let out = scratch("example");
        let done =
            from_jobs_dir(Path::new("scenarios/jobs-example"), &out, 3, "ours").expect("import");
        assert_eq!((done.read, done.classes, done.cronjobs), (4, 4, 12));
        let text = std::fs::read_to_string(&done.scenario).expect("written");
        assert!(
            !text.contains("ruby") && !text.contains("billing_export"),
            "{text}"
        );
        assert!(text.contains("count: 3"), "{text}");
        let report = crate::scenario::lint(&done.scenario).expect("lint");
        assert!(report.is_ok(), "{report}");
        // Never overwritten.
        let again = from_jobs_dir(Path::new("scenarios/jobs-example"), &out, 3, "ours");
        assert!(
            matches!(again, Err(ImportError::ExistsFile(_))),
            "{again:?}"
        );
        let _ = std::fs::remove_dir_all(&out);
    }

    #[test]
    fn an_empty_folder_is_refused_naming_it() {
        let dir = scratch("empty");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let e = from_jobs_dir(&dir, &dir.join("out"), 1, "x").expect_err("empty");
        assert!(e.to_string().contains("no *.yaml or *.yml"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

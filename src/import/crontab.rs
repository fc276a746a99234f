//! Reading a crontab (the user format of `crontab -l`: `NAME=value` lines, comments, and
//! `<5 fields or @macro> <command>` lines) into CronJob definitions.
//!
//! Only the timing is kept: the schedule, and the zone of a `CRON_TZ=` or `TZ=` line above it
//! (cronie reads both). Commands are never copied: a crontab's commands hold paths, hosts and
//! sometimes secrets, and on kwok nodes nothing runs anyway; each CronJob gets a placeholder.

use std::path::{Path, PathBuf};

use crate::scenario::{CronJobDef, parse_schedule, time_zone};

/// The command every imported CronJob runs.
pub const PLACEHOLDER_COMMAND: [&str; 3] = ["bash", "-c", "echo hello world"];
/// Most lines read from one crontab (a crontab is a few hundred lines at most).
pub const MAX_LINES: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum CrontabError {
    #[error("{}:{line}: {problem}", .path.display())]
    Line {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    #[error(
        "{} has no schedule lines (only comments, blank lines or NAME=value); pass the file \
         `crontab -l` prints",
        .0.display()
    )]
    Empty(PathBuf),
    #[error(
        "{} has over {MAX_LINES} lines; a crontab is a few hundred at most: pass the right file",
        .0.display()
    )]
    TooLong(PathBuf),
}

/// One schedule line of a crontab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    pub schedule: String,
    pub time_zone: Option<String>,
    /// The command's first word without its folder (`/usr/bin/backup.sh` -> `backup.sh`), for
    /// the CronJob's name only.
    pub program: String,
}

/// The schedule lines of `text`, read from `path` (named in errors).
pub fn parse(text: &str, path: &Path) -> Result<Vec<Entry>, CrontabError> {
    let mut zone: Option<String> = None;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if i >= MAX_LINES {
            return Err(CrontabError::TooLong(path.to_path_buf()));
        }
        let at = |problem: String| CrontabError::Line {
            path: path.to_path_buf(),
            line: i + 1,
            problem,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((name, value)) = assignment(line) {
            if name == "CRON_TZ" || name == "TZ" {
                let value = value.trim_matches(|c| c == '"' || c == '\'');
                time_zone(value).map_err(|e| at(format!("{name}={value}: {e}")))?;
                zone = Some(value.to_string());
            }
            continue;
        }
        let (schedule, command) = split_schedule(line).ok_or_else(|| {
            at(
                "a schedule line needs 5 time fields (or an @macro) and a command; fix or \
                comment out the line"
                    .to_string(),
            )
        })?;
        if schedule == "@reboot" {
            return Err(at(
                "@reboot runs once at boot and has no CronJob equivalent; remove the line or \
                 comment it out"
                    .to_string(),
            ));
        }
        parse_schedule(&schedule).map_err(|e| at(e.to_string()))?;
        out.push(Entry {
            line: i + 1,
            schedule,
            time_zone: zone.clone(),
            program: program(command),
        });
    }
    if out.is_empty() {
        return Err(CrontabError::Empty(path.to_path_buf()));
    }
    Ok(out)
}

/// `NAME=value`, where NAME is a shell variable name (a schedule line never starts so).
fn assignment(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once('=')?;
    let name = name.trim();
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    ok.then_some((name, value.trim()))
}

/// The schedule (5 fields, or one @macro) and the rest of the line.
fn split_schedule(line: &str) -> Option<(String, &str)> {
    let fields = if line.starts_with('@') { 1 } else { 5 };
    let mut rest = line;
    let mut parts = Vec::with_capacity(fields);
    for _ in 0..fields {
        let start = rest.trim_start();
        let end = start.find(char::is_whitespace)?;
        parts.push(&start[..end]);
        rest = &start[end..];
    }
    let command = rest.trim();
    (!command.is_empty()).then(|| (parts.join(" "), command))
}

fn program(command: &str) -> String {
    let first = command.split_whitespace().next().unwrap_or_default();
    first.rsplit('/').next().unwrap_or(first).to_string()
}

/// The CronJob definitions for `entries`, each `scale` times: names are `cron-<program>-<line>`
/// (and `-<copy>` when scaled), DNS labels of at most 52 characters, unique.
pub fn definitions(entries: &[Entry], scale: u32) -> Vec<CronJobDef> {
    let mut out = Vec::with_capacity(entries.len() * scale as usize);
    for e in entries {
        let stem = label(&e.program);
        for copy in 0..scale {
            let suffix = if scale > 1 {
                format!("-{}-{copy}", e.line)
            } else {
                format!("-{}", e.line)
            };
            // "cron-" + stem + suffix <= 52; the suffix keeps names unique.
            let room = 52usize.saturating_sub(5 + suffix.len());
            let stem: String = stem.chars().take(room).collect();
            let stem = stem.trim_end_matches('-');
            out.push(CronJobDef {
                name: format!("cron-{stem}{suffix}"),
                schedule: e.schedule.clone(),
                time_zone: e.time_zone.clone(),
                command: PLACEHOLDER_COMMAND.iter().map(|s| s.to_string()).collect(),
                resources: Default::default(),
                defined_in: None,
                class: None,
            });
        }
    }
    out
}

/// `s` as lowercase letters, digits and single dashes ("job" when nothing is left).
pub(super) fn label(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "job".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_or_odd_program_name_gives_a_dns_label_of_at_most_52_characters() {
        let long = format!("/opt/{}.SH --x", "Very_Long_Program_Name".repeat(5));
        let text = format!("0 3 * * * {long}\n*/5 * * * * ./--\n");
        let entries = parse(&text, Path::new("crontab")).expect("parses");
        let defs = definitions(&entries, 1000);
        assert_eq!(defs.len(), 2000);
        for d in &defs {
            assert!(d.name.len() <= 52, "{}", d.name);
            assert!(
                crate::scenario::validate::name_problems(&d.name).is_empty(),
                "{}",
                d.name
            );
        }
        assert_eq!(
            defs[0].name,
            "cron-very-long-program-namevery-long-program-nam-1-0"
        );
        assert_eq!(defs[1000].name, "cron-job-2-0");
    }
}

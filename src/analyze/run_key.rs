//! A Job's run key, (CronJob, scheduled time): from the scheduled annotation, or else from the
//! Job name the CronJob controller gives (`{cronjob}-{unix minutes}`).

use super::runs::{JobState, Oddities};

/// `(cronjob, scheduled_ms)` from a Job name `{cronjob}-{unix minutes}`.
fn split_job_name(name: &str) -> Option<(&str, i64)> {
    let (prefix, suffix) = name.rsplit_once('-')?;
    if prefix.is_empty() || suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let minutes: i64 = suffix.parse().ok()?;
    Some((prefix, minutes.checked_mul(60_000)?))
}

/// Why a Job's key is what it is, or why it has none.
enum KeyOf<'a> {
    Key {
        cronjob: &'a str,
        scheduled_ms: i64,
        /// The annotation and the name disagree (the annotation wins).
        mismatch: bool,
    },
    NoSchedule,
}

/// A Job's run: its CronJob and scheduled time, from the annotation or the name.
fn key_of<'a>(name: &'a str, job: &'a JobState) -> KeyOf<'a> {
    let from_name = split_job_name(name);
    let (scheduled_ms, mismatch) = match (job.annotation_ms, from_name) {
        (Some(ann), Some((_, by_name))) => (ann, ann != by_name),
        (Some(ann), None) => (ann, false),
        (None, Some((_, by_name))) => (by_name, false),
        (None, None) => return KeyOf::NoSchedule,
    };
    match job.cronjob.as_deref().or(from_name.map(|(c, _)| c)) {
        Some(cronjob) => KeyOf::Key {
            cronjob,
            scheduled_ms,
            mismatch,
        },
        None => KeyOf::NoSchedule,
    }
}

/// Like [`key_of`], counting the Jobs without a key and the disagreeing annotations: called
/// once per Job, when its run is handed on.
pub(super) fn counted_key_of<'a>(
    name: &'a str,
    job: &'a JobState,
    odd: &mut Oddities,
) -> Option<(&'a str, i64)> {
    match key_of(name, job) {
        KeyOf::Key {
            cronjob,
            scheduled_ms,
            mismatch,
        } => {
            odd.schedule_name_mismatch += u64::from(mismatch);
            Some((cronjob, scheduled_ms))
        }
        KeyOf::NoSchedule => {
            odd.jobs_without_schedule += 1;
            None
        }
    }
}

pub(super) fn known_key<'a>(name: &'a str, job: &'a JobState) -> Option<(&'a str, i64)> {
    match key_of(name, job) {
        KeyOf::Key {
            cronjob,
            scheduled_ms,
            ..
        } => Some((cronjob, scheduled_ms)),
        KeyOf::NoSchedule => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_name_suffix_is_the_scheduled_minute() {
        assert_eq!(
            split_job_name("cb-00001-29453760"),
            Some(("cb-00001", 29_453_760 * 60_000))
        );
        assert_eq!(split_job_name("nosuffix-abc"), None);
        assert_eq!(split_job_name("-12"), None);
    }
}

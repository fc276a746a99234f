//! Runs handed on before their objects are gone.
//!
//! A run is over once its Job has finished and every Pod the Job counted is in a terminal
//! phase; the history limit deletes the objects much later, and hourly or daily Jobs outlive
//! most logs. Keeping every such run until its deletion made analysis memory grow with the
//! log (a 50,000-CronJob fleet held ~1.5 KB per finished run). A retired run's later lines
//! (status resends, then the deletions) belong to no run: [`Retired`] names the Jobs and Pods
//! to ignore, and forgets each Job once it and its Pods are seen deleted, so what it holds is
//! bounded by the Jobs still in the cluster, not by the log's length.

use super::NameIndex;

/// What is left of one retired Job: whether it was seen deleted, and its Pods not yet seen
/// deleted.
#[derive(Debug, Default)]
struct Tombstone {
    job_deleted: bool,
    pods: Vec<String>,
}

impl Tombstone {
    fn gone(&self) -> bool {
        self.job_deleted && self.pods.is_empty()
    }
}

/// The retired Jobs whose objects may still send lines.
#[derive(Debug, Default)]
pub(super) struct Retired {
    /// IndexMap for the same reason as the runs in flight: entries come and go all log long.
    jobs: NameIndex<String, Tombstone>,
}

impl Retired {
    /// Remembers `job`, retired while it or some of `pods_alive` may still send lines.
    pub fn retire(&mut self, job: &str, job_deleted: bool, pods_alive: Vec<String>) {
        let t = Tombstone {
            job_deleted,
            pods: pods_alive,
        };
        if !t.gone() {
            self.jobs.insert(job.to_string(), t);
        }
    }

    /// Whether a line of Job `name` belongs to a retired run (then it is to be ignored);
    /// a deletion is noted.
    pub fn job_line(&mut self, name: &str, deleted: bool) -> bool {
        let Some(t) = self.jobs.get_mut(name) else {
            return false;
        };
        t.job_deleted |= deleted;
        self.forget_if_gone(name);
        true
    }

    /// Whether a line of Pod `pod` of Job `job` belongs to a retired run; a deletion is noted.
    pub fn pod_line(&mut self, job: &str, pod: &str, deleted: bool) -> bool {
        let Some(t) = self.jobs.get_mut(job) else {
            return false;
        };
        if deleted {
            t.pods.retain(|p| p != pod);
        }
        self.forget_if_gone(job);
        true
    }

    /// Forgets `job` once it and its Pods are seen deleted.
    fn forget_if_gone(&mut self, job: &str) {
        if self.jobs.get(job).is_some_and(Tombstone::gone) {
            self.jobs.swap_remove(job);
        }
    }

    /// Retired Jobs still remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.jobs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retired_job_is_forgotten_once_it_and_its_pods_are_seen_deleted() {
        let mut r = Retired::default();
        r.retire("cb-1", false, vec!["cb-1-a".into()]);
        assert!(r.pod_line("cb-1", "cb-1-a", false), "a resend is ignored");
        assert!(r.job_line("cb-1", true));
        assert_eq!(r.len(), 1, "its pod is still there");
        assert!(r.pod_line("cb-1", "cb-1-a", true));
        assert_eq!(r.len(), 0);
        assert!(
            !r.job_line("cb-1", false),
            "a new Job of that name is a new object"
        );
    }

    #[test]
    fn a_job_retired_with_everything_deleted_is_not_remembered() {
        let mut r = Retired::default();
        r.retire("cb-1", true, Vec::new());
        assert_eq!(r.len(), 0);
        assert!(!r.pod_line("cb-1", "cb-1-a", true));
    }
}

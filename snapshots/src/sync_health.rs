//! What the store remembers of a failed flush or sync, and the fault hook that injects one.
//!
//! After a failed `fdatasync` the kernel may already have dropped the dirty pages it could
//! not write and marked them clean, so a later `fdatasync` can succeed although they never
//! reached the disk (PostgreSQL's "fsyncgate", 2018; since then PostgreSQL panics on an
//! fsync failure and recovers from its WAL). A retried sync proves nothing: once a flush
//! or sync of the store has failed, every later one fails with the first error. The
//! journal writer stops on it, and the server answers what is in flight and exits for its
//! supervisor to restart it (fail-stop); recovery then reads what really is on the disk.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::store::StoreError;

#[derive(Debug, Default)]
pub(crate) struct SyncHealth {
    /// The first failure, as text.
    failure: OnceLock<String>,
    /// The fault hook: 0 = none armed; n = the n-th data-file sync from arming fails.
    failing_sync_number: AtomicU64,
    syncs_since_armed: AtomicU64,
}

impl SyncHealth {
    /// Refuses a flush or sync once one has failed.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        match self.failure.get() {
            Some(failure) => Err(StoreError::SyncFailed(failure.clone())),
            None => Ok(()),
        }
    }

    /// Remembers `error` (the first one only) and hands it back.
    pub(crate) fn fail(&self, error: StoreError) -> StoreError {
        if self.failure.set(error.to_string()).is_ok() {
            tracing::error!(%error, "storage: a flush or sync failed; the store accepts no \
                                     further flush or sync (fail-stop)");
        }
        error
    }

    pub(crate) fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }

    /// Arms the fault hook: `successful_syncs` more data-file syncs succeed, the next fails.
    pub(crate) fn arm(&self, successful_syncs: u64) {
        self.syncs_since_armed.store(0, Ordering::Relaxed);
        let failing = successful_syncs.saturating_add(1);
        self.failing_sync_number.store(failing, Ordering::Relaxed);
    }

    /// The injected failure of this data-file sync, if the hook says so.
    pub(crate) fn injected_fault(&self) -> io::Result<()> {
        let failing = self.failing_sync_number.load(Ordering::Relaxed);
        if failing == 0 {
            return Ok(());
        }
        let number = self.syncs_since_armed.fetch_add(1, Ordering::Relaxed) + 1;
        if number < failing {
            return Ok(());
        }
        Err(io::Error::other(format!(
            "injected fault: data-file sync number {number} fails"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_armed_hook_fails_the_sync_after_the_given_number() {
        let health = SyncHealth::default();
        assert!(health.injected_fault().is_ok(), "not armed");
        health.arm(2);
        assert!(health.injected_fault().is_ok());
        assert!(health.injected_fault().is_ok());
        assert!(health.injected_fault().is_err());
    }

    #[test]
    fn the_first_failure_is_kept_and_refuses_everything_after() {
        let health = SyncHealth::default();
        assert!(health.check().is_ok());
        let first = StoreError::SyncFailed("first".into());
        let _ = health.fail(first);
        let _ = health.fail(StoreError::SyncFailed("second".into()));
        assert!(health.failure().is_some_and(|text| text.contains("first")));
        assert!(
            matches!(health.check(), Err(StoreError::SyncFailed(text)) if text.contains("first"))
        );
    }
}

//! Storage health as the server sees it: the free-space guard (its settings, readiness
//! and metrics) and the journal's failure (readiness, and the fail-stop of
//! `startup`). README, "Durability": "A full disk, and I/O errors".

use std::sync::Arc;
use std::time::Duration;

use playcore_snapshots::{Journal, SpaceReserve, Store, StoreError};
use serde_json::json;

use crate::config::StorageSettings;
use crate::http::error::{ApiError, ErrorCode};
use crate::telemetry::Metrics;

/// Exit code of a server whose journal failed (a write or sync error: fail-stop) or could
/// not be flushed at shutdown: `EX_TEMPFAIL` of sysexits.h. Its supervisor restarts it;
/// recovery then reads what really is on the disk.
pub const JOURNAL_FAILED_EXIT_CODE: u8 = 75;

/// After the journal failed, how long the server keeps answering (writes and readiness
/// 503 at once, reads from the durable views) before it stops accepting connections and
/// drains: long enough for a load balancer polling readiness to notice, short enough that
/// the supervisor restarts it within a second.
pub const FAIL_STOP_GRACE: Duration = Duration::from_millis(500);

/// The journal failed while serving, or could not be flushed at shutdown: the process
/// exits with [`JOURNAL_FAILED_EXIT_CODE`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("the journal failed: {0}")]
pub struct JournalFailed(pub String);

/// Starts the free-space guard on the store and, where the settings ask for it (never in
/// production), arms the sync fault hook.
pub fn start_guard(store: &Store, settings: &StorageSettings) -> Result<(), StoreError> {
    let reserve = SpaceReserve {
        bytes: settings.free_space_reserve_bytes,
        percent: settings.free_space_reserve_percent,
    };
    store.guard_space(reserve)?;
    if let Some(successful_syncs) = settings.fault_failing_sync_number.checked_sub(1) {
        store.inject_sync_failure_after(successful_syncs);
    }
    Ok(())
}

/// Why the core cannot take writes now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unready {
    /// Recovery has not finished, or shutdown has begun.
    Starting,
    /// The journal can no longer make anything durable: the process exits (fail-stop).
    JournalFailed(Arc<str>),
    /// The data directory's file system is below its free-space reserve.
    StorageFull { free_bytes: u64, reserve_bytes: u64 },
}

/// What keeps the core from taking writes, the worst first; `None` when it can.
pub fn unready(ready: bool, store: &Store, journal: &Journal) -> Option<Unready> {
    if let Some(reason) = journal.failure() {
        return Some(Unready::JournalFailed(reason));
    }
    if !ready {
        return Some(Unready::Starting);
    }
    let space = store.space();
    if space.writes_refused() {
        return Some(Unready::StorageFull {
            free_bytes: space.free_bytes(),
            reserve_bytes: space.reserve_bytes(),
        });
    }
    None
}

impl Unready {
    /// The `/readyz` reply: 503, `details.ready = false` and `details.reason`.
    pub fn error(&self) -> ApiError {
        match self {
            Unready::Starting => {
                let reason = "recovery or shutdown in progress";
                ApiError::new(ErrorCode::Overloaded, format!("not ready: {reason}"))
                    .with_details(json!({ "ready": false, "reason": reason }))
            }
            Unready::JournalFailed(failure) => {
                let reason = "journal: a write or sync failed; the server exits for a restart";
                ApiError::new(
                    ErrorCode::Overloaded,
                    format!("not ready: {reason} ({failure})"),
                )
                .with_details(json!({ "ready": false, "reason": reason }))
            }
            Unready::StorageFull {
                free_bytes,
                reserve_bytes,
            } => {
                let reason = format!(
                    "storage: free space below the reserve ({free_bytes} bytes free, reserve \
                     {reserve_bytes} bytes); writes are refused until space is freed"
                );
                ApiError::new(ErrorCode::StorageFull, format!("not ready: {reason}")).with_details(
                    json!({
                        "ready": false,
                        "reason": reason,
                        "freeBytes": free_bytes,
                        "reserveBytes": reserve_bytes,
                    }),
                )
            }
        }
    }
}

/// The guard's and the journal's health as gauges.
pub fn export_metrics(store: &Store, journal: &Journal, metrics: &Metrics) {
    let space = store.space();
    let levels = [
        (
            "playcore_storage_free_bytes",
            "free space of the data directory's file system (available to the server)",
            space.free_bytes(),
        ),
        (
            "playcore_storage_reserve_bytes",
            "free space below which writes are refused (storage.free_space_reserve_*)",
            space.reserve_bytes(),
        ),
        (
            "playcore_storage_writes_refused",
            "1 while the free-space guard refuses writes (503 STORAGE_FULL), else 0",
            u64::from(space.writes_refused()),
        ),
        (
            "playcore_storage_refusals",
            "journal entries and snapshots refused by the free-space guard since start",
            space.refusals(),
        ),
        (
            "playcore_journal_failed",
            "1 once the journal failed (a write or sync error; the server exits 75), else 0",
            u64::from(journal.failure().is_some()),
        ),
    ];
    metrics.set_levels(&levels);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_is_a_503_naming_it() {
        let full = Unready::StorageFull {
            free_bytes: 1,
            reserve_bytes: 2,
        }
        .error();
        assert_eq!(full.code(), "STORAGE_FULL");
        assert_eq!(full.status().as_u16(), 503);
        let details = full.details().expect("details");
        assert_eq!(details["ready"], false);
        assert!(details["reason"]
            .as_str()
            .is_some_and(|reason| reason.starts_with("storage: free space below the reserve")));
        let failed = Unready::JournalFailed(Arc::from("io")).error();
        assert_eq!(failed.code(), "OVERLOADED");
        assert!(failed.details().expect("details")["reason"]
            .as_str()
            .is_some_and(|reason| reason.starts_with("journal:")));
        assert_eq!(Unready::Starting.error().status().as_u16(), 503);
    }
}

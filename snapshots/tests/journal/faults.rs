//! A failed sync stops the journal (fail-stop) and answers every waiter; the free-space
//! guard refuses appends and snapshots.

use std::time::Duration;

use playcore_snapshots::{AppendError, Durability, Journal, SpaceReserve, Store, StoreError};

use crate::helpers::{append_raw, block_on, config, TestResult};

#[test]
fn a_failed_sync_fails_the_journal_and_ends_every_wait() -> TestResult {
    let directory = tempfile::tempdir()?;
    let store = Store::open(directory.path())?;
    let journal = Journal::start(store.clone(), config(Durability::Fsync, 48 * 1024), 1);
    let (first, ..) = append_raw(&journal, 1, b"durable")?;
    block_on(journal.wait_durable(first))?;
    assert!(journal.failure().is_none());

    store.inject_sync_failure_after(0);
    let (doomed, ..) = append_raw(&journal, 1, b"never acknowledged")?;
    let waited = block_on(async {
        tokio::time::timeout(Duration::from_secs(2), journal.wait_durable(doomed)).await
    })?;
    assert!(matches!(waited, Err(AppendError::Closed)), "{waited:?}");
    assert_eq!(
        journal.durable_seq(),
        first,
        "nothing past the failed sync is durable"
    );
    let reason =
        block_on(async { tokio::time::timeout(Duration::from_secs(2), journal.failed()).await })?;
    assert!(reason.contains("injected fault"), "{reason}");
    assert!(journal.failure().is_some());
    assert!(matches!(
        append_raw(&journal, 1, b"late"),
        Err(error) if matches!(error.downcast_ref(), Some(AppendError::Closed))
    ));
    assert!(journal.shutdown().is_err(), "shutdown reports the failure");
    Ok(())
}

#[test]
fn after_a_failed_sync_no_flush_or_sync_is_trusted() -> TestResult {
    let directory = tempfile::tempdir()?;
    let store = Store::open(directory.path())?;
    store.inject_sync_failure_after(1);
    store.sync(Durability::Fsync)?;
    assert!(
        store.sync(Durability::Fsync).is_err(),
        "the armed sync fails"
    );
    assert!(store.sync_failure().is_some());
    assert!(matches!(store.flush(), Err(StoreError::SyncFailed(_))));
    assert!(matches!(store.sync_files(), Err(StoreError::SyncFailed(_))));
    Ok(())
}

#[test]
fn below_the_free_space_reserve_appends_and_snapshots_are_refused() -> TestResult {
    let directory = tempfile::tempdir()?;
    let store = Store::open(directory.path())?;
    let journal = Journal::start(store.clone(), config(Durability::Fsync, 48 * 1024), 1);
    let (seq, ..) = append_raw(&journal, 1, b"before")?;
    // The whole file system as the reserve: always below it.
    store.guard_space(SpaceReserve {
        bytes: 0,
        percent: 100,
    })?;
    assert!(store.space().writes_refused());
    assert!(store.space().reserve_bytes() > store.space().free_bytes());
    let refused = journal.append(1, |buffer| {
        buffer.extend_from_slice(b"refused");
        Ok(())
    });
    assert!(
        matches!(refused, Err(AppendError::StorageFull)),
        "{refused:?}"
    );
    let snapshot = journal.append_snapshot(1, seq, b"state".to_vec());
    assert!(
        matches!(snapshot, Err(AppendError::StorageFull)),
        "{snapshot:?}"
    );
    assert_eq!(store.space().refusals(), 2);
    // What was appended before still becomes durable: the journal itself is healthy.
    block_on(journal.wait_durable(seq))?;
    assert!(journal.failure().is_none());
    // Space is back (here: the reserve is lowered): writes resume.
    store.guard_space(SpaceReserve::default())?;
    assert!(!store.space().writes_refused());
    let (after, ..) = append_raw(&journal, 1, b"after")?;
    block_on(journal.wait_durable(after))?;
    journal.shutdown()?;
    Ok(())
}

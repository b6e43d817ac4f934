use playcore_snapshots::{recover, Durability, Journal, Store};

use crate::helpers::*;

/// Header (28) + three events of 8 bytes (3 × 20): three events per record.
const THREE_EVENTS_PER_RECORD_BYTES: usize = 28 + 3 * 20;
const FLOOR_SEQ: u64 = 31;

/// A store in `directory` and its journal (fsync mode) of three events per record.
fn start_three_events_per_record(
    directory: &std::path::Path,
) -> Result<(Store, Journal), BoxError> {
    let store = Store::open(directory)?;
    let config = config(Durability::Fsync, THREE_EVENTS_PER_RECORD_BYTES);
    let journal = Journal::start(store.clone(), config, 1);
    Ok((store, journal))
}

#[test]
fn truncation_removes_only_records_entirely_below_the_floor() -> TestResult {
    let directory = tempfile::tempdir()?;
    let (store, journal) = start_three_events_per_record(directory.path())?;
    for index in 0..60_u64 {
        append_raw(&journal, index % 3, &index.to_le_bytes())?;
    }
    wait_all_durable(&journal)?;
    let keys_before = journal_keys(&store)?;
    // Record i may go only if the next record starts at or below the floor.
    let expected_keys: Vec<u64> = keys_before
        .iter()
        .enumerate()
        .filter(|(index, _)| {
            keys_before
                .get(index + 1)
                .is_none_or(|next| *next > FLOOR_SEQ)
        })
        .map(|(_, key)| *key)
        .collect();
    assert!(expected_keys.len() < keys_before.len());

    journal.truncate_below(FLOOR_SEQ);
    let removed = (keys_before.len() - expected_keys.len()) as u64;
    assert!(
        eventually(|| journal.stats().records_truncated == removed),
        "runs while idle"
    );
    assert_eq!(journal_keys(&store)?, expected_keys);
    journal.truncate_below(5); // a lower floor is ignored
    journal.shutdown()?;
    drop((journal, store));

    let recovered = recover(&Store::open(directory.path())?)?;
    let seqs: Vec<u64> = recovered.events.iter().map(|event| event.seq).collect();
    let first_seq = *expected_keys.first().ok_or("no records left")?;
    assert!(first_seq <= FLOOR_SEQ);
    assert_eq!(seqs, (first_seq..=60).collect::<Vec<_>>());
    assert_eq!(recovered.next_seq, 61);
    Ok(())
}

#[test]
fn truncation_progresses_while_appends_keep_coming() -> TestResult {
    let directory = tempfile::tempdir()?;
    let (store, journal) = start_three_events_per_record(directory.path())?;
    for index in 0..300_u64 {
        append_raw(&journal, 1, &index.to_le_bytes())?;
    }
    wait_all_durable(&journal)?;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let truncated = std::thread::scope(|scope| {
        // A steady flow with waiters expected: every batch gets a gather window, and
        // the writer is seldom idle.
        scope.spawn(|| {
            let _expected: Vec<_> = (0..64).map(|_| journal.expect_waiter()).collect();
            let mut index = 300_u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                index += 1;
                let _ = append_raw(&journal, 1, &index.to_le_bytes());
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
        });
        journal.truncate_below(250);
        let truncated = eventually(|| {
            journal_keys(&store).is_ok_and(|keys| keys.first().is_some_and(|first| *first > 240))
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        truncated
    });
    assert!(
        truncated,
        "records below the floor are deleted between batches"
    );
    journal.shutdown()?;
    Ok(())
}

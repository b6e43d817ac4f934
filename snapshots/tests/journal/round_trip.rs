use std::sync::atomic::{AtomicBool, Ordering};

use playcore_snapshots::codec::{read_journal_record, EventFrames, JOURNAL_HEADER_BYTES};
use playcore_snapshots::journal::{GROUP_COMMIT_EARLY_EVENTS_MIN, GROUP_COMMIT_EVENTS_ENOUGH};
use playcore_snapshots::{recover, AppendError, Durability, Journal, JournalConfig, Store};
use std::time::Duration;

use crate::helpers::*;

fn round_trip_in(durability: Durability) -> TestResult {
    let directory = tempfile::tempdir()?;
    let expected = with_journal(directory.path(), config(durability, 256), 1, |journal| {
        let mut expected = Vec::new();
        for _wave in 0..3 {
            expected.extend(append_many(journal, 100)?);
            wait_all_durable(journal)?;
        }
        Ok(expected)
    })?;

    let store = Store::open(directory.path())?;
    let recovered = recover(&store)?;
    assert_eq!(as_tuples(&recovered.events), expected);
    assert_eq!(recovered.next_seq, 301);
    assert_eq!(recovered.tail_cut, None);
    assert!(
        journal_keys(&store)?.len() > 3,
        "batches were split into several records"
    );
    Ok(())
}

#[test]
fn events_round_trip_across_reopen_in_fsync_mode() -> TestResult {
    round_trip_in(Durability::Fsync)
}

#[test]
fn events_round_trip_across_reopen_in_relaxed_mode() -> TestResult {
    round_trip_in(Durability::Relaxed {
        flush_interval_ms: 5,
    })
}

/// sled writes through segment-sized io buffers (8 MiB) and reuses a buffer once its
/// segment is written (vendored sled, `PLAYCORE-PATCH.md` 4): a journal five segments long,
/// every event different, comes back byte for byte.
#[test]
fn events_round_trip_across_several_segments() -> TestResult {
    let directory = tempfile::tempdir()?;
    let (waves, events_per_wave, payload_bytes) = (40_u32, 64_u32, 16 * 1024);
    let expected = with_journal(
        directory.path(),
        config(Durability::Fsync, 48 * 1024),
        1,
        |journal| {
            let mut expected = Vec::new();
            for wave in 0..waves {
                for index in 0..events_per_wave {
                    let number = wave * events_per_wave + index;
                    let mut payload = vec![(number % 251) as u8; payload_bytes];
                    payload[..4].copy_from_slice(&number.to_le_bytes());
                    expected.push(append_raw(journal, u64::from(index % 5), &payload)?);
                }
                wait_all_durable(journal)?;
            }
            Ok(expected)
        },
    )?;

    let store = Store::open(directory.path())?;
    let recovered = recover(&store)?;
    assert_eq!(recovered.events.len(), expected.len());
    let mismatch = as_tuples(&recovered.events)
        .iter()
        .zip(&expected)
        .position(|(recovered, expected)| recovered != expected);
    assert_eq!(mismatch, None, "first event that differs");
    assert_eq!(recovered.tail_cut, None);
    Ok(())
}

#[test]
fn records_respect_record_bytes_max_without_splitting_events() -> TestResult {
    let directory = tempfile::tempdir()?;
    let record_bytes_max = 1024;
    let big_event = vec![0xAB; 5000];
    let expected = with_journal(
        directory.path(),
        config(Durability::Fsync, record_bytes_max),
        1,
        |journal| {
            let mut expected = append_many(journal, 150)?;
            expected.push(append_raw(journal, 3, &big_event)?);
            expected.extend(append_many(journal, 50)?);
            Ok(expected)
        },
    )?;

    let store = Store::open(directory.path())?;
    let tree = store.db().open_tree("journal")?;
    for entry in tree.iter() {
        let (_, value) = entry?;
        let (header, body) = read_journal_record(&value)?;
        let events = EventFrames::new(body).count();
        assert_eq!(events, header.count as usize);
        assert!(
            value.len() <= record_bytes_max || events == 1,
            "{} bytes",
            value.len()
        );
    }
    assert!(
        tree.iter()
            .any(|entry| entry
                .is_ok_and(|(_, value)| value.len() == JOURNAL_HEADER_BYTES + 12 + 5000))
    );
    assert_eq!(as_tuples(&recover(&store)?.events), expected);
    Ok(())
}

#[test]
fn durable_watermark_never_exceeds_what_recovery_finds() -> TestResult {
    let directory = tempfile::tempdir()?;
    let store = Store::open(directory.path())?;
    let journal = Journal::start(store.clone(), config(Durability::Fsync, 4096), 1);
    let appending = AtomicBool::new(true);
    let observed_max = std::thread::scope(|scope| {
        let observer = scope.spawn(|| {
            let mut observed_max = 0;
            while appending.load(Ordering::Acquire) {
                let durable = journal.durable_seq();
                assert!(durable >= observed_max, "watermark went backwards");
                assert!(durable <= journal.appended_seq());
                observed_max = durable;
            }
            observed_max
        });
        let appenders: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| append_many(&journal, 3000)))
            .collect();
        for appender in appenders {
            appender.join().expect("appender thread").expect("appends");
        }
        appending.store(false, Ordering::Release);
        observer.join().expect("observer thread")
    });
    let last_seq = journal.appended_seq();
    block_on(journal.wait_durable(last_seq))?;
    assert_eq!(journal.durable_seq(), 6000);
    journal.shutdown()?;
    assert!(matches!(
        block_on(journal.wait_durable(last_seq + 1)),
        Err(AppendError::Closed)
    ));
    drop((journal, store));

    let recovered = recover(&Store::open(directory.path())?)?;
    let recovered_last = recovered.events.last().map_or(0, |event| event.seq);
    assert!(observed_max <= recovered_last);
    assert_eq!(recovered_last, last_seq);
    let seqs: Vec<u64> = recovered.events.iter().map(|event| event.seq).collect();
    assert_eq!(seqs, (1..=6000).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn fsync_mode_publishes_the_watermark_only_after_syncing() -> TestResult {
    let directory = tempfile::tempdir()?;
    let store = Store::open(directory.path())?;
    let journal = Journal::start(store, config(Durability::Fsync, 4096), 1);
    let (seq, _, _) = append_raw(&journal, 1, b"paid")?;
    let mut watermark = journal.watermark();
    block_on(watermark.wait_for(|durable| *durable >= seq))?;
    assert!(journal.stats().sync_count >= 1);
    journal.shutdown()?;
    Ok(())
}

#[test]
fn relaxed_mode_publishes_the_watermark_without_waiting_for_a_flush() -> TestResult {
    let directory = tempfile::tempdir()?;
    let relaxed = Durability::Relaxed {
        flush_interval_ms: 3_600_000,
    };
    let store = Store::open(directory.path())?;
    let journal = Journal::start(store.clone(), config(relaxed, 4096), 1);
    let event = append_raw(&journal, 1, b"paid")?;
    wait_all_durable(&journal)?;
    assert_eq!(
        journal.stats().sync_count,
        0,
        "no flush before the watermark"
    );
    journal.shutdown()?;
    assert_eq!(journal.stats().sync_count, 1, "shutdown flushes");
    drop((journal, store));

    let recovered = recover(&Store::open(directory.path())?)?;
    assert_eq!(as_tuples(&recovered.events), vec![event]);
    Ok(())
}

#[test]
fn relaxed_mode_flushes_an_idle_journal_after_the_interval() -> TestResult {
    let directory = tempfile::tempdir()?;
    let relaxed = Durability::Relaxed {
        flush_interval_ms: 20,
    };
    let journal = Journal::start(Store::open(directory.path())?, config(relaxed, 4096), 1);
    append_raw(&journal, 1, b"paid")?;
    assert!(eventually(|| journal.stats().sync_count >= 1));
    journal.shutdown()?;
    Ok(())
}

/// Appends one event every 200 µs for `count` events, with many waiters expected (the
/// load signal), and returns how many syncs it took.
fn syncs_for_a_trickle(window: Duration, count: usize) -> Result<u64, BoxError> {
    let directory = tempfile::tempdir()?;
    let store = Store::open(directory.path())?;
    let journal_config = JournalConfig {
        group_commit_window: window,
        ..config(Durability::Fsync, 48 * 1024)
    };
    let journal = Journal::start(store, journal_config, 1);
    let expected: Vec<_> = (0..300).map(|_| journal.expect_waiter()).collect();
    assert_eq!(journal.stats().waiters_expected, 300);
    let syncs_before = journal.stats().sync_count;
    for index in 0..count {
        append_raw(&journal, 1, format!("grab {index}").as_bytes())?;
        std::thread::sleep(Duration::from_micros(200));
    }
    wait_all_durable(&journal)?;
    let syncs = journal.stats().sync_count - syncs_before;
    drop(expected);
    assert_eq!(journal.stats().waiters_expected, 0);
    journal.shutdown()?;
    Ok(syncs)
}

#[test]
fn under_load_the_group_commit_window_gathers_a_trickle_into_few_syncs() -> TestResult {
    // After a burst, 100 appends over about 20 ms: a 20 ms window needs a handful of
    // syncs, where syncing at once needs one per append or so.
    let gathered = syncs_for_a_trickle(Duration::from_millis(20), 100)?;
    assert!(gathered <= 6, "{gathered} syncs with a 20 ms window");
    let immediate = syncs_for_a_trickle(Duration::ZERO, 100)?;
    assert!(
        immediate > gathered * 3,
        "{immediate} syncs at once vs {gathered} gathered"
    );
    Ok(())
}

#[test]
fn an_unloaded_journal_syncs_without_waiting_for_the_window() -> TestResult {
    let directory = tempfile::tempdir()?;
    let journal_config = JournalConfig {
        group_commit_window: Duration::from_secs(2),
        ..config(Durability::Fsync, 48 * 1024)
    };
    let journal = Journal::start(Store::open(directory.path())?, journal_config, 1);
    let started = std::time::Instant::now();
    for index in 0..3 {
        append_raw(&journal, 1, format!("lone grab {index}").as_bytes())?;
        wait_all_durable(&journal)?;
    }
    let waited = started.elapsed();
    journal.shutdown()?;
    assert!(
        waited < Duration::from_secs(1),
        "three lone appends took {waited:?} with a 2 s window"
    );
    Ok(())
}

/// A fsync journal with a 30 s group-commit window and `expected` waiters expected (so a
/// small batch gets the whole window); appends `events` entries, hints that `waiting` of
/// the waiters wait, and returns whether the entries became durable within `patience`.
fn durable_before_the_window_ends(
    expected: usize,
    events: usize,
    waiting: usize,
    patience: Duration,
) -> Result<bool, BoxError> {
    let directory = tempfile::tempdir()?;
    let journal_config = JournalConfig {
        group_commit_window: Duration::from_secs(30),
        ..config(Durability::Fsync, 48 * 1024)
    };
    let journal = Journal::start(Store::open(directory.path())?, journal_config, 1);
    let waiters: Vec<_> = (0..expected).map(|_| journal.expect_waiter()).collect();
    append_many(&journal, events)?;
    for _waiter in 0..waiting {
        journal.hint_waiting();
    }
    assert_eq!(journal.stats().waiters_waiting, waiting as u64);
    let seq = journal.appended_seq();
    let waited =
        block_on(async { tokio::time::timeout(patience, journal.wait_durable(seq)).await });
    let durable = matches!(waited, Ok(Ok(())));
    journal.hint_waiting_done(waiting);
    assert_eq!(journal.stats().waiters_waiting, 0);
    drop(waiters);
    // Shutdown ends the window and writes what is left.
    journal.shutdown()?;
    assert_eq!(journal.durable_seq(), seq);
    Ok(durable)
}

#[test]
fn a_large_batch_every_waiter_waits_on_is_written_before_its_window_ends() -> TestResult {
    let early = GROUP_COMMIT_EARLY_EVENTS_MIN;
    assert!(durable_before_the_window_ends(
        early,
        early,
        early,
        Duration::from_secs(10)
    )?);
    // Waiters hinted beyond those expected count as waiting.
    assert!(durable_before_the_window_ends(
        early,
        early,
        early + 5,
        Duration::from_secs(10)
    )?);
    Ok(())
}

#[test]
fn a_batch_keeps_its_window_while_an_expected_waiter_may_still_join_it() -> TestResult {
    let early = GROUP_COMMIT_EARLY_EVENTS_MIN;
    let patience = Duration::from_millis(300);
    // One expected waiter is not waiting on the batch yet: it may add to it.
    assert!(!durable_before_the_window_ends(
        early + 1,
        early,
        early,
        patience
    )?);
    // Too small a batch keeps its window even when everybody waits on it.
    assert!(!durable_before_the_window_ends(
        early,
        early - 1,
        early,
        patience
    )?);
    Ok(())
}

#[test]
fn a_batch_that_reaches_enough_entries_is_written_before_its_window_ends() -> TestResult {
    let enough = GROUP_COMMIT_EVENTS_ENOUGH;
    let patience = Duration::from_secs(10);
    assert!(durable_before_the_window_ends(
        2 * enough,
        enough,
        0,
        patience
    )?);
    Ok(())
}

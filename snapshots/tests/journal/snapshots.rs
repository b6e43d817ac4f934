use playcore_snapshots::journal::snapshot_file_name;
use std::path::Path;

use playcore_snapshots::{
    corrupt_last_record, recover, Corruption, Durability, Journal, RecoveredSnapshot, Store,
    StoreError, QUARANTINE_DIRECTORY,
};

use crate::helpers::*;

#[test]
fn snapshot_is_recovered_with_its_seq_and_the_newest_wins() -> TestResult {
    let directory = tempfile::tempdir()?;
    let expected = with_journal(
        directory.path(),
        config(Durability::Fsync, 4096),
        1,
        |journal| {
            let mut expected = vec![
                append_raw(journal, 9, b"created")?,
                append_raw(journal, 9, b"paid")?,
            ];
            journal.append_snapshot(9, 1, b"state at 1".to_vec())?;
            journal.append_snapshot(9, 2, b"state at 2".to_vec())?;
            expected.push(append_raw(journal, 9, b"refunded")?);
            Ok(expected)
        },
    )?;

    let recovered = recover(&Store::open(directory.path())?)?;
    let snapshot = RecoveredSnapshot {
        stream: 9,
        seq: 2,
        payload: b"state at 2".to_vec(),
        floor_seq: 2,
    };
    assert_eq!(recovered.snapshots, vec![snapshot]);
    assert_eq!(as_tuples(&recovered.events), expected);
    assert_eq!(recovered.next_seq, 4);
    Ok(())
}

#[test]
fn corrupt_snapshot_is_skipped_and_the_journal_kept() -> TestResult {
    let directory = tempfile::tempdir()?;
    let expected = with_journal(
        directory.path(),
        config(Durability::Fsync, 4096),
        1,
        |journal| {
            let expected = vec![
                append_raw(journal, 4, b"created")?,
                append_raw(journal, 5, b"created")?,
            ];
            journal.append_snapshot(4, 1, b"state of 4".to_vec())?;
            journal.append_snapshot(5, 2, b"state of 5".to_vec())?;
            Ok(expected)
        },
    )?;
    let store = Store::open(directory.path())?;
    let snapshots = store.db().open_tree("snapshots")?;
    let mut garbled = snapshots
        .get(4_u64.to_be_bytes())?
        .ok_or("snapshot of 4")?
        .to_vec();
    if let Some(byte) = garbled.last_mut() {
        *byte ^= 0xFF;
    }
    snapshots.insert(4_u64.to_be_bytes(), garbled)?;

    let recovered = recover(&store)?;
    let streams: Vec<u64> = recovered
        .snapshots
        .iter()
        .map(|snapshot| snapshot.stream)
        .collect();
    assert_eq!(streams, vec![5]);
    assert_eq!(as_tuples(&recovered.events), expected);
    Ok(())
}

#[test]
fn snapshot_newer_than_a_cut_journal_keeps_seqs_contiguous() -> TestResult {
    let directory = tempfile::tempdir()?;
    let config = config(Durability::Fsync, 4096);
    let before_cut = with_journal(directory.path(), config, 1, |journal| {
        let mut events = append_many(journal, 5)?;
        wait_all_durable(journal)?;
        events.extend(append_many(journal, 5)?);
        journal.append_snapshot(1, 10, b"state at 10".to_vec())?;
        Ok(events)
    })?;
    let store = Store::open(directory.path())?;
    let last_key = *journal_keys(&store)?.last().ok_or("empty journal")?;
    assert!(last_key > 1, "the first wave is a record of its own");
    corrupt_last_record(&store, Corruption::Garble)?;
    reseal(directory.path(), last_key - 1)?;
    let recovered = recover(&store)?;
    assert!(recovered.tail_cut.is_some());
    assert_eq!(
        recovered.next_seq, 11,
        "seqs the snapshot covers are not reused"
    );
    drop(store);

    let after_cut = with_journal(directory.path(), config, recovered.next_seq, |journal| {
        Ok(vec![append_raw(journal, 2, b"after")?])
    })?;
    let reopened = recover(&Store::open(directory.path())?)?;
    assert_eq!(reopened.tail_cut, None);
    let kept: Vec<Event> = before_cut
        .into_iter()
        .filter(|event| event.0 < last_key)
        .collect();
    assert_eq!(as_tuples(&reopened.events), [kept, after_cut].concat());
    assert_eq!(reopened.next_seq, 12);
    Ok(())
}

fn snapshot_files(store: &Store) -> Result<Vec<String>, BoxError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(store.snapshots_directory())? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

#[test]
fn a_snapshot_lives_in_its_own_file_and_two_generations_are_kept() -> TestResult {
    let directory = tempfile::tempdir()?;
    let (told, outcomes) = std::sync::mpsc::channel();
    with_journal(
        directory.path(),
        config(Durability::Fsync, 4096),
        1,
        |journal| {
            append_raw(journal, 3, b"created")?;
            append_raw(journal, 3, b"paid")?;
            append_raw(journal, 3, b"used")?;
            for seq in [1, 2, 3] {
                let told = told.clone();
                journal.queue_snapshot(
                    3,
                    seq,
                    Box::new(move |buffer: &mut Vec<u8>| {
                        buffer.extend_from_slice(format!("state at {seq}").as_bytes());
                        Ok(())
                    }),
                    Box::new(move |outcome| told.send(outcome.is_ok()).expect("test listens")),
                )?;
            }
            Ok(())
        },
    )?;
    let outcomes: Vec<bool> = outcomes.try_iter().collect();
    assert_eq!(
        outcomes,
        vec![true, true, true],
        "each snapshot is reported durable"
    );
    let store = Store::open(directory.path())?;
    assert_eq!(
        snapshot_files(&store)?,
        vec![snapshot_file_name(3, 2), snapshot_file_name(3, 3)],
        "the oldest file is deleted once two newer ones are durable"
    );
    let recovered = recover(&store)?;
    assert_eq!(recovered.snapshots.len(), 1);
    assert_eq!(recovered.snapshots[0].payload, b"state at 3");
    assert_eq!(
        recovered.snapshots[0].floor_seq, 3,
        "the journal is kept after the previous one"
    );
    Ok(())
}

#[test]
fn a_failed_encoding_is_reported_and_keeps_the_previous_snapshot() -> TestResult {
    let directory = tempfile::tempdir()?;
    let (told, outcomes) = std::sync::mpsc::channel();
    with_journal(
        directory.path(),
        config(Durability::Fsync, 4096),
        1,
        |journal| {
            append_raw(journal, 3, b"created")?;
            journal.append_snapshot(3, 1, b"state at 1".to_vec())?;
            append_raw(journal, 3, b"paid")?;
            journal.queue_snapshot(
                3,
                2,
                Box::new(|_: &mut Vec<u8>| playcore_snapshots::decode::<u64>(&[]).map(drop)),
                Box::new(move |outcome| told.send(outcome.is_err()).expect("test listens")),
            )?;
            Ok(())
        },
    )?;
    assert_eq!(outcomes.try_iter().collect::<Vec<bool>>(), vec![true]);
    let recovered = recover(&Store::open(directory.path())?)?;
    assert_eq!(recovered.snapshots.len(), 1);
    assert_eq!(recovered.snapshots[0].seq, 1);
    assert_eq!(
        recovered.events.len(),
        2,
        "the journal after it is all there"
    );
    Ok(())
}

#[test]
fn a_garbled_snapshot_file_is_skipped_and_stray_files_are_quarantined() -> TestResult {
    let directory = tempfile::tempdir()?;
    with_journal(
        directory.path(),
        config(Durability::Fsync, 4096),
        1,
        |journal| {
            append_raw(journal, 4, b"created")?;
            append_raw(journal, 5, b"created")?;
            journal.append_snapshot(4, 1, b"state of 4".to_vec())?;
            journal.append_snapshot(5, 2, b"state of 5".to_vec())?;
            Ok(())
        },
    )?;
    let store = Store::open(directory.path())?;
    let snapshots_directory = store.snapshots_directory();
    let garbled_path = snapshots_directory.join(snapshot_file_name(4, 1));
    let mut garbled = std::fs::read(&garbled_path)?;
    if let Some(byte) = garbled.last_mut() {
        *byte ^= 0xFF;
    }
    std::fs::write(&garbled_path, garbled)?;
    // Left by crashes: a half-written file, and a file whose reference never became durable.
    std::fs::write(snapshots_directory.join("x.tmp"), b"half")?;
    std::fs::write(
        snapshots_directory.join(snapshot_file_name(6, 9)),
        b"orphan",
    )?;

    let recovered = recover(&store)?;
    let streams: Vec<u64> = recovered
        .snapshots
        .iter()
        .map(|found| found.stream)
        .collect();
    assert_eq!(streams, vec![5]);
    assert_eq!(recovered.events.len(), 2);
    assert_eq!(snapshot_files(&store)?, vec![snapshot_file_name(5, 2)]);
    let mut quarantined: Vec<String> =
        std::fs::read_dir(directory.path().join(QUARANTINE_DIRECTORY))?
            .map(|entry| entry.map(|entry| entry.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
    quarantined.sort();
    assert_eq!(
        quarantined,
        vec![
            snapshot_file_name(4, 1),
            snapshot_file_name(6, 9),
            "x.tmp".to_string()
        ],
        "nothing that could hold state is deleted"
    );
    Ok(())
}

/// Stream 3 with snapshots at 2 and 4 and every entry in the journal; returns the events.
fn two_generations(directory: &Path) -> Result<Vec<Event>, BoxError> {
    with_journal(directory, config(Durability::Fsync, 4096), 1, |journal| {
        let mut events = Vec::new();
        for (seq, payload) in [
            (1_u64, &b"created"[..]),
            (2, b"paid"),
            (3, b"used"),
            (4, b"done"),
        ] {
            events.push(append_raw(journal, 3, payload)?);
            wait_all_durable(journal)?; // a record per entry, so truncation can cut between
            if seq % 2 == 0 {
                journal.append_snapshot(3, seq, format!("state at {seq}").into_bytes())?;
            }
        }
        events.push(append_raw(journal, 3, b"after")?);
        Ok(events)
    })
}

#[test]
fn a_destroyed_newest_snapshot_falls_back_to_the_previous_generation() -> TestResult {
    for destroy in ["delete", "garble"] {
        let directory = tempfile::tempdir()?;
        let events = two_generations(directory.path())?;
        let store = Store::open(directory.path())?;
        let newest = store.snapshots_directory().join(snapshot_file_name(3, 4));
        match destroy {
            "delete" => std::fs::remove_file(&newest)?,
            _ => std::fs::write(&newest, b"PCS1 not a snapshot")?,
        }
        let recovered = recover(&store)?;
        assert_eq!(recovered.snapshots.len(), 1, "{destroy}");
        assert_eq!(recovered.snapshots[0].seq, 2, "{destroy}");
        assert_eq!(recovered.snapshots[0].payload, b"state at 2");
        assert_eq!(
            as_tuples(&recovered.events),
            events,
            "the journal after it is whole"
        );
        assert_eq!(recovered.next_seq, 6);
    }
    Ok(())
}

#[test]
fn both_generations_lost_behind_a_truncated_journal_are_refused() -> TestResult {
    let directory = tempfile::tempdir()?;
    two_generations(directory.path())?;
    let store = Store::open(directory.path())?;
    // The journal was truncated below the previous generation (seq 2): without either
    // snapshot the stream cannot be rebuilt.
    let journal = Journal::start(store.clone(), config(Durability::Fsync, 4096), 6);
    journal.truncate_below(3);
    assert!(eventually(
        || journal_keys(&store).is_ok_and(|keys| keys.first() >= Some(&2))
    ));
    journal.shutdown()?;
    drop(journal);
    let newest = store.snapshots_directory().join(snapshot_file_name(3, 4));
    std::fs::remove_file(&newest)?;
    std::fs::remove_file(store.snapshots_directory().join(snapshot_file_name(3, 2)))?;
    // The stream falls back to the journal alone; whether that suffices is the replayer's
    // judgement (the journal no longer starts with the stream's first entry).
    let recovered = recover(&store)?;
    assert!(recovered.snapshots.is_empty());
    assert!(recovered.events.first().is_some_and(|event| event.seq > 1));
    Ok(())
}

#[test]
fn a_fallback_snapshot_behind_a_truncated_journal_is_refused() -> TestResult {
    let directory = tempfile::tempdir()?;
    two_generations(directory.path())?;
    let store = Store::open(directory.path())?;
    let journal = Journal::start(store.clone(), config(Durability::Fsync, 4096), 6);
    journal.truncate_below(5);
    assert!(eventually(
        || journal_keys(&store).is_ok_and(|keys| keys.first() >= Some(&4))
    ));
    journal.shutdown()?;
    drop(journal);
    std::fs::remove_file(store.snapshots_directory().join(snapshot_file_name(3, 4)))?;
    let Err(StoreError::Damaged(damage)) = recover(&store) else {
        return Err("the previous generation does not reach the journal's start".into());
    };
    assert!(damage.what.contains("stream 3 is at seq 2"), "{damage}");
    assert!(
        store
            .snapshots_directory()
            .join(snapshot_file_name(3, 2))
            .exists(),
        "nothing is moved when recovery refuses"
    );
    Ok(())
}

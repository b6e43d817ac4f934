use playcore_snapshots::{
    corrupt_last_record, recover, Corruption, Durability, RecoveredSnapshot, Store,
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

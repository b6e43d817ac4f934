use std::path::Path;

use playcore_snapshots::codec::write_journal_record;
use playcore_snapshots::{
    corrupt_last_record, recover, Corruption, Durability, Journal, Store, StoreError, TailCut,
};

use crate::helpers::*;

/// Three waves of ten events, each made durable before the next, so the journal
/// holds several records. Returns the events.
fn write_three_waves(directory: &Path) -> Result<Vec<Event>, BoxError> {
    with_journal(directory, config(Durability::Fsync, 4096), 1, |journal| {
        let mut expected = Vec::new();
        for _wave in 0..3 {
            expected.extend(append_many(journal, 10)?);
            wait_all_durable(journal)?;
        }
        Ok(expected)
    })
}

fn corrupt_tail_is_cut_and_appends_continue(how: Corruption, reason: &str) -> TestResult {
    let directory = tempfile::tempdir()?;
    let expected = write_three_waves(directory.path())?;
    let store = Store::open(directory.path())?;
    let last_key = *journal_keys(&store)?.last().ok_or("empty journal")?;
    corrupt_last_record(&store, how)?;
    reseal(directory.path(), last_key - 1)?;

    let recovered = recover(&store)?;
    let kept: Vec<Event> = expected
        .into_iter()
        .filter(|event| event.0 < last_key)
        .collect();
    let cut = TailCut {
        at_key_seq: last_key,
        records_removed: 1,
        reason: reason.to_string(),
    };
    assert_eq!(recovered.tail_cut, Some(cut));
    assert_eq!(as_tuples(&recovered.events), kept);
    assert_eq!(recovered.next_seq, last_key);
    drop(store);

    let appended = with_journal(
        directory.path(),
        config(Durability::Fsync, 4096),
        recovered.next_seq,
        |journal| {
            Ok(vec![
                append_raw(journal, 1, b"after")?,
                append_raw(journal, 2, b"cut")?,
            ])
        },
    )?;
    assert_eq!(appended[0].0, last_key);
    assert_eq!(appended[1].0, last_key + 1);
    let reopened = recover(&Store::open(directory.path())?)?;
    assert_eq!(reopened.tail_cut, None);
    assert_eq!(as_tuples(&reopened.events), [kept, appended].concat());
    Ok(())
}

#[test]
fn garbled_tail_is_cut_reported_and_appends_continue() -> TestResult {
    corrupt_tail_is_cut_and_appends_continue(Corruption::Garble, "checksum mismatch")
}

#[test]
fn torn_tail_is_cut_reported_and_appends_continue() -> TestResult {
    corrupt_tail_is_cut_and_appends_continue(Corruption::Truncate, "length mismatch")
}

#[test]
fn recovery_cuts_from_the_first_bad_record_onwards() -> TestResult {
    let directory = tempfile::tempdir()?;
    let expected = write_three_waves(directory.path())?;
    let store = Store::open(directory.path())?;
    let keys = journal_keys(&store)?;
    assert!(keys.len() >= 3);
    let tree = store.db().open_tree("journal")?;
    // A valid record under the wrong key: checksums pass, the key check must not.
    let first_value = tree.get(keys[0].to_be_bytes())?.ok_or("first record")?;
    tree.insert(keys[1].to_be_bytes(), first_value)?;
    reseal(directory.path(), keys[1] - 1)?;

    let recovered = recover(&store)?;
    let cut = recovered.tail_cut.ok_or("tail cut")?;
    assert_eq!(cut.at_key_seq, keys[1]);
    assert_eq!(cut.records_removed, keys.len() - 1);
    let kept: Vec<Event> = expected
        .into_iter()
        .filter(|event| event.0 < keys[1])
        .collect();
    assert_eq!(as_tuples(&recovered.events), kept);
    assert_eq!(journal_keys(&store)?, vec![keys[0]]);
    Ok(())
}

#[test]
fn recovery_never_panics_on_garbage_and_keeps_the_good_prefix() -> TestResult {
    let mut unknown_version = Vec::new();
    write_journal_record(&mut unknown_version, 11, 1, &[0; 13]);
    unknown_version[4] = 9;
    let mut lying_count = Vec::new();
    write_journal_record(
        &mut lying_count,
        11,
        2,
        &[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7],
    );
    let mut gap_in_seqs = Vec::new();
    write_journal_record(
        &mut gap_in_seqs,
        12,
        1,
        &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    let mut valid_at_11 = Vec::new();
    write_journal_record(
        &mut valid_at_11,
        11,
        1,
        &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    let cases: Vec<(Vec<u8>, Vec<u8>, &str)> = vec![
        (
            11_u64.to_be_bytes().to_vec(),
            Vec::new(),
            "shorter than its header",
        ),
        (
            11_u64.to_be_bytes().to_vec(),
            b"PCJ1garbage".to_vec(),
            "shorter than its header",
        ),
        (
            11_u64.to_be_bytes().to_vec(),
            [b"XXXX".as_slice(), &[0; 40]].concat(),
            "bad magic",
        ),
        (
            11_u64.to_be_bytes().to_vec(),
            unknown_version,
            "unknown format version 9",
        ),
        (
            11_u64.to_be_bytes().to_vec(),
            lying_count,
            "malformed event frames",
        ),
        (
            12_u64.to_be_bytes().to_vec(),
            gap_in_seqs,
            "not contiguous: expected first seq 11, found 12",
        ),
        (vec![0xFF; 3], valid_at_11, "key does not match the header"),
    ];
    for (key, value, reason) in cases {
        let directory = tempfile::tempdir()?;
        let expected = with_journal(
            directory.path(),
            config(Durability::Fsync, 4096),
            1,
            |journal| append_many(journal, 10),
        )?;
        let store = Store::open(directory.path())?;
        store.db().open_tree("journal")?.insert(key, value)?;
        let recovered = recover(&store)?;
        assert_eq!(as_tuples(&recovered.events), expected, "case {reason}");
        assert_eq!(
            recovered.tail_cut.map(|cut| cut.reason),
            Some(reason.to_string())
        );
        assert_eq!(recovered.next_seq, 11);
    }
    Ok(())
}

fn damage_is_refused_and_nothing_changed(how: Corruption) -> TestResult {
    let directory = tempfile::tempdir()?;
    write_three_waves(directory.path())?;
    let store = Store::open(directory.path())?;
    let keys = journal_keys(&store)?;
    let last_key = *keys.last().ok_or("empty journal")?;
    corrupt_last_record(&store, how)?;

    let Err(StoreError::Damaged(damage)) = recover(&store) else {
        return Err("a damaged acknowledged record must be refused".into());
    };
    assert_eq!(damage.file, directory.path().join("db"));
    assert_eq!(damage.position, format!("journal record at seq {last_key}"));
    assert!(
        damage.affected.contains(&format!("{last_key}..=30")),
        "{damage}"
    );
    assert_eq!(journal_keys(&store)?, keys, "nothing was cut");
    assert!(recover(&store).is_err(), "and it stays refused");
    Ok(())
}

#[test]
fn a_garbled_acknowledged_record_is_refused_not_cut() -> TestResult {
    damage_is_refused_and_nothing_changed(Corruption::Garble)
}

#[test]
fn a_truncated_acknowledged_record_is_refused_not_cut() -> TestResult {
    damage_is_refused_and_nothing_changed(Corruption::Truncate)
}

#[test]
fn a_journal_shorter_than_its_seal_is_refused() -> TestResult {
    let directory = tempfile::tempdir()?;
    write_three_waves(directory.path())?;
    let store = Store::open(directory.path())?;
    let keys = journal_keys(&store)?;
    // What sled serves when its log was damaged: a valid journal that ends early.
    let tree = store.db().open_tree("journal")?;
    tree.remove(keys[keys.len() - 1].to_be_bytes())?;
    store.sync(Durability::Fsync)?;

    let Err(StoreError::Damaged(damage)) = recover(&store) else {
        return Err("a journal that lost acknowledged records must be refused".into());
    };
    let last_kept = keys[keys.len() - 1] - 1;
    assert_eq!(damage.position, format!("journal ends at seq {last_kept}"));
    assert!(
        damage.what.contains("journal.seal records seq 30"),
        "{damage}"
    );
    Ok(())
}

#[test]
fn a_damaged_seal_is_refused() -> TestResult {
    let directory = tempfile::tempdir()?;
    write_three_waves(directory.path())?;
    let path = directory
        .path()
        .join(playcore_snapshots::seal::SEAL_FILE_NAME);
    std::fs::write(&path, [0xA5_u8; 64])?;
    let Err(StoreError::Damaged(damage)) = recover(&Store::open(directory.path())?) else {
        return Err("a damaged seal must be refused".into());
    };
    assert_eq!(damage.file, path);
    Ok(())
}

#[test]
fn the_seal_follows_the_durable_journal_in_both_modes() -> TestResult {
    let relaxed = Durability::Relaxed {
        flush_interval_ms: 5,
    };
    for durability in [Durability::Fsync, relaxed] {
        let directory = tempfile::tempdir()?;
        let sealed = |directory: &Path| {
            playcore_snapshots::seal::read_seal(directory)
                .ok()
                .flatten()
                .map_or(0, |seal| seal.durable_seq)
        };
        let store = Store::open(directory.path())?;
        let journal = Journal::start(store.clone(), config(durability, 4096), 1);
        append_many(&journal, 10)?;
        wait_all_durable(&journal)?;
        // Relaxed mode seals after the flusher's next fdatasync (every 500 ms).
        assert!(
            eventually(|| sealed(directory.path()) == 10),
            "{durability:?}: sealed {}",
            sealed(directory.path())
        );
        journal.shutdown()?;
        assert_eq!(sealed(directory.path()), 10, "{durability:?}");
    }
    Ok(())
}

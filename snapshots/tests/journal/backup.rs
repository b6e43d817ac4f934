//! Backups of a running journal: written, verified, restored into a new directory and
//! recovered there with the same snapshots and events; damage in any file is refused.

use std::error::Error;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use playcore_snapshots::backup::{
    create_backup, list_backups, prune_backups, restore_backup, verify_backup, BackupError,
    BackupInfo,
};
use playcore_snapshots::{recover, Journal, JournalConfig, Recovered, Store};

type TestResult = Result<(), Box<dyn Error + Send + Sync>>;

fn append(
    journal: &Journal,
    stream: u64,
    payload: &str,
) -> Result<u64, Box<dyn Error + Send + Sync>> {
    Ok(journal.append(stream, |buffer| {
        buffer.extend_from_slice(payload.as_bytes());
        Ok(())
    })?)
}

/// Queues a snapshot and waits until it is stored.
fn snapshot(journal: &Journal, stream: u64, seq: u64) -> TestResult {
    let (sender, receiver) = mpsc::channel();
    let payload = format!("state of {stream} at {seq}").into_bytes();
    journal.queue_snapshot(
        stream,
        seq,
        Box::new(move |buffer| {
            buffer.extend_from_slice(&payload);
            Ok(())
        }),
        Box::new(move |outcome| {
            let _ = sender.send(outcome.is_ok());
        }),
    )?;
    let stored = receiver.recv_timeout(Duration::from_secs(10))?;
    assert!(stored, "snapshot of {stream} at {seq} not stored");
    Ok(())
}

fn wait_durable(journal: &Journal) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while journal.durable_seq() < journal.appended_seq() {
        assert!(std::time::Instant::now() < deadline, "journal not durable");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A store with events of three streams, two snapshot generations of stream 1, one of
/// stream 2, a cold-store-like tree; then a backup while the journal runs, then more
/// events the backup must not hold. Returns the backup.
fn store_with_backup(
    data: &Path,
    backups: &Path,
) -> Result<BackupInfo, Box<dyn Error + Send + Sync>> {
    let store = Store::open(data)?;
    let archive = store.db().open_tree("orders_archive")?;
    archive.insert(7_u64.to_be_bytes(), b"archived order".to_vec())?;
    let config = JournalConfig {
        record_bytes_max: 512,
        ..JournalConfig::default()
    };
    let journal = Journal::start(store.clone(), config, 1);
    for index in 0..60 {
        append(
            &journal,
            index % 3,
            &format!("event {index} {}", "x".repeat(index as usize)),
        )?;
    }
    wait_durable(&journal);
    snapshot(&journal, 1, 20)?;
    snapshot(&journal, 2, 30)?;
    for index in 60..80 {
        append(&journal, index % 3, &format!("event {index}"))?;
    }
    wait_durable(&journal);
    snapshot(&journal, 1, 70)?;
    let info = create_backup(&store, journal.durable_seq(), backups)?;
    append(&journal, 2, "after the backup")?;
    journal.shutdown()?;
    Ok(info)
}

/// What recovery gives, with events past `durable_seq` left out.
fn recovered_up_to(
    directory: &Path,
    durable_seq: u64,
) -> Result<Recovered, Box<dyn Error + Send + Sync>> {
    let mut recovered = recover(&Store::open(directory)?)?;
    recovered.events.retain(|event| event.seq <= durable_seq);
    Ok(recovered)
}

#[test]
fn a_restored_backup_recovers_the_same_snapshots_and_events() -> TestResult {
    let root = tempfile::tempdir()?;
    let (data, backups) = (root.path().join("data"), root.path().join("backups"));
    let info = store_with_backup(&data, &backups)?;
    assert_eq!(info.durable_seq, 80);
    assert!(
        info.name.starts_with("backup-") && info.name.ends_with("-80"),
        "{info:?}"
    );
    assert_eq!(verify_backup(&info.path)?.durable_seq, 80);
    let listed = list_backups(&backups)?;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].name.as_str(), listed[0].bytes),
        (info.name.as_str(), info.bytes)
    );

    let restored = root.path().join("restored");
    assert_eq!(restore_backup(&info.path, &restored)?.durable_seq, 80);
    let expected = recovered_up_to(&data, 80)?;
    let store = Store::open(&restored)?;
    let actual = recover(&store)?;
    assert_eq!(actual.snapshots, expected.snapshots);
    assert_eq!(actual.events, expected.events);
    assert_eq!(actual.next_seq, 81);
    assert_eq!(actual.tail_cut, None);
    assert_eq!(expected.snapshots.len(), 2);
    let previous = restored.join("snapshots").join(snapshot_name(1, 20));
    assert!(
        previous.is_file(),
        "the previous generation is restored too"
    );
    let archive = store.db().open_tree("orders_archive")?;
    assert_eq!(
        archive.get(7_u64.to_be_bytes())?.as_deref(),
        Some(&b"archived order"[..])
    );
    let seal = playcore_snapshots::seal::read_seal(&restored)?.ok_or("no seal")?;
    assert_eq!(seal.durable_seq, 80);
    Ok(())
}

fn snapshot_name(stream: u64, seq: u64) -> String {
    playcore_snapshots::journal::snapshot_file_name(stream, seq)
}

/// Flips one byte in the middle of `file` of the backup.
fn flip_byte(backup: &Path, file: &str) -> TestResult {
    let path = backup.join(file);
    let mut bytes = std::fs::read(&path)?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&path, bytes)?;
    Ok(())
}

fn damaged_file(outcome: Result<BackupInfo, BackupError>) -> String {
    match outcome {
        Err(BackupError::Damaged { file, .. }) => file,
        other => panic!("not refused as damaged: {other:?}"),
    }
}

#[test]
fn a_damaged_backup_file_is_refused_naming_it() -> TestResult {
    let root = tempfile::tempdir()?;
    let (data, backups) = (root.path().join("data"), root.path().join("backups"));
    let info = store_with_backup(&data, &backups)?;
    let copy = |name: &str| -> Result<std::path::PathBuf, Box<dyn Error + Send + Sync>> {
        let target = root.path().join(name);
        copy_folder(&info.path, &target)?;
        Ok(target)
    };
    let snapshot = format!("snapshots/{}", snapshot_name(1, 70));
    for file in [
        "journal.records",
        snapshot.as_str(),
        "tree-orders_archive.records",
    ] {
        let damaged = copy(&format!("damaged-{}", file.replace('/', "-")))?;
        flip_byte(&damaged, file)?;
        assert_eq!(damaged_file(verify_backup(&damaged)), file);
        let target = root
            .path()
            .join(format!("restore-{}", file.replace('/', "-")));
        assert_eq!(damaged_file(restore_backup(&damaged, &target)), file);
        assert!(
            !target.exists(),
            "nothing is restored from a damaged backup"
        );
    }
    let missing = copy("missing")?;
    std::fs::remove_file(missing.join(&snapshot))?;
    assert_eq!(damaged_file(verify_backup(&missing)), snapshot);
    let message = verify_backup(&missing)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.contains(&snapshot) && message.contains("missing"),
        "{message}"
    );
    Ok(())
}

/// Gives `file` the byte count and SHA-256 it now has in the manifest, as a forger would.
fn rewrite_manifest_entry(backup: &Path, file: &str) -> TestResult {
    use sha2::Digest;
    let bytes = std::fs::read(backup.join(file))?;
    let digest: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let manifest_path = backup.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_path)?)?;
    let entries = manifest["files"].as_array_mut().ok_or("files")?;
    let entry = entries
        .iter_mut()
        .find(|entry| entry["name"] == file)
        .ok_or("entry")?;
    entry["bytes"] = bytes.len().into();
    entry["sha256"] = digest.into();
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest)?)?;
    Ok(())
}

#[test]
fn a_record_altered_behind_the_manifest_is_refused_by_its_own_checksum() -> TestResult {
    let root = tempfile::tempdir()?;
    let (data, backups) = (root.path().join("data"), root.path().join("backups"));
    let info = store_with_backup(&data, &backups)?;
    let flipped = root.path().join("flipped");
    copy_folder(&info.path, &flipped)?;
    flip_byte(&flipped, "journal.records")?;
    rewrite_manifest_entry(&flipped, "journal.records")?;
    let message = verify_backup(&flipped)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("journal.records is damaged: record"),
        "{message}"
    );
    assert!(message.contains("checksum mismatch"), "{message}");

    let cut = root.path().join("cut");
    copy_folder(&info.path, &cut)?;
    let tree = cut.join("tree-orders_archive.records");
    let bytes = std::fs::read(&tree)?;
    std::fs::write(&tree, &bytes[..bytes.len() - 5])?;
    rewrite_manifest_entry(&cut, "tree-orders_archive.records")?;
    assert_eq!(
        damaged_file(verify_backup(&cut)),
        "tree-orders_archive.records"
    );
    let message = verify_backup(&cut)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(message.contains("cut short"), "{message}");
    Ok(())
}

fn copy_folder(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_folder(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[test]
fn restore_refuses_a_directory_that_is_not_empty() -> TestResult {
    let root = tempfile::tempdir()?;
    let (data, backups) = (root.path().join("data"), root.path().join("backups"));
    let info = store_with_backup(&data, &backups)?;
    let outcome = restore_backup(&info.path, &data);
    assert!(
        matches!(outcome, Err(BackupError::NotEmpty(_))),
        "{outcome:?}"
    );
    let message = outcome.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("move it aside"), "{message}");
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty)?;
    restore_backup(&info.path, &empty)?;
    Ok(())
}

#[test]
fn prune_keeps_the_newest_backups_and_an_empty_store_backs_up() -> TestResult {
    let root = tempfile::tempdir()?;
    let backups = root.path().join("backups");
    let store = Store::open(&root.path().join("data"))?;
    let mut names = Vec::new();
    for _ in 0..3 {
        names.push(create_backup(&store, 0, &backups)?.name);
    }
    let leftover = backups.join("backup-20000101T000000Z.tmp");
    std::fs::create_dir(&leftover)?;
    let removed = prune_backups(&backups, 2)?;
    assert_eq!(
        removed,
        vec![names[0].clone(), "backup-20000101T000000Z.tmp".to_owned()]
    );
    let kept: Vec<String> = list_backups(&backups)?
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(kept, vec![names[2].clone(), names[1].clone()]);
    let restored = root.path().join("restored");
    assert_eq!(
        restore_backup(&backups.join(&names[2]), &restored)?.durable_seq,
        0
    );
    drop(store);
    let recovered = recover(&Store::open(&restored)?)?;
    assert_eq!((recovered.events.len(), recovered.next_seq), (0, 1));
    Ok(())
}

/// Appends to stream 1 until `stop`, with a snapshot every 300 entries and the journal
/// truncated below the previous snapshot, as the actors' floors do.
fn churn(journal: &Journal, stop: &std::sync::atomic::AtomicBool) -> TestResult {
    use std::sync::atomic::{AtomicU64, Ordering};
    let previous = std::sync::Arc::new(AtomicU64::new(0));
    let mut index = 0_u64;
    while !stop.load(Ordering::Relaxed) && index < 200_000 {
        let seq = append(journal, 1, &format!("event {index}"))?;
        index += 1;
        if index.is_multiple_of(300) {
            let (truncating, previous) = (journal.clone(), std::sync::Arc::clone(&previous));
            journal.queue_snapshot(
                1,
                seq,
                Box::new(move |buffer| {
                    buffer.extend_from_slice(format!("state at {seq}").as_bytes());
                    Ok(())
                }),
                Box::new(move |outcome| {
                    if outcome.is_ok() {
                        let floor = previous.swap(seq, Ordering::AcqRel);
                        truncating.truncate_below(floor + 1);
                    }
                }),
            )?;
        }
        if index.is_multiple_of(50) {
            wait_durable(journal);
        }
    }
    Ok(())
}

#[test]
fn backups_taken_while_snapshots_and_truncation_run_restore_whole() -> TestResult {
    use std::sync::atomic::{AtomicBool, Ordering};
    let root = tempfile::tempdir()?;
    let backups = root.path().join("backups");
    let store = Store::open(&root.path().join("data"))?;
    let config = JournalConfig {
        record_bytes_max: 256,
        ..JournalConfig::default()
    };
    let journal = Journal::start(store.clone(), config, 1);
    let stop = AtomicBool::new(false);
    let infos = std::thread::scope(|scope| {
        let appender = scope.spawn(|| churn(&journal, &stop));
        let mut infos = Vec::new();
        for _ in 0..6 {
            std::thread::sleep(Duration::from_millis(150));
            match create_backup(&store, journal.durable_seq(), &backups) {
                Ok(info) => infos.push(info),
                Err(BackupError::Unstable(reason)) => eprintln!("unstable: {reason}"),
                Err(error) => panic!("backup failed: {error}"),
            }
        }
        stop.store(true, Ordering::Relaxed);
        appender
            .join()
            .map_err(|_| "the appender panicked")?
            .map(|()| infos)
    })?;
    journal.shutdown()?;
    assert!(!infos.is_empty(), "no backup succeeded");
    let mut truncated = 0;
    for (index, info) in infos.iter().enumerate() {
        let restored = root.path().join(format!("restored-{index}"));
        restore_backup(&info.path, &restored)?;
        let recovered = recover(&Store::open(&restored)?)?;
        assert_eq!(recovered.next_seq, info.durable_seq + 1, "{info:?}");
        assert_eq!(recovered.tail_cut, None);
        assert!(!recovered.snapshots.is_empty(), "{info:?}");
        if recovered.events.first().is_some_and(|event| event.seq > 1) {
            truncated += 1;
        }
    }
    assert!(
        truncated > 0,
        "the journal was never truncated under a backup"
    );
    Ok(())
}

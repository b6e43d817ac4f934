//! Arrange helpers shared by the journal tests.

use std::error::Error;
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use playcore_snapshots::{Durability, Journal, JournalConfig, RecoveredEvent, Store};

pub type BoxError = Box<dyn Error + Send + Sync>;
pub type TestResult = Result<(), BoxError>;

/// An event as the tests compare it: (seq, stream, payload).
pub type Event = (u64, u64, Vec<u8>);

pub fn config(durability: Durability, record_bytes_max: usize) -> JournalConfig {
    JournalConfig {
        durability,
        record_bytes_max,
        ..JournalConfig::default()
    }
}

/// Appends raw bytes as one event and returns the whole event for later comparison.
pub fn append_raw(journal: &Journal, stream: u64, payload: &[u8]) -> Result<Event, BoxError> {
    let seq = journal.append(stream, |buffer| {
        buffer.extend_from_slice(payload);
        Ok(())
    })?;
    Ok((seq, stream, payload.to_vec()))
}

/// Appends `count` events of varied streams and sizes.
pub fn append_many(journal: &Journal, count: usize) -> Result<Vec<Event>, BoxError> {
    (0..count)
        .map(|index| {
            let payload = format!("event {index} {}", "x".repeat(index % 23));
            append_raw(journal, index as u64 % 7, payload.as_bytes())
        })
        .collect()
}

pub fn block_on<F: Future>(future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
    runtime.block_on(future)
}

/// Waits (bounded) until every event appended so far is durable.
pub fn wait_all_durable(journal: &Journal) -> TestResult {
    let seq = journal.appended_seq();
    block_on(async {
        tokio::time::timeout(Duration::from_secs(10), journal.wait_durable(seq)).await
    })??;
    Ok(())
}

pub fn as_tuples(events: &[RecoveredEvent]) -> Vec<Event> {
    events
        .iter()
        .map(|event| (event.seq, event.stream, event.payload.clone()))
        .collect()
}

/// Keys (first seqs) of the journal records, in order.
pub fn journal_keys(store: &Store) -> Result<Vec<u64>, BoxError> {
    let tree = store.db().open_tree("journal")?;
    let mut keys = Vec::new();
    for key in tree.iter().keys() {
        let key = key?;
        keys.push(u64::from_be_bytes(key.as_ref().try_into()?));
    }
    Ok(keys)
}

/// Opens `directory`, appends what `act` appends, shuts down, and closes the store.
pub fn with_journal<T>(
    directory: &Path,
    config: JournalConfig,
    next_seq: u64,
    act: impl FnOnce(&Journal) -> Result<T, BoxError>,
) -> Result<T, BoxError> {
    let store = Store::open(directory)?;
    let journal = Journal::start(store, config, next_seq);
    let outcome = act(&journal)?;
    journal.shutdown()?;
    Ok(outcome)
}

/// Polls `condition` for up to two seconds.
pub fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    condition()
}

/// Makes the seal say that only the entries up to `durable_seq` were acknowledged, as it
/// does when a crash tore the records after them before they were synced.
pub fn reseal(directory: &Path, durable_seq: u64) -> TestResult {
    let path = directory.join(playcore_snapshots::seal::SEAL_FILE_NAME);
    std::fs::remove_file(&path)?;
    let mut seal = playcore_snapshots::seal::Seal::open(directory)?;
    seal.record(durable_seq)?;
    seal.sync()?;
    Ok(())
}

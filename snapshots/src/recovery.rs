//! Reading back: snapshots and journal events at start-up (verifying every record
//! and cutting a torn or corrupt tail), paged event reads for the event-log API,
//! and a corruption helper for crash tests.

use sled::IVec;

use crate::codec::{self, EventFrames, RecordFault, JOURNAL_HEADER_BYTES};
use crate::journal::{parse_snapshot_file_name, snapshot_file_name, Durability};
use crate::store::{Store, StoreError};

/// Everything recovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The newest intact snapshot of each stream. A snapshot whose checksum fails is
    /// logged and skipped (treated as absent).
    pub snapshots: Vec<RecoveredSnapshot>,
    /// Every journal event in seq order; the caller skips those covered by a snapshot.
    pub events: Vec<RecoveredEvent>,
    /// The sequence number the journal continues with: 1 + last good seq, or 1 + the
    /// newest snapshot seq if larger, or 1 for an empty store.
    pub next_seq: u64,
    pub tail_cut: Option<TailCut>,
}

/// A stream's state as of `seq` (it reflects every event of the stream <= `seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredSnapshot {
    pub stream: u64,
    pub seq: u64,
    pub payload: Vec<u8>,
}

/// One journal event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredEvent {
    pub seq: u64,
    pub stream: u64,
    pub payload: Vec<u8>,
}

/// Report of a corrupt journal tail that recovery removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailCut {
    /// Key (first seq) of the first bad record.
    pub at_key_seq: u64,
    /// Records removed: the bad one and every later one.
    pub records_removed: usize,
    pub reason: String,
}

/// How [`corrupt_last_record`] damages the last journal record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corruption {
    /// Flip the bytes of the body, keeping the key and the length.
    Garble,
    /// Keep only the first half of the value, like a torn write.
    Truncate,
}

/// The first record that failed verification.
struct BadRecord {
    key: IVec,
    seq: u64,
    fault: RecordFault,
}

/// Loads snapshots and the journal, cutting a corrupt journal tail (logged with one
/// error line and reported in `tail_cut`). Never panics on garbage. Holds every event in
/// memory; start-up uses [`recover_with`], which streams them.
pub fn recover(store: &Store) -> Result<Recovered, StoreError> {
    let mut snapshots = Vec::new();
    let mut events = Vec::new();
    let mut recovered = recover_with(
        store,
        |snapshot| snapshots.push(snapshot),
        |seq, stream, payload| {
            events.push(RecoveredEvent {
                seq,
                stream,
                payload: payload.to_vec(),
            });
        },
    )?;
    recovered.snapshots = snapshots;
    recovered.events = events;
    Ok(recovered)
}

/// Like [`recover`], but streams: every intact snapshot goes to `on_snapshot` first, then
/// each journal event to `on_event` (seq, stream, payload) as soon as its record is
/// verified, so replay needs no second copy of the journal in memory. The returned
/// `snapshots` and `events` are empty. Events of a record are delivered only after the
/// whole record verified, so a corrupt record delivers none.
pub fn recover_with(
    store: &Store,
    mut on_snapshot: impl FnMut(RecoveredSnapshot),
    mut on_event: impl FnMut(u64, u64, &[u8]),
) -> Result<Recovered, StoreError> {
    let snapshots = load_snapshots(store)?;
    let snapshot_seq_max = snapshots.iter().map(|snapshot| snapshot.seq).max();
    snapshots.into_iter().for_each(&mut on_snapshot);
    let (end_seq, bad_record) = scan_journal_with(store.journal_tree(), &mut on_event)?;
    let tail_cut = match bad_record {
        Some(bad_record) => Some(cut_tail(store, bad_record)?),
        None => None,
    };
    let mut next_seq = end_seq.unwrap_or(1);
    if let Some(snapshot_seq) = snapshot_seq_max.filter(|seq| *seq >= next_seq) {
        // Only after a cut tail can a snapshot outrun the journal. New records must
        // stay contiguous with the old ones, so the skipped seqs get a gap record.
        if let Some(end_seq) = end_seq {
            tracing::warn!(
                end_seq,
                snapshot_seq,
                "snapshot is newer than the journal; bridging the gap"
            );
            write_gap_records(store, end_seq, snapshot_seq + 1)?;
        }
        next_seq = snapshot_seq + 1;
    }
    Ok(Recovered {
        snapshots: Vec::new(),
        events: Vec::new(),
        next_seq,
        tail_cut,
    })
}

/// Verifies every record up to the first bad one, handing the events of each good record
/// to `on_event`. Returns one past the last good seq (None for an empty journal) and the
/// bad record, if any.
fn scan_journal_with(
    tree: &sled::Tree,
    on_event: &mut impl FnMut(u64, u64, &[u8]),
) -> Result<(Option<u64>, Option<BadRecord>), StoreError> {
    let mut end_seq = None;
    let mut frames: Vec<(u64, (usize, usize))> = Vec::new();
    for entry in tree.iter() {
        let (key, value) = entry?;
        match verify_record(&key, &value, end_seq, &mut frames) {
            Ok((first_seq, record_end_seq)) => {
                for (offset, (stream, (start, end))) in frames.iter().enumerate() {
                    on_event(first_seq + offset as u64, *stream, &value[*start..*end]);
                }
                end_seq = Some(record_end_seq);
            }
            Err(fault) => {
                let seq = codec::key_seq(&key).or(end_seq).unwrap_or(0);
                return Ok((end_seq, Some(BadRecord { key, seq, fault })));
            }
        }
    }
    Ok((end_seq, None))
}

fn load_snapshots(store: &Store) -> Result<Vec<RecoveredSnapshot>, StoreError> {
    let mut snapshots = Vec::new();
    let mut streams = std::collections::HashSet::new();
    for entry in store.snapshots_tree().iter() {
        let (key, value) = entry?;
        let Some(stream) = codec::key_seq(&key) else {
            tracing::error!(key = ?key, "snapshot with a malformed key skipped");
            continue;
        };
        streams.insert(stream);
        match read_snapshot(store, stream, &value) {
            Ok((seq, payload)) => snapshots.push(RecoveredSnapshot {
                stream,
                seq,
                payload,
            }),
            Err(fault) => tracing::error!(
                stream,
                %fault,
                "snapshot corrupt: skipped, the stream is rebuilt from the journal alone"
            ),
        }
    }
    remove_unreferenced_files(store, &snapshots, &streams)?;
    Ok(snapshots)
}

/// A snapshot's seq and payload, from the file its reference names (or, as older
/// versions stored it, inline in the sled value), verified.
fn read_snapshot(store: &Store, stream: u64, value: &[u8]) -> Result<(u64, Vec<u8>), String> {
    if !codec::is_snapshot_reference(value) {
        let (seq, payload) =
            codec::read_snapshot_value(value).map_err(|fault| fault.to_string())?;
        return Ok((seq, payload.to_vec()));
    }
    let seq = codec::read_snapshot_reference(value).map_err(|fault| fault.to_string())?;
    let path = store
        .snapshots_directory()
        .join(snapshot_file_name(stream, seq));
    let bytes = std::fs::read(&path).map_err(|error| format!("{}: {error}", path.display()))?;
    let (file_seq, payload) =
        codec::read_snapshot_value(&bytes).map_err(|fault| fault.to_string())?;
    if file_seq != seq {
        return Err(format!("{} holds seq {file_seq}", path.display()));
    }
    Ok((seq, payload.to_vec()))
}

/// Deletes snapshot files no reference names: a crash between writing a file and making
/// its reference durable, or before an older file was deleted, leaves such files behind.
/// The files of a stream whose reference is unreadable are kept for inspection.
fn remove_unreferenced_files(
    store: &Store,
    snapshots: &[RecoveredSnapshot],
    streams: &std::collections::HashSet<u64>,
) -> Result<(), StoreError> {
    let directory = store.snapshots_directory();
    let entries = match std::fs::read_dir(&directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(StoreError::io(&directory, error)),
    };
    let referenced: std::collections::HashMap<u64, u64> = snapshots
        .iter()
        .map(|snapshot| (snapshot.stream, snapshot.seq))
        .collect();
    for entry in entries {
        let path = entry
            .map_err(|error| StoreError::io(&directory, error))?
            .path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("");
        let unreferenced = match parse_snapshot_file_name(name) {
            Some((stream, seq)) => match referenced.get(&stream) {
                Some(referenced_seq) => *referenced_seq != seq,
                None => !streams.contains(&stream),
            },
            None => name.ends_with(".tmp"),
        };
        if unreferenced {
            tracing::info!(path = %path.display(), "unreferenced snapshot file removed");
            std::fs::remove_file(&path).map_err(|error| StoreError::io(&path, error))?;
        }
    }
    Ok(())
}

/// Verifies one record and lists its events as (stream, byte range in `value`).
fn verify_record(
    key: &[u8],
    value: &[u8],
    expected_seq: Option<u64>,
    frames: &mut Vec<(u64, (usize, usize))>,
) -> Result<(u64, u64), RecordFault> {
    frames.clear();
    let (header, body) = codec::read_journal_record(value)?;
    if codec::key_seq(key) != Some(header.first_seq) {
        return Err(RecordFault::KeyMismatch);
    }
    if let Some(expected) = expected_seq.filter(|expected| *expected != header.first_seq) {
        return Err(RecordFault::NotContiguous {
            expected,
            found: header.first_seq,
        });
    }
    if body.is_empty() {
        return Ok((header.first_seq, header.end_seq())); // a gap record: no events
    }
    let body_start = value.len() - body.len();
    for frame in EventFrames::new(body) {
        let (stream, payload) = frame?;
        let start = payload.as_ptr() as usize - value.as_ptr() as usize;
        frames.push((stream, (start, start + payload.len())));
    }
    debug_assert!(frames.iter().all(|(_, (start, _))| *start >= body_start));
    if header.first_seq + frames.len() as u64 != header.end_seq() {
        return Err(RecordFault::MalformedBody);
    }
    Ok((header.first_seq, header.end_seq()))
}

/// Returns up to `limit` events with seq > `after_seq`, in order, verifying each
/// record read. Events appended but not yet durable may be included: callers that
/// must not reveal them cap the result at [`crate::Journal::durable_seq`].
pub fn read_events(
    store: &Store,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<RecoveredEvent>, StoreError> {
    let mut events = Vec::new();
    if limit == 0 {
        return Ok(events);
    }
    let tree = store.journal_tree();
    let start_seq = after_seq.saturating_add(1);
    // The record holding start_seq is the last one whose first seq is <= it.
    let start_key = tree
        .range(..=start_seq.to_be_bytes())
        .next_back()
        .transpose()?;
    let records = match start_key {
        Some((key, _)) => tree.range(key..),
        None => tree.iter(),
    };
    let mut expected_seq = None;
    let mut frames = Vec::new();
    for entry in records {
        let (key, value) = entry?;
        let (first_seq, end_seq) =
            verify_record(&key, &value, expected_seq, &mut frames).map_err(|fault| {
                StoreError::Corrupt {
                    seq: codec::key_seq(&key).unwrap_or(start_seq),
                    fault,
                }
            })?;
        for (offset, (stream, (start, end))) in frames.iter().enumerate() {
            let seq = first_seq + offset as u64;
            if seq > after_seq && events.len() < limit {
                events.push(RecoveredEvent {
                    seq,
                    stream: *stream,
                    payload: value[*start..*end].to_vec(),
                });
            }
        }
        expected_seq = Some(end_seq);
        if events.len() >= limit {
            break;
        }
    }
    Ok(events)
}

/// Damages the last journal record and syncs, for crash tests of a stopped store.
/// Does nothing on an empty journal.
pub fn corrupt_last_record(store: &Store, how: Corruption) -> Result<(), StoreError> {
    let tree = store.journal_tree();
    let Some((key, value)) = tree.last()? else {
        return Ok(());
    };
    let mut bytes = value.to_vec();
    match how {
        Corruption::Garble => {
            // A gap record has no body: garble its header instead.
            let start = if bytes.len() > JOURNAL_HEADER_BYTES {
                JOURNAL_HEADER_BYTES
            } else {
                0
            };
            bytes[start..].iter_mut().for_each(|byte| *byte ^= 0x5A);
        }
        Corruption::Truncate => bytes.truncate(bytes.len() / 2),
    }
    tree.insert(key, bytes)?;
    store.sync(Durability::Fsync)
}

/// Removes the bad record and every later key, then makes the removal durable so
/// new appends never sit behind garbage.
fn cut_tail(store: &Store, bad_record: BadRecord) -> Result<TailCut, StoreError> {
    let tree = store.journal_tree();
    let keys = tree
        .range(bad_record.key.clone()..)
        .keys()
        .collect::<Result<Vec<_>, _>>()?;
    tracing::error!(
        "journal tail corrupt at seq {} ({}): cutting {} record(s)",
        bad_record.seq,
        bad_record.fault,
        keys.len()
    );
    for key in &keys {
        tree.remove(key)?;
    }
    store.sync(Durability::Fsync)?;
    Ok(TailCut {
        at_key_seq: bad_record.seq,
        records_removed: keys.len(),
        reason: bad_record.fault.to_string(),
    })
}

/// Writes records consuming seqs `from_seq..until_seq` without events.
fn write_gap_records(store: &Store, from_seq: u64, until_seq: u64) -> Result<(), StoreError> {
    let mut record = Vec::with_capacity(JOURNAL_HEADER_BYTES);
    let mut first_seq = from_seq;
    while first_seq < until_seq {
        let count = u32::try_from(until_seq - first_seq).unwrap_or(u32::MAX);
        record.clear();
        codec::write_journal_record(&mut record, first_seq, count, &[]);
        store
            .journal_tree()
            .insert(first_seq.to_be_bytes(), record.as_slice())?;
        first_seq += u64::from(count);
    }
    store.sync(Durability::Fsync)
}

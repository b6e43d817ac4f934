//! Reading back: snapshots and journal events at start-up, paged event reads for the
//! event-log API, and a corruption helper for crash tests.
//!
//! Start-up verifies before it serves: every journal record (checksum, version, key,
//! contiguity), the journal against the seal (see [`crate::seal`]), every snapshot it uses
//! against its reference, and that the journal continues each snapshot without a hole.
//! Lost or altered acknowledged state is a [`Damage`] and nothing is changed; a torn tail
//! past the seal is cut with one error line.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use sled::IVec;

use crate::codec::{self, EventFrames, RecordFault, JOURNAL_HEADER_BYTES};
use crate::journal::{parse_snapshot_file_name, snapshot_file_name, Durability};
use crate::seal::{read_seal, SealError, SEAL_FILE_NAME};
use crate::store::{Store, StoreError};

/// Where recovery moves files it will not use, inside the data directory.
pub const QUARANTINE_DIRECTORY: &str = "quarantine";

/// Everything recovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The newest intact snapshot of each stream (at most its reference's seq). When the
    /// newest is damaged or missing, the previous generation is used (logged).
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
    /// The lowest seq this stream still needs in the journal: one past the older snapshot
    /// generation kept beside this one, or the journal's start while there is none, so a
    /// damaged newest snapshot can always be rebuilt from the previous one.
    pub floor_seq: u64,
}

/// One journal event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredEvent {
    pub seq: u64,
    pub stream: u64,
    pub payload: Vec<u8>,
}

/// Report of a torn journal tail (past the seal: never acknowledged) that recovery removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailCut {
    /// Key (first seq) of the first bad record.
    pub at_key_seq: u64,
    /// Records removed: the bad one and every later one.
    pub records_removed: usize,
    pub reason: String,
}

/// Acknowledged state that recovery found lost or altered: the directory is not served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "data directory damaged: {file}: {position}: {what}; affected: {affected}. \
     Nothing was changed. Run `playcore check`, then restore from the last backup \
     (README, \"A node that refuses to start\")"
)]
pub struct Damage {
    /// The file holding (or missing) the damaged state.
    pub file: PathBuf,
    /// Where in it: a journal seq, a snapshot's stream and seq.
    pub position: String,
    pub what: String,
    pub affected: String,
}

impl Damage {
    /// Logged here, once, so every refusal shows in the log with what it names.
    fn error(self) -> StoreError {
        tracing::error!("{self}");
        StoreError::Damaged(Box::new(self))
    }
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

/// What the journal scan found.
struct JournalScan {
    /// The first record's first seq; `None` for an empty journal.
    first_seq: Option<u64>,
    /// One past the last good seq; `None` for an empty journal.
    end_seq: Option<u64>,
    bad_record: Option<BadRecord>,
}

/// Loads snapshots and the journal, cutting a torn journal tail (logged with one error
/// line and reported in `tail_cut`). Never panics on garbage. Holds every event in
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
///
/// Everything is verified before anything is changed on disk: lost or altered
/// acknowledged state ([`StoreError::Damaged`]) leaves the directory as it was. Only then
/// are stray snapshot files moved to `quarantine/`, a torn tail cut and gaps bridged.
pub fn recover_with(
    store: &Store,
    on_snapshot: impl FnMut(RecoveredSnapshot),
    on_event: impl FnMut(u64, u64, &[u8]),
) -> Result<Recovered, StoreError> {
    let inspection = inspect_with(store, on_snapshot, on_event)?;
    quarantine(store, &inspection.strays)?;
    let tail_cut = match inspection.bad_record {
        Some(bad_record) => Some(cut_tail(store, bad_record)?),
        None => None,
    };
    if let Some((end_seq, until_seq)) = inspection.gap {
        tracing::warn!(
            end_seq,
            snapshot_seq = until_seq - 1,
            "snapshot is newer than the journal; bridging the gap"
        );
        write_gap_records(store, end_seq, until_seq)?;
    }
    Ok(Recovered {
        snapshots: Vec::new(),
        events: Vec::new(),
        next_seq: inspection.next_seq,
        tail_cut,
    })
}

/// What [`verify_with`] found in a directory it did not change: the repairs recovery would
/// make. None of them touches acknowledged state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub next_seq: u64,
    /// Snapshot files recovery would move to `quarantine/`.
    pub strays: Vec<PathBuf>,
    /// A torn tail past the seal that recovery would cut: (first seq, fault).
    pub torn_tail: Option<(u64, String)>,
    /// The durable seq the seal records (`None`: no seal yet).
    pub sealed_seq: Option<u64>,
}

/// Everything [`recover_with`] verifies and delivers, without changing anything on disk:
/// for `playcore check`.
pub fn verify_with(
    store: &Store,
    on_snapshot: impl FnMut(RecoveredSnapshot),
    on_event: impl FnMut(u64, u64, &[u8]),
) -> Result<Verified, StoreError> {
    let inspection = inspect_with(store, on_snapshot, on_event)?;
    Ok(Verified {
        next_seq: inspection.next_seq,
        strays: inspection.strays,
        torn_tail: inspection
            .bad_record
            .map(|bad| (bad.seq, bad.fault.to_string())),
        sealed_seq: inspection.sealed_seq,
    })
}

/// What recovery found before it changes anything.
struct Inspection {
    strays: Vec<PathBuf>,
    bad_record: Option<BadRecord>,
    /// Seqs `from..until` a gap record must consume.
    gap: Option<(u64, u64)>,
    next_seq: u64,
    sealed_seq: Option<u64>,
}

fn inspect_with(
    store: &Store,
    mut on_snapshot: impl FnMut(RecoveredSnapshot),
    mut on_event: impl FnMut(u64, u64, &[u8]),
) -> Result<Inspection, StoreError> {
    let sealed_seq = read_seal(store.directory())
        .map_err(seal_damage)?
        .map(|seal| seal.durable_seq);
    let mut plan = plan_snapshots(store)?;
    // Snapshots go first: replay skips the entries they cover.
    let journal_first_seq = match store.journal_tree().first()? {
        Some((key, _)) => codec::key_seq(&key),
        None => None,
    };
    for mut snapshot in std::mem::take(&mut plan.chosen) {
        if snapshot.floor_seq == 0 {
            snapshot.floor_seq = journal_first_seq.unwrap_or(snapshot.seq + 1);
        }
        plan.used.push((snapshot.stream, snapshot.seq));
        on_snapshot(snapshot);
    }
    let scan = scan_journal_with(store.journal_tree(), &mut on_event)?;
    check_journal(store, &scan, sealed_seq, &plan)?;
    let snapshot_seq_max = plan.used.iter().map(|(_, seq)| *seq).max();
    let mut next_seq = scan.end_seq.unwrap_or(1);
    let mut gap = None;
    if let Some(snapshot_seq) = snapshot_seq_max.filter(|seq| *seq >= next_seq) {
        // A relaxed-mode crash, or a journal truncated to nothing: new records must stay
        // contiguous with the old ones, so the skipped seqs get a gap record.
        gap = scan.end_seq.map(|end_seq| (end_seq, snapshot_seq + 1));
        next_seq = snapshot_seq + 1;
    }
    Ok(Inspection {
        strays: plan.strays,
        bad_record: scan.bad_record,
        gap,
        next_seq,
        sealed_seq,
    })
}

fn seal_damage(error: SealError) -> StoreError {
    match error {
        SealError::Io { path, source } => StoreError::Io { path, source },
        SealError::Damaged { path } => Damage {
            file: path,
            position: "both slots".to_string(),
            what: "the seal does not verify, so lost journal records cannot be told from \
                   a torn tail"
                .to_string(),
            affected: "unknown".to_string(),
        }
        .error(),
    }
}

/// The journal must hold every acknowledged entry: nothing bad at or below the seal, its
/// end (or the newest snapshot) at or past the seal, and its start at or below every
/// chosen snapshot's next entry.
fn check_journal(
    store: &Store,
    scan: &JournalScan,
    sealed_seq: Option<u64>,
    plan: &SnapshotPlan,
) -> Result<(), StoreError> {
    let db_file = store.directory().join("db");
    let sealed_seq = sealed_seq.unwrap_or(0);
    if let Some(bad) = scan.bad_record.as_ref().filter(|bad| bad.seq <= sealed_seq) {
        return Err(Damage {
            file: db_file,
            position: format!("journal record at seq {}", bad.seq),
            what: format!("{}, below the sealed seq {sealed_seq}", bad.fault),
            affected: format!("acknowledged journal entries {}..={sealed_seq}", bad.seq),
        }
        .error());
    }
    let journal_last_seq = scan.end_seq.map_or(0, |end| end - 1);
    let snapshot_seq_max = plan.referenced_seq_max.unwrap_or(0);
    let high_water_seq = journal_last_seq.max(snapshot_seq_max);
    if high_water_seq < sealed_seq {
        return Err(Damage {
            file: db_file,
            position: format!("journal ends at seq {journal_last_seq}"),
            what: format!(
                "{SEAL_FILE_NAME} records seq {sealed_seq} as durable (sled's log was \
                 damaged or cut short)"
            ),
            affected: format!(
                "acknowledged journal entries {}..={sealed_seq}",
                high_water_seq + 1
            ),
        }
        .error());
    }
    check_coverage(&db_file, scan, plan)
}

/// Every chosen snapshot must be followed by the journal without a hole.
fn check_coverage(
    db_file: &Path,
    scan: &JournalScan,
    plan: &SnapshotPlan,
) -> Result<(), StoreError> {
    for &(stream, seq) in &plan.used {
        let hole = match scan.first_seq {
            Some(first_seq) => first_seq > seq + 1,
            // An empty journal is whole only behind the newest snapshots.
            None => plan.fell_back.contains(&stream),
        };
        if hole {
            return Err(Damage {
                file: db_file.to_path_buf(),
                position: format!(
                    "journal starts at seq {}",
                    scan.first_seq.unwrap_or(seq + 1)
                ),
                what: format!(
                    "the snapshot used for stream {stream} is at seq {seq}, so the entries \
                     between are missing"
                ),
                affected: format!("activity {stream}"),
            }
            .error());
        }
    }
    Ok(())
}

/// Verifies every record up to the first bad one, handing the events of each good record
/// to `on_event`.
fn scan_journal_with(
    tree: &sled::Tree,
    on_event: &mut impl FnMut(u64, u64, &[u8]),
) -> Result<JournalScan, StoreError> {
    let mut scan = JournalScan {
        first_seq: None,
        end_seq: None,
        bad_record: None,
    };
    let mut frames: Vec<(u64, (usize, usize))> = Vec::new();
    for entry in tree.iter() {
        let (key, value) = entry?;
        match verify_record(&key, &value, scan.end_seq, &mut frames) {
            Ok((first_seq, record_end_seq)) => {
                for (offset, (stream, (start, end))) in frames.iter().enumerate() {
                    on_event(first_seq + offset as u64, *stream, &value[*start..*end]);
                }
                scan.first_seq.get_or_insert(first_seq);
                scan.end_seq = Some(record_end_seq);
            }
            Err(fault) => {
                let seq = codec::key_seq(&key).or(scan.end_seq).unwrap_or(0);
                scan.bad_record = Some(BadRecord { key, seq, fault });
                break;
            }
        }
    }
    Ok(scan)
}

/// Which snapshot of each stream recovery uses, and which files it sets aside.
struct SnapshotPlan {
    chosen: Vec<RecoveredSnapshot>,
    /// (stream, seq) of the snapshots handed to the caller.
    used: Vec<(u64, u64)>,
    /// Streams whose newest referenced snapshot was unusable.
    fell_back: HashSet<u64>,
    /// The highest seq any reference names.
    referenced_seq_max: Option<u64>,
    /// Files no reference keeps: to be moved to `quarantine/`.
    strays: Vec<PathBuf>,
}

/// For each referenced stream, the newest file at or below its reference that verifies,
/// keeping it and the next older file (the previous generation). Files above a reference,
/// older generations, damaged files and leftovers are strays.
fn plan_snapshots(store: &Store) -> Result<SnapshotPlan, StoreError> {
    let directory = store.snapshots_directory();
    let (mut files, mut strays) = list_snapshot_files(&directory)?;
    let mut plan = SnapshotPlan {
        chosen: Vec::new(),
        used: Vec::new(),
        fell_back: HashSet::new(),
        referenced_seq_max: None,
        strays: Vec::new(),
    };
    for entry in store.snapshots_tree().iter() {
        let (key, value) = entry?;
        let Some(stream) = codec::key_seq(&key) else {
            tracing::error!(key = ?key, "snapshot reference with a malformed key skipped");
            continue;
        };
        let stream_files = files.remove(&stream).unwrap_or_default();
        plan_stream(
            &directory,
            stream,
            &value,
            stream_files,
            &mut plan,
            &mut strays,
        );
    }
    for (stream, seqs) in files {
        // A file whose reference never became durable (a crash in between).
        strays.extend(
            seqs.into_iter()
                .map(|seq| directory.join(snapshot_file_name(stream, seq))),
        );
    }
    plan.strays = strays;
    Ok(plan)
}

fn plan_stream(
    directory: &Path,
    stream: u64,
    reference: &[u8],
    mut seqs: Vec<u64>,
    plan: &mut SnapshotPlan,
    strays: &mut Vec<PathBuf>,
) {
    let file = |seq: u64| directory.join(snapshot_file_name(stream, seq));
    if !codec::is_snapshot_reference(reference) {
        // Stored inline by older versions.
        match codec::read_snapshot_value(reference) {
            Ok((seq, payload)) => plan.chosen.push(RecoveredSnapshot {
                stream,
                seq,
                payload: payload.to_vec(),
                floor_seq: 0,
            }),
            Err(fault) => tracing::error!(stream, %fault, "inline snapshot corrupt: skipped"),
        }
        strays.extend(seqs.into_iter().map(file));
        return;
    }
    let referenced_seq = match codec::read_snapshot_reference(reference) {
        Ok(seq) => seq,
        Err(fault) => {
            tracing::warn!(stream, %fault, "snapshot reference damaged: the stream is rebuilt from the journal alone");
            strays.extend(seqs.into_iter().map(file));
            return;
        }
    };
    plan.referenced_seq_max = plan.referenced_seq_max.max(Some(referenced_seq));
    seqs.sort_unstable_by(|left, right| right.cmp(left));
    let (above, candidates): (Vec<u64>, Vec<u64>) =
        seqs.into_iter().partition(|seq| *seq > referenced_seq);
    strays.extend(above.into_iter().map(file));
    let mut candidates = candidates.into_iter();
    let mut problems = Vec::new();
    if candidates.as_slice().first() != Some(&referenced_seq) {
        problems.push(format!("{} is missing", file(referenced_seq).display()));
    }
    for seq in candidates.by_ref() {
        match read_snapshot_file(&file(seq), seq) {
            Ok(payload) => {
                let previous = candidates.next();
                strays.extend(candidates.map(file));
                choose(plan, stream, seq, payload, previous, &problems);
                return;
            }
            Err(fault) => {
                problems.push(format!("{} {fault}", file(seq).display()));
                strays.push(file(seq));
            }
        }
    }
    plan.fell_back.insert(stream);
    tracing::warn!(
        stream,
        problems = problems.join("; "),
        "no usable snapshot: the stream is rebuilt from the journal alone"
    );
}

fn choose(
    plan: &mut SnapshotPlan,
    stream: u64,
    seq: u64,
    payload: Vec<u8>,
    previous_seq: Option<u64>,
    problems: &[String],
) {
    if !problems.is_empty() {
        plan.fell_back.insert(stream);
        tracing::warn!(
            stream,
            seq,
            problems = problems.join("; "),
            "newest snapshot unusable: recovering from the previous generation and the journal"
        );
    }
    plan.chosen.push(RecoveredSnapshot {
        stream,
        seq,
        payload,
        // 0: the journal's start, filled in once the journal is scanned.
        floor_seq: previous_seq.map_or(0, |previous| previous + 1),
    });
}

/// A snapshot file's payload, verified to be the snapshot of `seq`.
fn read_snapshot_file(path: &Path, seq: u64) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|error| error.to_string())?;
    verify_snapshot_bytes(&bytes, seq).map(<[u8]>::to_vec)
}

/// The payload of a snapshot file's bytes, verified to be the snapshot of `seq` (its name).
pub(crate) fn verify_snapshot_bytes(bytes: &[u8], seq: u64) -> Result<&[u8], String> {
    let (file_seq, payload) =
        codec::read_snapshot_value(bytes).map_err(|fault| fault.to_string())?;
    if file_seq != seq {
        return Err(format!("holds seq {file_seq}, its name says {seq}"));
    }
    Ok(payload)
}

/// Verifies one journal record on its own (header, checksum, key, event frames), as
/// recovery does record by record.
pub(crate) fn verify_journal_record(
    key: &[u8],
    value: &[u8],
) -> Result<codec::JournalHeader, RecordFault> {
    let (first_seq, end_seq) = verify_record(key, value, None, &mut Vec::new())?;
    let count = u32::try_from(end_seq - first_seq).map_err(|_| RecordFault::MalformedBody)?;
    Ok(codec::JournalHeader { first_seq, count })
}

/// The seqs of each stream's snapshot files.
type SnapshotFiles = HashMap<u64, Vec<u64>>;

/// Snapshot files by stream (their seqs), and leftover temporary files.
fn list_snapshot_files(directory: &Path) -> Result<(SnapshotFiles, Vec<PathBuf>), StoreError> {
    let mut files = SnapshotFiles::new();
    let mut leftovers = Vec::new();
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok((files, leftovers))
        }
        Err(error) => return Err(StoreError::io(directory, error)),
    };
    for entry in entries {
        let path = entry
            .map_err(|error| StoreError::io(directory, error))?
            .path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("");
        match parse_snapshot_file_name(name) {
            Some((stream, seq)) => files.entry(stream).or_default().push(seq),
            None if name.ends_with(".tmp") => leftovers.push(path),
            None => {}
        }
    }
    Ok((files, leftovers))
}

/// Moves files that might hold state out of the way instead of deleting them, each named
/// in a WARN line: `quarantine/` beside the snapshots, which an operator empties.
fn quarantine(store: &Store, strays: &[PathBuf]) -> Result<(), StoreError> {
    if strays.is_empty() {
        return Ok(());
    }
    let directory = store.directory().join(QUARANTINE_DIRECTORY);
    std::fs::create_dir_all(&directory).map_err(|error| StoreError::io(&directory, error))?;
    for path in strays {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let mut target = directory.join(&name);
        let mut copy = 1;
        while target.exists() {
            target = directory.join(format!("{name}.{copy}"));
            copy += 1;
        }
        std::fs::rename(path, &target).map_err(|error| StoreError::io(path, error))?;
        tracing::warn!(from = %path.display(), to = %target.display(), "snapshot file quarantined");
    }
    crate::store::sync_directory(&directory)?;
    crate::store::sync_directory(&store.snapshots_directory())
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

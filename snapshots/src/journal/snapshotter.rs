//! The "journal-snapshots" thread: encodes queued snapshots and makes them durable beside
//! the event group commit, never inside it.
//!
//! A large stream's snapshot is big: written inline by the journal writer, its encode, write
//! and sync would stall every stream's durability. Here, per snapshot, in queue order:
//! 1. the encoder runs (the caller only took an image of its state);
//! 2. the payload goes to its own file, `snapshots/{stream:016x}-{seq:016x}.snapshot`
//!    (header with seq, length and crc32, then the payload), written and fdatasync'ed in
//!    pieces of `PIECE_BYTES` so no single sync holds the file system's journal for long,
//!    then renamed into place and the directory synced;
//! 3. once the journal writer has written every event up to the snapshot's seq (so a
//!    snapshot is never durable before the events it reflects), a small reference naming
//!    the file is inserted into sled's "snapshots" tree under the stream, and sled is
//!    flushed and fdatasync'ed;
//! 4. only then is the stream's file before the previous one deleted and the caller told
//!    (`done`). Two generations stay: a damaged or missing newest file falls back to the
//!    previous one, and the journal is kept from the previous one on (the caller's floor).
//!
//! A crash at any step leaves the previous reference and its files intact; recovery moves
//! files that no reference keeps to `quarantine/`. A failed snapshot is logged and reported to its caller;
//! the thread goes on with the next one.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use super::{QueuedSnapshot, Shared, SnapshotError, State};
use crate::codec;
use crate::store::{sync_directory, StoreError};

/// A snapshot file is written and synced in pieces of this size.
const PIECE_BYTES: usize = 1024 * 1024;
/// The encoding buffer is kept between snapshots up to this size; a larger one (an
/// unusually large activity) is shrunk back after use.
const BUFFER_RETAIN_BYTES_MAX: usize = 64 * 1024 * 1024;
/// How often the thread looks whether the writer has reached a snapshot's seq.
const WRITTEN_POLL: Duration = Duration::from_millis(1);

/// The file of `stream`'s snapshot at `seq`.
pub fn snapshot_file_name(stream: u64, seq: u64) -> String {
    format!("{stream:016x}-{seq:016x}.snapshot")
}

/// The (stream, seq) a snapshot file name stands for.
pub fn parse_snapshot_file_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".snapshot")?;
    let (stream, seq) = stem.split_once('-')?;
    let parse = |hex: &str| {
        (hex.len() == 16)
            .then(|| u64::from_str_radix(hex, 16).ok())
            .flatten()
    };
    Some((parse(stream)?, parse(seq)?))
}

/// The snapshot thread's nice value where `SCHED_IDLE` is refused (see [`lower_priority`]):
/// under full load the thread still gets about a tenth of a core's share.
const SNAPSHOT_THREAD_NICE: libc::c_int = 10;

/// Thread entry point: runs until the journal closes and the queue is drained, or fails.
pub(super) fn run(shared: Arc<Shared>) -> Result<(), StoreError> {
    lower_priority();
    let directory = shared.store.snapshots_directory();
    let mut snapshotter = Snapshotter {
        files: list_files(&directory)?,
        directory,
        shared,
        buffer: Vec::new(),
    };
    while let Some(snapshot) = snapshotter.next_snapshot() {
        snapshotter.take(snapshot);
    }
    Ok(())
}

struct Snapshotter {
    shared: Arc<Shared>,
    directory: PathBuf,
    /// The durable snapshot files of each stream: (previous generation, newest).
    files: HashMap<u64, (Option<u64>, u64)>,
    /// The payload of the snapshot being stored, reused from one snapshot to the next.
    buffer: Vec<u8>,
}

impl Snapshotter {
    /// Waits for the next queued snapshot; `None` once the journal is no longer open and
    /// nothing is queued.
    fn next_snapshot(&self) -> Option<QueuedSnapshot> {
        let mut pending = self.shared.lock_pending();
        loop {
            if let Some(snapshot) = pending.snapshots.pop_front() {
                return Some(snapshot);
            }
            if pending.state != State::Open {
                return None;
            }
            pending = self
                .shared
                .snapshot_wakeup
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Makes one snapshot durable and tells its caller. A failure concerns that snapshot
    /// only (the journal before it stays needed); the next one may succeed.
    fn take(&mut self, snapshot: QueuedSnapshot) {
        let QueuedSnapshot {
            stream,
            seq,
            encode,
            done,
        } = snapshot;
        // Empty: it is cleared after every use.
        let mut buffer = std::mem::take(&mut self.buffer);
        let outcome = encode(&mut buffer)
            .map_err(SnapshotError::Encode)
            .and_then(|()| self.store(stream, seq, &buffer));
        buffer.clear();
        buffer.shrink_to(BUFFER_RETAIN_BYTES_MAX);
        self.buffer = buffer;
        if let Err(error) = &outcome {
            tracing::error!(stream, seq, %error, "snapshot not stored; the journal before it stays");
        }
        done(outcome);
    }

    fn store(&mut self, stream: u64, seq: u64, payload: &[u8]) -> Result<(), SnapshotError> {
        if u32::try_from(payload.len()).is_err() {
            return Err(SnapshotError::TooLarge {
                bytes: payload.len(),
            });
        }
        self.write_file(stream, seq, payload)?;
        self.wait_written(seq)?;
        let store = &self.shared.store;
        store
            .snapshots_tree()
            .insert(stream.to_be_bytes(), &codec::snapshot_reference(seq)[..])
            .map_err(StoreError::from)?;
        store.flush()?;
        store.sync_data_file()?;
        self.shared
            .counters
            .snapshots_written
            .fetch_add(1, Ordering::Relaxed);
        let generations = self.files.entry(stream).or_insert((None, seq));
        if generations.1 != seq {
            let oldest = generations.0.replace(generations.1);
            generations.1 = seq;
            if let Some(oldest) = oldest {
                self.remove_file(stream, oldest);
            }
        }
        Ok(())
    }

    fn write_file(&self, stream: u64, seq: u64, payload: &[u8]) -> Result<(), StoreError> {
        if !self.directory.exists() {
            fs::create_dir_all(&self.directory)
                .map_err(|error| StoreError::io(&self.directory, error))?;
            sync_directory(self.shared.store.directory())?;
        }
        let path = self.directory.join(snapshot_file_name(stream, seq));
        let temporary = path.with_extension("tmp");
        write_synced(&temporary, &codec::snapshot_header(seq, payload), payload)
            .map_err(|error| StoreError::io(&temporary, error))?;
        fs::rename(&temporary, &path).map_err(|error| StoreError::io(&path, error))?;
        sync_directory(&self.directory)
    }

    /// Waits until the journal writer has written every event up to `seq`.
    fn wait_written(&self, seq: u64) -> Result<(), SnapshotError> {
        while self.shared.written_seq.load(Ordering::Acquire) < seq {
            if self.shared.lock_pending().state == State::Failed {
                return Err(SnapshotError::Closed);
            }
            std::thread::sleep(WRITTEN_POLL);
        }
        Ok(())
    }

    fn remove_file(&self, stream: u64, seq: u64) {
        let path = self.directory.join(snapshot_file_name(stream, seq));
        if let Err(error) = fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), %error, "old snapshot file not removed");
        }
    }
}

/// Puts the calling thread under `SCHED_IDLE`: it runs only on CPU time nothing else wants.
/// Encoding a large snapshot takes a core for a while, and that must not delay the threads
/// on every reply's path (the journal writer and its callers); a nice value alone still did
/// (docs/benchmarks.md). On a machine busy without pause, snapshots wait for a lull: the
/// journal is truncated later and recovery replays more, nothing is lost. Where `SCHED_IDLE` is refused, the thread takes
/// the nice value [`SNAPSHOT_THREAD_NICE`] instead (on Linux a nice value is per thread);
/// neither needs privilege, and a failure of both only leaves the default priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let parameters = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 names the calling thread; `parameters` outlives the call.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &parameters) } == 0 {
            return;
        }
        // SAFETY: plain system calls on the calling thread, no memory is passed.
        let outcome = unsafe {
            let thread_id = libc::gettid();
            libc::setpriority(
                libc::PRIO_PROCESS,
                thread_id as libc::id_t,
                SNAPSHOT_THREAD_NICE,
            )
        };
        if outcome != 0 {
            let error = std::io::Error::last_os_error();
            tracing::warn!(%error, "snapshot thread keeps the default priority");
        }
    }
}

/// Writes header and payload to a new file, syncing every `PIECE_BYTES`.
fn write_synced(path: &Path, header: &[u8], payload: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(header)?;
    for piece in payload.chunks(PIECE_BYTES) {
        file.write_all(piece)?;
        file.sync_data()?;
    }
    file.sync_all()
}

/// The snapshot files present: per stream the two newest seqs (recovery set the others
/// aside before the journal started).
fn list_files(directory: &Path) -> Result<HashMap<u64, (Option<u64>, u64)>, StoreError> {
    let mut files = HashMap::new();
    let entries = match fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(error) => return Err(StoreError::io(directory, error)),
    };
    for entry in entries {
        let entry = entry.map_err(|error| StoreError::io(directory, error))?;
        let name = entry.file_name();
        if let Some((stream, seq)) = name.to_str().and_then(parse_snapshot_file_name) {
            let generations = files.entry(stream).or_insert((None, seq));
            if seq > generations.1 {
                *generations = (Some(generations.1), seq);
            } else if seq < generations.1 && generations.0 < Some(seq) {
                generations.0 = Some(seq);
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_and_reject_strangers() {
        let name = snapshot_file_name(7, 0x1234);
        assert_eq!(name, "0000000000000007-0000000000001234.snapshot");
        assert_eq!(parse_snapshot_file_name(&name), Some((7, 0x1234)));
        assert_eq!(parse_snapshot_file_name("7-1234.snapshot"), None);
        assert_eq!(
            parse_snapshot_file_name("0000000000000007-0000000000001234.tmp"),
            None
        );
    }
}

//! The sled database with our settings and the three trees we keep in it, plus the
//! one thing sled does not do for us: a real `fdatasync` of its files.
//!
//! Why the extra sync: on Linux sled's `flush()` writes its log with
//! `sync_file_range`, which neither flushes the drive's write cache nor file-size
//! metadata (sled issue #1452); only its background flusher calls `sync_all`, every
//! 500 ms. Values too large for a log segment slot (sled "blobs", about a quarter of
//! `segment_size`) go to separate files under `blobs/` that sled never syncs at all.
//! [`Store::sync`] in fsync mode therefore syncs the data file and any new blob file.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::codec::RecordFault;
use crate::journal::Durability;
use crate::space::{SpaceGuard, SpaceReserve};
use crate::sync_health::SyncHealth;

/// sled log segment size. Large enough that a journal leaf node (at most ~17 records
/// of `record_bytes_max` = 48 KiB) stays far below the blob threshold (segment / 4).
const SEGMENT_BYTES: usize = 8 * 1024 * 1024;
/// How long `open` waits for the lock of a database that is still being closed.
const LOCK_WAIT_MS_MAX: u64 = 2_000;
const LOCK_RETRY_MS: u64 = 5;
const JOURNAL_TREE: &str = "journal";
const SNAPSHOTS_TREE: &str = "snapshots";
const META_TREE: &str = "meta";

/// Failure of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("io on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("journal record at seq {seq} is corrupt ({fault})")]
    Corrupt { seq: u64, fault: RecordFault },
    #[error("the journal writer thread panicked")]
    WriterPanicked,
    /// A flush or sync failed earlier; none is trusted after it (see `sync_health`).
    #[error("{0} (a flush or sync failed; none is trusted after it)")]
    SyncFailed(String),
    /// Recovery found acknowledged state lost or altered; the directory must not be served.
    #[error("{0}")]
    Damaged(Box<crate::recovery::Damage>),
    /// A record of the event store failed its check; it is never served.
    #[error("event store record at position {position} is corrupt ({fault})")]
    EventCorrupt { position: u64, fault: RecordFault },
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// An open database directory. Cheap to clone; every clone shares one sled instance.
///
/// sled locks its data file: open a directory once per process and drop every clone
/// (including the one inside a [`crate::Journal`]) before opening it again.
#[derive(Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    directory: PathBuf,
    db: sled::Db,
    journal: sled::Tree,
    snapshots: sled::Tree,
    meta: sled::Tree,
    /// Read-only handle on sled's data file: `fdatasync` needs any descriptor of the
    /// file, and a read-only one cannot corrupt it.
    data_file: File,
    /// Blob files already synced, so each sync only pays for new ones. Bounded by the
    /// number of live blobs: it is replaced by the current listing on every sync.
    synced_blobs: Mutex<HashSet<OsString>>,
    /// The free-space guard (see [`Store::guard_space`]).
    space: Arc<SpaceGuard>,
    /// The first failed flush or sync, and the fault hook of the tests.
    sync_health: SyncHealth,
}

impl Store {
    /// Opens (or creates) the database in `directory`.
    ///
    /// sled's exclusive lock on its data file outlives a dropped `Db` by a few
    /// milliseconds (its background I/O tasks still hold the file), so reopening in
    /// the same process right after a drop is retried for up to `LOCK_WAIT_MS_MAX`.
    pub fn open(directory: &Path) -> Result<Store, StoreError> {
        let db = open_sled(directory)?;
        let data_path = directory.join("db");
        let data_file =
            File::open(&data_path).map_err(|error| StoreError::io(&data_path, error))?;
        // A new database's directory entries must survive a crash too.
        sync_directory(directory)?;
        let inner = StoreInner {
            directory: directory.to_path_buf(),
            journal: db.open_tree(JOURNAL_TREE)?,
            snapshots: db.open_tree(SNAPSHOTS_TREE)?,
            meta: db.open_tree(META_TREE)?,
            db,
            data_file,
            synced_blobs: Mutex::new(HashSet::new()),
            space: Arc::default(),
            sync_health: SyncHealth::default(),
        };
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    /// The underlying sled database.
    pub fn db(&self) -> &sled::Db {
        &self.inner.db
    }

    /// The directory this store was opened on.
    pub fn directory(&self) -> &Path {
        &self.inner.directory
    }

    pub(crate) fn journal_tree(&self) -> &sled::Tree {
        &self.inner.journal
    }

    pub(crate) fn snapshots_tree(&self) -> &sled::Tree {
        &self.inner.snapshots
    }

    /// Reads a key of the small "meta" tree (id counters and the like).
    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.inner.meta.get(key)?.map(|value| value.to_vec()))
    }

    /// Writes a key of the "meta" tree. It becomes durable with the next
    /// [`Store::sync`] — which the journal writer does after every fsync-mode batch,
    /// because a sled flush covers the whole database.
    pub fn meta_put(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.inner.meta.insert(key, value)?;
        Ok(())
    }

    /// sled flush + (fsync mode) fdatasync of the data file. Used by the writer and
    /// at shutdown.
    pub fn sync(&self, durability: Durability) -> Result<(), StoreError> {
        self.flush()?;
        if durability == Durability::Fsync {
            self.sync_files()?;
        }
        Ok(())
    }

    /// sled's own flush: everything inserted so far is written to the OS (see the
    /// module doc for why that is not yet durable). Refused once a flush or sync failed.
    pub fn flush(&self) -> Result<(), StoreError> {
        let health = &self.inner.sync_health;
        health.check()?;
        self.inner
            .db
            .flush()
            .map_err(|error| health.fail(error.into()))?;
        Ok(())
    }

    /// `fdatasync` of sled's data file and of any blob file not synced before. Call
    /// after [`Store::flush`]. Refused once a flush or sync failed.
    pub fn sync_files(&self) -> Result<(), StoreError> {
        self.sync_data_file()?;
        self.sync_new_blobs()
            .map_err(|error| self.inner.sync_health.fail(error))
    }

    /// `fdatasync` of sled's data file only (where the fault hook strikes).
    pub(crate) fn sync_data_file(&self) -> Result<(), StoreError> {
        let health = &self.inner.sync_health;
        health.check()?;
        let data_path = || self.inner.directory.join("db");
        health
            .injected_fault()
            .and_then(|()| self.inner.data_file.sync_data())
            .map_err(|error| health.fail(StoreError::io(&data_path(), error)))
    }

    /// The first flush or sync of this store that failed, if one did: from then on the
    /// store makes nothing durable (see `sync_health`).
    pub fn sync_failure(&self) -> Option<&str> {
        self.inner.sync_health.failure()
    }

    /// Fault hook for tests (the server reaches it through the development-only setting
    /// `storage.fault_failing_sync_number`): after `successful_syncs` more
    /// `fdatasync`s of sled's data file, the next one fails with an I/O error, as a failing
    /// disk's would; like a real failure it refuses every later flush and sync.
    pub fn inject_sync_failure_after(&self, successful_syncs: u64) {
        tracing::warn!(
            successful_syncs,
            "storage: fault injection armed: a data-file sync will fail"
        );
        self.inner.sync_health.arm(successful_syncs);
    }

    /// Starts the free-space guard on this store's directory: from now on new journal
    /// entries and snapshots are refused while the file system's free space is below
    /// `reserve` (see [`crate::space`]). A later call changes the reserve.
    pub fn guard_space(&self, reserve: SpaceReserve) -> Result<(), StoreError> {
        let directory = &self.inner.directory;
        SpaceGuard::start(&self.inner.space, directory, reserve)
            .map_err(|error| StoreError::io(directory, error))
    }

    /// The free-space guard's verdict and last reading.
    pub fn space(&self) -> &SpaceGuard {
        &self.inner.space
    }

    /// Where snapshot files live (see `journal::snapshotter`).
    pub fn snapshots_directory(&self) -> PathBuf {
        self.inner.directory.join("snapshots")
    }

    fn sync_new_blobs(&self) -> Result<(), StoreError> {
        let blobs_directory = self.inner.directory.join("blobs");
        let entries = match std::fs::read_dir(&blobs_directory) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(StoreError::io(&blobs_directory, error)),
        };
        let mut synced = self
            .inner
            .synced_blobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut present = HashSet::with_capacity(synced.len());
        let mut synced_any = false;
        for entry in entries {
            let name = entry
                .map_err(|error| StoreError::io(&blobs_directory, error))?
                .file_name();
            if !synced.contains(&name) {
                sync_blob(&blobs_directory.join(&name))?;
                synced_any = true;
            }
            present.insert(name);
        }
        if synced_any {
            sync_directory(&blobs_directory)?;
        }
        *synced = present;
        Ok(())
    }
}

pub(crate) fn open_sled(directory: &Path) -> Result<sled::Db, StoreError> {
    // No background flusher: the journal makes every batch durable itself (fsync mode) or
    // flushes on its own interval (relaxed mode); sled's extra flush with `sync_all` every
    // 500 ms only competed with those syncs.
    let config = sled::Config::new()
        .path(directory)
        .segment_size(SEGMENT_BYTES)
        .flush_every_ms(None);
    let deadline = Instant::now() + Duration::from_millis(LOCK_WAIT_MS_MAX);
    loop {
        match config.open() {
            Err(error) if is_lock_busy(&error) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(LOCK_RETRY_MS));
            }
            outcome => return Ok(outcome?),
        }
    }
}

/// sled reports a held lock only as an `Other` I/O error with this message.
fn is_lock_busy(error: &sled::Error) -> bool {
    match error {
        sled::Error::Io(io_error) => {
            io_error.kind() == io::ErrorKind::Other
                && io_error.to_string().contains("could not acquire lock")
        }
        _ => false,
    }
}

fn sync_blob(path: &Path) -> Result<(), StoreError> {
    match File::open(path).and_then(|file| file.sync_data()) {
        // sled garbage-collects blobs concurrently; a vanished one needs no sync.
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        outcome => outcome.map_err(|error| StoreError::io(path, error)),
    }
}

pub(crate) fn sync_directory(directory: &Path) -> Result<(), StoreError> {
    File::open(directory)
        .and_then(|handle| handle.sync_all())
        .map_err(|error| StoreError::io(directory, error))
}

//! Backups: an online, consistent, logical copy of a data directory; its verification;
//! restore into a new data directory; retention.
//!
//! # What a backup holds
//!
//! A folder `backup-{YYYYMMDDTHHMMSSZ}-{seq}` (the UTC second it was taken, the durable
//! seq it covers) with:
//!
//! - `snapshot-references.records`: sled's `snapshots` tree (stream → 20-byte reference),
//!   read first;
//! - `snapshots/{stream:016x}-{seq:016x}.snapshot`: every referenced snapshot file and, when
//!   still present, the stream's previous generation, byte for byte (each has its own
//!   header with seq, length and crc32);
//! - `journal.records`: the journal records, byte for byte (whole batches, each with its
//!   header and crc32), whose first seq is at most the bound: the durable seq given, or the
//!   newest snapshot's seq when higher (a reference is stored only once the writer wrote
//!   every event up to it, so those records exist, and with them every stream ends at the
//!   same point);
//! - `tree-{name}.records`: every other sled tree (`meta`, `orders_archive`, `audit`, and any
//!   added later), read last: the cold store is written before the journal names what it
//!   archived, so it holds every archived order the copied journal refers to;
//! - `manifest.json`, written last: `format`, `formatVersion`, `createdAt` (RFC 3339 UTC),
//!   `durableSeq` (the last journal seq held or the newest snapshot seq, whichever is
//!   higher), and `name`, `bytes` and `sha256` of every other file. (SHA-256, not CRC-32:
//!   the CRC-32 of a file of records that each end in their own CRC-32 depends only on
//!   the records' lengths.)
//!
//! The `.records` files share one framed format, its header, every record and the trailer
//! each with a crc32 (see `records`):
//!
//! ```text
//! header  = "PCB1" | version u16 | name length u16 | name | crc32
//! record  = key length u32 | value length u32 | key | value | crc32
//! trailer = 0xFFFF_FFFF u32 | record count u64 | crc32          (little-endian)
//! ```
//!
//! # A running server
//!
//! Nothing is locked: the snapshot thread and journal truncation go on. Two races are
//! detected and the whole backup retried (at most [`ATTEMPTS_MAX`] times): a referenced
//! snapshot file deleted before it was copied (two newer snapshots of its stream were stored
//! meanwhile), and journal records truncated while they were read (a hole in the copy, or
//! a journal that no longer reaches back to a copied snapshot). A previous-generation file
//! that vanishes is simply left out.
//!
//! # Written, then verified
//!
//! Everything goes into `backup-{stamp}.tmp` beside the backups; every file and the folder
//! are fsynced, the manifest last; then [`verify_backup`] reads it all back. Only a
//! verified backup is renamed into place (and the parent synced). One that fails
//! verification is removed, the error naming the file and the fault; no older backup is
//! touched. A `.tmp` folder left by a crash is removed by [`prune_backups`] once a newer
//! backup exists.
//!
//! # Restore
//!
//! [`restore_backup`] verifies, refuses a data directory that exists and is not empty,
//! inserts every tree's records into a new store, copies the snapshot files, fsyncs
//! everything, and then writes `journal.seal` with the backup's durable seq, so the first
//! start's recovery checks the restored journal against it.

mod records;

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::codec::{self, JournalHeader, RecordFault};
use crate::journal::{parse_snapshot_file_name, snapshot_file_name, Durability};
use crate::recovery::{verify_journal_record, verify_snapshot_bytes};
use crate::seal::Seal;
use crate::store::{sync_directory, Store, StoreError};
use records::{file_checksum, hex, RecordsReader, RecordsWriter};

/// The manifest's file name inside a backup.
pub const MANIFEST_FILE_NAME: &str = "manifest.json";
/// The manifest's `format`.
pub const FORMAT_NAME: &str = "playcore-backup";
/// The manifest's `formatVersion`.
pub const FORMAT_VERSION: u32 = 1;
/// Every backup folder's name starts with this.
pub const BACKUP_PREFIX: &str = "backup-";
/// How often a backup that raced the snapshot thread or truncation is attempted in all.
pub const ATTEMPTS_MAX: usize = 3;
/// Backups [`list_backups`] reports at most.
pub const LIST_BACKUPS_MAX: usize = 1_000;
const TEMPORARY_SUFFIX: &str = ".tmp";
const JOURNAL_FILE: &str = "journal.records";
const REFERENCES_FILE: &str = "snapshot-references.records";
const SNAPSHOTS_FOLDER: &str = "snapshots";
const TREE_FILE_PREFIX: &str = "tree-";
const RECORDS_SUFFIX: &str = ".records";
const JOURNAL_TREE: &str = "journal";
const SNAPSHOTS_TREE: &str = "snapshots";
const STAMP_FORMAT: &str = "%Y%m%dT%H%M%SZ";
const STAMP_BYTES: usize = 16;

/// A written (and verified) backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// The folder's name, `backup-{YYYYMMDDTHHMMSSZ}-{seq}`.
    pub name: String,
    pub path: PathBuf,
    /// RFC 3339 UTC, milliseconds.
    pub created_at: String,
    /// Every journal entry <= this is in the backup (or in a snapshot it holds).
    pub durable_seq: u64,
    /// All its files, the manifest included.
    pub bytes: u64,
}

/// Why a backup could not be written, verified, restored or pruned.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("io on {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// A file of the backup is missing, cut short or altered.
    #[error("backup {}: {file} is damaged: {reason}", .backup.display())]
    Damaged {
        backup: PathBuf,
        file: String,
        reason: String,
    },
    /// The live data is damaged, so no faithful copy can be taken.
    #[error("the data directory cannot be backed up: {0} (run `playcore check`)")]
    Source(String),
    #[error(
        "the data directory {} exists and is not empty: move it aside first (never delete it)",
        .0.display()
    )]
    NotEmpty(PathBuf),
    #[error("the store changed under the backup {ATTEMPTS_MAX} times ({0}); try again")]
    Unstable(String),
}

impl BackupError {
    fn io(path: &Path, source: io::Error) -> BackupError {
        BackupError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn damaged(backup: &Path, file: &str, reason: impl Into<String>) -> BackupError {
        BackupError::Damaged {
            backup: backup.to_path_buf(),
            file: file.to_owned(),
            reason: reason.into(),
        }
    }
}

impl From<sled::Error> for BackupError {
    fn from(error: sled::Error) -> BackupError {
        BackupError::Store(StoreError::Sled(error))
    }
}

/// One file of a backup as the manifest lists it (path relative to the backup folder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    name: String,
    bytes: u64,
    /// Lowercase hex.
    sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Manifest {
    format: String,
    format_version: u32,
    created_at: String,
    durable_seq: u64,
    files: Vec<FileEntry>,
}

impl Manifest {
    fn bytes(&self, manifest_bytes: u64) -> u64 {
        self.files.iter().map(|file| file.bytes).sum::<u64>() + manifest_bytes
    }

    fn snapshot_files(&self) -> impl Iterator<Item = &FileEntry> {
        self.files
            .iter()
            .filter(|file| file.name.starts_with(SNAPSHOTS_FOLDER))
    }

    fn tree_files(&self) -> impl Iterator<Item = &FileEntry> {
        self.files
            .iter()
            .filter(|file| file.name.starts_with(TREE_FILE_PREFIX))
    }
}

/// Why one attempt at a backup failed: a race is retried, anything else is final.
enum Failure {
    Race(String),
    Fatal(BackupError),
}

impl<E: Into<BackupError>> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure::Fatal(error.into())
    }
}

/// A snapshot reference as read from the live store.
struct Reference {
    stream: u64,
    seq: u64,
    /// Stored inline by older versions: no file.
    inline: bool,
    value: Vec<u8>,
}

/// The journal seqs a copy holds: `first..end`; both `None` when it holds none.
#[derive(Debug, Default, Clone, Copy)]
struct JournalSpan {
    first_seq: Option<u64>,
    end_seq: Option<u64>,
}

impl JournalSpan {
    fn last_seq(&self) -> u64 {
        self.end_seq.map_or(0, |end| end - 1)
    }

    /// Adds the record `header` describes; `Err` (the seq expected) when it does not follow.
    fn extend(&mut self, header: &JournalHeader) -> Result<(), u64> {
        if let Some(end) = self.end_seq.filter(|end| *end != header.first_seq) {
            return Err(end);
        }
        self.first_seq.get_or_insert(header.first_seq);
        self.end_seq = Some(header.end_seq());
        Ok(())
    }

    /// The journal must continue the snapshot at `seq` without a hole (or be empty).
    fn covers(&self, seq: u64) -> bool {
        self.first_seq.is_none_or(|first| first <= seq + 1)
    }
}

/// Writes a verified backup of `store` covering at least `durable_seq` into a new folder of
/// `backups_directory` (see the module doc). Blocking; safe while the journal runs.
pub fn create_backup(
    store: &Store,
    durable_seq: u64,
    backups_directory: &Path,
) -> Result<BackupInfo, BackupError> {
    fs::create_dir_all(backups_directory)
        .map_err(|error| BackupError::io(backups_directory, error))?;
    let mut races = Vec::new();
    for attempt in 1..=ATTEMPTS_MAX {
        match create_once(store, durable_seq, backups_directory) {
            Ok(info) => return Ok(info),
            Err(Failure::Fatal(error)) => return Err(error),
            Err(Failure::Race(reason)) => {
                tracing::warn!(attempt, %reason, "backup raced the running store; retrying");
                races.push(reason);
            }
        }
    }
    Err(BackupError::Unstable(races.join("; ")))
}

fn create_once(
    store: &Store,
    durable_seq: u64,
    backups_directory: &Path,
) -> Result<BackupInfo, Failure> {
    let stamp = Stamp::fresh(backups_directory)?;
    let temporary = format!("{BACKUP_PREFIX}{}{TEMPORARY_SUFFIX}", stamp.name);
    let folder = TemporaryFolder::create(backups_directory.join(temporary))?;
    let references = read_references(store)?;
    let mut files = vec![write_references(&folder.path, &references)?];
    files.extend(copy_snapshots(store, &folder.path, &references)?);
    let snapshot_seq_max = references.iter().map(|reference| reference.seq).max();
    let bound = durable_seq.max(snapshot_seq_max.unwrap_or(0));
    let (journal_file, span) = copy_journal(store, &folder.path, bound)?;
    files.push(journal_file);
    if let Some(reference) = references.iter().find(|r| !span.covers(r.seq)) {
        return Err(Failure::Race(format!(
            "the journal was truncated past the snapshot of stream {} at seq {}",
            reference.stream, reference.seq
        )));
    }
    files.extend(copy_trees(store, &folder.path)?);
    let manifest = Manifest {
        format: FORMAT_NAME.to_owned(),
        format_version: FORMAT_VERSION,
        created_at: stamp.created_at,
        durable_seq: span.last_seq().max(snapshot_seq_max.unwrap_or(0)),
        files,
    };
    write_manifest(&folder.path, &manifest)?;
    sync_directory(&folder.path)?;
    let verified = verify_backup(&folder.path)?;
    let name = format!("{BACKUP_PREFIX}{}-{}", stamp.name, manifest.durable_seq);
    let path = folder.rename_to(&backups_directory.join(&name))?;
    sync_directory(backups_directory)?;
    Ok(BackupInfo {
        name,
        path,
        ..verified
    })
}

/// The time a backup is taken, as its name and its manifest show it.
struct Stamp {
    name: String,
    created_at: String,
}

impl Stamp {
    /// Now; or the next second while a backup of this second exists, so names stay unique.
    fn fresh(backups_directory: &Path) -> Result<Stamp, BackupError> {
        let mut waits = 0;
        loop {
            let now = chrono::Utc::now();
            let stamp = Stamp {
                name: now.format(STAMP_FORMAT).to_string(),
                created_at: now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            };
            let prefix = format!("{BACKUP_PREFIX}{}", stamp.name);
            if waits == 2 || !any_name_starts_with(backups_directory, &prefix)? {
                return Ok(stamp);
            }
            waits += 1;
            let rest_ms = 1_000 - u64::from(now.timestamp_subsec_millis().min(999));
            std::thread::sleep(Duration::from_millis(rest_ms));
        }
    }
}

fn any_name_starts_with(directory: &Path, prefix: &str) -> Result<bool, BackupError> {
    Ok(folder_names(directory)?
        .iter()
        .any(|name| name.starts_with(prefix)))
}

/// The names in `directory` (none when it does not exist).
fn folder_names(directory: &Path) -> Result<Vec<String>, BackupError> {
    let entries = match fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(BackupError::io(directory, error)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| BackupError::io(directory, error))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    Ok(names)
}

/// A folder removed when dropped, unless renamed into place.
struct TemporaryFolder {
    path: PathBuf,
    armed: bool,
}

impl TemporaryFolder {
    fn create(path: PathBuf) -> Result<TemporaryFolder, BackupError> {
        if path.exists() {
            fs::remove_dir_all(&path).map_err(|error| BackupError::io(&path, error))?;
        }
        fs::create_dir(&path).map_err(|error| BackupError::io(&path, error))?;
        Ok(TemporaryFolder { path, armed: true })
    }

    fn rename_to(mut self, target: &Path) -> Result<PathBuf, BackupError> {
        fs::rename(&self.path, target).map_err(|error| BackupError::io(target, error))?;
        self.armed = false;
        Ok(target.to_path_buf())
    }
}

impl Drop for TemporaryFolder {
    fn drop(&mut self) {
        if self.armed {
            if let Err(error) = fs::remove_dir_all(&self.path) {
                tracing::warn!(path = %self.path.display(), %error, "backup folder not removed");
            }
        }
    }
}

fn read_references(store: &Store) -> Result<Vec<Reference>, Failure> {
    let mut references = Vec::new();
    for entry in store.snapshots_tree().iter() {
        let (key, value) = entry?;
        let stream = codec::key_seq(&key)
            .ok_or_else(|| BackupError::Source(format!("snapshot reference key {key:?}")))?;
        let (seq, inline) = reference_seq(&value).map_err(|fault| {
            BackupError::Source(format!("snapshot of stream {stream}: {fault}"))
        })?;
        references.push(Reference {
            stream,
            seq,
            inline,
            value: value.to_vec(),
        });
    }
    Ok(references)
}

/// The seq a `snapshots` tree value names, and whether it is an inline snapshot.
fn reference_seq(value: &[u8]) -> Result<(u64, bool), RecordFault> {
    if codec::is_snapshot_reference(value) {
        Ok((codec::read_snapshot_reference(value)?, false))
    } else {
        Ok((codec::read_snapshot_value(value)?.0, true))
    }
}

fn write_references(folder: &Path, references: &[Reference]) -> Result<FileEntry, BackupError> {
    let mut writer = RecordsWriter::create(folder, REFERENCES_FILE, SNAPSHOTS_TREE)?;
    for reference in references {
        writer.put(&reference.stream.to_be_bytes(), &reference.value)?;
    }
    writer.finish()
}

/// What became of one snapshot file.
enum Copied {
    Done(FileEntry),
    Vanished,
    Damaged(String),
}

fn copy_snapshots(
    store: &Store,
    folder: &Path,
    references: &[Reference],
) -> Result<Vec<FileEntry>, Failure> {
    let source = store.snapshots_directory();
    let present = snapshot_seqs(&source)?;
    let target = folder.join(SNAPSHOTS_FOLDER);
    fs::create_dir(&target).map_err(|error| BackupError::io(&target, error))?;
    let mut files = Vec::new();
    for reference in references.iter().filter(|reference| !reference.inline) {
        let (stream, seq) = (reference.stream, reference.seq);
        match copy_snapshot(&source, &target, stream, seq)? {
            Copied::Done(file) => files.push(file),
            Copied::Vanished => {
                let name = snapshot_file_name(stream, seq);
                return Err(Failure::Race(format!(
                    "snapshot {name} was replaced meanwhile"
                )));
            }
            Copied::Damaged(reason) => return Err(BackupError::Source(reason).into()),
        }
        let older = present.get(&stream).into_iter().flatten();
        if let Some(previous) = older.filter(|older| **older < seq).max() {
            match copy_snapshot(&source, &target, stream, *previous)? {
                Copied::Done(file) => files.push(file),
                Copied::Vanished => {}
                Copied::Damaged(reason) => tracing::warn!(%reason, "previous snapshot left out"),
            }
        }
    }
    sync_directory(&target)?;
    Ok(files)
}

/// The snapshot files present, by stream.
fn snapshot_seqs(directory: &Path) -> Result<HashMap<u64, Vec<u64>>, BackupError> {
    let mut seqs: HashMap<u64, Vec<u64>> = HashMap::new();
    for name in folder_names(directory)? {
        if let Some((stream, seq)) = parse_snapshot_file_name(&name) {
            seqs.entry(stream).or_default().push(seq);
        }
    }
    Ok(seqs)
}

fn copy_snapshot(
    source: &Path,
    target: &Path,
    stream: u64,
    seq: u64,
) -> Result<Copied, BackupError> {
    let name = snapshot_file_name(stream, seq);
    let path = source.join(&name);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Copied::Vanished),
        Err(error) => return Err(BackupError::io(&path, error)),
    };
    if let Err(reason) = verify_snapshot_bytes(&bytes, seq) {
        return Ok(Copied::Damaged(format!("{}: {reason}", path.display())));
    }
    write_synced(&target.join(&name), &bytes)?;
    Ok(Copied::Done(FileEntry {
        name: format!("{SNAPSHOTS_FOLDER}/{name}"),
        bytes: bytes.len() as u64,
        sha256: hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
    }))
}

/// Copies the journal records whose first seq is <= `bound`.
fn copy_journal(
    store: &Store,
    folder: &Path,
    bound: u64,
) -> Result<(FileEntry, JournalSpan), Failure> {
    let mut writer = RecordsWriter::create(folder, JOURNAL_FILE, JOURNAL_TREE)?;
    let mut span = JournalSpan::default();
    for entry in store.journal_tree().iter() {
        let (key, value) = entry?;
        if codec::key_seq(&key).is_some_and(|first_seq| first_seq > bound) {
            break;
        }
        let header = verify_journal_record(&key, &value).map_err(|fault| {
            let seq = codec::key_seq(&key).unwrap_or(0);
            BackupError::Source(format!("journal record at seq {seq}: {fault}"))
        })?;
        if let Err(expected) = span.extend(&header) {
            let found = header.first_seq;
            return Err(Failure::Race(format!(
                "journal records {expected}..{found} were truncated while they were read"
            )));
        }
        writer.put(&key, &value)?;
    }
    Ok((writer.finish()?, span))
}

fn copy_trees(store: &Store, folder: &Path) -> Result<Vec<FileEntry>, BackupError> {
    let db = store.db();
    let default_tree = db.name();
    let mut files = Vec::new();
    for name in db.tree_names() {
        if name == default_tree {
            continue;
        }
        let text = String::from_utf8(name.to_vec())
            .map_err(|_| BackupError::Source(format!("tree name {name:?} is not UTF-8")))?;
        if text == JOURNAL_TREE || text == SNAPSHOTS_TREE {
            continue;
        }
        let mut writer = RecordsWriter::create(folder, &tree_file_name(&text), &text)?;
        for entry in db.open_tree(&name)?.iter() {
            let (key, value) = entry?;
            writer.put(&key, &value)?;
        }
        files.push(writer.finish()?);
    }
    Ok(files)
}

/// `tree-{name}.records`; a name of other characters than `[A-Za-z0-9_-]` is spelled in hex.
fn tree_file_name(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let stem = if plain {
        name.to_owned()
    } else {
        let hex: String = name.bytes().map(|byte| format!("{byte:02x}")).collect();
        format!("hex.{hex}")
    };
    format!("{TREE_FILE_PREFIX}{stem}{RECORDS_SUFFIX}")
}

fn write_manifest(folder: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    let path = folder.join(MANIFEST_FILE_NAME);
    let bytes = serde_json::to_vec_pretty(manifest)
        .map_err(|error| BackupError::io(&path, error.into()))?;
    write_synced(&path, &bytes)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    File::create(path)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .map_err(|error| BackupError::io(path, error))
}

/// Reads a backup back and checks everything: the manifest's byte counts and checksums,
/// every journal record (and that they are contiguous), every snapshot reference and file,
/// that the journal continues every snapshot without a hole (or is empty), every tree
/// file, and the durable seq. The error names the damaged file.
pub fn verify_backup(path: &Path) -> Result<BackupInfo, BackupError> {
    verify(path).map(|(_, info)| info)
}

fn verify(path: &Path) -> Result<(Manifest, BackupInfo), BackupError> {
    let (manifest, manifest_bytes) = read_manifest(path)?;
    check_listed_files(path, &manifest)?;
    let span = verify_journal(path)?;
    let references = verify_references(path, &manifest)?;
    for file in manifest.snapshot_files() {
        verify_snapshot_file(path, &file.name)?;
    }
    if let Some((stream, seq)) = references.iter().find(|(_, seq)| !span.covers(*seq)) {
        let reason = format!(
            "starts at seq {}, after the snapshot of stream {stream} at seq {seq}: a hole",
            span.first_seq.unwrap_or(0)
        );
        return Err(BackupError::damaged(path, JOURNAL_FILE, reason));
    }
    for file in manifest.tree_files() {
        verify_tree_file(path, &file.name)?;
    }
    let snapshot_seq_max = references.iter().map(|(_, seq)| *seq).max().unwrap_or(0);
    let durable_seq = span.last_seq().max(snapshot_seq_max);
    if manifest.durable_seq != durable_seq {
        let reason = format!(
            "durableSeq {}, the files hold {durable_seq}",
            manifest.durable_seq
        );
        return Err(BackupError::damaged(path, MANIFEST_FILE_NAME, reason));
    }
    let info = BackupInfo {
        name: folder_name(path),
        path: path.to_path_buf(),
        created_at: manifest.created_at.clone(),
        durable_seq,
        bytes: manifest.bytes(manifest_bytes),
    };
    Ok((manifest, info))
}

fn folder_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The manifest and its size; its format, version and file names checked.
fn read_manifest(path: &Path) -> Result<(Manifest, u64), BackupError> {
    let damaged = |reason: String| BackupError::damaged(path, MANIFEST_FILE_NAME, reason);
    let manifest_path = path.join(MANIFEST_FILE_NAME);
    let bytes = match fs::read(&manifest_path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(damaged("missing".to_owned()))
        }
        Err(error) => return Err(BackupError::io(&manifest_path, error)),
    };
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|error| damaged(error.to_string()))?;
    if manifest.format != FORMAT_NAME || manifest.format_version != FORMAT_VERSION {
        let reason = format!(
            "format {} version {}",
            manifest.format, manifest.format_version
        );
        return Err(damaged(reason));
    }
    let mut names = HashSet::new();
    for file in &manifest.files {
        if !is_backup_file_name(&file.name) || !names.insert(file.name.as_str()) {
            return Err(damaged(format!(
                "unexpected or repeated file {:?}",
                file.name
            )));
        }
    }
    for required in [JOURNAL_FILE, REFERENCES_FILE] {
        if !names.contains(required) {
            return Err(damaged(format!("does not list {required}")));
        }
    }
    Ok((manifest, bytes.len() as u64))
}

/// Only names a backup writes: nothing can point outside the folder.
fn is_backup_file_name(name: &str) -> bool {
    if let Some(file) = name.strip_prefix("snapshots/") {
        return parse_snapshot_file_name(file).is_some();
    }
    let tree = name
        .strip_prefix(TREE_FILE_PREFIX)
        .and_then(|rest| rest.strip_suffix(RECORDS_SUFFIX));
    name == JOURNAL_FILE
        || name == REFERENCES_FILE
        || tree.is_some_and(|stem| !stem.is_empty() && !stem.contains('/'))
}

/// Every listed file is there with the byte count and SHA-256 the manifest gives.
fn check_listed_files(path: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    for file in &manifest.files {
        let (bytes, sha256) = match file_checksum(&path.join(&file.name)) {
            Ok(found) => found,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(BackupError::damaged(path, &file.name, "missing"));
            }
            Err(error) => return Err(BackupError::io(&path.join(&file.name), error)),
        };
        if bytes != file.bytes || sha256 != file.sha256 {
            let reason = format!(
                "{bytes} bytes with SHA-256 {sha256}; the manifest says {} bytes with SHA-256 {}",
                file.bytes, file.sha256
            );
            return Err(BackupError::damaged(path, &file.name, reason));
        }
    }
    Ok(())
}

/// Opens a records file and checks that its header names `tree`.
fn open_records(path: &Path, file: &str, tree: &str) -> Result<RecordsReader, BackupError> {
    let reader = RecordsReader::open(path, file)?;
    if reader.tree_name != tree {
        let reason = format!("holds tree {:?}, expected {tree:?}", reader.tree_name);
        return Err(reader.damaged(reason));
    }
    Ok(reader)
}

fn verify_journal(path: &Path) -> Result<JournalSpan, BackupError> {
    let mut reader = open_records(path, JOURNAL_FILE, JOURNAL_TREE)?;
    let mut span = JournalSpan::default();
    while let Some((key, value)) = reader.next_record()? {
        let seq = codec::key_seq(&key).unwrap_or(0);
        let header = verify_journal_record(&key, &value)
            .map_err(|fault| reader.damaged(format!("journal record at seq {seq}: {fault}")))?;
        if let Err(expected) = span.extend(&header) {
            let fault = RecordFault::NotContiguous {
                expected,
                found: header.first_seq,
            };
            return Err(reader.damaged(format!("journal record at seq {seq}: {fault}")));
        }
    }
    Ok(span)
}

/// Every reference verifies and names a snapshot file the backup holds; returns the
/// (stream, seq) of each.
fn verify_references(path: &Path, manifest: &Manifest) -> Result<Vec<(u64, u64)>, BackupError> {
    let listed: HashSet<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
    let mut reader = open_records(path, REFERENCES_FILE, SNAPSHOTS_TREE)?;
    let mut references = Vec::new();
    while let Some((key, value)) = reader.next_record()? {
        let stream = codec::key_seq(&key)
            .ok_or_else(|| reader.damaged(format!("a key of {} bytes", key.len())))?;
        let (seq, inline) = reference_seq(&value)
            .map_err(|fault| reader.damaged(format!("stream {stream}: {fault}")))?;
        let file = format!("{SNAPSHOTS_FOLDER}/{}", snapshot_file_name(stream, seq));
        if !inline && !listed.contains(file.as_str()) {
            return Err(reader.damaged(format!("names {file}, which the backup does not hold")));
        }
        references.push((stream, seq));
    }
    Ok(references)
}

fn verify_snapshot_file(path: &Path, name: &str) -> Result<(), BackupError> {
    let file = path.join(name);
    let bytes = fs::read(&file).map_err(|error| BackupError::io(&file, error))?;
    let seq = name
        .strip_prefix("snapshots/")
        .and_then(parse_snapshot_file_name)
        .map_or(0, |(_, seq)| seq);
    verify_snapshot_bytes(&bytes, seq)
        .map(drop)
        .map_err(|reason| BackupError::damaged(path, name, reason))
}

fn verify_tree_file(path: &Path, name: &str) -> Result<(), BackupError> {
    let mut reader = RecordsReader::open(path, name)?;
    let tree = reader.tree_name.clone();
    if tree_file_name(&tree) != name || tree == JOURNAL_TREE || tree == SNAPSHOTS_TREE {
        return Err(reader.damaged(format!("holds tree {tree:?}")));
    }
    while reader.next_record()?.is_some() {}
    Ok(())
}

/// Restores the backup at `backup` into `data_directory`, which must not exist or be
/// empty (see the module doc). The directory is then served like any other: start the
/// server on it.
pub fn restore_backup(backup: &Path, data_directory: &Path) -> Result<BackupInfo, BackupError> {
    let (manifest, info) = verify(backup)?;
    prepare_data_directory(data_directory)?;
    let store = Store::open(data_directory)?;
    restore_records(backup, JOURNAL_FILE, store.journal_tree())?;
    restore_records(backup, REFERENCES_FILE, store.snapshots_tree())?;
    for file in manifest.tree_files() {
        let tree_name = RecordsReader::open(backup, &file.name)?.tree_name;
        restore_records(backup, &file.name, &store.db().open_tree(tree_name)?)?;
    }
    restore_snapshot_files(backup, &manifest, &store.snapshots_directory())?;
    store.sync(Durability::Fsync)?;
    write_seal(data_directory, info.durable_seq)?;
    sync_directory(data_directory)?;
    Ok(info)
}

fn prepare_data_directory(directory: &Path) -> Result<(), BackupError> {
    match fs::read_dir(directory).map(|mut entries| entries.next().is_some()) {
        Ok(true) => return Err(BackupError::NotEmpty(directory.to_path_buf())),
        Ok(false) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(BackupError::io(directory, error)),
    }
    fs::create_dir_all(directory).map_err(|error| BackupError::io(directory, error))?;
    match directory
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        Some(parent) => Ok(sync_directory(parent)?),
        None => Ok(()),
    }
}

fn restore_records(backup: &Path, file: &str, tree: &sled::Tree) -> Result<(), BackupError> {
    let mut reader = RecordsReader::open(backup, file)?;
    while let Some((key, value)) = reader.next_record()? {
        tree.insert(key, value)?;
    }
    Ok(())
}

fn restore_snapshot_files(
    backup: &Path,
    manifest: &Manifest,
    target: &Path,
) -> Result<(), BackupError> {
    fs::create_dir_all(target).map_err(|error| BackupError::io(target, error))?;
    for file in manifest.snapshot_files() {
        let source = backup.join(&file.name);
        let bytes = fs::read(&source).map_err(|error| BackupError::io(&source, error))?;
        let name = file.name.trim_start_matches("snapshots/");
        write_synced(&target.join(name), &bytes)?;
    }
    Ok(sync_directory(target)?)
}

/// Records the backup's durable seq in `journal.seal` (none for an empty backup: a seal of
/// 0 claims nothing).
fn write_seal(data_directory: &Path, durable_seq: u64) -> Result<(), BackupError> {
    if durable_seq == 0 {
        return Ok(());
    }
    let mut seal = Seal::open(data_directory).map_err(StoreError::from)?;
    seal.record(durable_seq).map_err(StoreError::from)?;
    seal.sync().map_err(StoreError::from)?;
    Ok(())
}

/// The backups in `backups_directory`, newest first (at most [`LIST_BACKUPS_MAX`]), from
/// their manifests; folders whose manifest cannot be read are left out (logged).
/// Only verified backups carry a backup name: the others are `.tmp` folders.
pub fn list_backups(backups_directory: &Path) -> Result<Vec<BackupInfo>, BackupError> {
    let mut backups = Vec::new();
    for name in backup_names(backups_directory)?
        .into_iter()
        .take(LIST_BACKUPS_MAX)
    {
        let path = backups_directory.join(&name);
        match read_manifest(&path) {
            Ok((manifest, manifest_bytes)) => backups.push(BackupInfo {
                name,
                created_at: manifest.created_at.clone(),
                durable_seq: manifest.durable_seq,
                bytes: manifest.bytes(manifest_bytes),
                path,
            }),
            Err(error) => tracing::warn!(%error, "backup left out of the list"),
        }
    }
    Ok(backups)
}

/// Keeps the newest `keep` backups and removes the older ones, and `.tmp` folders older
/// than the newest backup (left by a crash). Returns the names removed.
pub fn prune_backups(backups_directory: &Path, keep: usize) -> Result<Vec<String>, BackupError> {
    let names = backup_names(backups_directory)?;
    let mut removed = Vec::new();
    for name in names.iter().skip(keep) {
        remove_folder(backups_directory, name)?;
        removed.push(name.clone());
    }
    let Some(newest_stamp) = names.first().and_then(|name| parse_backup_name(name)) else {
        return Ok(removed);
    };
    let newest_stamp = newest_stamp.0.to_owned();
    for name in folder_names(backups_directory)? {
        let stamp = name
            .strip_prefix(BACKUP_PREFIX)
            .and_then(|rest| rest.strip_suffix(TEMPORARY_SUFFIX));
        if stamp.is_some_and(|stamp| stamp < newest_stamp.as_str()) {
            remove_folder(backups_directory, &name)?;
            removed.push(name);
        }
    }
    Ok(removed)
}

fn remove_folder(directory: &Path, name: &str) -> Result<(), BackupError> {
    let path = directory.join(name);
    fs::remove_dir_all(&path).map_err(|error| BackupError::io(&path, error))?;
    tracing::info!(backup = name, "old backup removed");
    Ok(())
}

/// The names of the (verified) backups in `directory`, newest first.
fn backup_names(directory: &Path) -> Result<Vec<String>, BackupError> {
    let mut names: Vec<String> = folder_names(directory)?
        .into_iter()
        .filter(|name| parse_backup_name(name).is_some())
        .collect();
    names.sort_by(|left, right| parse_backup_name(right).cmp(&parse_backup_name(left)));
    Ok(names)
}

/// `backup-{YYYYMMDDTHHMMSSZ}-{seq}` → (stamp, seq).
fn parse_backup_name(name: &str) -> Option<(&str, u64)> {
    let (stamp, seq) = name.strip_prefix(BACKUP_PREFIX)?.split_once('-')?;
    let well_formed = stamp.len() == STAMP_BYTES
        && stamp.as_bytes()[8] == b'T'
        && stamp.ends_with('Z')
        && seq.bytes().all(|byte| byte.is_ascii_digit());
    well_formed.then_some(())?;
    Some((stamp, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names_parse_and_sort_newest_first() {
        assert_eq!(
            parse_backup_name("backup-20260101T000000Z-42"),
            Some(("20260101T000000Z", 42))
        );
        for stranger in [
            "backup-20260101T000000Z.tmp",
            "backup-20260101T000000Z-4x",
            "backup-2026-42",
            "snapshot-20260101T000000Z-42",
        ] {
            assert_eq!(parse_backup_name(stranger), None, "{stranger}");
        }
        assert_eq!(
            tree_file_name("orders_archive"),
            "tree-orders_archive.records"
        );
        assert_eq!(tree_file_name("a/b"), "tree-hex.612f62.records");
        assert!(is_backup_file_name("tree-hex.612f62.records"));
        assert!(!is_backup_file_name("snapshots/../db"));
        assert!(!is_backup_file_name("tree-../x.records"));
    }
}

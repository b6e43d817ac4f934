//! The seal: an independent record, outside sled, of how far the journal was durable.
//!
//! sled stops reading its log at the first bad record and silently serves the database as
//! it was before it, so damage inside sled's files looks like a shorter, valid journal. The
//! seal tells the two apart: after every group commit the journal writer writes the highest
//! durable seq into `journal.seal`. At recovery a journal (or newest snapshot) that ends
//! below the seal has lost acknowledged state, and the node refuses to start; a torn tail
//! past the seal was never acknowledged and is cut.
//!
//! The file holds two 32-byte slots written alternately, each with magic, version, the
//! durable seq, a write counter and a crc32, so a torn write of one slot leaves the other.
//! A slot is written with `pwrite` after the data it covers was made durable, so the seal
//! never claims more than the journal holds. It reaches the page cache at once (a killed
//! process loses nothing of it) and is fdatasync'ed at most every [`SEAL_SYNC_INTERVAL`]:
//! after a power loss it may be older than the journal, which weakens detection for that
//! last interval but never refuses a whole journal.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// File name of the seal inside the data directory.
pub const SEAL_FILE_NAME: &str = "journal.seal";
const SEAL_MAGIC: [u8; 4] = *b"PCW1";
const SEAL_VERSION: u16 = 1;
const SLOT_BYTES: usize = 32;
/// How often the seal is fdatasync'ed at most (it is written after every group commit).
pub const SEAL_SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// What a seal file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealState {
    /// Every journal event with seq <= this was durable when the seal was written.
    pub durable_seq: u64,
    /// How many times the seal was written; picks the newer of the two slots.
    pub writes: u64,
}

/// Why a seal file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("seal {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("seal {path} is damaged: neither of its two slots verifies")]
    Damaged { path: PathBuf },
}

impl From<SealError> for crate::store::StoreError {
    fn from(error: SealError) -> Self {
        match error {
            SealError::Io { path, source } => crate::store::StoreError::Io { path, source },
            damaged @ SealError::Damaged { .. } => crate::store::StoreError::Io {
                path: PathBuf::from(SEAL_FILE_NAME),
                source: io::Error::new(io::ErrorKind::InvalidData, damaged.to_string()),
            },
        }
    }
}

/// Reads the seal of `directory`; `None` when there is none (a new data directory, one
/// written before seals existed, or an empty file: created, never written).
pub fn read_seal(directory: &Path) -> Result<Option<SealState>, SealError> {
    let path = directory.join(SEAL_FILE_NAME);
    let bytes = match std::fs::read(&path) {
        // Empty: created, and the process stopped before its first write.
        Ok(bytes) if bytes.is_empty() => return Ok(None),
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SealError::Io { path, source }),
    };
    let newest = bytes
        .chunks(SLOT_BYTES)
        .take(2)
        .filter_map(decode_slot)
        .max_by_key(|state| state.writes);
    match newest {
        Some(state) => Ok(Some(state)),
        None => Err(SealError::Damaged { path }),
    }
}

fn encode_slot(state: SealState) -> [u8; SLOT_BYTES] {
    let mut slot = [0_u8; SLOT_BYTES];
    slot[..4].copy_from_slice(&SEAL_MAGIC);
    slot[4..6].copy_from_slice(&SEAL_VERSION.to_le_bytes());
    slot[8..16].copy_from_slice(&state.durable_seq.to_le_bytes());
    slot[16..24].copy_from_slice(&state.writes.to_le_bytes());
    let checksum = crc32fast::hash(&slot[..24]);
    slot[24..28].copy_from_slice(&checksum.to_le_bytes());
    slot
}

fn decode_slot(slot: &[u8]) -> Option<SealState> {
    if slot.len() != SLOT_BYTES || slot[..4] != SEAL_MAGIC {
        return None;
    }
    let version = u16::from_le_bytes([slot[4], slot[5]]);
    let checksum = u32::from_le_bytes(slot[24..28].try_into().ok()?);
    if version != SEAL_VERSION || crc32fast::hash(&slot[..24]) != checksum {
        return None;
    }
    Some(SealState {
        durable_seq: u64::from_le_bytes(slot[8..16].try_into().ok()?),
        writes: u64::from_le_bytes(slot[16..24].try_into().ok()?),
    })
}

/// The writer's handle on the seal file.
pub struct Seal {
    path: PathBuf,
    file: File,
    state: SealState,
    synced_at: Instant,
    unsynced: bool,
}

impl Seal {
    /// Opens (or creates) the seal of `directory`, continuing from what it holds. A
    /// damaged seal is an error here too: recovery must have refused the directory first.
    pub fn open(directory: &Path) -> Result<Seal, SealError> {
        let state = read_seal(directory)?.unwrap_or(SealState {
            durable_seq: 0,
            writes: 0,
        });
        let path = directory.join(SEAL_FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| SealError::Io {
                path: path.clone(),
                source,
            })?;
        Ok(Seal {
            path,
            file,
            state,
            synced_at: Instant::now(),
            unsynced: false,
        })
    }

    /// The durable seq the seal holds.
    pub fn durable_seq(&self) -> u64 {
        self.state.durable_seq
    }

    /// Records that every event <= `durable_seq` is durable (a lower value is ignored),
    /// and fdatasyncs the file if the last sync is older than [`SEAL_SYNC_INTERVAL`].
    pub fn record(&mut self, durable_seq: u64) -> Result<(), SealError> {
        if durable_seq > self.state.durable_seq {
            self.state.durable_seq = durable_seq;
            self.state.writes += 1;
            let offset = (self.state.writes % 2) * SLOT_BYTES as u64;
            let slot = encode_slot(self.state);
            self.file
                .write_all_at(&slot, offset)
                .map_err(|source| self.error(source))?;
            self.unsynced = true;
        }
        if self.unsynced && self.synced_at.elapsed() >= SEAL_SYNC_INTERVAL {
            self.sync()?;
        }
        Ok(())
    }

    /// fdatasyncs what was written (at shutdown and on the interval).
    pub fn sync(&mut self) -> Result<(), SealError> {
        if self.unsynced {
            self.file.sync_data().map_err(|source| self.error(source))?;
            self.unsynced = false;
        }
        self.synced_at = Instant::now();
        Ok(())
    }

    fn error(&self, source: io::Error) -> SealError {
        SealError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_slot_wins_and_a_torn_slot_falls_back_to_the_other(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let directory = tempfile::tempdir()?;
        assert_eq!(read_seal(directory.path())?, None);
        let mut seal = Seal::open(directory.path())?;
        seal.record(10)?;
        seal.record(25)?;
        seal.record(20)?; // lower: ignored
        seal.sync()?;
        let state = read_seal(directory.path())?.ok_or("no seal")?;
        assert_eq!((state.durable_seq, state.writes), (25, 2));
        // Tear the newer slot (writes = 2 lives in slot 0): the older one answers.
        let path = directory.path().join(SEAL_FILE_NAME);
        let mut bytes = std::fs::read(&path)?;
        bytes[10] ^= 0xFF;
        std::fs::write(&path, &bytes)?;
        assert_eq!(
            read_seal(directory.path())?.map(|s| s.durable_seq),
            Some(10)
        );
        bytes[SLOT_BYTES + 3] ^= 0xFF;
        std::fs::write(&path, &bytes)?;
        assert!(matches!(
            read_seal(directory.path()),
            Err(SealError::Damaged { .. })
        ));
        Ok(())
    }

    #[test]
    fn a_reopened_seal_continues_from_its_newest_slot() -> Result<(), Box<dyn std::error::Error>> {
        let directory = tempfile::tempdir()?;
        let mut seal = Seal::open(directory.path())?;
        seal.record(7)?;
        drop(seal);
        let mut seal = Seal::open(directory.path())?;
        assert_eq!(seal.durable_seq(), 7);
        seal.record(9)?;
        let state = read_seal(directory.path())?.ok_or("no seal")?;
        assert_eq!((state.durable_seq, state.writes), (9, 2));
        Ok(())
    }
}

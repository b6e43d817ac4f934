//! The framed record files of a backup (see the module doc of [`super`]):
//!
//! ```text
//! header  = "PCB1" | version u16 | name length u16 | name (UTF-8) | crc32 of the bytes before
//! record  = key length u32 | value length u32 | key | value | crc32 of the bytes before
//! trailer = 0xFFFF_FFFF u32 | record count u64 | crc32 of the bytes before
//! ```
//!
//! Integers are little-endian. Nothing follows the trailer: a file cut short, or one with
//! bytes after its trailer, is damaged.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{BackupError, FileEntry};

const MAGIC: [u8; 4] = *b"PCB1";
const VERSION: u16 = 1;
/// The key length that marks the trailer.
const TRAILER_MARKER: u32 = u32::MAX;
/// Our keys are 8 or 16 bytes; anything longer than this is damage.
const KEY_BYTES_MAX: u32 = 64 * 1024;
/// As the codec's decode bound: a flipped length must not make us reserve gigabytes.
const VALUE_BYTES_MAX: u32 = 256 * 1024 * 1024;
const NAME_BYTES_MAX: usize = 1024;

/// A key and its value.
pub(super) type Record = (Vec<u8>, Vec<u8>);

/// Writes one record file: the header at once, records one by one, the trailer at the end.
pub(super) struct RecordsWriter {
    folder: PathBuf,
    name: String,
    file: BufWriter<File>,
    /// Of the whole file, for the manifest.
    digest: Sha256,
    bytes: u64,
    records: u64,
}

impl RecordsWriter {
    /// Creates `folder/file_name` holding records of `tree_name`.
    pub(super) fn create(
        folder: &Path,
        file_name: &str,
        tree_name: &str,
    ) -> Result<RecordsWriter, BackupError> {
        let path = folder.join(file_name);
        if tree_name.len() > NAME_BYTES_MAX {
            let error = io::Error::new(io::ErrorKind::InvalidInput, "tree name too long");
            return Err(BackupError::io(&path, error));
        }
        let file = File::create(&path).map_err(|error| BackupError::io(&path, error))?;
        let mut writer = RecordsWriter {
            folder: folder.to_path_buf(),
            name: file_name.to_owned(),
            file: BufWriter::new(file),
            digest: Sha256::new(),
            bytes: 0,
            records: 0,
        };
        let name_bytes = tree_name.len() as u16; // at most NAME_BYTES_MAX
        let mut header = Vec::with_capacity(12 + tree_name.len());
        header.extend_from_slice(&MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&name_bytes.to_le_bytes());
        header.extend_from_slice(tree_name.as_bytes());
        writer.write_checked(&mut header)?;
        Ok(writer)
    }

    /// Appends one key/value record.
    pub(super) fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), BackupError> {
        let length = |bytes: &[u8]| u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let mut frame = Vec::with_capacity(12 + key.len() + value.len());
        frame.extend_from_slice(&length(key).to_le_bytes());
        frame.extend_from_slice(&length(value).to_le_bytes());
        frame.extend_from_slice(key);
        frame.extend_from_slice(value);
        self.write_checked(&mut frame)?;
        self.records += 1;
        Ok(())
    }

    /// Writes the trailer, fsyncs the file and describes it for the manifest.
    pub(super) fn finish(mut self) -> Result<FileEntry, BackupError> {
        let mut trailer = Vec::with_capacity(16);
        trailer.extend_from_slice(&TRAILER_MARKER.to_le_bytes());
        trailer.extend_from_slice(&self.records.to_le_bytes());
        self.write_checked(&mut trailer)?;
        let path = self.folder.join(&self.name);
        let file = self
            .file
            .into_inner()
            .map_err(|error| BackupError::io(&path, error.into_error()))?;
        file.sync_all()
            .map_err(|error| BackupError::io(&path, error))?;
        Ok(FileEntry {
            name: self.name,
            bytes: self.bytes,
            sha256: hex(&self.digest.finalize()),
        })
    }

    /// Appends the crc32 of `bytes` to them and writes the whole.
    fn write_checked(&mut self, bytes: &mut Vec<u8>) -> Result<(), BackupError> {
        let checksum = crc32fast::hash(bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        self.digest.update(&bytes[..]);
        self.bytes += bytes.len() as u64;
        let path = || self.folder.join(&self.name);
        self.file
            .write_all(bytes)
            .map_err(|error| BackupError::io(&path(), error))
    }
}

/// Reads one record file back, verifying every frame.
pub(super) struct RecordsReader {
    backup: PathBuf,
    file_name: String,
    reader: BufReader<File>,
    /// The tree (or part) the records belong to, from the header.
    pub(super) tree_name: String,
    records: u64,
    finished: bool,
}

impl RecordsReader {
    pub(super) fn open(backup: &Path, file_name: &str) -> Result<RecordsReader, BackupError> {
        let path = backup.join(file_name);
        let file = File::open(&path).map_err(|error| BackupError::io(&path, error))?;
        let mut reader = RecordsReader {
            backup: backup.to_path_buf(),
            file_name: file_name.to_owned(),
            reader: BufReader::new(file),
            tree_name: String::new(),
            records: 0,
            finished: false,
        };
        reader.tree_name = reader.read_header()?;
        Ok(reader)
    }

    /// The next record; `None` after the trailer (which must end the file).
    pub(super) fn next_record(&mut self) -> Result<Option<Record>, BackupError> {
        if self.finished {
            return Ok(None);
        }
        let index = self.records + 1;
        let mut lengths = [0_u8; 8];
        self.read_exact(&mut lengths, index)?;
        let key_bytes = u32::from_le_bytes([lengths[0], lengths[1], lengths[2], lengths[3]]);
        if key_bytes == TRAILER_MARKER {
            return self.read_trailer(&lengths).map(|()| None);
        }
        let value_bytes = u32::from_le_bytes([lengths[4], lengths[5], lengths[6], lengths[7]]);
        if key_bytes > KEY_BYTES_MAX || value_bytes > VALUE_BYTES_MAX {
            return Err(self.damaged(format!("record {index}: impossible lengths")));
        }
        let mut frame = lengths.to_vec();
        frame.resize(8 + key_bytes as usize + value_bytes as usize, 0);
        self.read_exact(&mut frame[8..], index)?;
        self.check_crc(&frame, index)?;
        self.records = index;
        let value = frame.split_off(8 + key_bytes as usize);
        Ok(Some((frame.split_off(8), value)))
    }

    fn read_header(&mut self) -> Result<String, BackupError> {
        let mut fixed = [0_u8; 8];
        self.read_exact(&mut fixed, 0)?;
        if fixed[..4] != MAGIC {
            return Err(self.damaged("bad magic".to_owned()));
        }
        let version = u16::from_le_bytes([fixed[4], fixed[5]]);
        if version != VERSION {
            return Err(self.damaged(format!("unknown format version {version}")));
        }
        let name_bytes = usize::from(u16::from_le_bytes([fixed[6], fixed[7]]));
        if name_bytes > NAME_BYTES_MAX {
            return Err(self.damaged("impossible name length".to_owned()));
        }
        let mut header = fixed.to_vec();
        header.resize(8 + name_bytes, 0);
        self.read_exact(&mut header[8..], 0)?;
        self.check_crc(&header, 0)?;
        String::from_utf8(header.split_off(8)).map_err(|_| self.damaged("name is not UTF-8".into()))
    }

    fn read_trailer(&mut self, marker_and_count: &[u8; 8]) -> Result<(), BackupError> {
        let mut trailer = marker_and_count.to_vec();
        trailer.resize(12, 0);
        self.read_exact(&mut trailer[8..], self.records + 1)?;
        self.check_crc(&trailer, self.records + 1)?;
        let count = u64::from_le_bytes(trailer[4..12].try_into().unwrap_or_default());
        if count != self.records {
            let reason = format!(
                "trailer counts {count} records, the file holds {}",
                self.records
            );
            return Err(self.damaged(reason));
        }
        let mut extra = [0_u8; 1];
        match self.reader.read(&mut extra) {
            Ok(0) => {}
            Ok(_) => return Err(self.damaged("bytes after the trailer".to_owned())),
            Err(error) => return Err(BackupError::io(&self.path(), error)),
        }
        self.finished = true;
        Ok(())
    }

    /// Reads the crc32 that follows `bytes` and compares.
    fn check_crc(&mut self, bytes: &[u8], index: u64) -> Result<(), BackupError> {
        let mut stored = [0_u8; 4];
        self.read_exact(&mut stored, index)?;
        if crc32fast::hash(bytes) != u32::from_le_bytes(stored) {
            return Err(self.damaged(format!("{}: checksum mismatch", position(index))));
        }
        Ok(())
    }

    fn read_exact(&mut self, buffer: &mut [u8], index: u64) -> Result<(), BackupError> {
        match self.reader.read_exact(buffer) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                Err(self.damaged(format!("{}: cut short", position(index))))
            }
            Err(error) => Err(BackupError::io(&self.path(), error)),
        }
    }

    pub(super) fn damaged(&self, reason: String) -> BackupError {
        BackupError::Damaged {
            backup: self.backup.clone(),
            file: self.file_name.clone(),
            reason,
        }
    }

    fn path(&self) -> PathBuf {
        self.backup.join(&self.file_name)
    }
}

/// "header" or "record N" (the trailer is the record after the last).
fn position(index: u64) -> String {
    if index == 0 {
        "header".to_owned()
    } else {
        format!("record {index}")
    }
}

/// Lowercase hex of `bytes`.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Byte count and SHA-256 (hex) of a whole file, read in pieces. (Not a CRC-32: a file made
/// of records that each end in their own CRC-32 has a whole-file CRC-32 that depends only on
/// the records' lengths.)
pub(super) fn file_checksum(path: &Path) -> io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut digest = Sha256::new();
    let mut buffer = vec![0_u8; 64 * 1024];
    let mut bytes = 0_u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok((bytes, hex(&digest.finalize())));
        }
        digest.update(&buffer[..read]);
        bytes += read as u64;
    }
}

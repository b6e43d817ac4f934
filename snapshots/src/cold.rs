//! The cold store: records moved out of the actors' memory (archived orders) that must
//! stay readable, in the sled tree `orders_archive` of the same database.
//!
//! Key = stream (the activity) u64 big-endian | number (the order) u64 big-endian, so one
//! activity's records are contiguous and ordered. Value = an archive record (see
//! [`crate::codec`]: magic, format version, the key repeated, length and crc32), so a
//! torn, flipped or misplaced value is refused when read, never decoded as something else.
//!
//! Writes are idempotent overwrites, applied as one atomic sled batch per call and made
//! durable (sled flush + `fdatasync`, whatever the journal's durability mode) before
//! [`ColdStore::put_durably`] returns. The caller journals the fact that the records are
//! archived only after that, so a crash in between leaves a record nobody points at yet —
//! harmless, and overwritten by the next attempt.

use crate::codec::{self, RecordFault};
use crate::store::{Store, StoreError};

/// The sled tree of the cold store.
pub const COLD_TREE: &str = "orders_archive";
/// Records one [`ColdStore::put_durably`] call accepts at most (one sled batch).
pub const COLD_BATCH_RECORDS_MAX: usize = 10_000;
/// Largest payload of one record; archived orders are a few hundred bytes.
pub const COLD_PAYLOAD_BYTES_MAX: usize = 1024 * 1024;

/// Why the cold store could not write or read a record.
#[derive(Debug, thiserror::Error)]
pub enum ColdError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("archived record {stream}/{number} is corrupt ({fault})")]
    Corrupt {
        stream: u64,
        number: u64,
        fault: RecordFault,
    },
    #[error("{records} records in one batch, at most {COLD_BATCH_RECORDS_MAX}")]
    BatchTooLarge { records: usize },
    #[error("record {number} has {bytes} bytes, at most {COLD_PAYLOAD_BYTES_MAX}")]
    PayloadTooLarge { number: u64, bytes: usize },
}

impl From<sled::Error> for ColdError {
    fn from(error: sled::Error) -> ColdError {
        ColdError::Store(StoreError::Sled(error))
    }
}

/// The cold store of one database. Cheap to clone; clones share the tree.
#[derive(Clone)]
pub struct ColdStore {
    store: Store,
    tree: sled::Tree,
}

/// The sled key of record `number` of `stream`.
pub fn cold_key(stream: u64, number: u64) -> [u8; 16] {
    let mut key = [0_u8; 16];
    key[..8].copy_from_slice(&stream.to_be_bytes());
    key[8..].copy_from_slice(&number.to_be_bytes());
    key
}

impl ColdStore {
    /// Opens (or creates) the cold tree of `store`.
    pub fn open(store: &Store) -> Result<ColdStore, StoreError> {
        Ok(ColdStore {
            store: store.clone(),
            tree: store.db().open_tree(COLD_TREE)?,
        })
    }

    /// Writes `records` (number, payload) of `stream` in one atomic batch, replacing any
    /// earlier record under the same key, and makes them durable before returning.
    /// Blocking (a sled flush and an `fdatasync`): call it off the actor threads.
    pub fn put_durably(&self, stream: u64, records: &[(u64, Vec<u8>)]) -> Result<(), ColdError> {
        if records.len() > COLD_BATCH_RECORDS_MAX {
            return Err(ColdError::BatchTooLarge {
                records: records.len(),
            });
        }
        let mut batch = sled::Batch::default();
        let mut value = Vec::new();
        for (number, payload) in records {
            if payload.len() > COLD_PAYLOAD_BYTES_MAX {
                return Err(ColdError::PayloadTooLarge {
                    number: *number,
                    bytes: payload.len(),
                });
            }
            value.clear();
            codec::write_archive_record(&mut value, stream, *number, payload);
            batch.insert(&cold_key(stream, *number), value.as_slice());
        }
        self.tree.apply_batch(batch)?;
        self.store.flush()?;
        self.store.sync_files()?;
        Ok(())
    }

    /// The verified payload of record `number` of `stream`, or `None` if there is none.
    pub fn get(&self, stream: u64, number: u64) -> Result<Option<Vec<u8>>, ColdError> {
        let Some(value) = self.tree.get(cold_key(stream, number))? else {
            return Ok(None);
        };
        let payload = codec::read_archive_record(&value, stream, number).map_err(|fault| {
            ColdError::Corrupt {
                stream,
                number,
                fault,
            }
        })?;
        Ok(Some(payload.to_vec()))
    }

    /// Verifies every record under its own key; returns how many there are, or the first
    /// damaged one (for `playcore check`).
    pub fn verify_all(&self) -> Result<usize, ColdError> {
        let mut records = 0;
        for entry in self.tree.iter() {
            let (key, value) = entry?;
            let stream = key.get(..8).and_then(codec::key_seq);
            let number = key.get(8..).and_then(codec::key_seq);
            let (Some(stream), Some(number)) = (stream, number) else {
                let fault = codec::RecordFault::KeyMismatch;
                return Err(ColdError::Corrupt {
                    stream: 0,
                    number: 0,
                    fault,
                });
            };
            codec::read_archive_record(&value, stream, number).map_err(|fault| {
                ColdError::Corrupt {
                    stream,
                    number,
                    fault,
                }
            })?;
            records += 1;
        }
        Ok(records)
    }

    /// Records stored for `stream` (a scan of its key range: for tests and tools).
    pub fn count(&self, stream: u64) -> usize {
        self.tree.scan_prefix(stream.to_be_bytes()).count()
    }

    /// Replaces the raw stored value of a key: for corruption tests only.
    #[doc(hidden)]
    pub fn overwrite_raw(&self, stream: u64, number: u64, value: &[u8]) -> Result<(), ColdError> {
        self.tree.insert(cold_key(stream, number), value)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(numbers: std::ops::RangeInclusive<u64>) -> Vec<(u64, Vec<u8>)> {
        numbers
            .map(|number| (number, format!("order {number}").into_bytes()))
            .collect()
    }

    #[test]
    fn written_records_are_read_back_after_a_reopen() {
        let directory = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(directory.path()).expect("open");
            let cold = ColdStore::open(&store).expect("cold");
            cold.put_durably(7, &records(1..=3)).expect("write");
            cold.put_durably(8, &records(1..=1)).expect("write");
        }
        let store = Store::open(directory.path()).expect("reopen");
        let cold = ColdStore::open(&store).expect("cold");
        assert_eq!(cold.get(7, 2).expect("read"), Some(b"order 2".to_vec()));
        assert_eq!(cold.get(7, 4).expect("read"), None);
        assert_eq!(cold.get(9, 1).expect("read"), None);
        assert_eq!((cold.count(7), cold.count(8)), (3, 1));
    }

    #[test]
    fn a_second_write_of_a_record_replaces_the_first() {
        let directory = tempfile::tempdir().expect("tempdir");
        let store = Store::open(directory.path()).expect("open");
        let cold = ColdStore::open(&store).expect("cold");
        cold.put_durably(7, &[(1, b"first".to_vec())])
            .expect("write");
        cold.put_durably(7, &[(1, b"second".to_vec())])
            .expect("write");
        assert_eq!(cold.get(7, 1).expect("read"), Some(b"second".to_vec()));
        assert_eq!(cold.count(7), 1);
    }

    #[test]
    fn a_corrupt_or_misplaced_record_is_refused() {
        let directory = tempfile::tempdir().expect("tempdir");
        let store = Store::open(directory.path()).expect("open");
        let cold = ColdStore::open(&store).expect("cold");
        cold.put_durably(7, &records(1..=2)).expect("write");
        let mut value = cold
            .tree
            .get(cold_key(7, 1))
            .expect("read")
            .expect("stored")
            .to_vec();
        // The record of order 1 stored under order 2's key: not order 2.
        cold.overwrite_raw(7, 2, &value).expect("misplace");
        assert!(matches!(
            cold.get(7, 2),
            Err(ColdError::Corrupt {
                fault: RecordFault::KeyMismatch,
                ..
            })
        ));
        let last = value.len() - 1;
        value[last] ^= 0x40;
        cold.overwrite_raw(7, 1, &value).expect("garble");
        assert!(matches!(
            cold.get(7, 1),
            Err(ColdError::Corrupt {
                fault: RecordFault::ChecksumMismatch,
                ..
            })
        ));
        cold.overwrite_raw(7, 1, &value[..10]).expect("tear");
        assert!(matches!(
            cold.get(7, 1),
            Err(ColdError::Corrupt {
                fault: RecordFault::TooShort,
                ..
            })
        ));
    }

    #[test]
    fn batches_and_payloads_are_bounded() {
        let directory = tempfile::tempdir().expect("tempdir");
        let store = Store::open(directory.path()).expect("open");
        let cold = ColdStore::open(&store).expect("cold");
        let too_many = records(1..=COLD_BATCH_RECORDS_MAX as u64 + 1);
        assert!(matches!(
            cold.put_durably(7, &too_many),
            Err(ColdError::BatchTooLarge { .. })
        ));
        let huge = vec![(1, vec![0_u8; COLD_PAYLOAD_BYTES_MAX + 1])];
        assert!(matches!(
            cold.put_durably(7, &huge),
            Err(ColdError::PayloadTooLarge { number: 1, .. })
        ));
        assert_eq!(cold.count(7), 0, "a refused batch writes nothing");
    }
}

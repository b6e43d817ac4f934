//! The bytes of the event store: its keys (one sled tree, a prefix per key space, so one
//! sled batch covers a record, its index entries and the indexed seq atomically) and the
//! stored form of a record, checked by a crc32 over the key and the whole value on every
//! read, so a torn, flipped or misplaced value is refused, never served.
//!
//! Value layout (integers little-endian): crc32 `u32` | version `u8` | at_ms `i64` |
//! activity `u64` | store length `u16` (`u16::MAX` = no store) | store | kind length `u8` |
//! kind | payload (the rest).

use super::EventRecord;
use crate::codec::RecordFault;

/// Key space of the records: `E` | position (u64 big-endian).
pub(super) const EVENT_PREFIX: u8 = b'E';
/// Key space of the activity index: `A` | activity | position (big-endian).
pub(super) const ACTIVITY_PREFIX: u8 = b'A';
/// Key space of the store index: `S` | store length (u16 BE) | store | position (BE).
pub(super) const STORE_PREFIX: u8 = b'S';
/// Key space of the counters: `M` | name.
pub(super) const META_PREFIX: u8 = b'M';

const VERSION: u8 = 1;
const NO_STORE: u16 = u16::MAX;
/// crc32, version, at_ms, activity, store length, kind length.
const HEADER_BYTES: usize = 4 + 1 + 8 + 8 + 2 + 1;
/// Longest store id kept in the store index (longer ones are kept on the record only).
pub(super) const STORE_BYTES_MAX: usize = 1024;
/// Longest kind name.
pub(super) const KIND_BYTES_MAX: usize = u8::MAX as usize;

pub(super) fn event_key(position: u64) -> [u8; 9] {
    let mut key = [0_u8; 9];
    key[0] = EVENT_PREFIX;
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
}

pub(super) fn activity_key(activity: u64, position: u64) -> [u8; 17] {
    let mut key = [0_u8; 17];
    key[0] = ACTIVITY_PREFIX;
    key[1..9].copy_from_slice(&activity.to_be_bytes());
    key[9..].copy_from_slice(&position.to_be_bytes());
    key
}

/// The prefix of every store-index key of `store` (without a position).
pub(super) fn store_prefix(store: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(3 + store.len() + 8);
    key.push(STORE_PREFIX);
    key.extend_from_slice(&(store.len() as u16).to_be_bytes());
    key.extend_from_slice(store.as_bytes());
    key
}

pub(super) fn store_key(store: &str, position: u64) -> Vec<u8> {
    let mut key = store_prefix(store);
    key.extend_from_slice(&position.to_be_bytes());
    key
}

pub(super) fn meta_key(name: &str) -> Vec<u8> {
    let mut key = vec![META_PREFIX];
    key.extend_from_slice(name.as_bytes());
    key
}

/// The position at the end of an index or record key.
pub(super) fn key_position(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

/// Whether a store id may be indexed (the index key holds its length in a u16).
pub(super) fn indexable_store(store: &str) -> bool {
    store.len() <= STORE_BYTES_MAX
}

/// The stored value of `record`. The caller checks the kind's length first.
pub(super) fn encode(record: &EventRecord) -> Vec<u8> {
    let store = record
        .store
        .as_deref()
        .filter(|store| indexable_store(store));
    let store_bytes = store.map_or(0, str::len);
    let mut value =
        Vec::with_capacity(HEADER_BYTES + store_bytes + record.kind.len() + record.payload.len());
    value.extend_from_slice(&[0; 4]);
    value.push(VERSION);
    value.extend_from_slice(&record.at_ms.to_le_bytes());
    value.extend_from_slice(&record.activity.to_le_bytes());
    let store_length = store.map_or(NO_STORE, |store| store.len() as u16);
    value.extend_from_slice(&store_length.to_le_bytes());
    value.extend_from_slice(store.unwrap_or_default().as_bytes());
    value.push(record.kind.len() as u8);
    value.extend_from_slice(record.kind.as_bytes());
    value.extend_from_slice(&record.payload);
    let crc = checksum(record.position, &value[4..]);
    value[..4].copy_from_slice(&crc.to_le_bytes());
    value
}

/// The record stored under `position`, verified.
pub(super) fn decode(position: u64, value: &[u8]) -> Result<EventRecord, RecordFault> {
    if value.len() < HEADER_BYTES {
        return Err(RecordFault::TooShort);
    }
    let stored_crc = u32::from_le_bytes(array(&value[..4]));
    if checksum(position, &value[4..]) != stored_crc {
        return Err(RecordFault::ChecksumMismatch);
    }
    if value[4] != VERSION {
        return Err(RecordFault::UnknownVersion(u16::from(value[4])));
    }
    let at_ms = i64::from_le_bytes(array(&value[5..13]));
    let activity = u64::from_le_bytes(array(&value[13..21]));
    let store_length = u16::from_le_bytes(array(&value[21..23]));
    let mut offset = 23;
    let store = if store_length == NO_STORE {
        None
    } else {
        let end = offset + usize::from(store_length);
        let text = value.get(offset..end).ok_or(RecordFault::LengthMismatch)?;
        offset = end;
        Some(text_of(text)?)
    };
    let kind_length = usize::from(*value.get(offset).ok_or(RecordFault::LengthMismatch)?);
    offset += 1;
    let kind = value
        .get(offset..offset + kind_length)
        .ok_or(RecordFault::LengthMismatch)?;
    let kind = text_of(kind)?;
    let payload = value[offset + kind_length..].to_vec();
    Ok(EventRecord {
        position,
        at_ms,
        activity,
        store,
        kind,
        payload,
    })
}

fn checksum(position: u64, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&position.to_be_bytes());
    hasher.update(body);
    hasher.finalize()
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0_u8; N];
    out.copy_from_slice(bytes);
    out
}

fn text_of(bytes: &[u8]) -> Result<String, RecordFault> {
    String::from_utf8(bytes.to_vec()).map_err(|_| RecordFault::MalformedBody)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(store: Option<&str>) -> EventRecord {
        EventRecord {
            position: 0x10_0002,
            at_ms: 1_700_000_000_123,
            activity: 7,
            store: store.map(str::to_owned),
            kind: "ORDER_PAID".into(),
            payload: vec![1, 2, 3, 4],
        }
    }

    #[test]
    fn a_record_reads_back_as_written() {
        for store in [Some("s1"), None, Some("")] {
            let record = sample(store);
            assert_eq!(decode(record.position, &encode(&record)), Ok(record));
        }
    }

    #[test]
    fn a_flipped_bit_or_another_position_is_refused() {
        let record = sample(Some("s1"));
        let value = encode(&record);
        for index in 0..value.len() {
            let mut damaged = value.clone();
            damaged[index] ^= 0x10;
            assert!(decode(record.position, &damaged).is_err(), "byte {index}");
        }
        assert_eq!(
            decode(record.position + 1, &value),
            Err(RecordFault::ChecksumMismatch)
        );
        assert_eq!(
            decode(record.position, &value[..10]),
            Err(RecordFault::TooShort)
        );
    }

    #[test]
    fn index_keys_end_with_the_position_and_sort_by_it() {
        assert_eq!(key_position(&activity_key(3, 99)), Some(99));
        assert_eq!(key_position(&store_key("s1", 42)), Some(42));
        assert!(activity_key(3, 1) < activity_key(3, 2));
        assert!(activity_key(3, u64::MAX) < activity_key(4, 0));
        assert!(store_key("s1", u64::MAX) < store_prefix("s10"));
    }
}

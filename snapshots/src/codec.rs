//! The one place that knows byte formats: bincode for serde values, the framing of
//! events inside a journal record, and the headers (magic, version, crc32) of
//! journal records and snapshots.
//!
//! Journal record (one sled value, key = `first_seq` as u64 big-endian):
//!
//! ```text
//! magic "PCJ1" | version u16 | reserved u16 | first_seq u64 | count u32 | body_len u32 | crc32 u32 | body
//! body = count × ( stream u64 | len u32 | len bytes )
//! crc32 covers first_seq, count, body_len and body. All integers little-endian.
//! ```
//!
//! A record with `count > 0` and an empty body is a *gap record*: it consumes
//! `count` sequence numbers that carry no event. Recovery writes one when a
//! snapshot is newer than the surviving journal, so the journal stays contiguous.
//!
//! Snapshot value (key = stream u64 big-endian):
//!
//! ```text
//! magic "PCS1" | version u16 | reserved u16 | seq u64 | payload_len u32 | crc32 u32 | payload
//! crc32 covers seq, payload_len and payload.
//! ```
//!
//! Archive record (one sled value of the cold store, key = stream u64 BE | number u64 BE):
//!
//! ```text
//! magic "PCA1" | version u16 | reserved u16 | stream u64 | number u64 | payload_len u32 | crc32 u32 | payload
//! crc32 covers stream, number, payload_len and payload.
//! ```
//!
//! The archive header repeats its key, so a record read under another key (a misdirected
//! write, a copied value) is refused rather than shown as another order.

use serde::{de::DeserializeOwned, Serialize};

/// Magic bytes that open every journal record.
pub const JOURNAL_MAGIC: [u8; 4] = *b"PCJ1";
/// Magic bytes that open every snapshot value.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"PCS1";
/// Magic of a snapshot reference: the sled value that names a snapshot file.
pub const SNAPSHOT_REFERENCE_MAGIC: [u8; 4] = *b"PCR1";
/// Bytes of a snapshot reference: magic, version, reserved, seq, checksum.
pub const SNAPSHOT_REFERENCE_BYTES: usize = 20;
/// The only record format this build reads and writes; anything else is corrupt.
pub const FORMAT_VERSION: u16 = 1;
/// Size of a journal record header.
pub const JOURNAL_HEADER_BYTES: usize = 28;
/// Size of a snapshot header.
pub const SNAPSHOT_HEADER_BYTES: usize = 24;
/// Magic bytes that open every archive record of the cold store.
pub const ARCHIVE_MAGIC: [u8; 4] = *b"PCA1";
/// Size of an archive record header.
pub const ARCHIVE_HEADER_BYTES: usize = 32;
/// Size of the frame (stream, length) in front of each event in a record body.
pub const EVENT_FRAME_BYTES: usize = 12;
/// Largest event payload accepted by the journal. Events are ~100 bytes; the bound
/// keeps a record body (at most 1 GiB plus one event) inside its u32 length.
pub const EVENT_PAYLOAD_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Decoding refuses to allocate more than this for one value, so a corrupt length
/// prefix cannot make us reserve gigabytes.
const DECODE_BYTES_MAX: usize = 256 * 1024 * 1024;

/// A value could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("encode failed: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    #[error("decode failed: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    /// The bytes held more than one value: the reader and writer disagree on the type.
    #[error("{trailing_bytes} trailing byte(s) after the decoded value")]
    TrailingBytes { trailing_bytes: usize },
}

/// Why a stored record was rejected. Displayed in the corruption log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordFault {
    #[error("shorter than its header")]
    TooShort,
    #[error("bad magic")]
    BadMagic,
    #[error("unknown format version {0}")]
    UnknownVersion(u16),
    /// Version 1 writes zero there; anything else is a flipped bit or a newer format.
    #[error("reserved field is not zero")]
    ReservedNotZero,
    #[error("length mismatch")]
    LengthMismatch,
    #[error("checksum mismatch")]
    ChecksumMismatch,
    #[error("key does not match the header")]
    KeyMismatch,
    #[error("not contiguous: expected first seq {expected}, found {found}")]
    NotContiguous { expected: u64, found: u64 },
    #[error("malformed event frames")]
    MalformedBody,
}

/// Serialize any serde value with bincode 2 standard config.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    Ok(bincode::serde::encode_to_vec(
        value,
        bincode::config::standard(),
    )?)
}

/// Serialize `value` onto the end of `buffer` (nothing is cleared).
pub fn encode_into<T: Serialize>(value: &T, buffer: &mut Vec<u8>) -> Result<(), CodecError> {
    bincode::serde::encode_into_std_write(value, buffer, bincode::config::standard())?;
    Ok(())
}

/// Deserialize a value written by [`encode`]; the bytes must hold exactly one value.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let config = bincode::config::standard().with_limit::<DECODE_BYTES_MAX>();
    let (value, used_bytes) = bincode::serde::decode_from_slice(bytes, config)?;
    if used_bytes != bytes.len() {
        return Err(CodecError::TrailingBytes {
            trailing_bytes: bytes.len() - used_bytes,
        });
    }
    Ok(value)
}

/// Header fields of a verified journal record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalHeader {
    pub first_seq: u64,
    pub count: u32,
}

impl JournalHeader {
    /// One past the last sequence number the record covers.
    pub fn end_seq(&self) -> u64 {
        self.first_seq.saturating_add(u64::from(self.count))
    }
}

/// Appends the frame of one event (its length still zero) and returns where the
/// payload starts; [`finish_event_frame`] fills the length in.
pub fn begin_event_frame(buffer: &mut Vec<u8>, stream: u64) -> usize {
    buffer.extend_from_slice(&stream.to_le_bytes());
    buffer.extend_from_slice(&0_u32.to_le_bytes());
    buffer.len()
}

/// Writes the payload length into the frame begun at `payload_start`. Returns the
/// payload length, or `None` when it exceeds [`EVENT_PAYLOAD_BYTES_MAX`].
pub fn finish_event_frame(buffer: &mut [u8], payload_start: usize) -> Option<usize> {
    let payload_bytes = buffer.len() - payload_start;
    if payload_bytes > EVENT_PAYLOAD_BYTES_MAX {
        return None;
    }
    let length = u32::try_from(payload_bytes).ok()?;
    buffer[payload_start - 4..payload_start].copy_from_slice(&length.to_le_bytes());
    Some(payload_bytes)
}

/// Iterator over the `(stream, payload)` events of a record body. Yields
/// `Err(MalformedBody)` once and stops if a frame runs past the end.
pub struct EventFrames<'a> {
    rest: &'a [u8],
}

impl<'a> EventFrames<'a> {
    pub fn new(body: &'a [u8]) -> Self {
        EventFrames { rest: body }
    }
}

impl<'a> Iterator for EventFrames<'a> {
    type Item = Result<(u64, &'a [u8]), RecordFault>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let Some((stream, payload, rest)) = split_frame(self.rest) else {
            self.rest = &[];
            return Some(Err(RecordFault::MalformedBody));
        };
        self.rest = rest;
        Some(Ok((stream, payload)))
    }
}

fn split_frame(bytes: &[u8]) -> Option<(u64, &[u8], &[u8])> {
    let stream = u64::from_le_bytes(bytes.get(0..8)?.try_into().ok()?);
    let length = u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?);
    let end = EVENT_FRAME_BYTES.checked_add(usize::try_from(length).ok()?)?;
    let payload = bytes.get(EVENT_FRAME_BYTES..end)?;
    Some((stream, payload, &bytes[end..]))
}

/// Length of the whole frame (header + payload) that starts `bytes`, if complete.
pub fn event_frame_bytes(bytes: &[u8]) -> Option<usize> {
    let (_, payload, _) = split_frame(bytes)?;
    Some(EVENT_FRAME_BYTES + payload.len())
}

fn journal_checksum(first_seq: u64, count: u32, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&first_seq.to_le_bytes());
    hasher.update(&count.to_le_bytes());
    // body.len() fits u32: callers check it before writing, and the reader compares
    // it with the stored u32.
    hasher.update(&(body.len() as u32).to_le_bytes());
    hasher.update(body);
    hasher.finalize()
}

/// Appends a complete journal record (header + body) to `out`.
///
/// The body must be shorter than 4 GiB; the writer never builds one near that size.
pub fn write_journal_record(out: &mut Vec<u8>, first_seq: u64, count: u32, body: &[u8]) {
    assert!(u32::try_from(body.len()).is_ok(), "journal body too large");
    out.reserve(JOURNAL_HEADER_BYTES + body.len());
    out.extend_from_slice(&JOURNAL_MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0_u16.to_le_bytes());
    out.extend_from_slice(&first_seq.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&journal_checksum(first_seq, count, body).to_le_bytes());
    out.extend_from_slice(body);
}

/// Verifies a stored journal record and returns its header and body.
pub fn read_journal_record(value: &[u8]) -> Result<(JournalHeader, &[u8]), RecordFault> {
    let header = value
        .get(..JOURNAL_HEADER_BYTES)
        .ok_or(RecordFault::TooShort)?;
    check_magic_and_version(header, JOURNAL_MAGIC)?;
    let first_seq = read_u64(header, 8);
    let count = read_u32(header, 16);
    let body_len = read_u32(header, 20);
    let checksum = read_u32(header, 24);
    let body = &value[JOURNAL_HEADER_BYTES..];
    if usize::try_from(body_len).ok() != Some(body.len()) || count == 0 {
        return Err(RecordFault::LengthMismatch);
    }
    if journal_checksum(first_seq, count, body) != checksum {
        return Err(RecordFault::ChecksumMismatch);
    }
    Ok((JournalHeader { first_seq, count }, body))
}

fn snapshot_checksum(seq: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&seq.to_le_bytes());
    hasher.update(&(payload.len() as u32).to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// Appends a complete snapshot value (header + payload) to `out`.
pub fn write_snapshot_value(out: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    out.reserve(SNAPSHOT_HEADER_BYTES + payload.len());
    out.extend_from_slice(&snapshot_header(seq, payload));
    out.extend_from_slice(payload);
}

/// The header of a snapshot value; the payload follows it. Panics past 4 GiB (the
/// journal refuses such snapshots before they get here).
pub fn snapshot_header(seq: u64, payload: &[u8]) -> [u8; SNAPSHOT_HEADER_BYTES] {
    let payload_len = u32::try_from(payload.len()).expect("snapshot too large");
    let mut header = [0_u8; SNAPSHOT_HEADER_BYTES];
    header[..4].copy_from_slice(&SNAPSHOT_MAGIC);
    header[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[8..16].copy_from_slice(&seq.to_le_bytes());
    header[16..20].copy_from_slice(&payload_len.to_le_bytes());
    header[20..24].copy_from_slice(&snapshot_checksum(seq, payload).to_le_bytes());
    header
}

/// The sled value naming the snapshot file of a stream at `seq`.
pub fn snapshot_reference(seq: u64) -> [u8; SNAPSHOT_REFERENCE_BYTES] {
    let mut value = [0_u8; SNAPSHOT_REFERENCE_BYTES];
    value[..4].copy_from_slice(&SNAPSHOT_REFERENCE_MAGIC);
    value[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    value[8..16].copy_from_slice(&seq.to_le_bytes());
    let checksum = crc32fast::hash(&value[..16]);
    value[16..20].copy_from_slice(&checksum.to_le_bytes());
    value
}

/// Whether a sled snapshot value is a reference to a file (else an inline snapshot).
pub fn is_snapshot_reference(value: &[u8]) -> bool {
    value.starts_with(&SNAPSHOT_REFERENCE_MAGIC)
}

/// Verifies a snapshot reference and returns the seq it names.
pub fn read_snapshot_reference(value: &[u8]) -> Result<u64, RecordFault> {
    if value.len() < SNAPSHOT_REFERENCE_BYTES {
        return Err(RecordFault::TooShort);
    }
    if value.len() > SNAPSHOT_REFERENCE_BYTES {
        return Err(RecordFault::LengthMismatch);
    }
    check_magic_and_version(value, SNAPSHOT_REFERENCE_MAGIC)?;
    if crc32fast::hash(&value[..16]) != read_u32(value, 16) {
        return Err(RecordFault::ChecksumMismatch);
    }
    Ok(read_u64(value, 8))
}

/// Verifies a stored snapshot value and returns its seq and payload.
pub fn read_snapshot_value(value: &[u8]) -> Result<(u64, &[u8]), RecordFault> {
    let header = value
        .get(..SNAPSHOT_HEADER_BYTES)
        .ok_or(RecordFault::TooShort)?;
    check_magic_and_version(header, SNAPSHOT_MAGIC)?;
    let seq = read_u64(header, 8);
    let payload_len = read_u32(header, 16);
    let checksum = read_u32(header, 20);
    let payload = &value[SNAPSHOT_HEADER_BYTES..];
    if usize::try_from(payload_len).ok() != Some(payload.len()) {
        return Err(RecordFault::LengthMismatch);
    }
    if snapshot_checksum(seq, payload) != checksum {
        return Err(RecordFault::ChecksumMismatch);
    }
    Ok((seq, payload))
}

fn archive_checksum(stream: u64, number: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&stream.to_le_bytes());
    hasher.update(&number.to_le_bytes());
    hasher.update(&(payload.len() as u32).to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// Appends a complete archive record (header + payload) to `out`. Panics past 4 GiB (the
/// cold store refuses such payloads before they get here).
pub fn write_archive_record(out: &mut Vec<u8>, stream: u64, number: u64, payload: &[u8]) {
    let payload_len = u32::try_from(payload.len()).expect("archive record too large");
    out.reserve(ARCHIVE_HEADER_BYTES + payload.len());
    out.extend_from_slice(&ARCHIVE_MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0_u16.to_le_bytes());
    out.extend_from_slice(&stream.to_le_bytes());
    out.extend_from_slice(&number.to_le_bytes());
    out.extend_from_slice(&payload_len.to_le_bytes());
    out.extend_from_slice(&archive_checksum(stream, number, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Verifies an archive record read under the key (`stream`, `number`) and returns its
/// payload.
pub fn read_archive_record(value: &[u8], stream: u64, number: u64) -> Result<&[u8], RecordFault> {
    let header = value
        .get(..ARCHIVE_HEADER_BYTES)
        .ok_or(RecordFault::TooShort)?;
    check_magic_and_version(header, ARCHIVE_MAGIC)?;
    let (stored_stream, stored_number) = (read_u64(header, 8), read_u64(header, 16));
    let payload_len = read_u32(header, 24);
    let checksum = read_u32(header, 28);
    let payload = &value[ARCHIVE_HEADER_BYTES..];
    if usize::try_from(payload_len).ok() != Some(payload.len()) {
        return Err(RecordFault::LengthMismatch);
    }
    if archive_checksum(stored_stream, stored_number, payload) != checksum {
        return Err(RecordFault::ChecksumMismatch);
    }
    if (stored_stream, stored_number) != (stream, number) {
        return Err(RecordFault::KeyMismatch);
    }
    Ok(payload)
}

/// Decodes a big-endian u64 sled key; `None` for a key of another length.
pub fn key_seq(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

fn check_magic_and_version(header: &[u8], magic: [u8; 4]) -> Result<(), RecordFault> {
    if header[0..4] != magic {
        return Err(RecordFault::BadMagic);
    }
    let version = u16::from_le_bytes([header[4], header[5]]);
    if version != FORMAT_VERSION {
        return Err(RecordFault::UnknownVersion(version));
    }
    if header[6..8] != [0, 0] {
        return Err(RecordFault::ReservedNotZero);
    }
    Ok(())
}

// Callers pass a header slice whose length they checked, so the ranges are in bounds.
fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut field = [0_u8; 8];
    field.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(field)
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut field = [0_u8; 4];
    field.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Order {
        id: u64,
        cents: i64,
        note: String,
    }

    #[test]
    fn values_round_trip_and_encode_into_appends() {
        let order = Order {
            id: 7,
            cents: -120,
            note: "秒杀".into(),
        };
        let mut buffer = vec![0xAA];
        encode_into(&order, &mut buffer).expect("encode");
        assert_eq!(buffer[0], 0xAA);
        assert_eq!(buffer[1..], encode(&order).expect("encode")[..]);
        assert_eq!(decode::<Order>(&buffer[1..]).expect("decode"), order);
    }

    #[test]
    fn decode_rejects_trailing_bytes_and_garbage() {
        let mut bytes = encode(&5_u64).expect("encode");
        bytes.push(0);
        assert!(matches!(
            decode::<u64>(&bytes),
            Err(CodecError::TrailingBytes { trailing_bytes: 1 })
        ));
        assert!(decode::<Order>(&[0xFF; 3]).is_err());
    }

    #[test]
    fn journal_record_detects_every_single_byte_flip() {
        // Long enough that half a record still holds a whole header.
        const PAID: &[u8] = b"order 1234 paid 9900 cents by user 42";
        let mut body = Vec::new();
        let start = begin_event_frame(&mut body, 3);
        body.extend_from_slice(PAID);
        finish_event_frame(&mut body, start).expect("small");
        let mut record = Vec::new();
        write_journal_record(&mut record, 42, 1, &body);
        let (header, read_body) = read_journal_record(&record).expect("valid");
        assert_eq!(
            header,
            JournalHeader {
                first_seq: 42,
                count: 1
            }
        );
        let events: Vec<_> = EventFrames::new(read_body).collect();
        assert_eq!(events, vec![Ok((3, PAID))]);
        for index in 0..record.len() {
            let mut garbled = record.clone();
            garbled[index] ^= 0x01;
            assert!(read_journal_record(&garbled).is_err(), "flip at {index}");
        }
        assert_eq!(
            read_journal_record(&record[..record.len() / 2]),
            Err(RecordFault::LengthMismatch)
        );
    }

    #[test]
    fn snapshot_value_rejects_unknown_version() {
        let mut value = Vec::new();
        write_snapshot_value(&mut value, 9, b"state");
        assert_eq!(read_snapshot_value(&value), Ok((9, &b"state"[..])));
        value[4] = 2;
        assert_eq!(
            read_snapshot_value(&value),
            Err(RecordFault::UnknownVersion(2))
        );
    }

    #[test]
    fn archive_record_detects_every_single_byte_flip_and_a_foreign_key() {
        let mut record = Vec::new();
        write_archive_record(&mut record, 7, 42, b"order 42 of activity 7");
        assert_eq!(
            read_archive_record(&record, 7, 42),
            Ok(&b"order 42 of activity 7"[..])
        );
        for index in 0..record.len() {
            let mut garbled = record.clone();
            garbled[index] ^= 0x01;
            assert!(
                read_archive_record(&garbled, 7, 42).is_err(),
                "flip at {index}"
            );
        }
        assert_eq!(
            read_archive_record(&record, 7, 43),
            Err(RecordFault::KeyMismatch)
        );
        assert_eq!(
            read_archive_record(&record[..20], 7, 42),
            Err(RecordFault::TooShort)
        );
        assert_eq!(
            read_archive_record(&record[..record.len() - 1], 7, 42),
            Err(RecordFault::LengthMismatch)
        );
    }

    #[test]
    fn truncated_event_frame_is_malformed() {
        let mut body = Vec::new();
        let start = begin_event_frame(&mut body, 1);
        body.extend_from_slice(b"abc");
        finish_event_frame(&mut body, start).expect("small");
        let frames: Vec<_> = EventFrames::new(&body[..body.len() - 1]).collect();
        assert_eq!(frames, vec![Err(RecordFault::MalformedBody)]);
    }
}

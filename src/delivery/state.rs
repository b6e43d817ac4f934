//! The engine's durable state in the event store's database, and its byte layout.
//!
//! Five trees shared by every subscription; a subscription's keys start with its number
//! (a `u32` given at creation), so one subscription's state is one key range per tree:
//!
//! - `delivery_subscriptions`: id → the subscription's definition ([`SubscriptionRecord`],
//!   JSON: written on creation, update and disabling only);
//! - `delivery_progress`: number → [`Progress`] (cursor and totals), rewritten per flush;
//! - `delivery_pending`: number, lane, position → [`PendingValue`] (attempts so far, next
//!   attempt time). The lane is the activity under per-activity order and 0 under total
//!   order, so a lane's pending events are one contiguous range in position order;
//! - `delivery_dead_letters`: number, position → [`DeadValue`];
//! - `delivery_attempts`: number, position, record → [`AttemptRecord`].
//!
//! Integers are big-endian so that key order is numeric order. Writes come in sled
//! batches applied dead letters first, then pending, then attempts, then progress: sled
//! recovers a prefix of its log after a crash, so the cursor never moves past an event
//! whose pending or dead record was lost (at worst an event is delivered again).

use serde::{Deserialize, Serialize};

use super::source::EventSource;
use super::{AttemptRecord, Ordering, Subscription, SubscriptionFilter};
use playcore_snapshots::StoreError;

/// The engine's trees.
#[derive(Clone)]
pub(crate) struct Trees {
    pub subscriptions: sled::Tree,
    pub progress: sled::Tree,
    pub pending: sled::Tree,
    pub dead: sled::Tree,
    pub attempts: sled::Tree,
}

impl Trees {
    pub fn open(source: &dyn EventSource) -> Result<Trees, StoreError> {
        Ok(Trees {
            subscriptions: source.tree("delivery_subscriptions")?,
            progress: source.tree("delivery_progress")?,
            pending: source.tree("delivery_pending")?,
            dead: source.tree("delivery_dead_letters")?,
            attempts: source.tree("delivery_attempts")?,
        })
    }

    /// Deletes every record of subscription `number` (progress last: it marks the number
    /// as taken until the rest is gone).
    pub fn delete(&self, number: u32) -> Result<(), StoreError> {
        let prefix = number.to_be_bytes();
        for tree in [&self.pending, &self.dead, &self.attempts] {
            let mut batch = sled::Batch::default();
            for key in tree.scan_prefix(prefix).keys() {
                batch.remove(key?);
            }
            tree.apply_batch(batch)?;
        }
        self.progress.remove(prefix)?;
        Ok(())
    }
}

/// A subscription's definition as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SubscriptionRecord {
    pub number: u32,
    pub event_types: Vec<String>,
    pub activity_ids: Vec<u64>,
    pub store_ids: Vec<String>,
    pub total_order: bool,
    pub enabled: bool,
    pub rate_limit_per_second: Option<u32>,
    pub disabled_for_failing: bool,
}

impl SubscriptionRecord {
    pub fn new(number: u32, subscription: &Subscription) -> SubscriptionRecord {
        SubscriptionRecord {
            number,
            event_types: subscription.filter.event_types.clone(),
            activity_ids: subscription.filter.activity_ids.clone(),
            store_ids: subscription.filter.store_ids.clone(),
            total_order: subscription.ordering == Ordering::Total,
            enabled: subscription.enabled,
            rate_limit_per_second: subscription.rate_limit_per_second,
            disabled_for_failing: false,
        }
    }

    pub fn subscription(&self, id: &str) -> Subscription {
        Subscription {
            id: id.to_owned(),
            filter: SubscriptionFilter {
                event_types: self.event_types.clone(),
                activity_ids: self.activity_ids.clone(),
                store_ids: self.store_ids.clone(),
            },
            ordering: if self.total_order {
                Ordering::Total
            } else {
                Ordering::PerActivity
            },
            enabled: self.enabled,
            rate_limit_per_second: self.rate_limit_per_second,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<SubscriptionRecord> {
        serde_json::from_slice(bytes).ok()
    }
}

/// A subscription's cursor and totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Every matching event at or before it is delivered, dead-lettered or pending.
    pub cursor: u64,
    pub delivered: u64,
    pub failed_attempts: u64,
    pub dead_lettered: u64,
    /// Events moved to dead letters because the backlog was full.
    pub backlog_overflowed: u64,
    /// The last acknowledged attempt (0: none yet).
    pub last_success_ms: i64,
    /// The first failure since the last success (0: not failing).
    pub failing_since_ms: i64,
}

impl Progress {
    pub const BYTES: usize = 7 * 8;

    pub fn encode(&self) -> [u8; Self::BYTES] {
        let mut bytes = [0u8; Self::BYTES];
        let fields = [
            self.cursor,
            self.delivered,
            self.failed_attempts,
            self.dead_lettered,
            self.backlog_overflowed,
            self.last_success_ms as u64,
            self.failing_since_ms as u64,
        ];
        for (index, field) in fields.iter().enumerate() {
            bytes[index * 8..index * 8 + 8].copy_from_slice(&field.to_be_bytes());
        }
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Option<Progress> {
        let mut reader = Reader::new(bytes);
        let progress = Progress {
            cursor: reader.u64()?,
            delivered: reader.u64()?,
            failed_attempts: reader.u64()?,
            dead_lettered: reader.u64()?,
            backlog_overflowed: reader.u64()?,
            last_success_ms: reader.i64()?,
            failing_since_ms: reader.i64()?,
        };
        Some(progress)
    }
}

/// A pending message's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PendingValue {
    /// Attempts spent in the current schedule.
    pub attempts: u32,
    /// Attempt records written for the message so far (over redeliveries too): the next
    /// record's number.
    pub records: u32,
    pub next_attempt_at_ms: i64,
    pub activity: u64,
}

impl PendingValue {
    pub fn encode(&self) -> [u8; 24] {
        let mut bytes = [0u8; 24];
        bytes[0..4].copy_from_slice(&self.attempts.to_be_bytes());
        bytes[4..8].copy_from_slice(&self.records.to_be_bytes());
        bytes[8..16].copy_from_slice(&self.next_attempt_at_ms.to_be_bytes());
        bytes[16..24].copy_from_slice(&self.activity.to_be_bytes());
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Option<PendingValue> {
        let mut reader = Reader::new(bytes);
        Some(PendingValue {
            attempts: reader.u32()?,
            records: reader.u32()?,
            next_attempt_at_ms: reader.i64()?,
            activity: reader.u64()?,
        })
    }
}

/// A dead letter's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeadValue {
    pub activity: u64,
    pub records: u32,
    /// When it was dead-lettered (its last attempt failed, or the backlog overflowed).
    pub failed_at_ms: i64,
}

impl DeadValue {
    pub fn encode(&self) -> [u8; 20] {
        let mut bytes = [0u8; 20];
        bytes[0..8].copy_from_slice(&self.activity.to_be_bytes());
        bytes[8..12].copy_from_slice(&self.records.to_be_bytes());
        bytes[12..20].copy_from_slice(&self.failed_at_ms.to_be_bytes());
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Option<DeadValue> {
        let mut reader = Reader::new(bytes);
        Some(DeadValue {
            activity: reader.u64()?,
            records: reader.u32()?,
            failed_at_ms: reader.i64()?,
        })
    }
}

pub(crate) fn pending_key(number: u32, lane: u64, position: u64) -> [u8; 20] {
    let mut key = [0u8; 20];
    key[0..4].copy_from_slice(&number.to_be_bytes());
    key[4..12].copy_from_slice(&lane.to_be_bytes());
    key[12..20].copy_from_slice(&position.to_be_bytes());
    key
}

/// The lane and position of a pending key.
pub(crate) fn decode_pending_key(key: &[u8]) -> Option<(u64, u64)> {
    let mut reader = Reader::new(key.get(4..)?);
    Some((reader.u64()?, reader.u64()?))
}

pub(crate) fn lane_prefix(number: u32, lane: u64) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[0..4].copy_from_slice(&number.to_be_bytes());
    key[4..12].copy_from_slice(&lane.to_be_bytes());
    key
}

pub(crate) fn position_key(number: u32, position: u64) -> [u8; 12] {
    lane_prefix(number, position)
}

/// The position of a dead-letter key (or of an attempt key's first part).
pub(crate) fn decode_position(key: &[u8]) -> Option<u64> {
    Reader::new(key.get(4..)?).u64()
}

pub(crate) fn attempt_key(number: u32, position: u64, record: u32) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[0..12].copy_from_slice(&position_key(number, position));
    key[12..16].copy_from_slice(&record.to_be_bytes());
    key
}

pub(crate) fn encode_attempt(record: &AttemptRecord) -> Vec<u8> {
    let error = record.error.as_deref().unwrap_or_default();
    let mut bytes = Vec::with_capacity(31 + error.len());
    bytes.extend_from_slice(&record.attempt.to_be_bytes());
    bytes.extend_from_slice(&record.at_ms.to_be_bytes());
    bytes.extend_from_slice(&record.status_code.unwrap_or(0).to_be_bytes());
    bytes.extend_from_slice(&record.latency_ms.to_be_bytes());
    let next = record.next_attempt_at_ms.unwrap_or(i64::MIN);
    bytes.extend_from_slice(&next.to_be_bytes());
    bytes.push(u8::from(record.error.is_some()));
    bytes.extend_from_slice(error.as_bytes());
    bytes
}

pub(crate) fn decode_attempt(bytes: &[u8]) -> Option<AttemptRecord> {
    let mut reader = Reader::new(bytes);
    let attempt = reader.u32()?;
    let at_ms = reader.i64()?;
    let status = reader.u16()?;
    let latency_ms = reader.u64()?;
    let next = reader.i64()?;
    let has_error = reader.u8()? == 1;
    let error = has_error.then(|| String::from_utf8_lossy(reader.rest()).into_owned());
    Some(AttemptRecord {
        attempt,
        at_ms,
        status_code: (status != 0).then_some(status),
        latency_ms,
        error,
        next_attempt_at_ms: (next != i64::MIN).then_some(next),
    })
}

/// Reads big-endian integers off a byte slice.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, tail) = self.bytes.split_at_checked(N)?;
        self.bytes = tail;
        head.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|bytes| bytes[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_be_bytes)
    }

    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let progress = Progress {
            cursor: 7,
            delivered: 3,
            failed_attempts: 2,
            dead_lettered: 1,
            backlog_overflowed: 1,
            last_success_ms: 99,
            failing_since_ms: 0,
        };
        assert_eq!(Progress::decode(&progress.encode()), Some(progress));
        let pending = PendingValue {
            attempts: 2,
            records: 4,
            next_attempt_at_ms: 1_000,
            activity: 9,
        };
        assert_eq!(PendingValue::decode(&pending.encode()), Some(pending));
        let record = AttemptRecord {
            attempt: 2,
            at_ms: 5,
            status_code: Some(500),
            latency_ms: 12,
            error: Some("status 500".into()),
            next_attempt_at_ms: Some(9),
        };
        assert_eq!(decode_attempt(&encode_attempt(&record)), Some(record));
        let key = pending_key(3, 9, 77);
        assert_eq!(decode_pending_key(&key), Some((9, 77)));
        assert!(key.starts_with(&lane_prefix(3, 9)));
    }
}

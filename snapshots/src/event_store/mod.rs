//! The event store: every business event the journal made durable, kept with its own
//! retention, independent of journal truncation, and read back by id, by filter and in
//! order by the subscribers that deliver events out of the core.
//!
//! INTERFACE SKELETON: the signatures below are the contract the server's indexer,
//! event routes and delivery engine code against. Bodies marked `todo!` are to be filled.
//!
//! # Identity
//!
//! An event's position is `seq << 16 | index`: the journal entry's seq and the event's
//! index within that entry. Positions only grow, so position order is journal order, and
//! the id served (`evt_` + 16 hex digits of the position, see [`event_id`]) is the same on
//! every read and every delivery, before and after restarts.
//!
//! # Storage
//!
//! Its own sled database (`<data dir>/events`), so that its writes never enter the
//! journal's group commit. The indexer appends records in batches together with the
//! journal seq they cover ([`EventStore::append`], one atomic sled batch), so after a
//! crash the store resumes from a seq whose events are all present. The journal may be
//! truncated only below [`EventStore::durable_indexed_seq`].

use std::path::Path;

use crate::store::StoreError;

/// Bits of a position that hold the event's index within its journal entry.
pub const INDEX_BITS: u32 = 16;

/// The position of the `index`-th event of the journal entry `seq`.
pub fn position(seq: u64, index: u16) -> u64 {
    (seq << INDEX_BITS) | u64::from(index)
}

/// The id served for the event at `position`: `evt_` and 16 lower-case hex digits.
pub fn event_id(position: u64) -> String {
    format!("evt_{position:016x}")
}

/// The position an id names, if it is one [`event_id`] makes.
pub fn parse_event_id(id: &str) -> Option<u64> {
    let digits = id.strip_prefix("evt_")?;
    let well_formed = digits.len() == 16
        && digits
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
    if !well_formed {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// See [`position`].
    pub position: u64,
    /// When its command was decided (the domain event's `at_ms`).
    pub at_ms: i64,
    /// The activity (journal stream) it belongs to.
    pub activity: u64,
    /// The activity's store when the event was indexed, if known.
    pub store: Option<String>,
    /// The platform's type name (`INSTANCE_CREATED` …).
    pub kind: String,
    /// The domain event in the storage codec's encoding (`playcore_snapshots::encode`).
    pub payload: Vec<u8>,
}

impl EventRecord {
    pub fn id(&self) -> String {
        event_id(self.position)
    }
}

/// Which events a page holds. Empty lists and `None` match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub kinds: Vec<String>,
    pub activity: Option<u64>,
    pub store: Option<String>,
    /// `at_ms >= from_ms`.
    pub from_ms: Option<i64>,
    /// `at_ms < until_ms`.
    pub until_ms: Option<i64>,
}

/// Retention and bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventStoreConfig {
    /// Events older than this may be removed (default 30 days).
    pub retention_ms: u64,
    /// Past this many stored bytes the oldest events may be removed.
    pub bytes_max: u64,
}

/// Figures for metrics and the scheduler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventStoreStats {
    pub events: u64,
    pub bytes: u64,
    pub oldest_position: Option<u64>,
    pub last_position: u64,
    pub indexed_seq: u64,
    pub durable_indexed_seq: u64,
    pub removed_by_retention: u64,
}

/// The store. Cheap to clone.
#[derive(Clone)]
pub struct EventStore {
    _private: (),
}

impl EventStore {
    /// Opens (or creates) the store in `directory`.
    pub fn open(_directory: &Path, _config: EventStoreConfig) -> Result<EventStore, StoreError> {
        todo!("event store")
    }

    /// Appends `records` (positions ascending, all after [`EventStore::last_position`])
    /// and records that every journal entry up to `indexed_seq` is indexed, atomically.
    /// Wakes [`EventStore::subscribe`]rs.
    pub fn append(&self, _records: &[EventRecord], _indexed_seq: u64) -> Result<(), StoreError> {
        todo!("event store")
    }

    /// The journal seq up to which every entry's events are in the store.
    pub fn indexed_seq(&self) -> u64 {
        todo!("event store")
    }

    /// Makes everything appended durable (flush and sync of the store's own files).
    pub fn flush(&self) -> Result<(), StoreError> {
        todo!("event store")
    }

    /// [`EventStore::indexed_seq`] as of the last [`EventStore::flush`]: the journal may
    /// be truncated below it.
    pub fn durable_indexed_seq(&self) -> u64 {
        todo!("event store")
    }

    /// The position of the newest stored event (0 when none).
    pub fn last_position(&self) -> u64 {
        todo!("event store")
    }

    /// Wakes on every append; the value is [`EventStore::last_position`].
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        todo!("event store")
    }

    /// Up to `limit` events after `after_position` that match `filter`, in position order,
    /// scanning at most a bounded number of records (a page may be short; the caller pages
    /// on from the last position it got or from [`Page::scanned_to`]).
    pub fn page(
        &self,
        _filter: &EventFilter,
        _after_position: u64,
        _limit: usize,
    ) -> Result<Page, StoreError> {
        todo!("event store")
    }

    /// Up to `limit` events after `after_position`, every kind, in position order: what a
    /// subscriber reads from its cursor.
    pub fn read_after(
        &self,
        _after_position: u64,
        _limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        todo!("event store")
    }

    /// The event at `position`, if stored.
    pub fn get(&self, _position: u64) -> Result<Option<EventRecord>, StoreError> {
        todo!("event store")
    }

    /// Retention never removes an event after `position` while `holder` holds it there
    /// (a subscriber's cursor). Holds are in memory: each holder sets its own at start.
    pub fn hold(&self, _holder: &str, _position: u64) {
        todo!("event store")
    }

    /// Drops `holder`'s hold.
    pub fn release(&self, _holder: &str) {
        todo!("event store")
    }

    /// Removes events past the retention age or beyond the byte bound, oldest first, never
    /// past a hold; a bounded amount per call. Returns how many it removed.
    pub fn enforce_retention(&self, _now_ms: i64) -> Result<u64, StoreError> {
        todo!("event store")
    }

    /// A tree of the store's own database, for state that lives beside the events
    /// (subscriptions, cursors, attempts, dead letters).
    pub fn tree(&self, _name: &str) -> Result<sled::Tree, StoreError> {
        todo!("event store")
    }

    pub fn stats(&self) -> EventStoreStats {
        todo!("event store")
    }
}

/// A page of events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub events: Vec<EventRecord>,
    /// The last position examined: a short page continues after it.
    pub scanned_to: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_positions_and_nothing_else() {
        let at = position(0x1234, 7);
        assert_eq!(event_id(at), "evt_0000000012340007");
        assert_eq!(parse_event_id(&event_id(at)), Some(at));
        assert_eq!(parse_event_id("evt_12"), None);
        assert_eq!(parse_event_id("evt_000000001234000G"), None);
        assert_eq!(parse_event_id("msg_0000000012340007"), None);
    }
}

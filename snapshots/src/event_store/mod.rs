//! The event store: every business event the journal made durable, kept with its own
//! retention, independent of journal truncation, and read back by id, by filter and in
//! order by the subscribers that deliver events out of the core.
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
//!
//! Records, the activity index, the store index and the counters share one sled tree
//! under distinct key prefixes (`record`), because a sled batch is atomic within one
//! tree only: a record is never stored without its index entries, nor the indexed seq
//! raised without the records it covers. Each record carries a crc32 over its key and
//! value, checked on every read; a damaged record is an error ([`StoreError::EventCorrupt`]),
//! never served.
//!
//! # Retention
//!
//! [`EventStore::enforce_retention`] removes the oldest records, past the age or the byte
//! bound of [`EventStoreConfig`], a bounded number per call, and never one after the
//! lowest [`EventStore::hold`]: a subscriber's cursor keeps what it has not taken.

mod record;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::store::{open_sled, sync_directory, StoreError};
use record::{activity_key, event_key, meta_key, store_key, store_prefix};

/// The sled tree holding records, both indexes and the counters (see `record`).
const EVENTS_TREE: &str = "events";
/// Records one [`EventStore::page`] call examines at most.
pub const SCAN_RECORDS_MAX: usize = 10_000;
/// Records one [`EventStore::enforce_retention`] call removes at most.
pub const RETENTION_RECORDS_MAX: usize = 10_000;
/// Holders [`EventStore::hold`] keeps at most (subscribers: endpoints and consumers).
pub const HOLDERS_MAX: usize = 10_000;
/// Records one [`EventStore::append`] accepts at most (one sled batch).
pub const APPEND_RECORDS_MAX: usize = 50_000;
const INDEXED_SEQ: &str = "indexed_seq";
const EVENTS_COUNT: &str = "events";
const BYTES_COUNT: &str = "bytes";
const REMOVED_COUNT: &str = "removed_by_retention";

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

/// The store. Cheap to clone; clones share one sled database.
#[derive(Clone)]
pub struct EventStore {
    inner: Arc<Inner>,
}

struct Inner {
    directory: PathBuf,
    db: sled::Db,
    tree: sled::Tree,
    /// Read-only handle on sled's data file, for `fdatasync` (see `crate::store`).
    data_file: File,
    config: EventStoreConfig,
    /// Serialises the writers (the indexer's appends, retention), so the counters they
    /// write in their batches follow each other.
    writing: Mutex<()>,
    indexed_seq: AtomicU64,
    durable_indexed_seq: AtomicU64,
    last_position: AtomicU64,
    events: AtomicU64,
    bytes: AtomicU64,
    removed: AtomicU64,
    holds: Mutex<HashMap<String, u64>>,
    appended: tokio::sync::watch::Sender<u64>,
}

impl EventStore {
    /// Opens (or creates) the store in `directory`, waiting for the lock of a database
    /// still being closed as [`crate::Store::open`] does. What it finds is synced before
    /// it counts as durable.
    pub fn open(directory: &Path, config: EventStoreConfig) -> Result<EventStore, StoreError> {
        std::fs::create_dir_all(directory).map_err(|error| StoreError::io(directory, error))?;
        let db = open_sled(directory)?;
        let data_path = directory.join("db");
        let data_file =
            File::open(&data_path).map_err(|error| StoreError::io(&data_path, error))?;
        sync_directory(directory)?;
        if let Some(parent) = directory.parent() {
            sync_directory(parent)?;
        }
        let tree = db.open_tree(EVENTS_TREE)?;
        let counter = |name: &str| -> Result<u64, StoreError> {
            Ok(tree
                .get(meta_key(name))?
                .and_then(|value| <[u8; 8]>::try_from(value.as_ref()).ok())
                .map_or(0, u64::from_be_bytes))
        };
        let indexed_seq = counter(INDEXED_SEQ)?;
        let last_position = last_event_position(&tree)?.unwrap_or(0);
        let inner = Inner {
            directory: directory.to_path_buf(),
            data_file,
            config,
            writing: Mutex::new(()),
            indexed_seq: AtomicU64::new(indexed_seq),
            durable_indexed_seq: AtomicU64::new(0),
            last_position: AtomicU64::new(last_position),
            events: AtomicU64::new(counter(EVENTS_COUNT)?),
            bytes: AtomicU64::new(counter(BYTES_COUNT)?),
            removed: AtomicU64::new(counter(REMOVED_COUNT)?),
            holds: Mutex::new(HashMap::new()),
            appended: tokio::sync::watch::Sender::new(last_position),
            tree,
            db,
        };
        let store = EventStore {
            inner: Arc::new(inner),
        };
        store.flush()?;
        Ok(store)
    }

    /// Appends `records` (positions ascending, all after [`EventStore::last_position`])
    /// and records that every journal entry up to `indexed_seq` is indexed, atomically.
    /// Wakes [`EventStore::subscribe`]rs.
    pub fn append(&self, records: &[EventRecord], indexed_seq: u64) -> Result<(), StoreError> {
        let inner = &self.inner;
        let _writing = lock(&inner.writing);
        check_append(records, inner.last_position.load(Ordering::Acquire))?;
        let mut batch = sled::Batch::default();
        let mut added_bytes = 0_u64;
        for record in records {
            let value = record::encode(record);
            added_bytes += stored_bytes(value.len(), record.store.as_deref());
            batch.insert(&event_key(record.position), value);
            batch.insert(&activity_key(record.activity, record.position), &[]);
            if let Some(store) = indexed_store(record) {
                batch.insert(store_key(store, record.position), &[]);
            }
        }
        let indexed_seq = indexed_seq.max(inner.indexed_seq.load(Ordering::Acquire));
        let events = inner.events.load(Ordering::Acquire) + records.len() as u64;
        let bytes = inner.bytes.load(Ordering::Acquire) + added_bytes;
        put_counter(&mut batch, INDEXED_SEQ, indexed_seq);
        put_counter(&mut batch, EVENTS_COUNT, events);
        put_counter(&mut batch, BYTES_COUNT, bytes);
        inner.tree.apply_batch(batch)?;
        inner.indexed_seq.store(indexed_seq, Ordering::Release);
        inner.events.store(events, Ordering::Release);
        inner.bytes.store(bytes, Ordering::Release);
        if let Some(last) = records.last() {
            inner.last_position.store(last.position, Ordering::Release);
        }
        // Every append wakes: waiters on the indexed seq are woken by empty appends too.
        inner
            .appended
            .send_replace(inner.last_position.load(Ordering::Acquire));
        Ok(())
    }

    /// The journal seq up to which every entry's events are in the store.
    pub fn indexed_seq(&self) -> u64 {
        self.inner.indexed_seq.load(Ordering::Acquire)
    }

    /// Makes everything appended durable (flush and sync of the store's own files).
    pub fn flush(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        let indexed_seq = self.indexed_seq();
        inner.db.flush()?;
        inner
            .data_file
            .sync_data()
            .map_err(|error| StoreError::io(&inner.directory.join("db"), error))?;
        inner
            .durable_indexed_seq
            .fetch_max(indexed_seq, Ordering::AcqRel);
        Ok(())
    }

    /// [`EventStore::indexed_seq`] as of the last [`EventStore::flush`]: the journal may
    /// be truncated below it.
    pub fn durable_indexed_seq(&self) -> u64 {
        self.inner.durable_indexed_seq.load(Ordering::Acquire)
    }

    /// The position of the newest stored event (0 when none).
    pub fn last_position(&self) -> u64 {
        self.inner.last_position.load(Ordering::Acquire)
    }

    /// Wakes on every append; the value is [`EventStore::last_position`].
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.appended.subscribe()
    }

    /// Up to `limit` events after `after_position` that match `filter`, in position order,
    /// scanning at most [`SCAN_RECORDS_MAX`] records (a page may be short; the caller
    /// pages on from the last position it got or from [`Page::scanned_to`]). Uses the
    /// activity or the store index when the filter names one.
    pub fn page(
        &self,
        filter: &EventFilter,
        after_position: u64,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let mut page = Page {
            events: Vec::new(),
            scanned_to: after_position,
            reached_end: false,
        };
        let Some(start) = after_position.checked_add(1) else {
            page.reached_end = true;
            return Ok(page);
        };
        let mut candidates = self.candidates(filter, start);
        let mut scanned = 0;
        while page.events.len() < limit && scanned < SCAN_RECORDS_MAX {
            let Some(candidate) = candidates.next() else {
                page.reached_end = true;
                return Ok(page);
            };
            let (position, value) = candidate?;
            scanned += 1;
            page.scanned_to = position;
            let Some(record) = self.record_at(position, value)? else {
                continue;
            };
            if matches(filter, &record) {
                page.events.push(record);
            }
        }
        page.reached_end = candidates.next().is_none();
        Ok(page)
    }

    /// Up to `limit` events after `after_position`, every kind, in position order: what a
    /// subscriber reads from its cursor.
    pub fn read_after(
        &self,
        after_position: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let Some(start) = after_position.checked_add(1) else {
            return Ok(Vec::new());
        };
        let range = event_key(start)..=event_key(u64::MAX);
        let mut events = Vec::new();
        for entry in self.inner.tree.range(range).take(limit) {
            let (key, value) = entry?;
            let position = record::key_position(&key).unwrap_or(start);
            events.push(verified(position, &value)?);
        }
        Ok(events)
    }

    /// The event at `position`, if stored.
    pub fn get(&self, position: u64) -> Result<Option<EventRecord>, StoreError> {
        self.record_at(position, None)
    }

    /// Retention never removes an event after `position` while `holder` holds it there
    /// (a subscriber's cursor). Holds are in memory: each holder sets its own at start.
    /// Past [`HOLDERS_MAX`] holders a new one is refused (logged) rather than growing.
    pub fn hold(&self, holder: &str, position: u64) {
        let mut holds = lock(&self.inner.holds);
        if holds.len() >= HOLDERS_MAX && !holds.contains_key(holder) {
            tracing::error!(holder, "event store: too many holders; hold refused");
            return;
        }
        holds.insert(holder.to_owned(), position);
    }

    /// Drops `holder`'s hold.
    pub fn release(&self, holder: &str) {
        lock(&self.inner.holds).remove(holder);
    }

    /// Removes events past the retention age or beyond the byte bound, oldest first, never
    /// past a hold; at most [`RETENTION_RECORDS_MAX`] per call. Returns how many it removed.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<u64, StoreError> {
        let inner = &self.inner;
        let _writing = lock(&inner.writing);
        let hold = lock(&inner.holds)
            .values()
            .copied()
            .min()
            .unwrap_or(u64::MAX);
        let retention_ms = i64::try_from(inner.config.retention_ms).unwrap_or(i64::MAX);
        let cutoff_ms = now_ms.saturating_sub(retention_ms);
        let mut bytes = inner.bytes.load(Ordering::Acquire);
        let mut batch = sled::Batch::default();
        let mut removed = 0_u64;
        let range = event_key(0)..=event_key(u64::MAX);
        for entry in inner.tree.range(range).take(RETENTION_RECORDS_MAX) {
            let (key, value) = entry?;
            let position = record::key_position(&key).unwrap_or(0);
            let record = verified(position, &value)?;
            let expired = record.at_ms < cutoff_ms || bytes > inner.config.bytes_max;
            if position > hold || !expired {
                break;
            }
            bytes = bytes.saturating_sub(stored_bytes(value.len(), record.store.as_deref()));
            batch.remove(&key);
            batch.remove(&activity_key(record.activity, position));
            if let Some(store) = indexed_store(&record) {
                batch.remove(store_key(store, position));
            }
            removed += 1;
        }
        if removed == 0 {
            return Ok(0);
        }
        let events = inner.events.load(Ordering::Acquire).saturating_sub(removed);
        let removed_total = inner.removed.load(Ordering::Acquire) + removed;
        put_counter(&mut batch, EVENTS_COUNT, events);
        put_counter(&mut batch, BYTES_COUNT, bytes);
        put_counter(&mut batch, REMOVED_COUNT, removed_total);
        inner.tree.apply_batch(batch)?;
        inner.events.store(events, Ordering::Release);
        inner.bytes.store(bytes, Ordering::Release);
        inner.removed.store(removed_total, Ordering::Release);
        Ok(removed)
    }

    /// A tree of the store's own database, for state that lives beside the events
    /// (subscriptions, cursors, attempts, dead letters). The events' own tree is refused.
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        if name == EVENTS_TREE || name == "__sled__default" {
            let reason = format!("the tree {name:?} is the event store's own");
            return Err(StoreError::Sled(sled::Error::Unsupported(reason)));
        }
        Ok(self.inner.db.open_tree(name)?)
    }

    pub fn stats(&self) -> EventStoreStats {
        let inner = &self.inner;
        let oldest_position = inner
            .tree
            .range(event_key(0)..=event_key(u64::MAX))
            .next()
            .and_then(Result::ok)
            .and_then(|(key, _)| record::key_position(&key));
        EventStoreStats {
            events: inner.events.load(Ordering::Acquire),
            bytes: inner.bytes.load(Ordering::Acquire),
            oldest_position,
            last_position: self.last_position(),
            indexed_seq: self.indexed_seq(),
            durable_indexed_seq: self.durable_indexed_seq(),
            removed_by_retention: inner.removed.load(Ordering::Acquire),
        }
    }

    /// Reads and checks every stored record (`playcore check`); how many there are.
    pub fn verify_all(&self) -> Result<u64, StoreError> {
        let mut records = 0;
        for entry in self.inner.tree.range(event_key(0)..=event_key(u64::MAX)) {
            let (key, value) = entry?;
            verified(record::key_position(&key).unwrap_or(0), &value)?;
            records += 1;
        }
        Ok(records)
    }

    /// The directory the store was opened on.
    pub fn directory(&self) -> &Path {
        &self.inner.directory
    }

    /// Positions to examine after `start`, from the index the filter names, else from the
    /// records; the records' values come along when read from the records themselves.
    fn candidates(&self, filter: &EventFilter, start: u64) -> Candidates {
        let tree = &self.inner.tree;
        let positions = |range: sled::Iter| -> Candidates {
            Box::new(range.map(|entry| {
                let (key, _) = entry?;
                Ok((record::key_position(&key).unwrap_or(0), None))
            }))
        };
        if let Some(activity) = filter.activity {
            return positions(
                tree.range(activity_key(activity, start)..=activity_key(activity, u64::MAX)),
            );
        }
        if let Some(store) = filter
            .store
            .as_deref()
            .filter(|store| record::indexable_store(store))
        {
            let end = store_key(store, u64::MAX);
            return positions(tree.range(store_key(store, start)..=end));
        }
        let records = tree.range(event_key(start)..=event_key(u64::MAX));
        Box::new(records.map(|entry| {
            let (key, value) = entry?;
            Ok((record::key_position(&key).unwrap_or(0), Some(value)))
        }))
    }

    /// The verified record at `position`: `value` when already read, else from the tree.
    /// `None` when it is not stored (removed by retention since its index entry was read).
    fn record_at(
        &self,
        position: u64,
        value: Option<sled::IVec>,
    ) -> Result<Option<EventRecord>, StoreError> {
        let value = match value {
            Some(value) => value,
            None => match self.inner.tree.get(event_key(position))? {
                Some(value) => value,
                None => return Ok(None),
            },
        };
        verified(position, &value).map(Some)
    }
}

type Candidates = Box<dyn Iterator<Item = Result<(u64, Option<sled::IVec>), sled::Error>>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn verified(position: u64, value: &[u8]) -> Result<EventRecord, StoreError> {
    record::decode(position, value).map_err(|fault| StoreError::EventCorrupt { position, fault })
}

fn matches(filter: &EventFilter, record: &EventRecord) -> bool {
    let kind = filter.kinds.is_empty() || filter.kinds.contains(&record.kind);
    let activity = filter
        .activity
        .is_none_or(|activity| activity == record.activity);
    let store = filter.store.is_none() || filter.store == record.store;
    let from = filter.from_ms.is_none_or(|from_ms| record.at_ms >= from_ms);
    let until = filter
        .until_ms
        .is_none_or(|until_ms| record.at_ms < until_ms);
    kind && activity && store && from && until
}

/// The store id a record is indexed under (none past the index's length bound).
fn indexed_store(record: &EventRecord) -> Option<&str> {
    record
        .store
        .as_deref()
        .filter(|store| record::indexable_store(store))
}

/// What a record costs the byte bound: its value and the keys of the record and indexes.
fn stored_bytes(value_bytes: usize, store: Option<&str>) -> u64 {
    let store_key_bytes = store
        .filter(|store| record::indexable_store(store))
        .map_or(0, |store| store_prefix(store).len() + 8);
    (value_bytes + 9 + 17 + store_key_bytes) as u64
}

fn put_counter(batch: &mut sled::Batch, name: &str, value: u64) {
    batch.insert(meta_key(name), &value.to_be_bytes());
}

fn last_event_position(tree: &sled::Tree) -> Result<Option<u64>, StoreError> {
    let last = tree
        .range(event_key(0)..=event_key(u64::MAX))
        .next_back()
        .transpose()?;
    Ok(last.and_then(|(key, _)| record::key_position(&key)))
}

/// Refuses a batch the store could not keep in order or in one sled batch.
fn check_append(records: &[EventRecord], last_position: u64) -> Result<(), StoreError> {
    let refuse = |reason: String| Err(StoreError::Sled(sled::Error::Unsupported(reason)));
    if records.len() > APPEND_RECORDS_MAX {
        return refuse(format!(
            "{} records in one append, at most {APPEND_RECORDS_MAX}",
            records.len()
        ));
    }
    let mut previous = last_position;
    for (index, record) in records.iter().enumerate() {
        let first_ever = index == 0 && previous == 0 && record.position == 0;
        if record.position <= previous && !first_ever {
            return refuse(format!(
                "position {} is not after {previous}",
                record.position
            ));
        }
        if record.kind.len() > record::KIND_BYTES_MAX {
            return refuse(format!("kind of {} bytes", record.kind.len()));
        }
        previous = record.position;
    }
    Ok(())
}

/// A page of events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub events: Vec<EventRecord>,
    /// The last position examined: a short page continues after it.
    pub scanned_to: u64,
    /// Whether the scan reached the newest stored record (nothing after `scanned_to`).
    pub reached_end: bool,
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

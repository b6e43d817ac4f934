//! Where the engine reads events and keeps its state: the event store in the server, an
//! in-process store in the engine's own tests.

use playcore_snapshots::event_store::{EventRecord, EventStore};
use playcore_snapshots::StoreError;

/// What the engine needs of the event store.
pub trait EventSource: Send + Sync + 'static {
    /// Up to `limit` events after `after_position`, in position order.
    fn read_after(&self, after_position: u64, limit: usize)
        -> Result<Vec<EventRecord>, StoreError>;
    /// The newest stored event's position (0 when none).
    fn last_position(&self) -> u64;
    /// Wakes on every append.
    fn subscribe(&self) -> tokio::sync::watch::Receiver<u64>;
    /// Keeps retention from removing events after `position` while `holder` holds it.
    fn hold(&self, holder: &str, position: u64);
    fn release(&self, holder: &str);
    fn get(&self, position: u64) -> Result<Option<EventRecord>, StoreError>;
    /// A tree of the store's database for the engine's own state.
    fn tree(&self, name: &str) -> Result<sled::Tree, StoreError>;
}

impl EventSource for EventStore {
    fn read_after(
        &self,
        after_position: u64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, StoreError> {
        EventStore::read_after(self, after_position, limit)
    }

    fn last_position(&self) -> u64 {
        EventStore::last_position(self)
    }

    fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        EventStore::subscribe(self)
    }

    fn hold(&self, holder: &str, position: u64) {
        EventStore::hold(self, holder, position)
    }

    fn release(&self, holder: &str) {
        EventStore::release(self, holder)
    }

    fn get(&self, position: u64) -> Result<Option<EventRecord>, StoreError> {
        EventStore::get(self, position)
    }

    fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        EventStore::tree(self, name)
    }
}

/// An in-memory event list over a temporary sled database: the engine's tests run
/// against it, and restart against the same database.
#[cfg(test)]
pub(crate) mod memory {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex, PoisonError};

    use super::*;

    pub(crate) struct MemorySource {
        events: Mutex<BTreeMap<u64, EventRecord>>,
        pub holds: Mutex<HashMap<String, u64>>,
        wake: tokio::sync::watch::Sender<u64>,
        database: sled::Db,
        /// Each [`EventSource::get`] takes this long (a slow disk).
        get_delay_us: AtomicU64,
    }

    impl MemorySource {
        pub fn new() -> Arc<MemorySource> {
            let database = sled::Config::new()
                .temporary(true)
                .open()
                .expect("a temporary database");
            Arc::new(MemorySource {
                events: Mutex::default(),
                holds: Mutex::default(),
                wake: tokio::sync::watch::channel(0).0,
                database,
                get_delay_us: AtomicU64::new(0),
            })
        }

        /// Makes every read of one event take `delay`.
        pub fn slow_reads(&self, delay: std::time::Duration) {
            let delay_us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
            self.get_delay_us.store(delay_us, Ordering::Relaxed);
        }

        /// Appends an event of `activity` at the next position.
        pub fn append(&self, activity: u64, kind: &str) -> u64 {
            let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
            let position = events.keys().next_back().copied().unwrap_or(0) + 1;
            let record = EventRecord {
                position,
                at_ms: playcore_actors::activity_actor::now_ms(),
                activity,
                store: Some(format!("store-{}", activity % 2)),
                kind: kind.to_owned(),
                payload: Vec::new(),
            };
            events.insert(position, record);
            drop(events);
            self.wake.send_replace(position);
            position
        }

        pub fn hold_of(&self, holder: &str) -> Option<u64> {
            let holds = self.holds.lock().unwrap_or_else(PoisonError::into_inner);
            holds.get(holder).copied()
        }
    }

    impl EventSource for MemorySource {
        fn read_after(
            &self,
            after_position: u64,
            limit: usize,
        ) -> Result<Vec<EventRecord>, StoreError> {
            let events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
            let range = events.range(after_position.saturating_add(1)..);
            Ok(range.take(limit).map(|(_, event)| event.clone()).collect())
        }

        fn last_position(&self) -> u64 {
            let events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
            events.keys().next_back().copied().unwrap_or(0)
        }

        fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
            self.wake.subscribe()
        }

        fn hold(&self, holder: &str, position: u64) {
            let mut holds = self.holds.lock().unwrap_or_else(PoisonError::into_inner);
            holds.insert(holder.to_owned(), position);
        }

        fn release(&self, holder: &str) {
            let mut holds = self.holds.lock().unwrap_or_else(PoisonError::into_inner);
            holds.remove(holder);
        }

        fn get(&self, position: u64) -> Result<Option<EventRecord>, StoreError> {
            let delay_us = self.get_delay_us.load(Ordering::Relaxed);
            if delay_us > 0 {
                std::thread::sleep(std::time::Duration::from_micros(delay_us));
            }
            let events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
            Ok(events.get(&position).cloned())
        }

        fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
            Ok(self.database.open_tree(name)?)
        }
    }
}

//! The indexer: a thread of its own that copies every durable journal entry's events into
//! the event store, so the history outlives journal truncation.
//!
//! It reads entries after the store's indexed seq, only up to the journal's durable seq
//! (an event is visible only once durable), and appends one record per event in batches
//! (one sled batch each, with the seq they cover). It flushes the store at least every
//! [`FLUSH_EVERY`] while busy and whenever it catches up, and after each flush raises the
//! journal's truncation hold to the first seq not durably indexed: the journal is never
//! truncated past an entry the store could still lose. Caught up, it sleeps on the
//! journal's watermark. It runs in the background class (`crate::threads`), and
//! enforces the store's retention every [`RETENTION_EVERY`].
//!
//! A data directory written before the store existed is indexed from wherever its journal
//! starts.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use playcore_actors::activity_actor::now_ms;
use playcore_actors::domain::{ActivityId, Event, EventKind};
use playcore_actors::Registry;
use playcore_snapshots::event_store::{position, EventRecord, EventStore, APPEND_RECORDS_MAX};
use playcore_snapshots::throttle::LogThrottle;
use playcore_snapshots::{Journal, RecoveredEvent, Store};
use tokio::sync::Notify;

use crate::core::Core;

/// Journal entries read per batch.
const ENTRIES_PER_BATCH: usize = 4096;
/// Longest time appended events stay unflushed (and the hold unraised) while busy.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(5);
/// Retention calls per run at most (each removes a bounded number of events).
const RETENTION_CALLS_MAX: usize = 20;
/// Longest sleep when caught up (retention and stop requests are seen within it).
const IDLE_WAIT: Duration = Duration::from_millis(500);
/// Back-off after a failed read or write, so a broken disk is not hammered.
const FAILURE_BACKOFF: Duration = Duration::from_secs(1);
/// Activities whose store id the indexer remembers at most (cleared when full).
const STORE_IDS_MAX: usize = 100_000;
/// How often a repeated failure is logged at most.
const FAILURE_LOG_EVERY: Duration = Duration::from_secs(10);

/// The running indexer; [`Indexer::stop`] catches up, flushes and joins.
pub(crate) struct Indexer {
    stopping: Arc<AtomicBool>,
    wake: Arc<Notify>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Indexer {
    /// Starts the indexer thread on `core`'s journal and event store.
    pub(crate) fn start(core: &Core) -> io::Result<Indexer> {
        let stopping = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(Notify::new());
        let mut work = Work {
            journal: core.runtime.journal().clone(),
            journal_store: core.runtime.store.clone(),
            registry: Arc::clone(&core.runtime.registry),
            events: core.event_store.clone(),
            hold: Arc::clone(&core.truncation_hold),
            store_ids: HashMap::new(),
            unflushed: false,
            last_flush: Instant::now(),
        };
        let (thread_stopping, thread_wake) = (Arc::clone(&stopping), Arc::clone(&wake));
        let thread = std::thread::Builder::new()
            .name("event-indexer".into())
            .spawn(move || work.run(&thread_stopping, &thread_wake))?;
        Ok(Indexer {
            stopping,
            wake,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Indexes what the journal holds durably, flushes, and stops the thread. Call after
    /// the journal stopped, so nothing is left behind. Later calls return at once.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.wake.notify_one();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::error!("the event indexer panicked");
            }
        }
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Work {
    journal: Journal,
    journal_store: Store,
    registry: Arc<Registry>,
    events: EventStore,
    hold: Arc<AtomicU64>,
    /// activity → store id, from ACTIVITY_CREATED / ACTIVITY_UPDATED or the registry.
    store_ids: HashMap<u64, String>,
    unflushed: bool,
    last_flush: Instant,
}

impl Work {
    fn run(&mut self, stopping: &AtomicBool, wake: &Notify) {
        lower_priority();
        let waiter = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build();
        let waiter = match waiter {
            Ok(waiter) => waiter,
            Err(error) => {
                tracing::error!(%error, "the event indexer cannot start its timer");
                return;
            }
        };
        let mut watermark = Some(self.journal.watermark());
        let mut retention_due = Instant::now();
        loop {
            let stop = stopping.load(Ordering::Acquire);
            let progressed = match self.step() {
                Ok(progressed) => progressed,
                Err(error) => {
                    self.failed(&error);
                    if stop {
                        return;
                    }
                    std::thread::sleep(FAILURE_BACKOFF);
                    continue;
                }
            };
            if let Err(error) = self.flush_if_due(progressed) {
                self.failed(&error);
            }
            if Instant::now() >= retention_due {
                self.enforce_retention();
                retention_due = Instant::now() + RETENTION_EVERY;
            }
            if progressed {
                continue;
            }
            if stop {
                return;
            }
            waiter.block_on(wait(&mut watermark, wake));
        }
    }

    /// Indexes one batch of durable entries; whether there was anything to index.
    fn step(&mut self) -> Result<bool, String> {
        let durable_seq = self.journal.durable_seq();
        let after_seq = self.events.indexed_seq();
        if after_seq >= durable_seq {
            return Ok(false);
        }
        let entries =
            playcore_snapshots::read_events(&self.journal_store, after_seq, ENTRIES_PER_BATCH)
                .map_err(|error| format!("reading the journal after seq {after_seq}: {error}"))?;
        let mut records = Vec::new();
        // No entry between the indexed seq and the durable seq (truncated before this
        // store existed): the store is caught up to the durable seq.
        let mut covered_seq = durable_seq;
        for entry in entries.iter().filter(|entry| entry.seq <= durable_seq) {
            let before = records.len();
            self.add_records(entry, &mut records);
            if records.len() > APPEND_RECORDS_MAX && before > 0 {
                records.truncate(before);
                covered_seq = entry.seq - 1;
                break;
            }
            covered_seq = entry.seq;
        }
        self.events
            .append(&records, covered_seq)
            .map_err(|error| format!("appending {} events: {error}", records.len()))?;
        self.unflushed = true;
        Ok(true)
    }

    /// One record per event of `entry`. An entry that does not decode is logged and
    /// skipped (recovery would have refused it; nothing else can be done with it here).
    fn add_records(&mut self, entry: &RecoveredEvent, records: &mut Vec<EventRecord>) {
        let events: Vec<Event> = match playcore_snapshots::decode(&entry.payload) {
            Ok(events) => events,
            Err(error) => {
                tracing::error!(seq = entry.seq, %error, "event indexer: entry skipped");
                return;
            }
        };
        for (index, event) in events.iter().enumerate() {
            let Ok(index) = u16::try_from(index) else {
                tracing::error!(seq = entry.seq, "event indexer: entry has too many events");
                return;
            };
            let payload = match playcore_snapshots::encode(event) {
                Ok(payload) => payload,
                Err(error) => {
                    tracing::error!(seq = entry.seq, %error, "event indexer: event skipped");
                    continue;
                }
            };
            records.push(EventRecord {
                position: position(entry.seq, index),
                at_ms: event.at_ms,
                activity: entry.stream,
                store: self.store_of(entry.stream, &event.kind),
                kind: event.kind.type_name().to_owned(),
                payload,
            });
        }
    }

    /// The activity's store id: from its creation or update event, else as the registry
    /// knows it now.
    fn store_of(&mut self, activity: u64, kind: &EventKind) -> Option<String> {
        let named = match kind {
            EventKind::ActivityCreated { config, .. }
            | EventKind::ActivityUpdated { config, .. } => Some(config.store_id.clone()),
            _ => None,
        };
        if self.store_ids.len() >= STORE_IDS_MAX {
            self.store_ids.clear();
        }
        if let Some(store) = named {
            self.store_ids.insert(activity, store.clone());
            return Some(store);
        }
        if let Some(store) = self.store_ids.get(&activity) {
            return Some(store.clone());
        }
        let view = self.registry.view(ActivityId(activity))?;
        let store = view.config.store_id.clone();
        self.store_ids.insert(activity, store.clone());
        Some(store)
    }

    /// Flushes when events wait and either the indexer caught up or the last flush is
    /// [`FLUSH_EVERY`] old; then raises the journal's truncation hold.
    fn flush_if_due(&mut self, progressed: bool) -> Result<(), String> {
        let due = !progressed || self.last_flush.elapsed() >= FLUSH_EVERY;
        if !self.unflushed || !due {
            return Ok(());
        }
        self.events
            .flush()
            .map_err(|error| format!("flushing the event store: {error}"))?;
        self.unflushed = false;
        self.last_flush = Instant::now();
        let needed_seq = self.events.durable_indexed_seq().saturating_add(1);
        self.hold.fetch_max(needed_seq, Ordering::AcqRel);
        Ok(())
    }

    fn enforce_retention(&mut self) {
        for _ in 0..RETENTION_CALLS_MAX {
            match self.events.enforce_retention(now_ms()) {
                Ok(removed)
                    if removed as usize
                        >= playcore_snapshots::event_store::RETENTION_RECORDS_MAX => {}
                Ok(_) => return,
                Err(error) => {
                    self.failed(&format!("event retention: {error}"));
                    return;
                }
            }
        }
    }

    fn failed(&self, error: &str) {
        static FAILED: LogThrottle = LogThrottle::new(FAILURE_LOG_EVERY);
        if let Some(suppressed) = FAILED.admit() {
            tracing::error!(error, suppressed, "event indexer: failed; retrying");
        }
    }
}

/// Sleeps until the journal's watermark moves, a stop is asked, or [`IDLE_WAIT`] passes.
/// A closed watermark (the journal stopped) is not waited on again.
async fn wait(watermark: &mut Option<tokio::sync::watch::Receiver<u64>>, wake: &Notify) {
    let moved = async {
        match watermark.as_mut() {
            Some(receiver) => receiver.changed().await.is_ok(),
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        open = moved => {
            if !open {
                *watermark = None;
            }
        }
        () = wake.notified() => {}
        () = tokio::time::sleep(IDLE_WAIT) => {}
    }
}

/// Puts the calling thread in the background class (see `crate::threads`).
fn lower_priority() {
    if let Err(error) = crate::threads::enter_background_class() {
        tracing::warn!(%error, "the event indexer keeps the default scheduling class");
    }
}

//! The journal handle: callers append events to their stream (encoded on their own thread
//! straight into the shared batch buffer), each getting a sequence number, and learn through
//! the durable watermark (`durable_seq`, `wait_durable`) when the writer thread (module
//! `writer`) has made them durable. The journal knows sequence numbers only; what waits on
//! them is the caller's business, except for one hint that shapes the group commit:
//! `expect_waiter` (a caller will wait soon) and `hint_waiting` (it waits now).
//!
//! Protocol between appenders and the writer:
//! - `append` holds the `Pending` mutex only to encode one event onto the batch
//!   buffer and take its sequence number; it wakes the writer only if the writer
//!   sleeps, so a busy writer costs appenders no syscalls.
//! - The writer swaps the whole buffer out (it keeps the previous one to reuse, so
//!   appends do not allocate), writes it as one group commit and publishes the
//!   watermark. Whatever arrives during that flush is the next batch.
//! - Shutdown: `shutdown` sets `Closing`; the writer drains what is pending, makes it
//!   durable (even in relaxed mode) and exits. If the writer fails, state becomes
//!   `Failed`: appends get `Closed` and waiters get `Closed` once the watch sender
//!   (owned by the writer) is dropped.

mod failure;
mod snapshotter;
mod writer;

pub use snapshotter::{parse_snapshot_file_name, snapshot_file_name};

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use tokio::sync::watch;

use crate::codec::{self, CodecError};
use crate::seal::Seal;
use crate::store::{Store, StoreError};

/// When an event counts as durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Every batch is sled-flushed and fdatasync'ed before the watermark covers it:
    /// nothing acknowledged is lost by a crash or power loss.
    Fsync,
    /// The watermark covers an event as soon as it is handed to sled; sled is flushed
    /// every `flush_interval_ms` and fdatasync'ed every 500 ms. A crash
    /// of the process or the machine can lose the last interval of acknowledged events.
    Relaxed { flush_interval_ms: u64 },
}

/// Settings of the journal writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalConfig {
    pub durability: Durability,
    /// Bound on events appended but not yet handed to the writer; append fails with Full beyond it.
    pub capacity_events: usize,
    /// Largest sled value the writer produces; a batch larger than this is split into several records.
    pub record_bytes_max: usize,
    /// Fsync mode: when fewer than [`GROUP_COMMIT_EVENTS_ENOUGH`] entries are pending, the
    /// writer lets the batch gather this long before writing and syncing it. Each sync
    /// has a fixed cost (a sled flush on its io threads, an fdatasync, wake-ups), so under
    /// load a short wait buys much larger batches and far fewer syncs; unloaded, a waiter
    /// waits this much longer. Zero syncs at once.
    pub group_commit_window: std::time::Duration,
}

/// A batch of this many entries is written at once, without waiting for the group-commit
/// window.
pub const GROUP_COMMIT_EVENTS_ENOUGH: usize = 256;

/// Fsync mode: a gathering batch of at least this many entries is written as soon as every
/// expected waiter waits (see [`Journal::hint_waiting`]): nothing more can join it until it
/// is synced, and the rest of the window would leave the CPU idle. Smaller batches keep
/// their window: each sync has a fixed CPU cost, and a short batch that everybody waits on
/// is a moment's lull in a flow, not its end.
pub const GROUP_COMMIT_EARLY_EVENTS_MIN: usize = 128;

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            durability: Durability::Fsync,
            capacity_events: 1_000_000,
            record_bytes_max: 48 * 1024,
            group_commit_window: std::time::Duration::ZERO,
        }
    }
}

/// Why an append was refused. In every case nothing was appended.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// `capacity_events` are waiting for the writer: the caller must not apply the event.
    #[error("journal is full")]
    Full,
    /// The journal was shut down or its writer failed.
    #[error("journal is closed")]
    Closed,
    /// The free-space guard refuses new writes: the file system is below its reserve.
    #[error("storage is below its free-space reserve")]
    StorageFull,
    #[error("event could not be encoded: {0}")]
    Encode(#[from] CodecError),
    /// A snapshot must not claim events that were not appended yet.
    #[error("snapshot at seq {seq} is ahead of the journal (last appended {appended_seq})")]
    SnapshotAhead { seq: u64, appended_seq: u64 },
    /// An event payload is limited to `codec::EVENT_PAYLOAD_BYTES_MAX`, a snapshot to 4 GiB.
    #[error("event of {bytes} bytes is too large")]
    TooLarge { bytes: usize },
}

/// Why a queued snapshot did not become durable. The journal before it stays needed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot could not be encoded: {0}")]
    Encode(#[from] CodecError),
    #[error("snapshot of {bytes} bytes is too large")]
    TooLarge { bytes: usize },
    #[error("snapshot not stored: {0}")]
    Store(#[from] StoreError),
    /// The journal failed or closed before the snapshot was stored.
    #[error("journal is closed")]
    Closed,
}

/// Writes a snapshot's payload into the (empty) buffer it is given; runs on the snapshot
/// thread, not the caller's. The thread reuses one buffer for every snapshot, so a
/// snapshot of tens of megabytes does not fault in fresh memory each time.
pub type SnapshotEncoder = Box<dyn FnOnce(&mut Vec<u8>) -> Result<(), CodecError> + Send>;
/// Told once whether the snapshot became durable; runs on the snapshot thread. Dropped
/// without a call when the journal fails before the snapshot's turn.
pub type SnapshotDone = Box<dyn FnOnce(Result<(), SnapshotError>) + Send>;

/// Counters of the writer, for metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalStats {
    pub batches_written: u64,
    pub events_written: u64,
    pub records_written: u64,
    pub snapshots_written: u64,
    pub records_truncated: u64,
    pub last_batch_events: u64,
    /// Time spent making batches durable (sled flush + fdatasync in fsync mode).
    pub sync_time_us_total: u64,
    /// Of `sync_time_us_total`, the part spent in fdatasync.
    pub fdatasync_time_us_total: u64,
    pub sync_count: u64,
    pub pending_events: u64,
    /// Waiters announced by [`Journal::expect_waiter`] whose guard is not dropped yet.
    pub waiters_expected: u64,
    /// Waiters counted by [`Journal::hint_waiting`] and not yet by
    /// [`Journal::hint_waiting_done`].
    pub waiters_waiting: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// `shutdown` was called: the writer drains what is pending, then stops.
    Closing,
    /// The writer drained everything and stopped cleanly.
    Closed,
    /// The writer stopped on an error; pending events were dropped, never acknowledged.
    Failed,
}

/// A snapshot waiting for the snapshot thread.
struct QueuedSnapshot {
    stream: u64,
    seq: u64,
    encode: SnapshotEncoder,
    done: SnapshotDone,
}

/// Everything appended but not yet taken by the writer. Guarded by `Shared::pending`.
struct Pending {
    /// Events framed as `[stream u64 LE][len u32 LE][bytes]`, in seq order.
    events: Vec<u8>,
    first_seq: u64,
    event_count: usize,
    next_seq: u64,
    /// Taken by the snapshot thread, which stores each only once the events it reflects
    /// are written.
    snapshots: VecDeque<QueuedSnapshot>,
    state: State,
    /// Set by the writer before it sleeps; appenders notify the condvar only then.
    writer_waiting: bool,
}

impl Pending {
    fn queued(&self) -> usize {
        self.event_count + self.snapshots.len()
    }

    /// No events for the writer (snapshots are the snapshot thread's).
    fn is_empty(&self) -> bool {
        self.event_count == 0
    }

    /// Returns whether the caller must notify the writer (it was asleep).
    /// Refuses an append when the journal is closed or `capacity_events` are queued.
    fn admit(&self, capacity_events: usize) -> Result<(), AppendError> {
        if self.state != State::Open {
            return Err(AppendError::Closed);
        }
        if self.queued() >= capacity_events {
            return Err(AppendError::Full);
        }
        Ok(())
    }

    fn take_writer_wakeup(&mut self) -> bool {
        std::mem::take(&mut self.writer_waiting)
    }
}

/// State shared by the handles and the writer thread.
struct Shared {
    store: Store,
    config: JournalConfig,
    /// A std mutex: the critical sections are short and never cross an `.await`, and the
    /// writer thread is not async.
    pending: Mutex<Pending>,
    writer_wakeup: Condvar,
    /// Wakes the snapshot thread: a snapshot was queued or the state changed.
    snapshot_wakeup: Condvar,
    durable_seq: AtomicU64,
    appended_seq: AtomicU64,
    floor_seq: AtomicU64,
    /// Highest seq the writer has handed to sled (and, in fsync mode, synced): unlike
    /// `durable_seq` it never runs ahead of the writer in relaxed mode.
    written_seq: AtomicU64,
    /// Relaxed mode: batches were handed to sled since the flusher's last flush.
    unflushed: std::sync::atomic::AtomicBool,
    /// Callers that will wait for a durable seq soon (see [`Journal::expect_waiter`]): the
    /// load signal of the group-commit window.
    waiters_expected: AtomicUsize,
    /// Of those, the ones waiting now (see [`Journal::hint_waiting`]).
    waiters_waiting: AtomicUsize,
    /// The writer is gathering a batch and wants to hear when everybody waits on it.
    writer_gathering: AtomicBool,
    /// A receiver kept only to hand out clones; the sender lives in the writer so
    /// that its exit (clean or not) closes the channel for every waiter.
    watermark: watch::Receiver<u64>,
    counters: Counters,
    /// Why the journal can no longer make anything durable, once it cannot.
    failure: failure::Failure,
    /// Opened by the writer thread when it starts; written by the writer (fsync mode) or
    /// the flusher (relaxed mode) after what it covers is durable.
    seal: Mutex<Option<Seal>>,
}

#[derive(Default)]
struct Counters {
    batches_written: AtomicU64,
    events_written: AtomicU64,
    records_written: AtomicU64,
    snapshots_written: AtomicU64,
    records_truncated: AtomicU64,
    last_batch_events: AtomicU64,
    sync_time_us_total: AtomicU64,
    fdatasync_time_us_total: AtomicU64,
    sync_count: AtomicU64,
}

impl Shared {
    /// Fsync mode: a gathering batch need wait no longer, because it is large enough or
    /// because it is large and every expected waiter waits (SeqCst against
    /// [`Journal::hint_waiting`]: of a new waiter and a writer starting to gather, at least
    /// one sees the other; a miss would only let the window run out).
    fn gather_complete(&self) -> bool {
        let appended = self.appended_seq.load(Ordering::Acquire);
        let written = self.written_seq.load(Ordering::Acquire);
        let pending = usize::try_from(appended.saturating_sub(written)).unwrap_or(usize::MAX);
        let waiting = self.waiters_waiting.load(Ordering::SeqCst);
        let expected = self.waiters_expected.load(Ordering::Relaxed);
        pending >= GROUP_COMMIT_EVENTS_ENOUGH
            || (pending >= GROUP_COMMIT_EARLY_EVENTS_MIN && waiting >= expected)
    }

    /// Records in the seal that every event <= `durable_seq` is durable.
    fn record_seal(&self, durable_seq: u64) -> Result<(), StoreError> {
        let mut seal = self.seal.lock().unwrap_or_else(PoisonError::into_inner);
        match seal.as_mut() {
            Some(seal) => Ok(seal.record(durable_seq)?),
            None => Ok(()),
        }
    }

    fn sync_seal(&self) -> Result<(), StoreError> {
        let mut seal = self.seal.lock().unwrap_or_else(PoisonError::into_inner);
        match seal.as_mut() {
            Some(seal) => Ok(seal.sync()?),
            None => Ok(()),
        }
    }

    /// Refuses a new entry or snapshot while the free-space guard is tripped (one atomic
    /// load while it is not).
    #[inline]
    fn admit_space(&self) -> Result<(), AppendError> {
        let space = self.store.space();
        if space.writes_refused() {
            space.count_refusal();
            return Err(AppendError::StorageFull);
        }
        Ok(())
    }

    /// A panic inside an append's `write` closure is rolled back before the lock is
    /// released (see `FrameGuard`), so a poisoned lock still guards consistent data.
    fn lock_pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An expected waiter, counted until dropped (see [`Journal::expect_waiter`]).
pub struct ExpectedWaiter<'a> {
    expected: &'a AtomicUsize,
}

impl Drop for ExpectedWaiter<'_> {
    fn drop(&mut self) {
        self.expected.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Handle on the journal. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

/// Owned by the handles only (not the writer), so dropping the last handle shuts the
/// writer down instead of leaking it.
struct Inner {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<Result<(), StoreError>>>>,
    snapshotter: Mutex<Option<JoinHandle<Result<(), StoreError>>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(error) = shutdown_threads(self) {
            tracing::error!(%error, "journal shutdown on drop failed");
        }
    }
}

/// Rolls a half-written event frame back unless disarmed, also when `write` panics.
struct FrameGuard<'a> {
    pending: &'a mut Pending,
    rollback_len: usize,
    armed: bool,
}

impl Drop for FrameGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.pending.events.truncate(self.rollback_len);
        }
    }
}

impl Journal {
    /// Starts the writer thread ("journal-writer"). `next_seq` = first sequence
    /// number to assign (from recovery; 1 for an empty store).
    ///
    /// Panics if the thread cannot be spawned (the process is out of resources).
    pub fn start(store: Store, config: JournalConfig, next_seq: u64) -> Journal {
        let (journal, watermark_sender) = Journal::without_writer(store, config, next_seq);
        journal.spawn_writer(watermark_sender);
        journal
    }

    /// The journal before its writer runs: appends only queue up. Lets tests fill
    /// the queue deterministically.
    fn without_writer(
        store: Store,
        config: JournalConfig,
        next_seq: u64,
    ) -> (Journal, watch::Sender<u64>) {
        let next_seq = next_seq.max(1);
        let (watermark_sender, watermark) = watch::channel(next_seq - 1);
        let shared = Arc::new(Shared {
            store,
            config,
            pending: Mutex::new(Pending {
                events: Vec::new(),
                first_seq: next_seq,
                event_count: 0,
                next_seq,
                snapshots: VecDeque::new(),
                state: State::Open,
                writer_waiting: false,
            }),
            writer_wakeup: Condvar::new(),
            snapshot_wakeup: Condvar::new(),
            durable_seq: AtomicU64::new(next_seq - 1),
            appended_seq: AtomicU64::new(next_seq - 1),
            floor_seq: AtomicU64::new(0),
            written_seq: AtomicU64::new(next_seq - 1),
            unflushed: std::sync::atomic::AtomicBool::new(false),
            waiters_expected: AtomicUsize::new(0),
            waiters_waiting: AtomicUsize::new(0),
            writer_gathering: AtomicBool::new(false),
            watermark,
            counters: Counters::default(),
            failure: failure::Failure::default(),
            seal: Mutex::new(None),
        });
        let inner = Inner {
            shared,
            writer: Mutex::new(None),
            snapshotter: Mutex::new(None),
        };
        let journal = Journal {
            inner: Arc::new(inner),
        };
        (journal, watermark_sender)
    }

    fn spawn_writer(&self, watermark_sender: watch::Sender<u64>) {
        let writer_shared = Arc::clone(&self.inner.shared);
        let handle = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || {
                let shared = Arc::clone(&writer_shared);
                failure::reporting(&shared, "journal writer", || {
                    writer::run(writer_shared, watermark_sender)
                })
            })
            .expect("spawning the journal writer thread");
        let snapshotter_shared = Arc::clone(&self.inner.shared);
        let snapshotter = std::thread::Builder::new()
            .name("journal-snapshots".into())
            .spawn(move || {
                let shared = Arc::clone(&snapshotter_shared);
                failure::reporting(&shared, "journal snapshots", || {
                    snapshotter::run(snapshotter_shared)
                })
            })
            .expect("spawning the journal snapshot thread");
        *self
            .inner
            .snapshotter
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(snapshotter);
        if let Durability::Relaxed { flush_interval_ms } = self.inner.shared.config.durability {
            // Weak: the flusher must not keep the store open after the journal is gone.
            let flusher_shared = Arc::downgrade(&self.inner.shared);
            let interval = std::time::Duration::from_millis(flush_interval_ms.max(1));
            std::thread::Builder::new()
                .name("journal-flusher".into())
                .spawn(move || {
                    writer::flush_until_closed(flusher_shared.clone(), interval);
                    failure::report_if_open(&flusher_shared, "journal flusher");
                })
                .expect("spawning the journal flusher thread");
        }
        *self
            .inner
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(handle);
    }

    /// Appends one event of stream `stream` (the caller's key); `write` appends the
    /// event's bytes to the given buffer (encoding happens on the caller's thread
    /// straight into the batch buffer). Returns the event's sequence number;
    /// sequence numbers are dense and increasing in append order.
    ///
    /// `write` runs under the journal's lock: it must only encode (no I/O, no call
    /// back into the journal). If it fails or panics, its bytes are rolled back and
    /// no sequence number is used.
    pub fn append(
        &self,
        stream: u64,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), CodecError>,
    ) -> Result<u64, AppendError> {
        let shared = &self.inner.shared;
        shared.admit_space()?;
        let mut pending = shared.lock_pending();
        pending.admit(shared.config.capacity_events)?;
        let rollback_len = pending.events.len();
        let mut guard = FrameGuard {
            pending: &mut pending,
            rollback_len,
            armed: true,
        };
        let events = &mut guard.pending.events;
        let payload_start = codec::begin_event_frame(events, stream);
        write(events)?;
        if codec::finish_event_frame(events, payload_start).is_none() {
            let bytes = events.len() - payload_start;
            return Err(AppendError::TooLarge { bytes });
        }
        guard.armed = false;
        drop(guard);
        let seq = pending.next_seq;
        if pending.event_count == 0 {
            pending.first_seq = seq;
        }
        pending.event_count += 1;
        pending.next_seq = seq + 1;
        shared.appended_seq.store(seq, Ordering::Release);
        if shared.config.durability != Durability::Fsync {
            // Relaxed mode acknowledges at append: the risk it documents is losing what
            // was acknowledged in the last gather and flush intervals.
            shared.durable_seq.fetch_max(seq, Ordering::AcqRel);
        }
        // A gathering writer waits for enough entries (or the window) and is told once.
        let enough = pending.event_count == GROUP_COMMIT_EVENTS_ENOUGH
            && shared.writer_gathering.load(Ordering::SeqCst);
        let wake = pending.take_writer_wakeup() || enough;
        drop(pending);
        if wake {
            shared.writer_wakeup.notify_one();
        }
        Ok(seq)
    }

    /// Queues a snapshot of `stream`'s state that reflects every event of that stream
    /// with seq <= `seq`. The snapshot thread runs `encode`, writes the payload and makes
    /// it durable, never before the events it reflects are written, then calls `done`.
    /// Snapshots are stored in queue order. Counts against `capacity_events` until taken.
    pub fn queue_snapshot(
        &self,
        stream: u64,
        seq: u64,
        encode: SnapshotEncoder,
        done: SnapshotDone,
    ) -> Result<(), AppendError> {
        let shared = &self.inner.shared;
        shared.admit_space()?;
        let mut pending = shared.lock_pending();
        pending.admit(shared.config.capacity_events)?;
        if seq >= pending.next_seq {
            let appended_seq = pending.next_seq - 1;
            return Err(AppendError::SnapshotAhead { seq, appended_seq });
        }
        pending.snapshots.push_back(QueuedSnapshot {
            stream,
            seq,
            encode,
            done,
        });
        drop(pending);
        shared.snapshot_wakeup.notify_one();
        Ok(())
    }

    /// [`Journal::queue_snapshot`] of an encoded payload, nobody told when it is durable.
    pub fn append_snapshot(
        &self,
        stream: u64,
        seq: u64,
        payload: Vec<u8>,
    ) -> Result<(), AppendError> {
        if u32::try_from(payload.len()).is_err() {
            return Err(AppendError::TooLarge {
                bytes: payload.len(),
            });
        }
        let encode = Box::new(move |buffer: &mut Vec<u8>| {
            buffer.extend_from_slice(&payload);
            Ok(())
        });
        self.queue_snapshot(stream, seq, encode, Box::new(drop))
    }

    /// Highest seq such that every event <= it is durable (fsync mode: written,
    /// sled-flushed and fdatasync'ed; relaxed mode: handed to sled).
    pub fn durable_seq(&self) -> u64 {
        self.inner.shared.durable_seq.load(Ordering::Acquire)
    }

    /// Highest seq assigned so far (0 if none).
    pub fn appended_seq(&self) -> u64 {
        self.inner.shared.appended_seq.load(Ordering::Acquire)
    }

    /// A watch receiver of the durable watermark: `rx.wait_for(|w| *w >= seq).await`.
    /// The channel closes when the writer stops, so waits beyond the final watermark
    /// end with an error instead of hanging.
    pub fn watermark(&self) -> watch::Receiver<u64> {
        self.inner.shared.watermark.clone()
    }

    /// Resolves once `durable_seq() >= seq` (at once if already). `Err(Closed)` if
    /// the writer stopped before that. Waiting for a seq not yet appended waits for
    /// that append too. A waiter is woken by every group commit until its seq is
    /// durable: one waiter per stream is cheap, one per request under load is not.
    pub async fn wait_durable(&self, seq: u64) -> Result<(), AppendError> {
        if self.durable_seq() >= seq {
            return Ok(());
        }
        let mut receiver = self.watermark();
        let reached = receiver.wait_for(|watermark| *watermark >= seq).await;
        // The `Ref` borrows the receiver: turn it into a plain outcome before both drop.
        reached.map(drop).map_err(|_| AppendError::Closed)
    }

    /// Announces a caller that will soon wait for a durable seq (it may append first), until
    /// the guard drops. The group-commit hint: the writer lets a small batch gather for a
    /// share of the window that grows with this count. A closed loop of many callers keeps
    /// it high whatever the window, so syncs stay few; a moderate flow keeps it low, so a
    /// batch syncs soon after it starts. (The previous batch's size is no such signal: it
    /// shrinks with the window it was gathered in.)
    pub fn expect_waiter(&self) -> ExpectedWaiter<'_> {
        let expected = &self.inner.shared.waiters_expected;
        expected.fetch_add(1, Ordering::Relaxed);
        ExpectedWaiter { expected }
    }

    /// Hints that one expected waiter now waits for a durable seq, until
    /// [`Journal::hint_waiting_done`] counts it out. When every expected waiter waits, none
    /// can add to the batch being gathered before it is synced: a writer gathering at least
    /// [`GROUP_COMMIT_EARLY_EVENTS_MIN`] entries is woken to write them at once.
    pub fn hint_waiting(&self) {
        let shared = &self.inner.shared;
        shared.waiters_waiting.fetch_add(1, Ordering::SeqCst);
        // The first waiter that completes the batch clears the flag and wakes the writer;
        // those after it, before the writer runs again, find it clear and make no system call.
        if shared.writer_gathering.load(Ordering::SeqCst)
            && shared.gather_complete()
            && shared.writer_gathering.swap(false, Ordering::SeqCst)
        {
            // Under the lock: the writer checks before it waits, with the lock held.
            let _pending = shared.lock_pending();
            shared.writer_wakeup.notify_one();
        }
    }

    /// Counts out `count` waiters counted by [`Journal::hint_waiting`] (served or gone).
    pub fn hint_waiting_done(&self, count: usize) {
        let waiting = &self.inner.shared.waiters_waiting;
        waiting.fetch_sub(count, Ordering::SeqCst);
    }

    /// Allows the writer to delete journal records all of whose events have seq <
    /// `floor_seq`. It does so in the background (in the group-commit window and while
    /// idle), a bounded number per step, never deleting anything >= `floor_seq`. A lower floor than a previous
    /// one is ignored.
    pub fn truncate_below(&self, floor_seq: u64) {
        let shared = &self.inner.shared;
        let previous = shared.floor_seq.fetch_max(floor_seq, Ordering::AcqRel);
        if floor_seq > previous {
            let wake = shared.lock_pending().take_writer_wakeup();
            if wake {
                shared.writer_wakeup.notify_one();
            }
        }
    }

    /// Why the journal can no longer make anything durable (its writer or snapshot thread
    /// stopped on an error or a panic, or the relaxed-mode flusher on an error); `None`
    /// while it is healthy, and after a clean shutdown.
    pub fn failure(&self) -> Option<Arc<str>> {
        self.inner.shared.failure.reason()
    }

    /// Resolves with the reason once the journal fails; never if it does not.
    pub async fn failed(&self) -> Arc<str> {
        let mut receiver = self.inner.shared.failure.subscribe();
        let reason = match receiver.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone(),
            // The sender lives as long as this journal, which `self` keeps alive.
            Err(_) => None,
        };
        match reason {
            Some(reason) => reason,
            None => std::future::pending().await,
        }
    }

    /// A copy of the writer's counters.
    pub fn stats(&self) -> JournalStats {
        let shared = &self.inner.shared;
        let counters = &shared.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let pending_events = shared.lock_pending().event_count as u64;
        JournalStats {
            batches_written: load(&counters.batches_written),
            events_written: load(&counters.events_written),
            records_written: load(&counters.records_written),
            snapshots_written: load(&counters.snapshots_written),
            records_truncated: load(&counters.records_truncated),
            last_batch_events: load(&counters.last_batch_events),
            sync_time_us_total: load(&counters.sync_time_us_total),
            fdatasync_time_us_total: load(&counters.fdatasync_time_us_total),
            sync_count: load(&counters.sync_count),
            pending_events,
            waiters_expected: shared.waiters_expected.load(Ordering::Relaxed) as u64,
            waiters_waiting: shared.waiters_waiting.load(Ordering::Relaxed) as u64,
        }
    }

    /// Flushes everything pending, makes it durable (sled flush + fdatasync even in
    /// relaxed mode), stops the writer thread and joins it. Later calls return Ok.
    /// Returns the writer's error if it had failed.
    pub fn shutdown(&self) -> Result<(), StoreError> {
        shutdown_threads(&self.inner)
    }
}

/// Closes the journal: the writer drains and syncs the events, then the snapshot thread
/// stores what is still queued (its snapshots wait for the writer's last batch).
fn shutdown_threads(inner: &Inner) -> Result<(), StoreError> {
    let shared = &inner.shared;
    {
        let mut pending = shared.lock_pending();
        if pending.state == State::Open {
            pending.state = State::Closing;
        }
    }
    shared.writer_wakeup.notify_one();
    shared.snapshot_wakeup.notify_one();
    let written = join(&inner.writer);
    shared.snapshot_wakeup.notify_one();
    let stored = join(&inner.snapshotter);
    written.and(stored)
}

fn join(thread: &Mutex<Option<JoinHandle<Result<(), StoreError>>>>) -> Result<(), StoreError> {
    let handle = thread.lock().unwrap_or_else(PoisonError::into_inner).take();
    match handle {
        Some(handle) => handle.join().map_err(|_| StoreError::WriterPanicked)?,
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::recover;

    fn raw(bytes: &'static [u8]) -> impl FnOnce(&mut Vec<u8>) -> Result<(), CodecError> {
        move |buffer| {
            buffer.extend_from_slice(bytes);
            Ok(())
        }
    }

    #[test]
    fn journal_handle_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Journal>();
        assert_send_sync::<Store>();
    }

    #[test]
    fn append_returns_full_at_capacity_and_appends_nothing(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let directory = tempfile::tempdir()?;
        let store = Store::open(directory.path())?;
        let config = JournalConfig {
            capacity_events: 3,
            ..JournalConfig::default()
        };
        let (journal, watermark_sender) = Journal::without_writer(store.clone(), config, 1);
        for expected_seq in 1..=2 {
            assert_eq!(journal.append(7, raw(b"event"))?, expected_seq);
        }
        journal.append_snapshot(7, 2, b"state".to_vec())?;
        assert!(matches!(
            journal.append(7, raw(b"refused")),
            Err(AppendError::Full)
        ));
        assert!(matches!(
            journal.append_snapshot(7, 2, Vec::new()),
            Err(AppendError::Full)
        ));
        assert!(matches!(
            Journal::without_writer(store.clone(), JournalConfig::default(), 1)
                .0
                .append_snapshot(7, 1, Vec::new()),
            Err(AppendError::SnapshotAhead {
                seq: 1,
                appended_seq: 0
            })
        ));
        assert_eq!(journal.appended_seq(), 2);
        assert_eq!(journal.stats().pending_events, 2);

        journal.spawn_writer(watermark_sender);
        journal.shutdown()?;
        assert!(matches!(
            journal.append(7, raw(b"late")),
            Err(AppendError::Closed)
        ));
        let recovered = recover(&store)?;
        let payloads: Vec<_> = recovered
            .events
            .iter()
            .map(|event| event.payload.as_slice())
            .collect();
        assert_eq!(payloads, vec![&b"event"[..], &b"event"[..]]);
        assert_eq!(recovered.next_seq, 3);
        assert_eq!(recovered.snapshots.len(), 1);
        Ok(())
    }

    #[test]
    fn failed_or_panicking_encode_is_rolled_back() -> Result<(), Box<dyn std::error::Error>> {
        let directory = tempfile::tempdir()?;
        let store = Store::open(directory.path())?;
        let journal = Journal::start(store.clone(), JournalConfig::default(), 1);
        assert_eq!(journal.append(1, raw(b"first"))?, 1);
        let failed = journal.append(1, |buffer| {
            buffer.extend_from_slice(b"half");
            crate::codec::decode::<u64>(&[]).map(drop)
        });
        assert!(matches!(failed, Err(AppendError::Encode(_))));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            journal.append(1, |buffer| {
                buffer.extend_from_slice(b"partial");
                panic!("encoder bug")
            })
        }));
        assert!(panicked.is_err());
        assert_eq!(journal.append(2, raw(b"second"))?, 2);
        journal.shutdown()?;
        let recovered = recover(&store)?;
        let events: Vec<_> = recovered
            .events
            .iter()
            .map(|event| (event.seq, event.stream, event.payload.as_slice()))
            .collect();
        assert_eq!(events, vec![(1, 1, &b"first"[..]), (2, 2, &b"second"[..])]);
        Ok(())
    }
}

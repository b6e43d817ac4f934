//! The "journal-writer" thread: group commit, the durable watermark, relaxed-mode
//! flushing and background truncation.
//!
//! One loop iteration: let a small batch gather for the group-commit window (fsync mode,
//! scaled by the expected waiters) or 1 ms (relaxed mode), truncating the journal in that
//! time; take everything pending (one swap under the lock), insert it into sled as records
//! of at most `record_bytes_max`, make it durable (fsync mode) and publish the watermark.
//! While nothing is pending, the writer truncates or sleeps.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Durability, Pending, Shared, State, GROUP_COMMIT_EVENTS_ENOUGH};
use crate::codec::{self, RecordFault, JOURNAL_HEADER_BYTES};
use crate::seal::Seal;
use crate::store::StoreError;

/// Records deleted at most per truncation step. A sled delete can be slow (leaves merge and
/// are rewritten with their neighbours' records), so truncation runs where no waiter waits
/// on it: in the group-commit window, which the writer would otherwise sleep through, and
/// while nothing is pending, checking between deletes; after a batch that had no window,
/// one delete keeps it going. Larger steps after every batch stalled every waiter after
/// each snapshot (docs/performance-history.md).
const TRUNCATE_RECORDS_PER_STEP_MAX: usize = 16;
/// A batch buffer that grew beyond this during a burst is shrunk back after use, so
/// a burst does not pin its memory forever.
const BUFFER_RETAIN_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Upper bound of a record body, whatever `record_bytes_max` says, so a body (plus
/// one oversized event) always fits the u32 length of the header.
const RECORD_BODY_BYTES_LIMIT: usize = 1 << 30;

/// This many expected waiters or more means load: a small batch gathers for the whole
/// group-commit window. Fewer earn their share of it, so an unloaded journal syncs at
/// once and a moderate flow waits little, while a closed loop of many callers gets few,
/// large batches. (A window scaled by the previous batch fed back on itself: see
/// docs/performance-history.md.)
const GATHER_FULL_WINDOW_WAITERS: usize = 128;

/// Fsync mode: how long a batch of `pending_events` gathers, given the expected waiters;
/// `None` when it is large enough to go at once.
fn fsync_gather_window(
    window: Duration,
    pending_events: usize,
    waiters_expected: usize,
) -> Option<Duration> {
    if pending_events >= GROUP_COMMIT_EVENTS_ENOUGH {
        return None;
    }
    let load = waiters_expected.min(GATHER_FULL_WINDOW_WAITERS) as u32;
    Some(window * load / GATHER_FULL_WINDOW_WAITERS as u32)
}

/// Thread entry point. The watch sender is owned here: when this returns (or
/// unwinds), every watermark waiter learns that no further progress will come.
pub(super) fn run(shared: Arc<Shared>, watermark: watch::Sender<u64>) -> Result<(), StoreError> {
    // This thread waits for its flushes anyway: it writes sled's buffers itself instead of
    // waking one of sled's io threads and being woken back (vendor/sled/PLAYCORE-PATCH.md).
    sled::write_log_buffers_inline_on_this_thread();
    let seal = match Seal::open(shared.store.directory()) {
        Ok(seal) => seal,
        Err(error) => {
            tracing::error!(%error, "journal writer failed; the journal is closed");
            return Err(error.into());
        }
    };
    *shared.seal.lock().unwrap_or_else(PoisonError::into_inner) = Some(seal);
    let mut writer = Writer {
        shared,
        watermark,
        batch: Batch::default(),
        record: Vec::new(),
        floor_done_seq: 0,
    };
    let outcome = writer.run();
    if let Err(error) = &outcome {
        tracing::error!(%error, "journal writer failed; the journal is closed");
    }
    outcome
}

/// Relaxed mode: how long the writer lets a batch gather before writing it. Waiters do
/// not wait for it (relaxed mode acknowledges at append).
const RELAXED_GATHER: Duration = Duration::from_millis(1);
/// Relaxed mode: a batch this large is written at once.
const RELAXED_GATHER_EVENTS_MAX: usize = 4096;

/// Relaxed mode: how often the flusher also fdatasyncs sled's data file (sled's own
/// flusher, which did so every 500 ms, is switched off).
const RELAXED_FILE_SYNC_INTERVAL: Duration = Duration::from_millis(500);

/// Relaxed mode: flushes sled every `interval` on its own thread, so the writer never
/// stalls behind a flush (slow under load), and
/// fdatasyncs the data file every `RELAXED_FILE_SYNC_INTERVAL`. Ends when the journal
/// closes; closing itself makes everything durable.
pub(super) fn flush_until_closed(shared: std::sync::Weak<Shared>, interval: Duration) {
    sled::write_log_buffers_inline_on_this_thread();
    let mut file_synced_at = Instant::now();
    // Flushed to the OS, not yet fdatasync'ed: the seq to seal once it is.
    let mut unsynced_seq = None;
    loop {
        std::thread::sleep(interval);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.lock_pending().state != State::Open {
            return;
        }
        if shared.unflushed.swap(false, Ordering::AcqRel) {
            match flush_relaxed(&shared) {
                Some(written_seq) => unsynced_seq = Some(written_seq),
                None => return,
            }
        }
        if let Some(written_seq) = unsynced_seq {
            if file_synced_at.elapsed() >= RELAXED_FILE_SYNC_INTERVAL {
                file_synced_at = Instant::now();
                if !sync_and_seal_relaxed(&shared, written_seq) {
                    return;
                }
                unsynced_seq = None;
            }
        }
    }
}

/// One relaxed-mode flush; returns the seq it covers (everything the writer had handed to
/// sled before it), `None` after an error (logged).
fn flush_relaxed(shared: &Shared) -> Option<u64> {
    let started = Instant::now();
    let written_seq = shared.written_seq.load(Ordering::Acquire);
    if let Err(error) = shared.store.flush() {
        tracing::error!(%error, "relaxed-mode flush failed");
        return None;
    }
    let counters = &shared.counters;
    let sync_us = started.elapsed().as_micros() as u64;
    counters
        .sync_time_us_total
        .fetch_add(sync_us, Ordering::Relaxed);
    counters.sync_count.fetch_add(1, Ordering::Relaxed);
    Some(written_seq)
}

/// fdatasync of sled's data file, then the seal: sealed only once on the disk, so the seal
/// never claims what a power loss could take from sled. False after an error (logged).
fn sync_and_seal_relaxed(shared: &Shared, written_seq: u64) -> bool {
    if let Err(error) = shared.store.sync_data_file() {
        tracing::error!(%error, "relaxed-mode fdatasync failed");
        return false;
    }
    if let Err(error) = shared.record_seal(written_seq) {
        tracing::error!(%error, "relaxed-mode seal failed");
        return false;
    }
    true
}

/// What the writer took from `Pending`; its buffers are reused batch after batch.
#[derive(Default)]
struct Batch {
    events: Vec<u8>,
    first_seq: u64,
    event_count: usize,
}

enum Step {
    /// Events are pending: gather for the window (if any), then write them.
    Batch {
        gather: Option<Duration>,
    },
    /// Nothing pending, truncation wanted.
    Housekeeping,
    Close,
}

struct Writer {
    shared: Arc<Shared>,
    watermark: watch::Sender<u64>,
    batch: Batch,
    /// Scratch buffer for one sled value (header + body).
    record: Vec<u8>,
    /// Truncation below this floor is complete; nothing to do until it rises.
    floor_done_seq: u64,
}

impl Drop for Writer {
    /// Runs on error return and on panic alike: stop accepting appends, drop what
    /// can no longer be written (nobody was told it is durable).
    fn drop(&mut self) {
        let mut pending = self.shared.lock_pending();
        if pending.state != State::Closed {
            pending.state = State::Failed;
            pending.events = Vec::new();
            pending.snapshots.clear();
            pending.event_count = 0;
        }
        drop(pending);
        self.shared.snapshot_wakeup.notify_one();
    }
}

impl Writer {
    fn run(&mut self) -> Result<(), StoreError> {
        loop {
            match self.next_step() {
                Step::Batch { gather } => {
                    if let Some(window) = gather {
                        self.gather(window)?;
                    }
                    self.take();
                    self.write_batch()?;
                    if gather.is_none() {
                        self.truncate(|| false)?;
                    }
                }
                Step::Housekeeping => {
                    let shared = Arc::clone(&self.shared);
                    self.truncate(|| shared.lock_pending().is_empty())?;
                }
                Step::Close => return self.close(),
            }
        }
    }

    /// Sleeps until there is something to do. Pending work comes first, so closing
    /// drains everything that was appended before it.
    fn next_step(&mut self) -> Step {
        let shared = Arc::clone(&self.shared);
        let mut pending = shared.lock_pending();
        loop {
            if !pending.is_empty() {
                let gather = self.gather_window(&pending);
                return Step::Batch { gather };
            }
            if self.truncation_wanted() {
                return Step::Housekeeping;
            }
            if pending.state != State::Open {
                return Step::Close;
            }
            pending.writer_waiting = true;
            pending = shared
                .writer_wakeup
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
            pending.writer_waiting = false;
        }
    }

    /// How long to let a small batch gather first, if at all. Relaxed mode: nobody waits
    /// for the batch. Fsync mode: the group-commit window, scaled by the load (see
    /// [`fsync_gather_window`]).
    fn gather_window(&self, pending: &Pending) -> Option<Duration> {
        if pending.state != State::Open {
            return None;
        }
        let config = &self.shared.config;
        let window = match config.durability {
            Durability::Fsync => fsync_gather_window(
                config.group_commit_window,
                pending.event_count,
                self.shared.waiters_expected.load(Ordering::Relaxed),
            ),
            Durability::Relaxed { .. } => {
                (pending.event_count < RELAXED_GATHER_EVENTS_MAX).then_some(RELAXED_GATHER)
            }
        };
        window.filter(|window| !window.is_zero())
    }

    /// Lets the batch grow for `window`: a few large records and syncs cost far less than
    /// many tiny ones. Truncation uses the time first. Fsync mode ends the wait early once
    /// nothing is gained by it (see `Shared::gather_complete`): appends of the
    /// `GROUP_COMMIT_EVENTS_ENOUGH`-th entry and `Journal::hint_waiting` wake the writer
    /// for that.
    fn gather(&mut self, window: Duration) -> Result<(), StoreError> {
        let deadline = Instant::now() + window;
        let shared = Arc::clone(&self.shared);
        let fsync = shared.config.durability == Durability::Fsync;
        let complete = || fsync && shared.gather_complete();
        self.truncate(|| Instant::now() < deadline && !complete())?;
        let mut pending = shared.lock_pending();
        shared.writer_gathering.store(fsync, Ordering::SeqCst);
        while pending.state == State::Open && !complete() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            pending = shared
                .writer_wakeup
                .wait_timeout(pending, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        shared.writer_gathering.store(false, Ordering::SeqCst);
        Ok(())
    }

    fn take(&mut self) {
        let mut pending = self.shared.lock_pending();
        std::mem::swap(&mut pending.events, &mut self.batch.events);
        self.batch.first_seq = pending.first_seq;
        self.batch.event_count = std::mem::take(&mut pending.event_count);
        pending.first_seq = pending.next_seq;
    }

    fn write_batch(&mut self) -> Result<(), StoreError> {
        let store = &self.shared.store;
        let records = write_records(
            store.journal_tree(),
            &self.batch,
            self.shared.config.record_bytes_max,
            &mut self.record,
        )?;
        let end_seq = self.batch.first_seq + self.batch.event_count as u64;
        match self.shared.config.durability {
            Durability::Fsync => {
                self.sync_fully()?;
                self.shared.record_seal(end_seq.saturating_sub(1))?;
            }
            Durability::Relaxed { .. } => self.shared.unflushed.store(true, Ordering::Release),
        }
        // Counted first so that whoever sees the watermark also sees the counters.
        self.count_batch(records);
        if self.batch.event_count > 0 {
            self.publish(self.batch.first_seq + self.batch.event_count as u64 - 1);
        }
        self.recycle_batch();
        Ok(())
    }

    fn count_batch(&self, records: u64) {
        let counters = &self.shared.counters;
        let events = self.batch.event_count as u64;
        counters.batches_written.fetch_add(1, Ordering::Relaxed);
        counters.events_written.fetch_add(events, Ordering::Relaxed);
        counters
            .records_written
            .fetch_add(records, Ordering::Relaxed);
        counters.last_batch_events.store(events, Ordering::Relaxed);
    }

    /// Empties the buffers for the next batch (`take` sets the rest).
    fn recycle_batch(&mut self) {
        self.batch.events.clear();
        self.batch.events.shrink_to(BUFFER_RETAIN_BYTES_MAX);
        self.record.clear();
        self.record.shrink_to(BUFFER_RETAIN_BYTES_MAX);
    }

    fn publish(&self, seq: u64) {
        self.shared.written_seq.store(seq, Ordering::Release);
        // fetch_max: in relaxed mode appends already moved the watermark further.
        let previous = self.shared.durable_seq.fetch_max(seq, Ordering::AcqRel);
        self.watermark.send_replace(previous.max(seq));
    }

    /// sled flush + fdatasync, timed for the stats.
    fn sync_fully(&mut self) -> Result<(), StoreError> {
        let store = &self.shared.store;
        let started = Instant::now();
        store.flush()?;
        let files_started = Instant::now();
        store.sync_files()?;
        let counters = &self.shared.counters;
        let fdatasync_us = files_started.elapsed().as_micros() as u64;
        counters
            .fdatasync_time_us_total
            .fetch_add(fdatasync_us, Ordering::Relaxed);
        self.count_sync(started);
        Ok(())
    }

    fn count_sync(&mut self, started: Instant) {
        let counters = &self.shared.counters;
        let sync_us = started.elapsed().as_micros() as u64;
        counters
            .sync_time_us_total
            .fetch_add(sync_us, Ordering::Relaxed);
        counters.sync_count.fetch_add(1, Ordering::Relaxed);
    }

    fn truncation_wanted(&self) -> bool {
        self.shared.floor_seq.load(Ordering::Acquire) > self.floor_done_seq
    }

    /// One truncation step: deletes records entirely below the floor, up to
    /// `TRUNCATE_RECORDS_PER_STEP_MAX`, the first one in any case and each further one
    /// while `go_on()`. Records are contiguous, so every record with first_seq <= floor
    /// except the last such one ends below the floor.
    fn truncate(&mut self, mut go_on: impl FnMut() -> bool) -> Result<(), StoreError> {
        if !self.truncation_wanted() {
            return Ok(());
        }
        let floor_seq = self.shared.floor_seq.load(Ordering::Acquire);
        let tree = self.shared.store.journal_tree();
        let keys = tree
            .range(..=floor_seq.to_be_bytes())
            .keys()
            .take(TRUNCATE_RECORDS_PER_STEP_MAX + 1)
            .collect::<Result<Vec<_>, _>>()?;
        let removable = keys.len().saturating_sub(1);
        let mut removed = 0;
        while removed < removable && (removed == 0 || go_on()) {
            tree.remove(&keys[removed])?;
            removed += 1;
        }
        if removed == removable && keys.len() <= TRUNCATE_RECORDS_PER_STEP_MAX {
            self.floor_done_seq = floor_seq;
        }
        let counters = &self.shared.counters;
        counters
            .records_truncated
            .fetch_add(removed as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Everything pending was written: make it durable even in relaxed mode.
    fn close(&mut self) -> Result<(), StoreError> {
        self.sync_fully()?;
        let written_seq = self.shared.written_seq.load(Ordering::Acquire);
        self.shared.record_seal(written_seq)?;
        self.shared.sync_seal()?;
        self.shared.lock_pending().state = State::Closed;
        self.shared.snapshot_wakeup.notify_one();
        Ok(())
    }
}

/// Splits the batch into records of at most `record_bytes_max` (an event larger
/// than that gets a record of its own; events are never split) and inserts them.
/// Returns the number of records written.
fn write_records(
    tree: &sled::Tree,
    batch: &Batch,
    record_bytes_max: usize,
    record: &mut Vec<u8>,
) -> Result<u64, StoreError> {
    let body_bytes_max = record_bytes_max
        .saturating_sub(JOURNAL_HEADER_BYTES)
        .clamp(1, RECORD_BODY_BYTES_LIMIT);
    let events = batch.events.as_slice();
    let mut record_first_seq = batch.first_seq;
    let (mut record_start, mut offset, mut record_events) = (0_usize, 0_usize, 0_u32);
    let mut records = 0_u64;
    while offset < events.len() {
        let frame_bytes = codec::event_frame_bytes(&events[offset..]).ok_or(
            // Only `append` writes this buffer; a bad frame is a bug, not bad input.
            StoreError::Corrupt {
                seq: record_first_seq + u64::from(record_events),
                fault: RecordFault::MalformedBody,
            },
        )?;
        let full =
            offset + frame_bytes - record_start > body_bytes_max || record_events == u32::MAX;
        if record_events > 0 && full {
            insert_record(
                tree,
                record,
                record_first_seq,
                record_events,
                &events[record_start..offset],
            )?;
            records += 1;
            record_first_seq += u64::from(record_events);
            (record_start, record_events) = (offset, 0);
        }
        offset += frame_bytes;
        record_events += 1;
    }
    if record_events > 0 {
        insert_record(
            tree,
            record,
            record_first_seq,
            record_events,
            &events[record_start..],
        )?;
        records += 1;
    }
    debug_assert_eq!(
        record_first_seq + u64::from(record_events),
        batch.first_seq + batch.event_count as u64
    );
    Ok(records)
}

fn insert_record(
    tree: &sled::Tree,
    record: &mut Vec<u8>,
    first_seq: u64,
    count: u32,
    body: &[u8],
) -> Result<(), StoreError> {
    record.clear();
    codec::write_journal_record(record, first_seq, count, body);
    tree.insert(first_seq.to_be_bytes(), record.as_slice())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gather_window_grows_with_the_expected_waiters_and_ends_at_enough_events() {
        let window = Duration::from_millis(1);
        assert_eq!(fsync_gather_window(window, 1, 0), Some(Duration::ZERO));
        assert_eq!(
            fsync_gather_window(window, 1, GATHER_FULL_WINDOW_WAITERS / 4),
            Some(window / 4)
        );
        assert_eq!(fsync_gather_window(window, 1, 10_000), Some(window));
        assert_eq!(
            fsync_gather_window(window, GROUP_COMMIT_EVENTS_ENOUGH, 10_000),
            None
        );
    }
}

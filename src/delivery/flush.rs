//! A subscription's flush as a job: the batched writes, the attempt-record pruning, the
//! progress record and the lanes' read-backs, applied in that order on a blocking thread
//! while the subscription's task goes on sending.
//!
//! The task keeps at most one job in flight, so jobs apply in the order they were made
//! and the durable state is always a prefix of the task's history (as with writes made in
//! place). What a job read back reaches the task with the job's end; until then the task
//! treats the lanes it asked for as still on disk. A read-back brings the messages'
//! events along, so the task does not read the store between one attempt and the next.

use std::sync::Arc;

use playcore_snapshots::StoreError;

use super::lanes::Entry;
use super::source::EventSource;
use super::state::{self, PendingValue, Trees};

/// One flush's writes and reads.
pub(crate) struct FlushJob {
    pub number: u32,
    pub dead: sled::Batch,
    pub pending: sled::Batch,
    pub attempts: sled::Batch,
    /// The progress record, its cursor the last position read when the job was made.
    pub progress: [u8; state::Progress::BYTES],
    pub cursor: u64,
    /// Attempt records to remove, the oldest messages' first.
    pub prune: u64,
    pub refills: Vec<Refill>,
}

/// A lane to read back from the pending tree.
pub(crate) struct Refill {
    pub lane: u64,
    /// Messages the lane may take.
    pub room: usize,
    /// Positions the lane holds in memory (not read back twice).
    pub held: Vec<u64>,
}

/// A job's result.
pub(crate) struct Flushed {
    /// The cursor now durable.
    pub cursor: u64,
    pub pruned: u64,
    pub read_backs: Vec<ReadBack>,
}

/// A lane's oldest pending messages as the tree holds them.
pub(crate) struct ReadBack {
    pub lane: u64,
    pub entries: Vec<Entry>,
    /// The tree holds more than the room allowed.
    pub more: bool,
}

impl FlushJob {
    /// Applies the job: dead letters, pending, attempts, pruning, progress, read-backs.
    pub fn run(self, trees: &Trees, source: &dyn EventSource) -> Result<Flushed, StoreError> {
        trees.dead.apply_batch(self.dead)?;
        trees.pending.apply_batch(self.pending)?;
        trees.attempts.apply_batch(self.attempts)?;
        let pruned = prune_attempts(trees, self.number, self.prune)?;
        trees
            .progress
            .insert(self.number.to_be_bytes(), &self.progress[..])?;
        let mut read_backs = Vec::with_capacity(self.refills.len());
        for refill in &self.refills {
            read_backs.push(read_back(trees, source, self.number, refill)?);
        }
        Ok(Flushed {
            cursor: self.cursor,
            pruned,
            read_backs,
        })
    }
}

/// Removes up to `count` attempt records of subscription `number`, oldest messages first;
/// the number removed.
fn prune_attempts(trees: &Trees, number: u32, count: u64) -> Result<u64, StoreError> {
    if count == 0 {
        return Ok(0);
    }
    let mut batch = sled::Batch::default();
    let mut removed = 0;
    let keys = trees.attempts.scan_prefix(number.to_be_bytes()).keys();
    for key in keys.take(usize::try_from(count).unwrap_or(usize::MAX)) {
        batch.remove(key?);
        removed += 1;
    }
    trees.attempts.apply_batch(batch)?;
    Ok(removed)
}

/// Reads a lane's oldest pending messages, up to its room, skipping those it holds.
pub(crate) fn read_back(
    trees: &Trees,
    source: &dyn EventSource,
    number: u32,
    refill: &Refill,
) -> Result<ReadBack, StoreError> {
    let prefix = state::lane_prefix(number, refill.lane);
    let mut entries = Vec::new();
    let mut more = false;
    for item in trees.pending.scan_prefix(prefix) {
        let (key, value) = item?;
        let Some((_, position)) = state::decode_pending_key(&key) else {
            continue;
        };
        if refill.held.contains(&position) {
            continue;
        }
        if entries.len() >= refill.room {
            more = true;
            break;
        }
        let Some(value) = PendingValue::decode(&value) else {
            continue;
        };
        entries.push(Entry {
            position,
            activity: value.activity,
            // Read again when due if this read fails or retention took it meanwhile.
            event: source.get(position).ok().flatten().map(Arc::new),
            attempts: value.attempts,
            records: value.records,
            next_attempt_at_ms: value.next_attempt_at_ms,
            durable: true,
        });
    }
    Ok(ReadBack {
        lane: refill.lane,
        entries,
        more,
    })
}

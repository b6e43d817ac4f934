//! Durability waiters: callers waiting for the journal's durable watermark.
//!
//! A watch channel alone wakes every waiter at every flush; with tens of thousands of
//! requests in flight and a flush every millisecond that is most of the CPU. Here waiters sit
//! in a heap ordered by the sequence number they need, and one releaser wakes exactly those
//! a new watermark covers. The heap holds at most one entry per request in flight, which
//! mailbox and journal bounds already limit. The releaser only watches the watermark while
//! somebody waits: the common reply is durable before it is awaited, and a releaser woken
//! by every group commit for nothing costs a context switch per batch.
//!
//! When the journal stops (it failed, or the runtime closes), the releaser answers every
//! waiter with [`Closed`] and stops; a wait that starts after that answers `Closed` at
//! once. Nothing waits for a watermark that can no longer move.

use playcore_snapshots::Journal;
use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, watch, Notify};

struct Waiter {
    seq: u64,
    sender: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}

impl Eq for Waiter {}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiter {
    /// Reversed: the heap's top is the smallest sequence number.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        other.seq.cmp(&self.seq)
    }
}

/// The journal went away before the awaited position became durable.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed;

pub struct DurabilityWaiters {
    journal: Journal,
    heap: Mutex<BinaryHeap<Waiter>>,
    /// Signalled when a waiter joins an empty heap, so the releaser can sleep while none
    /// waits.
    joined: Notify,
    /// The releaser has stopped: nobody will release a waiter any more.
    stopped: AtomicBool,
}

impl DurabilityWaiters {
    /// Creates the waiter set and spawns its releaser on the current actix system; the
    /// releaser ends when `closing` turns true (so it stops holding the journal).
    pub fn start(journal: Journal, mut closing: watch::Receiver<bool>) -> Arc<DurabilityWaiters> {
        let waiters = Arc::new(DurabilityWaiters {
            journal,
            heap: Mutex::new(BinaryHeap::new()),
            joined: Notify::new(),
            stopped: AtomicBool::new(false),
        });
        let releaser = Arc::clone(&waiters);
        actix::spawn(async move {
            let mut watermark = releaser.journal.watermark();
            loop {
                if releaser.heap().is_empty() {
                    tokio::select! {
                        _ = releaser.joined.notified() => {}
                        _ = closing.wait_for(|closed| *closed) => break,
                    }
                    // Changes seen while nobody waited are old news.
                    watermark.borrow_and_update();
                    releaser.release(releaser.journal.durable_seq());
                    continue;
                }
                tokio::select! {
                    changed = watermark.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        let durable_seq = *watermark.borrow_and_update();
                        releaser.release(durable_seq);
                    }
                    _ = closing.wait_for(|closed| *closed) => break,
                }
            }
            releaser.stop();
        });
        waiters
    }

    /// The journal stopped: releases what is durable, answers every other waiter `Closed`
    /// now, and every later one at once (see [`DurabilityWaiters::wait`]).
    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.release(self.journal.durable_seq());
        self.drop_all();
    }

    fn heap(&self) -> std::sync::MutexGuard<'_, BinaryHeap<Waiter>> {
        self.heap
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Resolves once every journal entry up to `seq` is durable.
    pub async fn wait(&self, seq: u64) -> Result<(), Closed> {
        if self.journal.durable_seq() >= seq {
            return Ok(());
        }
        let (sender, receiver) = oneshot::channel();
        self.heap().push(Waiter { seq, sender });
        // `notify_one` keeps a permit if the releaser is not waiting yet, so a join
        // between its emptiness check and its wait is not lost.
        self.joined.notify_one();
        // The watermark may have moved between the check and the push.
        self.release(self.journal.durable_seq());
        // SeqCst with `stop`: either the releaser's final sweep sees this waiter, or this
        // sees that the releaser stopped and sweeps itself.
        if self.stopped.load(Ordering::SeqCst) {
            self.drop_all();
        }
        receiver.await.map_err(|_| Closed)
    }

    fn release(&self, durable_seq: u64) {
        let mut heap = self.heap();
        while heap.peek().is_some_and(|waiter| waiter.seq <= durable_seq) {
            if let Some(waiter) = heap.pop() {
                let _ = waiter.sender.send(());
            }
        }
    }

    /// The journal stopped: waiters still waiting will never be served; dropping their
    /// senders tells them so.
    fn drop_all(&self) {
        self.heap().clear();
    }
}

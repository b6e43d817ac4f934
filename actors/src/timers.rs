//! The timeout supervisor: one deadline queue for every activity's timers.
//!
//! Unpaid orders, group expiry, refunds and the start/end of published activities all
//! land in one ordered set by due time, so each tick pops what is due instead of scanning
//! every order. A B-tree rather than a binary heap: a heap's vector doubles as it grows,
//! and with a million deadlines queued that one copy (tens of megabytes, fresh pages)
//! stalled every actor that scheduled a deadline; a B-tree grows a node at a time. The
//! same deadline queued twice is kept once (firing it twice would change nothing). The
//! supervisor only nudges: the owning actor decides (a paid order is not expired). The
//! queue is rebuilt from recovered state when the actors start.

use crate::domain::ActivityId;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What is due for an activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeadlineKind {
    Open,
    Close,
    ExpireOrder(u64),
    ExpireGroup(u64),
    CompleteRefund(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline {
    pub due_at_ms: i64,
    pub activity: ActivityId,
    pub kind: DeadlineKind,
}

/// The bounded deadline queue. A std mutex: it is held for an insert or pop only, never
/// across an await, and taken once per order-creating command.
pub struct Timers {
    queue: Mutex<BTreeSet<Deadline>>,
    capacity: usize,
    /// Deadlines handed to their actors since start, and those put back because the
    /// actor's mailbox was full: the scheduler's run log reads them per interval, so the
    /// tick loop itself records nothing per tick.
    fired_total: AtomicU64,
    retried_total: AtomicU64,
}

/// Totals of the tick loop since start (see [`Timers::totals`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerTotals {
    pub fired: u64,
    pub retried: u64,
}

impl Timers {
    pub fn new(capacity: usize) -> Timers {
        Timers {
            queue: Mutex::new(BTreeSet::new()),
            capacity,
            fired_total: AtomicU64::new(0),
            retried_total: AtomicU64::new(0),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, BTreeSet<Deadline>> {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `count` more deadlines fit; checked before a command that creates them.
    pub fn has_room(&self, count: usize) -> bool {
        self.queue().len() + count <= self.capacity
    }

    /// Queues a deadline. Past the bound it is still queued (it belongs to an event that is
    /// already applied, and losing it would leave an order unpaid forever); `has_room`
    /// refuses new work long before that.
    pub fn schedule(&self, deadline: Deadline) {
        self.queue().insert(deadline);
    }

    /// Takes at most `limit` deadlines due at `now_ms`, earliest first.
    pub fn pop_due(&self, now_ms: i64, limit: usize) -> Vec<Deadline> {
        let mut queue = self.queue();
        let mut due = Vec::new();
        while due.len() < limit {
            match queue.first() {
                Some(deadline) if deadline.due_at_ms <= now_ms => {
                    due.extend(queue.pop_first());
                }
                _ => break,
            }
        }
        due
    }

    /// Counts what one tick did: deadlines handed to actors and deadlines put back.
    pub fn record_tick(&self, fired: u64, retried: u64) {
        self.fired_total.fetch_add(fired, Ordering::Relaxed);
        self.retried_total.fetch_add(retried, Ordering::Relaxed);
    }

    pub fn totals(&self) -> TimerTotals {
        TimerTotals {
            fired: self.fired_total.load(Ordering::Relaxed),
            retried: self.retried_total.load(Ordering::Relaxed),
        }
    }

    pub fn len(&self) -> usize {
        self.queue().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deadline(due_at_ms: i64, order: u64) -> Deadline {
        Deadline {
            due_at_ms,
            activity: ActivityId(1),
            kind: DeadlineKind::ExpireOrder(order),
        }
    }

    #[test]
    fn only_due_deadlines_are_popped_earliest_first() {
        let timers = Timers::new(10);
        timers.schedule(deadline(300, 3));
        timers.schedule(deadline(100, 1));
        timers.schedule(deadline(200, 2));
        let due = timers.pop_due(250, 10);
        assert_eq!(due, vec![deadline(100, 1), deadline(200, 2)]);
        assert_eq!(timers.len(), 1);
    }

    #[test]
    fn the_bound_is_reported_before_it_is_reached() {
        let timers = Timers::new(2);
        assert!(timers.has_room(2));
        timers.schedule(deadline(1, 1));
        assert!(!timers.has_room(2));
    }
}

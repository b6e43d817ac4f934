//! The timeout supervisor: one deadline queue for every activity's timers.
//!
//! Unpaid orders, group expiry, refunds and the start/end of published activities all land
//! in one binary heap ordered by due time, so each tick pops what is due instead of scanning
//! every order. The supervisor only nudges: the owning actor decides (a paid order is not
//! expired). The queue is rebuilt from recovered state when the actors start.

use crate::domain::ActivityId;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
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

/// The bounded deadline queue. A std mutex: it is held for a heap push or pop only, never
/// across an await, and taken once per order-creating command.
pub struct Timers {
    heap: Mutex<BinaryHeap<Reverse<Deadline>>>,
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
            heap: Mutex::new(BinaryHeap::new()),
            capacity,
            fired_total: AtomicU64::new(0),
            retried_total: AtomicU64::new(0),
        }
    }

    fn heap(&self) -> std::sync::MutexGuard<'_, BinaryHeap<Reverse<Deadline>>> {
        self.heap
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `count` more deadlines fit; checked before a command that creates them.
    pub fn has_room(&self, count: usize) -> bool {
        self.heap().len() + count <= self.capacity
    }

    /// Queues a deadline. Past the bound it is still queued (it belongs to an event that is
    /// already applied, and losing it would leave an order unpaid forever); `has_room`
    /// refuses new work long before that.
    pub fn schedule(&self, deadline: Deadline) {
        self.heap().push(Reverse(deadline));
    }

    /// Takes at most `limit` deadlines due at `now_ms`, earliest first.
    pub fn pop_due(&self, now_ms: i64, limit: usize) -> Vec<Deadline> {
        let mut heap = self.heap();
        let mut due = Vec::new();
        while due.len() < limit {
            match heap.peek() {
                Some(Reverse(deadline)) if deadline.due_at_ms <= now_ms => {
                    due.push(deadline.to_owned());
                    heap.pop();
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
        self.heap().len()
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

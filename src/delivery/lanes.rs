//! The in-memory side of a subscription's pending messages: one lane per activity (or a
//! single lane under total order), each holding only its oldest few messages; the rest
//! wait in the pending tree and are read back as the lane drains.
//!
//! A lane has at most one attempt in flight, always its oldest message, so an activity's
//! next event never overtakes the previous one. Lanes whose head is due wait in a ready
//! queue; lanes whose head waits for a retry sit in a timer set keyed by the due time.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use playcore_snapshots::event_store::EventRecord;

/// One pending message in memory.
pub(crate) struct Entry {
    pub position: u64,
    pub activity: u64,
    /// Read lazily for messages loaded back from the pending tree.
    pub event: Option<Arc<EventRecord>>,
    pub attempts: u32,
    pub records: u32,
    pub next_attempt_at_ms: i64,
    /// Whether the pending tree holds it (with its attempts so far).
    pub durable: bool,
}

/// Where a lane is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queued {
    No,
    Ready,
    At(i64),
}

pub(crate) struct Lane {
    /// The lane's oldest pending messages, in position order.
    pub entries: VecDeque<Entry>,
    /// The pending tree holds messages of this lane that `entries` does not.
    pub on_disk: bool,
    /// The message whose attempt is under way.
    pub in_flight: Option<u64>,
    /// Marked for a read-back from the pending tree after the next flush (the mark stays
    /// until the read-back arrives).
    pub refill_wanted: bool,
    /// A message of the lane went to the pending tree after its read-back was sent for:
    /// the read-back may not hold it.
    pub written_during_refill: bool,
    queued: Queued,
}

impl Lane {
    fn new() -> Lane {
        Lane {
            entries: VecDeque::new(),
            on_disk: false,
            in_flight: None,
            refill_wanted: false,
            written_during_refill: false,
            queued: Queued::No,
        }
    }

    pub fn find(&self, position: u64) -> Option<usize> {
        self.entries
            .iter()
            .position(|entry| entry.position == position)
    }

    /// The oldest message not in flight: what a full backlog gives up first.
    pub fn oldest_idle(&self) -> Option<u64> {
        self.entries
            .iter()
            .map(|entry| entry.position)
            .find(|position| Some(*position) != self.in_flight)
    }
}

pub(crate) struct Lanes {
    pub map: HashMap<u64, Lane>,
    ready: VecDeque<u64>,
    timers: BTreeSet<(i64, u64)>,
    /// Lanes marked for a read-back, each once.
    refill_queue: Vec<u64>,
    /// Messages in memory over every lane.
    pub in_memory: usize,
}

impl Lanes {
    pub fn new() -> Lanes {
        Lanes {
            map: HashMap::new(),
            ready: VecDeque::new(),
            timers: BTreeSet::new(),
            refill_queue: Vec::new(),
            in_memory: 0,
        }
    }

    pub fn lane(&mut self, key: u64) -> &mut Lane {
        self.map.entry(key).or_insert_with(Lane::new)
    }

    pub fn push(&mut self, key: u64, entry: Entry) {
        self.in_memory += 1;
        self.lane(key).entries.push_back(entry);
    }

    pub fn take(&mut self, key: u64, position: u64) -> Option<Entry> {
        let lane = self.map.get_mut(&key)?;
        let index = lane.find(position)?;
        self.in_memory -= 1;
        lane.entries.remove(index)
    }

    pub fn entry_mut(&mut self, key: u64, position: u64) -> Option<&mut Entry> {
        let lane = self.map.get_mut(&key)?;
        let index = lane.find(position)?;
        lane.entries.get_mut(index)
    }

    /// Queues the lane if its head can go: now if due, else at its due time. A lane with
    /// nothing in memory is dropped, or marked for a read-back if the tree holds more.
    pub fn schedule(&mut self, key: u64, now_ms: i64) {
        let Some(lane) = self.map.get_mut(&key) else {
            return;
        };
        if lane.in_flight.is_some() || lane.queued != Queued::No {
            return;
        }
        let Some(head) = lane.entries.front() else {
            if lane.on_disk {
                if !lane.refill_wanted {
                    lane.refill_wanted = true;
                    self.refill_queue.push(key);
                }
            } else {
                self.map.remove(&key);
            }
            return;
        };
        if head.next_attempt_at_ms <= now_ms {
            lane.queued = Queued::Ready;
            self.ready.push_back(key);
        } else {
            lane.queued = Queued::At(head.next_attempt_at_ms);
            self.timers.insert((head.next_attempt_at_ms, key));
        }
    }

    /// Takes the lane out of the ready queue or the timers (its head changed).
    pub fn unqueue(&mut self, key: u64) {
        let Some(lane) = self.map.get_mut(&key) else {
            return;
        };
        if let Queued::At(at_ms) = lane.queued {
            self.timers.remove(&(at_ms, key));
        }
        // A stale ready entry is skipped when popped.
        lane.queued = Queued::No;
    }

    /// The next lane whose head is due, out of its queue.
    pub fn next_ready(&mut self, now_ms: i64) -> Option<u64> {
        while let Some(&(at_ms, key)) = self.timers.first() {
            if at_ms > now_ms {
                break;
            }
            self.timers.pop_first();
            if let Some(lane) = self.map.get_mut(&key) {
                if lane.queued == Queued::At(at_ms) {
                    lane.queued = Queued::Ready;
                    self.ready.push_back(key);
                }
            }
        }
        while let Some(key) = self.ready.pop_front() {
            let Some(lane) = self.map.get_mut(&key) else {
                continue;
            };
            if lane.queued == Queued::Ready {
                lane.queued = Queued::No;
                return Some(key);
            }
        }
        None
    }

    /// Puts back a lane [`Lanes::next_ready`] gave that could not go yet.
    pub fn put_back(&mut self, key: u64) {
        if let Some(lane) = self.map.get_mut(&key) {
            lane.queued = Queued::Ready;
            self.ready.push_front(key);
        }
    }

    /// Makes every lane waiting for a retry due now: the sink proved healthy again (the
    /// breaker closed), and the failures those waits follow were the sink's, not the
    /// messages'. Their durable due times stay; a restart only waits them out again.
    pub fn rearm_all(&mut self, now_ms: i64) {
        while let Some((_, key)) = self.timers.pop_first() {
            let Some(lane) = self.map.get_mut(&key) else {
                continue;
            };
            if let Some(head) = lane.entries.front_mut() {
                head.next_attempt_at_ms = head.next_attempt_at_ms.min(now_ms);
            }
            lane.queued = Queued::Ready;
            self.ready.push_back(key);
        }
    }

    /// The lane whose head is due soonest, out of the timers, though not due yet: the
    /// half-open breaker's probe need not wait for a retry's due time.
    pub fn take_earliest(&mut self) -> Option<u64> {
        while let Some((at_ms, key)) = self.timers.pop_first() {
            if let Some(lane) = self.map.get_mut(&key) {
                if lane.queued == Queued::At(at_ms) {
                    lane.queued = Queued::No;
                    return Some(key);
                }
            }
        }
        None
    }

    pub fn next_timer_ms(&self) -> Option<i64> {
        self.timers.first().map(|(at_ms, _)| *at_ms)
    }

    /// Marks the lane for a read-back from the pending tree.
    pub fn want_refill(&mut self, key: u64) {
        let lane = self.lane(key);
        lane.on_disk = true;
        if !lane.refill_wanted {
            lane.refill_wanted = true;
            self.refill_queue.push(key);
        }
    }

    /// Whether a lane waits for a read-back.
    pub fn refills_wanted(&self) -> bool {
        !self.refill_queue.is_empty()
    }

    /// The lanes marked for a read-back (their marks stay until read back).
    pub fn take_refills(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.refill_queue)
    }
}

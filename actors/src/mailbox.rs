//! The bound on an activity's mailbox.
//!
//! actix's own mailbox capacity parks only the sending `Addr` clone: every request clones
//! the address, so its bound never refuses anything. This counter is the real bound:
//! a message is admitted only while fewer than `capacity` wait, and the actor lets one out
//! as it starts handling it. Past the bound the caller answers 503 OVERLOADED at once.

use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub struct MailboxBound {
    waiting: AtomicUsize,
    capacity: usize,
}

impl MailboxBound {
    pub fn new(capacity: usize) -> MailboxBound {
        MailboxBound {
            waiting: AtomicUsize::new(0),
            capacity: capacity.max(1),
        }
    }

    /// Admits one message, or refuses when the mailbox is full.
    pub fn try_enter(&self) -> bool {
        let admitted = self.waiting.fetch_add(1, Ordering::AcqRel) < self.capacity;
        if !admitted {
            self.leave();
        }
        admitted
    }

    /// One admitted message left the mailbox (handled, or never delivered).
    pub fn leave(&self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn depth(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_capacity_then_refuses_until_one_leaves() {
        let bound = MailboxBound::new(2);
        assert!(bound.try_enter());
        assert!(bound.try_enter());
        assert!(!bound.try_enter());
        assert_eq!(bound.depth(), 2);
        bound.leave();
        assert!(bound.try_enter());
    }
}

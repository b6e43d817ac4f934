//! Replies an actor holds until the journal has made their position durable.
//!
//! The journal counts them ([`Journal::reply_held`]): with the requests in flight, the
//! count tells its writer when every request waits on the batch it is gathering, so the
//! batch need not wait out the group-commit window. The count follows the queue exactly,
//! including when the queue is dropped (a stopping actor, a failed journal).

use crate::activity_actor::Reply;
use playcore_snapshots::Journal;
use std::collections::VecDeque;
use tokio::sync::oneshot;

pub struct HeldReplies {
    journal: Journal,
    /// Oldest first: (the position the reply waits for, where it goes, the reply).
    queue: VecDeque<(u64, oneshot::Sender<Reply>, Reply)>,
}

impl HeldReplies {
    pub fn new(journal: Journal) -> Self {
        Self {
            journal,
            queue: VecDeque::new(),
        }
    }

    /// Holds `reply` until the durable watermark reaches its `durable_after_seq`.
    pub fn hold(&mut self, sender: oneshot::Sender<Reply>, reply: Reply) {
        self.queue
            .push_back((reply.durable_after_seq, sender, reply));
        self.journal.reply_held();
    }

    /// The position the oldest held reply waits for.
    pub fn oldest_seq(&self) -> Option<u64> {
        self.queue.front().map(|(seq, _, _)| *seq)
    }

    /// Sends every held reply that `durable_seq` covers, oldest first.
    pub fn release(&mut self, durable_seq: u64) {
        let mut released = 0;
        while self
            .queue
            .front()
            .is_some_and(|(seq, _, _)| *seq <= durable_seq)
        {
            if let Some((_, sender, reply)) = self.queue.pop_front() {
                released += 1;
                let _ = sender.send(reply);
            }
        }
        if released > 0 {
            self.journal.replies_released(released);
        }
    }

    /// Drops every held reply unsent: their callers learn that no reply will come.
    pub fn drop_all(&mut self) {
        self.journal.replies_released(self.queue.len());
        self.queue.clear();
    }
}

impl Drop for HeldReplies {
    fn drop(&mut self) {
        self.drop_all();
    }
}

//! One actor's gate: replies, read results and views held until the journal made the seq
//! they depend on durable.

use super::{wait, Closed, Durable, Publisher};
use crate::activity_actor::{Answer, Reply};
use crate::domain::Rejection;
use crate::views::{ActivityView, GroupView};
use playcore_snapshots::Journal;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Sends a read's result to its caller; run once the state it read is durable.
pub type Release = Box<dyn FnOnce() + Send>;

/// Something held for its caller.
enum Held {
    Reply(oneshot::Sender<Reply>, Result<Answer, Rejection>),
    Read(Release),
}

impl Held {
    fn send(self) {
        match self {
            Held::Reply(sender, outcome) => {
                let _ = sender.send(Durable(outcome));
            }
            Held::Read(release) => release(),
        }
    }
}

pub struct Gate {
    journal: Journal,
    views: Publisher,
    /// Oldest first: (the seq it waits for, what waits). A reply waits only for a seq already
    /// appended, so this holds at most what the actor answers during one journal sync (and
    /// the journal's own bound stops appends long before memory matters).
    held: VecDeque<(u64, Held)>,
    /// Held replies hinted to the journal as waiting (reads are not: no caller of theirs is
    /// an expected waiter).
    hinted: usize,
    /// A wait for the durable seq is running (see [`Gate::next_wait`]).
    waiting: bool,
}

impl Gate {
    pub fn new(journal: Journal, views: Publisher) -> Gate {
        Gate {
            journal,
            views,
            held: VecDeque::new(),
            hinted: 0,
            waiting: false,
        }
    }

    /// Publishes at once: only for state recovered from disk, which is durable by definition.
    pub fn publish_now(&mut self, activity: Arc<ActivityView>, groups: Vec<(u64, Arc<GroupView>)>) {
        self.views.publish_now(activity, groups);
    }

    /// Stages the views the entry at `seq` changed, to publish once `seq` is durable.
    pub fn stage_views(
        &mut self,
        seq: u64,
        activity: Arc<ActivityView>,
        groups: Vec<(u64, Arc<GroupView>)>,
    ) {
        self.views.stage(seq, activity, groups);
    }

    /// Sends a command's outcome once `seq` is durable: at once if it already is, else it is
    /// held (and hinted to the journal as waiting) until a wait sees the durable seq pass it.
    pub fn reply(
        &mut self,
        seq: u64,
        sender: oneshot::Sender<Reply>,
        outcome: Result<Answer, Rejection>,
    ) {
        if let Some(held) = self.send_if_durable(seq, Held::Reply(sender, outcome)) {
            self.held.push_back((seq, held));
            self.hinted += 1;
            self.journal.hint_waiting();
        }
    }

    /// Runs `release` (which sends a read's result) once `seq` is durable.
    pub fn read(&mut self, seq: u64, release: Release) {
        if let Some(held) = self.send_if_durable(seq, Held::Read(release)) {
            self.held.push_back((seq, held));
        }
    }

    /// Sends `held` if `seq` is durable, after everything older (views first, so whoever
    /// gets it can read what it says: the durable seq may pass before a wait has published
    /// anything); else hands it back.
    fn send_if_durable(&mut self, seq: u64, held: Held) -> Option<Held> {
        let durable_seq = self.journal.durable_seq();
        if seq > durable_seq {
            return Some(held);
        }
        self.release(durable_seq);
        held.send();
        None
    }

    /// The wait to run next, if something waits and no wait runs: it resolves once the
    /// oldest seq held is durable. Its outcome goes to [`Gate::woken`].
    pub fn next_wait(&mut self) -> Option<impl Future<Output = Result<(), Closed>> + 'static> {
        if self.waiting {
            return None;
        }
        let seq = self.oldest_seq()?;
        self.waiting = true;
        let journal = self.journal.clone();
        Some(async move { wait(&journal, seq).await })
    }

    /// A wait ended: releases what is durable now and returns true (look for the next
    /// wait), or, when the journal went away, drops everything held and returns false.
    pub fn woken(&mut self, outcome: Result<(), Closed>) -> bool {
        self.waiting = false;
        match outcome {
            Ok(()) => {
                self.release(self.journal.durable_seq());
                true
            }
            Err(Closed) => {
                self.close();
                false
            }
        }
    }

    /// The oldest seq something here waits on.
    fn oldest_seq(&self) -> Option<u64> {
        let held = self.held.front().map(|(seq, _)| *seq);
        match (self.views.oldest_staged_seq(), held) {
            (Some(staged), Some(held)) => Some(staged.min(held)),
            (staged, held) => staged.or(held),
        }
    }

    /// Publishes the views and sends what `durable_seq` covers, oldest first.
    fn release(&mut self, durable_seq: u64) {
        self.views.publish_durable(durable_seq);
        let mut replies = 0;
        while self
            .held
            .front()
            .is_some_and(|(seq, _)| *seq <= durable_seq)
        {
            if let Some((_, held)) = self.held.pop_front() {
                replies += usize::from(matches!(held, Held::Reply(..)));
                held.send();
            }
        }
        self.hint_done(replies);
    }

    /// Drops everything held unsent: their callers learn that no answer will come.
    fn close(&mut self) {
        self.held.clear();
        self.hint_done(self.hinted);
    }

    fn hint_done(&mut self, replies: usize) {
        if replies > 0 {
            self.hinted -= replies;
            self.journal.hint_waiting_done(replies);
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.close();
    }
}

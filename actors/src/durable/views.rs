//! An activity's views: staged by the gate after each journal entry, published once durable.
//!
//! The publisher reveals the newest staged view the durable seq covers. Readers (HTTP hot
//! reads, the websocket hub) only ever see the published views, so no read or push reveals
//! state a crash could lose. Fan-out is the watch channel's: the actor does no
//! per-subscriber work.

use crate::views::{ActivityView, GroupView};
use dashmap::DashMap;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::watch;

/// The published views of one activity, shared with readers.
#[derive(Clone)]
pub struct Published {
    pub activity: Arc<watch::Sender<Arc<ActivityView>>>,
    pub groups: Arc<DashMap<u64, watch::Sender<Arc<GroupView>>>>,
}

impl Published {
    pub fn new(initial: Arc<ActivityView>) -> Published {
        let (sender, _) = watch::channel(initial);
        Published {
            activity: Arc::new(sender),
            groups: Arc::new(DashMap::new()),
        }
    }

    pub fn activity(&self) -> Arc<ActivityView> {
        Arc::clone(&self.activity.borrow())
    }

    pub fn group(&self, number: u64) -> Option<Arc<GroupView>> {
        self.groups
            .get(&number)
            .map(|sender| Arc::clone(&sender.borrow()))
    }

    fn set_group(&self, number: u64, view: Arc<GroupView>) {
        match self.groups.get(&number) {
            Some(sender) => {
                sender.send_replace(view);
            }
            None => {
                let (sender, _) = watch::channel(view);
                self.groups.insert(number, sender);
            }
        }
    }
}

struct Staged {
    seq: u64,
    activity: Arc<ActivityView>,
    groups: Vec<(u64, Arc<GroupView>)>,
}

/// The actor's side: staged views waiting for durability.
pub struct Publisher {
    published: Published,
    /// Bounded by the journal's capacity: an entry is staged only after the journal took it.
    staged: VecDeque<Staged>,
}

impl Publisher {
    pub fn new(published: Published) -> Publisher {
        Publisher {
            published,
            staged: VecDeque::new(),
        }
    }

    pub fn stage(
        &mut self,
        seq: u64,
        activity: Arc<ActivityView>,
        groups: Vec<(u64, Arc<GroupView>)>,
    ) {
        self.staged.push_back(Staged {
            seq,
            activity,
            groups,
        });
    }

    pub fn oldest_staged_seq(&self) -> Option<u64> {
        self.staged.front().map(|staged| staged.seq)
    }

    /// Reveals the newest views at or below `durable_seq`.
    pub fn publish_durable(&mut self, durable_seq: u64) {
        let mut activity = None;
        let mut groups = HashMap::new();
        while self
            .staged
            .front()
            .is_some_and(|staged| staged.seq <= durable_seq)
        {
            let Some(staged) = self.staged.pop_front() else {
                break;
            };
            activity = Some(staged.activity);
            groups.extend(staged.groups);
        }
        if let Some(view) = activity {
            self.published.activity.send_replace(view);
        }
        for (number, view) in groups {
            self.published.set_group(number, view);
        }
    }

    /// Publishes at once: only for state recovered from disk, which is durable by definition.
    pub fn publish_now(&mut self, activity: Arc<ActivityView>, groups: Vec<(u64, Arc<GroupView>)>) {
        self.published.activity.send_replace(activity);
        for (number, view) in groups {
            self.published.set_group(number, view);
        }
    }
}

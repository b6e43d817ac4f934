//! The registry: activity id -> actor address and published views (a dashmap, so HTTP
//! workers find an actor without a lock or a hop). `execute` is the one path from a caller
//! to an actor: one mailbox hop there, and the actor's gate sends the answer back once it is
//! durable (`crate::durable`), so the caller has no wait of its own. Order views of
//! archived orders are completed from the cold store on the way out (`execute`, `order`,
//! `complete_orders`), on the blocking pool and only when an answer holds one.

use crate::activity_actor::ActivityActor;
use crate::activity_actor::{Answer, Execute, Read, ReadFunction, SubjectView};
use crate::cold::ColdOrders;
use crate::domain::{ActivityId, ActivityState, Command, GroupId, OrderId, Rejection};
use crate::durable::{Published, Release};
use crate::mailbox::MailboxBound;
use crate::views::{order_view, ActivityView, GroupView, OrderView};
use actix::Addr;
use dashmap::DashMap;
use playcore_snapshots::throttle::{LogThrottle, LOG_INTERVAL};
use playcore_snapshots::Journal;
use std::sync::Arc;
use tokio::sync::{oneshot, watch};

/// Why a command got no answer from its actor.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExecuteError {
    #[error("activity not found")]
    NotFound,
    /// The actor's mailbox is full: the client may retry.
    #[error("overloaded")]
    Overloaded,
    /// The journal failed or is shut down: nothing can become durable.
    #[error("unavailable")]
    Unavailable,
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// An archived order could not be read back from the cold store (a bug or damaged
    /// storage; logged).
    #[error("cold store: {0}")]
    ColdStore(String),
}

/// One activity as seen from outside.
#[derive(Clone)]
pub struct ActivityHandle {
    pub addr: Addr<ActivityActor>,
    pub published: Published,
    pub mailbox: Arc<MailboxBound>,
}

pub struct Registry {
    activities: DashMap<ActivityId, ActivityHandle>,
    journal: Journal,
    capacity: usize,
    /// Turns true at shutdown: background loops stop and release the journal.
    closing: watch::Sender<bool>,
    /// Whole orders of archived stubs.
    cold: Arc<ColdOrders>,
}

impl Registry {
    pub fn new(journal: Journal, capacity: usize, cold: Arc<ColdOrders>) -> Registry {
        let (closing, _) = watch::channel(false);
        Registry {
            activities: DashMap::new(),
            journal,
            capacity,
            closing,
            cold,
        }
    }

    /// The cold store of archived orders (the archiver writes there).
    pub fn cold(&self) -> &Arc<ColdOrders> {
        &self.cold
    }

    /// A receiver that turns true when the runtime shuts down.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Stops the background loops and forgets the actors (their arbiters are stopped by the
    /// runtime), so nothing keeps the journal or the store open.
    pub fn close(&self) {
        self.closing.send_replace(true);
        self.activities.clear();
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn has_room(&self) -> bool {
        self.activities.len() < self.capacity
    }

    pub fn insert(&self, id: ActivityId, handle: ActivityHandle) {
        self.activities.insert(id, handle);
    }

    pub fn handle(&self, id: ActivityId) -> Option<ActivityHandle> {
        self.activities.get(&id).map(|entry| entry.value().clone())
    }

    pub fn ids(&self) -> Vec<ActivityId> {
        let mut ids: Vec<ActivityId> = self.activities.iter().map(|entry| *entry.key()).collect();
        ids.sort_unstable();
        ids
    }

    pub fn len(&self) -> usize {
        self.activities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.activities.is_empty()
    }

    /// The durable public view of an activity (no mailbox hop).
    pub fn view(&self, id: ActivityId) -> Option<Arc<ActivityView>> {
        self.activities
            .get(&id)
            .map(|entry| entry.published.activity())
    }

    /// Every activity's durable view, by id.
    pub fn views(&self) -> Vec<Arc<ActivityView>> {
        self.ids()
            .into_iter()
            .filter_map(|id| self.view(id))
            .collect()
    }

    pub fn group_view(&self, id: GroupId) -> Option<Arc<GroupView>> {
        self.activities
            .get(&id.activity)?
            .published
            .group(id.number)
    }

    pub fn subscribe_activity(&self, id: ActivityId) -> Option<watch::Receiver<Arc<ActivityView>>> {
        self.activities
            .get(&id)
            .map(|entry| entry.published.activity.subscribe())
    }

    pub fn subscribe_group(&self, id: GroupId) -> Option<watch::Receiver<Arc<GroupView>>> {
        let entry = self.activities.get(&id.activity)?;
        let sender = entry.published.groups.get(&id.number)?;
        Some(sender.subscribe())
    }

    /// Admits one message to the actor's mailbox and returns where to send it; the actor
    /// lets it out of the count when it starts handling it.
    fn admit(&self, id: ActivityId) -> Result<Addr<ActivityActor>, ExecuteError> {
        let entry = self.activities.get(&id).ok_or(ExecuteError::NotFound)?;
        if !entry.mailbox.try_enter() {
            return Err(ExecuteError::Overloaded);
        }
        Ok(entry.addr.clone())
    }

    /// Runs a command on its activity and returns the answer, which is durable.
    pub async fn execute(&self, id: ActivityId, command: Command) -> Result<Answer, ExecuteError> {
        let addr = self.admit(id)?;
        // The journal's group commit sizes its window by the callers that will wait.
        let expected = self.journal.expect_waiter();
        let (sender, receiver) = oneshot::channel();
        addr.do_send(Execute {
            command,
            reply: Some(sender),
        });
        // The gate sends only what is durable; a stopped actor, or a journal that failed,
        // drops the sender instead.
        let reply = receiver.await.map_err(|_| ExecuteError::Unavailable)?;
        drop(expected);
        let answer = reply.into_inner()?;
        if !names_archived_order(&answer) {
            return Ok(answer);
        }
        // Boxed: the cold read's state would otherwise enlarge every request's future,
        // which the HTTP layer allocates and moves per request.
        Box::pin(self.complete_answer(answer)).await
    }

    /// Completes the order view of an answer about an archived order (a replayed request,
    /// a repeated payment) from the cold store; any other answer passes untouched.
    async fn complete_answer(&self, mut answer: Answer) -> Result<Answer, ExecuteError> {
        let view = match &mut *answer.subject {
            SubjectView::Order(view) => view,
            SubjectView::Group {
                order: Some(view), ..
            } => view,
            _ => return Ok(answer),
        };
        if view.archived {
            let placeholder = order_placeholder(view.id);
            let taken = std::mem::replace(view, placeholder);
            let mut completed = self.complete_orders(vec![taken]).await?;
            *view = completed.pop().ok_or(ExecuteError::Unavailable)?;
        }
        Ok(answer)
    }

    /// Fills in the detail of the archived views among `views` from the cold store (on
    /// the blocking pool); returns them in the same order. No archived view: no I/O.
    pub async fn complete_orders(
        &self,
        mut views: Vec<OrderView>,
    ) -> Result<Vec<OrderView>, ExecuteError> {
        if !views.iter().any(|view| view.archived) {
            return Ok(views);
        }
        let cold = Arc::clone(&self.cold);
        let completed = tokio::task::spawn_blocking(move || {
            for view in views.iter_mut() {
                cold.complete(view)?;
            }
            Ok::<_, crate::cold::ArchiveError>(views)
        });
        match completed.await {
            Ok(Ok(views)) => Ok(views),
            Ok(Err(error)) => {
                static READ_BACK_FAILED: LogThrottle = LogThrottle::new(LOG_INTERVAL);
                if let Some(suppressed) = READ_BACK_FAILED.admit() {
                    tracing::error!(%error, suppressed, "an archived order could not be read back");
                }
                Err(ExecuteError::ColdStore(error.to_string()))
            }
            Err(_) => Err(ExecuteError::Unavailable),
        }
    }

    /// The whole view of one order, live or archived; `None` if the activity has no such
    /// order.
    pub async fn order(&self, id: OrderId) -> Result<Option<OrderView>, ExecuteError> {
        let view = self
            .read(id.activity, move |state| {
                state
                    .order(id.number)
                    .map(|order| order_view(id.activity, id.number, order))
            })
            .await?;
        match view {
            Some(view) => Ok(self.complete_orders(vec![view]).await?.pop()),
            None => Ok(None),
        }
    }

    /// Sends a command without waiting for its answer (supervisor nudges). Returns false
    /// when the mailbox is full, so the caller can retry later.
    pub fn nudge(&self, id: ActivityId, command: Command) -> bool {
        match self.admit(id) {
            Ok(addr) => {
                addr.do_send(Execute {
                    command,
                    reply: None,
                });
                true
            }
            Err(ExecuteError::Overloaded) => false,
            Err(_) => true,
        }
    }

    /// Reads an activity's state in its actor; the actor's gate sends the result once the
    /// state it reflects is durable.
    pub async fn read<R, F>(&self, id: ActivityId, read: F) -> Result<R, ExecuteError>
    where
        R: Send + 'static,
        F: FnOnce(&ActivityState) -> R + Send + 'static,
    {
        let addr = self.admit(id)?;
        let (sender, receiver) = oneshot::channel();
        let read: ReadFunction = Box::new(move |state: &ActivityState| -> Release {
            let result = read(state);
            Box::new(move || {
                let _ = sender.send(result);
            })
        });
        addr.do_send(Read { read });
        receiver.await.map_err(|_| ExecuteError::Unavailable)
    }
}

/// A stand-in while an archived view is being completed (never returned).
fn order_placeholder(id: OrderId) -> OrderView {
    OrderView {
        id,
        user: Arc::from(""),
        quantity: 0,
        amount_cents: 0,
        status: crate::domain::OrderStatus::Cancelled,
        created_at_ms: 0,
        expires_at_ms: 0,
        paid_at_ms: None,
        group: None,
        source: crate::domain::Source::default(),
        archived: true,
    }
}

/// Whether an answer's order view is an archived stub that the cold store must complete.
fn names_archived_order(answer: &Answer) -> bool {
    match &*answer.subject {
        SubjectView::Order(view) => view.archived,
        SubjectView::Group {
            order: Some(view), ..
        } => view.archived,
        _ => false,
    }
}

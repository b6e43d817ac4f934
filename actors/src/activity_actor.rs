//! The actor shell around one activity's state machine.
//!
//! For a command it calls `decide`; an accepted decision is appended to the journal as one
//! entry (so a multi-event decision is atomic) and applied in memory at once. The actor never
//! waits for the disk: its answer, read results and the views the entry changed go to its
//! [`Gate`](crate::durable::Gate), which releases them once the journal made the entry
//! durable.
//!
//! Eligibility across activities (new users only, mutual exclusion) is checked between
//! `decide` and the journal, on the shared indexes of [`crate::eligibility`]; an activity
//! with neither rule pays one branch for it.

use crate::domain::decide::Subject;
use crate::domain::{ActivityState, Command, Event, EventKind, Ineligibility, Rejection};
use crate::durable::{Durable, Gate, Publisher, Release};
use crate::eligibility::{self, ClaimError, Eligibility};
use crate::floors::SnapshotFloors;
use crate::mailbox::MailboxBound;
use crate::timers::{Deadline, DeadlineKind, Timers};
use crate::views::{self, ActivityView, GroupView, OrderView};
use actix::prelude::*;
use playcore_snapshots::journal::SnapshotError;
use playcore_snapshots::throttle::{LogThrottle, LOG_INTERVAL};
use playcore_snapshots::{encode_into, AppendError, Journal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long after a refund becomes due the (mock) provider confirms it.
pub const REFUND_DELAY_MS: i64 = 0;

/// What an accepted command's answer shows.
#[derive(Clone, Debug)]
pub enum SubjectView {
    Activity(Arc<ActivityView>),
    Order(OrderView),
    Group {
        group: GroupView,
        order: Option<OrderView>,
    },
}

/// An accepted command's answer. The view is boxed: the answer travels from the actor
/// through the gate, a oneshot and several futures, and a large value is copied at every
/// step.
#[derive(Clone, Debug)]
pub struct Answer {
    pub subject: Box<SubjectView>,
    pub replayed: bool,
}

/// The actor's reply, sent only once the entry it depends on is durable.
pub type Reply = Durable<Result<Answer, Rejection>>;

/// Run a command on the activity. The reply travels on the oneshot (so the sender can use
/// `try_send` and learn at once that the mailbox is full).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Execute {
    pub command: Command,
    pub reply: Option<oneshot::Sender<Reply>>,
}

/// A read run inside the actor: it reads the state and returns what sends its result, which
/// the gate runs once the state it read is durable.
pub type ReadFunction = Box<dyn FnOnce(&ActivityState) -> Release + Send>;

/// Read the state (admin queries); the result is sent once what it reflects is durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Read {
    pub read: ReadFunction,
}

/// Write a snapshot now (periodic, or at shutdown); replies once it is queued.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TakeSnapshot {
    pub done: Option<oneshot::Sender<()>>,
}

/// Settings an actor needs, shared by all.
#[derive(Clone, Debug)]
pub struct ActorSettings {
    pub mailbox_capacity: usize,
    pub orders_max: usize,
    /// A snapshot is due after this many entries, or after as many entries as the state
    /// held (orders and groups) when the last one was taken if that is more: each snapshot
    /// encodes the whole state, so this keeps its cost per entry constant however large an
    /// activity grows, and replay after it no longer than loading it. Capped by
    /// `snapshot_every_events_max` (the journal must be able to truncate in time).
    pub snapshot_every_events: u64,
    pub snapshot_every_events_max: u64,
    /// A snapshot is also due once this long has passed since the last one (if anything
    /// changed): measured from the last snapshot, whatever triggered it, so an activity
    /// that just took one because of its events does not re-encode its whole state again
    /// seconds later because a fixed clock ticked.
    pub snapshot_interval: Duration,
}

/// How often an actor looks whether its time-based snapshot is due: the snapshot comes at
/// most a sixth of the interval late.
const SNAPSHOT_CHECKS_PER_INTERVAL: u32 = 6;

/// A deadline whose command the journal refused for a passing reason (its queue full, the
/// storage below its free-space reserve) fires again this much later.
const REFUSED_DEADLINE_RETRY_MS: i64 = 1_000;

/// "snapshot not queued" repeats per activity and per check while the journal refuses
/// (a full disk, a failed journal): one line per interval for all of them.
static SNAPSHOT_NOT_QUEUED: LogThrottle = LogThrottle::new(LOG_INTERVAL);

impl ActorSettings {
    /// Entries after which the next snapshot is due, for a state of `state_entries` orders
    /// and groups at the last snapshot.
    pub fn snapshot_due_after(&self, state_entries: u64) -> u64 {
        let proportional = state_entries.min(self.snapshot_every_events_max);
        self.snapshot_every_events.max(proportional)
    }
}

/// What every activity actor shares with the runtime.
#[derive(Clone)]
pub struct Shared {
    pub journal: Journal,
    pub timers: Arc<Timers>,
    pub floors: Arc<SnapshotFloors>,
    pub settings: ActorSettings,
    pub eligibility: Arc<Eligibility>,
}

pub struct ActivityActor {
    state: ActivityState,
    journal: Journal,
    timers: Arc<Timers>,
    /// Holds replies, read results and views until the journal made them durable.
    gate: Gate,
    floors: Arc<SnapshotFloors>,
    settings: ActorSettings,
    eligibility: Arc<Eligibility>,
    mailbox: Arc<MailboxBound>,
    /// Journal position of the last entry this actor appended (or recovered).
    last_seq: u64,
    /// Entries appended since the last snapshot.
    entries_since_snapshot: u64,
    /// Entries after which the next snapshot is due (see [`ActorSettings::snapshot_due_after`]).
    snapshot_due_after: u64,
    /// When the last snapshot was queued (or the actor started, with a recovered state).
    last_snapshot_at: Instant,
    snapshot_flags: Arc<SnapshotFlags>,
    clock: fn() -> i64,
}

impl ActivityActor {
    pub fn new(
        state: ActivityState,
        shared: Shared,
        publisher: Publisher,
        mailbox: Arc<MailboxBound>,
        last_seq: u64,
    ) -> ActivityActor {
        // A recovered state counts as snapshotted at its size: the same rule as after a
        // snapshot taken while running.
        let snapshot_due_after = shared.settings.snapshot_due_after(snapshot_entries(&state));
        ActivityActor {
            state,
            gate: Gate::new(shared.journal.clone(), publisher),
            journal: shared.journal,
            timers: shared.timers,
            floors: shared.floors,
            settings: shared.settings,
            eligibility: shared.eligibility,
            mailbox,
            last_seq,
            entries_since_snapshot: 0,
            snapshot_due_after,
            last_snapshot_at: Instant::now(),
            snapshot_flags: Arc::default(),
            clock: now_ms,
        }
    }

    /// Starts the actor on `arbiter`. actix's own capacity is switched off (0): the bound is
    /// `MailboxBound`, which refuses at once instead of parking the sender.
    pub fn start_on(self, arbiter: &actix::ArbiterHandle) -> Addr<ActivityActor> {
        ActivityActor::start_in_arbiter(arbiter, move |context: &mut Context<ActivityActor>| {
            context.set_mailbox_capacity(0);
            self
        })
    }

    fn execute(
        &mut self,
        command: &Command,
        context: &mut Context<Self>,
    ) -> Result<Answer, Rejection> {
        if command.creates_order() && !self.has_room() {
            return Err(Rejection::Overloaded(
                "the activity has reached its order bound",
            ));
        }
        let now_ms = (self.clock)();
        let decision = self.state.decide(command, now_ms)?;
        if !decision.events.is_empty() {
            let events: Vec<Event> = decision
                .events
                .into_iter()
                .map(|kind| Event {
                    at_ms: now_ms,
                    kind,
                })
                .collect();
            self.admit_and_commit(&events, context)?;
        }
        Ok(Answer {
            subject: Box::new(self.subject_view(decision.subject)),
            replayed: decision.replayed,
        })
    }

    /// Checks eligibility, then commits; a claim taken for an entry the journal refuses is
    /// given back.
    fn admit_and_commit(
        &mut self,
        events: &[Event],
        context: &mut Context<Self>,
    ) -> Result<(), Rejection> {
        let claimed = self.admit(events)?;
        let committed = self.commit(events, context);
        if committed.is_err() && claimed {
            if let Some(user) = ordering_user(events) {
                self.release_if_idle(user);
            }
        }
        committed
    }

    /// The eligibility rules that look beyond this activity, for the order `events` create
    /// (if any): new users only, then mutual exclusion, whose claim this takes. Returns
    /// whether a claim was taken (to release should the journal refuse the entry).
    /// Replays create nothing, so they are never refused here.
    fn admit(&self, events: &[Event]) -> Result<bool, Rejection> {
        let rules = &self.state.config.rules;
        if !rules.new_user_only && !rules.mutually_exclusive {
            return Ok(false);
        }
        let Some(user) = ordering_user(events) else {
            return Ok(false);
        };
        let refuse = |why: Ineligibility| {
            self.eligibility.count_refusal(why);
            Rejection::NotEligible(why)
        };
        if rules.new_user_only {
            self.eligibility.paid.check_new(user).map_err(refuse)?;
        }
        if !rules.mutually_exclusive {
            return Ok(false);
        }
        let hold = eligibility::hold_of(&self.state);
        match self.eligibility.exclusion.claim(user, hold) {
            Ok(()) => Ok(true),
            Err(ClaimError::Conflict(with)) => {
                Err(refuse(Ineligibility::MutuallyExclusive { with }))
            }
            Err(ClaimError::Full) => {
                Err(Rejection::Overloaded("the mutual-exclusion index is full"))
            }
        }
    }

    /// Releases the user's exclusion claim on this activity unless the user still holds
    /// units here.
    fn release_if_idle(&self, user: &str) {
        let holds = self
            .state
            .users
            .get(user)
            .is_some_and(|user_state| user_state.units_held > 0);
        if !holds {
            self.eligibility.exclusion.release(user, self.state.id);
        }
    }

    /// Keeps the shared indexes in step with events just applied: money that arrived marks
    /// its user as paying (every activity: the index is platform-wide); an order that
    /// stopped holding units may free its user's exclusion claim; a new configuration
    /// re-registers this activity's holders.
    fn track_eligibility(&self, events: &[Event], was_exclusive: bool) {
        let exclusive = self.state.config.rules.mutually_exclusive;
        for event in events {
            match &event.kind {
                EventKind::InstancePaid { order, .. }
                | EventKind::InstanceRefundPending {
                    order,
                    trade_number: Some(_),
                } => {
                    if let Some(found) = self.state.order(*order) {
                        self.eligibility.paid.mark(&found.user);
                    }
                }
                EventKind::ActivityUpdated { .. } | EventKind::ActivityRolledBack { .. } => {
                    self.resync_exclusion(was_exclusive)
                }
                _ => {}
            }
            if exclusive {
                if let Some(user) = self.released_user(&event.kind) {
                    self.release_if_idle(user);
                }
            }
        }
    }

    /// The user of an order that may have stopped holding units with this event.
    fn released_user(&self, kind: &EventKind) -> Option<&str> {
        match kind {
            EventKind::InstanceCancelled { order }
            | EventKind::InstanceTimeout { order }
            | EventKind::InstanceFailed { order }
            | EventKind::InstanceRefundPending { order, .. } => {
                self.state.order(*order).map(|found| &*found.user)
            }
            _ => None,
        }
    }

    /// After a configuration change: this activity's holders hold with its new window, or
    /// release their claims when it is no longer exclusive. O(users of the activity), on
    /// an admin edit of an exclusive activity only.
    fn resync_exclusion(&self, was_exclusive: bool) {
        let exclusive = self.state.config.rules.mutually_exclusive;
        if !was_exclusive && !exclusive {
            return;
        }
        let hold = eligibility::hold_of(&self.state);
        for user in eligibility::holders(&self.state) {
            if exclusive {
                self.eligibility.exclusion.restore(user, hold);
            } else {
                self.eligibility.exclusion.release(user, self.state.id);
            }
        }
    }

    fn has_room(&self) -> bool {
        self.state.orders.len() < self.settings.orders_max && self.timers.has_room(2)
    }

    /// Appends the events as one journal entry, then applies them. Nothing is applied when
    /// the journal refuses the entry.
    fn commit(&mut self, events: &[Event], context: &mut Context<Self>) -> Result<(), Rejection> {
        let stream = self.state.id.0;
        let appended = self
            .journal
            .append(stream, |buffer| encode_into(&events, buffer));
        self.last_seq = appended.map_err(|error| match error {
            AppendError::Full => Rejection::Overloaded("the journal queue is full"),
            AppendError::StorageFull => Rejection::StorageFull,
            _ => Rejection::Overloaded("the journal is unavailable"),
        })?;
        let was_exclusive = self.state.config.rules.mutually_exclusive;
        let mut touched_groups = Vec::new();
        for event in events {
            self.state.apply(event);
            self.schedule_for(event);
            touched_groups.extend(self.group_touched(&event.kind));
        }
        self.track_eligibility(events, was_exclusive);
        self.entries_since_snapshot += 1;
        self.stage_views(touched_groups, context);
        if self.entries_since_snapshot >= self.snapshot_due_after {
            self.snapshot(false);
        }
        Ok(())
    }

    fn group_touched(&self, kind: &EventKind) -> Option<u64> {
        match kind {
            EventKind::GroupCreated { group, .. }
            | EventKind::GroupMemberJoined { group, .. }
            | EventKind::GroupMemberLeft { group, .. }
            | EventKind::GroupActivated { group }
            | EventKind::GroupFull { group }
            | EventKind::GroupFailed { group } => Some(*group),
            EventKind::InstancePaid { order, .. }
            | EventKind::InstanceCancelled { order }
            | EventKind::InstanceTimeout { order }
            | EventKind::InstanceRefundPending { order, .. }
            | EventKind::InstanceRefunded { order }
            | EventKind::InstanceFailed { order } => {
                self.state.order(*order).and_then(|found| found.group)
            }
            _ => None,
        }
    }

    fn deadline(&self, due_at_ms: i64, kind: DeadlineKind) -> Deadline {
        Deadline {
            due_at_ms,
            activity: self.state.id,
            kind,
        }
    }

    /// Queues the timers an applied event creates.
    fn schedule_for(&self, event: &Event) {
        let deadline = match &event.kind {
            EventKind::InstanceCreated {
                order,
                expires_at_ms,
                ..
            } => self.deadline(*expires_at_ms, DeadlineKind::ExpireOrder(*order)),
            EventKind::GroupCreated {
                group,
                expires_at_ms,
                ..
            } => self.deadline(*expires_at_ms, DeadlineKind::ExpireGroup(*group)),
            EventKind::InstanceRefundPending { order, .. } => self.deadline(
                event.at_ms + REFUND_DELAY_MS,
                DeadlineKind::CompleteRefund(*order),
            ),
            EventKind::InstanceFailed { order } => self.deadline(
                event.at_ms + REFUND_DELAY_MS,
                DeadlineKind::CompleteRefund(*order),
            ),
            EventKind::ActivityPublished { .. } => {
                self.timers
                    .schedule(self.deadline(self.state.config.start_at_ms, DeadlineKind::Open));
                self.deadline(self.state.config.end_at_ms, DeadlineKind::Close)
            }
            _ => return,
        };
        self.timers.schedule(deadline);
    }

    /// Rebuilds this activity's deadlines from its state (after recovery).
    fn schedule_recovered(&self) {
        use crate::domain::{GroupStatus, OrderStatus};
        if self.state.is_published() {
            self.timers
                .schedule(self.deadline(self.state.config.start_at_ms, DeadlineKind::Open));
            self.timers
                .schedule(self.deadline(self.state.config.end_at_ms, DeadlineKind::Close));
        }
        for (index, order) in self.state.orders.iter().enumerate() {
            let number = index as u64 + 1;
            match order.status {
                OrderStatus::PendingPay => {
                    // Unpaid orders are never archived, so the deadline is always there.
                    if let Some(expires_at_ms) = order.expires_at_ms() {
                        let kind = DeadlineKind::ExpireOrder(number);
                        self.timers.schedule(self.deadline(expires_at_ms, kind));
                    }
                }
                OrderStatus::RefundPending => self.timers.schedule(
                    self.deadline(order.updated_at_ms, DeadlineKind::CompleteRefund(number)),
                ),
                _ => {}
            }
        }
        for (index, group) in self.state.groups.iter().enumerate() {
            if matches!(group.status, GroupStatus::Pending | GroupStatus::Active) {
                self.timers.schedule(self.deadline(
                    group.expires_at_ms,
                    DeadlineKind::ExpireGroup(index as u64 + 1),
                ));
            }
        }
    }

    fn subject_view(&self, subject: Subject) -> SubjectView {
        let activity = self.state.id;
        let order_view = |number: u64| {
            self.state
                .order(number)
                .map(|order| views::order_view(activity, number, order))
        };
        match subject {
            Subject::Activity => SubjectView::Activity(Arc::new(views::activity_view(&self.state))),
            Subject::Order(number) => match order_view(number) {
                Some(view) => SubjectView::Order(view),
                None => SubjectView::Activity(Arc::new(views::activity_view(&self.state))),
            },
            Subject::Group { group, order } => match self.state.group(group) {
                Some(found) => SubjectView::Group {
                    group: views::group_view(&self.state, group, found),
                    order: order_view(order),
                },
                None => SubjectView::Activity(Arc::new(views::activity_view(&self.state))),
            },
        }
    }

    /// Builds the views this entry changed and hands them to the gate, which publishes them
    /// once the journal has made `last_seq` durable.
    fn stage_views(&mut self, mut groups: Vec<u64>, context: &mut Context<Self>) {
        groups.sort_unstable();
        groups.dedup();
        let activity = Arc::new(views::activity_view(&self.state));
        let group_views = groups
            .into_iter()
            .filter_map(|number| {
                self.state.group(number).map(|group| {
                    (
                        number,
                        Arc::new(views::group_view(&self.state, number, group)),
                    )
                })
            })
            .collect();
        self.gate.stage_views(self.last_seq, activity, group_views);
        self.ensure_waiter(context);
    }

    /// Starts the gate's next wait for the durable seq, if it needs one; when it ends, the
    /// gate releases what became durable and the next wait starts.
    fn ensure_waiter(&mut self, context: &mut Context<Self>) {
        let Some(wait) = self.gate.next_wait() else {
            return;
        };
        context.spawn(wait.into_actor(self).map(|outcome, actor, context| {
            if actor.gate.woken(outcome) {
                actor.ensure_waiter(context);
            }
        }));
    }

    /// Queues a snapshot of the whole state at `last_seq`: the actor only takes an image
    /// (O(chunks), see `Chunked`); the journal's snapshot thread encodes and stores it.
    /// At most one periodic snapshot is in flight per actor; `force` (shutdown) queues one
    /// regardless (the journal stores a stream's snapshots in queue order).
    fn snapshot(&mut self, force: bool) {
        let retry = self.snapshot_flags.failed.swap(false, Ordering::AcqRel);
        if self.entries_since_snapshot == 0 && !retry {
            return;
        }
        if !force && self.snapshot_flags.in_flight.swap(true, Ordering::AcqRel) {
            self.snapshot_flags.failed.fetch_or(retry, Ordering::AcqRel);
            return;
        }
        self.snapshot_flags.in_flight.store(true, Ordering::Release);
        let (id, seq) = (self.state.id, self.last_seq);
        let image = self.state.image();
        let encoder = Box::new(move |buffer: &mut Vec<u8>| {
            let started = std::time::Instant::now();
            encode_into(&image, buffer)?;
            let encode_ms = started.elapsed().as_millis() as u64;
            let bytes = buffer.len();
            tracing::info!(activity = %id, bytes, encode_ms, "snapshot encoded");
            Ok(())
        });
        let (floors, flags) = (Arc::clone(&self.floors), Arc::clone(&self.snapshot_flags));
        let done = Box::new(move |outcome: Result<(), SnapshotError>| {
            match outcome {
                Ok(()) => floors.snapshot_durable(id, seq + 1),
                Err(_) => flags.failed.store(true, Ordering::Release),
            }
            flags.in_flight.store(false, Ordering::Release);
        });
        match self.journal.queue_snapshot(id.0, seq, encoder, done) {
            Ok(()) => {
                self.entries_since_snapshot = 0;
                self.last_snapshot_at = Instant::now();
                let entries = snapshot_entries(&self.state);
                self.snapshot_due_after = self.settings.snapshot_due_after(entries);
            }
            Err(error) => {
                self.snapshot_flags
                    .in_flight
                    .store(false, Ordering::Release);
                if let Some(suppressed) = SNAPSHOT_NOT_QUEUED.admit() {
                    tracing::warn!(activity = %id, %error, suppressed, "snapshot not queued");
                }
            }
        }
    }
}

/// The deadline a supervisor's command stands for.
fn deadline_kind(command: &Command) -> Option<DeadlineKind> {
    match command {
        Command::Open => Some(DeadlineKind::Open),
        Command::Close => Some(DeadlineKind::Close),
        Command::ExpireOrder { order } => Some(DeadlineKind::ExpireOrder(*order)),
        Command::ExpireGroup { group } => Some(DeadlineKind::ExpireGroup(*group)),
        Command::CompleteRefund { order } => Some(DeadlineKind::CompleteRefund(*order)),
        _ => None,
    }
}

/// What a snapshot of `state` encodes entry by entry: its orders and groups.
fn snapshot_entries(state: &ActivityState) -> u64 {
    (state.orders.len() + state.groups.len()) as u64
}

/// The user of the order `events` create, if they create one.
fn ordering_user(events: &[Event]) -> Option<&str> {
    events.iter().find_map(|event| match &event.kind {
        EventKind::InstanceCreated { user, .. } => Some(user.as_str()),
        _ => None,
    })
}

/// Shared with the snapshot thread's completion callback.
#[derive(Default)]
struct SnapshotFlags {
    /// A snapshot is queued or being stored.
    in_flight: AtomicBool,
    /// The last snapshot failed: take another even without new entries.
    failed: AtomicBool,
}

/// Wall-clock milliseconds since the Unix epoch: the one place the actor reads time.
pub fn now_ms() -> i64 {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

impl Actor for ActivityActor {
    type Context = Context<Self>;

    fn started(&mut self, context: &mut Context<Self>) {
        self.schedule_recovered();
        self.gate.publish_now(
            Arc::new(views::activity_view(&self.state)),
            self.all_group_views(),
        );
        let check_every = self.settings.snapshot_interval / SNAPSHOT_CHECKS_PER_INTERVAL;
        context.run_interval(check_every, |actor, _| {
            if actor.last_snapshot_at.elapsed() >= actor.settings.snapshot_interval {
                actor.snapshot(false);
            }
        });
    }
}

impl ActivityActor {
    /// A deadline's command refused for a passing reason is tried again later: the
    /// supervisor already took the deadline from its queue, and nothing else would fire it
    /// before a restart (an unpaid order would hold its stock).
    fn retry_refused_deadline(&self, command: &Command, outcome: &Result<Answer, Rejection>) {
        let passing = matches!(
            outcome,
            Err(Rejection::StorageFull | Rejection::Overloaded(_))
        );
        let Some(kind) = deadline_kind(command).filter(|_| passing) else {
            return;
        };
        let retry_at_ms = (self.clock)().saturating_add(REFUSED_DEADLINE_RETRY_MS);
        self.timers.schedule(self.deadline(retry_at_ms, kind));
    }

    fn all_group_views(&self) -> Vec<(u64, Arc<GroupView>)> {
        let groups = self.state.groups.iter().enumerate();
        groups
            .map(|(index, group)| {
                (
                    index as u64 + 1,
                    Arc::new(views::group_view(&self.state, index as u64 + 1, group)),
                )
            })
            .collect()
    }
}

impl Handler<Execute> for ActivityActor {
    type Result = ();

    fn handle(&mut self, message: Execute, context: &mut Context<Self>) {
        self.mailbox.leave();
        let outcome = self.execute(&message.command, context);
        match message.reply {
            Some(sender) => {
                self.gate.reply(self.last_seq, sender, outcome);
                self.ensure_waiter(context);
            }
            None => self.retry_refused_deadline(&message.command, &outcome),
        }
    }
}

impl Handler<Read> for ActivityActor {
    type Result = ();

    fn handle(&mut self, message: Read, context: &mut Context<Self>) {
        self.mailbox.leave();
        let release = (message.read)(&self.state);
        self.gate.read(self.last_seq, release);
        self.ensure_waiter(context);
    }
}

impl Handler<TakeSnapshot> for ActivityActor {
    type Result = ();

    fn handle(&mut self, message: TakeSnapshot, _: &mut Context<Self>) {
        self.snapshot(true);
        if let Some(done) = message.done {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(every: u64, every_max: u64) -> ActorSettings {
        ActorSettings {
            mailbox_capacity: 16,
            orders_max: 16,
            snapshot_every_events: every,
            snapshot_every_events_max: every_max,
            snapshot_interval: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_snapshot_is_due_after_as_many_entries_as_the_state_held_within_the_bounds() {
        let settings = settings(200, 1_000);
        assert_eq!(
            settings.snapshot_due_after(0),
            200,
            "small state: the fixed count"
        );
        assert_eq!(settings.snapshot_due_after(150), 200);
        assert_eq!(
            settings.snapshot_due_after(600),
            600,
            "large state: its own size"
        );
        assert_eq!(
            settings.snapshot_due_after(5_000),
            1_000,
            "capped for truncation"
        );
        let disabled = self::settings(u64::MAX, 1_000);
        assert_eq!(disabled.snapshot_due_after(5_000), u64::MAX);
    }
}

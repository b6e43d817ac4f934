//! One subscription's task: reads the store from its cursor, keeps what its filter
//! matches, hands each lane's head to the sink, records attempts, retries, dead-letters,
//! and flushes its state to the pending, dead-letter, attempt and progress trees in
//! batches every [`FLUSH_INTERVAL_MS`]. A flush runs on a blocking thread (see `flush`)
//! while the task goes on sending: writing is then off the path from one acknowledgement
//! to the lane's next attempt.
//!
//! The cursor written with a flush is the last position read: every matching event at or
//! before it was delivered, dead-lettered, or is in the pending tree in the same flush.
//! Messages acknowledged within one flush interval of being read never touch the pending
//! tree.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8};
use std::sync::Arc;
use std::time::Instant;

use playcore_actors::activity_actor::now_ms;
use playcore_snapshots::event_store::EventRecord;
use playcore_snapshots::StoreError;
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};

use super::breaker::Breaker;
use super::flush::{self, FlushJob, Flushed, ReadBack, Refill};
use super::lanes::{Entry, Lanes};
use super::pressure::{Pressure, SAMPLE_MS, YIELD_MS_MAX};
use super::retry::{next_attempt_at_ms, Jitter, RateLimit};
use super::source::EventSource;
use super::state::{self, DeadValue, PendingValue, Progress, SubscriptionRecord, Trees};
use super::{
    AttemptOutcome, AttemptRecord, AttemptResult, BreakerState, Delivery, DeliverySettings,
    Ordering, Sink, Subscription,
};

/// State is flushed at least this often while it changes.
const FLUSH_INTERVAL_MS: i64 = 5;
/// Batched writes past which a flush happens at once.
const FLUSH_OPS_MAX: usize = 8_192;
/// Events read from the store per step.
const READ_BATCH: usize = 1_024;
/// Messages a lane keeps in memory at most (its head and a look-ahead): enough that one
/// busy activity is not paced by read-backs from the pending tree (one per flush), while
/// [`IN_MEMORY_MAX`] bounds the sum over all lanes.
pub(crate) const LOOKAHEAD_PER_LANE: usize = 1_024;
/// Messages in memory over all lanes of a subscription at most; past it new events go
/// straight to the pending tree.
pub(crate) const IN_MEMORY_MAX: usize = 65_536;
/// Attempt records kept per message (the oldest are pruned).
pub(crate) const ATTEMPT_RECORDS_PER_MESSAGE_MAX: u32 = 20;
/// Attempt records kept per subscription (the oldest messages' are pruned).
pub(crate) const ATTEMPT_RECORDS_MAX: u64 = 100_000;
/// Lag, retention hold and the disabling check are refreshed this often.
const TICK_MS: i64 = 1_000;
/// A full backlog is logged at most this often per subscription.
const BACKLOG_WARN_EVERY_MS: i64 = 60_000;

/// Shared figures of one subscription, written by its task, read by status and metrics.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub cursor: AtomicU64,
    pub delivered: AtomicU64,
    pub failed_attempts: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub backlog_overflowed: AtomicU64,
    pub pending: AtomicU64,
    pub lag_seconds: AtomicU64,
    /// 0 closed, 1 half-open, 2 open.
    pub breaker: AtomicU8,
    pub enabled: AtomicBool,
    pub disabled_for_failing: AtomicBool,
    pub stopped: AtomicBool,
}

/// What the engine asks of a subscription's task.
pub(crate) enum Command {
    Update(Subscription, Arc<dyn Sink>),
    /// A dead letter of this lane was moved back into the pending tree.
    Redelivered {
        lane: u64,
    },
    /// Stop and delete the subscription's state.
    Remove,
    /// Flush and stop; state stays.
    Stop,
}

/// What every task shares.
pub(crate) struct Context {
    pub source: Arc<dyn EventSource>,
    pub trees: Trees,
    pub settings: DeliverySettings,
    pub total: Arc<Semaphore>,
    pub pressure: Pressure,
}

/// An attempt's end, sent back by the attempt's task.
struct Completion {
    lane: u64,
    position: u64,
    started_at_ms: i64,
    result: AttemptResult,
}

/// A flush job's end, sent back by its blocking thread.
type FlushOutcome = Result<Flushed, StoreError>;

enum Woke {
    Completion(Completion),
    Flushed(FlushOutcome),
    Command(Option<Command>),
    Appended(bool),
    Timer,
}

pub(crate) struct Worker {
    id: String,
    number: u32,
    context: Arc<Context>,
    subscription: Subscription,
    sink: Arc<dyn Sink>,
    shared: Arc<Shared>,
    progress: Progress,
    read_position: u64,
    /// Since when the task leaves the CPU to a rush (see `pressure`).
    yielding_since_ms: Option<i64>,
    lanes: Lanes,
    /// Messages read since the last flush that are not in the pending tree yet.
    undurable: Vec<(u64, u64)>,
    pending_batch: sled::Batch,
    dead_batch: sled::Batch,
    attempts_batch: sled::Batch,
    batch_ops: usize,
    dirty: bool,
    flushed_at_ms: i64,
    /// The flush under way, if any (one at a time, so flushes apply in order).
    flushing: Option<oneshot::Receiver<FlushOutcome>>,
    ticked_at_ms: i64,
    backlog_warned_at_ms: i64,
    pending_count: u64,
    attempt_records: u64,
    in_flight: usize,
    breaker: Breaker,
    rate: RateLimit,
    jitter: Jitter,
    /// When dispatch stopped for want of a rate token or an engine-wide permit.
    blocked_until_ms: Option<i64>,
    completions_sender: mpsc::UnboundedSender<Completion>,
    // Unbounded in type only: at most `concurrency_per_subscription` attempts are under
    // way, and each sends one completion.
    completions: mpsc::UnboundedReceiver<Completion>,
    commands: mpsc::UnboundedReceiver<Command>,
    appended: watch::Receiver<u64>,
    appended_open: bool,
}

impl Worker {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        record: &SubscriptionRecord,
        progress: Progress,
        sink: Arc<dyn Sink>,
        context: Arc<Context>,
        shared: Arc<Shared>,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> Worker {
        let settings = &context.settings;
        let open_for_ms = i64::try_from(settings.breaker_open_for.as_millis()).unwrap_or(i64::MAX);
        let (completions_sender, completions) = mpsc::unbounded_channel();
        let appended = context.source.subscribe();
        let subscription = record.subscription(&id);
        let seed = u64::from(record.number) ^ (now_ms() as u64).rotate_left(17);
        Worker {
            number: record.number,
            breaker: Breaker::new(settings.breaker_failures_to_open, open_for_ms),
            rate: RateLimit::new(subscription.rate_limit_per_second),
            jitter: Jitter::new(seed),
            read_position: progress.cursor,
            yielding_since_ms: None,
            progress,
            subscription,
            id,
            sink,
            shared,
            lanes: Lanes::new(),
            undurable: Vec::new(),
            pending_batch: sled::Batch::default(),
            dead_batch: sled::Batch::default(),
            attempts_batch: sled::Batch::default(),
            batch_ops: 0,
            dirty: false,
            flushed_at_ms: 0,
            flushing: None,
            ticked_at_ms: 0,
            backlog_warned_at_ms: 0,
            pending_count: 0,
            attempt_records: 0,
            in_flight: 0,
            blocked_until_ms: None,
            completions_sender,
            completions,
            commands,
            appended,
            appended_open: true,
            context,
        }
    }

    /// The task's body: runs until stopped, removed, or its storage fails.
    pub async fn run(mut self) {
        if let Err(error) = self.recover() {
            tracing::error!(subscription = %self.id, %error, "delivery state unreadable; not delivering");
            return self.stopped();
        }
        loop {
            let outcome = self.step().await;
            match outcome {
                Ok(true) => {}
                Ok(false) => return self.stopped(),
                Err(error) => {
                    tracing::error!(subscription = %self.id, %error, "delivery state not written; stopped (a restart resumes from the durable state)");
                    return self.stopped();
                }
            }
        }
    }

    fn stopped(&self) {
        self.shared
            .stopped
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// One turn: work that is ready, then a wait for the next thing. False to stop.
    async fn step(&mut self) -> Result<bool, StoreError> {
        let now = now_ms();
        if now - self.ticked_at_ms >= TICK_MS {
            self.tick(now)?;
        }
        let mut behind = false;
        if self.subscription.enabled && !self.yields(now) {
            behind = self.read(now);
            self.dispatch(now);
        }
        if self.flush_due(now) {
            self.flush(now)?;
        }
        self.publish();
        if behind {
            tokio::task::yield_now().await;
            while let Ok(completion) = self.completions.try_recv() {
                self.complete(completion, now_ms());
            }
            self.poll_flush()?;
            return match self.commands.try_recv() {
                Ok(command) => self.command(Some(command)).await,
                Err(mpsc::error::TryRecvError::Empty) => Ok(true),
                Err(mpsc::error::TryRecvError::Disconnected) => self.command(None).await,
            };
        }
        let wake_at_ms = self.wake_at_ms(now);
        let delay = std::time::Duration::from_millis(u64::try_from(wake_at_ms - now).unwrap_or(0));
        let flushing = self.flushing.is_some();
        let woke = tokio::select! {
            completion = self.completions.recv() => match completion {
                Some(completion) => Woke::Completion(completion),
                None => Woke::Timer,
            },
            outcome = wait_flush(&mut self.flushing), if flushing => Woke::Flushed(outcome),
            command = self.commands.recv() => Woke::Command(command),
            changed = self.appended.changed(), if self.appended_open => Woke::Appended(changed.is_ok()),
            () = tokio::time::sleep(delay) => Woke::Timer,
        };
        match woke {
            Woke::Completion(completion) => {
                let now = now_ms();
                self.complete(completion, now);
                while let Ok(completion) = self.completions.try_recv() {
                    self.complete(completion, now);
                }
            }
            Woke::Flushed(outcome) => {
                self.flushing = None;
                self.flushed(outcome?, now_ms());
            }
            Woke::Command(command) => return self.command(command).await,
            Woke::Appended(open) => self.appended_open = open,
            Woke::Timer => {}
        }
        Ok(true)
    }

    /// Whether to leave the CPU to a rush now (see `pressure`): at most
    /// [`YIELD_MS_MAX`] at a stretch.
    fn yields(&mut self, now_ms: i64) -> bool {
        if !self.context.pressure.busy(now_ms) {
            self.yielding_since_ms = None;
            return false;
        }
        let since_ms = *self.yielding_since_ms.get_or_insert(now_ms);
        now_ms - since_ms < YIELD_MS_MAX
    }

    /// When the task must look again without being woken.
    fn wake_at_ms(&self, now_ms: i64) -> i64 {
        let mut wake_at_ms = self.ticked_at_ms + TICK_MS;
        if self.yielding_since_ms.is_some() {
            wake_at_ms = wake_at_ms.min(now_ms + SAMPLE_MS);
        }
        if self.flushing.is_none() && (self.dirty || self.lanes.refills_wanted()) {
            // A lane waiting for its read-back is read back at the next flush.
            wake_at_ms = wake_at_ms.min(self.flushed_at_ms + FLUSH_INTERVAL_MS);
        }
        if self.subscription.enabled {
            // Due retries wake the task only when one could start: otherwise a completion,
            // the breaker's reopening or the end of a rate or permit wait does.
            let concurrency = self.context.settings.concurrency_per_subscription.max(1);
            let breaker_lets = match self.breaker.state() {
                BreakerState::Closed => true,
                BreakerState::HalfOpen => self.in_flight == 0,
                BreakerState::Open => false,
            };
            let could_start =
                self.in_flight < concurrency && breaker_lets && self.blocked_until_ms.is_none();
            let retry_at = self.lanes.next_timer_ms().filter(|_| could_start);
            let dispatch_at = [
                retry_at,
                self.breaker.reopens_at_ms(),
                self.blocked_until_ms,
            ];
            for at_ms in dispatch_at.into_iter().flatten() {
                wake_at_ms = wake_at_ms.min(at_ms);
            }
            if !self.appended_open && self.read_position < self.context.source.last_position() {
                wake_at_ms = now_ms;
            }
        }
        wake_at_ms.max(now_ms)
    }

    async fn command(&mut self, command: Option<Command>) -> Result<bool, StoreError> {
        match command {
            Some(Command::Update(subscription, sink)) => {
                self.update(subscription, sink);
                Ok(true)
            }
            Some(Command::Redelivered { lane }) => {
                self.redelivered(lane);
                Ok(true)
            }
            Some(Command::Remove) => {
                self.await_flush().await?;
                self.context.trees.delete(self.number)?;
                self.context.source.release(&self.id);
                Ok(false)
            }
            Some(Command::Stop) | None => {
                self.await_flush().await?;
                let flushed = self
                    .flush_job()
                    .run(&self.context.trees, self.context.source.as_ref())?;
                self.flushed(flushed, now_ms());
                Ok(false)
            }
        }
    }

    fn update(&mut self, subscription: Subscription, sink: Arc<dyn Sink>) {
        if subscription.enabled && !self.subscription.enabled {
            // Enabled again: a fresh start for the breaker and the failing period.
            self.progress.failing_since_ms = 0;
            self.breaker.on_success();
            self.shared
                .disabled_for_failing
                .store(false, std::sync::atomic::Ordering::Relaxed);
        }
        self.rate.set(subscription.rate_limit_per_second);
        // The order is fixed at creation: the pending tree's lanes depend on it.
        let ordering = self.subscription.ordering;
        self.subscription = Subscription {
            ordering,
            ..subscription
        };
        self.sink = sink;
        self.dirty = true;
    }

    /// A dead letter came back to the pending tree: the lane drops what it holds in
    /// memory (kept in the tree) and reads back in position order after the next flush.
    fn redelivered(&mut self, lane_key: u64) {
        self.pending_count += 1;
        self.lanes.unqueue(lane_key);
        let number = self.number;
        let lane = self.lanes.lane(lane_key);
        let in_flight = lane.in_flight;
        let entries = std::mem::take(&mut lane.entries);
        let mut kept = std::collections::VecDeque::new();
        for entry in entries {
            if Some(entry.position) == in_flight {
                kept.push_back(entry);
                continue;
            }
            if !entry.durable {
                let key = state::pending_key(number, lane_key, entry.position);
                self.pending_batch.insert(&key, &pending_value(&entry)[..]);
                self.batch_ops += 1;
            }
            self.lanes.in_memory -= 1;
        }
        let lane = self.lanes.lane(lane_key);
        lane.entries = kept;
        lane.written_during_refill = true;
        self.lanes.want_refill(lane_key);
        self.dirty = true;
    }

    fn lane_of(&self, activity: u64) -> u64 {
        match self.subscription.ordering {
            Ordering::PerActivity => activity,
            Ordering::Total => 0,
        }
    }

    fn matches(&self, event: &EventRecord) -> bool {
        let filter = &self.subscription.filter;
        let kind = filter.event_types.is_empty() || filter.event_types.contains(&event.kind);
        let activity =
            filter.activity_ids.is_empty() || filter.activity_ids.contains(&event.activity);
        let store = filter.store_ids.is_empty()
            || event
                .store
                .as_ref()
                .is_some_and(|store| filter.store_ids.contains(store));
        kind && activity && store
    }

    /// Reads one batch if the store has more; true if it may have more still.
    fn read(&mut self, now_ms: i64) -> bool {
        self.appended.borrow_and_update();
        if self.batch_ops >= FLUSH_OPS_MAX {
            return true;
        }
        if self.read_position >= self.context.source.last_position() {
            return false;
        }
        let events = match self
            .context
            .source
            .read_after(self.read_position, READ_BATCH)
        {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(subscription = %self.id, %error, "reading the event store failed; retrying");
                return false;
            }
        };
        let full = events.len() == READ_BATCH;
        for event in events {
            self.read_position = event.position;
            if self.matches(&event) {
                self.enqueue(event, now_ms);
            }
        }
        self.dirty = true;
        full
    }

    fn enqueue(&mut self, event: EventRecord, now_ms: i64) {
        let lane_key = self.lane_of(event.activity);
        self.pending_count += 1;
        let memory_full = self.lanes.in_memory >= IN_MEMORY_MAX;
        let lane = self.lanes.lane(lane_key);
        let to_disk = lane.on_disk || lane.entries.len() >= LOOKAHEAD_PER_LANE || memory_full;
        let entry = Entry {
            position: event.position,
            activity: event.activity,
            event: None,
            attempts: 0,
            records: 0,
            next_attempt_at_ms: now_ms,
            durable: to_disk,
        };
        if to_disk {
            lane.on_disk = true;
            lane.written_during_refill |= lane.refill_wanted;
            let key = state::pending_key(self.number, lane_key, entry.position);
            self.pending_batch.insert(&key, &pending_value(&entry)[..]);
            self.batch_ops += 1;
            if lane.entries.is_empty() {
                self.lanes.want_refill(lane_key);
            }
            return;
        }
        self.undurable.push((lane_key, entry.position));
        self.lanes.push(
            lane_key,
            Entry {
                event: Some(Arc::new(event)),
                ..entry
            },
        );
        self.lanes.schedule(lane_key, now_ms);
    }

    /// Starts attempts while the limits allow.
    fn dispatch(&mut self, now_ms: i64) {
        self.blocked_until_ms = None;
        let concurrency = self.context.settings.concurrency_per_subscription.max(1);
        while self.in_flight < concurrency && self.breaker.may_send(now_ms) {
            let Some(lane_key) = self.next_lane(now_ms) else {
                return;
            };
            let Ok(permit) = Arc::clone(&self.context.total).try_acquire_owned() else {
                self.lanes.put_back(lane_key);
                self.blocked_until_ms = Some(now_ms + 1);
                return;
            };
            if let Err(at_ms) = self.rate.take(now_ms) {
                self.lanes.put_back(lane_key);
                self.blocked_until_ms = Some(at_ms);
                return;
            }
            self.start(lane_key, permit, now_ms);
        }
    }

    /// The next lane to send from: one whose head is due, or, for the half-open breaker's
    /// probe, the one due soonest.
    fn next_lane(&mut self, now_ms: i64) -> Option<u64> {
        let ready = self.lanes.next_ready(now_ms);
        if ready.is_some() || self.breaker.state() != BreakerState::HalfOpen {
            return ready;
        }
        self.lanes.take_earliest()
    }

    /// Hands the lane's head to the sink in a task of its own.
    fn start(&mut self, lane_key: u64, permit: OwnedSemaphorePermit, now_ms: i64) {
        let source = Arc::clone(&self.context.source);
        let Some(lane) = self.lanes.map.get_mut(&lane_key) else {
            return;
        };
        let Some(entry) = lane.entries.front_mut() else {
            return;
        };
        if entry.event.is_none() {
            entry.event = source.get(entry.position).ok().flatten().map(Arc::new);
        }
        let position = entry.position;
        let Some(event) = entry.event.clone() else {
            // Retention removed it (it was not held): nothing left to send.
            let entry = self.lanes.take(lane_key, position);
            if let Some(entry) = entry {
                self.dead_letter(lane_key, entry, now_ms);
            }
            self.lanes.schedule(lane_key, now_ms);
            return;
        };
        entry.attempts += 1;
        let attempt = entry.attempts;
        lane.in_flight = Some(position);
        self.in_flight += 1;
        self.breaker.on_send();
        let sink = Arc::clone(&self.sink);
        let completions = self.completions_sender.clone();
        let timeout = self.context.settings.attempt_timeout;
        tokio::spawn(async move {
            let started = Instant::now();
            let delivery = Delivery { event, attempt };
            let result = match tokio::time::timeout(timeout, sink.deliver(delivery)).await {
                Ok(result) => result,
                Err(_) => AttemptResult {
                    outcome: AttemptOutcome::Failed {
                        status_code: None,
                        error: "timed out".to_owned(),
                    },
                    latency: started.elapsed(),
                },
            };
            drop(permit);
            let completion = Completion {
                lane: lane_key,
                position,
                started_at_ms: now_ms,
                result,
            };
            // The task may have stopped; the attempt then counts as not made.
            let _ = completions.send(completion);
        });
    }

    fn complete(&mut self, completion: Completion, now_ms: i64) {
        self.in_flight -= 1;
        self.dirty = true;
        let lane_key = completion.lane;
        let position = completion.position;
        if let Some(lane) = self.lanes.map.get_mut(&lane_key) {
            lane.in_flight = None;
        }
        let Some(entry) = self.lanes.entry_mut(lane_key, position) else {
            self.lanes.schedule(lane_key, now_ms);
            return;
        };
        let record_number = entry.records;
        entry.records += 1;
        let attempt = entry.attempts;
        let (status_code, error, next_attempt_at_ms) = match completion.result.outcome {
            AttemptOutcome::Acknowledged => {
                self.acknowledged(lane_key, position, now_ms);
                (None, None, None)
            }
            AttemptOutcome::Failed { status_code, error } => {
                let next = self.failed(lane_key, position, now_ms);
                (status_code, Some(error), next)
            }
        };
        let record = AttemptRecord {
            attempt,
            at_ms: completion.started_at_ms,
            status_code,
            latency_ms: u64::try_from(completion.result.latency.as_millis()).unwrap_or(u64::MAX),
            error,
            next_attempt_at_ms,
        };
        self.record_attempt(position, record_number, &record);
        self.lanes.schedule(lane_key, now_ms);
    }

    fn acknowledged(&mut self, lane_key: u64, position: u64, now_ms: i64) {
        self.progress.delivered += 1;
        self.progress.last_success_ms = now_ms;
        self.progress.failing_since_ms = 0;
        let recovered = self.breaker.state() != BreakerState::Closed;
        self.breaker.on_success();
        if recovered {
            self.lanes.rearm_all(now_ms);
        }
        if let Some(entry) = self.lanes.take(lane_key, position) {
            self.settled(lane_key, &entry);
        }
    }

    /// Schedules the next attempt or dead-letters; the next attempt's time if any.
    fn failed(&mut self, lane_key: u64, position: u64, now_ms: i64) -> Option<i64> {
        self.progress.failed_attempts += 1;
        if self.progress.failing_since_ms == 0 {
            self.progress.failing_since_ms = now_ms;
        }
        self.breaker.on_failure(now_ms);
        let schedule = &self.context.settings.retry_schedule;
        let entry = self.lanes.entry_mut(lane_key, position)?;
        match next_attempt_at_ms(schedule, entry.attempts, now_ms, &mut self.jitter) {
            Some(at_ms) => {
                entry.next_attempt_at_ms = at_ms;
                if entry.durable {
                    let key = state::pending_key(self.number, lane_key, position);
                    let value = pending_value(entry);
                    self.pending_batch.insert(&key, &value[..]);
                    self.batch_ops += 1;
                }
                Some(at_ms)
            }
            None => {
                let entry = self.lanes.take(lane_key, position)?;
                self.dead_letter(lane_key, entry, now_ms);
                None
            }
        }
    }

    /// Removes a settled message's pending record.
    fn settled(&mut self, lane_key: u64, entry: &Entry) {
        self.pending_count = self.pending_count.saturating_sub(1);
        if entry.durable {
            let key = state::pending_key(self.number, lane_key, entry.position);
            self.pending_batch.remove(&key);
            self.batch_ops += 1;
        }
    }

    fn dead_letter(&mut self, lane_key: u64, entry: Entry, now_ms: i64) {
        let value = DeadValue {
            activity: entry.activity,
            records: entry.records,
            failed_at_ms: now_ms,
        };
        let key = state::position_key(self.number, entry.position);
        self.dead_batch.insert(&key, &value.encode()[..]);
        self.batch_ops += 1;
        self.progress.dead_lettered += 1;
        self.settled(lane_key, &entry);
    }

    fn record_attempt(&mut self, position: u64, record_number: u32, record: &AttemptRecord) {
        let key = state::attempt_key(self.number, position, record_number);
        self.attempts_batch
            .insert(&key, state::encode_attempt(record));
        self.attempt_records += 1;
        self.batch_ops += 1;
        if let Some(old) = record_number.checked_sub(ATTEMPT_RECORDS_PER_MESSAGE_MAX) {
            let key = state::attempt_key(self.number, position, old);
            self.attempts_batch.remove(&key);
            self.attempt_records -= 1;
        }
    }

    fn flush_due(&self, now_ms: i64) -> bool {
        self.flushing.is_none()
            && (self.dirty || self.lanes.refills_wanted())
            && (self.batch_ops >= FLUSH_OPS_MAX || now_ms - self.flushed_at_ms >= FLUSH_INTERVAL_MS)
    }

    /// Makes the state as of now the durable state: on a blocking thread, or in place
    /// while the backlog is over its bound (moving the oldest out needs the tree as
    /// written).
    fn flush(&mut self, now_ms: i64) -> Result<(), StoreError> {
        let job = self.flush_job();
        self.dirty = false;
        self.flushed_at_ms = now_ms;
        if self.pending_count > self.context.settings.backlog_events_max {
            let flushed = job.run(&self.context.trees, self.context.source.as_ref())?;
            self.flushed(flushed, now_ms);
            return self.overflow(now_ms);
        }
        let context = Arc::clone(&self.context);
        let (sender, receiver) = oneshot::channel();
        tokio::task::spawn_blocking(move || {
            // The task may have stopped; the flush is then made but not heard of.
            let _ = sender.send(job.run(&context.trees, context.source.as_ref()));
        });
        self.flushing = Some(receiver);
        Ok(())
    }

    /// The writes since the last flush, the pruning due and the read-backs wanted.
    fn flush_job(&mut self) -> FlushJob {
        for (lane_key, position) in std::mem::take(&mut self.undurable) {
            let number = self.number;
            let Some(entry) = self.lanes.entry_mut(lane_key, position) else {
                continue;
            };
            if !entry.durable {
                entry.durable = true;
                let key = state::pending_key(number, lane_key, position);
                self.pending_batch.insert(&key, &pending_value(entry)[..]);
            }
        }
        // Prune a little more than the excess so that pruning is not a per-flush chore.
        let prune = self
            .attempt_records
            .checked_sub(ATTEMPT_RECORDS_MAX)
            .map_or(0, |excess| excess + ATTEMPT_RECORDS_MAX / 100);
        let refills = self
            .lanes
            .take_refills()
            .into_iter()
            .map(|lane_key| self.refill_of(lane_key))
            .collect();
        let mut progress = self.progress;
        progress.cursor = self.read_position;
        self.batch_ops = 0;
        FlushJob {
            number: self.number,
            dead: std::mem::take(&mut self.dead_batch),
            pending: std::mem::take(&mut self.pending_batch),
            attempts: std::mem::take(&mut self.attempts_batch),
            progress: progress.encode(),
            cursor: self.read_position,
            prune,
            refills,
        }
    }

    /// Takes in the end of a flush: the durable cursor, the pruning, the read-backs.
    fn flushed(&mut self, flushed: Flushed, now_ms: i64) {
        self.progress.cursor = flushed.cursor;
        self.attempt_records = self.attempt_records.saturating_sub(flushed.pruned);
        for read_back in flushed.read_backs {
            self.take_read_back(read_back, now_ms);
        }
    }

    /// Takes the end of the flush under way if it came.
    fn poll_flush(&mut self) -> Result<(), StoreError> {
        let Some(receiver) = &mut self.flushing else {
            return Ok(());
        };
        let outcome = match receiver.try_recv() {
            Ok(outcome) => outcome,
            Err(oneshot::error::TryRecvError::Empty) => return Ok(()),
            Err(oneshot::error::TryRecvError::Closed) => Err(flush_lost()),
        };
        self.flushing = None;
        self.flushed(outcome?, now_ms());
        Ok(())
    }

    /// Waits for the flush under way, if any, and takes in its end.
    async fn await_flush(&mut self) -> Result<(), StoreError> {
        if self.flushing.is_some() {
            let outcome = wait_flush(&mut self.flushing).await;
            self.flushing = None;
            self.flushed(outcome?, now_ms());
        }
        Ok(())
    }

    /// Applies the batches in place (no flush may be under way).
    fn apply_batches(&mut self) -> Result<(), StoreError> {
        let trees = &self.context.trees;
        trees
            .dead
            .apply_batch(std::mem::take(&mut self.dead_batch))?;
        trees
            .pending
            .apply_batch(std::mem::take(&mut self.pending_batch))?;
        trees
            .attempts
            .apply_batch(std::mem::take(&mut self.attempts_batch))?;
        self.batch_ops = 0;
        Ok(())
    }

    /// What a read-back of the lane asks for; writes to the lane from now on may be
    /// missed by it.
    fn refill_of(&mut self, lane_key: u64) -> Refill {
        let lane = self.lanes.lane(lane_key);
        lane.written_during_refill = false;
        Refill {
            lane: lane_key,
            room: LOOKAHEAD_PER_LANE.saturating_sub(lane.entries.len()),
            held: lane.entries.iter().map(|entry| entry.position).collect(),
        }
    }

    /// Reads a lane's oldest messages back from the pending tree in place, up to the
    /// look-ahead (no flush may be under way).
    fn refill(&mut self, lane_key: u64, now_ms: i64) -> Result<(), StoreError> {
        let refill = self.refill_of(lane_key);
        let context = &self.context;
        let read_back = flush::read_back(
            &context.trees,
            context.source.as_ref(),
            self.number,
            &refill,
        )?;
        self.take_read_back(read_back, now_ms);
        Ok(())
    }

    /// Puts a lane's read-back in memory, in position order.
    fn take_read_back(&mut self, read_back: ReadBack, now_ms: i64) {
        let lane_key = read_back.lane;
        let lane = self.lanes.lane(lane_key);
        lane.refill_wanted = false;
        let mut more = read_back.more;
        let mut count = 0;
        for entry in read_back.entries {
            if lane.find(entry.position).is_some() {
                continue;
            }
            if lane.entries.len() >= LOOKAHEAD_PER_LANE {
                more = true;
                break;
            }
            lane.entries.push_back(entry);
            count += 1;
        }
        lane.on_disk = more || std::mem::take(&mut lane.written_during_refill);
        lane.entries
            .make_contiguous()
            .sort_unstable_by_key(|entry| entry.position);
        self.lanes.in_memory += count;
        self.lanes.unqueue(lane_key);
        self.lanes.schedule(lane_key, now_ms);
    }

    /// Past the backlog bound, the oldest pending messages (not in flight) go to dead
    /// letters.
    fn overflow(&mut self, now_ms: i64) -> Result<(), StoreError> {
        let backlog_max = self.context.settings.backlog_events_max;
        if self.pending_count <= backlog_max {
            return Ok(());
        }
        let mut oldest: BinaryHeap<Reverse<(u64, u64)>> = self
            .lanes
            .map
            .iter()
            .filter_map(|(key, lane)| lane.oldest_idle().map(|position| Reverse((position, *key))))
            .collect();
        let before = self.progress.backlog_overflowed;
        while self.pending_count > backlog_max {
            let Some(Reverse((position, lane_key))) = oldest.pop() else {
                break;
            };
            self.lanes.unqueue(lane_key);
            if let Some(entry) = self.lanes.take(lane_key, position) {
                self.dead_letter(lane_key, entry, now_ms);
                self.progress.backlog_overflowed += 1;
            }
            let lane = self.lanes.lane(lane_key);
            if lane.oldest_idle().is_none() && lane.on_disk {
                self.apply_batches()?;
                self.refill(lane_key, now_ms)?;
            }
            match self
                .lanes
                .map
                .get(&lane_key)
                .and_then(|lane| lane.oldest_idle())
            {
                Some(next) => oldest.push(Reverse((next, lane_key))),
                None => self.lanes.schedule(lane_key, now_ms),
            }
            self.lanes.schedule(lane_key, now_ms);
        }
        self.apply_batches()?;
        let moved = self.progress.backlog_overflowed - before;
        if now_ms - self.backlog_warned_at_ms >= BACKLOG_WARN_EVERY_MS {
            self.backlog_warned_at_ms = now_ms;
            tracing::warn!(subscription = %self.id, moved, backlog_events_max = backlog_max, total = self.progress.backlog_overflowed, "delivery backlog full: the oldest pending events went to dead letters");
        }
        Ok(())
    }

    /// Rebuilds the lanes and counts from the durable state.
    fn recover(&mut self) -> Result<(), StoreError> {
        let trees = &self.context.trees;
        let prefix = self.number.to_be_bytes();
        let mut previous_lane = None;
        let mut count = 0;
        for key in trees.pending.scan_prefix(prefix).keys() {
            let key = key?;
            count += 1;
            let Some((lane_key, _)) = state::decode_pending_key(&key) else {
                continue;
            };
            if previous_lane != Some(lane_key) {
                previous_lane = Some(lane_key);
                self.lanes.want_refill(lane_key);
            }
        }
        self.pending_count = count;
        self.attempt_records = trees.attempts.scan_prefix(prefix).keys().count() as u64;
        let now = now_ms();
        for lane_key in self.lanes.take_refills() {
            self.refill(lane_key, now)?;
        }
        if self.pending_count > 0 {
            tracing::info!(subscription = %self.id, pending = self.pending_count, cursor = self.progress.cursor, "delivery resumes");
        }
        Ok(())
    }

    /// Lag, the retention hold, read-backs put off by memory, and the disabling check.
    fn tick(&mut self, now_ms: i64) -> Result<(), StoreError> {
        self.ticked_at_ms = now_ms;
        let mut oldest_position = None::<u64>;
        let mut oldest_at_ms = None::<i64>;
        let source = Arc::clone(&self.context.source);
        for lane in self.lanes.map.values_mut() {
            let Some(head) = lane.entries.front_mut() else {
                continue;
            };
            if head.event.is_none() {
                head.event = source.get(head.position)?.map(Arc::new);
            }
            oldest_position = Some(oldest_position.map_or(head.position, |p| p.min(head.position)));
            if let Some(event) = &head.event {
                oldest_at_ms = Some(oldest_at_ms.map_or(event.at_ms, |at| at.min(event.at_ms)));
            }
        }
        let lag_ms = oldest_at_ms.map_or(0, |at_ms| now_ms.saturating_sub(at_ms).max(0));
        self.shared
            .lag_seconds
            .store(lag_ms as u64 / 1_000, std::sync::atomic::Ordering::Relaxed);
        let hold_at = oldest_position.map_or(self.progress.cursor, |position| {
            self.progress.cursor.min(position.saturating_sub(1))
        });
        self.context.source.hold(&self.id, hold_at);
        self.check_failing(now_ms)
    }

    /// Disables the subscription once it failed without a success for the period.
    fn check_failing(&mut self, now_ms: i64) -> Result<(), StoreError> {
        let since_ms = self.progress.failing_since_ms;
        let period_ms = i64::try_from(self.context.settings.disable_after_failing_for.as_millis())
            .unwrap_or(i64::MAX);
        if !self.subscription.enabled || since_ms == 0 || now_ms - since_ms < period_ms {
            return Ok(());
        }
        self.subscription.enabled = false;
        let trees = &self.context.trees;
        if let Some(bytes) = trees.subscriptions.get(self.id.as_bytes())? {
            if let Some(mut record) = SubscriptionRecord::decode(&bytes) {
                record.enabled = false;
                record.disabled_for_failing = true;
                trees
                    .subscriptions
                    .insert(self.id.as_bytes(), record.encode())?;
            }
        }
        self.shared
            .disabled_for_failing
            .store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(subscription = %self.id, failing_since_ms = since_ms, "subscription disabled: it failed without a success for the configured period");
        self.dirty = true;
        Ok(())
    }

    fn publish(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let shared = &self.shared;
        shared.cursor.store(self.progress.cursor, Relaxed);
        shared.delivered.store(self.progress.delivered, Relaxed);
        shared
            .failed_attempts
            .store(self.progress.failed_attempts, Relaxed);
        shared
            .dead_lettered
            .store(self.progress.dead_lettered, Relaxed);
        shared
            .backlog_overflowed
            .store(self.progress.backlog_overflowed, Relaxed);
        shared.pending.store(self.pending_count, Relaxed);
        shared.enabled.store(self.subscription.enabled, Relaxed);
        let breaker = match self.breaker.state() {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        };
        shared.breaker.store(breaker, Relaxed);
    }
}

/// The end of the flush under way (never resolves without one).
async fn wait_flush(flushing: &mut Option<oneshot::Receiver<FlushOutcome>>) -> FlushOutcome {
    match flushing {
        Some(receiver) => receiver.await.unwrap_or_else(|_| Err(flush_lost())),
        None => std::future::pending().await,
    }
}

fn flush_lost() -> StoreError {
    StoreError::SyncFailed("the delivery state's flush thread stopped".to_owned())
}

fn pending_value(entry: &Entry) -> [u8; 24] {
    PendingValue {
        attempts: entry.attempts,
        records: entry.records,
        next_attempt_at_ms: entry.next_attempt_at_ms,
        activity: entry.activity,
    }
    .encode()
}

//! Delivery of durable events out of the core: one mechanism for webhook endpoints and for
//! the server's internal consumers (refunds, fulfillment, the ledger, external sync).
//!
//! A [`Subscription`] reads the event store from its durable cursor, keeps the events its
//! filter matches, and hands each to its [`Sink`]: in order per activity (or in total
//! order), retrying failures on a schedule with jitter, dead-lettering what exhausts the
//! schedule, and pausing behind a circuit breaker while the sink keeps failing. Its
//! cursor, pending attempts and dead letters live in the event store's database, so a
//! restart resumes without losing an event (at worst one is delivered again, with the same
//! id).
//!
//! The parts: `source` (what the engine needs of the event store), `state` (the durable
//! layout), `lanes` (the in-memory heads of the pending messages), `worker` (one task per
//! subscription: read, order, attempt, retry, flush), `retry` (schedule, jitter, rate
//! limit), `breaker`, `consumer` (internal consumers), `metrics`. The engine runs on a
//! runtime of its own whose threads run at a lowered priority, so delivery uses the CPU
//! the grab path leaves.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use playcore_snapshots::event_store::{EventRecord, EventStore};
use tokio::sync::mpsc;

pub(crate) use consumer::Consumer;
pub(crate) use source::EventSource;
use state::{DeadValue, PendingValue, Progress, SubscriptionRecord, Trees};
use worker::{Command, Context, Shared, Worker};

mod breaker;
mod consumer;
mod flush;
mod lanes;
mod metrics;
mod pressure;
mod retry;
pub(crate) mod source;
mod state;
mod worker;

#[cfg(test)]
mod tests;

/// One event handed to a sink.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: Arc<EventRecord>,
    /// 1 for the first attempt.
    pub attempt: u32,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The sink took the event (a webhook receiver answered 2xx in time).
    Acknowledged,
    /// Anything else: a status outside 2xx, a timeout, a refused or dropped connection.
    Failed {
        status_code: Option<u16>,
        error: String,
    },
}

/// An attempt's outcome and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    pub outcome: AttemptOutcome,
    pub latency: Duration,
}

/// Where a subscription's events go.
pub trait Sink: Send + Sync + 'static {
    fn deliver(&self, delivery: Delivery) -> Pin<Box<dyn Future<Output = AttemptResult> + Send>>;
}

/// Which events a subscription takes. Empty lists match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionFilter {
    pub event_types: Vec<String>,
    pub activity_ids: Vec<u64>,
    pub store_ids: Vec<String>,
}

/// The order a subscription's events are delivered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordering {
    /// An activity's next event waits until the previous one was acknowledged or
    /// dead-lettered; other activities are not held up (webhook endpoints).
    PerActivity,
    /// Every event waits for the one before it (internal consumers).
    Total,
}

/// A subscription as its owner defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// `ep_…` for webhook endpoints, `consumer:<name>` for internal consumers.
    pub id: String,
    pub filter: SubscriptionFilter,
    pub ordering: Ordering,
    /// A disabled subscription sends nothing; its cursor stays (and holds retention).
    pub enabled: bool,
    pub rate_limit_per_second: Option<u32>,
}

/// A message's state for one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    Pending,
    Delivered,
    DeadLettered,
}

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub at_ms: i64,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    /// When the next attempt is due, if one is scheduled.
    pub next_attempt_at_ms: Option<i64>,
}

/// A message (one event for one subscription) with its attempts, newest last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub position: u64,
    pub state: MessageState,
    pub attempts: Vec<AttemptRecord>,
}

/// The circuit breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// A subscription's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionStatus {
    pub id: String,
    pub enabled: bool,
    pub cursor_position: u64,
    pub delivered: u64,
    pub failed_attempts: u64,
    pub dead_lettered: u64,
    pub pending: u64,
    pub lag_events: u64,
    pub lag_seconds: u64,
    pub breaker: BreakerState,
    /// Set when the subscription failed without a success for the configured period and
    /// was disabled.
    pub disabled_for_failing: bool,
    /// Events moved to dead letters because the backlog was full.
    pub backlog_overflowed: u64,
}

/// Why a request about a subscription was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("no subscription {0}")]
    UnknownSubscription(String),
    #[error("storage: {0}")]
    Store(#[from] playcore_snapshots::StoreError),
    #[error("the delivery runtime could not start: {0}")]
    Runtime(String),
}

impl From<sled::Error> for DeliveryError {
    fn from(error: sled::Error) -> DeliveryError {
        DeliveryError::Store(error.into())
    }
}

/// Settings of the engine (from the `[webhooks]` configuration section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySettings {
    pub attempt_timeout: Duration,
    /// Delay before each retry; the first attempt is immediate. After the last, the message
    /// is dead-lettered.
    pub retry_schedule: Vec<Duration>,
    pub concurrency_per_subscription: usize,
    pub concurrency_total: usize,
    /// Events a subscription may have pending at most; past it the oldest go to dead letters.
    pub backlog_events_max: u64,
    pub breaker_failures_to_open: u32,
    pub breaker_open_for: Duration,
    pub disable_after_failing_for: Duration,
}

impl Default for DeliverySettings {
    /// The documented defaults: a 15 s attempt timeout; retries after 5 s, 5 min, 30 min,
    /// 2 h, 5 h, 10 h and 10 h; five consecutive failures open the breaker for a minute;
    /// five days of failure without a success disable the subscription.
    fn default() -> DeliverySettings {
        let minutes = |count: u64| Duration::from_secs(count * 60);
        DeliverySettings {
            attempt_timeout: Duration::from_secs(15),
            retry_schedule: vec![
                Duration::from_secs(5),
                minutes(5),
                minutes(30),
                minutes(120),
                minutes(300),
                minutes(600),
                minutes(600),
            ],
            concurrency_per_subscription: 64,
            concurrency_total: 512,
            backlog_events_max: 1_000_000,
            breaker_failures_to_open: 5,
            breaker_open_for: Duration::from_secs(60),
            disable_after_failing_for: Duration::from_secs(5 * 24 * 3_600),
        }
    }
}

/// A running subscription as the engine sees it.
struct Running {
    number: u32,
    total_order: bool,
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
}

/// The engine. Owns one task per subscription.
pub struct Deliveries {
    context: Arc<Context>,
    runtime: std::sync::Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    running: std::sync::Mutex<std::collections::HashMap<String, Running>>,
    next_number: std::sync::atomic::AtomicU32,
    /// Subscriptions whose series [`Deliveries::export_metrics`] set.
    exported: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// Threads of the engine's runtime.
const RUNTIME_THREADS: usize = 2;
/// How long [`Deliveries::shutdown`] waits for the tasks' last flush.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

impl Deliveries {
    pub fn start(
        store: EventStore,
        settings: DeliverySettings,
    ) -> Result<Arc<Deliveries>, DeliveryError> {
        Deliveries::start_with(Arc::new(store), settings)
    }

    /// [`Deliveries::start`] on any [`EventSource`].
    pub(crate) fn start_with(
        source: Arc<dyn EventSource>,
        settings: DeliverySettings,
    ) -> Result<Arc<Deliveries>, DeliveryError> {
        let trees = Trees::open(source.as_ref())?;
        let next_number = prepare(&trees, source.as_ref())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("playcore-delivery")
            // Flushes run here, at most one per subscription at a time.
            .max_blocking_threads(4)
            .on_thread_start(lower_priority)
            .enable_all()
            .build()
            .map_err(|error| DeliveryError::Runtime(error.to_string()))?;
        let total = Arc::new(tokio::sync::Semaphore::new(
            settings.concurrency_total.max(1),
        ));
        let context = Context {
            source,
            trees,
            settings,
            total,
            pressure: pressure::Pressure::default(),
        };
        Ok(Arc::new(Deliveries {
            context: Arc::new(context),
            handle: runtime.handle().clone(),
            runtime: std::sync::Mutex::new(Some(runtime)),
            running: std::sync::Mutex::default(),
            next_number: std::sync::atomic::AtomicU32::new(next_number),
            exported: std::sync::Mutex::default(),
        }))
    }

    /// Lets the engine yield to a rush: `appended_seq` reads the journal's appended seq
    /// (see `pressure`). Without it, the engine never yields.
    pub fn yield_to_trading(&self, appended_seq: impl Fn() -> u64 + Send + Sync + 'static) {
        self.context.pressure.set_probe(Box::new(appended_seq));
    }

    /// Creates the subscription (its cursor starts at the newest event: it receives what
    /// happens from now on) or updates it (the cursor stays). After a restart, owners put
    /// their subscriptions again: a stored one resumes from its durable state.
    pub fn put(
        &self,
        subscription: Subscription,
        sink: Arc<dyn Sink>,
    ) -> Result<(), DeliveryError> {
        let mut running = lock(&self.running);
        let trees = &self.context.trees;
        let key = subscription.id.as_bytes();
        let stored = trees.subscriptions.get(key)?;
        let stored = stored.and_then(|bytes| SubscriptionRecord::decode(&bytes));
        let record = match &stored {
            Some(stored) => {
                let mut record = SubscriptionRecord::new(stored.number, &subscription);
                record.total_order = stored.total_order;
                let was_disabled = stored.disabled_for_failing && !stored.enabled;
                record.disabled_for_failing = was_disabled && !subscription.enabled;
                record
            }
            None => {
                let number = self
                    .next_number
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                SubscriptionRecord::new(number, &subscription)
            }
        };
        if stored.is_none() {
            let progress = Progress {
                cursor: self.context.source.last_position(),
                ..Progress::default()
            };
            trees
                .progress
                .insert(record.number.to_be_bytes(), &progress.encode()[..])?;
        }
        trees.subscriptions.insert(key, record.encode())?;
        trees.subscriptions.flush()?;
        if let Some(existing) = running.get(&subscription.id) {
            if !existing
                .shared
                .stopped
                .load(std::sync::atomic::Ordering::Acquire)
            {
                let _ = existing.commands.send(Command::Update(subscription, sink));
                return Ok(());
            }
        }
        let progress = trees
            .progress
            .get(record.number.to_be_bytes())?
            .and_then(|bytes| Progress::decode(&bytes))
            .unwrap_or_default();
        let handle = self.spawn(&subscription.id, &record, progress, sink);
        running.insert(subscription.id, handle);
        Ok(())
    }

    fn spawn(
        &self,
        id: &str,
        record: &SubscriptionRecord,
        progress: Progress,
        sink: Arc<dyn Sink>,
    ) -> Running {
        let (commands, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        shared
            .cursor
            .store(progress.cursor, std::sync::atomic::Ordering::Relaxed);
        shared
            .enabled
            .store(record.enabled, std::sync::atomic::Ordering::Relaxed);
        shared.disabled_for_failing.store(
            record.disabled_for_failing,
            std::sync::atomic::Ordering::Relaxed,
        );
        let worker = Worker::new(
            id.to_owned(),
            record,
            progress,
            sink,
            Arc::clone(&self.context),
            Arc::clone(&shared),
            receiver,
        );
        // Held from the start until the task knows its oldest pending event.
        self.context.source.hold(id, 0);
        self.handle.spawn(worker.run());
        Running {
            number: record.number,
            total_order: record.total_order,
            commands,
            shared,
        }
    }

    /// Stops the subscription and deletes its state.
    pub fn remove(&self, id: &str) -> Result<(), DeliveryError> {
        let mut running = lock(&self.running);
        let trees = &self.context.trees;
        let stored = trees.subscriptions.remove(id.as_bytes())?;
        let stored = stored.and_then(|bytes| SubscriptionRecord::decode(&bytes));
        trees.subscriptions.flush()?;
        if let Some(handle) = running.remove(id) {
            let stopped = handle
                .shared
                .stopped
                .load(std::sync::atomic::Ordering::Acquire);
            if !stopped && handle.commands.send(Command::Remove).is_ok() {
                return Ok(());
            }
            trees.delete(handle.number)?;
            self.context.source.release(id);
            return Ok(());
        }
        match stored {
            Some(record) => {
                trees.delete(record.number)?;
                self.context.source.release(id);
                Ok(())
            }
            None => Err(DeliveryError::UnknownSubscription(id.to_owned())),
        }
    }

    /// The figures of a subscription put since the engine started (`None` otherwise).
    pub fn status(&self, id: &str) -> Option<SubscriptionStatus> {
        use std::sync::atomic::Ordering::Relaxed;
        let running = lock(&self.running);
        let shared = &running.get(id)?.shared;
        let pending = shared.pending.load(Relaxed);
        Some(SubscriptionStatus {
            id: id.to_owned(),
            enabled: shared.enabled.load(Relaxed),
            cursor_position: shared.cursor.load(Relaxed),
            delivered: shared.delivered.load(Relaxed),
            failed_attempts: shared.failed_attempts.load(Relaxed),
            dead_lettered: shared.dead_lettered.load(Relaxed),
            pending,
            lag_events: pending,
            lag_seconds: shared.lag_seconds.load(Relaxed),
            breaker: match shared.breaker.load(Relaxed) {
                0 => BreakerState::Closed,
                1 => BreakerState::HalfOpen,
                _ => BreakerState::Open,
            },
            disabled_for_failing: shared.disabled_for_failing.load(Relaxed),
            backlog_overflowed: shared.backlog_overflowed.load(Relaxed),
        })
    }

    /// Every running subscription's status, in id order.
    pub fn statuses(&self) -> Vec<SubscriptionStatus> {
        let mut ids: Vec<String> = lock(&self.running).keys().cloned().collect();
        ids.sort_unstable();
        ids.iter().filter_map(|id| self.status(id)).collect()
    }

    /// The subscription's number and order, running or only stored.
    fn number_of(&self, id: &str) -> Result<(u32, bool), DeliveryError> {
        if let Some(handle) = lock(&self.running).get(id) {
            return Ok((handle.number, handle.total_order));
        }
        let stored = self.context.trees.subscriptions.get(id.as_bytes())?;
        let record = stored.and_then(|bytes| SubscriptionRecord::decode(&bytes));
        let record = record.ok_or_else(|| DeliveryError::UnknownSubscription(id.to_owned()))?;
        Ok((record.number, record.total_order))
    }

    /// Messages after `after_position` that had an attempt, oldest first, with their
    /// attempts (the newest [`worker::ATTEMPT_RECORDS_PER_MESSAGE_MAX`] of each).
    pub fn messages(
        &self,
        id: &str,
        after_position: u64,
        limit: usize,
    ) -> Result<Vec<Message>, DeliveryError> {
        let (number, _) = self.number_of(id)?;
        let trees = &self.context.trees;
        let start = state::attempt_key(number, after_position.saturating_add(1), 0);
        let end = (number + 1).to_be_bytes();
        let mut messages: Vec<Message> = Vec::new();
        for item in trees.attempts.range(start.to_vec()..end.to_vec()) {
            let (key, value) = item?;
            let Some(position) = state::decode_position(&key) else {
                continue;
            };
            let Some(record) = state::decode_attempt(&value) else {
                continue;
            };
            let full = messages.len() == limit;
            match messages.last_mut() {
                Some(message) if message.position == position => message.attempts.push(record),
                _ if full => break,
                _ => messages.push(Message {
                    position,
                    state: MessageState::Pending,
                    attempts: vec![record],
                }),
            }
        }
        for message in &mut messages {
            message.state = self.state_of(number, message)?;
        }
        Ok(messages)
    }

    /// A message's state from its records: dead if listed there, delivered if its last
    /// attempt was acknowledged, pending otherwise.
    fn state_of(&self, number: u32, message: &Message) -> Result<MessageState, DeliveryError> {
        let dead_key = state::position_key(number, message.position);
        if self.context.trees.dead.contains_key(dead_key)? {
            return Ok(MessageState::DeadLettered);
        }
        let acknowledged = message
            .attempts
            .last()
            .is_some_and(|attempt| attempt.error.is_none());
        Ok(if acknowledged {
            MessageState::Delivered
        } else {
            MessageState::Pending
        })
    }

    pub fn message(&self, id: &str, position: u64) -> Result<Option<Message>, DeliveryError> {
        let (number, total_order) = self.number_of(id)?;
        let trees = &self.context.trees;
        let attempts = attempts_of(trees, number, position)?;
        let mut message = Message {
            position,
            state: MessageState::Pending,
            attempts,
        };
        if !message.attempts.is_empty() {
            message.state = self.state_of(number, &message)?;
            return Ok(Some(message));
        }
        if trees
            .dead
            .contains_key(state::position_key(number, position))?
        {
            message.state = MessageState::DeadLettered;
            return Ok(Some(message));
        }
        let lane = if total_order {
            Some(0)
        } else {
            let event = self.context.source.get(position)?;
            event.map(|event| event.activity)
        };
        let pending = match lane {
            Some(lane) => trees
                .pending
                .contains_key(state::pending_key(number, lane, position))?,
            None => false,
        };
        Ok(pending.then_some(message))
    }

    /// Dead letters after `after_position`, oldest first.
    pub fn dead_letters(
        &self,
        id: &str,
        after_position: u64,
        limit: usize,
    ) -> Result<Vec<Message>, DeliveryError> {
        let (number, _) = self.number_of(id)?;
        let trees = &self.context.trees;
        let start = state::position_key(number, after_position.saturating_add(1));
        let end = (number + 1).to_be_bytes();
        let mut letters = Vec::new();
        for item in trees.dead.range(start.to_vec()..end.to_vec()).take(limit) {
            let (key, _) = item?;
            let Some(position) = state::decode_position(&key) else {
                continue;
            };
            letters.push(Message {
                position,
                state: MessageState::DeadLettered,
                attempts: attempts_of(trees, number, position)?,
            });
        }
        Ok(letters)
    }

    /// Delivers a dead letter again (a new schedule of attempts). False if it was not one.
    pub fn redeliver(&self, id: &str, position: u64) -> Result<bool, DeliveryError> {
        let (number, total_order) = self.number_of(id)?;
        let lane = self.move_to_pending(number, total_order, position)?;
        if let Some(lane) = lane {
            if let Some(handle) = lock(&self.running).get(id) {
                let _ = handle.commands.send(Command::Redelivered { lane });
            }
        }
        Ok(lane.is_some())
    }

    /// Moves a dead letter back to the pending tree, atomically; its lane if it was one.
    fn move_to_pending(
        &self,
        number: u32,
        total_order: bool,
        position: u64,
    ) -> Result<Option<u64>, DeliveryError> {
        use sled::transaction::{TransactionError, Transactional};
        let trees = &self.context.trees;
        let dead_key = state::position_key(number, position);
        let now = playcore_actors::activity_actor::now_ms();
        let moved = (&trees.dead, &trees.pending).transaction(|(dead, pending)| {
            let Some(value) = dead.remove(&dead_key[..])? else {
                return Ok(None);
            };
            let Some(letter) = DeadValue::decode(&value) else {
                return Ok(None);
            };
            let lane = if total_order { 0 } else { letter.activity };
            let value = PendingValue {
                attempts: 0,
                records: letter.records,
                next_attempt_at_ms: now,
                activity: letter.activity,
            };
            let key = state::pending_key(number, lane, position);
            pending.insert(&key[..], &value.encode()[..])?;
            Ok(Some(lane))
        });
        match moved {
            Ok(lane) => Ok(lane),
            Err(TransactionError::Storage(error)) => Err(DeliveryError::Store(error.into())),
            Err(TransactionError::Abort(())) => Ok(None),
        }
    }

    /// Delivers again every dead letter whose last attempt failed at or after `since_ms`.
    pub fn redeliver_since(&self, id: &str, since_ms: i64) -> Result<u64, DeliveryError> {
        let (number, _) = self.number_of(id)?;
        let mut positions = Vec::new();
        for item in self.context.trees.dead.scan_prefix(number.to_be_bytes()) {
            let (key, value) = item?;
            let letter = DeadValue::decode(&value);
            if letter.is_some_and(|letter| letter.failed_at_ms >= since_ms) {
                positions.extend(state::decode_position(&key));
            }
        }
        let mut count = 0;
        for position in positions {
            if self.redeliver(id, position)? {
                count += 1;
            }
        }
        Ok(count)
    }

    /// Registers an internal consumer: a subscription `consumer:<name>` in total order
    /// whose sink is the consumer's `handle`.
    pub fn register_consumer<C: Consumer>(&self, consumer: Arc<C>) -> Result<(), DeliveryError> {
        let subscription = Subscription {
            id: format!("consumer:{}", consumer.name()),
            filter: consumer.filter(),
            ordering: Ordering::Total,
            enabled: true,
            rate_limit_per_second: None,
        };
        self.put(subscription, Arc::new(consumer::ConsumerSink(consumer)))
    }

    /// Stops every task; state stays (each task flushes first).
    pub fn shutdown(&self) {
        if lock(&self.runtime).is_none() {
            return;
        }
        let handles: Vec<Arc<Shared>> = {
            let running = lock(&self.running);
            for handle in running.values() {
                let _ = handle.commands.send(Command::Stop);
            }
            running
                .values()
                .map(|handle| Arc::clone(&handle.shared))
                .collect()
        };
        let deadline = std::time::Instant::now() + SHUTDOWN_WAIT;
        let all_stopped = || {
            handles
                .iter()
                .all(|shared| shared.stopped.load(std::sync::atomic::Ordering::Acquire))
        };
        while !all_stopped() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        if let Some(runtime) = lock(&self.runtime).take() {
            runtime.shutdown_background();
        }
    }

    /// Stops every task at once without a last flush, as a crash would.
    #[cfg(test)]
    pub(crate) fn abandon(&self) {
        if let Some(runtime) = lock(&self.runtime).take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Deliveries {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Cleans up what a removal cut short (state of a number no subscription has) and
/// returns the first free subscription number.
fn prepare(trees: &Trees, source: &dyn EventSource) -> Result<u32, DeliveryError> {
    let mut numbers = std::collections::HashSet::new();
    let mut next = 1;
    for item in trees.subscriptions.iter() {
        let (id, value) = item?;
        if let Some(record) = SubscriptionRecord::decode(&value) {
            numbers.insert(record.number);
            next = next.max(record.number + 1);
            // Held until the owner puts the subscription again and its task takes over.
            source.hold(&String::from_utf8_lossy(&id), 0);
        }
    }
    for key in trees.progress.iter().keys() {
        let key = key?;
        let Ok(bytes) = <[u8; 4]>::try_from(&key[..]) else {
            continue;
        };
        let number = u32::from_be_bytes(bytes);
        next = next.max(number + 1);
        if !numbers.contains(&number) {
            trees.delete(number)?;
        }
    }
    Ok(next)
}

fn attempts_of(
    trees: &Trees,
    number: u32,
    position: u64,
) -> Result<Vec<AttemptRecord>, DeliveryError> {
    let mut attempts = Vec::new();
    for item in trees
        .attempts
        .scan_prefix(state::position_key(number, position))
    {
        let (_, value) = item?;
        attempts.extend(state::decode_attempt(&value));
    }
    Ok(attempts)
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Puts the calling thread in the background class (see `crate::threads`).
fn lower_priority() {
    if let Err(error) = crate::threads::enter_background_class() {
        tracing::debug!(%error, "delivery threads keep their scheduling class");
    }
}

//! Delivery of durable events out of the core: one mechanism for webhook endpoints and for
//! the server's internal consumers (refunds, fulfillment, the ledger, external sync).
//!
//! INTERFACE SKELETON: the types and signatures below are the contract `webhooks/` and
//! the routes code against. Bodies marked `todo!` are to be filled.
//!
//! A [`Subscription`] reads the event store from its durable cursor, keeps the events its
//! filter matches, and hands each to its [`Sink`]: in order per activity (or in total
//! order), retrying failures on a schedule with jitter, dead-lettering what exhausts the
//! schedule, and pausing behind a circuit breaker while the sink keeps failing. Its
//! cursor, pending attempts and dead letters live in the event store's database, so a
//! restart resumes without losing an event (at worst one is delivered again, with the same
//! id).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use playcore_snapshots::event_store::{EventRecord, EventStore};

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
}

/// Why a request about a subscription was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("no subscription {0}")]
    UnknownSubscription(String),
    #[error("storage: {0}")]
    Store(#[from] playcore_snapshots::StoreError),
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

/// The engine. Owns one task per subscription.
pub struct Deliveries {
    _private: (),
}

impl Deliveries {
    pub fn start(
        _store: EventStore,
        _settings: DeliverySettings,
    ) -> Result<Arc<Deliveries>, DeliveryError> {
        todo!("delivery engine")
    }

    /// Creates the subscription (its cursor starts at the newest event: it receives what
    /// happens from now on) or updates it (the cursor stays).
    pub fn put(
        &self,
        _subscription: Subscription,
        _sink: Arc<dyn Sink>,
    ) -> Result<(), DeliveryError> {
        todo!("delivery engine")
    }

    /// Stops the subscription and deletes its state.
    pub fn remove(&self, _id: &str) -> Result<(), DeliveryError> {
        todo!("delivery engine")
    }

    pub fn status(&self, _id: &str) -> Option<SubscriptionStatus> {
        todo!("delivery engine")
    }

    /// Messages after `after_position`, oldest first, with their attempts.
    pub fn messages(
        &self,
        _id: &str,
        _after_position: u64,
        _limit: usize,
    ) -> Result<Vec<Message>, DeliveryError> {
        todo!("delivery engine")
    }

    pub fn message(&self, _id: &str, _position: u64) -> Result<Option<Message>, DeliveryError> {
        todo!("delivery engine")
    }

    /// Dead letters after `after_position`, oldest first.
    pub fn dead_letters(
        &self,
        _id: &str,
        _after_position: u64,
        _limit: usize,
    ) -> Result<Vec<Message>, DeliveryError> {
        todo!("delivery engine")
    }

    /// Delivers a dead letter again (a new schedule of attempts). False if it was not one.
    pub fn redeliver(&self, _id: &str, _position: u64) -> Result<bool, DeliveryError> {
        todo!("delivery engine")
    }

    /// Delivers again every dead letter whose last attempt failed at or after `since_ms`.
    pub fn redeliver_since(&self, _id: &str, _since_ms: i64) -> Result<u64, DeliveryError> {
        todo!("delivery engine")
    }

    /// Stops every task; state stays.
    pub fn shutdown(&self) {
        todo!("delivery engine")
    }
}

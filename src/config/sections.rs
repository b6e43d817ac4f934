//! The tables of the settings other than `[auth]` and `[approval]`; each field is documented
//! for operators in `config/default.toml`.

use std::path::PathBuf;

use serde::Deserialize;

use super::{string_from_scalar, Secret};

/// The payment secret shipped in `config/default.toml`; refused in production too, since
/// anyone could sign payment notifications with it.
pub const DEV_PAYMENT_SECRET: &str = "dev-payment-secret";
/// Thirty days: terminal orders older than this leave memory by default.
pub(super) const ARCHIVE_AFTER_SECONDS_DEFAULT: u64 = 30 * 86_400;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// `HOST:PORT` to listen on; port 0 picks a free port (tests).
    #[serde(deserialize_with = "string_from_scalar")]
    pub bind: String,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    /// Largest request body; bigger gets 413 PAYLOAD_TOO_LARGE before it is buffered.
    pub body_limit_bytes: usize,
    /// How long in-flight requests may finish after SIGTERM / Ctrl-C.
    pub shutdown_timeout_seconds: u64,
    /// The Linux scheduling policy of every server thread (see [`ThreadPolicy`]).
    pub thread_policy: ThreadPolicy,
    /// Origins (`scheme://host[:port]`) whose pages may call the API from a browser, such
    /// as an admin console served elsewhere; none by default.
    pub cors_allowed_origins: Vec<String>,
    /// Clients reach the server over TLS (through a terminating proxy): replies carry
    /// `Strict-Transport-Security`.
    pub served_over_tls: bool,
}

/// The Linux scheduling policy the server's threads run under.
///
/// A request crosses threads several times (HTTP worker, activity actor, journal writer,
/// back). Under `normal` (`SCHED_OTHER`) each wake-up preempts the thread that woke it, so
/// on a busy machine the actor runs once per request; under `batch` (`SCHED_BATCH`) a woken
/// thread waits for the running one to yield, then handles everything that queued
/// meanwhile (measurements in docs/benchmarks.md). Other systems ignore the setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThreadPolicy {
    /// `SCHED_BATCH`: no wake-up preemption (the default).
    Batch,
    /// `SCHED_OTHER`: the kernel's default.
    Normal,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    /// Where the journal and snapshots live.
    pub data_dir: PathBuf,
    /// Whether a reply waits for the journal to reach the disk.
    pub durability: Durability,
    /// In relaxed mode, how often the journal is flushed.
    pub flush_interval_ms: u64,
    /// In fsync mode, how long a small batch of journal entries gathers before its sync.
    pub group_commit_window_us: u64,
    /// Bound on journal events kept before a snapshot must allow truncation.
    pub journal_capacity_events: u64,
    /// A snapshot is taken after this many seconds …
    pub snapshot_interval_seconds: u64,
    /// … or this many events, whichever comes first; bounds recovery time.
    pub snapshot_every_events: u64,
    /// The free-space guard refuses new writes while the data directory's file system has
    /// less free space than the larger of this …
    pub free_space_reserve_bytes: u64,
    /// … and this percentage of its size (see `playcore_snapshots::space`).
    pub free_space_reserve_percent: u8,
    /// Testing only (refused in production): the data-file sync with this number (1 = the
    /// first after recovery) fails with an I/O error; 0 = never.
    pub fault_failing_sync_number: u64,
}

/// The durability mode of the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Every reply waits until the events it depends on are fsynced: a 2xx never reveals
    /// state a crash could lose.
    Fsync,
    /// The journal is flushed every `flush_interval_ms`; a crash may lose acknowledged
    /// writes of the last interval. For load tests and demos.
    Relaxed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorSettings {
    /// Threads the activity and group actors are spread over; 0 = one per core.
    pub arbiters: usize,
    /// Bounded mailbox per actor: when full, 503 OVERLOADED instead of queueing forever.
    pub mailbox_capacity: usize,
    /// Bound on live activities (every map has a limit).
    pub max_activities: usize,
    /// Bound on orders one activity keeps in memory.
    pub max_orders_per_activity: usize,
    /// Resolution of the deadline queue (order timeouts, group expiry, start/end).
    pub timer_tick_ms: u64,
}

/// Bounds of the platform-wide eligibility indexes (defaults in `config/default.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EligibilitySettings {
    /// Users money ever arrived from, kept for "new users only". At the bound the index
    /// is saturated and "new users only" refuses every user it does not know (fails
    /// closed) until a restart with a larger bound.
    pub max_paid_users: usize,
    /// Users holding an order in a mutually exclusive activity. At the bound new claims
    /// get 503 OVERLOADED.
    pub max_exclusive_users: usize,
}

impl Default for EligibilitySettings {
    fn default() -> Self {
        let defaults = playcore_actors::eligibility::EligibilityOptions::default();
        Self {
            max_paid_users: defaults.paid_users_max,
            max_exclusive_users: defaults.exclusive_users_max,
        }
    }
}

/// The lifecycle scheduler's health supervisor (defaults in `config/default.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerSettings {
    /// A health run starts this often.
    pub health_interval_seconds: u64,
    /// An unpaid order or an open group this long past its deadline is stuck (the timer
    /// loop should have handled it); at least two timer ticks, so a deadline that is due
    /// in the current tick is never reported.
    pub overdue_grace_ms: u64,
    /// Journal entries assigned but not yet durable above which the journal lags.
    pub journal_lag_events_max: u64,
    /// Pending journal events, as a percentage of `storage.journal_capacity_events`,
    /// above which the journal is near its bound.
    pub journal_pending_percent_max: u64,
    /// Mailbox depth, as a percentage of `actors.mailbox_capacity`, above which an
    /// activity's mailbox is deep.
    pub mailbox_depth_percent_max: u64,
    /// Orders and groups one health run looks at per activity (the bound on its work;
    /// a cursor carries on from there in the next run).
    pub scan_items_per_activity_max: usize,
    /// An archive run (terminal orders into the cold store) starts this often.
    pub archive_interval_seconds: u64,
    /// A terminal order untouched for this long is archived (default 30 days).
    pub archive_after_seconds: u64,
    /// Orders per cold-store write and per ORDERS_ARCHIVED event.
    pub archive_batch_orders_max: usize,
    /// Orders one archive run archives at most, over all activities.
    pub archive_orders_per_run_max: usize,
    /// Order slots one read in an activity's actor examines at most (the bound on the
    /// actor's pause for the archiver).
    pub archive_scan_orders_max: usize,
    /// A delivery subscription (webhook endpoint, internal consumer) with more events than
    /// this not yet delivered lags (an alert).
    pub delivery_lag_events_max: u64,
    /// A delivery subscription whose oldest undelivered event is older than this lags.
    pub delivery_lag_seconds_max: u64,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            health_interval_seconds: 30,
            overdue_grace_ms: 2_000,
            journal_lag_events_max: 100_000,
            journal_pending_percent_max: 80,
            mailbox_depth_percent_max: 80,
            scan_items_per_activity_max: 10_000,
            archive_interval_seconds: 600,
            archive_after_seconds: ARCHIVE_AFTER_SECONDS_DEFAULT,
            archive_batch_orders_max: 1_000,
            archive_orders_per_run_max: 100_000,
            archive_scan_orders_max: 100_000,
            delivery_lag_events_max: 100_000,
            delivery_lag_seconds_max: 300,
        }
    }
}

/// Backups of the running server (defaults in `config/default.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSettings {
    /// Where backups are written, one folder each.
    pub directory: PathBuf,
    /// A backup is written this often while serving; 0 = no schedule (on demand only).
    pub interval_minutes: u64,
    /// Backups kept; older ones are removed after each new one is verified.
    pub keep: usize,
}

impl Default for BackupSettings {
    fn default() -> Self {
        Self {
            directory: PathBuf::from("./backups"),
            interval_minutes: 15,
            keep: 8,
        }
    }
}

/// The event store's retention (defaults in `config/default.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSettings {
    /// Events older than this many days may be removed (never one a subscriber has not
    /// taken yet).
    pub retention_days: u64,
    /// Past this many stored bytes the oldest events may be removed (same exception).
    pub bytes_max: u64,
}

impl Default for EventsSettings {
    fn default() -> Self {
        Self {
            retention_days: 30,
            bytes_max: 10 * 1024 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    /// Enables the mock payment endpoint; off in production (then 404).
    pub mock: bool,
    /// HMAC-SHA256 key of the provider's notifications.
    pub secret: Secret,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsSettings {
    /// At most one frame per subscriber per interval; bounds push traffic on hot items.
    pub push_interval_ms: u64,
    /// Open websockets at most; past it an upgrade gets 503 OVERLOADED (each one holds a
    /// socket, a task and a few KiB of buffers).
    pub max_connections: usize,
    /// The server pings each client this often …
    pub heartbeat_interval_ms: u64,
    /// … and closes a client it has heard nothing from (no pong, no frame) for this long.
    pub client_timeout_ms: u64,
    /// A client whose one-frame queue stays full this long (it does not read what it is
    /// sent) is dropped, so it holds neither memory nor anyone else up.
    pub slow_client_timeout_ms: u64,
}

/// Webhook delivery (defaults in `config/default.toml`; docs/webhooks.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// How long one attempt may take; an answer after it is a failure.
    pub attempt_timeout_ms: u64,
    /// Delay before each retry, in seconds; the first attempt is immediate, and a message
    /// whose last retry failed is dead-lettered.
    pub retry_schedule_seconds: Vec<u64>,
    /// Attempts in flight at once to one endpoint (at most one per activity).
    pub concurrency_per_endpoint: usize,
    /// Attempts in flight at once over every endpoint.
    pub concurrency_total: usize,
    /// Events an endpoint may have pending at most; past it the oldest are dead-lettered.
    pub backlog_events_max: u64,
    /// Consecutive failures that open an endpoint's circuit breaker …
    pub breaker_failures: u32,
    /// … for this long; then one probe decides whether it closes.
    pub breaker_open_seconds: u64,
    /// An endpoint that failed without a success for this long is disabled (5 days).
    pub disable_after_failing_seconds: u64,
    /// After a rotation the old secret keeps signing for this long (24 h).
    pub secret_overlap_seconds: u64,
    /// Lets endpoints reach loopback, link-local and private addresses (tests, a receiver
    /// on the same host); off, such URLs are refused and such connections never made.
    pub allow_private_addresses: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            attempt_timeout_ms: 15_000,
            retry_schedule_seconds: vec![5, 300, 1_800, 7_200, 18_000, 36_000, 36_000],
            concurrency_per_endpoint: 16,
            concurrency_total: 256,
            backlog_events_max: 1_000_000,
            breaker_failures: 5,
            breaker_open_seconds: 30,
            disable_after_failing_seconds: 5 * 86_400,
            secret_overlap_seconds: 86_400,
            allow_private_addresses: false,
        }
    }
}

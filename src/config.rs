//! Settings, layered as README's "Configuration" describes. Each layer overrides the ones before:
//!
//! 1. `config/default.toml` as embedded in the binary (so the server runs from any
//!    directory), then `./config/default.toml` when that file exists (not required);
//! 2. `./config/$PLAYCORE_ENV.toml` when `PLAYCORE_ENV` is set (missing file: error);
//! 3. the `--config FILE` flag;
//! 4. environment variables `PLAYCORE__SECTION__KEY` (`__` between levels, keys
//!    lowercased), e.g. `PLAYCORE__SERVER__BODY_LIMIT_BYTES=1024`;
//! 5. the flags `--bind` and `--data-dir`.
//!
//! Layers merge as TOML tables (a table merges key by key, anything else replaces).
//! An environment value is taken as a string when the key holds a string in the
//! defaults, and parsed as a TOML value otherwise (numbers, bools, arrays such as
//! `PLAYCORE__AUTH__TOKENS='[{token = "…", name = "ops", roles = ["admin"]}]'`), so a
//! secret such as `12345` stays a string. The result is deserialized with unknown keys
//! refused (a typo is an error, not a silently ignored setting) and then validated.
//!
//! Secrets (tokens, the payment secret) are [`Secret`]s, whose `Debug` is redacted, so
//! logging the settings never leaks them.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use toml::{Table, Value};

mod approval;
mod roles;

pub use approval::{ApprovalSettings, FlowSettings, LevelSettings, ModeSetting};
pub use roles::Role;

/// The defaults, compiled in.
const EMBEDDED_DEFAULTS: &str = include_str!("../config/default.toml");
/// The directory, under the working directory, holding the per-environment files.
const CONFIG_DIRECTORY: &str = "config";
/// Environment variables with this prefix override settings.
const ENV_PREFIX: &str = "PLAYCORE__";
/// Names the per-environment file.
const ENVIRONMENT_VARIABLE: &str = "PLAYCORE_ENV";
/// The environment in which development secrets are refused.
const PRODUCTION: &str = "production";
/// Tokens shipped in `config/default.toml`; known to everyone, so refused in production.
pub const DEV_TOKENS: [&str; 4] = [
    "dev-admin",
    "dev-operator",
    "dev-approver",
    "dev-approver-2",
];
/// The payment secret shipped in `config/default.toml`; refused in production too, since
/// anyone could sign payment notifications with it.
pub const DEV_PAYMENT_SECRET: &str = "dev-payment-secret";
/// Upper bound on `server.body_limit_bytes`: requests are small JSON documents.
const BODY_LIMIT_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Upper bound on `ws.max_connections`: past it a box runs out of ports and file
/// descriptors long before the limit would bite.
const WS_CONNECTIONS_MAX: usize = 1_000_000;
/// A longer group-commit window would only add latency: 256 entries gather far sooner
/// under any load worth batching.
const GROUP_COMMIT_WINDOW_US_MAX: u64 = 20_000;
/// A free-space reserve above half the file system is a typo (it would refuse writes on a
/// disk half empty).
const FREE_SPACE_RESERVE_PERCENT_MAX: u8 = 50;

/// A health run at least once a day; a longer interval would hide what it is for.
const SCHEDULER_INTERVAL_SECONDS_MAX: u64 = 86_400;
/// Thirty days: terminal orders older than this leave memory by default.
const ARCHIVE_AFTER_SECONDS_DEFAULT: u64 = 30 * 86_400;
/// Ten years: a larger age is a typo (and would overflow nothing, but archive nothing).
const ARCHIVE_AFTER_SECONDS_MAX: u64 = 3_650 * 86_400;
/// Scheduled backups at least once a day (0 turns them off).
const BACKUP_INTERVAL_MINUTES_MAX: u64 = 1_440;
/// Backups kept at most (each is a whole copy of the data).
const BACKUPS_KEPT_MAX: usize = 1_000;

/// Every setting of the server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub actors: ActorSettings,
    pub payment: PaymentSettings,
    pub ws: WsSettings,
    pub auth: AuthSettings,
    /// The lifecycle scheduler's health checks and run log (see the `scheduler` module).
    #[serde(default)]
    pub scheduler: SchedulerSettings,
    /// Approval flows per template and store (see the `approval_flows` module).
    #[serde(default)]
    pub approval: ApprovalSettings,
    /// Bounds of the eligibility indexes (see `playcore_actors::eligibility`).
    #[serde(default)]
    pub eligibility: EligibilitySettings,
    /// Scheduled and on-demand backups (see the `backup` module).
    #[serde(default)]
    pub backup: BackupSettings,
    /// Seed demo activities at start (`--demo`); a flag only, never read from files.
    #[serde(skip)]
    pub demo: bool,
    /// `PLAYCORE_ENV`, when set: decides which file is read and whether dev secrets are
    /// refused.
    #[serde(skip)]
    pub environment: Option<String>,
    /// The layers that were applied, in order, for the startup log.
    #[serde(skip)]
    pub layers: Vec<String>,
}

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
}

/// The Linux scheduling policy the server's threads run under.
///
/// A request crosses threads several times (HTTP worker, activity actor, journal writer,
/// back). Under `normal` (`SCHED_OTHER`), each wake-up of a thread that sleeps a lot
/// preempts the thread that woke it, so on a busy machine the actor runs once per request
/// and every grab costs two extra context switches. Under `batch` (`SCHED_BATCH`) a woken
/// thread waits for the running one to yield or use up its slice, and then handles
/// everything that queued meanwhile. Measured on 2 cores, closed loop, fsync mode: grabs
/// +10 % (51-62k/s under `batch` against 52-54k/s under `normal`, three interleaved pairs);
/// open loop at 28,000/s, p99 unchanged (5.16-5.35 ms against 4.98-5.66 ms). A wake-up
/// onto an idle core is as quick under either policy. Other systems ignore the setting.
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// The admin API's bearer tokens.
    pub tokens: Vec<TokenSettings>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// The bearer token itself.
    pub token: Secret,
    /// Who holds it: recorded in approvals and logs (the token never is).
    #[serde(deserialize_with = "string_from_scalar")]
    pub name: String,
    pub roles: Vec<Role>,
}

/// A secret string whose `Debug` is redacted, so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (a MAC key, a token table).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret([redacted])")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        string_from_scalar(deserializer).map(Secret)
    }
}

/// Where the layers come from; [`Sources::from_process`] in production, built by hand in
/// tests so they neither read nor change the process environment.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The directory holding `config/` (the working directory).
    pub base_dir: PathBuf,
    /// Environment variables; `PLAYCORE_ENV` and `PLAYCORE__*` are read.
    pub env_vars: Vec<(String, String)>,
}

impl Sources {
    pub fn from_process() -> Self {
        // `vars_os`: a variable that is not Unicode must not make startup panic; ours are.
        let env_vars = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .filter(|(name, _)| name == ENVIRONMENT_VARIABLE || name.starts_with(ENV_PREFIX))
            .collect();
        Self {
            base_dir: PathBuf::from("."),
            env_vars,
        }
    }

    fn environment(&self) -> Option<&str> {
        self.env_vars
            .iter()
            .find(|(name, _)| name == ENVIRONMENT_VARIABLE)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }
}

/// What the command line adds: the last layers.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub demo: bool,
}

/// Why the settings could not be loaded; each names the file, variable or key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {origin} is not valid TOML: {message}")]
    Parse { origin: String, message: String },
    #[error("PLAYCORE_ENV={0:?} is not an environment name (letters, digits, '-', '_')")]
    EnvironmentName(String),
    #[error("environment variable {name}: {reason}")]
    EnvVar { name: String, reason: String },
    #[error("path {0:?} is not valid UTF-8")]
    NonUtf8Path(PathBuf),
    #[error("config key `{key}`: {message}")]
    Key { key: String, message: String },
    #[error("invalid configuration: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error(
        "PLAYCORE_ENV=production refuses the development tokens (entries named {}); \
         supply real tokens with a --config file or PLAYCORE__AUTH__TOKENS",
        .0.join(", ")
    )]
    DevTokensInProduction(Vec<String>),
    #[error(
        "no auth tokens configured: PLAYCORE_ENV=production needs [[auth.tokens]] from a \
         --config file or PLAYCORE__AUTH__TOKENS"
    )]
    NoTokensInProduction,
    #[error(
        "PLAYCORE_ENV=production refuses the development payment secret; \
         supply payment.secret with a --config file or PLAYCORE__PAYMENT__SECRET"
    )]
    DevPaymentSecretInProduction,
    #[error(
        "PLAYCORE_ENV=production refuses storage.fault_failing_sync_number (a test hook \
         that makes a sync fail); set it to 0"
    )]
    FaultInjectionInProduction,
}

impl Settings {
    /// Loads the settings of this process: working directory, process environment, flags.
    pub fn load(overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_from(&Sources::from_process(), overrides)
    }

    /// The embedded defaults alone (tests start from these and adjust fields).
    pub fn embedded_defaults() -> Result<Self, ConfigError> {
        let table = parse_toml(EMBEDDED_DEFAULTS, "embedded defaults")?;
        let mut settings = deserialize(table)?;
        settings.layers = vec!["embedded defaults".to_owned()];
        Ok(settings)
    }

    /// Loads from explicit sources; see the module doc for the layering.
    pub fn load_from(sources: &Sources, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut layers = vec!["embedded defaults".to_owned()];
        let mut table = parse_toml(EMBEDDED_DEFAULTS, "embedded defaults")?;
        let config_dir = sources.base_dir.join(CONFIG_DIRECTORY);
        let local_defaults = config_dir.join("default.toml");
        if local_defaults.is_file() {
            merge(&mut table, read_toml(&local_defaults)?);
            layers.push(local_defaults.display().to_string());
        }
        let environment = sources.environment().map(str::to_owned);
        if let Some(name) = &environment {
            let path = config_dir.join(format!("{}.toml", checked_environment(name)?));
            merge(&mut table, read_toml(&path)?);
            layers.push(path.display().to_string());
        }
        if let Some(path) = &overrides.config_file {
            let path = sources.base_dir.join(path);
            merge(&mut table, read_toml(&path)?);
            layers.push(path.display().to_string());
        }
        let applied = apply_env_vars(&mut table, &sources.env_vars)?;
        if applied > 0 {
            layers.push(format!("{applied} PLAYCORE__ environment variable(s)"));
        }
        if apply_flags(&mut table, overrides)? {
            layers.push("command-line flags".to_owned());
        }
        let mut settings = deserialize(table)?;
        settings.demo = overrides.demo;
        settings.environment = environment;
        settings.layers = layers;
        settings.validate()?;
        settings.check_environment()?;
        Ok(settings)
    }

    /// Whether `PLAYCORE_ENV=production`.
    pub fn is_production(&self) -> bool {
        self.environment.as_deref() == Some(PRODUCTION)
    }

    /// Collects every problem, so one run of the server reports all of them.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        self.validate_numbers(&mut problems);
        self.validate_tokens(&mut problems);
        self.validate_scheduler(&mut problems);
        self.validate_backup(&mut problems);
        self.approval.problems(&self.auth.tokens, &mut problems);
        if self.server.bind.trim().is_empty() {
            problems.push("server.bind must be HOST:PORT".to_owned());
        }
        if self.storage.data_dir.as_os_str().is_empty() {
            problems.push("storage.data_dir must not be empty".to_owned());
        }
        if self.payment.secret.expose().is_empty() {
            problems.push("payment.secret must not be empty".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    fn validate_numbers(&self, problems: &mut Vec<String>) {
        let body_limit = self.server.body_limit_bytes;
        if body_limit == 0 || body_limit > BODY_LIMIT_BYTES_MAX {
            problems.push(format!(
                "server.body_limit_bytes must be 1..={BODY_LIMIT_BYTES_MAX}, got {body_limit}"
            ));
        }
        let positive = [
            ("storage.flush_interval_ms", self.storage.flush_interval_ms),
            (
                "storage.journal_capacity_events",
                self.storage.journal_capacity_events,
            ),
            (
                "storage.snapshot_interval_seconds",
                self.storage.snapshot_interval_seconds,
            ),
            (
                "storage.snapshot_every_events",
                self.storage.snapshot_every_events,
            ),
            (
                "actors.mailbox_capacity",
                self.actors.mailbox_capacity as u64,
            ),
            ("actors.max_activities", self.actors.max_activities as u64),
            (
                "actors.max_orders_per_activity",
                self.actors.max_orders_per_activity as u64,
            ),
            ("actors.timer_tick_ms", self.actors.timer_tick_ms),
            (
                "eligibility.max_paid_users",
                self.eligibility.max_paid_users as u64,
            ),
            (
                "eligibility.max_exclusive_users",
                self.eligibility.max_exclusive_users as u64,
            ),
            ("ws.push_interval_ms", self.ws.push_interval_ms),
            ("ws.max_connections", self.ws.max_connections as u64),
            ("ws.heartbeat_interval_ms", self.ws.heartbeat_interval_ms),
            ("ws.slow_client_timeout_ms", self.ws.slow_client_timeout_ms),
        ];
        for (key, value) in positive {
            if value == 0 {
                problems.push(format!("{key} must be greater than 0"));
            }
        }
        self.validate_ws(problems);
        let window_us = self.storage.group_commit_window_us;
        if window_us > GROUP_COMMIT_WINDOW_US_MAX {
            problems.push(format!(
                "storage.group_commit_window_us must be 0..={GROUP_COMMIT_WINDOW_US_MAX}, got {window_us}"
            ));
        }
        let percent = self.storage.free_space_reserve_percent;
        if percent > FREE_SPACE_RESERVE_PERCENT_MAX {
            problems.push(format!(
                "storage.free_space_reserve_percent must be 0..={FREE_SPACE_RESERVE_PERCENT_MAX}, \
                 got {percent}"
            ));
        }
    }

    fn validate_scheduler(&self, problems: &mut Vec<String>) {
        let scheduler = &self.scheduler;
        let interval = scheduler.health_interval_seconds;
        if !(1..=SCHEDULER_INTERVAL_SECONDS_MAX).contains(&interval) {
            problems.push(format!(
                "scheduler.health_interval_seconds must be 1..={SCHEDULER_INTERVAL_SECONDS_MAX}, \
                 got {interval}"
            ));
        }
        let grace_min_ms = 2 * self.actors.timer_tick_ms;
        if scheduler.overdue_grace_ms < grace_min_ms {
            problems.push(format!(
                "scheduler.overdue_grace_ms ({}) must be at least two timer ticks ({grace_min_ms})",
                scheduler.overdue_grace_ms
            ));
        }
        let percents = [
            (
                "scheduler.journal_pending_percent_max",
                scheduler.journal_pending_percent_max,
            ),
            (
                "scheduler.mailbox_depth_percent_max",
                scheduler.mailbox_depth_percent_max,
            ),
        ];
        for (key, value) in percents {
            if !(1..=100).contains(&value) {
                problems.push(format!("{key} must be 1..=100, got {value}"));
            }
        }
        if scheduler.journal_lag_events_max == 0 || scheduler.scan_items_per_activity_max == 0 {
            problems.push(
                "scheduler.journal_lag_events_max and scheduler.scan_items_per_activity_max \
                 must be greater than 0"
                    .to_owned(),
            );
        }
        self.validate_archive(problems);
    }

    fn validate_archive(&self, problems: &mut Vec<String>) {
        let scheduler = &self.scheduler;
        let interval = scheduler.archive_interval_seconds;
        if !(1..=SCHEDULER_INTERVAL_SECONDS_MAX).contains(&interval) {
            problems.push(format!(
                "scheduler.archive_interval_seconds must be 1..={SCHEDULER_INTERVAL_SECONDS_MAX}, \
                 got {interval}"
            ));
        }
        if scheduler.archive_after_seconds > ARCHIVE_AFTER_SECONDS_MAX {
            problems.push(format!(
                "scheduler.archive_after_seconds must be 0..={ARCHIVE_AFTER_SECONDS_MAX}, got {}",
                scheduler.archive_after_seconds
            ));
        }
        let batch_max = playcore_actors::domain::ARCHIVE_BATCH_ORDERS_MAX;
        let batch = scheduler.archive_batch_orders_max;
        if !(1..=batch_max).contains(&batch) {
            problems.push(format!(
                "scheduler.archive_batch_orders_max must be 1..={batch_max}, got {batch}"
            ));
        }
        let bounds = [
            (
                "scheduler.archive_orders_per_run_max",
                scheduler.archive_orders_per_run_max,
            ),
            (
                "scheduler.archive_scan_orders_max",
                scheduler.archive_scan_orders_max,
            ),
        ];
        for (key, value) in bounds {
            if value == 0 {
                problems.push(format!("{key} must be greater than 0"));
            }
        }
    }

    fn validate_backup(&self, problems: &mut Vec<String>) {
        let backup = &self.backup;
        if backup.directory.as_os_str().is_empty() {
            problems.push("backup.directory must not be empty".to_owned());
        }
        if backup.interval_minutes > BACKUP_INTERVAL_MINUTES_MAX {
            problems.push(format!(
                "backup.interval_minutes must be 0..={BACKUP_INTERVAL_MINUTES_MAX} (0 = off), got {}",
                backup.interval_minutes
            ));
        }
        if !(1..=BACKUPS_KEPT_MAX).contains(&backup.keep) {
            problems.push(format!(
                "backup.keep must be 1..={BACKUPS_KEPT_MAX}, got {}",
                backup.keep
            ));
        }
    }

    fn validate_ws(&self, problems: &mut Vec<String>) {
        let ws = &self.ws;
        if ws.max_connections > WS_CONNECTIONS_MAX {
            problems.push(format!(
                "ws.max_connections must be 1..={WS_CONNECTIONS_MAX}, got {}",
                ws.max_connections
            ));
        }
        if ws.slow_client_timeout_ms <= ws.push_interval_ms {
            problems.push(format!(
                "ws.slow_client_timeout_ms ({}) must be longer than ws.push_interval_ms ({}), \
                 or a client is dropped for the pacing of its own pushes",
                ws.slow_client_timeout_ms, ws.push_interval_ms
            ));
        }
        if ws.client_timeout_ms <= ws.heartbeat_interval_ms {
            problems.push(format!(
                "ws.client_timeout_ms ({}) must be longer than ws.heartbeat_interval_ms ({}), \
                 or every client is closed before it can answer a ping",
                ws.client_timeout_ms, ws.heartbeat_interval_ms
            ));
        }
    }

    fn validate_tokens(&self, problems: &mut Vec<String>) {
        let mut seen = HashSet::new();
        for (index, entry) in self.auth.tokens.iter().enumerate() {
            let key = format!("auth.tokens[{index}]");
            if entry.token.expose().trim().is_empty() {
                problems.push(format!("{key}.token must not be empty"));
            }
            if entry.name.trim().is_empty() {
                problems.push(format!("{key}.name must not be empty"));
            }
            if entry.roles.is_empty() {
                problems.push(format!("{key}.roles must name at least one role"));
            }
            if !seen.insert(entry.token.expose()) {
                problems.push(format!("{key}.token repeats an earlier token"));
            }
        }
    }

    /// Production refuses the secrets everybody knows, and the fault hook of the tests.
    fn check_environment(&self) -> Result<(), ConfigError> {
        if !self.is_production() {
            return Ok(());
        }
        if self.storage.fault_failing_sync_number != 0 {
            return Err(ConfigError::FaultInjectionInProduction);
        }
        if self.auth.tokens.is_empty() {
            return Err(ConfigError::NoTokensInProduction);
        }
        let dev_entries: Vec<String> = self
            .auth
            .tokens
            .iter()
            .filter(|entry| DEV_TOKENS.contains(&entry.token.expose()))
            .map(|entry| entry.name.clone())
            .collect();
        if !dev_entries.is_empty() {
            return Err(ConfigError::DevTokensInProduction(dev_entries));
        }
        if self.payment.secret.expose() == DEV_PAYMENT_SECRET {
            return Err(ConfigError::DevPaymentSecretInProduction);
        }
        Ok(())
    }
}

/// Environment names become file names: refuse anything that could leave `config/`.
fn checked_environment(name: &str) -> Result<&str, ConfigError> {
    let valid = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(name)
    } else {
        Err(ConfigError::EnvironmentName(name.to_owned()))
    }
}

fn read_toml(path: &Path) -> Result<Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_toml(&text, &path.display().to_string())
}

fn parse_toml(text: &str, origin: &str) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|error| ConfigError::Parse {
        origin: origin.to_owned(),
        message: error.to_string(),
    })
}

/// Deserializes the merged table, naming the key at fault (`storage.durability`).
fn deserialize(table: Table) -> Result<Settings, ConfigError> {
    serde_path_to_error::deserialize(Value::Table(table)).map_err(|error| ConfigError::Key {
        key: error.path().to_string(),
        message: error.inner().message().to_owned(),
    })
}

/// Tables merge key by key; any other value replaces (arrays are replaced, not appended,
/// so a production file can replace the dev token list).
fn merge(base: &mut Table, overlay: Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(base_table)), Value::Table(overlay_table)) => {
                merge(base_table, overlay_table)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Applies `PLAYCORE__*` variables, in name order so the result does not depend on the
/// order the OS lists them in; returns how many applied.
fn apply_env_vars(table: &mut Table, env_vars: &[(String, String)]) -> Result<usize, ConfigError> {
    let mut overrides: Vec<&(String, String)> = env_vars
        .iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .collect();
    overrides.sort();
    for (name, raw) in &overrides {
        let keys: Vec<String> = name[ENV_PREFIX.len()..]
            .split("__")
            .map(str::to_lowercase)
            .collect();
        if keys.iter().any(String::is_empty) {
            return Err(ConfigError::EnvVar {
                name: name.clone(),
                reason: "expected PLAYCORE__SECTION__KEY".to_owned(),
            });
        }
        set_path(table, &keys, raw).map_err(|reason| ConfigError::EnvVar {
            name: name.clone(),
            reason,
        })?;
    }
    Ok(overrides.len())
}

/// Sets `keys` (a path of tables) to the value `raw` stands for.
fn set_path(table: &mut Table, keys: &[String], raw: &str) -> Result<(), String> {
    let Some((last, parents)) = keys.split_last() else {
        return Err("no key".to_owned());
    };
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        current = match entry {
            Value::Table(inner) => inner,
            _ => return Err(format!("`{key}` is not a section")),
        };
    }
    let value = env_value(current.get(last), raw)?;
    current.insert(last.clone(), value);
    Ok(())
}

/// A string where the defaults hold a string; otherwise the TOML value `raw` spells.
fn env_value(existing: Option<&Value>, raw: &str) -> Result<Value, String> {
    if let Some(Value::String(_)) = existing {
        return Ok(Value::String(raw.to_owned()));
    }
    let parsed = format!("value = {raw}")
        .parse::<Table>()
        .ok()
        .and_then(|mut table| table.remove("value"));
    match (parsed, existing) {
        (Some(value), _) => Ok(value),
        // An unknown key: keep the text; deserialization reports the key as unknown.
        (None, None) => Ok(Value::String(raw.to_owned())),
        (None, Some(existing)) => Err(format!("{raw:?} is not a TOML {}", existing.type_str())),
    }
}

/// `--bind` and `--data-dir`; returns whether any applied.
fn apply_flags(table: &mut Table, overrides: &Overrides) -> Result<bool, ConfigError> {
    let mut applied = false;
    if let Some(bind) = &overrides.bind {
        set_value(table, "server", "bind", Value::String(bind.clone()));
        applied = true;
    }
    if let Some(data_dir) = &overrides.data_dir {
        let text = data_dir
            .to_str()
            .ok_or_else(|| ConfigError::NonUtf8Path(data_dir.clone()))?;
        set_value(table, "storage", "data_dir", Value::String(text.to_owned()));
        applied = true;
    }
    Ok(applied)
}

fn set_value(table: &mut Table, section: &str, key: &str, value: Value) {
    let section = table
        .entry(section.to_owned())
        .or_insert_with(|| Value::Table(Table::new()));
    if let Value::Table(section) = section {
        section.insert(key.to_owned(), value);
    }
}

/// Strings, but also numbers and bools written without quotes (`name = 42`).
fn string_from_scalar<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct ScalarVisitor;

    impl Visitor<'_> for ScalarVisitor {
        type Value = String;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("a string")
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<String, E> {
            Ok(value.to_owned())
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<String, E> {
            Ok(value.to_string())
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<String, E> {
            Ok(value.to_string())
        }

        fn visit_bool<E: de::Error>(self, value: bool) -> Result<String, E> {
            Ok(value.to_string())
        }
    }

    deserializer.deserialize_any(ScalarVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(base_dir: &Path, env_vars: &[(&str, &str)]) -> Sources {
        Sources {
            base_dir: base_dir.to_owned(),
            env_vars: env_vars
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        }
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dir");
        std::fs::write(path, text).expect("write config");
    }

    #[test]
    fn embedded_defaults_follow_the_contract() {
        let settings = Settings::embedded_defaults().expect("defaults load");
        assert_eq!(settings.server.bind, "127.0.0.1:8080");
        assert_eq!(settings.server.body_limit_bytes, 65536);
        assert_eq!(settings.storage.data_dir, PathBuf::from("./data"));
        assert_eq!(settings.storage.durability, Durability::Fsync);
        assert!(settings.payment.mock);
        assert_eq!(settings.auth.tokens.len(), 4);
        settings.validate().expect("defaults are valid");
    }

    #[test]
    fn scheduler_settings_are_layered_and_validated() {
        let directory = tempfile::tempdir().expect("tempdir");
        let env = [("PLAYCORE__SCHEDULER__HEALTH_INTERVAL_SECONDS", "1")];
        let settings = Settings::load_from(&sources(directory.path(), &env), &Overrides::default())
            .expect("loads");
        assert_eq!(settings.scheduler.health_interval_seconds, 1);
        let defaults = Settings::embedded_defaults().expect("defaults load");
        assert_eq!(defaults.scheduler.health_interval_seconds, 30);
        assert_eq!(defaults.scheduler.archive_after_seconds, 30 * 86_400);
        assert_eq!(defaults.scheduler.archive_interval_seconds, 600);
        let base = SchedulerSettings::default;
        let invalid = [
            (
                "health_interval_seconds",
                SchedulerSettings {
                    health_interval_seconds: 0,
                    ..base()
                },
            ),
            (
                "overdue_grace_ms",
                SchedulerSettings {
                    overdue_grace_ms: 99,
                    ..base()
                },
            ),
            (
                "mailbox_depth_percent_max",
                SchedulerSettings {
                    mailbox_depth_percent_max: 101,
                    ..base()
                },
            ),
            (
                "scan_items_per_activity_max",
                SchedulerSettings {
                    scan_items_per_activity_max: 0,
                    ..base()
                },
            ),
            (
                "archive_interval_seconds",
                SchedulerSettings {
                    archive_interval_seconds: 0,
                    ..base()
                },
            ),
            (
                "archive_after_seconds",
                SchedulerSettings {
                    archive_after_seconds: 3_651 * 86_400,
                    ..base()
                },
            ),
            (
                "archive_batch_orders_max",
                SchedulerSettings {
                    archive_batch_orders_max: 10_001,
                    ..base()
                },
            ),
            (
                "archive_orders_per_run_max",
                SchedulerSettings {
                    archive_orders_per_run_max: 0,
                    ..base()
                },
            ),
            (
                "archive_scan_orders_max",
                SchedulerSettings {
                    archive_scan_orders_max: 0,
                    ..base()
                },
            ),
        ];
        for (key, scheduler) in invalid {
            let mut settings = settings.clone();
            settings.scheduler = scheduler;
            let error = settings.validate().expect_err(key);
            assert!(error.to_string().contains(key), "{key}: {error}");
        }
    }

    #[test]
    fn runs_on_embedded_defaults_from_an_empty_directory() {
        let directory = tempfile::tempdir().expect("tempdir");
        let settings = Settings::load_from(&sources(directory.path(), &[]), &Overrides::default())
            .expect("loads without any file");
        assert_eq!(settings.layers, vec!["embedded defaults"]);
    }

    #[test]
    fn layers_override_in_order() {
        let directory = tempfile::tempdir().expect("tempdir");
        let base = directory.path();
        write(
            &base.join("config/staging.toml"),
            "[server]\nworkers = 2\nbody_limit_bytes = 1000\nbind = \"0.0.0.0:1\"\n\
             [actors]\ntimer_tick_ms = 20\nmailbox_capacity = 20\n[ws]\npush_interval_ms = 20\n",
        );
        write(
            &base.join("extra.toml"),
            "[server]\nbody_limit_bytes = 2000\nbind = \"0.0.0.0:2\"\n\
             [actors]\ntimer_tick_ms = 30\nmailbox_capacity = 30\n",
        );
        let env = [
            ("PLAYCORE_ENV", "staging"),
            ("PLAYCORE__ACTORS__TIMER_TICK_MS", "40"),
            ("PLAYCORE__server__bind", "0.0.0.0:3"),
            ("PLAYCORE__STORAGE__DURABILITY", "relaxed"),
            ("UNRELATED", "ignored"),
        ];
        let overrides = Overrides {
            config_file: Some(PathBuf::from("extra.toml")),
            bind: Some("127.0.0.1:0".to_owned()),
            data_dir: None,
            demo: true,
        };
        let settings = Settings::load_from(&sources(base, &env), &overrides).expect("loads");
        assert_eq!(settings.server.workers, 2, "env file over defaults");
        assert_eq!(settings.ws.push_interval_ms, 20, "env file over defaults");
        assert_eq!(
            settings.server.body_limit_bytes, 2000,
            "--config over env file"
        );
        assert_eq!(
            settings.actors.mailbox_capacity, 30,
            "--config over env file"
        );
        assert_eq!(settings.actors.timer_tick_ms, 40, "env var over --config");
        assert_eq!(settings.storage.durability, Durability::Relaxed, "env var");
        assert_eq!(settings.server.bind, "127.0.0.1:0", "flag over env var");
        assert_eq!(settings.environment.as_deref(), Some("staging"));
        assert!(settings.demo);
    }

    #[test]
    fn a_local_default_file_is_read_over_the_embedded_one() {
        let directory = tempfile::tempdir().expect("tempdir");
        write(
            &directory.path().join("config/default.toml"),
            "[ws]\npush_interval_ms = 7\n",
        );
        let settings = Settings::load_from(&sources(directory.path(), &[]), &Overrides::default())
            .expect("loads");
        assert_eq!(settings.ws.push_interval_ms, 7);
        assert_eq!(
            settings.server.bind, "127.0.0.1:8080",
            "the rest stays embedded"
        );
    }

    #[test]
    fn a_missing_environment_file_is_an_error() {
        let directory = tempfile::tempdir().expect("tempdir");
        let env = [("PLAYCORE_ENV", "nowhere")];
        let error = Settings::load_from(&sources(directory.path(), &env), &Overrides::default())
            .expect_err("missing file");
        assert!(error.to_string().contains("nowhere.toml"), "{error}");
    }

    #[test]
    fn env_strings_stay_strings_and_arrays_parse() {
        let directory = tempfile::tempdir().expect("tempdir");
        let env = [
            ("PLAYCORE__PAYMENT__SECRET", "12345"),
            (
                "PLAYCORE__AUTH__TOKENS",
                r#"[{token = "t-1", name = "ops", roles = ["operator", "approver"]}]"#,
            ),
        ];
        let settings = Settings::load_from(&sources(directory.path(), &env), &Overrides::default())
            .expect("loads");
        assert_eq!(settings.payment.secret.expose(), "12345");
        assert_eq!(settings.auth.tokens.len(), 1);
        assert_eq!(
            settings.auth.tokens[0].roles,
            vec![Role::Operator, Role::Approver]
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let directory = tempfile::tempdir().expect("tempdir");
        let load = |env: &[(&str, &str)]| {
            Settings::load_from(&sources(directory.path(), env), &Overrides::default())
                .expect_err("invalid")
                .to_string()
        };
        let durability = load(&[("PLAYCORE__STORAGE__DURABILITY", "sometimes")]);
        assert!(durability.contains("storage.durability"), "{durability}");
        assert!(durability.contains("fsync"), "{durability}");
        let policy = load(&[("PLAYCORE__SERVER__THREAD_POLICY", "realtime")]);
        assert!(policy.contains("server.thread_policy"), "{policy}");
        assert!(policy.contains("batch"), "{policy}");
        let zero = load(&[("PLAYCORE__ACTORS__MAILBOX_CAPACITY", "0")]);
        assert!(
            zero.contains("actors.mailbox_capacity must be greater than 0"),
            "{zero}"
        );
        let typo = load(&[("PLAYCORE__SERVER__WORKRES", "2")]);
        assert!(typo.contains("workres"), "{typo}");
        let not_a_number = load(&[("PLAYCORE__SERVER__WORKERS", "many")]);
        assert!(
            not_a_number.contains("PLAYCORE__SERVER__WORKERS"),
            "{not_a_number}"
        );
    }

    #[test]
    fn websocket_bounds_are_checked() {
        let directory = tempfile::tempdir().expect("tempdir");
        let load = |env: &[(&str, &str)]| {
            Settings::load_from(&sources(directory.path(), env), &Overrides::default())
                .expect_err("invalid")
                .to_string()
        };
        let silent = load(&[("PLAYCORE__WS__CLIENT_TIMEOUT_MS", "10000")]);
        assert!(silent.contains("ws.client_timeout_ms"), "{silent}");
        let slow = load(&[("PLAYCORE__WS__SLOW_CLIENT_TIMEOUT_MS", "100")]);
        assert!(slow.contains("ws.slow_client_timeout_ms"), "{slow}");
        let none = load(&[("PLAYCORE__WS__MAX_CONNECTIONS", "0")]);
        assert!(
            none.contains("ws.max_connections must be greater than 0"),
            "{none}"
        );
        let defaults = Settings::embedded_defaults().expect("defaults load");
        assert_eq!(defaults.ws.max_connections, 20_000);
        assert_eq!(defaults.ws.heartbeat_interval_ms, 10_000);
    }

    fn production_error(extra_env: &[(&str, &str)]) -> String {
        let directory = tempfile::tempdir().expect("tempdir");
        let production = include_str!("../config/production.toml");
        write(&directory.path().join("config/production.toml"), production);
        let mut env = vec![("PLAYCORE_ENV", "production")];
        env.extend_from_slice(extra_env);
        match Settings::load_from(&sources(directory.path(), &env), &Overrides::default()) {
            Ok(_) => String::new(),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn production_refuses_to_start_without_real_secrets() {
        let real_token = r#"[{token = "a-long-random-token", name = "ops", roles = ["admin"]}]"#;
        let dev_token = r#"[{token = "dev-operator", name = "ops", roles = ["admin"]}]"#;
        assert!(production_error(&[]).contains("no auth tokens configured"));
        let with_dev_token = production_error(&[("PLAYCORE__AUTH__TOKENS", dev_token)]);
        assert!(
            with_dev_token.contains("development tokens"),
            "{with_dev_token}"
        );
        let with_dev_secret = production_error(&[("PLAYCORE__AUTH__TOKENS", real_token)]);
        assert!(
            with_dev_secret.contains("payment secret"),
            "{with_dev_secret}"
        );
        let ready = production_error(&[
            ("PLAYCORE__AUTH__TOKENS", real_token),
            ("PLAYCORE__PAYMENT__SECRET", "a-real-secret"),
        ]);
        assert_eq!(ready, "", "real secrets start");
        let with_fault = production_error(&[
            ("PLAYCORE__AUTH__TOKENS", real_token),
            ("PLAYCORE__PAYMENT__SECRET", "a-real-secret"),
            ("PLAYCORE__STORAGE__FAULT_FAILING_SYNC_NUMBER", "10"),
        ]);
        assert!(
            with_fault.contains("storage.fault_failing_sync_number"),
            "{with_fault}"
        );
    }

    #[test]
    fn the_free_space_reserve_is_checked() {
        let defaults = Settings::embedded_defaults().expect("defaults load");
        assert_eq!(defaults.storage.free_space_reserve_bytes, 256 * 1024 * 1024);
        assert_eq!(defaults.storage.free_space_reserve_percent, 5);
        assert_eq!(defaults.storage.fault_failing_sync_number, 0);
        let directory = tempfile::tempdir().expect("tempdir");
        let env = [("PLAYCORE__STORAGE__FREE_SPACE_RESERVE_PERCENT", "51")];
        let error = Settings::load_from(&sources(directory.path(), &env), &Overrides::default())
            .expect_err("invalid")
            .to_string();
        assert!(
            error.contains("storage.free_space_reserve_percent must be 0..=50"),
            "{error}"
        );
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let directory = tempfile::tempdir().expect("tempdir");
        let env = [
            ("PLAYCORE__PAYMENT__SECRET", "very-secret-key"),
            (
                "PLAYCORE__AUTH__TOKENS",
                r#"[{token = "tok-123", name = "ops", roles = ["admin"]}]"#,
            ),
        ];
        let settings = Settings::load_from(&sources(directory.path(), &env), &Overrides::default())
            .expect("loads");
        let debug = format!("{settings:?}");
        assert!(
            !debug.contains("very-secret-key") && !debug.contains("tok-123"),
            "{debug}"
        );
        assert!(debug.contains("redacted"));
    }
}

//! The start-up checks: bounds of every setting, collected so one run reports them all,
//! then production's refusals of the development secrets and the test hooks.

use std::collections::HashSet;

use super::{ConfigError, Settings, DEV_PAYMENT_SECRET, DEV_TOKENS};

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
/// Ten years: a larger age is a typo (and would overflow nothing, but archive nothing).
const ARCHIVE_AFTER_SECONDS_MAX: u64 = 3_650 * 86_400;
/// Event retention at most ten years.
const EVENTS_RETENTION_DAYS_MAX: u64 = 3650;
/// The event store's byte bound at least 1 MiB.
const EVENTS_BYTES_MIN: u64 = 1024 * 1024;
/// Scheduled backups at least once a day (0 turns them off).
const BACKUP_INTERVAL_MINUTES_MAX: u64 = 1_440;
/// Five minutes: a receiver slower than that is down, and a longer attempt holds a slot.
const WEBHOOK_ATTEMPT_TIMEOUT_MS_MAX: u64 = 300_000;
/// Retries of one message at most …
const WEBHOOK_RETRIES_MAX: usize = 50;
/// … each at most a week after the one before.
const WEBHOOK_RETRY_DELAY_SECONDS_MAX: u64 = 7 * 86_400;
/// A rotated secret signs at most 30 days more.
const WEBHOOK_SECRET_OVERLAP_SECONDS_MAX: u64 = 30 * 86_400;
/// Backups kept at most (each is a whole copy of the data).
const BACKUPS_KEPT_MAX: usize = 1_000;

impl Settings {
    /// Collects every problem, so one run of the server reports all of them.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        self.validate_numbers(&mut problems);
        self.validate_tokens(&mut problems);
        self.validate_scheduler(&mut problems);
        self.validate_backup(&mut problems);
        self.validate_webhooks(&mut problems);
        self.validate_events(&mut problems);
        self.flow.problems(&mut problems);
        self.approval.problems(&self.auth.tokens, &mut problems);
        for origin in &self.server.cors_allowed_origins {
            if let Err(reason) = check_origin(origin) {
                problems.push(format!("server.cors_allowed_origins: {origin:?} {reason}"));
            }
        }
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

    /// The settings that must be greater than 0.
    fn positive_settings(&self) -> [(&'static str, u64); 14] {
        let storage = &self.storage;
        let actors = &self.actors;
        let ws = &self.ws;
        [
            ("storage.flush_interval_ms", storage.flush_interval_ms),
            (
                "storage.journal_capacity_events",
                storage.journal_capacity_events,
            ),
            (
                "storage.snapshot_interval_seconds",
                storage.snapshot_interval_seconds,
            ),
            (
                "storage.snapshot_every_events",
                storage.snapshot_every_events,
            ),
            ("actors.mailbox_capacity", actors.mailbox_capacity as u64),
            ("actors.max_activities", actors.max_activities as u64),
            (
                "actors.max_orders_per_activity",
                actors.max_orders_per_activity as u64,
            ),
            ("actors.timer_tick_ms", actors.timer_tick_ms),
            (
                "eligibility.max_paid_users",
                self.eligibility.max_paid_users as u64,
            ),
            (
                "eligibility.max_exclusive_users",
                self.eligibility.max_exclusive_users as u64,
            ),
            ("ws.push_interval_ms", ws.push_interval_ms),
            ("ws.max_connections", ws.max_connections as u64),
            ("ws.heartbeat_interval_ms", ws.heartbeat_interval_ms),
            ("ws.slow_client_timeout_ms", ws.slow_client_timeout_ms),
        ]
    }

    fn validate_numbers(&self, problems: &mut Vec<String>) {
        let body_limit = self.server.body_limit_bytes;
        if body_limit == 0 || body_limit > BODY_LIMIT_BYTES_MAX {
            problems.push(format!(
                "server.body_limit_bytes must be 1..={BODY_LIMIT_BYTES_MAX}, got {body_limit}"
            ));
        }
        for (key, value) in self.positive_settings() {
            if value == 0 {
                problems.push(format!("{key} must be greater than 0"));
            }
        }
        self.validate_ws(problems);
        self.validate_storage(problems);
    }

    fn validate_storage(&self, problems: &mut Vec<String>) {
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

    fn validate_events(&self, problems: &mut Vec<String>) {
        let events = &self.events;
        if !(1..=EVENTS_RETENTION_DAYS_MAX).contains(&events.retention_days) {
            problems.push(format!(
                "events.retention_days must be 1..={EVENTS_RETENTION_DAYS_MAX}, got {}",
                events.retention_days
            ));
        }
        if events.bytes_max < EVENTS_BYTES_MIN {
            problems.push(format!(
                "events.bytes_max must be at least {EVENTS_BYTES_MIN}, got {}",
                events.bytes_max
            ));
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

    fn validate_webhooks(&self, problems: &mut Vec<String>) {
        let webhooks = &self.webhooks;
        let timeout_ms = webhooks.attempt_timeout_ms;
        if !(1..=WEBHOOK_ATTEMPT_TIMEOUT_MS_MAX).contains(&timeout_ms) {
            problems.push(format!(
                "webhooks.attempt_timeout_ms must be 1..={WEBHOOK_ATTEMPT_TIMEOUT_MS_MAX}, got {timeout_ms}"
            ));
        }
        let schedule = &webhooks.retry_schedule_seconds;
        if schedule.len() > WEBHOOK_RETRIES_MAX
            || schedule
                .iter()
                .any(|delay| *delay > WEBHOOK_RETRY_DELAY_SECONDS_MAX)
        {
            problems.push(format!(
                "webhooks.retry_schedule_seconds must hold at most {WEBHOOK_RETRIES_MAX} delays \
                 of 0..={WEBHOOK_RETRY_DELAY_SECONDS_MAX} seconds"
            ));
        }
        let positive = [
            (
                "webhooks.concurrency_per_endpoint",
                webhooks.concurrency_per_endpoint as u64,
            ),
            (
                "webhooks.concurrency_total",
                webhooks.concurrency_total as u64,
            ),
            ("webhooks.backlog_events_max", webhooks.backlog_events_max),
            (
                "webhooks.breaker_failures",
                u64::from(webhooks.breaker_failures),
            ),
            (
                "webhooks.breaker_open_seconds",
                webhooks.breaker_open_seconds,
            ),
            (
                "webhooks.disable_after_failing_seconds",
                webhooks.disable_after_failing_seconds,
            ),
        ];
        for (key, value) in positive {
            if value == 0 {
                problems.push(format!("{key} must be greater than 0"));
            }
        }
        if webhooks.concurrency_per_endpoint > webhooks.concurrency_total {
            problems.push(format!(
                "webhooks.concurrency_per_endpoint ({}) must not exceed webhooks.concurrency_total ({})",
                webhooks.concurrency_per_endpoint, webhooks.concurrency_total
            ));
        }
        if webhooks.secret_overlap_seconds > WEBHOOK_SECRET_OVERLAP_SECONDS_MAX {
            problems.push(format!(
                "webhooks.secret_overlap_seconds must be 0..={WEBHOOK_SECRET_OVERLAP_SECONDS_MAX}, got {}",
                webhooks.secret_overlap_seconds
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
    pub(super) fn check_environment(&self) -> Result<(), ConfigError> {
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

/// An origin as browsers send it: `http` or `https`, a host, an optional port, and nothing
/// else (no path, query, user or wildcard); the serialization a browser would send back.
fn check_origin(origin: &str) -> Result<(), &'static str> {
    let url = reqwest::Url::parse(origin).map_err(|_| "is not scheme://host[:port]")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must start with http:// or https://");
    }
    if url.port() == Some(0) {
        return Err("has port 0");
    }
    if url.origin().ascii_serialization() != origin {
        return Err(
            "must be exactly scheme://host[:port], lower-case, with no path, query or wildcard",
        );
    }
    Ok(())
}

//! Backups of the running server: one every `backup.interval_minutes` while serving, and
//! on demand (`POST /admin/v1/backups`), into `backup.directory`; after each new backup
//! (verified as it is written) only the newest `backup.keep` are kept. The format and the
//! consistency argument are in `playcore_snapshots::backup`.
//!
//! The work is blocking (it reads the whole store and fsyncs every file it writes), so it
//! runs on the blocking pool, never on an HTTP worker or an actor. One backup runs at a
//! time ([`BACKUP_LOCK`]): a request made while one is being written waits for it and then
//! writes its own.
//!
//! Metrics: `playcore_backup_last_success_timestamp_seconds` (0 until the first backup of
//! this process), `playcore_backups_failed_total`, `playcore_backup_durable_seq`.

pub(crate) mod routes;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use playcore_snapshots::backup::{create_backup, prune_backups, BackupError, BackupInfo};

use crate::config::{BackupSettings, Settings};
use crate::core::Core;
use crate::telemetry::Metrics;

/// One backup at a time in this process: concurrent copies would only compete for the disk.
static BACKUP_LOCK: Mutex<()> = Mutex::new(());

const LAST_SUCCESS: (&str, &str) = (
    "playcore_backup_last_success_timestamp_seconds",
    "when the last backup of this process was written and verified, seconds since the Unix epoch (0: none yet)",
);
const FAILED: (&str, &str) = (
    "playcore_backups_failed_total",
    "backups that could not be written or did not verify",
);
const DURABLE_SEQ: (&str, &str) = (
    "playcore_backup_durable_seq",
    "the journal position the last backup covers",
);

/// Writes a backup of the core's store now, then prunes old ones. Blocking: call it from
/// the blocking pool. Logged and counted in the metrics either way.
pub fn run_backup(
    core: &Core,
    settings: &BackupSettings,
    metrics: &Metrics,
) -> Result<BackupInfo, BackupError> {
    let _one_at_a_time = BACKUP_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let runtime = &core.runtime;
    let durable_seq = runtime.journal().durable_seq();
    match create_backup(&runtime.store, durable_seq, &settings.directory) {
        Ok(info) => {
            record_success(&info, metrics);
            prune(settings);
            Ok(info)
        }
        Err(error) => {
            metrics.counter(FAILED.0, FAILED.1).increment();
            tracing::error!(%error, directory = %settings.directory.display(), "backup failed");
            Err(error)
        }
    }
}

fn record_success(info: &BackupInfo, metrics: &Metrics) {
    let now = chrono::Utc::now().timestamp();
    metrics.gauge(LAST_SUCCESS.0, LAST_SUCCESS.1).set(now);
    let seq = i64::try_from(info.durable_seq).unwrap_or(i64::MAX);
    metrics.gauge(DURABLE_SEQ.0, DURABLE_SEQ.1).set(seq);
    tracing::info!(
        backup = %info.path.display(),
        durable_seq = info.durable_seq,
        bytes = info.bytes,
        "backup written and verified"
    );
}

/// Old backups beyond `keep`; a failure is logged (the new backup stands).
fn prune(settings: &BackupSettings) {
    if let Err(error) = prune_backups(&settings.directory, settings.keep) {
        tracing::warn!(%error, "old backups not pruned");
    }
}

/// Starts the schedule: a backup every `backup.interval_minutes` (none at 0), the first one
/// interval after the start. Registers the metrics either way. Call inside the actix system.
pub fn spawn_backups(core: Arc<Core>, settings: &Settings, metrics: Arc<Metrics>) {
    metrics.gauge(LAST_SUCCESS.0, LAST_SUCCESS.1);
    metrics.counter(FAILED.0, FAILED.1);
    let settings = settings.backup.clone();
    if settings.interval_minutes == 0 {
        tracing::info!("scheduled backups are off (backup.interval_minutes = 0)");
        return;
    }
    let every = Duration::from_secs(settings.interval_minutes.saturating_mul(60));
    actix_web::rt::spawn(scheduled(core, Arc::new(settings), metrics, every));
}

async fn scheduled(
    core: Arc<Core>,
    settings: Arc<BackupSettings>,
    metrics: Arc<Metrics>,
    every: Duration,
) {
    let start = tokio::time::Instant::now() + every;
    let mut interval = tokio::time::interval_at(start, every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Ends when the runtime closes, so the core (and its database) is not held after a stop.
    let mut closing = core.runtime.registry.closing();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = closing.wait_for(|closed| *closed) => break,
        }
        if !core.is_ready() {
            tracing::warn!("scheduled backup skipped: the server is not ready");
            continue;
        }
        if core.runtime.store.space().writes_refused() {
            tracing::warn!("scheduled backup skipped: storage is below its free-space reserve");
            continue;
        }
        let (core, settings, metrics) = (
            Arc::clone(&core),
            Arc::clone(&settings),
            Arc::clone(&metrics),
        );
        let work = move || run_backup(&core, &settings, &metrics);
        // The outcome is logged and counted inside.
        let _ = actix_web::rt::task::spawn_blocking(work).await;
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;

    #[test]
    fn backup_settings_default_and_are_checked() {
        let mut settings = Settings::embedded_defaults().expect("defaults load");
        let backup = &settings.backup;
        assert_eq!(backup.directory, std::path::PathBuf::from("./backups"));
        assert_eq!((backup.interval_minutes, backup.keep), (15, 8));
        settings.backup.interval_minutes = 0;
        assert!(settings.validate().is_ok(), "0 turns the schedule off");
        settings.backup.interval_minutes = 1_441;
        settings.backup.keep = 0;
        let error = settings.validate().expect_err("invalid").to_string();
        assert!(
            error.contains("backup.interval_minutes must be 0..=1440"),
            "{error}"
        );
        assert!(error.contains("backup.keep must be 1..=1000"), "{error}");
    }
}

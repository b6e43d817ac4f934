//! The core: opens the store, recovers the actors (before the port opens), seeds the demo,
//! and shuts down in order (snapshot, then flush and sync the journal).

pub(crate) mod outcome;

use crate::config::{Durability, Settings};
use crate::telemetry::Metrics;
use playcore_actors::activity_actor::now_ms;
use playcore_actors::domain::{ActivityConfig, ActivityId, Command, Rules, TemplateCode};
use playcore_actors::eligibility::EligibilityOptions;
use playcore_actors::{ActorSettings, Runtime, RuntimeOptions};
use playcore_snapshots::audit::AuditStore;
use playcore_snapshots::event_store::{EventStore, EventStoreConfig};
use playcore_snapshots::{JournalConfig, Store};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Deadlines the timeout supervisor holds at most (unpaid orders, groups, refunds, windows).
pub const TIMERS_CAPACITY: usize = 20_000_000;
/// The event store's directory inside the data directory.
pub const EVENTS_DIRECTORY: &str = "events";
const DAY_MS: u64 = 86_400_000;

/// Largest journal record the writer produces; kept far below sled's blob threshold so every
/// record lives in sled's log, which our fdatasync covers.
pub const JOURNAL_RECORD_BYTES_MAX: usize = 48 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("cannot open the data directory {path}: {reason}")]
    Store { path: String, reason: String },
    #[error(
        "recovery of the data directory {path} refused it (sled's data file is {path}/db): \
         {reason}"
    )]
    Recovery { path: String, reason: String },
}

pub struct Core {
    pub runtime: Arc<Runtime>,
    /// The admin audit log, in the runtime's database (tree "audit").
    pub audit: Arc<AuditStore>,
    /// Every durable business event, kept beyond journal truncation (`<data dir>/events`),
    /// filled by the event indexer (`events::indexer`).
    pub event_store: EventStore,
    /// The first journal seq the event store has not durably indexed: the journal is
    /// never truncated from it on (the runtime's truncation hold; the indexer raises it).
    pub truncation_hold: Arc<AtomicU64>,
    ready: AtomicBool,
    /// The activities `--demo` seeded at this start (empty otherwise), for their H5 links.
    demo_activities: OnceLock<Vec<ActivityId>>,
}

/// The event store's retention as the settings give it.
pub fn event_store_config(settings: &Settings) -> EventStoreConfig {
    EventStoreConfig {
        retention_ms: settings.events.retention_days.saturating_mul(DAY_MS),
        bytes_max: settings.events.bytes_max,
    }
}

/// The runtime's options; `truncation_hold` holds nothing (the core replaces it).
pub fn runtime_options(settings: &Settings) -> RuntimeOptions {
    let storage = &settings.storage;
    let durability = match storage.durability {
        Durability::Fsync => playcore_snapshots::Durability::Fsync,
        Durability::Relaxed => playcore_snapshots::Durability::Relaxed {
            flush_interval_ms: storage.flush_interval_ms,
        },
    };
    RuntimeOptions {
        arbiters: settings.actors.arbiters,
        actor: ActorSettings {
            mailbox_capacity: settings.actors.mailbox_capacity,
            orders_max: settings.actors.max_orders_per_activity,
            snapshot_every_events: storage.snapshot_every_events,
            // A quarter of the journal's bound: a large activity's snapshots stay frequent
            // enough for truncation to keep the journal well below it.
            snapshot_every_events_max: storage.journal_capacity_events / 4,
            snapshot_interval: Duration::from_secs(storage.snapshot_interval_seconds.max(1)),
        },
        journal: JournalConfig {
            durability,
            capacity_events: usize::try_from(storage.journal_capacity_events).unwrap_or(usize::MAX),
            record_bytes_max: JOURNAL_RECORD_BYTES_MAX,
            group_commit_window: Duration::from_micros(storage.group_commit_window_us),
        },
        activities_max: settings.actors.max_activities,
        timers_capacity: TIMERS_CAPACITY,
        timer_tick: Duration::from_millis(settings.actors.timer_tick_ms.max(1)),
        eligibility: EligibilityOptions {
            paid_users_max: settings.eligibility.max_paid_users,
            exclusive_users_max: settings.eligibility.max_exclusive_users,
        },
        truncation_hold: playcore_actors::no_truncation_hold(),
    }
}

/// An event store that indexed seqs the journal does not hold (its journal lost a tail in
/// relaxed mode, or the directories were mixed up) would skip the new entries reusing them.
fn warn_if_events_ahead(event_store: &EventStore, runtime: &Runtime) {
    let (indexed_seq, journal_seq) = (event_store.indexed_seq(), runtime.journal().appended_seq());
    if indexed_seq > journal_seq {
        tracing::error!(
            indexed_seq,
            journal_seq,
            "the event store is ahead of the journal: events of entries up to indexed_seq \
             will not be indexed again"
        );
    }
}

/// A start-up failure goes to the log as an ERROR too (main prints it on stderr).
fn logged(error: CoreError) -> CoreError {
    tracing::error!("{error}");
    error
}

impl Core {
    /// Opens the store and recovers every activity. Runs inside the actix system.
    pub async fn start(
        settings: &Settings,
        _metrics: Arc<Metrics>,
    ) -> Result<Arc<Core>, CoreError> {
        let path = settings.storage.data_dir.clone();
        let shown = path.display().to_string();
        let store = Store::open(&path).map_err(|error| {
            logged(CoreError::Store {
                path: shown.clone(),
                reason: error.to_string(),
            })
        })?;
        let audit = AuditStore::open(&store).map_err(|error| {
            logged(CoreError::Store {
                path: shown.clone(),
                reason: error.to_string(),
            })
        })?;
        let event_store =
            EventStore::open(&path.join(EVENTS_DIRECTORY), event_store_config(settings)).map_err(
                |error| {
                    logged(CoreError::Store {
                        path: path.join(EVENTS_DIRECTORY).display().to_string(),
                        reason: error.to_string(),
                    })
                },
            )?;
        // Before the runtime starts, so its first truncation already keeps what the event
        // store has not durably indexed.
        let truncation_hold = Arc::new(AtomicU64::new(
            event_store.durable_indexed_seq().saturating_add(1),
        ));
        let mut options = runtime_options(settings);
        options.truncation_hold = Arc::clone(&truncation_hold);
        let runtime = Runtime::start(store, options).map_err(|error| {
            logged(CoreError::Recovery {
                path: shown.clone(),
                reason: error.to_string(),
            })
        })?;
        // After recovery: the fault hook counts the syncs of the running server only.
        crate::storage::start_guard(&runtime.store, &settings.storage).map_err(|error| {
            CoreError::Store {
                path: settings.storage.data_dir.display().to_string(),
                reason: error.to_string(),
            }
        })?;
        warn_if_events_ahead(&event_store, &runtime);
        let report = &runtime.recovery;
        tracing::info!(
            activities = report.activities,
            snapshots = report.snapshots_loaded,
            entries = report.entries_replayed,
            events = report.events_replayed,
            duration_ms = report.duration.as_millis() as u64,
            "recovered"
        );
        let core = Arc::new(Core {
            runtime,
            audit: Arc::new(audit),
            event_store,
            truncation_hold,
            ready: AtomicBool::new(false),
            demo_activities: OnceLock::new(),
        });
        if settings.demo {
            let seeded = core.seed_demo().await;
            let _ = core.demo_activities.set(seeded);
        }
        core.ready.store(true, Ordering::Release);
        Ok(core)
    }

    /// Copies the runtime's levels into `metrics` (called when `/metrics` is scraped, so the
    /// hot path does no metrics work).
    pub fn export_metrics(&self, metrics: &Metrics) {
        let journal = self.runtime.journal();
        let stats = journal.stats();
        let levels = [
            (
                "playcore_journal_appended_seq",
                "last journal position assigned",
                journal.appended_seq(),
            ),
            (
                "playcore_journal_durable_seq",
                "last journal position a reply may depend on",
                journal.durable_seq(),
            ),
            (
                "playcore_journal_pending_events",
                "entries queued for the writer",
                stats.pending_events,
            ),
            (
                "playcore_requests_in_flight",
                "commands admitted and not yet answered (the group commit's load signal)",
                stats.waiters_expected,
            ),
            (
                "playcore_replies_held",
                "replies held until the journal makes them durable (with the commands in flight, when a batch need not wait)",
                stats.waiters_waiting,
            ),
            (
                "playcore_journal_batches_written",
                "batches written since start",
                stats.batches_written,
            ),
            (
                "playcore_journal_events_written",
                "entries written since start",
                stats.events_written,
            ),
            (
                "playcore_journal_syncs",
                "flushes (and fdatasyncs in fsync mode) since start",
                stats.sync_count,
            ),
            (
                "playcore_journal_sync_time_microseconds",
                "time spent syncing since start",
                stats.sync_time_us_total,
            ),
            (
                "playcore_journal_records_truncated",
                "journal records removed below the snapshot floor",
                stats.records_truncated,
            ),
            (
                "playcore_journal_snapshots_written",
                "activity snapshots written since start",
                stats.snapshots_written,
            ),
            (
                "playcore_timers_queued",
                "deadlines waiting in the timeout supervisor",
                self.runtime.timers().len() as u64,
            ),
            (
                "playcore_activities",
                "activities in memory",
                self.runtime.registry.len() as u64,
            ),
            (
                "playcore_recovery_events_replayed",
                "events replayed at the last start",
                self.runtime.recovery.events_replayed as u64,
            ),
        ];
        metrics.set_levels(&levels);
        self.export_events(metrics);
        self.export_eligibility(metrics);
        crate::storage::export_metrics(&self.runtime.store, journal, metrics);
    }

    fn export_events(&self, metrics: &Metrics) {
        let stats = self.event_store.stats();
        let durable_seq = self.runtime.journal().durable_seq();
        let levels = [
            (
                "playcore_events_stored",
                "events in the event store",
                stats.events,
            ),
            (
                "playcore_events_stored_bytes",
                "bytes of the event store's records and indexes (the events.bytes_max bound)",
                stats.bytes,
            ),
            (
                "playcore_events_indexed_seq",
                "last journal position whose events are in the event store",
                stats.indexed_seq,
            ),
            (
                "playcore_events_indexer_lag",
                "durable journal entries not yet in the event store",
                durable_seq.saturating_sub(stats.indexed_seq),
            ),
            (
                "playcore_events_removed_by_retention",
                "events removed by the event store's retention",
                stats.removed_by_retention,
            ),
        ];
        metrics.set_levels(&levels);
    }

    fn export_eligibility(&self, metrics: &Metrics) {
        let eligibility = self.runtime.eligibility();
        let as_gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        let levels = [
            (
                "playcore_eligibility_paid_users",
                "users money arrived from (new-users-only index)",
                eligibility.paid.len() as u64,
            ),
            (
                "playcore_eligibility_paid_users_dropped",
                "paying users not recorded because the index is full (non-zero: \
                 new-user-only orders of unknown users are refused)",
                eligibility.paid.dropped(),
            ),
            (
                "playcore_eligibility_exclusive_users",
                "users holding an order in a mutually exclusive activity",
                eligibility.exclusion.len() as u64,
            ),
            (
                "playcore_eligibility_exclusive_claims_refused_full",
                "mutual-exclusion claims refused because the index is full",
                eligibility.exclusion.refused_full(),
            ),
        ];
        for (name, help, value) in levels {
            metrics.gauge(name, help).set(as_gauge(value));
        }
        for (rule, count) in eligibility.refusals() {
            metrics
                .gauge_with_labels(
                    "playcore_eligibility_refusals",
                    "orders refused NOT_ELIGIBLE since start, by rule",
                    &[("rule", rule)],
                )
                .set(as_gauge(count));
        }
    }

    /// The activities `--demo` seeded at this start; empty without `--demo` or when the
    /// store already held activities.
    pub fn demo_activities(&self) -> &[ActivityId] {
        self.demo_activities.get().map_or(&[], Vec::as_slice)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// What keeps the core from taking writes (for `/readyz`), the worst first.
    pub fn unready(&self) -> Option<crate::storage::Unready> {
        let runtime = &self.runtime;
        crate::storage::unready(self.is_ready(), &runtime.store, runtime.journal())
    }

    /// Snapshots the actors, then flushes and syncs the journal; an error when the journal
    /// could not be made durable (or had failed before): the process must not exit 0.
    pub async fn shutdown(&self) -> Result<(), crate::storage::JournalFailed> {
        self.ready.store(false, Ordering::Release);
        self.runtime
            .shutdown()
            .await
            .map_err(|error| crate::storage::JournalFailed(error.to_string()))?;
        // A relaxed-mode flusher that failed leaves a journal that still closes cleanly.
        if let Some(reason) = self.runtime.journal().failure() {
            return Err(crate::storage::JournalFailed(reason.to_string()));
        }
        tracing::info!("journal flushed and synced; shut down");
        Ok(())
    }

    /// Seeds a running flash sale and a group buy, approved and online, unless the store
    /// already holds activities (a restart with --demo does not seed twice). Returns the
    /// ids seeded; their H5 links are logged once the port is bound (`startup`).
    async fn seed_demo(&self) -> Vec<ActivityId> {
        if !self.runtime.registry.is_empty() {
            tracing::info!("demo not seeded: the data directory already holds activities");
            return Vec::new();
        }
        let mut seeded = Vec::new();
        for config in demo_configs(now_ms()) {
            match self.seed_one(config).await {
                Ok(id) => seeded.push(id),
                Err(error) => tracing::error!(%error, "demo seeding failed"),
            }
        }
        seeded
    }

    async fn seed_one(
        &self,
        config: ActivityConfig,
    ) -> Result<ActivityId, playcore_actors::ExecuteError> {
        let id = self
            .runtime
            .create_activity(config, "demo-operator")
            .await?
            .id;
        let registry = &self.runtime.registry;
        registry
            .execute(
                id,
                Command::Submit {
                    by: "demo-operator".into(),
                    flow: playcore_actors::domain::ApprovalFlow::default(),
                },
            )
            .await?;
        registry
            .execute(
                id,
                Command::Approve {
                    by: "demo-approver".into(),
                    remark: "demo".into(),
                },
            )
            .await?;
        registry
            .execute(
                id,
                Command::Publish {
                    by: "demo-operator".into(),
                },
            )
            .await?;
        Ok(id)
    }
}

fn demo_configs(now: i64) -> Vec<ActivityConfig> {
    let day_ms = 24 * 3600 * 1000;
    let flash_sale = ActivityConfig {
        template: TemplateCode::FlashSale,
        title: "爵士舞体验课 秒杀".into(),
        store_id: "store-demo".into(),
        service_id: "dance-jazz-trial".into(),
        price_cents: 990,
        unit_name: "节".into(),
        units_per_order: 1,
        stock_total: 100,
        per_user_limit: 2,
        start_at_ms: now - 60_000,
        end_at_ms: now + 7 * day_ms,
        pay_timeout_seconds: 300,
        rules: Rules::default(),
    };
    let group_buy = ActivityConfig {
        template: TemplateCode::GroupBuy,
        title: "家庭保洁 3 小时 三人团".into(),
        service_id: "cleaning-3h".into(),
        price_cents: 9900,
        unit_name: "次".into(),
        per_user_limit: 1,
        rules: Rules {
            group_size: Some(3),
            group_ttl_seconds: Some(24 * 3600),
            ..Rules::default()
        },
        ..flash_sale.clone()
    };
    vec![flash_sale, group_buy]
}

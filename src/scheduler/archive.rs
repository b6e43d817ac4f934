//! The archive task of the lifecycle scheduler: terminal orders untouched for
//! `scheduler.archive_after_seconds` (30 days by default) leave the activities' memory for
//! the cold store, from which the orders API still reads them.
//!
//! One run, every `scheduler.archive_interval_seconds`, visits the activities from a
//! rotating offset and, for each, repeats until its pass is done or the run's budget is
//! spent:
//!
//! 1. one `Read` in the activity's actor: a bounded scan for candidates
//!    ([`ActivityState::archive_candidates`]) returning their whole orders;
//! 2. those orders are written to the cold store and synced (flush + `fdatasync`), on the
//!    blocking pool;
//! 3. only then `Command::ArchiveOrders`: the actor checks every order is still archivable
//!    and journals ORDERS_ARCHIVED, which drops their detail from memory; the command
//!    returns once that event is durable.
//!
//! A crash after 2 and before the event is durable leaves the orders live, with a record in
//! the cold store that nobody reads; the next run writes it again (an idempotent overwrite).
//! An order that changed between 1 and 3 (a late payment) makes the actor refuse the batch;
//! it is read again next run.
//!
//! Bounds: `archive_orders_per_run_max` orders per run, `archive_batch_orders_max` per cold
//! write and per event, `archive_scan_orders_max` order slots per read in an actor (its
//! pause). Where the next run resumes in each activity is a cursor kept here (one per live
//! activity, so bounded by `actors.max_activities`): the first order the pass left live, so
//! it never skips an order that may become archivable. Cursors start at 0 after a restart,
//! which costs one cheap pass over the stubs.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::web;
use playcore_actors::domain::state::{ActivityState, Order};
use playcore_actors::domain::{ActivityId, CandidateQuery, Command};
use playcore_actors::ExecuteError;
use playcore_snapshots::throttle::{LogThrottle, LOG_INTERVAL};

use crate::config::Settings;
use crate::core::Core;

/// A failing store fails every activity of a run: one line per kind and interval.
static READ_FAILED: LogThrottle = LogThrottle::new(LOG_INTERVAL);
static COLD_WRITE_FAILED: LogThrottle = LogThrottle::new(LOG_INTERVAL);
static COMMAND_FAILED: LogThrottle = LogThrottle::new(LOG_INTERVAL);

/// The bounds and the age of a run, from the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchiveLimits {
    pub after_ms: i64,
    pub batch_orders_max: usize,
    pub orders_per_run_max: usize,
    pub scan_orders_max: usize,
}

impl ArchiveLimits {
    pub fn from_settings(settings: &Settings) -> Self {
        let scheduler = &settings.scheduler;
        let after_ms = scheduler.archive_after_seconds.saturating_mul(1000);
        Self {
            after_ms: i64::try_from(after_ms).unwrap_or(i64::MAX),
            batch_orders_max: scheduler.archive_batch_orders_max,
            orders_per_run_max: scheduler.archive_orders_per_run_max,
            scan_orders_max: scheduler.archive_scan_orders_max,
        }
    }
}

/// Where the next run resumes: the rotating offset over activities and each activity's
/// cursor (an order index).
#[derive(Debug, Default)]
pub struct ArchiveProgress {
    activity_offset: usize,
    cursors: HashMap<ActivityId, usize>,
}

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArchiveTally {
    /// Orders archived (their event is durable).
    pub archived: u64,
    /// Reads, cold-store writes or archive commands that failed.
    pub errors: u64,
}

/// One archive run at `now_ms`.
pub async fn archive_run(
    core: &Core,
    limits: &ArchiveLimits,
    progress: &mut ArchiveProgress,
    now_ms: i64,
) -> ArchiveTally {
    let mut tally = ArchiveTally::default();
    // Archiving writes the cold store before the journal: it waits for space like any write.
    if core.runtime.store.space().writes_refused() {
        return tally;
    }
    let ids = core.runtime.registry.ids();
    progress
        .cursors
        .retain(|id, _| ids.binary_search(id).is_ok());
    if ids.is_empty() {
        return tally;
    }
    let run = Run {
        core,
        limits,
        cutoff_ms: now_ms.saturating_sub(limits.after_ms),
    };
    let start = progress.activity_offset % ids.len();
    let mut budget = limits.orders_per_run_max;
    for (visited, id) in ids.iter().cycle().skip(start).take(ids.len()).enumerate() {
        run.archive_activity(*id, &mut budget, progress, &mut tally)
            .await;
        if budget == 0 {
            // This activity may hold more: the next run starts with it.
            progress.activity_offset = start + visited;
            break;
        }
    }
    tally
}

/// Why a batch was not archived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BatchFailure {
    /// The cold write or the archive command failed: an error of the run.
    Failed,
    /// An order changed since it was read (the actor refused the batch): a benign race.
    Changed,
}

/// One run's fixed inputs.
struct Run<'a> {
    core: &'a Core,
    limits: &'a ArchiveLimits,
    cutoff_ms: i64,
}

impl Run<'_> {
    /// Archives candidates of one activity from its cursor until its pass is done, the
    /// budget is spent or something fails; moves its cursor.
    async fn archive_activity(
        &self,
        id: ActivityId,
        budget: &mut usize,
        progress: &mut ArchiveProgress,
        tally: &mut ArchiveTally,
    ) {
        let mut index = progress.cursors.get(&id).copied().unwrap_or(0);
        let mut first_kept: Option<usize> = None;
        loop {
            let query = CandidateQuery {
                cutoff_ms: self.cutoff_ms,
                start_index: index,
                scan_max: self.limits.scan_orders_max,
                candidates_max: self.limits.batch_orders_max.min(*budget),
            };
            let read = self.core.runtime.registry.read(id, move |state| {
                ActivityState::archive_candidates(state, query)
            });
            let scan = match read.await {
                Ok(scan) => scan,
                Err(ExecuteError::NotFound) => return,
                Err(error) => {
                    if let Some(suppressed) = READ_FAILED.admit() {
                        tracing::warn!(activity = %id, %error, suppressed,
                            "archive: the activity could not be read");
                    }
                    tally.errors += 1;
                    break;
                }
            };
            first_kept = first_kept.or(scan.first_kept_index);
            if let Some((first, _)) = scan.candidates.first() {
                let first_index = (*first - 1) as usize;
                match self.archive_batch(id, scan.candidates).await {
                    Ok(archived) => {
                        tally.archived += archived as u64;
                        *budget = budget.saturating_sub(archived);
                    }
                    Err(failure) => {
                        tally.errors += u64::from(failure == BatchFailure::Failed);
                        // Not archived: the next run must look at these again.
                        first_kept =
                            Some(first_kept.map_or(first_index, |kept| kept.min(first_index)));
                        break;
                    }
                }
            }
            index = scan.next_index;
            if scan.pass_done || *budget == 0 {
                break;
            }
        }
        progress.cursors.insert(id, first_kept.unwrap_or(index));
    }

    /// Writes the candidates to the cold store, then archives them in the actor. Returns
    /// how many were archived.
    async fn archive_batch(
        &self,
        id: ActivityId,
        candidates: Vec<(u64, Order)>,
    ) -> Result<usize, BatchFailure> {
        let orders: Vec<u64> = candidates.iter().map(|(number, _)| *number).collect();
        let registry = &self.core.runtime.registry;
        let cold = Arc::clone(registry.cold());
        let written = web::block(move || cold.write(id, &candidates)).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                if let Some(suppressed) = COLD_WRITE_FAILED.admit() {
                    tracing::error!(activity = %id, %error, suppressed,
                        "archive: the cold store write failed");
                }
                return Err(BatchFailure::Failed);
            }
            Err(error) => {
                if let Some(suppressed) = COLD_WRITE_FAILED.admit() {
                    tracing::error!(activity = %id, %error, suppressed,
                        "archive: the cold store write did not run");
                }
                return Err(BatchFailure::Failed);
            }
        }
        let count = orders.len();
        let command = Command::ArchiveOrders {
            orders,
            cutoff_ms: self.cutoff_ms,
        };
        match registry.execute(id, command).await {
            Ok(_) => Ok(count),
            Err(ExecuteError::Rejected(rejection)) => {
                tracing::debug!(activity = %id, %rejection, "archive: a batch changed since it was read");
                Err(BatchFailure::Changed)
            }
            Err(error) => {
                if let Some(suppressed) = COMMAND_FAILED.admit() {
                    tracing::warn!(activity = %id, %error, suppressed,
                        "archive: the archive command failed");
                }
                Err(BatchFailure::Failed)
            }
        }
    }
}

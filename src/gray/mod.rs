//! Gray release on the hot path, and the record of its decisions.
//!
//! [`admit`] takes the activity's published view (no mailbox hop) and evaluates the pure
//! [`playcore_actors::domain::gray::decide`] on the view's immutable config. While gray
//! release is disabled it does nothing else: no allocation, no counter, no log.
//!
//! While it is enabled each decision is recorded in a [`GrayMonitor`]: counters per
//! reason and outcome are atomics; the log of recent decisions is a ring per activity
//! behind a `Mutex` taken with `try_lock` — a grab never waits for it, and a contended
//! entry is dropped and counted in `logSkipped` (the counters stay exact).

pub(crate) mod routes;

use crate::http::error::{ApiError, ErrorCode};
use dashmap::DashMap;
use playcore_actors::activity_actor::now_ms;
use playcore_actors::domain::gray;
use playcore_actors::domain::{ActivityId, GrayDecision, GrayReason, GrayUser};
use playcore_actors::views::ActivityView;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Activities whose decisions are recorded; decisions of further activities are only
/// counted in [`GrayMonitor::untracked`].
pub const ACTIVITIES_TRACKED_MAX: usize = 10_000;
/// Recent decisions kept per activity.
pub const RECENT_DECISIONS_MAX: usize = 1_000;

const REASONS: usize = GrayReason::ALL.len();

/// One logged decision.
#[derive(Clone, Debug)]
pub struct DecisionRecord {
    pub at_ms: i64,
    pub user: String,
    pub admitted: bool,
    pub reason: GrayReason,
    pub config_version: u64,
}

/// The decisions of one activity.
#[derive(Default)]
pub struct ActivityDecisions {
    admitted: [AtomicU64; REASONS],
    refused: [AtomicU64; REASONS],
    /// Oldest first; at most [`RECENT_DECISIONS_MAX`].
    recent: Mutex<VecDeque<DecisionRecord>>,
    /// Log entries dropped because the ring was busy.
    log_skipped: AtomicU64,
}

/// Counters by reason, read at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReasonCount {
    pub reason: GrayReason,
    pub admitted: u64,
    pub refused: u64,
}

impl ActivityDecisions {
    fn record(&self, record: DecisionRecord) {
        let counters = if record.admitted {
            &self.admitted
        } else {
            &self.refused
        };
        counters[record.reason.index()].fetch_add(1, Ordering::Relaxed);
        let Ok(mut recent) = self.recent.try_lock() else {
            self.log_skipped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if recent.len() == RECENT_DECISIONS_MAX {
            recent.pop_front();
        }
        recent.push_back(record);
    }

    /// The counters of every reason, in decision order.
    pub fn counts(&self) -> Vec<ReasonCount> {
        GrayReason::ALL
            .iter()
            .map(|reason| ReasonCount {
                reason: *reason,
                admitted: self.admitted[reason.index()].load(Ordering::Relaxed),
                refused: self.refused[reason.index()].load(Ordering::Relaxed),
            })
            .collect()
    }

    /// The newest `limit` decisions, newest first.
    pub fn recent(&self, limit: usize) -> Vec<DecisionRecord> {
        let recent = self
            .recent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        recent.iter().rev().take(limit).cloned().collect()
    }

    pub fn log_skipped(&self) -> u64 {
        self.log_skipped.load(Ordering::Relaxed)
    }
}

/// Every tracked activity's decisions; shared by all workers as app data.
#[derive(Default)]
pub struct GrayMonitor {
    activities: DashMap<ActivityId, Arc<ActivityDecisions>>,
    /// Decisions of activities beyond [`ACTIVITIES_TRACKED_MAX`].
    untracked: AtomicU64,
}

impl GrayMonitor {
    pub fn activity(&self, id: ActivityId) -> Option<Arc<ActivityDecisions>> {
        self.activities
            .get(&id)
            .map(|entry| Arc::clone(entry.value()))
    }

    pub fn untracked(&self) -> u64 {
        self.untracked.load(Ordering::Relaxed)
    }

    fn record(&self, id: ActivityId, record: DecisionRecord) {
        if let Some(decisions) = self.activities.get(&id) {
            decisions.record(record);
            return;
        }
        if self.activities.len() >= ACTIVITIES_TRACKED_MAX {
            self.untracked.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let decisions = Arc::clone(self.activities.entry(id).or_default().value());
        decisions.record(record);
    }
}

/// What a trading request says about its user, borrowed from its body.
pub fn asker<'a>(
    user: &'a str,
    store: &'a Option<String>,
    city: &'a Option<String>,
    device: &'a Option<String>,
    tags: &'a Option<Vec<String>>,
) -> GrayUser<'a> {
    GrayUser {
        user,
        store: store.as_deref(),
        city: city.as_deref(),
        device: device.as_deref(),
        tags: tags.as_deref().unwrap_or_default(),
    }
}

/// `Ok` when the gray release of the activity `view` shows admits `asker`, else 403
/// NOT_IN_GRAY.
pub fn admit(monitor: &GrayMonitor, view: &ActivityView, asker: &GrayUser) -> Result<(), ApiError> {
    let id = view.id;
    if !view.gray.enabled {
        return Ok(());
    }
    let decision = gray::decide(&view.gray, id, asker);
    monitor.record(id, record(asker.user, decision, view.gray.version));
    if decision.admitted {
        return Ok(());
    }
    let reason = decision.reason.name();
    Err(ApiError::new(
        ErrorCode::NotInGray,
        "the gray release does not include this user",
    )
    .with_details(serde_json::json!({ "reason": reason })))
}

fn record(user: &str, decision: GrayDecision, config_version: u64) -> DecisionRecord {
    DecisionRecord {
        at_ms: now_ms(),
        user: user.to_string(),
        admitted: decision.admitted,
        reason: decision.reason,
        config_version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(user: &str, admitted: bool) -> DecisionRecord {
        DecisionRecord {
            at_ms: 0,
            user: user.to_string(),
            admitted,
            reason: GrayReason::Bucket,
            config_version: 1,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_decisions_and_the_counters_all_of_them() {
        let monitor = GrayMonitor::default();
        let id = ActivityId(1);
        for index in 0..RECENT_DECISIONS_MAX + 5 {
            monitor.record(id, decision(&format!("u{index}"), index % 2 == 0));
        }
        let decisions = monitor.activity(id).expect("tracked");
        let recent = decisions.recent(RECENT_DECISIONS_MAX + 100);
        assert_eq!(recent.len(), RECENT_DECISIONS_MAX);
        assert_eq!(recent[0].user, format!("u{}", RECENT_DECISIONS_MAX + 4));
        let bucket = decisions.counts()[GrayReason::Bucket.index()];
        assert_eq!(
            bucket.admitted + bucket.refused,
            RECENT_DECISIONS_MAX as u64 + 5
        );
        assert_eq!(bucket.admitted, 503);
    }

    #[test]
    fn activities_beyond_the_bound_are_only_counted() {
        let monitor = GrayMonitor::default();
        for number in 1..=ACTIVITIES_TRACKED_MAX as u64 + 2 {
            monitor.record(ActivityId(number), decision("u", true));
        }
        assert_eq!(monitor.untracked(), 2);
        assert!(monitor.activity(ActivityId(1)).is_some());
        assert!(monitor
            .activity(ActivityId(ACTIVITIES_TRACKED_MAX as u64 + 1))
            .is_none());
    }
}

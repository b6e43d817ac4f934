//! Refusals: counted by reason and route class for `/metrics`, the keys refused most
//! (bounded), and the running total the health supervisor watches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use playcore_actors::activity_actor::now_ms;
use serde_json::{json, Value};

use super::RouteClass;
use crate::telemetry::{Counter, Metrics};

/// Keys whose refusals are counted at most in one window; past it, new keys are not
/// tracked until the window is reset (the counts of tracked keys still grow).
const TRACKED_KEYS_MAX: usize = 1_000;
/// Keys listed in the admin view.
const TOP_KEYS_LISTED: usize = 20;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Ip,
    Device,
    User,
    Activity,
    Overloaded,
}

impl Reason {
    const ALL: [Reason; 5] = [
        Reason::Ip,
        Reason::Device,
        Reason::User,
        Reason::Activity,
        Reason::Overloaded,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ip => "ip",
            Self::Device => "device",
            Self::User => "user",
            Self::Activity => "activity",
            Self::Overloaded => "overloaded",
        }
    }
}

/// The keys refused in the current window, with their counts.
struct TopKeys {
    since_ms: i64,
    counts: HashMap<String, u64>,
}

pub(super) struct Refusals {
    /// One counter per (reason, class), in `Reason::ALL` order, trading then reads.
    counters: Vec<Arc<Counter>>,
    total: AtomicU64,
    top_keys: Mutex<TopKeys>,
}

impl Refusals {
    pub(super) fn new(metrics: &Metrics) -> Self {
        let mut counters = Vec::new();
        for class in [RouteClass::Trading, RouteClass::Reads] {
            for reason in Reason::ALL {
                counters.push(metrics.counter_with_labels(
                    "playcore_flow_refusals_total",
                    "requests refused by flow control, by reason and route class",
                    &[("reason", reason.name()), ("class", class.name())],
                ));
            }
        }
        let top_keys = TopKeys {
            since_ms: now_ms(),
            counts: HashMap::new(),
        };
        Self {
            counters,
            total: AtomicU64::new(0),
            top_keys: Mutex::new(top_keys),
        }
    }

    pub(super) fn count(&self, reason: Reason, class: RouteClass, key: Option<&str>) {
        let reason_index = Reason::ALL.iter().position(|each| *each == reason);
        let class_offset = if class == RouteClass::Trading {
            0
        } else {
            Reason::ALL.len()
        };
        if let Some(counter) =
            reason_index.and_then(|index| self.counters.get(class_offset + index))
        {
            counter.increment();
        }
        self.total.fetch_add(1, Ordering::Relaxed);
        let Some(key) = key else {
            return;
        };
        let mut top = self.top_keys.lock().unwrap_or_else(PoisonError::into_inner);
        let labelled = format!("{}:{key}", reason.name());
        if let Some(count) = top.counts.get_mut(&labelled) {
            *count += 1;
        } else if top.counts.len() < TRACKED_KEYS_MAX {
            top.counts.insert(labelled, 1);
        }
    }

    pub(super) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub(super) fn reset_top_keys(&self) {
        let mut top = self.top_keys.lock().unwrap_or_else(PoisonError::into_inner);
        top.counts.clear();
        top.since_ms = now_ms();
    }

    pub(super) fn to_json(&self) -> Value {
        let mut by_reason = serde_json::Map::new();
        for (index, counter) in self.counters.iter().enumerate() {
            let class = if index < Reason::ALL.len() {
                "trading"
            } else {
                "reads"
            };
            let reason = Reason::ALL[index % Reason::ALL.len()].name();
            by_reason.insert(format!("{class}.{reason}"), json!(counter.get()));
        }
        let top = self.top_keys.lock().unwrap_or_else(PoisonError::into_inner);
        let mut keys: Vec<(&String, &u64)> = top.counts.iter().collect();
        keys.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let listed: Vec<Value> = keys
            .into_iter()
            .take(TOP_KEYS_LISTED)
            .map(|(key, count)| json!({ "key": key, "refusals": count }))
            .collect();
        json!({
            "total": self.total(),
            "byReasonAndClass": by_reason,
            "topKeys": listed,
            "topKeysSinceMs": top.since_ms,
        })
    }
}

//! Configuration versions of an activity: every accepted change of its configuration is a
//! numbered version, kept so operators can see what changed and roll back.
//!
//! - Version 1 is the configuration of ACTIVITY_CREATED; every ACTIVITY_UPDATED and every
//!   ACTIVITY_ROLLED_BACK adds the next number. An edit that changes nothing is refused as
//!   a no-op by `decide` (no event), so it adds no version.
//! - The history is derived by `apply` from those events, so a replay of the journal and a
//!   snapshot give the same history.
//! - Bound: the newest [`VERSIONS_KEPT_MAX`] versions are kept; a new version beyond that
//!   drops the oldest. Numbers keep counting (never reused), so a dropped version is simply
//!   unknown: reading or rolling back to it is 404 NOT_FOUND, like a number never issued.
//! - The latest version's configuration is always the activity's configuration (shared,
//!   one allocation).

use crate::config::config_hash;
use crate::config::ActivityConfig;
use crate::state::ActivityState;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;

mod rollback;

/// Versions kept per activity; older ones are dropped. A configuration is at most a few
/// KiB (500 cities of bounded length), so this bounds the history at well under a MiB.
pub const VERSIONS_KEPT_MAX: usize = 100;
/// Characters of a rollback remark, at most.
pub const REMARK_LENGTH_MAX: usize = 500;

/// What produced a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VersionAction {
    Create,
    Update,
    Rollback,
}

impl VersionAction {
    pub fn name(self) -> &'static str {
        match self {
            VersionAction::Create => "CREATE",
            VersionAction::Update => "UPDATE",
            VersionAction::Rollback => "ROLLBACK",
        }
    }
}

/// One version of the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigVersion {
    /// From 1, dense: version n + 1 was made right after version n.
    pub number: u64,
    pub config: Arc<ActivityConfig>,
    pub by: String,
    pub at_ms: i64,
    pub action: VersionAction,
    /// For a rollback: the version whose configuration this one restores.
    pub rolled_back_from: Option<u64>,
    /// The rollback's remark; empty for creates and edits.
    pub remark: String,
    /// SHA-256 (hex) of the configuration ([`config_hash`]), as approvals record it.
    pub config_hash: String,
}

/// How a version came about, apart from its configuration.
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    pub action: VersionAction,
    pub by: &'a str,
    pub at_ms: i64,
    pub rolled_back_from: Option<u64>,
    pub remark: &'a str,
}

/// The kept versions, oldest first; never empty once created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionHistory {
    /// Shared, so a snapshot image copies a pointer, not a hundred versions; copied on
    /// write by the next (rare) change. Encoded like a plain sequence.
    kept: Arc<VecDeque<ConfigVersion>>,
}

impl VersionHistory {
    /// The history right after ACTIVITY_CREATED: version 1.
    pub fn created(config: Arc<ActivityConfig>, by: &str, at_ms: i64) -> VersionHistory {
        let mut history = VersionHistory {
            kept: Arc::new(VecDeque::with_capacity(1)),
        };
        let change = Change {
            action: VersionAction::Create,
            by,
            at_ms,
            rolled_back_from: None,
            remark: "",
        };
        history.record(config, change);
        history
    }

    /// Adds the next version; drops the oldest beyond [`VERSIONS_KEPT_MAX`].
    pub fn record(&mut self, config: Arc<ActivityConfig>, change: Change) {
        let version = ConfigVersion {
            number: self.current_number() + 1,
            config_hash: config_hash(&config),
            config,
            by: change.by.to_string(),
            at_ms: change.at_ms,
            action: change.action,
            rolled_back_from: change.rolled_back_from,
            remark: change.remark.to_string(),
        };
        let kept = Arc::make_mut(&mut self.kept);
        kept.push_back(version);
        while kept.len() > VERSIONS_KEPT_MAX {
            kept.pop_front();
        }
    }

    /// The latest version (the activity's configuration).
    pub fn current(&self) -> Option<&ConfigVersion> {
        self.kept.back()
    }

    /// The latest version's number; 0 before any.
    pub fn current_number(&self) -> u64 {
        self.current().map_or(0, |version| version.number)
    }

    /// Version `number`, if it is kept.
    pub fn get(&self, number: u64) -> Option<&ConfigVersion> {
        let oldest = self.kept.front()?.number;
        let index = usize::try_from(number.checked_sub(oldest)?).ok()?;
        self.kept.get(index)
    }

    /// Kept versions, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &ConfigVersion> {
        self.kept.iter().rev()
    }

    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// The fields version `number` changed relative to the version before it: empty for
    /// version 1, `None` when the version before it is no longer kept (or `number` is not).
    pub fn changed_fields(&self, number: u64) -> Option<Vec<&'static str>> {
        let version = self.get(number)?;
        if number == 1 {
            return Some(Vec::new());
        }
        let previous = self.get(number - 1)?;
        Some(changed_fields(&previous.config, &version.config))
    }

    /// Whether rolling back to `number` by `by` repeats the latest version: a rollback by
    /// the same person to the same version, with nothing changed since.
    pub fn repeats_rollback(&self, number: u64, by: &str) -> bool {
        self.current().is_some_and(|latest| {
            latest.action == VersionAction::Rollback
                && latest.rolled_back_from == Some(number)
                && latest.by == by
        })
    }
}

impl ActivityState {
    /// The configuration just installed becomes the next version.
    pub(crate) fn record_version(
        &mut self,
        action: VersionAction,
        by: &str,
        at_ms: i64,
        rolled_back_from: Option<u64>,
        remark: &str,
    ) {
        let change = Change {
            action,
            by,
            at_ms,
            rolled_back_from,
            remark,
        };
        self.versions.record(Arc::clone(&self.config), change);
    }
}

/// The configuration fields (as the API names them) that differ between `before` and
/// `after`, in the order of the activity body. Destructures both sides so that a new
/// configuration field cannot be forgotten here (it would not compile).
pub fn changed_fields(before: &ActivityConfig, after: &ActivityConfig) -> Vec<&'static str> {
    let ActivityConfig {
        template,
        title,
        store_id,
        service_id,
        price_cents,
        unit_name,
        units_per_order,
        stock_total,
        per_user_limit,
        start_at_ms,
        end_at_ms,
        pay_timeout_seconds,
        rules,
    } = before;
    let crate::template::Rules {
        group_size,
        group_ttl_seconds,
        new_user_only,
        cities,
        mutually_exclusive,
    } = rules;
    let differs = [
        ("templateCode", *template != after.template),
        ("title", *title != after.title),
        ("storeId", *store_id != after.store_id),
        ("serviceId", *service_id != after.service_id),
        ("price", *price_cents != after.price_cents),
        ("unitName", *unit_name != after.unit_name),
        ("unitsPerOrder", *units_per_order != after.units_per_order),
        ("stock", *stock_total != after.stock_total),
        ("perUserLimit", *per_user_limit != after.per_user_limit),
        ("startAt", *start_at_ms != after.start_at_ms),
        ("endAt", *end_at_ms != after.end_at_ms),
        (
            "payTimeoutSeconds",
            *pay_timeout_seconds != after.pay_timeout_seconds,
        ),
        ("rules.groupSize", *group_size != after.rules.group_size),
        (
            "rules.groupTtlSeconds",
            *group_ttl_seconds != after.rules.group_ttl_seconds,
        ),
        (
            "rules.newUserOnly",
            *new_user_only != after.rules.new_user_only,
        ),
        ("rules.cities", *cities != after.rules.cities),
        (
            "rules.mutuallyExclusive",
            *mutually_exclusive != after.rules.mutually_exclusive,
        ),
    ];
    differs
        .into_iter()
        .filter_map(|(field, changed)| changed.then_some(field))
        .collect()
}

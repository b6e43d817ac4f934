//! The admin audit log: an append-only record of every admin write, chained by hashes so
//! that editing, deleting or reordering a record is detectable. The records, their bytes,
//! the chain and its verification are the storage crate's
//! ([`playcore_snapshots::audit`]); this module decides what is recorded and when.
//!
//! # Record
//!
//! Who (the token's name), their roles, the action (one of [`ACTIONS`]), the target (an
//! activity id, or a backup's name), `before` and `after` (the activity's admin view
//! before and after the write: `null` before a create), the time (RFC 3339 UTC,
//! milliseconds), and the chain: `prevHash` and `hash` (see the storage crate).
//!
//! Only writes the actor accepted and that changed something are recorded: a rejected
//! command or an idempotent repeat leaves no record (the reply says what happened). The
//! record is durable before the handler replies.

pub(crate) mod routes;

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::core::Core;
use crate::http::auth::Caller;
use crate::http::dto::ActivityDto;
use crate::http::error::ApiError;
use playcore_actors::domain::ActivityId;
use playcore_snapshots::audit::{verify_chain, AuditError, Break, Verified};
pub use playcore_snapshots::audit::{AuditEntry, AuditStore, PageQuery};
use playcore_snapshots::throttle::{LogThrottle, LOG_INTERVAL};
use playcore_snapshots::Store;

/// Every action a record may name: what `GET /admin/v1/audit?action=` accepts.
pub const ACTIONS: [&str; 20] = [
    "activity.create",
    "activity.update",
    "activity.rollback",
    "approval.submit",
    "approval.approve",
    "approval.reject",
    "approval.withdraw",
    "activity.publish",
    "activity.unpublish",
    "gray.configure",
    "backup.create",
    "webhook.create",
    "webhook.update",
    "webhook.delete",
    "webhook.rotate_secret",
    "webhook.redeliver",
    "blacklist.add",
    "blacklist.remove",
    "flow.set_limit",
    "flow.remove_limit",
];
/// Largest page `GET /admin/v1/audit` returns.
pub const PAGE_LIMIT_MAX: usize = 1000;

/// An entry of `caller` doing `action` (one of [`ACTIONS`]) on `target`.
pub fn entry(
    caller: &Caller,
    action: &str,
    target: String,
    before: Value,
    after: Value,
) -> AuditEntry {
    debug_assert!(
        ACTIONS.contains(&action),
        "an audit action listed in ACTIONS"
    );
    AuditEntry {
        who: caller.name().to_owned(),
        roles: caller.roles().iter().map(|role| role.to_string()).collect(),
        action: action.to_owned(),
        target,
        before,
        after,
    }
}

/// Records `entry` now, from an async handler: the append runs on the blocking pool.
/// An error means the write took effect but its record could not be made durable.
pub async fn record(log: &Arc<AuditStore>, entry: AuditEntry) -> Result<(), ApiError> {
    let log = Arc::clone(log);
    let at_ms = playcore_actors::activity_actor::now_ms();
    let appended = actix_web::web::block(move || log.append(entry, at_ms)).await;
    match appended.map_err(ApiError::internal)? {
        Ok(_) => Ok(()),
        Err(error) => {
            static RECORD_FAILED: LogThrottle = LogThrottle::new(LOG_INTERVAL);
            if let Some(suppressed) = RECORD_FAILED.admit() {
                tracing::error!(%error, suppressed,
                    "an admin write took effect but its audit record failed");
            }
            Err(ApiError::internal(error))
        }
    }
}

/// The hook every admin write calls once the actor accepted it: records `action` by
/// `caller` on activity `id`, durably, before the handler replies.
pub async fn record_activity(
    core: &Core,
    caller: &Caller,
    action: &str,
    id: ActivityId,
    before: Value,
    after: Value,
) -> Result<(), ApiError> {
    record_target(core, caller, action, &id.to_string(), before, after).await
}

/// The same hook for a write on anything else (a webhook endpoint, a blacklist entry):
/// `target` is its id.
pub async fn record_target(
    core: &Core,
    caller: &Caller,
    action: &str,
    target: &str,
    before: Value,
    after: Value,
) -> Result<(), ApiError> {
    let entry = entry(caller, action, target.to_owned(), before, after);
    record(&core.audit, entry).await
}

/// The activity's admin view (as `GET /admin/v1/activities/{id}` shows it) as JSON, or
/// `null` when unknown: the cheap `before` of a write (no mailbox hop).
pub fn activity_json(core: &Core, id: ActivityId) -> Value {
    core.runtime.registry.view(id).map_or(Value::Null, |view| {
        to_json(&ActivityDto::from(view.as_ref()))
    })
}

/// Any reply body as JSON (`null` if it cannot be represented, which our DTOs always can).
pub fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// Why `playcore audit verify` failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("no database in {0}")]
    Missing(String),
    #[error("the data directory {0} is in use (stop the server first): {1}")]
    Locked(String, String),
    #[error("cannot open the data directory {0}: {1}")]
    Open(String, String),
    #[error("audit log broken at {0}")]
    Broken(Break),
}

/// Opens the stopped server's database in `directory` and verifies its audit chain.
pub fn verify_directory(directory: &Path) -> Result<Verified, VerifyError> {
    let shown = directory.display().to_string();
    if !directory.join("db").is_file() {
        return Err(VerifyError::Missing(shown));
    }
    let store = Store::open(directory).map_err(|error| {
        let reason = error.to_string();
        if reason.contains("lock") {
            VerifyError::Locked(shown.clone(), reason)
        } else {
            VerifyError::Open(shown.clone(), reason)
        }
    })?;
    verify_chain(&store).map_err(|error| match error {
        AuditError::Broken(broken) => VerifyError::Broken(broken),
        other => VerifyError::Open(shown, other.to_string()),
    })
}

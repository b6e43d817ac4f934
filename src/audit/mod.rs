//! The admin audit: every admin write the actor accepted and that changed something is
//! recorded, durably, before the handler replies ([`record_activity`], [`record`]); a
//! rejected command or an idempotent repeat leaves no record (the reply says what
//! happened). The hash-chained log itself is `storage::audit_log`; [`routes`] serves it
//! to admins.

pub(crate) mod routes;

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::core::Core;
use crate::http::auth::Caller;
use crate::http::dto::ActivityDto;
use crate::http::error::ApiError;
use crate::storage::audit_log::{AuditEntry, AuditLog};
use playcore_actors::domain::ActivityId;
use playcore_snapshots::throttle::{LogThrottle, LOG_INTERVAL};

/// Largest page `GET /admin/v1/audit` returns.
pub const PAGE_LIMIT_MAX: usize = 1000;

/// Records `entry` now, from an async handler: the append runs on the blocking pool.
/// An error means the write took effect but its record could not be made durable.
pub async fn record(log: &Arc<AuditLog>, entry: AuditEntry) -> Result<(), ApiError> {
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
    let entry = AuditEntry::new(caller, action, id.to_string(), before, after);
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

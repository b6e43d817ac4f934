//! Flow control's admin API: `GET /admin/v1/flow` (settings, activities' own limits,
//! in-flight and refusal figures, the top limited keys), `DELETE /admin/v1/flow/top-keys`
//! (a new window of top keys) and `PUT`/`DELETE /admin/v1/activities/{id}/flow-limit`
//! (an activity's own trading rate, audited as `flow.set_limit` / `flow.remove_limit`).

use crate::audit;
use crate::config::RateLimit;
use crate::core::Core;
use crate::flow::{rate_json, Flow};
use crate::http::auth::{Caller, Role};
use crate::http::envelope;
use crate::http::error::ApiError;
use crate::http::extract::{activity_id, Json};
use actix_web::{web, HttpResponse};
use playcore_actors::domain::ActivityId;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

const ANY_ROLE: [Role; 3] = [Role::Operator, Role::Approver, Role::Admin];
/// Largest `perSecond` and `burst` of an activity's own limit.
const RATE_MAX: u32 = 1_000_000;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/admin/v1/flow", web::get().to(get_flow))
        .route("/admin/v1/flow/top-keys", web::delete().to(reset_top_keys))
        .route(
            "/admin/v1/activities/{id}/flow-limit",
            web::put().to(put_limit),
        )
        .route(
            "/admin/v1/activities/{id}/flow-limit",
            web::delete().to(delete_limit),
        );
}

type CoreData = web::Data<Arc<Core>>;
type FlowData = web::Data<Flow>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LimitBody {
    per_second: i64,
    burst: i64,
}

fn rate_field(field: &str, value: i64) -> Result<u32, ApiError> {
    u32::try_from(value)
        .ok()
        .filter(|value| (1..=RATE_MAX).contains(value))
        .ok_or_else(|| ApiError::validation(field, format!("an integer from 1 to {RATE_MAX}")))
}

fn limit_json(id: ActivityId, rate: Option<RateLimit>) -> Value {
    rate.map_or(Value::Null, |rate| {
        let mut value = rate_json(rate);
        value["activityId"] = json!(id.to_string());
        value
    })
}

/// The activity must exist: a limit on an unknown id would be kept for nothing.
fn known_activity(core: &Core, text: &str) -> Result<ActivityId, ApiError> {
    let id = activity_id(text)?;
    core.runtime
        .registry
        .view(id)
        .map(|_| id)
        .ok_or_else(|| ApiError::not_found("activity", id))
}

async fn get_flow(flow: FlowData, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    Ok(envelope::ok(flow.status_json()))
}

async fn reset_top_keys(flow: FlowData, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Operator])?;
    flow.reset_top_keys();
    Ok(envelope::ok(flow.status_json()))
}

async fn put_limit(
    core: CoreData,
    flow: FlowData,
    caller: Caller,
    path: web::Path<String>,
    body: Json<LimitBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Operator])?;
    let id = known_activity(&core, &path)?;
    let rate = RateLimit {
        per_second: rate_field("perSecond", body.per_second)?,
        burst: rate_field("burst", body.burst)?,
    };
    let before = limit_json(id, flow.activity_limit(id));
    flow.set_activity_limit(id, rate)?;
    let after = limit_json(id, Some(rate));
    audit::record_activity(&core, &caller, "flow.set_limit", id, before, after.clone()).await?;
    Ok(envelope::ok(after))
}

async fn delete_limit(
    core: CoreData,
    flow: FlowData,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Operator])?;
    let id = known_activity(&core, &path)?;
    let before = limit_json(id, flow.activity_limit(id));
    if flow.remove_activity_limit(id) {
        audit::record_activity(&core, &caller, "flow.remove_limit", id, before, Value::Null)
            .await?;
    }
    Ok(envelope::ok(
        json!({ "activityId": id.to_string(), "removed": true }),
    ))
}

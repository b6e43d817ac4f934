//! Configuration versions of an activity (see `playcore_actors::domain::versions`):
//!
//! - `GET /admin/v1/activities/{id}/versions` — the kept versions, newest first, each with
//!   the fields it changed relative to the version before it (no configurations);
//! - `GET /admin/v1/activities/{id}/versions/{n}` — one version with its configuration;
//! - `POST /admin/v1/activities/{id}/versions/{n}/rollback` `{remark?}` — installs version
//!   n's configuration as a new version (ACTIVITY_ROLLED_BACK), under the rules of an edit:
//!   the activity goes back to DRAFT (from APPROVED) and offline, so publishing again needs a
//!   fresh submit and approval. Audited as `activity.rollback`.
//!
//! Reads: operator, approver, admin. Rollback: operator or admin. Reads go through the
//! actor's mailbox (admin traffic, bounded by the history's size of
//! [`VERSIONS_KEPT_MAX`] versions), never the trading hot path.

use super::activities;
use crate::core::outcome;
use crate::core::Core;
use crate::http::auth::{Caller, Role};
use crate::http::dto::VersionDto;
use crate::http::envelope;
use crate::http::error::ApiError;
use crate::http::extract::activity_id;
use crate::http::extract::OptionalJson;
use actix_web::{web, HttpResponse};
use playcore_actors::domain::state::ActivityState;
use playcore_actors::domain::versions::VERSIONS_KEPT_MAX;
use playcore_actors::domain::Command;
use serde_json::{json, Value};
use std::sync::Arc;

const ANY_ROLE: [Role; 3] = [Role::Operator, Role::Approver, Role::Admin];

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route(
            "/admin/v1/activities/{id}/versions",
            web::get().to(list_versions),
        )
        .route(
            "/admin/v1/activities/{id}/versions/{number}",
            web::get().to(get_version),
        )
        .route(
            "/admin/v1/activities/{id}/versions/{number}/rollback",
            web::post().to(rollback),
        );
}

type CoreData = web::Data<Arc<Core>>;

/// A version number from the path; anything else names no version (404, like an unknown id).
fn version_number(text: &str) -> Result<u64, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|number| *number > 0)
        .ok_or_else(|| ApiError::not_found("version", text))
}

fn history_json(state: &ActivityState) -> Value {
    let history = &state.versions;
    let versions: Vec<VersionDto> = history
        .newest_first()
        .map(|version| VersionDto::of(history, version, false))
        .collect();
    json!({
        "activityId": state.id.to_string(),
        "currentVersion": history.current_number(),
        "keptMax": VERSIONS_KEPT_MAX,
        "versions": versions,
    })
}

async fn list_versions(
    core: CoreData,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let id = activity_id(&path)?;
    Ok(envelope::ok(
        outcome::read_activity(&core, id, history_json).await?,
    ))
}

async fn get_version(
    core: CoreData,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let (id_text, number_text) = path.into_inner();
    let id = activity_id(&id_text)?;
    let number = version_number(&number_text)?;
    let detail = outcome::read_activity(&core, id, move |state| {
        let history = &state.versions;
        let version = history.get(number)?;
        let mut body = json!(VersionDto::of(history, version, true));
        body["activityId"] = json!(state.id.to_string());
        Some(body)
    })
    .await?;
    let detail = detail.ok_or_else(|| ApiError::not_found("version", number))?;
    Ok(envelope::ok(detail))
}

async fn rollback(
    core: CoreData,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: OptionalJson<activities::RemarkBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Operator])?;
    let (id_text, number_text) = path.into_inner();
    let id = activity_id(&id_text)?;
    let to_version = version_number(&number_text)?;
    let remark = activities::remark(body);
    let command = Command::Rollback {
        to_version,
        by: caller.name().to_string(),
        remark,
    };
    activities::run(&core, &caller, "activity.rollback", id, command).await
}

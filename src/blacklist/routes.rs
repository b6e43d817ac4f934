//! The blacklist's admin routes (operator and admin roles; every change in the audit log):
//!
//! - `POST /admin/v1/blacklist {kind, value, reason, expiresAt?}` → 201 with the entry, or
//!   200 when an entry of that kind and value was listed already (it is replaced, its id
//!   kept: a ban is extended or shortened this way);
//! - `GET /admin/v1/blacklist?kind=&after=&limit=` (id order, active entries) and
//!   `GET /admin/v1/blacklist/{id}`;
//! - `DELETE /admin/v1/blacklist/{id}`.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use playcore_actors::activity_actor::now_ms;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Blacklist, Entry, Kind, ENTRIES_MAX};
use crate::audit;
use crate::core::Core;
use crate::http::auth::{Caller, Role};
use crate::http::blocking;
use crate::http::dto::{parse_time, rfc3339};
use crate::http::envelope;
use crate::http::error::ApiError;
use crate::http::extract::{query_limit, Json};

const PAGE_LIMIT_DEFAULT: usize = 100;
const PAGE_LIMIT_MAX: usize = 1000;
const ROLES: [Role; 2] = [Role::Operator, Role::Admin];

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/admin/v1/blacklist", web::post().to(add))
        .route("/admin/v1/blacklist", web::get().to(list))
        .route("/admin/v1/blacklist/{id}", web::get().to(get))
        .route("/admin/v1/blacklist/{id}", web::delete().to(delete));
}

/// An entry as served.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryDto {
    id: String,
    kind: Kind,
    value: String,
    reason: String,
    expires_at: Option<String>,
    created_at: String,
    created_by: String,
}

impl From<&Entry> for EntryDto {
    fn from(entry: &Entry) -> EntryDto {
        EntryDto {
            id: entry.id.clone(),
            kind: entry.kind,
            value: entry.value.clone(),
            reason: entry.reason.clone(),
            expires_at: entry.expires_at_ms.map(rfc3339),
            created_at: rfc3339(entry.created_at_ms),
            created_by: entry.created_by.clone(),
        }
    }
}

fn view(entry: &Entry) -> Value {
    audit::to_json(&EntryDto::from(entry))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddBody {
    kind: Kind,
    value: String,
    reason: String,
    expires_at: Option<String>,
}

/// The body checked: every field at fault named at once.
fn checked(body: &AddBody, now_ms: i64) -> Result<(String, Option<i64>), ApiError> {
    let mut problems = Vec::new();
    let value = super::normalise(body.kind, &body.value)
        .map_err(|reason| problems.push(("value".to_owned(), reason)))
        .ok();
    if let Err(reason) = super::check_reason(&body.reason) {
        problems.push(("reason".to_owned(), reason));
    }
    let expires_at_ms = match body
        .expires_at
        .as_deref()
        .map(|text| parse_time("expiresAt", text))
    {
        Some(Ok(at_ms)) if at_ms <= now_ms => {
            problems.push(("expiresAt".to_owned(), "a time in the future".to_owned()));
            None
        }
        Some(Ok(at_ms)) => Some(at_ms),
        Some(Err(problem)) => {
            problems.push(problem);
            None
        }
        None => None,
    };
    match value {
        Some(value) if problems.is_empty() => Ok((value, expires_at_ms)),
        _ => Err(ApiError::validation_fields(problems)),
    }
}

async fn add(
    blacklist: web::Data<Arc<Blacklist>>,
    core: web::Data<Arc<Core>>,
    caller: Caller,
    body: Json<AddBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ROLES)?;
    let now = now_ms();
    let (value, expires_at_ms) = checked(&body, now)?;
    let _writing = blacklist.writes.lock().await;
    let shared = Arc::clone(&blacklist);
    blocking(move || shared.purge_expired(now)).await?;
    let before = blacklist.find(body.kind, &value);
    if before.is_none() && blacklist.len() >= ENTRIES_MAX {
        let reason = format!("at most {ENTRIES_MAX} blacklist entries; delete some first");
        return Err(ApiError::invalid_state(reason));
    }
    let id = match &before {
        Some(entry) => entry.id.clone(),
        None => super::new_id().map_err(ApiError::internal)?,
    };
    let entry = super::new_entry(
        id,
        body.kind,
        value,
        body.reason.clone(),
        expires_at_ms,
        caller.name().to_owned(),
        now,
    );
    let shared = Arc::clone(&blacklist);
    let entry = blocking(move || shared.put(entry)).await?;
    let before_json = before.as_deref().map_or(Value::Null, view);
    audit::record_target(
        &core,
        &caller,
        "blacklist.add",
        &entry.id,
        before_json,
        view(&entry),
    )
    .await?;
    Ok(if before.is_some() {
        envelope::ok(view(&entry))
    } else {
        envelope::created(view(&entry))
    })
}

#[derive(Deserialize)]
struct ListQuery {
    kind: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

fn kind_of(text: &str) -> Result<Kind, ApiError> {
    serde_json::from_value(Value::String(text.to_owned()))
        .map_err(|_| ApiError::validation("kind", "one of USER, DEVICE, IP, CIDR"))
}

async fn list(
    blacklist: web::Data<Arc<Blacklist>>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ROLES)?;
    let limit = query_limit(query.limit.as_deref(), PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
    let kind = query.kind.as_deref().map(kind_of).transpose()?;
    let after = query.after.clone().unwrap_or_default();
    if !after.is_empty() && !super::is_id(&after) {
        return Err(ApiError::validation(
            "after",
            "an entry id (nextCursor of a previous page)",
        ));
    }
    let now = now_ms();
    let page = blacklist.page(&after, kind, limit);
    let next_cursor = (page.len() == limit)
        .then(|| page.last().map(|last| last.id.clone()))
        .flatten();
    let entries: Vec<Value> = page
        .iter()
        .filter(|entry| entry.active(now))
        .map(|entry| view(entry))
        .collect();
    Ok(envelope::ok(
        json!({"entries": entries, "nextCursor": next_cursor}),
    ))
}

fn load(blacklist: &Blacklist, id: &str) -> Result<Arc<Entry>, ApiError> {
    super::is_id(id)
        .then(|| blacklist.get(id))
        .flatten()
        .filter(|entry| entry.active(now_ms()))
        .ok_or_else(|| ApiError::not_found("blacklist entry", id))
}

async fn get(
    blacklist: web::Data<Arc<Blacklist>>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ROLES)?;
    let entry = load(&blacklist, &path)?;
    Ok(envelope::ok(view(&entry)))
}

async fn delete(
    blacklist: web::Data<Arc<Blacklist>>,
    core: web::Data<Arc<Core>>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ROLES)?;
    let _writing = blacklist.writes.lock().await;
    let before = load(&blacklist, &path)?;
    let shared = Arc::clone(&blacklist);
    let id = before.id.clone();
    blocking(move || shared.remove(&id)).await?;
    audit::record_target(
        &core,
        &caller,
        "blacklist.remove",
        &before.id,
        view(&before),
        Value::Null,
    )
    .await?;
    Ok(envelope::ok(json!({"id": before.id, "deleted": true})))
}

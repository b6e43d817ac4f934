//! The webhook admin routes (admin role only; every write recorded in the audit log):
//!
//! - `POST /admin/v1/webhooks/endpoints` → 201 with the endpoint and its `secret`;
//! - `GET /admin/v1/webhooks/endpoints?after=&limit=` (id order) and `GET …/{id}`, each
//!   with the engine's status;
//! - `PATCH …/{id}`, `DELETE …/{id}`, `POST …/{id}/rotate-secret` (the new secret; the old
//!   one keeps signing for `webhooks.secret_overlap_seconds`);
//! - `GET …/{id}/messages?after=&limit=`, `GET …/{id}/messages/{eventId}`,
//!   `GET …/{id}/dead-letters?after=&limit=`, `POST …/{id}/dead-letters/{eventId}/redeliver`,
//!   `POST …/{id}/dead-letters/redeliver {since}`.

use playcore_actors::activity_actor::now_ms;
use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use playcore_snapshots::event_store::{event_id, parse_event_id};

use super::address;
use super::dto::{EndpointDto, MessageDto};
use super::endpoint::{self, CreateBody, Endpoint, PatchBody, ENDPOINTS_MAX};
use super::signature;
use super::Webhooks;
use crate::audit;
use crate::core::Core;
use crate::delivery::{DeliveryError, Message};
use crate::http::auth::{Caller, Role};
use crate::http::blocking;
use crate::http::dto::parse_time;
use crate::http::envelope;
use crate::http::error::ApiError;
use crate::http::extract::{query_limit, Json};

/// Page sizes.
const PAGE_LIMIT_DEFAULT: usize = 100;
const PAGE_LIMIT_MAX: usize = 1000;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/admin/v1/webhooks/endpoints", web::post().to(create))
        .route("/admin/v1/webhooks/endpoints", web::get().to(list))
        .route("/admin/v1/webhooks/endpoints/{id}", web::get().to(get))
        .route("/admin/v1/webhooks/endpoints/{id}", web::patch().to(update))
        .route(
            "/admin/v1/webhooks/endpoints/{id}",
            web::delete().to(delete),
        )
        .route(
            "/admin/v1/webhooks/endpoints/{id}/rotate-secret",
            web::post().to(rotate_secret),
        )
        .route(
            "/admin/v1/webhooks/endpoints/{id}/messages",
            web::get().to(messages),
        )
        .route(
            "/admin/v1/webhooks/endpoints/{id}/messages/{eventId}",
            web::get().to(message),
        )
        .route(
            "/admin/v1/webhooks/endpoints/{id}/dead-letters",
            web::get().to(dead_letters),
        )
        .route(
            "/admin/v1/webhooks/endpoints/{id}/dead-letters/redeliver",
            web::post().to(redeliver_since),
        )
        .route(
            "/admin/v1/webhooks/endpoints/{id}/dead-letters/{eventId}/redeliver",
            web::post().to(redeliver),
        );
}

fn delivery_error(id: &str, error: DeliveryError) -> ApiError {
    match error {
        DeliveryError::UnknownSubscription(_) => ApiError::not_found("webhook endpoint", id),
        other => ApiError::internal(other),
    }
}

/// The stored endpoint `id`, or 404.
async fn load(webhooks: &Arc<Webhooks>, id: &str) -> Result<Endpoint, ApiError> {
    if !endpoint::is_id(id) {
        return Err(ApiError::not_found("webhook endpoint", id));
    }
    let store = webhooks.endpoints.clone();
    let key = id.to_owned();
    blocking(move || store.get(&key))
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint", id))
}

/// The URL checked: shape, scheme, length, and where its host resolves.
async fn check_url(webhooks: &Webhooks, text: &str) -> Result<String, ApiError> {
    let allow_private = webhooks.settings.allow_private_addresses;
    let url = address::parse_url(text, allow_private)
        .map_err(|reason| ApiError::validation("url", reason))?;
    if !allow_private {
        address::check_resolved(&url)
            .await
            .map_err(|reason| ApiError::validation("url", reason))?;
    }
    Ok(url.to_string())
}

fn view(webhooks: &Webhooks, endpoint: &Endpoint) -> EndpointDto {
    EndpointDto::new(endpoint, now_ms(), webhooks.deliveries.status(&endpoint.id))
}

/// The endpoint as the audit log records it: its view without status or secrets.
fn audit_json(endpoint: &Endpoint) -> Value {
    audit::to_json(&EndpointDto::new(endpoint, now_ms(), None))
}

/// Stores `endpoint` durably, then (re)starts its delivery with a fresh sink.
async fn save(webhooks: &Arc<Webhooks>, endpoint: &Endpoint) -> Result<(), ApiError> {
    let store = webhooks.endpoints.clone();
    let record = endpoint.clone();
    blocking(move || store.put(&record)).await?;
    let shared = Arc::clone(webhooks);
    let record = endpoint.clone();
    blocking(move || shared.run(&record)).await
}

async fn create(
    webhooks: web::Data<Arc<Webhooks>>,
    core: web::Data<Arc<Core>>,
    caller: Caller,
    body: Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let body = body.into_inner();
    let url = check_url(&webhooks, &body.url).await?;
    let fields = endpoint::check_fields(
        &body.description,
        &body.event_types,
        &body.activity_ids,
        &body.store_ids,
        body.rate_limit_per_second,
        body.payload_template.as_ref(),
    )
    .map_err(ApiError::validation_fields)?;
    let _writing = webhooks.writes.lock().await;
    if webhooks.endpoints.count() >= ENDPOINTS_MAX {
        let reason = format!("at most {ENDPOINTS_MAX} webhook endpoints; delete one first");
        return Err(ApiError::invalid_state(reason));
    }
    let id = endpoint::new_id().map_err(ApiError::internal)?;
    let secret = signature::new_secret().map_err(ApiError::internal)?;
    let endpoint = endpoint::new_endpoint(id, url, fields, body.enabled, secret.clone(), now_ms());
    save(&webhooks, &endpoint).await?;
    audit::record_target(
        &core,
        &caller,
        "webhook.create",
        &endpoint.id,
        Value::Null,
        audit_json(&endpoint),
    )
    .await?;
    let mut reply = audit::to_json(&view(&webhooks, &endpoint));
    reply["secret"] = Value::String(secret);
    Ok(envelope::created(reply))
}

#[derive(Deserialize)]
struct PageQuery {
    after: Option<String>,
    limit: Option<String>,
}

async fn list(
    webhooks: web::Data<Arc<Webhooks>>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let limit = query_limit(query.limit.as_deref(), PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
    let after = query.after.clone().unwrap_or_default();
    if !after.is_empty() && !endpoint::is_id(&after) {
        return Err(ApiError::validation(
            "after",
            "an endpoint id (nextCursor of a previous page)",
        ));
    }
    let store = webhooks.endpoints.clone();
    let page = blocking(move || store.page(&after, limit)).await?;
    let next_cursor = (page.len() == limit).then(|| page.last().map(|last| last.id.clone()));
    let endpoints: Vec<EndpointDto> = page.iter().map(|item| view(&webhooks, item)).collect();
    Ok(envelope::ok(
        json!({"endpoints": endpoints, "nextCursor": next_cursor.flatten()}),
    ))
}

async fn get(
    webhooks: web::Data<Arc<Webhooks>>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let endpoint = load(&webhooks, &path).await?;
    Ok(envelope::ok(view(&webhooks, &endpoint)))
}

async fn update(
    webhooks: web::Data<Arc<Webhooks>>,
    core: web::Data<Arc<Core>>,
    caller: Caller,
    path: web::Path<String>,
    body: Json<PatchBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let patch = body.into_inner();
    let url = match &patch.url {
        Some(text) => Some(check_url(&webhooks, text).await?),
        None => None,
    };
    let _writing = webhooks.writes.lock().await;
    let before = load(&webhooks, &path).await?;
    let after = patched(&before, patch, url)?;
    save(&webhooks, &after).await?;
    audit::record_target(
        &core,
        &caller,
        "webhook.update",
        &after.id,
        audit_json(&before),
        audit_json(&after),
    )
    .await?;
    Ok(envelope::ok(view(&webhooks, &after)))
}

/// `before` with the patch applied and every field checked again.
fn patched(before: &Endpoint, patch: PatchBody, url: Option<String>) -> Result<Endpoint, ApiError> {
    let activity_ids = patch
        .activity_ids
        .unwrap_or_else(|| before.activity_ids.iter().map(u64::to_string).collect());
    let rate = patch
        .rate_limit_per_second
        .unwrap_or(before.rate_limit_per_second);
    let template = patch
        .payload_template
        .unwrap_or_else(|| before.payload_template.clone());
    let fields = endpoint::check_fields(
        patch.description.as_deref().unwrap_or(&before.description),
        patch.event_types.as_deref().unwrap_or(&before.event_types),
        &activity_ids,
        patch.store_ids.as_deref().unwrap_or(&before.store_ids),
        rate,
        template.as_ref(),
    )
    .map_err(ApiError::validation_fields)?;
    Ok(Endpoint {
        url: url.unwrap_or_else(|| before.url.clone()),
        description: fields.description,
        event_types: fields.event_types,
        activity_ids: fields.activity_ids,
        store_ids: fields.store_ids,
        enabled: patch.enabled.unwrap_or(before.enabled),
        rate_limit_per_second: fields.rate_limit_per_second,
        payload_template: fields.payload_template,
        updated_at_ms: now_ms(),
        ..before.clone()
    })
}

async fn delete(
    webhooks: web::Data<Arc<Webhooks>>,
    core: web::Data<Arc<Core>>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let _writing = webhooks.writes.lock().await;
    let before = load(&webhooks, &path).await?;
    let shared = Arc::clone(&webhooks);
    let id = before.id.clone();
    blocking(move || match shared.deliveries.remove(&id) {
        Err(DeliveryError::UnknownSubscription(_)) => Ok(()),
        other => other,
    })
    .await?;
    let store = webhooks.endpoints.clone();
    let id = before.id.clone();
    blocking(move || store.remove(&id)).await?;
    audit::record_target(
        &core,
        &caller,
        "webhook.delete",
        &before.id,
        audit_json(&before),
        Value::Null,
    )
    .await?;
    Ok(envelope::ok(json!({"id": before.id, "deleted": true})))
}

async fn rotate_secret(
    webhooks: web::Data<Arc<Webhooks>>,
    core: web::Data<Arc<Core>>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let _writing = webhooks.writes.lock().await;
    let before = load(&webhooks, &path).await?;
    let secret = signature::new_secret().map_err(ApiError::internal)?;
    let overlap_ms = i64::try_from(
        webhooks
            .settings
            .secret_overlap_seconds
            .saturating_mul(1_000),
    )
    .unwrap_or(i64::MAX);
    let mut after = before.clone();
    after.rotate(secret.clone(), now_ms(), overlap_ms);
    save(&webhooks, &after).await?;
    let action = "webhook.rotate_secret";
    audit::record_target(
        &core,
        &caller,
        action,
        &after.id,
        audit_json(&before),
        audit_json(&after),
    )
    .await?;
    let mut reply = audit::to_json(&view(&webhooks, &after));
    reply["secret"] = Value::String(secret);
    Ok(envelope::ok(reply))
}

/// A message cursor from the query: an event id, or the start.
fn after_position(after: Option<&str>) -> Result<u64, ApiError> {
    match after {
        None | Some("") => Ok(0),
        Some(text) => parse_event_id(text).ok_or_else(|| {
            ApiError::validation("after", "an event id (nextCursor of a previous page)")
        }),
    }
}

/// Messages with what the event store still says about their events.
async fn message_views(
    webhooks: &Arc<Webhooks>,
    messages: Vec<Message>,
) -> Result<Vec<MessageDto>, ApiError> {
    let events = webhooks.events.clone();
    blocking(move || {
        messages
            .iter()
            .map(|message| {
                let event = events.get(message.position)?;
                Ok(MessageDto::new(message, event.as_ref()))
            })
            .collect::<Result<Vec<_>, playcore_snapshots::StoreError>>()
    })
    .await
}

/// A page of messages (or dead letters, `dead = true`) of endpoint `id`.
async fn message_page(
    webhooks: &Arc<Webhooks>,
    id: &str,
    query: &PageQuery,
    dead: bool,
) -> Result<Value, ApiError> {
    let limit = query_limit(query.limit.as_deref(), PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
    let after = after_position(query.after.as_deref())?;
    let endpoint = load(webhooks, id).await?;
    let shared = Arc::clone(webhooks);
    let key = endpoint.id.clone();
    let page = web::block(move || match dead {
        true => shared.deliveries.dead_letters(&key, after, limit),
        false => shared.deliveries.messages(&key, after, limit),
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|error| delivery_error(id, error))?;
    let next_cursor = (page.len() == limit)
        .then(|| page.last().map(|last| event_id(last.position)))
        .flatten();
    let views = message_views(webhooks, page).await?;
    let list = if dead { "deadLetters" } else { "messages" };
    Ok(json!({ list: views, "nextCursor": next_cursor }))
}

async fn messages(
    webhooks: web::Data<Arc<Webhooks>>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let page = message_page(&webhooks, &path, &query, false).await?;
    Ok(envelope::ok(page))
}

async fn dead_letters(
    webhooks: web::Data<Arc<Webhooks>>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let page = message_page(&webhooks, &path, &query, true).await?;
    Ok(envelope::ok(page))
}

/// The position an `{eventId}` path segment names, or 404.
fn path_position(text: &str) -> Result<u64, ApiError> {
    parse_event_id(text).ok_or_else(|| ApiError::not_found("event", text))
}

async fn message(
    webhooks: web::Data<Arc<Webhooks>>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let (id, event) = path.into_inner();
    let position = path_position(&event)?;
    let endpoint = load(&webhooks, &id).await?;
    let shared = Arc::clone(&webhooks);
    let found = web::block(move || shared.deliveries.message(&endpoint.id, position))
        .await
        .map_err(ApiError::internal)?
        .map_err(|error| delivery_error(&id, error))?;
    let found = found.ok_or_else(|| ApiError::not_found("message", &event))?;
    let mut views = message_views(&webhooks, vec![found]).await?;
    Ok(envelope::ok(views.pop()))
}

async fn redeliver(
    webhooks: web::Data<Arc<Webhooks>>,
    core: web::Data<Arc<Core>>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let (id, event) = path.into_inner();
    let position = path_position(&event)?;
    let endpoint = load(&webhooks, &id).await?;
    let shared = Arc::clone(&webhooks);
    let key = endpoint.id.clone();
    let redelivered = web::block(move || shared.deliveries.redeliver(&key, position))
        .await
        .map_err(ApiError::internal)?
        .map_err(|error| delivery_error(&id, error))?;
    if !redelivered {
        return Err(ApiError::not_found("dead letter", &event));
    }
    let after = json!({"eventId": event});
    audit::record_target(
        &core,
        &caller,
        "webhook.redeliver",
        &endpoint.id,
        Value::Null,
        after,
    )
    .await?;
    Ok(envelope::ok(json!({"eventId": event, "redelivered": 1})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SinceBody {
    since: String,
}

async fn redeliver_since(
    webhooks: web::Data<Arc<Webhooks>>,
    core: web::Data<Arc<Core>>,
    caller: Caller,
    path: web::Path<String>,
    body: Json<SinceBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let since = body.into_inner().since;
    let since_ms = parse_time("since", &since)
        .map_err(|(field, reason)| ApiError::validation(field, reason))?;
    let endpoint = load(&webhooks, &path).await?;
    let shared = Arc::clone(&webhooks);
    let key = endpoint.id.clone();
    let count = web::block(move || shared.deliveries.redeliver_since(&key, since_ms))
        .await
        .map_err(ApiError::internal)?
        .map_err(|error| delivery_error(&path, error))?;
    let after = json!({"since": since, "redelivered": count});
    audit::record_target(
        &core,
        &caller,
        "webhook.redeliver",
        &endpoint.id,
        Value::Null,
        after.clone(),
    )
    .await?;
    Ok(envelope::ok(after))
}

//! The event catalog over HTTP, for consumers that generate code or check payloads:
//!
//! - `GET /admin/v1/event-types`: `{eventTypes: [{type, description, schema}]}`, every
//!   type in the catalog's order;
//! - `GET /admin/v1/event-types/{type}`: one of them; 404 for a type the catalog does not
//!   list.
//!
//! Any admin-API role reads, as for the event log. The replies never change while the
//! server runs, so they are built once.

use super::catalog::{self, EventType};
use crate::http::auth::{Caller, Role};
use crate::http::envelope;
use crate::http::error::ApiError;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use std::sync::LazyLock;

const ANY_ROLE: [Role; 3] = [Role::Operator, Role::Approver, Role::Admin];

pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/admin/v1/event-types", web::get().to(list_types))
        .route("/admin/v1/event-types/{type}", web::get().to(get_type));
}

/// Every type as served, in the catalog's order.
static SERVED: LazyLock<Vec<Value>> =
    LazyLock::new(|| catalog::types().iter().map(type_json).collect());

fn type_json(event_type: &EventType) -> Value {
    json!({
        "type": event_type.name,
        "description": event_type.description,
        "schema": (event_type.schema)(),
    })
}

async fn list_types(caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    Ok(envelope::ok(json!({ "eventTypes": &*SERVED })))
}

async fn get_type(caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let name = path.into_inner();
    let served = SERVED.iter().find(|served| served["type"] == name.as_str());
    let served = served.ok_or_else(|| ApiError::not_found("event type", &name))?;
    Ok(envelope::ok(served))
}

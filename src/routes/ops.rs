//! Operations endpoints: liveness, readiness and metrics (README, "Operations").

use std::sync::Arc;

use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::core::Core;
use crate::http::envelope;
use crate::http::error::ApiError;
use crate::telemetry::Metrics;

/// The content type of the Prometheus text exposition format.
const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

/// 200 while the process is up: a liveness probe that touches nothing else.
async fn healthz() -> HttpResponse {
    envelope::ok(json!({ "status": "up" }))
}

/// 200 once recovery is complete and the core takes writes; 503 before, during shutdown,
/// once the journal failed (OVERLOADED) and while the storage is below its free-space
/// reserve (STORAGE_FULL), so a load balancer sends no traffic to an instance that cannot
/// take it. `details.reason` names why.
async fn readyz(core: web::Data<Arc<Core>>) -> Result<HttpResponse, ApiError> {
    match core.unready() {
        None => Ok(envelope::ok(json!({ "status": "ready" }))),
        Some(unready) => Err(unready.error()),
    }
}

/// Prometheus text format (not enveloped: scrapers expect the plain format).
async fn metrics(
    metrics: web::Data<Metrics>,
    core: web::Data<Arc<Core>>,
    webhooks: web::Data<Arc<crate::webhooks::Webhooks>>,
) -> HttpResponse {
    core.export_metrics(&metrics);
    webhooks.deliveries.export_metrics(&metrics);
    let content_type = HeaderValue::from_static(PROMETHEUS_CONTENT_TYPE);
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .body(metrics.render())
}

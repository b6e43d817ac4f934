//! Backups on demand (see [`crate::backup`]), admin role only:
//!
//! - `POST /admin/v1/backups`: writes a backup now and verifies it; 201 with its name,
//!   `durableSeq`, `bytes`, `createdAt`, `verified`. Audited as `backup.create`. Waits for
//!   a backup already being written, then writes its own.
//! - `GET /admin/v1/backups`: the backups in `backup.directory`, newest first (from their
//!   manifests; only verified backups are named as backups).

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use playcore_snapshots::backup::{list_backups, BackupInfo};
use serde::Serialize;
use serde_json::{json, Value};

use crate::audit;
use crate::config::Settings;
use crate::core::Core;
use crate::http::auth::{Caller, Role};
use crate::http::envelope;
use crate::http::error::ApiError;
use crate::telemetry::Metrics;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/admin/v1/backups", web::post().to(create))
        .route("/admin/v1/backups", web::get().to(list));
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BackupDto {
    name: String,
    durable_seq: u64,
    bytes: u64,
    created_at: String,
    /// Always true: a backup gets its name only once it verified.
    verified: bool,
}

impl From<&BackupInfo> for BackupDto {
    fn from(info: &BackupInfo) -> Self {
        BackupDto {
            name: info.name.clone(),
            durable_seq: info.durable_seq,
            bytes: info.bytes,
            created_at: info.created_at.clone(),
            verified: true,
        }
    }
}

async fn create(
    core: web::Data<Arc<Core>>,
    settings: web::Data<Settings>,
    metrics: web::Data<Metrics>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    if core.runtime.store.space().writes_refused() {
        // A backup beside the data could take the last of the reserve.
        let code = crate::http::error::ErrorCode::StorageFull;
        return Err(ApiError::new(code, code.default_message()));
    }
    let running = Arc::clone(core.get_ref());
    let work = move || crate::backup::run_backup(&running, &settings.backup, &metrics);
    let info = web::block(work)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let created = BackupDto::from(&info);
    let after = audit::to_json(&created);
    let entry = audit::entry(&caller, "backup.create", info.name, Value::Null, after);
    audit::record(&core.audit, entry).await?;
    Ok(envelope::created(created))
}

async fn list(settings: web::Data<Settings>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let directory = settings.backup.directory.clone();
    let backups = web::block(move || list_backups(&directory))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let backups: Vec<BackupDto> = backups.iter().map(BackupDto::from).collect();
    Ok(envelope::ok(json!({ "backups": backups })))
}

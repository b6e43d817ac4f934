//! `GET /admin/v1/audit?afterSeq=&limit=&target=&action=`: the admin audit log in sequence
//! order, paged (see [`crate::audit`]). Admin role only: the log names every operator and
//! approver and shows configurations before and after each write.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::audit::{self, PageQuery, PAGE_LIMIT_MAX};
use crate::core::Core;
use crate::http::auth::{Caller, Role};
use crate::http::envelope;
use crate::http::error::ApiError;
use crate::http::extract::query_choice;

/// Records per page when `limit` is absent.
const PAGE_LIMIT_DEFAULT: usize = 100;

pub fn configure(config: &mut web::ServiceConfig) {
    config.route("/admin/v1/audit", web::get().to(audit));
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuditQuery {
    /// Text, parsed here, so a non-number is reported naming its field.
    after_seq: Option<String>,
    /// Text, as `after_seq`.
    limit: Option<String>,
    target: Option<String>,
    action: Option<String>,
}

impl AuditQuery {
    fn parse(self) -> Result<PageQuery, ApiError> {
        let limit = match self.limit.as_deref().map(str::parse::<usize>) {
            None => PAGE_LIMIT_DEFAULT,
            Some(Ok(limit)) if (1..=PAGE_LIMIT_MAX).contains(&limit) => limit,
            Some(_) => return Err(ApiError::validation("limit", "an integer from 1 to 1000")),
        };
        let after_seq = match self.after_seq.as_deref().map(str::parse::<u64>) {
            None => 0,
            Some(Ok(seq)) => seq,
            Some(Err(_)) => {
                let reason = "a sequence number (nextAfterSeq of a previous page)";
                return Err(ApiError::validation("afterSeq", reason));
            }
        };
        let action = query_choice("action", self.action.as_deref(), &audit::ACTIONS)?;
        Ok(PageQuery {
            after_seq,
            limit,
            target: self.target,
            action: action.map(str::to_owned),
        })
    }
}

async fn audit(
    core: web::Data<Arc<Core>>,
    caller: Caller,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    let query = query.into_inner().parse()?;
    let log = Arc::clone(&core.audit);
    let page = web::block(move || log.page(&query))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(envelope::ok(page))
}

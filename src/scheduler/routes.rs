//! The lifecycle scheduler's records (see [`crate::scheduler`]):
//!
//! - `GET /admin/v1/scheduler/runs?task=&limit=`: the newest runs first, of one task
//!   (`timeouts`, `health`, `archive`) or all;
//! - `GET /admin/v1/scheduler/alerts?kind=&limit=`: the newest health alerts first.
//!
//! Any admin role may read them (operator, approver, admin): they are operational facts
//! (counts, times, order and activity ids) with no configuration or personal data, and an
//! operator on duty is who acts on a stuck order or a deep mailbox. No token: 401.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::http::auth::{Caller, Role};
use crate::http::dto::rfc3339;
use crate::http::envelope;
use crate::http::error::ApiError;
use crate::scheduler::{Alert, AlertKind, Run, Scheduler, Task, ALERTS_CAPACITY, RUNS_CAPACITY};

/// Entries per answer when `limit` is absent.
const LIMIT_DEFAULT: usize = 100;
const ANY_ROLE: [Role; 3] = [Role::Operator, Role::Approver, Role::Admin];

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/admin/v1/scheduler/runs", web::get().to(runs))
        .route("/admin/v1/scheduler/alerts", web::get().to(alerts));
}

#[derive(Deserialize)]
struct RunsQuery {
    /// Text, parsed here, so a bad value is reported naming its field.
    task: Option<String>,
    limit: Option<String>,
}

#[derive(Deserialize)]
struct AlertsQuery {
    kind: Option<String>,
    limit: Option<String>,
}

/// `limit` from 1 to `maximum` (the log's capacity), `LIMIT_DEFAULT` when absent.
fn parse_limit(limit: Option<&str>, maximum: usize) -> Result<usize, ApiError> {
    match limit.map(str::parse::<usize>) {
        None => Ok(LIMIT_DEFAULT.min(maximum)),
        Some(Ok(limit)) if (1..=maximum).contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::validation(
            "limit",
            format!("an integer from 1 to {maximum}"),
        )),
    }
}

fn parse_task(task: Option<&str>) -> Result<Option<Task>, ApiError> {
    match task.filter(|task| !task.is_empty()) {
        None => Ok(None),
        Some(name) => Task::parse(name)
            .map(Some)
            .ok_or_else(|| ApiError::validation("task", "one of timeouts, health, archive")),
    }
}

fn parse_kind(kind: Option<&str>) -> Result<Option<AlertKind>, ApiError> {
    match kind.filter(|kind| !kind.is_empty()) {
        None => Ok(None),
        Some(name) => AlertKind::parse(name).map(Some).ok_or_else(|| {
            let names: Vec<&str> = AlertKind::ALL.iter().map(|kind| kind.name()).collect();
            ApiError::validation("kind", format!("one of {}", names.join(", ")))
        }),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunDto {
    seq: u64,
    task: &'static str,
    started_at: String,
    ended_at: String,
    duration_ms: i64,
    items_processed: u64,
    errors: u64,
}

impl From<Run> for RunDto {
    fn from(run: Run) -> Self {
        Self {
            seq: run.seq,
            task: run.task.name(),
            started_at: rfc3339(run.started_at_ms),
            ended_at: rfc3339(run.ended_at_ms),
            duration_ms: run.ended_at_ms - run.started_at_ms,
            items_processed: run.items_processed,
            errors: run.errors,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertDto {
    seq: u64,
    kind: &'static str,
    activity_id: Option<String>,
    observed: u64,
    limit: u64,
    message: String,
    raised_at: String,
}

impl From<Alert> for AlertDto {
    fn from(alert: Alert) -> Self {
        let finding = alert.finding;
        Self {
            seq: alert.seq,
            kind: finding.kind.name(),
            activity_id: finding.activity.map(|activity| activity.to_string()),
            observed: finding.observed,
            limit: finding.limit,
            message: finding.message,
            raised_at: rfc3339(alert.raised_at_ms),
        }
    }
}

async fn runs(
    scheduler: web::Data<Scheduler>,
    caller: Caller,
    query: web::Query<RunsQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let task = parse_task(query.task.as_deref())?;
    let limit = parse_limit(query.limit.as_deref(), RUNS_CAPACITY)?;
    let runs: Vec<RunDto> = scheduler
        .runs
        .recent(task, limit)
        .into_iter()
        .map(RunDto::from)
        .collect();
    Ok(envelope::ok(serde_json::json!({ "runs": runs })))
}

async fn alerts(
    scheduler: web::Data<Scheduler>,
    caller: Caller,
    query: web::Query<AlertsQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let kind = parse_kind(query.kind.as_deref())?;
    let limit = parse_limit(query.limit.as_deref(), ALERTS_CAPACITY)?;
    let alerts: Vec<AlertDto> = scheduler
        .alerts
        .recent(kind, limit)
        .into_iter()
        .map(AlertDto::from)
        .collect();
    Ok(envelope::ok(serde_json::json!({ "alerts": alerts })))
}

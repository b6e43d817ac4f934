//! The admin API: activities, approval, publication, stats and orders.
//! Bearer tokens; roles (README, "Configuration"): operator (create, edit, submit, publish), approver
//! (approve, reject), admin (everything). Reads need any role.

use crate::approval_flows;
use crate::audit;
use crate::config::Settings;
use crate::core::outcome::{self, execute_error};
use crate::core::Core;
use crate::http::auth::{Caller, Role};
use crate::http::dto::{ActivityBody, ActivityDto, ApprovalRecordDto, OrderDto, StockDto};
use crate::http::envelope;
use crate::http::error::ApiError;
use crate::http::extract::activity_id;
use crate::http::extract::{query_choice, query_limit, query_seq, Json, OptionalJson};
use actix_web::{web, HttpResponse};
use playcore_actors::domain::state::ActivityState;
use playcore_actors::domain::{
    ActivityId, ActivityStatus, ApprovalStatus, Command, LevelMode, LevelProgress, OrderStatus,
    TemplateCode,
};
use playcore_actors::views::{order_view, ActivityView, OrderView};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Largest page of activities or orders.
pub const PAGE_LIMIT_MAX: usize = 1000;
/// Page size when the query names no `limit`.
const PAGE_LIMIT_DEFAULT: usize = 100;
const CURSOR_REASON: &str = "a cursor returned by a previous page";

const ANY_ROLE: [Role; 3] = [Role::Operator, Role::Approver, Role::Admin];

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/admin/v1/activities", web::post().to(create_activity))
        .route("/admin/v1/activities", web::get().to(list_activities))
        .route("/admin/v1/activities/{id}", web::get().to(get_activity))
        .route("/admin/v1/activities/{id}", web::put().to(update_activity))
        .route("/admin/v1/activities/{id}/submit", web::post().to(submit))
        .route("/admin/v1/activities/{id}/approve", web::post().to(approve))
        .route("/admin/v1/activities/{id}/reject", web::post().to(reject))
        .route(
            "/admin/v1/activities/{id}/withdraw",
            web::post().to(withdraw),
        )
        .route(
            "/admin/v1/activities/{id}/approval",
            web::get().to(approval),
        )
        .route("/admin/v1/activities/{id}/publish", web::post().to(publish))
        .route(
            "/admin/v1/activities/{id}/unpublish",
            web::post().to(unpublish),
        )
        .route("/admin/v1/activities/{id}/stats", web::get().to(stats))
        .route("/admin/v1/activities/{id}/orders", web::get().to(orders))
        .route("/admin/v1/approvals", web::get().to(approvals));
}

type CoreData = web::Data<Arc<Core>>;

/// Runs an admin write and, once the actor accepted it and it changed something (not an
/// idempotent repeat), records it in the audit log before replying.
pub(crate) async fn run(
    core: &Core,
    caller: &Caller,
    action: &str,
    id: ActivityId,
    command: Command,
) -> Result<HttpResponse, ApiError> {
    let before = audit::activity_json(core, id);
    let answer = outcome::execute(core, id, command, "activity").await?;
    if !answer.replayed {
        let after = audit::to_json(&outcome::subject_json(&answer.subject));
        audit::record_activity(core, caller, action, id, before, after).await?;
    }
    Ok(outcome::ok(&answer))
}

async fn create_activity(
    core: CoreData,
    caller: Caller,
    body: Json<ActivityBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Operator])?;
    let config = body.into_inner().into_config()?;
    let view = core
        .runtime
        .create_activity(config, caller.name())
        .await
        .map_err(|error| execute_error(error, "activity"))?;
    let created = ActivityDto::from(view.as_ref());
    let after = audit::to_json(&created);
    audit::record_activity(
        &core,
        &caller,
        "activity.create",
        view.id,
        Value::Null,
        after,
    )
    .await?;
    Ok(envelope::created(created))
}

/// The statuses an activity shows (`ActivityDto::status`), for the list's filter.
const ACTIVITY_STATUSES: [&str; 9] = [
    "DRAFT",
    "PENDING",
    "APPROVED",
    "REJECTED",
    "NOT_STARTED",
    "ONLINE",
    "SOLD_OUT",
    "ENDED",
    "OFFLINE",
];

/// Filters and paging of the admin activity list; every value is text, parsed by
/// [`ActivitiesQuery::parse`] so a bad one is named.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActivitiesQuery {
    status: Option<String>,
    store_id: Option<String>,
    template_code: Option<String>,
    /// Only activities whose title contains this text.
    title: Option<String>,
    /// The last activity id of the previous page (its `nextCursor`).
    cursor: Option<String>,
    limit: Option<String>,
}

/// [`ActivitiesQuery`] checked.
struct ActivityFilter {
    status: Option<ActivityStatus>,
    store_id: Option<String>,
    template: Option<TemplateCode>,
    title: Option<String>,
    after: u64,
    limit: usize,
}

impl ActivitiesQuery {
    fn parse(self) -> Result<ActivityFilter, ApiError> {
        let status =
            query_choice("status", self.status.as_deref(), &ACTIVITY_STATUSES)?.and_then(|name| {
                ActivityStatus::ALL
                    .into_iter()
                    .find(|status| status.name() == name)
            });
        let template = match self.template_code.as_deref() {
            None => None,
            Some(code) => Some(TemplateCode::parse(code).ok_or_else(|| {
                ApiError::validation("templateCode", "one of FLASH_SALE, GROUP_BUY, COURSE_GROUP")
            })?),
        };
        let after = query_seq("cursor", self.cursor.as_deref(), CURSOR_REASON)?;
        Ok(ActivityFilter {
            status,
            store_id: self.store_id,
            template,
            title: self.title,
            after,
            limit: query_limit(self.limit.as_deref(), PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?,
        })
    }
}

impl ActivityFilter {
    fn matches(&self, view: &ActivityView) -> bool {
        let config = &view.config;
        view.id.0 > self.after
            && self.status.is_none_or(|status| status == view.status)
            && self
                .store_id
                .as_ref()
                .is_none_or(|store| *store == config.store_id)
            && self
                .template
                .is_none_or(|template| template == config.template)
            && self
                .title
                .as_ref()
                .is_none_or(|text| config.title.contains(text.as_str()))
    }
}

/// Activities in id order, filtered, one page at a time; `nextCursor` is the last id of
/// a full page (`null` once a page comes back short).
async fn list_activities(
    core: CoreData,
    caller: Caller,
    query: web::Query<ActivitiesQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let filter = query.into_inner().parse()?;
    let views = core.runtime.registry.views();
    let page: Vec<&ActivityView> = views
        .iter()
        .map(|view| view.as_ref())
        .filter(|view| filter.matches(view))
        .take(filter.limit)
        .collect();
    let full = page.len() == filter.limit;
    let next_cursor = page.last().filter(|_| full).map(|view| view.id.to_string());
    let list: Vec<ActivityDto> = page.into_iter().map(ActivityDto::from).collect();
    Ok(envelope::ok(
        json!({ "activities": list, "nextCursor": next_cursor }),
    ))
}

async fn get_activity(
    core: CoreData,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let id = activity_id(&path)?;
    let view = outcome::activity_view(&core, id)?;
    Ok(envelope::ok(ActivityDto::from(view.as_ref())))
}

async fn update_activity(
    core: CoreData,
    caller: Caller,
    path: web::Path<String>,
    body: Json<ActivityBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Operator])?;
    let id = activity_id(&path)?;
    let config = body.into_inner().into_config()?;
    run(
        &core,
        &caller,
        "activity.update",
        id,
        Command::Update {
            config,
            by: caller.name().to_string(),
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemarkBody {
    remark: Option<String>,
}

/// The remark of an optional `{remark?}` body; none given is an empty remark.
pub(crate) fn remark(body: OptionalJson<RemarkBody>) -> String {
    body.0.and_then(|body| body.remark).unwrap_or_default()
}

/// The shape of every approval and publication action: check the role, then run the
/// command the caller's name completes.
async fn act(
    core: &Core,
    caller: &Caller,
    path: &str,
    role: Role,
    action: &str,
    command: impl FnOnce(String) -> Command,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[role])?;
    let id = activity_id(path)?;
    run(core, caller, action, id, command(caller.name().to_string())).await
}

async fn submit(
    core: CoreData,
    settings: web::Data<Settings>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Operator])?;
    let id = activity_id(&path)?;
    let view = outcome::activity_view(&core, id)?;
    let flow = approval_flows::flow_for(&settings, view.config.template, &view.config.store_id);
    let by = caller.name().to_string();
    let command = Command::Submit { by, flow };
    run(&core, &caller, "approval.submit", id, command).await
}

async fn approve(
    core: CoreData,
    caller: Caller,
    path: web::Path<String>,
    body: OptionalJson<RemarkBody>,
) -> Result<HttpResponse, ApiError> {
    let remark = remark(body);
    act(
        &core,
        &caller,
        &path,
        Role::Approver,
        "approval.approve",
        |by| Command::Approve { by, remark },
    )
    .await
}

async fn reject(
    core: CoreData,
    caller: Caller,
    path: web::Path<String>,
    body: OptionalJson<RemarkBody>,
) -> Result<HttpResponse, ApiError> {
    let remark = remark(body);
    act(
        &core,
        &caller,
        &path,
        Role::Approver,
        "approval.reject",
        |by| Command::Reject { by, remark },
    )
    .await
}

async fn withdraw(
    core: CoreData,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(
        &core,
        &caller,
        &path,
        Role::Operator,
        "approval.withdraw",
        |by| Command::Withdraw { by },
    )
    .await
}

async fn publish(
    core: CoreData,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(
        &core,
        &caller,
        &path,
        Role::Operator,
        "activity.publish",
        |by| Command::Publish { by },
    )
    .await
}

async fn unpublish(
    core: CoreData,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    act(
        &core,
        &caller,
        &path,
        Role::Operator,
        "activity.unpublish",
        |by| Command::Unpublish { by },
    )
    .await
}

fn level_json(number: usize, level: &LevelProgress) -> Value {
    let (required, percent) = match level.mode {
        LevelMode::Count(count) => (Some(count), None),
        LevelMode::Ratio(percent) => (None, Some(percent)),
        LevelMode::Any | LevelMode::All => (None, None),
    };
    json!({
        "level": number,
        "mode": level.mode.name(),
        "required": required,
        "percent": percent,
        "approvalsNeeded": level.required(),
        "candidates": level.candidates,
        "approvals": level.approvals,
    })
}

fn approval_json(state: &ActivityState) -> serde_json::Value {
    let approval = &state.approval;
    let history: Vec<ApprovalRecordDto> = approval
        .history
        .iter()
        .map(ApprovalRecordDto::from)
        .collect();
    let levels: Vec<Value> = approval
        .levels
        .iter()
        .enumerate()
        .map(|(index, level)| level_json(index + 1, level))
        .collect();
    json!({
        "activityId": state.id.to_string(),
        "status": approval.status,
        "revision": approval.revision,
        "submittedBy": approval.submitted_by,
        "currentLevel": approval.current_level(),
        "levelCount": approval.flow.levels.len(),
        "levels": levels,
        "configHash": approval.config_hash,
        "history": history,
    })
}

async fn approval(
    core: CoreData,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let id = activity_id(&path)?;
    let body = outcome::read_activity(&core, id, approval_json).await?;
    Ok(envelope::ok(body))
}

#[derive(Deserialize)]
struct ApprovalsQuery {
    status: Option<String>,
    /// `me`, or (admins) a token holder's name: only activities whose current level
    /// that approver may act on.
    approver: Option<String>,
}

/// Whom a pending list is for: a name, and whether that person holds the approver role
/// (which an open level, one without named candidates, asks for).
struct Approver {
    name: String,
    approves: bool,
}

/// The approver a pending list is for: `me` is the caller; someone else needs admin.
fn approver(
    caller: &Caller,
    settings: &Settings,
    wanted: Option<&str>,
) -> Result<Option<Approver>, ApiError> {
    let name = match wanted {
        None => return Ok(None),
        Some("me") => caller.name(),
        Some(name) if name == caller.name() => name,
        Some(name) => {
            caller.require(&[Role::Admin])?;
            name
        }
    };
    let holds = |roles: &[Role]| roles.contains(&Role::Approver) || roles.contains(&Role::Admin);
    let tokens = &settings.auth.tokens;
    let approves = tokens
        .iter()
        .any(|token| token.name == name && holds(&token.roles));
    Ok(Some(Approver {
        name: name.to_string(),
        approves,
    }))
}

async fn approvals(
    core: CoreData,
    settings: web::Data<Settings>,
    caller: Caller,
    query: web::Query<ApprovalsQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let wanted = query
        .status
        .as_deref()
        .map_or(Some(ApprovalStatus::Pending), ApprovalStatus::parse)
        .ok_or_else(|| {
            ApiError::validation("status", "one of DRAFT, PENDING, APPROVED, REJECTED")
        })?;
    let approver = approver(&caller, &settings, query.approver.as_deref())?;
    let views = core.runtime.registry.views();
    let mut list: Vec<ActivityDto> = Vec::new();
    for view in views.iter().filter(|view| view.approval_status == wanted) {
        if let Some(approver) = &approver {
            if !awaits(&core, view.id, approver).await? {
                continue;
            }
        }
        list.push(ActivityDto::from(view.as_ref()));
    }
    Ok(envelope::ok(list))
}

/// Whether the activity's current level waits for the approver (read in its actor).
async fn awaits(core: &Core, id: ActivityId, approver: &Approver) -> Result<bool, ApiError> {
    let (name, approves) = (approver.name.clone(), approver.approves);
    let read = move |state: &ActivityState| {
        let open = state
            .approval
            .levels
            .last()
            .is_some_and(|level| level.candidates.is_empty());
        state.approval.awaits(&name) && (approves || !open)
    };
    outcome::read_activity(core, id, read).await
}

fn stats_json(state: &ActivityState) -> serde_json::Value {
    let counts = &state.counts;
    json!({
        "activityId": state.id.to_string(),
        "stock": StockDto::from(state.stock),
        "orders": {
            "pendingPay": counts.pending_pay,
            "paid": counts.paid,
            "cancelled": counts.cancelled,
            "timeout": counts.timeout,
            "refundPending": counts.refund_pending,
            "refunded": counts.refunded,
            "total": state.orders.len(),
            "archived": counts.archived,
        },
        "groups": state.groups.len(),
        "users": state.users.len(),
        "gmv": counts.gmv_cents,
        "version": state.version,
    })
}

async fn stats(
    core: CoreData,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let id = activity_id(&path)?;
    let body = outcome::read_activity(&core, id, stats_json).await?;
    Ok(envelope::ok(body))
}

/// Text, parsed in the handler, so a bad value is named.
#[derive(Deserialize)]
struct OrdersQuery {
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// One page of order views (archived ones still without their detail) and the cursor of
/// the next page.
type OrdersPage = (Vec<OrderView>, Option<u64>);

/// Orders page: `cursor` is the last order number of the previous page.
fn orders_page(
    state: &ActivityState,
    status: Option<OrderStatus>,
    after: u64,
    limit: usize,
) -> OrdersPage {
    let start = usize::try_from(after)
        .unwrap_or(usize::MAX)
        .min(state.orders.len());
    let matching = state
        .orders
        .iter_from(start)
        .enumerate()
        .map(|(offset, order)| (start as u64 + offset as u64 + 1, order));
    let mut page: Vec<OrderView> = Vec::new();
    let mut last = after;
    for (number, order) in
        matching.filter(|(_, order)| status.is_none_or(|wanted| order.status == wanted))
    {
        if page.len() == limit {
            break;
        }
        page.push(order_view(state.id, number, order));
        last = number;
    }
    let more = page.len() == limit;
    (page, more.then_some(last))
}

async fn orders(
    core: CoreData,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<OrdersQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let id = activity_id(&path)?;
    let status = match &query.status {
        Some(name) => Some(
            OrderStatus::parse(name)
                .ok_or_else(|| ApiError::validation("status", "an order status such as PAID"))?,
        ),
        None => None,
    };
    let after = query_seq("cursor", query.cursor.as_deref(), CURSOR_REASON)?;
    let limit = query_limit(query.limit.as_deref(), PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
    let registry = &core.runtime.registry;
    let (views, next) = registry
        .read(id, move |state| orders_page(state, status, after, limit))
        .await
        .map_err(|error| execute_error(error, "activity"))?;
    // Archived orders of the page are read back from the cold store (at most `limit`).
    let views = registry
        .complete_orders(views)
        .await
        .map_err(|error| execute_error(error, "order"))?;
    let page: Vec<OrderDto> = views.iter().map(OrderDto::from).collect();
    let next_cursor = next.map(|last| last.to_string());
    Ok(envelope::ok(
        json!({ "orders": page, "nextCursor": next_cursor }),
    ))
}

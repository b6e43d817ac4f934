//! The public (H5) API: activity reads, flash-sale grabs, orders, payments and groups.
//! No token: user ids come from the caller (end users are authenticated in front of us).
//! Flow control (`crate::flow`) admits each request after its body parsed and before its
//! mailbox hop: trading requests (grab, groups, cancel, pay) and reads separately.

use crate::blacklist::{Asker, Blacklist};
use crate::config::Settings;
use crate::core::outcome::public_activity;
use crate::core::outcome::{self, execute_error};
use crate::core::Core;
use crate::flow::Flow;
use crate::gray::{self, GrayMonitor};
use crate::http::dto::{self, ActivityDto, GroupDto, OrderDto};
use crate::http::envelope;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract::query_choice;
use crate::http::extract::{activity_id, Json};
use crate::http::signature;
use actix_web::{web, HttpRequest, HttpResponse};
use playcore_actors::domain::eligibility::check_city;
use playcore_actors::domain::{check_text, TextKind};
use playcore_actors::domain::{
    ActivityId, Command, GrayUser, GroupId, GroupStatus, OrderId, Payment,
};
use serde::Deserialize;
use std::sync::Arc;

/// Most open groups listed at once.
pub const GROUPS_LISTED_MAX: usize = 100;

pub fn configure(config: &mut web::ServiceConfig) {
    // actix matches routes in order, running each dynamic pattern's regex until one fits:
    // the flash-sale grab, the hottest path, goes first.
    config
        .route(
            "/api/v1/activities/{activityId}/orders",
            web::post().to(grab),
        )
        .route("/api/v1/activities", web::get().to(list_activities))
        .route(
            "/api/v1/activities/{activityId}",
            web::get().to(get_activity),
        )
        .route(
            "/api/v1/activities/{activityId}/groups",
            web::post().to(start_group),
        )
        .route(
            "/api/v1/activities/{activityId}/groups",
            web::get().to(list_groups),
        )
        .route("/api/v1/orders/{orderId}", web::get().to(get_order))
        .route(
            "/api/v1/orders/{orderId}/cancel",
            web::post().to(cancel_order),
        )
        .route("/api/v1/orders/{orderId}/pay", web::post().to(mock_pay))
        .route("/api/v1/payments/notify", web::post().to(notify_payment))
        .route("/api/v1/groups/{groupId}", web::get().to(get_group))
        .route(
            "/api/v1/groups/{groupId}/members",
            web::post().to(join_group),
        );
}

type CoreData = web::Data<Arc<Core>>;
type GrayData = web::Data<GrayMonitor>;
type FlowData = web::Data<Flow>;

fn order_id(text: &str) -> Result<OrderId, ApiError> {
    OrderId::parse(text).ok_or_else(|| ApiError::not_found("order", text))
}

fn group_id(text: &str) -> Result<GroupId, ApiError> {
    GroupId::parse(text).ok_or_else(|| ApiError::not_found("group", text))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    store_id: Option<String>,
    city: Option<String>,
}

async fn list_activities(
    core: CoreData,
    flow: FlowData,
    request: HttpRequest,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    flow.admit_read(&request, None)?;
    let views = core.runtime.registry.views();
    let online = views.iter().filter(|view| {
        let phase_online = view.status.is_online();
        let store_ok = query
            .store_id
            .as_ref()
            .is_none_or(|store| *store == view.config.store_id);
        let city_ok = query
            .city
            .as_ref()
            .is_none_or(|city| view.config.visible_in(city));
        phase_online && store_ok && city_ok
    });
    let list: Vec<ActivityDto> = online
        .map(|view| ActivityDto::from(view.as_ref()))
        .collect();
    Ok(envelope::ok(list))
}

async fn get_activity(
    core: CoreData,
    flow: FlowData,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = activity_id(&path)?;
    flow.admit_read(&request, Some(id))?;
    let view = public_activity(&core, id)?;
    Ok(envelope::ok(ActivityDto::from(view.as_ref())))
}

/// The grab body (openapi.json). `storeId`, `city`, `device` and `tags` describe the user for
/// the gray release (see `crate::gray`); `city` also for the city rule (`rules.cities`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrabBody {
    user_id: String,
    request_id: String,
    quantity: Option<i64>,
    store_id: Option<String>,
    city: Option<String>,
    device: Option<String>,
    tags: Option<Vec<String>>,
    channel_id: Option<String>,
    referrer_id: Option<String>,
}

impl GrabBody {
    fn asker(&self) -> GrayUser<'_> {
        let (store, city) = (&self.store_id, &self.city);
        gray::asker(&self.user_id, store, city, &self.device, &self.tags)
    }
}

/// The checks of a trading request before its mailbox hop, on one registry lookup: the
/// text of the user's description, the gray release, then the city rule (`rules.cities`:
/// one branch when the list is empty).
/// The rules that look at other activities (new users only, mutual exclusion) run in the
/// actor, after replays are recognised (`playcore_actors::eligibility`). Checked here, a
/// city refusal costs no hop; the price is that a retry of an earlier request is refused
/// too if the cities no longer admit its city (changing them needs a new approval). An
/// unknown activity passes: the command answers 404.
fn admit(
    core: &Core,
    monitor: &GrayMonitor,
    id: ActivityId,
    asker: &GrayUser,
) -> Result<(), ApiError> {
    check_asker(asker)?;
    let Some(view) = core.runtime.registry.view(id) else {
        return Ok(());
    };
    gray::admit(monitor, &view, asker)?;
    check_city(&view.config.rules, asker.city).map_err(|why| {
        core.runtime.eligibility().count_refusal(why);
        outcome::not_eligible(why)
    })
}

/// The user's description in a grab or group body: the store is an id; city, device and
/// tags are names.
fn check_asker(asker: &GrayUser) -> Result<(), ApiError> {
    let fields = [
        ("storeId", asker.store, TextKind::Token),
        ("city", asker.city, TextKind::Line),
        ("device", asker.device, TextKind::Line),
    ];
    for (field, value, kind) in fields {
        value.map_or(Ok(()), |value| dto::text(field, value, kind))?;
    }
    for (index, tag) in asker.tags.iter().enumerate() {
        check_text(tag, TextKind::Line)
            .map_err(|reason| ApiError::validation(format!("tags[{index}]"), reason))?;
    }
    Ok(())
}

type BlacklistData = web::Data<Arc<Blacklist>>;

/// Refuses a listed user, device (the `X-Device-Id` header or the body's `device`) or
/// client address (`flow.trusted_proxies` honoured) before the hop: 403 BLACKLISTED,
/// naming the kind of entry (not its reason, which is the operators').
fn check_blacklist(
    blacklist: &Blacklist,
    flow: &crate::flow::Flow,
    request: &HttpRequest,
    asker: &GrayUser,
) -> Result<(), ApiError> {
    let now = playcore_actors::activity_actor::now_ms();
    let header_device = crate::flow::caller::device(request).ok().flatten();
    let listed = Asker {
        user: Some(asker.user),
        device: header_device,
        ip: flow.client_ip(request),
    };
    let named_device = asker.device.filter(|device| Some(*device) != header_device);
    let entry = blacklist.refusal(listed, now).or_else(|| {
        let device = named_device?;
        let listed = Asker {
            device: Some(device),
            ..Asker::default()
        };
        blacklist.refusal(listed, now)
    });
    let Some(entry) = entry else {
        return Ok(());
    };
    let details = serde_json::json!({
        "kind": entry.kind,
        "expiresAt": entry.expires_at_ms.map(dto::rfc3339),
    });
    Err(ApiError::new(ErrorCode::Blacklisted, "refused: blacklisted").with_details(details))
}

fn quantity(value: Option<i64>) -> Result<u32, ApiError> {
    let quantity = value.unwrap_or(1);
    u32::try_from(quantity)
        .ok()
        .filter(|quantity| (1..=10_000).contains(quantity))
        .ok_or_else(|| ApiError::validation("quantity", "an integer from 1 to 10000"))
}

async fn grab(
    core: CoreData,
    monitor: GrayData,
    blacklist: BlacklistData,
    flow: FlowData,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<GrabBody>,
) -> Result<HttpResponse, ApiError> {
    let id = activity_id(&path)?;
    let command = Command::Grab {
        user: dto::user_id(&body.user_id)?,
        request: dto::request_id(&body.request_id)?,
        quantity: quantity(body.quantity)?,
        source: dto::source(body.channel_id.as_deref(), body.referrer_id.as_deref())?,
    };
    check_blacklist(&blacklist, &flow, &request, &body.asker())?;
    let _in_flight = flow.admit_trading(&request, &body.user_id, id)?;
    admit(&core, &monitor, id, &body.asker())?;
    let answer = outcome::execute(&core, id, command, "activity").await?;
    Ok(outcome::created_or_replayed(&answer))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupBody {
    user_id: String,
    request_id: String,
    channel_id: Option<String>,
    referrer_id: Option<String>,
    store_id: Option<String>,
    city: Option<String>,
    device: Option<String>,
    tags: Option<Vec<String>>,
}

impl GroupBody {
    fn asker(&self) -> GrayUser<'_> {
        let (store, city) = (&self.store_id, &self.city);
        gray::asker(&self.user_id, store, city, &self.device, &self.tags)
    }
}

async fn start_group(
    core: CoreData,
    monitor: GrayData,
    blacklist: BlacklistData,
    flow: FlowData,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    let id = activity_id(&path)?;
    let command = Command::StartGroup {
        user: dto::user_id(&body.user_id)?,
        request: dto::request_id(&body.request_id)?,
        source: dto::source(body.channel_id.as_deref(), body.referrer_id.as_deref())?,
    };
    check_blacklist(&blacklist, &flow, &request, &body.asker())?;
    let _in_flight = flow.admit_trading(&request, &body.user_id, id)?;
    admit(&core, &monitor, id, &body.asker())?;
    let answer = outcome::execute(&core, id, command, "activity").await?;
    Ok(outcome::created_or_replayed(&answer))
}

async fn join_group(
    core: CoreData,
    monitor: GrayData,
    blacklist: BlacklistData,
    flow: FlowData,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    let id = group_id(&path)?;
    let command = Command::JoinGroup {
        group: id.number,
        user: dto::user_id(&body.user_id)?,
        request: dto::request_id(&body.request_id)?,
        source: dto::source(body.channel_id.as_deref(), body.referrer_id.as_deref())?,
    };
    check_blacklist(&blacklist, &flow, &request, &body.asker())?;
    let _in_flight = flow.admit_trading(&request, &body.user_id, id.activity)?;
    admit(&core, &monitor, id.activity, &body.asker())?;
    let answer = outcome::execute(&core, id.activity, command, "group").await?;
    Ok(outcome::created_or_replayed(&answer))
}

async fn get_group(
    core: CoreData,
    flow: FlowData,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = group_id(&path)?;
    flow.admit_read(&request, Some(id.activity))?;
    let view = core
        .runtime
        .registry
        .group_view(id)
        .ok_or_else(|| ApiError::not_found("group", id))?;
    Ok(envelope::ok(GroupDto::from(view.as_ref())))
}

#[derive(Deserialize)]
struct GroupsQuery {
    status: Option<String>,
}

async fn list_groups(
    core: CoreData,
    flow: FlowData,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<GroupsQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = activity_id(&path)?;
    flow.admit_read(&request, Some(id))?;
    let handle = core
        .runtime
        .registry
        .handle(id)
        .ok_or_else(|| ApiError::not_found("activity", id))?;
    let statuses = ["PENDING", "ACTIVE", "SUCCESS", "FAILED"];
    let wanted = query_choice("status", query.status.as_deref(), &statuses)?.unwrap_or("ACTIVE");
    let wanted = GroupStatus::parse(wanted);
    let mut groups: Vec<_> = handle
        .published
        .groups
        .iter()
        .map(|entry| entry.value().borrow().clone())
        .filter(|view| Some(view.status) == wanted)
        .collect();
    groups.sort_by_key(|view| view.id.number);
    let list: Vec<GroupDto> = groups
        .iter()
        .take(GROUPS_LISTED_MAX)
        .map(|view| GroupDto::from(view.as_ref()))
        .collect();
    Ok(envelope::ok(list))
}

/// The order, live or archived (then read back from the cold store, `archived: true`).
async fn get_order(
    core: CoreData,
    flow: FlowData,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = order_id(&path)?;
    flow.admit_read(&request, Some(id.activity))?;
    let read = core.runtime.registry.order(id);
    let view = read.await.map_err(|error| execute_error(error, "order"))?;
    let view = view.ok_or_else(|| ApiError::not_found("order", id))?;
    Ok(envelope::ok(OrderDto::from(&view)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserBody {
    user_id: String,
}

async fn cancel_order(
    core: CoreData,
    flow: FlowData,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<UserBody>,
) -> Result<HttpResponse, ApiError> {
    let id = order_id(&path)?;
    let command = Command::Cancel {
        order: id.number,
        user: dto::user_id(&body.user_id)?,
    };
    let _in_flight = flow.admit_trading(&request, &body.user_id, id.activity)?;
    let answer = outcome::execute(&core, id.activity, command, "order").await?;
    Ok(outcome::ok(&answer))
}

async fn mock_pay(
    core: CoreData,
    settings: web::Data<Settings>,
    flow: FlowData,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<UserBody>,
) -> Result<HttpResponse, ApiError> {
    if !settings.payment.mock {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "mock payment is disabled",
        ));
    }
    let id = order_id(&path)?;
    let payment = Payment::Mock {
        user: dto::user_id(&body.user_id)?,
    };
    let command = Command::Pay {
        order: id.number,
        payment,
    };
    let _in_flight = flow.admit_trading(&request, &body.user_id, id.activity)?;
    let answer = outcome::execute(&core, id.activity, command, "order").await?;
    Ok(outcome::ok(&answer))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotifyBody {
    trade_no: String,
    order_id: String,
    amount: i64,
    #[allow(dead_code)]
    paid_at: Option<String>,
}

/// The provider's notification: the signature is checked over the raw body before it is parsed.
async fn notify_payment(
    core: CoreData,
    settings: web::Data<Settings>,
    request: HttpRequest,
    body: crate::http::extract::Body,
) -> Result<HttpResponse, ApiError> {
    let body: &[u8] = &body.0;
    let header = request
        .headers()
        .get("X-Signature")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !signature::verify(settings.payment.secret.expose().as_bytes(), body, header) {
        return Err(ApiError::new(
            ErrorCode::SignatureInvalid,
            "the signature does not verify",
        ));
    }
    let notification: NotifyBody = crate::http::extract::parse_json(body)?;
    let trade_number = dto::trade_number(&notification.trade_no)?;
    let amount_cents = u64::try_from(notification.amount)
        .map_err(|_| ApiError::validation("amount", "non-negative integer cents"))?;
    let id = order_id(&notification.order_id)?;
    let payment = Payment::Notify {
        trade_number,
        amount_cents,
    };
    let command = Command::Pay {
        order: id.number,
        payment,
    };
    let answer = outcome::execute(&core, id.activity, command, "order").await?;
    Ok(outcome::ok(&answer))
}

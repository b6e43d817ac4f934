//! Maps the actors' outcomes onto the API's error codes and replies.

use crate::http::dto::{ActivityDto, GroupDto, OrderDto};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::{envelope, order_reply};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use playcore_actors::domain::{Ineligibility, Rejection};
use playcore_actors::{Answer, ExecuteError, SubjectView};
use serde::Serialize;

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> ApiError {
        let message = rejection.to_string();
        let code = match rejection {
            Rejection::Validation { field, reason } => return ApiError::validation(field, reason),
            Rejection::NotFound(_) => ErrorCode::NotFound,
            Rejection::Forbidden(_) => ErrorCode::Forbidden,
            Rejection::NotStarted => ErrorCode::NotStarted,
            Rejection::Ended => ErrorCode::Ended,
            Rejection::Offline => ErrorCode::Offline,
            Rejection::SoldOut => ErrorCode::SoldOut,
            Rejection::LimitExceeded => ErrorCode::LimitExceeded,
            Rejection::GroupFull => ErrorCode::GroupFull,
            Rejection::GroupClosed => ErrorCode::GroupClosed,
            Rejection::AlreadyInGroup => ErrorCode::AlreadyInGroup,
            Rejection::InvalidState(_) => ErrorCode::InvalidState,
            Rejection::AmountMismatch => ErrorCode::AmountMismatch,
            Rejection::NotEligible(why) => return not_eligible(why),
            Rejection::Overloaded(_) => ErrorCode::Overloaded,
            Rejection::StorageFull => ErrorCode::StorageFull,
        };
        ApiError::new(code, message)
    }
}

/// 403 NOT_ELIGIBLE; `details` names the rule (as in the rule schema), the reason and,
/// for a mutual exclusion, the activity the user's other order is in.
pub fn not_eligible(why: Ineligibility) -> ApiError {
    let mut details = serde_json::json!({"rule": why.rule(), "reason": why.reason()});
    if let Some(with) = why.conflicting_activity() {
        details["conflictingActivityId"] = serde_json::Value::String(with.to_string());
    }
    ApiError::new(
        ErrorCode::NotEligible,
        Rejection::NotEligible(why).to_string(),
    )
    .with_details(details)
}

/// Maps a failed `execute`; `what` names the thing whose id was unknown.
pub fn execute_error(error: ExecuteError, what: &'static str) -> ApiError {
    match error {
        ExecuteError::NotFound => ApiError::new(ErrorCode::NotFound, format!("{what} not found")),
        ExecuteError::Overloaded => ApiError::overloaded(),
        ExecuteError::Unavailable => ApiError::new(
            ErrorCode::Overloaded,
            "the journal is unavailable; retry later",
        ),
        ExecuteError::Rejected(rejection) => rejection.into(),
        ExecuteError::ColdStore(reason) => {
            ApiError::internal(format!("an archived {what} could not be read: {reason}"))
        }
    }
}

/// The activity's published view, or 404 NOT_FOUND.
pub fn activity_view(
    core: &crate::core::Core,
    id: playcore_actors::domain::ActivityId,
) -> Result<std::sync::Arc<playcore_actors::views::ActivityView>, ApiError> {
    core.runtime
        .registry
        .view(id)
        .ok_or_else(|| ApiError::not_found("activity", id))
}

/// Whether the public API shows an activity: it was published at least once (drafts and
/// activities still in approval are not public).
pub fn is_public(view: &playcore_actors::views::ActivityView) -> bool {
    view.status.is_public()
}

/// Runs a command on its activity; `what` names the thing whose id was unknown.
pub async fn execute(
    core: &crate::core::Core,
    id: playcore_actors::domain::ActivityId,
    command: playcore_actors::domain::Command,
    what: &'static str,
) -> Result<Answer, ApiError> {
    let registry = &core.runtime.registry;
    // Boxed: the command's future is over a kilobyte, and every future that holds it
    // inline (the handler's, actix's wrappers) is moved several times per request.
    Box::pin(registry.execute(id, command))
        .await
        .map_err(|error| execute_error(error, what))
}

/// Reads the activity's state in its actor; 404 NOT_FOUND for an unknown activity.
pub async fn read_activity<R, F>(
    core: &crate::core::Core,
    id: playcore_actors::domain::ActivityId,
    read: F,
) -> Result<R, ApiError>
where
    R: Send + 'static,
    F: FnOnce(&playcore_actors::domain::state::ActivityState) -> R + Send + 'static,
{
    core.runtime
        .registry
        .read(id, read)
        .await
        .map_err(|error| execute_error(error, "activity"))
}

/// The activity as the public sees it: 404 NOT_FOUND for an unknown activity and for one
/// that is not public ([`is_public`]: drafts, pending approval …). The rule of the
/// public detail, the H5 pages and the websockets.
pub fn public_activity(
    core: &crate::core::Core,
    id: playcore_actors::domain::ActivityId,
) -> Result<std::sync::Arc<playcore_actors::views::ActivityView>, ApiError> {
    let view = activity_view(core, id)?;
    if !is_public(&view) {
        return Err(ApiError::not_found("activity", id));
    }
    Ok(view)
}

/// An answer's subject as the reply's `data`, serialized straight from the DTOs.
#[derive(Serialize)]
#[serde(untagged)]
pub enum SubjectJson<'a> {
    Activity(ActivityDto),
    Order(OrderDto<'a>),
    Group {
        group: GroupDto,
        order: Option<OrderDto<'a>>,
    },
}

pub fn subject_json(subject: &SubjectView) -> SubjectJson<'_> {
    match subject {
        SubjectView::Activity(view) => SubjectJson::Activity(ActivityDto::from(view.as_ref())),
        SubjectView::Order(view) => SubjectJson::Order(OrderDto::from(view)),
        SubjectView::Group { group, order } => SubjectJson::Group {
            group: GroupDto::from(group),
            order: order.as_ref().map(OrderDto::from),
        },
    }
}

/// 201 for something new, 200 for an idempotent repeat.
pub fn created_or_replayed(answer: &Answer) -> HttpResponse {
    let status = if answer.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    subject_response(status, &answer.subject)
}

pub fn ok(answer: &Answer) -> HttpResponse {
    subject_response(StatusCode::OK, &answer.subject)
}

/// An order (every grab's reply) is written by [`order_reply`]; the rest through serde.
fn subject_response(status: StatusCode, subject: &SubjectView) -> HttpResponse {
    match subject {
        SubjectView::Order(view) => order_reply::order_response(status, &OrderDto::from(view)),
        _ => envelope::with_status(status, subject_json(subject)),
    }
}

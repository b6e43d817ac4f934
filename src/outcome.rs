//! Maps the actors' outcomes onto the API's error codes and replies.

use crate::dto::{ActivityDto, GroupDto, OrderDto};
use crate::envelope;
use crate::error::{ApiError, ErrorCode};
use actix_web::HttpResponse;
use playcore_actors::domain::Rejection;
use playcore_actors::{Answer, ExecuteError, SubjectView};
use serde_json::json;

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
            Rejection::NotEligible(_) => ErrorCode::NotEligible,
            Rejection::Overloaded(_) => ErrorCode::Overloaded,
        };
        ApiError::new(code, message)
    }
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
    }
}

/// Runs a command on its activity; `what` names the thing whose id was unknown.
pub async fn execute(
    core: &crate::core::Core,
    id: playcore_actors::domain::ActivityId,
    command: playcore_actors::domain::Command,
    what: &'static str,
) -> Result<Answer, ApiError> {
    let registry = &core.runtime.registry;
    registry
        .execute(id, command)
        .await
        .map_err(|error| execute_error(error, what))
}

/// The JSON of an answer's subject.
pub fn subject_json(subject: &SubjectView) -> serde_json::Value {
    match subject {
        SubjectView::Activity(view) => json!(ActivityDto::from(view.as_ref())),
        SubjectView::Order(view) => json!(OrderDto::from(view)),
        SubjectView::Group { group, order } => json!({
            "group": GroupDto::from(group),
            "order": order.as_ref().map(OrderDto::from),
        }),
    }
}

/// 201 for something new, 200 for an idempotent repeat.
pub fn created_or_replayed(answer: &Answer) -> HttpResponse {
    let body = subject_json(&answer.subject);
    if answer.replayed {
        envelope::ok(body)
    } else {
        envelope::created(body)
    }
}

pub fn ok(answer: &Answer) -> HttpResponse {
    envelope::ok(subject_json(&answer.subject))
}

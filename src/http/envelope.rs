//! The reply envelope (README, "Replies and errors"):
//! `{"success":true,"data":…,"requestId":…,"timestamp":…}` and
//! `{"success":false,"error":{"code","message","details"?},"requestId":…,"timestamp":…}`.
//!
//! The request id comes from [`request_id::current`], set by the request-id middleware
//! for the whole request, so handlers never pass it around.

use actix_web::http::header::{ContentType, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use chrono::Utc;
use serde::Serialize;
use serde_json::Value;

use crate::http::dto::Rfc3339;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::request_id;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Success<'a, T> {
    success: bool,
    data: T,
    request_id: &'a str,
    timestamp: Rfc3339,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Failure<'a> {
    success: bool,
    error: ErrorBody<'a>,
    request_id: &'a str,
    timestamp: Rfc3339,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Value>,
}

/// 200 with `data` in the success envelope.
pub fn ok(data: impl Serialize) -> HttpResponse {
    with_status(StatusCode::OK, data)
}

/// 201 with `data` in the success envelope.
pub fn created(data: impl Serialize) -> HttpResponse {
    with_status(StatusCode::CREATED, data)
}

/// Bytes reserved up front for a reply body: a grab's reply is about 300.
pub(crate) const REPLY_BYTES_USUAL: usize = 512;

/// Any success status with `data` in the success envelope.
pub fn with_status(status: StatusCode, data: impl Serialize) -> HttpResponse {
    let request_id = request_id::current();
    match success_bytes(data, request_id.as_str(), now()) {
        Ok(body) => json_response(status, body),
        // Only a bug makes data unserializable (e.g. a map with non-string keys).
        Err(error) => {
            ApiError::internal(format!("cannot serialize the reply: {error}")).error_response()
        }
    }
}

/// The success envelope's bytes.
pub fn success_bytes(
    data: impl Serialize,
    request_id: &str,
    timestamp: Rfc3339,
) -> serde_json::Result<Vec<u8>> {
    let envelope = Success {
        success: true,
        data,
        request_id,
        timestamp,
    };
    // About the size of a grab's reply, so the buffer rarely grows.
    let mut body = Vec::with_capacity(REPLY_BYTES_USUAL);
    serde_json::to_writer(&mut body, &envelope)?;
    Ok(body)
}

/// The error envelope; [`ApiError`] renders through this.
pub fn error(
    status: StatusCode,
    code: &str,
    message: &str,
    details: Option<&Value>,
) -> HttpResponse {
    let request_id = request_id::current();
    let envelope = Failure {
        success: false,
        error: ErrorBody {
            code,
            message,
            details,
        },
        request_id: request_id.as_str(),
        timestamp: now(),
    };
    // Strings and a `Value` always serialize; the fallback only keeps this total.
    let body = serde_json::to_vec(&envelope).unwrap_or_else(|_| b"{\"success\":false}".to_vec());
    json_response(status, body)
}

/// Errors render here rather than in `http::error`, so that the envelope depends on the
/// errors and not the other way round.
impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let message = if self.error_code() == ErrorCode::Internal {
            let request_id = request_id::current();
            tracing::error!(request_id = %request_id, cause = %self.message(), "internal error");
            ErrorCode::Internal.default_message()
        } else {
            self.message()
        };
        let mut response = error(self.status(), self.code(), message, self.details());
        if self.error_code() == ErrorCode::Unauthorized {
            // RFC 6750: a 401 names the scheme the client should use.
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = retry_after_seconds(self) {
            // RFC 9110 §10.2.3: when to ask again, in whole seconds.
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A RATE_LIMITED error's `details.retryAfterSeconds`, sent as `Retry-After` too.
fn retry_after_seconds(error: &ApiError) -> Option<u64> {
    if error.error_code() != ErrorCode::RateLimited {
        return None;
    }
    error.details()?.get("retryAfterSeconds")?.as_u64()
}

/// Now, serialized as RFC 3339 in UTC with milliseconds, e.g. `2025-06-01T08:00:00.123Z`,
/// without an intermediate `String`.
pub(crate) fn now() -> Rfc3339 {
    Rfc3339(Utc::now().timestamp_millis())
}

pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(ContentType::json())
        .body(body)
}

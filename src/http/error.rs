//! The API's errors: one [`ErrorCode`] per code of the README's error table, carried by
//! [`ApiError`], which renders as the error envelope (see `http::envelope`).
//!
//! Every error has the same shape (code, message, optional details), so the per-code
//! variants live in the small `Copy` enum [`ErrorCode`] and [`ApiError`] is one struct:
//! handlers write `ApiError::new(ErrorCode::SoldOut, "no stock left")` or simply
//! `ErrorCode::SoldOut.into()`, and the HTTP status is never chosen by hand.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use serde_json::{json, Value};

/// The error codes of the contract; each fixes its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    ValidationFailed,
    Unauthorized,
    SignatureInvalid,
    Forbidden,
    NotInGray,
    NotEligible,
    Blacklisted,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    NotStarted,
    Ended,
    Offline,
    SoldOut,
    LimitExceeded,
    GroupFull,
    GroupClosed,
    AlreadyInGroup,
    InvalidState,
    AmountMismatch,
    RateLimited,
    Overloaded,
    StorageFull,
    Internal,
}

impl ErrorCode {
    /// Every code, for tests and documentation generators.
    pub const ALL: [ErrorCode; 24] = [
        Self::ValidationFailed,
        Self::Unauthorized,
        Self::SignatureInvalid,
        Self::Forbidden,
        Self::NotInGray,
        Self::NotEligible,
        Self::Blacklisted,
        Self::NotFound,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::NotStarted,
        Self::Ended,
        Self::Offline,
        Self::SoldOut,
        Self::LimitExceeded,
        Self::GroupFull,
        Self::GroupClosed,
        Self::AlreadyInGroup,
        Self::InvalidState,
        Self::AmountMismatch,
        Self::RateLimited,
        Self::Overloaded,
        Self::StorageFull,
        Self::Internal,
    ];

    /// The code as it appears in the envelope, e.g. `"SOLD_OUT"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ValidationFailed => "VALIDATION_FAILED",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::SignatureInvalid => "SIGNATURE_INVALID",
            Self::Forbidden => "FORBIDDEN",
            Self::NotInGray => "NOT_IN_GRAY",
            Self::NotEligible => "NOT_ELIGIBLE",
            Self::Blacklisted => "BLACKLISTED",
            Self::NotFound => "NOT_FOUND",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::NotStarted => "NOT_STARTED",
            Self::Ended => "ENDED",
            Self::Offline => "OFFLINE",
            Self::SoldOut => "SOLD_OUT",
            Self::LimitExceeded => "LIMIT_EXCEEDED",
            Self::GroupFull => "GROUP_FULL",
            Self::GroupClosed => "GROUP_CLOSED",
            Self::AlreadyInGroup => "ALREADY_IN_GROUP",
            Self::InvalidState => "INVALID_STATE",
            Self::AmountMismatch => "AMOUNT_MISMATCH",
            Self::RateLimited => "RATE_LIMITED",
            Self::Overloaded => "OVERLOADED",
            Self::StorageFull => "STORAGE_FULL",
            Self::Internal => "INTERNAL",
        }
    }

    /// The HTTP status the contract assigns to this code.
    pub fn status(self) -> StatusCode {
        match self {
            Self::ValidationFailed | Self::AmountMismatch => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::SignatureInvalid => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::NotInGray | Self::NotEligible | Self::Blacklisted => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotStarted
            | Self::Ended
            | Self::Offline
            | Self::SoldOut
            | Self::LimitExceeded
            | Self::GroupFull
            | Self::GroupClosed
            | Self::AlreadyInGroup
            | Self::InvalidState => StatusCode::CONFLICT,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Overloaded | Self::StorageFull => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A message for when the caller has nothing more specific to say.
    pub fn default_message(self) -> &'static str {
        match self {
            Self::ValidationFailed => "the request is not valid",
            Self::Unauthorized => "missing or unknown token",
            Self::SignatureInvalid => "the signature does not verify",
            Self::Forbidden => "the token's roles do not allow this action",
            Self::NotInGray => "the activity's gray release does not include this user",
            Self::NotEligible => "an eligibility rule refuses this user",
            Self::Blacklisted => "the user, device or address is blacklisted",
            Self::NotFound => "not found",
            Self::PayloadTooLarge => "the body is over the configured limit",
            Self::UnsupportedMediaType => "the body must be JSON (Content-Type: application/json)",
            Self::NotStarted => "the activity has not started",
            Self::Ended => "the activity has ended",
            Self::Offline => "the activity is offline",
            Self::SoldOut => "no stock left",
            Self::LimitExceeded => "the per-user limit would be exceeded",
            Self::GroupFull => "the group is full",
            Self::GroupClosed => "the group is closed",
            Self::AlreadyInGroup => "the user is already in this group",
            Self::InvalidState => "the action does not fit the current state",
            Self::AmountMismatch => "the amount is not the order's",
            Self::RateLimited => "too many requests",
            Self::Overloaded => "the service is overloaded; retry shortly",
            Self::StorageFull => {
                "the server's storage is below its free-space reserve; writes are refused \
                 until space is freed, retry later"
            }
            Self::Internal => "internal error; it was logged with this requestId",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// An error reply: code, message and optional details (e.g. the fields that failed).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    code: ErrorCode,
    /// For INTERNAL this is the cause, logged but never sent: a bug's text is no
    /// business of the client and may reveal internals.
    message: Cow<'static, str>,
    details: Option<Value>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Attaches machine-readable details (an object by convention).
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// VALIDATION_FAILED naming one field: details `{"fields": {field: reason}}`.
    pub fn validation(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self::validation_fields([(field.into(), reason.to_string())])
    }

    /// VALIDATION_FAILED naming every field that failed, one entry per field.
    pub fn validation_fields(fields: impl IntoIterator<Item = (String, String)>) -> Self {
        let fields: serde_json::Map<String, Value> = fields
            .into_iter()
            .map(|(field, reason)| (field, Value::String(reason)))
            .collect();
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        let message = format!("invalid fields: {}", names.join(", "));
        Self::new(ErrorCode::ValidationFailed, message).with_details(json!({ "fields": fields }))
    }

    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// NOT_FOUND for `what` (e.g. "activity") with the id the client asked for.
    pub fn not_found(what: &str, id: impl fmt::Display) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} {id} not found"))
    }

    pub fn invalid_state(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidState, message)
    }

    /// OVERLOADED: an actor's mailbox is full; the client may retry.
    pub fn overloaded() -> Self {
        ErrorCode::Overloaded.into()
    }

    /// INTERNAL with its cause, which is logged with the request id and not sent.
    pub fn internal(cause: impl fmt::Display) -> Self {
        Self::new(ErrorCode::Internal, cause.to_string())
    }

    /// The code as it appears in the envelope, e.g. `"SOLD_OUT"`.
    pub fn code(&self) -> &'static str {
        self.code.as_str()
    }

    pub fn error_code(&self) -> ErrorCode {
        self.code
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn details(&self) -> Option<&Value> {
        self.details.as_ref()
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_screaming_snake_case_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(text.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
            assert!(seen.insert(text), "duplicate {text}");
        }
    }

    #[test]
    fn statuses_follow_the_contract() {
        assert_eq!(ErrorCode::SoldOut.status(), StatusCode::CONFLICT);
        assert_eq!(ErrorCode::AmountMismatch.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            ErrorCode::SignatureInvalid.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(ErrorCode::NotInGray.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            ErrorCode::RateLimited.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            ErrorCode::Overloaded.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ErrorCode::StorageFull.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[test]
    fn validation_names_the_field() {
        let error = ApiError::validation("quantity", "must be at least 1");
        assert_eq!(error.code(), "VALIDATION_FAILED");
        assert_eq!(
            error.details(),
            Some(&json!({"fields": {"quantity": "must be at least 1"}}))
        );
    }
}

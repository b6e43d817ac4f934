//! Request extraction with the contract's errors:
//!
//! - a body that is not JSON (`Content-Type` not `application/json` or `*/*+json`)
//!   → 415 UNSUPPORTED_MEDIA_TYPE;
//! - a body over `server.body_limit_bytes` → 413 PAYLOAD_TOO_LARGE, refused from its
//!   `Content-Length` before it is read;
//! - malformed JSON, wrong types, missing fields → 400 VALIDATION_FAILED whose details
//!   name the field (`{"fields": {"rules.groupSize": "invalid type: …"}, "line", "column"}`);
//! - a path parameter that does not parse (an id that names nothing) → 404 NOT_FOUND;
//! - a query string that does not parse → 400 VALIDATION_FAILED.
//!
//! [`Json`] names the field of any deserialization error (through serde_path_to_error);
//! actix's `web::Json` is also configured by [`configure`] but can only name a missing
//! field. [`Body`] gives the raw bytes with the same checks, for the payment notification
//! whose signature covers the raw body; [`parse_json`] then decodes it.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest};
use playcore_actors::domain::ActivityId;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::http::error::{ApiError, ErrorCode};

/// Registers the extractor configurations: JSON, raw payload, path and query.
pub fn configure(config: &mut web::ServiceConfig, body_limit_bytes: usize) {
    config
        .app_data(
            web::JsonConfig::default()
                .limit(body_limit_bytes)
                .error_handler(|error, _request| json_payload_error(error).into()),
        )
        .app_data(web::PayloadConfig::new(body_limit_bytes))
        .app_data(
            web::PathConfig::default().error_handler(|error, _request| path_error(error).into()),
        )
        .app_data(
            web::QueryConfig::default().error_handler(|error, _request| query_error(error).into()),
        );
}

/// A JSON body decoded into `T`; errors name the field at fault.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = JsonFuture<T>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        JsonFuture {
            body: Body::from_request(request, payload),
            target: PhantomData,
        }
    }
}

/// Reads the body, then decodes it; a named type (no boxing) as this is the hot path.
pub struct JsonFuture<T> {
    body: BodyFuture,
    target: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Future for JsonFuture<T> {
    type Output = Result<Json<T>, ApiError>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.body)
            .poll(context)
            .map(|body| parse_json(&body?.0).map(Json))
    }
}

/// The raw bytes of a JSON body, checked for content type and size.
#[derive(Debug, Clone)]
pub struct Body(pub Bytes);

impl Deref for Body {
    type Target = Bytes;

    fn deref(&self) -> &Bytes {
        &self.0
    }
}

impl FromRequest for Body {
    type Error = ApiError;
    type Future = BodyFuture;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // Reads up to the `web::PayloadConfig` limit registered by `configure`.
        let bytes = has_json_content_type(request).then(|| Bytes::from_request(request, payload));
        BodyFuture { bytes }
    }
}

/// The body read; `None` when the content type already refused it.
pub struct BodyFuture {
    bytes: Option<<Bytes as FromRequest>::Future>,
}

impl Future for BodyFuture {
    type Output = Result<Body, ApiError>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(bytes) = self.bytes.as_mut() else {
            return Poll::Ready(Err(ErrorCode::UnsupportedMediaType.into()));
        };
        Pin::new(bytes)
            .poll(context)
            .map(|result| result.map(Body).map_err(read_error))
    }
}

/// A body that could not be read: too large, cut off, or otherwise unreadable.
fn read_error(error: actix_web::Error) -> ApiError {
    match error.as_error::<PayloadError>() {
        Some(error) => payload_error(error),
        None => ApiError::validation("body", error),
    }
}

/// A JSON body the caller may leave out (`/approve`'s `{remark?}`): an empty body is
/// `None`; any other body must be JSON of the right shape, refused as [`Json`] refuses it
/// (415, 400 naming the field, 413). Actix's `Option<Json<T>>` would instead turn a
/// malformed body into `None` and carry on as if none had been sent.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json_content_type = has_json_content_type(request);
        let bytes = Bytes::from_request(request, payload);
        Box::pin(async move {
            let bytes = bytes.await.map_err(read_error)?;
            if bytes.is_empty() {
                return Ok(OptionalJson(None));
            }
            if !json_content_type {
                return Err(ErrorCode::UnsupportedMediaType.into());
            }
            parse_json(&bytes).map(|value| OptionalJson(Some(value)))
        })
    }
}

/// Decodes JSON, naming the field of any error (`quantity`, `rules.groupSize`, `tags[2]`)
/// and trailing garbage refused.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // The hot path decodes without tracking the path; only a body that fails is decoded
    // again, through serde_path_to_error, to name the field at fault.
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(_) => parse_json_naming_the_field(bytes),
    }
}

/// [`parse_json`]'s error path: the same decoding, tracking where it fails.
fn parse_json_naming_the_field<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        deserialize_error(Some(&path), error.inner())
    })?;
    deserializer
        .end()
        .map_err(|error| deserialize_error(None, &error))?;
    Ok(value)
}

/// `application/json`, or any `*/*+json`, parameters (charset) ignored.
fn has_json_content_type(request: &HttpRequest) -> bool {
    let Some(text) = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = text.split(';').next().unwrap_or_default().trim().as_bytes();
    let suffix = b"+json";
    essence.eq_ignore_ascii_case(b"application/json")
        || (essence.len() >= suffix.len()
            && essence[essence.len() - suffix.len()..].eq_ignore_ascii_case(suffix))
}

fn payload_error(error: &PayloadError) -> ApiError {
    match error {
        PayloadError::Overflow => ErrorCode::PayloadTooLarge.into(),
        other => ApiError::validation("body", format!("the body could not be read: {other}")),
    }
}

fn json_payload_error(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => {
            ApiError::from(ErrorCode::PayloadTooLarge).with_details(json!({ "limitBytes": limit }))
        }
        JsonPayloadError::ContentType => ErrorCode::UnsupportedMediaType.into(),
        JsonPayloadError::Deserialize(error) => deserialize_error(None, &error),
        JsonPayloadError::Payload(error) => payload_error(&error),
        other => ApiError::validation("body", other),
    }
}

/// VALIDATION_FAILED for a serde_json error. serde reports a missing or unknown field at
/// its parent, so that name is taken from the message; a syntax error is the body's.
fn deserialize_error(path: Option<&str>, error: &serde_json::Error) -> ApiError {
    let text = error.to_string();
    // serde_json appends " at line L column C"; the position goes to its own fields.
    let reason = match text.rfind(" at line ") {
        Some(index) if error.line() > 0 => &text[..index],
        _ => text.as_str(),
    };
    let field = if error.is_syntax() || error.is_eof() {
        "body".to_owned()
    } else {
        field_name(path, reason)
    };
    ApiError::new(
        ErrorCode::ValidationFailed,
        format!("invalid body: {field}: {reason}"),
    )
    .with_details(json!({
        "fields": { field: reason },
        "line": error.line(),
        "column": error.column(),
    }))
}

fn field_name(path: Option<&str>, reason: &str) -> String {
    let parent = path.filter(|path| !path.is_empty() && *path != ".");
    let named = (reason.starts_with("missing field") || reason.starts_with("unknown field"))
        .then(|| reason.split('`').nth(1))
        .flatten();
    match (parent, named) {
        // serde_path_to_error's path of an unknown field already ends with its name.
        (Some(parent), Some(name)) if parent == name || parent.ends_with(&format!(".{name}")) => {
            parent.to_owned()
        }
        (Some(parent), Some(name)) => format!("{parent}.{name}"),
        (None, Some(name)) => name.to_owned(),
        (Some(parent), None) => parent.to_owned(),
        (None, None) => "body".to_owned(),
    }
}

fn path_error(error: PathError) -> ApiError {
    match error {
        PathError::Deserialize(error) => {
            ApiError::new(ErrorCode::NotFound, format!("no such resource: {error}"))
        }
        other => ApiError::new(ErrorCode::NotFound, format!("no such resource: {other}")),
    }
}

fn query_error(error: QueryPayloadError) -> ApiError {
    let reason = error.to_string();
    let reason = reason
        .strip_prefix("Query deserialize error: ")
        .unwrap_or(&reason)
        .to_owned();
    let field = field_name(None, &reason);
    let field = if field == "body" {
        "query".to_owned()
    } else {
        field
    };
    ApiError::validation(field, reason)
}

/// An enumerated query parameter: absent is `None`, one of `allowed` is itself, anything
/// else is VALIDATION_FAILED naming `field` and listing the values it takes.
pub fn query_choice<'a>(
    field: &str,
    value: Option<&'a str>,
    allowed: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    match value {
        Some(text) if !allowed.contains(&text) => Err(ApiError::validation(
            field,
            format!("one of {}", allowed.join(", ")),
        )),
        other => Ok(other),
    }
}

/// A page size from the query: `default` when absent, else 1 to `maximum`; anything else
/// (a non-number too) is VALIDATION_FAILED naming `limit`.
pub fn query_limit(value: Option<&str>, default: usize, maximum: usize) -> Result<usize, ApiError> {
    match value.map(str::parse::<usize>) {
        None => Ok(default),
        Some(Ok(limit)) if (1..=maximum).contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::validation("limit", format!("1 to {maximum}"))),
    }
}

/// A non-negative integer from the query (`afterSeq`, a cursor): 0 when absent, else
/// VALIDATION_FAILED naming `field` with `reason`.
pub fn query_seq(field: &str, value: Option<&str>, reason: &str) -> Result<u64, ApiError> {
    match value.map(str::parse::<u64>) {
        None => Ok(0),
        Some(Ok(seq)) => Ok(seq),
        Some(Err(_)) => Err(ApiError::validation(field, reason)),
    }
}

/// The `{activityId}` of a path as an id; one that is no id is NOT_FOUND, as an unknown
/// activity is.
pub fn activity_id(text: &str) -> Result<ActivityId, ApiError> {
    ActivityId::parse(text).ok_or_else(|| ApiError::not_found("activity", text))
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;
    use actix_web::{test as actix_test, App, HttpResponse};
    use serde::Deserialize;
    use serde_json::Value;

    use super::*;
    use crate::http::request_id::RequestIdMiddleware;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Grab {
        user_id: String,
        quantity: u32,
        #[serde(default)]
        rules: Option<Rules>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Rules {
        group_size: u32,
    }

    async fn grab(body: Json<Grab>) -> HttpResponse {
        let group_size = body.rules.as_ref().map(|rules| rules.group_size);
        crate::http::envelope::ok(json!({
            "userId": body.user_id,
            "quantity": body.quantity,
            "groupSize": group_size,
        }))
    }

    async fn activity(id: web::Path<u64>) -> HttpResponse {
        crate::http::envelope::ok(json!({ "id": id.into_inner() }))
    }

    /// Sends `body` with `content_type` to a test app; returns status and JSON reply.
    async fn send(path: &str, body: &'static str, content_type: &str) -> (StatusCode, Value) {
        let app = actix_test::init_service(
            App::new()
                .wrap(RequestIdMiddleware)
                .configure(|config| configure(config, 64))
                .route("/grab", web::post().to(grab))
                .route("/activities/{id}", web::get().to(activity)),
        )
        .await;
        let request = if path == "/grab" {
            actix_test::TestRequest::post()
                .uri(path)
                .insert_header((CONTENT_TYPE, content_type))
                .set_payload(body)
        } else {
            actix_test::TestRequest::get().uri(path)
        };
        let response = actix_test::call_service(&app, request.to_request()).await;
        let status = response.status();
        let body: Value = actix_test::read_body_json(response).await;
        (status, body)
    }

    fn error_field(body: &Value) -> Option<(&str, &str)> {
        let fields = body["error"]["details"]["fields"].as_object()?;
        let (field, reason) = fields.iter().next()?;
        Some((field.as_str(), reason.as_str()?))
    }

    #[actix_web::test]
    async fn a_valid_body_is_decoded() {
        let (status, body) = send(
            "/grab",
            r#"{"userId":"u1","quantity":2}"#,
            "application/json",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["data"]["quantity"], 2);
        assert!(body["requestId"].as_str().is_some_and(|id| !id.is_empty()));
    }

    #[actix_web::test]
    async fn a_wrong_type_names_the_field() {
        let (status, body) = send(
            "/grab",
            r#"{"userId":"u1","quantity":"x"}"#,
            "application/json",
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "VALIDATION_FAILED");
        let (field, _) = error_field(&body).expect("a field");
        assert_eq!(field, "quantity");
        assert_eq!(body["error"]["details"]["line"], 1);
    }

    #[actix_web::test]
    async fn missing_and_nested_fields_are_named() {
        let (_, body) = send("/grab", r#"{"quantity":1}"#, "application/json").await;
        assert_eq!(error_field(&body).map(|(field, _)| field), Some("userId"));
        let nested = r#"{"userId":"u","quantity":1,"rules":{"groupSize":-1}}"#;
        let (_, body) = send("/grab", nested, "application/json").await;
        assert_eq!(
            error_field(&body).map(|(field, _)| field),
            Some("rules.groupSize")
        );
    }

    #[actix_web::test]
    async fn an_unknown_field_is_named_once() {
        let (status, body) = send(
            "/grab",
            r#"{"userId":"u","quantity":1,"colour":"red"}"#,
            "application/json",
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error_field(&body).map(|(field, _)| field), Some("colour"));
    }

    #[actix_web::test]
    async fn malformed_json_is_a_validation_error() {
        let (status, body) = send("/grab", r#"{"userId":"#, "application/json").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error_field(&body).map(|(field, _)| field), Some("body"));
    }

    #[actix_web::test]
    async fn a_body_that_is_not_json_is_unsupported() {
        let (status, body) = send("/grab", "userId=u1", "application/x-www-form-urlencoded").await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");
    }

    #[actix_web::test]
    async fn a_body_over_the_limit_is_too_large() {
        let large =
            r#"{"userId":"a-user-id-that-makes-this-body-longer-than-64-bytes","quantity":1}"#;
        let (status, body) = send("/grab", large, "application/json; charset=utf-8").await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE");
    }

    #[actix_web::test]
    async fn an_unparsable_path_id_is_not_found() {
        let (status, body) = send("/activities/abc", "", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "NOT_FOUND");
    }
}

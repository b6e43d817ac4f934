//! The envelope and request ids on every JSON reply.

use chrono::DateTime;
use reqwest::StatusCode;
use serde_json::json;

use playcore_testkit::app::{assert_error, json, spawn_app, success_data};

fn header(response: &reqwest::Response, name: &str) -> String {
    let value = response.headers().get(name).expect("the header is present");
    value.to_str().expect("ascii").to_owned()
}

#[actix_web::test]
async fn an_unknown_route_is_a_404_envelope_with_the_request_id() {
    let app = spawn_app().await;

    let response = app.get("/api/v1/nothing-here").await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let request_id = header(&response, "x-request-id");
    let body = json(response).await;
    assert_error(&body, "NOT_FOUND");
    assert_eq!(body["requestId"], request_id.as_str());
}

#[actix_web::test]
async fn the_request_id_is_echoed_in_body_and_header() {
    let app = spawn_app().await;

    let response = app
        .get_with_header("/healthz", "X-Request-Id", "trace-abc_123")
        .await;

    assert_eq!(header(&response, "x-request-id"), "trace-abc_123");
    let body = json(response).await;
    success_data(&body);
    assert_eq!(body["requestId"], "trace-abc_123");
}

#[actix_web::test]
async fn an_error_reply_echoes_the_request_id_too() {
    let app = spawn_app().await;

    let response = app
        .get_with_header("/missing", "X-Request-Id", "err-trace-1")
        .await;

    assert_eq!(header(&response, "x-request-id"), "err-trace-1");
    assert_eq!(json(response).await["requestId"], "err-trace-1");
}

#[actix_web::test]
async fn a_request_id_is_generated_when_absent() {
    let app = spawn_app().await;

    let first = app.get("/healthz").await;
    let second = app.get("/healthz").await;

    let first_id = header(&first, "x-request-id");
    assert_eq!(first_id.len(), 16, "{first_id}");
    assert!(first_id.bytes().all(|byte| byte.is_ascii_hexdigit()));
    assert_ne!(first_id, header(&second, "x-request-id"));
    assert_eq!(json(first).await["requestId"], first_id.as_str());
}

#[actix_web::test]
async fn an_invalid_request_id_is_replaced() {
    let app = spawn_app().await;
    let too_long = "x".repeat(129);

    let response = app
        .get_with_header("/healthz", "X-Request-Id", &too_long)
        .await;

    let replaced = header(&response, "x-request-id");
    assert_ne!(replaced, too_long);
    assert_eq!(replaced.len(), 16);
}

#[actix_web::test]
async fn the_timestamp_is_rfc3339_utc() {
    let app = spawn_app().await;

    let body = json(app.get("/healthz").await).await;

    let timestamp = body["timestamp"].as_str().expect("a string");
    assert!(timestamp.ends_with('Z'), "{timestamp}");
    DateTime::parse_from_rfc3339(timestamp).expect("RFC 3339");
}

#[actix_web::test]
async fn a_wrong_method_on_a_known_path_is_an_enveloped_error() {
    let app = spawn_app().await;

    let response = app.post_json("/healthz", &json!({})).await;

    assert!(response.status().is_client_error());
    let request_id = header(&response, "x-request-id");
    let body = json(response).await;
    assert_eq!(body["success"], false);
    assert_eq!(body["requestId"], request_id.as_str());
}

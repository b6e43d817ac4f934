//! `/healthz`, `/readyz`, `/metrics`.

use reqwest::StatusCode;

use crate::helpers::{json, spawn_app, success_data};

#[actix_web::test]
async fn healthz_answers_200_while_up() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let response = app.get("/healthz").await;

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    assert_eq!(success_data(&body)["status"], "up");
}

#[actix_web::test]
async fn readyz_answers_200_once_started() {
    let app = spawn_app().await;

    let response = app.get("/readyz").await;

    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    assert_eq!(success_data(&body)["status"], "ready");
}

#[actix_web::test]
async fn metrics_are_prometheus_text_and_count_responses() {
    let app = spawn_app().await;
    app.get("/healthz").await;
    app.get("/no/such/route").await;

    let response = app.get("/metrics").await;

    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().expect("ascii");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.expect("a text body");
    assert!(
        text.contains("# TYPE playcore_http_responses_total counter"),
        "{text}"
    );
    assert!(
        text.contains("playcore_http_responses_total{class=\"2xx\"} "),
        "{text}"
    );
    assert!(
        !text.contains("playcore_http_responses_total{class=\"4xx\"} 0\n"),
        "{text}"
    );
}

#[actix_web::test]
async fn ops_endpoints_carry_a_request_id_header() {
    let app = spawn_app().await;

    let response = app.get("/healthz").await;

    assert!(response.headers().contains_key("x-request-id"));
}

//! `/healthz`, `/readyz`, `/metrics`.

use reqwest::StatusCode;

use playcore_testkit::app::{json, spawn_app, success_data};

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

#[actix_web::test]
async fn metrics_report_the_journal_and_the_actors() {
    let app = spawn_app().await;
    let id = crate::fixtures::create_online_flash_sale(&app, 10, 2, 300).await;
    crate::fixtures::grab_ok(&app, &id, "alice", "r1", 1).await;

    let text = app.get("/metrics").await.text().await.expect("a text body");

    let value = |name: &str| -> i64 {
        let line = text
            .lines()
            .find(|line| line.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing in\n{text}"));
        line.rsplit(' ')
            .next()
            .and_then(|value| value.parse().ok())
            .expect("a number")
    };
    assert_eq!(value("playcore_activities"), 1);
    assert!(
        value("playcore_journal_durable_seq") >= 5,
        "create, submit, approve, publish, grab"
    );
    assert!(
        value("playcore_timers_queued") >= 1,
        "the order's pay deadline"
    );
}

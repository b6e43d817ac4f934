//! Admin bodies have a fixed set of fields: an unknown one is 400 VALIDATION_FAILED naming
//! it (as an unknown rule is), and the write does not happen.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{admin_action, create_activity, error_fields, flash_sale_body};
use playcore_testkit::app::{
    assert_error, json, spawn_app, success_data, TestApp, ADMIN_TOKEN, APPROVER_TOKEN,
    OPERATOR_TOKEN,
};

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let response = match method {
        "POST" => app.admin_post(path, token, body).await,
        _ => app.admin_put(path, token, body).await,
    };
    let status = response.status();
    (status, json(response).await)
}

async fn read(app: &TestApp, path: &str) -> Value {
    let response = app.admin_get(path, ADMIN_TOKEN).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    success_data(&json(response).await).clone()
}

/// Asserts 400 VALIDATION_FAILED naming exactly `field`.
fn assert_refused(status: StatusCode, reply: &Value, field: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {reply}");
    assert_error(reply, "VALIDATION_FAILED");
    assert_eq!(error_fields(reply), vec![field], "{reply}");
}

#[actix_web::test]
async fn an_unknown_field_on_create_or_edit_is_refused_naming_it() {
    let app = spawn_app().await;
    let mut body = flash_sale_body(10, 2, 300);
    body["colour"] = json!("red");
    let (status, reply) = send(&app, "POST", "/admin/v1/activities", OPERATOR_TOKEN, &body).await;
    assert_refused(status, &reply, "colour");
    assert_eq!(
        read(&app, "/admin/v1/activities").await["activities"],
        json!([])
    );

    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    let path = format!("/admin/v1/activities/{id}");
    let mut edit = flash_sale_body(20, 2, 300);
    edit["title"] = json!("Renamed");
    edit["stockTotal"] = json!(20);
    let (status, reply) = send(&app, "PUT", &path, OPERATOR_TOKEN, &edit).await;
    assert_refused(status, &reply, "stockTotal");
    let activity = read(&app, &path).await;
    assert_eq!(activity["title"], "Haircut flash sale");
    assert_eq!(activity["version"], 1);
}

#[actix_web::test]
async fn a_version_configuration_can_still_be_put_back_as_read() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    let path = format!("/admin/v1/activities/{id}");
    let mut edit = flash_sale_body(10, 2, 300);
    edit["title"] = json!("Renamed");
    let (status, reply) = send(&app, "PUT", &path, OPERATOR_TOKEN, &edit).await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    let config = read(&app, &format!("{path}/versions/1")).await["config"].clone();
    assert!(config["templateName"].is_string(), "{config}");
    let (status, reply) = send(&app, "PUT", &path, OPERATOR_TOKEN, &config).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(success_data(&reply)["title"], "Haircut flash sale");
}

#[actix_web::test]
async fn an_unknown_gray_field_is_refused_naming_it_at_any_depth() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    let path = format!("/admin/v1/activities/{id}/gray");
    let valid = json!({"enabled": true, "percentage": 10});
    let cases = [
        (
            "percent",
            json!({"enabled": true, "percentage": 10, "percent": 5}),
        ),
        (
            "rules.regions",
            json!({"enabled": true, "percentage": 10, "rules": {"regions": {}}}),
        ),
        (
            "rules.cities.only",
            json!({"enabled": true, "percentage": 10, "rules": {"cities": {"only": ["上海"]}}}),
        ),
    ];
    for (field, body) in cases {
        let (status, reply) = send(&app, "PUT", &path, OPERATOR_TOKEN, &body).await;
        assert_refused(status, &reply, field);
    }
    assert_eq!(
        read(&app, &path).await["version"],
        0,
        "nothing was configured"
    );
    let (status, reply) = send(&app, "PUT", &path, OPERATOR_TOKEN, &valid).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

#[actix_web::test]
async fn an_unknown_field_beside_a_remark_is_refused_naming_it() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    let base = format!("/admin/v1/activities/{id}");
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;
    let body = json!({"remark": "fine", "reason": "fine"});
    for action in ["approve", "reject"] {
        let path = format!("{base}/{action}");
        let (status, reply) = send(&app, "POST", &path, APPROVER_TOKEN, &body).await;
        assert_refused(status, &reply, "reason");
    }
    assert_eq!(
        read(&app, &format!("{base}/approval")).await["status"],
        "PENDING"
    );
    let rollback = format!("{base}/versions/1/rollback");
    let (status, reply) = send(&app, "POST", &rollback, OPERATOR_TOKEN, &body).await;
    assert_refused(status, &reply, "reason");
}

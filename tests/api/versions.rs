//! Configuration versions: the history after edits, one version's configuration, rollback
//! (back through approval before publishing again), roles, 404s, audit, the event log and
//! a restart.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{
    admin_action, approve_and_publish, create_activity, error_fields, flash_sale_body, grab_ok,
    submit_and_approve, wait_for_status, REFUSED_TEXTS,
};
use playcore_testkit::app::{
    assert_error, json, spawn_app, success_data, TestApp, ADMIN_TOKEN, APPROVER_TOKEN,
    OPERATOR_TOKEN,
};

async fn admin_get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let response = app.admin_get(path, token).await;
    let status = response.status();
    (status, json(response).await)
}

async fn admin_post(app: &TestApp, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    let response = app.admin_post(path, token, body).await;
    let status = response.status();
    (status, json(response).await)
}

/// PUTs an edit as the operator and asserts 200.
async fn edit(app: &TestApp, id: &str, body: &Value) -> Value {
    let path = format!("/admin/v1/activities/{id}");
    let response = app.admin_put(&path, OPERATOR_TOKEN, body).await;
    let status = response.status();
    let reply = json(response).await;
    assert_eq!(status, StatusCode::OK, "edit: {reply}");
    success_data(&reply).clone()
}

/// The version list's data, read by `token`.
async fn history(app: &TestApp, id: &str, token: &str) -> Value {
    let (status, reply) =
        admin_get(app, &format!("/admin/v1/activities/{id}/versions"), token).await;
    assert_eq!(status, StatusCode::OK, "versions: {reply}");
    success_data(&reply).clone()
}

fn numbers(history: &Value) -> Vec<u64> {
    history["versions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|version| version["number"].as_u64().expect("a number"))
        .collect()
}

async fn rollback(
    app: &TestApp,
    id: &str,
    number: u64,
    token: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let path = format!("/admin/v1/activities/{id}/versions/{number}/rollback");
    admin_post(app, &path, token, body).await
}

async fn activity(app: &TestApp, id: &str) -> Value {
    let (status, reply) =
        admin_get(app, &format!("/admin/v1/activities/{id}"), OPERATOR_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    success_data(&reply).clone()
}

fn retitled(body: &Value, title: &str) -> Value {
    let mut edited = body.clone();
    edited["title"] = json!(title);
    edited
}

#[actix_web::test]
async fn the_history_lists_every_change_newest_first_with_the_fields_it_changed() {
    let app = spawn_app().await;
    let body = flash_sale_body(10, 2, 300);
    let id = create_activity(&app, &body).await;
    let renamed = retitled(&body, "Renamed");
    edit(&app, &id, &renamed).await;
    let mut repriced = renamed.clone();
    repriced["price"] = json!(1990);
    repriced["stock"] = json!(20);
    edit(&app, &id, &repriced).await;

    let unchanged = edit(&app, &id, &repriced).await;
    let list = history(&app, &id, APPROVER_TOKEN).await;

    assert_eq!(
        unchanged["price"], 1990,
        "an unchanged edit answers the state"
    );
    assert_eq!(list["activityId"], id.as_str());
    assert_eq!(
        list["currentVersion"], 3,
        "an unchanged edit adds no version"
    );
    assert_eq!(list["keptMax"], 100);
    assert_eq!(numbers(&list), [3, 2, 1]);
    let versions = list["versions"].as_array().unwrap();
    let actions: Vec<&str> = versions
        .iter()
        .map(|v| v["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["UPDATE", "UPDATE", "CREATE"]);
    assert_eq!(versions[0]["changedFields"], json!(["price", "stock"]));
    assert_eq!(versions[1]["changedFields"], json!(["title"]));
    assert_eq!(versions[2]["changedFields"], json!([]));
    assert_eq!(versions[0]["current"], true);
    assert_eq!(versions[1]["current"], false);
    assert_eq!(versions[0]["by"], "dev-operator");
    assert_eq!(versions[0]["rolledBackFrom"], Value::Null);
    assert!(versions[0]["at"].is_string());
    assert_eq!(versions[0]["configHash"].as_str().map(str::len), Some(64));
    assert_ne!(versions[0]["configHash"], versions[1]["configHash"]);
    assert!(
        versions.iter().all(|v| v.get("config").is_none()),
        "no configs in the list"
    );
}

#[actix_web::test]
async fn a_version_shows_its_whole_configuration() {
    let app = spawn_app().await;
    let body = flash_sale_body(10, 2, 300);
    let id = create_activity(&app, &body).await;
    let created = activity(&app, &id).await;
    edit(&app, &id, &retitled(&body, "Renamed")).await;

    let (status, reply) = admin_get(
        &app,
        &format!("/admin/v1/activities/{id}/versions/1"),
        APPROVER_TOKEN,
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    let version = success_data(&reply);
    assert_eq!(version["activityId"], id.as_str());
    assert_eq!(
        (version["number"].as_u64(), version["current"].as_bool()),
        (Some(1), Some(false))
    );
    let config = &version["config"];
    for field in [
        "templateCode",
        "title",
        "storeId",
        "serviceId",
        "price",
        "unitName",
        "unitsPerOrder",
        "perUserLimit",
        "startAt",
        "endAt",
        "payTimeoutSeconds",
        "rules",
    ] {
        assert_eq!(config[field], created[field], "{field}");
    }
    assert_eq!(config["title"], "Haircut flash sale");
    assert_eq!(config["stock"], 10);
}

#[actix_web::test]
async fn unknown_versions_and_activities_are_not_found() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;

    for path in [
        format!("/admin/v1/activities/{id}/versions/2"),
        format!("/admin/v1/activities/{id}/versions/0"),
        format!("/admin/v1/activities/{id}/versions/first"),
        "/admin/v1/activities/999999/versions".to_string(),
        "/admin/v1/activities/999999/versions/1".to_string(),
    ] {
        let (status, reply) = admin_get(&app, &path, OPERATOR_TOKEN).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {reply}");
        assert_error(&reply, "NOT_FOUND");
    }
    for (target, number) in [(id.as_str(), 2), (id.as_str(), 0), ("999999", 1)] {
        let (status, reply) = rollback(&app, target, number, OPERATOR_TOKEN, &json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{target}/{number}: {reply}");
        assert_error(&reply, "NOT_FOUND");
    }
    assert_eq!(numbers(&history(&app, &id, OPERATOR_TOKEN).await), [1]);
}

#[actix_web::test]
async fn a_rollback_goes_through_approval_again_before_the_old_configuration_is_public() {
    let app = spawn_app().await;
    let body = flash_sale_body(10, 2, 300);
    let id = create_activity(&app, &body).await;
    approve_and_publish(&app, &id).await;
    edit(&app, &id, &retitled(&body, "Wrong title")).await;
    approve_and_publish(&app, &id).await;
    wait_for_status(&app, &id, "ONLINE").await;

    let (status, reply) = rollback(
        &app,
        &id,
        1,
        OPERATOR_TOKEN,
        &json!({"remark": "title typo"}),
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    let rolled_back = success_data(&reply);
    assert_eq!(rolled_back["title"], "Haircut flash sale");
    assert_eq!(rolled_back["approvalStatus"], "DRAFT");
    assert_eq!(rolled_back["status"], "DRAFT");
    let publish = format!("/admin/v1/activities/{id}/publish");
    let (early_status, early_reply) = admin_post(&app, &publish, OPERATOR_TOKEN, &json!({})).await;
    assert_eq!(early_status, StatusCode::CONFLICT, "{early_reply}");
    assert_error(&early_reply, "INVALID_STATE");

    approve_and_publish(&app, &id).await;
    let public = wait_for_status(&app, &id, "ONLINE").await;
    assert_eq!(public["title"], "Haircut flash sale");
    let list = history(&app, &id, OPERATOR_TOKEN).await;
    assert_eq!(numbers(&list), [3, 2, 1]);
    let latest = &list["versions"][0];
    assert_eq!(latest["action"], "ROLLBACK");
    assert_eq!(latest["rolledBackFrom"], 1);
    assert_eq!(latest["remark"], "title typo");
    assert_eq!(latest["changedFields"], json!(["title"]));
    assert_eq!(latest["configHash"], list["versions"][2]["configHash"]);
}

#[actix_web::test]
async fn a_rollback_is_in_the_event_log_and_the_audit_log() {
    let app = spawn_app().await;
    let body = flash_sale_body(10, 2, 300);
    let id = create_activity(&app, &body).await;
    edit(&app, &id, &retitled(&body, "Renamed")).await;

    let (status, reply) = rollback(&app, &id, 1, ADMIN_TOKEN, &json!({})).await;
    let (again_status, again_reply) = rollback(&app, &id, 1, ADMIN_TOKEN, &json!({})).await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        again_status,
        StatusCode::OK,
        "a repeated rollback is a no-op: {again_reply}"
    );
    let events = format!("/admin/v1/events?activityId={id}&type=ACTIVITY_ROLLED_BACK");
    let (_, events_reply) = admin_get(&app, &events, OPERATOR_TOKEN).await;
    let logged = success_data(&events_reply)["events"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(logged.len(), 1, "{events_reply}");
    assert_eq!(logged[0]["data"]["toVersion"], 1);
    assert_eq!(logged[0]["data"]["by"], "dev-admin");
    let audit = format!("/admin/v1/audit?target={id}&action=activity.rollback");
    let (_, audit_reply) = admin_get(&app, &audit, ADMIN_TOKEN).await;
    let records = success_data(&audit_reply)["records"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        records.len(),
        1,
        "one record, none for the repeat: {audit_reply}"
    );
    assert_eq!(records[0]["who"], "dev-admin");
    assert_eq!(records[0]["before"]["title"], "Renamed");
    assert_eq!(records[0]["after"]["title"], "Haircut flash sale");
    assert_eq!(numbers(&history(&app, &id, ADMIN_TOKEN).await), [3, 2, 1]);
}

#[actix_web::test]
async fn reading_needs_a_role_and_rolling_back_needs_operator_or_admin() {
    let app = spawn_app().await;
    let body = flash_sale_body(10, 2, 300);
    let id = create_activity(&app, &body).await;
    edit(&app, &id, &retitled(&body, "Renamed")).await;
    let list = format!("/admin/v1/activities/{id}/versions");
    let detail = format!("/admin/v1/activities/{id}/versions/1");
    let rollback_path = format!("/admin/v1/activities/{id}/versions/1/rollback");

    for path in [&list, &detail] {
        for token in [OPERATOR_TOKEN, APPROVER_TOKEN, ADMIN_TOKEN] {
            let (status, reply) = admin_get(&app, path, token).await;
            assert_eq!(status, StatusCode::OK, "{path} as {token}: {reply}");
        }
        let anonymous = app.get(path).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_error(&json(anonymous).await, "UNAUTHORIZED");
    }
    let anonymous = app.post_json(&rollback_path, &json!({})).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let (approver_status, approver_reply) =
        rollback(&app, &id, 1, APPROVER_TOKEN, &json!({})).await;
    assert_eq!(approver_status, StatusCode::FORBIDDEN, "{approver_reply}");
    assert_error(&approver_reply, "FORBIDDEN");
    assert_eq!(numbers(&history(&app, &id, OPERATOR_TOKEN).await), [2, 1]);

    let (operator_status, operator_reply) =
        rollback(&app, &id, 1, OPERATOR_TOKEN, &json!({})).await;
    assert_eq!(operator_status, StatusCode::OK, "{operator_reply}");
    let (admin_status, admin_reply) = rollback(&app, &id, 2, ADMIN_TOKEN, &json!({})).await;
    assert_eq!(admin_status, StatusCode::OK, "{admin_reply}");
    assert_eq!(activity(&app, &id).await["title"], "Renamed");
}

#[actix_web::test]
async fn a_rollback_without_a_body_has_no_remark_and_a_bad_remark_is_refused() {
    let app = spawn_app().await;
    let body = flash_sale_body(10, 2, 300);
    let id = create_activity(&app, &body).await;
    edit(&app, &id, &retitled(&body, "Renamed")).await;
    let path = app.url(&format!("/admin/v1/activities/{id}/versions/1/rollback"));

    let (typed_status, typed_reply) =
        rollback(&app, &id, 1, OPERATOR_TOKEN, &json!({"remark": 5})).await;
    let long = "x".repeat(501);
    let (long_status, long_reply) =
        rollback(&app, &id, 1, OPERATOR_TOKEN, &json!({"remark": long})).await;
    let bare = app
        .client
        .post(&path)
        .header("Authorization", format!("Bearer {OPERATOR_TOKEN}"))
        .send()
        .await
        .expect("the request reaches the server");

    assert_eq!(typed_status, StatusCode::BAD_REQUEST, "{typed_reply}");
    assert_eq!(error_fields(&typed_reply), ["remark"]);
    assert_eq!(long_status, StatusCode::BAD_REQUEST, "{long_reply}");
    assert_eq!(error_fields(&long_reply), ["remark"]);
    for text in REFUSED_TEXTS {
        let body = json!({ "remark": text });
        let (status, reply) = rollback(&app, &id, 1, OPERATOR_TOKEN, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text:?}: {reply}");
        assert_eq!(error_fields(&reply), ["remark"], "{reply}");
    }
    assert_eq!(bare.status(), StatusCode::OK);
    let list = history(&app, &id, OPERATOR_TOKEN).await;
    assert_eq!(numbers(&list), [3, 2, 1]);
    assert_eq!(list["versions"][0]["remark"], "");
}

#[actix_web::test]
async fn a_rollback_is_refused_like_an_edit() {
    let app = spawn_app().await;
    let mut body = flash_sale_body(2, 3, 300);
    let id = create_activity(&app, &body).await;
    let (current_status, current_reply) = rollback(&app, &id, 1, OPERATOR_TOKEN, &json!({})).await;
    body["stock"] = json!(5);
    edit(&app, &id, &body).await;
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;
    let (pending_status, pending_reply) = rollback(&app, &id, 1, OPERATOR_TOKEN, &json!({})).await;
    admin_action(&app, &id, "approve", APPROVER_TOKEN).await;
    admin_action(&app, &id, "publish", OPERATOR_TOKEN).await;
    wait_for_status(&app, &id, "ONLINE").await;
    grab_ok(&app, &id, "u1", "r1", 3).await;

    let (stock_status, stock_reply) = rollback(&app, &id, 1, OPERATOR_TOKEN, &json!({})).await;

    assert_eq!(current_status, StatusCode::CONFLICT, "{current_reply}");
    assert_error(&current_reply, "INVALID_STATE");
    assert_eq!(pending_status, StatusCode::CONFLICT, "{pending_reply}");
    assert_error(&pending_reply, "INVALID_STATE");
    assert_eq!(stock_status, StatusCode::BAD_REQUEST, "{stock_reply}");
    assert_eq!(error_fields(&stock_reply), ["stock"]);
    let after = activity(&app, &id).await;
    assert_eq!(
        after["status"], "ONLINE",
        "a refused rollback changes nothing"
    );
    assert_eq!(numbers(&history(&app, &id, OPERATOR_TOKEN).await), [2, 1]);
}

#[actix_web::test]
async fn versions_survive_a_restart() {
    let app = spawn_app().await;
    let body = flash_sale_body(10, 2, 300);
    let id = create_activity(&app, &body).await;
    edit(&app, &id, &retitled(&body, "Renamed")).await;
    let (status, reply) = rollback(&app, &id, 1, OPERATOR_TOKEN, &json!({"remark": "undo"})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    submit_and_approve(&app, &id).await;
    let before = history(&app, &id, OPERATOR_TOKEN).await;

    let app = app.restart().await;

    assert_eq!(history(&app, &id, OPERATOR_TOKEN).await, before);
    edit(&app, &id, &retitled(&body, "After restart")).await;
    let after = history(&app, &id, OPERATOR_TOKEN).await;
    assert_eq!(numbers(&after), [4, 3, 2, 1]);
    assert_eq!(after["versions"][0]["changedFields"], json!(["title"]));
    assert_eq!(activity(&app, &id).await["approvalStatus"], "DRAFT");
}

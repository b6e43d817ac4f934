//! The admin API: authentication and roles, activity creation and editing, the approval
//! workflow, publication, stats and order paging (the event log: `events.rs`).

use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{
    admin_action, at, create_activity, create_online_flash_sale, error_fields, flash_sale_body,
    grab, grab_ok, group_buy_body, notification, notify, pay, stats, stock, submit_and_approve,
    wait_for_status, PRICE, REFUSED_TEXTS,
};
use playcore_testkit::app::{
    assert_error, json, spawn_app, success_data, TestApp, ADMIN_TOKEN, APPROVER_TOKEN,
    OPERATOR_TOKEN, SECOND_APPROVER_TOKEN,
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

async fn admin_put(app: &TestApp, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    let response = app.admin_put(path, token, body).await;
    let status = response.status();
    (status, json(response).await)
}

async fn approval(app: &TestApp, id: &str) -> Value {
    let path = format!("/admin/v1/activities/{id}/approval");
    let (status, reply) = admin_get(app, &path, OPERATOR_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    success_data(&reply).clone()
}

fn actions(approval: &Value) -> Vec<(String, String)> {
    approval["history"]
        .as_array()
        .expect("a history")
        .iter()
        .map(|record| {
            (
                record["action"].as_str().unwrap().to_owned(),
                record["by"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(action: &str, by: &str) -> (String, String) {
    (action.to_owned(), by.to_owned())
}

// ---------------------------------------------------------------- authentication and roles

#[actix_web::test]
async fn a_missing_or_unknown_token_is_unauthorized() {
    let app = spawn_app().await;
    let url = app.url("/admin/v1/activities");

    let missing = app.client.get(&url).send().await.unwrap();
    let unknown = app.admin_get("/admin/v1/activities", "no-such-token").await;
    let wrong_scheme = app
        .client
        .get(&url)
        .header(AUTHORIZATION, "Basic ZGV2LWFkbWlu")
        .send()
        .await
        .unwrap();
    let create = app
        .client
        .post(&url)
        .json(&flash_sale_body(10, 2, 300))
        .send()
        .await
        .unwrap();

    for response in [missing, unknown, wrong_scheme, create] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");
        assert_error(&json(response).await, "UNAUTHORIZED");
    }
    let (_, list) = admin_get(&app, "/admin/v1/activities", ADMIN_TOKEN).await;
    assert_eq!(success_data(&list)["activities"], json!([]));
}

#[actix_web::test]
async fn an_approver_cannot_create_an_activity() {
    let app = spawn_app().await;

    let (status, reply) = admin_post(
        &app,
        "/admin/v1/activities",
        APPROVER_TOKEN,
        &flash_sale_body(10, 2, 300),
    )
    .await;

    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert_error(&reply, "FORBIDDEN");
    let (_, list) = admin_get(&app, "/admin/v1/activities", ADMIN_TOKEN).await;
    assert_eq!(success_data(&list)["activities"], json!([]));
}

/// A new flash sale, submitted by the operator: the app, its id, and its approve and reject
/// paths.
async fn submitted_activity() -> (TestApp, String, String, String) {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;
    let approve_path = format!("/admin/v1/activities/{id}/approve");
    let reject_path = format!("/admin/v1/activities/{id}/reject");
    (app, id, approve_path, reject_path)
}

#[actix_web::test]
async fn an_operator_cannot_approve_or_reject() {
    let (app, id, approve_path, reject_path) = submitted_activity().await;
    let (approve_status, approve) =
        admin_post(&app, &approve_path, OPERATOR_TOKEN, &json!({})).await;
    let (reject_status, reject) =
        admin_post(&app, &reject_path, OPERATOR_TOKEN, &json!({"remark": "no"})).await;

    assert_eq!(approve_status, StatusCode::FORBIDDEN);
    assert_error(&approve, "FORBIDDEN");
    assert_eq!(reject_status, StatusCode::FORBIDDEN);
    assert_error(&reject, "FORBIDDEN");
    assert_eq!(approval(&app, &id).await["status"], "PENDING");
}

/// `/approve`'s body is optional (`{remark?}`), but one that is sent must be a remark: a
/// malformed one is refused, not taken for "no remark", and the approval does not move.
#[actix_web::test]
async fn approve_and_reject_refuse_a_body_that_is_not_a_remark() {
    let (app, id, approve_path, reject_path) = submitted_activity().await;
    let cases = [
        (
            &approve_path,
            r#"{"remark":"#,
            "application/json",
            "VALIDATION_FAILED",
        ),
        (
            &approve_path,
            r#"{"remark":5}"#,
            "application/json",
            "VALIDATION_FAILED",
        ),
        (
            &reject_path,
            r#""no""#,
            "application/json",
            "VALIDATION_FAILED",
        ),
        (
            &reject_path,
            r#"{"remark":"no"}"#,
            "text/plain",
            "UNSUPPORTED_MEDIA_TYPE",
        ),
    ];
    for (path, body, content_type, code) in cases {
        let response = app
            .admin_post_raw(path, APPROVER_TOKEN, body, content_type)
            .await;
        let reply = json(response).await;
        assert_error(&reply, code);
        assert_eq!(approval(&app, &id).await["status"], "PENDING", "{body}");
    }
    // No body at all is no remark: the approval goes through.
    let response = app
        .admin_post_raw(&approve_path, APPROVER_TOKEN, "", "application/json")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(approval(&app, &id).await["status"], "APPROVED");
}

#[actix_web::test]
async fn an_approver_cannot_publish() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    submit_and_approve(&app, &id).await;

    let path = format!("/admin/v1/activities/{id}/publish");
    let (status, reply) = admin_post(&app, &path, APPROVER_TOKEN, &json!({})).await;

    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert_error(&reply, "FORBIDDEN");
}

#[actix_web::test]
async fn nobody_approves_their_own_submission() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    admin_action(&app, &id, "submit", ADMIN_TOKEN).await;

    let path = format!("/admin/v1/activities/{id}/approve");
    let (status, reply) = admin_post(&app, &path, ADMIN_TOKEN, &json!({})).await;

    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert_error(&reply, "FORBIDDEN");
    assert_eq!(approval(&app, &id).await["status"], "PENDING");
    // Someone else may.
    admin_action(&app, &id, "approve", APPROVER_TOKEN).await;
    assert_eq!(approval(&app, &id).await["status"], "APPROVED");
}

// ---------------------------------------------------------------- create, read, edit

#[actix_web::test]
async fn creating_an_activity_answers_201_with_a_draft() {
    let app = spawn_app().await;

    let (status, reply) = admin_post(
        &app,
        "/admin/v1/activities",
        OPERATOR_TOKEN,
        &flash_sale_body(10, 2, 300),
    )
    .await;

    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let data = success_data(&reply);
    assert_eq!(data["id"], "1");
    assert_eq!(data["status"], "DRAFT");
    assert_eq!(data["approvalStatus"], "DRAFT");
    assert_eq!(data["templateCode"], "FLASH_SALE");
    assert_eq!(data["price"], PRICE);
    assert_eq!(data["perUserLimit"], 2);
    assert_eq!(data["payTimeoutSeconds"], 300);
    assert_eq!(data["stock"], stock(10, 10, 0, 0));
}

#[actix_web::test]
async fn defaults_apply_to_pay_timeout_and_units_per_order() {
    let app = spawn_app().await;
    let mut body = flash_sale_body(10, 2, 300);
    body.as_object_mut().unwrap().remove("payTimeoutSeconds");

    let (status, reply) = admin_post(&app, "/admin/v1/activities", OPERATOR_TOKEN, &body).await;

    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(success_data(&reply)["payTimeoutSeconds"], 300);
    assert_eq!(success_data(&reply)["unitsPerOrder"], 1);
}

#[actix_web::test]
async fn an_invalid_activity_is_refused_naming_every_field() {
    let app = spawn_app().await;
    let mut body = flash_sale_body(10, 2, 300);
    body["templateCode"] = json!("NO_SUCH_PLAY");
    body["price"] = json!(0);
    body["startAt"] = json!(at(3600));
    body["endAt"] = json!(at(60));

    let (status, reply) = admin_post(&app, "/admin/v1/activities", OPERATOR_TOKEN, &body).await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_error(&reply, "VALIDATION_FAILED");
    let fields = error_fields(&reply);
    for field in ["templateCode", "price", "endAt"] {
        assert!(fields.contains(&field.to_owned()), "{field} in {fields:?}");
    }
    let (_, list) = admin_get(&app, "/admin/v1/activities", ADMIN_TOKEN).await;
    assert_eq!(success_data(&list)["activities"], json!([]));
}

/// Create and edit refuse NUL, CR/LF, U+202E and whitespace only in ids and text, naming
/// the field; text keeps its ordinary spaces.
#[actix_web::test]
async fn control_characters_bidirectional_controls_and_blanks_are_refused_in_an_activity() {
    let app = spawn_app().await;
    let body = flash_sale_body(10, 2, 300);
    let id = create_activity(&app, &body).await;
    let edit_path = format!("/admin/v1/activities/{id}");
    for field in ["title", "storeId", "serviceId", "unitName"] {
        for text in REFUSED_TEXTS {
            let mut refused = body.clone();
            refused[field] = json!(text);
            let (created, create_reply) =
                admin_post(&app, "/admin/v1/activities", OPERATOR_TOKEN, &refused).await;
            let (edited, edit_reply) = admin_put(&app, &edit_path, OPERATOR_TOKEN, &refused).await;
            for (status, reply) in [(created, create_reply), (edited, edit_reply)] {
                assert_eq!(status, StatusCode::BAD_REQUEST, "{field} {text:?}: {reply}");
                assert_error(&reply, "VALIDATION_FAILED");
                assert_eq!(error_fields(&reply), vec![field], "{reply}");
            }
        }
    }
    for text in REFUSED_TEXTS {
        let mut refused = group_buy_body(2);
        refused["rules"]["cities"] = json!(["上海", text]);
        let (status, reply) =
            admin_post(&app, "/admin/v1/activities", OPERATOR_TOKEN, &refused).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "cities {text:?}: {reply}");
        let fields = error_fields(&reply);
        assert!(
            fields.len() == 1 && fields[0].starts_with("rules.cities"),
            "{reply}"
        );
    }
    let (_, list) = admin_get(&app, "/admin/v1/activities", ADMIN_TOKEN).await;
    assert_eq!(
        success_data(&list)["activities"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );
    let mut spaced = body.clone();
    spaced["title"] = json!("Haircut  flash sale, 2 人");
    let (status, reply) = admin_put(&app, &edit_path, OPERATOR_TOKEN, &spaced).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

#[actix_web::test]
async fn a_group_buy_without_group_size_is_refused() {
    let app = spawn_app().await;
    let mut body = group_buy_body(3);
    body.as_object_mut().unwrap().remove("rules");

    let (status, reply) = admin_post(&app, "/admin/v1/activities", OPERATOR_TOKEN, &body).await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_error(&reply, "VALIDATION_FAILED");
    assert!(
        error_fields(&reply).contains(&"rules.groupSize".to_owned()),
        "{reply}"
    );
}

#[actix_web::test]
async fn group_rules_are_refused_out_of_range_or_on_a_flash_sale() {
    let app = spawn_app().await;
    let mut group = group_buy_body(3);
    group["rules"] = json!({"groupSize": 1, "groupTtlSeconds": 10});
    let mut flash = flash_sale_body(10, 2, 300);
    flash["rules"] = json!({"groupSize": 3});

    let (group_status, group_reply) =
        admin_post(&app, "/admin/v1/activities", OPERATOR_TOKEN, &group).await;
    let (flash_status, flash_reply) =
        admin_post(&app, "/admin/v1/activities", OPERATOR_TOKEN, &flash).await;

    assert_eq!(group_status, StatusCode::BAD_REQUEST);
    let fields = error_fields(&group_reply);
    assert!(
        fields.contains(&"rules.groupSize".to_owned()),
        "{group_reply}"
    );
    assert!(
        fields.contains(&"rules.groupTtlSeconds".to_owned()),
        "{group_reply}"
    );
    assert_eq!(flash_status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_fields(&flash_reply),
        vec!["rules.groupSize"],
        "{flash_reply}"
    );
}

#[actix_web::test]
async fn a_create_body_with_a_wrong_type_or_missing_field_is_refused() {
    let app = spawn_app().await;
    let mut wrong_type = flash_sale_body(10, 2, 300);
    wrong_type["stock"] = json!("ten");
    let mut missing = flash_sale_body(10, 2, 300);
    missing.as_object_mut().unwrap().remove("title");

    let (wrong_status, wrong_reply) =
        admin_post(&app, "/admin/v1/activities", OPERATOR_TOKEN, &wrong_type).await;
    let (missing_status, missing_reply) =
        admin_post(&app, "/admin/v1/activities", OPERATOR_TOKEN, &missing).await;

    assert_eq!(wrong_status, StatusCode::BAD_REQUEST);
    assert_error(&wrong_reply, "VALIDATION_FAILED");
    assert_eq!(error_fields(&wrong_reply), vec!["stock"], "{wrong_reply}");
    assert_eq!(missing_status, StatusCode::BAD_REQUEST);
    assert_error(&missing_reply, "VALIDATION_FAILED");
    assert_eq!(
        error_fields(&missing_reply),
        vec!["title"],
        "{missing_reply}"
    );
}

#[actix_web::test]
async fn an_activity_can_be_read_by_any_role_and_unknown_ids_are_not_found() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;

    for token in [ADMIN_TOKEN, OPERATOR_TOKEN, APPROVER_TOKEN] {
        let (status, reply) = admin_get(&app, &format!("/admin/v1/activities/{id}"), token).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(success_data(&reply)["id"], id.as_str());
        assert_eq!(success_data(&reply)["status"], "DRAFT");
    }
    for unknown in ["999", "abc"] {
        let path = format!("/admin/v1/activities/{unknown}");
        let (status, reply) = admin_get(&app, &path, ADMIN_TOKEN).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{reply}");
        assert_error(&reply, "NOT_FOUND");
    }
}

#[actix_web::test]
async fn editing_a_draft_changes_it() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    let mut edited = flash_sale_body(20, 3, 300);
    edited["title"] = json!("Renamed");

    let path = format!("/admin/v1/activities/{id}");
    let (status, reply) = admin_put(&app, &path, OPERATOR_TOKEN, &edited).await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    let (_, read) = admin_get(&app, &path, OPERATOR_TOKEN).await;
    let data = success_data(&read);
    assert_eq!(data["title"], "Renamed");
    assert_eq!(data["perUserLimit"], 3);
    assert_eq!(data["stock"], stock(20, 20, 0, 0));
}

#[actix_web::test]
async fn editing_an_approved_activity_sends_it_back_to_draft() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    submit_and_approve(&app, &id).await;

    let path = format!("/admin/v1/activities/{id}");
    let (status, reply) =
        admin_put(&app, &path, OPERATOR_TOKEN, &flash_sale_body(12, 2, 300)).await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(approval(&app, &id).await["status"], "DRAFT");
    let publish = format!("/admin/v1/activities/{id}/publish");
    let (publish_status, publish_reply) =
        admin_post(&app, &publish, OPERATOR_TOKEN, &json!({})).await;
    assert_eq!(publish_status, StatusCode::CONFLICT, "{publish_reply}");
    assert_error(&publish_reply, "INVALID_STATE");
}

#[actix_web::test]
async fn editing_a_pending_activity_is_an_invalid_state_and_bad_edits_name_fields() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    let path = format!("/admin/v1/activities/{id}");
    let mut bad = flash_sale_body(10, 2, 300);
    bad["price"] = json!(-5);

    let (bad_status, bad_reply) = admin_put(&app, &path, OPERATOR_TOKEN, &bad).await;
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;
    let (pending_status, pending_reply) =
        admin_put(&app, &path, OPERATOR_TOKEN, &flash_sale_body(12, 2, 300)).await;

    assert_eq!(bad_status, StatusCode::BAD_REQUEST, "{bad_reply}");
    assert_eq!(error_fields(&bad_reply), vec!["price"]);
    assert_eq!(pending_status, StatusCode::CONFLICT, "{pending_reply}");
    assert_error(&pending_reply, "INVALID_STATE");
    let (_, read) = admin_get(&app, &path, OPERATOR_TOKEN).await;
    assert_eq!(success_data(&read)["stock"]["total"], 10);
}

// ---------------------------------------------------------------- approval workflow

#[actix_web::test]
async fn the_approval_workflow_records_every_step() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    let reject = format!("/admin/v1/activities/{id}/reject");

    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;
    admin_action(&app, &id, "withdraw", OPERATOR_TOKEN).await;
    assert_eq!(approval(&app, &id).await["status"], "DRAFT");
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;
    let (_, rejected) = admin_post(
        &app,
        &reject,
        APPROVER_TOKEN,
        &json!({"remark": "price too low"}),
    )
    .await;
    assert_eq!(success_data(&rejected)["approvalStatus"], "REJECTED");
    assert_eq!(approval(&app, &id).await["status"], "REJECTED");
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;
    let approved = admin_action(&app, &id, "approve", SECOND_APPROVER_TOKEN).await;

    assert_eq!(approved["approvalStatus"], "APPROVED");
    let state = approval(&app, &id).await;
    assert_eq!(state["status"], "APPROVED");
    assert_eq!(state["revision"], 3);
    assert_eq!(state["submittedBy"], "dev-operator");
    assert_eq!(
        actions(&state),
        vec![
            pair("SUBMIT", "dev-operator"),
            pair("WITHDRAW", "dev-operator"),
            pair("SUBMIT", "dev-operator"),
            pair("REJECT", "dev-approver"),
            pair("SUBMIT", "dev-operator"),
            pair("APPROVE", "dev-approver-2"),
        ]
    );
    assert_eq!(state["history"][3]["remark"], "price too low");
    let revisions: Vec<u64> = state["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(revisions, vec![1, 1, 2, 2, 3, 3]);
}

#[actix_web::test]
async fn rejecting_needs_a_remark() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;
    let path = format!("/admin/v1/activities/{id}/reject");

    for body in [json!({}), json!({"remark": "   "})] {
        let (status, reply) = admin_post(&app, &path, APPROVER_TOKEN, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
        assert_error(&reply, "VALIDATION_FAILED");
        assert_eq!(error_fields(&reply), vec!["remark"]);
    }
    assert_eq!(approval(&app, &id).await["status"], "PENDING");
}

#[actix_web::test]
async fn remarks_with_control_characters_bidirectional_controls_or_blanks_are_refused() {
    let (app, id, approve_path, reject_path) = submitted_activity().await;
    for path in [&approve_path, &reject_path] {
        for text in REFUSED_TEXTS {
            let body = json!({ "remark": text });
            let (status, reply) = admin_post(&app, path, APPROVER_TOKEN, &body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {text:?}: {reply}");
            assert_error(&reply, "VALIDATION_FAILED");
            assert_eq!(error_fields(&reply), vec!["remark"], "{reply}");
        }
    }
    assert_eq!(approval(&app, &id).await["status"], "PENDING");
    let body = json!({"remark": "price checked, stock ok"});
    let (status, reply) = admin_post(&app, &approve_path, APPROVER_TOKEN, &body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

#[actix_web::test]
async fn approving_a_draft_or_submitting_twice_is_an_invalid_state() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    let approve = format!("/admin/v1/activities/{id}/approve");
    let submit = format!("/admin/v1/activities/{id}/submit");
    let withdraw = format!("/admin/v1/activities/{id}/withdraw");

    let (draft_status, draft_reply) = admin_post(&app, &approve, APPROVER_TOKEN, &json!({})).await;
    let (withdraw_status, withdraw_reply) =
        admin_post(&app, &withdraw, OPERATOR_TOKEN, &json!({})).await;
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;
    let (again_status, again_reply) = admin_post(&app, &submit, OPERATOR_TOKEN, &json!({})).await;

    for (status, reply) in [
        (draft_status, draft_reply),
        (withdraw_status, withdraw_reply),
        (again_status, again_reply),
    ] {
        assert_eq!(status, StatusCode::CONFLICT, "{reply}");
        assert_error(&reply, "INVALID_STATE");
    }
}

#[actix_web::test]
async fn only_the_submitter_may_withdraw() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;

    let path = format!("/admin/v1/activities/{id}/withdraw");
    let (status, reply) = admin_post(&app, &path, ADMIN_TOKEN, &json!({})).await;

    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert_error(&reply, "FORBIDDEN");
    assert_eq!(approval(&app, &id).await["status"], "PENDING");
}

#[actix_web::test]
async fn pending_approvals_are_listed() {
    let app = spawn_app().await;
    let pending = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    let draft = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    let approved = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    admin_action(&app, &pending, "submit", OPERATOR_TOKEN).await;
    submit_and_approve(&app, &approved).await;

    let listed = |reply: &Value| -> Vec<String> {
        success_data(reply)
            .as_array()
            .unwrap()
            .iter()
            .map(|activity| activity["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, pending_list) =
        admin_get(&app, "/admin/v1/approvals?status=PENDING", APPROVER_TOKEN).await;
    let (_, draft_list) = admin_get(&app, "/admin/v1/approvals?status=DRAFT", APPROVER_TOKEN).await;
    let (_, approved_list) =
        admin_get(&app, "/admin/v1/approvals?status=APPROVED", APPROVER_TOKEN).await;
    let (bad_status, bad) =
        admin_get(&app, "/admin/v1/approvals?status=NOPE", APPROVER_TOKEN).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(&pending_list), vec![pending]);
    assert_eq!(listed(&draft_list), vec![draft]);
    assert_eq!(listed(&approved_list), vec![approved]);
    assert_eq!(bad_status, StatusCode::BAD_REQUEST);
    assert_error(&bad, "VALIDATION_FAILED");
}

// ---------------------------------------------------------------- publication

#[actix_web::test]
async fn publishing_needs_an_approved_activity() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    let path = format!("/admin/v1/activities/{id}/publish");

    let (draft_status, draft) = admin_post(&app, &path, OPERATOR_TOKEN, &json!({})).await;
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;
    let (pending_status, pending) = admin_post(&app, &path, OPERATOR_TOKEN, &json!({})).await;

    for (status, reply) in [(draft_status, draft), (pending_status, pending)] {
        assert_eq!(status, StatusCode::CONFLICT, "{reply}");
        assert_error(&reply, "INVALID_STATE");
    }
    admin_action(&app, &id, "approve", APPROVER_TOKEN).await;
    let published = admin_action(&app, &id, "publish", OPERATOR_TOKEN).await;
    assert_eq!(published["status"], "ONLINE");
    wait_for_status(&app, &id, "ONLINE").await;
}

#[actix_web::test]
async fn unpublishing_takes_the_activity_offline_and_publishing_again_reopens_it() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 2, 300).await;
    grab_ok(&app, &id, "alice", "r1", 1).await;

    let unpublished = admin_action(&app, &id, "unpublish", OPERATOR_TOKEN).await;

    assert_eq!(unpublished["status"], "OFFLINE");
    let (status, reply) = grab(&app, &id, "bob", "r1", 1).await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert_error(&reply, "OFFLINE");
    wait_for_status(&app, &id, "OFFLINE").await;
    admin_action(&app, &id, "publish", OPERATOR_TOKEN).await;
    grab_ok(&app, &id, "bob", "r2", 1).await;
}

// ---------------------------------------------------------------- stats, orders, events

#[actix_web::test]
async fn stats_count_stock_orders_and_gmv() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let paid = grab_ok(&app, &id, "alice", "r1", 2).await;
    let cancelled = grab_ok(&app, &id, "bob", "r1", 1).await;
    grab_ok(&app, &id, "carol", "r1", 3).await;
    let notified = grab_ok(&app, &id, "dave", "r1", 1).await;
    assert_eq!(
        pay(&app, paid["orderId"].as_str().unwrap(), "alice")
            .await
            .0,
        StatusCode::OK
    );
    let cancel = format!(
        "/api/v1/orders/{}/cancel",
        cancelled["orderId"].as_str().unwrap()
    );
    assert_eq!(
        app.post_json(&cancel, &json!({"userId": "bob"}))
            .await
            .status(),
        StatusCode::OK
    );
    let body = notification("T-9", notified["orderId"].as_str().unwrap(), PRICE);
    assert_eq!(notify(&app, &body).await.0, StatusCode::OK);

    let stats = stats(&app, &id).await;

    assert_eq!(stats["stock"], stock(10, 4, 3, 3));
    assert_eq!(stats["orders"]["pendingPay"], 1);
    assert_eq!(stats["orders"]["paid"], 2);
    assert_eq!(stats["orders"]["cancelled"], 1);
    assert_eq!(stats["orders"]["timeout"], 0);
    assert_eq!(stats["orders"]["refundPending"], 0);
    assert_eq!(stats["orders"]["refunded"], 0);
    assert_eq!(stats["gmv"], PRICE * 3);
}

#[actix_web::test]
async fn stats_of_an_unknown_activity_are_not_found() {
    let app = spawn_app().await;

    let (status, reply) = admin_get(&app, "/admin/v1/activities/42/stats", ADMIN_TOKEN).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&reply, "NOT_FOUND");
}

fn order_ids(page: &Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|order| order["orderId"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn orders_are_paged_with_a_cursor_and_filtered_by_status() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 1, 300).await;
    for user in ["u1", "u2", "u3", "u4", "u5"] {
        grab_ok(&app, &id, user, "r1", 1).await;
    }
    for (number, user) in [(2, "u2"), (5, "u5")] {
        let order_id = format!("ord-{id}-{number}");
        assert_eq!(pay(&app, &order_id, user).await.0, StatusCode::OK);
    }
    let base = format!("/admin/v1/activities/{id}/orders");

    let (status, first) = admin_get(&app, &format!("{base}?limit=2"), OPERATOR_TOKEN).await;
    let first = success_data(&first).clone();
    let cursor = first["nextCursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    let (_, second) = admin_get(
        &app,
        &format!("{base}?limit=2&cursor={cursor}"),
        OPERATOR_TOKEN,
    )
    .await;
    let second = success_data(&second).clone();
    let cursor = second["nextCursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    let (_, third) = admin_get(
        &app,
        &format!("{base}?limit=2&cursor={cursor}"),
        OPERATOR_TOKEN,
    )
    .await;
    let third = success_data(&third).clone();
    let (_, paid) = admin_get(&app, &format!("{base}?status=PAID"), OPERATOR_TOKEN).await;
    let paid = success_data(&paid).clone();

    assert_eq!(status, StatusCode::OK);
    let order = |n: u32| format!("ord-{id}-{n}");
    assert_eq!(order_ids(&first), vec![order(1), order(2)]);
    assert_eq!(order_ids(&second), vec![order(3), order(4)]);
    assert_eq!(order_ids(&third), vec![order(5)]);
    assert!(third["nextCursor"].is_null(), "{third}");
    assert_eq!(order_ids(&paid), vec![order(2), order(5)]);
    assert!(paid["orders"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["status"] == "PAID"));
}

#[actix_web::test]
async fn bad_order_page_parameters_are_validation_errors() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 1, 300).await;
    let base = format!("/admin/v1/activities/{id}/orders");

    for query in [
        "?limit=0",
        "?limit=1001",
        "?cursor=abc",
        "?status=NOPE",
        "?limit=x",
    ] {
        let (status, reply) = admin_get(&app, &format!("{base}{query}"), OPERATOR_TOKEN).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {reply}");
        assert_error(&reply, "VALIDATION_FAILED");
    }
}

//! Multi-level approval flows configured in `[[approval.flows]]`: levels in order, modes,
//! candidates, the pending list per approver, and the refusals (wrong role, not a
//! candidate, own submission, reject without a remark).

use playcore::approval_flows::{FlowSettings, LevelSettings, ModeSetting};
use playcore::auth::Role;
use playcore::config::Settings;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{admin_action, create_activity, flash_sale_body, group_buy_body};
use playcore_testkit::app::{
    assert_error, json, spawn_app_with, success_data, TestApp, ADMIN_TOKEN, APPROVER_TOKEN,
    OPERATOR_TOKEN, SECOND_APPROVER_TOKEN,
};

fn level(mode: ModeSetting, roles: Vec<Role>, names: &[&str]) -> LevelSettings {
    LevelSettings {
        mode,
        required: None,
        percent: None,
        roles,
        names: names.iter().map(|name| name.to_string()).collect(),
    }
}

/// FLASH_SALE: ANY of role approver, then ALL of dev-approver and dev-approver-2.
/// GROUP_BUY: ANY of dev-admin and dev-approver-2.
fn with_flows(settings: &mut Settings) {
    let both = ["dev-approver", "dev-approver-2"];
    settings.approval.flows = vec![
        FlowSettings {
            template: "FLASH_SALE".to_string(),
            store_id: None,
            levels: vec![
                level(ModeSetting::Any, vec![Role::Approver], &[]),
                level(ModeSetting::All, Vec::new(), &both),
            ],
        },
        FlowSettings {
            template: "GROUP_BUY".to_string(),
            store_id: None,
            levels: vec![level(
                ModeSetting::Any,
                Vec::new(),
                &["dev-admin", "dev-approver-2"],
            )],
        },
    ];
}

async fn spawn_app_with_flows() -> TestApp {
    spawn_app_with(with_flows).await
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let response = app.admin_post(path, token, &body).await;
    let status = response.status();
    (status, json(response).await)
}

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let response = app.admin_get(path, token).await;
    let status = response.status();
    (status, json(response).await)
}

async fn approval(app: &TestApp, id: &str) -> Value {
    let path = format!("/admin/v1/activities/{id}/approval");
    let (status, reply) = get(app, &path, OPERATOR_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    success_data(&reply).clone()
}

async fn pending_for(app: &TestApp, query: &str, token: &str) -> Vec<String> {
    let path = format!("/admin/v1/approvals?status=PENDING&{query}");
    let (status, reply) = get(app, &path, token).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let list = success_data(&reply).as_array().expect("a list").clone();
    list.iter()
        .map(|activity| activity["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn act(app: &TestApp, id: &str, action: &str, token: &str) -> (StatusCode, Value) {
    let path = format!("/admin/v1/activities/{id}/{action}");
    post(app, &path, token, json!({ "remark": "looked at it" })).await
}

#[actix_web::test]
async fn a_two_level_flow_is_approved_only_after_every_level() {
    let app = spawn_app_with_flows().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;

    let first = admin_action(&app, &id, "approve", APPROVER_TOKEN).await;
    assert_eq!(first["approvalStatus"], "PENDING");
    let state = approval(&app, &id).await;
    assert_eq!(state["currentLevel"], 2);
    assert_eq!(state["levels"][1]["mode"], "ALL");
    let (publish_status, publish) = act(&app, &id, "publish", OPERATOR_TOKEN).await;
    assert_eq!(publish_status, StatusCode::CONFLICT, "{publish}");
    assert_error(&publish, "INVALID_STATE");

    let second = admin_action(&app, &id, "approve", APPROVER_TOKEN).await;
    assert_eq!(second["approvalStatus"], "PENDING");
    let repeat = admin_action(&app, &id, "approve", APPROVER_TOKEN).await;
    assert_eq!(repeat["approvalStatus"], "PENDING");
    let last = admin_action(&app, &id, "approve", SECOND_APPROVER_TOKEN).await;
    assert_eq!(last["approvalStatus"], "APPROVED");

    let state = approval(&app, &id).await;
    assert_eq!(
        state["levels"][1]["approvals"],
        json!(["dev-approver", "dev-approver-2"])
    );
    let history = state["history"].as_array().expect("a history").clone();
    let levels: Vec<u64> = history
        .iter()
        .map(|record| record["level"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(levels, [1, 1, 2, 2]);
    let hash = state["configHash"].as_str().expect("a hash");
    assert_eq!(hash.len(), 64);
    assert!(history.iter().all(|record| record["configHash"] == hash));
    admin_action(&app, &id, "publish", OPERATOR_TOKEN).await;
}

#[actix_web::test]
async fn the_pending_list_shows_what_waits_for_each_approver() {
    let app = spawn_app_with_flows().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;
    assert_eq!(
        pending_for(&app, "approver=me", APPROVER_TOKEN).await,
        vec![id.clone()]
    );
    assert!(pending_for(&app, "approver=me", OPERATOR_TOKEN)
        .await
        .is_empty());

    admin_action(&app, &id, "approve", APPROVER_TOKEN).await;
    admin_action(&app, &id, "approve", APPROVER_TOKEN).await;

    assert!(pending_for(&app, "approver=me", APPROVER_TOKEN)
        .await
        .is_empty());
    assert_eq!(
        pending_for(&app, "approver=me", SECOND_APPROVER_TOKEN).await,
        vec![id.clone()]
    );
    let for_second = pending_for(&app, "approver=dev-approver-2", ADMIN_TOKEN).await;
    assert_eq!(for_second, vec![id.clone()]);
    let path = "/admin/v1/approvals?status=PENDING&approver=dev-approver-2";
    let (status, reply) = get(&app, path, APPROVER_TOKEN).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
}

#[actix_web::test]
async fn the_wrong_role_and_non_candidates_are_forbidden() {
    let app = spawn_app_with_flows().await;
    let id = create_activity(&app, &group_buy_body(3)).await;
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;

    let (role_status, role_reply) = act(&app, &id, "approve", OPERATOR_TOKEN).await;
    assert_eq!(role_status, StatusCode::FORBIDDEN, "{role_reply}");
    assert_error(&role_reply, "FORBIDDEN");
    for action in ["approve", "reject"] {
        let (status, reply) = act(&app, &id, action, APPROVER_TOKEN).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}: {reply}");
        assert_error(&reply, "FORBIDDEN");
    }
    assert_eq!(approval(&app, &id).await["status"], "PENDING");
    let approved = admin_action(&app, &id, "approve", SECOND_APPROVER_TOKEN).await;
    assert_eq!(approved["approvalStatus"], "APPROVED");
}

#[actix_web::test]
async fn a_candidate_may_not_approve_their_own_submission() {
    let app = spawn_app_with_flows().await;
    let id = create_activity(&app, &group_buy_body(3)).await;
    admin_action(&app, &id, "submit", ADMIN_TOKEN).await;

    let (status, reply) = act(&app, &id, "approve", ADMIN_TOKEN).await;

    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert_error(&reply, "FORBIDDEN");
    assert_eq!(approval(&app, &id).await["status"], "PENDING");
}

#[actix_web::test]
async fn a_reject_needs_a_remark_and_ends_the_flow() {
    let app = spawn_app_with_flows().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;
    admin_action(&app, &id, "approve", APPROVER_TOKEN).await;
    let path = format!("/admin/v1/activities/{id}/reject");

    let (status, reply) = post(&app, &path, SECOND_APPROVER_TOKEN, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_error(&reply, "VALIDATION_FAILED");

    let (rejected, reply) = act(&app, &id, "reject", SECOND_APPROVER_TOKEN).await;
    assert_eq!(rejected, StatusCode::OK, "{reply}");
    assert_eq!(approval(&app, &id).await["status"], "REJECTED");
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;
    let state = approval(&app, &id).await;
    assert_eq!(
        (state["revision"].clone(), state["currentLevel"].clone()),
        (json!(2), json!(1))
    );
}

#[actix_web::test]
async fn approval_events_land_in_the_event_log() {
    let app = spawn_app_with_flows().await;
    let id = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    admin_action(&app, &id, "submit", OPERATOR_TOKEN).await;
    admin_action(&app, &id, "approve", APPROVER_TOKEN).await;

    let path = format!("/admin/v1/events?activityId={id}");
    let (status, reply) = get(&app, &path, ADMIN_TOKEN).await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    let events = success_data(&reply)["events"]
        .as_array()
        .expect("events")
        .clone();
    let types: Vec<&str> = events
        .iter()
        .filter_map(|event| event["type"].as_str())
        .collect();
    for wanted in [
        "APPROVAL_SUBMITTED",
        "APPROVAL_VOTED",
        "APPROVAL_LEVEL_ADVANCED",
    ] {
        assert!(types.contains(&wanted), "{wanted} in {types:?}");
    }
}

#[test]
fn an_invalid_flow_is_refused_at_start() {
    let mut settings = Settings::embedded_defaults().expect("defaults load");
    with_flows(&mut settings);
    settings.approval.flows[0].levels[1].mode = ModeSetting::Count;
    settings.approval.flows[0].levels[1].required = Some(3);
    settings.approval.flows[1].levels.clear();
    let error = settings.validate().expect_err("refused").to_string();
    assert!(
        error.contains("approval.flows[0].levels[1].required"),
        "{error}"
    );
    assert!(error.contains("approval.flows[1].levels"), "{error}");
}

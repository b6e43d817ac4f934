//! Gray release: the admin API with the right and the wrong roles, validation, the
//! 403 NOT_IN_GRAY of trading requests, the decisions endpoint, the event log and restart.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{
    create_activity, create_online_flash_sale, create_online_group_buy, error_fields,
    flash_sale_body, grab, pay, post, REFUSED_TEXTS,
};
use playcore_testkit::app::{
    assert_error, json, spawn_app, success_data, TestApp, ADMIN_TOKEN, APPROVER_TOKEN,
    OPERATOR_TOKEN,
};

fn gray_path(id: &str) -> String {
    format!("/admin/v1/activities/{id}/gray")
}

fn whitelist_only(users: &[&str]) -> Value {
    json!({
        "enabled": true,
        "whitelistUserIds": users,
        "whitelistStoreIds": [],
        "percentage": 0,
    })
}

async fn put_gray(app: &TestApp, id: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    let response = app.admin_put(&gray_path(id), token, body).await;
    let status = response.status();
    (status, json(response).await)
}

async fn admin_get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let response = app.admin_get(path, token).await;
    let status = response.status();
    (status, json(response).await)
}

async fn decisions(app: &TestApp, id: &str) -> Value {
    let path = format!("/admin/v1/activities/{id}/gray/decisions?limit=10");
    let (status, reply) = admin_get(app, &path, APPROVER_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    success_data(&reply).clone()
}

fn reason_count(data: &Value, reason: &str, outcome: &str) -> u64 {
    let by_reason = data["counters"]["byReason"].as_array().expect("byReason");
    let entry = by_reason.iter().find(|entry| entry["reason"] == reason);
    entry.and_then(|entry| entry[outcome].as_u64()).unwrap_or(0)
}

#[actix_web::test]
async fn an_operator_configures_gray_and_gets_it_back_with_its_version() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 1, 300)).await;
    let body = json!({
        "enabled": true,
        "whitelistUserIds": ["u2", "u1"],
        "whitelistStoreIds": ["store-9"],
        "percentage": 33.33,
        "rules": {"cities": {"in": ["sh"]}, "tags": {"notIn": ["blocked"]}},
    });

    let (status, reply) = put_gray(&app, &id, OPERATOR_TOKEN, &body).await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    let stored = success_data(&reply).clone();
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["percentage"], 33.33);
    assert_eq!(stored["percentageBasisPoints"], 3333);
    assert_eq!(stored["whitelistUserIds"], json!(["u1", "u2"]));
    assert_eq!(
        stored["rules"]["cities"],
        json!({"in": ["sh"], "notIn": []})
    );
    assert_eq!(
        stored["rules"]["tags"],
        json!({"in": [], "notIn": ["blocked"]})
    );
    let (status, read) = admin_get(&app, &gray_path(&id), APPROVER_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(success_data(&read), &stored);
    let (_, again) = put_gray(&app, &id, ADMIN_TOKEN, &whitelist_only(&[])).await;
    assert_eq!(success_data(&again)["version"], 2);
    let audit = format!("/admin/v1/audit?target={id}&action=gray.configure");
    let (status, page) = admin_get(&app, &audit, ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let records = success_data(&page)["records"].as_array().expect("records");
    assert_eq!(records.len(), 2, "{page}");
    assert_eq!(records[1]["before"]["version"], 1, "{page}");
    assert_eq!(records[1]["after"]["version"], 2, "{page}");
}

#[actix_web::test]
async fn an_approver_may_not_configure_gray_and_nobody_without_a_token() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 1, 300)).await;

    let (status, reply) = put_gray(&app, &id, APPROVER_TOKEN, &whitelist_only(&[])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert_error(&reply, "FORBIDDEN");

    let response = app.put_json(&gray_path(&id), &whitelist_only(&[])).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_error(&json(response).await, "UNAUTHORIZED");
    let response = app.get(&gray_path(&id)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_bad_percentage_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 1, 300)).await;
    for percentage in [json!(12.345), json!(100.01), json!(-1), json!("ten")] {
        let body = json!({"enabled": true, "percentage": percentage});

        let (status, reply) = put_gray(&app, &id, OPERATOR_TOKEN, &body).await;

        assert_eq!(status, StatusCode::BAD_REQUEST, "{percentage}: {reply}");
        assert_error(&reply, "VALIDATION_FAILED");
        assert_eq!(error_fields(&reply), vec!["percentage"], "{reply}");
    }
    let (status, _) = admin_get(&app, &gray_path("999"), OPERATOR_TOKEN).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Whitelists and rule values refuse NUL, CR/LF, U+202E and whitespace only, naming the
/// list; names keep their spaces, ids may not hold any.
#[actix_web::test]
async fn control_characters_bidirectional_controls_and_blanks_are_refused_in_the_lists() {
    let app = spawn_app().await;
    let id = create_activity(&app, &flash_sale_body(10, 1, 300)).await;
    let lists = [
        ("whitelistUserIds", "/whitelistUserIds"),
        ("whitelistStoreIds", "/whitelistStoreIds"),
        ("rules.cities", "/rules/cities/in"),
        ("rules.devices", "/rules/devices/notIn"),
        ("rules.tags", "/rules/tags/in"),
    ];
    for (field, pointer) in lists {
        for text in REFUSED_TEXTS {
            let mut body = json!({
                "enabled": true, "percentage": 0,
                "whitelistUserIds": [], "whitelistStoreIds": [],
                "rules": {"cities": {"in": []}, "devices": {"notIn": []}, "tags": {"in": []}},
            });
            *body.pointer_mut(pointer).expect("a list") = json!(["ok", text]);
            let (status, reply) = put_gray(&app, &id, OPERATOR_TOKEN, &body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{field} {text:?}: {reply}");
            assert_error(&reply, "VALIDATION_FAILED");
            assert_eq!(error_fields(&reply), vec![field], "{reply}");
        }
    }
    let names = json!({
        "enabled": true, "percentage": 0, "whitelistStoreIds": ["store 1"],
        "rules": {"cities": {"in": ["New York"]}},
    });
    let (status, reply) = put_gray(&app, &id, OPERATOR_TOKEN, &names).await;
    assert_eq!(
        error_fields(&reply),
        vec!["whitelistStoreIds"],
        "{status}: {reply}"
    );
    let names =
        json!({"enabled": true, "percentage": 0, "rules": {"cities": {"in": ["New York"]}}});
    let (status, reply) = put_gray(&app, &id, OPERATOR_TOKEN, &names).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

#[actix_web::test]
async fn at_zero_percent_only_whitelisted_users_grab_and_the_decisions_are_counted() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 1, 300).await;
    let (status, reply) = put_gray(&app, &id, OPERATOR_TOKEN, &whitelist_only(&["vip"])).await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    let (refused, reply) = grab(&app, &id, "stranger", "r1", 1).await;
    let (admitted, order) = grab(&app, &id, "vip", "r1", 1).await;

    assert_eq!(refused, StatusCode::FORBIDDEN, "{reply}");
    assert_error(&reply, "NOT_IN_GRAY");
    assert_eq!(reply["error"]["details"]["reason"], "BUCKET");
    assert_eq!(admitted, StatusCode::CREATED, "{order}");
    let data = decisions(&app, &id).await;
    assert_eq!(data["counters"]["admitted"], 1, "{data}");
    assert_eq!(data["counters"]["refused"], 1, "{data}");
    assert_eq!(reason_count(&data, "USER_WHITELIST", "admitted"), 1);
    assert_eq!(reason_count(&data, "BUCKET", "refused"), 1);
    let recent = data["recent"].as_array().expect("recent decisions");
    assert_eq!(recent.len(), 2, "{data}");
    assert_eq!(recent[0]["userId"], "vip", "newest first: {data}");
    assert_eq!(recent[1]["userId"], "stranger");
    assert_eq!(recent[1]["configVersion"], 1);
}

#[actix_web::test]
async fn store_whitelist_and_city_rule_use_the_grab_body() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 1, 300).await;
    let body = json!({
        "enabled": true,
        "whitelistStoreIds": ["store-7"],
        "percentage": 100,
        "rules": {"cities": {"notIn": ["sz"]}},
    });
    put_gray(&app, &id, OPERATOR_TOKEN, &body).await;
    let path = format!("/api/v1/activities/{id}/orders");

    let from_store = json!({"userId": "a", "requestId": "r", "storeId": "store-7", "city": "sz"});
    let from_sz = json!({"userId": "b", "requestId": "r", "city": "sz"});
    let from_sh = json!({"userId": "c", "requestId": "r", "city": "sh"});

    assert_eq!(post(&app, &path, &from_store).await.0, StatusCode::CREATED);
    let (status, reply) = post(&app, &path, &from_sz).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert_eq!(reply["error"]["details"]["reason"], "CITY_RULE");
    assert_eq!(post(&app, &path, &from_sh).await.0, StatusCode::CREATED);
}

#[actix_web::test]
async fn starting_and_joining_a_group_check_the_gray_release_too() {
    let app = spawn_app().await;
    let id = create_online_group_buy(&app, 3).await;
    let whitelist = whitelist_only(&["leader", "friend"]);
    put_gray(&app, &id, OPERATOR_TOKEN, &whitelist).await;
    let path = format!("/api/v1/activities/{id}/groups");

    let (refused, reply) = post(&app, &path, &json!({"userId": "x", "requestId": "r"})).await;
    let (started, start) = post(&app, &path, &json!({"userId": "leader", "requestId": "r"})).await;

    assert_eq!(refused, StatusCode::FORBIDDEN, "{reply}");
    assert_error(&reply, "NOT_IN_GRAY");
    assert_eq!(started, StatusCode::CREATED, "{start}");
    let data = success_data(&start);
    let group = data["group"]["groupId"].as_str().expect("a group id");
    let order = data["order"]["orderId"].as_str().expect("an order id");
    assert_eq!(pay(&app, order, "leader").await.0, StatusCode::OK);
    let members = format!("/api/v1/groups/{group}/members");
    let (refused, reply) = post(&app, &members, &json!({"userId": "y", "requestId": "r"})).await;
    assert_eq!(refused, StatusCode::FORBIDDEN, "{reply}");
    assert_error(&reply, "NOT_IN_GRAY");
    let friend = json!({"userId": "friend", "requestId": "r"});
    assert_eq!(post(&app, &members, &friend).await.0, StatusCode::CREATED);
}

#[actix_web::test]
async fn disabling_gray_admits_everyone_again() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 1, 300).await;
    put_gray(&app, &id, OPERATOR_TOKEN, &whitelist_only(&[])).await;
    assert_eq!(
        grab(&app, &id, "u1", "r1", 1).await.0,
        StatusCode::FORBIDDEN
    );

    let body = json!({"enabled": false, "percentage": 0});
    put_gray(&app, &id, OPERATOR_TOKEN, &body).await;

    assert_eq!(grab(&app, &id, "u1", "r1", 1).await.0, StatusCode::CREATED);
}

#[actix_web::test]
async fn each_change_is_journaled_and_survives_a_restart() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 1, 300).await;
    put_gray(&app, &id, OPERATOR_TOKEN, &whitelist_only(&["vip"])).await;
    let events = format!("/admin/v1/events?activityId={id}&type=GRAY_CONFIGURED");
    let (_, page) = admin_get(&app, &events, ADMIN_TOKEN).await;
    let listed = success_data(&page)["events"]
        .as_array()
        .expect("events")
        .len();
    assert_eq!(listed, 1, "{page}");

    let app = app.restart().await;

    let (status, read) = admin_get(&app, &gray_path(&id), OPERATOR_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(success_data(&read)["version"], 1);
    assert_eq!(success_data(&read)["whitelistUserIds"], json!(["vip"]));
    assert_eq!(grab(&app, &id, "x", "r", 1).await.0, StatusCode::FORBIDDEN);
}

//! Group buys through the public API: start, join, pay, success, and the join refusals.
//! Group expiry needs `groupTtlSeconds >= 60`, so it is covered by the domain tests.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{
    create_online_flash_sale, create_online_group_buy, error_fields, eventually, get, pay, post,
    stats, stock, PRICE, REFUSED_TEXTS,
};
use playcore_testkit::app::{assert_error, spawn_app, success_data, TestApp};

async fn start_group(app: &TestApp, id: &str, user: &str, request: &str) -> (StatusCode, Value) {
    let body = json!({"userId": user, "requestId": request});
    post(app, &format!("/api/v1/activities/{id}/groups"), &body).await
}

async fn join(app: &TestApp, group: &str, user: &str, request: &str) -> (StatusCode, Value) {
    let body = json!({"userId": user, "requestId": request});
    post(app, &format!("/api/v1/groups/{group}/members"), &body).await
}

/// Starts a group that must be created; returns `(groupId, orderId)`.
async fn start_ok(app: &TestApp, id: &str, user: &str) -> (String, String) {
    let (status, reply) = start_group(app, id, user, "start-1").await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let data = success_data(&reply);
    (
        data["group"]["groupId"].as_str().unwrap().to_owned(),
        data["order"]["orderId"].as_str().unwrap().to_owned(),
    )
}

/// Joins a group that must accept; returns the member's order id.
async fn join_ok(app: &TestApp, group: &str, user: &str) -> String {
    let (status, reply) = join(app, group, user, "join-1").await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    success_data(&reply)["order"]["orderId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn pay_ok(app: &TestApp, order: &str, user: &str) {
    let (status, reply) = pay(app, order, user).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

/// GET /api/v1/groups/{id} once it shows `status`.
async fn group_with_status(app: &TestApp, group: &str, status: &str) -> Value {
    eventually(&format!("group {group} is {status}"), || async {
        let (code, reply) = get(app, &format!("/api/v1/groups/{group}")).await;
        if code != StatusCode::OK {
            return None;
        }
        let data = success_data(&reply);
        (data["status"] == status).then(|| data.clone())
    })
    .await
}

/// A group of 3 with its leader paid (ACTIVE).
async fn active_group(app: &TestApp, id: &str) -> String {
    let (group, order) = start_ok(app, id, "leader").await;
    pay_ok(app, &order, "leader").await;
    group_with_status(app, &group, "ACTIVE").await;
    group
}

#[actix_web::test]
async fn starting_a_group_creates_a_pending_group_and_the_leaders_order() {
    let app = spawn_app().await;
    let id = create_online_group_buy(&app, 3).await;

    let (status, reply) = start_group(&app, &id, "leader", "start-1").await;

    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let data = success_data(&reply);
    let group = &data["group"];
    let order = &data["order"];
    assert_eq!(group["groupId"], format!("grp-{id}-1"));
    assert_eq!(group["activityId"], id.as_str());
    assert_eq!(group["leaderId"], "leader");
    assert_eq!(group["status"], "PENDING");
    assert_eq!(group["progress"], json!({"current": 0, "target": 3}));
    assert_eq!(
        group["members"],
        json!([{"userId": "leader", "orderStatus": "PENDING_PAY"}])
    );
    assert!(group["expiresAt"].is_string());
    assert_eq!(order["status"], "PENDING_PAY");
    assert_eq!(order["userId"], "leader");
    assert_eq!(order["amount"], PRICE);
    assert_eq!(order["groupId"], group["groupId"]);
    let read = group_with_status(&app, group["groupId"].as_str().unwrap(), "PENDING").await;
    assert_eq!(read["leaderId"], "leader");
}

#[actix_web::test]
async fn repeating_a_start_request_returns_the_same_group_with_200() {
    let app = spawn_app().await;
    let id = create_online_group_buy(&app, 3).await;
    let (group, order) = start_ok(&app, &id, "leader").await;

    let (status, reply) = start_group(&app, &id, "leader", "start-1").await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(success_data(&reply)["group"]["groupId"], group.as_str());
    assert_eq!(success_data(&reply)["order"]["orderId"], order.as_str());
    assert_eq!(stats(&app, &id).await["groups"], 1);
}

#[actix_web::test]
async fn joining_a_group_whose_leader_has_not_paid_is_closed() {
    let app = spawn_app().await;
    let id = create_online_group_buy(&app, 3).await;
    let (group, _) = start_ok(&app, &id, "leader").await;

    let (status, reply) = join(&app, &group, "member-1", "join-1").await;

    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert_error(&reply, "GROUP_CLOSED");
}

#[actix_web::test]
async fn the_leaders_payment_activates_the_group() {
    let app = spawn_app().await;
    let id = create_online_group_buy(&app, 3).await;
    let (group, order) = start_ok(&app, &id, "leader").await;

    pay_ok(&app, &order, "leader").await;

    let read = group_with_status(&app, &group, "ACTIVE").await;
    assert_eq!(read["progress"], json!({"current": 1, "target": 3}));
    assert_eq!(
        read["members"],
        json!([{"userId": "leader", "orderStatus": "PAID"}])
    );
}

#[actix_web::test]
async fn a_group_succeeds_when_every_member_has_paid() {
    let app = spawn_app().await;
    let id = create_online_group_buy(&app, 3).await;
    let group = active_group(&app, &id).await;

    let first = join_ok(&app, &group, "member-1").await;
    let second = join_ok(&app, &group, "member-2").await;
    pay_ok(&app, &first, "member-1").await;
    let halfway = group_with_status(&app, &group, "ACTIVE").await;
    pay_ok(&app, &second, "member-2").await;

    let done = group_with_status(&app, &group, "SUCCESS").await;
    assert_eq!(done["progress"], json!({"current": 3, "target": 3}));
    let members: Vec<&str> = done["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| member["userId"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec!["leader", "member-1", "member-2"]);
    assert!(halfway["progress"]["current"].as_u64().unwrap() >= 1);
    let stats = stats(&app, &id).await;
    assert_eq!(stats["stock"], stock(100, 97, 0, 3));
    assert_eq!(stats["gmv"], PRICE * 3);
}

#[actix_web::test]
async fn joining_a_full_group_is_refused() {
    let app = spawn_app().await;
    let id = create_online_group_buy(&app, 2).await;
    let group = active_group(&app, &id).await;
    let member = join_ok(&app, &group, "member-1").await;

    // Every seat is taken (though not yet paid) …
    let (taken_status, taken) = join(&app, &group, "member-2", "join-1").await;
    pay_ok(&app, &member, "member-1").await;
    group_with_status(&app, &group, "SUCCESS").await;
    // … and then the group has succeeded.
    let (full_status, full) = join(&app, &group, "member-3", "join-1").await;

    assert_eq!(taken_status, StatusCode::CONFLICT, "{taken}");
    assert_error(&taken, "GROUP_FULL");
    assert_eq!(full_status, StatusCode::CONFLICT, "{full}");
    assert_error(&full, "GROUP_FULL");
}

#[actix_web::test]
async fn the_same_user_cannot_join_a_group_twice() {
    let app = spawn_app().await;
    let id = create_online_group_buy(&app, 3).await;
    let group = active_group(&app, &id).await;
    join_ok(&app, &group, "member-1").await;

    let (member_status, member) = join(&app, &group, "member-1", "join-2").await;
    let (leader_status, leader) = join(&app, &group, "leader", "join-1").await;

    for (status, reply) in [(member_status, member), (leader_status, leader)] {
        assert_eq!(status, StatusCode::CONFLICT, "{reply}");
        assert_error(&reply, "ALREADY_IN_GROUP");
    }
}

#[actix_web::test]
async fn repeating_a_join_request_returns_the_same_order_with_200() {
    let app = spawn_app().await;
    let id = create_online_group_buy(&app, 3).await;
    let group = active_group(&app, &id).await;
    let order = join_ok(&app, &group, "member-1").await;

    let (status, reply) = join(&app, &group, "member-1", "join-1").await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(success_data(&reply)["order"]["orderId"], order.as_str());
}

#[actix_web::test]
async fn a_cancelled_member_frees_the_seat() {
    let app = spawn_app().await;
    let id = create_online_group_buy(&app, 2).await;
    let group = active_group(&app, &id).await;
    let order = join_ok(&app, &group, "member-1").await;

    let path = format!("/api/v1/orders/{order}/cancel");
    let (status, reply) = post(&app, &path, &json!({"userId": "member-1"})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    let replacement = join_ok(&app, &group, "member-2").await;
    pay_ok(&app, &replacement, "member-2").await;
    group_with_status(&app, &group, "SUCCESS").await;
}

#[actix_web::test]
async fn open_groups_are_listed_by_status() {
    let app = spawn_app().await;
    let id = create_online_group_buy(&app, 2).await;
    let active = active_group(&app, &id).await;
    let (pending, _) = start_ok(&app, &id, "other-leader").await;
    let (done, done_order) = start_ok(&app, &id, "third-leader").await;
    pay_ok(&app, &done_order, "third-leader").await;
    let member = join_ok(&app, &done, "member-1").await;
    pay_ok(&app, &member, "member-1").await;
    group_with_status(&app, &done, "SUCCESS").await;

    let listed = |status: &'static str| {
        let app = &app;
        let id = id.clone();
        async move {
            let (code, reply) = get(
                app,
                &format!("/api/v1/activities/{id}/groups?status={status}"),
            )
            .await;
            assert_eq!(code, StatusCode::OK, "{reply}");
            success_data(&reply)
                .as_array()
                .unwrap()
                .iter()
                .map(|group| group["groupId"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let default_list = {
        let (code, reply) = get(&app, &format!("/api/v1/activities/{id}/groups")).await;
        assert_eq!(code, StatusCode::OK);
        success_data(&reply).as_array().unwrap().len()
    };

    assert_eq!(listed("ACTIVE").await, vec![active]);
    assert_eq!(listed("PENDING").await, vec![pending]);
    assert_eq!(listed("SUCCESS").await, vec![done]);
    assert_eq!(default_list, 1, "the default lists ACTIVE groups");
}

#[actix_web::test]
async fn group_calls_on_a_flash_sale_are_an_invalid_state() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 2, 300).await;

    let (status, reply) = start_group(&app, &id, "leader", "start-1").await;

    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert_error(&reply, "INVALID_STATE");
}

#[actix_web::test]
async fn group_bodies_are_validated() {
    let app = spawn_app().await;
    let id = create_online_group_buy(&app, 3).await;
    let group = active_group(&app, &id).await;

    let (start_status, start) = post(
        &app,
        &format!("/api/v1/activities/{id}/groups"),
        &json!({"userId": "x".repeat(65), "requestId": "r"}),
    )
    .await;
    let (join_status, join_reply) = post(
        &app,
        &format!("/api/v1/groups/{group}/members"),
        &json!({"userId": "member-1"}),
    )
    .await;

    assert_eq!(start_status, StatusCode::BAD_REQUEST, "{start}");
    assert_error(&start, "VALIDATION_FAILED");
    assert_eq!(join_status, StatusCode::BAD_REQUEST, "{join_reply}");
    assert_error(&join_reply, "VALIDATION_FAILED");
    assert_eq!(
        crate::fixtures::error_fields(&join_reply),
        vec!["requestId"],
        "{join_reply}"
    );
}

/// Starting and joining a group refuse NUL, CR/LF, U+202E and whitespace only in their ids
/// and names, naming the field.
#[actix_web::test]
async fn control_characters_bidirectional_controls_and_blanks_are_refused_in_groups() {
    let app = spawn_app().await;
    let id = create_online_group_buy(&app, 3).await;
    let (group, _) = start_ok(&app, &id, "leader").await;
    let paths = [
        format!("/api/v1/activities/{id}/groups"),
        format!("/api/v1/groups/{group}/members"),
    ];
    for path in &paths {
        for field in ["userId", "requestId", "referrerId", "storeId", "city"] {
            for text in REFUSED_TEXTS {
                let mut body = json!({"userId": "member", "requestId": "r1"});
                body[field] = json!(text);
                let (status, reply) = post(&app, path, &body).await;
                assert_eq!(
                    status,
                    StatusCode::BAD_REQUEST,
                    "{path} {field} {text:?}: {reply}"
                );
                assert_error(&reply, "VALIDATION_FAILED");
                assert_eq!(error_fields(&reply), vec![field], "{reply}");
            }
        }
    }
    assert_eq!(
        stats(&app, &id).await["orders"]["total"],
        1,
        "the leader's order only"
    );
}

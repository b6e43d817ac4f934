//! The public (H5) API: activity reads, flash-sale grabs, orders, payments, and every error
//! code these endpoints can answer.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{
    activity_detail, at, at_ms, cancel, create_activity, create_online_flash_sale,
    create_published, error_fields, eventually_within, flash_sale_body, get, grab, grab_ok,
    notification, notify, notify_signed_with, order, pay, post, stats, stock, submit_and_approve,
    wait_for_status, wait_for_stock, PRICE, REFUSED_TEXTS, STORE,
};
use playcore_testkit::app::{assert_error, json, spawn_app, success_data};

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|activity| activity["id"].as_str().expect("an id").to_owned())
        .collect()
}

async fn list(app: &playcore_testkit::app::TestApp, query: &str) -> Vec<String> {
    let (status, reply) = get(app, &format!("/api/v1/activities{query}")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    ids(success_data(&reply))
}

// ---------------------------------------------------------------- activities

#[actix_web::test]
async fn the_list_shows_only_online_activities() {
    let app = spawn_app().await;
    let online = create_online_flash_sale(&app, 10, 2, 300).await;
    let draft = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    let mut later = flash_sale_body(10, 2, 300);
    later["startAt"] = json!(at(3600));
    later["endAt"] = json!(at(7200));
    let scheduled = create_published(&app, &later).await;

    let listed = list(&app, "").await;

    assert_eq!(listed, vec![online.clone()]);
    assert!(!listed.contains(&draft) && !listed.contains(&scheduled));
}

#[actix_web::test]
async fn the_list_filters_by_store_and_city() {
    let app = spawn_app().await;
    let everywhere = create_online_flash_sale(&app, 10, 2, 300).await;
    let mut other = flash_sale_body(10, 2, 300);
    other["storeId"] = json!("store-2");
    other["rules"] = json!({"cities": ["shanghai"]});
    let shanghai_only = create_published(&app, &other).await;
    wait_for_status(&app, &shanghai_only, "ONLINE").await;

    let in_store_1 = list(&app, &format!("?storeId={STORE}")).await;
    let in_store_2 = list(&app, "?storeId=store-2").await;
    let in_shanghai = list(&app, "?city=shanghai").await;
    let in_beijing = list(&app, "?city=beijing").await;
    let store_2_in_beijing = list(&app, "?storeId=store-2&city=beijing").await;

    assert_eq!(in_store_1, vec![everywhere.clone()]);
    assert_eq!(in_store_2, vec![shanghai_only.clone()]);
    assert_eq!(in_shanghai, vec![everywhere.clone(), shanghai_only]);
    assert_eq!(in_beijing, vec![everywhere]);
    assert!(store_2_in_beijing.is_empty());
}

#[actix_web::test]
async fn the_detail_shows_the_contract_fields_and_stock() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 2, 300).await;

    let (status, reply) = get(&app, &format!("/api/v1/activities/{id}")).await;

    assert_eq!(status, StatusCode::OK);
    let data = success_data(&reply);
    assert_eq!(data["id"], id.as_str());
    assert_eq!(data["templateCode"], "FLASH_SALE");
    assert_eq!(data["storeId"], STORE);
    assert_eq!(data["price"], PRICE);
    assert_eq!(data["perUserLimit"], 2);
    assert_eq!(data["unitsPerOrder"], 1);
    assert!(data["unitName"].is_string());
    assert!(data["title"].is_string());
    assert_eq!(data["status"], "ONLINE");
    assert!(data["startAt"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(data["endAt"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(data["stock"], stock(10, 10, 0, 0));
}

#[actix_web::test]
async fn the_detail_of_an_unknown_malformed_or_unpublished_activity_is_not_found() {
    let app = spawn_app().await;
    let draft = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    let approved = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    submit_and_approve(&app, &approved).await;

    for id in [
        "999",
        "abc",
        "0",
        "-1",
        "1.5",
        "99999999999999999999",
        &draft,
        &approved,
    ] {
        let (status, reply) = get(&app, &format!("/api/v1/activities/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}: {reply}");
        assert_error(&reply, "NOT_FOUND");
    }
}

// ---------------------------------------------------------------- grab and orders

#[actix_web::test]
async fn a_grab_reserves_stock_and_returns_a_pending_order() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;

    let (status, reply) = grab(&app, &id, "alice", "req-1", 2).await;

    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let data = success_data(&reply);
    assert_eq!(data["activityId"], id.as_str());
    assert_eq!(data["userId"], "alice");
    assert_eq!(data["quantity"], 2);
    assert_eq!(data["amount"], PRICE * 2);
    assert_eq!(data["status"], "PENDING_PAY");
    let order_id = data["orderId"].as_str().expect("an order id");
    assert_eq!(order_id, format!("ord-{id}-1"));
    let expires = chrono::DateTime::parse_from_rfc3339(data["expiresAt"].as_str().unwrap())
        .expect("expiresAt is RFC3339");
    let remaining = expires
        .signed_duration_since(chrono::Utc::now())
        .num_seconds();
    assert!((290..=300).contains(&remaining), "expires in {remaining} s");
    wait_for_stock(&app, &id, stock(10, 8, 2, 0)).await;
}

#[actix_web::test]
async fn a_grab_without_quantity_takes_one_unit() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;

    let (status, reply) = post(
        &app,
        &format!("/api/v1/activities/{id}/orders"),
        &json!({"userId": "alice", "requestId": "r1"}),
    )
    .await;

    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(success_data(&reply)["quantity"], 1);
    assert_eq!(success_data(&reply)["amount"], PRICE);
}

#[actix_web::test]
async fn repeating_a_grab_request_returns_the_same_order_with_200() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let first = grab_ok(&app, &id, "alice", "req-1", 1).await;

    let (status, reply) = grab(&app, &id, "alice", "req-1", 1).await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(success_data(&reply)["orderId"], first["orderId"]);
    wait_for_stock(&app, &id, stock(10, 9, 1, 0)).await;
    assert_eq!(stats(&app, &id).await["orders"]["pendingPay"], 1);
}

#[actix_web::test]
async fn the_same_request_id_from_another_user_is_another_order() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let first = grab_ok(&app, &id, "alice", "req-1", 1).await;

    let second = grab_ok(&app, &id, "bob", "req-1", 1).await;

    assert_ne!(first["orderId"], second["orderId"]);
}

#[actix_web::test]
async fn an_order_can_be_read_back() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let created = grab_ok(&app, &id, "alice", "req-1", 2).await;
    let order_id = created["orderId"].as_str().unwrap();

    let read = order(&app, order_id).await;

    assert_eq!(read["orderId"], order_id);
    assert_eq!(read["userId"], "alice");
    assert_eq!(read["quantity"], 2);
    assert_eq!(read["amount"], PRICE * 2);
    assert_eq!(read["status"], "PENDING_PAY");
    assert_eq!(read["expiresAt"], created["expiresAt"]);
}

#[actix_web::test]
async fn cancelling_an_order_gives_the_stock_back() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let order_id = grab_ok(&app, &id, "alice", "req-1", 2).await["orderId"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, reply) = cancel(&app, &order_id, "alice").await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(success_data(&reply)["status"], "CANCELLED");
    assert_eq!(order(&app, &order_id).await["status"], "CANCELLED");
    wait_for_stock(&app, &id, stock(10, 10, 0, 0)).await;
    // The units are back in the user's limit too.
    grab_ok(&app, &id, "alice", "req-2", 3).await;
}

#[actix_web::test]
async fn another_user_cannot_cancel_or_pay_an_order() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let order_id = grab_ok(&app, &id, "alice", "req-1", 1).await["orderId"]
        .as_str()
        .unwrap()
        .to_owned();

    let (cancel_status, cancel_reply) = cancel(&app, &order_id, "mallory").await;
    let (pay_status, pay_reply) = pay(&app, &order_id, "mallory").await;

    assert_eq!(cancel_status, StatusCode::NOT_FOUND);
    assert_error(&cancel_reply, "NOT_FOUND");
    assert_eq!(pay_status, StatusCode::NOT_FOUND);
    assert_error(&pay_reply, "NOT_FOUND");
    assert_eq!(order(&app, &order_id).await["status"], "PENDING_PAY");
}

#[actix_web::test]
async fn a_mock_payment_marks_the_order_paid_and_sells_the_stock() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let order_id = grab_ok(&app, &id, "alice", "req-1", 2).await["orderId"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, reply) = pay(&app, &order_id, "alice").await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    let data = success_data(&reply);
    assert_eq!(data["status"], "PAID");
    assert!(data["paidAt"].is_string(), "{data}");
    assert_eq!(order(&app, &order_id).await["status"], "PAID");
    wait_for_stock(&app, &id, stock(10, 8, 0, 2)).await;
}

#[actix_web::test]
async fn the_mock_payment_is_not_found_when_disabled() {
    let app = playcore_testkit::app::spawn_app_with(|settings| settings.payment.mock = false).await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let order_id = grab_ok(&app, &id, "alice", "req-1", 1).await["orderId"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, reply) = pay(&app, &order_id, "alice").await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&reply, "NOT_FOUND");
    assert_eq!(order(&app, &order_id).await["status"], "PENDING_PAY");
}

#[actix_web::test]
async fn a_paid_order_cannot_be_cancelled() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let order_id = grab_ok(&app, &id, "alice", "req-1", 1).await["orderId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(pay(&app, &order_id, "alice").await.0, StatusCode::OK);

    let (status, reply) = cancel(&app, &order_id, "alice").await;

    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&reply, "INVALID_STATE");
    assert_eq!(order(&app, &order_id).await["status"], "PAID");
}

// ---------------------------------------------------------------- payment notifications

#[actix_web::test]
async fn a_signed_notification_pays_the_order() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let order_id = grab_ok(&app, &id, "alice", "req-1", 2).await["orderId"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, reply) = notify(&app, &notification("T-1", &order_id, PRICE * 2)).await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(success_data(&reply)["status"], "PAID");
    assert_eq!(order(&app, &order_id).await["status"], "PAID");
    wait_for_stock(&app, &id, stock(10, 8, 0, 2)).await;
}

#[actix_web::test]
async fn a_repeated_notification_is_idempotent_by_trade_number() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let order_id = grab_ok(&app, &id, "alice", "req-1", 1).await["orderId"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = notification("T-1", &order_id, PRICE);
    assert_eq!(notify(&app, &body).await.0, StatusCode::OK);

    let (status, reply) = notify(&app, &body).await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(success_data(&reply)["status"], "PAID");
    let stats = stats(&app, &id).await;
    assert_eq!(stats["orders"]["paid"], 1);
    assert_eq!(stats["gmv"], PRICE);
    assert_eq!(stats["stock"], stock(10, 9, 0, 1));
}

#[actix_web::test]
async fn a_second_trade_number_for_a_paid_order_is_refused() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let order_id = grab_ok(&app, &id, "alice", "req-1", 1).await["orderId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        notify(&app, &notification("T-1", &order_id, PRICE)).await.0,
        StatusCode::OK
    );

    let (status, reply) = notify(&app, &notification("T-2", &order_id, PRICE)).await;

    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert_error(&reply, "INVALID_STATE");
    assert_eq!(stats(&app, &id).await["gmv"], PRICE);
}

#[actix_web::test]
async fn a_notification_with_a_wrong_signature_is_refused() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let order_id = grab_ok(&app, &id, "alice", "req-1", 1).await["orderId"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = notification("T-1", &order_id, PRICE);
    let other_secret = playcore::signature::sign("not-the-secret", &body);
    let for_other_body = playcore::signature::sign(
        app.settings.payment.secret.expose(),
        notification("T-1", &order_id, PRICE + 1),
    );

    for signature in [
        other_secret.as_str(),
        for_other_body.as_str(),
        "",
        "zz-not-hex",
    ] {
        let (status, reply) = notify_signed_with(&app, &body, signature).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{signature}: {reply}");
        assert_error(&reply, "SIGNATURE_INVALID");
    }
    assert_eq!(order(&app, &order_id).await["status"], "PENDING_PAY");
}

#[actix_web::test]
async fn a_notification_with_the_wrong_amount_is_refused() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let order_id = grab_ok(&app, &id, "alice", "req-1", 2).await["orderId"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, reply) = notify(&app, &notification("T-1", &order_id, PRICE)).await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_error(&reply, "AMOUNT_MISMATCH");
    assert_eq!(order(&app, &order_id).await["status"], "PENDING_PAY");
}

#[actix_web::test]
async fn a_notification_for_an_unknown_order_is_not_found() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;

    for order_id in [
        format!("ord-{id}-42"),
        "ord-999-1".to_owned(),
        "nope".to_owned(),
    ] {
        let (status, reply) = notify(&app, &notification("T-1", &order_id, PRICE)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{order_id}: {reply}");
        assert_error(&reply, "NOT_FOUND");
    }
}

#[actix_web::test]
async fn a_notification_after_cancel_refunds_without_taking_stock() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let order_id = grab_ok(&app, &id, "alice", "req-1", 2).await["orderId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(cancel(&app, &order_id, "alice").await.0, StatusCode::OK);

    let (status, reply) = notify(&app, &notification("T-1", &order_id, PRICE * 2)).await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    let answered = success_data(&reply)["status"].as_str().unwrap().to_owned();
    assert!(
        ["REFUND_PENDING", "REFUNDED"].contains(&answered.as_str()),
        "{answered}"
    );
    eventually_within(Duration::from_secs(3), "the refund completes", || async {
        (order(&app, &order_id).await["status"] == "REFUNDED").then_some(())
    })
    .await;
    wait_for_stock(&app, &id, stock(10, 10, 0, 0)).await;
    let stats = stats(&app, &id).await;
    assert_eq!(stats["orders"]["refunded"], 1);
    assert_eq!(stats["orders"]["paid"], 0);
}

// ---------------------------------------------------------------- timeouts

#[actix_web::test]
async fn an_unpaid_order_times_out_and_gives_its_stock_back() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 1).await;
    let order_id = grab_ok(&app, &id, "alice", "req-1", 2).await["orderId"]
        .as_str()
        .unwrap()
        .to_owned();

    eventually_within(Duration::from_secs(5), "the order times out", || async {
        (order(&app, &order_id).await["status"] == "TIMEOUT").then_some(())
    })
    .await;

    wait_for_stock(&app, &id, stock(10, 10, 0, 0)).await;
    let (status, reply) = pay(&app, &order_id, "alice").await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert_error(&reply, "INVALID_STATE");
    let (status, reply) = notify(&app, &notification("T-late", &order_id, PRICE * 2)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    eventually_within(
        Duration::from_secs(3),
        "the late payment is refunded",
        || async { (order(&app, &order_id).await["status"] == "REFUNDED").then_some(()) },
    )
    .await;
    wait_for_stock(&app, &id, stock(10, 10, 0, 0)).await;
}

// ---------------------------------------------------------------- request errors

async fn grab_raw(
    app: &playcore_testkit::app::TestApp,
    id: &str,
    body: &Value,
) -> (StatusCode, Value) {
    post(app, &format!("/api/v1/activities/{id}/orders"), body).await
}

#[actix_web::test]
async fn malformed_json_is_a_validation_error() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;

    let response = app
        .post_raw(
            &format!("/api/v1/activities/{id}/orders"),
            r#"{"userId": "alice", "#,
            "application/json",
        )
        .await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_error(&json(response).await, "VALIDATION_FAILED");
}

#[actix_web::test]
async fn a_wrong_type_is_a_validation_error_naming_the_field() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;

    let (status, reply) = grab_raw(
        &app,
        &id,
        &json!({"userId": "alice", "requestId": "r1", "quantity": "x"}),
    )
    .await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_error(&reply, "VALIDATION_FAILED");
    assert_eq!(error_fields(&reply), vec!["quantity"], "{reply}");
}

#[actix_web::test]
async fn a_missing_user_id_is_a_validation_error_naming_the_field() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;

    let (status, reply) = grab_raw(&app, &id, &json!({"requestId": "r1"})).await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_error(&reply, "VALIDATION_FAILED");
    assert_eq!(error_fields(&reply), vec!["userId"], "{reply}");
}

#[actix_web::test]
async fn a_zero_or_negative_quantity_is_a_validation_error() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;

    for quantity in [0, -1, 10_001] {
        let body = json!({"userId": "alice", "requestId": "r1", "quantity": quantity});
        let (status, reply) = grab_raw(&app, &id, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{quantity}: {reply}");
        assert_error(&reply, "VALIDATION_FAILED");
        assert_eq!(error_fields(&reply), vec!["quantity"], "{reply}");
    }
    wait_for_stock(&app, &id, stock(10, 10, 0, 0)).await;
}

#[actix_web::test]
async fn an_over_long_or_blank_user_id_is_a_validation_error() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;

    for user in ["x".repeat(65), String::new(), "a b".to_owned()] {
        let body = json!({"userId": user, "requestId": "r1"});
        let (status, reply) = grab_raw(&app, &id, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{user:?}: {reply}");
        assert_error(&reply, "VALIDATION_FAILED");
        assert_eq!(error_fields(&reply), vec!["userId"], "{reply}");
    }
    let body = json!({"userId": "alice", "requestId": "r".repeat(129)});
    let (status, reply) = grab_raw(&app, &id, &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(error_fields(&reply), vec!["requestId"], "{reply}");
}

/// Every id and name of a grab: NUL, CR/LF, U+202E and whitespace only are refused, naming
/// the field, and take no stock; ordinary names with spaces pass.
#[actix_web::test]
async fn control_characters_bidirectional_controls_and_blanks_are_refused_in_a_grab() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let fields = [
        "userId",
        "requestId",
        "channelId",
        "referrerId",
        "storeId",
        "city",
        "device",
    ];
    for field in fields {
        for text in REFUSED_TEXTS {
            let mut body = json!({"userId": "alice", "requestId": "r1"});
            body[field] = json!(text);
            let (status, reply) = grab_raw(&app, &id, &body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{field} {text:?}: {reply}");
            assert_error(&reply, "VALIDATION_FAILED");
            assert_eq!(error_fields(&reply), vec![field], "{reply}");
        }
    }
    for text in REFUSED_TEXTS {
        let body = json!({"userId": "alice", "requestId": "r1", "tags": ["vip", text]});
        let (status, reply) = grab_raw(&app, &id, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "tags {text:?}: {reply}");
        assert_eq!(error_fields(&reply), vec!["tags[1]"], "{reply}");
    }
    wait_for_stock(&app, &id, stock(10, 10, 0, 0)).await;
    let names = json!({
        "userId": "alice", "requestId": "r1",
        "city": "New York", "device": "华为 Mate 60", "tags": ["new user"],
    });
    let (status, reply) = grab_raw(&app, &id, &names).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
}

#[actix_web::test]
async fn a_body_over_64_kib_is_too_large() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let body = json!({"userId": "alice", "requestId": "r1", "device": "x".repeat(70 * 1024)});

    let (status, reply) = grab_raw(&app, &id, &body).await;

    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{reply}");
    assert_error(&reply, "PAYLOAD_TOO_LARGE");
    wait_for_stock(&app, &id, stock(10, 10, 0, 0)).await;
}

#[actix_web::test]
async fn a_body_just_under_the_limit_is_accepted() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let body = json!({"userId": "alice", "requestId": "r1", "device": "x".repeat(60 * 1024)});

    let (status, reply) = grab_raw(&app, &id, &body).await;

    assert_eq!(status, StatusCode::CREATED, "{reply}");
}

#[actix_web::test]
async fn a_body_that_is_not_json_is_an_unsupported_media_type() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;

    let response = app
        .post_raw(
            &format!("/api/v1/activities/{id}/orders"),
            r#"{"userId":"alice","requestId":"r1"}"#,
            "text/plain",
        )
        .await;

    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&json(response).await, "UNSUPPORTED_MEDIA_TYPE");
}

#[actix_web::test]
async fn unknown_and_malformed_ids_are_not_found_everywhere() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let user = json!({"userId": "alice"});
    let grab_body = json!({"userId": "alice", "requestId": "r1"});
    let gets = [
        format!("/api/v1/orders/ord-{id}-99"),
        "/api/v1/orders/ord-999-1".to_owned(),
        "/api/v1/orders/abc".to_owned(),
        "/api/v1/orders/ord-x-1".to_owned(),
        format!("/api/v1/groups/grp-{id}-99"),
        "/api/v1/groups/grp-999-1".to_owned(),
        "/api/v1/groups/nope".to_owned(),
        "/api/v1/activities/999/groups".to_owned(),
        "/api/v1/activities/x/groups".to_owned(),
    ];
    let posts = [
        (
            "/api/v1/activities/999/orders".to_owned(),
            grab_body.clone(),
        ),
        (
            "/api/v1/activities/abc/orders".to_owned(),
            grab_body.clone(),
        ),
        (format!("/api/v1/orders/ord-{id}-99/cancel"), user.clone()),
        (format!("/api/v1/orders/ord-{id}-99/pay"), user.clone()),
        ("/api/v1/orders/bad/pay".to_owned(), user.clone()),
        (
            "/api/v1/groups/grp-999-1/members".to_owned(),
            grab_body.clone(),
        ),
        ("/api/v1/groups/bad/members".to_owned(), grab_body.clone()),
        (
            "/api/v1/activities/999/groups".to_owned(),
            grab_body.clone(),
        ),
    ];

    for path in gets {
        let (status, reply) = get(&app, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}: {reply}");
        assert_error(&reply, "NOT_FOUND");
    }
    for (path, body) in posts {
        let (status, reply) = post(&app, &path, &body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "POST {path}: {reply}");
        assert_error(&reply, "NOT_FOUND");
    }
}

// ---------------------------------------------------------------- business refusals

#[actix_web::test]
async fn a_grab_before_the_start_is_not_started() {
    let app = spawn_app().await;
    let mut body = flash_sale_body(10, 2, 300);
    body["startAt"] = json!(at(3600));
    body["endAt"] = json!(at(7200));
    let id = create_published(&app, &body).await;

    let (status, reply) = grab(&app, &id, "alice", "r1", 1).await;

    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert_error(&reply, "NOT_STARTED");
    assert_eq!(
        activity_detail(&app, &id).await.unwrap()["status"],
        "NOT_STARTED"
    );
}

#[actix_web::test]
async fn a_published_activity_goes_online_by_itself_at_its_start() {
    let app = spawn_app().await;
    let mut body = flash_sale_body(10, 2, 300);
    body["startAt"] = json!(at_ms(1500));
    let id = create_published(&app, &body).await;
    assert_eq!(
        activity_detail(&app, &id).await.unwrap()["status"],
        "NOT_STARTED"
    );

    wait_for_status_within(&app, &id, "ONLINE", Duration::from_secs(5)).await;

    grab_ok(&app, &id, "alice", "r1", 1).await;
    assert!(list(&app, "").await.contains(&id), "listed once online");
}

#[actix_web::test]
async fn a_grab_after_the_end_is_ended() {
    let app = spawn_app().await;
    let mut body = flash_sale_body(10, 2, 300);
    body["endAt"] = json!(at_ms(2000));
    let id = create_published(&app, &body).await;
    grab_ok(&app, &id, "alice", "r1", 1).await;

    wait_for_status_within(&app, &id, "ENDED", Duration::from_secs(5)).await;
    let (status, reply) = grab(&app, &id, "bob", "r1", 1).await;

    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert_error(&reply, "ENDED");
    assert!(!list(&app, "").await.contains(&id));
}

async fn wait_for_status_within(
    app: &playcore_testkit::app::TestApp,
    id: &str,
    status: &str,
    limit: Duration,
) {
    eventually_within(limit, &format!("activity {id} is {status}"), || async {
        let data = activity_detail(app, id).await?;
        (data["status"] == status).then_some(())
    })
    .await;
}

#[actix_web::test]
async fn a_grab_on_an_unpublished_activity_is_offline() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 2, 300).await;
    crate::fixtures::admin_action(
        &app,
        &id,
        "unpublish",
        playcore_testkit::app::OPERATOR_TOKEN,
    )
    .await;

    let (status, reply) = grab(&app, &id, "alice", "r1", 1).await;

    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert_error(&reply, "OFFLINE");
    wait_for_status(&app, &id, "OFFLINE").await;
}

#[actix_web::test]
async fn a_grab_beyond_the_stock_is_sold_out() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 3, 3, 300).await;
    grab_ok(&app, &id, "alice", "r1", 2).await;

    let (too_many_status, too_many) = grab(&app, &id, "bob", "r1", 2).await;
    grab_ok(&app, &id, "carol", "r1", 1).await;
    let (status, reply) = grab(&app, &id, "dave", "r1", 1).await;

    assert_eq!(too_many_status, StatusCode::CONFLICT, "{too_many}");
    assert_error(&too_many, "SOLD_OUT");
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert_error(&reply, "SOLD_OUT");
    wait_for_status(&app, &id, "SOLD_OUT").await;
    assert_eq!(
        activity_detail(&app, &id).await.unwrap()["stock"],
        stock(3, 0, 3, 0)
    );
}

#[actix_web::test]
async fn a_grab_over_the_per_user_limit_is_refused_at_once_and_cumulatively() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 2, 300).await;

    let (at_once_status, at_once) = grab(&app, &id, "alice", "r1", 3).await;
    grab_ok(&app, &id, "alice", "r2", 1).await;
    let (cumulative_status, cumulative) = grab(&app, &id, "alice", "r3", 2).await;
    grab_ok(&app, &id, "alice", "r4", 1).await;
    let (full_status, full) = grab(&app, &id, "alice", "r5", 1).await;

    for (status, reply) in [
        (at_once_status, at_once),
        (cumulative_status, cumulative),
        (full_status, full),
    ] {
        assert_eq!(status, StatusCode::CONFLICT, "{reply}");
        assert_error(&reply, "LIMIT_EXCEEDED");
    }
    wait_for_stock(&app, &id, stock(10, 8, 2, 0)).await;
}

#[actix_web::test]
async fn a_flash_sale_grab_on_a_group_activity_is_an_invalid_state() {
    let app = spawn_app().await;
    let id = crate::fixtures::create_online_group_buy(&app, 2).await;

    let (status, reply) = grab(&app, &id, "alice", "r1", 1).await;

    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert_error(&reply, "INVALID_STATE");
}

#[actix_web::test]
async fn a_signed_notification_that_is_not_valid_json_is_a_validation_error() {
    let app = spawn_app().await;
    create_online_flash_sale(&app, 10, 3, 300).await;

    let (malformed_status, malformed) = notify(&app, br#"{"tradeNo": "T-1", "#).await;
    let (missing_status, missing) = notify(&app, br#"{"tradeNo": "T-1", "amount": 990}"#).await;

    assert_eq!(malformed_status, StatusCode::BAD_REQUEST, "{malformed}");
    assert_error(&malformed, "VALIDATION_FAILED");
    assert_eq!(missing_status, StatusCode::BAD_REQUEST, "{missing}");
    assert_error(&missing, "VALIDATION_FAILED");
}

#[actix_web::test]
async fn a_notification_over_64_kib_is_too_large() {
    let app = spawn_app().await;
    let body = format!(
        r#"{{"tradeNo":"T-1","orderId":"ord-1-1","amount":990,"pad":"{}"}}"#,
        "x".repeat(70 * 1024)
    );

    let (status, reply) = notify(&app, body.as_bytes()).await;

    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{reply}");
    assert_error(&reply, "PAYLOAD_TOO_LARGE");
}

#[actix_web::test]
async fn a_notification_that_is_not_json_is_an_unsupported_media_type() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    let order_id = grab_ok(&app, &id, "alice", "req-1", 1).await["orderId"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = notification("T-1", &order_id, PRICE);
    let signature = playcore::signature::sign(app.settings.payment.secret.expose(), &body);

    let response = app
        .client
        .post(app.url("/api/v1/payments/notify"))
        .header("Content-Type", "text/plain")
        .header("X-Signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&json(response).await, "UNSUPPORTED_MEDIA_TYPE");
    assert_eq!(order(&app, &order_id).await["status"], "PENDING_PAY");
}

#[actix_web::test]
async fn an_order_keeps_its_channel_and_referrer() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 2, 300).await;
    let body = json!({"userId": "alice", "requestId": "r1", "channelId": "wechat-moments", "referrerId": "bob"});

    let (status, reply) = post(&app, &format!("/api/v1/activities/{id}/orders"), &body).await;

    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply["data"]["channelId"], "wechat-moments");
    assert_eq!(reply["data"]["referrerId"], "bob");
    let order_id = reply["data"]["orderId"]
        .as_str()
        .expect("an order id")
        .to_string();
    let (_, order) = get(&app, &format!("/api/v1/orders/{order_id}")).await;
    assert_eq!(order["data"]["referrerId"], "bob");
}

#[actix_web::test]
async fn a_malformed_channel_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 2, 300).await;
    let body = json!({"userId": "alice", "requestId": "r1", "channelId": "has space"});

    let (status, reply) = post(&app, &format!("/api/v1/activities/{id}/orders"), &body).await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_error(&reply, "VALIDATION_FAILED");
    assert!(
        reply["error"]["details"]["fields"]["channelId"].is_string(),
        "{reply}"
    );
}

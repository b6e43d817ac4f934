//! Fixtures for the API tests: activities set up through the admin API, grabs, signed
//! payment notifications and `eventually` for reads through the published (durable) views.

#![allow(dead_code)] // not every test file uses every fixture

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use playcore_testkit::app::{
    json, success_data, TestApp, ADMIN_TOKEN, APPROVER_TOKEN, OPERATOR_TOKEN,
};

pub const PRICE: u64 = 990;
pub const STORE: &str = "store-1";
/// Text no id or text field accepts: NUL, CR/LF, a bidirectional override (U+202E),
/// whitespace only.
pub const REFUSED_TEXTS: [&str; 4] = ["a\0b", "a\r\nb", "abc\u{202E}cba", "   "];

/// RFC3339 UTC, `seconds` from now (negative: in the past).
pub fn at(seconds: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// RFC3339 UTC, `millis` milliseconds from now.
pub fn at_ms(millis: i64) -> String {
    (Utc::now() + chrono::Duration::milliseconds(millis))
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A valid flash-sale body: open since a minute ago for an hour.
pub fn flash_sale_body(stock: u64, per_user_limit: u32, pay_timeout_seconds: u64) -> Value {
    json!({
        "templateCode": "FLASH_SALE",
        "title": "Haircut flash sale",
        "storeId": STORE,
        "serviceId": "svc-haircut",
        "price": PRICE,
        "stock": stock,
        "perUserLimit": per_user_limit,
        "startAt": at(-60),
        "endAt": at(3600),
        "payTimeoutSeconds": pay_timeout_seconds,
    })
}

/// A valid group-buy body: groups of `size`, open since a minute ago for an hour.
pub fn group_buy_body(size: u32) -> Value {
    json!({
        "templateCode": "GROUP_BUY",
        "title": "Massage group buy",
        "storeId": STORE,
        "serviceId": "svc-massage",
        "price": PRICE,
        "stock": 100,
        "perUserLimit": 5,
        "startAt": at(-60),
        "endAt": at(3600),
        "payTimeoutSeconds": 300,
        "rules": {"groupSize": size, "groupTtlSeconds": 600},
    })
}

/// Creates an activity as the operator; asserts 201 DRAFT and returns its id.
pub async fn create_activity(app: &TestApp, body: &Value) -> String {
    let response = app
        .admin_post("/admin/v1/activities", OPERATOR_TOKEN, body)
        .await;
    let status = response.status();
    let reply = json(response).await;
    assert_eq!(status, StatusCode::CREATED, "create: {reply}");
    let data = success_data(&reply);
    assert_eq!(data["status"], "DRAFT", "{reply}");
    data["id"].as_str().expect("an id").to_owned()
}

/// POSTs an admin action (`submit`, `approve`, `publish` …) and asserts 200.
pub async fn admin_action(app: &TestApp, id: &str, action: &str, token: &str) -> Value {
    let path = format!("/admin/v1/activities/{id}/{action}");
    let response = app.admin_post(&path, token, &json!({})).await;
    let status = response.status();
    let reply = json(response).await;
    assert_eq!(status, StatusCode::OK, "{action}: {reply}");
    success_data(&reply).clone()
}

/// Operator submits, approver approves.
pub async fn submit_and_approve(app: &TestApp, id: &str) {
    admin_action(app, id, "submit", OPERATOR_TOKEN).await;
    admin_action(app, id, "approve", APPROVER_TOKEN).await;
}

/// Operator submits, approver approves, operator publishes.
pub async fn approve_and_publish(app: &TestApp, id: &str) {
    submit_and_approve(app, id).await;
    admin_action(app, id, "publish", OPERATOR_TOKEN).await;
}

/// Creates, approves and publishes `body`; returns the id once the public detail shows it.
pub async fn create_published(app: &TestApp, body: &Value) -> String {
    let id = create_activity(app, body).await;
    approve_and_publish(app, &id).await;
    let path = format!("/api/v1/activities/{id}");
    eventually("the published activity is public", || async {
        let response = app.get(&path).await;
        (response.status() == StatusCode::OK).then_some(())
    })
    .await;
    id
}

/// A flash sale that is ONLINE now.
pub async fn create_online_flash_sale(
    app: &TestApp,
    stock: u64,
    per_user_limit: u32,
    pay_timeout_seconds: u64,
) -> String {
    let id = create_published(
        app,
        &flash_sale_body(stock, per_user_limit, pay_timeout_seconds),
    )
    .await;
    wait_for_status(app, &id, "ONLINE").await;
    id
}

/// A group buy with groups of `size` that is ONLINE now.
pub async fn create_online_group_buy(app: &TestApp, size: u32) -> String {
    let id = create_published(app, &group_buy_body(size)).await;
    wait_for_status(app, &id, "ONLINE").await;
    id
}

/// Polls the public detail until its status is `status`.
pub async fn wait_for_status(app: &TestApp, id: &str, status: &str) -> Value {
    eventually(&format!("activity {id} is {status}"), || async {
        let data = activity_detail(app, id).await?;
        (data["status"] == status).then_some(data)
    })
    .await
}

/// The public detail's data, or `None` when it is not 200.
pub async fn activity_detail(app: &TestApp, id: &str) -> Option<Value> {
    let response = app.get(&format!("/api/v1/activities/{id}")).await;
    if response.status() != StatusCode::OK {
        return None;
    }
    Some(success_data(&json(response).await).clone())
}

/// Polls the public detail until its stock is `expected` (`{total, available, reserved, sold}`).
pub async fn wait_for_stock(app: &TestApp, id: &str, expected: Value) -> Value {
    eventually(&format!("activity {id} has stock {expected}"), || async {
        let data = activity_detail(app, id).await?;
        (data["stock"] == expected).then_some(data)
    })
    .await
}

pub fn stock(total: u64, available: u64, reserved: u64, sold: u64) -> Value {
    json!({"total": total, "available": available, "reserved": reserved, "sold": sold})
}

/// The admin stats' data.
pub async fn stats(app: &TestApp, id: &str) -> Value {
    let path = format!("/admin/v1/activities/{id}/stats");
    let response = app.admin_get(&path, ADMIN_TOKEN).await;
    assert_eq!(response.status(), StatusCode::OK);
    success_data(&json(response).await).clone()
}

/// A flash-sale grab: status and the whole envelope.
pub async fn grab(
    app: &TestApp,
    id: &str,
    user: &str,
    request: &str,
    quantity: u32,
) -> (StatusCode, Value) {
    let body = json!({"userId": user, "requestId": request, "quantity": quantity});
    post(app, &format!("/api/v1/activities/{id}/orders"), &body).await
}

/// A grab that must succeed with 201; returns the order.
pub async fn grab_ok(app: &TestApp, id: &str, user: &str, request: &str, quantity: u32) -> Value {
    let (status, reply) = grab(app, id, user, request, quantity).await;
    assert_eq!(status, StatusCode::CREATED, "grab: {reply}");
    success_data(&reply).clone()
}

/// POSTs JSON; status and the whole envelope.
pub async fn post(app: &TestApp, path: &str, body: &Value) -> (StatusCode, Value) {
    let response = app.post_json(path, body).await;
    let status = response.status();
    (status, json(response).await)
}

/// GETs; status and the whole envelope.
pub async fn get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = app.get(path).await;
    let status = response.status();
    (status, json(response).await)
}

/// GET /api/v1/orders/{id}'s data (asserts 200).
pub async fn order(app: &TestApp, order_id: &str) -> Value {
    let (status, reply) = get(app, &format!("/api/v1/orders/{order_id}")).await;
    assert_eq!(status, StatusCode::OK, "order: {reply}");
    success_data(&reply).clone()
}

/// The mock payment of `order_id` by `user`.
pub async fn pay(app: &TestApp, order_id: &str, user: &str) -> (StatusCode, Value) {
    let path = format!("/api/v1/orders/{order_id}/pay");
    post(app, &path, &json!({"userId": user})).await
}

pub async fn cancel(app: &TestApp, order_id: &str, user: &str) -> (StatusCode, Value) {
    let path = format!("/api/v1/orders/{order_id}/cancel");
    post(app, &path, &json!({"userId": user})).await
}

/// A payment notification body, as raw bytes.
pub fn notification(trade_no: &str, order_id: &str, amount: u64) -> Vec<u8> {
    let body = json!({
        "tradeNo": trade_no,
        "orderId": order_id,
        "amount": amount,
        "paidAt": at(0),
    });
    serde_json::to_vec(&body).expect("serializable")
}

/// POSTs a notification with the given `X-Signature`.
pub async fn notify_signed_with(
    app: &TestApp,
    body: &[u8],
    signature: &str,
) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url("/api/v1/payments/notify"))
        .header("Content-Type", "application/json")
        .header("X-Signature", signature)
        .body(body.to_vec())
        .send()
        .await
        .expect("the request reaches the server");
    let status = response.status();
    (status, json(response).await)
}

/// POSTs a notification correctly signed with the configured payment secret.
pub async fn notify(app: &TestApp, body: &[u8]) -> (StatusCode, Value) {
    let signature = playcore::signature::sign(app.settings.payment.secret.expose(), body);
    notify_signed_with(app, body, &signature).await
}

/// Polls `probe` every 20 ms until it yields `Some`, for at most 2 s.
pub async fn eventually<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(Duration::from_secs(2), what, probe).await
}

/// Polls `probe` every 20 ms until it yields `Some`, for at most `limit`.
pub async fn eventually_within<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `details.fields` names of a VALIDATION_FAILED envelope.
pub fn error_fields(reply: &Value) -> Vec<String> {
    reply["error"]["details"]["fields"]
        .as_object()
        .map(|fields| fields.keys().cloned().collect())
        .unwrap_or_default()
}

//! Flow control: each limiter (IP with and without trusted proxies, device, user,
//! activity and an activity's own limit set through the admin route), 429 RATE_LIMITED
//! with Retry-After, reads limited apart from trading, the in-flight shedding (503
//! OVERLOADED), the admin routes' validation and audit, and the refusal metrics.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{create_online_flash_sale, error_fields};
use playcore::config::{RateLimit, Settings};
use playcore_testkit::app::{
    assert_error, json, spawn_app_with, success_data, TestApp, ADMIN_TOKEN, APPROVER_TOKEN,
    OPERATOR_TOKEN,
};

const STOCK: u64 = 1_000;
const PER_USER_LIMIT: u32 = 100;

fn rate(per_second: u32, burst: u32) -> RateLimit {
    RateLimit { per_second, burst }
}

/// The app with flow control on, every limiter off but those `configure` sets.
async fn spawn_with_flow(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(|settings| {
        settings.flow.enabled = true;
        settings.flow.trading = Default::default();
        settings.flow.reads = Default::default();
        configure(settings);
    })
    .await
}

struct Reply {
    status: StatusCode,
    retry_after: Option<String>,
    body: Value,
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let retry_after = response
        .headers()
        .get("Retry-After")
        .map(|value| value.to_str().expect("ASCII").to_owned());
    Reply {
        status,
        retry_after,
        body: json(response).await,
    }
}

/// A grab by `user` with a fresh request id and the given headers.
async fn grab_with(app: &TestApp, id: &str, user: &str, headers: &[(&str, &str)]) -> Reply {
    let request_id = format!("r-{}", rand_suffix());
    let body = json!({"userId": user, "requestId": request_id, "quantity": 1});
    let mut request = app
        .client
        .post(app.url(&format!("/api/v1/activities/{id}/orders")))
        .json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    reply(request.send().await.expect("the server answers")).await
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn assert_limited(reply: &Reply, limit: &str) {
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    assert_error(&reply.body, "RATE_LIMITED");
    assert_eq!(
        reply.body["error"]["details"]["limit"], limit,
        "{}",
        reply.body
    );
    let seconds: u64 = reply
        .retry_after
        .as_deref()
        .expect("a Retry-After header")
        .parse()
        .expect("whole seconds");
    assert!(seconds >= 1, "Retry-After {seconds}");
}

fn assert_created(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics").await.text().await.expect("the metrics")
}

#[actix_web::test]
async fn a_user_past_the_burst_is_refused_with_retry_after() {
    let app = spawn_with_flow(|settings| settings.flow.trading.user = rate(1, 3)).await;
    let id = create_online_flash_sale(&app, STOCK, PER_USER_LIMIT, 600).await;
    for _ in 0..3 {
        assert_created(&grab_with(&app, &id, "bot", &[]).await);
    }
    assert_limited(&grab_with(&app, &id, "bot", &[]).await, "user");
    assert_created(&grab_with(&app, &id, "human", &[]).await);
    let metrics = metrics(&app).await;
    assert!(
        metrics.contains(r#"playcore_flow_refusals_total{reason="user",class="trading"} 1"#),
        "{metrics}"
    );
}

#[actix_web::test]
async fn a_device_is_counted_by_its_header_whoever_the_user() {
    let app = spawn_with_flow(|settings| settings.flow.trading.device = rate(1, 2)).await;
    let id = create_online_flash_sale(&app, STOCK, PER_USER_LIMIT, 600).await;
    let device = [("X-Device-Id", "phone-1")];
    assert_created(&grab_with(&app, &id, "a", &device).await);
    assert_created(&grab_with(&app, &id, "b", &device).await);
    assert_limited(&grab_with(&app, &id, "c", &device).await, "device");
    assert_created(&grab_with(&app, &id, "d", &[("X-Device-Id", "phone-2")]).await);
    assert_created(&grab_with(&app, &id, "e", &[]).await);
    let long = "x".repeat(129);
    let refused = grab_with(&app, &id, "f", &[("X-Device-Id", &long)]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(error_fields(&refused.body), vec!["X-Device-Id".to_owned()]);
}

#[actix_web::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn_with_flow(|settings| settings.flow.trading.ip = rate(1, 2)).await;
    let id = create_online_flash_sale(&app, STOCK, PER_USER_LIMIT, 600).await;
    for (user, forwarded) in [("a", "1.1.1.1"), ("b", "2.2.2.2")] {
        assert_created(&grab_with(&app, &id, user, &[("X-Forwarded-For", forwarded)]).await);
    }
    let third = grab_with(&app, &id, "c", &[("X-Forwarded-For", "3.3.3.3")]).await;
    assert_limited(&third, "ip");
}

#[actix_web::test]
async fn forwarded_for_from_a_trusted_proxy_names_the_client() {
    let app = spawn_with_flow(|settings| {
        settings.flow.trading.ip = rate(1, 2);
        settings.flow.trusted_proxies = vec!["127.0.0.0/8".to_owned(), "10.0.0.0/8".to_owned()];
    })
    .await;
    let id = create_online_flash_sale(&app, STOCK, PER_USER_LIMIT, 600).await;
    let client = [("X-Forwarded-For", "1.1.1.1")];
    assert_created(&grab_with(&app, &id, "a", &client).await);
    // The client's address behind a second trusted proxy counts the same.
    assert_created(&grab_with(&app, &id, "b", &[("X-Forwarded-For", "1.1.1.1, 10.0.0.7")]).await);
    // Whatever the client wrote to the left of the address the proxy saw proves nothing.
    let spoofed = [("X-Forwarded-For", "9.9.9.9, 1.1.1.1")];
    assert_limited(&grab_with(&app, &id, "c", &spoofed).await, "ip");
    assert_created(&grab_with(&app, &id, "d", &[("X-Forwarded-For", "2.2.2.2")]).await);
    let flow = admin_get(&app, "/admin/v1/flow", APPROVER_TOKEN).await;
    let top = &success_data(&flow)["refusals"]["topKeys"];
    assert_eq!(top[0]["key"], "ip:1.1.1.1", "{flow}");
    assert_eq!(top[0]["refusals"], 1, "{flow}");
}

async fn admin_get(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.admin_get(path, token).await;
    assert_eq!(response.status(), StatusCode::OK);
    json(response).await
}

fn limit_path(id: &str) -> String {
    format!("/admin/v1/activities/{id}/flow-limit")
}

async fn put_limit(app: &TestApp, id: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    let response = app.admin_put(&limit_path(id), token, body).await;
    (response.status(), json(response).await)
}

#[actix_web::test]
async fn an_activity_limit_set_by_an_operator_holds_that_activity_only() {
    let app = spawn_with_flow(|_| {}).await;
    let hot = create_online_flash_sale(&app, STOCK, PER_USER_LIMIT, 600).await;
    let other = create_online_flash_sale(&app, STOCK, PER_USER_LIMIT, 600).await;
    let body = json!({"perSecond": 1, "burst": 2});
    let (status, reply) = put_limit(&app, &hot, OPERATOR_TOKEN, &body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(success_data(&reply)["burst"], 2);
    assert_created(&grab_with(&app, &hot, "a", &[]).await);
    assert_created(&grab_with(&app, &hot, "b", &[]).await);
    assert_limited(&grab_with(&app, &hot, "c", &[]).await, "activity");
    assert_created(&grab_with(&app, &other, "c", &[]).await);
    let flow = admin_get(&app, "/admin/v1/flow", ADMIN_TOKEN).await;
    assert_eq!(
        success_data(&flow)["activityLimits"][0]["activityId"],
        hot.as_str()
    );
    let audit = admin_get(&app, "/admin/v1/audit?action=flow.set_limit", ADMIN_TOKEN).await;
    let records = success_data(&audit)["records"]
        .as_array()
        .expect("records")
        .clone();
    assert_eq!(records.len(), 1, "{audit}");
    assert_eq!(records[0]["target"], hot.as_str());
    let response = app.admin_delete(&limit_path(&hot), OPERATOR_TOKEN).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_created(&grab_with(&app, &hot, "d", &[]).await);
    let audit = admin_get(
        &app,
        "/admin/v1/audit?action=flow.remove_limit",
        ADMIN_TOKEN,
    )
    .await;
    assert_eq!(
        success_data(&audit)["records"].as_array().map(Vec::len),
        Some(1)
    );
}

#[actix_web::test]
async fn the_activity_limit_route_refuses_bad_input_and_roles() {
    let app = spawn_with_flow(|_| {}).await;
    let id = create_online_flash_sale(&app, STOCK, PER_USER_LIMIT, 600).await;
    let cases = [
        (json!({"perSecond": 0, "burst": 2}), "perSecond"),
        (json!({"perSecond": 1, "burst": -1}), "burst"),
        (json!({"perSecond": 1, "burst": 2_000_000}), "burst"),
        (json!({"perSecond": "fast", "burst": 2}), "perSecond"),
        (json!({"perSecond": 1}), "burst"),
    ];
    for (body, field) in cases {
        let (status, reply) = put_limit(&app, &id, OPERATOR_TOKEN, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
        assert_error(&reply, "VALIDATION_FAILED");
        assert_eq!(
            error_fields(&reply),
            vec![field.to_owned()],
            "{body}: {reply}"
        );
    }
    let body = json!({"perSecond": 1, "burst": 2});
    let (status, _) = put_limit(&app, &id, APPROVER_TOKEN, &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = put_limit(&app, "999999", OPERATOR_TOKEN, &body).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = put_limit(&app, &id, ADMIN_TOKEN, &body).await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn reads_are_limited_apart_from_trading() {
    let app = spawn_with_flow(|settings| {
        settings.flow.reads.device = rate(1, 2);
        settings.flow.trading.device = rate(1, 2);
    })
    .await;
    let id = create_online_flash_sale(&app, STOCK, PER_USER_LIMIT, 600).await;
    let path = format!("/api/v1/activities/{id}");
    for _ in 0..2 {
        let response = app.get_with_header(&path, "X-Device-Id", "poller").await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let third = reply(app.get_with_header(&path, "X-Device-Id", "poller").await).await;
    assert_limited(&third, "device");
    let list = reply(
        app.get_with_header("/api/v1/activities", "X-Device-Id", "poller")
            .await,
    );
    assert_limited(&list.await, "device");
    // The trading budget of the same device is untouched by its reads.
    assert_created(&grab_with(&app, &id, "a", &[("X-Device-Id", "poller")]).await);
    let metrics = metrics(&app).await;
    assert!(
        metrics.contains(r#"playcore_flow_refusals_total{reason="device",class="reads"} 2"#),
        "{metrics}"
    );
}

#[actix_web::test]
async fn past_the_in_flight_bound_trading_is_shed_with_503() {
    let app = spawn_with_flow(|settings| settings.flow.trading_in_flight_max = 1).await;
    let id = create_online_flash_sale(&app, STOCK, PER_USER_LIMIT, 600).await;
    let users: Vec<String> = (0..64).map(|user| format!("u{user}")).collect();
    let replies = join_all(users.iter().map(|user| grab_with(&app, &id, user, &[]))).await;
    let shed = replies
        .iter()
        .filter(|reply| reply.status == StatusCode::SERVICE_UNAVAILABLE)
        .inspect(|reply| assert_error(&reply.body, "OVERLOADED"))
        .count();
    let created = replies
        .iter()
        .filter(|reply| reply.status == StatusCode::CREATED)
        .count();
    assert_eq!(shed + created, replies.len());
    assert!(shed > 0, "64 grabs at once with room for 1: some are shed");
    assert!(created > 0);
    // Every finished request left the count: one at a time all pass.
    for user in ["late-1", "late-2", "late-3"] {
        assert_created(&grab_with(&app, &id, user, &[]).await);
    }
    let metrics = metrics(&app).await;
    let line =
        format!(r#"playcore_flow_refusals_total{{reason="overloaded",class="trading"}} {shed}"#);
    assert!(metrics.contains(&line), "{metrics}");
}

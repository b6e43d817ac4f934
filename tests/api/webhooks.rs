//! Webhook endpoints through the admin API (`/admin/v1/webhooks/endpoints…`): every route's
//! success and bad input, roles, the audit log, the secret shown only at creation and
//! rotation, and deliveries to a real receiver (`playcore_testkit::receiver`): signed per
//! Standard Webhooks (two signatures during a rotation), shaped by a payload template,
//! dead-lettered after the last retry and delivered again on request.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::fixtures::{create_activity, eventually_within, flash_sale_body};
use playcore_testkit::app::{
    assert_error, json, spawn_app, spawn_app_with, success_data, TestApp, ADMIN_TOKEN,
    APPROVER_TOKEN, OPERATOR_TOKEN,
};
use playcore_testkit::receiver::{Answer, Received, Receiver};

const ENDPOINTS: &str = "/admin/v1/webhooks/endpoints";
const WAIT: Duration = Duration::from_secs(15);

/// An application whose endpoints may name the loopback receiver, with short attempts and
/// one quick retry.
async fn spawn_app_delivering() -> TestApp {
    spawn_app_with(|settings| {
        let webhooks = &mut settings.webhooks;
        webhooks.allow_private_addresses = true;
        webhooks.attempt_timeout_ms = 1_000;
        webhooks.retry_schedule_seconds = vec![0];
        webhooks.breaker_failures = 1_000;
    })
    .await
}

/// Creates an endpoint; asserts 201 and returns its data (with `secret`).
async fn create_endpoint(app: &TestApp, body: &Value) -> Value {
    let response = app.admin_post(ENDPOINTS, ADMIN_TOKEN, body).await;
    let status = response.status();
    let reply = json(response).await;
    assert_eq!(status, StatusCode::CREATED, "create: {reply}");
    success_data(&reply).clone()
}

/// Asserts 400 VALIDATION_FAILED naming `field`.
fn assert_names_field(status: StatusCode, reply: &Value, field: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_error(reply, "VALIDATION_FAILED");
    let fields = &reply["error"]["details"]["fields"];
    assert!(fields[field].is_string(), "{field} not named: {reply}");
}

async fn admin_get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = app.admin_get(path, ADMIN_TOKEN).await;
    (response.status(), json(response).await)
}

async fn admin_post(app: &TestApp, path: &str, body: &Value) -> (StatusCode, Value) {
    let response = app.admin_post(path, ADMIN_TOKEN, body).await;
    (response.status(), json(response).await)
}

/// The audit records of `action`.
async fn audit_records(app: &TestApp, action: &str) -> Vec<Value> {
    let (status, reply) = admin_get(app, &format!("/admin/v1/audit?action={action}")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    success_data(&reply)["records"]
        .as_array()
        .expect("records")
        .clone()
}

/// How many of the request's signatures `secret` makes.
fn signatures_by(secret: &str, request: &Received) -> usize {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("base64");
    let id = request.header("webhook-id").expect("webhook-id");
    let timestamp = request
        .header("webhook-timestamp")
        .expect("webhook-timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("a key");
    mac.update(format!("{id}.{timestamp}.{}", request.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let header = request
        .header("webhook-signature")
        .expect("webhook-signature");
    header
        .split(' ')
        .filter(|signature| *signature == expected)
        .count()
}

/// Waits until `count` requests reached `path` and returns them.
async fn deliveries(receiver: &Receiver, path: &str, count: usize) -> Vec<Received> {
    eventually_within(WAIT, "webhook deliveries", || async {
        let received = receiver.received_at(path);
        (received.len() >= count).then_some(received)
    })
    .await
}

#[actix_web::test]
async fn creation_shows_the_secret_once_and_is_audited() {
    let app = spawn_app_delivering().await;
    let receiver = Receiver::always_ok();
    let created = create_endpoint(
        &app,
        &json!({"url": receiver.url("/in"), "description": "CRM", "eventTypes": ["INSTANCE_PAID"]}),
    )
    .await;
    let id = created["id"].as_str().expect("an id");
    assert!(id.starts_with("ep_"), "{created}");
    let secret = created["secret"].as_str().expect("the secret");
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["eventTypes"], json!(["INSTANCE_PAID"]));

    let (status, reply) = admin_get(&app, &format!("{ENDPOINTS}/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let shown = success_data(&reply);
    assert!(shown.get("secret").is_none(), "secret shown again: {shown}");
    assert_eq!(shown["status"]["breaker"], "CLOSED", "{shown}");
    assert!(shown["status"]["lagEvents"].is_u64(), "{shown}");
    assert_eq!(shown["status"]["disabledForFailing"], false, "{shown}");

    let (status, reply) = admin_get(&app, ENDPOINTS).await;
    assert_eq!(status, StatusCode::OK);
    let listed = success_data(&reply)["endpoints"]
        .as_array()
        .expect("a list")
        .clone();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].get("secret").is_none());

    let metrics = app.get("/metrics").await.text().await.expect("the metrics");
    let series = format!("playcore_delivery_delivered_total{{subscription=\"{id}\"}}");
    assert!(metrics.contains(&series), "no delivery series for {id}");

    let records = audit_records(&app, "webhook.create").await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["target"], id);
    assert_eq!(records[0]["before"], Value::Null);
    assert_eq!(records[0]["after"]["url"], receiver.url("/in"));
    assert!(
        !records[0].to_string().contains(secret),
        "the audit log holds the secret"
    );
}

#[actix_web::test]
async fn every_bad_field_is_named() {
    let app = spawn_app().await;
    let url = "https://hooks.example.com/in";
    let long_url = format!("https://hooks.example.com/{}", "a".repeat(2048));
    let cases = [
        (json!({"description": "x"}), "url"),
        (
            json!({"url": "ftp://hooks.example.com/in", "description": "x"}),
            "url",
        ),
        (json!({"url": "/relative", "description": "x"}), "url"),
        (json!({"url": long_url, "description": "x"}), "url"),
        (json!({"url": url}), "description"),
        (json!({"url": url, "description": "a\nb"}), "description"),
        (
            json!({"url": url, "description": "x", "eventTypes": ["NOPE"]}),
            "eventTypes[0]",
        ),
        (
            json!({"url": url, "description": "x", "activityIds": ["one"]}),
            "activityIds[0]",
        ),
        (
            json!({"url": url, "description": "x", "storeIds": ["a b"]}),
            "storeIds[0]",
        ),
        (
            json!({"url": url, "description": "x", "activityIds": ["1"], "storeIds": ["s1"]}),
            "storeIds",
        ),
        (
            json!({"url": url, "description": "x", "rateLimitPerSecond": 0}),
            "rateLimitPerSecond",
        ),
        (
            json!({"url": url, "description": "x", "rateLimitPerSecond": "9"}),
            "rateLimitPerSecond",
        ),
        (
            json!({"url": url, "description": "x", "rateLimitPerSecond": -1}),
            "rateLimitPerSecond",
        ),
        (
            json!({"url": url, "description": "x", "enabled": "yes"}),
            "enabled",
        ),
        (
            json!({"url": url, "description": "x", "payloadTemplate": {"t": "{{secret}}"}}),
            "payloadTemplate",
        ),
        (
            json!({"url": url, "description": "x", "colour": "red"}),
            "colour",
        ),
    ];
    for (body, field) in cases {
        let (status, reply) = admin_post(&app, ENDPOINTS, &body).await;
        assert_names_field(status, &reply, field);
    }
    let (status, reply) = admin_get(&app, ENDPOINTS).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        success_data(&reply)["endpoints"],
        json!([]),
        "nothing was created"
    );
}

#[actix_web::test]
async fn private_addresses_are_refused_unless_allowed() {
    let app = spawn_app().await;
    for url in [
        "http://127.0.0.1:9000/in",
        "http://localhost:9000/in",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/in",
        "http://10.1.2.3/in",
        "http://192.168.0.10/in",
        "http://100.64.0.1/in",
        "http://[fd00::1]/in",
        "http://0.0.0.0/in",
    ] {
        let (status, reply) =
            admin_post(&app, ENDPOINTS, &json!({"url": url, "description": "x"})).await;
        assert_names_field(status, &reply, "url");
    }
    // A public name that does not resolve here is taken: every connection is checked again.
    create_endpoint(
        &app,
        &json!({"url": "https://hooks.example.com/in", "description": "x"}),
    )
    .await;
}

#[actix_web::test]
async fn only_admins_use_the_webhook_routes() {
    let app = spawn_app().await;
    let created = create_endpoint(
        &app,
        &json!({"url": "https://hooks.example.com/in", "description": "x"}),
    )
    .await;
    let id = created["id"].as_str().expect("an id");
    let event = "evt_0000000000010000";
    let reads = [
        ENDPOINTS.to_owned(),
        format!("{ENDPOINTS}/{id}"),
        format!("{ENDPOINTS}/{id}/messages"),
        format!("{ENDPOINTS}/{id}/messages/{event}"),
        format!("{ENDPOINTS}/{id}/dead-letters"),
    ];
    let writes = [
        (
            ENDPOINTS.to_owned(),
            json!({"url": "https://hooks.example.com/b", "description": "x"}),
        ),
        (format!("{ENDPOINTS}/{id}/rotate-secret"), json!({})),
        (
            format!("{ENDPOINTS}/{id}/dead-letters/{event}/redeliver"),
            json!({}),
        ),
        (
            format!("{ENDPOINTS}/{id}/dead-letters/redeliver"),
            json!({"since": "2026-01-01T00:00:00Z"}),
        ),
    ];
    for token in [OPERATOR_TOKEN, APPROVER_TOKEN] {
        for path in &reads {
            let response = app.admin_get(path, token).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "GET {path}");
            assert_error(&json(response).await, "FORBIDDEN");
        }
        for (path, body) in &writes {
            let response = app.admin_post(path, token, body).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "POST {path}");
        }
        let patch = app
            .admin_patch(
                &format!("{ENDPOINTS}/{id}"),
                token,
                &json!({"enabled": false}),
            )
            .await;
        assert_eq!(patch.status(), StatusCode::FORBIDDEN);
        let delete = app.admin_delete(&format!("{ENDPOINTS}/{id}"), token).await;
        assert_eq!(delete.status(), StatusCode::FORBIDDEN);
    }
    let anonymous = app.get(ENDPOINTS).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let (_, reply) = admin_get(&app, &format!("{ENDPOINTS}/{id}")).await;
    assert_eq!(success_data(&reply)["enabled"], true, "nothing changed");
}

#[actix_web::test]
async fn updates_and_deletes_are_checked_and_audited() {
    let app = spawn_app().await;
    let created = create_endpoint(
        &app,
        &json!({"url": "https://hooks.example.com/in", "description": "x", "rateLimitPerSecond": 5,
                "payloadTemplate": {"text": "{{type}}"}}),
    )
    .await;
    let id = created["id"].as_str().expect("an id");
    let path = format!("{ENDPOINTS}/{id}");

    let response = app
        .admin_patch(
            &path,
            ADMIN_TOKEN,
            &json!({"description": "CRM sync", "enabled": false,
              "storeIds": ["s1"], "rateLimitPerSecond": null, "payloadTemplate": null}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let reply = json(response).await;
    let updated = success_data(&reply);
    assert_eq!(updated["description"], "CRM sync");
    assert_eq!(updated["enabled"], false);
    assert_eq!(updated["storeIds"], json!(["s1"]));
    assert_eq!(updated["rateLimitPerSecond"], Value::Null);
    assert_eq!(updated["payloadTemplate"], Value::Null);
    assert_eq!(updated["url"], "https://hooks.example.com/in", "unchanged");
    assert!(updated.get("secret").is_none());

    for (body, field) in [
        (json!({"url": "gopher://x/"}), "url"),
        (json!({"url": "http://127.0.0.1/in"}), "url"),
        (json!({"activityIds": ["1"]}), "storeIds"),
        (json!({"eventTypes": ["NOPE"]}), "eventTypes[0]"),
        (json!({"rateLimitPerSecond": 0}), "rateLimitPerSecond"),
        (json!({"secret": "whsec_x"}), "secret"),
    ] {
        let response = app.admin_patch(&path, ADMIN_TOKEN, &body).await;
        let status = response.status();
        assert_names_field(status, &json(response).await, field);
    }

    let records = audit_records(&app, "webhook.update").await;
    assert_eq!(records.len(), 1, "only the accepted change: {records:?}");
    assert_eq!(records[0]["before"]["enabled"], true);
    assert_eq!(records[0]["after"]["enabled"], false);

    let response = app.admin_delete(&path, ADMIN_TOKEN).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (status, reply) = admin_get(&app, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&reply, "NOT_FOUND");
    let again = app.admin_delete(&path, ADMIN_TOKEN).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let records = audit_records(&app, "webhook.delete").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["after"], Value::Null);
    assert_eq!(records[0]["target"], id);
}

#[actix_web::test]
async fn the_list_pages_with_a_cursor_and_checks_its_query() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let body = json!({"url": format!("https://hooks.example.com/{n}"), "description": "x"});
        ids.push(
            create_endpoint(&app, &body).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    ids.sort();
    let (_, first) = admin_get(&app, &format!("{ENDPOINTS}?limit=2")).await;
    let first = success_data(&first).clone();
    let page: Vec<&str> = first["endpoints"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    assert_eq!(page, ids[..2]);
    let cursor = first["nextCursor"].as_str().expect("a cursor");
    let (_, second) = admin_get(&app, &format!("{ENDPOINTS}?limit=2&after={cursor}")).await;
    let second = success_data(&second).clone();
    assert_eq!(second["endpoints"][0]["id"], ids[2].as_str());
    assert_eq!(second["nextCursor"], Value::Null);

    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=x", "limit"),
        ("?limit=1001", "limit"),
        ("?after=nope", "after"),
    ] {
        let (status, reply) = admin_get(&app, &format!("{ENDPOINTS}{query}")).await;
        assert_names_field(status, &reply, field);
    }
    let (status, _) = admin_get(&app, &format!("{ENDPOINTS}/ep_000000000000000000000000")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin_get(&app, &format!("{ENDPOINTS}/not-an-id")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn deliveries_are_signed_and_a_rotation_signs_with_both_secrets() {
    let app = spawn_app_delivering().await;
    let receiver = Receiver::always_ok();
    let created = create_endpoint(
        &app,
        &json!({"url": receiver.url("/signed"), "description": "x", "eventTypes": ["ACTIVITY_CREATED"]}),
    )
    .await;
    let id = created["id"].as_str().expect("an id");
    let old = created["secret"].as_str().expect("a secret").to_owned();

    let activity = create_activity(&app, &flash_sale_body(10, 1, 300)).await;
    let first = deliveries(&receiver, "/signed", 1).await;
    let request = &first[0];
    assert!(request
        .header("webhook-id")
        .expect("id")
        .starts_with("evt_"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(signatures_by(&old, request), 1, "{request:?}");
    let body: Value = serde_json::from_str(&request.body).expect("a JSON body");
    assert_eq!(body["type"], "ACTIVITY_CREATED");
    assert!(
        body["timestamp"].is_string() && body["data"].is_object(),
        "{body}"
    );
    let sent_at: i64 = request
        .header("webhook-timestamp")
        .expect("ts")
        .parse()
        .expect("seconds");
    assert!((chrono::Utc::now().timestamp() - sent_at).abs() < 60);
    let _ = activity;

    let (status, reply) =
        admin_post(&app, &format!("{ENDPOINTS}/{id}/rotate-secret"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let rotated = success_data(&reply);
    let new = rotated["secret"]
        .as_str()
        .expect("the new secret")
        .to_owned();
    assert_ne!(new, old);
    assert!(rotated["previousSecretExpiresAt"].is_string(), "{rotated}");
    assert_eq!(audit_records(&app, "webhook.rotate_secret").await.len(), 1);

    create_activity(&app, &flash_sale_body(10, 1, 300)).await;
    let both = deliveries(&receiver, "/signed", 2).await;
    let request = &both[1];
    let header = request.header("webhook-signature").expect("signature");
    assert_eq!(header.split(' ').count(), 2, "{header}");
    assert_eq!(
        signatures_by(&old, request),
        1,
        "the old secret signs during the overlap"
    );
    assert_eq!(signatures_by(&new, request), 1, "the new secret signs");
}

#[actix_web::test]
async fn a_payload_template_shapes_the_body_for_a_chat_robot() {
    let app = spawn_app_delivering().await;
    let receiver = Receiver::always_ok();
    let template = json!({"msgtype": "text", "text": {"content": "{{type}} #{{activityId}} ({{storeId}}) {{id}}"}});
    create_endpoint(
        &app,
        &json!({"url": receiver.url("/robot"), "description": "group robot",
                "eventTypes": ["ACTIVITY_CREATED"], "payloadTemplate": template}),
    )
    .await;
    let activity = create_activity(&app, &flash_sale_body(10, 1, 300)).await;
    let received = deliveries(&receiver, "/robot", 1).await;
    let body: Value = serde_json::from_str(&received[0].body).expect("JSON");
    let id = received[0].header("webhook-id").expect("id");
    let content = format!("ACTIVITY_CREATED #{activity} (store-1) {id}");
    assert_eq!(
        body,
        json!({"msgtype": "text", "text": {"content": content}})
    );
}

#[actix_web::test]
async fn failures_are_dead_lettered_listed_and_delivered_again() {
    let app = spawn_app_delivering().await;
    let answer = Arc::new(AtomicU16::new(500));
    let status_now = Arc::clone(&answer);
    let receiver = Receiver::start(move |_| Answer::Status(status_now.load(Ordering::SeqCst)));
    let created = create_endpoint(
        &app,
        &json!({"url": receiver.url("/failing"), "description": "x", "eventTypes": ["ACTIVITY_CREATED"]}),
    )
    .await;
    let id = created["id"].as_str().expect("an id");
    create_activity(&app, &flash_sale_body(10, 1, 300)).await;
    // The first attempt and its one retry fail: the message is dead-lettered.
    let dead = eventually_within(WAIT, "a dead letter", || async {
        let (_, reply) = admin_get(&app, &format!("{ENDPOINTS}/{id}/dead-letters")).await;
        let letters = success_data(&reply)["deadLetters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (!letters.is_empty()).then_some(letters)
    })
    .await;
    let letter = &dead[0];
    assert_eq!(letter["state"], "DEAD_LETTERED", "{letter}");
    assert_eq!(letter["type"], "ACTIVITY_CREATED", "{letter}");
    let attempts = letter["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "{letter}");
    assert!(
        attempts.iter().all(|attempt| attempt["statusCode"] == 500),
        "{letter}"
    );
    assert!(attempts
        .iter()
        .all(|attempt| attempt["latencyMs"].is_u64() && attempt["at"].is_string()));
    let event = letter["eventId"].as_str().expect("an event id").to_owned();

    let (status, reply) = admin_get(&app, &format!("{ENDPOINTS}/{id}/messages")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        success_data(&reply)["messages"][0]["eventId"],
        event.as_str()
    );
    let (status, reply) = admin_get(&app, &format!("{ENDPOINTS}/{id}/messages/{event}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(success_data(&reply)["state"], "DEAD_LETTERED");

    answer.store(200, Ordering::SeqCst);
    let path = format!("{ENDPOINTS}/{id}/dead-letters/{event}/redeliver");
    let (status, reply) = admin_post(&app, &path, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    eventually_within(WAIT, "the redelivered message acknowledged", || async {
        let (_, reply) = admin_get(&app, &format!("{ENDPOINTS}/{id}/messages/{event}")).await;
        (success_data(&reply)["state"] == "DELIVERED").then_some(())
    })
    .await;
    let ids: Vec<String> = receiver
        .received_at("/failing")
        .iter()
        .map(|request| request.header("webhook-id").expect("id").to_owned())
        .collect();
    assert_eq!(
        ids,
        vec![event.clone(); 3],
        "the same webhook-id on every attempt"
    );
    let (status, _) = admin_post(&app, &path, &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no longer a dead letter");

    // In bulk: everything that failed since a time.
    answer.store(500, Ordering::SeqCst);
    let since = chrono::Utc::now().to_rfc3339();
    create_activity(&app, &flash_sale_body(10, 1, 300)).await;
    eventually_within(WAIT, "a second dead letter", || async {
        let (_, reply) = admin_get(&app, &format!("{ENDPOINTS}/{id}/dead-letters")).await;
        let letters = success_data(&reply)["deadLetters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (!letters.is_empty()).then_some(())
    })
    .await;
    answer.store(200, Ordering::SeqCst);
    let bulk = format!("{ENDPOINTS}/{id}/dead-letters/redeliver");
    let (status, reply) = admin_post(&app, &bulk, &json!({"since": since})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(success_data(&reply)["redelivered"], 1, "{reply}");
    assert_eq!(audit_records(&app, "webhook.redeliver").await.len(), 2);
    eventually_within(WAIT, "no dead letters left", || async {
        let (_, reply) = admin_get(&app, &format!("{ENDPOINTS}/{id}/dead-letters")).await;
        (success_data(&reply)["deadLetters"] == json!([])).then_some(())
    })
    .await;
}

#[actix_web::test]
async fn message_routes_check_their_input() {
    let app = spawn_app().await;
    let created = create_endpoint(
        &app,
        &json!({"url": "https://hooks.example.com/in", "description": "x"}),
    )
    .await;
    let id = created["id"].as_str().expect("an id");
    for (path, field) in [
        (format!("{ENDPOINTS}/{id}/messages?after=nope"), "after"),
        (format!("{ENDPOINTS}/{id}/messages?limit=0"), "limit"),
        (
            format!("{ENDPOINTS}/{id}/dead-letters?after=evt_12"),
            "after",
        ),
    ] {
        let (status, reply) = admin_get(&app, &path).await;
        assert_names_field(status, &reply, field);
    }
    let bulk = format!("{ENDPOINTS}/{id}/dead-letters/redeliver");
    for (body, field) in [
        (json!({"since": "yesterday"}), "since"),
        (json!({}), "since"),
        (
            json!({"since": "2026-01-01T00:00:00Z", "until": "x"}),
            "until",
        ),
    ] {
        let (status, reply) = admin_post(&app, &bulk, &body).await;
        assert_names_field(status, &reply, field);
    }
    let (status, _) = admin_get(
        &app,
        &format!("{ENDPOINTS}/{id}/messages/evt_0000000000010000"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin_get(&app, &format!("{ENDPOINTS}/{id}/messages/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin_get(
        &app,
        &format!("{ENDPOINTS}/ep_000000000000000000000000/messages"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin_post(
        &app,
        &format!("{ENDPOINTS}/{id}/dead-letters/evt_0000000000010000/redeliver"),
        &json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

//! The blacklist: users, devices, addresses and ranges refused before the hop (403
//! BLACKLISTED), with expiry, kept across restarts, its admin API audited.

use chrono::{Duration as ChronoDuration, SecondsFormat, Utc};
use playcore_testkit::app::{
    assert_error, json, spawn_app, success_data, TestApp, ADMIN_TOKEN, APPROVER_TOKEN,
    OPERATOR_TOKEN,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{create_online_flash_sale, post};

async fn list(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let response = app
        .admin_post("/admin/v1/blacklist", OPERATOR_TOKEN, &body)
        .await;
    let status = response.status();
    (status, json(response).await)
}

async fn grab_as(app: &TestApp, id: &str, user: &str, device: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({"userId": user, "requestId": format!("r-{user}-{}", Utc::now().timestamp_nanos_opt().unwrap_or(0))});
    if let Some(device) = device {
        body["device"] = json!(device);
    }
    post(app, &format!("/api/v1/activities/{id}/orders"), &body).await
}

fn in_seconds(seconds: i64) -> String {
    (Utc::now() + ChronoDuration::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[actix_web::test]
async fn listed_users_devices_and_addresses_are_refused_before_the_hop() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 100, 5, 600).await;
    let (status, entry) = list(
        &app,
        json!({"kind": "USER", "value": "bot-1", "reason": "scripted grabs"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    let entry = success_data(&entry).clone();
    assert!(entry["id"].as_str().is_some_and(|id| id.starts_with("bl_")));
    assert_eq!(entry["createdBy"], "dev-operator", "{entry}");

    let (status, refused) = grab_as(&app, &id, "bot-1", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_error(&refused, "BLACKLISTED");
    assert_eq!(refused["error"]["details"]["kind"], "USER");
    assert!(
        !refused.to_string().contains("scripted grabs"),
        "the reason stays with the operators"
    );
    let (status, _) = grab_as(&app, &id, "human-1", None).await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, _) = list(
        &app,
        json!({"kind": "DEVICE", "value": "emulator-9", "reason": "device farm"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, refused) = grab_as(&app, &id, "human-2", Some("emulator-9")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(refused["error"]["details"]["kind"], "DEVICE");

    let (status, range) = list(
        &app,
        json!({"kind": "CIDR", "value": "127.0.0.9/8", "reason": "every local caller"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let range = success_data(&range).clone();
    assert_eq!(range["value"], "127.0.0.0/8", "normalised to its network");
    let (status, refused) = grab_as(&app, &id, "human-3", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(refused["error"]["details"]["kind"], "CIDR");

    let metrics = app.get("/metrics").await.text().await.expect("a text body");
    for kind in ["USER", "DEVICE", "CIDR"] {
        let line = format!("playcore_blacklist_refusals_total{{kind=\"{kind}\"}} 1");
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
    assert!(
        metrics.contains("playcore_blacklist_entries 3"),
        "{metrics}"
    );

    let path = format!(
        "/admin/v1/blacklist/{}",
        range["id"].as_str().unwrap_or_default()
    );
    let deleted = app.admin_delete(&path, ADMIN_TOKEN).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let (status, _) = grab_as(&app, &id, "human-3", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let gone = app.admin_get(&path, ADMIN_TOKEN).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    let audit = json(
        app.admin_get("/admin/v1/audit?action=blacklist.add", ADMIN_TOKEN)
            .await,
    )
    .await;
    let records = audit["data"]["records"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(records.len(), 3, "every listing audited: {audit}");
    let removed = json(
        app.admin_get("/admin/v1/audit?action=blacklist.remove", ADMIN_TOKEN)
            .await,
    )
    .await;
    assert_eq!(
        removed["data"]["records"][0]["before"]["value"], "127.0.0.0/8",
        "{removed}"
    );
}

#[actix_web::test]
async fn entries_expire_and_survive_a_restart() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 100, 5, 600).await;
    let (status, _) = list(
        &app,
        json!({"kind": "USER", "value": "brief", "reason": "cool-off", "expiresAt": in_seconds(2)}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = list(
        &app,
        json!({"kind": "IP", "value": "::0001", "reason": "never local v6"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, kept) = list(
        &app,
        json!({"kind": "USER", "value": "kept", "reason": "fraud"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = grab_as(&app, &id, "brief", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let app = app.restart().await;
    let (status, _) = grab_as(&app, &id, "kept", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "kept across the restart");
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let (status, reply) = grab_as(&app, &id, "brief", None).await;
    assert_eq!(status, StatusCode::CREATED, "expired: {reply}");

    let listed = json(
        app.admin_get("/admin/v1/blacklist?kind=USER", OPERATOR_TOKEN)
            .await,
    )
    .await;
    let entries = listed["data"]["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let values: Vec<&str> = entries
        .iter()
        .filter_map(|entry| entry["value"].as_str())
        .collect();
    assert_eq!(values, ["kept"], "{listed}");
    let ips = json(
        app.admin_get("/admin/v1/blacklist?kind=IP", OPERATOR_TOKEN)
            .await,
    )
    .await;
    assert_eq!(ips["data"]["entries"][0]["value"], "::1", "{ips}");

    // Listing the same user again replaces the entry and keeps its id.
    let (status, again) = list(
        &app,
        json!({"kind": "USER", "value": "kept", "reason": "fraud, confirmed"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(success_data(&again)["id"], success_data(&kept)["id"]);
}

#[actix_web::test]
async fn bad_input_and_roles_are_refused() {
    let app = spawn_app().await;
    let cases = [
        (json!({"kind": "FOO", "value": "x", "reason": "r"}), "kind"),
        (
            json!({"kind": "IP", "value": "10.0.0.256", "reason": "r"}),
            "value",
        ),
        (
            json!({"kind": "CIDR", "value": "10.0.0.0/33", "reason": "r"}),
            "value",
        ),
        (
            json!({"kind": "USER", "value": "has space", "reason": "r"}),
            "value",
        ),
        (
            json!({"kind": "USER", "value": "u", "reason": "  "}),
            "reason",
        ),
        (
            json!({"kind": "USER", "value": "u", "reason": "r", "expiresAt": in_seconds(-60)}),
            "expiresAt",
        ),
        (
            json!({"kind": "USER", "value": "u", "reason": "r", "expiresAt": "tomorrow"}),
            "expiresAt",
        ),
        (
            json!({"kind": "USER", "value": "u", "reason": "r", "colour": "red"}),
            "colour",
        ),
        (json!({"kind": "USER", "reason": "r"}), "value"),
    ];
    for (body, field) in cases {
        let (status, reply) = list(&app, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {reply}");
        assert_error(&reply, "VALIDATION_FAILED");
        assert!(
            reply["error"]["details"]["fields"].get(field).is_some(),
            "{body} names {field}: {reply}"
        );
    }
    let body = json!({"kind": "USER", "value": "u", "reason": "r"});
    let approver = app
        .admin_post("/admin/v1/blacklist", APPROVER_TOKEN, &body)
        .await;
    assert_eq!(approver.status(), StatusCode::FORBIDDEN);
    let anonymous = app.post_json("/admin/v1/blacklist", &body).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let kind = app
        .admin_get("/admin/v1/blacklist?kind=NOPE", ADMIN_TOKEN)
        .await;
    assert_eq!(kind.status(), StatusCode::BAD_REQUEST);
    let unknown = app
        .admin_get("/admin/v1/blacklist/bl_nothing", ADMIN_TOKEN)
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

//! Query parameters: the admin activity list's filters and paging, and every enumerated
//! or numeric parameter refusing a bad value with 400 VALIDATION_FAILED naming it.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{
    admin_action, create_activity, create_online_group_buy, error_fields, flash_sale_body,
    group_buy_body,
};
use playcore_testkit::app::{assert_error, json, spawn_app, success_data, TestApp, ADMIN_TOKEN};

async fn admin_get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = app.admin_get(path, ADMIN_TOKEN).await;
    let status = response.status();
    (status, json(response).await)
}

/// The ids of an activity list page and its `nextCursor`.
async fn page(app: &TestApp, query: &str) -> (Vec<String>, Value) {
    let (status, reply) = admin_get(app, &format!("/admin/v1/activities{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {reply}");
    let data = success_data(&reply);
    let ids = data["activities"]
        .as_array()
        .expect("activities")
        .iter()
        .map(|activity| activity["id"].as_str().expect("an id").to_owned())
        .collect();
    (ids, data["nextCursor"].clone())
}

/// Asserts 400 VALIDATION_FAILED naming exactly `field`.
async fn assert_refused(app: &TestApp, path: &str, field: &str) {
    let response = if path.starts_with("/admin/") {
        app.admin_get(path, ADMIN_TOKEN).await
    } else {
        app.get(path).await
    };
    let status = response.status();
    let reply = json(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {reply}");
    assert_error(&reply, "VALIDATION_FAILED");
    assert_eq!(error_fields(&reply), vec![field], "{path}: {reply}");
}

#[actix_web::test]
async fn the_admin_activity_list_filters_by_status_store_template_and_title() {
    let app = spawn_app().await;
    let sale = create_activity(&app, &flash_sale_body(10, 2, 300)).await;
    let group = create_activity(&app, &group_buy_body(3)).await;
    let mut other_store = flash_sale_body(10, 2, 300);
    other_store["storeId"] = json!("store-2");
    other_store["title"] = json!("Nail polish");
    let other = create_activity(&app, &other_store).await;
    admin_action(
        &app,
        &group,
        "submit",
        playcore_testkit::app::OPERATOR_TOKEN,
    )
    .await;

    assert_eq!(
        page(&app, "").await.0,
        [sale.as_str(), group.as_str(), other.as_str()]
    );
    assert_eq!(
        page(&app, "?status=DRAFT").await.0,
        [sale.as_str(), other.as_str()]
    );
    assert_eq!(page(&app, "?status=PENDING").await.0, [group.as_str()]);
    assert_eq!(page(&app, "?status=ONLINE").await.0, Vec::<String>::new());
    assert_eq!(page(&app, "?storeId=store-2").await.0, [other.as_str()]);
    assert_eq!(
        page(&app, "?templateCode=GROUP_BUY").await.0,
        [group.as_str()]
    );
    assert_eq!(page(&app, "?title=flash").await.0, [sale.as_str()]);
    let both = "?templateCode=FLASH_SALE&storeId=store-1";
    assert_eq!(page(&app, both).await.0, [sale.as_str()]);
}

#[actix_web::test]
async fn the_admin_activity_list_pages_by_cursor() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(create_activity(&app, &flash_sale_body(10, 2, 300)).await);
    }
    let (first, next) = page(&app, "?limit=2").await;
    assert_eq!(first, ids[..2]);
    assert_eq!(next, json!(ids[1]));
    let (second, next) = page(&app, &format!("?limit=2&cursor={}", ids[1])).await;
    assert_eq!(second, ids[2..]);
    assert_eq!(next, Value::Null, "a short page is the last");
    let (all, next) = page(&app, "").await;
    assert_eq!(all, ids);
    assert_eq!(next, Value::Null);
}

#[actix_web::test]
async fn a_bad_activity_list_parameter_is_refused_naming_it() {
    let app = spawn_app().await;
    let cases = [
        ("?status=BOGUS", "status"),
        ("?status=draft", "status"),
        ("?templateCode=NOPE", "templateCode"),
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=ten", "limit"),
        ("?cursor=x", "cursor"),
    ];
    for (query, field) in cases {
        assert_refused(&app, &format!("/admin/v1/activities{query}"), field).await;
    }
    let (status, _) = admin_get(&app, "/admin/v1/activities?unknown=1").await;
    assert_eq!(status, StatusCode::OK, "an unknown parameter is ignored");
}

#[actix_web::test]
async fn enumerated_and_numeric_parameters_of_every_list_are_checked() {
    let app = spawn_app().await;
    let id = create_online_group_buy(&app, 3).await;
    let cases = [
        (
            format!("/api/v1/activities/{id}/groups?status=BOGUS"),
            "status",
        ),
        ("/admin/v1/events?type=BOGUS".to_owned(), "type"),
        ("/admin/v1/events?after=x".to_owned(), "after"),
        ("/admin/v1/events?limit=x".to_owned(), "limit"),
        (
            "/admin/v1/audit?action=activity.delete".to_owned(),
            "action",
        ),
        (format!("/admin/v1/activities/{id}/orders?limit=x"), "limit"),
        (
            format!("/admin/v1/activities/{id}/orders?status=BOGUS"),
            "status",
        ),
        (
            format!("/admin/v1/activities/{id}/gray/decisions?limit=x"),
            "limit",
        ),
        ("/admin/v1/approvals?status=BOGUS".to_owned(), "status"),
        ("/admin/v1/scheduler/runs?task=bogus".to_owned(), "task"),
        ("/admin/v1/scheduler/alerts?kind=bogus".to_owned(), "kind"),
    ];
    for (path, field) in &cases {
        assert_refused(&app, path, field).await;
    }
    let (status, reply) = admin_get(&app, "/admin/v1/events?type=ACTIVITY_CREATED").await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let events = success_data(&reply)["events"]
        .as_array()
        .expect("events")
        .clone();
    assert!(!events.is_empty());
    assert!(events
        .iter()
        .all(|event| event["type"] == "ACTIVITY_CREATED"));
    let (status, reply) = admin_get(&app, "/admin/v1/audit?action=activity.publish").await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(
        success_data(&reply)["records"].as_array().map(Vec::len),
        Some(1)
    );
    let response = app
        .get(&format!("/api/v1/activities/{id}/groups?status=FAILED"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(success_data(&json(response).await), &json!([]));
}

//! The event catalog (`GET /admin/v1/event-types`, `…/{type}`): who may read it, its
//! shape, one type by name, and an unknown type.

use reqwest::StatusCode;
use serde_json::Value;

use playcore_testkit::app::{
    assert_error, json, spawn_app, success_data, TestApp, ADMIN_TOKEN, APPROVER_TOKEN,
    OPERATOR_TOKEN,
};

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let response = app.admin_get(path, token).await;
    let status = response.status();
    (status, json(response).await)
}

#[actix_web::test]
async fn the_catalog_needs_an_admin_token() {
    let app = spawn_app().await;

    for path in ["/admin/v1/event-types", "/admin/v1/event-types/GROUP_FULL"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_error(&json(response).await, "UNAUTHORIZED");

        let (status, reply) = get(&app, path, "not-a-token").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {reply}");
        assert_error(&reply, "UNAUTHORIZED");
    }
}

#[actix_web::test]
async fn every_admin_role_lists_every_type_with_a_description_and_a_schema() {
    let app = spawn_app().await;

    for token in [OPERATOR_TOKEN, APPROVER_TOKEN, ADMIN_TOKEN] {
        let (status, reply) = get(&app, "/admin/v1/event-types", token).await;

        assert_eq!(status, StatusCode::OK, "{token}: {reply}");
        let list = success_data(&reply)["eventTypes"]
            .as_array()
            .expect("a list");
        let names: Vec<&str> = list.iter().filter_map(|t| t["type"].as_str()).collect();
        assert_eq!(names.len(), 31, "{names:?}");
        assert_eq!(names[0], "ACTIVITY_CREATED");
        assert_eq!(names[30], "ORDERS_ARCHIVED");
        for entry in list {
            let name = &entry["type"];
            assert!(entry["description"]
                .as_str()
                .is_some_and(|text| text.len() > 40));
            let schema = &entry["schema"];
            assert_eq!(schema["type"], "object", "{name}");
            assert_eq!(
                schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
                "{name}"
            );
        }
    }
}

#[actix_web::test]
async fn one_type_is_served_as_the_list_serves_it() {
    let app = spawn_app().await;
    let (_, list) = get(&app, "/admin/v1/event-types", ADMIN_TOKEN).await;
    let listed = success_data(&list)["eventTypes"]
        .as_array()
        .and_then(|list| list.iter().find(|t| t["type"] == "INSTANCE_CREATED"))
        .cloned()
        .expect("INSTANCE_CREATED is listed");

    let (status, reply) = get(
        &app,
        "/admin/v1/event-types/INSTANCE_CREATED",
        APPROVER_TOKEN,
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    let served = success_data(&reply);
    assert_eq!(served, &listed);
    assert_eq!(served["schema"]["description"], served["description"]);
    let properties = &served["schema"]["properties"];
    assert_eq!(properties["orderId"]["pattern"], "^ord-[0-9]+-[0-9]+$");
    assert_eq!(properties["expiresAt"]["format"], "date-time");
    let required = served["schema"]["required"].as_array().expect("required");
    assert!(
        required.iter().any(|field| field == "groupId"),
        "{required:?}"
    );
    let (_, sold_out) = get(
        &app,
        "/admin/v1/event-types/FLASH_SALE_SOLD_OUT",
        ADMIN_TOKEN,
    )
    .await;
    let description = success_data(&sold_out)["description"]
        .as_str()
        .unwrap_or("");
    assert!(description.contains("fires again"), "{description}");
}

#[actix_web::test]
async fn an_unknown_type_is_not_found() {
    let app = spawn_app().await;

    for name in ["NO_SUCH_EVENT", "instance_created", "INSTANCE_CREATED%20"] {
        let path = format!("/admin/v1/event-types/{name}");
        let (status, reply) = get(&app, &path, OPERATOR_TOKEN).await;

        assert_eq!(status, StatusCode::NOT_FOUND, "{name}: {reply}");
        assert_error(&reply, "NOT_FOUND");
    }
}

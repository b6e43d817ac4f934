//! Security headers on every reply and cross-origin access for configured origins only.

use playcore_testkit::app::{spawn_app, spawn_app_with, TestApp, ADMIN_TOKEN};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use crate::fixtures::{create_online_flash_sale, grab_ok};

const CONSOLE: &str = "https://console.example.com";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn assert_secured(headers: &HeaderMap, what: &str) {
    assert_eq!(
        header(headers, "x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        header(headers, "referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
}

async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("preflight sent")
}

#[actix_web::test]
async fn user_data_is_not_stored_and_every_reply_is_secured() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 10, 1, 600).await;
    let order = grab_ok(&app, &id, "u-headers", "r-1", 1).await;
    let order_id = order["orderId"].as_str().expect("an order id");

    let grabbed = app
        .post_json(
            &format!("/api/v1/activities/{id}/orders"),
            &serde_json::json!({"userId": "u-headers", "requestId": "r-1", "quantity": 1}),
        )
        .await;
    assert_secured(grabbed.headers(), "grab");
    assert_eq!(header(grabbed.headers(), "cache-control"), Some("no-store"));

    let read = app.get(&format!("/api/v1/orders/{order_id}")).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_secured(read.headers(), "order");
    assert_eq!(header(read.headers(), "cache-control"), Some("no-store"));

    let admin = app.admin_get("/admin/v1/activities", ADMIN_TOKEN).await;
    assert_secured(admin.headers(), "admin");
    assert_eq!(header(admin.headers(), "cache-control"), Some("no-store"));

    let catalogue = app.get(&format!("/api/v1/activities/{id}")).await;
    assert_secured(catalogue.headers(), "catalogue");
    assert_eq!(header(catalogue.headers(), "cache-control"), None);

    let missing = app.get("/no/such/route").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_secured(missing.headers(), "404");
    assert_eq!(
        header(missing.headers(), "strict-transport-security"),
        None,
        "no HSTS unless served over TLS"
    );
}

#[actix_web::test]
async fn served_over_tls_replies_carry_strict_transport_security() {
    let app = spawn_app_with(|settings| settings.server.served_over_tls = true).await;
    let reply = app.get("/healthz").await;
    assert_eq!(
        header(reply.headers(), "strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
}

#[actix_web::test]
async fn no_origin_is_allowed_by_default() {
    let app = spawn_app().await;
    let refused = preflight(&app, "/admin/v1/activities", CONSOLE).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        header(refused.headers(), "access-control-allow-origin"),
        None
    );
    assert_secured(refused.headers(), "refused preflight");

    let simple = app
        .client
        .get(app.url("/api/v1/activities"))
        .header("Origin", CONSOLE)
        .send()
        .await
        .expect("sent");
    assert_eq!(
        simple.status(),
        StatusCode::OK,
        "non-browser clients still served"
    );
    assert_eq!(
        header(simple.headers(), "access-control-allow-origin"),
        None
    );
}

#[actix_web::test]
async fn a_configured_origin_gets_preflights_and_replies_others_do_not() {
    let app = spawn_app_with(|settings| {
        settings.server.cors_allowed_origins = vec![CONSOLE.to_owned()];
    })
    .await;
    let allowed = preflight(&app, "/admin/v1/activities", CONSOLE).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    let headers = allowed.headers();
    assert_eq!(
        header(headers, "access-control-allow-origin"),
        Some(CONSOLE)
    );
    let methods = header(headers, "access-control-allow-methods").unwrap_or_default();
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{methods}"
    );
    let allowed_headers = header(headers, "access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );

    let reply = app
        .client
        .get(app.url("/admin/v1/activities"))
        .header("Origin", CONSOLE)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(
        header(reply.headers(), "access-control-allow-origin"),
        Some(CONSOLE)
    );

    let other = preflight(&app, "/admin/v1/activities", "https://evil.example.com").await;
    assert_eq!(other.status(), StatusCode::BAD_REQUEST);
    assert_eq!(header(other.headers(), "access-control-allow-origin"), None);
}

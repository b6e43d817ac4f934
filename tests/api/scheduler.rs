//! The lifecycle scheduler's run log and alerts: `GET /admin/v1/scheduler/runs` and
//! `GET /admin/v1/scheduler/alerts`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::fixtures::{create_online_flash_sale, eventually_within, grab_ok, order};
use playcore_testkit::app::{
    assert_error, json, spawn_app_with, success_data, TestApp, ADMIN_TOKEN, APPROVER_TOKEN,
    OPERATOR_TOKEN,
};

/// An application whose health check runs every second.
async fn spawn_app_checking_every_second() -> TestApp {
    spawn_app_with(|settings| settings.scheduler.health_interval_seconds = 1).await
}

/// The runs of `query` (e.g. `?task=health`), read with the admin token.
async fn runs(app: &TestApp, query: &str) -> Vec<Value> {
    let path = format!("/admin/v1/scheduler/runs{query}");
    let response = app.admin_get(&path, ADMIN_TOKEN).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    success_data(&body)["runs"]
        .as_array()
        .expect("a list of runs")
        .clone()
}

fn assert_well_formed(run: &Value, task: &str) {
    assert_eq!(run["task"], task, "{run}");
    let started = run["startedAt"].as_str().expect("startedAt");
    let ended = run["endedAt"].as_str().expect("endedAt");
    // RFC3339 UTC with milliseconds: the text order is the time order.
    assert!(started <= ended, "{run}");
    assert!(
        run["durationMs"].as_i64().expect("durationMs") >= 0,
        "{run}"
    );
    assert!(run["errors"].is_u64(), "{run}");
}

#[actix_web::test]
async fn health_runs_are_recorded_on_the_configured_interval() {
    let app = spawn_app_checking_every_second().await;

    let health = eventually_within(Duration::from_secs(5), "two health runs", || async {
        let health = runs(&app, "?task=health").await;
        (health.len() >= 2).then_some(health)
    })
    .await;

    for run in &health {
        assert_well_formed(run, "health");
        // At least the journal is examined on every run.
        assert!(run["itemsProcessed"].as_u64().expect("items") >= 1, "{run}");
        assert_eq!(run["errors"], 0, "{run}");
    }
    assert!(
        health[0]["seq"].as_u64() > health[1]["seq"].as_u64(),
        "newest first"
    );
}

#[actix_web::test]
async fn health_runs_count_the_orders_they_examine() {
    let app = spawn_app_checking_every_second().await;
    let id = create_online_flash_sale(&app, 10, 3, 300).await;
    grab_ok(&app, &id, "alice", "req-1", 1).await;

    eventually_within(
        Duration::from_secs(5),
        "a run examined the order",
        || async {
            let health = runs(&app, "?task=health&limit=1").await;
            // The journal, the activity's mailbox and its one order.
            let items = health.first()?["itemsProcessed"].as_u64()?;
            (items >= 3).then_some(())
        },
    )
    .await;
    // The order is within its deadline: nothing is stuck.
    let response = app
        .admin_get(
            "/admin/v1/scheduler/alerts?kind=STUCK_UNPAID_ORDER",
            ADMIN_TOKEN,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    assert_eq!(success_data(&body)["alerts"], serde_json::json!([]));
}

#[actix_web::test]
async fn a_timeouts_run_is_recorded_after_an_order_times_out() {
    let app = spawn_app_checking_every_second().await;
    let id = create_online_flash_sale(&app, 10, 3, 1).await;
    let order_id = grab_ok(&app, &id, "alice", "req-1", 1).await["orderId"]
        .as_str()
        .expect("an order id")
        .to_owned();
    eventually_within(Duration::from_secs(5), "the order times out", || async {
        (order(&app, &order_id).await["status"] == "TIMEOUT").then_some(())
    })
    .await;

    let timeouts = eventually_within(Duration::from_secs(5), "a timeouts run", || async {
        let timeouts = runs(&app, "?task=timeouts").await;
        (!timeouts.is_empty()).then_some(timeouts)
    })
    .await;

    let processed: u64 = timeouts
        .iter()
        .map(|run| {
            assert_well_formed(run, "timeouts");
            run["itemsProcessed"].as_u64().expect("items")
        })
        .sum();
    assert!(processed >= 1, "{timeouts:?}");
    let every_task = runs(&app, "").await;
    assert!(every_task.iter().any(|run| run["task"] == "timeouts"));
}

#[actix_web::test]
async fn every_admin_role_may_read_the_runs_and_alerts() {
    let app = spawn_app_checking_every_second().await;
    for token in [ADMIN_TOKEN, OPERATOR_TOKEN, APPROVER_TOKEN] {
        for path in ["/admin/v1/scheduler/runs", "/admin/v1/scheduler/alerts"] {
            let response = app.admin_get(path, token).await;
            assert_eq!(response.status(), StatusCode::OK, "{token} {path}");
        }
    }
}

#[actix_web::test]
async fn without_a_token_the_runs_and_alerts_are_refused() {
    let app = spawn_app_checking_every_second().await;
    for path in [
        "/admin/v1/scheduler/runs",
        "/admin/v1/scheduler/alerts",
        "/admin/v1/scheduler/runs?limit=0",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_error(&json(response).await, "UNAUTHORIZED");
    }
    let response = app
        .admin_get("/admin/v1/scheduler/runs", "no-such-token")
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_bad_limit_task_or_kind_is_refused_naming_the_field() {
    let app = spawn_app_checking_every_second().await;
    let cases = [
        ("/admin/v1/scheduler/runs?limit=0", "limit"),
        ("/admin/v1/scheduler/runs?limit=1001", "limit"),
        ("/admin/v1/scheduler/runs?limit=ten", "limit"),
        ("/admin/v1/scheduler/runs?task=backup", "task"),
        ("/admin/v1/scheduler/alerts?limit=-1", "limit"),
        ("/admin/v1/scheduler/alerts?kind=FIRE", "kind"),
    ];
    for (path, field) in cases {
        let response = app.admin_get(path, OPERATOR_TOKEN).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let body = json(response).await;
        assert_error(&body, "VALIDATION_FAILED");
        assert_eq!(
            crate::fixtures::error_fields(&body),
            vec![field.to_owned()],
            "{path}"
        );
    }
}

#[actix_web::test]
async fn the_health_metrics_are_exported() {
    let app = spawn_app_checking_every_second().await;
    eventually_within(Duration::from_secs(5), "a health run", || async {
        (!runs(&app, "?task=health").await.is_empty()).then_some(())
    })
    .await;

    let metrics = app.get("/metrics").await.text().await.expect("a body");

    assert!(
        metrics.contains("playcore_scheduler_runs_total{task=\"health\"}"),
        "{metrics}"
    );
}

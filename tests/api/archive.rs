//! Archiving terminal orders into the cold store (the scheduler's `archive` task), seen
//! from outside: the orders API still answers with the whole order, the per-user limit,
//! requestId replays and payment notifications behave as before, counts do not move, and
//! all of it survives a restart.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{
    cancel, create_online_flash_sale, create_online_group_buy, eventually_within, get, grab,
    grab_ok, notification, notify, order, pay, post, stats, PRICE,
};
use playcore_testkit::app::{
    json, spawn_app_with, success_data, TestApp, ADMIN_TOKEN, OPERATOR_TOKEN,
};

/// Orders untouched for this long are archived in these tests.
const ARCHIVE_AFTER_SECONDS: u64 = 2;
/// How long the archiver may take to pick them up (it runs every second).
const ARCHIVE_WAIT: Duration = Duration::from_secs(20);

/// An application that archives terminal orders two seconds after their last change.
async fn spawn_archiving_app() -> TestApp {
    spawn_app_with(|settings| {
        settings.scheduler.archive_interval_seconds = 1;
        settings.scheduler.archive_after_seconds = ARCHIVE_AFTER_SECONDS;
    })
    .await
}

/// Waits until the activity's stats count `archived` archived orders; returns the stats.
async fn wait_archived(app: &TestApp, id: &str, archived: u64) -> Value {
    eventually_within(ARCHIVE_WAIT, "the orders are archived", || async {
        let stats = stats(app, id).await;
        (stats["orders"]["archived"] == archived).then_some(stats)
    })
    .await
}

/// The stats without the fields archiving may change (the archived count, the version).
fn counted(stats: &Value) -> Value {
    let mut orders = stats["orders"].clone();
    orders
        .as_object_mut()
        .expect("an orders object")
        .remove("archived");
    json!({"stock": stats["stock"], "orders": orders, "gmv": stats["gmv"], "users": stats["users"]})
}

/// Every field of a live order's view must be in its archived view, unchanged but the
/// status (which may have moved on) and `archived`.
fn assert_same_order(archived: &Value, live: &Value) {
    assert_eq!(archived["archived"], true, "{archived}");
    for (field, value) in live.as_object().expect("an order object") {
        if field != "status" {
            assert_eq!(&archived[field], value, "{field} of {archived}");
        }
    }
}

struct Sale {
    id: String,
    paid: Value,
    cancelled: Value,
    unpaid: Value,
}

/// A flash sale (limit 2) where alice bought 2 units paid by notification T-alice, bob
/// cancelled and carol has not paid yet.
async fn sale_with_orders(app: &TestApp) -> Sale {
    let id = create_online_flash_sale(app, 10, 2, 300).await;
    let path = format!("/api/v1/activities/{id}/orders");
    let body =
        json!({"userId": "alice", "requestId": "req-a", "quantity": 2, "channelId": "wechat"});
    let (status, reply) = post(app, &path, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let alice = success_data(&reply)["orderId"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, reply) = notify(app, &notification("T-alice", &alice, 2 * PRICE)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let bob = grab_ok(app, &id, "bob", "req-b", 1).await["orderId"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, reply) = cancel(app, &bob, "bob").await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let carol = grab_ok(app, &id, "carol", "req-c", 1).await["orderId"]
        .as_str()
        .expect("id")
        .to_owned();
    Sale {
        paid: order(app, &alice).await,
        cancelled: order(app, &bob).await,
        unpaid: order(app, &carol).await,
        id,
    }
}

/// What must hold of the sale once alice's and bob's orders are archived (before and after
/// a restart).
async fn assert_archived_sale_behaves(app: &TestApp, sale: &Sale) {
    let id = &sale.id;
    let alice = sale.paid["orderId"].as_str().expect("id");
    // GET order reads the whole order back from the cold store.
    let paid = order(app, alice).await;
    assert_same_order(&paid, &sale.paid);
    assert_eq!(
        (&paid["status"], &paid["channelId"]),
        (&json!("PAID"), &json!("wechat"))
    );
    assert!(paid["paidAt"].is_string(), "{paid}");
    let cancelled = order(app, sale.cancelled["orderId"].as_str().expect("id")).await;
    assert_same_order(&cancelled, &sale.cancelled);
    let unpaid = order(app, sale.unpaid["orderId"].as_str().expect("id")).await;
    assert_eq!(unpaid, sale.unpaid, "an unpaid order is never archived");

    // The same requestId: 200 with the same (archived) order, no second order.
    let (status, reply) = grab(app, id, "alice", "req-a", 2).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_same_order(success_data(&reply), &sale.paid);
    // The archived units still count: alice holds 2 of 2.
    let (status, reply) = grab(app, id, "alice", "req-new", 1).await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert_eq!(reply["error"]["code"], "LIMIT_EXCEEDED");
    // The same payment notification again: idempotent by tradeNo.
    let (status, reply) = notify(app, &notification("T-alice", alice, 2 * PRICE)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_same_order(success_data(&reply), &sale.paid);
    // The mock payment of the paid order replays too.
    let (status, reply) = pay(app, alice, "alice").await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(success_data(&reply)["archived"], true);

    // The admin list shows archived orders whole, with the live ones.
    let path = format!("/admin/v1/activities/{id}/orders");
    let response = app.admin_get(&path, OPERATOR_TOKEN).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    let listed = success_data(&body)["orders"]
        .as_array()
        .expect("orders")
        .clone();
    assert_eq!(listed.len(), 3);
    assert_same_order(&listed[0], &sale.paid);
    assert_same_order(&listed[1], &sale.cancelled);
    assert_eq!(listed[2], sale.unpaid);
    let path = format!("/admin/v1/activities/{id}/orders?status=PAID");
    let body = json(app.admin_get(&path, OPERATOR_TOKEN).await).await;
    let paid_only = success_data(&body)["orders"]
        .as_array()
        .expect("orders")
        .clone();
    assert_eq!(paid_only.len(), 1, "the status filter sees archived orders");
    assert_same_order(&paid_only[0], &sale.paid);
}

#[actix_web::test]
async fn terminal_orders_are_archived_and_still_served_whole() {
    let app = spawn_archiving_app().await;
    let sale = sale_with_orders(&app).await;
    let before = stats(&app, &sale.id).await;
    assert_eq!(before["orders"]["archived"], 0);

    let after = wait_archived(&app, &sale.id, 2).await;

    assert_eq!(
        counted(&after),
        counted(&before),
        "archiving moves no count"
    );
    assert_eq!(after["gmv"], 2 * PRICE);
    assert_archived_sale_behaves(&app, &sale).await;
    let stats_now = stats(&app, &sale.id).await;
    assert_eq!(
        counted(&stats_now),
        counted(&before),
        "the replays changed nothing"
    );
    assert_eq!(stats_now["orders"]["archived"], 2);
}

#[actix_web::test]
async fn archived_orders_survive_a_restart() {
    let app = spawn_archiving_app().await;
    let sale = sale_with_orders(&app).await;
    let archived = wait_archived(&app, &sale.id, 2).await;

    let app = app.restart().await;

    let recovered = stats(&app, &sale.id).await;
    assert_eq!(counted(&recovered), counted(&archived));
    assert_eq!(recovered["orders"]["archived"], 2);
    assert_archived_sale_behaves(&app, &sale).await;
}

#[actix_web::test]
async fn the_archive_runs_are_recorded_and_counted() {
    let app = spawn_archiving_app().await;
    let sale = sale_with_orders(&app).await;
    wait_archived(&app, &sale.id, 2).await;

    let response = app
        .admin_get(
            "/admin/v1/scheduler/runs?task=archive&limit=1000",
            ADMIN_TOKEN,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    let runs = success_data(&body)["runs"]
        .as_array()
        .expect("runs")
        .clone();
    assert!(runs.iter().all(|run| run["task"] == "archive"), "{runs:?}");
    let archived: u64 = runs
        .iter()
        .map(|run| run["itemsProcessed"].as_u64().expect("items"))
        .sum();
    assert_eq!(archived, 2, "{runs:?}");
    assert!(runs.iter().all(|run| run["errors"] == 0), "{runs:?}");
    let metrics = app.get("/metrics").await.text().await.expect("a body");
    assert!(
        metrics.contains("playcore_orders_archived_total 2"),
        "{metrics}"
    );
    let path = format!(
        "/admin/v1/events?activityId={}&type=ORDERS_ARCHIVED",
        sale.id
    );
    let body = json(app.admin_get(&path, ADMIN_TOKEN).await).await;
    let events = success_data(&body)["events"]
        .as_array()
        .expect("events")
        .clone();
    let archived: Vec<&Value> = events
        .iter()
        .flat_map(|event| event["data"]["orderIds"].as_array().expect("orderIds"))
        .collect();
    let expected = [format!("ord-{}-1", sale.id), format!("ord-{}-2", sale.id)];
    assert_eq!(
        archived,
        [&json!(expected[0]), &json!(expected[1])],
        "{events:?}"
    );
}

#[actix_web::test]
async fn a_run_archives_at_most_its_budget_and_the_next_run_goes_on() {
    let app = spawn_app_with(|settings| {
        settings.scheduler.archive_interval_seconds = 1;
        settings.scheduler.archive_after_seconds = ARCHIVE_AFTER_SECONDS;
        settings.scheduler.archive_orders_per_run_max = 1;
    })
    .await;
    let sale = sale_with_orders(&app).await;

    wait_archived(&app, &sale.id, 2).await;

    let response = app
        .admin_get(
            "/admin/v1/scheduler/runs?task=archive&limit=1000",
            ADMIN_TOKEN,
        )
        .await;
    let body = json(response).await;
    let items: Vec<u64> = success_data(&body)["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|run| run["itemsProcessed"].as_u64().expect("items"))
        .collect();
    assert!(items.iter().all(|archived| *archived <= 1), "{items:?}");
    assert_eq!(items.iter().sum::<u64>(), 2, "{items:?}");
}

#[actix_web::test]
async fn a_late_payment_of_an_archived_cancelled_order_is_refunded() {
    let app = spawn_archiving_app().await;
    let sale = sale_with_orders(&app).await;
    wait_archived(&app, &sale.id, 2).await;
    let before = stats(&app, &sale.id).await;
    let bob = sale.cancelled["orderId"].as_str().expect("id");

    let (status, reply) = notify(&app, &notification("T-bob", bob, PRICE)).await;

    assert_eq!(status, StatusCode::OK, "{reply}");
    let refunded = eventually_within(ARCHIVE_WAIT, "the refund completes", || async {
        let found = order(&app, bob).await;
        (found["status"] == "REFUNDED").then_some(found)
    })
    .await;
    assert_same_order(&refunded, &sale.cancelled);
    let after = stats(&app, &sale.id).await;
    assert_eq!(
        after["stock"], before["stock"],
        "a late payment never takes stock"
    );
    assert_eq!(after["gmv"], before["gmv"]);
    assert_eq!(after["orders"]["refunded"], 1);
    assert_eq!(after["orders"]["archived"], 2);
}

#[actix_web::test]
async fn a_succeeded_group_order_is_archived_and_replays_with_its_group() {
    let app = spawn_archiving_app().await;
    let id = create_online_group_buy(&app, 2).await;
    let started = post(
        &app,
        &format!("/api/v1/activities/{id}/groups"),
        &json!({"userId": "leader", "requestId": "start-1"}),
    )
    .await;
    assert_eq!(started.0, StatusCode::CREATED, "{}", started.1);
    let group_id = success_data(&started.1)["group"]["groupId"]
        .as_str()
        .expect("a group id")
        .to_owned();
    let leader_order = success_data(&started.1)["order"]["orderId"]
        .as_str()
        .expect("an order id")
        .to_owned();
    assert_eq!(pay(&app, &leader_order, "leader").await.0, StatusCode::OK);
    let join_path = format!("/api/v1/groups/{group_id}/members");
    let join_body = json!({"userId": "member", "requestId": "join-1"});
    let joined = post(&app, &join_path, &join_body).await;
    assert_eq!(joined.0, StatusCode::CREATED, "{}", joined.1);
    let member_order = success_data(&joined.1)["order"]["orderId"]
        .as_str()
        .expect("an order id")
        .to_owned();
    assert_eq!(pay(&app, &member_order, "member").await.0, StatusCode::OK);
    let live = order(&app, &member_order).await;

    wait_archived(&app, &id, 2).await;

    let (status, reply) = post(&app, &join_path, &join_body).await;
    assert_eq!(status, StatusCode::OK, "a replay: {reply}");
    let data = success_data(&reply);
    assert_eq!(data["group"]["status"], "SUCCESS");
    assert_same_order(&data["order"], &live);
    let (status, reply) = get(&app, &format!("/api/v1/groups/{group_id}")).await;
    assert_eq!(status, StatusCode::OK);
    let members = success_data(&reply)["members"]
        .as_array()
        .expect("members")
        .clone();
    assert!(
        members.iter().all(|member| member["orderStatus"] == "PAID"),
        "{members:?}"
    );
}

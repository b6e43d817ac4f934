//! Eligibility rules on trading requests: cities, new users only and mutual exclusion,
//! each answered 403 NOT_ELIGIBLE naming its rule; replays still return their order; the
//! indexes behind the cross-activity rules survive a restart.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{
    activity_detail, at, cancel, create_published, eventually, eventually_within, flash_sale_body,
    get, group_buy_body, notification, notify, order, pay, post, stock, wait_for_status,
    wait_for_stock, PRICE,
};
use playcore_testkit::app::{
    assert_error, spawn_app, spawn_app_with, success_data, TestApp, OPERATOR_TOKEN,
};

/// A flash sale (stock 100, limit 2, pay timeout 300 s) with `rules`, ONLINE now.
async fn online_sale(app: &TestApp, rules: Value) -> String {
    online(app, &with_rules(flash_sale_body(100, 2, 300), rules)).await
}

fn with_rules(mut body: Value, rules: Value) -> Value {
    body["rules"] = rules;
    body
}

/// A group buy of 3 with `rules` added to its group rules, ONLINE now.
async fn online_group_buy(app: &TestApp, rules: Value) -> String {
    let mut body = group_buy_body(3);
    for (key, value) in rules.as_object().expect("rules") {
        body["rules"][key] = value.clone();
    }
    online(app, &body).await
}

async fn online(app: &TestApp, body: &Value) -> String {
    let id = create_published(app, body).await;
    wait_for_status(app, &id, "ONLINE").await;
    id
}

/// A grab with extra body fields (`city` …).
async fn grab_with(
    app: &TestApp,
    id: &str,
    user: &str,
    request: &str,
    extra: Value,
) -> (StatusCode, Value) {
    let mut body = json!({"userId": user, "requestId": request});
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    post(app, &format!("/api/v1/activities/{id}/orders"), &body).await
}

async fn grab(app: &TestApp, id: &str, user: &str, request: &str) -> (StatusCode, Value) {
    grab_with(app, id, user, request, json!({})).await
}

/// A grab that must create an order; returns its id.
async fn grab_created(app: &TestApp, id: &str, user: &str, request: &str) -> String {
    let (status, reply) = grab(app, id, user, request).await;
    assert_eq!(status, StatusCode::CREATED, "grab: {reply}");
    order_id(&reply)
}

fn order_id(reply: &Value) -> String {
    let data = success_data(reply);
    let order = if data["order"].is_object() {
        &data["order"]
    } else {
        data
    };
    order["orderId"].as_str().expect("an order id").to_owned()
}

/// Asserts 403 NOT_ELIGIBLE under `rule`; returns the details.
fn assert_not_eligible(status: StatusCode, reply: &Value, rule: &str) -> Value {
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    assert_error(reply, "NOT_ELIGIBLE");
    let details = reply["error"]["details"].clone();
    assert_eq!(details["rule"], rule, "{reply}");
    assert!(details["reason"]
        .as_str()
        .is_some_and(|reason| !reason.is_empty()));
    details
}

async fn pay_ok(app: &TestApp, order_id: &str, user: &str) {
    let (status, reply) = pay(app, order_id, user).await;
    assert_eq!(status, StatusCode::OK, "pay: {reply}");
}

async fn start_group(
    app: &TestApp,
    id: &str,
    user: &str,
    request: &str,
    extra: Value,
) -> (StatusCode, Value) {
    let mut body = json!({"userId": user, "requestId": request});
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    post(app, &format!("/api/v1/activities/{id}/groups"), &body).await
}

async fn join(
    app: &TestApp,
    group: &str,
    user: &str,
    request: &str,
    extra: Value,
) -> (StatusCode, Value) {
    let mut body = json!({"userId": user, "requestId": request});
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    post(app, &format!("/api/v1/groups/{group}/members"), &body).await
}

/// A group of `id` started by `leader` (with `extra` in the body) and paid: ACTIVE.
async fn active_group(app: &TestApp, id: &str, leader: &str, extra: Value) -> String {
    let (status, reply) = start_group(app, id, leader, "start", extra).await;
    assert_eq!(status, StatusCode::CREATED, "start: {reply}");
    let group = success_data(&reply)["group"]["groupId"]
        .as_str()
        .expect("a group id")
        .to_owned();
    pay_ok(app, &order_id(&reply), leader).await;
    eventually("the group is ACTIVE", || async {
        let (_, reply) = get(app, &format!("/api/v1/groups/{group}")).await;
        (reply["data"]["status"] == "ACTIVE").then_some(())
    })
    .await;
    group
}

async fn metrics(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("a text body")
}

// --- cities ---------------------------------------------------------------------------

#[actix_web::test]
async fn a_city_rule_admits_its_cities_and_refuses_another_city_or_none() {
    let app = spawn_app().await;
    let id = online_sale(&app, json!({"cities": ["sh", "bj"]})).await;

    let (listed, created) = grab_with(&app, &id, "u1", "r1", json!({"city": "bj"})).await;
    let (other, refused) = grab_with(&app, &id, "u2", "r1", json!({"city": "gz"})).await;
    let (missing, no_city) = grab(&app, &id, "u3", "r1").await;

    assert_eq!(listed, StatusCode::CREATED, "{created}");
    let details = assert_not_eligible(other, &refused, "cities");
    assert!(
        details["reason"].as_str().unwrap().contains("city"),
        "{refused}"
    );
    let details = assert_not_eligible(missing, &no_city, "cities");
    assert!(
        details["reason"]
            .as_str()
            .unwrap()
            .contains("must name a city"),
        "{no_city}"
    );
    // Refusals reserve nothing.
    wait_for_stock(&app, &id, stock(100, 99, 1, 0)).await;
    let text = metrics(&app).await;
    assert!(
        text.contains("playcore_eligibility_refusals{rule=\"cities\"} 2"),
        "{text}"
    );
}

#[actix_web::test]
async fn an_activity_without_a_city_rule_takes_any_city_or_none() {
    let app = spawn_app().await;
    let id = online_sale(&app, json!({})).await;

    let (none, reply) = grab(&app, &id, "u1", "r1").await;
    let (any, other) = grab_with(&app, &id, "u2", "r1", json!({"city": "anywhere"})).await;

    assert_eq!(none, StatusCode::CREATED, "{reply}");
    assert_eq!(any, StatusCode::CREATED, "{other}");
}

#[actix_web::test]
async fn starting_and_joining_a_group_check_the_city_rule() {
    let app = spawn_app().await;
    let id = online_group_buy(&app, json!({"cities": ["sh"]})).await;

    let (no_city, refused) = start_group(&app, &id, "leader", "s0", json!({})).await;
    assert_not_eligible(no_city, &refused, "cities");
    let group = active_group(&app, &id, "leader", json!({"city": "sh"})).await;
    let (elsewhere, refused) = join(&app, &group, "m1", "j1", json!({"city": "gz"})).await;
    let (listed, joined) = join(&app, &group, "m2", "j1", json!({"city": "sh"})).await;

    assert_not_eligible(elsewhere, &refused, "cities");
    assert_eq!(listed, StatusCode::CREATED, "{joined}");
}

// --- new users only -------------------------------------------------------------------

#[actix_web::test]
async fn new_users_only_refuses_who_paid_elsewhere_and_admits_who_only_ordered() {
    let app = spawn_app().await;
    let plain = online_sale(&app, json!({})).await;
    let new_only = online_sale(&app, json!({"newUserOnly": true})).await;
    let paid_order = grab_created(&app, &plain, "payer", "p1").await;
    pay_ok(&app, &paid_order, "payer").await;
    grab_created(&app, &plain, "orderer", "o1").await;

    let (status, refused) = grab(&app, &new_only, "payer", "n1").await;
    let (admitted, created) = grab(&app, &new_only, "orderer", "n1").await;
    let (fresh, fresh_reply) = grab(&app, &new_only, "fresh", "n1").await;

    let details = assert_not_eligible(status, &refused, "newUserOnly");
    assert!(
        details["reason"]
            .as_str()
            .unwrap()
            .contains("new users only"),
        "{refused}"
    );
    assert_eq!(admitted, StatusCode::CREATED, "{created}");
    assert_eq!(fresh, StatusCode::CREATED, "{fresh_reply}");
}

#[actix_web::test]
async fn a_replay_after_paying_returns_the_order_and_a_new_request_is_refused() {
    let app = spawn_app().await;
    let new_only = online_sale(&app, json!({"newUserOnly": true})).await;
    let first = grab_created(&app, &new_only, "u1", "r1").await;
    pay_ok(&app, &first, "u1").await;

    let (replayed, replay) = grab(&app, &new_only, "u1", "r1").await;
    let (again, refused) = grab(&app, &new_only, "u1", "r2").await;

    assert_eq!(replayed, StatusCode::OK, "{replay}");
    assert_eq!(order_id(&replay), first);
    assert_not_eligible(again, &refused, "newUserOnly");
}

#[actix_web::test]
async fn a_late_payment_being_refunded_still_makes_its_user_a_paying_user() {
    let app = spawn_app().await;
    let quick = online(&app, &flash_sale_body(10, 1, 1)).await;
    let new_only = online_sale(&app, json!({"newUserOnly": true})).await;
    let late = grab_created(&app, &quick, "late", "r1").await;
    eventually_within(Duration::from_secs(5), "the order timed out", || async {
        (order(&app, &late).await["status"] == "TIMEOUT").then_some(())
    })
    .await;
    let (status, reply) = notify(&app, &notification("trade-late", &late, PRICE)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(order(&app, &late).await["status"], "REFUND_PENDING");

    let (refused_status, refused) = grab(&app, &new_only, "late", "n1").await;

    assert_not_eligible(refused_status, &refused, "newUserOnly");
}

#[actix_web::test]
async fn new_users_only_still_knows_who_paid_after_a_restart() {
    let app = spawn_app().await;
    let plain = online_sale(&app, json!({})).await;
    let new_only = online_sale(&app, json!({"newUserOnly": true})).await;
    let paid_order = grab_created(&app, &plain, "payer", "p1").await;
    pay_ok(&app, &paid_order, "payer").await;
    let unpaid = grab_created(&app, &plain, "orderer", "o1").await;
    let kept = grab_created(&app, &new_only, "orderer", "n1").await;

    let app = app.restart().await;

    let (status, refused) = grab(&app, &new_only, "payer", "n1").await;
    assert_not_eligible(status, &refused, "newUserOnly");
    // Paying after the restart marks the user too; the earlier request still replays.
    pay_ok(&app, &unpaid, "orderer").await;
    let (again, refused) = grab(&app, &new_only, "orderer", "n2").await;
    let (replayed, replay) = grab(&app, &new_only, "orderer", "n1").await;
    assert_not_eligible(again, &refused, "newUserOnly");
    assert_eq!(replayed, StatusCode::OK, "{replay}");
    assert_eq!(order_id(&replay), kept);
}

#[actix_web::test]
async fn a_full_paid_users_index_fails_closed_for_new_users_only() {
    let app = spawn_app_with(|settings| settings.eligibility.max_paid_users = 1).await;
    let plain = online_sale(&app, json!({})).await;
    let new_only = online_sale(&app, json!({"newUserOnly": true})).await;
    for user in ["first", "second"] {
        let order = grab_created(&app, &plain, user, "p1").await;
        pay_ok(&app, &order, user).await;
    }

    let (status, refused) = grab(&app, &new_only, "never-paid", "n1").await;

    let details = assert_not_eligible(status, &refused, "newUserOnly");
    assert!(
        details["reason"]
            .as_str()
            .unwrap()
            .contains("cannot be verified"),
        "{refused}"
    );
    let text = metrics(&app).await;
    assert!(
        text.contains("playcore_eligibility_paid_users_dropped 1"),
        "{text}"
    );
    assert!(text.contains("playcore_eligibility_paid_users 1"), "{text}");
}

// --- mutual exclusion -----------------------------------------------------------------

fn exclusive() -> Value {
    json!({"mutuallyExclusive": true})
}

#[actix_web::test]
async fn an_order_in_one_exclusive_activity_blocks_an_overlapping_one_until_cancelled() {
    let app = spawn_app().await;
    let first = online_sale(&app, exclusive()).await;
    let second = online_sale(&app, exclusive()).await;
    let plain = online_sale(&app, json!({})).await;
    let held = grab_created(&app, &first, "u1", "r1").await;

    let (status, refused) = grab(&app, &second, "u1", "r1").await;
    let details = assert_not_eligible(status, &refused, "mutuallyExclusive");
    assert_eq!(
        details["conflictingActivityId"],
        first.as_str(),
        "{refused}"
    );
    // Not exclusive, or the same activity again (the per-user limit governs): accepted.
    grab_created(&app, &plain, "u1", "r1").await;
    grab_created(&app, &first, "u1", "r2").await;
    // Another user is not concerned.
    grab_created(&app, &second, "u2", "r1").await;

    let (replayed, replay) = grab(&app, &first, "u1", "r1").await;
    assert_eq!(replayed, StatusCode::OK, "{replay}");
    assert_eq!(order_id(&replay), held);

    let (cancelled, reply) = cancel(&app, &held, "u1").await;
    assert_eq!(cancelled, StatusCode::OK, "{reply}");
    let (still, refused) = grab(&app, &second, "u1", "r2").await;
    assert_not_eligible(still, &refused, "mutuallyExclusive");
    let other = order_id(&grab(&app, &first, "u1", "r2").await.1);
    let (cancelled, reply) = cancel(&app, &other, "u1").await;
    assert_eq!(cancelled, StatusCode::OK, "{reply}");

    grab_created(&app, &second, "u1", "r3").await;
    let (blocked, refused) = grab(&app, &first, "u1", "r4").await;
    let details = assert_not_eligible(blocked, &refused, "mutuallyExclusive");
    assert_eq!(details["conflictingActivityId"], second.as_str());
}

#[actix_web::test]
async fn an_exclusive_order_that_times_out_frees_its_user() {
    let app = spawn_app().await;
    let quick = online(&app, &with_rules(flash_sale_body(10, 1, 1), exclusive())).await;
    let other = online_sale(&app, exclusive()).await;
    let expiring = grab_created(&app, &quick, "u1", "r1").await;
    let (status, refused) = grab(&app, &other, "u1", "r1").await;
    assert_not_eligible(status, &refused, "mutuallyExclusive");

    eventually_within(Duration::from_secs(5), "the order timed out", || async {
        (order(&app, &expiring).await["status"] == "TIMEOUT").then_some(())
    })
    .await;

    grab_created(&app, &other, "u1", "r2").await;
}

#[actix_web::test]
async fn editing_the_exclusive_flag_claims_or_frees_the_orders_already_held() {
    let app = spawn_app().await;
    let edited = online_sale(&app, json!({})).await;
    let exclusive_sale = online_sale(&app, exclusive()).await;
    grab_created(&app, &edited, "u1", "r1").await;
    let path = format!("/admin/v1/activities/{edited}");
    let put = |rules: Value| {
        let body = with_rules(flash_sale_body(100, 2, 300), rules);
        let path = path.clone();
        let app = &app;
        async move {
            let response = app.admin_put(&path, OPERATOR_TOKEN, &body).await;
            assert_eq!(response.status(), StatusCode::OK, "edit");
        }
    };

    put(exclusive()).await;
    let (status, refused) = grab(&app, &exclusive_sale, "u1", "r1").await;
    let details = assert_not_eligible(status, &refused, "mutuallyExclusive");
    assert_eq!(details["conflictingActivityId"], edited.as_str());

    put(json!({})).await;
    grab_created(&app, &exclusive_sale, "u1", "r2").await;
}

#[actix_web::test]
async fn a_rollback_to_a_version_that_is_not_exclusive_frees_the_orders_held() {
    let app = spawn_app().await;
    let edited = online_sale(&app, json!({})).await;
    let exclusive_sale = online_sale(&app, exclusive()).await;
    grab_created(&app, &edited, "u1", "r1").await;
    let path = format!("/admin/v1/activities/{edited}");
    let body = with_rules(flash_sale_body(100, 2, 300), exclusive());
    let response = app.admin_put(&path, OPERATOR_TOKEN, &body).await;
    assert_eq!(response.status(), StatusCode::OK, "edit");
    let (status, refused) = grab(&app, &exclusive_sale, "u1", "r1").await;
    assert_not_eligible(status, &refused, "mutuallyExclusive");

    let rollback = format!("{path}/versions/1/rollback");
    let response = app.admin_post(&rollback, OPERATOR_TOKEN, &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK, "rollback");

    grab_created(&app, &exclusive_sale, "u1", "r2").await;
}

#[actix_web::test]
async fn exclusive_activities_whose_windows_only_touch_do_not_exclude_each_other() {
    let app = spawn_app().await;
    let boundary = at(4);
    let mut early = flash_sale_body(10, 1, 300);
    early["endAt"] = json!(boundary);
    early["rules"] = exclusive();
    let mut late = flash_sale_body(10, 1, 300);
    late["startAt"] = json!(boundary);
    late["rules"] = exclusive();
    let early = online(&app, &early).await;
    let late = create_published(&app, &late).await;
    let paid = grab_created(&app, &early, "u1", "r1").await;
    pay_ok(&app, &paid, "u1").await;

    let online_soon = || async {
        let detail = activity_detail(&app, &late).await?;
        (detail["status"] == "ONLINE").then_some(())
    };
    eventually_within(
        Duration::from_secs(10),
        "the later one is ONLINE",
        online_soon,
    )
    .await;

    grab_created(&app, &late, "u1", "r1").await;
}

#[actix_web::test]
async fn starting_or_joining_a_group_is_refused_while_an_exclusive_order_is_held() {
    let app = spawn_app().await;
    let sale = online_sale(&app, exclusive()).await;
    let group_buy = online_group_buy(&app, exclusive()).await;
    grab_created(&app, &sale, "u1", "r1").await;
    let group = active_group(&app, &group_buy, "leader", json!({})).await;

    let (started, refused_start) = start_group(&app, &group_buy, "u1", "s1", json!({})).await;
    let (joined, refused_join) = join(&app, &group, "u1", "j1", json!({})).await;

    assert_not_eligible(started, &refused_start, "mutuallyExclusive");
    let details = assert_not_eligible(joined, &refused_join, "mutuallyExclusive");
    assert_eq!(details["conflictingActivityId"], sale.as_str());
    // The leader holds the group buy: the flash sale is closed to the leader.
    let (blocked, refused) = grab(&app, &sale, "leader", "r1").await;
    assert_not_eligible(blocked, &refused, "mutuallyExclusive");
}

#[actix_web::test]
async fn mutual_exclusion_survives_a_restart() {
    let app = spawn_app().await;
    let first = online_sale(&app, exclusive()).await;
    let second = online_sale(&app, exclusive()).await;
    let held = grab_created(&app, &first, "u1", "r1").await;
    let released = grab_created(&app, &first, "u2", "r1").await;
    let (cancelled, reply) = cancel(&app, &released, "u2").await;
    assert_eq!(cancelled, StatusCode::OK, "{reply}");

    let app = app.restart().await;

    let (status, refused) = grab(&app, &second, "u1", "r1").await;
    assert_not_eligible(status, &refused, "mutuallyExclusive");
    grab_created(&app, &second, "u2", "r1").await;
    let (replayed, replay) = grab(&app, &first, "u1", "r1").await;
    assert_eq!(replayed, StatusCode::OK, "{replay}");
    assert_eq!(order_id(&replay), held);
}

#[actix_web::test]
async fn concurrent_grabs_in_two_exclusive_activities_give_each_user_one_of_them() {
    let app = spawn_app_with(|settings| settings.actors.arbiters = 2).await;
    let first = online_sale(&app, exclusive()).await;
    let second = online_sale(&app, exclusive()).await;
    let users: Vec<String> = (0..30).map(|index| format!("user-{index}")).collect();
    let attempts = users
        .iter()
        .flat_map(|user| [(user, &first), (user, &second)])
        .collect::<Vec<_>>();

    let answers = join_all(attempts.iter().map(|(user, id)| grab(&app, id, user, "r1"))).await;

    for (user, pair) in users.iter().zip(answers.chunks(2)) {
        let created = pair
            .iter()
            .filter(|(status, _)| *status == StatusCode::CREATED)
            .count();
        assert_eq!(created, 1, "{user}: {pair:?}");
        for (status, reply) in pair
            .iter()
            .filter(|(status, _)| *status != StatusCode::CREATED)
        {
            assert_not_eligible(*status, reply, "mutuallyExclusive");
        }
    }
}

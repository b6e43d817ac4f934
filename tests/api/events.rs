//! `GET /admin/v1/events`, the event history read from the event store: each filter, paging
//! with `after`, bad parameters refused naming their field, and an event visible right
//! after the reply that caused it.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{
    at, cancel, create_online_flash_sale, create_published, error_fields, flash_sale_body, grab_ok,
    pay, wait_for_status, STORE,
};
use playcore_testkit::app::{json, spawn_app, success_data, TestApp, ADMIN_TOKEN, OPERATOR_TOKEN};

const OTHER_STORE: &str = "store-2";

async fn events_page(app: &TestApp, query: &str) -> Value {
    let response = app
        .admin_get(&format!("/admin/v1/events?{query}"), OPERATOR_TOKEN)
        .await;
    let status = response.status();
    let reply = json(response).await;
    assert_eq!(status, StatusCode::OK, "{query}: {reply}");
    success_data(&reply).clone()
}

fn events_of(page: &Value) -> Vec<Value> {
    page["events"].as_array().expect("events").clone()
}

fn field<'a>(events: &'a [Value], name: &str) -> Vec<&'a str> {
    events
        .iter()
        .map(|event| event[name].as_str().unwrap_or_default())
        .collect()
}

/// Every event the query selects, following `nextCursor` with pages of `limit`.
async fn every_event(app: &TestApp, query: &str, limit: usize) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = String::new();
    for _ in 0..1000 {
        let page = events_page(app, &format!("{query}&limit={limit}{after}")).await;
        let got = events_of(&page);
        assert!(got.len() <= limit);
        events.extend(got);
        match page["nextCursor"].as_str() {
            Some(cursor) => after = format!("&after={cursor}"),
            None => return events,
        }
    }
    panic!("paging does not end");
}

/// Two online flash sales in two stores; u1 grabs and pays in the first, u2 grabs and
/// cancels in the second.
async fn two_stores(app: &TestApp) -> (String, String) {
    let first = create_online_flash_sale(app, 10, 2, 300).await;
    let mut body = flash_sale_body(10, 2, 300);
    body["storeId"] = json!(OTHER_STORE);
    let second = create_published(app, &body).await;
    wait_for_status(app, &second, "ONLINE").await;
    let paid = grab_ok(app, &first, "u1", "r1", 1).await;
    let paid = paid["orderId"].as_str().expect("an order id").to_owned();
    assert_eq!(pay(app, &paid, "u1").await.0, StatusCode::OK);
    let cancelled = grab_ok(app, &second, "u2", "r1", 1).await;
    let cancelled = cancelled["orderId"]
        .as_str()
        .expect("an order id")
        .to_owned();
    assert_eq!(cancel(app, &cancelled, "u2").await.0, StatusCode::OK);
    (first, second)
}

#[actix_web::test]
async fn every_event_is_served_with_its_id_type_activity_store_time_and_data() {
    let app = spawn_app().await;
    let (first, second) = two_stores(&app).await;
    let events = every_event(&app, "x=1", 1000).await;
    let ids = field(&events, "id");
    assert!(
        ids.iter()
            .all(|id| id.len() == 20 && id.starts_with("evt_")),
        "{ids:?}"
    );
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "ascending and unique: {ids:?}"
    );
    let activities = field(&events, "activityId");
    assert!(activities
        .iter()
        .all(|id| [first.as_str(), second.as_str()].contains(id)));
    for event in &events {
        let store = if event["activityId"] == first.as_str() {
            STORE
        } else {
            OTHER_STORE
        };
        assert_eq!(event["storeId"], store, "{event}");
        let occurred = event["occurredAt"].as_str().expect("occurredAt");
        assert!(
            occurred.ends_with('Z') && occurred.len() == 24,
            "{occurred}"
        );
        assert!(event.get("data").is_some(), "{event}");
    }
    let types = field(&events, "type");
    for wanted in [
        "ACTIVITY_CREATED",
        "INSTANCE_CREATED",
        "INSTANCE_PAID",
        "INSTANCE_CANCELLED",
    ] {
        assert!(types.contains(&wanted), "{wanted} in {types:?}");
    }
}

#[actix_web::test]
async fn each_filter_selects_only_its_events() {
    let app = spawn_app().await;
    let (first, second) = two_stores(&app).await;
    let all = every_event(&app, "x=1", 1000).await;
    let expect = |keep: &dyn Fn(&Value) -> bool| -> Vec<Value> {
        all.iter().filter(|event| keep(event)).cloned().collect()
    };

    let by_activity = every_event(&app, &format!("activityId={second}"), 3).await;
    assert_eq!(
        by_activity,
        expect(&|event| event["activityId"] == second.as_str())
    );
    assert!(!by_activity.is_empty());

    let by_store = every_event(&app, &format!("storeId={OTHER_STORE}"), 3).await;
    assert_eq!(
        by_store, by_activity,
        "the second store has the second activity only"
    );
    assert!(every_event(&app, "storeId=no-such-store", 3)
        .await
        .is_empty());

    let paid = every_event(&app, "type=INSTANCE_PAID", 3).await;
    assert_eq!(paid, expect(&|event| event["type"] == "INSTANCE_PAID"));
    assert_eq!(field(&paid, "activityId"), [first.as_str()]);

    let two_types = every_event(&app, "type=INSTANCE_PAID,INSTANCE_CANCELLED", 3).await;
    let wanted = ["INSTANCE_PAID", "INSTANCE_CANCELLED"];
    assert_eq!(
        two_types,
        expect(&|event| wanted.iter().any(|kind| event["type"] == *kind))
    );
    assert_eq!(two_types.len(), 2);

    let combined = format!("activityId={first}&storeId={STORE}&type=INSTANCE_CREATED");
    assert_eq!(every_event(&app, &combined, 3).await.len(), 1);
    let mismatched = format!("activityId={first}&storeId={OTHER_STORE}");
    assert!(every_event(&app, &mismatched, 3).await.is_empty());

    let window = format!("from={}&until={}", enc(&at(-600)), enc(&at(600)));
    assert_eq!(every_event(&app, &window, 5).await, all);
    let future = format!("from={}", enc(&at(600)));
    assert!(every_event(&app, &future, 5).await.is_empty());
    let past = format!("until={}", enc(&at(-600)));
    assert!(every_event(&app, &past, 5).await.is_empty());
    // `from` is inclusive, `until` exclusive: the first event's own time selects it.
    let first_at = all[0]["occurredAt"].as_str().expect("occurredAt");
    let from_first = every_event(&app, &format!("from={}", enc(first_at)), 1000).await;
    assert_eq!(from_first, all);
    let until_first = every_event(&app, &format!("until={}", enc(first_at)), 1000).await;
    assert!(until_first
        .iter()
        .all(|event| event["occurredAt"].as_str() < Some(first_at)));
}

/// `+` in an offset must be escaped in a query; the tests' times end in `Z`.
fn enc(time: &str) -> String {
    time.replace('+', "%2B")
}

#[actix_web::test]
async fn pages_follow_each_other_by_after_and_the_last_has_no_cursor() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 20, 2, 300).await;
    for user in 0..6 {
        grab_ok(&app, &id, &format!("u{user}"), "r1", 1).await;
    }
    let whole = events_page(&app, "limit=1000").await;
    assert_eq!(whole["nextCursor"], Value::Null, "{whole}");
    let whole = events_of(&whole);
    assert!(whole.len() >= 10, "{whole:?}");
    for limit in [1, 2, 5] {
        assert_eq!(
            every_event(&app, "x=1", limit).await,
            whole,
            "pages of {limit}"
        );
    }
    let first = events_page(&app, "limit=3").await;
    let cursor = first["nextCursor"].as_str().expect("a cursor");
    assert_eq!(cursor, whole[2]["id"], "the cursor is the last event's id");
    let next = events_page(&app, &format!("after={cursor}&limit=2")).await;
    assert_eq!(events_of(&next), whole[3..5]);
    let last_id = whole.last().expect("events")["id"].as_str().expect("an id");
    let after_last = events_page(&app, &format!("after={last_id}")).await;
    assert_eq!(after_last, json!({"events": [], "nextCursor": null}));
}

#[actix_web::test]
async fn bad_parameters_are_refused_naming_their_field() {
    let app = spawn_app().await;
    let cases = [
        ("type=BOGUS", "type"),
        ("type=INSTANCE_PAID,BOGUS", "type"),
        ("type=", "type"),
        ("from=yesterday", "from"),
        ("from=2026-13-01T00:00:00Z", "from"),
        ("until=1700000000", "until"),
        ("after=12", "after"),
        ("after=evt_12", "after"),
        ("after=evt_000000000001000G", "after"),
        ("after=EVT_0000000000010000", "after"),
        ("activityId=abc", "activityId"),
        ("storeId=", "storeId"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("afterSeq=3&after=x", "after"),
    ];
    for (query, field) in cases {
        let response = app
            .admin_get(&format!("/admin/v1/events?{query}"), ADMIN_TOKEN)
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let reply = json(response).await;
        assert_eq!(
            reply["error"]["code"], "VALIDATION_FAILED",
            "{query}: {reply}"
        );
        assert_eq!(error_fields(&reply), [field], "{query}: {reply}");
    }
    let response = app.get("/admin/v1/events").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn an_event_is_listed_as_soon_as_the_reply_that_caused_it_arrived() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, 50, 1, 300).await;
    for user in 0..20 {
        let order = grab_ok(&app, &id, &format!("user-{user}"), "r1", 1).await;
        let query = format!("activityId={id}&type=INSTANCE_CREATED&limit=1000");
        let events = events_of(&events_page(&app, &query).await);
        assert_eq!(events.len(), user + 1, "after grab {user}");
        let last = events.last().expect("the new order's event");
        assert_eq!(last["data"]["orderId"], order["orderId"], "{last}");
    }
}

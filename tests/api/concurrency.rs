//! Many concurrent grabs on one activity: never oversold, never over a user's limit,
//! idempotent under concurrency.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{create_online_flash_sale, stats, stock, wait_for_stock};
use playcore_testkit::app::{spawn_app, success_data, TestApp, ADMIN_TOKEN};

const STOCK: u64 = 50;
const PER_USER_LIMIT: u64 = 2;
const REQUESTS: usize = 400;
const USERS: usize = 150;

#[derive(Clone, Debug)]
struct Planned {
    user: String,
    request: String,
    quantity: u64,
}

/// 400 grabs from 150 users: users send 2 or 3 requests, every fifth asks for 2 units, and
/// a third of the late requests repeat an earlier request of the same user (same quantity).
fn plan() -> Vec<Planned> {
    let quantity = |index: usize| if index.is_multiple_of(5) { 2 } else { 1 };
    (0..REQUESTS)
        .map(|index| {
            let user = format!("user-{}", index % USERS);
            let original = if index >= 250 && index % 3 == 0 {
                index - USERS
            } else {
                index
            };
            Planned {
                user,
                request: format!("req-{original}"),
                quantity: quantity(original),
            }
        })
        .collect()
}

/// One grab, retried while the server answers 503 OVERLOADED.
async fn grab(app: &TestApp, id: &str, planned: &Planned) -> (StatusCode, Value) {
    let url = app.url(&format!("/api/v1/activities/{id}/orders"));
    let body = json!({
        "userId": planned.user,
        "requestId": planned.request,
        "quantity": planned.quantity,
    });
    for _ in 0..50 {
        let response = app
            .client
            .post(&url)
            .json(&body)
            .send()
            .await
            .expect("the request reaches the server");
        let status = response.status();
        let reply: Value = response.json().await.expect("a JSON body");
        if status == StatusCode::SERVICE_UNAVAILABLE && reply["error"]["code"] == "OVERLOADED" {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        return (status, reply);
    }
    panic!("still OVERLOADED after 50 tries: {planned:?}");
}

#[actix_web::test]
async fn concurrent_grabs_never_oversell_nor_exceed_the_per_user_limit() {
    let app = spawn_app().await;
    let id = create_online_flash_sale(&app, STOCK, PER_USER_LIMIT as u32, 300).await;
    let plan = plan();

    let answers = join_all(plan.iter().map(|planned| grab(&app, &id, planned))).await;

    // Every answer is an order or an expected refusal.
    let mut created: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut replayed: Vec<(String, String)> = Vec::new();
    let mut by_request: HashMap<(String, String), Vec<Option<String>>> = HashMap::new();
    for (planned, (status, reply)) in plan.iter().zip(&answers) {
        let order = match *status {
            StatusCode::CREATED | StatusCode::OK => {
                let data = success_data(reply);
                assert_eq!(data["userId"], planned.user.as_str(), "{reply}");
                assert_eq!(data["status"], "PENDING_PAY", "{reply}");
                let order_id = data["orderId"].as_str().expect("an order id").to_owned();
                if *status == StatusCode::CREATED {
                    let quantity = data["quantity"].as_u64().expect("a quantity");
                    assert_eq!(quantity, planned.quantity, "{reply}");
                    let previous =
                        created.insert(order_id.clone(), (planned.user.clone(), quantity));
                    assert!(previous.is_none(), "order {order_id} created twice");
                } else {
                    replayed.push((order_id.clone(), planned.user.clone()));
                }
                Some(order_id)
            }
            StatusCode::CONFLICT => {
                let code = reply["error"]["code"].as_str().unwrap_or_default();
                assert!(["SOLD_OUT", "LIMIT_EXCEEDED"].contains(&code), "{reply}");
                None
            }
            other => panic!("unexpected {other}: {reply}"),
        };
        by_request
            .entry((planned.user.clone(), planned.request.clone()))
            .or_default()
            .push(order);
    }

    // Exactly the stock was reserved, by the created orders.
    let reserved: u64 = created.values().map(|(_, quantity)| quantity).sum();
    assert_eq!(reserved, STOCK, "units in 201 answers");

    // Nobody holds more than the limit.
    let mut per_user: BTreeMap<&str, u64> = BTreeMap::new();
    for (user, quantity) in created.values() {
        *per_user.entry(user).or_default() += quantity;
    }
    let greedy: Vec<_> = per_user
        .iter()
        .filter(|(_, units)| **units > PER_USER_LIMIT)
        .collect();
    assert!(greedy.is_empty(), "over the limit: {greedy:?}");

    // A repeated request got the same order every time (or was refused every time).
    let mut repeats = 0;
    for ((user, request), orders) in &by_request {
        if orders.len() < 2 {
            continue;
        }
        repeats += 1;
        let distinct: BTreeSet<&Option<String>> = orders.iter().collect();
        assert_eq!(distinct.len(), 1, "{user}/{request} answered {orders:?}");
    }
    assert!(repeats >= 40, "the plan repeats requests ({repeats})");
    for (order_id, user) in &replayed {
        let (owner, _) = created
            .get(order_id)
            .expect("a replay names a created order");
        assert_eq!(owner, user);
    }

    // The activity agrees.
    let stats = stats(&app, &id).await;
    let units = &stats["stock"];
    let value = |field: &str| units[field].as_u64().expect("a number");
    assert_eq!(value("available"), 0, "{stats}");
    assert_eq!(value("reserved") + value("sold"), STOCK, "{stats}");
    assert_eq!(
        value("total"),
        value("available") + value("reserved") + value("sold")
    );
    assert_eq!(value("total"), STOCK);
    assert_eq!(
        stats["orders"]["pendingPay"],
        created.len() as u64,
        "{stats}"
    );
    wait_for_stock(&app, &id, stock(STOCK, 0, STOCK, 0)).await;

    // So does the admin order list.
    let path = format!("/admin/v1/activities/{id}/orders?limit=1000");
    let response = app.admin_get(&path, ADMIN_TOKEN).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.expect("a JSON body");
    let listed: BTreeMap<String, (String, u64)> = success_data(&page)["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|order| {
            (
                order["orderId"].as_str().unwrap().to_owned(),
                (
                    order["userId"].as_str().unwrap().to_owned(),
                    order["quantity"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(listed, created);
}

//! The event history outlives the journal: with snapshots every few events the journal is
//! truncated, and after a SIGTERM restart and a SIGKILL restart `GET /admin/v1/events`
//! answers the same history (same ids, same data) as before.

use std::thread;
use std::time::{Duration, Instant};

use playcore_testkit::process::{Api, Server, TestDir, ADMIN_TOKEN};
use serde_json::{json, Value};

const ENV: [(&str, &str); 2] = [
    ("PLAYCORE__STORAGE__SNAPSHOT_EVERY_EVENTS", "5"),
    ("PLAYCORE__STORAGE__SNAPSHOT_INTERVAL_SECONDS", "1"),
];
const USERS: usize = 30;

/// Every event, paging by `after` with pages of 7.
fn history(api: &Api) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = String::new();
    for _ in 0..10_000 {
        let path = format!("/admin/v1/events?limit=7{after}");
        let answer = api.admin_get(&path, ADMIN_TOKEN).expect("the events page");
        assert_eq!(answer.status, 200, "{answer:?}");
        events.extend(answer.data()["events"].as_array().expect("events").clone());
        match answer.data()["nextCursor"].as_str() {
            Some(cursor) => after = format!("&after={cursor}"),
            None => return events,
        }
    }
    panic!("paging does not end");
}

/// A gauge of `/metrics`.
fn metric(api: &Api, name: &str) -> u64 {
    let answer = api
        .client
        .get(format!("{}/metrics", api.base))
        .send()
        .expect("metrics")
        .text()
        .expect("a body");
    answer
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {answer}"))
}

/// Grabs by `USERS` users in two sales; every other order paid, every fifth cancelled.
fn trade(api: &Api) {
    let sales = [
        api.open_flash_sale(100, 1, 300),
        api.open_flash_sale(100, 1, 300),
    ];
    for user in 0..USERS {
        let sale = &sales[user % 2];
        let name = format!("user-{user}");
        let grabbed = api.grab(sale, &name, "r1").expect("grab");
        assert_eq!(grabbed.status, 201, "{grabbed:?}");
        let order = grabbed.data()["orderId"]
            .as_str()
            .expect("an order")
            .to_owned();
        if user.is_multiple_of(2) {
            assert_eq!(api.pay(&order, &name).expect("pay").status, 200);
        } else if user.is_multiple_of(5) {
            let path = format!("/api/v1/orders/{order}/cancel");
            let cancelled = api.post(&path, &json!({ "userId": name })).expect("cancel");
            assert_eq!(cancelled.status, 200, "{cancelled:?}");
        }
    }
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_history_is_the_same_after_snapshots_truncation_and_two_restarts() {
    let directory = TestDir::new("event-history");
    let log = directory.path().join("server.log");
    let mut server = Server::start_with_env(&directory.data_dir(), &log, &ENV);
    let api = Api::new(&server);
    trade(&api);
    wait_until(
        "three snapshots and a truncated journal",
        Duration::from_secs(20),
        || {
            metric(&api, "playcore_journal_snapshots_written") >= 3
                && metric(&api, "playcore_journal_records_truncated") > 0
                && metric(&api, "playcore_events_indexer_lag") == 0
        },
    );
    let before = history(&api);
    let types: Vec<&str> = before
        .iter()
        .filter_map(|event| event["type"].as_str())
        .collect();
    for wanted in [
        "ACTIVITY_CREATED",
        "INSTANCE_CREATED",
        "INSTANCE_PAID",
        "INSTANCE_CANCELLED",
    ] {
        assert!(types.contains(&wanted), "{wanted} in {types:?}");
    }
    assert_eq!(
        metric(&api, "playcore_events_stored"),
        before.len() as u64,
        "every event is served"
    );

    assert!(server.terminate().success(), "a clean SIGTERM exit");
    let mut server = Server::start_with_env(&directory.data_dir(), &log, &ENV);
    let api = Api::new(&server);
    let replayed = metric(&api, "playcore_recovery_events_replayed");
    assert!(
        replayed < before.len() as u64 / 2,
        "the journal was truncated: {replayed} entries replayed for {} events",
        before.len()
    );
    assert_eq!(history(&api), before, "after SIGTERM and restart");

    server.kill9();
    let server = Server::start_with_env(&directory.data_dir(), &log, &ENV);
    let api = Api::new(&server);
    assert_eq!(history(&api), before, "after SIGKILL and restart");
}

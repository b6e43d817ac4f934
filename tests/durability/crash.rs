//! Crash test: kill -9 the real server under load, restart it on the same data directory,
//! and check that everything a 2xx reply confirmed is still there (README, "Durability"
//! and "Invariants"), and that order timeouts still fire after recovery.
//!
//! Repeat a run with `CRASH_SEED=<seed printed by the failing run>`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use playcore_testkit::process::{
    assert_conservation, orders_per_user, stock, Api, Rng, Server, TestDir,
};
use serde_json::Value;

const CYCLES: usize = 8;
const THREADS: usize = 8;
const STOCK: u64 = 1500;
const PER_USER_LIMIT: u64 = 1;
const PAY_TIMEOUT_SECONDS: u64 = 3;
/// A confirmed PENDING_PAY order may still be PENDING_PAY this long after its deadline
/// in the checks right after a restart (the final check allows none).
const TIMER_SLACK_MS: i64 = 3_000;

/// What became of the mock payment a worker sent for its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pay {
    NotTried,
    /// The connection failed: the payment may or may not have happened.
    Unknown,
    /// A 2xx: the order was confirmed PAID.
    Paid,
    /// A definite refusal (4xx/5xx answer): the order was not paid.
    Refused,
}

/// An order a 2xx reply confirmed.
#[derive(Debug, Clone)]
struct Confirmed {
    order_id: String,
    user: String,
    request_id: String,
    /// The last status a 2xx reply confirmed: PENDING_PAY or PAID.
    status: &'static str,
    pay: Pay,
    expires_at_ms: i64,
    cycle: usize,
}

#[derive(Default)]
struct WorkerReport {
    confirmed: Vec<Confirmed>,
    /// Grabs whose answer was lost to the crash.
    unknown_grabs: usize,
    /// Non-2xx answers by error code.
    refusals: HashMap<String, usize>,
    /// Answers that should never happen (500, 400 …).
    unexpected: Vec<String>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn parse_ms(value: &Value) -> i64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|error| panic!("not RFC3339: {text}: {error}"))
        .timestamp_millis()
}

/// Grabs with fresh user ids and pays some of its own orders until told to stop or the
/// server goes away.
fn worker(
    api: Api,
    activity: String,
    cycle: usize,
    thread_no: usize,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
) -> WorkerReport {
    let mut report = WorkerReport::default();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let user = format!("c{cycle}-t{thread_no}-u{n}");
        let request_id = format!("r-{user}");
        n += 1;
        let answer = match api.grab(&activity, &user, &request_id) {
            Ok(answer) => answer,
            Err(_) => {
                report.unknown_grabs += 1;
                break;
            }
        };
        let order = match answer.status {
            201 => {
                let data = answer.data();
                assert_eq!(data["status"], "PENDING_PAY", "grab 201: {answer:?}");
                assert_eq!(data["userId"], user.as_str(), "grab 201: {answer:?}");
                Confirmed {
                    order_id: data["orderId"].as_str().expect("an orderId").to_owned(),
                    user: user.clone(),
                    request_id,
                    status: "PENDING_PAY",
                    pay: Pay::NotTried,
                    expires_at_ms: parse_ms(&data["expiresAt"]),
                    cycle,
                }
            }
            409 | 503 | 429 => {
                let code = answer.error_code().unwrap_or("?").to_owned();
                *report.refusals.entry(code).or_default() += 1;
                thread::sleep(Duration::from_millis(rng.range(2, 12)));
                continue;
            }
            _ => {
                report.unexpected.push(format!("grab {user}: {answer:?}"));
                continue;
            }
        };
        report.confirmed.push(order);
        if rng.range(0, 3) == 0 {
            let order = report.confirmed.last_mut().expect("just pushed");
            match api.pay(&order.order_id, &order.user) {
                Err(_) => {
                    order.pay = Pay::Unknown;
                    break;
                }
                Ok(answer) if answer.status == 200 => {
                    assert_eq!(answer.data()["status"], "PAID", "pay 200: {answer:?}");
                    order.status = "PAID";
                    order.pay = Pay::Paid;
                }
                Ok(answer) => {
                    order.pay = Pay::Refused;
                    if matches!(answer.status, 409 | 503 | 429) {
                        let code = format!("pay {}", answer.error_code().unwrap_or("?"));
                        *report.refusals.entry(code).or_default() += 1;
                    } else {
                        report
                            .unexpected
                            .push(format!("pay {}: {answer:?}", order.order_id));
                    }
                }
            }
        }
        thread::sleep(Duration::from_millis(rng.range(2, 12)));
    }
    report
}

/// When a view of the server was read: it reflects the state at some instant between
/// `sent` and `received`.
#[derive(Clone, Copy)]
struct Window {
    sent: i64,
    received: i64,
    /// Every deadline has long passed: nothing may still be PENDING_PAY.
    strict_timers: bool,
}

/// Whether `data` (an order as the server shows it) is a legal successor of what a 2xx
/// reply confirmed.
fn check_order(confirmed: &Confirmed, data: &Value, window: Window) -> Option<String> {
    if data["userId"] != confirmed.user.as_str() {
        return Some(format!(
            "confirmed order {confirmed:?} now belongs to someone else: {data}"
        ));
    }
    let status = data["status"].as_str().unwrap_or("?");
    let legal = match (confirmed.status, status) {
        ("PAID", "PAID") => true,
        ("PENDING_PAY", "PENDING_PAY") => {
            !window.strict_timers && window.sent < confirmed.expires_at_ms + TIMER_SLACK_MS
        }
        // A payment whose answer was lost may have gone through.
        ("PENDING_PAY", "PAID") => confirmed.pay == Pay::Unknown,
        // This test never cancels: the only way out of PENDING_PAY unpaid is the timer.
        ("PENDING_PAY", "TIMEOUT") => window.received >= confirmed.expires_at_ms,
        _ => false,
    };
    (!legal).then(|| {
        format!(
            "confirmed order {confirmed:?} has status {status} between {} and {} \
             (expiresAt {}): {data}",
            window.sent, window.received, confirmed.expires_at_ms
        )
    })
}

/// GETs each order and checks it.
fn check_orders_one_by_one(api: &Api, confirmed: &[Confirmed]) -> Vec<String> {
    confirmed
        .iter()
        .filter_map(|order| {
            let sent = now_ms();
            let answer = api.order(&order.order_id);
            let received = now_ms();
            if answer.status != 200 {
                return Some(format!("confirmed order {order:?} is gone: {answer:?}"));
            }
            let window = Window {
                sent,
                received,
                strict_timers: false,
            };
            check_order(order, answer.data(), window)
        })
        .collect()
}

/// Reads stats and the full order list (at one activity version) and checks that they
/// agree with each other, with the invariants and with every confirmed order.
fn check_view(
    api: &Api,
    activity: &str,
    confirmed: &[Confirmed],
    strict_timers: bool,
    context: &str,
) -> (Value, Vec<Value>) {
    let sent = now_ms();
    let (stats, orders) = api.consistent_view(activity);
    let window = Window {
        sent,
        received: now_ms(),
        strict_timers,
    };
    assert_conservation(&stats, context);
    let (_, _, reserved, sold) = stock(&stats);
    let count = |wanted: &str| {
        orders
            .iter()
            .filter(|order| order["status"] == wanted)
            .map(|order| order["quantity"].as_u64().expect("a quantity"))
            .sum::<u64>()
    };
    assert_eq!(
        reserved,
        count("PENDING_PAY"),
        "{context}: reserved vs PENDING_PAY orders: {stats}"
    );
    assert_eq!(
        sold,
        count("PAID"),
        "{context}: sold vs PAID orders: {stats}"
    );
    assert_eq!(
        stats["orders"]["total"].as_u64(),
        Some(orders.len() as u64),
        "{context}: stats order total vs the order list: {stats}"
    );
    for (user, held) in orders_per_user(&orders) {
        let units: u64 = held
            .iter()
            .map(|order| order["quantity"].as_u64().expect("a quantity"))
            .sum();
        // Every user id grabbed once: more than one order (whatever its status) is a
        // duplicate; more than the limit in live orders breaks the per-user limit.
        assert!(
            held.len() == 1 && units <= PER_USER_LIMIT,
            "{context}: user {user} holds {units} unit(s) in {} order(s): {held:?}",
            held.len()
        );
    }
    let listed: HashMap<&str, &Value> = orders
        .iter()
        .map(|order| (order["orderId"].as_str().expect("an orderId"), order))
        .collect();
    let violations: Vec<String> = confirmed
        .iter()
        .filter_map(|order| match listed.get(order.order_id.as_str()) {
            None => Some(format!(
                "confirmed order {order:?} missing from the order list"
            )),
            Some(found) => check_order(order, found, window),
        })
        .collect();
    assert!(
        violations.is_empty(),
        "{context}: {} violation(s):\n{}",
        violations.len(),
        violations.join("\n")
    );
    (stats, orders)
}

#[test]
fn confirmed_orders_survive_kill_9_and_timers_still_fire() {
    let started = Instant::now();
    let seed = playcore_testkit::process::seed("CRASH_SEED");
    let mut rng = Rng::new(seed);
    let dir = TestDir::new("playcore-crash-");
    let data_dir = dir.data_dir();

    let mut server = Server::start(&data_dir, &dir.path().join("run-0.log"));
    let activity = Api::new(&server).open_flash_sale(STOCK, PER_USER_LIMIT, PAY_TIMEOUT_SECONDS);

    let mut confirmed: Vec<Confirmed> = Vec::new();
    let mut unexpected: Vec<String> = Vec::new();
    for cycle in 0..CYCLES {
        let api = Api::new(&server);
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..THREADS)
            .map(|thread_no| {
                let (api, activity, stop) = (api.clone(), activity.clone(), stop.clone());
                let rng = Rng::new(rng.next_u64());
                thread::spawn(move || worker(api, activity, cycle, thread_no, rng, stop))
            })
            .collect();
        let load_ms = rng.range(300, 800);
        thread::sleep(Duration::from_millis(load_ms));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        let mut unknown = 0;
        let mut refusals: HashMap<String, usize> = HashMap::new();
        let confirmed_before = confirmed.len();
        for handle in workers {
            let report = handle.join().expect("a worker panicked");
            unknown += report.unknown_grabs;
            confirmed.extend(report.confirmed);
            unexpected.extend(report.unexpected);
            for (code, count) in report.refusals {
                *refusals.entry(code).or_default() += count;
            }
        }
        let in_flight_pays = confirmed[confirmed_before..]
            .iter()
            .filter(|order| order.pay == Pay::Unknown)
            .count();
        println!(
            "cycle {cycle}: killed after {load_ms} ms; {} confirmed, {unknown} grab(s) and \
             {in_flight_pays} pay(s) cut by the kill, refusals {refusals:?}",
            confirmed.len() - confirmed_before
        );

        server = Server::start(
            &data_dir,
            &dir.path().join(format!("run-{}.log", cycle + 1)),
        );
        let api = Api::new(&server);
        let context = format!("seed {seed}, after kill {cycle}");
        let violations = check_orders_one_by_one(&api, &confirmed[confirmed_before..]);
        assert!(
            violations.is_empty(),
            "{context}: {} violation(s):\n{}",
            violations.len(),
            violations.join("\n")
        );
        let (stats, _) = check_view(&api, &activity, &confirmed, false, &context);
        // Idempotency survives the crash: the same (userId, requestId) finds the same order.
        for order in confirmed
            .iter()
            .filter(|order| order.cycle == cycle)
            .take(5)
        {
            let replay = api
                .grab(&activity, &order.user, &order.request_id)
                .expect("the replay reaches the server");
            assert!(
                replay.status == 200 && replay.body["data"]["orderId"] == order.order_id.as_str(),
                "seed {seed}: replaying {order:?} after kill {cycle} gave {replay:?}"
            );
        }
        println!("cycle {cycle}: recovered, stats {}", stats["stock"]);
    }
    assert!(
        unexpected.is_empty(),
        "seed {seed}: unexpected answers:\n{}",
        unexpected.join("\n")
    );
    assert!(
        !confirmed.is_empty(),
        "seed {seed}: no grab was ever confirmed"
    );

    // Timers rebuilt by the last recovery: every unpaid order times out and gives its
    // stock back.
    let api = Api::new(&server);
    let latest_deadline = api
        .all_orders(&activity)
        .iter()
        .filter(|order| order["status"] == "PENDING_PAY")
        .map(|order| parse_ms(&order["expiresAt"]))
        .max()
        .unwrap_or(0);
    let wait_ms = (latest_deadline + 1_500 - now_ms()).clamp(0, 8_000);
    thread::sleep(Duration::from_millis(wait_ms as u64));
    // Strict: an unpaid order (no payment in flight at a kill) must be TIMEOUT now.
    let (stats, orders) = check_view(
        &api,
        &activity,
        &confirmed,
        true,
        &format!("seed {seed}, final"),
    );
    let (total, available, reserved, sold) = stock(&stats);
    let pending: Vec<&Value> = orders
        .iter()
        .filter(|order| order["status"] == "PENDING_PAY")
        .collect();
    assert!(
        pending.is_empty(),
        "seed {seed}: orders past their deadline still pending: {pending:?}"
    );
    assert_eq!(
        reserved, 0,
        "seed {seed}: stock still reserved after every deadline: {stats}"
    );
    assert_eq!(
        available + sold,
        total,
        "seed {seed}: stock not back: {stats}"
    );

    let timed_out: HashSet<&str> = orders
        .iter()
        .filter(|order| order["status"] == "TIMEOUT")
        .filter_map(|order| order["orderId"].as_str())
        .collect();
    println!(
        "final: {} confirmed, {} orders, {} timed out, stats {}; {:.1} s",
        confirmed.len(),
        orders.len(),
        timed_out.len(),
        stats["stock"],
        started.elapsed().as_secs_f64()
    );
    let status = server.terminate();
    assert!(
        status.success(),
        "graceful stop failed: {status}; log:\n{}",
        server.log()
    );
}

/// Archiving settings of the archive crash test: terminal orders leave memory one second
/// after their last change; no periodic snapshot, so recovery replays ORDERS_ARCHIVED from
/// the journal.
const ARCHIVE_ENV: [(&str, &str); 3] = [
    ("PLAYCORE__SCHEDULER__ARCHIVE_INTERVAL_SECONDS", "1"),
    ("PLAYCORE__SCHEDULER__ARCHIVE_AFTER_SECONDS", "1"),
    ("PLAYCORE__STORAGE__SNAPSHOT_INTERVAL_SECONDS", "3600"),
];

/// The activity's stats once `archived` of its orders are archived (waits up to 20 s).
fn wait_archived(api: &Api, activity: &str, archived: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = api.stats(activity);
        if stats["orders"]["archived"] == archived {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "never archived {archived}: {stats}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn archived_orders_survive_kill_9() {
    let dir = TestDir::new("playcore-archive-crash-");
    let data_dir = dir.data_dir();
    let mut server = Server::start_with_env(&data_dir, &dir.path().join("run-0.log"), &ARCHIVE_ENV);
    let api = Api::new(&server);
    // Limit 1 per user; u1..u3 pay, u4 and u5 leave their orders unpaid (never archived).
    let activity = api.open_flash_sale(10, 1, 300);
    let mut order_ids = Vec::new();
    for user in ["u1", "u2", "u3", "u4", "u5"] {
        let grabbed = api
            .grab(&activity, user, "r1")
            .expect("the grab reaches the server");
        assert_eq!(grabbed.status, 201, "{grabbed:?}");
        order_ids.push(
            grabbed.data()["orderId"]
                .as_str()
                .expect("an id")
                .to_owned(),
        );
    }
    for (user, order_id) in ["u1", "u2", "u3"].iter().zip(&order_ids) {
        let paid = api
            .pay(order_id, user)
            .expect("the payment reaches the server");
        assert_eq!(paid.status, 200, "{paid:?}");
    }
    let archived = wait_archived(&api, &activity, 3);
    let before: Vec<Value> = order_ids
        .iter()
        .map(|id| api.order(id).data().clone())
        .collect();
    assert!(
        before[..3].iter().all(|order| order["archived"] == true),
        "{before:?}"
    );
    assert!(
        before[3..]
            .iter()
            .all(|order| order.get("archived").is_none()),
        "{before:?}"
    );

    server.kill9();
    let server = Server::start_with_env(&data_dir, &dir.path().join("run-1.log"), &ARCHIVE_ENV);
    let api = Api::new(&server);

    let recovered = api.stats(&activity);
    for field in ["stock", "orders", "gmv", "users"] {
        assert_eq!(recovered[field], archived[field], "{field} after the kill");
    }
    assert!(
        server.log().contains("snapshots=0"),
        "the restart replayed the journal, no snapshot: {}",
        server.log()
    );
    for (order_id, order) in order_ids.iter().zip(&before) {
        assert_eq!(
            api.order(order_id).data(),
            order,
            "{order_id} after the kill"
        );
    }
    let replay = api
        .grab(&activity, "u1", "r1")
        .expect("the replay reaches the server");
    assert_eq!(replay.status, 200, "{replay:?}");
    assert_eq!(replay.data()["orderId"], before[0]["orderId"]);
    let again = api
        .grab(&activity, "u1", "r2")
        .expect("the grab reaches the server");
    assert_eq!(again.status, 409, "{again:?}");
    assert_eq!(again.error_code(), Some("LIMIT_EXCEEDED"));
    let fresh = api
        .grab(&activity, "u6", "r1")
        .expect("the grab reaches the server");
    assert_eq!(fresh.status, 201, "{fresh:?}");
}

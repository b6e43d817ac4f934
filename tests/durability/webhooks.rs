//! Webhooks from outside: the real binary delivers to a real receiver that fails often
//! (500 for about 30 % of requests, an answer past the attempt timeout for 5 %, a dropped
//! connection for 5 %), to three endpoints with different filters, during a rush of grabs,
//! payments, group fills and unpaid orders timing out over three activities, while the
//! server is killed with SIGKILL twice and restarted. Then, against the event history
//! (`GET /admin/v1/events`): every matching event reached every endpoint at least once and
//! nothing else did; per endpoint and activity the first deliveries arrived in event
//! order; one `webhook-id` always carried one body; and every signature verifies with the
//! npm `standardwebhooks` package (`e2e/webhooks/verify.mjs`, run with node, which must be
//! installed: `.ci/run` installs it and runs `npm ci` in `e2e/`).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use playcore_snapshots::event_store::parse_event_id;
use playcore_testkit::process::{
    Api, Server, TestDir, ADMIN_TOKEN, APPROVER_TOKEN, OPERATOR_TOKEN,
};
use playcore_testkit::receiver::{Answer, Received, Receiver};
use serde_json::{json, Value};

const ENDPOINTS: &str = "/admin/v1/webhooks/endpoints";
/// Every delivery must have arrived within this after the rush.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(90);
const PAY_TIMEOUT_SECONDS: u64 = 3;

/// The server's webhook settings: short attempts, many immediate retries (so no message is
/// dead-lettered by bad luck, and an activity's lane, which waits for each event, moves
/// fast), a breaker that rarely opens and closes quickly.
const SETTINGS: [(&str, &str); 5] = [
    ("PLAYCORE__WEBHOOKS__ALLOW_PRIVATE_ADDRESSES", "true"),
    ("PLAYCORE__WEBHOOKS__ATTEMPT_TIMEOUT_MS", "1000"),
    (
        "PLAYCORE__WEBHOOKS__RETRY_SCHEDULE_SECONDS",
        "[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]",
    ),
    ("PLAYCORE__WEBHOOKS__BREAKER_FAILURES", "50"),
    ("PLAYCORE__WEBHOOKS__BREAKER_OPEN_SECONDS", "1"),
];

/// The receiver's answer to its `number`-th request: a fixed pseudo-random mix.
fn flaky(request: &Received) -> Answer {
    let roll = request
        .number
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17)
        % 100;
    match roll {
        0..=29 => Answer::Status(500),
        30..=34 => Answer::Delayed(Duration::from_millis(1_500), 200),
        35..=39 => Answer::Drop,
        _ => Answer::Status(204),
    }
}

/// An endpoint as the test created it.
struct Endpoint {
    path: &'static str,
    id: String,
    secret: String,
    event_types: Vec<String>,
    activity: Option<String>,
    store: Option<String>,
    /// Its cursor when created: it receives the events after it.
    start_after: u64,
}

impl Endpoint {
    fn matches(&self, event: &Value) -> bool {
        let kind = event["type"].as_str().unwrap_or_default();
        position(event) > self.start_after
            && (self.event_types.is_empty() || self.event_types.iter().any(|t| t == kind))
            && self
                .activity
                .as_deref()
                .is_none_or(|id| event["activityId"] == id)
            && self
                .store
                .as_deref()
                .is_none_or(|id| event["storeId"] == id)
    }
}

fn position(event: &Value) -> u64 {
    parse_event_id(event["id"].as_str().expect("an event id")).expect("a well-formed id")
}

fn node_or_fail() {
    let version = Command::new("node").arg("--version").output();
    assert!(
        version.is_ok_and(|output| output.status.success()),
        "node is missing: install Node.js (apt-get install nodejs npm) and run `npm ci` in e2e/"
    );
    let e2e = playcore_testkit::workspace_root().join("e2e");
    if !e2e.join("node_modules/standardwebhooks").is_dir() {
        // The package lock pins it; npm installs it once, as `.ci/run` does.
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&e2e)
            .status();
        assert!(
            installed.is_ok_and(|status| status.success()),
            "standardwebhooks could not be installed: run `npm ci` in e2e/"
        );
    }
}

fn admin(api: &Api, path: &str, token: &str, body: &Value) -> Value {
    let answer = api
        .admin_post(path, token, body)
        .expect("the admin request reaches the server");
    assert!((200..300).contains(&answer.status), "{path}: {answer:?}");
    answer.data().clone()
}

/// Creates an activity (DRAFT); returns its id.
fn create(api: &Api, template: &str, store: &str, group_size: Option<u32>) -> String {
    let now = chrono::Utc::now();
    let mut body = json!({
        "templateCode": template, "title": "webhook rush", "storeId": store,
        "serviceId": "svc-1", "price": 990, "stock": 5000, "perUserLimit": 1,
        "startAt": (now - chrono::Duration::minutes(1)).to_rfc3339(),
        "endAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "payTimeoutSeconds": PAY_TIMEOUT_SECONDS,
    });
    if let Some(size) = group_size {
        body["rules"] = json!({"groupSize": size, "groupTtlSeconds": 600});
    }
    let created = admin(api, "/admin/v1/activities", OPERATOR_TOKEN, &body);
    created["id"].as_str().expect("an id").to_owned()
}

fn publish(api: &Api, id: &str) {
    for (step, token) in [
        ("submit", OPERATOR_TOKEN),
        ("approve", APPROVER_TOKEN),
        ("publish", OPERATOR_TOKEN),
    ] {
        admin(
            api,
            &format!("/admin/v1/activities/{id}/{step}"),
            token,
            &json!({}),
        );
    }
}

fn event_types(api: &Api, prefix: &str) -> Vec<String> {
    let answer = api
        .admin_get("/admin/v1/event-types", ADMIN_TOKEN)
        .expect("event types");
    let data = answer.data().clone();
    let list = data["eventTypes"].as_array().cloned();
    let names: Vec<String> = list
        .expect("a list of event types")
        .iter()
        .filter_map(|entry| entry["name"].as_str().or_else(|| entry["type"].as_str()))
        .filter(|name| name.starts_with(prefix))
        .map(str::to_owned)
        .collect();
    assert!(!names.is_empty(), "no {prefix} types in {data}");
    names
}

fn create_endpoint(
    api: &Api,
    receiver: &Receiver,
    path: &'static str,
    event_types: Vec<String>,
    activity: Option<String>,
    store: Option<String>,
) -> Endpoint {
    let body = json!({
        "url": receiver.url(path), "description": path, "eventTypes": event_types,
        "activityIds": activity.iter().collect::<Vec<_>>(),
        "storeIds": store.iter().collect::<Vec<_>>(),
    });
    let created = admin(api, ENDPOINTS, ADMIN_TOKEN, &body);
    let id = created["id"].as_str().expect("an id").to_owned();
    let status = api
        .admin_get(&format!("{ENDPOINTS}/{id}"), ADMIN_TOKEN)
        .expect("status");
    let cursor = status.data()["status"]["cursor"]
        .as_str()
        .map(str::to_owned);
    Endpoint {
        path,
        id,
        secret: created["secret"].as_str().expect("a secret").to_owned(),
        event_types,
        activity,
        store,
        start_after: cursor.and_then(|id| parse_event_id(&id)).unwrap_or(0),
    }
}

/// Grabs on the flash sale, paying two orders in three (the others time out).
fn rush_flash_sale(api: &Api, activity: &str, tag: &str, stop: &AtomicBool) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) && n < 20 {
        n += 1;
        let user = format!("{tag}-f{n}");
        let Ok(answer) = api.grab(activity, &user, &format!("r-{user}")) else {
            return;
        };
        if answer.status != 201 || n % 3 == 0 {
            continue;
        }
        let order = answer.data()["orderId"]
            .as_str()
            .expect("an order")
            .to_owned();
        if api.pay(&order, &user).is_err() {
            return;
        }
    }
}

/// Starts groups of `size` and fills them, paying every order but the leader's of every
/// fourth group (which times out).
fn rush_groups(api: &Api, activity: &str, size: u32, tag: &str, stop: &AtomicBool) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) && n < 6 {
        n += 1;
        let leader = format!("{tag}-g{activity}-{n}");
        let body = json!({"userId": leader, "requestId": format!("r-{leader}")});
        let Ok(answer) = api.post(&format!("/api/v1/activities/{activity}/groups"), &body) else {
            return;
        };
        if answer.status != 201 {
            continue;
        }
        let group = answer.data()["group"]["groupId"]
            .as_str()
            .expect("a group")
            .to_owned();
        let order = answer.data()["order"]["orderId"]
            .as_str()
            .expect("an order")
            .to_owned();
        if n % 4 == 0 {
            continue;
        }
        if api.pay(&order, &leader).is_err() {
            return;
        }
        for member in 1..size {
            let user = format!("{leader}-m{member}");
            let body = json!({"userId": user, "requestId": format!("r-{user}")});
            let Ok(joined) = api.post(&format!("/api/v1/groups/{group}/members"), &body) else {
                return;
            };
            if joined.status != 201 {
                break;
            }
            let order = joined.data()["order"]["orderId"]
                .as_str()
                .expect("an order")
                .to_owned();
            if api.pay(&order, &user).is_err() {
                return;
            }
        }
    }
}

/// Runs the rush on every activity; when `kill_after` is set, SIGKILLs the server that
/// long after the start (mid-rush, mid-delivery) and returns once the workers stopped.
fn rush(
    server: &mut Server,
    activities: &[(String, Option<u32>)],
    tag: &str,
    kill_after: Option<Duration>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = activities
        .iter()
        .cloned()
        .map(|(activity, size)| {
            let api = Api::new(server);
            let stop = Arc::clone(&stop);
            let tag = tag.to_owned();
            thread::spawn(move || match size {
                None => rush_flash_sale(&api, &activity, &tag, &stop),
                Some(size) => rush_groups(&api, &activity, size, &tag, &stop),
            })
        })
        .collect();
    if let Some(delay) = kill_after {
        thread::sleep(delay);
        server.kill9();
        stop.store(true, Ordering::Relaxed);
    }
    for worker in workers {
        worker.join().expect("a rush worker");
    }
}

/// The whole event history.
fn all_events(api: &Api) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = String::new();
    loop {
        let path = match after.as_str() {
            "" => "/admin/v1/events?limit=1000".to_owned(),
            cursor => format!("/admin/v1/events?limit=1000&after={cursor}"),
        };
        let answer = api.admin_get(&path, ADMIN_TOKEN).expect("events");
        let page = answer.data()["events"].as_array().expect("events").clone();
        let next = answer.data()["nextCursor"].as_str().map(str::to_owned);
        let done = page.is_empty() || next.is_none();
        events.extend(page);
        match next {
            Some(cursor) if !done => after = cursor,
            _ => return events,
        }
    }
}

/// The events each endpoint should have received that it has not (yet).
fn missing(receiver: &Receiver, endpoints: &[Endpoint], events: &[Value]) -> Vec<(String, String)> {
    let mut missing = Vec::new();
    for endpoint in endpoints {
        let received: HashSet<String> = receiver
            .received_at(endpoint.path)
            .iter()
            .filter_map(|request| request.header("webhook-id").map(str::to_owned))
            .collect();
        for event in events.iter().filter(|event| endpoint.matches(event)) {
            let id = event["id"].as_str().expect("id").to_owned();
            if !received.contains(&id) {
                missing.push((endpoint.path.to_owned(), id));
            }
        }
    }
    missing
}

/// Waits until every matching event reached its endpoints; returns the history.
fn wait_for_deliveries(api: &Api, receiver: &Receiver, endpoints: &[Endpoint]) -> Vec<Value> {
    let deadline = Instant::now() + DELIVERY_DEADLINE;
    loop {
        let events = all_events(api);
        let missing = missing(receiver, endpoints, &events);
        if missing.is_empty() {
            return events;
        }
        if Instant::now() > deadline {
            let statuses: Vec<Value> = endpoints
                .iter()
                .map(|endpoint| {
                    api.admin_get(&format!("{ENDPOINTS}/{}", endpoint.id), ADMIN_TOKEN)
                        .expect("status")
                        .body
                })
                .collect();
            panic!("{} deliveries missing after {DELIVERY_DEADLINE:?}, e.g. {:?}; statuses {statuses:?}", missing.len(), &missing[..missing.len().min(10)]);
        }
        thread::sleep(Duration::from_millis(500));
    }
}

fn assert_only_matching_events(
    receiver: &Receiver,
    endpoint: &Endpoint,
    events: &HashMap<String, Value>,
) {
    for request in receiver.received_at(endpoint.path) {
        let id = request.header("webhook-id").expect("a webhook-id");
        let event = events
            .get(id)
            .unwrap_or_else(|| panic!("{} got {id}, no such event", endpoint.path));
        assert!(
            endpoint.matches(event),
            "{} got {event}, which its filter excludes",
            endpoint.path
        );
    }
}

fn assert_first_deliveries_in_order(
    receiver: &Receiver,
    endpoint: &Endpoint,
    events: &HashMap<String, Value>,
) {
    let mut seen = HashSet::new();
    let mut last_per_activity: HashMap<String, u64> = HashMap::new();
    for request in receiver.received_at(endpoint.path) {
        let id = request
            .header("webhook-id")
            .expect("a webhook-id")
            .to_owned();
        if !seen.insert(id.clone()) {
            continue;
        }
        let event = &events[&id];
        let activity = event["activityId"].as_str().expect("activityId").to_owned();
        let at = position(event);
        let last = last_per_activity.insert(activity.clone(), at).unwrap_or(0);
        assert!(
            last < at,
            "{}: activity {activity}'s {id} arrived first after a later event",
            endpoint.path
        );
    }
}

fn assert_one_body_per_id(receiver: &Receiver, endpoint: &Endpoint) -> usize {
    let mut bodies: HashMap<String, String> = HashMap::new();
    let requests = receiver.received_at(endpoint.path);
    for request in &requests {
        let id = request
            .header("webhook-id")
            .expect("a webhook-id")
            .to_owned();
        let body = bodies
            .entry(id.clone())
            .or_insert_with(|| request.body.clone());
        assert_eq!(
            *body, request.body,
            "{}: {id} came with two bodies",
            endpoint.path
        );
    }
    requests.len() - bodies.len()
}

/// Writes every request with its endpoint's secret and has npm's `standardwebhooks` verify
/// them all.
fn verify_with_standardwebhooks(receiver: &Receiver, endpoints: &[Endpoint], dir: &Path) {
    let mut lines = String::new();
    for endpoint in endpoints {
        for request in receiver.received_at(endpoint.path) {
            let headers: HashMap<&str, &str> =
                ["webhook-id", "webhook-timestamp", "webhook-signature"]
                    .into_iter()
                    .map(|name| {
                        (
                            name,
                            request.header(name).expect("a Standard Webhooks header"),
                        )
                    })
                    .collect();
            let line = json!({"secret": endpoint.secret, "headers": headers, "body": request.body});
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
    }
    let file = dir.join("deliveries.jsonl");
    fs::write(&file, lines).expect("write the deliveries");
    let script = playcore_testkit::workspace_root().join("e2e/webhooks/verify.mjs");
    let output = Command::new("node")
        .arg(script)
        .arg(&file)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "standardwebhooks refused signatures: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("verified "), "{stdout}");
}

#[test]
fn deliveries_survive_a_flaky_receiver_and_two_kill9s() {
    node_or_fail();
    let dir = TestDir::new("webhooks-");
    let receiver = Receiver::start(flaky);
    let log = |n: usize| dir.path().join(format!("server-{n}.log"));
    let mut server = Server::start_with_env(&dir.data_dir(), &log(0), &SETTINGS);
    let api = Api::new(&server);

    let all = create_endpoint(&api, &receiver, "/all", Vec::new(), None, None);
    let flash_sale = create(&api, "FLASH_SALE", "store-f", None);
    let groups = create(&api, "GROUP_BUY", "store-g", Some(3));
    let other_groups = create(&api, "GROUP_BUY", "store-x", Some(2));
    let instances = event_types(&api, "INSTANCE_");
    let instances_of_one = create_endpoint(
        &api,
        &receiver,
        "/instances",
        instances,
        Some(flash_sale.clone()),
        None,
    );
    let group_types = event_types(&api, "GROUP_");
    let store_groups = create_endpoint(
        &api,
        &receiver,
        "/groups",
        group_types,
        None,
        Some("store-g".to_owned()),
    );
    let endpoints = [all, instances_of_one, store_groups];
    for activity in [&flash_sale, &groups, &other_groups] {
        publish(&api, activity);
    }
    let activities = [
        (flash_sale, None),
        (groups, Some(3)),
        (other_groups, Some(2)),
    ];

    for (run, kill_after) in [(0, 1_500), (1, 2_000)] {
        rush(
            &mut server,
            &activities,
            &format!("run{run}"),
            Some(Duration::from_millis(kill_after)),
        );
        server = Server::start_with_env(&dir.data_dir(), &log(run + 1), &SETTINGS);
    }
    rush(&mut server, &activities, "run2", None);
    // The unpaid orders time out after the rush: their events are delivered too.
    thread::sleep(Duration::from_secs(PAY_TIMEOUT_SECONDS + 2));

    let api = Api::new(&server);
    let history = wait_for_deliveries(&api, &receiver, &endpoints);
    let events: HashMap<String, Value> = history
        .iter()
        .map(|event| (event["id"].as_str().expect("id").to_owned(), event.clone()))
        .collect();
    let mut repeats = 0;
    for endpoint in &endpoints {
        let matching = history
            .iter()
            .filter(|event| endpoint.matches(event))
            .count();
        assert!(matching > 0, "{} matched no event", endpoint.path);
        assert_only_matching_events(&receiver, endpoint, &events);
        assert_first_deliveries_in_order(&receiver, endpoint, &events);
        repeats += assert_one_body_per_id(&receiver, endpoint);
    }
    assert!(
        repeats > 0,
        "the receiver's failures caused no retry: the test proves nothing"
    );
    verify_with_standardwebhooks(&receiver, &endpoints, dir.path());
    server.terminate();
}

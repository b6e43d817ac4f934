//! Black-box tests of the websockets (README, "Websockets") against the real binary: the
//! first frame, frames after grabs and payments, coalescing under a burst, the final frame
//! equal to the activity's state, group progress, 404 before the upgrade (unknown ids, and
//! activities the public detail does not show, with their groups), a slow client
//! dropped without affecting others, the heartbeat, a clean close at shutdown, and no frame
//! revealing state that kill -9 could lose.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use playcore_testkit::process::{
    assert_conservation, Api, Server, TestDir, APPROVER_TOKEN, OPERATOR_TOKEN,
};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{self, Message};

/// The default push interval (config/default.toml).
const PUSH_INTERVAL: Duration = Duration::from_millis(100);
/// How long a test waits for a frame it expects.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// One frame as the client received it.
#[derive(Clone, Debug)]
struct Received {
    at: Instant,
    body: Value,
}

/// How a subscriber's connection ended.
#[derive(Clone, Debug, PartialEq)]
enum Ending {
    /// A close frame with this code.
    Closed(u16),
    /// The connection ended without a close frame.
    Dropped(String),
}

/// A websocket client reading on its own thread and recording every frame.
struct Subscriber {
    frames: Arc<Mutex<Vec<Received>>>,
    ending: Arc<Mutex<Option<Ending>>>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl Subscriber {
    fn connect(server: &Server, path: &str) -> Subscriber {
        let stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        let url = format!("ws://127.0.0.1:{}{path}", server.port);
        let (mut socket, response) = tungstenite::client(url, stream).expect("the handshake");
        assert_eq!(response.status().as_u16(), 101);
        socket
            .get_mut()
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("a read timeout");
        let frames: Arc<Mutex<Vec<Received>>> = Arc::default();
        let ending: Arc<Mutex<Option<Ending>>> = Arc::default();
        let stop: Arc<AtomicBool> = Arc::default();
        let reader = {
            let (frames, ending, stop) = (frames.clone(), ending.clone(), stop.clone());
            thread::spawn(move || read_frames(socket, &frames, &ending, &stop))
        };
        Subscriber {
            frames,
            ending,
            stop,
            reader: Some(reader),
        }
    }

    fn frames(&self) -> Vec<Received> {
        self.frames.lock().expect("frames").clone()
    }

    fn bodies(&self) -> Vec<Value> {
        self.frames().into_iter().map(|frame| frame.body).collect()
    }

    fn ending(&self) -> Option<Ending> {
        self.ending.lock().expect("ending").clone()
    }

    /// The first frame (from the start) that satisfies `accept`; panics after a timeout.
    fn wait_for(&self, what: &str, accept: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + FRAME_TIMEOUT;
        loop {
            if let Some(found) = self.bodies().into_iter().find(|body| accept(body)) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no frame with {what} within {FRAME_TIMEOUT:?}; frames: {:?}; ending: {:?}",
                self.bodies(),
                self.ending()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn wait_for_ending(&self, timeout: Duration) -> Option<Ending> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(ending) = self.ending() {
                return Some(ending);
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn read_frames(
    mut socket: tungstenite::WebSocket<TcpStream>,
    frames: &Mutex<Vec<Received>>,
    ending: &Mutex<Option<Ending>>,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::Acquire) {
        match socket.read() {
            Ok(Message::Text(text)) => {
                let body = serde_json::from_str(text.as_str()).expect("a JSON frame");
                let at = Instant::now();
                frames.lock().expect("frames").push(Received { at, body });
            }
            Ok(Message::Close(frame)) => {
                let code = frame.map_or(1005, |frame| u16::from(frame.code));
                *ending.lock().expect("ending") = Some(Ending::Closed(code));
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(error))
                if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(error) => {
                let mut ending = ending.lock().expect("ending");
                ending.get_or_insert(Ending::Dropped(error.to_string()));
                return;
            }
        }
    }
}

/// `(total, available, reserved, sold)` of a frame or a detail.
fn stock_of(body: &Value) -> (u64, u64, u64, u64) {
    let field = |name: &str| body["stock"][name].as_u64().expect("a count");
    (
        field("total"),
        field("available"),
        field("reserved"),
        field("sold"),
    )
}

fn detail(api: &Api, activity: &str) -> Value {
    let answer = api
        .get(&format!("/api/v1/activities/{activity}"))
        .expect("GET activity");
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.data().clone()
}

fn start(dir: &TestDir, env: &[(&str, &str)]) -> Server {
    Server::start_with_env(&dir.data_dir(), &dir.path().join("server.log"), env)
}

/// Grabs with `threads` threads, `per_thread` grabs each, distinct users; returns the
/// order ids of the 201s.
fn burst(api: &Api, activity: &str, tag: &str, threads: usize, per_thread: usize) -> Vec<String> {
    let workers: Vec<JoinHandle<Vec<String>>> = (0..threads)
        .map(|thread_index| {
            let (api, activity, tag) = (api.clone(), activity.to_owned(), tag.to_owned());
            thread::spawn(move || {
                (0..per_thread)
                    .filter_map(|index| {
                        let user = format!("{tag}-{thread_index}-{index}");
                        let answer = api.grab(&activity, &user, "r1").ok()?;
                        (answer.status == 201)
                            .then(|| answer.data()["orderId"].as_str().map(str::to_owned))?
                    })
                    .collect()
            })
        })
        .collect();
    workers
        .into_iter()
        .flat_map(|worker| worker.join().expect("a grab thread"))
        .collect()
}

/// The value of an unlabelled metric in `/metrics`.
fn metric(api: &Api, name: &str) -> i64 {
    let response = api
        .client
        .get(format!("{}/metrics", api.base))
        .send()
        .expect("GET /metrics");
    let text = response.text().expect("a metrics body");
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}

#[test]
fn the_first_frame_is_the_current_state_then_grabs_and_payments_are_pushed() {
    let dir = TestDir::new("ws-first-");
    let server = start(&dir, &[]);
    let api = Api::new(&server);
    let activity = api.open_flash_sale(10, 1, 300);
    let early = burst(&api, &activity, "early", 1, 2);
    assert_eq!(early.len(), 2);
    let subscriber = Subscriber::connect(&server, &format!("/ws/activities/{activity}"));
    let first = subscriber.wait_for("any frame", |_| true);
    let now = detail(&api, &activity);
    assert_eq!(first["type"], "activity");
    assert_eq!(first["activityId"], activity.as_str());
    assert_eq!(first["status"], "ONLINE");
    assert_eq!(stock_of(&first), (10, 8, 2, 0), "{first}");
    assert_eq!(
        first["stock"], now["stock"],
        "the first frame is the current state"
    );
    assert_eq!(first["version"], now["version"]);
    let object = first.as_object().expect("an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["activityId", "status", "stock", "type", "version"]);

    let order = api.grab(&activity, "late", "r1").expect("grab");
    assert_eq!(order.status, 201, "{order:?}");
    subscriber.wait_for("3 reserved", |frame| stock_of(frame) == (10, 7, 3, 0));
    let order_id = order.data()["orderId"].as_str().expect("an order id");
    let paid = api.pay(order_id, "late").expect("pay");
    assert_eq!(paid.status, 200, "{paid:?}");
    subscriber.wait_for("1 sold", |frame| stock_of(frame) == (10, 7, 2, 1));
    let versions: Vec<u64> = subscriber
        .bodies()
        .iter()
        .map(|frame| frame["version"].as_u64().expect("a version"))
        .collect();
    assert!(
        versions.windows(2).all(|pair| pair[0] < pair[1]),
        "{versions:?}"
    );
}

#[test]
fn a_burst_is_coalesced_and_the_last_frame_is_the_activity_state() {
    let dir = TestDir::new("ws-burst-");
    let server = start(&dir, &[]);
    let api = Api::new(&server);
    let activity = api.open_flash_sale(1_000, 1, 300);
    let subscriber = Subscriber::connect(&server, &format!("/ws/activities/{activity}"));
    subscriber.wait_for("the first frame", |_| true);
    let started = Instant::now();
    let orders = burst(&api, &activity, "burst", 20, 10);
    let burst_duration = started.elapsed();
    assert_eq!(orders.len(), 200, "every grab of the burst succeeds");
    let last = subscriber.wait_for("200 reserved", |frame| stock_of(frame).2 == 200);
    thread::sleep(PUSH_INTERVAL * 3);
    let frames = subscriber.frames();
    let pushed = &frames[1..];
    let allowed = burst_duration.as_millis() / PUSH_INTERVAL.as_millis() + 3;
    println!(
        "200 grabs in {burst_duration:?}: {} frames pushed",
        pushed.len()
    );
    assert!(
        (pushed.len() as u128) <= allowed && pushed.len() < 100,
        "200 grabs in {burst_duration:?} gave {} frames (at most {allowed})",
        pushed.len()
    );
    let gaps: Vec<Duration> = frames
        .windows(2)
        .map(|pair| pair[1].at.duration_since(pair[0].at))
        .collect();
    // Arrival can be jittered by a busy box; without coalescing gaps would be ~1 ms.
    assert!(
        gaps.iter().all(|gap| *gap >= PUSH_INTERVAL / 2),
        "frames too close: {gaps:?}"
    );
    let final_state = detail(&api, &activity);
    assert_eq!(
        frames.last().expect("frames").body,
        last,
        "nothing after the final state"
    );
    assert_eq!(last["stock"], final_state["stock"]);
    assert_eq!(last["version"], final_state["version"]);
    let mut previous = 0;
    for frame in &frames {
        let (total, available, reserved, sold) = stock_of(&frame.body);
        assert_eq!(total, available + reserved + sold, "{}", frame.body);
        assert!(reserved + sold >= previous, "stock never moves back");
        previous = reserved + sold;
    }
}

/// A group buy with groups of `size`, open since a minute ago for an hour.
fn group_buy_body(size: u32) -> Value {
    let now = chrono::Utc::now();
    json!({
        "templateCode": "GROUP_BUY", "title": "ws group", "storeId": "store-1",
        "serviceId": "service-1", "price": 990, "stock": 100, "perUserLimit": 5,
        "startAt": (now - chrono::Duration::minutes(1)).to_rfc3339(),
        "endAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "payTimeoutSeconds": 300,
        "rules": {"groupSize": size, "groupTtlSeconds": 600},
    })
}

/// Creates an activity of `body` (a DRAFT); returns its id.
fn create_activity(api: &Api, body: &Value) -> String {
    let created = api
        .admin_post("/admin/v1/activities", OPERATOR_TOKEN, body)
        .expect("create");
    assert_eq!(created.status, 201, "{created:?}");
    created.data()["id"].as_str().expect("an id").to_owned()
}

/// Runs the admin `steps` (`submit`, `approve`, `reject`, `publish`) on the activity.
fn admin_steps(api: &Api, id: &str, steps: &[&str]) {
    for step in steps {
        let (token, body) = match *step {
            "approve" => (APPROVER_TOKEN, json!({})),
            "reject" => (APPROVER_TOKEN, json!({"remark": "not yet"})),
            _ => (OPERATOR_TOKEN, json!({})),
        };
        let path = format!("/admin/v1/activities/{id}/{step}");
        let answer = api.admin_post(&path, token, &body).expect(step);
        assert!((200..300).contains(&answer.status), "{step}: {answer:?}");
    }
}

/// Creates, approves and publishes a group buy with groups of `size`; returns its id.
fn open_group_buy(api: &Api, size: u32) -> String {
    let id = create_activity(api, &group_buy_body(size));
    admin_steps(api, &id, &["submit", "approve", "publish"]);
    id
}

fn pay_group_order(api: &Api, answer: &playcore_testkit::process::Answer, user: &str) {
    assert_eq!(answer.status, 201, "{answer:?}");
    let order = answer.data()["order"]["orderId"]
        .as_str()
        .expect("an order");
    let paid = api.pay(order, user).expect("pay");
    assert_eq!(paid.status, 200, "{paid:?}");
}

/// Starts a group of `activity` led by `user` once the activity is ONLINE (on the timer
/// tick after publication); returns the 201 reply.
fn start_group_answer(api: &Api, activity: &str, user: &str) -> playcore_testkit::process::Answer {
    let body = json!({"userId": user, "requestId": "r1"});
    let deadline = Instant::now() + FRAME_TIMEOUT;
    let started = loop {
        let answer = api
            .post(&format!("/api/v1/activities/{activity}/groups"), &body)
            .expect("start a group");
        if answer.status == 201 || Instant::now() > deadline {
            break answer;
        }
        thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(started.status, 201, "{started:?}");
    started
}

/// The group id of [`start_group_answer`]'s reply.
fn group_id(started: &playcore_testkit::process::Answer) -> String {
    let group = &started.data()["group"]["groupId"];
    group.as_str().expect("a group id").to_owned()
}

#[test]
fn a_group_socket_shows_progress_after_join_and_pay() {
    let dir = TestDir::new("ws-group-");
    let server = start(&dir, &[]);
    let api = Api::new(&server);
    let activity = open_group_buy(&api, 2);
    let started = start_group_answer(&api, &activity, "leader");
    let group = group_id(&started);
    let subscriber = Subscriber::connect(&server, &format!("/ws/groups/{group}"));
    let first = subscriber.wait_for("the first frame", |_| true);
    assert_eq!(first["type"], "group");
    assert_eq!(first["groupId"], group.as_str());
    assert_eq!(
        first["progress"],
        json!({"current": 0, "target": 2}),
        "{first}"
    );
    assert!(first["version"].is_u64(), "{first}");
    pay_group_order(&api, &started, "leader");
    subscriber.wait_for("1/2 paid", |frame| frame["progress"]["current"] == 1);
    let joined = api
        .post(
            &format!("/api/v1/groups/{group}/members"),
            &json!({"userId": "member", "requestId": "r1"}),
        )
        .expect("join");
    pay_group_order(&api, &joined, "member");
    let full = subscriber.wait_for("2/2 paid", |frame| frame["progress"]["current"] == 2);
    assert_eq!(full["status"], "SUCCESS", "{full}");
    let read = api
        .get(&format!("/api/v1/groups/{group}"))
        .expect("GET group");
    assert_eq!(read.data()["status"], full["status"]);
    assert_eq!(read.data()["progress"], full["progress"]);
}

/// `path` answers 404 NOT_FOUND to a plain GET, and its handshake is refused with 404:
/// no upgrade, no frame.
fn assert_not_found_before_the_upgrade(server: &Server, api: &Api, path: &str) {
    let answer = api.get(path).expect("GET");
    assert_eq!(answer.status, 404, "{path}: {answer:?}");
    assert_eq!(answer.error_code(), Some("NOT_FOUND"), "{path}: {answer:?}");
    let stream = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    let url = format!("ws://127.0.0.1:{}{path}", server.port);
    match tungstenite::client(url, stream) {
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            assert_eq!(response.status().as_u16(), 404, "{path}");
        }
        other => panic!("{path}: expected a 404 handshake, got {:?}", other.is_ok()),
    }
}

#[test]
fn unknown_ids_are_404_before_the_upgrade() {
    let dir = TestDir::new("ws-404-");
    let server = start(&dir, &[]);
    let api = Api::new(&server);
    for path in [
        "/ws/activities/999999",
        "/ws/activities/not-a-number",
        "/ws/groups/grp-999999-1",
        "/ws/groups/nonsense",
    ] {
        assert_not_found_before_the_upgrade(&server, &api, path);
    }
    let activity = api.open_flash_sale(1, 1, 300);
    let plain = api.get(&format!("/ws/activities/{activity}")).expect("GET");
    assert_eq!(plain.status, 400, "not a handshake: {plain:?}");
    assert_eq!(plain.error_code(), Some("VALIDATION_FAILED"));
}

/// An activity the public detail does not show (never published: DRAFT, PENDING,
/// APPROVED, REJECTED) has no websocket either, with the detail's 404 envelope; once
/// published, it upgrades and pushes its state.
#[test]
fn activities_that_are_not_public_are_404_before_the_upgrade() {
    let dir = TestDir::new("ws-not-public-");
    let server = start(&dir, &[]);
    let api = Api::new(&server);
    let steps: [(&str, &[&str]); 4] = [
        ("DRAFT", &[]),
        ("PENDING", &["submit"]),
        ("APPROVED", &["submit", "approve"]),
        ("REJECTED", &["submit", "reject"]),
    ];
    let mut approved = String::new();
    for (status, steps) in steps {
        let id = create_activity(&api, &group_buy_body(2));
        admin_steps(&api, &id, steps);
        let admin = api
            .admin_get(&format!("/admin/v1/activities/{id}"), OPERATOR_TOKEN)
            .expect("GET admin detail");
        assert_eq!(admin.data()["status"], status, "{admin:?}");
        let detail = api.get(&format!("/api/v1/activities/{id}")).expect("GET");
        assert_eq!(detail.status, 404, "{status}: {detail:?}");
        let path = format!("/ws/activities/{id}");
        assert_not_found_before_the_upgrade(&server, &api, &path);
        let socket = api.get(&path).expect("GET");
        assert_eq!(socket.body["error"], detail.body["error"], "{status}");
        if status == "APPROVED" {
            approved = id;
        }
    }
    admin_steps(&api, &approved, &["publish"]);
    let path = format!("/ws/activities/{approved}");
    let subscriber = Subscriber::connect(&server, &path);
    let first = subscriber.wait_for("the first frame", |_| true);
    assert_eq!(first["activityId"], approved.as_str(), "{first}");
}

/// An edit sends a published activity back to DRAFT: it is no longer public, and neither
/// its websocket nor those of its groups open, as their H5 pages are 404.
#[test]
fn an_activity_edited_back_to_draft_and_its_groups_are_404_before_the_upgrade() {
    let dir = TestDir::new("ws-edited-");
    let server = start(&dir, &[]);
    let api = Api::new(&server);
    let activity = open_group_buy(&api, 2);
    let group = group_id(&start_group_answer(&api, &activity, "leader"));
    let group_path = format!("/ws/groups/{group}");
    drop(Subscriber::connect(&server, &group_path));
    let mut body = group_buy_body(2);
    body["title"] = json!("ws group, edited");
    let edit = api
        .client
        .put(format!("{}/admin/v1/activities/{activity}", api.base))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&body);
    let edited = playcore_testkit::process::send(edit).expect("PUT");
    assert_eq!(edited.status, 200, "{edited:?}");
    assert_eq!(edited.data()["status"], "DRAFT", "{edited:?}");
    let detail = api
        .get(&format!("/api/v1/activities/{activity}"))
        .expect("GET");
    assert_eq!(detail.status, 404, "{detail:?}");
    let page = api.get(&format!("/h5/groups/{group}")).expect("GET page");
    assert_eq!(page.status, 404, "the group page");
    assert_not_found_before_the_upgrade(&server, &api, &format!("/ws/activities/{activity}"));
    assert_not_found_before_the_upgrade(&server, &api, &group_path);
}

/// A socket that completes the upgrade and then never reads; its receive buffer is tiny
/// so the server's side fills quickly.
fn never_reading_client(port: u16, path: &str) -> TcpStream {
    let address: SocketAddr = ([127, 0, 0, 1], port).into();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("a runtime");
    let stream = runtime
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.set_recv_buffer_size(2048)?;
            socket.connect(address).await?.into_std()
        })
        .expect("connect with a small receive buffer");
    stream.set_nonblocking(false).expect("blocking");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    (&stream)
        .write_all(request.as_bytes())
        .expect("send the upgrade");
    let mut head = [0u8; 12];
    (&stream).read_exact(&mut head).expect("the status line");
    assert_eq!(&head, b"HTTP/1.1 101", "upgraded");
    stream
}

/// Reads `stream` until the server ends the connection; returns whether it did in time.
fn ends_within(mut stream: TcpStream, timeout: Duration) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("a read timeout");
    let deadline = Instant::now() + timeout;
    let mut buffer = [0u8; 65536];
    while Instant::now() < deadline {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn a_slow_client_is_dropped_and_the_others_get_every_update() {
    let dir = TestDir::new("ws-slow-");
    let env = [
        ("PLAYCORE__WS__PUSH_INTERVAL_MS", "1"),
        ("PLAYCORE__WS__SLOW_CLIENT_TIMEOUT_MS", "300"),
    ];
    let server = start(&dir, &env);
    let api = Api::new(&server);
    let activity = api.open_flash_sale(1_000_000, 1, 300);
    let path = format!("/ws/activities/{activity}");
    let normal = Subscriber::connect(&server, &path);
    let slow = never_reading_client(server.port, &path);
    assert_eq!(metric(&api, "playcore_ws_connections"), 2);
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let grabbers: Vec<JoinHandle<()>> = (0..8)
        .map(|thread_index| {
            let (api, activity, stop, rounds) =
                (api.clone(), activity.clone(), stop.clone(), rounds.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    let round = rounds.fetch_add(1, Ordering::Relaxed);
                    let _ = api.grab(&activity, &format!("slow-{thread_index}-{round}"), "r1");
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric(&api, "playcore_ws_slow_clients_dropped_total") == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Release);
    grabbers
        .into_iter()
        .for_each(|grabber| grabber.join().expect("a grab thread"));
    let dropped = metric(&api, "playcore_ws_slow_clients_dropped_total");
    let grabs = rounds.load(Ordering::Relaxed);
    assert_eq!(
        dropped, 1,
        "the slow client is dropped ({grabs} grabs sent)"
    );
    assert!(
        ends_within(slow, Duration::from_secs(20)),
        "the server ended its connection"
    );

    let final_state = detail(&api, &activity);
    let final_taken = stock_of(&final_state).2 + stock_of(&final_state).3;
    normal.wait_for("the final state", |frame| {
        frame["stock"] == final_state["stock"]
    });
    assert_eq!(
        normal.ending(),
        None,
        "the normal client is still connected"
    );
    let frames = normal.bodies();
    println!(
        "{grabs} grabs, {} frames to the normal client",
        frames.len()
    );
    assert!(
        frames.len() > 50,
        "it kept receiving: {} frames",
        frames.len()
    );
    let versions: Vec<u64> = frames
        .iter()
        .map(|f| f["version"].as_u64().expect("v"))
        .collect();
    assert!(versions.windows(2).all(|pair| pair[0] < pair[1]));
    assert_eq!(stock_of(frames.last().expect("a frame")).2, final_taken);
    assert_eq!(
        metric(&api, "playcore_ws_connections"),
        1,
        "only the normal one is open"
    );
}

#[test]
fn silent_clients_are_closed_and_live_ones_kept_by_the_heartbeat() {
    let dir = TestDir::new("ws-heartbeat-");
    let env = [
        ("PLAYCORE__WS__HEARTBEAT_INTERVAL_MS", "100"),
        ("PLAYCORE__WS__CLIENT_TIMEOUT_MS", "500"),
    ];
    let server = start(&dir, &env);
    let api = Api::new(&server);
    let activity = api.open_flash_sale(10, 1, 300);
    let path = format!("/ws/activities/{activity}");
    // tungstenite answers pings while it reads: this one stays.
    let live = Subscriber::connect(&server, &path);
    let silent = never_reading_client(server.port, &path);
    let started = Instant::now();
    assert!(
        ends_within(silent, Duration::from_secs(5)),
        "the silent client is closed"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "not before its timeout"
    );
    thread::sleep(Duration::from_millis(800));
    assert_eq!(live.ending(), None, "a client that answers pings stays");
}

#[test]
fn shutdown_closes_websockets_cleanly_and_quickly() {
    let dir = TestDir::new("ws-shutdown-");
    let mut server = start(&dir, &[]);
    let api = Api::new(&server);
    let activity = api.open_flash_sale(10, 1, 300);
    let subscriber = Subscriber::connect(&server, &format!("/ws/activities/{activity}"));
    subscriber.wait_for("the first frame", |_| true);
    let started = Instant::now();
    let status = server.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "open websockets must not hold the drain ({:?})",
        started.elapsed()
    );
    let ending = subscriber.wait_for_ending(Duration::from_secs(2));
    assert_eq!(
        ending,
        Some(Ending::Closed(1001)),
        "a close frame, Going Away"
    );
}

#[test]
fn no_frame_reveals_state_that_kill_9_loses() {
    let dir = TestDir::new("ws-durable-");
    let mut server = start(&dir, &[]);
    let api = Api::new(&server);
    let activity = api.open_flash_sale(100_000, 1, 3_600);
    let subscriber = Subscriber::connect(&server, &format!("/ws/activities/{activity}"));
    subscriber.wait_for("the first frame", |_| true);
    let grabbers: Vec<JoinHandle<()>> = (0..8)
        .map(|thread_index| {
            let (api, activity) = (api.clone(), activity.clone());
            thread::spawn(move || {
                for index in 0.. {
                    let user = format!("crash-{thread_index}-{index}");
                    if api.grab(&activity, &user, "r1").is_err() {
                        return; // the server is gone
                    }
                }
            })
        })
        .collect();
    subscriber.wait_for("50 reserved", |frame| stock_of(frame).2 >= 50);
    server.kill9();
    grabbers
        .into_iter()
        .for_each(|grabber| grabber.join().expect("a grab thread"));
    let shown = subscriber
        .bodies()
        .iter()
        .map(|frame| stock_of(frame).2 + stock_of(frame).3)
        .max()
        .expect("frames");
    let restarted = Server::start(&dir.data_dir(), &dir.path().join("restart.log"));
    let api = Api::new(&restarted);
    let recovered = detail(&api, &activity);
    assert_conservation(&recovered, "after kill -9");
    let (_, _, reserved, sold) = stock_of(&recovered);
    assert!(
        reserved + sold >= shown,
        "a frame showed {shown} taken, but only {} survived kill -9",
        reserved + sold
    );
}

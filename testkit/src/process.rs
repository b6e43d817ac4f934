//! The black-box harness: runs the real `playcore` binary as a child process (so it can be
//! killed with SIGKILL), talks HTTP to it with a blocking client, and keeps its log in a
//! file so tests can assert on log lines.

use std::collections::HashMap;
use std::fs::{self, File};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{json, Value};

pub use crate::tokens::*;

/// How long a start may take until `/readyz` answers 200.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a graceful stop may take (the server drains for at most 10 s by default).
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A temporary directory removed on drop, except when the test is panicking: then it is
/// kept (and its path printed) so the data directory and logs can be inspected.
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    pub fn new(prefix: &str) -> TestDir {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("a temporary directory");
        TestDir { path: dir.keep() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path.join("data")
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("test failed: data and logs kept in {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// The server binary under test: the one `PLAYCORE_TEST_BINARY` names (to run a black-box
/// test against another build, e.g. the previous one), else this build's, which cargo puts
/// beside the test binaries' `deps` directory before it runs the server's tests.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("PLAYCORE_TEST_BINARY") {
        return PathBuf::from(path);
    }
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let profile_dir = test_binary
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is in target/PROFILE/deps");
    profile_dir.join(format!("playcore{}", std::env::consts::EXE_SUFFIX))
}

/// Runs `playcore ARGS` (a command other than `serve`) to completion.
pub fn run_playcore(args: &[&str]) -> std::process::Output {
    Command::new(binary())
        .args(args)
        .current_dir(crate::workspace_root())
        .env_remove("PLAYCORE_ENV")
        .env("RUST_LOG", "warn")
        .output()
        .expect("the playcore binary runs")
}

/// A free port: bind port 0, read the port, release it.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("a local address").port()
}

/// One run of the server binary.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub base: String,
    pub log_path: PathBuf,
}

impl Server {
    /// Starts `playcore serve` on a free port and `data_dir`, logging to `log_path`, and
    /// waits until `/readyz` answers 200.
    pub fn start(data_dir: &Path, log_path: &Path) -> Server {
        Server::start_with_env(data_dir, log_path, &[])
    }

    /// [`Server::start`] with extra environment variables (`PLAYCORE__SECTION__KEY`).
    pub fn start_with_env(data_dir: &Path, log_path: &Path, env: &[(&str, &str)]) -> Server {
        Server::launch(data_dir, log_path, env, &[])
    }

    /// [`Server::start`] with extra command-line flags (`--demo`).
    pub fn start_with_args(data_dir: &Path, log_path: &Path, args: &[&str]) -> Server {
        Server::launch(data_dir, log_path, &[], args)
    }

    /// [`Server::start`] with extra flags and environment variables.
    pub fn start_with_args_and_env(
        data_dir: &Path,
        log_path: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        Server::launch(data_dir, log_path, env, args)
    }

    fn launch(data_dir: &Path, log_path: &Path, env: &[(&str, &str)], args: &[&str]) -> Server {
        let mut server = Server::spawn(data_dir, log_path, env, args);
        if let Err(status) = server.wait_ready() {
            panic!(
                "the server exited before it was ready ({status}); log:\n{}",
                server.log()
            );
        }
        server
    }

    /// Starts the server like [`Server::start_with_env`], but a server that exits before it
    /// is ready (a refused data directory) is an answer, not a panic: its exit status.
    pub fn try_start(
        data_dir: &Path,
        log_path: &Path,
        env: &[(&str, &str)],
    ) -> Result<Server, ExitStatus> {
        let mut server = Server::spawn(data_dir, log_path, env, &[]);
        server.wait_ready().map(|()| server)
    }

    fn spawn(data_dir: &Path, log_path: &Path, env: &[(&str, &str)], args: &[&str]) -> Server {
        let port = free_port();
        let log = File::create(log_path).expect("create the log file");
        let child = Command::new(binary())
            // Flow control off unless the test's variables turn it on (set after this).
            .env("PLAYCORE__FLOW__ENABLED", "false")
            .envs(env.iter().copied())
            .arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .current_dir(crate::workspace_root())
            .env_remove("PLAYCORE_ENV")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .expect("the playcore binary starts");
        Server {
            child: Some(child),
            port,
            base: format!("http://127.0.0.1:{port}"),
            log_path: log_path.to_owned(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a running server").id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn log(&self) -> String {
        read_log(&self.log_path)
    }

    /// Waits until `/readyz` answers 200; the exit status if the server exits first.
    fn wait_ready(&mut self) -> Result<(), ExitStatus> {
        let client = client();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(status);
            }
            if let Ok(response) = client.get(self.url("/readyz")).send() {
                if response.status().as_u16() == 200 {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "/readyz not 200 after {READY_TIMEOUT:?}; log:\n{}",
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL (what `Child::kill` sends on Unix) and reap.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("a running server");
        child.kill().expect("SIGKILL the server");
        child.wait().expect("reap the killed server");
    }

    /// Waits up to `timeout` for the server to exit by itself; its status, or `None` while
    /// it still runs.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut().expect("a running server");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("wait for the server") {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then waits for the exit (graceful: drain, snapshots, journal synced).
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("a running server");
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM failed: {status}");
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("wait for the server") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server did not stop within {STOP_TIMEOUT:?} of SIGTERM; log:\n{}",
                    read_log(&self.log_path)
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn read_log(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// A blocking client with a fresh connection pool (after a restart, pooled connections
/// to the dead process must not be reused).
pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client")
}

/// An HTTP answer: status and the JSON body (`Value::Null` when not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn data(&self) -> &Value {
        assert_eq!(self.body["success"], true, "not a success: {self:?}");
        &self.body["data"]
    }

    pub fn error_code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }
}

/// Sends a request; `Err` when the transport failed (the outcome is unknown).
pub fn send(request: reqwest::blocking::RequestBuilder) -> Result<Answer, reqwest::Error> {
    let response = request.send()?;
    let status = response.status().as_u16();
    // A body cut by a crash is a transport error too: the answer was not received.
    let bytes = response.bytes()?;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Answer { status, body })
}

/// Talks to one server run.
#[derive(Clone)]
pub struct Api {
    pub client: Client,
    pub base: String,
}

impl Api {
    pub fn new(server: &Server) -> Api {
        Api {
            client: client(),
            base: server.base.clone(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> Result<Answer, reqwest::Error> {
        send(self.client.get(self.url(path)))
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Answer, reqwest::Error> {
        send(self.client.post(self.url(path)).json(body))
    }

    pub fn admin_get(&self, path: &str, token: &str) -> Result<Answer, reqwest::Error> {
        send(self.client.get(self.url(path)).bearer_auth(token))
    }

    pub fn admin_post(
        &self,
        path: &str,
        token: &str,
        body: &Value,
    ) -> Result<Answer, reqwest::Error> {
        send(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
    }

    /// Creates, submits, approves and publishes a flash sale that is open now; returns its id.
    pub fn open_flash_sale(
        &self,
        stock: u64,
        per_user_limit: u64,
        pay_timeout_seconds: u64,
    ) -> String {
        let now = chrono::Utc::now();
        let body = json!({
            "templateCode": "FLASH_SALE",
            "title": "crash test sale",
            "storeId": "store-1",
            "serviceId": "service-1",
            "price": 990,
            "stock": stock,
            "perUserLimit": per_user_limit,
            "startAt": (now - chrono::Duration::minutes(1)).to_rfc3339(),
            "endAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
            "payTimeoutSeconds": pay_timeout_seconds,
        });
        let created = self
            .admin_post("/admin/v1/activities", OPERATOR_TOKEN, &body)
            .expect("create reaches the server");
        assert_eq!(created.status, 201, "create: {created:?}");
        let id = created.data()["id"]
            .as_str()
            .expect("an activity id")
            .to_owned();
        for (step, token) in [
            ("submit", OPERATOR_TOKEN),
            ("approve", APPROVER_TOKEN),
            ("publish", OPERATOR_TOKEN),
        ] {
            let answer = self
                .admin_post(
                    &format!("/admin/v1/activities/{id}/{step}"),
                    token,
                    &json!({}),
                )
                .expect("the admin step reaches the server");
            assert!((200..300).contains(&answer.status), "{step}: {answer:?}");
        }
        id
    }

    pub fn grab(
        &self,
        activity: &str,
        user: &str,
        request_id: &str,
    ) -> Result<Answer, reqwest::Error> {
        self.post(
            &format!("/api/v1/activities/{activity}/orders"),
            &json!({ "userId": user, "requestId": request_id }),
        )
    }

    pub fn pay(&self, order: &str, user: &str) -> Result<Answer, reqwest::Error> {
        self.post(
            &format!("/api/v1/orders/{order}/pay"),
            &json!({ "userId": user }),
        )
    }

    pub fn order(&self, order: &str) -> Answer {
        self.get(&format!("/api/v1/orders/{order}"))
            .expect("GET order reaches the server")
    }

    pub fn stats(&self, activity: &str) -> Value {
        let answer = self
            .admin_get(
                &format!("/admin/v1/activities/{activity}/stats"),
                OPERATOR_TOKEN,
            )
            .expect("stats reach the server");
        assert_eq!(answer.status, 200, "stats: {answer:?}");
        answer.data().clone()
    }

    /// Every order of the activity, through all pages.
    pub fn all_orders(&self, activity: &str) -> Vec<Value> {
        let mut orders = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/admin/v1/activities/{activity}/orders?limit=1000");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let answer = self
                .admin_get(&path, OPERATOR_TOKEN)
                .expect("orders reach the server");
            assert_eq!(answer.status, 200, "orders page: {answer:?}");
            let data = answer.data();
            orders.extend(
                data["orders"]
                    .as_array()
                    .expect("an orders array")
                    .iter()
                    .cloned(),
            );
            match data["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return orders,
            }
        }
    }

    /// Stats and the full order list read at the same activity version (no timer fired
    /// in between), so they can be compared. Timers fire once per tick, so a read that is
    /// shorter than a tick soon falls between two; retried for up to 15 s.
    pub fn consistent_view(&self, activity: &str) -> (Value, Vec<Value>) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let before = self.stats(activity);
            let orders = self.all_orders(activity);
            let after = self.stats(activity);
            if before["version"] == after["version"] {
                if attempts > 1 {
                    println!("consistent view after {attempts} attempts");
                }
                return (after, orders);
            }
            assert!(
                Instant::now() < deadline,
                "the activity never stood still long enough to read stats and orders \
                 ({attempts} attempts)"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// `(total, available, reserved, sold)` of a stats body.
pub fn stock(stats: &Value) -> (u64, u64, u64, u64) {
    let stock = &stats["stock"];
    let field = |name: &str| {
        stock[name]
            .as_u64()
            .unwrap_or_else(|| panic!("stock.{name} is not a count: {stats}"))
    };
    (
        field("total"),
        field("available"),
        field("reserved"),
        field("sold"),
    )
}

/// Stock conservation: total == available + reserved + sold, sold + reserved <= total.
pub fn assert_conservation(stats: &Value, context: &str) {
    let (total, available, reserved, sold) = stock(stats);
    assert_eq!(
        total,
        available + reserved + sold,
        "{context}: stock not conserved: {stats}"
    );
    assert!(sold + reserved <= total, "{context}: oversold: {stats}");
}

/// Orders per user id.
pub fn orders_per_user(orders: &[Value]) -> HashMap<String, Vec<&Value>> {
    let mut per_user: HashMap<String, Vec<&Value>> = HashMap::new();
    for order in orders {
        let user = order["userId"]
            .as_str()
            .expect("an order userId")
            .to_owned();
        per_user.entry(user).or_default().push(order);
    }
    per_user
}

/// A small deterministic generator (xorshift64*), so a failing run can be repeated
/// from its printed seed.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `low..high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low)
    }
}

/// The seed from `env_name` when set, else from the clock; printed either way.
pub fn seed(env_name: &str) -> u64 {
    let seed = std::env::var(env_name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("a clock after 1970")
                .as_nanos() as u64
        });
    println!("seed {seed} (repeat with {env_name}={seed})");
    seed
}

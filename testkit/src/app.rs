//! The application in the test process: start it on port 0 with its own data directory,
//! talk to it with an async client, read envelopes.

use std::sync::Once;

use actix_web::dev::ServerHandle;
use actix_web::rt::task::JoinHandle;
use playcore::config::Settings;
use playcore::startup::{Application, StartupError};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::Response;
use serde_json::Value;
use tempfile::TempDir;

pub use crate::tokens::*;

/// A running application and a client for it. Dropping it leaves the server running
/// until the test process ends; `stop` or `restart` shut it down gracefully.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    /// Removed when the last owner drops it; `stop` hands it back for a restart.
    pub data_dir: TempDir,
    pub settings: Settings,
    server: ServerHandle,
    running: JoinHandle<Result<(), StartupError>>,
}

/// Logs go to the test output when `TEST_LOG` is set (`TEST_LOG=1 cargo test …`).
fn init_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            playcore::telemetry::init();
        }
    });
}

/// The application on the embedded defaults, port 0, a fresh data directory.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like `spawn_app`, with settings adjusted by `configure` before the start.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("a temporary data directory");
    spawn_app_in(data_dir, configure).await
}

/// Starts the application on `data_dir` (which may hold a previous run's data).
pub async fn spawn_app_in(data_dir: TempDir, configure: impl FnOnce(&mut Settings)) -> TestApp {
    init_logs();
    let mut settings = Settings::embedded_defaults().expect("the embedded defaults load");
    settings.server.bind = "127.0.0.1:0".to_owned();
    settings.server.workers = 2;
    settings.server.shutdown_timeout_seconds = 5;
    settings.storage.data_dir = data_dir.path().to_owned();
    // Flow control off unless a test turns it on: the tests send many requests from one
    // address, user and device.
    settings.flow.enabled = false;
    configure(&mut settings);
    settings.validate().expect("test settings are valid");
    let application = Application::build(settings.clone())
        .await
        .expect("the application starts");
    let port = application.port();
    let server = application.server_handle();
    let running = actix_web::rt::spawn(application.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client,
        data_dir,
        settings,
        server,
        running,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        send(self.client.get(self.url(path))).await
    }

    pub async fn get_with_header(&self, path: &str, name: &str, value: &str) -> Response {
        send(self.client.get(self.url(path)).header(name, value)).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        send(self.client.post(self.url(path)).json(body)).await
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Response {
        send(self.client.put(self.url(path)).json(body)).await
    }

    /// POSTs `body` as is, with `content_type` (e.g. to test 413 and 415, or signatures).
    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        content_type: &str,
    ) -> Response {
        let request = self.client.post(self.url(path));
        send(request.header(CONTENT_TYPE, content_type).body(body)).await
    }

    pub async fn admin_get(&self, path: &str, token: &str) -> Response {
        send(
            self.client
                .get(self.url(path))
                .header(AUTHORIZATION, bearer(token)),
        )
        .await
    }

    pub async fn admin_post(&self, path: &str, token: &str, body: &Value) -> Response {
        let request = self.client.post(self.url(path)).json(body);
        send(request.header(AUTHORIZATION, bearer(token))).await
    }

    /// POSTs `body` as is, with `content_type` and the token (e.g. to test malformed bodies).
    pub async fn admin_post_raw(
        &self,
        path: &str,
        token: &str,
        body: &'static str,
        content_type: &str,
    ) -> Response {
        let request = self.client.post(self.url(path)).body(body);
        let request = request.header(CONTENT_TYPE, content_type);
        send(request.header(AUTHORIZATION, bearer(token))).await
    }

    pub async fn admin_put(&self, path: &str, token: &str, body: &Value) -> Response {
        let request = self.client.put(self.url(path)).json(body);
        send(request.header(AUTHORIZATION, bearer(token))).await
    }

    pub async fn admin_patch(&self, path: &str, token: &str, body: &Value) -> Response {
        let request = self.client.patch(self.url(path)).json(body);
        send(request.header(AUTHORIZATION, bearer(token))).await
    }

    pub async fn admin_delete(&self, path: &str, token: &str) -> Response {
        let request = self.client.delete(self.url(path));
        send(request.header(AUTHORIZATION, bearer(token))).await
    }

    /// Graceful stop, as on SIGTERM: drain, shut the core down; returns the data
    /// directory so a new application can recover from it.
    pub async fn stop(self) -> TempDir {
        self.server.stop(true).await;
        self.running
            .await
            .expect("the server task completes")
            .expect("the server stops cleanly");
        self.data_dir
    }

    /// Stops gracefully and starts again on the same data directory and settings.
    pub async fn restart(self) -> TestApp {
        let settings = self.settings.clone();
        let data_dir = self.stop().await;
        spawn_app_in(data_dir, move |fresh| {
            *fresh = settings;
            fresh.server.bind = "127.0.0.1:0".to_owned();
        })
        .await
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn send(request: reqwest::RequestBuilder) -> Response {
    request
        .send()
        .await
        .expect("the request reaches the server")
}

/// The body as JSON (every reply but `/metrics` is a JSON envelope).
pub async fn json(response: Response) -> Value {
    response.json().await.expect("a JSON body")
}

/// Asserts a success envelope and returns its `data`.
pub fn success_data(body: &Value) -> &Value {
    assert_eq!(body["success"], true, "not a success envelope: {body}");
    assert!(body["requestId"].is_string(), "no requestId: {body}");
    assert!(body["timestamp"].is_string(), "no timestamp: {body}");
    &body["data"]
}

/// Asserts an error envelope with `code`.
pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["success"], false, "not an error envelope: {body}");
    assert_eq!(body["error"]["code"], code, "unexpected error: {body}");
    assert!(body["error"]["message"].is_string(), "no message: {body}");
    assert!(body["requestId"].is_string(), "no requestId: {body}");
}

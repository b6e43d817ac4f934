//! The real application on port 0 with a temporary data directory, and a client that
//! returns [`Reply`]s for the document's checks.

use playcore_testkit::app::{spawn_app_with, TestApp};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;
use tempfile::TempDir;

use crate::document::Reply;

pub use playcore_testkit::tokens::{ADMIN_TOKEN, APPROVER_TOKEN, OPERATOR_TOKEN};

/// A request: everything but the method and path is optional.
#[derive(Default)]
pub struct Request<'a> {
    pub token: Option<&'a str>,
    pub body: Option<&'a Value>,
    pub headers: Vec<(&'a str, String)>,
    /// Sent as is instead of `body` (a signed payment notification).
    pub raw_body: Option<Vec<u8>>,
}

pub struct Server {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub port: u16,
    client: reqwest::Client,
    /// The application; its data directory is removed when the server value is dropped.
    _app: TestApp,
    /// Where `POST /admin/v1/backups` writes (never the working directory); removed too.
    _backups: TempDir,
}

impl Server {
    /// Starts the application on the embedded defaults (mock payment on, dev tokens).
    pub async fn start() -> Server {
        let backups = tempfile::tempdir().expect("a temporary backups directory");
        let backups_path = backups.path().to_owned();
        let app = spawn_app_with(|settings| {
            settings.backup.directory = backups_path;
            // The walk's webhook endpoint names this server, and a failed attempt is
            // dead-lettered at once, so every webhook route has something to show.
            settings.webhooks.allow_private_addresses = true;
            settings.webhooks.retry_schedule_seconds = Vec::new();
        })
        .await;
        Server {
            address: app.address.clone(),
            port: app.port,
            client: app.client.clone(),
            _app: app,
            _backups: backups,
        }
    }

    pub async fn send(&self, method: &str, path: &str, request: Request<'_>) -> Reply {
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
        let mut builder = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(token) = request.token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in request.headers {
            builder = builder.header(name, value);
        }
        if let Some(raw) = request.raw_body {
            builder = builder.header(CONTENT_TYPE, "application/json").body(raw);
        } else if let Some(body) = request.body {
            builder = builder.json(body);
        }
        let response = builder
            .send()
            .await
            .expect("the request reaches the server");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.bytes().await.expect("a body").to_vec();
        Reply {
            status,
            content_type,
            body,
        }
    }
}

//! The real application on port 0 with a temporary data directory, and a client that
//! returns [`Reply`]s for the document's checks.

use playcore::config::Settings;
use playcore::startup::Application;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;
use tempfile::TempDir;

use crate::document::Reply;

/// The development tokens of `config/default.toml`, by role.
pub const OPERATOR_TOKEN: &str = "dev-operator";
pub const APPROVER_TOKEN: &str = "dev-approver";
pub const ADMIN_TOKEN: &str = "dev-admin";

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
    /// Removed when the server value is dropped at the end of the test.
    _data_dir: TempDir,
    /// Where `POST /admin/v1/backups` writes (never the working directory); removed too.
    _backups: TempDir,
}

impl Server {
    /// Starts the application on the embedded defaults (mock payment on, dev tokens).
    pub async fn start() -> Server {
        let data_dir = tempfile::tempdir().expect("a temporary data directory");
        let backups = tempfile::tempdir().expect("a temporary backups directory");
        let mut settings = Settings::embedded_defaults().expect("the embedded defaults load");
        settings.server.bind = "127.0.0.1:0".to_owned();
        settings.server.workers = 2;
        settings.storage.data_dir = data_dir.path().to_owned();
        settings.backup.directory = backups.path().to_owned();
        settings.validate().expect("test settings are valid");
        let application = Application::build(settings)
            .await
            .expect("the application starts");
        let port = application.port();
        actix_web::rt::spawn(application.run_until_stopped());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        Server {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client,
            _data_dir: data_dir,
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

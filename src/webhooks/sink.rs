//! The HTTP sink: one endpoint's [`Sink`] for the delivery engine. Each attempt renders the
//! event's body (the standard `{type, timestamp, data}` or the endpoint's template; the
//! same bytes on every attempt, so one `webhook-id` always carries one body), signs it
//! with every secret that signs now, and POSTs it through the shared client: pooled
//! connections, TLS, the attempt timeout, no redirects, the guarded resolver. A 2xx
//! within the timeout acknowledges the event; anything else is a failure with its status
//! or error.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::Url;
use serde_json::{json, Value};

use playcore_actors::domain::{ActivityId, Event};
use playcore_snapshots::event_store::EventRecord;

use super::address;
use super::endpoint::Endpoint;
use super::signature::{secret_key, signature_header};
use super::template;
use crate::delivery::{AttemptOutcome, AttemptResult, Delivery, Sink};
use crate::events::catalog;
use crate::http::dto::rfc3339;

/// Bytes of a receiver's answer read at most (then the connection is dropped).
const ANSWER_BYTES_MAX: usize = 64 * 1024;
/// Characters of a failure's error text kept in the attempt record.
const ERROR_CHARS_MAX: usize = 300;

/// The client every sink shares: pooled, TLS, guarded, no redirects.
pub fn client(attempt_timeout: Duration, allow_private: bool) -> reqwest::Result<reqwest::Client> {
    let resolver = address::GuardedResolver { allow_private };
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(attempt_timeout)
        .connect_timeout(attempt_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .dns_resolver(Arc::new(resolver))
        .user_agent(concat!("playcore-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// One endpoint's sink. A change to the endpoint (URL, secrets, template) replaces it.
pub struct HttpSink {
    client: reqwest::Client,
    endpoint: Arc<Endpoint>,
    url: Option<Url>,
    allow_private: bool,
}

impl HttpSink {
    pub fn new(client: reqwest::Client, endpoint: Endpoint, allow_private: bool) -> HttpSink {
        let url = Url::parse(&endpoint.url).ok();
        HttpSink {
            client,
            endpoint: Arc::new(endpoint),
            url,
            allow_private,
        }
    }
}

impl Sink for HttpSink {
    fn deliver(&self, delivery: Delivery) -> Pin<Box<dyn Future<Output = AttemptResult> + Send>> {
        let client = self.client.clone();
        let endpoint = Arc::clone(&self.endpoint);
        let url = self.url.clone();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let started = Instant::now();
            let outcome = match prepare(&endpoint, url, allow_private, &delivery.event) {
                Ok(request) => send(&client, request).await,
                Err(error) => failed(None, error),
            };
            AttemptResult {
                outcome,
                latency: started.elapsed(),
            }
        })
    }
}

/// A request ready to send.
struct Request {
    url: Url,
    id: String,
    timestamp_seconds: i64,
    signature: String,
    body: Vec<u8>,
}

fn prepare(
    endpoint: &Endpoint,
    url: Option<Url>,
    allow_private: bool,
    event: &EventRecord,
) -> Result<Request, String> {
    let url = url.ok_or_else(|| format!("the URL {} does not parse", endpoint.url))?;
    if !allow_private {
        if let Some(reason) = address::literal_refusal(&url) {
            return Err(format!("refused: the host is {reason}"));
        }
    }
    let body = body_bytes(endpoint, event)?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let keys: Vec<Vec<u8>> = endpoint
        .signing_secrets(now_ms)
        .into_iter()
        .filter_map(|secret| secret_key(secret).ok())
        .collect();
    let id = event.id();
    let timestamp_seconds = now_ms.div_euclid(1_000);
    let signature = signature_header(&keys, &id, timestamp_seconds, &body);
    Ok(Request {
        url,
        id,
        timestamp_seconds,
        signature,
        body,
    })
}

/// The body sent for `event`: the same bytes on every attempt.
pub fn body_bytes(endpoint: &Endpoint, event: &EventRecord) -> Result<Vec<u8>, String> {
    let body = body_json(endpoint, event)?;
    serde_json::to_vec(&body).map_err(|error| format!("the body does not serialize: {error}"))
}

fn body_json(endpoint: &Endpoint, event: &EventRecord) -> Result<Value, String> {
    let domain: Event = playcore_snapshots::decode(&event.payload)
        .map_err(|error| format!("the stored event does not decode: {error}"))?;
    let data = catalog::data_json(ActivityId(event.activity), &domain);
    let occurred_at = rfc3339(event.at_ms);
    let Some(template) = &endpoint.payload_template else {
        return Ok(json!({"type": event.kind, "timestamp": occurred_at, "data": data}));
    };
    let id = event.id();
    let activity_id = event.activity.to_string();
    let context = template::Context {
        event_type: &event.kind,
        id: &id,
        activity_id: &activity_id,
        store_id: event.store.as_deref(),
        occurred_at: &occurred_at,
        data: &data,
    };
    Ok(template::render(template, &context))
}

async fn send(client: &reqwest::Client, request: Request) -> AttemptOutcome {
    let sent = client
        .post(request.url)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header("webhook-id", request.id)
        .header("webhook-timestamp", request.timestamp_seconds.to_string())
        .header("webhook-signature", request.signature)
        .body(request.body)
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(error) => return failed(None, describe(&error)),
    };
    let status = response.status();
    // Read (a bounded part of) the answer within the timeout, so the connection can be
    // reused and a receiver that stalls mid-answer is a failure.
    let mut read = 0_usize;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if read + chunk.len() <= ANSWER_BYTES_MAX => read += chunk.len(),
            Ok(_) => break,
            Err(error) => return failed(Some(status.as_u16()), describe(&error)),
        }
    }
    if status.is_success() {
        AttemptOutcome::Acknowledged
    } else {
        failed(Some(status.as_u16()), format!("answered {status}"))
    }
}

fn failed(status_code: Option<u16>, error: String) -> AttemptOutcome {
    let error = error.chars().take(ERROR_CHARS_MAX).collect();
    AttemptOutcome::Failed { status_code, error }
}

/// A transport error with its causes (reqwest's own text names only the outermost).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_owned();
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

//! Webhook endpoints: their admin API, signing secrets, the Standard Webhooks signature
//! and the HTTP sink that delivers through the delivery engine (`crate::delivery`).
//!
//! [`Webhooks`] starts the engine on the event store, puts every stored endpoint into it
//! as a subscription with its [`sink::HttpSink`] (at start-up and after each change), and
//! serves the routes (`routes`). The endpoints live in the event store's database
//! (`endpoint`); the engine owns cursors, attempts and dead letters. How it all looks from
//! outside: `docs/webhooks.md`.

pub(crate) mod address;
pub(crate) mod dto;
pub(crate) mod endpoint;
pub(crate) mod routes;
pub(crate) mod signature;
pub(crate) mod sink;
pub(crate) mod template;

use std::sync::Arc;
use std::time::Duration;

use playcore_snapshots::event_store::EventStore;

use crate::config::WebhookSettings;
use crate::delivery::{Deliveries, DeliveryError, DeliverySettings, Sink};
use endpoint::{Endpoint, EndpointStore, EndpointStoreError};

/// Why webhooks could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhooksError {
    #[error("webhook endpoints: {0}")]
    Endpoints(#[from] EndpointStoreError),
    #[error("webhook delivery: {0}")]
    Delivery(#[from] DeliveryError),
    #[error("webhook HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// The delivery engine's settings from the `[webhooks]` section.
pub fn delivery_settings(settings: &WebhookSettings) -> DeliverySettings {
    DeliverySettings {
        attempt_timeout: Duration::from_millis(settings.attempt_timeout_ms),
        retry_schedule: settings
            .retry_schedule_seconds
            .iter()
            .map(|seconds| Duration::from_secs(*seconds))
            .collect(),
        concurrency_per_subscription: settings.concurrency_per_endpoint,
        concurrency_total: settings.concurrency_total,
        backlog_events_max: settings.backlog_events_max,
        breaker_failures_to_open: settings.breaker_failures,
        breaker_open_for: Duration::from_secs(settings.breaker_open_seconds),
        disable_after_failing_for: Duration::from_secs(settings.disable_after_failing_seconds),
    }
}

/// The endpoints, the engine delivering to them, and the client they share.
pub struct Webhooks {
    pub(crate) events: EventStore,
    pub(crate) endpoints: EndpointStore,
    pub(crate) deliveries: Arc<Deliveries>,
    client: reqwest::Client,
    pub(crate) settings: WebhookSettings,
    /// Serializes endpoint writes (the bound on their number, read-modify-write).
    pub(crate) writes: tokio::sync::Mutex<()>,
}

impl Webhooks {
    /// Starts the engine on `events` and puts every stored endpoint into it.
    pub fn start(
        events: &EventStore,
        settings: &WebhookSettings,
    ) -> Result<Arc<Webhooks>, WebhooksError> {
        let endpoints = EndpointStore::open(events)?;
        let deliveries = Deliveries::start(events.clone(), delivery_settings(settings))?;
        let timeout = Duration::from_millis(settings.attempt_timeout_ms);
        let client = sink::client(timeout, settings.allow_private_addresses)?;
        let webhooks = Webhooks {
            events: events.clone(),
            endpoints,
            deliveries,
            client,
            settings: settings.clone(),
            writes: tokio::sync::Mutex::new(()),
        };
        let stored = webhooks.endpoints.all()?;
        for endpoint in &stored {
            webhooks.run(endpoint)?;
        }
        tracing::info!(endpoints = stored.len(), "webhook delivery started");
        Ok(Arc::new(webhooks))
    }

    /// Puts `endpoint` into the engine (new, or changed: the cursor stays).
    pub(crate) fn run(&self, endpoint: &Endpoint) -> Result<(), DeliveryError> {
        self.deliveries
            .put(endpoint.subscription(), self.sink(endpoint))
    }

    fn sink(&self, endpoint: &Endpoint) -> Arc<dyn Sink> {
        let allow_private = self.settings.allow_private_addresses;
        Arc::new(sink::HttpSink::new(
            self.client.clone(),
            endpoint.clone(),
            allow_private,
        ))
    }

    /// Stops every delivery task; their state stays for the next start.
    pub fn shutdown(&self) {
        self.deliveries.shutdown();
    }
}

//! playcore — the trading core of a marketing platform: flash sales and group buys sold
//! as marketing products, run as in-memory actors made durable by a write-ahead log and
//! snapshots (crates `playcore-actors` and `playcore-snapshots`). This crate is the
//! server around them: configuration, HTTP and websocket routes, auth, telemetry.
//!
//! # Layout
//!
//! - [`cli`]: the command line (`playcore serve …`); parsing only.
//! - [`config`]: [`config::Settings`], layered from the embedded defaults, per-environment
//!   files, `--config`, `PLAYCORE__*` variables and flags; validated; secrets redacted.
//! - [`startup`]: [`startup::Application`]: recover the core, bind, serve, shut down in order.
//! - [`core`]: the running core (actor runtime, journal, recovery) the routes talk to.
//! - [`routes`]: HTTP routes — `ops` (health, readiness, metrics), `public` (H5 API),
//!   `admin`, `templates` (template list and form schemas), `h5` (the embedded H5 pages, `assets/h5/`).
//! - [`dto`]: wire types (camelCase JSON) and their parsing into domain types.
//! - [`outcome`]: maps the actors' answers and rejections onto replies and error codes.
//! - [`envelope`]: the success and error envelopes every JSON reply is wrapped in.
//! - [`error`]: [`error::ApiError`] and the contract's error codes with their statuses.
//! - [`extract`]: JSON, path and query extraction with the contract's errors; range checks.
//! - [`form_schema`]: the JSON Schema of each template's activity form (`src/schemas/`):
//!   validates `rules`, feeds the admin form endpoints.
//! - [`request_id`]: the `X-Request-Id` middleware and the current request's id.
//! - [`approval_flows`]: approval flows per template and store, from the settings.
//! - [`audit`]: the append-only, hash-chained log of admin writes and its verification.
//! - [`gray`]: the gray-release check of trading requests and the record of its decisions.
//! - [`scheduler`]: the lifecycle scheduler: health checks, alerts, the run log.
//! - [`archive`]: the scheduler's archive task: old terminal orders into the cold store.
//! - [`backup`]: scheduled and on-demand backups of the running server (admin routes in
//!   `routes::backups`); `playcore check`, `backup` and `restore` are in [`cli`].
//! - [`auth`]: bearer tokens, roles and the [`auth::Caller`] extractor.
//! - [`signature`]: HMAC-SHA256 signatures of payment notifications.
//! - [`storage`]: storage health: the free-space guard's settings, readiness and metrics,
//!   and the journal's failure (fail-stop, exit code 75).
//! - [`telemetry`]: logging setup and the Prometheus metrics registry.
//! - [`ws`]: the websockets: a fan-out hub per watched activity or group, sessions.

pub mod approval_flows;
pub(crate) mod audit;
pub(crate) mod backup;
pub mod cli;
pub mod config;
pub(crate) mod core;
pub(crate) mod form_schema;
pub(crate) mod gray;
pub(crate) mod http;
pub(crate) mod routes;
pub(crate) mod scheduler;
pub mod startup;
pub(crate) mod storage;
pub mod telemetry;
pub(crate) mod ws;

// The paths the tests sign, authenticate and match errors by, kept as they were.
pub use http::{auth, error, signature};

//! playcore — the trading core of a marketing platform: flash sales and group buys sold
//! as marketing products, run as in-memory actors made durable by a write-ahead log and
//! snapshots (crates `playcore-actors` and `playcore-snapshots`). This crate is the
//! server around them: configuration, HTTP and websocket routes, auth, telemetry.
//!
//! # Layout
//!
//! By layer, then by feature. A module uses the layers below it and never one above, so
//! no two modules import each other, directly or through others (`tests/architecture.rs`
//! fails on such a cycle). Bottom up:
//!
//! - Settings and metrics, importing nothing of the crate:
//!   - [`config`]: [`config::Settings`], layered from the embedded defaults,
//!     per-environment files, `--config`, `PLAYCORE__*` variables and flags; validated;
//!     secrets redacted. Every feature's settings live here, with the token [`config::Role`]s
//!     and the `[approval]` table (`config/approval.rs`).
//!   - [`telemetry`]: logging setup and the Prometheus metrics registry.
//! - `form_schema/`: the JSON Schema of each template's activity form
//!   (`form_schema/schemas/*.json`): validates `rules`, feeds the admin form endpoints.
//! - `http/`, the HTTP plumbing every route shares, knowing neither the core nor a feature:
//!   - [`error`]: [`error::ApiError`] and the contract's error codes with their statuses;
//!   - `envelope`: the success and error envelopes every JSON reply is wrapped in (where
//!     `ApiError` renders);
//!   - `dto`: wire types (camelCase JSON) and their parsing into domain types;
//!   - `extract`: JSON, path and query extraction with the contract's errors;
//!   - `request_id`: the `X-Request-Id` middleware and the current request's id;
//!   - `order_reply`: the grab's reply, written byte by byte;
//!   - [`auth`]: bearer tokens and the [`auth::Caller`] extractor;
//!   - [`signature`]: HMAC-SHA256 signatures of payment notifications.
//! - `flow/`: flow control of the public API (rate limits per IP, device, user and activity;
//!   the in-flight bound of trading), checked before the mailbox hop; it knows the settings,
//!   the metrics and the HTTP plumbing, not the core.
//! - `storage/`: storage health (the free-space guard, the journal's failure: fail-stop,
//!   exit code 75) and `storage::audit_log`, the hash-chained audit log's sled tree and its
//!   verification.
//! - `core/`: the running core (actor runtime, journal, recovery) and `core::outcome`, what
//!   the routes ask of it (run a command, read an activity, the public view) and how its
//!   answers and rejections map onto replies.
//! - Features, each in one place with the admin routes it owns (`<feature>/routes.rs`):
//!   - [`approval_flows`]: the flow an activity's submission carries, resolved from the
//!     settings;
//!   - `audit/`: the hooks every admin write calls to record itself, and
//!     `GET /admin/v1/audit`;
//!   - `gray/`: the gray-release check of trading requests, the record of its decisions,
//!     and the gray admin routes;
//!   - `scheduler/`: the lifecycle scheduler (health checks, alerts, the run log), its
//!     archive task (`scheduler::archive`: old terminal orders into the cold store), and
//!     its admin routes;
//!   - `backup/`: scheduled and on-demand backups of the running server, and the backup
//!     admin routes.
//! - `ws/`: the websockets: a fan-out hub per watched activity or group, sessions.
//! - `routes/`, by audience: `ops` (health, readiness, metrics), `openapi`, `public` (the
//!   H5 API), `h5` (the embedded H5 pages, `assets/h5/`), and `admin/`: `activities`
//!   (and their approval), `templates` (template list and form schemas), `versions`, with
//!   the features' admin routes mounted in order; `routes::configure` mounts the
//!   websockets too.
//! - [`startup`]: [`startup::Application`]: recover the core, bind, serve, shut down in
//!   order.
//! - [`cli`]: the command line (`playcore serve …`) and `playcore check`, `audit verify`,
//!   `backup` and `restore`.
//!
//! Only what the binary and the tests name is public: [`cli`], [`config`], [`startup`],
//! [`telemetry`], [`approval_flows`], and [`auth`], [`error`], [`signature`] (from `http`).

pub mod approval_flows;
pub(crate) mod audit;
pub(crate) mod backup;
pub(crate) mod blacklist;
pub mod cli;
pub mod config;
pub(crate) mod core;
pub(crate) mod delivery;
pub(crate) mod events;
pub(crate) mod flow;
pub(crate) mod form_schema;
pub(crate) mod gray;
pub(crate) mod http;
pub(crate) mod routes;
pub(crate) mod scheduler;
pub mod startup;
pub(crate) mod storage;
pub mod telemetry;
pub(crate) mod threads;
pub(crate) mod webhooks;
pub(crate) mod ws;

// The paths the tests sign, authenticate and match errors by, kept as they were.
pub use http::{auth, error, signature};

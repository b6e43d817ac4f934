//! Black-box tests of the HTTP API: each test starts the real application on port 0 with
//! its own temporary data directory (see `playcore_testkit::app::spawn_app`) and talks HTTP to it.

mod admin;
mod approval_flows;
mod archive;
mod blacklist;
mod concurrency;
mod eligibility;
mod envelope;
mod event_types;
mod events;
mod fixtures;
mod flow;
mod gray;
mod groups;
mod headers;
mod lifecycle;
mod ops;
mod public;
mod queries;
mod scheduler;
mod templates;
mod unknown_fields;
mod versions;
mod webhooks;

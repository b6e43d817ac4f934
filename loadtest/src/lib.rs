//! playcore-loadtest: proves playcore's speed and correctness under load, and sizes a sale
//! before it goes live.
//!
//! One command runs a whole sale against a running server: the harness creates its activity
//! through the admin API (create, submit, approve with a second token, publish), drives a
//! scenario closed-loop (fixed concurrency) or open-loop (fixed arrival rate, latency from
//! the intended send time so coordinated omission cannot hide stalls), then reads the
//! activity back and judges it.
//!
//! # Layout
//! - [`cli`]: the options, parsed with clap.
//! - [`random`]: the seeded generator every plan is drawn from (stable across versions).
//! - [`client`]: keep-alive HTTP/1.1 connections (one per concurrent worker).
//! - [`api`]: the admin and public calls the scenarios and the verdict need.
//! - [`plan`]: who sends what, drawn from the seed before the run starts.
//! - [`driver`]: the closed- and open-loop engines and the per-request recording.
//! - [`recorder`]: HDR histograms, per-second timelines and counts per error code.
//! - [`verdict`]: pure judgement of what was observed against what the server holds.
//! - [`scenarios`]: flash-rush, group-buy, mixed and ws-fanout.
//! - [`summary`], [`report`]: the figures of a run; table, JSON and SVG chart.
//! - [`progress`]: the live progress bar.
//!
//! The ceiling server (`src/bin/ceiling.rs`) answers the grab path with one actor round
//! trip on the same HTTP stack and nothing else: the best this machine can do.

pub mod api;
pub mod cli;
pub mod client;
pub mod driver;
pub mod plan;
pub mod progress;
pub mod random;
pub mod recorder;
pub mod report;
pub mod scenarios;
pub mod summary;
pub mod verdict;

pub use cli::Options;
pub use scenarios::{run, run_blocking};

/// Why a run could not be carried out (as opposed to a run whose verdict failed).
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("{0}")]
    Client(#[from] client::ClientError),
    #[error("the server refused {action}: HTTP {status} {body}")]
    Refused {
        action: String,
        status: u16,
        body: String,
    },
    #[error("unexpected reply to {action}: {detail}")]
    Unexpected { action: String, detail: String },
    #[error("invalid options: {0}")]
    Options(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("writing the report: {0}")]
    Io(#[from] std::io::Error),
}

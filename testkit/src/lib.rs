//! playcore-testkit: what playcore's tests share, in one place.
//!
//! - [`tokens`]: the development tokens, read from `config/default.toml` at build time.
//! - [`process`]: the real `playcore` binary as a child process ([`process::Server`]: start,
//!   SIGTERM, SIGKILL, its log), `playcore` subcommands, temporary directories kept when a
//!   test fails, and the blocking HTTP client [`process::Api`] the black-box tests use.
//! - [`receiver`]: a real HTTP server receiving webhooks, recording every request and
//!   answering as the test decides (a status, a delay past the timeout, a dropped
//!   connection).
//! - [`app`]: the application started in the test process on port 0
//!   ([`app::spawn_app`]), an async client for it, and the envelope checks.
//!
//! A dev-dependency only; never published.

pub mod app;
pub mod process;
pub mod receiver;
pub mod tokens;

use std::path::{Path, PathBuf};

/// The workspace root: the directory the server runs in, so `./config/default.toml` is the
/// repository's.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the testkit lives in the workspace")
        .to_owned()
}

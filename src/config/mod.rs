//! Settings, layered as README's "Configuration" describes. Each layer overrides the ones before:
//!
//! 1. `config/default.toml` as embedded in the binary (so the server runs from any
//!    directory), then `./config/default.toml` when that file exists (not required);
//! 2. `./config/$PLAYCORE_ENV.toml` when `PLAYCORE_ENV` is set (missing file: error);
//! 3. the `--config FILE` flag;
//! 4. environment variables `PLAYCORE__SECTION__KEY` (`__` between levels, keys
//!    lowercased), e.g. `PLAYCORE__SERVER__BODY_LIMIT_BYTES=1024`;
//! 5. the flags `--bind` and `--data-dir`.
//!
//! Each layer is a [`figment`] provider named after its file or variable (`load`); figment
//! merges them as tables (a table merges key by key, anything else replaces) and remembers
//! which layer gave each value, so an error names the key and the layer at fault. An
//! environment value is a string where the layers below hold a string, and a TOML value
//! otherwise (`env`): numbers, bools, arrays such as
//! `PLAYCORE__AUTH__TOKENS='[{token = "…", name = "ops", roles = ["admin"]}]'`, so a secret
//! such as `12345` stays a string. The result is deserialized with unknown keys refused (a
//! typo is an error, not a silently ignored setting), then validated, and production
//! refuses the development secrets and the test hooks (`validate`).
//!
//! Secrets (tokens, the payment secret) are [`Secret`]s, whose `Debug` is redacted, so
//! logging the settings never leaks them; errors never quote them either (`redact`).
//!
//! The plain types of the `[auth]` and `[approval]` tables live here (`Role`,
//! `ApprovalSettings`), so that `http::auth` and `approval_flows` depend on the
//! settings and not the other way round.

mod approval;
mod auth;
mod env;
mod error;
mod flow;
mod layer;
mod load;
mod redact;
mod sections;
#[cfg(test)]
mod tests;
mod validate;

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

pub use approval::{ApprovalSettings, FlowSettings, LevelSettings, ModeSetting};
pub use auth::{AuthSettings, Role, TokenSettings, DEV_TOKENS};
pub use error::ConfigError;
pub use flow::{ClassLimits, FlowControlSettings, RateLimit};
pub use load::{Overrides, Sources};
pub use redact::Secret;
pub use sections::{
    ActorSettings, BackupSettings, Durability, EligibilitySettings, EventsSettings,
    PaymentSettings, SchedulerSettings, ServerSettings, StorageSettings, ThreadPolicy,
    WebhookSettings, WsSettings, DEV_PAYMENT_SECRET,
};

/// The environment in which development secrets and test hooks are refused.
const PRODUCTION: &str = "production";

/// Every setting of the server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub actors: ActorSettings,
    pub payment: PaymentSettings,
    pub ws: WsSettings,
    pub auth: AuthSettings,
    /// The lifecycle scheduler's health checks and run log (see [`crate::scheduler`]).
    #[serde(default)]
    pub scheduler: SchedulerSettings,
    /// Approval flows per template and store (see `approval_flows`).
    #[serde(default)]
    pub approval: ApprovalSettings,
    /// Bounds of the eligibility indexes (see `playcore_actors::eligibility`).
    #[serde(default)]
    pub eligibility: EligibilitySettings,
    /// Scheduled and on-demand backups (see [`crate::backup`]).
    #[serde(default)]
    pub backup: BackupSettings,
    /// Webhook endpoints' delivery (see `webhooks`).
    #[serde(default)]
    pub webhooks: WebhookSettings,
    /// The event store's retention (see `playcore_snapshots::event_store`).
    #[serde(default)]
    pub events: EventsSettings,
    /// Flow control of the public API (see `flow`).
    #[serde(default)]
    pub flow: FlowControlSettings,
    /// Seed demo activities at start (`--demo`); a flag only, never read from files.
    #[serde(skip)]
    pub demo: bool,
    /// `PLAYCORE_ENV`, when set: decides which file is read and whether dev secrets are
    /// refused.
    #[serde(skip)]
    pub environment: Option<String>,
    /// The layers that were applied, in order, for the startup log.
    #[serde(skip)]
    pub layers: Vec<String>,
}

impl Settings {
    /// Whether `PLAYCORE_ENV=production`.
    pub fn is_production(&self) -> bool {
        self.environment.as_deref() == Some(PRODUCTION)
    }
}

/// Strings, but also numbers and bools written without quotes (`name = 42`).
fn string_from_scalar<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct ScalarVisitor;

    impl Visitor<'_> for ScalarVisitor {
        type Value = String;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("a string")
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<String, E> {
            Ok(value.to_owned())
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<String, E> {
            Ok(value.to_string())
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<String, E> {
            Ok(value.to_string())
        }

        fn visit_bool<E: de::Error>(self, value: bool) -> Result<String, E> {
            Ok(value.to_string())
        }
    }

    deserializer.deserialize_any(ScalarVisitor)
}

//! Why the settings could not be loaded.

use std::path::PathBuf;

/// Why the settings could not be loaded; each names the file, variable or key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {origin} is not valid TOML: {message}")]
    Parse { origin: String, message: String },
    #[error("PLAYCORE_ENV={0:?} is not an environment name (letters, digits, '-', '_')")]
    EnvironmentName(String),
    #[error("environment variable {name}: {reason}")]
    EnvVar { name: String, reason: String },
    #[error("path {0:?} is not valid UTF-8")]
    NonUtf8Path(PathBuf),
    /// A value that does not fit its key, or a key that does not exist; `layer` is the
    /// file or environment variable that gave it.
    #[error("config key `{key}` (from {layer}): {message}")]
    Key {
        key: String,
        layer: String,
        message: String,
    },
    #[error("invalid configuration: {}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error(
        "PLAYCORE_ENV=production refuses the development tokens (entries named {}); \
         supply real tokens with a --config file or PLAYCORE__AUTH__TOKENS",
        .0.join(", ")
    )]
    DevTokensInProduction(Vec<String>),
    #[error(
        "no auth tokens configured: PLAYCORE_ENV=production needs [[auth.tokens]] from a \
         --config file or PLAYCORE__AUTH__TOKENS"
    )]
    NoTokensInProduction,
    #[error(
        "PLAYCORE_ENV=production refuses the development payment secret; \
         supply payment.secret with a --config file or PLAYCORE__PAYMENT__SECRET"
    )]
    DevPaymentSecretInProduction,
    #[error(
        "PLAYCORE_ENV=production refuses storage.fault_failing_sync_number (a test hook \
         that makes a sync fail); set it to 0"
    )]
    FaultInjectionInProduction,
}

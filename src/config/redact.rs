//! Secrets stay out of logs and error messages: [`Secret`] redacts its `Debug`, and errors
//! about a key that holds a secret say what kind of value was found, never the value.

use std::fmt;

use figment::error::{Actual, Kind};
use serde::{Deserialize, Deserializer};

use super::string_from_scalar;

/// What an error shows instead of a secret.
const REDACTED: &str = "[redacted]";

/// A secret string whose `Debug` is redacted, so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (a MAC key, a token table).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Secret({REDACTED})")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        string_from_scalar(deserializer).map(Secret)
    }
}

/// Whether the value at `key` (`auth.tokens[0].token`) is or holds a secret: the payment
/// secret, the token list, one of its entries or an entry's token.
pub(super) fn holds_secret(key: &str) -> bool {
    if key == "payment.secret" {
        return true;
    }
    let Some(rest) = key.strip_prefix("auth.tokens") else {
        return false;
    };
    match rest.split_once('.') {
        None => true,
        Some((_, field)) => field == "token",
    }
}

/// `raw` as an error may quote it: debug-quoted, or redacted where `key` holds a secret.
pub(super) fn quoted(key: &str, raw: &str) -> String {
    if holds_secret(key) {
        format!("the value {REDACTED}")
    } else {
        format!("{raw:?}")
    }
}

/// The message of a deserialization error at `key`, without the value where it is secret.
pub(super) fn error_message(key: &str, kind: &Kind) -> String {
    if !holds_secret(key) {
        return kind.to_string();
    }
    match kind {
        Kind::InvalidType(actual, expected) => {
            format!(
                "invalid type: found {}, expected {expected}",
                kind_of(actual)
            )
        }
        Kind::InvalidValue(actual, expected) => {
            format!("invalid value {}, expected {expected}", kind_of(actual))
        }
        other => other.to_string(),
    }
}

/// What kind of value `actual` is, without the value itself.
fn kind_of(actual: &Actual) -> String {
    let kind = match actual {
        Actual::Bool(_) => "bool",
        Actual::Unsigned(_) | Actual::Signed(_) => "integer",
        Actual::Float(_) => "float",
        Actual::Char(_) => "char",
        Actual::Str(_) => "string",
        Actual::Bytes(_) => "bytes",
        other => return other.to_string(),
    };
    format!("{kind} {REDACTED}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_are_the_payment_secret_and_the_tokens() {
        for key in [
            "payment.secret",
            "auth.tokens",
            "auth.tokens[2]",
            "auth.tokens[0].token",
        ] {
            assert!(holds_secret(key), "{key}");
        }
        for key in [
            "payment.mock",
            "auth.tokens[0].name",
            "auth.tokens[0].roles[1]",
        ] {
            assert!(!holds_secret(key), "{key}");
        }
    }

    #[test]
    fn errors_about_secrets_do_not_quote_them() {
        let kind = Kind::InvalidType(Actual::Str("tok-123".to_owned()), "a sequence".to_owned());
        let message = error_message("auth.tokens", &kind);
        assert!(!message.contains("tok-123"), "{message}");
        assert!(message.contains("string [redacted]"), "{message}");
        assert!(error_message("server.bind", &kind).contains("tok-123"));
        assert!(!quoted("payment.secret", "key-9").contains("key-9"));
        assert_eq!(quoted("server.workers", "many"), "\"many\"");
    }
}

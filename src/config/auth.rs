//! The `[auth]` table: the admin API's bearer tokens and the roles they carry. The token
//! table and the request extractor built from them are in [`crate::auth`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{string_from_scalar, Secret};

/// Tokens shipped in `config/default.toml`; known to everyone, so refused in production.
pub const DEV_TOKENS: [&str; 4] = [
    "dev-admin",
    "dev-operator",
    "dev-approver",
    "dev-approver-2",
];

/// What a token may do. Admin may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Creates, edits and submits activities; sets gray releases.
    Operator,
    /// Approves or rejects submitted activities.
    Approver,
    /// Everything.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Approver => "approver",
            Self::Admin => "admin",
        }
    }

    /// Whether a holder of `roles` may act as this role: an admin holds every role.
    pub fn is_held_by(self, roles: &[Role]) -> bool {
        roles.contains(&Role::Admin) || roles.contains(&self)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// The admin API's bearer tokens.
    pub tokens: Vec<TokenSettings>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// The bearer token itself.
    pub token: Secret,
    /// Who holds it: recorded in approvals and logs (the token never is).
    #[serde(deserialize_with = "string_from_scalar")]
    pub name: String,
    pub roles: Vec<Role>,
}

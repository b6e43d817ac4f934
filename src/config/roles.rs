//! The roles a bearer token may hold (`roles = ["operator"]` in `[[auth.tokens]]`): named
//! by the settings, checked by `http::auth` and the approval flows.

use std::fmt;

use serde::{Deserialize, Serialize};

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
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

//! Admin authentication: `Authorization: Bearer <token>` looked up in a [`TokenTable`]
//! built from the settings, giving a [`Caller`] with [`Role`]s.
//!
//! Timing: the table is keyed by the SHA-256 digest of each token, and a presented token
//! is hashed before the lookup. What a lookup's timing could reveal is therefore about
//! digests, which gives an attacker no way to build a valid token byte by byte; a plain
//! string comparison would stop at the first differing byte.

use std::collections::HashMap;
use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::AuthSettings;
/// Roles are settings (`[[auth.tokens]]`); re-exported here, where requests are checked.
pub use crate::config::Role;
use crate::http::error::ApiError;

/// An authenticated admin caller. Cheap to clone (shared name and roles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    name: Arc<str>,
    roles: Arc<[Role]>,
}

impl Caller {
    pub fn new(name: &str, roles: &[Role]) -> Self {
        Self {
            name: Arc::from(name),
            roles: Arc::from(roles),
        }
    }

    /// The token holder's name, as configured; recorded in approvals (who did what).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// Whether the caller may act as `role` (admin may act as anything).
    pub fn has_role(&self, role: Role) -> bool {
        role.is_held_by(&self.roles)
    }

    /// `Ok` when one of the caller's roles is in `allowed` (or the caller is admin),
    /// else 403 FORBIDDEN naming the roles that would do.
    pub fn require(&self, allowed: &[Role]) -> Result<(), ApiError> {
        if allowed.iter().any(|role| self.has_role(*role)) {
            return Ok(());
        }
        let required: Vec<&str> = allowed.iter().map(|role| role.as_str()).collect();
        let held: Vec<&str> = self.roles.iter().map(|role| role.as_str()).collect();
        Err(ApiError::forbidden(format!(
            "this action needs one of the roles: {}",
            required.join(", ")
        ))
        .with_details(json!({ "requiredRoles": required, "callerRoles": held })))
    }
}

/// Token → caller, built once at startup and shared by all workers.
#[derive(Debug, Default)]
pub struct TokenTable {
    callers: HashMap<[u8; 32], Caller>,
}

impl TokenTable {
    pub fn from_settings(auth: &AuthSettings) -> Self {
        let callers = auth
            .tokens
            .iter()
            .map(|entry| {
                let caller = Caller::new(&entry.name, &entry.roles);
                (digest(entry.token.expose()), caller)
            })
            .collect();
        Self { callers }
    }

    pub fn lookup(&self, token: &str) -> Option<&Caller> {
        self.callers.get(&digest(token))
    }

    pub fn len(&self) -> usize {
        self.callers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.callers.is_empty()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Extracts the caller: 401 UNAUTHORIZED when the bearer token is missing or unknown.
/// Needs `web::Data<TokenTable>` in the app data.
impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(authenticate(request))
    }
}

fn authenticate(request: &HttpRequest) -> Result<Caller, ApiError> {
    let token = bearer_token(request)?;
    let Some(table) = request.app_data::<web::Data<TokenTable>>() else {
        return Err(ApiError::internal("the token table is not registered"));
    };
    table
        .lookup(token)
        .cloned()
        .ok_or_else(|| ApiError::unauthorized("unknown token"))
}

fn bearer_token(request: &HttpRequest) -> Result<&str, ApiError> {
    let missing = || ApiError::unauthorized("missing bearer token (Authorization: Bearer <token>)");
    let header = request.headers().get(AUTHORIZATION).ok_or_else(missing)?;
    let text = header.to_str().map_err(|_| missing())?;
    let (scheme, token) = text.trim().split_once(' ').ok_or_else(missing)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(missing());
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;
    use crate::config::{Secret, TokenSettings};

    fn table() -> web::Data<TokenTable> {
        let entry = |token: &str, name: &str, roles: &[Role]| TokenSettings {
            token: Secret::new(token),
            name: name.to_owned(),
            roles: roles.to_vec(),
        };
        let auth = AuthSettings {
            tokens: vec![
                entry("t-admin", "root", &[Role::Admin]),
                entry("t-operator", "olga", &[Role::Operator]),
                entry("t-approver", "anna", &[Role::Approver]),
            ],
        };
        web::Data::new(TokenTable::from_settings(&auth))
    }

    async fn extract(authorization: Option<&str>) -> Result<Caller, ApiError> {
        let mut request = TestRequest::default().app_data(table());
        if let Some(value) = authorization {
            request = request.insert_header((AUTHORIZATION, value));
        }
        let (request, mut payload) = request.to_http_parts();
        Caller::from_request(&request, &mut payload).await
    }

    #[actix_web::test]
    async fn a_missing_token_is_unauthorized() {
        let error = extract(None).await.expect_err("no header");
        assert_eq!(error.code(), "UNAUTHORIZED");
        let error = extract(Some("Basic dXNlcg=="))
            .await
            .expect_err("wrong scheme");
        assert_eq!(error.code(), "UNAUTHORIZED");
        let error = extract(Some("Bearer ")).await.expect_err("empty token");
        assert_eq!(error.code(), "UNAUTHORIZED");
    }

    #[actix_web::test]
    async fn an_unknown_token_is_unauthorized() {
        let error = extract(Some("Bearer nope")).await.expect_err("unknown");
        assert_eq!(error.code(), "UNAUTHORIZED");
        assert_eq!(error.status(), actix_web::http::StatusCode::UNAUTHORIZED);
    }

    #[actix_web::test]
    async fn a_known_token_gives_its_caller() {
        let caller = extract(Some("bearer t-operator")).await.expect("known");
        assert_eq!(caller.name(), "olga");
        assert_eq!(caller.roles(), &[Role::Operator]);
    }

    #[actix_web::test]
    async fn the_wrong_role_is_forbidden() {
        let caller = extract(Some("Bearer t-approver")).await.expect("known");
        let error = caller.require(&[Role::Operator]).expect_err("approver");
        assert_eq!(error.code(), "FORBIDDEN");
        assert_eq!(error.status(), actix_web::http::StatusCode::FORBIDDEN);
        caller
            .require(&[Role::Approver])
            .expect("approver may approve");
    }

    #[actix_web::test]
    async fn admin_may_do_everything() {
        let caller = extract(Some("Bearer t-admin")).await.expect("known");
        caller.require(&[Role::Operator]).expect("admin");
        caller.require(&[Role::Approver]).expect("admin");
    }
}

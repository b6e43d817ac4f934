//! The security headers of every reply, set by the request-id middleware on its way out
//! (one layer on the hot path, not two):
//!
//! - `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer` on every reply;
//! - `Cache-Control: no-store` on what belongs to a user or to the operators: every
//!   `/admin/` reply, and every `/api/` reply but the public catalogue (`GET` of
//!   activities and groups), unless the handler set its own;
//! - `Strict-Transport-Security` (one year, subdomains) when `server.served_over_tls`
//!   says clients come over TLS.
//!
//! Cross-origin access is the CORS layer's (`actix-cors`, wrapped in `startup`): allowed
//! only for `server.cors_allowed_origins`.

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::Method;
use actix_web::web;

/// The configured part of the headers, in the app data.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplyHeaders {
    pub served_over_tls: bool,
}

/// What one reply gets, decided from its request.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Policy {
    strict_transport: bool,
    no_store: bool,
}

const STRICT_TRANSPORT: HeaderValue =
    HeaderValue::from_static("max-age=31536000; includeSubDomains");

/// The headers `request`'s reply gets.
pub(crate) fn policy(request: &ServiceRequest) -> Policy {
    let strict_transport = request
        .app_data::<web::Data<ReplyHeaders>>()
        .is_some_and(|headers| headers.served_over_tls);
    Policy {
        strict_transport,
        no_store: private(request.method(), request.path()),
    }
}

/// Sets the headers on a reply.
pub(crate) fn apply(policy: Policy, headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if policy.no_store && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if policy.strict_transport {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, STRICT_TRANSPORT);
    }
}

/// Whether the reply may hold a user's or the operators' data.
fn private(method: &Method, path: &str) -> bool {
    if path.starts_with("/admin/") {
        return true;
    }
    let Some(rest) = path.strip_prefix("/api/v1/") else {
        return false;
    };
    let catalogue = rest.starts_with("activities") || rest.starts_with("groups/");
    method != Method::GET || !catalogue
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_admin_and_writes_are_private_the_catalogue_is_not() {
        assert!(private(&Method::GET, "/api/v1/orders/ord-1-1"));
        assert!(private(&Method::GET, "/admin/v1/activities"));
        assert!(private(&Method::POST, "/api/v1/activities/1/grab"));
        assert!(!private(&Method::GET, "/api/v1/activities/1"));
        assert!(!private(&Method::GET, "/api/v1/groups/1-1"));
        assert!(!private(&Method::GET, "/h5/activities/1"));
    }
}

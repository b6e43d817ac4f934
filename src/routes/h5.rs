//! The H5 pages: the activity page (`/h5/activities/{id}`), the group page
//! (`/h5/groups/{groupId}`) and their one script and one style sheet, all embedded in the
//! binary (`assets/h5/`, no build step).
//!
//! The pages are static shells: the script reads everything from the public API and the
//! websockets. An id that is malformed, unknown or not public (a draft) gets a 404 page in
//! Chinese instead of the shell, decided from the published views (no mailbox hop).
//!
//! Caching: the HTML is `no-cache` (revalidated on every visit, so a new release is seen at
//! once); the script and style sheet are linked with a hash of their content in the query
//! (`?v=…`), so they can be cached for a year as immutable.

use crate::core::outcome::public_activity;
use crate::core::Core;
use actix_web::http::header::{self, ContentType};
use actix_web::{guard, web, HttpResponse, HttpResponseBuilder};
use playcore_actors::domain::{ActivityId, GroupId};
use std::sync::{Arc, OnceLock};

const ACTIVITY_HTML: &str = include_str!("../../assets/h5/activity.html");
const GROUP_HTML: &str = include_str!("../../assets/h5/group.html");
const NOT_FOUND_HTML: &str = include_str!("../../assets/h5/not-found.html");
const SCRIPT: &str = include_str!("../../assets/h5/app.js");
const STYLE: &str = include_str!("../../assets/h5/app.css");

/// Pages are small and change with every release: always revalidate.
const PAGE_CACHE: &str = "no-cache";
/// Assets are addressed by content hash, so a cached copy is never stale.
const ASSET_CACHE: &str = "public, max-age=31536000, immutable";
/// Only our own script, style and API (the websocket included); no inline code.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self' ws: wss:; \
     img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route(
            "/h5/activities/{activityId}",
            get_or_head().to(activity_page),
        )
        .route("/h5/groups/{groupId}", get_or_head().to(group_page))
        .route("/h5/assets/app.js", get_or_head().to(script))
        .route("/h5/assets/app.css", get_or_head().to(style));
}

/// GET, and HEAD for link checkers and caches (actix sends no body for HEAD).
fn get_or_head() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

type CoreData = web::Data<Arc<Core>>;

async fn activity_page(core: CoreData, path: web::Path<String>) -> HttpResponse {
    let public = ActivityId::parse(&path).filter(|id| is_public(&core, *id));
    match public {
        Some(id) => page(ACTIVITY_HTML, &[("{{activityId}}", &id.to_string())]),
        None => not_found(),
    }
}

async fn group_page(core: CoreData, path: web::Path<String>) -> HttpResponse {
    let known = GroupId::parse(&path).filter(|id| {
        is_public(&core, id.activity) && core.runtime.registry.group_view(*id).is_some()
    });
    match known {
        Some(id) => page(GROUP_HTML, &[("{{groupId}}", &id.to_string())]),
        None => not_found(),
    }
}

async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}

/// Whether the public API shows this activity ([`public_activity`]).
fn is_public(core: &Core, id: ActivityId) -> bool {
    public_activity(core, id).is_ok()
}

/// The page with its placeholders filled; ids are re-rendered from their parsed form, so
/// only digits, `grp-` and dashes ever reach the HTML.
fn page(template: &str, values: &[(&str, &str)]) -> HttpResponse {
    let mut html = template.replace("{{assetVersion}}", asset_version());
    for (placeholder, value) in values {
        html = html.replace(placeholder, value);
    }
    html_response(HttpResponse::Ok(), html)
}

fn not_found() -> HttpResponse {
    let html = NOT_FOUND_HTML.replace("{{assetVersion}}", asset_version());
    html_response(HttpResponse::NotFound(), html)
}

fn html_response(mut builder: HttpResponseBuilder, html: String) -> HttpResponse {
    builder
        .content_type(ContentType::html())
        .insert_header((header::CACHE_CONTROL, PAGE_CACHE))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(html)
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, ASSET_CACHE))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

/// A hash of the script and the style sheet, computed once: changes whenever they do.
fn asset_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| format!("{:016x}", fnv1a([SCRIPT, STYLE])))
}

/// FNV-1a, 64 bits: enough to tell releases apart, no dependency.
fn fnv1a<const N: usize>(texts: [&str; N]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    texts
        .iter()
        .flat_map(|text| text.bytes())
        .fold(OFFSET_BASIS, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_value() {
        assert_eq!(fnv1a(["a"]), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn pages_link_the_versioned_assets() {
        for template in [ACTIVITY_HTML, GROUP_HTML, NOT_FOUND_HTML] {
            assert!(template.contains("/h5/assets/app.css?v={{assetVersion}}"));
        }
        for template in [ACTIVITY_HTML, GROUP_HTML] {
            assert!(template.contains("/h5/assets/app.js?v={{assetVersion}}"));
        }
    }
}

//! `GET /openapi.json`: the OpenAPI 3.1 document of every route this server registers
//! (`openapi.json` at the repository root), embedded in the binary and served as is: no
//! token, not enveloped. `tests/openapi/` keeps the document and the routes in step.

use actix_web::http::header::{self, ContentType};
use actix_web::{web, HttpResponse};

/// The document, compiled in so the server serves it from any directory.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

pub fn configure(config: &mut web::ServiceConfig) {
    config.route("/openapi.json", web::get().to(document));
}

/// Revalidated on every fetch: a new release may describe new routes.
async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(DOCUMENT)
}

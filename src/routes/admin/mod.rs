//! The admin API (`/admin/v1/…`, bearer tokens): activities and their approval, the
//! templates and their forms, configuration versions. The admin routes a feature owns
//! (gray releases, the audit log, backups, the scheduler's records, the event history) live in that feature
//! and are mounted here.

pub(crate) mod activities;
pub(crate) mod flow;
pub(crate) mod templates;
pub(crate) mod versions;

use actix_web::web;

pub fn configure(config: &mut web::ServiceConfig) {
    activities::configure(config);
    crate::gray::routes::configure(config);
    crate::audit::routes::configure(config);
    crate::backup::routes::configure(config);
    crate::scheduler::routes::configure(config);
    crate::webhooks::routes::configure(config);
    crate::blacklist::routes::configure(config);
    crate::events::routes::configure(config);
    crate::events::types_route::configure(config);
    flow::configure(config);
    templates::configure(config);
    versions::configure(config);
}

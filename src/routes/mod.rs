//! HTTP routes: one module per audience. Each `configure` only registers its routes;
//! app data, extractor configs and the default service are set up in `startup`.

pub mod admin;
pub mod audit;
pub mod backups;
pub mod gray;
pub mod h5;
pub mod openapi;
pub mod ops;
pub mod public;
pub mod scheduler;
pub mod templates;
pub mod versions;

use actix_web::web;

pub fn configure(config: &mut web::ServiceConfig) {
    ops::configure(config);
    openapi::configure(config);
    public::configure(config);
    admin::configure(config);
    gray::configure(config);
    audit::configure(config);
    backups::configure(config);
    scheduler::configure(config);
    templates::configure(config);
    versions::configure(config);
    crate::ws::configure(config);
    h5::configure(config);
}

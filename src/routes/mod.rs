//! HTTP routes: one module per audience. Each `configure` only registers its routes;
//! app data, extractor configs and the default service are set up in `startup`.

pub(crate) mod admin;
pub(crate) mod h5;
pub(crate) mod openapi;
pub(crate) mod ops;
pub(crate) mod public;

use actix_web::web;

pub fn configure(config: &mut web::ServiceConfig) {
    ops::configure(config);
    openapi::configure(config);
    public::configure(config);
    admin::configure(config);
    crate::ws::configure(config);
    h5::configure(config);
}

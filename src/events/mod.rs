//! Events out of the core: the indexer that copies every durable journal event into the
//! event store (`playcore_snapshots::event_store`), the catalog of event types with the
//! JSON their `data` is served as, and the event routes (`GET /admin/v1/events`,
//! `GET /admin/v1/event-types`).

pub(crate) mod catalog;
pub(crate) mod indexer;
pub(crate) mod routes;
pub(crate) mod types_route;

//! The catalog of event types: every type's name, what it means, the JSON Schema of its
//! `data`, and the rendering of a domain event's `data` in the API's conventions
//! (camelCase fields, upper-case enum values, cents, RFC 3339 times).
//!
//! INTERFACE SKELETON: bodies marked `todo!` are to be filled.

use playcore_actors::domain::Event;

/// One event type as the catalog lists it.
pub struct EventType {
    /// `INSTANCE_CREATED` …
    pub name: &'static str,
    pub description: &'static str,
    /// The JSON Schema (draft 2020-12) of the type's `data`.
    pub schema: fn() -> serde_json::Value,
}

/// Every event type, in a stable order.
pub fn types() -> &'static [EventType] {
    todo!("catalog")
}

/// Whether `name` is a type the catalog lists.
pub fn is_type(name: &str) -> bool {
    types().iter().any(|event_type| event_type.name == name)
}

/// The `data` of `event` as served (in events pages and webhook bodies).
pub fn data_json(_event: &Event) -> serde_json::Value {
    todo!("catalog")
}

//! The pure domain: state machines with `decide(&self, command, now)` and `apply(&mut self, &event)`.
//!
//! No actix, no I/O, no clock, no randomness: time and ids are arguments. That makes
//! recovery a deterministic replay and the invariants checkable by property tests.

pub mod approval;
pub mod archive;
pub mod chunked;
pub mod command;
pub mod config;
pub mod decide;
pub mod eligibility;
pub mod event;
pub mod gray;
pub mod ids;
pub mod rejection;
pub mod settle;
pub mod state;
pub mod template;
pub mod text;
pub mod users;
pub mod versions;

pub use approval::{ApprovalFlow, FlowLevel, LevelMode, LevelProgress};
pub use archive::{CandidateQuery, CandidateScan, ARCHIVE_BATCH_ORDERS_MAX};
pub use command::{Command, Payment, Source};
pub use config::{ActivityConfig, FieldError};
pub use decide::{config_hash, decide_create, Decision, Subject};
pub use eligibility::{Ineligibility, Window};
pub use event::{Event, EventKind};
pub use gray::{GrayConfig, GrayDecision, GrayReason, GrayUser};
pub use ids::{ActivityId, GroupId, OrderId};
pub use rejection::Rejection;
pub use state::{
    ActivityImage, ActivityState, ApprovalStatus, GroupStatus, OrderStatus, Phase, Stock,
};
pub use template::{Rules, TemplateCode};
pub use text::{check_text, TextKind};
pub use versions::{ConfigVersion, VersionAction, VersionHistory};

#[cfg(test)]
mod tests;

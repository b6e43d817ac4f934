//! playcore-domain: the pure domain of playcore. One activity (a marketing product sold
//! through a play: flash sale, group buy, course group) is one [`ActivityState`]; a
//! [`Command`] is checked by `decide(&self, command, now_ms)`, which returns the events it
//! causes (or a [`Rejection`]); `apply(&mut self, &event)` folds each event into the state.
//!
//! Pure: no actix, no I/O, no clock, no randomness, no storage codec. Time and ids are
//! arguments (`now_ms`, order and group numbers come from the state), so the same
//! commands at the same times give the same events and the same events give the same
//! state. That is what makes recovery a deterministic replay of the journal, and the
//! invariants checkable by property tests without a runtime.
//!
//! # Layout
//! One folder per aggregate, each with its types and status machine and its parts of
//! `decide` and `apply`; they all act on the one [`ActivityState`]:
//! - `activity`: configuration, template, stock, publication and the window's phases.
//! - `approval`: submissions, approval flows and the history of actions.
//! - `order`: orders and their status machine; grabs, payment, cancel, timeout, refund.
//! - `group`: group instances of the group plays and their status machine.
//! - `gray`: the gray release (which users are admitted while it rolls out).
//! - `versions`: the configuration's versions and rollbacks.
//!
//! Shared by all: `command`, `event` (the journal's records), `decide` (the dispatch and
//! [`Decision`]), `state` (the state and the `apply` dispatch), `archive` (orders that
//! leave memory), `eligibility` (the pure part of the eligibility rules), `ids`, `text`
//! (the rule on caller text), `rejection`, and the containers `chunked` and `users`.
//!
//! Every status machine has one transition function (`OrderStatus::after`,
//! `GroupStatus::after`, `Phase::after`, `ApprovalStatus::after`), and `apply` asserts each
//! transition it makes. Overflow checks are on for this crate in every profile: stock,
//! counts and money never wrap.

pub mod activity;
pub mod approval;
pub mod archive;
pub mod chunked;
pub mod command;
pub mod decide;
pub mod eligibility;
pub mod event;
pub mod gray;
pub mod group;
pub mod ids;
pub mod order;
pub mod rejection;
pub mod state;
pub mod text;
pub mod users;
pub mod versions;

pub use activity::{config, template};

pub use activity::ActivityStatus;
pub use approval::{ApprovalAction, ApprovalFlow, FlowLevel, LevelMode, LevelProgress};
pub use archive::{CandidateQuery, CandidateScan, ARCHIVE_BATCH_ORDERS_MAX};
pub use command::{Command, Payment, Source};
pub use config::{config_hash, ActivityConfig, FieldError};
pub use decide::{decide_create, Decision, Subject};
pub use eligibility::{Ineligibility, Window};
pub use event::{Event, EventKind};
pub use gray::{GrayConfig, GrayDecision, GrayReason, GrayUser};
pub use ids::{ActivityId, GroupId, OrderId, RequestId, TradeNumber, UserId};
pub use rejection::Rejection;
pub use state::{
    ActivityImage, ActivityState, ApprovalStatus, GroupStatus, OrderStatus, Phase, Stock,
};
pub use template::{Rules, TemplateCode};
pub use text::{check_text, TextKind};
pub use versions::{ConfigVersion, VersionAction, VersionHistory};

#[cfg(test)]
mod tests;

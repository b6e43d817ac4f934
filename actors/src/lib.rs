//! playcore-actors: the actors around playcore's pure domain.
//!
//! # Layout
//! - `domain`: the crate `playcore-domain`, re-exported: pure state machines (`decide` /
//!   `apply`), events, commands, rejections. No actix, I/O or clock inside.
//! - `views`: immutable public views built from the state (what replies and pushes show).
//! - `activity_actor`: the actor shell of one activity: decide, journal, apply, reply.
//! - `eligibility`: the platform-wide indexes behind "new users only" and mutual exclusion.
//! - `cold`: archived orders in the cold store: written whole by the archiver, read back
//!   to complete the views of archived stubs.
//! - `durability`: waiters for the journal's durable watermark, woken exactly once.
//! - `held_replies`: replies held until durable, counted for the journal's group commit.
//! - `floors`: how far back recovery needs the journal, so it can be truncated.
//! - `mailbox`: the real bound on an actor's mailbox (503 OVERLOADED past it).
//! - `publisher`: reveals views once the journal made them durable (watch channels).
//! - `registry`: activity id -> actor and views; `execute` is the one path to an actor.
//! - `timers`: the timeout supervisor's deadline queue.
//! - `runtime`: recovery, the arbiter pool, the timer loop and ordered shutdown.

pub mod activity_actor;
pub mod cold;
pub mod durability;
pub mod eligibility;
pub mod floors;
pub mod held_replies;
pub mod mailbox;
pub mod publisher;
pub mod registry;
pub mod runtime;
pub mod timers;
pub mod views;

pub use playcore_domain as domain;

pub use activity_actor::{ActorSettings, Answer, SubjectView};
pub use registry::{ExecuteError, Registry};
pub use runtime::{RecoveryReport, Runtime, RuntimeError, RuntimeOptions};

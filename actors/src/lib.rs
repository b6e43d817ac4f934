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
//! - `durable`: the one path to visibility: replies, read results and views are held in
//!   each actor's gate until the journal made them durable (websocket pushes are
//!   published views).
//! - `floors`: how far back recovery needs the journal, so it can be truncated.
//! - `mailbox`: the real bound on an actor's mailbox (503 OVERLOADED past it).
//! - `registry`: activity id -> actor and views; `execute` is the one path to an actor.
//! - `timers`: the timeout supervisor's deadline queue.
//! - `runtime`: recovery, the arbiter pool, the timer loop and ordered shutdown.

pub mod activity_actor;
pub mod cold;
pub mod durable;
pub mod eligibility;
pub mod floors;
pub mod mailbox;
pub mod registry;
pub mod runtime;
pub mod timers;
pub mod views;

pub use playcore_domain as domain;

pub use activity_actor::{ActorSettings, Answer, SubjectView};
pub use registry::{ExecuteError, Registry};
pub use runtime::{no_truncation_hold, RecoveryReport, Runtime, RuntimeError, RuntimeOptions};

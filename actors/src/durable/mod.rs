//! Held until durable: the one path by which what an actor decided becomes visible.
//!
//! The rule: no reply, no read result, no published view and no websocket push reveals
//! state before the journal made it durable. Everything an actor produces after appending
//! an entry passes through its [`Gate`], keyed by the journal seq it depends on:
//! - replies to commands and results of reads are held, oldest first;
//! - the views the entry changed are staged ([`Publisher`]);
//! - once the journal's durable seq covers them, the gate publishes the newest covered
//!   views on the activity's watch channels ([`Published`]), which HTTP hot reads and the
//!   websocket hub's fan-out tasks watch (a push is a published view, so it is durable
//!   too), and then sends the replies, so whoever gets a reply can read what it says.
//!
//! A reply travels as [`Durable`], which only this module builds: a caller that holds one
//! needs no wait of its own. Each actor has at most one wait running, for the oldest seq
//! its gate holds ([`Journal::wait_durable`], woken by each group commit): one waiter per
//! busy activity, however many requests wait. A reply whose seq is durable already is sent
//! at once, with no wait and no hop.
//!
//! The group-commit hint: the registry announces each command's caller as an expected
//! waiter ([`Journal::expect_waiter`]) and the gate hints every reply it holds as waiting
//! ([`Journal::hint_waiting`]) until it is sent or dropped; when every expected waiter
//! waits, the journal writer syncs its batch without waiting out the window.
//!
//! When the journal fails or closes, what is held is dropped unsent: callers learn that no
//! answer will come ([`Closed`]), and staged views are never published.

mod gate;
mod views;

pub use gate::{Gate, Release};
pub use views::{Published, Publisher};

use playcore_snapshots::Journal;

/// The journal went away before the awaited seq became durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// A value the gate released: everything it shows is durable. Only this module builds one.
#[derive(Debug)]
pub struct Durable<T>(T);

impl<T> Durable<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Resolves once every journal entry up to `seq` is durable: for the rare caller outside an
/// actor (creating an activity). Inside an actor, use its [`Gate`].
pub async fn wait(journal: &Journal, seq: u64) -> Result<(), Closed> {
    journal.wait_durable(seq).await.map_err(|_| Closed)
}

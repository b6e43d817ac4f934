//! How the journal says that it can no longer make anything durable: its writer or
//! snapshot thread returned an error or panicked, or the relaxed-mode flusher stopped on
//! an error. The first reason is kept in a watch channel, so readiness checks read it and
//! a supervisor task awaits it without being woken by every group commit.

use std::sync::{Arc, Weak};

use tokio::sync::watch;

use super::{Shared, State};
use crate::store::StoreError;

/// Why the journal failed, once it has (the first reason wins).
pub(super) struct Failure {
    sender: watch::Sender<Option<Arc<str>>>,
}

impl Default for Failure {
    fn default() -> Self {
        Failure {
            sender: watch::Sender::new(None),
        }
    }
}

impl Failure {
    pub(super) fn report(&self, reason: String) {
        self.sender.send_if_modified(|failure| {
            if failure.is_some() {
                return false;
            }
            *failure = Some(reason.into());
            true
        });
    }

    pub(super) fn reason(&self) -> Option<Arc<str>> {
        self.sender.borrow().clone()
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<Option<Arc<str>>> {
        self.sender.subscribe()
    }
}

/// Runs the body of a journal thread: its error, or its panic, is the journal's failure.
pub(super) fn reporting(
    shared: &Shared,
    thread: &'static str,
    body: impl FnOnce() -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let _on_unwind = ReportOnUnwind {
        failure: &shared.failure,
        thread,
    };
    let outcome = body();
    if let Err(error) = &outcome {
        shared.failure.report(format!("{thread}: {error}"));
    }
    outcome
}

/// The relaxed-mode flusher returned: while the journal is still open that was an error
/// (logged by the flusher), and nothing is flushed any more.
pub(super) fn report_if_open(shared: &Weak<Shared>, thread: &'static str) {
    let Some(shared) = shared.upgrade() else {
        return;
    };
    if shared.lock_pending().state == State::Open {
        let reason = format!("{thread}: a flush or sync failed (see the error above)");
        shared.failure.report(reason);
    }
}

struct ReportOnUnwind<'a> {
    failure: &'a Failure,
    thread: &'static str,
}

impl Drop for ReportOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.failure
                .report(format!("{}: the thread panicked", self.thread));
        }
    }
}

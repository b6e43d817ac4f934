//! `apply` for the activity's own events: edits and publication. Every phase and approval
//! change goes through the machines' transition functions and is asserted.

use super::config::ActivityConfig;
use crate::event::EventKind;
use crate::state::ActivityState;
use std::sync::Arc;

impl ActivityState {
    /// An edit or rollback installs `config`: the stock follows it, and the activity goes
    /// back to approval (an approved one becomes a draft) and offline.
    pub(crate) fn apply_update(&mut self, config: Arc<ActivityConfig>, event: &EventKind) {
        let held = self.stock.reserved + self.stock.sold;
        self.stock.total = config.stock_total;
        self.stock.available = config.stock_total - held;
        self.config = config;
        self.change_approval_status(event);
        self.change_phase(event);
    }

    pub(crate) fn apply_published(&mut self, event: &EventKind) {
        self.change_approval_status(event);
        self.change_phase(event);
        self.publication.ever_published = true;
    }

    /// Moves the publication along the phase machine; an event that does not fit panics.
    pub(crate) fn change_phase(&mut self, event: &EventKind) {
        let previous = self.publication.phase;
        let next = previous.after(event);
        assert!(
            next.is_some(),
            "{} cannot happen in phase {previous:?}",
            event.type_name()
        );
        self.publication.phase = next.unwrap_or(previous);
    }
}

//! `apply` for approval events: every status change goes through [`ApprovalStatus::after`]
//! and is asserted, and every action is recorded in the history.

use super::{ApprovalAction, ApprovalFlow, ApprovalRecord, LevelProgress};
use crate::event::EventKind;
use crate::state::ActivityState;

impl ActivityState {
    /// A new revision starts at level 1 of the flow its event carries.
    pub(crate) fn apply_submitted(
        &mut self,
        event: &EventKind,
        by: &str,
        flow: &ApprovalFlow,
        config_hash: &str,
        at_ms: i64,
    ) {
        self.change_approval_status(event);
        let approval = &mut self.approval;
        approval.revision += 1;
        approval.submitted_by = Some(by.to_string());
        approval.flow = flow.clone();
        approval.levels.clear();
        approval.config_hash = config_hash.to_string();
        self.apply_level_started(1);
        self.record_approval(ApprovalAction::Submit, by, "", at_ms);
    }

    /// Level `level` (from 1) starts: its candidates are copied from the flow now.
    pub(crate) fn apply_level_started(&mut self, level: u32) {
        let index = level.saturating_sub(1) as usize;
        if let Some(spec) = self.approval.flow.levels.get(index) {
            self.approval.levels.push(LevelProgress::started(spec));
        }
    }

    pub(crate) fn apply_vote(&mut self, by: &str, remark: &str, at_ms: i64) {
        if let Some(level) = self.approval.levels.last_mut() {
            level.approvals.push(by.to_string());
        }
        self.record_approval(ApprovalAction::Approve, by, remark, at_ms);
    }

    pub(crate) fn record_approval(
        &mut self,
        action: ApprovalAction,
        by: &str,
        remark: &str,
        at_ms: i64,
    ) {
        let revision = self.approval.revision;
        let record = ApprovalRecord {
            action,
            by: by.to_string(),
            remark: remark.to_string(),
            at_ms,
            revision,
            level: self.approval.levels.len() as u32,
            config_hash: self.approval.config_hash.clone(),
        };
        self.approval.history.push(record);
    }

    /// Moves the approval along its status machine; an event that does not fit panics.
    pub(crate) fn change_approval_status(&mut self, event: &EventKind) {
        let previous = self.approval.status;
        let next = previous.after(event);
        assert!(
            next.is_some(),
            "{} cannot happen to a {} submission",
            event.type_name(),
            previous.name()
        );
        self.approval.status = next.unwrap_or(previous);
    }
}

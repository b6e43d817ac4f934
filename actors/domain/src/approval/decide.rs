//! `decide` for approvals: submit, approve or reject, withdraw.

use super::{ApprovalAction, ApprovalFlow, ApprovalStatus};
use crate::config::config_hash;
use crate::decide::{check_remark, Decided, Decision, Subject};
use crate::event::EventKind;
use crate::rejection::Rejection;
use crate::state::ActivityState;

impl ActivityState {
    pub(crate) fn decide_submit(&self, by: &str, flow: &ApprovalFlow) -> Decided {
        match self.approval.status {
            ApprovalStatus::Draft | ApprovalStatus::Rejected => {}
            ApprovalStatus::Pending => return Err(Rejection::InvalidState("already submitted")),
            ApprovalStatus::Approved => return Err(Rejection::InvalidState("already approved")),
        }
        if let Some(reason) = flow.problem() {
            return Err(Rejection::Validation {
                field: "approvalFlow",
                reason,
            });
        }
        let event = EventKind::ApprovalFlowSubmitted {
            by: by.to_string(),
            flow: flow.clone(),
            config_hash: config_hash(&self.config),
        };
        Ok(Decision::new(vec![event], Subject::Activity))
    }

    /// Approve or reject: the submitter never, only the current level's candidates, and a
    /// repeat of what the same person just did is a no-op.
    pub(crate) fn decide_review(&self, by: &str, remark: &str, approve: bool) -> Decided {
        if !approve && remark.trim().is_empty() {
            return Err(Rejection::Validation {
                field: "remark",
                reason: "required to reject".to_string(),
            });
        }
        check_remark(remark)?;
        if self.repeats_review(by, approve) {
            return Ok(Decision::replay(Subject::Activity));
        }
        if self.approval.status != ApprovalStatus::Pending {
            return Err(Rejection::InvalidState(
                "only a pending submission can be reviewed",
            ));
        }
        if self.approval.submitted_by.as_deref() == Some(by) {
            return Err(Rejection::Forbidden("nobody reviews their own submission"));
        }
        let Some(level) = self.approval.levels.last() else {
            return Err(Rejection::InvalidState(
                "the submission has no level to review",
            ));
        };
        if !level.may_act(by) {
            return Err(Rejection::Forbidden(
                "only a candidate of the current level may act",
            ));
        }
        let (by, remark) = (by.to_string(), remark.to_string());
        if !approve {
            let event = EventKind::ApprovalRejected { by, remark };
            return Ok(Decision::new(vec![event], Subject::Activity));
        }
        Ok(Decision::new(
            self.approval_events(by, remark),
            Subject::Activity,
        ))
    }

    /// Whether the review repeats the caller's own latest action on this revision.
    pub(crate) fn repeats_review(&self, by: &str, approve: bool) -> bool {
        let approval = &self.approval;
        match approval.status {
            ApprovalStatus::Pending => {
                approve
                    && approval
                        .levels
                        .last()
                        .is_some_and(|level| level.has_approved(by))
            }
            ApprovalStatus::Approved => approve && self.last_record_is(ApprovalAction::Approve, by),
            ApprovalStatus::Rejected => !approve && self.last_record_is(ApprovalAction::Reject, by),
            ApprovalStatus::Draft => false,
        }
    }

    pub(crate) fn last_record_is(&self, action: ApprovalAction, by: &str) -> bool {
        self.approval
            .history
            .last()
            .is_some_and(|record| record.action == action && record.by == by)
    }

    /// One more approval of the current level: a vote, a vote and the next level, or the
    /// approval of the whole flow.
    pub(crate) fn approval_events(&self, by: String, remark: String) -> Vec<EventKind> {
        let approval = &self.approval;
        let level = approval.levels.len() as u32;
        let completes = approval
            .levels
            .last()
            .is_some_and(|current| current.completed_by_next());
        if !completes {
            return vec![EventKind::ApprovalVoted { by, level, remark }];
        }
        if (level as usize) < approval.flow.levels.len() {
            let next = level + 1;
            return vec![
                EventKind::ApprovalVoted { by, level, remark },
                EventKind::ApprovalLevelAdvanced { level: next },
            ];
        }
        vec![EventKind::ApprovalApproved { by, remark }]
    }

    pub(crate) fn decide_withdraw(&self, by: &str) -> Decided {
        if self.approval.status == ApprovalStatus::Draft
            && self.last_record_is(ApprovalAction::Withdraw, by)
        {
            return Ok(Decision::replay(Subject::Activity));
        }
        if self.approval.status != ApprovalStatus::Pending {
            return Err(Rejection::InvalidState(
                "only a pending submission can be withdrawn",
            ));
        }
        if self.approval.submitted_by.as_deref() != Some(by) {
            return Err(Rejection::Forbidden("only the submitter may withdraw"));
        }
        let event = EventKind::ApprovalWithdrawn { by: by.to_string() };
        Ok(Decision::new(vec![event], Subject::Activity))
    }
}

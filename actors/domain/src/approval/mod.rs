//! The approval aggregate: submissions of an activity's configuration, the approval flow
//! they go through (`flow`), the approval status machine and the history of actions.

mod apply;
mod decide;
mod flow;

pub use flow::{ApprovalFlow, FlowLevel, LevelMode, LevelProgress, CANDIDATES_MAX, LEVELS_MAX};

use crate::event::EventKind;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where the latest submission is. Wire names (JSON) are the platform's: DRAFT, PENDING …
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApprovalStatus {
    Draft,
    Pending,
    Approved,
    Rejected,
}

impl ApprovalStatus {
    pub const ALL: [ApprovalStatus; 4] = [
        ApprovalStatus::Draft,
        ApprovalStatus::Pending,
        ApprovalStatus::Approved,
        ApprovalStatus::Rejected,
    ];

    /// The wire name; equal to the serde name.
    pub fn name(self) -> &'static str {
        match self {
            ApprovalStatus::Draft => "DRAFT",
            ApprovalStatus::Pending => "PENDING",
            ApprovalStatus::Approved => "APPROVED",
            ApprovalStatus::Rejected => "REJECTED",
        }
    }

    pub fn parse(name: &str) -> Option<ApprovalStatus> {
        ApprovalStatus::ALL
            .into_iter()
            .find(|status| status.name() == name)
    }

    /// The approval status machine, its one transition function: the status after
    /// `event`, or `None` when the event cannot happen in this status. Other events leave
    /// the status as it is.
    pub fn after(self, event: &EventKind) -> Option<ApprovalStatus> {
        use ApprovalStatus::*;
        match event {
            EventKind::ApprovalSubmitted { .. } | EventKind::ApprovalFlowSubmitted { .. } => {
                matches!(self, Draft | Rejected).then_some(Pending)
            }
            EventKind::ApprovalVoted { .. } | EventKind::ApprovalLevelAdvanced { .. } => {
                (self == Pending).then_some(Pending)
            }
            EventKind::ApprovalApproved { .. } => (self == Pending).then_some(Approved),
            EventKind::ApprovalRejected { .. } => (self == Pending).then_some(Rejected),
            EventKind::ApprovalWithdrawn { .. } => (self == Pending).then_some(Draft),
            // An edit needs approval again; a pending submission is withdrawn first.
            EventKind::ActivityUpdated { .. } | EventKind::ActivityRolledBack { .. } => {
                match self {
                    Draft | Approved => Some(Draft),
                    Rejected => Some(Rejected),
                    Pending => None,
                }
            }
            EventKind::ActivityPublished { .. } => (self == Approved).then_some(Approved),
            EventKind::ActivityCreated { .. }
            | EventKind::ActivityUnpublished { .. }
            | EventKind::ActivityOnline
            | EventKind::ActivityEnded
            | EventKind::InstanceCreated { .. }
            | EventKind::InstancePaid { .. }
            | EventKind::InstanceCancelled { .. }
            | EventKind::InstanceTimeout { .. }
            | EventKind::InstanceRefundPending { .. }
            | EventKind::InstanceRefunded { .. }
            | EventKind::InstanceSuccess { .. }
            | EventKind::InstanceFailed { .. }
            | EventKind::FlashSaleSoldOut
            | EventKind::GroupCreated { .. }
            | EventKind::GroupMemberJoined { .. }
            | EventKind::GroupMemberLeft { .. }
            | EventKind::GroupActivated { .. }
            | EventKind::GroupFull { .. }
            | EventKind::CourseOpen { .. }
            | EventKind::GroupFailed { .. }
            | EventKind::GrayConfigured { .. }
            | EventKind::OrdersArchived { .. }
            | EventKind::InstanceFailedTo { .. } => Some(self),
        }
    }
}

/// What one step of the approval history did. Stored (and sent) as its wire name, a
/// string, exactly as the history held it when it was a plain string: snapshots written by
/// earlier builds decode unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApprovalAction {
    Submit,
    Approve,
    Reject,
    Withdraw,
}

impl ApprovalAction {
    pub const ALL: [ApprovalAction; 4] = [
        ApprovalAction::Submit,
        ApprovalAction::Approve,
        ApprovalAction::Reject,
        ApprovalAction::Withdraw,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ApprovalAction::Submit => "SUBMIT",
            ApprovalAction::Approve => "APPROVE",
            ApprovalAction::Reject => "REJECT",
            ApprovalAction::Withdraw => "WITHDRAW",
        }
    }

    pub fn parse(name: &str) -> Option<ApprovalAction> {
        ApprovalAction::ALL
            .into_iter()
            .find(|action| action.name() == name)
    }
}

impl Serialize for ApprovalAction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ApprovalAction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        ApprovalAction::parse(&name).ok_or_else(|| {
            serde::de::Error::unknown_variant(&name, &["SUBMIT", "APPROVE", "REJECT", "WITHDRAW"])
        })
    }
}

/// One step of the approval history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    pub action: ApprovalAction,
    pub by: String,
    pub remark: String,
    pub at_ms: i64,
    pub revision: u32,
    /// The level acted on, from 1; 0 when the action concerns no level (withdraw of a
    /// legacy submission).
    pub level: u32,
    /// SHA-256 (hex) of the configuration under review ([`crate::config::config_hash`]).
    pub config_hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub status: ApprovalStatus,
    /// Incremented at each submission.
    pub revision: u32,
    pub submitted_by: Option<String>,
    pub history: Vec<ApprovalRecord>,
    /// The flow of the latest submission, snapshotted from its event.
    pub flow: ApprovalFlow,
    /// The levels of the latest submission started so far; the last is the current one.
    pub levels: Vec<LevelProgress>,
    /// SHA-256 (hex) of the configuration of the latest submission.
    pub config_hash: String,
}

impl Approval {
    /// The level being decided, from 1, while the submission is pending.
    pub fn current_level(&self) -> Option<u32> {
        if self.status == ApprovalStatus::Pending && !self.levels.is_empty() {
            Some(self.levels.len() as u32)
        } else {
            None
        }
    }

    /// Whether `name` may act on the current level now.
    pub fn awaits(&self, name: &str) -> bool {
        self.current_level().is_some()
            && self.submitted_by.as_deref() != Some(name)
            && self
                .levels
                .last()
                .is_some_and(|level| level.may_act(name) && !level.has_approved(name))
    }
}

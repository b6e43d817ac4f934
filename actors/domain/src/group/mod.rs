//! The group aggregate: a group instance of a group play, its status machine, and what
//! `decide` and `apply` do to groups.

mod apply;
mod decide;

use crate::event::EventKind;
use serde::{Deserialize, Serialize};

/// Where a group is. Wire names (JSON) are the platform's: PENDING, ACTIVE …
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GroupStatus {
    /// The leader has not paid yet.
    Pending,
    Active,
    Success,
    Failed,
}

impl GroupStatus {
    pub const ALL: [GroupStatus; 4] = [
        GroupStatus::Pending,
        GroupStatus::Active,
        GroupStatus::Success,
        GroupStatus::Failed,
    ];

    /// The wire name, for frames written by hand; equal to the serde name.
    pub fn name(self) -> &'static str {
        match self {
            GroupStatus::Pending => "PENDING",
            GroupStatus::Active => "ACTIVE",
            GroupStatus::Success => "SUCCESS",
            GroupStatus::Failed => "FAILED",
        }
    }

    pub fn parse(name: &str) -> Option<GroupStatus> {
        GroupStatus::ALL
            .into_iter()
            .find(|status| status.name() == name)
    }

    pub fn is_open(self) -> bool {
        matches!(self, GroupStatus::Pending | GroupStatus::Active)
    }

    /// The group's status machine, its one transition function: the status after `event`
    /// (about this group), or `None` when the event cannot happen to a group in this
    /// status. Events about no group leave the status as it is.
    pub fn after(self, event: &EventKind) -> Option<GroupStatus> {
        use GroupStatus::*;
        match event {
            // The leader joins a pending group; others join once it is active.
            EventKind::GroupMemberJoined { .. } => self.is_open().then_some(self),
            EventKind::GroupMemberLeft { .. } => (self == Active).then_some(Active),
            EventKind::GroupActivated { .. } => (self == Pending).then_some(Active),
            EventKind::GroupFull { .. } => (self == Active).then_some(Success),
            EventKind::CourseOpen { .. } => (self == Success).then_some(Success),
            EventKind::GroupFailed { .. } => self.is_open().then_some(Failed),
            // A group is created once: no event creates a group that has a status.
            EventKind::GroupCreated { .. } => None,
            EventKind::ActivityCreated { .. }
            | EventKind::ActivityUpdated { .. }
            | EventKind::ApprovalSubmitted { .. }
            | EventKind::ApprovalApproved { .. }
            | EventKind::ApprovalRejected { .. }
            | EventKind::ApprovalWithdrawn { .. }
            | EventKind::ActivityPublished { .. }
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
            | EventKind::GrayConfigured { .. }
            | EventKind::ApprovalFlowSubmitted { .. }
            | EventKind::ApprovalVoted { .. }
            | EventKind::ApprovalLevelAdvanced { .. }
            | EventKind::ActivityRolledBack { .. }
            | EventKind::OrdersArchived { .. }
            | EventKind::InstanceFailedTo { .. } => Some(self),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: String,
    pub order: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub leader: String,
    pub target: u32,
    /// Members holding a seat (paid or not); never more than `target`.
    pub members: Vec<Member>,
    pub paid: u32,
    pub status: GroupStatus,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

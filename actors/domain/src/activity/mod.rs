//! The activity aggregate: its configuration and template, its stock, its publication and
//! the window's phases, and what the public sees of them.

mod apply;
pub mod config;
mod decide;
pub mod template;

use crate::approval::ApprovalStatus;
use crate::event::EventKind;
use crate::state::ActivityState;
use serde::{Deserialize, Serialize};

/// Where a published activity is in its time window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Phase {
    Unpublished,
    Scheduled,
    Online,
    Ended,
}

impl Phase {
    pub const ALL: [Phase; 4] = [
        Phase::Unpublished,
        Phase::Scheduled,
        Phase::Online,
        Phase::Ended,
    ];

    /// The phase machine, its one transition function: the phase after `event`, or `None`
    /// when the event cannot happen in this phase. Other events leave the phase as it is.
    pub fn after(self, event: &EventKind) -> Option<Phase> {
        use Phase::*;
        match event {
            EventKind::ActivityPublished { .. } => (self == Unpublished).then_some(Scheduled),
            EventKind::ActivityUnpublished { .. } => (self != Unpublished).then_some(Unpublished),
            EventKind::ActivityOnline => (self == Scheduled).then_some(Online),
            EventKind::ActivityEnded => matches!(self, Scheduled | Online).then_some(Ended),
            // An edit (or rollback) takes the activity offline, whatever its phase.
            EventKind::ActivityUpdated { .. } | EventKind::ActivityRolledBack { .. } => {
                Some(Unpublished)
            }
            EventKind::ActivityCreated { .. }
            | EventKind::ApprovalSubmitted { .. }
            | EventKind::ApprovalApproved { .. }
            | EventKind::ApprovalRejected { .. }
            | EventKind::ApprovalWithdrawn { .. }
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
            | EventKind::ApprovalFlowSubmitted { .. }
            | EventKind::ApprovalVoted { .. }
            | EventKind::ApprovalLevelAdvanced { .. }
            | EventKind::OrdersArchived { .. }
            | EventKind::InstanceFailedTo { .. } => Some(self),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    pub phase: Phase,
    /// Tells OFFLINE (taken down) from a never-published draft.
    pub ever_published: bool,
}

/// Units of the activity. Invariant: total = available + reserved + sold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stock {
    pub total: u64,
    pub available: u64,
    pub reserved: u64,
    pub sold: u64,
}

/// The status a client sees: the approval state before publication, then the window's
/// phase. Wire names (JSON) are the platform's: DRAFT, ONLINE, SOLD_OUT …
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActivityStatus {
    Draft,
    Pending,
    Approved,
    Rejected,
    NotStarted,
    Online,
    SoldOut,
    Ended,
    Offline,
}

impl ActivityStatus {
    pub const ALL: [ActivityStatus; 9] = [
        ActivityStatus::Draft,
        ActivityStatus::Pending,
        ActivityStatus::Approved,
        ActivityStatus::Rejected,
        ActivityStatus::NotStarted,
        ActivityStatus::Online,
        ActivityStatus::SoldOut,
        ActivityStatus::Ended,
        ActivityStatus::Offline,
    ];

    /// The wire name, for frames written by hand; equal to the serde name.
    pub fn name(self) -> &'static str {
        match self {
            ActivityStatus::Draft => "DRAFT",
            ActivityStatus::Pending => "PENDING",
            ActivityStatus::Approved => "APPROVED",
            ActivityStatus::Rejected => "REJECTED",
            ActivityStatus::NotStarted => "NOT_STARTED",
            ActivityStatus::Online => "ONLINE",
            ActivityStatus::SoldOut => "SOLD_OUT",
            ActivityStatus::Ended => "ENDED",
            ActivityStatus::Offline => "OFFLINE",
        }
    }

    /// Whether the public API shows an activity in this status: it was published at least
    /// once (drafts and activities still in approval are not public).
    pub fn is_public(self) -> bool {
        match self {
            ActivityStatus::Draft
            | ActivityStatus::Pending
            | ActivityStatus::Approved
            | ActivityStatus::Rejected => false,
            ActivityStatus::NotStarted
            | ActivityStatus::Online
            | ActivityStatus::SoldOut
            | ActivityStatus::Ended
            | ActivityStatus::Offline => true,
        }
    }

    /// Whether the window is open (sold out or not).
    pub fn is_online(self) -> bool {
        matches!(self, ActivityStatus::Online | ActivityStatus::SoldOut)
    }
}

impl From<ApprovalStatus> for ActivityStatus {
    fn from(status: ApprovalStatus) -> ActivityStatus {
        match status {
            ApprovalStatus::Draft => ActivityStatus::Draft,
            ApprovalStatus::Pending => ActivityStatus::Pending,
            ApprovalStatus::Approved => ActivityStatus::Approved,
            ApprovalStatus::Rejected => ActivityStatus::Rejected,
        }
    }
}

impl ActivityState {
    /// The status a client sees.
    pub fn public_status(&self) -> ActivityStatus {
        let approved = self.approval.status == ApprovalStatus::Approved;
        match self.publication.phase {
            Phase::Scheduled => ActivityStatus::NotStarted,
            Phase::Online if self.stock.available == 0 => ActivityStatus::SoldOut,
            Phase::Online => ActivityStatus::Online,
            Phase::Ended => ActivityStatus::Ended,
            Phase::Unpublished if self.publication.ever_published && approved => {
                ActivityStatus::Offline
            }
            Phase::Unpublished => ActivityStatus::from(self.approval.status),
        }
    }

    pub fn is_published(&self) -> bool {
        self.publication.phase != Phase::Unpublished
    }
}

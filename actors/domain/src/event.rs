//! Events: the facts an activity's state is made of, and the journal's records.
//!
//! Names follow what the platform already speaks (INSTANCE_CREATED, GROUP_FULL …).
//! Every event is stamped with the time its command was decided at.
//!
//! The journal stores events encoded with the storage codec: an `EventKind` is its variant
//! index and then its fields. So variants are only ever added at the end, and no existing
//! variant or field changes: the bytes an earlier build wrote must decode to the same event.

use crate::activity::config::ActivityConfig;
use crate::approval::ApprovalFlow;
use crate::command::Source;
use crate::gray::GrayConfig;
use crate::order::OrderStatus;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One fact about one activity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at_ms: i64,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    ActivityCreated {
        config: ActivityConfig,
        by: String,
    },
    ActivityUpdated {
        config: ActivityConfig,
        by: String,
    },
    ApprovalSubmitted {
        by: String,
    },
    ApprovalApproved {
        by: String,
        remark: String,
    },
    ApprovalRejected {
        by: String,
        remark: String,
    },
    ApprovalWithdrawn {
        by: String,
    },
    ActivityPublished {
        by: String,
    },
    ActivityUnpublished {
        by: String,
    },
    /// The published activity's window opened (or it was published inside its window).
    ActivityOnline,
    /// The published activity's window closed.
    ActivityEnded,
    /// An order reserved `quantity` units; for group plays `group` names its group.
    InstanceCreated {
        order: u64,
        user: String,
        request: String,
        source: Source,
        quantity: u32,
        amount_cents: u64,
        expires_at_ms: i64,
        group: Option<u64>,
    },
    InstancePaid {
        order: u64,
        trade_number: Option<String>,
    },
    InstanceCancelled {
        order: u64,
    },
    InstanceTimeout {
        order: u64,
    },
    /// Money arrived for an order that can no longer take stock: it must go back.
    InstanceRefundPending {
        order: u64,
        trade_number: Option<String>,
    },
    InstanceRefunded {
        order: u64,
    },
    /// A paid member's group succeeded.
    InstanceSuccess {
        order: u64,
    },
    /// A member's group failed: unpaid orders are cancelled, paid ones go to refund.
    ///
    /// The layout earlier builds journaled: `apply` decides the new status itself, from the
    /// order's status. No longer emitted ([`EventKind::InstanceFailedTo`] replaces it); kept
    /// so that those journals decode and replay exactly as before.
    InstanceFailed {
        order: u64,
    },
    FlashSaleSoldOut,
    GroupCreated {
        group: u64,
        leader: String,
        target: u32,
        expires_at_ms: i64,
    },
    GroupMemberJoined {
        group: u64,
        user: String,
        order: u64,
    },
    /// An unpaid member left (cancelled or timed out) and freed the seat.
    GroupMemberLeft {
        group: u64,
        order: u64,
    },
    /// The leader paid: the group is open for others.
    GroupActivated {
        group: u64,
    },
    GroupFull {
        group: u64,
    },
    CourseOpen {
        group: u64,
    },
    GroupFailed {
        group: u64,
    },
    /// The gray release was replaced; `config.version` is its new version. Last, so the
    /// encodings of the variants before it do not change.
    GrayConfigured {
        /// Shared with the state and the views once applied; encoded like a plain value.
        config: Arc<GrayConfig>,
        by: String,
    },
    /// A submission with its approval flow (snapshotted) and the hash of the configuration
    /// under review; starts level 1. Replaces `ApprovalSubmitted`, which old journals hold.
    ApprovalFlowSubmitted {
        by: String,
        flow: ApprovalFlow,
        config_hash: String,
    },
    /// An approval that counts towards the current level without deciding the flow.
    ApprovalVoted {
        by: String,
        /// The level approved, from 1.
        level: u32,
        remark: String,
    },
    /// The previous level is complete; `level` (from 1) starts with its candidates.
    ApprovalLevelAdvanced {
        level: u32,
    },
    /// The configuration of version `to_version` was installed again as a new version
    /// (see [`crate::versions`]); like an edit it sends the activity back for approval.
    ActivityRolledBack {
        to_version: u64,
        /// Carried, not looked up, so a replay never depends on what the history kept.
        config: Arc<ActivityConfig>,
        by: String,
        remark: String,
    },
    /// These orders (ascending, at most `archive::ARCHIVE_BATCH_ORDERS_MAX`) were written
    /// to the cold store and synced before this event was decided: only their stubs stay
    /// in memory. Changes no status, count, stock or per-user unit.
    OrdersArchived {
        orders: Vec<u64>,
    },
    /// A member's group failed and `decide` chose where the order goes: CANCELLED for an
    /// unpaid order (its units go back), REFUND_PENDING for a paid one (its money goes
    /// back). Replaces [`EventKind::InstanceFailed`], whose status `apply` had to decide.
    InstanceFailedTo {
        order: u64,
        status: OrderStatus,
    },
}

impl EventKind {
    /// Every name [`EventKind::type_name`] returns, once each (two kinds share
    /// APPROVAL_SUBMITTED): what the event log's `type` filter accepts.
    pub const TYPE_NAMES: [&'static str; 31] = [
        "ACTIVITY_CREATED",
        "ACTIVITY_UPDATED",
        "APPROVAL_SUBMITTED",
        "APPROVAL_APPROVED",
        "APPROVAL_REJECTED",
        "APPROVAL_WITHDRAWN",
        "ACTIVITY_PUBLISHED",
        "ACTIVITY_UNPUBLISHED",
        "ACTIVITY_ONLINE",
        "ACTIVITY_ENDED",
        "INSTANCE_CREATED",
        "INSTANCE_PAID",
        "INSTANCE_CANCELLED",
        "INSTANCE_TIMEOUT",
        "INSTANCE_REFUND_PENDING",
        "INSTANCE_REFUNDED",
        "INSTANCE_SUCCESS",
        "INSTANCE_FAILED",
        "FLASH_SALE_SOLD_OUT",
        "GROUP_CREATED",
        "GROUP_MEMBER_JOINED",
        "GROUP_MEMBER_LEFT",
        "GROUP_ACTIVATED",
        "GROUP_FULL",
        "COURSE_OPEN",
        "GROUP_FAILED",
        "GRAY_CONFIGURED",
        "APPROVAL_VOTED",
        "APPROVAL_LEVEL_ADVANCED",
        "ACTIVITY_ROLLED_BACK",
        "ORDERS_ARCHIVED",
    ];

    /// The platform's name for the event type.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::ActivityCreated { .. } => "ACTIVITY_CREATED",
            EventKind::ActivityUpdated { .. } => "ACTIVITY_UPDATED",
            EventKind::ApprovalSubmitted { .. } => "APPROVAL_SUBMITTED",
            EventKind::ApprovalApproved { .. } => "APPROVAL_APPROVED",
            EventKind::ApprovalRejected { .. } => "APPROVAL_REJECTED",
            EventKind::ApprovalWithdrawn { .. } => "APPROVAL_WITHDRAWN",
            EventKind::ActivityPublished { .. } => "ACTIVITY_PUBLISHED",
            EventKind::ActivityUnpublished { .. } => "ACTIVITY_UNPUBLISHED",
            EventKind::ActivityOnline => "ACTIVITY_ONLINE",
            EventKind::ActivityEnded => "ACTIVITY_ENDED",
            EventKind::InstanceCreated { .. } => "INSTANCE_CREATED",
            EventKind::InstancePaid { .. } => "INSTANCE_PAID",
            EventKind::InstanceCancelled { .. } => "INSTANCE_CANCELLED",
            EventKind::InstanceTimeout { .. } => "INSTANCE_TIMEOUT",
            EventKind::InstanceRefundPending { .. } => "INSTANCE_REFUND_PENDING",
            EventKind::InstanceRefunded { .. } => "INSTANCE_REFUNDED",
            EventKind::InstanceSuccess { .. } => "INSTANCE_SUCCESS",
            EventKind::InstanceFailed { .. } => "INSTANCE_FAILED",
            EventKind::FlashSaleSoldOut => "FLASH_SALE_SOLD_OUT",
            EventKind::GroupCreated { .. } => "GROUP_CREATED",
            EventKind::GroupMemberJoined { .. } => "GROUP_MEMBER_JOINED",
            EventKind::GroupMemberLeft { .. } => "GROUP_MEMBER_LEFT",
            EventKind::GroupActivated { .. } => "GROUP_ACTIVATED",
            EventKind::GroupFull { .. } => "GROUP_FULL",
            EventKind::CourseOpen { .. } => "COURSE_OPEN",
            EventKind::GroupFailed { .. } => "GROUP_FAILED",
            EventKind::GrayConfigured { .. } => "GRAY_CONFIGURED",
            EventKind::ApprovalFlowSubmitted { .. } => "APPROVAL_SUBMITTED",
            EventKind::ApprovalVoted { .. } => "APPROVAL_VOTED",
            EventKind::ApprovalLevelAdvanced { .. } => "APPROVAL_LEVEL_ADVANCED",
            EventKind::ActivityRolledBack { .. } => "ACTIVITY_ROLLED_BACK",
            EventKind::OrdersArchived { .. } => "ORDERS_ARCHIVED",
            EventKind::InstanceFailedTo { .. } => "INSTANCE_FAILED",
        }
    }
}

//! Commands: what callers ask an activity to do. `decide` turns them into events.

use crate::activity::config::ActivityConfig;
use crate::approval::ApprovalFlow;
use crate::gray::GrayConfig;
use crate::ids::{RequestId, TradeNumber, UserId};
use std::sync::Arc;

/// A request to one activity. Time is not part of it: `decide` takes `now` as an argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Update {
        config: ActivityConfig,
        by: String,
    },
    /// Submits for approval through `flow`, which the state snapshots.
    Submit {
        by: String,
        flow: ApprovalFlow,
    },
    Approve {
        by: String,
        remark: String,
    },
    Reject {
        by: String,
        remark: String,
    },
    Withdraw {
        by: String,
    },
    Publish {
        by: String,
    },
    Unpublish {
        by: String,
    },
    /// The supervisor's nudge at `startAt`.
    Open,
    /// The supervisor's nudge at `endAt`.
    Close,
    /// Flash-sale grab: reserve `quantity` units for the user.
    Grab {
        user: UserId,
        request: RequestId,
        quantity: u32,
        source: Source,
    },
    StartGroup {
        user: UserId,
        request: RequestId,
        source: Source,
    },
    JoinGroup {
        group: u64,
        user: UserId,
        request: RequestId,
        source: Source,
    },
    Pay {
        order: u64,
        payment: Payment,
    },
    Cancel {
        order: u64,
        user: UserId,
    },
    /// The supervisor's nudge at an order's pay deadline; the actor decides.
    ExpireOrder {
        order: u64,
    },
    /// The supervisor's nudge at a group's expiry; the actor decides.
    ExpireGroup {
        group: u64,
    },
    /// The refund of a REFUND_PENDING order went through.
    CompleteRefund {
        order: u64,
    },
    /// Replaces the gray release; `decide` stamps the next version on it.
    ConfigureGray {
        /// Shared, not inline: the largest variant would otherwise size every command.
        config: Arc<GrayConfig>,
        by: String,
    },
    /// Installs the configuration of version `to_version` again, as a new version.
    Rollback {
        to_version: u64,
        by: String,
        remark: String,
    },
    /// The archiver wrote these orders to the cold store (and synced it): keep only their
    /// stubs. Refused unless every one is still archivable at `cutoff_ms` (see `archive`).
    ArchiveOrders {
        orders: Vec<u64>,
        /// Orders last changed after this are too young to archive.
        cutoff_ms: i64,
    },
}

/// Where an order came from (the H5 page's `c_id` channel and `u_id` referrer), kept on
/// the order for attribution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Source {
    pub channel: Option<String>,
    pub referrer: Option<String>,
}

/// How money arrived for an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payment {
    /// The mock payment of the H5 page: only the order's user may pay it.
    Mock { user: UserId },
    /// The provider's signed notification, idempotent by trade number.
    Notify {
        trade_number: TradeNumber,
        amount_cents: u64,
    },
}

impl Command {
    /// Whether the command may create an order (and so is subject to the orders bound).
    pub fn creates_order(&self) -> bool {
        matches!(
            self,
            Command::Grab { .. } | Command::StartGroup { .. } | Command::JoinGroup { .. }
        )
    }
}

//! The order aggregate: one order of one user, its status machine, and what `decide` and
//! `apply` do to orders (the parts in `decide` and `apply`).

pub(crate) mod apply;
mod decide;

use crate::command::Source;
use crate::event::EventKind;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub(crate) use decide::Buyer;

/// Where an order is. Wire names (JSON) are the platform's: PENDING_PAY, PAID …
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    PendingPay,
    Paid,
    Cancelled,
    Timeout,
    RefundPending,
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::PendingPay,
        OrderStatus::Paid,
        OrderStatus::Cancelled,
        OrderStatus::Timeout,
        OrderStatus::RefundPending,
        OrderStatus::Refunded,
    ];

    /// The wire name, for replies written by hand and metrics; equal to the serde name.
    pub fn name(self) -> &'static str {
        match self {
            OrderStatus::PendingPay => "PENDING_PAY",
            OrderStatus::Paid => "PAID",
            OrderStatus::Cancelled => "CANCELLED",
            OrderStatus::Timeout => "TIMEOUT",
            OrderStatus::RefundPending => "REFUND_PENDING",
            OrderStatus::Refunded => "REFUNDED",
        }
    }

    pub fn parse(name: &str) -> Option<OrderStatus> {
        OrderStatus::ALL
            .into_iter()
            .find(|status| status.name() == name)
    }

    /// Whether the order still holds units of the user's limit.
    pub fn holds_units(self) -> bool {
        matches!(self, OrderStatus::PendingPay | OrderStatus::Paid)
    }

    /// Where the order of a member goes when its group fails: an unpaid one is cancelled,
    /// a paid one goes to refund; `None` for an order that no longer holds a seat.
    pub fn when_group_fails(self) -> Option<OrderStatus> {
        match self {
            OrderStatus::PendingPay => Some(OrderStatus::Cancelled),
            OrderStatus::Paid => Some(OrderStatus::RefundPending),
            OrderStatus::Cancelled
            | OrderStatus::Timeout
            | OrderStatus::RefundPending
            | OrderStatus::Refunded => None,
        }
    }

    /// The order's status machine, its one transition function: the status after `event`
    /// (about this order), or `None` when the event cannot happen to an order in this
    /// status. Events about no order leave the status as it is.
    pub fn after(self, event: &EventKind) -> Option<OrderStatus> {
        use OrderStatus::*;
        match event {
            EventKind::InstancePaid { .. } => (self == PendingPay).then_some(Paid),
            EventKind::InstanceCancelled { .. } => (self == PendingPay).then_some(Cancelled),
            EventKind::InstanceTimeout { .. } => (self == PendingPay).then_some(Timeout),
            EventKind::InstanceRefundPending { .. } => {
                matches!(self, Cancelled | Timeout).then_some(RefundPending)
            }
            EventKind::InstanceRefunded { .. } => (self == RefundPending).then_some(Refunded),
            EventKind::InstanceSuccess { .. } => (self == Paid).then_some(Paid),
            // The previous layout: the status was decided here, from the order's status.
            EventKind::InstanceFailed { .. } => self.when_group_fails(),
            EventKind::InstanceFailedTo { status, .. } => {
                let decided = (self, *status);
                matches!(decided, (PendingPay, Cancelled) | (Paid, RefundPending))
                    .then_some(*status)
            }
            // Only terminal orders that nothing can change any more are archived.
            EventKind::OrdersArchived { .. } => match self {
                Paid | Cancelled | Timeout | Refunded => Some(self),
                PendingPay | RefundPending => None,
            },
            // An order is created once: no event creates an order that has a status.
            EventKind::InstanceCreated { .. } => None,
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
            | EventKind::ActivityRolledBack { .. } => Some(self),
        }
    }
}

/// One order. What every decision and invariant reads (who, which request, how many units,
/// the amount, the status, the trade number, the group) is always here; what only the
/// order's own view shows is in `detail`, which archiving drops: the whole order is then in
/// the cold store (see `archive`), and this core alone is the archived stub. A stub decides
/// exactly like the live order it was (the per-user limit, requestId replays, payments by
/// trade number, a late payment of a cancelled order), so archiving changes no answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Shared with the key of `users`: one allocation per user, not one per order.
    pub user: Arc<str>,
    pub request: String,
    pub quantity: u32,
    pub amount_cents: u64,
    pub status: OrderStatus,
    pub updated_at_ms: i64,
    pub trade_number: Option<String>,
    pub group: Option<u64>,
    /// `None` once archived. Boxed, so a stub keeps only the core in its chunk slot.
    pub detail: Option<Box<OrderDetail>>,
}

/// The part of an order only its view needs; none of it changes once the order is
/// terminal (what still may change, the status and the trade number, is in the core).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDetail {
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub paid_at_ms: Option<i64>,
    pub source: Source,
}

impl Order {
    /// Whether the order was archived: its detail is in the cold store only.
    pub fn is_archived(&self) -> bool {
        self.detail.is_none()
    }

    /// The pay deadline; `None` for an archived order (which is never awaiting payment).
    pub fn expires_at_ms(&self) -> Option<i64> {
        self.detail.as_ref().map(|detail| detail.expires_at_ms)
    }
}

/// What one user holds in this activity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserState {
    /// Units in PENDING_PAY or PAID orders, counted against the per-user limit.
    pub units_held: u32,
    /// The user's orders; with each order's request id this is the idempotency record.
    /// Inline for the usual one or two orders, so a new user costs no extra allocation.
    pub orders: smallvec::SmallVec<[u64; 2]>,
}

/// Orders by status and money taken, kept as events are applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCounts {
    pub pending_pay: u64,
    pub paid: u64,
    pub cancelled: u64,
    pub timeout: u64,
    pub refund_pending: u64,
    pub refunded: u64,
    /// Paid amounts minus refunds of paid orders, in cents.
    pub gmv_cents: u64,
    /// Orders archived (moved to the cold store); they still count in their status above.
    pub archived: u64,
}

impl OrderCounts {
    fn slot(&mut self, status: OrderStatus) -> &mut u64 {
        match status {
            OrderStatus::PendingPay => &mut self.pending_pay,
            OrderStatus::Paid => &mut self.paid,
            OrderStatus::Cancelled => &mut self.cancelled,
            OrderStatus::Timeout => &mut self.timeout,
            OrderStatus::RefundPending => &mut self.refund_pending,
            OrderStatus::Refunded => &mut self.refunded,
        }
    }

    pub fn count(&self, status: OrderStatus) -> u64 {
        let mut copy = *self;
        *copy.slot(status)
    }
}

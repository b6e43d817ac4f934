//! Immutable public views of an activity's state: what replies show and what hot reads and
//! pushes read without a mailbox hop. Times are milliseconds since the Unix epoch (UTC).

use crate::domain::state::{ActivityState, Group, Order, OrderDetail};
use crate::domain::Source;
use crate::domain::{
    ActivityConfig, ActivityId, ActivityStatus, ApprovalStatus, GrayConfig, GroupId, GroupStatus,
    OrderId, OrderStatus, Stock,
};
use std::sync::Arc;

/// The public state of an activity at one version.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivityView {
    pub id: ActivityId,
    pub config: Arc<ActivityConfig>,
    pub status: ActivityStatus,
    pub approval_status: ApprovalStatus,
    pub stock: Stock,
    pub version: u64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// The gray release at this version, shared with the state: an `Arc` clone per change.
    pub gray: Arc<GrayConfig>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OrderView {
    pub id: OrderId,
    /// Shared with the order: a reply does not copy the user id.
    pub user: Arc<str>,
    pub quantity: u32,
    pub amount_cents: u64,
    pub status: OrderStatus,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub paid_at_ms: Option<i64>,
    pub group: Option<GroupId>,
    pub source: Source,
    /// The order was archived. As the actor builds it, the view then lacks the detail
    /// (`created_at_ms`, `expires_at_ms`, `paid_at_ms` and `source` are zero / empty): the
    /// registry fills them in from the cold store ([`crate::cold::ColdOrders::complete`])
    /// before any caller sees the view.
    pub archived: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MemberView {
    pub user: String,
    pub order: OrderId,
    pub order_status: OrderStatus,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GroupView {
    pub id: GroupId,
    pub leader: String,
    pub status: GroupStatus,
    pub current: u32,
    pub target: u32,
    pub members: Vec<MemberView>,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// The activity version this view was taken at.
    pub version: u64,
}

pub fn activity_view(state: &ActivityState) -> ActivityView {
    ActivityView {
        id: state.id,
        config: Arc::clone(&state.config),
        status: state.public_status(),
        approval_status: state.approval.status,
        stock: state.stock,
        version: state.version,
        created_at_ms: state.created_at_ms,
        updated_at_ms: state.updated_at_ms,
        gray: Arc::clone(&state.gray),
    }
}

/// The view of an order; for an archived stub, without its detail (see
/// [`OrderView::archived`]).
pub fn order_view(activity: ActivityId, number: u64, order: &Order) -> OrderView {
    let mut view = OrderView {
        id: OrderId { activity, number },
        user: Arc::clone(&order.user),
        quantity: order.quantity,
        amount_cents: order.amount_cents,
        status: order.status,
        created_at_ms: 0,
        expires_at_ms: 0,
        paid_at_ms: None,
        source: Source::default(),
        group: order.group.map(|group| GroupId {
            activity,
            number: group,
        }),
        archived: order.is_archived(),
    };
    if let Some(detail) = &order.detail {
        fill_detail(&mut view, detail);
    }
    view
}

/// Copies the detail of an order into its view.
pub fn fill_detail(view: &mut OrderView, detail: &OrderDetail) {
    view.created_at_ms = detail.created_at_ms;
    view.expires_at_ms = detail.expires_at_ms;
    view.paid_at_ms = detail.paid_at_ms;
    view.source = detail.source.clone();
}

pub fn group_view(state: &ActivityState, number: u64, group: &Group) -> GroupView {
    let activity = state.id;
    let members = group
        .members
        .iter()
        .map(|member| MemberView {
            user: member.user.clone(),
            order: OrderId {
                activity,
                number: member.order,
            },
            order_status: state
                .order(member.order)
                .map_or(OrderStatus::Cancelled, |order| order.status),
        })
        .collect();
    GroupView {
        id: GroupId { activity, number },
        leader: group.leader.clone(),
        status: group.status,
        current: group.paid,
        target: group.target,
        members,
        created_at_ms: group.created_at_ms,
        expires_at_ms: group.expires_at_ms,
        version: state.version,
    }
}

//! The state of one activity and `apply`: how each event changes it. The state is one
//! value per activity actor; the aggregates' folders (`order`, `group`, `approval` …) hold
//! the parts of `apply` for their events, and this dispatch names every event kind.
//!
//! `apply` never fails and never looks at a clock: the same events give the same state,
//! which is what makes recovery a deterministic replay.

use crate::approval::{ApprovalAction, ApprovalFlow};
use crate::chunked::Chunked;
use crate::config::ActivityConfig;
use crate::event::{Event, EventKind};
use crate::gray::GrayConfig;
use crate::ids::ActivityId;
use crate::order::apply::NewOrder;
use crate::users::UserIndex;
use crate::versions::{VersionAction, VersionHistory};
use serde::{Deserialize, Serialize};

pub use crate::activity::{ActivityStatus, Phase, Publication, Stock};
pub use crate::approval::{Approval, ApprovalRecord, ApprovalStatus};
pub use crate::group::{Group, GroupStatus, Member};
pub use crate::order::{Order, OrderCounts, OrderDetail, OrderStatus, UserState};
/// The maps keyed by caller-chosen strings: ahash is fast and randomly seeded, so crafted
/// user ids cannot force collisions the way they could with a fixed hash.
pub type FastMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
use std::sync::Arc;

/// Everything one activity actor holds.
///
/// Serialized without `users` and `trades`: both are indexes over `orders`, rebuilt by
/// [`ActivityState::rebuild_indexes`] after decoding. The serialized fields are exactly
/// those of [`ActivityImage`], in the same order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityState {
    pub id: ActivityId,
    pub config: Arc<ActivityConfig>,
    pub approval: Approval,
    pub publication: Publication,
    pub stock: Stock,
    /// Order number n is at index n - 1: numbers are dense, so no hashing on the hot path.
    pub orders: Chunked<Order>,
    /// Group number n is at index n - 1.
    pub groups: Chunked<Group>,
    pub counts: OrderCounts,
    pub created_by: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Events applied so far; a reader can tell newer state from older.
    pub version: u64,
    /// Shared with the published view: the hot path decides on it without a mailbox hop.
    pub gray: Arc<GrayConfig>,
    /// The configuration's versions; the latest one's configuration is `config`.
    pub versions: VersionHistory,
    #[serde(skip)]
    pub users: UserIndex,
    /// Trade number -> order number: payment notifications are idempotent by trade number.
    #[serde(skip)]
    pub trades: FastMap<String, u64>,
}

/// What a snapshot stores of an activity, taken in O(chunks) so the actor never pauses
/// for it (see [`Chunked`]); encoded on another thread. Encodes exactly like the
/// [`ActivityState`] it was taken from.
#[derive(Clone, Debug, Serialize)]
pub struct ActivityImage {
    id: ActivityId,
    config: Arc<ActivityConfig>,
    approval: Approval,
    publication: Publication,
    stock: Stock,
    orders: Chunked<Order>,
    groups: Chunked<Group>,
    counts: OrderCounts,
    created_by: String,
    created_at_ms: i64,
    updated_at_ms: i64,
    version: u64,
    gray: Arc<GrayConfig>,
    versions: VersionHistory,
}

impl ActivityState {
    /// The state right after ACTIVITY_CREATED.
    pub fn created(id: ActivityId, config: ActivityConfig, by: &str, at_ms: i64) -> ActivityState {
        let stock = Stock {
            total: config.stock_total,
            available: config.stock_total,
            ..Stock::default()
        };
        let config = Arc::new(config);
        ActivityState {
            id,
            versions: VersionHistory::created(Arc::clone(&config), by, at_ms),
            config,
            approval: Approval {
                status: ApprovalStatus::Draft,
                revision: 0,
                submitted_by: None,
                history: Vec::new(),
                flow: ApprovalFlow::default(),
                levels: Vec::new(),
                config_hash: String::new(),
            },
            publication: Publication {
                phase: Phase::Unpublished,
                ever_published: false,
            },
            stock,
            orders: Chunked::default(),
            groups: Chunked::default(),
            users: UserIndex::default(),
            trades: FastMap::default(),
            counts: OrderCounts::default(),
            created_by: by.to_string(),
            created_at_ms: at_ms,
            updated_at_ms: at_ms,
            version: 1,
            gray: Arc::default(),
        }
    }

    pub fn order(&self, number: u64) -> Option<&Order> {
        let index = usize::try_from(number.checked_sub(1)?).ok()?;
        self.orders.get(index)
    }

    pub fn group(&self, number: u64) -> Option<&Group> {
        let index = usize::try_from(number.checked_sub(1)?).ok()?;
        self.groups.get(index)
    }

    pub(crate) fn order_mut(&mut self, number: u64) -> &mut Order {
        let index = usize::try_from(number - 1).unwrap_or(usize::MAX);
        self.orders
            .get_mut(index)
            .expect("events name existing orders")
    }

    pub(crate) fn group_mut(&mut self, number: u64) -> &mut Group {
        let index = usize::try_from(number - 1).unwrap_or(usize::MAX);
        self.groups
            .get_mut(index)
            .expect("events name existing groups")
    }

    /// A copy of what a snapshot stores, sharing the order and group chunks.
    pub fn image(&self) -> ActivityImage {
        ActivityImage {
            id: self.id,
            config: Arc::clone(&self.config),
            approval: self.approval.clone(),
            publication: self.publication.clone(),
            stock: self.stock,
            orders: self.orders.clone(),
            groups: self.groups.clone(),
            counts: self.counts,
            created_by: self.created_by.clone(),
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
            version: self.version,
            gray: Arc::clone(&self.gray),
            versions: self.versions.clone(),
        }
    }

    /// Rebuilds `users` and `trades` from the orders, after decoding a snapshot. Archived
    /// stubs keep what both indexes need (user, request, status, quantity, trade number).
    pub fn rebuild_indexes(&mut self) {
        self.users.clear();
        self.trades.clear();
        for (index, order) in self.orders.iter().enumerate() {
            let number = index as u64 + 1;
            let user_state = self.users.entry(Arc::clone(&order.user)).or_default();
            user_state.orders.push(number);
            if order.status.holds_units() {
                user_state.units_held += order.quantity;
            }
            if let Some(trade) = &order.trade_number {
                self.trades.insert(trade.clone(), number);
            }
        }
    }

    /// The order a user's earlier request created, if any.
    pub fn replayed_order(&self, user: &str, request: &str) -> Option<u64> {
        let orders = &self.users.get(user)?.orders;
        orders.iter().copied().find(|number| {
            self.order(*number)
                .is_some_and(|order| order.request == request)
        })
    }

    /// The shared key of a user, allocated on the user's first order only.
    pub(crate) fn user_key(&self, user: &str) -> Arc<str> {
        match self.users.get_key_value(user) {
            Some((key, _)) => Arc::clone(key),
            None => Arc::from(user),
        }
    }

    /// Applies one event. Events come from `decide` (or the journal), so they fit the state;
    /// an event that does not is a programmer error and panics, in every build: the
    /// status machines' transitions are asserted, and so is every arithmetic on stock,
    /// counts and money (overflow checks are on for this crate).
    pub fn apply(&mut self, event: &Event) {
        self.version += 1;
        self.updated_at_ms = event.at_ms;
        let at_ms = event.at_ms;
        let kind = &event.kind;
        match kind {
            EventKind::ActivityCreated { .. } => {}
            EventKind::ActivityUpdated { config, by } => {
                self.apply_update(Arc::new(config.clone()), kind);
                self.record_version(VersionAction::Update, by, at_ms, None, "");
            }
            EventKind::ActivityRolledBack {
                to_version,
                config,
                by,
                remark,
            } => {
                self.apply_update(Arc::clone(config), kind);
                let from = Some(*to_version);
                self.record_version(VersionAction::Rollback, by, at_ms, from, remark);
            }
            EventKind::ApprovalSubmitted { by } => {
                self.apply_submitted(kind, by, &ApprovalFlow::default(), "", at_ms)
            }
            EventKind::ApprovalFlowSubmitted {
                by,
                flow,
                config_hash,
            } => self.apply_submitted(kind, by, flow, config_hash, at_ms),
            EventKind::ApprovalVoted { by, remark, .. } => {
                self.change_approval_status(kind);
                self.apply_vote(by, remark, at_ms);
            }
            EventKind::ApprovalLevelAdvanced { level } => {
                self.change_approval_status(kind);
                self.apply_level_started(*level);
            }
            EventKind::ApprovalApproved { by, remark } => {
                self.apply_vote(by, remark, at_ms);
                self.change_approval_status(kind);
            }
            EventKind::ApprovalRejected { by, remark } => {
                self.change_approval_status(kind);
                self.record_approval(ApprovalAction::Reject, by, remark, at_ms);
            }
            EventKind::ApprovalWithdrawn { by } => {
                self.change_approval_status(kind);
                self.record_approval(ApprovalAction::Withdraw, by, "", at_ms);
            }
            EventKind::ActivityPublished { .. } => self.apply_published(kind),
            EventKind::ActivityUnpublished { .. }
            | EventKind::ActivityOnline
            | EventKind::ActivityEnded => self.change_phase(kind),
            EventKind::FlashSaleSoldOut => {}
            EventKind::GrayConfigured { config, .. } => self.gray = Arc::clone(config),
            EventKind::OrdersArchived { orders } => self.apply_archived(orders, kind),
            EventKind::InstanceCreated {
                order,
                user,
                request,
                source,
                quantity,
                amount_cents,
                expires_at_ms,
                group,
            } => {
                let new = NewOrder {
                    order: *order,
                    user,
                    request,
                    source,
                    quantity: *quantity,
                    amount_cents: *amount_cents,
                    expires_at_ms: *expires_at_ms,
                    group: *group,
                };
                self.apply_order_created(new, at_ms);
            }
            EventKind::InstancePaid {
                order,
                trade_number,
            } => self.apply_paid(*order, trade_number, kind, at_ms),
            EventKind::InstanceCancelled { order } | EventKind::InstanceTimeout { order } => {
                self.release_order(*order, kind, at_ms)
            }
            EventKind::InstanceRefundPending {
                order,
                trade_number,
            } => self.apply_refund_pending(*order, trade_number, kind, at_ms),
            EventKind::InstanceRefunded { order } => self.change_status(*order, kind, at_ms),
            EventKind::InstanceSuccess { order } => self.assert_order_fits(*order, kind),
            // The decoder for the previous layout: the status comes from the order's status.
            EventKind::InstanceFailed { order } => self.apply_failed(*order, kind, at_ms),
            EventKind::InstanceFailedTo { order, .. } => self.apply_failed(*order, kind, at_ms),
            EventKind::GroupCreated {
                group,
                leader,
                target,
                expires_at_ms,
            } => self.apply_group_created(*group, leader, *target, *expires_at_ms, at_ms),
            EventKind::GroupMemberJoined { group, user, order } => {
                let member = Member {
                    user: user.clone(),
                    order: *order,
                };
                self.apply_member_joined(kind, member, *group);
            }
            EventKind::GroupMemberLeft { group, order } => {
                self.apply_member_left(kind, *group, *order)
            }
            EventKind::GroupActivated { group }
            | EventKind::GroupFull { group }
            | EventKind::CourseOpen { group }
            | EventKind::GroupFailed { group } => self.change_group_status(*group, kind),
        }
    }
}

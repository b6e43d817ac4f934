//! The state of one activity and `apply`: how each event changes it.
//!
//! `apply` never fails and never looks at a clock: the same events give the same state,
//! which is what makes recovery a deterministic replay.

use super::approval::{ApprovalFlow, LevelProgress};
use super::chunked::Chunked;
use super::command::Source;
use super::config::ActivityConfig;
use super::event::{Event, EventKind};
use super::gray::GrayConfig;
use super::ids::ActivityId;
use super::users::UserIndex;
use super::versions::{Change, VersionAction, VersionHistory};
use serde::{Deserialize, Serialize};
/// The maps keyed by caller-chosen strings: ahash is fast and randomly seeded, so crafted
/// user ids cannot force collisions the way they could with a fixed hash.
pub type FastMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApprovalStatus {
    Draft,
    Pending,
    Approved,
    Rejected,
}

/// One step of the approval history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    pub action: String,
    pub by: String,
    pub remark: String,
    pub at_ms: i64,
    pub revision: u32,
    /// The level acted on, from 1; 0 when the action concerns no level (withdraw of a
    /// legacy submission).
    pub level: u32,
    /// SHA-256 (hex) of the encoded configuration under review.
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
    /// SHA-256 (hex) of the encoded configuration of the latest submission.
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

/// Where a published activity is in its time window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    Unpublished,
    Scheduled,
    Online,
    Ended,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderStatus {
    PendingPay,
    Paid,
    Cancelled,
    Timeout,
    RefundPending,
    Refunded,
}

impl OrderStatus {
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
        use OrderStatus::*;
        [
            PendingPay,
            Paid,
            Cancelled,
            Timeout,
            RefundPending,
            Refunded,
        ]
        .into_iter()
        .find(|status| status.name() == name)
    }

    /// Whether the order still holds units of the user's limit.
    pub fn holds_units(self) -> bool {
        matches!(self, OrderStatus::PendingPay | OrderStatus::Paid)
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupStatus {
    /// The leader has not paid yet.
    Pending,
    Active,
    Success,
    Failed,
}

impl GroupStatus {
    pub fn name(self) -> &'static str {
        match self {
            GroupStatus::Pending => "PENDING",
            GroupStatus::Active => "ACTIVE",
            GroupStatus::Success => "SUCCESS",
            GroupStatus::Failed => "FAILED",
        }
    }

    pub fn is_open(self) -> bool {
        matches!(self, GroupStatus::Pending | GroupStatus::Active)
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

    pub(super) fn order_mut(&mut self, number: u64) -> &mut Order {
        let index = usize::try_from(number - 1).unwrap_or(usize::MAX);
        self.orders
            .get_mut(index)
            .expect("events name existing orders")
    }

    fn group_mut(&mut self, number: u64) -> &mut Group {
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
    fn user_key(&self, user: &str) -> Arc<str> {
        match self.users.get_key_value(user) {
            Some((key, _)) => Arc::clone(key),
            None => Arc::from(user),
        }
    }

    pub fn is_published(&self) -> bool {
        self.publication.phase != Phase::Unpublished
    }

    /// Applies one event. Events come from `decide` (or the journal), so they fit the state;
    /// an event that does not is a programmer error and panics.
    pub fn apply(&mut self, event: &Event) {
        self.version += 1;
        self.updated_at_ms = event.at_ms;
        match &event.kind {
            EventKind::ActivityCreated { .. } => {}
            EventKind::ActivityUpdated { config, by } => {
                self.apply_update(Arc::new(config.clone()));
                self.record_version(VersionAction::Update, by, event.at_ms, None, "");
            }
            EventKind::ActivityRolledBack {
                to_version,
                config,
                by,
                remark,
            } => {
                self.apply_update(Arc::clone(config));
                let from = Some(*to_version);
                self.record_version(VersionAction::Rollback, by, event.at_ms, from, remark);
            }
            EventKind::ApprovalSubmitted { by } => {
                self.apply_submitted(by, &ApprovalFlow::default(), "", event.at_ms)
            }
            EventKind::ApprovalFlowSubmitted {
                by,
                flow,
                config_hash,
            } => self.apply_submitted(by, flow, config_hash, event.at_ms),
            EventKind::ApprovalVoted { by, remark, .. } => {
                self.apply_vote(by, remark, event.at_ms);
            }
            EventKind::ApprovalLevelAdvanced { level } => self.apply_level_started(*level),
            EventKind::ApprovalApproved { by, remark } => {
                self.apply_vote(by, remark, event.at_ms);
                self.approval.status = ApprovalStatus::Approved;
            }
            EventKind::ApprovalRejected { by, remark } => {
                self.approval.status = ApprovalStatus::Rejected;
                self.record_approval("REJECT", by, remark, event.at_ms);
            }
            EventKind::ApprovalWithdrawn { by } => {
                self.approval.status = ApprovalStatus::Draft;
                self.record_approval("WITHDRAW", by, "", event.at_ms);
            }
            EventKind::ActivityPublished { .. } => {
                self.publication = Publication {
                    phase: Phase::Scheduled,
                    ever_published: true,
                };
            }
            EventKind::ActivityUnpublished { .. } => self.publication.phase = Phase::Unpublished,
            EventKind::ActivityOnline => self.publication.phase = Phase::Online,
            EventKind::ActivityEnded => self.publication.phase = Phase::Ended,
            EventKind::FlashSaleSoldOut | EventKind::CourseOpen { .. } => {}
            EventKind::GrayConfigured { config, .. } => self.gray = Arc::clone(config),
            EventKind::OrdersArchived { orders } => self.apply_archived(orders),
            kind => self.apply_trade(kind, event.at_ms),
        }
    }

    fn apply_update(&mut self, config: Arc<ActivityConfig>) {
        let held = self.stock.reserved + self.stock.sold;
        self.stock.total = config.stock_total;
        self.stock.available = config.stock_total - held;
        self.config = config;
        if self.approval.status == ApprovalStatus::Approved {
            self.approval.status = ApprovalStatus::Draft;
        }
        self.publication.phase = Phase::Unpublished;
    }

    /// The configuration just installed becomes the next version.
    fn record_version(
        &mut self,
        action: VersionAction,
        by: &str,
        at_ms: i64,
        rolled_back_from: Option<u64>,
        remark: &str,
    ) {
        let change = Change {
            action,
            by,
            at_ms,
            rolled_back_from,
            remark,
        };
        self.versions.record(Arc::clone(&self.config), change);
    }

    /// A new revision starts at level 1 of the flow its event carries.
    fn apply_submitted(&mut self, by: &str, flow: &ApprovalFlow, config_hash: &str, at_ms: i64) {
        let approval = &mut self.approval;
        approval.status = ApprovalStatus::Pending;
        approval.revision += 1;
        approval.submitted_by = Some(by.to_string());
        approval.flow = flow.clone();
        approval.levels.clear();
        approval.config_hash = config_hash.to_string();
        self.apply_level_started(1);
        self.record_approval("SUBMIT", by, "", at_ms);
    }

    /// Level `level` (from 1) starts: its candidates are copied from the flow now.
    fn apply_level_started(&mut self, level: u32) {
        let index = level.saturating_sub(1) as usize;
        if let Some(spec) = self.approval.flow.levels.get(index) {
            self.approval.levels.push(LevelProgress::started(spec));
        }
    }

    fn apply_vote(&mut self, by: &str, remark: &str, at_ms: i64) {
        if let Some(level) = self.approval.levels.last_mut() {
            level.approvals.push(by.to_string());
        }
        self.record_approval("APPROVE", by, remark, at_ms);
    }

    fn record_approval(&mut self, action: &'static str, by: &str, remark: &str, at_ms: i64) {
        let revision = self.approval.revision;
        let record = ApprovalRecord {
            action: action.to_string(),
            by: by.to_string(),
            remark: remark.to_string(),
            at_ms,
            revision,
            level: self.approval.levels.len() as u32,
            config_hash: self.approval.config_hash.clone(),
        };
        self.approval.history.push(record);
    }

    fn apply_trade(&mut self, kind: &EventKind, at_ms: i64) {
        match kind {
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
                assert_eq!(
                    *order,
                    self.orders.len() as u64 + 1,
                    "order numbers are dense"
                );
                let user_key = self.user_key(user);
                let new_order = Order {
                    user: Arc::clone(&user_key),
                    request: request.clone(),
                    quantity: *quantity,
                    amount_cents: *amount_cents,
                    status: OrderStatus::PendingPay,
                    updated_at_ms: at_ms,
                    trade_number: None,
                    group: *group,
                    detail: Some(Box::new(OrderDetail {
                        created_at_ms: at_ms,
                        expires_at_ms: *expires_at_ms,
                        paid_at_ms: None,
                        source: source.clone(),
                    })),
                };
                self.orders.push(new_order);
                self.counts.pending_pay += 1;
                self.stock.available -= u64::from(*quantity);
                self.stock.reserved += u64::from(*quantity);
                let user_state = self.users.entry(user_key).or_default();
                user_state.units_held += quantity;
                user_state.orders.push(*order);
            }
            EventKind::InstancePaid {
                order,
                trade_number,
            } => self.apply_paid(*order, trade_number, at_ms),
            EventKind::InstanceCancelled { order } => {
                self.release_order(*order, OrderStatus::Cancelled, at_ms)
            }
            EventKind::InstanceTimeout { order } => {
                self.release_order(*order, OrderStatus::Timeout, at_ms)
            }
            EventKind::InstanceRefundPending {
                order,
                trade_number,
            } => {
                if let Some(trade) = trade_number {
                    self.trades.insert(trade.clone(), *order);
                    self.order_mut(*order).trade_number = Some(trade.clone());
                }
                self.set_status(*order, OrderStatus::RefundPending, at_ms);
            }
            EventKind::InstanceRefunded { order } => {
                self.set_status(*order, OrderStatus::Refunded, at_ms)
            }
            EventKind::InstanceSuccess { .. } => {}
            EventKind::InstanceFailed { order } => self.apply_failed(*order, at_ms),
            kind => self.apply_group(kind, at_ms),
        }
    }

    fn apply_paid(&mut self, order: u64, trade_number: &Option<String>, at_ms: i64) {
        if let Some(trade) = trade_number {
            self.trades.insert(trade.clone(), order);
        }
        let quantity = u64::from(self.order_mut(order).quantity);
        let entry = self.order_mut(order);
        // Only an unpaid order is paid, and unpaid orders are never archived.
        if let Some(detail) = entry.detail.as_mut() {
            detail.paid_at_ms = Some(at_ms);
        }
        entry.trade_number = trade_number.clone();
        let amount_cents = entry.amount_cents;
        let group = entry.group;
        self.set_status(order, OrderStatus::Paid, at_ms);
        self.stock.reserved -= quantity;
        self.stock.sold += quantity;
        self.counts.gmv_cents += amount_cents;
        if let Some(number) = group {
            self.group_mut(number).paid += 1;
        }
    }

    /// An unpaid order gives its units back (cancel, timeout, or its group failed).
    fn release_order(&mut self, order: u64, status: OrderStatus, at_ms: i64) {
        let entry = self.order_mut(order);
        let quantity = entry.quantity;
        let user = entry.user.clone();
        self.set_status(order, status, at_ms);
        self.stock.reserved -= u64::from(quantity);
        self.stock.available += u64::from(quantity);
        self.release_user_units(&user, quantity);
    }

    fn apply_failed(&mut self, order: u64, at_ms: i64) {
        let entry = self.order_mut(order);
        if entry.status == OrderStatus::PendingPay {
            self.release_order(order, OrderStatus::Cancelled, at_ms);
            return;
        }
        let quantity = entry.quantity;
        let amount_cents = entry.amount_cents;
        let user = entry.user.clone();
        self.set_status(order, OrderStatus::RefundPending, at_ms);
        self.stock.sold -= u64::from(quantity);
        self.stock.available += u64::from(quantity);
        self.counts.gmv_cents -= amount_cents;
        self.release_user_units(&user, quantity);
    }

    fn release_user_units(&mut self, user: &str, quantity: u32) {
        if let Some(user_state) = self.users.get_mut(user) {
            user_state.units_held -= quantity;
        }
    }

    fn set_status(&mut self, order: u64, status: OrderStatus, at_ms: i64) {
        let entry = self.order_mut(order);
        let previous = entry.status;
        entry.status = status;
        entry.updated_at_ms = at_ms;
        *self.counts.slot(previous) -= 1;
        *self.counts.slot(status) += 1;
    }

    fn apply_group(&mut self, kind: &EventKind, at_ms: i64) {
        match kind {
            EventKind::GroupCreated {
                group,
                leader,
                target,
                expires_at_ms,
            } => {
                assert_eq!(
                    *group,
                    self.groups.len() as u64 + 1,
                    "group numbers are dense"
                );
                self.groups.push(Group {
                    leader: leader.clone(),
                    target: *target,
                    members: Vec::new(),
                    paid: 0,
                    status: GroupStatus::Pending,
                    created_at_ms: at_ms,
                    expires_at_ms: *expires_at_ms,
                });
            }
            EventKind::GroupMemberJoined { group, user, order } => {
                self.group_mut(*group).members.push(Member {
                    user: user.clone(),
                    order: *order,
                });
            }
            EventKind::GroupMemberLeft { group, order } => {
                self.group_mut(*group)
                    .members
                    .retain(|member| member.order != *order);
            }
            EventKind::GroupActivated { group } => {
                self.group_mut(*group).status = GroupStatus::Active
            }
            EventKind::GroupFull { group } => self.group_mut(*group).status = GroupStatus::Success,
            EventKind::GroupFailed { group } => self.group_mut(*group).status = GroupStatus::Failed,
            other => unreachable!("event {} is handled elsewhere", other.type_name()),
        }
    }
}

//! Archiving: which orders may leave memory, and what archiving them does to the state.
//!
//! An order is archivable when it is terminal and was last changed at or before a cutoff
//! (the archiver passes `now - scheduler.archive_after_seconds`): CANCELLED, TIMEOUT and
//! REFUNDED, and PAID when nothing can refund it any more (a flash-sale order, or a group
//! order whose group succeeded). PENDING_PAY and REFUND_PENDING never are: a timer still
//! acts on them.
//!
//! The protocol (the archiver in the server drives it): [`ActivityState::archive_candidates`]
//! lists candidates, bounded, with their whole orders; the archiver writes those to the cold
//! store and syncs it; only then does it send `Command::ArchiveOrders`, whose event
//! ORDERS_ARCHIVED drops each order's detail and keeps its core as the stub (see
//! [`crate::state::Order`]). A crash between the cold write and the event leaves the order
//! live, to be archived again (the cold write is an idempotent overwrite).
//!
//! A stub still decides like the order: a late payment of an archived CANCELLED order goes
//! REFUND_PENDING and then REFUNDED on the stub, which stays archived; its cold record keeps
//! the old status, and readers take the status and trade number from the stub.

use crate::decide::{Decision, Subject};
use crate::event::EventKind;
use crate::group::GroupStatus;
use crate::order::{Order, OrderStatus};
use crate::rejection::Rejection;
use crate::state::ActivityState;

/// Orders one ORDERS_ARCHIVED event names at most (about 4 bytes each in the journal).
pub const ARCHIVE_BATCH_ORDERS_MAX: usize = 10_000;

/// What one bounded scan for archive candidates looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CandidateQuery {
    /// Orders last changed after this (ms since the epoch) are too young.
    pub cutoff_ms: i64,
    /// The order index (number - 1) the scan starts at.
    pub start_index: usize,
    /// Order slots examined at most: the bound on the actor's pause.
    pub scan_max: usize,
    /// Candidates returned at most (cloned whole, for the cold store).
    pub candidates_max: usize,
}

/// What one scan found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CandidateScan {
    /// (order number, the whole order), ascending.
    pub candidates: Vec<(u64, Order)>,
    /// The index after the last slot examined: where a scan in the same pass goes on.
    pub next_index: usize,
    /// The first live order examined that is not a candidate (yet): a later pass must start
    /// at or before it.
    pub first_kept_index: Option<usize>,
    /// Nothing at or after `next_index` can be a candidate now: the scan reached the end
    /// or an order created after the cutoff (numbers follow creation, so the rest are
    /// younger still).
    pub pass_done: bool,
    pub scanned: usize,
}

impl ActivityState {
    /// Whether `order` may be archived with `cutoff_ms`.
    pub fn is_archivable(&self, order: &Order, cutoff_ms: i64) -> bool {
        if order.is_archived() || order.updated_at_ms > cutoff_ms {
            return false;
        }
        match order.status {
            OrderStatus::Cancelled | OrderStatus::Timeout | OrderStatus::Refunded => true,
            OrderStatus::Paid => order.group.is_none_or(|number| {
                self.group(number)
                    .is_some_and(|group| group.status == GroupStatus::Success)
            }),
            OrderStatus::PendingPay | OrderStatus::RefundPending => false,
        }
    }

    /// Archive candidates from `query.start_index` on, bounded by the query.
    pub fn archive_candidates(&self, query: CandidateQuery) -> CandidateScan {
        let start_index = query.start_index.min(self.orders.len());
        let mut scan = CandidateScan {
            next_index: start_index,
            ..CandidateScan::default()
        };
        for order in self.orders.iter_from(start_index).take(query.scan_max) {
            if scan.candidates.len() >= query.candidates_max {
                break;
            }
            let index = scan.next_index;
            scan.next_index += 1;
            scan.scanned += 1;
            if order.is_archived() {
                continue;
            }
            if self.is_archivable(order, query.cutoff_ms) {
                scan.candidates.push((index as u64 + 1, order.clone()));
                continue;
            }
            scan.first_kept_index.get_or_insert(index);
            let created_at_ms = order.detail.as_ref().map(|detail| detail.created_at_ms);
            if created_at_ms.is_some_and(|created_at_ms| created_at_ms > query.cutoff_ms) {
                scan.pass_done = true;
                break;
            }
        }
        scan.pass_done |= scan.next_index >= self.orders.len();
        scan
    }

    /// ORDERS_ARCHIVED for `orders`, all or nothing: every one must exist and still be
    /// archivable at `cutoff_ms` (an order that changed since the archiver read it is
    /// refused, and the archiver reads it again next time).
    pub(crate) fn decide_archive(
        &self,
        orders: &[u64],
        cutoff_ms: i64,
    ) -> Result<Decision, Rejection> {
        if orders.is_empty() || orders.len() > ARCHIVE_BATCH_ORDERS_MAX {
            return Err(Rejection::Validation {
                field: "orders",
                reason: format!("1 to {ARCHIVE_BATCH_ORDERS_MAX} order numbers"),
            });
        }
        let mut sorted = orders.to_vec();
        sorted.sort_unstable();
        if sorted.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(Rejection::Validation {
                field: "orders",
                reason: "an order is listed twice".to_string(),
            });
        }
        for number in &sorted {
            let order = self.order(*number).ok_or(Rejection::NotFound("order"))?;
            if !self.is_archivable(order, cutoff_ms) {
                return Err(Rejection::InvalidState("the order is not archivable"));
            }
        }
        let event = EventKind::OrdersArchived { orders: sorted };
        Ok(Decision::new(vec![event], Subject::Activity))
    }

    /// Drops the detail of each order: only its stub stays in memory.
    pub(crate) fn apply_archived(&mut self, orders: &[u64], event: &EventKind) {
        for number in orders {
            self.assert_order_fits(*number, event);
            if self.order_mut(*number).detail.take().is_some() {
                self.counts.archived += 1;
            }
        }
    }
}

//! `apply` for order events: every status change goes through [`OrderStatus::after`] and
//! is asserted, so a journal that does not fit the status machine stops recovery.

use super::{Order, OrderDetail, OrderStatus};
use crate::command::Source;
use crate::event::EventKind;
use crate::state::ActivityState;
use std::sync::Arc;

/// What INSTANCE_CREATED carries about the new order.
pub(crate) struct NewOrder<'a> {
    pub order: u64,
    pub user: &'a str,
    pub request: &'a str,
    pub source: &'a Source,
    pub quantity: u32,
    pub amount_cents: u64,
    pub expires_at_ms: i64,
    pub group: Option<u64>,
}

impl ActivityState {
    pub(crate) fn apply_order_created(&mut self, new: NewOrder, at_ms: i64) {
        assert_eq!(
            new.order,
            self.orders.len() as u64 + 1,
            "order numbers are dense"
        );
        let user_key = self.user_key(new.user);
        let quantity = new.quantity;
        self.orders.push(Order {
            user: Arc::clone(&user_key),
            request: new.request.to_string(),
            quantity,
            amount_cents: new.amount_cents,
            status: OrderStatus::PendingPay,
            updated_at_ms: at_ms,
            trade_number: None,
            group: new.group,
            detail: Some(Box::new(OrderDetail {
                created_at_ms: at_ms,
                expires_at_ms: new.expires_at_ms,
                paid_at_ms: None,
                source: new.source.clone(),
            })),
        });
        self.counts.pending_pay += 1;
        self.stock.available -= u64::from(quantity);
        self.stock.reserved += u64::from(quantity);
        let user_state = self.users.entry(user_key).or_default();
        user_state.units_held += quantity;
        user_state.orders.push(new.order);
    }

    pub(crate) fn apply_paid(
        &mut self,
        order: u64,
        trade_number: &Option<String>,
        event: &EventKind,
        at_ms: i64,
    ) {
        if let Some(trade) = trade_number {
            self.trades.insert(trade.clone(), order);
        }
        self.change_status(order, event, at_ms);
        let entry = self.order_mut(order);
        // Only an unpaid order is paid, and unpaid orders are never archived.
        if let Some(detail) = entry.detail.as_mut() {
            detail.paid_at_ms = Some(at_ms);
        }
        entry.trade_number = trade_number.clone();
        let (quantity, amount_cents, group) =
            (u64::from(entry.quantity), entry.amount_cents, entry.group);
        self.stock.reserved -= quantity;
        self.stock.sold += quantity;
        self.counts.gmv_cents += amount_cents;
        if let Some(number) = group {
            self.group_mut(number).paid += 1;
        }
    }

    /// An unpaid order gives its units back (cancel, timeout, or its group failed).
    pub(crate) fn release_order(&mut self, order: u64, event: &EventKind, at_ms: i64) {
        self.change_status(order, event, at_ms);
        let entry = self.order_mut(order);
        let (quantity, user) = (entry.quantity, Arc::clone(&entry.user));
        self.stock.reserved -= u64::from(quantity);
        self.stock.available += u64::from(quantity);
        self.release_user_units(&user, quantity);
    }

    pub(crate) fn apply_refund_pending(
        &mut self,
        order: u64,
        trade_number: &Option<String>,
        event: &EventKind,
        at_ms: i64,
    ) {
        if let Some(trade) = trade_number {
            self.trades.insert(trade.clone(), order);
            self.order_mut(order).trade_number = Some(trade.clone());
        }
        self.change_status(order, event, at_ms);
    }

    /// A member's group failed (INSTANCE_FAILED in either layout): an unpaid order is
    /// released, a paid one gives its units back and its money goes to refund.
    pub(crate) fn apply_failed(&mut self, order: u64, event: &EventKind, at_ms: i64) {
        let before = self.order_mut(order).status;
        if before == OrderStatus::PendingPay {
            self.release_order(order, event, at_ms);
            return;
        }
        self.change_status(order, event, at_ms);
        let entry = self.order_mut(order);
        let (quantity, amount_cents) = (entry.quantity, entry.amount_cents);
        let user = Arc::clone(&entry.user);
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

    /// Moves the order along its status machine; an event that does not fit it panics.
    pub(crate) fn change_status(&mut self, order: u64, event: &EventKind, at_ms: i64) {
        let entry = self.order_mut(order);
        let previous = entry.status;
        let next = previous.after(event);
        assert!(
            next.is_some(),
            "order {order}: {} cannot happen to a {} order",
            event.type_name(),
            previous.name()
        );
        let status = next.unwrap_or(previous);
        entry.status = status;
        entry.updated_at_ms = at_ms;
        if status != previous {
            *self.counts.slot(previous) -= 1;
            *self.counts.slot(status) += 1;
        }
    }
}

impl ActivityState {
    /// Asserts that `event` fits the order's status without changing it (INSTANCE_SUCCESS,
    /// ORDERS_ARCHIVED).
    pub(crate) fn assert_order_fits(&self, order: u64, event: &EventKind) {
        let status = self
            .order(order)
            .expect("events name existing orders")
            .status;
        assert!(
            status.after(event) == Some(status),
            "order {order}: {} cannot happen to a {} order",
            event.type_name(),
            status.name()
        );
    }
}

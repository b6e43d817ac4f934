//! `decide` for orders: a flash-sale grab, and what happens to an order after it exists
//! (payment, cancel, timeout and refund).

use super::{Order, OrderStatus};
use crate::command::{Payment, Source};
use crate::decide::{Decided, Decision, Subject};
use crate::event::EventKind;
use crate::group::GroupStatus;
use crate::rejection::Rejection;
use crate::state::ActivityState;
use crate::template::TemplateCode;

fn accepted(events: Vec<EventKind>, subject: Subject) -> Decided {
    Ok(Decision::new(events, subject))
}

fn replayed(subject: Subject) -> Decided {
    Ok(Decision::replay(subject))
}

/// Who asks for an order, with which request id, from where.
#[derive(Clone, Copy)]
pub(crate) struct Buyer<'a> {
    pub user: &'a str,
    pub request: &'a str,
    pub source: &'a Source,
}

impl ActivityState {
    /// Stock and per-user limit for `quantity` more units of `user`.
    pub(crate) fn check_units(&self, user: &str, quantity: u32) -> Result<(), Rejection> {
        if self.stock.available < u64::from(quantity) {
            return Err(Rejection::SoldOut);
        }
        let held = self.users.get(user).map_or(0, |state| state.units_held);
        if held.saturating_add(quantity) > self.config.per_user_limit {
            return Err(Rejection::LimitExceeded);
        }
        Ok(())
    }

    pub(crate) fn order_created(
        &self,
        buyer: Buyer,
        quantity: u32,
        group: Option<u64>,
        now_ms: i64,
    ) -> EventKind {
        EventKind::InstanceCreated {
            order: self.orders.len() as u64 + 1,
            user: buyer.user.to_string(),
            request: buyer.request.to_string(),
            source: buyer.source.clone(),
            quantity,
            amount_cents: self.config.price_cents * u64::from(quantity),
            expires_at_ms: now_ms.saturating_add(self.config.pay_timeout_ms()),
            group,
        }
    }

    fn sold_out_after(&self, quantity: u32) -> Option<EventKind> {
        let last_units = self.stock.available == u64::from(quantity);
        (last_units && self.config.template == TemplateCode::FlashSale)
            .then_some(EventKind::FlashSaleSoldOut)
    }

    pub(crate) fn decide_grab(&self, buyer: Buyer, quantity: u32, now_ms: i64) -> Decided {
        let (user, request) = (buyer.user, buyer.request);
        if let Some(order) = self.replayed_order(user, request) {
            return Ok(Decision::replay(Subject::Order(order)));
        }
        if self.config.template.is_group() {
            return Err(Rejection::InvalidState(
                "this activity sells through groups",
            ));
        }
        if quantity == 0 {
            return Err(Rejection::Validation {
                field: "quantity",
                reason: "at least 1".to_string(),
            });
        }
        self.check_open(now_ms)?;
        self.check_units(user, quantity)?;
        let created = self.order_created(buyer, quantity, None, now_ms);
        let order = self.orders.len() as u64 + 1;
        let mut events = vec![created];
        events.extend(self.sold_out_after(quantity));
        Ok(Decision::new(events, Subject::Order(order)))
    }

    pub(crate) fn existing_order(&self, order: u64) -> Result<&Order, Rejection> {
        self.order(order).ok_or(Rejection::NotFound("order"))
    }

    /// The order as seen by its own user; another user's order does not exist for them.
    fn users_order(&self, order: u64, user: &str) -> Result<&Order, Rejection> {
        self.existing_order(order).and_then(|found| {
            if &*found.user == user {
                Ok(found)
            } else {
                Err(Rejection::NotFound("order"))
            }
        })
    }

    pub(crate) fn decide_pay(&self, order: u64, payment: &Payment, now_ms: i64) -> Decided {
        match payment {
            Payment::Mock { user } => self.decide_mock_pay(order, user, now_ms),
            Payment::Notify {
                trade_number,
                amount_cents,
            } => self.decide_notify(order, trade_number, *amount_cents, now_ms),
        }
    }

    /// An unpaid order past its deadline counts as timed out even before the supervisor's
    /// nudge arrives: a late timer must never let a payment take stock.
    fn overdue(&self, found: &Order, now_ms: i64) -> bool {
        found.status == OrderStatus::PendingPay
            && found
                .expires_at_ms()
                .is_some_and(|expires_at_ms| now_ms >= expires_at_ms)
    }

    fn decide_mock_pay(&self, order: u64, user: &str, now_ms: i64) -> Decided {
        let found = self.users_order(order, user)?;
        if self.overdue(found, now_ms) {
            return Err(Rejection::InvalidState("the order timed out"));
        }
        if self.expired_group(found, now_ms).is_some() {
            return Err(Rejection::GroupClosed);
        }
        match found.status {
            OrderStatus::PendingPay => {
                accepted(self.paid_events(order, None), Subject::Order(order))
            }
            OrderStatus::Paid => replayed(Subject::Order(order)),
            OrderStatus::Cancelled
            | OrderStatus::Timeout
            | OrderStatus::RefundPending
            | OrderStatus::Refunded => {
                Err(Rejection::InvalidState("the order is not awaiting payment"))
            }
        }
    }

    /// The provider's notification. Money that arrives too late never takes stock back:
    /// the order goes to REFUND_PENDING instead.
    fn decide_notify(
        &self,
        order: u64,
        trade_number: &str,
        amount_cents: u64,
        now_ms: i64,
    ) -> Decided {
        let found = self.existing_order(order)?;
        if let Some(paid_order) = self.trades.get(trade_number) {
            if *paid_order == order {
                return replayed(Subject::Order(order));
            }
            return Err(Rejection::InvalidState(
                "the trade number belongs to another order",
            ));
        }
        if amount_cents != found.amount_cents {
            return Err(Rejection::AmountMismatch);
        }
        let trade = Some(trade_number.to_string());
        if self.overdue(found, now_ms) {
            let mut events = vec![EventKind::InstanceTimeout { order }];
            events.extend(self.seat_released(order));
            events.push(EventKind::InstanceRefundPending {
                order,
                trade_number: trade,
            });
            return accepted(events, Subject::Order(order));
        }
        if let Some(group) = self.expired_group(found, now_ms) {
            // The group is past its expiry: it fails now, and this money goes back.
            let mut events = self.group_failure_events(group);
            events.push(EventKind::InstanceRefundPending {
                order,
                trade_number: trade,
            });
            return accepted(events, Subject::Order(order));
        }
        match found.status {
            OrderStatus::PendingPay => {
                accepted(self.paid_events(order, trade), Subject::Order(order))
            }
            OrderStatus::Cancelled | OrderStatus::Timeout => {
                let event = EventKind::InstanceRefundPending {
                    order,
                    trade_number: trade,
                };
                accepted(vec![event], Subject::Order(order))
            }
            OrderStatus::Paid | OrderStatus::RefundPending | OrderStatus::Refunded => {
                Err(Rejection::InvalidState("the order was already paid"))
            }
        }
    }

    /// INSTANCE_PAID and, for a group order, what the payment does to the group.
    fn paid_events(&self, order: u64, trade_number: Option<String>) -> Vec<EventKind> {
        let mut events = vec![EventKind::InstancePaid {
            order,
            trade_number,
        }];
        let Some(number) = self.order(order).and_then(|found| found.group) else {
            return events;
        };
        let Some(group) = self.group(number) else {
            return events;
        };
        if group.status == GroupStatus::Pending {
            events.push(EventKind::GroupActivated { group: number });
        }
        if group.paid + 1 == group.target {
            events.push(EventKind::GroupFull { group: number });
            if self.config.template == TemplateCode::CourseGroup {
                events.push(EventKind::CourseOpen { group: number });
            }
            let paid_members = group
                .members
                .iter()
                .filter(|member| self.is_paid(member.order) || member.order == order);
            events.extend(paid_members.map(|member| EventKind::InstanceSuccess {
                order: member.order,
            }));
        }
        events
    }

    fn is_paid(&self, order: u64) -> bool {
        self.order(order)
            .is_some_and(|found| found.status == OrderStatus::Paid)
    }

    pub(crate) fn decide_cancel(&self, order: u64, user: &str) -> Decided {
        let found = self.users_order(order, user)?;
        match found.status {
            OrderStatus::PendingPay => {
                let mut events = vec![EventKind::InstanceCancelled { order }];
                events.extend(self.seat_released(order));
                accepted(events, Subject::Order(order))
            }
            OrderStatus::Cancelled => replayed(Subject::Order(order)),
            OrderStatus::Paid
            | OrderStatus::Timeout
            | OrderStatus::RefundPending
            | OrderStatus::Refunded => Err(Rejection::InvalidState(
                "only an unpaid order can be cancelled",
            )),
        }
    }

    pub(crate) fn decide_expire_order(&self, order: u64, now_ms: i64) -> Decided {
        let found = self.existing_order(order)?;
        let due = found
            .expires_at_ms()
            .is_some_and(|expires_at_ms| now_ms >= expires_at_ms);
        if found.status != OrderStatus::PendingPay || !due {
            return accepted(Vec::new(), Subject::Order(order));
        }
        let mut events = vec![EventKind::InstanceTimeout { order }];
        events.extend(self.seat_released(order));
        accepted(events, Subject::Order(order))
    }

    pub(crate) fn decide_complete_refund(&self, order: u64) -> Decided {
        match self.existing_order(order)?.status {
            OrderStatus::RefundPending => accepted(
                vec![EventKind::InstanceRefunded { order }],
                Subject::Order(order),
            ),
            OrderStatus::Refunded => replayed(Subject::Order(order)),
            OrderStatus::PendingPay
            | OrderStatus::Paid
            | OrderStatus::Cancelled
            | OrderStatus::Timeout => {
                Err(Rejection::InvalidState("the order has no refund pending"))
            }
        }
    }
}

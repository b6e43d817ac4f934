//! `decide` for what happens to an order after it exists: payment, cancel, timeout,
//! group expiry and refund.

use super::command::Payment;
use super::decide::{Decision, Subject};
use super::event::EventKind;
use super::rejection::Rejection;
use super::state::{ActivityState, GroupStatus, Order, OrderStatus};
use super::template::TemplateCode;

type Decided = Result<Decision, Rejection>;

fn accepted(events: Vec<EventKind>, subject: Subject) -> Decided {
    Ok(Decision {
        events,
        subject,
        replayed: false,
    })
}

fn replayed(subject: Subject) -> Decided {
    Ok(Decision {
        events: Vec::new(),
        subject,
        replayed: true,
    })
}

impl ActivityState {
    fn existing_order(&self, order: u64) -> Result<&Order, Rejection> {
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

    pub(super) fn decide_pay(&self, order: u64, payment: &Payment, now_ms: i64) -> Decided {
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
            _ => Err(Rejection::InvalidState("the order is not awaiting payment")),
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
            _ => Err(Rejection::InvalidState("the order was already paid")),
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

    pub(super) fn decide_cancel(&self, order: u64, user: &str) -> Decided {
        let found = self.users_order(order, user)?;
        match found.status {
            OrderStatus::PendingPay => {
                let mut events = vec![EventKind::InstanceCancelled { order }];
                events.extend(self.seat_released(order));
                accepted(events, Subject::Order(order))
            }
            OrderStatus::Cancelled => replayed(Subject::Order(order)),
            _ => Err(Rejection::InvalidState(
                "only an unpaid order can be cancelled",
            )),
        }
    }

    pub(super) fn decide_expire_order(&self, order: u64, now_ms: i64) -> Decided {
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

    /// An unpaid group seat was given up: the member leaves, or the group fails when it was
    /// the leader of a group nobody else could join yet.
    fn seat_released(&self, order: u64) -> Vec<EventKind> {
        let Some(number) = self.order(order).and_then(|found| found.group) else {
            return Vec::new();
        };
        match self.group(number) {
            Some(group) if group.status == GroupStatus::Pending => {
                vec![EventKind::GroupFailed { group: number }]
            }
            Some(group) if group.status == GroupStatus::Active => {
                vec![EventKind::GroupMemberLeft {
                    group: number,
                    order,
                }]
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn decide_expire_group(&self, number: u64, now_ms: i64) -> Decided {
        let group = self.group(number).ok_or(Rejection::NotFound("group"))?;
        let subject = Subject::Group {
            group: number,
            order: 0,
        };
        if !group.status.is_open() || now_ms < group.expires_at_ms {
            return accepted(Vec::new(), subject);
        }
        accepted(self.group_failure_events(number), subject)
    }

    /// GROUP_FAILED and INSTANCE_FAILED for every member still holding a seat.
    fn group_failure_events(&self, number: u64) -> Vec<EventKind> {
        let mut events = vec![EventKind::GroupFailed { group: number }];
        let Some(group) = self.group(number) else {
            return events;
        };
        let members = group.members.iter().filter(|member| {
            self.order(member.order)
                .is_some_and(|found| found.status.holds_units())
        });
        events.extend(members.map(|member| EventKind::InstanceFailed {
            order: member.order,
        }));
        events
    }

    /// The group of an unpaid group order when that group is past its expiry but the
    /// supervisor's nudge has not failed it yet: a late timer must not let it succeed.
    fn expired_group(&self, found: &Order, now_ms: i64) -> Option<u64> {
        let number = found
            .group
            .filter(|_| found.status == OrderStatus::PendingPay)?;
        let group = self.group(number)?;
        (group.status.is_open() && now_ms >= group.expires_at_ms).then_some(number)
    }

    pub(super) fn decide_complete_refund(&self, order: u64) -> Decided {
        match self.existing_order(order)?.status {
            OrderStatus::RefundPending => accepted(
                vec![EventKind::InstanceRefunded { order }],
                Subject::Order(order),
            ),
            OrderStatus::Refunded => replayed(Subject::Order(order)),
            _ => Err(Rejection::InvalidState("the order has no refund pending")),
        }
    }
}

//! Flash sale: grab, pay, cancel, timeout, payment notifications and refunds.

use super::*;

const NOW: i64 = START + 1_000;

#[test]
fn grab_reserves_stock_and_creates_a_pending_order() {
    let mut state = flash_sale(10, 3);
    let decision = ok(&mut state, grab("u1", "r1", 2), NOW);
    assert_eq!(types(&decision), ["INSTANCE_CREATED"]);
    assert!(!decision.replayed);
    assert_eq!(decision.subject, Subject::Order(1));
    assert_eq!(units(&state), (8, 2, 0));
    let created = order(&state, 1);
    assert_eq!(created.status, OrderStatus::PendingPay);
    assert_eq!(
        (&*created.user, created.quantity, created.amount_cents),
        ("u1", 2, 2 * PRICE)
    );
    assert_eq!(created.expires_at_ms(), Some(NOW + PAY_TIMEOUT_MS));
    assert_eq!(created.group, None);
    assert_eq!(units_held(&state, "u1"), 2);
    assert_eq!(state.counts.pending_pay, 1);
}

#[test]
fn grab_of_zero_units_is_a_validation_error() {
    let mut state = flash_sale(10, 3);
    assert!(matches!(
        run(&mut state, grab("u1", "r1", 0), NOW),
        Err(Rejection::Validation {
            field: "quantity",
            ..
        })
    ));
    assert!(state.orders.is_empty());
}

#[test]
fn pay_moves_reserved_units_to_sold() {
    let mut state = flash_sale(10, 3);
    ok(&mut state, grab("u1", "r1", 2), NOW);
    let decision = ok(&mut state, mock_pay(1, "u1"), NOW + 10);
    assert_eq!(types(&decision), ["INSTANCE_PAID"]);
    assert_eq!(units(&state), (8, 0, 2));
    assert_eq!(order(&state, 1).status, OrderStatus::Paid);
    assert_eq!(detail(&state, 1).paid_at_ms, Some(NOW + 10));
    assert_eq!(state.counts.gmv_cents, 2 * PRICE);
    assert_eq!((state.counts.pending_pay, state.counts.paid), (0, 1));
    assert_eq!(
        units_held(&state, "u1"),
        2,
        "paid units still count against the limit"
    );
    let again = ok(&mut state, mock_pay(1, "u1"), NOW + 11);
    assert!(
        again.replayed && again.events.is_empty(),
        "paying twice is a replay"
    );
    assert_eq!(state.counts.gmv_cents, 2 * PRICE);
}

#[test]
fn cancel_gives_the_stock_back() {
    let mut state = flash_sale(10, 3);
    ok(&mut state, grab("u1", "r1", 3), NOW);
    let decision = ok(&mut state, cancel(1, "u1"), NOW + 1);
    assert_eq!(types(&decision), ["INSTANCE_CANCELLED"]);
    assert_eq!(units(&state), (10, 0, 0));
    assert_eq!(order(&state, 1).status, OrderStatus::Cancelled);
    assert_eq!(units_held(&state, "u1"), 0);
    assert_eq!((state.counts.pending_pay, state.counts.cancelled), (0, 1));
    assert!(
        ok(&mut state, cancel(1, "u1"), NOW + 2).replayed,
        "cancelling twice is a replay"
    );
}

#[test]
fn a_paid_order_cannot_be_cancelled() {
    let mut state = flash_sale(10, 3);
    ok(&mut state, grab("u1", "r1", 1), NOW);
    ok(&mut state, mock_pay(1, "u1"), NOW);
    assert!(matches!(
        run(&mut state, cancel(1, "u1"), NOW),
        Err(Rejection::InvalidState(_))
    ));
    assert_eq!(units(&state), (9, 0, 1));
}

#[test]
fn timeout_at_the_deadline_gives_the_stock_back() {
    let mut state = flash_sale(10, 3);
    ok(&mut state, grab("u1", "r1", 2), NOW);
    let decision = ok(&mut state, expire_order(1), NOW + PAY_TIMEOUT_MS);
    assert_eq!(types(&decision), ["INSTANCE_TIMEOUT"]);
    assert_eq!(units(&state), (10, 0, 0));
    assert_eq!(order(&state, 1).status, OrderStatus::Timeout);
    assert_eq!(units_held(&state, "u1"), 0);
    assert_eq!(state.counts.timeout, 1);
    assert!(ok(&mut state, expire_order(1), NOW + PAY_TIMEOUT_MS + 1)
        .events
        .is_empty());
}

#[test]
fn cancelling_a_timed_out_order_is_invalid_state() {
    let mut state = flash_sale(10, 3);
    ok(&mut state, grab("u1", "r1", 1), NOW);
    ok(&mut state, expire_order(1), NOW + PAY_TIMEOUT_MS);
    let refused = run(&mut state, cancel(1, "u1"), NOW + PAY_TIMEOUT_MS);
    assert!(
        matches!(refused, Err(Rejection::InvalidState(_))),
        "{refused:?}"
    );
    assert_eq!(order(&state, 1).status, OrderStatus::Timeout);
}

#[test]
fn expire_before_the_deadline_does_nothing() {
    let mut state = flash_sale(10, 3);
    ok(&mut state, grab("u1", "r1", 2), NOW);
    let decision = ok(&mut state, expire_order(1), NOW + PAY_TIMEOUT_MS - 1);
    assert!(decision.events.is_empty());
    assert_eq!(order(&state, 1).status, OrderStatus::PendingPay);
    assert_eq!(units(&state), (8, 2, 0));
}

#[test]
fn a_paid_order_never_expires() {
    let mut state = flash_sale(10, 3);
    ok(&mut state, grab("u1", "r1", 2), NOW);
    ok(&mut state, mock_pay(1, "u1"), NOW + 1);
    let decision = ok(&mut state, expire_order(1), NOW + 10 * PAY_TIMEOUT_MS);
    assert!(decision.events.is_empty());
    assert_eq!(order(&state, 1).status, OrderStatus::Paid);
    assert_eq!(units(&state), (8, 0, 2));
}

#[test]
fn expiring_an_unknown_order_is_not_found() {
    let mut state = flash_sale(10, 3);
    assert_eq!(
        run(&mut state, expire_order(1), NOW),
        Err(Rejection::NotFound("order"))
    );
    assert_eq!(
        run(&mut state, expire_order(0), NOW),
        Err(Rejection::NotFound("order"))
    );
    assert_eq!(
        run(&mut state, complete_refund(u64::MAX), NOW),
        Err(Rejection::NotFound("order"))
    );
}

#[test]
fn the_last_unit_emits_sold_out_and_the_next_grab_is_refused() {
    let mut state = flash_sale(3, 3);
    assert_eq!(
        types(&ok(&mut state, grab("u1", "r1", 2), NOW)),
        ["INSTANCE_CREATED"]
    );
    assert_eq!(
        run(&mut state, grab("u2", "r1", 2), NOW),
        Err(Rejection::SoldOut),
        "more than what is left"
    );
    assert_eq!(
        types(&ok(&mut state, grab("u2", "r2", 1), NOW)),
        ["INSTANCE_CREATED", "FLASH_SALE_SOLD_OUT"]
    );
    assert_eq!(units(&state), (0, 3, 0));
    assert_eq!(
        run(&mut state, grab("u3", "r1", 1), NOW),
        Err(Rejection::SoldOut)
    );
    assert_eq!(state.orders.len(), 2);
    ok(&mut state, cancel(2, "u2"), NOW);
    ok(&mut state, grab("u3", "r1", 1), NOW);
}

#[test]
fn the_per_user_limit_counts_quantities() {
    let mut state = flash_sale(10, 3);
    ok(&mut state, grab("u1", "r1", 2), NOW);
    assert_eq!(
        run(&mut state, grab("u1", "r2", 2), NOW),
        Err(Rejection::LimitExceeded)
    );
    ok(&mut state, mock_pay(1, "u1"), NOW);
    assert_eq!(
        run(&mut state, grab("u1", "r3", 2), NOW),
        Err(Rejection::LimitExceeded),
        "paid units count too"
    );
    ok(&mut state, grab("u1", "r4", 1), NOW);
    assert_eq!(units_held(&state, "u1"), 3);
    assert_eq!(
        run(&mut state, grab("u1", "r5", 1), NOW),
        Err(Rejection::LimitExceeded)
    );
    assert_eq!(
        run(&mut state, grab("u2", "r1", 4), NOW),
        Err(Rejection::LimitExceeded),
        "one grab above the limit"
    );
    ok(&mut state, cancel(2, "u1"), NOW);
    ok(&mut state, grab("u1", "r6", 1), NOW);
    assert_eq!(units_held(&state, "u1"), 3);
}

#[test]
fn the_same_request_replays_the_same_order() {
    let mut state = flash_sale(10, 3);
    let first = ok(&mut state, grab("u1", "r1", 1), NOW);
    let version = state.version;
    let again = ok(&mut state, grab("u1", "r1", 2), NOW + 1);
    assert!(again.replayed);
    assert!(again.events.is_empty());
    assert_eq!(again.subject, first.subject);
    assert_eq!(state.version, version);
    assert_eq!(units(&state), (9, 1, 0));
    let other_user = ok(&mut state, grab("u2", "r1", 1), NOW + 2);
    assert!(!other_user.replayed, "request ids are per user");
    assert_eq!(other_user.subject, Subject::Order(2));
}

#[test]
fn the_same_request_replays_the_order_also_after_it_was_cancelled() {
    let mut state = flash_sale(1, 3);
    ok(&mut state, grab("u1", "r1", 1), NOW);
    ok(&mut state, cancel(1, "u1"), NOW);
    let again = ok(&mut state, grab("u1", "r1", 1), NOW + 1);
    assert!(again.replayed && again.events.is_empty());
    assert_eq!(again.subject, Subject::Order(1));
    assert_eq!(units(&state), (1, 0, 0));
    let late = ok(&mut state, grab("u1", "r1", 1), END + 1);
    assert_eq!(
        late.subject,
        Subject::Order(1),
        "a replay answers even after the end"
    );
}

#[test]
fn another_users_order_is_not_found_for_cancel_and_mock_pay() {
    let mut state = flash_sale(10, 3);
    ok(&mut state, grab("u1", "r1", 1), NOW);
    assert_eq!(
        run(&mut state, cancel(1, "u2"), NOW),
        Err(Rejection::NotFound("order"))
    );
    assert_eq!(
        run(&mut state, mock_pay(1, "u2"), NOW),
        Err(Rejection::NotFound("order"))
    );
    assert_eq!(
        run(&mut state, cancel(2, "u1"), NOW),
        Err(Rejection::NotFound("order"))
    );
    assert_eq!(order(&state, 1).status, OrderStatus::PendingPay);
}

#[test]
fn mock_pay_of_a_timed_out_order_is_invalid_state() {
    let mut state = flash_sale(10, 3);
    ok(&mut state, grab("u1", "r1", 1), NOW);
    ok(&mut state, expire_order(1), NOW + PAY_TIMEOUT_MS);
    assert!(matches!(
        run(&mut state, mock_pay(1, "u1"), NOW + PAY_TIMEOUT_MS),
        Err(Rejection::InvalidState(_))
    ));
    assert_eq!(units(&state), (10, 0, 0));
}

#[test]
fn a_notification_after_timeout_goes_to_refund_pending_without_taking_stock() {
    let mut state = flash_sale(2, 3);
    ok(&mut state, grab("u1", "r1", 2), NOW);
    ok(&mut state, expire_order(1), NOW + PAY_TIMEOUT_MS);
    ok(&mut state, grab("u2", "r1", 2), NOW + PAY_TIMEOUT_MS);
    let decision = ok(
        &mut state,
        notify(1, "T1", 2 * PRICE),
        NOW + PAY_TIMEOUT_MS + 1,
    );
    assert_eq!(types(&decision), ["INSTANCE_REFUND_PENDING"]);
    assert_eq!(order(&state, 1).status, OrderStatus::RefundPending);
    assert_eq!(order(&state, 1).trade_number.as_deref(), Some("T1"));
    assert_eq!(
        units(&state),
        (0, 2, 0),
        "the late payment takes no stock from the next buyer"
    );
    assert_eq!(units_held(&state, "u1"), 0);
    assert_eq!(
        (
            state.counts.timeout,
            state.counts.refund_pending,
            state.counts.gmv_cents
        ),
        (0, 1, 0)
    );
    let again = ok(
        &mut state,
        notify(1, "T1", 2 * PRICE),
        NOW + PAY_TIMEOUT_MS + 2,
    );
    assert!(again.replayed && again.events.is_empty());
}

#[test]
fn a_notification_after_cancel_goes_to_refund_pending_without_taking_stock() {
    let mut state = flash_sale(5, 3);
    ok(&mut state, grab("u1", "r1", 1), NOW);
    ok(&mut state, cancel(1, "u1"), NOW);
    ok(&mut state, notify(1, "T1", PRICE), NOW + 1);
    assert_eq!(order(&state, 1).status, OrderStatus::RefundPending);
    assert_eq!(units(&state), (5, 0, 0));
    assert_eq!(state.counts.cancelled, 0);
}

#[test]
fn a_notification_pays_and_is_idempotent_by_trade_number() {
    let mut state = flash_sale(10, 3);
    ok(&mut state, grab("u1", "r1", 2), NOW);
    let decision = ok(&mut state, notify(1, "T1", 2 * PRICE), NOW + 1);
    assert_eq!(
        decision.events,
        vec![EventKind::InstancePaid {
            order: 1,
            trade_number: Some("T1".to_string())
        }]
    );
    assert_eq!(order(&state, 1).trade_number.as_deref(), Some("T1"));
    let again = ok(&mut state, notify(1, "T1", 2 * PRICE), NOW + 2);
    assert!(again.replayed && again.events.is_empty());
    assert_eq!(units(&state), (8, 0, 2));
    assert_eq!(state.counts.gmv_cents, 2 * PRICE);
    assert!(ok(&mut state, mock_pay(1, "u1"), NOW + 3).replayed);
    let second_trade = run(&mut state, notify(1, "T2", 2 * PRICE), NOW + 4);
    assert!(
        matches!(second_trade, Err(Rejection::InvalidState(_))),
        "{second_trade:?}"
    );
    assert_eq!(state.counts.gmv_cents, 2 * PRICE);
}

#[test]
fn a_notification_with_the_wrong_amount_is_refused() {
    let mut state = flash_sale(10, 3);
    ok(&mut state, grab("u1", "r1", 2), NOW);
    for amount in [0, PRICE, 2 * PRICE + 1] {
        assert_eq!(
            run(&mut state, notify(1, "T1", amount), NOW),
            Err(Rejection::AmountMismatch)
        );
    }
    assert_eq!(order(&state, 1).status, OrderStatus::PendingPay);
    assert!(
        state.trades.is_empty(),
        "a refused notification does not take the trade number"
    );
    ok(&mut state, notify(1, "T1", 2 * PRICE), NOW);
}

#[test]
fn a_trade_number_of_another_order_is_refused() {
    let mut state = flash_sale(10, 3);
    ok(&mut state, grab("u1", "r1", 1), NOW);
    ok(&mut state, grab("u2", "r1", 1), NOW);
    ok(&mut state, notify(1, "T1", PRICE), NOW);
    assert!(matches!(
        run(&mut state, notify(2, "T1", PRICE), NOW),
        Err(Rejection::InvalidState(_))
    ));
    assert_eq!(order(&state, 2).status, OrderStatus::PendingPay);
    assert_eq!(state.trades.get("T1"), Some(&1));
}

#[test]
fn a_notification_for_an_unknown_order_is_not_found() {
    let mut state = flash_sale(10, 3);
    assert_eq!(
        run(&mut state, notify(1, "T1", PRICE), NOW),
        Err(Rejection::NotFound("order"))
    );
}

#[test]
fn a_refund_completes_exactly_once() {
    let mut state = flash_sale(10, 3);
    ok(&mut state, grab("u1", "r1", 1), NOW);
    assert!(
        matches!(
            run(&mut state, complete_refund(1), NOW),
            Err(Rejection::InvalidState(_))
        ),
        "nothing to refund"
    );
    ok(&mut state, cancel(1, "u1"), NOW);
    assert!(matches!(
        run(&mut state, complete_refund(1), NOW),
        Err(Rejection::InvalidState(_))
    ));
    ok(&mut state, notify(1, "T1", PRICE), NOW);
    let first = ok(&mut state, complete_refund(1), NOW + 1);
    assert_eq!(types(&first), ["INSTANCE_REFUNDED"]);
    assert_eq!(order(&state, 1).status, OrderStatus::Refunded);
    let second = ok(&mut state, complete_refund(1), NOW + 2);
    assert!(second.replayed && second.events.is_empty());
    assert_eq!((state.counts.refund_pending, state.counts.refunded), (0, 1));
    assert!(
        ok(&mut state, notify(1, "T1", PRICE), NOW + 3).replayed,
        "the provider's retry stays a replay"
    );
    assert_eq!(units(&state), (10, 0, 0));
}

#[test]
fn a_paid_order_has_no_refund_to_complete() {
    let mut state = flash_sale(10, 3);
    ok(&mut state, grab("u1", "r1", 1), NOW);
    ok(&mut state, mock_pay(1, "u1"), NOW);
    assert!(matches!(
        run(&mut state, complete_refund(1), NOW),
        Err(Rejection::InvalidState(_))
    ));
    assert_eq!(order(&state, 1).status, OrderStatus::Paid);
}

#[test]
fn grab_on_a_group_template_is_refused() {
    let mut state = group_buy(2);
    assert!(matches!(
        run(&mut state, grab("u1", "r1", 1), NOW),
        Err(Rejection::InvalidState(_))
    ));
    assert!(state.orders.is_empty());
    let mut flash = flash_sale(10, 1);
    assert!(matches!(
        run(&mut flash, start_group("u1", "r1"), NOW),
        Err(Rejection::InvalidState(_))
    ));
}

#[test]
fn grab_before_publication_is_offline() {
    let mut state = approved(config(TemplateCode::FlashSale, 10, 1, 0));
    assert_eq!(
        run(&mut state, grab("u1", "r1", 1), NOW),
        Err(Rejection::Offline)
    );
}

#[test]
fn mock_pay_after_the_deadline_is_refused_even_before_the_timeout_nudge() {
    let mut state = flash_sale(10, 3);
    let order = order_of(&ok(&mut state, grab("u1", "r1", 1), NOW));
    let late = NOW + PAY_TIMEOUT_MS;
    let refused = run(&mut state, mock_pay(order, "u1"), late);
    assert!(
        matches!(refused, Err(Rejection::InvalidState(_))),
        "{refused:?}"
    );
    assert_eq!(units(&state), (9, 1, 0), "nothing sold");
}

#[test]
fn notification_after_the_deadline_times_the_order_out_and_takes_no_stock() {
    let mut state = flash_sale(10, 3);
    let order = order_of(&ok(&mut state, grab("u1", "r1", 1), NOW));
    let late = NOW + PAY_TIMEOUT_MS + 1;
    let decision = ok(&mut state, notify(order, "t-late", PRICE), late);
    assert_eq!(
        types(&decision),
        ["INSTANCE_TIMEOUT", "INSTANCE_REFUND_PENDING"]
    );
    assert_eq!(units(&state), (10, 0, 0), "the stock went back, none sold");
    assert_eq!(
        super::order(&state, order).status,
        OrderStatus::RefundPending
    );
}

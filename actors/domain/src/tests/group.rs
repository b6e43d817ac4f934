//! Group plays (GROUP_BUY, COURSE_GROUP): start, join, pay, leave, success, expiry, refund.

use super::*;

const NOW: i64 = START + 1_000;

/// Starts a group by `leader` and has the leader pay: an ACTIVE group.
fn active_group(state: &mut ActivityState, leader: &str) -> u64 {
    let started = ok(state, start_group(leader, "start"), NOW);
    let number = group_of(&started);
    ok(state, mock_pay(order_of(&started), leader), NOW);
    assert_eq!(group(state, number).status, GroupStatus::Active);
    number
}

#[test]
fn start_creates_a_pending_group_with_the_leaders_seat() {
    let mut state = group_buy(3);
    let decision = ok(&mut state, start_group("leader", "r1"), NOW);
    assert_eq!(
        types(&decision),
        ["GROUP_CREATED", "INSTANCE_CREATED", "GROUP_MEMBER_JOINED"]
    );
    assert_eq!(decision.subject, Subject::Group { group: 1, order: 1 });
    let started = group(&state, 1);
    assert_eq!(started.status, GroupStatus::Pending);
    assert_eq!(
        (&*started.leader, started.target, started.paid),
        ("leader", 3, 0)
    );
    let seats: Vec<(&str, u64)> = started
        .members
        .iter()
        .map(|member| (&*member.user, member.order))
        .collect();
    assert_eq!(seats, [("leader", 1)]);
    assert_eq!(started.expires_at_ms, NOW + GROUP_TTL_MS);
    assert_eq!(order(&state, 1).group, Some(1));
    assert_eq!(order(&state, 1).quantity, 1);
    assert_eq!(units(&state), (99, 1, 0));
    assert_eq!(units_held(&state, "leader"), 1);
}

#[test]
fn join_is_refused_while_the_group_is_pending() {
    let mut state = group_buy(3);
    ok(&mut state, start_group("leader", "r1"), NOW);
    assert_eq!(
        run(&mut state, join(1, "u1", "r1"), NOW),
        Err(Rejection::GroupClosed)
    );
    assert_eq!(group(&state, 1).members.len(), 1);
}

#[test]
fn the_leaders_payment_activates_the_group() {
    let mut state = group_buy(3);
    ok(&mut state, start_group("leader", "r1"), NOW);
    let decision = ok(&mut state, mock_pay(1, "leader"), NOW);
    assert_eq!(types(&decision), ["INSTANCE_PAID", "GROUP_ACTIVATED"]);
    assert_eq!(group(&state, 1).status, GroupStatus::Active);
    assert_eq!(group(&state, 1).paid, 1);
    assert_eq!(units(&state), (99, 0, 1));
}

#[test]
fn joining_an_unknown_group_is_not_found() {
    let mut state = group_buy(3);
    assert_eq!(
        run(&mut state, join(1, "u1", "r1"), NOW),
        Err(Rejection::NotFound("group"))
    );
    assert_eq!(
        run(&mut state, join(0, "u1", "r1"), NOW),
        Err(Rejection::NotFound("group"))
    );
    assert_eq!(
        run(&mut state, expire_group(5), NOW),
        Err(Rejection::NotFound("group"))
    );
}

#[test]
fn the_last_payment_fills_the_group_and_every_member_succeeds() {
    let mut state = group_buy(3);
    let number = active_group(&mut state, "leader");
    let first = order_of(&ok(&mut state, join(number, "u1", "r1"), NOW));
    let second = order_of(&ok(&mut state, join(number, "u2", "r1"), NOW));
    assert_eq!(
        types(&ok(&mut state, mock_pay(first, "u1"), NOW)),
        ["INSTANCE_PAID"]
    );
    assert_eq!(group(&state, number).paid, 2);
    let last = ok(&mut state, notify(second, "T2", PRICE), NOW + 1);
    assert_eq!(
        last.events,
        vec![
            EventKind::InstancePaid {
                order: second,
                trade_number: Some("T2".to_string())
            },
            EventKind::GroupFull { group: number },
            EventKind::InstanceSuccess { order: 1 },
            EventKind::InstanceSuccess { order: first },
            EventKind::InstanceSuccess { order: second },
        ]
    );
    let full = group(&state, number);
    assert_eq!(
        (full.status, full.paid, full.members.len()),
        (GroupStatus::Success, 3, 3)
    );
    assert_eq!(units(&state), (97, 0, 3));
    assert_eq!(state.counts.gmv_cents, 3 * PRICE);
    assert!(
        ok(&mut state, expire_group(number), NOW + GROUP_TTL_MS)
            .events
            .is_empty(),
        "a full group does not expire"
    );
    assert_eq!(group(&state, number).status, GroupStatus::Success);
}

#[test]
fn a_full_course_group_also_opens_the_course() {
    let mut state = course_group(2);
    let number = active_group(&mut state, "leader");
    let member = order_of(&ok(&mut state, join(number, "u1", "r1"), NOW));
    let decision = ok(&mut state, mock_pay(member, "u1"), NOW);
    assert_eq!(
        types(&decision),
        [
            "INSTANCE_PAID",
            "GROUP_FULL",
            "COURSE_OPEN",
            "INSTANCE_SUCCESS",
            "INSTANCE_SUCCESS"
        ]
    );
    assert_eq!(group(&state, number).status, GroupStatus::Success);
}

#[test]
fn joining_a_full_group_is_refused_with_group_full() {
    let mut state = group_buy(2);
    let number = active_group(&mut state, "leader");
    let member = order_of(&ok(&mut state, join(number, "u1", "r1"), NOW));
    assert_eq!(
        run(&mut state, join(number, "u2", "r1"), NOW),
        Err(Rejection::GroupFull),
        "every seat is taken"
    );
    ok(&mut state, mock_pay(member, "u1"), NOW);
    assert_eq!(
        run(&mut state, join(number, "u2", "r1"), NOW),
        Err(Rejection::GroupFull),
        "the group succeeded"
    );
    assert_eq!(group(&state, number).members.len(), 2);
}

#[test]
fn the_same_user_cannot_join_a_group_twice() {
    let mut state = online(config(TemplateCode::GroupBuy, 100, 3, 4));
    let number = active_group(&mut state, "leader");
    assert_eq!(
        run(&mut state, join(number, "leader", "r2"), NOW),
        Err(Rejection::AlreadyInGroup)
    );
    ok(&mut state, join(number, "u1", "r1"), NOW);
    assert_eq!(
        run(&mut state, join(number, "u1", "r2"), NOW),
        Err(Rejection::AlreadyInGroup)
    );
    assert_eq!(group(&state, number).members.len(), 2);
}

#[test]
fn the_same_request_replays_the_group_and_order() {
    let mut state = group_buy(3);
    let started = ok(&mut state, start_group("leader", "r1"), NOW);
    let again = ok(&mut state, start_group("leader", "r1"), NOW + 1);
    assert!(again.replayed && again.events.is_empty());
    assert_eq!(again.subject, started.subject);
    ok(&mut state, mock_pay(1, "leader"), NOW);
    let joined = ok(&mut state, join(1, "u1", "j1"), NOW);
    let rejoined = ok(&mut state, join(1, "u1", "j1"), NOW);
    assert!(rejoined.replayed);
    assert_eq!(rejoined.subject, joined.subject);
    assert_eq!(state.orders.len(), 2);
}

#[test]
fn an_unpaid_members_timeout_frees_the_seat() {
    let mut state = group_buy(2);
    let number = active_group(&mut state, "leader");
    let member = order_of(&ok(&mut state, join(number, "u1", "r1"), NOW));
    assert_eq!(units(&state), (98, 1, 1));
    let decision = ok(&mut state, expire_order(member), NOW + PAY_TIMEOUT_MS);
    assert_eq!(
        decision.events,
        vec![
            EventKind::InstanceTimeout { order: member },
            EventKind::GroupMemberLeft {
                group: number,
                order: member
            }
        ]
    );
    assert_eq!(group(&state, number).members.len(), 1);
    assert_eq!(group(&state, number).status, GroupStatus::Active);
    assert_eq!(units(&state), (99, 0, 1));
    assert_eq!(units_held(&state, "u1"), 0);
    ok(&mut state, join(number, "u2", "r1"), NOW + PAY_TIMEOUT_MS);
    assert_eq!(group(&state, number).members.len(), 2);
}

#[test]
fn an_unpaid_member_who_cancels_leaves_the_group() {
    let mut state = group_buy(3);
    let number = active_group(&mut state, "leader");
    let member = order_of(&ok(&mut state, join(number, "u1", "r1"), NOW));
    let decision = ok(&mut state, cancel(member, "u1"), NOW);
    assert_eq!(
        types(&decision),
        ["INSTANCE_CANCELLED", "GROUP_MEMBER_LEFT"]
    );
    assert_eq!(group(&state, number).members.len(), 1);
    let back = ok(&mut state, join(number, "u1", "r2"), NOW);
    assert!(
        !back.replayed,
        "a member who left may join again with a new request"
    );
}

#[test]
fn the_leaders_unpaid_timeout_fails_the_pending_group() {
    let mut state = group_buy(3);
    ok(&mut state, start_group("leader", "r1"), NOW);
    let decision = ok(&mut state, expire_order(1), NOW + PAY_TIMEOUT_MS);
    assert_eq!(types(&decision), ["INSTANCE_TIMEOUT", "GROUP_FAILED"]);
    assert_eq!(group(&state, 1).status, GroupStatus::Failed);
    assert_eq!(order(&state, 1).status, OrderStatus::Timeout);
    assert_eq!(units(&state), (100, 0, 0));
    assert_eq!(
        run(&mut state, join(1, "u1", "r1"), NOW + PAY_TIMEOUT_MS),
        Err(Rejection::GroupClosed)
    );
    assert!(matches!(
        run(&mut state, mock_pay(1, "leader"), NOW + PAY_TIMEOUT_MS),
        Err(Rejection::InvalidState(_))
    ));
}

#[test]
fn the_leader_cancelling_fails_the_pending_group() {
    let mut state = group_buy(3);
    ok(&mut state, start_group("leader", "r1"), NOW);
    assert_eq!(
        types(&ok(&mut state, cancel(1, "leader"), NOW)),
        ["INSTANCE_CANCELLED", "GROUP_FAILED"]
    );
    assert_eq!(group(&state, 1).status, GroupStatus::Failed);
    assert_eq!(units(&state), (100, 0, 0));
}

#[test]
fn expiry_of_an_active_unfilled_group_fails_it_and_refunds_paid_members_exactly_once() {
    let mut state = group_buy(4);
    let number = active_group(&mut state, "leader");
    let paid_member = order_of(&ok(&mut state, join(number, "u1", "r1"), NOW));
    ok(&mut state, notify(paid_member, "T1", PRICE), NOW);
    let unpaid_member = order_of(&ok(&mut state, join(number, "u2", "r1"), NOW + 1));
    assert_eq!(units(&state), (97, 1, 2));
    assert_eq!(state.counts.gmv_cents, 2 * PRICE);

    assert!(
        ok(&mut state, expire_group(number), NOW + GROUP_TTL_MS - 1)
            .events
            .is_empty(),
        "not yet"
    );
    let expired = ok(&mut state, expire_group(number), NOW + GROUP_TTL_MS);
    assert_eq!(
        expired.events,
        vec![
            EventKind::GroupFailed { group: number },
            EventKind::InstanceFailedTo {
                order: 1,
                status: OrderStatus::RefundPending
            },
            EventKind::InstanceFailedTo {
                order: paid_member,
                status: OrderStatus::RefundPending
            },
            EventKind::InstanceFailedTo {
                order: unpaid_member,
                status: OrderStatus::Cancelled
            },
        ]
    );
    assert_eq!(group(&state, number).status, GroupStatus::Failed);
    assert_eq!(order(&state, 1).status, OrderStatus::RefundPending);
    assert_eq!(
        order(&state, paid_member).status,
        OrderStatus::RefundPending
    );
    assert_eq!(order(&state, unpaid_member).status, OrderStatus::Cancelled);
    assert_eq!(units(&state), (100, 0, 0), "every unit is back on sale");
    assert_eq!(state.counts.gmv_cents, 0);
    assert_eq!(
        (
            state.counts.paid,
            state.counts.refund_pending,
            state.counts.cancelled
        ),
        (0, 2, 1)
    );
    for user in ["leader", "u1", "u2"] {
        assert_eq!(units_held(&state, user), 0, "{user}");
    }
    assert!(
        ok(&mut state, expire_group(number), NOW + GROUP_TTL_MS + 1)
            .events
            .is_empty(),
        "fails once"
    );

    for refunded in [1, paid_member] {
        assert_eq!(
            types(&ok(
                &mut state,
                complete_refund(refunded),
                NOW + GROUP_TTL_MS + 2
            )),
            ["INSTANCE_REFUNDED"]
        );
        assert!(
            ok(
                &mut state,
                complete_refund(refunded),
                NOW + GROUP_TTL_MS + 3
            )
            .replayed
        );
        assert_eq!(order(&state, refunded).status, OrderStatus::Refunded);
    }
    assert!(matches!(
        run(&mut state, complete_refund(unpaid_member), NOW),
        Err(Rejection::InvalidState(_))
    ));
    assert_eq!(state.counts.refunded, 2);
    assert!(
        ok(
            &mut state,
            notify(paid_member, "T1", PRICE),
            NOW + GROUP_TTL_MS + 4
        )
        .replayed
    );
    assert!(matches!(
        run(&mut state, mock_pay(unpaid_member, "u2"), NOW),
        Err(Rejection::InvalidState(_))
    ));
    assert_eq!(units(&state), (100, 0, 0));
}

#[test]
fn expiry_of_a_pending_group_cancels_the_leaders_order() {
    let mut state = online(config(TemplateCode::GroupBuy, 10, 1, 2));
    // The leader's order outlives the group only if the pay timeout is longer; nudge the
    // group first anyway: its expiry must release the leader's seat.
    ok(&mut state, start_group("leader", "r1"), NOW);
    let expired = ok(&mut state, expire_group(1), NOW + GROUP_TTL_MS);
    assert_eq!(types(&expired), ["GROUP_FAILED", "INSTANCE_FAILED"]);
    assert_eq!(order(&state, 1).status, OrderStatus::Cancelled);
    assert_eq!(units(&state), (10, 0, 0));
    assert_eq!(state.counts.gmv_cents, 0);
}

#[test]
fn the_per_user_limit_counts_across_groups() {
    let mut state = group_buy(2);
    let number = active_group(&mut state, "leader");
    assert_eq!(
        run(&mut state, start_group("leader", "second"), NOW),
        Err(Rejection::LimitExceeded)
    );
    ok(&mut state, start_group("u1", "r1"), NOW);
    ok(&mut state, mock_pay(2, "u1"), NOW);
    assert_eq!(
        run(&mut state, join(number, "u1", "r2"), NOW),
        Err(Rejection::LimitExceeded)
    );
    assert_eq!(units_held(&state, "u1"), 1);

    let mut wider = online(config(TemplateCode::GroupBuy, 100, 2, 2));
    ok(&mut wider, start_group("u1", "a"), NOW);
    ok(&mut wider, start_group("u1", "b"), NOW);
    assert_eq!(
        run(&mut wider, start_group("u1", "c"), NOW),
        Err(Rejection::LimitExceeded)
    );
}

#[test]
fn a_refunded_member_may_take_part_again() {
    let mut state = group_buy(3);
    let number = active_group(&mut state, "leader");
    ok(&mut state, expire_group(number), NOW + GROUP_TTL_MS);
    assert_eq!(units_held(&state, "leader"), 0);
    ok(
        &mut state,
        start_group("leader", "again"),
        NOW + GROUP_TTL_MS,
    );
    assert_eq!(units_held(&state, "leader"), 1);
}

#[test]
fn group_stock_runs_out_with_sold_out_and_no_flash_sale_event() {
    let mut state = online(config(TemplateCode::GroupBuy, 2, 1, 2));
    let number = active_group(&mut state, "leader");
    let last = ok(&mut state, join(number, "u1", "r1"), NOW);
    assert!(!types(&last).contains(&"FLASH_SALE_SOLD_OUT"));
    assert_eq!(
        run(&mut state, start_group("u2", "r1"), NOW),
        Err(Rejection::SoldOut)
    );
}

#[test]
fn joining_after_the_end_is_refused_with_ended() {
    let mut state = group_buy(3);
    let started = ok(&mut state, start_group("leader", "r1"), END - 1_000);
    let number = group_of(&started);
    ok(
        &mut state,
        mock_pay(order_of(&started), "leader"),
        END - 1_000,
    );
    assert!(
        group(&state, number).expires_at_ms > END,
        "the group itself is still open"
    );
    assert_eq!(
        run(&mut state, join(number, "u1", "r1"), END),
        Err(Rejection::Ended)
    );
    assert_eq!(
        run(&mut state, start_group("u1", "r1"), END),
        Err(Rejection::Ended)
    );
}

#[test]
fn joining_an_expired_group_is_refused_even_before_the_expiry_nudge() {
    let mut state = group_buy(3);
    let number = active_group(&mut state, "leader");
    let expires_at_ms = group(&state, number).expires_at_ms;
    ok(&mut state, join(number, "u1", "r1"), expires_at_ms - 1);
    assert_eq!(
        run(&mut state, join(number, "u2", "r1"), expires_at_ms),
        Err(Rejection::GroupClosed)
    );
    assert_eq!(group(&state, number).members.len(), 2);
    assert_eq!(units_held(&state, "u2"), 0);
}

#[test]
fn a_payment_after_the_group_expired_fails_the_group_even_before_the_nudge() {
    let mut state = group_buy(2);
    let now = START + 1_000;
    let started = ok(&mut state, start_group("leader", "r1"), now);
    let (number, leader) = (group_of(&started), order_of(&started));
    ok(&mut state, mock_pay(leader, "leader"), now);
    let expires_at_ms = group(&state, number).expires_at_ms;
    // The member joins just before the group's end: their own pay deadline is later.
    let member = order_of(&ok(
        &mut state,
        join(number, "member", "r2"),
        expires_at_ms - 1_000,
    ));

    let refused = run(&mut state, mock_pay(member, "member"), expires_at_ms);
    assert_eq!(refused, Err(Rejection::GroupClosed));

    let decision = ok(&mut state, notify(member, "t-late", PRICE), expires_at_ms);
    assert_eq!(decision.events[0], EventKind::GroupFailed { group: number });
    assert_eq!(
        group(&state, number).status,
        GroupStatus::Failed,
        "never SUCCESS after expiry"
    );
    assert_eq!(order(&state, member).status, OrderStatus::RefundPending);
    assert_eq!(
        order(&state, leader).status,
        OrderStatus::RefundPending,
        "the paid leader is refunded"
    );
    assert_eq!(
        units(&state),
        (state.stock.total, 0, 0),
        "every unit is back"
    );
}

//! Archiving: which orders are candidates, what ORDERS_ARCHIVED does (and does not do) to
//! the state, and that an archived stub decides like the order it was.

use super::*;
use crate::archive::{CandidateQuery, CandidateScan, ARCHIVE_BATCH_ORDERS_MAX};
use crate::state::OrderCounts;

const NOW: i64 = START + 1_000;
const DAY_MS: i64 = 86_400_000;
/// When the archiver runs in these tests, and its cutoff (orders untouched for 30 days).
const LATER: i64 = NOW + 40 * DAY_MS;
const CUTOFF: i64 = LATER - 30 * DAY_MS;

fn archive_orders(orders: Vec<u64>, cutoff_ms: i64) -> Command {
    Command::ArchiveOrders { orders, cutoff_ms }
}

fn scan(state: &ActivityState, cutoff_ms: i64) -> CandidateScan {
    state.archive_candidates(CandidateQuery {
        cutoff_ms,
        start_index: 0,
        scan_max: usize::MAX,
        candidates_max: usize::MAX,
    })
}

fn numbers(scan: &CandidateScan) -> Vec<u64> {
    scan.candidates.iter().map(|(number, _)| *number).collect()
}

/// Archives every candidate at `cutoff_ms` (as the archiver does, at `LATER`); returns
/// their numbers.
fn archive_all(state: &mut ActivityState, cutoff_ms: i64) -> Vec<u64> {
    let candidates = numbers(&scan(state, cutoff_ms));
    let decision = ok(state, archive_orders(candidates.clone(), cutoff_ms), LATER);
    assert_eq!(types(&decision), ["ORDERS_ARCHIVED"]);
    candidates
}

/// A flash sale (stock 20, limit 2) with one order in each status: 1 PAID (u1, trade T1),
/// 2 CANCELLED (u2), 3 TIMEOUT (u3), 4 REFUNDED (u5, a late payment T5), 5 REFUND_PENDING
/// (u6, a late payment T6), 6 PENDING_PAY (u4).
fn every_status() -> ActivityState {
    let mut state = flash_sale(20, 2);
    for user in ["u1", "u2", "u3", "u5", "u6"] {
        ok(&mut state, grab(user, "r1", 1), NOW);
    }
    ok(&mut state, notify(1, "T1", PRICE), NOW + 1);
    ok(&mut state, cancel(2, "u2"), NOW + 1);
    let late = NOW + PAY_TIMEOUT_MS;
    ok(&mut state, expire_order(3), late);
    ok(&mut state, notify(4, "T5", PRICE), late);
    ok(&mut state, notify(5, "T6", PRICE), late);
    ok(&mut state, complete_refund(4), late);
    // The still unpaid order is the newest: grabbed later, but long before the cutoff.
    ok(&mut state, grab("u4", "r1", 1), late);
    let statuses: Vec<OrderStatus> = state.orders.iter().map(|found| found.status).collect();
    use OrderStatus::*;
    assert_eq!(
        statuses,
        [
            Paid,
            Cancelled,
            Timeout,
            Refunded,
            RefundPending,
            PendingPay
        ]
    );
    state
}

#[test]
fn terminal_orders_untouched_since_the_cutoff_are_the_candidates() {
    let state = every_status();

    let found = scan(&state, CUTOFF);

    // PAID (flash sale), CANCELLED, TIMEOUT, REFUNDED; not REFUND_PENDING nor PENDING_PAY.
    assert_eq!(numbers(&found), [1, 2, 3, 4]);
    assert_eq!(
        found.first_kept_index,
        Some(4),
        "order 5 must be looked at again"
    );
    assert!(found.pass_done);
    assert_eq!(found.scanned, 6);
    // The candidates are whole orders, detail included, for the cold store.
    assert!(found
        .candidates
        .iter()
        .all(|(number, whole)| whole == order(&state, *number) && !whole.is_archived()));
    // Too young: the cutoff is before the last change of every order.
    assert!(scan(&state, NOW).candidates.is_empty());
    // The cancel at NOW + 1 is the order's last change: at NOW + 1 it is old enough.
    assert_eq!(numbers(&scan(&state, NOW + 1)), [1, 2]);
}

#[test]
fn a_paid_group_order_is_a_candidate_only_once_its_group_succeeded() {
    let mut state = group_buy(2);
    ok(&mut state, start_group("a", "r1"), NOW);
    ok(&mut state, mock_pay(1, "a"), NOW);
    ok(&mut state, start_group("c", "r1"), NOW);
    ok(&mut state, mock_pay(2, "c"), NOW);
    ok(&mut state, join(2, "d", "r1"), NOW);
    ok(&mut state, mock_pay(3, "d"), NOW);
    assert_eq!(group(&state, 1).status, GroupStatus::Active);
    assert_eq!(group(&state, 2).status, GroupStatus::Success);

    // Order 1's group is still open: it could fail and refund order 1.
    assert_eq!(numbers(&scan(&state, CUTOFF)), [2, 3]);

    ok(&mut state, expire_group(1), NOW + GROUP_TTL_MS);
    ok(&mut state, complete_refund(1), NOW + GROUP_TTL_MS);
    assert_eq!(order(&state, 1).status, OrderStatus::Refunded);
    assert_eq!(numbers(&scan(&state, CUTOFF)), [1, 2, 3]);
}

#[test]
fn archiving_keeps_counts_stock_gmv_and_per_user_units() {
    let mut state = every_status();
    let before = state.clone();

    let archived = archive_all(&mut state, CUTOFF);

    assert_eq!(archived, [1, 2, 3, 4]);
    assert_eq!(state.stock, before.stock);
    assert_eq!(
        state.counts,
        OrderCounts {
            archived: 4,
            ..before.counts
        }
    );
    assert_eq!(state.users, before.users);
    assert_eq!(state.trades, before.trades);
    assert_eq!(state.orders.len(), before.orders.len());
    for number in 1..=6 {
        let (now, then) = (order(&state, number), order(&before, number));
        assert_eq!(
            now.is_archived(),
            archived.contains(&number),
            "order {number}"
        );
        // The stub is the order without its detail.
        let stub = Order {
            detail: None,
            ..then.clone()
        };
        if now.is_archived() {
            assert_eq!(now, &stub);
        } else {
            assert_eq!(now, then);
        }
    }
}

#[test]
fn an_archived_order_still_counts_against_the_per_user_limit() {
    let mut state = flash_sale(20, 2);
    ok(&mut state, grab("u1", "r1", 2), NOW);
    ok(&mut state, mock_pay(1, "u1"), NOW);
    assert_eq!(archive_all(&mut state, CUTOFF), [1]);

    assert_eq!(units_held(&state, "u1"), 2);
    assert_eq!(
        run(&mut state, grab("u1", "r2", 1), END - 1),
        Err(Rejection::LimitExceeded)
    );
    ok(&mut state, grab("u2", "r2", 2), END - 1);
}

#[test]
fn a_repeated_request_replays_its_archived_order() {
    let mut state = flash_sale(20, 2);
    ok(&mut state, grab("u1", "r1", 1), NOW);
    ok(&mut state, cancel(1, "u1"), NOW);
    archive_all(&mut state, CUTOFF);
    let before = state.clone();

    let again = ok(&mut state, grab("u1", "r1", 1), END - 1);

    assert!(again.replayed);
    assert_eq!(again.subject, Subject::Order(1));
    assert_eq!(state, before, "a replay changes nothing");
    // A new request of the same user is a new order.
    let fresh = ok(&mut state, grab("u1", "r2", 1), END - 1);
    assert_eq!(fresh.subject, Subject::Order(2));
}

#[test]
fn payments_of_an_archived_order_stay_idempotent_by_trade_number() {
    let mut state = every_status();
    archive_all(&mut state, CUTOFF);

    // The same notification again: replayed, whatever the time.
    let again = ok(&mut state, notify(1, "T1", PRICE), LATER);
    assert!(again.replayed);
    // Another trade for the paid order: refused, as before archiving.
    assert_eq!(
        run(&mut state, notify(1, "T9", PRICE), LATER),
        Err(Rejection::InvalidState("the order was already paid"))
    );
    assert_eq!(
        run(&mut state, notify(1, "T9", PRICE + 1), LATER),
        Err(Rejection::AmountMismatch)
    );
    // A trade of one order never pays another.
    assert!(run(&mut state, notify(2, "T1", PRICE), LATER).is_err());
    // The mock payment of the paid order replays; of the cancelled one it is refused.
    assert!(ok(&mut state, mock_pay(1, "u1"), LATER).replayed);
    assert!(run(&mut state, mock_pay(2, "u2"), LATER).is_err());
}

#[test]
fn a_late_payment_of_an_archived_cancelled_order_is_refunded_on_the_stub() {
    let mut state = every_status();
    archive_all(&mut state, CUTOFF);
    let stock = state.stock;

    let decision = ok(&mut state, notify(2, "T2", PRICE), LATER);

    assert_eq!(types(&decision), ["INSTANCE_REFUND_PENDING"]);
    assert_eq!(state.stock, stock, "a late payment never takes stock");
    let stub = order(&state, 2);
    assert!(stub.is_archived());
    assert_eq!(stub.status, OrderStatus::RefundPending);
    assert_eq!(stub.trade_number.as_deref(), Some("T2"));
    assert_eq!(state.trades.get("T2"), Some(&2));
    ok(&mut state, complete_refund(2), LATER);
    assert_eq!(order(&state, 2).status, OrderStatus::Refunded);
    assert_eq!(state.counts.refunded, 2);
    assert_eq!(state.counts.archived, 4, "it stays archived, counted once");
    assert!(
        !state.is_archivable(order(&state, 2), LATER),
        "an archived stub is never archived again"
    );
}

#[test]
fn archive_commands_are_all_or_nothing() {
    let mut state = every_status();
    let refusals = [
        (vec![], "an empty list"),
        (vec![1, 1], "a duplicate"),
        (vec![1, 99], "an unknown order"),
        (vec![1, 5], "a REFUND_PENDING order"),
        (vec![1, 6], "a PENDING_PAY order"),
    ];
    for (orders, what) in refusals {
        let before = state.clone();
        let refused = run(&mut state, archive_orders(orders, CUTOFF), LATER);
        assert!(refused.is_err(), "{what} is refused");
        assert_eq!(state, before, "{what} changes nothing");
    }
    assert!(run(&mut state, archive_orders(vec![1], NOW), LATER).is_err());
    let too_many = (1..=ARCHIVE_BATCH_ORDERS_MAX as u64 + 1).collect();
    assert!(matches!(
        run(&mut state, archive_orders(too_many, CUTOFF), LATER),
        Err(Rejection::Validation {
            field: "orders",
            ..
        })
    ));
    // Listed in any order: the event names them ascending.
    let decision = ok(&mut state, archive_orders(vec![3, 1], CUTOFF), LATER);
    assert_eq!(
        decision.events,
        [EventKind::OrdersArchived { orders: vec![1, 3] }]
    );
    // Once archived, an order is no longer a candidate, and naming it again is refused.
    assert_eq!(numbers(&scan(&state, CUTOFF)), [2, 4]);
    assert!(run(&mut state, archive_orders(vec![1], CUTOFF), LATER).is_err());
}

#[test]
fn a_scan_is_bounded_and_remembers_the_first_order_it_left() {
    let state = every_status();
    let query = |start_index, scan_max, candidates_max| CandidateQuery {
        cutoff_ms: CUTOFF,
        start_index,
        scan_max,
        candidates_max,
    };

    let first = state.archive_candidates(query(0, 2, 10));
    assert_eq!((numbers(&first), first.next_index), (vec![1, 2], 2));
    assert!(!first.pass_done);

    let capped = state.archive_candidates(query(0, 10, 3));
    assert_eq!((numbers(&capped), capped.next_index), (vec![1, 2, 3], 3));
    assert!(!capped.pass_done);

    let rest = state.archive_candidates(query(3, 10, 10));
    assert_eq!(numbers(&rest), [4]);
    assert_eq!(rest.first_kept_index, Some(4));
    assert!(rest.pass_done);
    assert!(state.archive_candidates(query(99, 10, 10)).pass_done);
}

#[test]
fn a_scan_stops_at_the_first_order_created_after_the_cutoff() {
    let mut state = flash_sale(20, 5);
    ok(&mut state, grab("u1", "r1", 1), NOW);
    ok(&mut state, cancel(1, "u1"), NOW);
    ok(&mut state, grab("u2", "r1", 1), NOW + 10);
    ok(&mut state, cancel(2, "u2"), NOW + 10);

    let found = scan(&state, NOW + 5);

    assert_eq!(numbers(&found), [1]);
    assert_eq!(found.first_kept_index, Some(1));
    assert!(found.pass_done);
}

#[test]
fn stubs_survive_a_snapshot_and_a_replay_of_the_journal() {
    let mut flash = Journaled::new(config(TemplateCode::FlashSale, 10, 2, 0));
    flash.ok(submit(OPERATOR), CREATED_AT);
    flash.ok(approve(APPROVER, ""), CREATED_AT);
    flash.ok(publish(OPERATOR), START);
    flash.ok(grab("u1", "r1", 2), NOW);
    flash.ok(notify(1, "T1", 2 * PRICE), NOW);
    flash.ok(grab("u2", "r1", 1), NOW);
    flash.ok(cancel(2, "u2"), NOW);
    flash.ok(grab("u3", "r1", 1), NOW);
    flash.ok(archive_orders(vec![1, 2], CUTOFF), LATER);

    let recovered = flash.recovered();
    assert_eq!(recovered, flash.state, "the journal replays the archive");

    let bytes = serde_json::to_vec(&flash.state.image()).expect("encode the image");
    let direct = serde_json::to_vec(&flash.state).expect("encode the state");
    assert_eq!(bytes, direct, "an image encodes like its state");
    let mut decoded: ActivityState = serde_json::from_slice(&bytes).expect("decode");
    decoded.rebuild_indexes();
    assert_eq!(decoded, flash.state, "the snapshot keeps the stubs");
    assert_eq!(units_held(&decoded, "u1"), 2);
    assert_eq!(decoded.trades.get("T1"), Some(&1));
    assert_eq!(decoded.counts.archived, 2);
    let replayed = run(&mut decoded, grab("u2", "r1", 1), END - 1).expect("replay");
    assert_eq!(
        (replayed.subject, replayed.replayed),
        (Subject::Order(2), true)
    );
    assert_eq!(
        run(&mut decoded, grab("u1", "r2", 1), END - 1),
        Err(Rejection::LimitExceeded)
    );
}

/// What an order costs in memory, live and archived (`cargo test -p playcore-actors
/// memory -- --nocapture` prints it). The heap parts vary with the strings; these are the
/// fixed parts.
#[test]
fn an_archived_order_keeps_only_its_core_in_memory() {
    use std::mem::size_of;
    let core = size_of::<Order>();
    let detail = size_of::<OrderDetail>();
    println!("order memory: live {core} + {detail} (boxed detail) bytes, archived {core} bytes");
    assert!(core <= 120, "the core grew to {core} bytes");
    assert!(detail >= 64, "the detail is what archiving frees");
}

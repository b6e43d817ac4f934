//! The verdict passes a correct run and fails each kind of wrong one.

use super::*;

fn order(number: u64, user: &str, status: &str) -> ServerOrder {
    ServerOrder {
        order_id: format!("ord-1-{number}"),
        user_id: user.to_owned(),
        quantity: 1,
        status: status.to_owned(),
        group_id: None,
    }
}

/// Three users, stock 2, limit 1: u0 and u1 win (u1 repeats), u2 is sold out, and u0 also
/// tries a second requestId and hits the limit.
fn correct_rush() -> (RushObservations, ServerFacts) {
    let attempt = |user, request| Attempt { user, request };
    let answers = vec![
        (attempt(0, 0), OK, Some(1)),
        (attempt(1, 0), OK, Some(2)),
        (attempt(1, 0), OK, Some(2)),
        (attempt(0, 1), "LIMIT_EXCEEDED", None),
        (attempt(2, 0), "SOLD_OUT", None),
    ];
    let confirmed = vec![
        Confirmed {
            order: 1,
            user: "u0".into(),
            paid: true,
        },
        Confirmed {
            order: 2,
            user: "u1".into(),
            paid: false,
        },
    ];
    let observed = RushObservations {
        per_user_limit: 1,
        answers,
        confirmed,
    };
    let facts = ServerFacts {
        stock: Stock {
            total: 2,
            available: 0,
            reserved: 1,
            sold: 1,
        },
        orders: vec![order(1, "u0", "PAID"), order(2, "u1", "PENDING_PAY")],
    };
    (observed, facts)
}

fn failed(verdict: &Verdict) -> Vec<&str> {
    verdict
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect()
}

#[test]
fn a_correct_rush_passes() {
    let (observed, facts) = correct_rush();
    let verdict = judge_rush(observed, facts, None);
    assert!(verdict.passed, "{:?}", verdict.checks);
}

#[test]
fn an_oversold_stock_fails() {
    let (observed, mut facts) = correct_rush();
    facts.stock.reserved = 2;
    assert_eq!(
        failed(&judge_rush(observed, facts, None)),
        ["stock conserved"]
    );
}

#[test]
fn a_user_above_the_limit_fails() {
    let (observed, mut facts) = correct_rush();
    facts.orders.push(order(3, "u0", "PENDING_PAY"));
    let verdict = judge_rush(observed, facts, None);
    assert!(failed(&verdict).contains(&"no user above the limit"));
    assert!(failed(&verdict).contains(&"no order the harness was not told of"));
}

#[test]
fn a_lost_confirmed_order_fails() {
    let (observed, mut facts) = correct_rush();
    facts.orders.retain(|o| o.order_id != "ord-1-2");
    let verdict = judge_rush(observed, facts, None);
    assert!(failed(&verdict).contains(&"every confirmed order present"));
}

#[test]
fn a_lost_payment_fails() {
    let (observed, mut facts) = correct_rush();
    facts.orders[0].status = "PENDING_PAY".into();
    assert_eq!(
        failed(&judge_rush(observed, facts, None)),
        ["every confirmed order present"]
    );
}

#[test]
fn a_repeat_answered_with_another_order_fails() {
    let (mut observed, facts) = correct_rush();
    observed.answers[2].2 = Some(7);
    let verdict = judge_rush(observed, facts, None);
    assert!(failed(&verdict).contains(&"repeated requestIds answered with the same order"));
}

#[test]
fn turning_away_a_user_while_stock_remains_fails() {
    let (observed, mut facts) = correct_rush();
    facts.stock.total = 3;
    facts.stock.available = 1;
    assert_eq!(
        failed(&judge_rush(observed, facts, None)),
        ["successes equal min(stock, distinct demand)"]
    );
}

#[test]
fn unknown_answers_make_the_demand_check_not_applicable() {
    let (mut observed, mut facts) = correct_rush();
    observed.answers.push((
        Attempt {
            user: 3,
            request: 0,
        },
        "TRANSPORT",
        None,
    ));
    facts.stock.total = 3;
    facts.stock.available = 1;
    let verdict = judge_rush(observed, facts, None);
    assert!(verdict.passed, "{:?}", verdict.checks);
}

#[test]
fn every_distortion_fails_a_correct_rush() {
    for distortion in [
        Distortion::PhantomOrder,
        Distortion::Oversell,
        Distortion::OverLimit,
    ] {
        let (observed, facts) = correct_rush();
        let verdict = judge_rush(observed, facts, Some(distortion));
        assert!(!verdict.passed, "{distortion:?} passed");
    }
}

fn group(paid_members: u32, status: &str, current: u32) -> GroupOutcome {
    GroupOutcome {
        group_id: "grp-1-1".into(),
        target: 3,
        paid_members,
        late_join: (paid_members == 3).then_some("GROUP_FULL"),
        status: status.into(),
        current,
    }
}

#[test]
fn consistent_groups_pass_and_wrong_ones_fail() {
    let facts = ServerFacts {
        stock: Stock {
            total: 10,
            available: 6,
            reserved: 0,
            sold: 4,
        },
        orders: Vec::new(),
    };
    let good = [group(3, "SUCCESS", 3), group(1, "ACTIVE", 1)];
    assert!(judge_groups(Vec::new(), &good, facts.clone(), 1, None).passed);
    let miscounted = [group(2, "ACTIVE", 3)];
    assert!(!judge_groups(Vec::new(), &miscounted, facts.clone(), 1, None).passed);
    let unfinished = [group(3, "ACTIVE", 3)];
    assert!(!judge_groups(Vec::new(), &unfinished, facts.clone(), 1, None).passed);
    let mut admitted = group(3, "SUCCESS", 3);
    admitted.late_join = Some(OK);
    assert!(!judge_groups(Vec::new(), &[admitted], facts, 1, None).passed);
}

//! The verdict: what the harness observed, judged against what the server holds after the
//! run. Pure functions over plain data, so every check is unit-tested both ways.

use crate::api::{ServerOrder, Stock, OK};
use crate::cli::Distortion;
use crate::plan::Attempt;
use crate::summary::{Check, Verdict};
use std::collections::{HashMap, HashSet};

/// An order the server confirmed to the harness (a 2xx answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmed {
    pub order: u64,
    pub user: String,
    /// The harness paid it and the payment was accepted.
    pub paid: bool,
}

/// What a rush observed: every attempt with its answer.
#[derive(Clone, Debug, Default)]
pub struct RushObservations {
    pub per_user_limit: u32,
    /// (attempt, count key of its answer, order number of a 2xx answer).
    pub answers: Vec<(Attempt, &'static str, Option<u64>)>,
    pub confirmed: Vec<Confirmed>,
}

/// What the server holds after the run.
#[derive(Clone, Debug, Default)]
pub struct ServerFacts {
    pub stock: Stock,
    pub orders: Vec<ServerOrder>,
}

/// A group as the harness drove it and as the server shows it.
#[derive(Clone, Debug)]
pub struct GroupOutcome {
    pub group_id: String,
    pub target: u32,
    /// Members whose payment the server accepted (the leader included).
    pub paid_members: u32,
    /// The answer to a join tried after the group filled, if one was tried.
    pub late_join: Option<&'static str>,
    /// `status` and `progress.current` of `GET /api/v1/groups/{id}`.
    pub status: String,
    pub current: u32,
}

/// The codes after which a grab is known to have been decided by the activity.
const DECIDED: [&str; 3] = [OK, "SOLD_OUT", "LIMIT_EXCEEDED"];
/// Statuses of orders that still hold stock.
const HOLDING: [&str; 2] = ["PENDING_PAY", "PAID"];

fn check(name: &str, passed: bool, detail: String) -> Check {
    Check {
        name: name.to_owned(),
        passed,
        detail,
    }
}

fn verdict(checks: Vec<Check>) -> Verdict {
    Verdict {
        passed: checks.iter().all(|check| check.passed),
        checks,
    }
}

/// Applies a distortion to what the verdict is shown.
pub fn distort(
    distortion: Option<Distortion>,
    confirmed: &mut Vec<Confirmed>,
    facts: &mut ServerFacts,
    limit: &mut u32,
) {
    match distortion {
        None => {}
        Some(Distortion::PhantomOrder) => confirmed.push(Confirmed {
            order: u64::MAX,
            user: "u0".to_owned(),
            paid: false,
        }),
        Some(Distortion::Oversell) => {
            let taken = facts.stock.sold + facts.stock.reserved;
            facts.stock.total = taken.saturating_sub(1);
        }
        Some(Distortion::OverLimit) => *limit = limit.saturating_sub(1),
    }
}

/// Sold and reserved never above the stock, and every unit accounted for.
pub fn stock_conserved(stock: &Stock) -> Check {
    let taken = stock.sold + stock.reserved;
    let passed = taken <= stock.total && taken + stock.available == stock.total;
    check(
        "stock conserved",
        passed,
        format!(
            "sold {} + reserved {} + available {} against total {}",
            stock.sold, stock.reserved, stock.available, stock.total
        ),
    )
}

/// No user holds more than the limit in live orders.
pub fn limit_respected(orders: &[ServerOrder], limit: u32) -> Check {
    let mut held: HashMap<&str, u64> = HashMap::new();
    for order in orders
        .iter()
        .filter(|o| HOLDING.contains(&o.status.as_str()))
    {
        *held.entry(order.user_id.as_str()).or_default() += order.quantity;
    }
    let over: Vec<_> = held
        .iter()
        .filter(|(_, q)| **q > u64::from(limit))
        .collect();
    let detail = match over.first() {
        Some((user, quantity)) => format!(
            "{} user(s) above the limit of {limit}, e.g. {user} holds {quantity}",
            over.len()
        ),
        None => format!("{} users hold orders, none above {limit}", held.len()),
    };
    check("no user above the limit", over.is_empty(), detail)
}

/// Every order confirmed to the harness is on the server, for the same user, still holding
/// its stock, and paid where the harness paid it.
pub fn confirmed_present(confirmed: &[Confirmed], orders: &[ServerOrder]) -> Check {
    let by_number: HashMap<u64, &ServerOrder> = orders
        .iter()
        .filter_map(|order| Some((crate::api::order_number(&order.order_id)?, order)))
        .collect();
    let missing: Vec<String> = confirmed
        .iter()
        .filter(|c| !order_matches(c, by_number.get(&c.order).copied()))
        .map(|c| format!("order {} of {}", c.order, c.user))
        .collect();
    let detail = match missing.first() {
        Some(first) => format!(
            "{} confirmed order(s) missing or wrong, e.g. {first}",
            missing.len()
        ),
        None => format!("all {} confirmed orders present", confirmed.len()),
    };
    check("every confirmed order present", missing.is_empty(), detail)
}

fn order_matches(confirmed: &Confirmed, order: Option<&ServerOrder>) -> bool {
    let Some(order) = order else { return false };
    let status_fits = if confirmed.paid {
        order.status == "PAID"
    } else {
        HOLDING.contains(&order.status.as_str())
    };
    order.user_id == confirmed.user && status_fits
}

/// Every repeat of a (user, requestId) was answered with the same order.
fn idempotent(answers: &[(Attempt, &'static str, Option<u64>)]) -> Check {
    let mut first: HashMap<Attempt, u64> = HashMap::new();
    let mut conflicts = 0usize;
    for (attempt, _, order) in answers {
        if let Some(order) = order {
            if *first.entry(*attempt).or_insert(*order) != *order {
                conflicts += 1;
            }
        }
    }
    let repeats = answers.iter().filter(|(_, _, o)| o.is_some()).count() - first.len();
    check(
        "repeated requestIds answered with the same order",
        conflicts == 0,
        format!("{repeats} repeats answered with an order, {conflicts} with a different one"),
    )
}

/// Answers whose outcome the harness cannot know (transport failures, unexpected codes):
/// the grab may or may not have happened. OVERLOADED and STORAGE_FULL are known: nothing
/// was decided.
fn unknown_answers(observed: &RushObservations) -> usize {
    observed
        .answers
        .iter()
        .filter(|(_, code, _)| {
            !DECIDED.contains(code) && !matches!(*code, "OVERLOADED" | "STORAGE_FULL")
        })
        .count()
}

/// Successes equal `min(stock, distinct demand)`: the sale neither oversold nor turned away
/// anyone it had stock for. Applies when every answer is known and no stock came back.
fn demand_met(observed: &RushObservations, facts: &ServerFacts, limit: u32) -> Check {
    const NAME: &str = "successes equal min(stock, distinct demand)";
    let unknown = unknown_answers(observed);
    let returned = facts
        .orders
        .iter()
        .filter(|o| !HOLDING.contains(&o.status.as_str()))
        .count();
    if unknown > 0 || returned > 0 {
        let detail =
            format!("not applicable: {unknown} answers unknown, {returned} orders gave stock back");
        return check(NAME, true, detail);
    }
    let mut decided: HashMap<u32, HashSet<u32>> = HashMap::new();
    let mut successes: HashSet<Attempt> = HashSet::new();
    for (attempt, code, _) in observed
        .answers
        .iter()
        .filter(|(_, c, _)| DECIDED.contains(c))
    {
        decided
            .entry(attempt.user)
            .or_default()
            .insert(attempt.request);
        if *code == OK {
            successes.insert(*attempt);
        }
    }
    let demand: u64 = decided
        .values()
        .map(|requests| (requests.len() as u64).min(u64::from(limit)))
        .sum();
    let expected = demand.min(facts.stock.total);
    let detail = format!(
        "{} successes; stock {}, distinct demand {demand}",
        successes.len(),
        facts.stock.total
    );
    check(NAME, successes.len() as u64 == expected, detail)
}

/// The server made no order the harness was not told of.
fn no_phantom_orders(observed: &RushObservations, facts: &ServerFacts) -> Check {
    const NAME: &str = "no order the harness was not told of";
    let unknown = unknown_answers(observed);
    if unknown > 0 {
        return check(
            NAME,
            true,
            format!("not applicable: {unknown} answers unknown"),
        );
    }
    let confirmed: HashSet<u64> = observed.confirmed.iter().map(|c| c.order).collect();
    check(
        NAME,
        facts.orders.len() == confirmed.len(),
        format!(
            "{} orders on the server, {} confirmed",
            facts.orders.len(),
            confirmed.len()
        ),
    )
}

/// Judges a flash rush (or the grabs of a mixed run).
pub fn judge_rush(
    mut observed: RushObservations,
    mut facts: ServerFacts,
    distortion: Option<Distortion>,
) -> Verdict {
    let mut limit = observed.per_user_limit;
    distort(distortion, &mut observed.confirmed, &mut facts, &mut limit);
    verdict(vec![
        stock_conserved(&facts.stock),
        demand_met(&observed, &facts, limit),
        limit_respected(&facts.orders, limit),
        confirmed_present(&observed.confirmed, &facts.orders),
        idempotent(&observed.answers),
        no_phantom_orders(&observed, &facts),
    ])
}

/// Judges a group-buy run.
pub fn judge_groups(
    mut confirmed: Vec<Confirmed>,
    groups: &[GroupOutcome],
    mut facts: ServerFacts,
    per_user_limit: u32,
    distortion: Option<Distortion>,
) -> Verdict {
    let mut limit = per_user_limit;
    distort(distortion, &mut confirmed, &mut facts, &mut limit);
    verdict(vec![
        stock_conserved(&facts.stock),
        limit_respected(&facts.orders, limit),
        confirmed_present(&confirmed, &facts.orders),
        groups_consistent(groups),
        late_joiners_refused(groups),
    ])
}

/// Each group counts exactly the members whose payment was accepted, never more than its
/// size, and succeeded exactly when full.
fn groups_consistent(groups: &[GroupOutcome]) -> Check {
    let wrong: Vec<&GroupOutcome> = groups
        .iter()
        .filter(|g| {
            let full = g.paid_members == g.target;
            g.current != g.paid_members || g.current > g.target || full != (g.status == "SUCCESS")
        })
        .collect();
    let detail = match wrong.first() {
        Some(g) => format!(
            "{} group(s) wrong, e.g. {}: {} {}/{} with {} paid",
            wrong.len(),
            g.group_id,
            g.status,
            g.current,
            g.target,
            g.paid_members
        ),
        None => {
            let full = groups.iter().filter(|g| g.status == "SUCCESS").count();
            format!(
                "{} groups, {full} full and SUCCESS, the rest short and open",
                groups.len()
            )
        }
    };
    check("groups count their paid members", wrong.is_empty(), detail)
}

fn late_joiners_refused(groups: &[GroupOutcome]) -> Check {
    let tried: Vec<&'static str> = groups.iter().filter_map(|g| g.late_join).collect();
    let admitted = tried
        .iter()
        .filter(|code| !matches!(**code, "GROUP_FULL" | "GROUP_CLOSED"))
        .count();
    check(
        "joins past a full group refused",
        admitted == 0,
        format!(
            "{} late joins tried, {admitted} not refused with GROUP_FULL",
            tried.len()
        ),
    )
}

#[cfg(test)]
mod tests;

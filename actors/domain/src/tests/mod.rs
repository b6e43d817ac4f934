//! Tests of the pure domain: unit tests by behaviour and property tests over random
//! command sequences. Everything is driven through `decide` + `apply`, as the actor does.

mod approval;
mod archive;
mod flash_sale;
mod gray;
mod group;
mod machines;
mod overflow;
mod properties;
mod sources;
mod versions;

use super::decide::{decide_create, Decision, Subject};
use super::state::{Group, Order, OrderDetail};
use super::*;

pub const ACTIVITY: ActivityId = ActivityId(7);
pub const OPERATOR: &str = "op";
pub const APPROVER: &str = "boss";
pub const CREATED_AT: i64 = 1_000;
pub const START: i64 = 100_000;
pub const END: i64 = START + 3_600_000;
pub const PRICE: u64 = 990;
pub const PAY_TIMEOUT_MS: i64 = 300_000;
pub const GROUP_TTL_MS: i64 = 1_800_000;

/// A valid configuration of `template`; group templates get `rules.groupSize = size`.
pub fn config(
    template: TemplateCode,
    stock: u64,
    per_user_limit: u32,
    size: u32,
) -> ActivityConfig {
    let rules = if template.is_group() {
        Rules {
            group_size: Some(size),
            group_ttl_seconds: Some((GROUP_TTL_MS / 1000) as u64),
            ..Rules::default()
        }
    } else {
        Rules::default()
    };
    let config = ActivityConfig {
        template,
        title: "test activity".to_string(),
        store_id: "store-1".to_string(),
        service_id: "service-1".to_string(),
        price_cents: PRICE,
        unit_name: template.unit_name().to_string(),
        units_per_order: 1,
        stock_total: stock,
        per_user_limit,
        start_at_ms: START,
        end_at_ms: END,
        pay_timeout_seconds: (PAY_TIMEOUT_MS / 1000) as u64,
        rules,
    };
    assert_eq!(config.validate(), vec![], "the test configuration is valid");
    config
}

/// Decides `command` at `now_ms` and applies its events, exactly as the actor does.
/// The returned decision keeps its events so callers can inspect or journal them.
pub fn run(
    state: &mut ActivityState,
    command: Command,
    now_ms: i64,
) -> Result<Decision, Rejection> {
    let decision = state.decide(&command, now_ms)?;
    for kind in &decision.events {
        state.apply(&Event {
            at_ms: now_ms,
            kind: kind.clone(),
        });
    }
    Ok(decision)
}

/// The field a validation refusal names; `None` for any other outcome.
pub fn refused_field(outcome: &Result<Decision, Rejection>) -> Option<&str> {
    match outcome {
        Err(Rejection::Validation { field, .. }) => Some(field),
        _ => None,
    }
}

/// Like `run`, for a command that must be accepted.
pub fn ok(state: &mut ActivityState, command: Command, now_ms: i64) -> Decision {
    let description = format!("{command:?}");
    run(state, command, now_ms)
        .unwrap_or_else(|rejection| panic!("{description} refused: {rejection:?}"))
}

/// A fresh DRAFT activity, checked by `decide_create` first.
pub fn draft(config: ActivityConfig) -> ActivityState {
    decide_create(config.clone(), OPERATOR).expect("valid configuration");
    ActivityState::created(ACTIVITY, config, OPERATOR, CREATED_AT)
}

/// Submitted by the operator and approved by the approver, not published.
pub fn approved(config: ActivityConfig) -> ActivityState {
    let mut state = draft(config);
    ok(&mut state, submit(OPERATOR), CREATED_AT);
    ok(&mut state, approve(APPROVER, ""), CREATED_AT);
    state
}

/// Approved and published at `START`: online.
pub fn online(config: ActivityConfig) -> ActivityState {
    let mut state = approved(config);
    ok(&mut state, publish(OPERATOR), START);
    assert_eq!(state.publication.phase, Phase::Online);
    state
}

/// A flash sale, published and online at `START`.
pub fn flash_sale(stock: u64, per_user_limit: u32) -> ActivityState {
    online(config(TemplateCode::FlashSale, stock, per_user_limit, 0))
}

/// A GROUP_BUY of groups of `size`, stock 100, one unit per user, published and online.
pub fn group_buy(size: u32) -> ActivityState {
    online(config(TemplateCode::GroupBuy, 100, 1, size))
}

/// A COURSE_GROUP of classes of `size`, stock 100, one unit per user, online.
pub fn course_group(size: u32) -> ActivityState {
    online(config(TemplateCode::CourseGroup, 100, 1, size))
}

// Command builders.

pub fn submit(by: &str) -> Command {
    submit_through(by, ApprovalFlow::default())
}
pub fn submit_through(by: &str, flow: ApprovalFlow) -> Command {
    Command::Submit {
        by: by.to_string(),
        flow,
    }
}
pub fn approve(by: &str, remark: &str) -> Command {
    Command::Approve {
        by: by.to_string(),
        remark: remark.to_string(),
    }
}
pub fn reject(by: &str, remark: &str) -> Command {
    Command::Reject {
        by: by.to_string(),
        remark: remark.to_string(),
    }
}
pub fn withdraw(by: &str) -> Command {
    Command::Withdraw { by: by.to_string() }
}
pub fn publish(by: &str) -> Command {
    Command::Publish { by: by.to_string() }
}
pub fn unpublish(by: &str) -> Command {
    Command::Unpublish { by: by.to_string() }
}
pub fn update(config: ActivityConfig) -> Command {
    Command::Update {
        config,
        by: OPERATOR.to_string(),
    }
}
pub fn grab(user: &str, request: &str, quantity: u32) -> Command {
    Command::Grab {
        user: user_id(user),
        request: request_id(request),
        quantity,
        source: Source::default(),
    }
}
pub fn start_group(user: &str, request: &str) -> Command {
    Command::StartGroup {
        user: user_id(user),
        request: request_id(request),
        source: Source::default(),
    }
}
pub fn join(group: u64, user: &str, request: &str) -> Command {
    Command::JoinGroup {
        group,
        user: user_id(user),
        request: request_id(request),
        source: Source::default(),
    }
}
pub fn mock_pay(order: u64, user: &str) -> Command {
    Command::Pay {
        order,
        payment: Payment::Mock {
            user: user_id(user),
        },
    }
}
pub fn notify(order: u64, trade_number: &str, amount_cents: u64) -> Command {
    Command::Pay {
        order,
        payment: Payment::Notify {
            trade_number: TradeNumber::parse(trade_number).expect("a valid trade number"),
            amount_cents,
        },
    }
}
pub fn cancel(order: u64, user: &str) -> Command {
    Command::Cancel {
        order,
        user: user_id(user),
    }
}
/// A test's user id (valid by construction of the test).
pub fn user_id(user: &str) -> UserId {
    UserId::parse(user).expect("a valid user id")
}
/// A test's request id.
pub fn request_id(request: &str) -> RequestId {
    RequestId::parse(request).expect("a valid request id")
}
pub fn expire_order(order: u64) -> Command {
    Command::ExpireOrder { order }
}
pub fn expire_group(group: u64) -> Command {
    Command::ExpireGroup { group }
}
pub fn complete_refund(order: u64) -> Command {
    Command::CompleteRefund { order }
}

// Reading the state and decisions.

pub fn order(state: &ActivityState, number: u64) -> &Order {
    state
        .order(number)
        .unwrap_or_else(|| panic!("order {number} exists"))
}

/// The detail of a live order.
pub fn detail(state: &ActivityState, number: u64) -> &OrderDetail {
    order(state, number)
        .detail
        .as_deref()
        .unwrap_or_else(|| panic!("order {number} is live"))
}

/// The pay deadline of a live order.
pub fn expires_at(state: &ActivityState, number: u64) -> i64 {
    detail(state, number).expires_at_ms
}

pub fn group(state: &ActivityState, number: u64) -> &Group {
    state
        .group(number)
        .unwrap_or_else(|| panic!("group {number} exists"))
}

/// The order a decision is about.
pub fn order_of(decision: &Decision) -> u64 {
    match decision.subject {
        Subject::Order(order) | Subject::Group { order, .. } => order,
        Subject::Activity => panic!("the decision is about the activity, not an order"),
    }
}

/// The group a decision is about.
pub fn group_of(decision: &Decision) -> u64 {
    match decision.subject {
        Subject::Group { group, .. } => group,
        other => panic!("the decision is about {other:?}, not a group"),
    }
}

/// The platform names of a decision's events, in order.
pub fn types(decision: &Decision) -> Vec<&'static str> {
    decision.events.iter().map(EventKind::type_name).collect()
}

/// Stock as (available, reserved, sold).
pub fn units(state: &ActivityState) -> (u64, u64, u64) {
    (
        state.stock.available,
        state.stock.reserved,
        state.stock.sold,
    )
}

pub fn units_held(state: &ActivityState, user: &str) -> u32 {
    state
        .users
        .get(user)
        .map_or(0, |user_state| user_state.units_held)
}

/// Rebuilds a state from its journal: a fresh `created` state with every recorded event
/// after ACTIVITY_CREATED applied in order, which is what recovery does.
pub fn replay(config: ActivityConfig, journal: &[Event]) -> ActivityState {
    let mut state = ActivityState::created(ACTIVITY, config, OPERATOR, CREATED_AT);
    for event in journal {
        if !matches!(event.kind, EventKind::ActivityCreated { .. }) {
            state.apply(event);
        }
    }
    state
}

/// A state with its journal: every accepted command's events are recorded.
pub struct Journaled {
    pub state: ActivityState,
    pub journal: Vec<Event>,
    pub initial: ActivityConfig,
}

impl Journaled {
    pub fn new(config: ActivityConfig) -> Journaled {
        let created = decide_create(config.clone(), OPERATOR).expect("valid configuration");
        let journal = vec![Event {
            at_ms: CREATED_AT,
            kind: created,
        }];
        let state = ActivityState::created(ACTIVITY, config.clone(), OPERATOR, CREATED_AT);
        Journaled {
            state,
            journal,
            initial: config,
        }
    }

    pub fn run(&mut self, command: Command, now_ms: i64) -> Result<Decision, Rejection> {
        let decision = run(&mut self.state, command, now_ms)?;
        self.journal
            .extend(decision.events.iter().map(|kind| Event {
                at_ms: now_ms,
                kind: kind.clone(),
            }));
        Ok(decision)
    }

    pub fn ok(&mut self, command: Command, now_ms: i64) -> Decision {
        let description = format!("{command:?}");
        self.run(command, now_ms)
            .unwrap_or_else(|rejection| panic!("{description} refused: {rejection:?}"))
    }

    pub fn recovered(&self) -> ActivityState {
        replay(self.initial.clone(), &self.journal)
    }
}

//! Property tests: random command sequences against both kinds of play, with the
//! invariants (README, "Invariants") checked after every command, and recovery by replay. Archiving
//! is one of the steps; a shadow state that never archives runs the same commands, and
//! every decision must be the same in both.

use super::*;
use crate::archive::CandidateQuery;
use crate::state::{Order, OrderCounts};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

const USERS: usize = 8;
const REQUESTS: usize = 5;
const TRADES: usize = 6;

/// An order or group number picked when the step runs, from what exists then: mostly one
/// the step is likely to act on (`preferred`), sometimes any, sometimes an unknown one
/// (0 or one past the last).
#[derive(Clone, Copy, Debug)]
struct Pick {
    index: u16,
    mode: u8,
}

impl Pick {
    fn resolve(self, count: usize, preferred: &[u64]) -> u64 {
        let index = usize::from(self.index);
        match self.mode {
            0 => [0, count as u64 + 1][index % 2],
            1..=3 if count > 0 => 1 + (index % count) as u64,
            _ if !preferred.is_empty() => preferred[index % preferred.len()],
            _ => 1 + (index % (count + 1)) as u64,
        }
    }
}

#[derive(Clone, Debug)]
enum Step {
    Advance(i64),
    Grab {
        user: usize,
        request: usize,
        quantity: u32,
    },
    Start {
        user: usize,
        request: usize,
    },
    Join {
        group: Pick,
        user: usize,
        request: usize,
    },
    /// `user: None` is the order's own user.
    MockPay {
        order: Pick,
        user: Option<usize>,
    },
    Notify {
        order: Pick,
        trade: usize,
        right_amount: bool,
    },
    Cancel {
        order: Pick,
        user: Option<usize>,
    },
    ExpireOrder {
        order: Pick,
    },
    ExpireGroup {
        group: Pick,
    },
    /// The timeout supervisor: every due order and group gets its nudge.
    ExpireDue,
    CompleteRefund {
        order: Pick,
    },
    Open,
    Close,
    /// Unpublish and publish again.
    Republish,
    /// Edit the stock, then submit, approve and publish again.
    EditStock {
        total: u64,
    },
    /// Roll back `back` versions from the latest (0: the latest itself), then submit,
    /// approve and publish again.
    Rollback {
        back: u64,
    },
    /// The archiver: every order terminal and unchanged for `age_ms` is archived.
    Archive {
        age_ms: i64,
    },
}

fn pick() -> impl Strategy<Value = Pick> {
    (any::<u16>(), 0u8..10).prop_map(|(index, mode)| Pick { index, mode })
}

fn someone() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![4 => Just(None), 1 => (0..USERS).prop_map(Some)]
}

/// One step; a group play gets mostly group commands, a flash sale mostly grabs, and
/// each still gets a few of the other kind.
fn step(group_play: bool) -> impl Strategy<Value = Step> {
    let (grabs, starts, joins) = if group_play { (1, 4, 8) } else { (8, 1, 1) };
    let advance = prop_oneof![
        4 => 0i64..20_000,
        3 => 100_000i64..400_000,
        2 => 1_000_000i64..2_000_000,
    ];
    prop_oneof![
        5 => advance.prop_map(Step::Advance),
        grabs => (0..USERS, 0..REQUESTS, 0u32..4).prop_map(|(user, request, quantity)| Step::Grab { user, request, quantity }),
        starts => (0..USERS, 0..REQUESTS).prop_map(|(user, request)| Step::Start { user, request }),
        joins => (pick(), 0..USERS, 0..REQUESTS).prop_map(|(group, user, request)| Step::Join { group, user, request }),
        5 => (pick(), someone()).prop_map(|(order, user)| Step::MockPay { order, user }),
        4 => (pick(), 0..TRADES, prop::bool::weighted(0.8))
            .prop_map(|(order, trade, right_amount)| Step::Notify { order, trade, right_amount }),
        3 => (pick(), someone()).prop_map(|(order, user)| Step::Cancel { order, user }),
        2 => pick().prop_map(|order| Step::ExpireOrder { order }),
        2 => pick().prop_map(|group| Step::ExpireGroup { group }),
        2 => Just(Step::ExpireDue),
        2 => pick().prop_map(|order| Step::CompleteRefund { order }),
        1 => Just(Step::Open),
        1 => Just(Step::Close),
        1 => Just(Step::Republish),
        1 => (1u64..=25).prop_map(|total| Step::EditStock { total }),
        1 => (0u64..4).prop_map(|back| Step::Rollback { back }),
        3 => prop_oneof![Just(0i64), Just(100_000), Just(1_000_000)]
            .prop_map(|age_ms| Step::Archive { age_ms }),
    ]
}

fn flash_config_strategy() -> impl Strategy<Value = ActivityConfig> {
    (1u64..=20, 1u32..=3)
        .prop_map(|(stock, limit)| config(TemplateCode::FlashSale, stock, limit, 0))
}

fn group_config_strategy() -> impl Strategy<Value = ActivityConfig> {
    let template =
        prop_oneof![3 => Just(TemplateCode::GroupBuy), 1 => Just(TemplateCode::CourseGroup)];
    (template, 1u64..=20, 1u32..=3, 2u32..=4)
        .prop_map(|(template, stock, limit, size)| config(template, stock, limit, size))
}

fn user_name(index: usize) -> String {
    format!("u{index}")
}

fn request_name(index: usize) -> String {
    format!("r{index}")
}

fn trade_name(index: usize) -> String {
    format!("t{index}")
}

/// One random run: the journaled state, the clock, and what the checks remember.
struct Harness {
    run: Journaled,
    now: i64,
    /// (user, request) -> the order its first accepted request created.
    requests: HashMap<(String, String), u64>,
    /// Orders that went to REFUND_PENDING or REFUNDED at some point.
    refunding: HashSet<u64>,
    /// INSTANCE_REFUNDED events per order.
    refunds: HashMap<u64, u32>,
    /// The status of every order after the previous command.
    statuses: Vec<OrderStatus>,
    /// The same commands, never archived: it must decide exactly like `run`.
    shadow: ActivityState,
    /// What the archiver wrote to the cold store: order number -> the whole order.
    cold: HashMap<u64, Order>,
}

impl Harness {
    fn new(config: ActivityConfig) -> Harness {
        let mut run = Journaled::new(config);
        run.ok(submit(OPERATOR), CREATED_AT);
        run.ok(approve(APPROVER, ""), CREATED_AT);
        run.ok(publish(OPERATOR), START);
        let shadow = run.state.clone();
        let mut harness = Harness {
            run,
            now: START,
            requests: HashMap::new(),
            refunding: HashSet::new(),
            refunds: HashMap::new(),
            statuses: Vec::new(),
            shadow,
            cold: HashMap::new(),
        };
        harness.check_state();
        harness
    }

    fn state(&self) -> &ActivityState {
        &self.run.state
    }

    fn order_owner(&self, number: u64) -> String {
        self.state()
            .order(number)
            .map_or_else(|| user_name(0), |found| found.user.to_string())
    }

    fn step(&mut self, step: &Step) {
        let state = self.state();
        let (orders, groups) = (state.orders.len(), state.groups.len());
        let orders_in = |statuses: &[OrderStatus]| -> Vec<u64> {
            let numbers = 1..=orders as u64;
            numbers
                .filter(|number| statuses.contains(&order(state, *number).status))
                .collect()
        };
        let unpaid = orders_in(&[OrderStatus::PendingPay]);
        let payable = orders_in(&[
            OrderStatus::PendingPay,
            OrderStatus::Timeout,
            OrderStatus::Cancelled,
        ]);
        let refunding = orders_in(&[OrderStatus::RefundPending]);
        let open_groups: Vec<u64> = (1..=groups as u64)
            .filter(|number| group(state, *number).status.is_open())
            .collect();
        let active_groups: Vec<u64> = (1..=groups as u64)
            .filter(|number| group(state, *number).status == GroupStatus::Active)
            .collect();
        let command = match step {
            Step::Advance(milliseconds) => {
                self.now += milliseconds;
                return;
            }
            Step::ExpireDue => return self.expire_due(),
            Step::Republish => {
                self.exec(unpublish(OPERATOR))
                    .expect("unpublish is always accepted");
                let published = self
                    .exec(publish(OPERATOR))
                    .expect("an approved activity publishes");
                assert!(!published.replayed);
                return;
            }
            Step::EditStock { total } => return self.edit_stock(*total),
            Step::Rollback { back } => return self.rollback(*back),
            Step::Archive { age_ms } => return self.archive(*age_ms),
            Step::Grab {
                user,
                request,
                quantity,
            } => grab(&user_name(*user), &request_name(*request), *quantity),
            Step::Start { user, request } => {
                start_group(&user_name(*user), &request_name(*request))
            }
            Step::Join {
                group,
                user,
                request,
            } => join(
                group.resolve(groups, &active_groups),
                &user_name(*user),
                &request_name(*request),
            ),
            Step::MockPay { order, user } => {
                let number = order.resolve(orders, &unpaid);
                mock_pay(
                    number,
                    &user.map_or_else(|| self.order_owner(number), user_name),
                )
            }
            Step::Notify {
                order,
                trade,
                right_amount,
            } => {
                let number = order.resolve(orders, &payable);
                let amount = self
                    .state()
                    .order(number)
                    .map_or(PRICE, |found| found.amount_cents);
                let amount = if *right_amount { amount } else { amount + 1 };
                notify(number, &trade_name(*trade), amount)
            }
            Step::Cancel { order, user } => {
                let number = order.resolve(orders, &unpaid);
                cancel(
                    number,
                    &user.map_or_else(|| self.order_owner(number), user_name),
                )
            }
            Step::ExpireOrder { order } => expire_order(order.resolve(orders, &unpaid)),
            Step::ExpireGroup { group } => expire_group(group.resolve(groups, &open_groups)),
            Step::CompleteRefund { order } => complete_refund(order.resolve(orders, &refunding)),
            Step::Open => Command::Open,
            Step::Close => Command::Close,
        };
        // Refusals are checked inside `exec`; the sequence goes on either way.
        let _ = self.exec(command);
    }

    fn expire_due(&mut self) {
        let now = self.now;
        let due_orders: Vec<u64> = (1..=self.state().orders.len() as u64)
            .filter(|number| {
                order(self.state(), *number).status == OrderStatus::PendingPay
                    && expires_at(self.state(), *number) <= now
            })
            .collect();
        for number in due_orders {
            let decision = self
                .exec(expire_order(number))
                .expect("a due order expires");
            assert!(
                types(&decision).contains(&"INSTANCE_TIMEOUT")
                    || order(self.state(), number).status != OrderStatus::PendingPay
            );
            assert_ne!(order(self.state(), number).status, OrderStatus::PendingPay);
        }
        let due_groups: Vec<u64> = (1..=self.state().groups.len() as u64)
            .filter(|number| {
                group(self.state(), *number).status.is_open()
                    && group(self.state(), *number).expires_at_ms <= now
            })
            .collect();
        for number in due_groups {
            self.exec(expire_group(number))
                .expect("a due group expires");
            assert_eq!(group(self.state(), number).status, GroupStatus::Failed);
        }
    }

    /// What the archiver does: the candidates, "written to the cold store", then archived.
    fn archive(&mut self, age_ms: i64) {
        let cutoff_ms = self.now - age_ms;
        let scan = self.state().archive_candidates(CandidateQuery {
            cutoff_ms,
            start_index: 0,
            scan_max: usize::MAX,
            candidates_max: usize::MAX,
        });
        assert!(scan.pass_done, "an unbounded scan ends its pass");
        if scan.next_index < self.state().orders.len() {
            assert!(
                scan.first_kept_index.is_some(),
                "it stopped at a kept order"
            );
        }
        let numbers: Vec<u64> = scan.candidates.iter().map(|(number, _)| *number).collect();
        for (number, whole) in scan.candidates {
            assert_eq!(
                Some(&whole),
                self.shadow.order(number),
                "a candidate is whole"
            );
            self.cold.insert(number, whole);
        }
        let command = Command::ArchiveOrders {
            orders: numbers.clone(),
            cutoff_ms,
        };
        match self.exec(command) {
            Ok(decision) => {
                assert_eq!(
                    decision.events,
                    [EventKind::OrdersArchived { orders: numbers }]
                );
            }
            Err(rejection) => assert!(numbers.is_empty(), "{rejection:?}"),
        }
    }

    fn edit_stock(&mut self, total: u64) {
        let held = self.state().stock.reserved + self.state().stock.sold;
        let mut edited = (*self.state().config).clone();
        edited.stock_total = total;
        match self.exec(update(edited)) {
            Ok(decision) if decision.replayed => {
                assert_eq!(
                    total,
                    self.state().stock.total,
                    "only an unchanged edit is a no-op"
                );
                return;
            }
            Ok(_) => assert!(total >= held),
            Err(rejection) => {
                assert!(
                    total < held,
                    "an edit keeping every held unit is accepted: {rejection:?}"
                );
                assert!(matches!(
                    rejection,
                    Rejection::Validation { field: "stock", .. }
                ));
                return;
            }
        }
        assert_eq!(self.state().stock.total, total);
        assert_eq!(self.state().approval.status, ApprovalStatus::Draft);
        assert_eq!(self.state().publication.phase, Phase::Unpublished);
        self.republish_after_change();
    }

    fn republish_after_change(&mut self) {
        self.exec(submit(OPERATOR))
            .expect("a draft can be submitted");
        self.exec(approve(APPROVER, ""))
            .expect("a pending submission can be approved");
        self.exec(publish(OPERATOR))
            .expect("an approved activity publishes");
    }

    fn rollback(&mut self, back: u64) {
        let latest = self.state().versions.current_number();
        let target = latest.saturating_sub(back);
        let held = self.state().stock.reserved + self.state().stock.sold;
        let restored = self
            .state()
            .versions
            .get(target)
            .map(|found| found.config.clone());
        let command = Command::Rollback {
            to_version: target,
            by: OPERATOR.to_string(),
            remark: String::new(),
        };
        match (self.exec(command), restored) {
            (Ok(decision), _) if decision.replayed => return,
            (Ok(_), Some(restored)) => {
                assert_eq!(self.state().config, restored);
                assert_eq!(self.state().versions.current_number(), latest + 1);
            }
            (Ok(_), None) => panic!("rolled back to version {target}, which is not kept"),
            (Err(Rejection::NotFound("version")), restored) => {
                assert!(restored.is_none());
                return;
            }
            (Err(Rejection::InvalidState(_)), Some(restored)) => {
                assert_eq!(restored, self.state().config);
                return;
            }
            (Err(Rejection::Validation { field: "stock", .. }), Some(restored)) => {
                assert!(restored.stock_total < held);
                return;
            }
            (Err(rejection), _) => panic!("rollback to {target} refused: {rejection:?}"),
        }
        assert_eq!(self.state().approval.status, ApprovalStatus::Draft);
        assert_eq!(self.state().publication.phase, Phase::Unpublished);
        self.republish_after_change();
    }

    /// Runs one command at the current time with the per-command checks, then the
    /// state invariants.
    fn exec(&mut self, command: Command) -> Result<Decision, Rejection> {
        let before = self.state().clone();
        let now = self.now;
        let request_key = match &command {
            Command::Grab { user, request, .. }
            | Command::StartGroup { user, request, .. }
            | Command::JoinGroup { user, request, .. } => {
                Some((user.to_string(), request.to_string()))
            }
            _ => None,
        };
        let known = request_key
            .as_ref()
            .and_then(|key| self.requests.get(key).copied());
        let must_replay = known.is_some()
            && (before.config.template.is_group() || matches!(command, Command::Grab { .. }));
        let late_payment = match &command {
            Command::Pay {
                order,
                payment: Payment::Notify { .. },
            } => before.order(*order).is_some_and(|found| {
                matches!(found.status, OrderStatus::Timeout | OrderStatus::Cancelled)
            }),
            _ => false,
        };

        let result = self.run.run(command.clone(), now);
        if !matches!(command, Command::ArchiveOrders { .. }) {
            let shadow_result = super::run(&mut self.shadow, command.clone(), now);
            assert_eq!(
                result, shadow_result,
                "archiving changed the answer to {command:?}"
            );
        }

        match &result {
            Err(_) => assert_eq!(
                self.state(),
                &before,
                "a refused {command:?} changes nothing"
            ),
            Ok(decision) if decision.replayed => {
                assert!(decision.events.is_empty(), "a replay has no events");
                assert_eq!(self.state(), &before);
            }
            Ok(_) => {}
        }
        if let Some(key) = request_key {
            match (&result, known) {
                (Ok(decision), Some(first)) if decision.replayed => {
                    assert_eq!(order_of(decision), first, "{key:?} replays its first order");
                }
                (Ok(decision), Some(first)) => panic!(
                    "{key:?} created a second order {:?} after {first}",
                    decision.subject
                ),
                (Ok(decision), None) if decision.replayed => {
                    panic!("{key:?} replayed without an earlier order")
                }
                (Ok(decision), None) => {
                    let created = order_of(decision);
                    assert_eq!(created, self.state().orders.len() as u64);
                    let found = order(self.state(), created);
                    assert_eq!(
                        (&*found.user, found.request.as_str()),
                        (key.0.as_str(), key.1.as_str())
                    );
                    self.requests.insert(key, created);
                }
                (Err(rejection), _) => assert!(
                    !must_replay,
                    "{key:?} was refused with {rejection:?} instead of replaying"
                ),
            }
        }
        if late_payment {
            assert_eq!(
                self.state().stock,
                before.stock,
                "a late payment never takes stock"
            );
            assert_eq!(self.state().counts.gmv_cents, before.counts.gmv_cents);
            if result.is_ok() {
                let number = match command {
                    Command::Pay { order, .. } => order,
                    _ => unreachable!(),
                };
                assert_eq!(
                    order(self.state(), number).status,
                    OrderStatus::RefundPending
                );
            }
        }
        if let (
            Ok(decision),
            Command::Pay {
                order: number,
                payment: Payment::Notify { amount_cents, .. },
            },
        ) = (&result, &command)
        {
            if !decision.replayed {
                assert_eq!(
                    *amount_cents,
                    order(self.state(), *number).amount_cents,
                    "money taken is the order's amount"
                );
            }
        }
        if let Ok(decision) = &result {
            self.check_events(decision);
        }
        self.check_state();
        result
    }

    fn check_events(&mut self, decision: &Decision) {
        let state = &self.run.state;
        for kind in &decision.events {
            match kind {
                EventKind::InstanceTimeout { order: number } => {
                    assert!(
                        expires_at(state, *number) <= self.now,
                        "order {number} timed out early"
                    );
                }
                EventKind::InstanceFailed { order: number }
                | EventKind::InstanceFailedTo { order: number, .. } => {
                    let failed = order(state, *number)
                        .group
                        .map(|number| group(state, number));
                    assert!(failed.is_some_and(|failed| failed.status == GroupStatus::Failed));
                }
                EventKind::GroupFailed { group: number } => {
                    let failed = group(state, *number);
                    let leader_gone = failed.members.len() == 1
                        && !order(state, failed.members[0].order).status.holds_units();
                    assert!(
                        failed.expires_at_ms <= self.now || leader_gone,
                        "group {number} failed early"
                    );
                }
                EventKind::GroupMemberJoined { group: number, .. } => {
                    let joined = group(state, *number);
                    assert!(
                        joined.expires_at_ms > self.now,
                        "group {number} joined after it expired"
                    );
                }
                EventKind::InstanceRefunded { order } => {
                    let count = self.refunds.entry(*order).or_default();
                    *count += 1;
                    assert_eq!(*count, 1, "order {order} refunded more than once");
                }
                EventKind::InstancePaid { order, .. } if self.refunding.contains(order) => {
                    panic!("order {order} was paid again after its refund started");
                }
                EventKind::FlashSaleSoldOut => assert_eq!(self.state().stock.available, 0),
                _ => {}
            }
        }
        let created = decision
            .events
            .iter()
            .any(|kind| matches!(kind, EventKind::InstanceCreated { .. }));
        if created
            && self.state().config.template == TemplateCode::FlashSale
            && self.state().stock.available == 0
        {
            assert!(
                types(decision).contains(&"FLASH_SALE_SOLD_OUT"),
                "the last unit announces the sell-out"
            );
        }
    }

    fn check_state(&mut self) {
        let state = &self.run.state;
        let config = &state.config;
        let stock = state.stock;

        // Stock conservation, never oversold.
        assert_eq!(stock.total, config.stock_total);
        assert_eq!(
            stock.total,
            stock.available + stock.reserved + stock.sold,
            "{stock:?}"
        );
        assert!(stock.reserved + stock.sold <= stock.total);

        // Stock, counts and gmv recounted from the orders.
        let sum = |status: OrderStatus| -> u64 {
            state
                .orders
                .iter()
                .filter(|found| found.status == status)
                .map(|found| u64::from(found.quantity))
                .sum()
        };
        assert_eq!(stock.reserved, sum(OrderStatus::PendingPay));
        assert_eq!(stock.sold, sum(OrderStatus::Paid));
        for status in [
            OrderStatus::PendingPay,
            OrderStatus::Paid,
            OrderStatus::Cancelled,
            OrderStatus::Timeout,
            OrderStatus::RefundPending,
            OrderStatus::Refunded,
        ] {
            let recount = state
                .orders
                .iter()
                .filter(|found| found.status == status)
                .count() as u64;
            assert_eq!(
                state.counts.count(status),
                recount,
                "count of {}",
                status.name()
            );
        }
        let paid_amounts: u64 = state
            .orders
            .iter()
            .filter(|found| found.status == OrderStatus::Paid)
            .map(|found| found.amount_cents)
            .sum();
        assert_eq!(state.counts.gmv_cents, paid_amounts);

        // The per-user limit, across orders and groups.
        let mut held: HashMap<&str, u32> = HashMap::new();
        for found in state.orders.iter() {
            assert!(
                state.users.contains_key(&found.user),
                "every buyer has a user record"
            );
            if found.status.holds_units() {
                *held.entry(&*found.user).or_default() += found.quantity;
            }
        }
        for (user, user_state) in state.users.iter() {
            let recount = held.get(&**user).copied().unwrap_or(0);
            assert_eq!(user_state.units_held, recount, "{user}");
            assert!(
                recount <= config.per_user_limit,
                "{user} holds {recount} > {}",
                config.per_user_limit
            );
        }

        // Groups.
        for (index, instance) in state.groups.iter().enumerate() {
            let number = index as u64 + 1;
            assert!(
                instance.members.len() <= instance.target as usize,
                "group {number} over target"
            );
            let member_orders: Vec<&Order> = instance
                .members
                .iter()
                .map(|member| order(state, member.order))
                .collect();
            let mut users = HashSet::new();
            for (member, found) in instance.members.iter().zip(&member_orders) {
                assert_eq!(found.group, Some(number));
                assert_eq!(&*found.user, &*member.user);
                assert!(
                    users.insert(&*member.user),
                    "{} twice in group {number}",
                    member.user
                );
            }
            let paid_members = member_orders
                .iter()
                .filter(|found| found.status == OrderStatus::Paid)
                .count() as u32;
            match instance.status {
                GroupStatus::Pending => {
                    assert_eq!(instance.paid, 0);
                    assert_eq!(instance.members.len(), 1);
                    assert_eq!(&*instance.members[0].user, &*instance.leader);
                    assert_eq!(member_orders[0].status, OrderStatus::PendingPay);
                }
                GroupStatus::Active => {
                    assert_eq!(instance.paid, paid_members);
                    assert!(instance.paid < instance.target);
                    let leader = instance
                        .members
                        .iter()
                        .find(|member| *member.user == *instance.leader);
                    assert!(
                        leader.is_some_and(
                            |member| order(state, member.order).status == OrderStatus::Paid
                        ),
                        "an active group's leader paid"
                    );
                    assert!(
                        member_orders.iter().all(|found| found.status.holds_units()),
                        "members of an open group hold their seat"
                    );
                }
                GroupStatus::Success => {
                    assert_eq!(instance.paid, instance.target);
                    assert_eq!(
                        paid_members, instance.target,
                        "a successful group has exactly target paid members"
                    );
                }
                GroupStatus::Failed => {
                    assert_eq!(
                        member_orders
                            .iter()
                            .filter(|found| found.status.holds_units())
                            .count(),
                        0,
                        "a failed group holds nothing"
                    );
                }
            }
            for (order_index, found) in state.orders.iter().enumerate() {
                if found.group == Some(number) && found.status.holds_units() {
                    let seated = instance
                        .members
                        .iter()
                        .any(|member| member.order == order_index as u64 + 1);
                    assert!(
                        seated,
                        "order {} holds units of group {number} without a seat",
                        order_index + 1
                    );
                }
            }
        }
        if !config.template.is_group() {
            assert!(state.groups.is_empty());
            assert!(state.orders.iter().all(|found| found.group.is_none()));
        }

        // Status transitions and refunds.
        for (index, found) in state.orders.iter().enumerate() {
            let number = index as u64 + 1;
            let previous = self
                .statuses
                .get(index)
                .copied()
                .unwrap_or(OrderStatus::PendingPay);
            let allowed = previous == found.status
                || matches!(
                    (previous, found.status),
                    (
                        OrderStatus::PendingPay,
                        OrderStatus::Paid | OrderStatus::Cancelled | OrderStatus::Timeout
                    ) | (OrderStatus::Paid, OrderStatus::RefundPending)
                        | (
                            OrderStatus::Cancelled | OrderStatus::Timeout,
                            OrderStatus::RefundPending
                        )
                        | (OrderStatus::RefundPending, OrderStatus::Refunded)
                )
                // A notification after the deadline times the order out and marks the
                // money for refund in one command (TIMEOUT, then REFUND_PENDING).
                // So does one for an order whose group is past its expiry (the group
                // fails in the same command).
                || (previous == OrderStatus::PendingPay
                    && found.status == OrderStatus::RefundPending
                    && (found.expires_at_ms().is_some_and(|expires_at_ms| self.now >= expires_at_ms)
                        || found
                            .group
                            .is_some_and(|number| self.now >= group(state, number).expires_at_ms)));
            assert!(
                allowed,
                "order {number}: {} -> {}",
                previous.name(),
                found.status.name()
            );
            if previous == OrderStatus::Paid && found.status == OrderStatus::RefundPending {
                assert!(
                    found
                        .group
                        .is_some_and(|number| group(state, number).status == GroupStatus::Failed),
                    "only a failed group refunds a paid order"
                );
            }
            if matches!(
                found.status,
                OrderStatus::RefundPending | OrderStatus::Refunded
            ) {
                self.refunding.insert(number);
            }
            if self.refunding.contains(&number) {
                assert!(
                    matches!(
                        found.status,
                        OrderStatus::RefundPending | OrderStatus::Refunded
                    ),
                    "order {number} left refund"
                );
            }
            assert_eq!(
                self.refunds.get(&number).copied().unwrap_or(0),
                u32::from(found.status == OrderStatus::Refunded)
            );
            if let Some(trade) = &found.trade_number {
                assert_eq!(
                    state.trades.get(trade),
                    Some(&number),
                    "trade {trade} points at its order"
                );
            }
        }
        for (trade, number) in &state.trades {
            assert_eq!(order(state, *number).trade_number.as_ref(), Some(trade));
        }
        self.statuses = state.orders.iter().map(|found| found.status).collect();
        self.check_archive();

        // Versions: dense numbers, the latest one is the configuration.
        let latest = state.versions.current().expect("never empty");
        assert_eq!(latest.config, state.config);
        let kept: Vec<u64> = state
            .versions
            .newest_first()
            .map(|found| found.number)
            .collect();
        let dense: Vec<u64> = (0..kept.len() as u64)
            .map(|back| latest.number - back)
            .collect();
        assert_eq!(kept, dense);

        // Recovery: the journal replayed on a fresh state gives this state.
        assert_eq!(state.version, self.run.journal.len() as u64);
        assert_eq!(
            &self.run.recovered(),
            state,
            "replaying the journal gives the same state"
        );
    }
}

impl Harness {
    /// Archiving changed nothing but the detail of archived orders, and a stub with its
    /// cold record is exactly the order the shadow kept.
    fn check_archive(&self) {
        let (state, shadow) = (&self.run.state, &self.shadow);
        assert_eq!(state.stock, shadow.stock);
        assert_eq!(state.users, shadow.users);
        assert_eq!(state.trades, shadow.trades);
        assert_eq!(state.groups, shadow.groups);
        let archived = state.orders.iter().filter(|found| found.is_archived());
        assert_eq!(state.counts.archived, archived.count() as u64);
        assert_eq!(
            OrderCounts {
                archived: 0,
                ..state.counts
            },
            shadow.counts
        );
        assert_eq!(state.orders.len(), shadow.orders.len());
        for (index, (found, kept)) in state.orders.iter().zip(shadow.orders.iter()).enumerate() {
            let number = index as u64 + 1;
            if !found.is_archived() {
                assert_eq!(found, kept, "order {number}");
                continue;
            }
            assert_ne!(found.status, OrderStatus::PendingPay, "order {number}");
            let cold = self
                .cold
                .get(&number)
                .expect("an archived order was written");
            let merged = Order {
                detail: cold.detail.clone(),
                ..found.clone()
            };
            assert_eq!(&merged, kept, "stub + cold record of order {number}");
        }
    }
}

fn run_steps(config: ActivityConfig, steps: &[Step]) {
    let mut harness = Harness::new(config);
    for step in steps {
        harness.step(step);
    }
    let cloned = harness.state().clone();
    assert_eq!(&cloned, harness.state());
    assert_eq!(&snapshot_round_trip(harness.state()), harness.state());
}

/// What recovery makes of a snapshot: the image encoded, decoded as a state, indexes
/// rebuilt. The image must encode exactly like the state it was taken from. Encoded as
/// JSON, a pure codec; playcore-actors' `tests/domain_codec.rs` checks the storage codec.
fn snapshot_round_trip(state: &ActivityState) -> ActivityState {
    let bytes = serde_json::to_vec(&state.image()).expect("encode the image");
    let direct = serde_json::to_vec(state).expect("encode the state");
    assert_eq!(bytes, direct, "an image encodes like its state");
    let mut decoded: ActivityState = serde_json::from_slice(&bytes).expect("decode");
    decoded.rebuild_indexes();
    decoded
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn flash_sale_invariants_hold_after_every_command(
        config in flash_config_strategy(),
        steps in prop::collection::vec(step(false), 1..60),
    ) {
        run_steps(config, &steps);
    }

    #[test]
    fn group_invariants_hold_after_every_command(
        config in group_config_strategy(),
        steps in prop::collection::vec(step(true), 1..60),
    ) {
        run_steps(config, &steps);
    }
}

// Recovery, as a unit test over a known history.

#[test]
fn replaying_the_journal_on_a_fresh_state_recovers_an_equal_state() {
    let mut flash = Journaled::new(config(TemplateCode::FlashSale, 5, 2, 0));
    flash.ok(submit(OPERATOR), CREATED_AT);
    flash.ok(approve(APPROVER, "ok"), CREATED_AT + 1);
    flash.ok(publish(OPERATOR), START - 1);
    flash.ok(Command::Open, START);
    flash.ok(grab("u1", "r1", 2), START + 1);
    flash.ok(grab("u2", "r1", 2), START + 2);
    flash.ok(mock_pay(1, "u1"), START + 3);
    flash.ok(grab("u3", "r1", 1), START + 4);
    flash.ok(expire_order(2), START + 2 + PAY_TIMEOUT_MS);
    flash.ok(notify(2, "T9", 2 * PRICE), START + 3 + PAY_TIMEOUT_MS);
    flash.ok(complete_refund(2), START + 4 + PAY_TIMEOUT_MS);
    flash.ok(cancel(3, "u3"), START + 5 + PAY_TIMEOUT_MS);
    flash.ok(Command::Close, END);
    assert_eq!(flash.state.version, flash.journal.len() as u64);
    assert_eq!(flash.recovered(), flash.state);
    assert_eq!(flash.state.clone(), flash.state);
    assert_eq!(snapshot_round_trip(&flash.state), flash.state);

    let mut groups = Journaled::new(config(TemplateCode::CourseGroup, 10, 1, 2));
    groups.ok(submit(OPERATOR), CREATED_AT);
    groups.ok(approve(APPROVER, ""), CREATED_AT);
    groups.ok(publish(OPERATOR), START);
    groups.ok(start_group("a", "1"), START);
    groups.ok(mock_pay(1, "a"), START);
    groups.ok(join(1, "b", "1"), START);
    groups.ok(notify(2, "T1", PRICE), START);
    groups.ok(start_group("c", "1"), START);
    groups.ok(mock_pay(3, "c"), START);
    groups.ok(expire_group(2), START + GROUP_TTL_MS);
    groups.ok(complete_refund(3), START + GROUP_TTL_MS);
    let mut edited = config(TemplateCode::CourseGroup, 12, 1, 2);
    edited.title = "edited".to_string();
    groups.ok(update(edited), START + GROUP_TTL_MS);
    assert_eq!(groups.recovered(), groups.state);
    assert_eq!(snapshot_round_trip(&groups.state), groups.state);
    assert_eq!(groups.state.config.title, "edited");
    assert_eq!(groups.state.stock.total, 12);
}

#[test]
fn a_recovered_state_decides_like_the_original() {
    let mut original = Journaled::new(config(TemplateCode::FlashSale, 3, 3, 0));
    original.ok(submit(OPERATOR), CREATED_AT);
    original.ok(approve(APPROVER, ""), CREATED_AT);
    original.ok(publish(OPERATOR), START);
    original.ok(grab("u1", "r1", 2), START);
    let mut recovered = original.recovered();
    let again = run(&mut recovered, grab("u1", "r1", 2), START + 1).expect("replay after recovery");
    assert!(again.replayed);
    assert_eq!(again.subject, Subject::Order(1));
    let next = run(&mut recovered, grab("u2", "r1", 1), START + 1).expect("grab after recovery");
    assert_eq!(types(&next), ["INSTANCE_CREATED", "FLASH_SALE_SOLD_OUT"]);
    assert_eq!(
        run(&mut recovered, grab("u3", "r1", 1), START + 1),
        Err(Rejection::SoldOut)
    );
}

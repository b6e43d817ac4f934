//! The status machines' transition functions against their whole tables: every status
//! with every kind of event. The tables below are the specification, written out.

use super::*;
use crate::state::ActivityStatus;
use std::sync::Arc;

/// One event of each kind, named; INSTANCE_FAILED with a decided status once per status.
fn every_event_kind() -> Vec<(String, EventKind)> {
    let config = config(TemplateCode::FlashSale, 10, 1, 0);
    let by = || OPERATOR.to_string();
    let mut kinds = vec![
        EventKind::ActivityCreated {
            config: config.clone(),
            by: by(),
        },
        EventKind::ActivityUpdated {
            config: config.clone(),
            by: by(),
        },
        EventKind::ApprovalSubmitted { by: by() },
        EventKind::ApprovalApproved {
            by: by(),
            remark: String::new(),
        },
        EventKind::ApprovalRejected {
            by: by(),
            remark: String::new(),
        },
        EventKind::ApprovalWithdrawn { by: by() },
        EventKind::ActivityPublished { by: by() },
        EventKind::ActivityUnpublished { by: by() },
        EventKind::ActivityOnline,
        EventKind::ActivityEnded,
        EventKind::InstanceCreated {
            order: 1,
            user: "u".into(),
            request: "r".into(),
            source: Source::default(),
            quantity: 1,
            amount_cents: PRICE,
            expires_at_ms: END,
            group: None,
        },
        EventKind::InstancePaid {
            order: 1,
            trade_number: None,
        },
        EventKind::InstanceCancelled { order: 1 },
        EventKind::InstanceTimeout { order: 1 },
        EventKind::InstanceRefundPending {
            order: 1,
            trade_number: None,
        },
        EventKind::InstanceRefunded { order: 1 },
        EventKind::InstanceSuccess { order: 1 },
        EventKind::InstanceFailed { order: 1 },
        EventKind::FlashSaleSoldOut,
        EventKind::GroupCreated {
            group: 1,
            leader: "u".into(),
            target: 2,
            expires_at_ms: END,
        },
        EventKind::GroupMemberJoined {
            group: 1,
            user: "u".into(),
            order: 1,
        },
        EventKind::GroupMemberLeft { group: 1, order: 1 },
        EventKind::GroupActivated { group: 1 },
        EventKind::GroupFull { group: 1 },
        EventKind::CourseOpen { group: 1 },
        EventKind::GroupFailed { group: 1 },
        EventKind::GrayConfigured {
            config: Arc::default(),
            by: by(),
        },
        EventKind::ApprovalFlowSubmitted {
            by: by(),
            flow: ApprovalFlow::default(),
            config_hash: String::new(),
        },
        EventKind::ApprovalVoted {
            by: by(),
            level: 1,
            remark: String::new(),
        },
        EventKind::ApprovalLevelAdvanced { level: 2 },
        EventKind::ActivityRolledBack {
            to_version: 1,
            config: Arc::new(config),
            by: by(),
            remark: String::new(),
        },
        EventKind::OrdersArchived { orders: vec![1] },
    ];
    kinds.extend(OrderStatus::ALL.map(|status| EventKind::InstanceFailedTo { order: 1, status }));
    kinds.into_iter().map(|kind| (label(&kind), kind)).collect()
}

/// The variant's name, with the decided status for INSTANCE_FAILED's new layout. A match
/// with every variant: a new event kind does not compile until it is named here.
fn label(kind: &EventKind) -> String {
    let name = match kind {
        EventKind::ActivityCreated { .. } => "ActivityCreated",
        EventKind::ActivityUpdated { .. } => "ActivityUpdated",
        EventKind::ApprovalSubmitted { .. } => "ApprovalSubmitted",
        EventKind::ApprovalApproved { .. } => "ApprovalApproved",
        EventKind::ApprovalRejected { .. } => "ApprovalRejected",
        EventKind::ApprovalWithdrawn { .. } => "ApprovalWithdrawn",
        EventKind::ActivityPublished { .. } => "ActivityPublished",
        EventKind::ActivityUnpublished { .. } => "ActivityUnpublished",
        EventKind::ActivityOnline => "ActivityOnline",
        EventKind::ActivityEnded => "ActivityEnded",
        EventKind::InstanceCreated { .. } => "InstanceCreated",
        EventKind::InstancePaid { .. } => "InstancePaid",
        EventKind::InstanceCancelled { .. } => "InstanceCancelled",
        EventKind::InstanceTimeout { .. } => "InstanceTimeout",
        EventKind::InstanceRefundPending { .. } => "InstanceRefundPending",
        EventKind::InstanceRefunded { .. } => "InstanceRefunded",
        EventKind::InstanceSuccess { .. } => "InstanceSuccess",
        EventKind::InstanceFailed { .. } => "InstanceFailed",
        EventKind::FlashSaleSoldOut => "FlashSaleSoldOut",
        EventKind::GroupCreated { .. } => "GroupCreated",
        EventKind::GroupMemberJoined { .. } => "GroupMemberJoined",
        EventKind::GroupMemberLeft { .. } => "GroupMemberLeft",
        EventKind::GroupActivated { .. } => "GroupActivated",
        EventKind::GroupFull { .. } => "GroupFull",
        EventKind::CourseOpen { .. } => "CourseOpen",
        EventKind::GroupFailed { .. } => "GroupFailed",
        EventKind::GrayConfigured { .. } => "GrayConfigured",
        EventKind::ApprovalFlowSubmitted { .. } => "ApprovalFlowSubmitted",
        EventKind::ApprovalVoted { .. } => "ApprovalVoted",
        EventKind::ApprovalLevelAdvanced { .. } => "ApprovalLevelAdvanced",
        EventKind::ActivityRolledBack { .. } => "ActivityRolledBack",
        EventKind::OrdersArchived { .. } => "OrdersArchived",
        EventKind::InstanceFailedTo { status, .. } => {
            return format!("InstanceFailedTo {}", status.name())
        }
    };
    name.to_string()
}

/// Variants of `EventKind`: every one has a sample (the new INSTANCE_FAILED six).
const EVENT_VARIANTS: usize = 33;

#[test]
fn the_samples_cover_every_event_kind() {
    let kinds = every_event_kind();
    let variants: std::collections::HashSet<_> = kinds
        .iter()
        .map(|(_, kind)| std::mem::discriminant(kind))
        .collect();
    assert_eq!(variants.len(), EVENT_VARIANTS);
    assert_eq!(kinds.len(), EVENT_VARIANTS - 1 + OrderStatus::ALL.len());
}

/// Checks `after` for every status and event: `Some(to)` for the listed transitions,
/// `None` for the machine's other events, the status unchanged for every other event.
fn check_table<S: Copy + PartialEq + std::fmt::Debug>(
    statuses: &[S],
    after: impl Fn(S, &EventKind) -> Option<S>,
    machine_events: &[&str],
    transitions: &[(S, &str, S)],
) {
    for (_, name, _) in transitions {
        assert!(
            machine_events.contains(name),
            "{name} is one of the machine's events"
        );
    }
    let kinds = every_event_kind();
    for name in machine_events {
        assert!(
            kinds.iter().any(|(label, _)| label == name),
            "{name} has a sample"
        );
    }
    for &status in statuses {
        for (name, kind) in &kinds {
            let expected = if machine_events.contains(&name.as_str()) {
                transitions
                    .iter()
                    .find(|(from, event, _)| *from == status && event == name)
                    .map(|(_, _, to)| *to)
            } else {
                Some(status)
            };
            assert_eq!(after(status, kind), expected, "{status:?} after {name}");
        }
    }
}

#[test]
fn the_order_machine_is_exactly_its_table() {
    use OrderStatus::*;
    let events = [
        "InstanceCreated",
        "InstancePaid",
        "InstanceCancelled",
        "InstanceTimeout",
        "InstanceRefundPending",
        "InstanceRefunded",
        "InstanceSuccess",
        "InstanceFailed",
        "InstanceFailedTo PENDING_PAY",
        "InstanceFailedTo PAID",
        "InstanceFailedTo CANCELLED",
        "InstanceFailedTo TIMEOUT",
        "InstanceFailedTo REFUND_PENDING",
        "InstanceFailedTo REFUNDED",
        "OrdersArchived",
    ];
    let transitions = [
        (PendingPay, "InstancePaid", Paid),
        (PendingPay, "InstanceCancelled", Cancelled),
        (PendingPay, "InstanceTimeout", Timeout),
        (Cancelled, "InstanceRefundPending", RefundPending),
        (Timeout, "InstanceRefundPending", RefundPending),
        (RefundPending, "InstanceRefunded", Refunded),
        (Paid, "InstanceSuccess", Paid),
        (PendingPay, "InstanceFailed", Cancelled),
        (Paid, "InstanceFailed", RefundPending),
        (PendingPay, "InstanceFailedTo CANCELLED", Cancelled),
        (Paid, "InstanceFailedTo REFUND_PENDING", RefundPending),
        (Paid, "OrdersArchived", Paid),
        (Cancelled, "OrdersArchived", Cancelled),
        (Timeout, "OrdersArchived", Timeout),
        (Refunded, "OrdersArchived", Refunded),
    ];
    check_table(&OrderStatus::ALL, OrderStatus::after, &events, &transitions);
}

#[test]
fn the_group_machine_is_exactly_its_table() {
    use GroupStatus::*;
    let events = [
        "GroupCreated",
        "GroupMemberJoined",
        "GroupMemberLeft",
        "GroupActivated",
        "GroupFull",
        "CourseOpen",
        "GroupFailed",
    ];
    let transitions = [
        (Pending, "GroupMemberJoined", Pending),
        (Active, "GroupMemberJoined", Active),
        (Active, "GroupMemberLeft", Active),
        (Pending, "GroupActivated", Active),
        (Active, "GroupFull", Success),
        (Success, "CourseOpen", Success),
        (Pending, "GroupFailed", Failed),
        (Active, "GroupFailed", Failed),
    ];
    check_table(&GroupStatus::ALL, GroupStatus::after, &events, &transitions);
}

#[test]
fn the_phase_machine_is_exactly_its_table() {
    use Phase::*;
    let events = [
        "ActivityPublished",
        "ActivityUnpublished",
        "ActivityOnline",
        "ActivityEnded",
        "ActivityUpdated",
        "ActivityRolledBack",
    ];
    let mut transitions = vec![
        (Unpublished, "ActivityPublished", Scheduled),
        (Scheduled, "ActivityUnpublished", Unpublished),
        (Online, "ActivityUnpublished", Unpublished),
        (Ended, "ActivityUnpublished", Unpublished),
        (Scheduled, "ActivityOnline", Online),
        (Scheduled, "ActivityEnded", Ended),
        (Online, "ActivityEnded", Ended),
    ];
    for phase in Phase::ALL {
        transitions.push((phase, "ActivityUpdated", Unpublished));
        transitions.push((phase, "ActivityRolledBack", Unpublished));
    }
    check_table(&Phase::ALL, Phase::after, &events, &transitions);
}

#[test]
fn the_approval_machine_is_exactly_its_table() {
    use ApprovalStatus::*;
    let events = [
        "ApprovalSubmitted",
        "ApprovalFlowSubmitted",
        "ApprovalVoted",
        "ApprovalLevelAdvanced",
        "ApprovalApproved",
        "ApprovalRejected",
        "ApprovalWithdrawn",
        "ActivityUpdated",
        "ActivityRolledBack",
        "ActivityPublished",
    ];
    let transitions = [
        (Draft, "ApprovalSubmitted", Pending),
        (Rejected, "ApprovalSubmitted", Pending),
        (Draft, "ApprovalFlowSubmitted", Pending),
        (Rejected, "ApprovalFlowSubmitted", Pending),
        (Pending, "ApprovalVoted", Pending),
        (Pending, "ApprovalLevelAdvanced", Pending),
        (Pending, "ApprovalApproved", Approved),
        (Pending, "ApprovalRejected", Rejected),
        (Pending, "ApprovalWithdrawn", Draft),
        (Draft, "ActivityUpdated", Draft),
        (Approved, "ActivityUpdated", Draft),
        (Rejected, "ActivityUpdated", Rejected),
        (Draft, "ActivityRolledBack", Draft),
        (Approved, "ActivityRolledBack", Draft),
        (Rejected, "ActivityRolledBack", Rejected),
        (Approved, "ActivityPublished", Approved),
    ];
    check_table(
        &ApprovalStatus::ALL,
        ApprovalStatus::after,
        &events,
        &transitions,
    );
}

/// The wire names (JSON) come from serde and are the platform's names.
#[test]
fn wire_names_are_the_platforms() {
    fn wire<T: serde::Serialize>(value: T) -> String {
        serde_json::to_value(value)
            .expect("serializes")
            .as_str()
            .expect("a string")
            .to_string()
    }
    let orders = OrderStatus::ALL.map(wire);
    let expected = [
        "PENDING_PAY",
        "PAID",
        "CANCELLED",
        "TIMEOUT",
        "REFUND_PENDING",
        "REFUNDED",
    ];
    assert_eq!(orders, expected);
    assert_eq!(OrderStatus::ALL.map(OrderStatus::name), expected);
    let groups = ["PENDING", "ACTIVE", "SUCCESS", "FAILED"];
    assert_eq!(GroupStatus::ALL.map(wire), groups);
    assert_eq!(GroupStatus::ALL.map(GroupStatus::name), groups);
    let approvals = ["DRAFT", "PENDING", "APPROVED", "REJECTED"];
    assert_eq!(ApprovalStatus::ALL.map(wire), approvals);
    assert_eq!(ApprovalStatus::ALL.map(ApprovalStatus::name), approvals);
    let actions = ["SUBMIT", "APPROVE", "REJECT", "WITHDRAW"];
    assert_eq!(ApprovalAction::ALL.map(wire), actions);
    assert_eq!(ApprovalAction::ALL.map(ApprovalAction::name), actions);
    let activities = [
        "DRAFT",
        "PENDING",
        "APPROVED",
        "REJECTED",
        "NOT_STARTED",
        "ONLINE",
        "SOLD_OUT",
        "ENDED",
        "OFFLINE",
    ];
    assert_eq!(ActivityStatus::ALL.map(wire), activities);
    assert_eq!(ActivityStatus::ALL.map(ActivityStatus::name), activities);
    let versions = [
        VersionAction::Create,
        VersionAction::Update,
        VersionAction::Rollback,
    ];
    assert_eq!(versions.map(wire), ["CREATE", "UPDATE", "ROLLBACK"]);
    assert_eq!(
        versions.map(VersionAction::name),
        ["CREATE", "UPDATE", "ROLLBACK"]
    );
    for status in OrderStatus::ALL {
        assert_eq!(OrderStatus::parse(status.name()), Some(status));
    }
    for status in GroupStatus::ALL {
        assert_eq!(GroupStatus::parse(status.name()), Some(status));
    }
    for status in ApprovalStatus::ALL {
        assert_eq!(ApprovalStatus::parse(status.name()), Some(status));
    }
    assert_eq!(OrderStatus::parse("paid"), None);
}

/// An INSTANCE_FAILED that names a status its order cannot reach stops the replay.
#[test]
#[should_panic(expected = "cannot happen to a PENDING_PAY order")]
fn apply_asserts_the_decided_status_of_a_failed_member() {
    let mut state = group_buy(3);
    ok(&mut state, start_group("leader", "r1"), START);
    state.apply(&Event {
        at_ms: START,
        kind: EventKind::InstanceFailedTo {
            order: 1,
            status: OrderStatus::RefundPending,
        },
    });
}

/// A journal event that does not fit the order's status stops the replay.
#[test]
#[should_panic(expected = "INSTANCE_REFUNDED cannot happen to a PENDING_PAY order")]
fn apply_asserts_every_order_transition() {
    let mut state = flash_sale(10, 1);
    ok(&mut state, grab("u1", "r1", 1), START);
    state.apply(&Event {
        at_ms: START,
        kind: EventKind::InstanceRefunded { order: 1 },
    });
}

/// The previous layout of INSTANCE_FAILED replays exactly like the events that replace it.
#[test]
fn the_previous_instance_failed_replays_like_the_decided_one() {
    let mut journaled = Journaled::new(config(TemplateCode::GroupBuy, 100, 1, 3));
    journaled.ok(submit(OPERATOR), CREATED_AT);
    journaled.ok(approve(APPROVER, ""), CREATED_AT);
    journaled.ok(publish(OPERATOR), START);
    journaled.ok(start_group("leader", "r1"), START);
    journaled.ok(notify(1, "T1", PRICE), START);
    journaled.ok(join(1, "u1", "r1"), START);
    journaled.ok(expire_group(1), START + GROUP_TTL_MS);
    let previous: Vec<Event> = journaled
        .journal
        .iter()
        .map(|event| Event {
            at_ms: event.at_ms,
            kind: previous_layout(&event.kind),
        })
        .collect();
    assert_ne!(
        previous, journaled.journal,
        "the journal had decided statuses"
    );
    let replayed = replay(journaled.initial.clone(), &previous);
    assert_eq!(replayed, journaled.state);
    assert_eq!(order(&replayed, 1).status, OrderStatus::RefundPending);
    assert_eq!(order(&replayed, 2).status, OrderStatus::Cancelled);
}

/// An event as the previous build wrote it.
fn previous_layout(kind: &EventKind) -> EventKind {
    if let EventKind::InstanceFailedTo { order, .. } = kind {
        return EventKind::InstanceFailed { order: *order };
    }
    kind.clone()
}

//! The pure domain under the storage codec: what the journal and snapshots store of it.
//! The domain crate cannot depend on the codec, so these checks live here: a snapshot
//! image encodes exactly like its state and decodes back to it, and the layouts earlier
//! builds stored (event variants, approval actions as strings) still decode the same.

use playcore_actors::domain::chunked::Chunked;
use playcore_actors::domain::state::ApprovalRecord;
use playcore_actors::domain::{
    ActivityConfig, ActivityId, ActivityState, ApprovalAction, ApprovalFlow, Command, Event,
    EventKind, OrderStatus, Payment, RequestId, Rules, Source, TemplateCode, TradeNumber, UserId,
};
use playcore_snapshots::{decode, encode};
use serde::{Deserialize, Serialize};

const START: i64 = 100_000;
const PRICE: u64 = 990;

fn config(template: TemplateCode, group_size: Option<u32>) -> ActivityConfig {
    ActivityConfig {
        template,
        title: "codec".into(),
        store_id: "store-1".into(),
        service_id: "service-1".into(),
        price_cents: PRICE,
        unit_name: "件".into(),
        units_per_order: 1,
        stock_total: 100,
        per_user_limit: 2,
        start_at_ms: START,
        end_at_ms: START + 3_600_000,
        pay_timeout_seconds: 300,
        rules: Rules {
            group_size,
            ..Rules::default()
        },
    }
}

/// Decides and applies, as the actor does, and returns the events.
fn run(state: &mut ActivityState, command: Command, now_ms: i64) -> Vec<EventKind> {
    let decision = state.decide(&command, now_ms).expect("accepted");
    for kind in &decision.events {
        state.apply(&Event {
            at_ms: now_ms,
            kind: kind.clone(),
        });
    }
    decision.events
}

fn online(config: ActivityConfig) -> ActivityState {
    let mut state = ActivityState::created(ActivityId(9), config, "op", 1_000);
    let submit = Command::Submit {
        by: "op".into(),
        flow: ApprovalFlow::default(),
    };
    run(&mut state, submit, 1_000);
    let approve = Command::Approve {
        by: "boss".into(),
        remark: String::new(),
    };
    run(&mut state, approve, 1_000);
    run(&mut state, Command::Publish { by: "op".into() }, START);
    state
}

fn grab(user: &str) -> Command {
    Command::Grab {
        user: UserId::parse(user).expect("user id"),
        request: RequestId::parse("r1").expect("request id"),
        quantity: 1,
        source: Source::default(),
    }
}

fn notify(order: u64, trade_number: &str) -> Command {
    Command::Pay {
        order,
        payment: Payment::Notify {
            trade_number: TradeNumber::parse(trade_number).expect("trade number"),
            amount_cents: PRICE,
        },
    }
}

fn start_group(user: &str) -> Command {
    Command::StartGroup {
        user: UserId::parse(user).expect("user id"),
        request: RequestId::parse("r1").expect("request id"),
        source: Source::default(),
    }
}

fn join(group: u64, user: &str) -> Command {
    Command::JoinGroup {
        group,
        user: UserId::parse(user).expect("user id"),
        request: RequestId::parse("r1").expect("request id"),
        source: Source::default(),
    }
}

/// What recovery makes of a snapshot, with the storage codec.
fn snapshot_round_trip(state: &ActivityState) -> ActivityState {
    let bytes = encode(&state.image()).expect("encode the image");
    assert_eq!(bytes, encode(state).expect("encode the state"));
    let mut decoded: ActivityState = decode(&bytes).expect("decode");
    decoded.rebuild_indexes();
    decoded
}

#[test]
fn chunked_encodes_exactly_like_a_vec() {
    let vector: Vec<u32> = (0..2500).collect();
    let chunked: Chunked<u32> = vector.iter().copied().collect();
    let from_vec = encode(&vector).expect("encode vec");
    let from_chunked = encode(&chunked).expect("encode");
    assert_eq!(from_vec, from_chunked);
    let decoded: Chunked<u32> = decode(&from_chunked).expect("decode");
    assert_eq!(decoded, chunked);
}

#[test]
fn a_snapshot_of_orders_archives_gray_and_versions_decodes_to_the_same_state() {
    let mut state = online(config(TemplateCode::FlashSale, None));
    run(&mut state, grab("u1"), START + 1);
    run(&mut state, notify(1, "T1"), START + 2);
    run(&mut state, grab("u2"), START + 3);
    let archive = Command::ArchiveOrders {
        orders: vec![1],
        cutoff_ms: START + 10,
    };
    run(&mut state, archive, START + 20);
    let gray = Command::ConfigureGray {
        config: Default::default(),
        by: "op".into(),
    };
    run(&mut state, gray, START + 21);
    let decoded = snapshot_round_trip(&state);
    assert_eq!(decoded, state);
    assert_eq!(decoded.trades.get("T1"), Some(&1));
    assert_eq!(decoded.counts.archived, 1);
}

#[test]
fn a_snapshot_of_groups_and_approval_history_decodes_to_the_same_state() {
    let mut state = online(config(TemplateCode::GroupBuy, Some(2)));
    run(&mut state, start_group("leader"), START + 1);
    run(&mut state, notify(1, "T1"), START + 2);
    run(&mut state, join(1, "member"), START + 3);
    assert_eq!(snapshot_round_trip(&state), state);
}

/// ApprovalRecord as earlier builds stored it: the action a plain string.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct StoredRecord {
    action: String,
    by: String,
    remark: String,
    at_ms: i64,
    revision: u32,
    level: u32,
    config_hash: String,
}

#[test]
fn an_approval_action_is_stored_exactly_like_the_string_it_replaced() {
    for action in ApprovalAction::ALL {
        let record = ApprovalRecord {
            action,
            by: "boss".into(),
            remark: "fine".into(),
            at_ms: 7,
            revision: 2,
            level: 1,
            config_hash: "ab".into(),
        };
        let stored = StoredRecord {
            action: action.name().to_string(),
            by: "boss".into(),
            remark: "fine".into(),
            at_ms: 7,
            revision: 2,
            level: 1,
            config_hash: "ab".into(),
        };
        let bytes = encode(&stored).expect("encode");
        assert_eq!(encode(&record).expect("encode"), bytes);
        assert_eq!(decode::<ApprovalRecord>(&bytes).expect("decode"), record);
    }
    let unknown = StoredRecord {
        action: "MAYBE".into(),
        by: String::new(),
        remark: String::new(),
        at_ms: 0,
        revision: 0,
        level: 0,
        config_hash: String::new(),
    };
    let bytes = encode(&unknown).expect("encode");
    assert!(decode::<ApprovalRecord>(&bytes).is_err());
}

#[test]
fn instance_failed_keeps_its_journal_layout_and_the_new_variant_comes_last() {
    // Variant index 17 (INSTANCE_FAILED, the previous layout), then the order number.
    let old = encode(&EventKind::InstanceFailed { order: 5 }).expect("encode");
    assert_eq!(old, vec![17, 5]);
    assert_eq!(
        decode::<EventKind>(&old).expect("decode"),
        EventKind::InstanceFailed { order: 5 }
    );
    // The variant carrying the decided status is the 33rd (index 32), after every other.
    let new = EventKind::InstanceFailedTo {
        order: 5,
        status: OrderStatus::RefundPending,
    };
    let bytes = encode(&new).expect("encode");
    assert_eq!(bytes, vec![32, 5, 4]);
    assert_eq!(decode::<EventKind>(&bytes).expect("decode"), new);
}

/// The events of a group buy whose group fails with one paid and one unpaid member.
fn failed_group_journal() -> (ActivityState, Vec<Event>) {
    let mut state = online(config(TemplateCode::GroupBuy, Some(3)));
    let mut journal = Vec::new();
    let steps = [
        (start_group("leader"), START + 1),
        (notify(1, "T1"), START + 2),
        (join(1, "member"), START + 3),
        (Command::ExpireGroup { group: 1 }, START + 2 * 86_400_000),
    ];
    for (command, now_ms) in steps {
        let events = run(&mut state, command, now_ms);
        journal.extend(events.into_iter().map(|kind| Event {
            at_ms: now_ms,
            kind,
        }));
    }
    (state, journal)
}

#[test]
fn a_journal_of_the_previous_layout_replays_to_the_same_state() {
    let (state, journal) = failed_group_journal();
    let decided: Vec<&EventKind> = journal
        .iter()
        .map(|event| &event.kind)
        .filter(|kind| matches!(kind, EventKind::InstanceFailedTo { .. }))
        .collect();
    assert_eq!(
        decided,
        vec![
            &EventKind::InstanceFailedTo {
                order: 1,
                status: OrderStatus::RefundPending
            },
            &EventKind::InstanceFailedTo {
                order: 2,
                status: OrderStatus::Cancelled
            },
        ]
    );
    // The same journal as the previous build wrote it: INSTANCE_FAILED without a status,
    // through the storage codec.
    let previous: Vec<Event> = journal
        .iter()
        .map(|event| match &event.kind {
            EventKind::InstanceFailedTo { order, .. } => Event {
                at_ms: event.at_ms,
                kind: EventKind::InstanceFailed { order: *order },
            },
            kind => Event {
                at_ms: event.at_ms,
                kind: kind.clone(),
            },
        })
        .collect();
    let stored: Vec<Event> = decode(&encode(&previous).expect("encode")).expect("decode");
    let mut replayed = online(config(TemplateCode::GroupBuy, Some(3)));
    let prefix = replayed.version;
    for event in &stored {
        replayed.apply(event);
    }
    assert_eq!(replayed.version - prefix, stored.len() as u64);
    assert_eq!(replayed.stock, state.stock);
    assert_eq!(replayed.counts, state.counts);
    assert_eq!(replayed.orders, state.orders);
    assert_eq!(replayed.groups, state.groups);
}

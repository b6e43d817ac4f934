//! One fixture per stored layout: snapshot files of a flash sale and of a course group
//! (header and activity state), the snapshot reference in sled, a journal record with its
//! event frames, and an archive record of the cold store.

use crate::fixture;
use crate::samples::{self, at, AT_MS};
use playcore_actors::domain::state::Order;
use playcore_actors::domain::{ActivityId, ActivityState, Event, EventKind, Source};
use playcore_snapshots::codec::{
    begin_event_frame, finish_event_frame, read_archive_record, read_journal_record,
    read_snapshot_reference, read_snapshot_value, snapshot_header, snapshot_reference,
    write_archive_record, write_journal_record, EventFrames, JournalHeader,
};
use playcore_snapshots::{decode, encode, encode_into};
use std::sync::Arc;

const SNAPSHOT_SEQ: u64 = 41;

fn created(id: u64, config: playcore_actors::domain::ActivityConfig) -> ActivityState {
    ActivityState::created(ActivityId(id), config, "dev-operator", AT_MS)
}

fn apply_all(state: &mut ActivityState, kinds: Vec<EventKind>) {
    for (index, kind) in kinds.into_iter().enumerate() {
        state.apply(&at(1000 * (index as i64 + 1), kind));
    }
}

fn order_created(order: u64, user: &str, quantity: u32, group: Option<u64>) -> EventKind {
    EventKind::InstanceCreated {
        order,
        user: user.into(),
        request: format!("r-{order}"),
        source: Source {
            channel: Some("c-h5".into()),
            referrer: None,
        },
        quantity,
        amount_cents: 990 * u64::from(quantity),
        expires_at_ms: AT_MS + 300_000,
        group,
    }
}

fn paid(order: u64) -> EventKind {
    EventKind::InstancePaid {
        order,
        trade_number: Some(format!("T-{order}")),
    }
}

/// A flash sale edited, rolled back, approved through levels, online under a gray release,
/// with orders in every status and two archived.
fn flash_sale_state() -> ActivityState {
    let mut state = created(7, samples::sale_config());
    let mut edited = samples::sale_config();
    edited.stock_total = 120;
    let approver = || "dev-approver".to_string();
    apply_all(
        &mut state,
        vec![
            EventKind::ActivityUpdated {
                config: edited,
                by: "dev-operator".into(),
            },
            EventKind::ActivityRolledBack {
                to_version: 1,
                config: Arc::new(samples::sale_config()),
                by: "dev-admin".into(),
                remark: "回滚".into(),
            },
            EventKind::ApprovalFlowSubmitted {
                by: "dev-operator".into(),
                flow: samples::two_level_flow(),
                config_hash: samples::CONFIG_HASH.into(),
            },
            EventKind::ApprovalVoted {
                by: approver(),
                level: 1,
                remark: String::new(),
            },
            EventKind::ApprovalLevelAdvanced { level: 2 },
            EventKind::ApprovalApproved {
                by: approver(),
                remark: "同意".into(),
            },
            EventKind::ActivityPublished {
                by: "dev-operator".into(),
            },
            EventKind::ActivityOnline,
            EventKind::GrayConfigured {
                config: Arc::new(samples::gray_config()),
                by: "dev-operator".into(),
            },
        ],
    );
    apply_all(&mut state, flash_sale_orders());
    state
}

fn flash_sale_orders() -> Vec<EventKind> {
    vec![
        order_created(1, "u-1", 2, None),
        paid(1),
        order_created(2, "u-2", 2, None),
        EventKind::InstanceCancelled { order: 2 },
        order_created(3, "u-3", 2, None),
        EventKind::InstanceTimeout { order: 3 },
        order_created(4, "u-4", 2, None),
        EventKind::InstanceTimeout { order: 4 },
        EventKind::InstanceRefundPending {
            order: 4,
            trade_number: Some("T-4".into()),
        },
        EventKind::InstanceRefunded { order: 4 },
        order_created(5, "u-1", 2, None),
        EventKind::OrdersArchived { orders: vec![2, 3] },
    ]
}

/// A course group with one class opened, one failed (a paid member refunded, an unpaid
/// one gone), ended.
fn course_group_state() -> ActivityState {
    let mut state = created(8, samples::course_config());
    let mut kinds = vec![
        EventKind::ApprovalSubmitted {
            by: "dev-operator".into(),
        },
        EventKind::ApprovalApproved {
            by: "dev-approver".into(),
            remark: String::new(),
        },
        EventKind::ActivityPublished {
            by: "dev-operator".into(),
        },
        EventKind::ActivityOnline,
    ];
    kinds.extend(opened_class());
    kinds.extend(failed_class());
    kinds.push(EventKind::ActivityEnded);
    apply_all(&mut state, kinds);
    state
}

fn joined(group: u64, user: &str, order: u64) -> EventKind {
    EventKind::GroupMemberJoined {
        group,
        user: user.into(),
        order,
    }
}

fn group_created(group: u64, leader: &str) -> EventKind {
    EventKind::GroupCreated {
        group,
        leader: leader.into(),
        target: 2,
        expires_at_ms: AT_MS + 7_200_000,
    }
}

fn opened_class() -> Vec<EventKind> {
    vec![
        group_created(1, "u-1"),
        order_created(1, "u-1", 1, Some(1)),
        joined(1, "u-1", 1),
        paid(1),
        EventKind::GroupActivated { group: 1 },
        order_created(2, "u-2", 1, Some(1)),
        joined(1, "u-2", 2),
        paid(2),
        EventKind::GroupFull { group: 1 },
        EventKind::CourseOpen { group: 1 },
        EventKind::InstanceSuccess { order: 1 },
        EventKind::InstanceSuccess { order: 2 },
    ]
}

fn failed_class() -> Vec<EventKind> {
    vec![
        group_created(2, "u-3"),
        order_created(3, "u-3", 1, Some(2)),
        joined(2, "u-3", 3),
        paid(3),
        EventKind::GroupActivated { group: 2 },
        order_created(4, "u-4", 1, Some(2)),
        joined(2, "u-4", 4),
        EventKind::InstanceCancelled { order: 4 },
        EventKind::GroupMemberLeft { group: 2, order: 4 },
        EventKind::GroupFailed { group: 2 },
        EventKind::InstanceFailed { order: 3 },
        EventKind::InstanceRefunded { order: 3 },
    ]
}

/// The snapshot file of `state`: header, then the encoded state (as the snapshot thread
/// encodes it, from an image), then decoded back as recovery does.
fn check_snapshot_file(name: &str, expected: &ActivityState) {
    let payload = encode(&expected.image()).expect("encode image");
    assert_eq!(
        payload,
        encode(expected).expect("encode state"),
        "{name}: an image encodes like its state"
    );
    let mut encoded = snapshot_header(SNAPSHOT_SEQ, &payload).to_vec();
    encoded.extend_from_slice(&payload);
    let path = format!("snapshots/{name}");
    let stored = fixture::stored(&path, &encoded);
    let (seq, stored_payload) =
        read_snapshot_value(&stored).unwrap_or_else(|fault| panic!("{name} header: {fault}"));
    assert_eq!(seq, SNAPSHOT_SEQ);
    let mut decoded: ActivityState = decode(stored_payload)
        .unwrap_or_else(|error| panic!("{name} state no longer decodes: {error}"));
    decoded.rebuild_indexes();
    assert_eq!(&decoded, expected, "{name} decodes to another state");
    fixture::assert_same_bytes(&path, &stored, &encoded);
}

#[test]
fn flash_sale_snapshot_reads_back_and_encodes_to_the_same_bytes() {
    let state = flash_sale_state();
    assert_eq!(state.counts.archived, 2, "the sample holds archived stubs");
    check_snapshot_file("flash_sale", &state);
}

#[test]
fn course_group_snapshot_reads_back_and_encodes_to_the_same_bytes() {
    let state = course_group_state();
    assert_eq!(state.groups.len(), 2);
    check_snapshot_file("course_group", &state);
}

#[test]
fn snapshot_reference_reads_back_and_encodes_to_the_same_bytes() {
    let encoded = snapshot_reference(SNAPSHOT_SEQ);
    let stored = fixture::stored("snapshots/reference", &encoded);
    assert_eq!(read_snapshot_reference(&stored), Ok(SNAPSHOT_SEQ));
    fixture::assert_same_bytes("snapshots/reference", &stored, &encoded);
}

/// Two entries of two activities in one record, as the writer batches them.
fn journal_entries() -> Vec<(u64, Vec<Event>)> {
    let first = vec![
        at(0, order_created(1, "u-1", 2, None)),
        at(0, EventKind::FlashSaleSoldOut),
    ];
    let second = vec![at(5, paid(3))];
    vec![(7, first), (8, second)]
}

#[test]
fn journal_record_reads_back_and_encodes_to_the_same_bytes() {
    let entries = journal_entries();
    let mut body = Vec::new();
    for (stream, events) in &entries {
        let start = begin_event_frame(&mut body, *stream);
        encode_into(events, &mut body).expect("encode");
        finish_event_frame(&mut body, start).expect("small");
    }
    let mut encoded = Vec::new();
    write_journal_record(&mut encoded, 1000, entries.len() as u32, &body);
    let stored = fixture::stored("journal/record", &encoded);
    let (header, stored_body) =
        read_journal_record(&stored).unwrap_or_else(|fault| panic!("journal record: {fault}"));
    assert_eq!(
        header,
        JournalHeader {
            first_seq: 1000,
            count: 2
        }
    );
    let decoded: Vec<(u64, Vec<Event>)> = EventFrames::new(stored_body)
        .map(|frame| {
            let (stream, payload) = frame.expect("frame");
            (stream, decode(payload).expect("events decode"))
        })
        .collect();
    assert_eq!(decoded, entries);
    fixture::assert_same_bytes("journal/record", &stored, &encoded);
}

#[test]
fn archive_record_reads_back_and_encodes_to_the_same_bytes() {
    let state = flash_sale_state();
    let order: Order = state.order(1).expect("order 1").clone();
    assert!(order.detail.is_some(), "a whole order is archived");
    let payload = encode(&order).expect("encode order");
    let mut encoded = Vec::new();
    write_archive_record(&mut encoded, 7, 1, &payload);
    let stored = fixture::stored("cold/order", &encoded);
    let stored_payload =
        read_archive_record(&stored, 7, 1).unwrap_or_else(|fault| panic!("archive: {fault}"));
    let decoded: Order = decode(stored_payload).expect("order decodes");
    assert_eq!(decoded, order);
    fixture::assert_same_bytes("cold/order", &stored, &encoded);
}

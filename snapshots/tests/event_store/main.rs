//! The event store against a real sled database in a temporary directory: append and read,
//! paging, filters, both indexes, retention with holds, reopening, a damaged record.

use playcore_snapshots::event_store::{
    position, EventFilter, EventRecord, EventStore, EventStoreConfig, SCAN_RECORDS_MAX,
};
use playcore_snapshots::StoreError;
use std::path::Path;

const DAY_MS: i64 = 86_400_000;
const NOW_MS: i64 = 1_800_000_000_000;

fn roomy() -> EventStoreConfig {
    EventStoreConfig {
        retention_ms: 30 * DAY_MS as u64,
        bytes_max: 1 << 40,
    }
}

fn open(directory: &Path, config: EventStoreConfig) -> EventStore {
    EventStore::open(directory, config).expect("open the event store")
}

/// Event `index` of entry `seq`: activity `seq % 3 + 1`, store `s{activity % 2}`, kinds
/// alternating, one minute apart from `start_ms`.
fn record(seq: u64, index: u16, start_ms: i64) -> EventRecord {
    let activity = seq % 3 + 1;
    EventRecord {
        position: position(seq, index),
        at_ms: start_ms + seq as i64 * 60_000,
        activity,
        store: Some(format!("s{}", activity % 2)),
        kind: if seq.is_multiple_of(2) {
            "ORDER_PAID"
        } else {
            "ORDER_CREATED"
        }
        .into(),
        payload: format!("payload {seq}/{index}").into_bytes(),
    }
}

/// Entries 1..=entries with two events each, appended in batches of ten entries.
fn fill(store: &EventStore, entries: u64, start_ms: i64) -> Vec<EventRecord> {
    let mut all = Vec::new();
    for chunk in (1..=entries).collect::<Vec<_>>().chunks(10) {
        let records: Vec<EventRecord> = chunk
            .iter()
            .flat_map(|seq| [record(*seq, 0, start_ms), record(*seq, 1, start_ms)])
            .collect();
        store.append(&records, *chunk.last().unwrap()).unwrap();
        all.extend(records);
    }
    all
}

fn every_page(store: &EventStore, filter: &EventFilter, limit: usize) -> Vec<EventRecord> {
    let (mut events, mut after) = (Vec::new(), 0);
    loop {
        let page = store.page(filter, after, limit).unwrap();
        assert!(page.events.len() <= limit);
        after = page
            .events
            .last()
            .map_or(page.scanned_to, |last| last.position);
        events.extend(page.events);
        if page.reached_end {
            return events;
        }
    }
}

#[test]
fn appended_events_read_back_in_order_with_their_seq() {
    let directory = tempfile::tempdir().unwrap();
    let store = open(directory.path(), roomy());
    assert_eq!((store.indexed_seq(), store.last_position()), (0, 0));
    let mut watch = store.subscribe();
    let all = fill(&store, 25, NOW_MS);
    assert!(watch.has_changed().unwrap());
    assert_eq!(*watch.borrow_and_update(), position(25, 1));
    assert_eq!(store.indexed_seq(), 25);
    assert_eq!(store.last_position(), position(25, 1));
    assert_eq!(store.read_after(0, 1000).unwrap(), all);
    assert_eq!(store.read_after(position(3, 0), 2).unwrap(), all[5..7]);
    assert_eq!(store.get(position(7, 1)).unwrap().as_ref(), Some(&all[13]));
    assert_eq!(store.get(position(99, 0)).unwrap(), None);
    let stats = store.stats();
    assert_eq!(stats.events, 50);
    assert_eq!(stats.oldest_position, Some(position(1, 0)));
    assert!(stats.bytes > 50 * 20, "{stats:?}");
    // An empty append still raises the indexed seq (entries without events).
    store.append(&[], 30).unwrap();
    assert_eq!(store.indexed_seq(), 30);
}

#[test]
fn an_append_out_of_order_is_refused_and_changes_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let store = open(directory.path(), roomy());
    fill(&store, 3, NOW_MS);
    let stale = [record(2, 0, NOW_MS)];
    assert!(store.append(&stale, 9).is_err());
    assert_eq!(store.indexed_seq(), 3);
    assert_eq!(store.stats().events, 6);
}

#[test]
fn pages_follow_each_other_without_gap_or_repeat() {
    let directory = tempfile::tempdir().unwrap();
    let store = open(directory.path(), roomy());
    let all = fill(&store, 40, NOW_MS);
    for limit in [1, 7, 80, 1000] {
        assert_eq!(every_page(&store, &EventFilter::default(), limit), all);
    }
    let last = store
        .page(&EventFilter::default(), position(40, 0), 10)
        .unwrap();
    assert_eq!(last.events, all[79..]);
    assert!(last.reached_end);
    let full = store.page(&EventFilter::default(), 0, 5).unwrap();
    assert!(!full.reached_end);
    assert_eq!(full.scanned_to, all[4].position);
}

#[test]
fn filters_select_by_kind_activity_store_and_time_through_the_indexes() {
    let directory = tempfile::tempdir().unwrap();
    let store = open(directory.path(), roomy());
    let all = fill(&store, 60, NOW_MS);
    let expect = |keep: &dyn Fn(&EventRecord) -> bool| -> Vec<EventRecord> {
        all.iter().filter(|record| keep(record)).cloned().collect()
    };
    let by_activity = EventFilter {
        activity: Some(2),
        ..EventFilter::default()
    };
    let got = every_page(&store, &by_activity, 7);
    assert_eq!(got, expect(&|record| record.activity == 2));
    assert_eq!(got.len(), 40);
    let by_store = EventFilter {
        store: Some("s0".into()),
        ..EventFilter::default()
    };
    assert_eq!(
        every_page(&store, &by_store, 9),
        expect(&|record| record.store.as_deref() == Some("s0"))
    );
    let unknown_store = EventFilter {
        store: Some("s".into()),
        ..EventFilter::default()
    };
    assert!(every_page(&store, &unknown_store, 9).is_empty());
    let combined = EventFilter {
        kinds: vec!["ORDER_PAID".into()],
        activity: Some(3),
        store: Some("s1".into()),
        from_ms: Some(NOW_MS + 10 * 60_000),
        until_ms: Some(NOW_MS + 50 * 60_000),
    };
    let wanted = expect(&|record| {
        record.kind == "ORDER_PAID"
            && record.activity == 3
            && (NOW_MS + 10 * 60_000..NOW_MS + 50 * 60_000).contains(&record.at_ms)
    });
    assert!(!wanted.is_empty());
    assert_eq!(every_page(&store, &combined, 3), wanted);
    let two_kinds = EventFilter {
        kinds: vec!["ORDER_PAID".into(), "ORDER_CREATED".into()],
        ..EventFilter::default()
    };
    assert_eq!(every_page(&store, &two_kinds, 50), all);
}

#[test]
fn a_scan_is_bounded_and_a_short_page_continues_from_where_it_stopped() {
    let directory = tempfile::tempdir().unwrap();
    let store = open(directory.path(), roomy());
    let entries = (SCAN_RECORDS_MAX as u64) / 2 + 50;
    let all = fill(&store, entries, NOW_MS);
    let rare = EventFilter {
        kinds: vec!["NO_SUCH_KIND".into()],
        ..EventFilter::default()
    };
    let first = store.page(&rare, 0, 10).unwrap();
    assert!(first.events.is_empty());
    assert!(!first.reached_end);
    assert_eq!(first.scanned_to, all[SCAN_RECORDS_MAX - 1].position);
    let second = store.page(&rare, first.scanned_to, 10).unwrap();
    assert!(second.reached_end);
    assert_eq!(second.scanned_to, all.last().unwrap().position);
}

#[test]
fn retention_removes_old_events_but_never_past_a_hold() {
    let directory = tempfile::tempdir().unwrap();
    let store = open(directory.path(), roomy());
    // Entries 1..=20 are 40 days old (minute by minute), 21..=30 are recent.
    let old_start = NOW_MS - 40 * DAY_MS;
    let mut all = fill(&store, 20, old_start);
    let recent: Vec<EventRecord> = (21..=30)
        .map(|seq| record(seq, 0, NOW_MS - 31 * 60_000 * 2))
        .collect();
    store.append(&recent, 30).unwrap();
    all.extend(recent);
    store.hold("endpoint-a", position(5, 1));
    store.hold("endpoint-b", position(12, 0));
    assert_eq!(
        store.enforce_retention(NOW_MS).unwrap(),
        10,
        "up to the lowest hold"
    );
    assert_eq!(store.stats().oldest_position, Some(position(6, 0)));
    assert_eq!(store.enforce_retention(NOW_MS).unwrap(), 0);
    store.release("endpoint-a");
    assert_eq!(store.enforce_retention(NOW_MS).unwrap(), 13);
    store.release("endpoint-b");
    assert_eq!(store.enforce_retention(NOW_MS).unwrap(), 17);
    let kept = store.read_after(0, 1000).unwrap();
    assert_eq!(kept, all[40..]);
    let stats = store.stats();
    assert_eq!((stats.events, stats.removed_by_retention), (10, 40));
    let by_activity = EventFilter {
        activity: Some(1),
        ..EventFilter::default()
    };
    let expected: Vec<_> = all[40..]
        .iter()
        .filter(|r| r.activity == 1)
        .cloned()
        .collect();
    assert_eq!(every_page(&store, &by_activity, 100), expected);
}

#[test]
fn retention_keeps_the_store_under_its_byte_bound() {
    let directory = tempfile::tempdir().unwrap();
    let store = open(directory.path(), roomy());
    fill(&store, 100, NOW_MS);
    let full_bytes = store.stats().bytes;
    drop(store);
    let bound = EventStoreConfig {
        retention_ms: roomy().retention_ms,
        bytes_max: full_bytes / 4,
    };
    let store = open(directory.path(), bound);
    let removed = store.enforce_retention(NOW_MS).unwrap();
    let stats = store.stats();
    assert!(stats.bytes <= full_bytes / 4, "{stats:?}");
    assert!(removed >= 140 && stats.events == 200 - removed, "{stats:?}");
    assert_eq!(stats.last_position, position(100, 1), "the newest stay");
}

#[test]
fn a_reopened_store_has_its_events_counters_and_indexed_seq() {
    let directory = tempfile::tempdir().unwrap();
    let store = open(directory.path(), roomy());
    let all = fill(&store, 30, NOW_MS);
    store.flush().unwrap();
    assert_eq!(store.durable_indexed_seq(), 30);
    let stats = store.stats();
    drop(store);
    let store = open(directory.path(), roomy());
    assert_eq!(store.indexed_seq(), 30);
    assert_eq!(store.durable_indexed_seq(), 30);
    assert_eq!(store.stats(), stats);
    assert_eq!(store.read_after(0, 1000).unwrap(), all);
    let more = [record(31, 0, NOW_MS)];
    store.append(&more, 31).unwrap();
    assert_eq!(store.last_position(), position(31, 0));
}

#[test]
fn delivery_state_trees_live_beside_the_events_but_not_in_them() {
    let directory = tempfile::tempdir().unwrap();
    let store = open(directory.path(), roomy());
    let cursors = store.tree("delivery_cursors").unwrap();
    cursors.insert("endpoint", &7_u64.to_be_bytes()).unwrap();
    assert!(store.tree("events").is_err());
    store.flush().unwrap();
    drop((store, cursors));
    let store = open(directory.path(), roomy());
    let cursors = store.tree("delivery_cursors").unwrap();
    assert!(cursors.get("endpoint").unwrap().is_some());
}

#[test]
fn a_damaged_record_is_refused_never_served() {
    let directory = tempfile::tempdir().unwrap();
    let store = open(directory.path(), roomy());
    fill(&store, 5, NOW_MS);
    drop(store);
    damage(directory.path(), position(3, 1));
    let store = open(directory.path(), roomy());
    let refused = |outcome: Result<_, StoreError>| matches!(outcome, Err(StoreError::EventCorrupt { position: at, .. }) if at == position(3, 1));
    assert!(refused(store.get(position(3, 1)).map(drop)));
    assert!(refused(store.read_after(0, 100).map(drop)));
    assert!(refused(
        store.page(&EventFilter::default(), 0, 100).map(drop)
    ));
    let activity = EventFilter {
        activity: Some(1),
        ..EventFilter::default()
    };
    assert!(refused(store.page(&activity, 0, 100).map(drop)));
    // Reads that do not reach it still work.
    assert_eq!(store.read_after(position(3, 1), 100).unwrap().len(), 4);
    assert_eq!(
        store.get(position(3, 0)).unwrap().unwrap().position,
        position(3, 0)
    );
}

/// Flips a bit in the middle of the record at `at`, as a damaged disk would, through
/// sled directly with the store closed.
fn damage(directory: &Path, at: u64) {
    let db = reopen_sled(directory);
    let tree = db.open_tree("events").unwrap();
    let key = [&[b'E'][..], &at.to_be_bytes()].concat();
    let mut value = tree.get(&key).unwrap().unwrap().to_vec();
    let middle = value.len() / 2;
    value[middle] ^= 0x01;
    tree.insert(&key, value).unwrap();
    db.flush().unwrap();
}

/// sled's lock outlives a dropped database by a few milliseconds.
fn reopen_sled(directory: &Path) -> sled::Db {
    let config = sled::Config::new()
        .path(directory)
        .segment_size(8 * 1024 * 1024);
    let mut outcome = config.open();
    for _ in 0..400 {
        if outcome.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        outcome = config.open();
    }
    outcome.expect("sled opens")
}

//! The runtime end to end, in process: bounded mailboxes, snapshots with journal
//! truncation, recovery of the same state after a restart, and archived orders read back
//! from the cold store.

use crate::common::options;
use playcore_actors::activity_actor::now_ms;
use playcore_actors::domain::{
    ActivityId, CandidateQuery, Command, OrderId, RequestId, Stock, UserId,
};
use playcore_actors::views::OrderView;
use playcore_actors::{Answer, ExecuteError, Runtime, SubjectView};
use playcore_snapshots::{Durability, Store};
use std::sync::Arc;
use std::time::Duration;

fn grab(number: usize) -> Command {
    Command::Grab {
        user: UserId::parse(&format!("user-{number}")).expect("user id"),
        request: RequestId::parse("r").expect("request id"),
        quantity: 1,
        source: Default::default(),
    }
}

async fn stock_and_orders(runtime: &Runtime, id: ActivityId) -> (Stock, usize) {
    runtime
        .registry
        .read(id, |state| (state.stock, state.orders.len()))
        .await
        .expect("read")
}

fn open_store(path: &std::path::Path) -> Store {
    Store::open(path).expect("store")
}

/// Sends `count` grabs at once (users 0..count) and returns their answers in order.
async fn grab_all(
    runtime: &Runtime,
    id: ActivityId,
    count: usize,
) -> Vec<Result<Answer, ExecuteError>> {
    let grabs = (0..count).map(|number| {
        let registry = Arc::clone(&runtime.registry);
        async move { registry.execute(id, grab(number)).await }
    });
    futures_util::future::join_all(grabs).await
}

#[actix::test]
async fn a_full_mailbox_answers_overloaded_at_once_and_loses_nothing() {
    let directory = tempfile::tempdir().expect("directory");
    let runtime =
        Runtime::start(open_store(directory.path()), options(1, 1_000_000)).expect("runtime");
    let id = crate::common::open_sale(&runtime, 1000, 3600).await;
    let answers = grab_all(&runtime, id, 300).await;
    let accepted = answers.iter().filter(|answer| answer.is_ok()).count();
    let overloaded = answers
        .iter()
        .filter(|answer| matches!(answer, Err(ExecuteError::Overloaded)))
        .count();
    assert!(
        overloaded > 0,
        "a mailbox of one must overflow under 300 concurrent grabs"
    );
    assert_eq!(
        accepted + overloaded,
        300,
        "every answer is a success or OVERLOADED: {answers:?}"
    );
    let (stock, orders) = stock_and_orders(&runtime, id).await;
    assert_eq!(orders, accepted, "an overloaded grab created no order");
    assert_eq!(stock.reserved as usize, accepted);
    assert_eq!(stock.total, stock.available + stock.reserved + stock.sold);
    runtime.shutdown().await.expect("a clean shutdown");
}

/// A rush of callers that all wait on one batch: the group commit writes it as soon as
/// every reply is held, not after its (here 30 s) window, and the counts behind that rule
/// return to zero once the replies are out.
#[actix::test]
async fn a_batch_every_caller_waits_on_is_written_before_its_window_ends() {
    let directory = tempfile::tempdir().expect("directory");
    let mut rush_options = options(4096, 1_000_000);
    rush_options.journal.group_commit_window = Duration::from_secs(30);
    // Setting the sale up runs one command at a time: each waits 1/128 of the window.
    let runtime = Runtime::start(open_store(directory.path()), rush_options).expect("runtime");
    let id = crate::common::open_sale(&runtime, 1000, 3600).await;
    let started = std::time::Instant::now();
    let answers = grab_all(&runtime, id, 200).await;
    let waited = started.elapsed();
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    assert!(
        waited < Duration::from_secs(10),
        "200 grabs took {waited:?} with a 30 s window"
    );
    let stats = runtime.journal().stats();
    assert_eq!(stats.waiters_waiting, 0);
    assert_eq!(stats.waiters_expected, 0);
    runtime.shutdown().await.expect("a clean shutdown");
}

/// The time-based snapshot counts from the last snapshot, whatever took it: an activity
/// that just took one for its events is not re-encoded again because a clock ticked.
#[actix::test]
async fn the_snapshot_interval_counts_from_the_last_snapshot() {
    let directory = tempfile::tempdir().expect("directory");
    let mut timed_options = options(4096, 50);
    timed_options.actor.snapshot_interval = Duration::from_secs(2);
    let runtime = Runtime::start(open_store(directory.path()), timed_options).expect("runtime");
    let started = std::time::Instant::now();
    let id = crate::common::open_sale(&runtime, 1000, 3600).await;
    let snapshots = || runtime.journal().stats().snapshots_written;
    // 1.5 s in, 50 grabs take a snapshot for their events, and one more grab follows.
    tokio::time::sleep(Duration::from_millis(1500).saturating_sub(started.elapsed())).await;
    for number in 0..51 {
        runtime
            .registry
            .execute(id, grab(number))
            .await
            .expect("grab");
    }
    // Queued by the 50th grab; the snapshot thread stores it in the background.
    let queued = std::time::Instant::now();
    for _ in 0..200 {
        if snapshots() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after_events = snapshots();
    assert_eq!(after_events, 1, "the 50th entry takes a snapshot");
    // A clock started with the actor would tick at 2 s, about 0.5 s after that snapshot;
    // the interval ends 2 s after it. The marks count from the snapshot, not from the
    // start, so a slow machine moves both alike.
    tokio::time::sleep(Duration::from_millis(1200).saturating_sub(queued.elapsed())).await;
    assert_eq!(
        snapshots(),
        after_events,
        "no snapshot 1.2 s after the last one"
    );
    for _ in 0..300 {
        if snapshots() > after_events {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        snapshots(),
        after_events + 1,
        "the interval's snapshot came"
    );
    runtime.shutdown().await.expect("a clean shutdown");
}

#[actix::test]
async fn snapshots_truncate_the_journal_and_recovery_restores_the_same_state() {
    let directory = tempfile::tempdir().expect("directory");
    let runtime = Runtime::start(open_store(directory.path()), options(4096, 20)).expect("runtime");
    let id = crate::common::open_sale(&runtime, 10_000, 3600).await;
    for round in 0..10 {
        for number in 0..50 {
            runtime
                .registry
                .execute(id, grab(round * 50 + number))
                .await
                .expect("grab");
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    let truncated = runtime.journal().stats().records_truncated;
    assert!(
        truncated > 0,
        "500 entries with a snapshot every 20 must let the journal shrink"
    );
    let before = stock_and_orders(&runtime, id).await;
    runtime.close().expect("a clean close");
    drop(runtime);
    // Let the stopped runtime's tasks and arbiters release the store.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let reopened =
        Runtime::start(open_store(directory.path()), options(4096, 20)).expect("restart");
    assert!(reopened.recovery.snapshots_loaded >= 1);
    assert!(
        reopened.recovery.entries_replayed < 500,
        "replay starts after the snapshot"
    );
    assert_eq!(stock_and_orders(&reopened, id).await, before);
    let answer = reopened
        .registry
        .execute(id, grab(0))
        .await
        .expect("replayed grab");
    assert!(
        answer.replayed,
        "the same (user, requestId) is answered from the recovered state"
    );
    reopened.shutdown().await.expect("a clean shutdown");
}

#[actix::test]
async fn the_truncation_hold_keeps_the_entries_an_outside_consumer_still_needs() {
    let directory = tempfile::tempdir().expect("directory");
    let mut held = options(4096, 20);
    held.truncation_hold = Arc::new(std::sync::atomic::AtomicU64::new(1));
    let hold = Arc::clone(&held.truncation_hold);
    let runtime = Runtime::start(open_store(directory.path()), held).expect("runtime");
    let id = crate::common::open_sale(&runtime, 10_000, 3600).await;
    let first_entry_events = || {
        let store = &runtime.store;
        playcore_snapshots::read_events(store, 0, 1).expect("read the journal")
    };
    for round in 0..5 {
        for number in 0..50 {
            let user = round * 50 + number;
            runtime
                .registry
                .execute(id, grab(user))
                .await
                .expect("grab");
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!(runtime.journal().stats().records_truncated, 0, "held at 1");
    assert_eq!(first_entry_events()[0].seq, 1);
    hold.store(100, std::sync::atomic::Ordering::Release);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        runtime.journal().stats().records_truncated > 0,
        "raised to 100"
    );
    let first_seq = first_entry_events()[0].seq;
    assert!(
        first_seq > 1 && first_seq <= 100,
        "truncated, but nothing from the hold on: {first_seq}"
    );
    runtime.shutdown().await.expect("a clean shutdown");
}

#[actix::test]
async fn a_restart_without_snapshots_replays_the_journal_to_the_same_state() {
    let directory = tempfile::tempdir().expect("directory");
    let runtime =
        Runtime::start(open_store(directory.path()), options(4096, u64::MAX)).expect("runtime");
    let id = crate::common::open_sale(&runtime, 100, 3600).await;
    for number in 0..120 {
        let answer = runtime.registry.execute(id, grab(number)).await;
        assert!(
            number < 100 || matches!(answer, Err(ExecuteError::Rejected(_))),
            "never oversold"
        );
    }
    let before = stock_and_orders(&runtime, id).await;
    assert_eq!(before.0.available, 0);
    runtime.close().expect("a clean close");
    drop(runtime);
    // Let the stopped runtime's tasks and arbiters release the store.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let reopened =
        Runtime::start(open_store(directory.path()), options(4096, u64::MAX)).expect("restart");
    assert_eq!(reopened.recovery.snapshots_loaded, 0);
    assert_eq!(stock_and_orders(&reopened, id).await, before);
    reopened.close().expect("a clean close");
}

/// Read-your-writes: once a grab's answer is out, the published view already shows it,
/// also when the journal made the entry durable before the actor replied (relaxed mode:
/// at once).
#[actix::test]
async fn an_answer_is_never_ahead_of_the_published_view() {
    for durability in [
        Durability::Relaxed {
            flush_interval_ms: 10,
        },
        Durability::Fsync,
    ] {
        let directory = tempfile::tempdir().expect("directory");
        let mut settings = options(4096, u64::MAX);
        settings.journal.durability = durability;
        let runtime = Runtime::start(open_store(directory.path()), settings).expect("runtime");
        let id = crate::common::open_sale(&runtime, 100, 3600).await;
        for number in 0..50 {
            runtime
                .registry
                .execute(id, grab(number))
                .await
                .expect("grab");
            let view = runtime.registry.view(id).expect("a published view");
            assert_eq!(
                view.stock.reserved,
                number as u64 + 1,
                "{durability:?}: the view shows grab {number} once its answer is out"
            );
        }
        runtime.close().expect("a clean close");
    }
}

/// Archives the cancelled orders `numbers` of `id` the way the archiver does: whole orders
/// to the cold store first, then the command.
async fn archive(runtime: &Runtime, id: ActivityId, numbers: Vec<u64>) {
    let cutoff_ms = now_ms();
    let wanted = numbers.clone();
    let candidates = runtime
        .registry
        .read(id, move |state| {
            let scan = state.archive_candidates(CandidateQuery {
                cutoff_ms,
                start_index: 0,
                scan_max: usize::MAX,
                candidates_max: usize::MAX,
            });
            let chosen = scan.candidates.into_iter();
            chosen
                .filter(|(number, _)| wanted.contains(number))
                .collect::<Vec<_>>()
        })
        .await
        .expect("read");
    assert_eq!(candidates.len(), numbers.len(), "all are candidates");
    runtime
        .registry
        .cold()
        .write(id, &candidates)
        .expect("cold write");
    let command = Command::ArchiveOrders {
        orders: numbers,
        cutoff_ms,
    };
    runtime
        .registry
        .execute(id, command)
        .await
        .expect("archive");
}

fn cancel(number: u64) -> Command {
    Command::Cancel {
        order: number,
        user: UserId::parse(&format!("user-{}", number - 1)).expect("user id"),
    }
}

#[actix::test]
async fn an_archived_order_is_read_back_whole_and_a_damaged_record_is_an_error() {
    let directory = tempfile::tempdir().expect("directory");
    let runtime =
        Runtime::start(open_store(directory.path()), options(4096, u64::MAX)).expect("runtime");
    let id = crate::common::open_sale(&runtime, 100, 3600).await;
    let registry = &runtime.registry;
    for number in 0..3 {
        registry.execute(id, grab(number)).await.expect("grab");
    }
    for number in [1, 2] {
        registry.execute(id, cancel(number)).await.expect("cancel");
    }
    let order_id = |number| OrderId {
        activity: id,
        number,
    };
    let live = registry
        .order(order_id(1))
        .await
        .expect("read")
        .expect("order 1");
    assert!(!live.archived);
    tokio::time::sleep(Duration::from_millis(5)).await;

    archive(&runtime, id, vec![1, 2]).await;

    assert_eq!(registry.cold().count(id), 2);
    let archived = registry
        .order(order_id(1))
        .await
        .expect("read")
        .expect("order 1");
    assert_eq!(
        OrderView {
            archived: false,
            ..archived.clone()
        },
        live,
        "the archived order reads back whole"
    );
    assert!(archived.archived);
    // A replay of the request answers with the whole archived order.
    let replay = registry.execute(id, grab(0)).await.expect("replay");
    assert!(replay.replayed);
    match *replay.subject {
        SubjectView::Order(view) => assert_eq!(view, archived),
        other => panic!("a replay answers with its order, not {other:?}"),
    }
    let (orders_live, orders_archived) = registry
        .read(id, |state| {
            (state.counts.pending_pay, state.counts.archived)
        })
        .await
        .expect("read");
    assert_eq!((orders_live, orders_archived), (1, 2));

    // Order 2's record under order 1's key, then a garbled value: errors, never data.
    let raw = registry.cold().raw();
    let moved = raw.get(id.0, 2).expect("read").expect("record 2");
    let mut value = Vec::new();
    playcore_snapshots::codec::write_archive_record(&mut value, id.0, 2, &moved);
    raw.overwrite_raw(id.0, 1, &value).expect("misplace");
    let misplaced = registry.order(order_id(1)).await;
    assert!(
        matches!(misplaced, Err(ExecuteError::ColdStore(_))),
        "{misplaced:?}"
    );
    let last = value.len() - 1;
    value[last] ^= 0x10;
    raw.overwrite_raw(id.0, 2, &value).expect("garble");
    let garbled = registry.order(order_id(2)).await;
    assert!(
        matches!(garbled, Err(ExecuteError::ColdStore(_))),
        "{garbled:?}"
    );
    // The live order is untouched by any of it.
    let unpaid = registry
        .order(order_id(3))
        .await
        .expect("read")
        .expect("order 3");
    assert!(!unpaid.archived);
    runtime.close().expect("a clean close");
}

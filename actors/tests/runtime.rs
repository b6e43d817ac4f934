//! The runtime end to end, in process: bounded mailboxes, snapshots with journal
//! truncation, and recovery of the same state after a restart.

use playcore_actors::activity_actor::now_ms;
use playcore_actors::domain::{ActivityConfig, ActivityId, Command, Rules, Stock, TemplateCode};
use playcore_actors::{ActorSettings, ExecuteError, Runtime, RuntimeOptions};
use playcore_snapshots::{Durability, JournalConfig, Store};
use std::sync::Arc;
use std::time::Duration;

fn options(mailbox_capacity: usize, snapshot_every_events: u64) -> RuntimeOptions {
    let snapshot_interval = if snapshot_every_events == u64::MAX {
        Duration::from_secs(3600)
    } else {
        Duration::from_millis(100)
    };
    RuntimeOptions {
        arbiters: 2,
        actor: ActorSettings {
            mailbox_capacity,
            orders_max: 1_000_000,
            snapshot_every_events,
            snapshot_interval,
        },
        journal: JournalConfig {
            durability: Durability::Fsync,
            capacity_events: 100_000,
            record_bytes_max: 4096,
            ..JournalConfig::default()
        },
        activities_max: 100,
        timers_capacity: 1_000_000,
        timer_tick: Duration::from_millis(20),
        eligibility: Default::default(),
    }
}

fn sale(stock: u64) -> ActivityConfig {
    let now = now_ms();
    ActivityConfig {
        template: TemplateCode::FlashSale,
        title: "test".into(),
        store_id: "store".into(),
        service_id: "service".into(),
        price_cents: 100,
        unit_name: "件".into(),
        units_per_order: 1,
        stock_total: stock,
        per_user_limit: 1,
        start_at_ms: now - 1000,
        end_at_ms: now + 3_600_000,
        pay_timeout_seconds: 3600,
        rules: Rules::default(),
    }
}

async fn open_sale(runtime: &Runtime, stock: u64) -> ActivityId {
    let id = runtime
        .create_activity(sale(stock), "operator")
        .await
        .expect("create")
        .id;
    let registry = &runtime.registry;
    registry
        .execute(
            id,
            Command::Submit {
                by: "operator".into(),
                flow: playcore_actors::domain::ApprovalFlow::default(),
            },
        )
        .await
        .expect("submit");
    registry
        .execute(
            id,
            Command::Approve {
                by: "approver".into(),
                remark: String::new(),
            },
        )
        .await
        .expect("approve");
    registry
        .execute(
            id,
            Command::Publish {
                by: "operator".into(),
            },
        )
        .await
        .expect("publish");
    id
}

fn grab(number: usize) -> Command {
    Command::Grab {
        user: format!("user-{number}"),
        request: "r".into(),
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

#[actix::test]
async fn a_full_mailbox_answers_overloaded_at_once_and_loses_nothing() {
    let directory = tempfile::tempdir().expect("directory");
    let runtime =
        Runtime::start(open_store(directory.path()), options(1, 1_000_000)).expect("runtime");
    let id = open_sale(&runtime, 1000).await;
    let registry = Arc::clone(&runtime.registry);
    let grabs = (0..300).map(|number| {
        let registry = Arc::clone(&registry);
        async move { registry.execute(id, grab(number)).await }
    });
    let answers = futures_util::future::join_all(grabs).await;
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
    runtime.shutdown().await;
}

#[actix::test]
async fn snapshots_truncate_the_journal_and_recovery_restores_the_same_state() {
    let directory = tempfile::tempdir().expect("directory");
    let runtime = Runtime::start(open_store(directory.path()), options(4096, 20)).expect("runtime");
    let id = open_sale(&runtime, 10_000).await;
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
    runtime.close();
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
    reopened.shutdown().await;
}

#[actix::test]
async fn a_restart_without_snapshots_replays_the_journal_to_the_same_state() {
    let directory = tempfile::tempdir().expect("directory");
    let runtime =
        Runtime::start(open_store(directory.path()), options(4096, u64::MAX)).expect("runtime");
    let id = open_sale(&runtime, 100).await;
    for number in 0..120 {
        let answer = runtime.registry.execute(id, grab(number)).await;
        assert!(
            number < 100 || matches!(answer, Err(ExecuteError::Rejected(_))),
            "never oversold"
        );
    }
    let before = stock_and_orders(&runtime, id).await;
    assert_eq!(before.0.available, 0);
    runtime.close();
    drop(runtime);
    // Let the stopped runtime's tasks and arbiters release the store.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let reopened =
        Runtime::start(open_store(directory.path()), options(4096, u64::MAX)).expect("restart");
    assert_eq!(reopened.recovery.snapshots_loaded, 0);
    assert_eq!(stock_and_orders(&reopened, id).await, before);
    reopened.close();
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
        let id = open_sale(&runtime, 100).await;
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
        runtime.close();
    }
}

//! The runtime under storage faults, in process: a failed journal sync answers every
//! waiting command and read at once (nothing hangs) and makes shutdown report the failure;
//! below the free-space reserve writes are refused with STORAGE_FULL while reads answer,
//! and a deadline refused meanwhile fires once space is back.

use crate::common::{open_sale, sale};
use playcore_actors::domain::{Command, OrderId, OrderStatus, Rejection, RequestId, UserId};
use playcore_actors::{ExecuteError, Runtime};
use playcore_snapshots::{SpaceReserve, Store};
use std::time::{Duration, Instant};

/// Longest any answer may take once the journal failed.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);

fn grab(user: usize) -> Command {
    Command::Grab {
        user: UserId::parse(&format!("user-{user}")).expect("user id"),
        request: RequestId::parse("r").expect("request id"),
        quantity: 1,
        source: Default::default(),
    }
}

async fn order_status(runtime: &Runtime, id: OrderId) -> OrderStatus {
    let view = runtime.registry.order(id).await.expect("read the order");
    view.expect("the order exists").status
}

#[actix::test]
async fn a_failed_sync_answers_every_waiting_command_and_read_at_once() {
    let directory = tempfile::tempdir().expect("directory");
    let runtime = Runtime::start(
        Store::open(directory.path()).expect("store"),
        crate::common::options(4096, u64::MAX),
    )
    .expect("runtime");
    let id = open_sale(&runtime, 100_000, 3600).await;
    let registry = &runtime.registry;
    registry.execute(id, grab(0)).await.expect("a durable grab");

    runtime.store.inject_sync_failure_after(0);
    let started = Instant::now();
    let grabs = (1..=300).map(|user| registry.execute(id, grab(user)));
    let reads = (0..50).map(|_| registry.read(id, |state| state.orders.len()));
    let (grabs, reads) = futures_util::future::join(
        tokio::time::timeout(ANSWER_WITHIN, futures_util::future::join_all(grabs)),
        tokio::time::timeout(ANSWER_WITHIN, futures_util::future::join_all(reads)),
    )
    .await;
    let grabs = grabs.expect("every grab answered within a second");
    let _ = reads.expect("every read answered within a second");
    assert!(
        grabs.iter().all(|answer| answer.is_err()),
        "nothing after the failed sync is acknowledged"
    );
    println!("300 grabs and 50 reads answered in {:?}", started.elapsed());

    let reason = tokio::time::timeout(ANSWER_WITHIN, runtime.journal().failed())
        .await
        .expect("the journal reports its failure");
    assert!(reason.contains("injected fault"), "{reason}");
    // A read of state the journal never made durable is refused at once, not held.
    let late_read = tokio::time::timeout(ANSWER_WITHIN, registry.read(id, |_| ()))
        .await
        .expect("a read after the failure is answered at once");
    assert_eq!(late_read, Err(ExecuteError::Unavailable));
    let view = registry.view(id).expect("the published view");
    assert_eq!(view.stock.reserved, 1, "the view shows durable state only");
    assert!(
        runtime.shutdown().await.is_err(),
        "shutdown reports the failure"
    );
}

#[actix::test]
async fn below_the_reserve_writes_are_refused_and_deadlines_wait_for_space() {
    let directory = tempfile::tempdir().expect("directory");
    let store = Store::open(directory.path()).expect("store");
    let runtime =
        Runtime::start(store.clone(), crate::common::options(4096, u64::MAX)).expect("runtime");
    let id = open_sale(&runtime, 100_000, 1).await;
    let registry = &runtime.registry;
    registry.execute(id, grab(0)).await.expect("a grab");
    let order = OrderId {
        activity: id,
        number: 1,
    };

    let everything = SpaceReserve {
        bytes: 0,
        percent: 100,
    };
    store.guard_space(everything).expect("the guard starts");
    let refused = registry.execute(id, grab(1)).await;
    assert_eq!(
        refused.err(),
        Some(ExecuteError::Rejected(Rejection::StorageFull))
    );
    let created = runtime.create_activity(sale(100_000, 1), "operator").await;
    assert_eq!(
        created.err(),
        Some(ExecuteError::Rejected(Rejection::StorageFull))
    );
    // Reads answer; the pay deadline passes but its timeout cannot be written.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(order_status(&runtime, order).await, OrderStatus::PendingPay);

    store
        .guard_space(SpaceReserve::default())
        .expect("the reserve lowered");
    registry.execute(id, grab(2)).await.expect("writes resume");
    let deadline = Instant::now() + Duration::from_secs(3);
    while order_status(&runtime, order).await == OrderStatus::PendingPay {
        assert!(Instant::now() < deadline, "the refused timeout fired again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(order_status(&runtime, order).await, OrderStatus::Timeout);
    runtime.shutdown().await.expect("a clean shutdown");
}

//! The gate of `playcore_actors::durable` against a real journal: a reply, a read result
//! and a view (the source of websocket pushes) are released only once the journal's durable
//! seq covers them, and all are answered closed when the journal fails.

use crate::common;

use playcore_actors::activity_actor::{now_ms, Reply};
use playcore_actors::domain::{ActivityId, ActivityState, Rejection};
use playcore_actors::durable::{Closed, Gate, Published, Publisher};
use playcore_actors::views::{activity_view, ActivityView};
use playcore_snapshots::{Durability, Journal, JournalConfig, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// A fsync journal whose group-commit window outlasts every test: with waiters expected, an
/// entry stays pending until the journal shuts down (or fails).
fn slow_journal(store: Store) -> Journal {
    let config = JournalConfig {
        durability: Durability::Fsync,
        group_commit_window: Duration::from_secs(60),
        ..JournalConfig::default()
    };
    Journal::start(store, config, 1)
}

fn view() -> Arc<ActivityView> {
    let state = ActivityState::created(ActivityId(1), common::sale(10, 60), "operator", now_ms());
    Arc::new(activity_view(&state))
}

fn append(journal: &Journal) -> u64 {
    let appended = journal.append(1, |buffer| {
        buffer.push(1);
        Ok(())
    });
    appended.expect("an append")
}

/// What the gate holds for one entry: a reply, a read result and a staged view.
struct Holding {
    reply: oneshot::Receiver<Reply>,
    read: oneshot::Receiver<u32>,
    published: Published,
    initial: Arc<ActivityView>,
    staged: Arc<ActivityView>,
}

fn hold_all(journal: &Journal) -> (Gate, Holding, u64) {
    let initial = view();
    let published = Published::new(Arc::clone(&initial));
    let mut gate = Gate::new(journal.clone(), Publisher::new(published.clone()));
    let seq = append(journal);
    let staged = view();
    gate.stage_views(seq, Arc::clone(&staged), Vec::new());
    let (reply_sender, reply) = oneshot::channel();
    gate.reply(seq, reply_sender, Err(Rejection::SoldOut));
    let (read_sender, read) = oneshot::channel();
    gate.read(
        seq,
        Box::new(move || {
            let _ = read_sender.send(7);
        }),
    );
    let holding = Holding {
        reply,
        read,
        published,
        initial,
        staged,
    };
    (gate, holding, seq)
}

#[actix::test]
async fn a_reply_a_read_and_a_view_wait_until_their_seq_is_durable() {
    let directory = tempfile::tempdir().expect("directory");
    let journal = slow_journal(Store::open(directory.path()).expect("store"));
    let expected: Vec<_> = (0..200).map(|_| journal.expect_waiter()).collect();
    let (mut gate, mut holding, seq) = hold_all(&journal);
    let pushes = holding.published.activity.subscribe();
    assert!(journal.durable_seq() < seq, "the window holds the entry");
    assert_eq!(
        journal.stats().waiters_waiting,
        1,
        "the held reply is hinted"
    );
    let wait = gate.next_wait().expect("something waits");
    assert!(gate.next_wait().is_none(), "one wait at a time");

    assert!(holding.reply.try_recv().is_err(), "no reply before durable");
    assert!(holding.read.try_recv().is_err(), "no read before durable");
    assert!(Arc::ptr_eq(&holding.published.activity(), &holding.initial));
    assert!(!pushes.has_changed().expect("a live channel"), "no push");

    drop(expected);
    journal
        .shutdown()
        .expect("shutdown makes the entry durable");
    assert!(journal.durable_seq() >= seq);
    let outcome = wait.await;
    assert_eq!(outcome, Ok(()));
    assert!(gate.woken(outcome), "released: look for the next wait");

    let reply = holding.reply.try_recv().expect("the reply once durable");
    assert_eq!(reply.into_inner().err(), Some(Rejection::SoldOut));
    assert_eq!(holding.read.try_recv(), Ok(7));
    assert!(Arc::ptr_eq(&holding.published.activity(), &holding.staged));
    assert!(
        pushes.has_changed().expect("a live channel"),
        "pushed once durable"
    );
    assert_eq!(
        journal.stats().waiters_waiting,
        0,
        "the hint is counted out"
    );
    assert!(gate.next_wait().is_none(), "nothing left to wait for");
}

#[actix::test]
async fn what_is_durable_already_is_sent_at_once_without_a_wait_or_a_hint() {
    let directory = tempfile::tempdir().expect("directory");
    let journal = Journal::start(
        Store::open(directory.path()).expect("store"),
        JournalConfig::default(),
        1,
    );
    let seq = append(&journal);
    journal.wait_durable(seq).await.expect("durable");
    let published = Published::new(view());
    let mut gate = Gate::new(journal.clone(), Publisher::new(published));
    let (sender, mut reply) = oneshot::channel();
    gate.reply(seq, sender, Err(Rejection::SoldOut));
    assert!(reply.try_recv().is_ok(), "sent at once");
    assert_eq!(journal.stats().waiters_waiting, 0);
    assert!(gate.next_wait().is_none());
    journal.shutdown().expect("shutdown");
}

#[actix::test]
async fn everything_held_is_answered_closed_when_the_journal_fails() {
    let directory = tempfile::tempdir().expect("directory");
    let store = Store::open(directory.path()).expect("store");
    store.inject_sync_failure_after(0);
    let journal = slow_journal(store);
    let expected: Vec<_> = (0..200).map(|_| journal.expect_waiter()).collect();
    let (mut gate, mut holding, seq) = hold_all(&journal);
    assert!(journal.durable_seq() < seq, "the window holds the entry");
    let pushes = holding.published.activity.subscribe();
    let wait = gate.next_wait().expect("something waits");

    // The window ends at shutdown; its sync fails and the writer stops.
    drop(expected);
    assert!(journal.shutdown().is_err(), "the injected sync failure");
    let outcome = tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .expect("the wait ends");
    assert_eq!(outcome, Err(Closed));
    assert!(!gate.woken(outcome), "closed: no further wait");

    assert!(
        matches!(
            holding.reply.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ),
        "the reply's caller learns that none will come"
    );
    assert_eq!(
        holding.read.try_recv(),
        Err(oneshot::error::TryRecvError::Closed)
    );
    assert!(Arc::ptr_eq(&holding.published.activity(), &holding.initial));
    assert!(
        !pushes.has_changed().expect("a live channel"),
        "nothing pushed"
    );
    assert_eq!(
        journal.stats().waiters_waiting,
        0,
        "the hint is counted out"
    );

    // Later holds find the journal closed at once.
    let (sender, mut late) = oneshot::channel();
    gate.reply(u64::MAX, sender, Err(Rejection::SoldOut));
    let wait = gate.next_wait().expect("the late reply waits");
    assert!(!gate.woken(wait.await));
    assert!(matches!(
        late.try_recv(),
        Err(oneshot::error::TryRecvError::Closed)
    ));
    assert_eq!(journal.stats().waiters_waiting, 0);
}

//! The engine against an in-process event source and real sled trees: a sink that
//! records every attempt it is handed, failing on a deterministic pattern.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use playcore_snapshots::event_store::EventRecord;

use super::source::memory::MemorySource;
use super::*;

/// One attempt as the sink saw it, in the order attempts started.
#[derive(Debug, Clone)]
struct Handed {
    position: u64,
    activity: u64,
    attempt: u32,
    acknowledged: bool,
    at: Instant,
}

type Decide = dyn Fn(&EventRecord, u32) -> bool + Send + Sync;

struct RecordingSink {
    handed: Mutex<Vec<Handed>>,
    decide: Box<Decide>,
    /// Attempts take up to this long.
    latency_max_ms: u64,
    /// Overrides `decide`: every attempt fails.
    failing: AtomicBool,
}

impl RecordingSink {
    fn new(
        latency_max_ms: u64,
        decide: impl Fn(&EventRecord, u32) -> bool + Send + Sync + 'static,
    ) -> Arc<RecordingSink> {
        Arc::new(RecordingSink {
            handed: Mutex::default(),
            decide: Box::new(decide),
            latency_max_ms,
            failing: AtomicBool::new(false),
        })
    }

    fn handed(&self) -> Vec<Handed> {
        self.handed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn acknowledged(&self) -> BTreeSet<u64> {
        let handed = self.handed();
        handed
            .iter()
            .filter(|handed| handed.acknowledged)
            .map(|handed| handed.position)
            .collect()
    }
}

impl Sink for RecordingSink {
    fn deliver(&self, delivery: Delivery) -> Pin<Box<dyn Future<Output = AttemptResult> + Send>> {
        let event = &delivery.event;
        let failing = self.failing.load(AtomicOrdering::SeqCst);
        let acknowledged = !failing && (self.decide)(event, delivery.attempt);
        self.handed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Handed {
                position: event.position,
                activity: event.activity,
                attempt: delivery.attempt,
                acknowledged,
                at: Instant::now(),
            });
        let latency_ms = if self.latency_max_ms == 0 {
            0
        } else {
            mix(event.position, delivery.attempt) % (self.latency_max_ms + 1)
        };
        Box::pin(async move {
            if latency_ms > 0 {
                tokio::time::sleep(Duration::from_millis(latency_ms)).await;
            }
            let outcome = if acknowledged {
                AttemptOutcome::Acknowledged
            } else {
                AttemptOutcome::Failed {
                    status_code: Some(500),
                    error: "status 500".to_owned(),
                }
            };
            AttemptResult {
                outcome,
                latency: Duration::from_millis(latency_ms),
            }
        })
    }
}

/// A deterministic spread of (position, attempt).
fn mix(position: u64, attempt: u32) -> u64 {
    let mut value = position.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(attempt).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    value ^= value >> 29;
    value.wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 32
}

fn quick_settings() -> DeliverySettings {
    DeliverySettings {
        attempt_timeout: Duration::from_secs(5),
        retry_schedule: vec![Duration::from_millis(5); 30],
        concurrency_per_subscription: 16,
        concurrency_total: 64,
        backlog_events_max: 1_000_000,
        breaker_failures_to_open: 1_000,
        breaker_open_for: Duration::from_millis(100),
        disable_after_failing_for: Duration::from_secs(3_600),
    }
}

fn subscription(id: &str) -> Subscription {
    Subscription {
        id: id.to_owned(),
        filter: SubscriptionFilter::default(),
        ordering: Ordering::PerActivity,
        enabled: true,
        rate_limit_per_second: None,
    }
}

/// Polls `condition` until it holds, failing the test past `seconds`.
async fn until(seconds: u64, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Per activity, the attempts in the order they started: positions never go back, and
/// the next position is handed only after the previous one's last attempt succeeded.
fn assert_ordered_per_activity(handed: &[Handed]) {
    let mut by_activity: BTreeMap<u64, Vec<&Handed>> = BTreeMap::new();
    for attempt in handed {
        by_activity
            .entry(attempt.activity)
            .or_default()
            .push(attempt);
    }
    for (activity, attempts) in by_activity {
        for pair in attempts.windows(2) {
            let (before, after) = (pair[0], pair[1]);
            assert!(
                before.position <= after.position,
                "activity {activity}: {} handed after {}",
                after.position,
                before.position
            );
            if before.position != after.position {
                assert!(
                    before.acknowledged,
                    "activity {activity}: {} handed before {} was acknowledged",
                    after.position, before.position
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_stay_in_order_under_random_failures_and_others_flow() {
    let source = MemorySource::new();
    let engine = Deliveries::start_with(source.clone(), quick_settings()).expect("an engine");
    let sink = RecordingSink::new(2, |event, attempt| mix(event.position, attempt) % 100 >= 30);
    engine
        .put(subscription("ep_order"), sink.clone())
        .expect("a subscription");
    let mut positions = Vec::new();
    for index in 0..2_000u64 {
        positions.push(source.append(index % 20, "INSTANCE_CREATED"));
    }
    until(30, "every event acknowledged", || {
        sink.acknowledged().len() == 2_000
    })
    .await;

    let handed = sink.handed();
    assert_ordered_per_activity(&handed);
    assert!(
        handed.iter().any(|attempt| !attempt.acknowledged),
        "some attempts failed"
    );
    assert_eq!(sink.acknowledged(), positions.iter().copied().collect());
    // Other activities flow while one waits: attempts of different activities interleave.
    let switches = handed
        .windows(2)
        .filter(|pair| pair[0].activity != pair[1].activity)
        .count();
    assert!(
        switches > 1_000,
        "activities interleave ({switches} switches)"
    );
    until(5, "the counts", || {
        let status = engine.status("ep_order").expect("a status");
        status.delivered == 2_000 && status.pending == 0
    })
    .await;
    let status = engine.status("ep_order").expect("a status");
    assert_eq!(status.dead_lettered, 0);
    assert_eq!(status.failed_attempts as usize, handed.len() - 2_000);
    assert_eq!(status.breaker, BreakerState::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_subscription_starts_at_the_newest_event_and_filters() {
    let source = MemorySource::new();
    source.append(1, "INSTANCE_CREATED");
    let engine = Deliveries::start_with(source.clone(), quick_settings()).expect("an engine");
    let sink = RecordingSink::new(0, |_, _| true);
    let mut filtered = subscription("ep_filter");
    filtered.filter.event_types = vec!["ORDER_PAID".to_owned()];
    filtered.filter.store_ids = vec!["store-1".to_owned()];
    engine.put(filtered, sink.clone()).expect("a subscription");
    source.append(1, "INSTANCE_CREATED");
    let wanted = source.append(1, "ORDER_PAID");
    source.append(2, "ORDER_PAID");
    until(5, "the matching event", || sink.acknowledged().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sink.acknowledged(), BTreeSet::from([wanted]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_follow_the_schedule_then_dead_letter_and_redeliver() {
    let source = MemorySource::new();
    let settings = DeliverySettings {
        retry_schedule: vec![Duration::from_millis(100), Duration::from_millis(200)],
        ..quick_settings()
    };
    let engine = Deliveries::start_with(source.clone(), settings).expect("an engine");
    let sink = RecordingSink::new(0, |_, _| true);
    sink.failing.store(true, AtomicOrdering::SeqCst);
    engine
        .put(subscription("ep_retry"), sink.clone())
        .expect("a subscription");
    let first = source.append(7, "ORDER_PAID");
    let second = source.append(7, "ORDER_PAID");
    until(5, "two dead letters", || {
        engine
            .status("ep_retry")
            .is_some_and(|status| status.dead_lettered == 2)
    })
    .await;

    // Three attempts of the first event, 100 ms then 200 ms apart (never earlier than the
    // schedule less 10 %; later by scheduling slack at most); the second event waited for
    // the first to be dead-lettered.
    let handed = sink.handed();
    let first_attempts: Vec<&Handed> = handed.iter().filter(|h| h.position == first).collect();
    assert_eq!(first_attempts.len(), 3);
    let gap = |a: &Handed, b: &Handed| b.at.duration_since(a.at).as_millis();
    let (gap_one, gap_two) = (
        gap(first_attempts[0], first_attempts[1]),
        gap(first_attempts[1], first_attempts[2]),
    );
    assert!(
        (90..=150).contains(&gap_one),
        "first retry after {gap_one} ms"
    );
    assert!(
        (180..=260).contains(&gap_two),
        "second retry after {gap_two} ms"
    );
    let second_first = handed
        .iter()
        .position(|h| h.position == second)
        .expect("handed");
    let first_last = handed
        .iter()
        .rposition(|h| h.position == first)
        .expect("handed");
    assert!(
        second_first > first_last,
        "the activity's next event waited"
    );

    until(5, "the records flushed", || {
        engine
            .dead_letters("ep_retry", 0, 10)
            .is_ok_and(|letters| letters.len() == 2)
    })
    .await;
    let message = engine
        .message("ep_retry", first)
        .expect("readable")
        .expect("a message");
    assert_eq!(message.state, MessageState::DeadLettered);
    assert_eq!(message.attempts.len(), 3);
    assert_eq!(message.attempts[0].status_code, Some(500));
    assert!(message.attempts[0].next_attempt_at_ms.is_some());
    assert_eq!(
        message.attempts[2].next_attempt_at_ms, None,
        "no attempt after the last"
    );

    // One by one: a fresh schedule, then acknowledged.
    sink.failing.store(false, AtomicOrdering::SeqCst);
    assert!(engine.redeliver("ep_retry", first).expect("redelivered"));
    assert!(
        !engine.redeliver("ep_retry", first).expect("answered"),
        "not a dead letter any more"
    );
    until(5, "the redelivery", || sink.acknowledged().contains(&first)).await;
    until(5, "its state", || {
        engine
            .message("ep_retry", first)
            .is_ok_and(|message| message.is_some_and(|m| m.state == MessageState::Delivered))
    })
    .await;
    assert_eq!(
        engine
            .dead_letters("ep_retry", 0, 10)
            .expect("listed")
            .len(),
        1
    );

    // Since T: only the dead letters that failed at or after T.
    sink.failing.store(true, AtomicOrdering::SeqCst);
    let since_ms = playcore_actors::activity_actor::now_ms() + 1;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let third = source.append(8, "ORDER_PAID");
    until(5, "a third dead letter", || {
        engine
            .dead_letters("ep_retry", 0, 10)
            .is_ok_and(|letters| letters.len() == 2)
    })
    .await;
    sink.failing.store(false, AtomicOrdering::SeqCst);
    assert_eq!(
        engine
            .redeliver_since("ep_retry", since_ms)
            .expect("redelivered"),
        1
    );
    until(5, "the third acknowledged", || {
        sink.acknowledged().contains(&third)
    })
    .await;
    let left: Vec<u64> = engine
        .dead_letters("ep_retry", 0, 10)
        .expect("listed")
        .iter()
        .map(|letter| letter.position)
        .collect();
    assert_eq!(left, vec![second], "the older dead letter stays");
    assert_eq!(
        engine.redeliver_since("ep_retry", 0).expect("redelivered"),
        1
    );
    until(5, "the second acknowledged", || {
        sink.acknowledged().contains(&second)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_opens_spends_nothing_while_open_then_probes_and_closes() {
    let source = MemorySource::new();
    let settings = DeliverySettings {
        breaker_failures_to_open: 3,
        breaker_open_for: Duration::from_millis(400),
        retry_schedule: vec![Duration::from_millis(10); 50],
        concurrency_per_subscription: 1,
        ..quick_settings()
    };
    let engine = Deliveries::start_with(source.clone(), settings).expect("an engine");
    let sink = RecordingSink::new(0, |_, _| true);
    sink.failing.store(true, AtomicOrdering::SeqCst);
    engine
        .put(subscription("ep_breaker"), sink.clone())
        .expect("a subscription");
    for activity in 0..5 {
        source.append(activity, "ORDER_PAID");
    }
    until(5, "the breaker open", || {
        engine
            .status("ep_breaker")
            .is_some_and(|status| status.breaker == BreakerState::Open)
    })
    .await;
    let opened = Instant::now();
    let attempts_at_open = sink.handed().len();
    assert_eq!(attempts_at_open, 3, "three consecutive failures open it");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        sink.handed().len(),
        attempts_at_open,
        "no attempt while open"
    );
    let status = engine.status("ep_breaker").expect("a status");
    assert_eq!(status.breaker, BreakerState::Open);
    assert_eq!(status.failed_attempts, 3);

    // The probe after the open period fails: open again, one attempt spent.
    until(5, "a probe", || sink.handed().len() == attempts_at_open + 1).await;
    let probe_at = sink.handed().last().expect("a probe").at;
    assert!(probe_at.duration_since(opened) >= Duration::from_millis(350));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        sink.handed().len(),
        attempts_at_open + 1,
        "one probe, then open again"
    );

    // The next probe succeeds: closed, and everything flows.
    sink.failing.store(false, AtomicOrdering::SeqCst);
    until(5, "all delivered", || sink.acknowledged().len() == 5).await;
    until(5, "the breaker closed", || {
        engine
            .status("ep_breaker")
            .is_some_and(|status| status.breaker == BreakerState::Closed)
    })
    .await;
    until(5, "every message delivered", || {
        engine.messages("ep_breaker", 0, 10).is_ok_and(|messages| {
            messages.len() == 5 && messages.iter().all(|m| m.state == MessageState::Delivered)
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_back_from_an_outage_gets_every_waiting_lane_at_once_not_at_its_retry_time() {
    let source = MemorySource::new();
    let settings = DeliverySettings {
        breaker_failures_to_open: 3,
        breaker_open_for: Duration::from_millis(300),
        // A retry waits an hour: only the probe and the re-armed lanes can deliver soon.
        retry_schedule: vec![Duration::from_secs(3_600); 3],
        concurrency_per_subscription: 8,
        ..quick_settings()
    };
    let engine = Deliveries::start_with(source.clone(), settings).expect("an engine");
    let sink = RecordingSink::new(0, |_, _| true);
    sink.failing.store(true, AtomicOrdering::SeqCst);
    engine
        .put(subscription("ep_outage"), sink.clone())
        .expect("a subscription");
    for activity in 0..6 {
        source.append(activity, "ORDER_PAID");
        source.append(activity, "ORDER_PAID");
    }
    until(5, "the breaker open", || {
        engine
            .status("ep_outage")
            .is_some_and(|status| status.breaker == BreakerState::Open)
    })
    .await;
    sink.failing.store(false, AtomicOrdering::SeqCst);
    // Every head waits an hour for its retry; the probe goes after the open period anyway,
    // closes the breaker, and every lane follows at once.
    until(5, "all delivered", || sink.acknowledged().len() == 12).await;
    let handed = sink.handed();
    assert_ordered_per_activity(&handed);
    // Each message's attempts are numbered 1, 2, … in the order they were made.
    let mut last_attempts = std::collections::HashMap::new();
    for attempt in &handed {
        let previous = last_attempts.insert(attempt.position, attempt.attempt);
        assert_eq!(attempt.attempt, previous.unwrap_or(0) + 1, "{attempt:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rush_holds_deliveries_back_and_they_follow_once_it_eases() {
    let source = MemorySource::new();
    let engine = Deliveries::start_with(source.clone(), quick_settings()).expect("an engine");
    let appended = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let probed = Arc::clone(&appended);
    engine.yield_to_trading(move || probed.load(AtomicOrdering::SeqCst));
    let sink = RecordingSink::new(0, |_, _| true);
    engine
        .put(subscription("ep_rush"), sink.clone())
        .expect("a subscription");
    // A rush: 10,000 journal entries every 20 ms for a second (busy even if a step is late).
    let rush = {
        let appended = Arc::clone(&appended);
        tokio::spawn(async move {
            for _ in 0..50 {
                appended.fetch_add(10_000, AtomicOrdering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    for activity in 0..4 {
        source.append(activity, "ORDER_PAID");
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(sink.handed().is_empty(), "nothing is sent during the rush");
    rush.await.expect("the rush ends");
    until(5, "delivered after the rush", || {
        sink.acknowledged().len() == 4
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_failing_for_the_period_is_disabled_and_stays_so() {
    let source = MemorySource::new();
    let settings = DeliverySettings {
        breaker_failures_to_open: 2,
        breaker_open_for: Duration::from_millis(50),
        disable_after_failing_for: Duration::from_millis(1_500),
        retry_schedule: vec![Duration::from_millis(5); 1_000],
        ..quick_settings()
    };
    let engine = Deliveries::start_with(source.clone(), settings.clone()).expect("an engine");
    let sink = RecordingSink::new(0, |_, _| true);
    sink.failing.store(true, AtomicOrdering::SeqCst);
    engine
        .put(subscription("ep_dead"), sink.clone())
        .expect("a subscription");
    source.append(1, "ORDER_PAID");
    let started = Instant::now();
    until(10, "disabled", || {
        engine
            .status("ep_dead")
            .is_some_and(|status| status.disabled_for_failing)
    })
    .await;
    assert!(started.elapsed() >= Duration::from_millis(1_400));
    let status = engine.status("ep_dead").expect("a status");
    assert!(!status.enabled);
    let attempts = sink.handed().len();
    source.append(1, "ORDER_PAID");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sink.handed().len(),
        attempts,
        "a disabled subscription sends nothing"
    );
    let cursor = engine.status("ep_dead").expect("a status").cursor_position;

    // Persisted: a restart that puts the subscription disabled again keeps the mark.
    drop(engine);
    let engine = Deliveries::start_with(source.clone(), settings).expect("an engine");
    let mut disabled = subscription("ep_dead");
    disabled.enabled = false;
    engine.put(disabled, sink.clone()).expect("put again");
    let status = engine.status("ep_dead").expect("a status");
    assert!(status.disabled_for_failing && !status.enabled);
    assert_eq!(status.cursor_position, cursor, "its cursor stays");
    // Enabled again by its owner: it delivers what waited.
    sink.failing.store(false, AtomicOrdering::SeqCst);
    engine
        .put(subscription("ep_dead"), sink.clone())
        .expect("enabled");
    until(5, "both delivered", || sink.acknowledged().len() == 2).await;
    assert!(
        !engine
            .status("ep_dead")
            .expect("a status")
            .disabled_for_failing
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_backlog_moves_the_oldest_pending_to_dead_letters() {
    let source = MemorySource::new();
    let settings = DeliverySettings {
        retry_schedule: vec![Duration::from_secs(3_600)],
        backlog_events_max: 100,
        ..quick_settings()
    };
    let engine = Deliveries::start_with(source.clone(), settings).expect("an engine");
    let sink = RecordingSink::new(0, |_, _| true);
    sink.failing.store(true, AtomicOrdering::SeqCst);
    engine
        .put(subscription("ep_full"), sink.clone())
        .expect("a subscription");
    for index in 0..300u64 {
        source.append(index % 3, "ORDER_PAID");
    }
    until(10, "the backlog trimmed", || {
        engine.status("ep_full").is_some_and(|status| {
            status.pending == 100
                && status.dead_lettered == 200
                && source.last_position() == status.cursor_position
        })
    })
    .await;
    let status = engine.status("ep_full").expect("a status");
    assert_eq!(status.backlog_overflowed, 200);
    until(5, "the dead letters flushed", || {
        engine
            .dead_letters("ep_full", 0, 1_000)
            .is_ok_and(|letters| letters.len() == 200)
    })
    .await;
    let dead = engine.dead_letters("ep_full", 0, 1_000).expect("listed");
    // The oldest go first (an attempt under way is skipped: at most one per lane).
    let newest_dead = dead
        .iter()
        .map(|letter| letter.position)
        .max()
        .expect("some");
    assert!(
        newest_dead <= 203,
        "the newest dead letter is {newest_dead}"
    );
    // The pending ones are on disk, not in memory: the engine holds lane heads only.
    let pending = source.tree("delivery_pending").expect("a tree");
    assert_eq!(pending.len(), 100);
}

/// A lane past its look-ahead spills to the pending tree and is read back by flushes
/// that run beside the task. Events that reach the tree while a read-back is under way
/// (reads are slow here, so each read-back takes a while) must still come, once each
/// and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spilled_lane_read_back_while_events_keep_coming_delivers_each_once_in_order() {
    let source = MemorySource::new();
    source.slow_reads(Duration::from_micros(50));
    let engine = Deliveries::start_with(source.clone(), quick_settings()).expect("an engine");
    let sink = RecordingSink::new(1, |_, _| true);
    engine
        .put(subscription("ep_spill"), sink.clone())
        .expect("a subscription");
    let burst = super::worker::LOOKAHEAD_PER_LANE + 500;
    let mut positions: BTreeSet<u64> = (0..burst).map(|_| source.append(7, "ORDER_PAID")).collect();
    let waiting = positions.len() - sink.acknowledged().len();
    assert!(
        waiting > super::worker::LOOKAHEAD_PER_LANE,
        "the lane spilled ({waiting} waiting)"
    );
    // A trickle through every read-back of the burst's tail.
    for _ in 0..2_000 {
        positions.insert(source.append(7, "ORDER_PAID"));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    until(60, "every event acknowledged", || {
        sink.acknowledged() == positions
    })
    .await;
    let handed = sink.handed();
    assert_eq!(handed.len(), positions.len(), "each event was handed once");
    assert_ordered_per_activity(&handed);
    until(5, "the state settled", || {
        engine
            .status("ep_spill")
            .is_some_and(|status| status.pending == 0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_delivery_loses_no_event_and_keeps_each_activity_in_order() {
    let source = MemorySource::new();
    let decide = |event: &EventRecord, attempt: u32| mix(event.position, attempt) % 100 >= 20;
    let engine = Deliveries::start_with(source.clone(), quick_settings()).expect("an engine");
    let before = RecordingSink::new(3, decide);
    engine
        .put(subscription("ep_crash"), before.clone())
        .expect("a subscription");
    let mut positions = BTreeSet::new();
    for index in 0..1_500u64 {
        positions.insert(source.append(index % 10, "ORDER_PAID"));
    }
    until(10, "some deliveries", || before.acknowledged().len() > 300).await;
    engine.abandon();
    drop(engine);
    let acknowledged_before = before.acknowledged();
    assert!(
        acknowledged_before.len() < 1_500,
        "the crash came mid-delivery"
    );

    let engine = Deliveries::start_with(source.clone(), quick_settings()).expect("an engine");
    let after = RecordingSink::new(3, decide);
    engine
        .put(subscription("ep_crash"), after.clone())
        .expect("resumed");
    for index in 0..500u64 {
        positions.insert(source.append(index % 10, "ORDER_PAID"));
    }
    until(30, "every event acknowledged", || {
        let mut acknowledged = acknowledged_before.clone();
        acknowledged.extend(after.acknowledged());
        acknowledged == positions
    })
    .await;
    assert_ordered_per_activity(&after.handed());
    let again = after
        .acknowledged()
        .intersection(&acknowledged_before)
        .count();
    assert!(
        again < 1_000,
        "the restart resumed near the crash ({again} delivered again)"
    );
    until(5, "the state settled", || {
        engine
            .status("ep_crash")
            .is_some_and(|status| status.pending == 0)
    })
    .await;
    let cursor = engine.status("ep_crash").expect("a status").cursor_position;
    assert_eq!(cursor, source.last_position());
    until(5, "the cursor holding retention", || {
        source.hold_of("ep_crash") == Some(cursor)
    })
    .await;
}

struct FlakyConsumer {
    calls: AtomicU32,
    handled: Mutex<Vec<u64>>,
}

impl Consumer for FlakyConsumer {
    fn name(&self) -> &'static str {
        "ledger"
    }

    fn filter(&self) -> SubscriptionFilter {
        SubscriptionFilter {
            event_types: vec!["ORDER_PAID".to_owned()],
            ..SubscriptionFilter::default()
        }
    }

    fn handle(&self, event: &EventRecord) -> impl Future<Output = Result<(), String>> + Send {
        let call = self.calls.fetch_add(1, AtomicOrdering::SeqCst);
        let position = event.position;
        let outcome = if call < 2 {
            Err(format!("not yet ({call})"))
        } else {
            self.handled
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(position);
            Ok(())
        };
        async move { outcome }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_failing_twice_is_retried_in_order_and_its_cursor_persists() {
    let source = MemorySource::new();
    let engine = Deliveries::start_with(source.clone(), quick_settings()).expect("an engine");
    let consumer = Arc::new(FlakyConsumer {
        calls: AtomicU32::new(0),
        handled: Mutex::default(),
    });
    engine
        .register_consumer(Arc::clone(&consumer))
        .expect("registered");
    let mut paid = Vec::new();
    for index in 0..20u64 {
        source.append(index % 4, "INSTANCE_CREATED");
        paid.push(source.append(index % 4, "ORDER_PAID"));
    }
    let handled = || {
        consumer
            .handled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    };
    until(5, "every paid event handled", || handled().len() == 20).await;
    assert_eq!(handled(), paid, "in total order, each once");
    until(5, "the attempts recorded", || {
        engine
            .message("consumer:ledger", paid[0])
            .is_ok_and(|message| message.is_some_and(|m| m.attempts.len() == 3))
    })
    .await;
    let status = engine.status("consumer:ledger").expect("a status");
    assert_eq!(status.failed_attempts, 2);
    engine.shutdown();
    drop(engine);

    let engine = Deliveries::start_with(source.clone(), quick_settings()).expect("an engine");
    engine
        .register_consumer(Arc::clone(&consumer))
        .expect("registered again");
    let later = source.append(1, "ORDER_PAID");
    until(5, "the new event handled", || handled().len() == 21).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(handled().last(), Some(&later));
    assert_eq!(
        handled().len(),
        21,
        "nothing handled twice after a clean stop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_subscription_deletes_its_state() {
    let source = MemorySource::new();
    let engine = Deliveries::start_with(source.clone(), quick_settings()).expect("an engine");
    let sink = RecordingSink::new(0, |_, _| true);
    sink.failing.store(true, AtomicOrdering::SeqCst);
    engine
        .put(subscription("ep_gone"), sink.clone())
        .expect("a subscription");
    source.append(1, "ORDER_PAID");
    until(5, "an attempt recorded", || {
        engine
            .messages("ep_gone", 0, 10)
            .is_ok_and(|messages| !messages.is_empty())
    })
    .await;
    engine.remove("ep_gone").expect("removed");
    assert!(engine.status("ep_gone").is_none());
    assert!(matches!(
        engine.messages("ep_gone", 0, 10),
        Err(DeliveryError::UnknownSubscription(_))
    ));
    until(5, "the state deleted", || {
        let trees = ["delivery_pending", "delivery_attempts", "delivery_progress"];
        trees
            .iter()
            .all(|name| source.tree(name).is_ok_and(|tree| tree.is_empty()))
    })
    .await;
    assert_eq!(source.hold_of("ep_gone"), None);
    assert!(matches!(
        engine.remove("ep_gone"),
        Err(DeliveryError::UnknownSubscription(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_paces_attempts_and_metrics_show_the_figures() {
    let source = MemorySource::new();
    let engine = Deliveries::start_with(source.clone(), quick_settings()).expect("an engine");
    let sink = RecordingSink::new(0, |_, _| true);
    let limited = Subscription {
        rate_limit_per_second: Some(20),
        ..subscription("ep_paced")
    };
    engine.put(limited, sink.clone()).expect("a subscription");
    let started = Instant::now();
    for activity in 0..40 {
        source.append(activity, "ORDER_PAID");
    }
    until(5, "all delivered", || sink.acknowledged().len() == 40).await;
    // A second's worth at once, then 20 a second: the last 20 take about a second.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "40 events in {elapsed:?}"
    );
    let handed = sink.handed();
    let early = handed
        .iter()
        .filter(|attempt| attempt.at.duration_since(started) < Duration::from_millis(500))
        .count();
    assert!(early <= 31, "{early} attempts in the first half second");

    until(5, "the counts", || {
        engine
            .status("ep_paced")
            .is_some_and(|status| status.delivered == 40)
    })
    .await;
    let metrics = crate::telemetry::Metrics::new();
    engine.export_metrics(&metrics);
    engine.export_metrics(&metrics);
    let text = metrics.render();
    for line in [
        "playcore_delivery_delivered_total{subscription=\"ep_paced\"} 40\n",
        "playcore_delivery_lag_events{subscription=\"ep_paced\"} 0\n",
        "playcore_delivery_breaker_state{subscription=\"ep_paced\"} 0\n",
        "playcore_delivery_dead_lettered_total{subscription=\"ep_paced\"} 0\n",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    engine.remove("ep_paced").expect("removed");
    engine.export_metrics(&metrics);
    let text = metrics.render();
    assert!(
        !text.contains("ep_paced"),
        "series of a removed subscription go: {text}"
    );
}

/// Acknowledges at once, counting.
struct CountingSink(std::sync::atomic::AtomicU64);

impl Sink for CountingSink {
    fn deliver(&self, _delivery: Delivery) -> Pin<Box<dyn Future<Output = AttemptResult> + Send>> {
        self.0.fetch_add(1, AtomicOrdering::Relaxed);
        Box::pin(std::future::ready(AttemptResult {
            outcome: AttemptOutcome::Acknowledged,
            latency: Duration::ZERO,
        }))
    }
}

/// A rough throughput figure (not a benchmark): a backlog of events over many activities
/// to a sink that answers at once. `cargo test --release --lib catch_up -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a throughput figure, run by hand"]
async fn catch_up_throughput() {
    let source = MemorySource::new();
    let settings = DeliverySettings {
        concurrency_per_subscription: 256,
        concurrency_total: 1_024,
        ..quick_settings()
    };
    let engine = Deliveries::start_with(source.clone(), settings).expect("an engine");
    let sink = Arc::new(CountingSink(Default::default()));
    engine
        .put(subscription("ep_fast"), sink.clone())
        .expect("a subscription");
    // A backlog written while nothing could be delivered, then the live rate.
    engine
        .put(
            Subscription {
                enabled: false,
                ..subscription("ep_fast")
            },
            sink.clone(),
        )
        .expect("paused");
    let events = 200_000u64;
    for index in 0..events {
        source.append(index % 1_000, "ORDER_PAID");
    }
    let started = Instant::now();
    engine
        .put(subscription("ep_fast"), sink.clone())
        .expect("resumed");
    until(120, "the backlog delivered", || {
        sink.0.load(AtomicOrdering::Relaxed) == events
    })
    .await;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "catch-up: {events} events in {seconds:.2} s = {:.0} events/s",
        events as f64 / seconds
    );
}

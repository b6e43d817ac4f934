//! The fan-out hub: one fan-out task per watched topic (an activity or a group), however
//! many subscribers it has, so the activity actor does no per-subscriber work.
//!
//! The actor's gate publishes a view only once the journal made it durable (see
//! `playcore_actors::durable`), through a watch channel. A topic's fan-out task watches
//! that channel and, at most once per `push_interval`, serialises the newest view ONCE
//! into a shared [`Frame`] and hands it to every subscriber's [`Mailbox`] without ever
//! waiting: a mailbox holds one pending frame, and a newer frame replaces a pending one
//! (only the latest state matters). A change during an interval is sent at the next tick,
//! so every subscriber ends on the latest state. A mailbox that stays full for
//! `slow_client_timeout` (its client does not read) is ended, and its connection dropped.
//!
//! A topic is kept per HTTP worker thread: a connection's session runs on the worker that
//! accepted it, and so does the fan-out task its subscription started, so every wake-up
//! of a push stays on one thread (no cross-thread wake per frame), and the workers share
//! the fan-out of a hot activity. Each worker serialises a view once.
//!
//! Bounds: connections (`max_connections`, checked before the upgrade); topics (each has
//! at least one subscriber, so at most `max_connections`); one pending frame per mailbox.
//! A topic is created with its first subscriber and retired with its last.

use super::frame::{Frame, Pushable};
use crate::telemetry::{Counter, Gauge, Metrics};
use actix_ws::Session;
use futures_util::FutureExt;
use playcore_actors::domain::{ActivityId, GroupId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// What one hub allows; from the `[ws]` settings.
#[derive(Clone, Copy, Debug)]
pub struct HubOptions {
    pub push_interval: Duration,
    pub slow_client_timeout: Duration,
    pub max_connections: usize,
}

/// What a subscriber watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TopicKey {
    Activity(ActivityId),
    Group(GroupId),
}

/// Why a mailbox will hand out no more frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Its queue stayed full for `slow_client_timeout`: the client does not read.
    Slow,
    /// The published view went away (the activity is gone or the core is stopping).
    SourceGone,
}

/// What happened to one frame handed to one mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    /// The subscriber already has this version or a newer one.
    Skipped,
    /// Written straight into the connection's outgoing channel.
    Written,
    Queued,
    /// Replaced a pending frame the subscriber had not taken yet.
    Coalesced,
    /// The queue stayed full too long: the mailbox is ended.
    Slow,
}

/// Writes `frame` into the connection's outgoing channel if it has room now; never waits.
/// A closed connection is forgotten (its session task ends on its own).
fn write_now(session: &mut Option<Session>, frame: &Frame) -> bool {
    let Some(open) = session.as_mut() else {
        return false;
    };
    // Polled once: tokio's bounded send is cancel-safe, so a full channel leaves nothing
    // sent and the frame goes to the mailbox instead.
    match open.text(frame.text.clone()).now_or_never() {
        Some(Ok(())) => true,
        Some(Err(_closed)) => {
            *session = None;
            false
        }
        None => false,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves its data consistent, so a poisoned lock is usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Slot {
    /// The connection, for direct writes (`None` in unit tests and once it closed).
    session: Option<Session>,
    /// The session task is writing a frame it took: direct writes would overtake it.
    writing: bool,
    /// No direct write before this: one push interval after the session's last write
    /// (none before the session wrote the first frame).
    direct_from: Option<Instant>,
    /// The one queued frame (the queue's capacity is one: a newer frame replaces it).
    pending: Option<Frame>,
    /// The newest version handed to this mailbox; older or equal frames are skipped.
    version: u64,
    /// Since when a frame has been waiting that the session did not take.
    full_since: Option<Instant>,
    end: Option<End>,
}

/// One subscriber's queue between the fan-out task and its connection's session.
///
/// Fast path: when nothing is pending or being written, the fan-out task writes the frame
/// straight into the connection's outgoing channel if that has room (a non-blocking
/// attempt), so a client that keeps up costs no wake-up of its session task. Otherwise the
/// frame waits here, replacing an older one, for the session task to write it.
pub struct Mailbox {
    slot: Mutex<Slot>,
    /// Wakes the session: a frame is pending or the mailbox ended.
    ready: Notify,
}

impl Mailbox {
    /// A mailbox holding `first` (the state at connect) as its pending frame.
    fn new(first: Frame, session: Option<Session>) -> Mailbox {
        let mailbox = Mailbox {
            slot: Mutex::new(Slot {
                session,
                writing: false,
                direct_from: None,
                version: first.version,
                pending: Some(first),
                full_since: None,
                end: None,
            }),
            ready: Notify::new(),
        };
        mailbox.ready.notify_one();
        mailbox
    }

    fn deliver(&self, frame: &Frame, now: Instant, slow_client_timeout: Duration) -> Delivery {
        let mut slot = lock(&self.slot);
        if slot.end.is_some() || frame.version <= slot.version {
            return Delivery::Skipped;
        }
        slot.version = frame.version;
        let direct = slot.direct_from.is_some_and(|from| from <= now);
        if direct && slot.pending.is_none() && !slot.writing && write_now(&mut slot.session, frame)
        {
            return Delivery::Written;
        }
        let replaced = slot.pending.replace(frame.clone()).is_some();
        if !replaced {
            drop(slot);
            self.ready.notify_one();
            return Delivery::Queued;
        }
        let full_since = *slot.full_since.get_or_insert(now);
        if now.duration_since(full_since) < slow_client_timeout {
            return Delivery::Coalesced;
        }
        slot.pending = None;
        slot.end = Some(End::Slow);
        // The hub's handle on the connection goes at once: the connection closes as soon
        // as its session task lets go too, whatever else still holds this mailbox.
        slot.session = None;
        drop(slot);
        self.ready.notify_one();
        Delivery::Slow
    }

    fn end(&self, end: End) {
        let mut slot = lock(&self.slot);
        slot.end.get_or_insert(end);
        slot.session = None;
        drop(slot);
        self.ready.notify_one();
    }

    /// The pending frame, or why there will be none; `None` when there is nothing yet.
    /// The caller writes the frame, then calls [`Mailbox::written`].
    fn take(&self) -> Option<Result<Frame, End>> {
        let mut slot = lock(&self.slot);
        if let Some(end) = slot.end {
            return Some(Err(end));
        }
        let frame = slot.pending.take()?;
        slot.full_since = None;
        slot.writing = true;
        Some(Ok(frame))
    }

    /// The session finished writing the frame it took: direct writes may resume from
    /// `direct_from` on.
    pub fn written(&self, direct_from: Instant) {
        let mut slot = lock(&self.slot);
        slot.writing = false;
        slot.direct_from = Some(direct_from);
    }

    /// Waits for the next frame (cancel-safe: a frame is only taken when this returns).
    pub async fn next(&self) -> Result<Frame, End> {
        loop {
            if let Some(next) = self.take() {
                return next;
            }
            self.ready.notified().await;
        }
    }

    /// Resolves once the hub ended the mailbox as slow (a session blocked on a full socket
    /// waits on this next to its write, so it is dropped even while it cannot write).
    pub async fn slow(&self) {
        loop {
            if lock(&self.slot).end == Some(End::Slow) {
                return;
            }
            self.ready.notified().await;
        }
    }
}

/// The subscribers of one topic.
struct Topic {
    subscribers: Mutex<Subscribers>,
    /// Turns true when the last subscriber left: the fan-out task stops.
    retired: watch::Sender<bool>,
}

#[derive(Default)]
struct Subscribers {
    next_id: u64,
    /// Bounded by the hub's connection limit.
    by_id: HashMap<u64, Arc<Mailbox>>,
}

impl Topic {
    fn add(&self, mailbox: Arc<Mailbox>) -> u64 {
        let mut subscribers = lock(&self.subscribers);
        let id = subscribers.next_id;
        subscribers.next_id += 1;
        subscribers.by_id.insert(id, mailbox);
        id
    }

    /// Removes one subscriber; returns whether none is left.
    fn remove(&self, id: u64) -> bool {
        let mut subscribers = lock(&self.subscribers);
        subscribers.by_id.remove(&id);
        subscribers.by_id.is_empty()
    }

    fn broadcast(&self, frame: &Frame, options: &HubOptions, metrics: &HubMetrics) {
        let now = Instant::now();
        let (mut queued, mut coalesced, mut slow) = (0, 0, 0);
        for mailbox in lock(&self.subscribers).by_id.values() {
            match mailbox.deliver(frame, now, options.slow_client_timeout) {
                Delivery::Skipped => {}
                Delivery::Written | Delivery::Queued => queued += 1,
                Delivery::Coalesced => coalesced += 1,
                Delivery::Slow => slow += 1,
            }
        }
        metrics.frames_queued.add(queued + coalesced);
        metrics.frames_coalesced.add(coalesced);
        metrics.slow_clients_dropped.add(slow);
    }

    fn end_all(&self, end: End) {
        for mailbox in lock(&self.subscribers).by_id.values() {
            mailbox.end(end);
        }
    }
}

struct HubMetrics {
    connections: Arc<Gauge>,
    frames_queued: Arc<Counter>,
    frames_coalesced: Arc<Counter>,
    slow_clients_dropped: Arc<Counter>,
    refused: Arc<Counter>,
    topics: Arc<Gauge>,
}

impl HubMetrics {
    fn new(metrics: &Metrics) -> HubMetrics {
        HubMetrics {
            connections: metrics.gauge("playcore_ws_connections", "Open websockets."),
            frames_queued: metrics.counter(
                "playcore_ws_frames_queued_total",
                "Frames handed to websocket subscribers (one per subscriber per push).",
            ),
            frames_coalesced: metrics.counter(
                "playcore_ws_frames_coalesced_total",
                "Frames that replaced a pending frame the subscriber had not taken yet.",
            ),
            slow_clients_dropped: metrics.counter(
                "playcore_ws_slow_clients_dropped_total",
                "Websockets dropped because their client did not read its frames.",
            ),
            refused: metrics.counter(
                "playcore_ws_refused_total",
                "Websocket upgrades refused with 503 because ws.max_connections were open.",
            ),
            topics: metrics.gauge(
                "playcore_ws_topics",
                "Activities and groups watched by at least one websocket.",
            ),
        }
    }
}

/// Every websocket topic of the server; shared by the HTTP workers.
pub struct Hub {
    options: HubOptions,
    /// Bounded: a topic lives only while it has subscribers, and connections are bounded.
    /// Keyed by the worker thread too (see the module doc).
    topics: Mutex<HashMap<(TopicKey, ThreadId), Arc<Topic>>>,
    connections: AtomicUsize,
    /// Turns true at shutdown: every session sends a close frame and ends.
    closing: watch::Sender<bool>,
    metrics: HubMetrics,
}

/// One admitted connection; dropping it frees its place under `max_connections`.
pub struct Permit {
    hub: Arc<Hub>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.hub.connections.fetch_sub(1, Ordering::AcqRel);
        self.hub.metrics.connections.decrement();
    }
}

/// One subscriber of one topic; dropping it unsubscribes (and retires an empty topic).
pub struct Subscription {
    hub: Arc<Hub>,
    key: (TopicKey, ThreadId),
    topic: Arc<Topic>,
    id: u64,
    pub mailbox: Arc<Mailbox>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(self);
    }
}

impl Hub {
    pub fn new(options: HubOptions, metrics: &Metrics) -> Hub {
        let (closing, _) = watch::channel(false);
        Hub {
            options,
            topics: Mutex::new(HashMap::new()),
            connections: AtomicUsize::new(0),
            closing,
            metrics: HubMetrics::new(metrics),
        }
    }

    /// A place for one more connection, or `None` when `max_connections` are open.
    pub fn admit(self: &Arc<Self>) -> Option<Permit> {
        let max = self.options.max_connections;
        let admitted = self
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < max).then_some(open + 1)
            });
        if admitted.is_err() {
            self.metrics.refused.increment();
            return None;
        }
        self.metrics.connections.increment();
        Some(Permit {
            hub: Arc::clone(self),
        })
    }

    /// Subscribes to `key`, whose published views `source` watches. The mailbox starts
    /// with the current state; the topic's fan-out task is started on this thread if this
    /// is its first subscriber here. Must run inside an actix (tokio local) runtime, on the
    /// thread that runs the subscriber's session.
    pub fn subscribe<V: Pushable>(
        self: &Arc<Self>,
        key: TopicKey,
        source: watch::Receiver<Arc<V>>,
        session: Option<Session>,
    ) -> Subscription {
        let first = Arc::clone(&source.borrow()).frame();
        let mailbox = Arc::new(Mailbox::new(first, session));
        let key = (key, thread::current().id());
        let mut topics = lock(&self.topics);
        let topic = match topics.get(&key) {
            Some(topic) => Arc::clone(topic),
            None => {
                let topic = self.start_topic(source);
                topics.insert(key, Arc::clone(&topic));
                self.metrics.topics.increment();
                topic
            }
        };
        let id = topic.add(Arc::clone(&mailbox));
        Subscription {
            hub: Arc::clone(self),
            key,
            topic,
            id,
            mailbox,
        }
    }

    fn start_topic<V: Pushable>(self: &Arc<Self>, source: watch::Receiver<Arc<V>>) -> Arc<Topic> {
        let (retired, _) = watch::channel(false);
        let topic = Arc::new(Topic {
            subscribers: Mutex::new(Subscribers::default()),
            retired,
        });
        actix_web::rt::spawn(fan_out(Arc::clone(self), Arc::clone(&topic), source));
        topic
    }

    fn unsubscribe(&self, subscription: &Subscription) {
        let mut topics = lock(&self.topics);
        let empty = subscription.topic.remove(subscription.id);
        let current = topics
            .get(&subscription.key)
            .is_some_and(|topic| Arc::ptr_eq(topic, &subscription.topic));
        if empty && current {
            topics.remove(&subscription.key);
            self.metrics.topics.decrement();
            subscription.topic.retired.send_replace(true);
        }
    }

    /// Turns true when the server shuts down.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Asks every session to close its websocket (server shutdown).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }

    /// Open connections (admitted, not yet dropped).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }

    /// Topics with at least one subscriber (one per watched id and worker thread).
    pub fn topics(&self) -> usize {
        lock(&self.topics).len()
    }
}

/// The fan-out task of one topic: waits for a new durable view, waits out the rest of
/// the push interval, then serialises the newest view once and hands it to everyone.
async fn fan_out<V: Pushable>(
    hub: Arc<Hub>,
    topic: Arc<Topic>,
    mut source: watch::Receiver<Arc<V>>,
) {
    let mut retired = topic.retired.subscribe();
    let interval = hub.options.push_interval;
    let mut next_push_at = Instant::now();
    loop {
        tokio::select! {
            changed = source.changed() => {
                if changed.is_err() {
                    topic.end_all(End::SourceGone);
                    return;
                }
            }
            _ = retired.wait_for(|retired| *retired) => return,
        }
        tokio::select! {
            () = tokio::time::sleep_until(next_push_at) => {}
            _ = retired.wait_for(|retired| *retired) => return,
        }
        let started_at = Instant::now();
        let view = Arc::clone(&source.borrow_and_update());
        topic.broadcast(&view.frame(), &hub.options, &hub.metrics);
        next_push_at = started_at + interval;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytestring::ByteString;
    use playcore_actors::domain::{
        ActivityConfig, ActivityStatus, ApprovalStatus, Rules, Stock, TemplateCode,
    };
    use playcore_actors::durable::{Published, Publisher};
    use playcore_actors::views::ActivityView;

    /// A stand-in view: its frame is its version.
    struct FakeView(u64);

    impl Pushable for FakeView {
        fn version(&self) -> u64 {
            self.0
        }

        fn frame(&self) -> Frame {
            Frame {
                version: self.0,
                text: ByteString::from(self.0.to_string()),
            }
        }
    }

    fn frame(version: u64) -> Frame {
        FakeView(version).frame()
    }

    fn hub(push_interval_ms: u64, max_connections: usize) -> Arc<Hub> {
        let options = HubOptions {
            push_interval: Duration::from_millis(push_interval_ms),
            slow_client_timeout: Duration::from_millis(300),
            max_connections,
        };
        Arc::new(Hub::new(options, &Metrics::new()))
    }

    fn pending(mailbox: &Mailbox) -> Option<Result<Frame, End>> {
        mailbox.take()
    }

    #[test]
    fn a_mailbox_keeps_only_the_newest_frame_and_skips_old_ones() {
        let mailbox = Mailbox::new(frame(1), None);
        let now = Instant::now();
        let timeout = Duration::from_secs(1);
        assert_eq!(mailbox.deliver(&frame(1), now, timeout), Delivery::Skipped);
        assert_eq!(
            mailbox.deliver(&frame(2), now, timeout),
            Delivery::Coalesced
        );
        assert_eq!(
            mailbox.deliver(&frame(3), now, timeout),
            Delivery::Coalesced
        );
        assert_eq!(pending(&mailbox), Some(Ok(frame(3))));
        assert_eq!(pending(&mailbox), None);
        assert_eq!(mailbox.deliver(&frame(2), now, timeout), Delivery::Skipped);
        assert_eq!(mailbox.deliver(&frame(4), now, timeout), Delivery::Queued);
    }

    #[test]
    fn a_mailbox_full_for_the_slow_timeout_is_ended() {
        let mailbox = Mailbox::new(frame(1), None);
        let start = Instant::now();
        let timeout = Duration::from_millis(100);
        assert_eq!(
            mailbox.deliver(&frame(2), start, timeout),
            Delivery::Coalesced
        );
        let later = start + Duration::from_millis(99);
        assert_eq!(
            mailbox.deliver(&frame(3), later, timeout),
            Delivery::Coalesced
        );
        let too_late = start + Duration::from_millis(100);
        assert_eq!(
            mailbox.deliver(&frame(4), too_late, timeout),
            Delivery::Slow
        );
        assert_eq!(pending(&mailbox), Some(Err(End::Slow)));
        assert_eq!(
            mailbox.deliver(&frame(5), too_late, timeout),
            Delivery::Skipped
        );
    }

    #[test]
    fn taking_a_frame_resets_the_slow_clock() {
        let mailbox = Mailbox::new(frame(1), None);
        let start = Instant::now();
        let timeout = Duration::from_millis(100);
        assert_eq!(
            mailbox.deliver(&frame(2), start, timeout),
            Delivery::Coalesced
        );
        assert_eq!(pending(&mailbox), Some(Ok(frame(2))));
        let later = start + Duration::from_millis(150);
        assert_eq!(mailbox.deliver(&frame(3), later, timeout), Delivery::Queued);
        assert_eq!(
            mailbox.deliver(&frame(4), later, timeout),
            Delivery::Coalesced
        );
    }

    #[actix_web::test]
    async fn connections_are_bounded() {
        let hub = hub(10, 2);
        let first = hub.admit().expect("room for one");
        let _second = hub.admit().expect("room for two");
        assert!(hub.admit().is_none(), "a third is refused");
        drop(first);
        assert!(hub.admit().is_some(), "a freed place is reused");
    }

    #[actix_web::test]
    async fn pushes_are_coalesced_and_end_on_the_latest_state() {
        let interval = Duration::from_millis(50);
        let hub = hub(50, 10);
        let (sender, receiver) = watch::channel(Arc::new(FakeView(1)));
        let subscription = hub.subscribe(TopicKey::Activity(ActivityId(1)), receiver, None);
        let mailbox = Arc::clone(&subscription.mailbox);
        assert_eq!(
            mailbox.next().await,
            Ok(frame(1)),
            "first: the state at connect"
        );
        for version in 2..=200 {
            sender.send_replace(Arc::new(FakeView(version)));
            tokio::task::yield_now().await;
        }
        let mut received = Vec::new();
        while received.last().map(|(version, _)| *version) != Some(200) {
            let next = tokio::time::timeout(Duration::from_secs(2), mailbox.next()).await;
            let frame = next.expect("a frame within 2 s").expect("a live mailbox");
            received.push((frame.version, Instant::now()));
        }
        let versions: Vec<u64> = received.iter().map(|(version, _)| *version).collect();
        assert!(
            versions.windows(2).all(|pair| pair[0] < pair[1]),
            "{versions:?}"
        );
        assert!(
            versions.len() <= 4,
            "199 changes in a burst, few frames: {versions:?}"
        );
        for pair in received.windows(2) {
            let gap = pair[1].1.duration_since(pair[0].1);
            // The receiver may take a frame a little late, never the hub push it early.
            assert!(gap + Duration::from_millis(5) >= interval, "{gap:?} apart");
        }
        drop(subscription);
        assert_eq!(hub.topics(), 0, "the last subscriber retires its topic");
    }

    /// A view of activity 1 at `version` with `reserved` units reserved out of 10.
    fn activity_view(version: u64, reserved: u64) -> ActivityView {
        let config = ActivityConfig {
            template: TemplateCode::FlashSale,
            title: "test".to_owned(),
            store_id: "store".to_owned(),
            service_id: "service".to_owned(),
            price_cents: 100,
            unit_name: "unit".to_owned(),
            units_per_order: 1,
            stock_total: 10,
            per_user_limit: 1,
            start_at_ms: 0,
            end_at_ms: 1,
            pay_timeout_seconds: 60,
            rules: Rules::default(),
        };
        ActivityView {
            id: ActivityId(1),
            config: Arc::new(config),
            status: ActivityStatus::Online,
            approval_status: ApprovalStatus::Approved,
            stock: Stock {
                total: 10,
                available: 10 - reserved,
                reserved,
                sold: 0,
            },
            version,
            created_at_ms: 0,
            updated_at_ms: 0,
            gray: Arc::default(),
        }
    }

    #[actix_web::test]
    async fn nothing_is_pushed_before_the_journal_made_it_durable() {
        let published = Published::new(Arc::new(activity_view(1, 0)));
        let mut publisher = Publisher::new(published.clone());
        let hub = hub(1, 10);
        let key = TopicKey::Activity(ActivityId(1));
        let subscription = hub.subscribe(key, published.activity.subscribe(), None);
        let mailbox = Arc::clone(&subscription.mailbox);
        let first = mailbox.next().await.expect("the state at connect");
        assert!(first.text.contains(r#""reserved":0"#), "{first:?}");
        publisher.stage(10, Arc::new(activity_view(2, 1)), Vec::new());
        let quiet = Duration::from_millis(50);
        let early = tokio::time::timeout(quiet, mailbox.next()).await;
        assert!(
            early.is_err(),
            "staged but not durable: no push, got {early:?}"
        );
        publisher.publish_durable(9);
        let early = tokio::time::timeout(quiet, mailbox.next()).await;
        assert!(
            early.is_err(),
            "the watermark is short of it: no push, got {early:?}"
        );
        publisher.publish_durable(10);
        let pushed = tokio::time::timeout(Duration::from_secs(2), mailbox.next()).await;
        let frame = pushed
            .expect("pushed once durable")
            .expect("a live mailbox");
        assert_eq!(frame.version, 2);
        assert!(frame.text.contains(r#""reserved":1"#), "{frame:?}");
    }

    #[actix_web::test]
    async fn a_topic_has_one_fan_out_for_many_subscribers() {
        let hub = hub(10, 100);
        let (sender, receiver) = watch::channel(Arc::new(FakeView(1)));
        let key = TopicKey::Activity(ActivityId(7));
        let subscriptions: Vec<Subscription> = (0..50)
            .map(|_| hub.subscribe(key, receiver.clone(), None))
            .collect();
        assert_eq!(hub.topics(), 1);
        for subscription in &subscriptions {
            assert_eq!(subscription.mailbox.next().await, Ok(frame(1)));
        }
        sender.send_replace(Arc::new(FakeView(2)));
        for subscription in &subscriptions {
            let next = tokio::time::timeout(Duration::from_secs(2), subscription.mailbox.next());
            assert_eq!(next.await.expect("a push"), Ok(frame(2)));
        }
        drop(sender);
        for subscription in &subscriptions {
            let end = tokio::time::timeout(Duration::from_secs(2), subscription.mailbox.next());
            assert_eq!(end.await.expect("an end"), Err(End::SourceGone));
        }
    }
}

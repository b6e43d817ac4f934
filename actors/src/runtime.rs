//! The runtime: recovers every activity from the journal and snapshots, starts the actors
//! on an arbiter pool, runs the timeout supervisor, and shuts down in order.
//!
//! Start-up order: load snapshots, replay the journal after them, rebuild the eligibility
//! indexes from every recovered state, start the actors (which rebuild their timers), and
//! only then report ready. Shutdown: snapshot every actor, then
//! flush and sync the journal.

use crate::activity_actor::{now_ms, ActivityActor, ActorSettings, Shared, TakeSnapshot};
use crate::cold::ColdOrders;
use crate::domain::Rejection;
use crate::domain::{
    decide_create, ActivityConfig, ActivityId, ActivityState, Command, Event, EventKind,
};
use crate::durable::{self, Published, Publisher};
use crate::eligibility::{Eligibility, EligibilityOptions};
use crate::floors::SnapshotFloors;
use crate::mailbox::MailboxBound;
use crate::registry::{ActivityHandle, ExecuteError, Registry};
use crate::timers::{Deadline, DeadlineKind, Timers};
use crate::views::{activity_view, ActivityView};
use actix::Arbiter;
use playcore_snapshots::AppendError;
use playcore_snapshots::{
    decode, encode_into, recover_with, verify_with, Journal, JournalConfig, RecoveredSnapshot,
    Store, TailCut, Verified,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Most deadlines handled per timer tick, so one tick never starves the thread.
pub const DEADLINES_PER_TICK_MAX: usize = 50_000;

#[derive(Clone, Debug)]
pub struct RuntimeOptions {
    /// Arbiters (threads) the actors are spread over; 0 = one per core.
    pub arbiters: usize,
    pub actor: ActorSettings,
    pub journal: JournalConfig,
    pub activities_max: usize,
    pub timers_capacity: usize,
    pub timer_tick: Duration,
    /// Bounds of the eligibility indexes shared by all activities.
    pub eligibility: EligibilityOptions,
    /// The lowest journal seq a consumer outside the runtime still needs (the server's
    /// event indexer): truncation never removes it or anything after it. Set before
    /// [`Runtime::start`], so the first truncation already respects it; raised by its
    /// owner as it progresses. `u64::MAX` ([`no_truncation_hold`]) holds nothing.
    pub truncation_hold: Arc<AtomicU64>,
}

/// A truncation hold that holds nothing back (snapshot floors alone decide).
pub fn no_truncation_hold() -> Arc<AtomicU64> {
    Arc::new(AtomicU64::new(u64::MAX))
}

/// What recovery found, for the log and `/readyz`.
#[derive(Clone, Debug, Default)]
pub struct RecoveryReport {
    pub activities: usize,
    pub snapshots_loaded: usize,
    pub entries_replayed: usize,
    pub events_replayed: usize,
    pub tail_cut: Option<TailCut>,
    pub duration: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("storage: {0}")]
    Storage(String),
    #[error("journal entry {seq} of activity {stream} cannot be replayed: {reason}")]
    Replay {
        seq: u64,
        stream: u64,
        reason: String,
    },
}

pub struct Runtime {
    pub registry: Arc<Registry>,
    pub store: Store,
    pub recovery: RecoveryReport,
    journal: Journal,
    timers: Arc<Timers>,
    floors: Arc<SnapshotFloors>,
    eligibility: Arc<Eligibility>,
    arbiters: Vec<Arbiter>,
    next_activity: AtomicU64,
    options: RuntimeOptions,
}

/// Per activity: its state, the last entry applied, and the first entry recovery needed.
type Recovered = HashMap<u64, (ActivityState, u64, u64)>;

impl Runtime {
    /// Recovers and starts everything. Must run inside an actix `System`.
    pub fn start(store: Store, options: RuntimeOptions) -> Result<Arc<Runtime>, RuntimeError> {
        let started = Instant::now();
        let (states, mut report, next_seq) = replay(&store)?;
        let eligibility = Arc::new(Eligibility::new(options.eligibility));
        eligibility.rebuild(states.values().map(|(state, _, _)| state));
        let cold =
            ColdOrders::open(&store).map_err(|error| RuntimeError::Storage(error.to_string()))?;
        let journal = Journal::start(store.clone(), options.journal, next_seq);
        let next_activity = states.keys().max().map_or(1, |max| max + 1);
        let arbiter_count = if options.arbiters == 0 {
            cores()
        } else {
            options.arbiters
        };
        let runtime = Runtime {
            registry: Arc::new(Registry::new(
                journal.clone(),
                options.activities_max,
                Arc::new(cold),
            )),
            store,
            recovery: RecoveryReport::default(),
            journal,
            timers: Arc::new(Timers::new(options.timers_capacity)),
            floors: Arc::new(SnapshotFloors::default()),
            eligibility,
            arbiters: (0..arbiter_count).map(|_| Arbiter::new()).collect(),
            next_activity: AtomicU64::new(next_activity),
            options,
        };
        report.activities = states.len();
        for (_, (state, last_seq, floor_seq)) in states {
            runtime.floors.register(state.id, floor_seq);
            let handle = runtime.spawn_actor(state, last_seq);
            runtime.registry.insert(handle.0, handle.1);
        }
        report.duration = started.elapsed();
        let runtime = Arc::new(Runtime {
            recovery: report,
            ..runtime
        });
        runtime.spawn_timer_loop();
        Ok(runtime)
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn timers(&self) -> &Timers {
        &self.timers
    }

    /// The eligibility indexes every activity shares.
    pub fn eligibility(&self) -> &Eligibility {
        &self.eligibility
    }

    fn spawn_actor(&self, state: ActivityState, last_seq: u64) -> (ActivityId, ActivityHandle) {
        let id = state.id;
        let published = Published::new(Arc::new(activity_view(&state)));
        let publisher = Publisher::new(published.clone());
        let mailbox = Arc::new(MailboxBound::new(self.options.actor.mailbox_capacity));
        let shared = Shared {
            journal: self.journal.clone(),
            timers: Arc::clone(&self.timers),
            floors: Arc::clone(&self.floors),
            settings: self.options.actor.clone(),
            eligibility: Arc::clone(&self.eligibility),
        };
        let actor = ActivityActor::new(state, shared, publisher, Arc::clone(&mailbox), last_seq);
        let index = (id.0 as usize) % self.arbiters.len();
        let addr = actor.start_on(&self.arbiters[index].handle());
        (
            id,
            ActivityHandle {
                addr,
                published,
                mailbox,
            },
        )
    }

    /// Creates an activity in DRAFT; returns its view once ACTIVITY_CREATED is durable.
    pub async fn create_activity(
        &self,
        config: ActivityConfig,
        by: &str,
    ) -> Result<Arc<ActivityView>, ExecuteError> {
        if !self.registry.has_room() {
            return Err(ExecuteError::Overloaded);
        }
        let kind = decide_create(config.clone(), by)?;
        let id = ActivityId(self.next_activity.fetch_add(1, Ordering::Relaxed));
        // Registered before the append, so truncation never passes the creation entry.
        self.floors.register(id, self.journal.appended_seq() + 1);
        let now = now_ms();
        let events = vec![Event { at_ms: now, kind }];
        let seq = self
            .journal
            .append(id.0, |buffer| encode_into(&events, buffer))
            .map_err(|error| match error {
                AppendError::StorageFull => ExecuteError::Rejected(Rejection::StorageFull),
                _ => ExecuteError::Overloaded,
            })?;
        let state = ActivityState::created(id, config, by, now);
        let view = Arc::new(activity_view(&state));
        let (id, handle) = self.spawn_actor(state, seq);
        durable::wait(&self.journal, seq)
            .await
            .map_err(|_| ExecuteError::Unavailable)?;
        self.registry.insert(id, handle);
        Ok(view)
    }

    /// The timeout supervisor's loop (pops what is due and nudges the owning actors) and the
    /// truncation loop. Both end when the registry closes.
    fn spawn_timer_loop(self: &Arc<Self>) {
        let timers = Arc::clone(&self.timers);
        let registry = Arc::clone(&self.registry);
        let tick = self.options.timer_tick;
        let mut closing = registry.closing();
        actix::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => fire_due(&timers, &registry, now_ms(), tick),
                    _ = closing.wait_for(|closed| *closed) => break,
                }
            }
        });
        let (journal, floors) = (self.journal.clone(), Arc::clone(&self.floors));
        let hold = Arc::clone(&self.options.truncation_hold);
        let truncate_every = self.options.actor.snapshot_interval;
        let mut closing = self.registry.closing();
        actix::spawn(async move {
            let mut interval = tokio::time::interval(truncate_every);
            loop {
                tokio::select! {
                    _ = interval.tick() => truncate(&journal, &floors, &hold),
                    _ = closing.wait_for(|closed| *closed) => break,
                }
            }
        });
    }

    /// Snapshots every actor, then makes the journal durable and stops its writer; an error
    /// when the journal could not be made durable (see [`Runtime::close`]).
    pub async fn shutdown(&self) -> Result<(), RuntimeError> {
        for id in self.registry.ids() {
            let Some(handle) = self.registry.handle(id) else {
                continue;
            };
            let (done, finished) = oneshot::channel();
            if handle
                .addr
                .send(TakeSnapshot { done: Some(done) })
                .await
                .is_ok()
            {
                let _ = finished.await;
            }
        }
        self.close()
    }

    /// Makes the journal durable, stops its writer and the actors, without new snapshots.
    /// Everything is stopped either way; the error says that the journal could not flush
    /// and sync what it held, or had failed before (the process must not exit 0 then).
    pub fn close(&self) -> Result<(), RuntimeError> {
        let flushed = self.journal.shutdown();
        self.registry.close();
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        flushed.map_err(|error| {
            tracing::error!(%error, "journal shutdown failed");
            RuntimeError::Storage(format!("journal shutdown failed: {error}"))
        })
    }
}

/// Truncates below the lowest of the snapshot floors and the outside hold.
fn truncate(journal: &Journal, floors: &SnapshotFloors, hold: &AtomicU64) {
    let floor_seq = floors.truncation_floor().min(hold.load(Ordering::Acquire));
    if floor_seq > 0 {
        journal.truncate_below(floor_seq);
    }
}

fn fire_due(timers: &Timers, registry: &Registry, now: i64, tick: Duration) {
    let due = timers.pop_due(now, DEADLINES_PER_TICK_MAX);
    if due.is_empty() {
        return;
    }
    let (mut fired, mut retried) = (0, 0);
    for deadline in due {
        let command = match deadline.kind {
            DeadlineKind::Open => Command::Open,
            DeadlineKind::Close => Command::Close,
            DeadlineKind::ExpireOrder(order) => Command::ExpireOrder { order },
            DeadlineKind::ExpireGroup(group) => Command::ExpireGroup { group },
            DeadlineKind::CompleteRefund(order) => Command::CompleteRefund { order },
        };
        if registry.nudge(deadline.activity, command) {
            fired += 1;
        } else {
            retried += 1;
            let retry_at_ms = now + i64::try_from(tick.as_millis()).unwrap_or(50);
            timers.schedule(Deadline {
                due_at_ms: retry_at_ms,
                ..deadline
            });
        }
    }
    timers.record_tick(fired, retried);
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |count| count.get())
}

/// Loads snapshots and replays the journal after them, streaming: each entry is decoded
/// and applied as its record is read, so replay holds no second copy of the journal.
fn replay(store: &Store) -> Result<(Recovered, RecoveryReport, u64), RuntimeError> {
    let replayer = RefCell::new(Replayer::default());
    let recovered = recover_with(
        store,
        |snapshot| replayer.borrow_mut().snapshot(snapshot),
        |seq, stream, payload| replayer.borrow_mut().entry(seq, stream, payload),
    )
    .map_err(|error| RuntimeError::Storage(error.to_string()))?;
    let (states, mut report) = replayer.into_inner().finish()?;
    report.tail_cut = recovered.tail_cut.clone();
    Ok((states, report, recovered.next_seq))
}

/// What `playcore check` learns from a replay that changes nothing on disk.
#[derive(Debug, Clone)]
pub struct ReplayCheck {
    pub report: RecoveryReport,
    pub verified: Verified,
}

/// Verifies the store and replays every activity as start-up would, without changing
/// anything on disk and without starting actors or the journal.
pub fn check_replay(store: &Store) -> Result<ReplayCheck, RuntimeError> {
    let replayer = RefCell::new(Replayer::default());
    let verified = verify_with(
        store,
        |snapshot| replayer.borrow_mut().snapshot(snapshot),
        |seq, stream, payload| replayer.borrow_mut().entry(seq, stream, payload),
    )
    .map_err(|error| RuntimeError::Storage(error.to_string()))?;
    let (states, mut report) = replayer.into_inner().finish()?;
    report.activities = states.len();
    Ok(ReplayCheck { report, verified })
}

/// The replay's state: both callbacks update it, never at the same time; the first
/// failure stops it.
#[derive(Default)]
struct Replayer {
    states: Recovered,
    report: RecoveryReport,
    failure: Option<RuntimeError>,
}

impl Replayer {
    fn snapshot(&mut self, snapshot: RecoveredSnapshot) {
        if self.failure.is_none() {
            self.failure = load_snapshot(snapshot, &mut self.states, &mut self.report).err();
        }
    }

    fn entry(&mut self, seq: u64, stream: u64, payload: &[u8]) {
        if self.failure.is_none() {
            let outcome = replay_entry(&mut self.states, &mut self.report, seq, stream, payload);
            self.failure = outcome.err();
        }
    }

    fn finish(self) -> Result<(Recovered, RecoveryReport), RuntimeError> {
        match self.failure {
            Some(error) => Err(error),
            None => Ok((self.states, self.report)),
        }
    }
}

fn load_snapshot(
    snapshot: RecoveredSnapshot,
    states: &mut Recovered,
    report: &mut RecoveryReport,
) -> Result<(), RuntimeError> {
    let (stream, seq) = (snapshot.stream, snapshot.seq);
    let mut state: ActivityState =
        decode(&snapshot.payload).map_err(|error| RuntimeError::Replay {
            seq,
            stream,
            reason: format!("snapshot: {error}"),
        })?;
    state.rebuild_indexes();
    states.insert(stream, (state, seq, snapshot.floor_seq));
    report.snapshots_loaded += 1;
    Ok(())
}

fn replay_entry(
    states: &mut Recovered,
    report: &mut RecoveryReport,
    seq: u64,
    stream: u64,
    payload: &[u8],
) -> Result<(), RuntimeError> {
    if states
        .get(&stream)
        .is_some_and(|(_, snapshot_seq, _)| seq <= *snapshot_seq)
    {
        return Ok(());
    }
    let events: Vec<Event> = decode(payload).map_err(|error| RuntimeError::Replay {
        seq,
        stream,
        reason: error.to_string(),
    })?;
    apply_entry(states, stream, seq, &events)?;
    report.entries_replayed += 1;
    report.events_replayed += events.len();
    Ok(())
}

fn apply_entry(
    states: &mut Recovered,
    stream: u64,
    seq: u64,
    events: &[Event],
) -> Result<(), RuntimeError> {
    if let Some((state, last_seq, _)) = states.get_mut(&stream) {
        events.iter().for_each(|event| state.apply(event));
        *last_seq = seq;
        return Ok(());
    }
    match events.first() {
        Some(Event {
            at_ms,
            kind: EventKind::ActivityCreated { config, by },
        }) => {
            let mut state = ActivityState::created(ActivityId(stream), config.clone(), by, *at_ms);
            events[1..].iter().for_each(|event| state.apply(event));
            states.insert(stream, (state, seq, seq));
            Ok(())
        }
        _ => Err(RuntimeError::Replay {
            seq,
            stream,
            reason: "its first entry is not ACTIVITY_CREATED: the activity's snapshots are \
                     missing or damaged and the journal before this entry was truncated; run \
                     `playcore check`, then restore from the last backup (README, \"A node \
                     that refuses to start\")"
                .to_string(),
        }),
    }
}

//! The load engines: closed loop (a fixed number of connections, each sending as soon as
//! its previous answer arrived) and open loop (requests due at a fixed rate).
//!
//! In the open loop, unit `i` is due at `start + i / rate`, and its latency is measured
//! from that due time, not from when a connection got free to send it: when the server
//! stalls, the requests that should have gone out meanwhile count their waiting, so
//! coordinated omission cannot hide the stall.

use crate::api::{answer_code, TRANSPORT};
use crate::client::{Answer, Call, ClientError, Connection, Target};
use crate::progress::Progress;
use crate::recorder::{self, Recorded, Recorder, Timelines};
use crate::summary::PhaseSummary;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Open-loop sends are woken this much early, because tokio's timer fires on whole
/// milliseconds; a request is then sent at its due time or up to a millisecond before.
const TIMER_SLACK: Duration = Duration::from_millis(1);

/// One request of a unit, and which of the workload's kinds it counts under.
#[derive(Clone, Debug)]
pub struct Step {
    pub kind: usize,
    /// The step's place in its unit (0 for the first), for the workload's bookkeeping.
    pub number: u32,
    pub call: Call,
}

/// What a phase sends: units of one or more requests, each unit a chain where every step
/// may depend on the previous answer (a grab, then paying for it).
pub trait Workload: Send + Sync + 'static {
    /// How many units the phase has.
    fn units(&self) -> u64;
    /// The name of each kind of request, one report phase each.
    fn kinds(&self) -> Vec<String>;
    /// The first request of unit `index`.
    fn first(&self, index: u64) -> Step;
    /// The request after `step` given its outcome, if any. Observations are kept here.
    fn next(
        &self,
        index: u64,
        step: &Step,
        outcome: &Result<Answer, ClientError>,
        code: &'static str,
    ) -> Option<Step>;
}

/// How a phase is driven.
#[derive(Clone, Debug)]
pub struct Engine {
    pub target: Target,
    pub concurrency: u32,
    /// Units per second (open loop); `None` for the closed loop.
    pub rate: Option<f64>,
    /// No unit starts after this long.
    pub duration: Option<Duration>,
    pub timeout: Duration,
    pub quiet: bool,
}

struct Shared<W> {
    workload: Arc<W>,
    started: Instant,
    next_unit: AtomicU64,
    units: u64,
    rate: Option<f64>,
    deadline: Option<Instant>,
    done: Arc<AtomicU64>,
    timelines: Timelines,
}

/// Runs `workload` to the end (or the deadline) and summarizes each kind of request.
pub async fn run<W: Workload>(engine: &Engine, label: &str, workload: Arc<W>) -> Vec<PhaseSummary> {
    let names = workload.kinds();
    let units = workload.units();
    let connections = connect_all(engine).await;
    let timelines = recorder::timelines(names.len());
    let mut recorders: Vec<Recorder> = connections
        .iter()
        .map(|_| Recorder::new(names.len(), Instant::now(), timelines.clone()))
        .collect();
    let progress = Progress::start(label, units, engine.quiet);
    let started = Instant::now();
    recorders
        .iter_mut()
        .for_each(|recorder| recorder.start(started));
    let shared = Arc::new(Shared {
        workload,
        started,
        next_unit: AtomicU64::new(0),
        units,
        rate: engine.rate,
        deadline: engine.duration.map(|duration| started + duration),
        done: progress.counter(),
        timelines,
    });
    let workers: Vec<_> = connections
        .into_iter()
        .zip(recorders)
        .map(|(connection, recorder)| tokio::spawn(work(shared.clone(), connection, recorder)))
        .collect();
    let mut recorded: Vec<Recorded> = Vec::with_capacity(workers.len());
    for worker in workers {
        if let Ok(done) = worker.await {
            recorded.push(done);
        }
    }
    progress.finish();
    recorder::summarize(
        &names,
        &engine.target.url,
        started,
        &recorded,
        &shared.timelines,
    )
}

/// One connection per worker, all dialed and warmed up before the phase's clock starts.
async fn connect_all(engine: &Engine) -> Vec<Connection> {
    let dialing: Vec<_> = (0..engine.concurrency)
        .map(|_| {
            let mut connection = Connection::new(engine.target.clone(), engine.timeout);
            tokio::spawn(async move {
                connection.warm_up().await;
                connection
            })
        })
        .collect();
    let mut connections = Vec::with_capacity(dialing.len());
    for dial in dialing {
        match dial.await {
            Ok(connection) => connections.push(connection),
            Err(_) => connections.push(Connection::new(engine.target.clone(), engine.timeout)),
        }
    }
    connections
}

async fn work<W: Workload>(
    shared: Arc<Shared<W>>,
    mut connection: Connection,
    mut recorder: Recorder,
) -> Recorded {
    while let Some((index, due)) = next_unit(&shared).await {
        let mut step = shared.workload.first(index);
        let mut sent_at = due;
        loop {
            let outcome = connection.send(&step.call).await;
            let code = match &outcome {
                Ok(answer) => answer_code(answer),
                Err(_) => TRANSPORT,
            };
            recorder.record(step.kind, sent_at.elapsed(), code);
            match shared.workload.next(index, &step, &outcome, code) {
                Some(following) => {
                    step = following;
                    sent_at = Instant::now();
                }
                None => break,
            }
        }
        shared.done.fetch_add(1, Ordering::Relaxed);
    }
    recorder.finish()
}

/// Claims the next unit and waits for its due time; `None` when the phase is over. The
/// returned instant is where its latency is measured from.
async fn next_unit<W>(shared: &Shared<W>) -> Option<(u64, Instant)> {
    let index = shared.next_unit.fetch_add(1, Ordering::Relaxed);
    if index >= shared.units {
        return None;
    }
    let due = match shared.rate {
        Some(rate) => shared.started + Duration::from_secs_f64(index as f64 / rate),
        None => Instant::now(),
    };
    if shared.deadline.is_some_and(|deadline| due >= deadline) {
        return None;
    }
    if due > Instant::now() + TIMER_SLACK {
        tokio::time::sleep_until((due - TIMER_SLACK).into()).await;
    }
    // Sent early by the timer slack: measure from the real send, never before it.
    Some((index, due.min(Instant::now())))
}

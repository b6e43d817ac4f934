//! ws-fanout: `--subscribers` websockets on one activity while a flash rush runs on it.
//!
//! The subscribers connect first (at most [`CONNECTS_IN_FLIGHT`] handshakes at a time), on
//! a runtime of their own (one thread), so their frames never queue ahead of the rush's
//! requests in the rush's scheduler. Then the flash-rush workload runs unchanged, except
//! that the arrival instant of every 201 grab reply is noted, in arrival order.
//!
//! Push delay, without help from the server: a frame showing `reserved + sold = n` reflects
//! the n-th reservation; that state change is taken to happen when the n-th 201 reply
//! arrived (by then at least n reservations are durable and confirmed). The delay of the
//! frame is its arrival minus that instant, clamped at 0 (a push may beat the reply).
//! Only frames that raise a subscriber's `n` count (the first frame, the state at
//! connect, and frames that only move units from reserved to sold are not changes of `n`).
//! The phase "ws push delay" reports these delays (HDR), the frames counted, and the
//! subscribers connected, failed and dropped; the verdict of the rush still applies, with
//! two more checks: no subscriber was dropped, and every one ended on the final state.

use super::flash_rush::{flash_sale, shape, RushWorkload};
use super::grabs::{GrabBook, Payer};
use super::{engine, judge_grabs, Setup};
use crate::client::{Answer, ClientError, Target};
use crate::driver::{self, Step, Workload};
use crate::plan;
use crate::recorder::{latency_summary, timeline_point};
use crate::summary::{unix_ms_at, Check, PhaseSummary, Report, TimelinePoint};
use crate::{HarnessError, Options};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// Handshakes in flight at once while the subscribers connect (the server's listen
/// backlog is 4096; this stays well below it).
const CONNECTS_IN_FLIGHT: usize = 256;
/// How long all subscribers may take to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long after the rush the subscribers may take to show the final state.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Each client's read buffer: frames are ~150 bytes (tungstenite's default is 128 KiB,
/// which would be 1.3 GB for 10,000 subscribers).
const CLIENT_READ_BUFFER_BYTES: usize = 4096;
/// Frames a subscriber keeps for the delay computation; later ones are not measured.
const FRAMES_LOGGED_MAX: usize = 100_000;
/// `latest` slot of a subscriber that has not seen a frame.
const NO_FRAME: u64 = u64::MAX;
/// Delays above this are recorded as this.
const DELAY_US_MAX: u64 = 3_600_000_000;

pub async fn run(options: &Options, mut setup: Setup) -> Result<Report, HarnessError> {
    raise_open_files_limit();
    let spec = flash_sale(options);
    let activity = setup.admin.set_up(&spec).await?;
    let fleet = Fleet::start(&setup.target, &activity, options.subscribers)?;
    fleet.wait_connected().await;
    if !options.quiet {
        eprintln!(
            "{} subscribers connected, {} failed",
            fleet.shared.connected.load(Ordering::Acquire),
            fleet.shared.failed.load(Ordering::Acquire)
        );
    }
    let book = Arc::new(GrabBook::new(activity.clone(), plan::rush(&shape(options))));
    let workload = Arc::new(TimedRush {
        inner: RushWorkload {
            book: book.clone(),
            offset: 0,
            count: book.attempts.len(),
            payer: Some(Payer::new(options, spec.price_cents)),
        },
        successes: Mutex::new(Vec::new()),
    });
    let rush_started = Instant::now();
    let engine = engine(options, setup.target.clone());
    let mut phases = driver::run(&engine, "playcore grab", workload.clone()).await;
    for phase in &mut phases {
        phase.name = format!("playcore {}", phase.name);
    }
    phases.retain(|phase| phase.requests > 0);
    let stock = setup.admin.stock(&activity).await?;
    let final_taken = stock.reserved + stock.sold;
    let settled = fleet.settle(final_taken).await;
    let logs = fleet.stop();
    let successes = workload.successes();
    let delay = delay_phase(&logs, &successes, rush_started, &setup.target);
    let dropped = delay.codes.get("DROPPED").copied().unwrap_or(0);
    let connected = delay.codes.get("SUBSCRIBERS").copied().unwrap_or(0);
    phases.push(delay);
    let mut verdict = judge_grabs(options, &mut setup, &book, &activity).await?;
    let checks = fan_out_checks(
        options.subscribers,
        connected,
        dropped,
        settled,
        final_taken,
    );
    verdict.passed &= checks.iter().all(|check| check.passed);
    verdict.checks.extend(checks);
    Ok(Report {
        phases,
        verdict: Some(verdict),
        ..setup.report(options, &activity)
    })
}

fn fan_out_checks(
    requested: u64,
    connected: u64,
    dropped: u64,
    settled: u64,
    final_taken: u64,
) -> Vec<Check> {
    vec![
        Check {
            name: "every subscriber connected and stayed".to_owned(),
            passed: connected == requested && dropped == 0,
            detail: format!("{connected} of {requested} connected, {dropped} dropped"),
        },
        Check {
            name: "every subscriber ended on the final state".to_owned(),
            passed: settled == connected - dropped,
            detail: format!(
                "{settled} of {} saw reserved + sold = {final_taken} within {SETTLE_TIMEOUT:?}",
                connected - dropped
            ),
        },
    ]
}

/// The soft limit of open files up to the hard limit: each subscriber is a socket.
fn raise_open_files_limit() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }
}

/// The flash-rush workload, noting when each 201 grab reply arrived.
struct TimedRush {
    inner: RushWorkload,
    /// Arrival instants of 201 grab replies, in arrival order (at most one per attempt).
    successes: Mutex<Vec<Instant>>,
}

impl TimedRush {
    fn successes(&self) -> Vec<Instant> {
        self.successes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Workload for TimedRush {
    fn units(&self) -> u64 {
        self.inner.units()
    }

    fn kinds(&self) -> Vec<String> {
        self.inner.kinds()
    }

    fn first(&self, index: u64) -> Step {
        self.inner.first(index)
    }

    fn next(
        &self,
        index: u64,
        step: &Step,
        outcome: &Result<Answer, ClientError>,
        code: &'static str,
    ) -> Option<Step> {
        // The first step of a rush unit is its grab; 201 is a new reservation (a repeated
        // requestId answers 200 with the same order).
        let reserved = matches!(outcome, Ok(answer) if answer.status == 201);
        if step.number == 0 && reserved {
            let now = Instant::now();
            self.successes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(now);
        }
        self.inner.next(index, step, outcome, code)
    }
}

/// What one subscriber saw.
#[derive(Default)]
struct SubscriberLog {
    connected: bool,
    /// The connection ended before the harness closed it.
    dropped: bool,
    /// `(reserved + sold, arrival)` of each frame that raised it, after the first frame.
    changes: Vec<(u64, Instant)>,
}

/// Counters the subscribers update and the scenario polls.
struct FleetShared {
    connected: AtomicU64,
    failed: AtomicU64,
    /// Per subscriber: the `reserved + sold` of its latest frame, or [`NO_FRAME`].
    latest: Vec<AtomicU64>,
}

/// The subscribers, on a thread and runtime of their own.
struct Fleet {
    shared: Arc<FleetShared>,
    stop: watch::Sender<bool>,
    thread: std::thread::JoinHandle<Vec<SubscriberLog>>,
}

impl Fleet {
    fn start(target: &Target, activity: &str, count: u64) -> Result<Fleet, HarnessError> {
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        let shared = Arc::new(FleetShared {
            connected: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            latest: (0..count).map(|_| AtomicU64::new(NO_FRAME)).collect(),
        });
        let (stop, stopped) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (fleet_shared, address) = (shared.clone(), target.address);
        let url = format!("ws://{address}/ws/activities/{activity}");
        let thread = std::thread::Builder::new()
            .name("ws-subscribers".to_owned())
            .spawn(move || runtime.block_on(subscribe_all(url, count, fleet_shared, stopped)))?;
        Ok(Fleet {
            shared,
            stop,
            thread,
        })
    }

    async fn wait_connected(&self) {
        let total = self.shared.latest.len() as u64;
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        while Instant::now() < deadline {
            let done = self.shared.connected.load(Ordering::Acquire)
                + self.shared.failed.load(Ordering::Acquire);
            if done >= total {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every subscriber with frames shows `final_taken`; returns how many do.
    async fn settle(&self, final_taken: u64) -> u64 {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let at_final = self.count_at(final_taken);
            let live = self
                .shared
                .latest
                .iter()
                .filter(|slot| slot.load(Ordering::Acquire) != NO_FRAME)
                .count() as u64;
            if at_final >= live || Instant::now() >= deadline {
                return at_final;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn count_at(&self, taken: u64) -> u64 {
        let at = |slot: &AtomicU64| slot.load(Ordering::Acquire) == taken;
        self.shared.latest.iter().filter(|slot| at(slot)).count() as u64
    }

    /// Closes every subscriber and returns what each saw.
    fn stop(self) -> Vec<SubscriberLog> {
        self.stop.send_replace(true);
        self.thread.join().unwrap_or_default()
    }
}

async fn subscribe_all(
    url: String,
    count: usize,
    shared: Arc<FleetShared>,
    stopped: watch::Receiver<bool>,
) -> Vec<SubscriberLog> {
    let permits = Arc::new(Semaphore::new(CONNECTS_IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..count {
        let subscriber = Subscriber {
            index,
            url: url.clone(),
            shared: shared.clone(),
            stopped: stopped.clone(),
        };
        tasks.spawn(subscriber.run(permits.clone()));
    }
    let mut logs = Vec::with_capacity(count);
    while let Some(log) = tasks.join_next().await {
        logs.push(log.unwrap_or_default());
    }
    logs
}

struct Subscriber {
    index: usize,
    url: String,
    shared: Arc<FleetShared>,
    stopped: watch::Receiver<bool>,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

impl Subscriber {
    async fn run(self, permits: Arc<Semaphore>) -> SubscriberLog {
        let permit = permits.acquire_owned().await;
        let connected = connect(&self.url).await;
        drop(permit);
        let Some(mut socket) = connected else {
            self.shared.failed.fetch_add(1, Ordering::AcqRel);
            return SubscriberLog::default();
        };
        self.shared.connected.fetch_add(1, Ordering::AcqRel);
        let mut log = SubscriberLog {
            connected: true,
            ..SubscriberLog::default()
        };
        let mut stopped = self.stopped.clone();
        loop {
            tokio::select! {
                // The stop signal only ever turns true (or its sender goes away).
                _ = stopped.changed() => {
                    let _ = socket.close(None).await;
                    return log;
                }
                message = socket.next() => match message {
                    Some(Ok(Message::Text(text))) => self.note(&mut log, text.as_str()),
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        log.dropped = true;
                        return log;
                    }
                },
            }
        }
    }

    /// Notes a frame that raised `reserved + sold`.
    fn note(&self, log: &mut SubscriberLog, text: &str) {
        let Some(taken) = taken(text) else {
            return;
        };
        let arrived = Instant::now();
        let slot = &self.shared.latest[self.index];
        let previous = slot.swap(taken, Ordering::AcqRel);
        let raised = previous != NO_FRAME && taken > previous;
        if raised && log.changes.len() < FRAMES_LOGGED_MAX {
            log.changes.push((taken, arrived));
        }
    }
}

async fn connect(url: &str) -> Option<Socket> {
    let authority = url.strip_prefix("ws://")?.split('/').next()?;
    let stream = tokio::net::TcpStream::connect(authority).await.ok()?;
    let config = WebSocketConfig::default()
        .read_buffer_size(CLIENT_READ_BUFFER_BYTES)
        .write_buffer_size(0);
    let handshake = tokio_tungstenite::client_async_with_config(url, stream, Some(config));
    let (socket, _) = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
        .await
        .ok()?
        .ok()?;
    Some(socket)
}

#[derive(serde::Deserialize)]
struct FrameStock {
    reserved: u64,
    sold: u64,
}

#[derive(serde::Deserialize)]
struct Frame {
    stock: FrameStock,
}

/// `reserved + sold` of an activity frame.
fn taken(text: &str) -> Option<u64> {
    let frame: Frame = serde_json::from_str(text).ok()?;
    Some(frame.stock.reserved + frame.stock.sold)
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, DELAY_US_MAX, 3).expect("static histogram bounds are valid")
}

/// The push delays of every logged change, as one report phase.
fn delay_phase(
    logs: &[SubscriberLog],
    successes: &[Instant],
    rush_started: Instant,
    target: &Target,
) -> PhaseSummary {
    let mut total = histogram();
    let mut seconds: Vec<Histogram<u64>> = Vec::new();
    let mut unmatched = 0;
    let mut last_arrival = rush_started;
    for (taken, arrived) in logs.iter().flat_map(|log| log.changes.iter().copied()) {
        let Some(changed) = usize::try_from(taken)
            .ok()
            .and_then(|n| successes.get(n.checked_sub(1)?))
        else {
            unmatched += 1;
            continue;
        };
        let delay_us = arrived.saturating_duration_since(*changed).as_micros() as u64;
        let delay_us = delay_us.clamp(1, DELAY_US_MAX);
        total.saturating_record(delay_us);
        let second = arrived.saturating_duration_since(rush_started).as_secs() as usize;
        if seconds.len() <= second {
            seconds.resize_with(second + 1, histogram);
        }
        seconds[second].saturating_record(delay_us);
        last_arrival = last_arrival.max(arrived);
    }
    let elapsed_seconds = last_arrival.duration_since(rush_started).as_secs_f64();
    let frames = total.len();
    PhaseSummary {
        name: "ws push delay".to_owned(),
        target: target.url.clone(),
        started_at_unix_ms: unix_ms_at(rush_started),
        requests: frames,
        elapsed_seconds,
        throughput_per_second: frames as f64 / elapsed_seconds.max(1e-9),
        latency: latency_summary(&total),
        codes: fleet_codes(logs, frames, unmatched),
        timeline: timeline(&seconds),
    }
}

/// Counts of the fan-out, shown where a phase shows its answers by code.
fn fleet_codes(logs: &[SubscriberLog], frames: u64, unmatched: u64) -> BTreeMap<String, u64> {
    let connected = logs.iter().filter(|log| log.connected).count() as u64;
    let dropped = logs.iter().filter(|log| log.dropped).count() as u64;
    let failed = logs.len() as u64 - connected;
    BTreeMap::from([
        ("OK".to_owned(), frames),
        ("SUBSCRIBERS".to_owned(), connected),
        ("CONNECT_FAILED".to_owned(), failed),
        ("DROPPED".to_owned(), dropped),
        ("UNMATCHED".to_owned(), unmatched),
    ])
}

fn timeline(seconds: &[Histogram<u64>]) -> Vec<TimelinePoint> {
    seconds
        .iter()
        .enumerate()
        .filter(|(_, histogram)| !histogram.is_empty())
        .map(|(second, histogram)| timeline_point(second, histogram))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_reads_reserved_plus_sold() {
        let frame = r#"{"type":"activity","activityId":"1","status":"ONLINE",
            "stock":{"total":10,"available":5,"reserved":3,"sold":2},"version":9}"#;
        assert_eq!(taken(frame), Some(5));
        assert_eq!(taken("not json"), None);
    }

    #[test]
    fn a_delay_runs_from_the_nth_success_to_the_frame() {
        let start = Instant::now();
        let successes: Vec<Instant> = (1..=3)
            .map(|ms| start + Duration::from_millis(ms * 10))
            .collect();
        let log = SubscriberLog {
            connected: true,
            dropped: false,
            // n = 2 arrives 50 ms after the 2nd success; n = 3 before the 3rd (clamped);
            // n = 4 has no success (unmatched).
            changes: vec![
                (2, start + Duration::from_millis(70)),
                (3, start + Duration::from_millis(25)),
                (4, start + Duration::from_millis(90)),
            ],
        };
        let target = dummy_target();
        let phase = delay_phase(&[log], &successes, start, &target);
        assert_eq!(phase.requests, 2);
        assert_eq!(phase.codes["UNMATCHED"], 1);
        assert_eq!(phase.codes["SUBSCRIBERS"], 1);
        let max_ms = phase.latency.max_us / 1000;
        assert!((49..=51).contains(&max_ms), "{:?}", phase.latency);
        assert!(phase.latency.p50_us <= 1, "the early frame is clamped to 0");
    }

    fn dummy_target() -> Target {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime
            .block_on(Target::parse("http://127.0.0.1:1"))
            .expect("a target")
    }
}

//! The lifecycle scheduler: the health supervisor, the archiver, and the record of every
//! scheduler run.
//!
//! Three tasks run beside the timeout supervisor of `playcore-actors` (whose deadline queue
//! ticks every `actors.timer_tick_ms`):
//!
//! - **timeouts**: the tick loop only counts what it does ([`Timers::totals`]); every
//!   [`TIMEOUTS_WINDOW`] this task reads the totals and records one run for the window if
//!   the loop handed deadlines to actors or had to put some back (items = deadlines fired,
//!   errors = deadlines put back because a mailbox was full). Idle windows and individual
//!   ticks are not recorded: 20 ticks a second would flush the log in a minute.
//! - **health**: every `scheduler.health_interval_seconds`, checks the journal (lag between
//!   the appended and durable positions, pending events against the bound), and per
//!   activity its mailbox depth and, through one `Read` in its actor, unpaid orders and open
//!   groups past their deadline by more than `scheduler.overdue_grace_ms`. Work per run is
//!   bounded: at most [`HEALTH_ACTIVITIES_PER_RUN_MAX`] activities (a rotating offset
//!   reaches the others in the next runs) and `scheduler.scan_items_per_activity_max`
//!   orders and groups each (a cursor per activity carries on from there). An activity
//!   whose mailbox is already deep is not read: the check must not add to the load.
//! - **archive**: every `scheduler.archive_interval_seconds`, moves terminal orders older
//!   than `scheduler.archive_after_seconds` into the cold store (see [`crate::scheduler::archive`]);
//!   items = orders archived, errors = reads, cold writes or archive commands that failed.
//!
//! When the delivery engine is watched ([`Scheduler::watch_deliveries`]), each health run
//! also checks every subscription ([`check_delivery`]): a lag beyond
//! `scheduler.delivery_lag_events_max` events or `scheduler.delivery_lag_seconds_max`
//! seconds, and a backlog that filled (pending events moved to dead letters) since the last
//! run.
//!
//! Each finding raises an alert: the counter `playcore_scheduler_alerts_total{kind}` and
//! an entry in a bounded in-memory [`AlertLog`] (`GET /admin/v1/scheduler/alerts`). Alerts
//! are not written to the activities' journal streams: an event there would change the
//! activity's version and state (replayed at recovery, pushed to websockets) for what is
//! an observation about the process, not a business fact, and a lagging journal could not
//! record its own lag. The checks themselves are pure functions over probes of the state
//! ([`check_journal`], [`check_mailbox`], [`check_overdue`]).
//!
//! The tasks stop when [`Scheduler::stop`] is called (shutdown, before the core) or when
//! the runtime closes.

pub(crate) mod archive;
pub(crate) mod routes;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use playcore_actors::activity_actor::now_ms;
use playcore_actors::domain::state::{ActivityState, OrderStatus};
use playcore_actors::domain::ActivityId;
use playcore_actors::timers::{TimerTotals, Timers};
use playcore_actors::ExecuteError;
use tokio::sync::watch;

use crate::config::Settings;
use crate::core::Core;
use crate::delivery::{Deliveries, SubscriptionStatus};
use crate::flow::Flow;
use crate::scheduler::archive::{archive_run, ArchiveLimits, ArchiveProgress};
use crate::telemetry::Metrics;

/// Runs kept in the run log; the oldest is dropped past it.
pub const RUNS_CAPACITY: usize = 1_000;
/// Alerts kept in the alert log; the oldest is dropped past it.
pub const ALERTS_CAPACITY: usize = 1_000;
/// The timeouts task aggregates the tick loop's work over this window.
pub const TIMEOUTS_WINDOW: Duration = Duration::from_secs(1);
/// Activities one health run examines at most.
pub const HEALTH_ACTIVITIES_PER_RUN_MAX: usize = 1_000;

/// A scheduler task with a run record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Task {
    Timeouts,
    Health,
    Archive,
}

impl Task {
    pub const ALL: [Task; 3] = [Task::Timeouts, Task::Health, Task::Archive];

    pub fn name(self) -> &'static str {
        match self {
            Task::Timeouts => "timeouts",
            Task::Health => "health",
            Task::Archive => "archive",
        }
    }

    pub fn parse(name: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|task| task.name() == name)
    }
}

/// One run of a scheduler task. Times are milliseconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub seq: u64,
    pub task: Task,
    pub started_at_ms: i64,
    pub ended_at_ms: i64,
    pub items_processed: u64,
    pub errors: u64,
}

/// What is recorded of a run before the log numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    pub started_at_ms: i64,
    pub ended_at_ms: i64,
    pub items_processed: u64,
    pub errors: u64,
}

/// A bounded ring of numbered entries, newest last. A std mutex: held for a push or a
/// copy of at most `capacity` entries, never across an await.
struct Ring<T> {
    entries: Mutex<VecDeque<T>>,
    next_seq: AtomicU64,
    capacity: usize,
}

impl<T: Clone> Ring<T> {
    fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(VecDeque::with_capacity(capacity)),
            next_seq: AtomicU64::new(1),
            capacity: capacity.max(1),
        }
    }

    fn push(&self, make: impl FnOnce(u64) -> T) -> T {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = make(self.next_seq.fetch_add(1, Ordering::Relaxed));
        if entries.len() == self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry.clone());
        entry
    }

    /// At most `limit` entries that `keep` accepts, newest first.
    fn newest(&self, limit: usize, keep: impl Fn(&T) -> bool) -> Vec<T> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .rev()
            .filter(|entry| keep(entry))
            .take(limit)
            .cloned()
            .collect()
    }

    fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The last [`RUNS_CAPACITY`] runs of every task.
pub struct RunLog {
    ring: Ring<Run>,
}

impl RunLog {
    pub fn new(capacity: usize) -> Self {
        Self {
            ring: Ring::new(capacity),
        }
    }

    pub fn record(&self, task: Task, outcome: RunOutcome) -> Run {
        self.ring.push(|seq| Run {
            seq,
            task,
            started_at_ms: outcome.started_at_ms,
            ended_at_ms: outcome.ended_at_ms,
            items_processed: outcome.items_processed,
            errors: outcome.errors,
        })
    }

    /// At most `limit` runs, newest first, of `task` (every task when `None`).
    pub fn recent(&self, task: Option<Task>, limit: usize) -> Vec<Run> {
        self.ring
            .newest(limit, |run| task.is_none_or(|task| run.task == task))
    }

    pub fn len(&self) -> usize {
        self.ring.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a health check can find.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// PENDING_PAY past its deadline by more than the grace: the timer did not expire it.
    StuckUnpaidOrder,
    /// An open group past its expiry by more than the grace.
    OverdueGroup,
    /// Journal entries assigned but not yet durable: replies are waiting on the disk.
    JournalLag,
    /// Pending journal events near the journal's bound: appends will soon be refused.
    JournalBacklog,
    /// An activity's mailbox near its bound: requests will soon get 503 OVERLOADED.
    MailboxDepth,
    /// A delivery subscription (a webhook endpoint, an internal consumer) lags behind the
    /// events by more than the threshold, in events or in seconds.
    DeliveryLag,
    /// A delivery subscription's backlog filled: its oldest pending events went to dead
    /// letters.
    DeliveryBacklogFull,
    /// Flow control refused more requests per minute than the threshold since the
    /// previous run (a bot wave, or limits set too tight).
    RateLimitSpike,
}

impl AlertKind {
    pub const ALL: [AlertKind; 8] = [
        AlertKind::StuckUnpaidOrder,
        AlertKind::OverdueGroup,
        AlertKind::JournalLag,
        AlertKind::JournalBacklog,
        AlertKind::MailboxDepth,
        AlertKind::DeliveryLag,
        AlertKind::DeliveryBacklogFull,
        AlertKind::RateLimitSpike,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AlertKind::StuckUnpaidOrder => "STUCK_UNPAID_ORDER",
            AlertKind::OverdueGroup => "OVERDUE_GROUP",
            AlertKind::JournalLag => "JOURNAL_LAG",
            AlertKind::JournalBacklog => "JOURNAL_BACKLOG",
            AlertKind::MailboxDepth => "MAILBOX_DEPTH",
            AlertKind::DeliveryLag => "DELIVERY_LAG",
            AlertKind::DeliveryBacklogFull => "DELIVERY_BACKLOG_FULL",
            AlertKind::RateLimitSpike => "RATE_LIMIT_SPIKE",
        }
    }

    pub fn parse(name: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// One finding of a health check: what was observed against which limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub kind: AlertKind,
    pub activity: Option<ActivityId>,
    /// The measured value (a count, a lag in events, a depth …).
    pub observed: u64,
    pub limit: u64,
    pub message: String,
}

/// A finding as raised: numbered and timed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub seq: u64,
    pub raised_at_ms: i64,
    pub finding: Finding,
}

/// The last [`ALERTS_CAPACITY`] alerts.
pub struct AlertLog {
    ring: Ring<Alert>,
}

impl AlertLog {
    pub fn new(capacity: usize) -> Self {
        Self {
            ring: Ring::new(capacity),
        }
    }

    pub fn raise(&self, finding: Finding, raised_at_ms: i64) -> Alert {
        self.ring.push(|seq| Alert {
            seq,
            raised_at_ms,
            finding,
        })
    }

    /// At most `limit` alerts, newest first, of `kind` (every kind when `None`).
    pub fn recent(&self, kind: Option<AlertKind>, limit: usize) -> Vec<Alert> {
        self.ring.newest(limit, |alert| {
            kind.is_none_or(|kind| alert.finding.kind == kind)
        })
    }
}

/// The thresholds of the health checks, from the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub overdue_grace_ms: i64,
    pub journal_lag_events_max: u64,
    pub journal_pending_percent_max: u64,
    pub journal_capacity_events: u64,
    pub mailbox_depth_percent_max: u64,
    pub mailbox_capacity: u64,
    pub scan_items_per_activity_max: usize,
    pub delivery_lag_events_max: u64,
    pub delivery_lag_seconds_max: u64,
}

impl Limits {
    pub fn from_settings(settings: &Settings) -> Self {
        let scheduler = &settings.scheduler;
        Self {
            overdue_grace_ms: i64::try_from(scheduler.overdue_grace_ms).unwrap_or(i64::MAX),
            journal_lag_events_max: scheduler.journal_lag_events_max,
            journal_pending_percent_max: scheduler.journal_pending_percent_max,
            journal_capacity_events: settings.storage.journal_capacity_events,
            mailbox_depth_percent_max: scheduler.mailbox_depth_percent_max,
            mailbox_capacity: settings.actors.mailbox_capacity as u64,
            scan_items_per_activity_max: scheduler.scan_items_per_activity_max,
            delivery_lag_events_max: scheduler.delivery_lag_events_max,
            delivery_lag_seconds_max: scheduler.delivery_lag_seconds_max,
        }
    }
}

/// The journal's positions and queue at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalProbe {
    pub appended_seq: u64,
    pub durable_seq: u64,
    pub pending_events: u64,
}

/// `part` as a share of `whole` is above `percent_max`, in integers (no floats).
fn above_percent(part: u64, whole: u64, percent_max: u64) -> bool {
    u128::from(part) * 100 > u128::from(whole) * u128::from(percent_max)
}

/// Journal lag and backlog: at most one finding each.
pub fn check_journal(probe: JournalProbe, limits: &Limits) -> Vec<Finding> {
    let mut findings = Vec::new();
    let lag = probe.appended_seq.saturating_sub(probe.durable_seq);
    if lag > limits.journal_lag_events_max {
        findings.push(Finding {
            kind: AlertKind::JournalLag,
            activity: None,
            observed: lag,
            limit: limits.journal_lag_events_max,
            message: format!(
                "journal entries {}..={} are not durable yet",
                probe.durable_seq + 1,
                probe.appended_seq
            ),
        });
    }
    let capacity = limits.journal_capacity_events;
    if above_percent(
        probe.pending_events,
        capacity,
        limits.journal_pending_percent_max,
    ) {
        findings.push(Finding {
            kind: AlertKind::JournalBacklog,
            activity: None,
            observed: probe.pending_events,
            limit: capacity * limits.journal_pending_percent_max / 100,
            message: format!(
                "{} journal events pending of a capacity of {capacity}",
                probe.pending_events
            ),
        });
    }
    findings
}

/// An activity's mailbox above its share of the capacity.
pub fn check_mailbox(activity: ActivityId, depth: usize, limits: &Limits) -> Option<Finding> {
    let depth = depth as u64;
    let capacity = limits.mailbox_capacity;
    above_percent(depth, capacity, limits.mailbox_depth_percent_max).then(|| Finding {
        kind: AlertKind::MailboxDepth,
        activity: Some(activity),
        observed: depth,
        limit: capacity * limits.mailbox_depth_percent_max / 100,
        message: format!(
            "activity {activity}: {depth} messages waiting of a capacity of {capacity}"
        ),
    })
}

/// Refusals per minute over `elapsed_ms` above `per_minute_max`.
pub fn check_refusals(refusals: u64, elapsed_ms: i64, per_minute_max: u64) -> Option<Finding> {
    let elapsed_ms = u64::try_from(elapsed_ms).unwrap_or(0).max(1);
    let per_minute =
        u64::try_from(u128::from(refusals) * 60_000 / u128::from(elapsed_ms)).unwrap_or(u64::MAX);
    (per_minute > per_minute_max).then(|| Finding {
        kind: AlertKind::RateLimitSpike,
        activity: None,
        observed: per_minute,
        limit: per_minute_max,
        message: format!(
            "flow control refused {refusals} requests in {elapsed_ms} ms ({per_minute} per minute)"
        ),
    })
}

/// A delivery subscription's lag beyond the thresholds, and a backlog that overflowed
/// since the previous run (`overflowed_before`: its count then).
pub fn check_delivery(
    status: &SubscriptionStatus,
    overflowed_before: u64,
    limits: &Limits,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let id = &status.id;
    if status.lag_events > limits.delivery_lag_events_max {
        findings.push(Finding {
            kind: AlertKind::DeliveryLag,
            activity: None,
            observed: status.lag_events,
            limit: limits.delivery_lag_events_max,
            message: format!("{id}: {} events not yet delivered", status.lag_events),
        });
    } else if status.lag_seconds > limits.delivery_lag_seconds_max {
        findings.push(Finding {
            kind: AlertKind::DeliveryLag,
            activity: None,
            observed: status.lag_seconds,
            limit: limits.delivery_lag_seconds_max,
            message: format!(
                "{id}: the oldest undelivered event is {} s old",
                status.lag_seconds
            ),
        });
    }
    let overflowed = status.backlog_overflowed.saturating_sub(overflowed_before);
    if overflowed > 0 {
        findings.push(Finding {
            kind: AlertKind::DeliveryBacklogFull,
            activity: None,
            observed: overflowed,
            limit: 0,
            message: format!(
                "{id}: backlog full, {overflowed} oldest pending events went to dead letters"
            ),
        });
    }
    findings
}

/// Something with a deadline still open: an unpaid order or an open group (by number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeadlineProbe {
    pub number: u64,
    pub due_at_ms: i64,
}

/// One finding per activity and kind for the open items past their deadline by more than
/// the grace: their count, naming the most overdue.
pub fn check_overdue(
    activity: ActivityId,
    kind: AlertKind,
    open: &[DeadlineProbe],
    now_ms: i64,
    limits: &Limits,
) -> Option<Finding> {
    let cutoff_ms = now_ms.saturating_sub(limits.overdue_grace_ms);
    let overdue = open.iter().filter(|probe| probe.due_at_ms < cutoff_ms);
    let count = overdue.clone().count() as u64;
    let oldest = overdue.min_by_key(|probe| probe.due_at_ms)?;
    let what = match kind {
        AlertKind::OverdueGroup => format!("grp-{activity}-{}", oldest.number),
        _ => format!("ord-{activity}-{}", oldest.number),
    };
    let late_ms = now_ms.saturating_sub(oldest.due_at_ms);
    Some(Finding {
        kind,
        activity: Some(activity),
        observed: count,
        limit: 0,
        message: format!("{count} past their deadline; {what} by {late_ms} ms"),
    })
}

/// Where the next health run resumes scanning an activity's orders and groups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanCursor {
    pub order_index: usize,
    pub group_index: usize,
}

/// What one bounded scan of an activity's state found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivityScan {
    pub unpaid_orders: Vec<DeadlineProbe>,
    pub open_groups: Vec<DeadlineProbe>,
    pub scanned: u64,
    pub next: ScanCursor,
}

/// Scans at most `budget` orders and `budget` groups from `cursor` (runs in the actor, so
/// it is bounded); the cursor wraps to the start past the end.
pub fn scan_activity(state: &ActivityState, cursor: ScanCursor, budget: usize) -> ActivityScan {
    let mut scan = ActivityScan::default();
    let orders = state.orders.iter_from(cursor.order_index).take(budget);
    for (offset, order) in orders.enumerate() {
        scan.scanned += 1;
        if order.status == OrderStatus::PendingPay {
            let number = (cursor.order_index + offset + 1) as u64;
            scan.unpaid_orders.push(DeadlineProbe {
                number,
                due_at_ms: order.expires_at_ms().unwrap_or(i64::MAX),
            });
        }
    }
    let groups = state.groups.iter_from(cursor.group_index).take(budget);
    for (offset, group) in groups.enumerate() {
        scan.scanned += 1;
        if group.status.is_open() {
            let number = (cursor.group_index + offset + 1) as u64;
            scan.open_groups.push(DeadlineProbe {
                number,
                due_at_ms: group.expires_at_ms,
            });
        }
    }
    scan.next = ScanCursor {
        order_index: wrap(cursor.order_index + budget, state.orders.len()),
        group_index: wrap(cursor.group_index + budget, state.groups.len()),
    };
    scan
}

fn wrap(index: usize, length: usize) -> usize {
    if index >= length {
        0
    } else {
        index
    }
}

/// Where the health task resumes: the rotating offset over activities and each
/// activity's cursor (one entry per live activity, so bounded by `actors.max_activities`).
#[derive(Debug, Default)]
struct HealthProgress {
    activity_offset: usize,
    cursors: HashMap<ActivityId, ScanCursor>,
    /// Per delivery subscription, its backlog overflow count at the previous run (one
    /// entry per subscription).
    overflowed: HashMap<String, u64>,
}

/// What a health run counted.
#[derive(Debug, Default)]
struct HealthTally {
    items: u64,
    errors: u64,
    findings: Vec<Finding>,
}

/// The run log, the alert log and the tasks that fill them; shared with the routes.
pub struct Scheduler {
    pub runs: RunLog,
    pub alerts: AlertLog,
    metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
    deliveries: OnceLock<Arc<Deliveries>>,
    flow: OnceLock<Arc<Flow>>,
    /// Flow control's refusal total and when it was read, at the previous health run.
    flow_seen: Mutex<Option<(u64, i64)>>,
}

impl Scheduler {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            runs: RunLog::new(RUNS_CAPACITY),
            alerts: AlertLog::new(ALERTS_CAPACITY),
            metrics,
            stop: watch::channel(false).0,
            deliveries: OnceLock::new(),
            flow: OnceLock::new(),
            flow_seen: Mutex::new(None),
        }
    }

    /// Adds the delivery engine's subscriptions to the health checks (once; later calls
    /// are ignored).
    pub fn watch_deliveries(&self, deliveries: Arc<Deliveries>) {
        let _ = self.deliveries.set(deliveries);
    }

    /// Adds flow control's refusals to the health checks (once; later calls are ignored).
    pub(crate) fn watch_flow(&self, flow: Arc<Flow>) {
        let _ = self.flow.set(flow);
    }

    /// Starts the timeouts, health and archive tasks on the current actix system.
    pub fn start(scheduler: Arc<Self>, core: Arc<Core>, settings: &Settings) {
        let interval = Duration::from_secs(settings.scheduler.health_interval_seconds.max(1));
        let limits = Limits::from_settings(settings);
        let archive_every = Duration::from_secs(settings.scheduler.archive_interval_seconds.max(1));
        let archive_limits = ArchiveLimits::from_settings(settings);
        actix_web::rt::spawn(Arc::clone(&scheduler).timeouts_task(Arc::clone(&core)));
        actix_web::rt::spawn(Arc::clone(&scheduler).health_task(
            Arc::clone(&core),
            interval,
            limits,
        ));
        actix_web::rt::spawn(scheduler.archive_task(core, archive_every, archive_limits));
    }

    /// Stops the tasks (a health or archive run in progress is abandoned; an archive batch
    /// cut short leaves its orders live, see [`crate::scheduler::archive`]).
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    async fn timeouts_task(self: Arc<Self>, core: Arc<Core>) {
        let mut stopping = Stopping::new(self.stop.subscribe(), core.runtime.registry.closing());
        let mut interval = tokio::time::interval(TIMEOUTS_WINDOW);
        let mut window_start_ms = now_ms();
        let mut previous = core.runtime.timers().totals();
        while stopping.unless_stopped(interval.tick()).await.is_some() {
            let now = now_ms();
            previous =
                self.record_timeouts_window(core.runtime.timers(), previous, window_start_ms, now);
            window_start_ms = now;
        }
    }

    /// Records the window's run if the tick loop did anything in it; returns the totals.
    fn record_timeouts_window(
        &self,
        timers: &Timers,
        previous: TimerTotals,
        started_at_ms: i64,
        ended_at_ms: i64,
    ) -> TimerTotals {
        let totals = timers.totals();
        let fired = totals.fired.saturating_sub(previous.fired);
        let retried = totals.retried.saturating_sub(previous.retried);
        if fired + retried > 0 {
            let outcome = RunOutcome {
                started_at_ms,
                ended_at_ms,
                items_processed: fired,
                errors: retried,
            };
            self.record(Task::Timeouts, outcome);
        }
        totals
    }

    async fn health_task(self: Arc<Self>, core: Arc<Core>, every: Duration, limits: Limits) {
        let mut stopping = Stopping::new(self.stop.subscribe(), core.runtime.registry.closing());
        let mut interval = tokio::time::interval(every);
        // The first tick is immediate: a check right after recovery, then one per interval.
        let mut progress = HealthProgress::default();
        while stopping.unless_stopped(interval.tick()).await.is_some() {
            let run = self.health_run(&core, &limits, &mut progress);
            if stopping.unless_stopped(run).await.is_none() {
                break;
            }
        }
    }

    /// One health run: checks, alerts, and its record.
    async fn health_run(&self, core: &Core, limits: &Limits, progress: &mut HealthProgress) {
        let started_at_ms = now_ms();
        let mut tally = HealthTally::default();
        let journal = core.runtime.journal();
        let probe = JournalProbe {
            appended_seq: journal.appended_seq(),
            durable_seq: journal.durable_seq(),
            pending_events: journal.stats().pending_events,
        };
        tally.items += 1;
        tally.findings.extend(check_journal(probe, limits));
        check_activities(core, limits, progress, &mut tally).await;
        self.check_deliveries(limits, progress, &mut tally);
        tally.findings.extend(self.check_flow(now_ms()));
        let ended_at_ms = now_ms();
        self.metrics
            .gauge(
                "playcore_scheduler_health_findings",
                "findings of the last health run",
            )
            .set(i64::try_from(tally.findings.len()).unwrap_or(i64::MAX));
        for finding in tally.findings {
            self.raise(finding, ended_at_ms);
        }
        let outcome = RunOutcome {
            started_at_ms,
            ended_at_ms,
            items_processed: tally.items,
            errors: tally.errors,
        };
        self.record(Task::Health, outcome);
    }

    async fn archive_task(
        self: Arc<Self>,
        core: Arc<Core>,
        every: Duration,
        limits: ArchiveLimits,
    ) {
        let mut stopping = Stopping::new(self.stop.subscribe(), core.runtime.registry.closing());
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut progress = ArchiveProgress::default();
        while stopping.unless_stopped(interval.tick()).await.is_some() {
            let run = self.archive_once(&core, &limits, &mut progress);
            if stopping.unless_stopped(run).await.is_none() {
                break;
            }
        }
    }

    /// One archive run and its record.
    async fn archive_once(
        &self,
        core: &Core,
        limits: &ArchiveLimits,
        progress: &mut ArchiveProgress,
    ) {
        let started_at_ms = now_ms();
        let tally = archive_run(core, limits, progress, started_at_ms).await;
        self.metrics
            .counter(
                "playcore_orders_archived_total",
                "orders moved from memory to the cold store",
            )
            .add(tally.archived);
        let outcome = RunOutcome {
            started_at_ms,
            ended_at_ms: now_ms(),
            items_processed: tally.archived,
            errors: tally.errors,
        };
        self.record(Task::Archive, outcome);
    }

    fn check_deliveries(
        &self,
        limits: &Limits,
        progress: &mut HealthProgress,
        tally: &mut HealthTally,
    ) {
        let Some(deliveries) = self.deliveries.get() else {
            return;
        };
        let statuses = deliveries.statuses();
        progress
            .overflowed
            .retain(|id, _| statuses.iter().any(|status| &status.id == id));
        for status in statuses {
            tally.items += 1;
            let before = progress
                .overflowed
                .insert(status.id.clone(), status.backlog_overflowed);
            let before = before.unwrap_or(status.backlog_overflowed);
            tally
                .findings
                .extend(check_delivery(&status, before, limits));
        }
    }

    /// RATE_LIMIT_SPIKE when refusals per minute since the previous run passed the
    /// threshold (the first run only takes the count).
    fn check_flow(&self, now_ms: i64) -> Option<Finding> {
        let flow = self.flow.get()?;
        let total = flow.refusals_total();
        let mut seen = self
            .flow_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (total_before, at_ms) = seen.replace((total, now_ms))?;
        check_refusals(
            total - total_before,
            now_ms - at_ms,
            flow.refusals_per_minute_max(),
        )
    }

    fn raise(&self, finding: Finding, now_ms: i64) {
        let kind = finding.kind.name();
        self.metrics
            .counter_with_labels(
                "playcore_scheduler_alerts_total",
                "alerts raised by the health supervisor, by kind",
                &[("kind", kind)],
            )
            .increment();
        tracing::warn!(kind, message = %finding.message, "scheduler alert");
        self.alerts.raise(finding, now_ms);
    }

    fn record(&self, task: Task, outcome: RunOutcome) {
        let labels = [("task", task.name())];
        let counters = [
            (
                "playcore_scheduler_runs_total",
                "scheduler runs recorded",
                1,
            ),
            (
                "playcore_scheduler_run_items_total",
                "items the recorded scheduler runs processed",
                outcome.items_processed,
            ),
            (
                "playcore_scheduler_run_errors_total",
                "errors of the recorded scheduler runs",
                outcome.errors,
            ),
        ];
        for (name, help, amount) in counters {
            self.metrics
                .counter_with_labels(name, help, &labels)
                .add(amount);
        }
        self.runs.record(task, outcome);
    }
}

/// The per-activity checks of one run, over at most [`HEALTH_ACTIVITIES_PER_RUN_MAX`]
/// activities from the rotating offset.
async fn check_activities(
    core: &Core,
    limits: &Limits,
    progress: &mut HealthProgress,
    tally: &mut HealthTally,
) {
    let registry = &core.runtime.registry;
    let ids = registry.ids();
    progress
        .cursors
        .retain(|id, _| ids.binary_search(id).is_ok());
    if ids.is_empty() {
        return;
    }
    let start = progress.activity_offset % ids.len();
    let count = ids.len().min(HEALTH_ACTIVITIES_PER_RUN_MAX);
    progress.activity_offset = (start + count) % ids.len();
    for id in ids.iter().cycle().skip(start).take(count).copied() {
        let Some(handle) = registry.handle(id) else {
            continue;
        };
        tally.items += 1;
        if let Some(finding) = check_mailbox(id, handle.mailbox.depth(), limits) {
            tally.findings.push(finding);
            continue;
        }
        check_activity_state(core, id, limits, progress, tally).await;
    }
}

/// Reads one bounded scan of the activity's orders and groups in its actor and checks it.
async fn check_activity_state(
    core: &Core,
    id: ActivityId,
    limits: &Limits,
    progress: &mut HealthProgress,
    tally: &mut HealthTally,
) {
    let cursor = progress.cursors.get(&id).copied().unwrap_or_default();
    let budget = limits.scan_items_per_activity_max;
    let read = core
        .runtime
        .registry
        .read(id, move |state| scan_activity(state, cursor, budget));
    let scan = match read.await {
        Ok(scan) => scan,
        Err(ExecuteError::NotFound) => return,
        Err(error) => {
            tracing::debug!(activity = %id, %error, "health check could not read the activity");
            tally.errors += 1;
            return;
        }
    };
    progress.cursors.insert(id, scan.next);
    tally.items += scan.scanned;
    let now = now_ms();
    let checks = [
        (AlertKind::StuckUnpaidOrder, &scan.unpaid_orders),
        (AlertKind::OverdueGroup, &scan.open_groups),
    ];
    for (kind, open) in checks {
        tally
            .findings
            .extend(check_overdue(id, kind, open, now, limits));
    }
}

/// The two reasons a scheduler task ends: [`Scheduler::stop`] and the runtime closing.
struct Stopping {
    stop: watch::Receiver<bool>,
    closing: watch::Receiver<bool>,
}

impl Stopping {
    fn new(stop: watch::Receiver<bool>, closing: watch::Receiver<bool>) -> Stopping {
        Stopping { stop, closing }
    }

    /// `future`'s output, or `None` when the task must end first (the future is dropped).
    async fn unless_stopped<F: std::future::Future>(&mut self, future: F) -> Option<F::Output> {
        tokio::select! {
            output = future => Some(output),
            _ = self.stop.wait_for(|stopped| *stopped) => None,
            _ = self.closing.wait_for(|closed| *closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_past_the_rate_per_minute_are_a_spike() {
        assert_eq!(check_refusals(100, 60_000, 100), None);
        let spike = check_refusals(101, 60_000, 100).expect("a spike");
        assert_eq!(spike.kind, AlertKind::RateLimitSpike);
        assert_eq!((spike.observed, spike.limit), (101, 100));
        let per_second = check_refusals(10, 1_000, 500).expect("600 per minute");
        assert_eq!(per_second.observed, 600);
        assert_eq!(check_refusals(0, 0, 0), None);
    }

    fn limits() -> Limits {
        Limits {
            overdue_grace_ms: 100,
            journal_lag_events_max: 1_000,
            journal_pending_percent_max: 80,
            journal_capacity_events: 10_000,
            mailbox_depth_percent_max: 80,
            mailbox_capacity: 100,
            scan_items_per_activity_max: 10,
            delivery_lag_events_max: 1_000,
            delivery_lag_seconds_max: 60,
        }
    }

    fn delivery_status(lag_events: u64, lag_seconds: u64, overflowed: u64) -> SubscriptionStatus {
        SubscriptionStatus {
            id: "ep_1".into(),
            enabled: true,
            cursor_position: 9,
            delivered: 1,
            failed_attempts: 0,
            dead_lettered: overflowed,
            pending: lag_events,
            lag_events,
            lag_seconds,
            breaker: crate::delivery::BreakerState::Closed,
            disabled_for_failing: false,
            backlog_overflowed: overflowed,
        }
    }

    #[test]
    fn a_lagging_subscription_raises_one_alert_in_events_or_seconds() {
        assert!(check_delivery(&delivery_status(1_000, 60, 0), 0, &limits()).is_empty());
        let by_events = check_delivery(&delivery_status(1_001, 600, 0), 0, &limits());
        assert_eq!(by_events.len(), 1);
        assert_eq!(by_events[0].kind, AlertKind::DeliveryLag);
        assert_eq!((by_events[0].observed, by_events[0].limit), (1_001, 1_000));
        let by_seconds = check_delivery(&delivery_status(10, 61, 0), 0, &limits());
        assert_eq!((by_seconds[0].observed, by_seconds[0].limit), (61, 60));
        assert!(
            by_seconds[0].message.contains("ep_1"),
            "{}",
            by_seconds[0].message
        );
    }

    #[test]
    fn a_backlog_that_filled_since_the_last_run_raises_one_alert() {
        assert!(check_delivery(&delivery_status(0, 0, 5), 5, &limits()).is_empty());
        let findings = check_delivery(&delivery_status(0, 0, 12), 5, &limits());
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].kind, AlertKind::DeliveryBacklogFull);
        assert_eq!(findings[0].observed, 7);
    }

    const ACTIVITY: ActivityId = ActivityId(7);
    const NOW_MS: i64 = 1_000_000;

    fn healthy_journal() -> JournalProbe {
        JournalProbe {
            appended_seq: 5_000,
            durable_seq: 4_500,
            pending_events: 100,
        }
    }

    #[test]
    fn a_healthy_journal_raises_nothing() {
        assert!(check_journal(healthy_journal(), &limits()).is_empty());
    }

    #[test]
    fn a_lagging_journal_raises_one_alert() {
        let probe = JournalProbe {
            durable_seq: 3_000,
            ..healthy_journal()
        };
        let findings = check_journal(probe, &limits());
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].kind, AlertKind::JournalLag);
        assert_eq!(findings[0].observed, 2_000);
    }

    #[test]
    fn a_journal_near_its_bound_raises_one_alert() {
        let probe = JournalProbe {
            pending_events: 8_001,
            ..healthy_journal()
        };
        let findings = check_journal(probe, &limits());
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].kind, AlertKind::JournalBacklog);
        assert_eq!(findings[0].limit, 8_000);
    }

    #[test]
    fn a_deep_mailbox_raises_one_alert_and_a_shallow_one_none() {
        assert_eq!(check_mailbox(ACTIVITY, 80, &limits()), None);
        let finding = check_mailbox(ACTIVITY, 81, &limits()).expect("an alert");
        assert_eq!(finding.kind, AlertKind::MailboxDepth);
        assert_eq!(finding.activity, Some(ACTIVITY));
    }

    #[test]
    fn stuck_orders_raise_one_alert_per_activity_naming_the_oldest() {
        let open = [
            DeadlineProbe {
                number: 1,
                due_at_ms: NOW_MS - 5_000,
            },
            DeadlineProbe {
                number: 2,
                due_at_ms: NOW_MS - 500,
            },
            DeadlineProbe {
                number: 3,
                due_at_ms: NOW_MS + 60_000,
            },
        ];
        let kind = AlertKind::StuckUnpaidOrder;
        let finding = check_overdue(ACTIVITY, kind, &open, NOW_MS, &limits()).expect("an alert");
        assert_eq!(finding.observed, 2);
        assert!(finding.message.contains("ord-7-1"), "{}", finding.message);
    }

    #[test]
    fn an_overdue_group_raises_one_alert() {
        let open = [DeadlineProbe {
            number: 4,
            due_at_ms: NOW_MS - 101,
        }];
        let kind = AlertKind::OverdueGroup;
        let finding = check_overdue(ACTIVITY, kind, &open, NOW_MS, &limits()).expect("an alert");
        assert_eq!(finding.observed, 1);
        assert!(finding.message.contains("grp-7-4"), "{}", finding.message);
    }

    #[test]
    fn deadlines_within_the_grace_raise_nothing() {
        let open = [
            DeadlineProbe {
                number: 1,
                due_at_ms: NOW_MS - 100,
            },
            DeadlineProbe {
                number: 2,
                due_at_ms: NOW_MS + 1_000,
            },
        ];
        for kind in [AlertKind::StuckUnpaidOrder, AlertKind::OverdueGroup] {
            assert_eq!(
                check_overdue(ACTIVITY, kind, &open, NOW_MS, &limits()),
                None
            );
        }
    }

    /// A flash sale with `orders` unpaid orders (due at 1, 2, …) and one open group.
    fn state_with(orders: u64) -> ActivityState {
        use playcore_actors::domain::event::{Event, EventKind};
        use playcore_actors::domain::{ActivityConfig, Rules, Source, TemplateCode};
        let config = ActivityConfig {
            template: TemplateCode::FlashSale,
            title: "scan".into(),
            store_id: "store".into(),
            service_id: "service".into(),
            price_cents: 100,
            unit_name: "unit".into(),
            units_per_order: 1,
            stock_total: 100,
            per_user_limit: 100,
            start_at_ms: 0,
            end_at_ms: NOW_MS,
            pay_timeout_seconds: 1,
            rules: Rules::default(),
        };
        let mut state = ActivityState::created(ACTIVITY, config, "operator", 0);
        for order in 1..=orders {
            let kind = EventKind::InstanceCreated {
                order,
                user: format!("user-{order}"),
                request: format!("request-{order}"),
                source: Source::default(),
                quantity: 1,
                amount_cents: 100,
                expires_at_ms: order as i64,
                group: None,
            };
            state.apply(&Event { at_ms: 0, kind });
        }
        let kind = EventKind::GroupCreated {
            group: 1,
            leader: "user-1".into(),
            target: 2,
            expires_at_ms: 9,
        };
        state.apply(&Event { at_ms: 0, kind });
        state
    }

    #[test]
    fn a_scan_is_bounded_and_its_cursor_resumes_then_wraps() {
        let state = state_with(5);

        let first = scan_activity(&state, ScanCursor::default(), 3);
        let numbers: Vec<u64> = first
            .unpaid_orders
            .iter()
            .map(|probe| probe.number)
            .collect();
        assert_eq!(numbers, vec![1, 2, 3]);
        assert_eq!(first.unpaid_orders[2].due_at_ms, 3);
        assert_eq!(
            first.open_groups,
            vec![DeadlineProbe {
                number: 1,
                due_at_ms: 9
            }]
        );
        assert_eq!(first.scanned, 4);

        let second = scan_activity(&state, first.next, 3);
        let numbers: Vec<u64> = second
            .unpaid_orders
            .iter()
            .map(|probe| probe.number)
            .collect();
        assert_eq!(numbers, vec![4, 5]);
        assert_eq!(second.next, ScanCursor::default(), "wraps past the end");
    }

    fn outcome(started_at_ms: i64) -> RunOutcome {
        RunOutcome {
            started_at_ms,
            ended_at_ms: started_at_ms + 1,
            items_processed: 1,
            errors: 0,
        }
    }

    #[test]
    fn the_run_log_keeps_the_newest_runs_up_to_its_capacity() {
        let log = RunLog::new(3);
        for start in 0..5 {
            log.record(Task::Health, outcome(start));
        }
        assert_eq!(log.len(), 3);
        let runs = log.recent(None, 10);
        let starts: Vec<i64> = runs.iter().map(|run| run.started_at_ms).collect();
        assert_eq!(starts, vec![4, 3, 2]);
        assert_eq!(runs[0].seq, 5);
    }

    #[test]
    fn the_run_log_filters_by_task_and_limits_the_answer() {
        let log = RunLog::new(10);
        log.record(Task::Health, outcome(1));
        log.record(Task::Timeouts, outcome(2));
        log.record(Task::Health, outcome(3));
        let health = log.recent(Some(Task::Health), 10);
        assert!(health.iter().all(|run| run.task == Task::Health));
        assert_eq!(health.len(), 2);
        assert_eq!(log.recent(None, 1).len(), 1);
        assert_eq!(log.recent(Some(Task::Timeouts), 10)[0].started_at_ms, 2);
    }

    #[test]
    fn the_alert_log_is_bounded_and_filters_by_kind() {
        let log = AlertLog::new(2);
        for kind in [
            AlertKind::JournalLag,
            AlertKind::MailboxDepth,
            AlertKind::JournalLag,
        ] {
            let finding = Finding {
                kind,
                activity: None,
                observed: 1,
                limit: 0,
                message: String::new(),
            };
            log.raise(finding, NOW_MS);
        }
        assert_eq!(log.recent(None, 10).len(), 2);
        assert_eq!(log.recent(Some(AlertKind::JournalLag), 10).len(), 1);
    }

    #[test]
    fn task_and_alert_names_round_trip() {
        for task in Task::ALL {
            assert_eq!(Task::parse(task.name()), Some(task));
        }
        for kind in AlertKind::ALL {
            assert_eq!(AlertKind::parse(kind.name()), Some(kind));
        }
        assert_eq!(Task::parse("archive"), Some(Task::Archive));
        assert_eq!(Task::parse("backup"), None);
    }
}

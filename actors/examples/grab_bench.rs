//! In-process grab benchmark: grabs through the registry, the activity actors and the journal,
//! each one answered only once durable; then the replay rate of recovery on the same data.
//!
//! `cargo run --release -p playcore-actors --example grab_bench -- [fsync|relaxed] [grabs] [in_flight] [activities] [arbiters, 0 = one per core]`

use playcore_actors::domain::{
    ActivityConfig, ActivityId, Command, RequestId, Rules, TemplateCode, UserId,
};
use playcore_actors::{ActorSettings, Registry, Runtime, RuntimeOptions};
use playcore_snapshots::{Durability, JournalConfig, Store};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Arguments {
    durability: Durability,
    grabs: u64,
    in_flight: u64,
    activities: u64,
    arbiters: u64,
}

fn arguments() -> Arguments {
    let values: Vec<String> = std::env::args().skip(1).collect();
    let number = |index: usize, default: u64| {
        values
            .get(index)
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    let durability = match values.first().map(String::as_str) {
        Some("relaxed") => Durability::Relaxed {
            flush_interval_ms: 10,
        },
        _ => Durability::Fsync,
    };
    Arguments {
        durability,
        grabs: number(1, 2_000_000),
        in_flight: number(2, 20_000),
        activities: number(3, 4),
        arbiters: number(4, 0),
    }
}

fn options(durability: Durability, arbiters: u64) -> RuntimeOptions {
    RuntimeOptions {
        arbiters: arbiters as usize,
        actor: ActorSettings {
            mailbox_capacity: 1 << 20,
            orders_max: 100_000_000,
            // No snapshots during the run, so the replay figure measures the journal.
            snapshot_every_events: u64::MAX,
            snapshot_every_events_max: u64::MAX,
            snapshot_interval: Duration::from_secs(3600),
        },
        journal: JournalConfig {
            durability,
            capacity_events: 4_000_000,
            record_bytes_max: 48 * 1024,
            ..JournalConfig::default()
        },
        activities_max: 1000,
        timers_capacity: 100_000_000,
        timer_tick: Duration::from_millis(50),
        eligibility: Default::default(),
        truncation_hold: playcore_actors::no_truncation_hold(),
    }
}

fn sale(stock: u64) -> ActivityConfig {
    let now = playcore_actors::activity_actor::now_ms();
    ActivityConfig {
        template: TemplateCode::FlashSale,
        title: "bench".into(),
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

async fn open_sales(runtime: &Runtime, count: u64, stock: u64) -> Vec<ActivityId> {
    let mut ids = Vec::new();
    for _ in 0..count {
        let id = runtime
            .create_activity(sale(stock), "bench-operator")
            .await
            .expect("create")
            .id;
        let registry = &runtime.registry;
        registry
            .execute(
                id,
                Command::Submit {
                    by: "bench-operator".into(),
                    flow: playcore_actors::domain::ApprovalFlow::default(),
                },
            )
            .await
            .expect("submit");
        registry
            .execute(
                id,
                Command::Approve {
                    by: "bench-approver".into(),
                    remark: String::new(),
                },
            )
            .await
            .expect("approve");
        registry
            .execute(
                id,
                Command::Publish {
                    by: "bench-operator".into(),
                },
            )
            .await
            .expect("publish");
        ids.push(id);
    }
    ids
}

/// `in_flight` client tasks, each grabbing until `grabs` were issued in all.
async fn rush(registry: Arc<Registry>, ids: Vec<ActivityId>, grabs: u64, in_flight: u64) -> u64 {
    let issued = Rc::new(Cell::new(0u64));
    let succeeded = Rc::new(Cell::new(0u64));
    let mut tasks = Vec::new();
    for _ in 0..in_flight {
        let (registry, ids, issued, succeeded) = (
            Arc::clone(&registry),
            ids.clone(),
            Rc::clone(&issued),
            Rc::clone(&succeeded),
        );
        tasks.push(actix::spawn(async move {
            loop {
                let number = issued.get();
                if number >= grabs {
                    break;
                }
                issued.set(number + 1);
                let id = ids[(number % ids.len() as u64) as usize];
                let command = Command::Grab {
                    user: UserId::parse(&format!("u{number}")).expect("user id"),
                    request: RequestId::parse("r").expect("request id"),
                    quantity: 1,
                    source: Default::default(),
                };
                match registry.execute(id, command).await {
                    Ok(_) => succeeded.set(succeeded.get() + 1),
                    Err(error) => panic!("grab failed: {error}"),
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    succeeded.get()
}

fn main() {
    let arguments = arguments();
    let directory = tempfile::tempdir().expect("temporary directory");
    let system = actix::System::new();
    system.block_on(async {
        let store = Store::open(directory.path()).expect("store");
        let runtime = Runtime::start(store, options(arguments.durability, arguments.arbiters)).expect("runtime");
        let stock = arguments.grabs / arguments.activities + 1;
        let ids = open_sales(&runtime, arguments.activities, stock).await;
        let started = Instant::now();
        let succeeded = rush(Arc::clone(&runtime.registry), ids, arguments.grabs, arguments.in_flight).await;
        let elapsed = started.elapsed();
        let stats = runtime.journal().stats();
        println!(
            "mode={:?} grabs={} in_flight={} activities={} cores={} elapsed={:.3}s durable_grabs_per_second={:.0} batches={} mean_batch={:.0}",
            arguments.durability,
            succeeded,
            arguments.in_flight,
            arguments.activities,
            std::thread::available_parallelism().map_or(1, |count| count.get()),
            elapsed.as_secs_f64(),
            succeeded as f64 / elapsed.as_secs_f64(),
            stats.batches_written,
            stats.events_written as f64 / stats.batches_written.max(1) as f64,
        );
        let syncs = stats.sync_count.max(1);
        println!(
            "syncs={} mean_sync_us={} mean_fdatasync_us={}",
            stats.sync_count,
            stats.sync_time_us_total / syncs,
            stats.fdatasync_time_us_total / syncs,
        );
        // Journal only (no shutdown snapshots), so the replay below reads every entry.
        runtime.close().expect("a clean close");
    });
    drop(system);
    replay(directory.path());
}

fn replay(path: &std::path::Path) {
    let system = actix::System::new();
    system.block_on(async {
        let store = open_when_released(path);
        let started = Instant::now();
        let runtime = Runtime::start(store, options(Durability::Fsync, 0)).expect("runtime");
        let elapsed = started.elapsed();
        let report = &runtime.recovery;
        println!(
            "replay entries={} events={} elapsed={:.3}s replayed_events_per_second={:.0}",
            report.entries_replayed,
            report.events_replayed,
            elapsed.as_secs_f64(),
            report.events_replayed as f64 / elapsed.as_secs_f64()
        );
        runtime.shutdown().await.expect("a clean shutdown");
    });
}

/// The previous run's threads release sled's lock file shortly after they stop.
fn open_when_released(path: &std::path::Path) -> Store {
    for _ in 0..100 {
        if let Ok(store) = Store::open(path) {
            return store;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Store::open(path).expect("store")
}

//! What the runtime tests share: runtime options, and a flash sale opened through
//! the admin steps.

use playcore_actors::activity_actor::now_ms;
use playcore_actors::domain::{ActivityConfig, ActivityId, Command, Rules, TemplateCode};
use playcore_actors::{ActorSettings, Runtime, RuntimeOptions};
use playcore_snapshots::{Durability, JournalConfig};
use std::time::Duration;

pub fn options(mailbox_capacity: usize, snapshot_every_events: u64) -> RuntimeOptions {
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
            snapshot_every_events_max: u64::MAX,
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
        truncation_hold: playcore_actors::no_truncation_hold(),
    }
}

/// A flash sale open now.
pub fn sale(stock: u64, pay_timeout_seconds: u64) -> ActivityConfig {
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
        pay_timeout_seconds,
        rules: Rules::default(),
    }
}

/// Creates, submits, approves and publishes a flash sale.
pub async fn open_sale(runtime: &Runtime, stock: u64, pay_timeout_seconds: u64) -> ActivityId {
    let id = runtime
        .create_activity(sale(stock, pay_timeout_seconds), "operator")
        .await
        .expect("create")
        .id;
    let steps = [
        Command::Submit {
            by: "operator".into(),
            flow: playcore_actors::domain::ApprovalFlow::default(),
        },
        Command::Approve {
            by: "approver".into(),
            remark: String::new(),
        },
        Command::Publish {
            by: "operator".into(),
        },
    ];
    for step in steps {
        runtime
            .registry
            .execute(id, step)
            .await
            .expect("admin step");
    }
    id
}

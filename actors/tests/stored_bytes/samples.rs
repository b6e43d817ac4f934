//! The values the fixtures hold: one sample event per event kind, and the configurations
//! they carry. Every field is set to something other than its default, so a field that
//! changes type or place changes the bytes. Sets hold at most one value each: a hashed set
//! encodes its values in an order that changes from run to run.

use playcore_actors::domain::gray::{GrayRules, SetRule};
use playcore_actors::domain::{
    ActivityConfig, ApprovalFlow, Event, EventKind, FlowLevel, GrayConfig, LevelMode, OrderStatus,
    Rules, Source, TemplateCode,
};
use std::sync::Arc;

/// 2027-01-15T08:00:00Z: every sample happens at a fixed time.
pub const AT_MS: i64 = 1_800_000_000_000;

pub fn sale_config() -> ActivityConfig {
    ActivityConfig {
        template: TemplateCode::FlashSale,
        title: "爵士舞体验课".into(),
        store_id: "store-1".into(),
        service_id: "dance".into(),
        price_cents: 990,
        unit_name: "件".into(),
        units_per_order: 2,
        stock_total: 100,
        per_user_limit: 4,
        start_at_ms: AT_MS - 3_600_000,
        end_at_ms: AT_MS + 86_400_000,
        pay_timeout_seconds: 300,
        rules: Rules {
            group_size: None,
            group_ttl_seconds: None,
            new_user_only: true,
            cities: vec!["上海".into(), "杭州".into()],
            mutually_exclusive: true,
        },
    }
}

pub fn course_config() -> ActivityConfig {
    ActivityConfig {
        template: TemplateCode::CourseGroup,
        title: "周末拼班".into(),
        store_id: "store-2".into(),
        service_id: "piano".into(),
        price_cents: 4900,
        unit_name: "课时".into(),
        units_per_order: 1,
        stock_total: 30,
        per_user_limit: 1,
        start_at_ms: AT_MS - 3_600_000,
        end_at_ms: AT_MS + 7 * 86_400_000,
        pay_timeout_seconds: 600,
        rules: Rules {
            group_size: Some(2),
            group_ttl_seconds: Some(7200),
            new_user_only: false,
            cities: Vec::new(),
            mutually_exclusive: false,
        },
    }
}

fn one(value: &str) -> playcore_actors::domain::gray::FastSet {
    std::iter::once(value.to_string()).collect()
}

pub fn gray_config() -> GrayConfig {
    let rule = |included: &str, excluded: &str| SetRule {
        included: one(included),
        excluded: one(excluded),
    };
    GrayConfig {
        enabled: true,
        whitelist_user_ids: one("vip-1"),
        whitelist_store_ids: one("store-9"),
        percentage_basis_points: 2550,
        rules: GrayRules {
            cities: rule("上海", "北京"),
            devices: rule("ios", "web"),
            tags: rule("member", "blocked"),
        },
        version: 3,
    }
}

pub fn two_level_flow() -> ApprovalFlow {
    ApprovalFlow {
        levels: vec![
            FlowLevel {
                mode: LevelMode::Any,
                candidates: Vec::new(),
            },
            FlowLevel {
                mode: LevelMode::Count(2),
                candidates: vec!["dev-approver".into(), "dev-approver-2".into()],
            },
            FlowLevel {
                mode: LevelMode::Ratio(50),
                candidates: vec!["dev-admin".into()],
            },
            FlowLevel {
                mode: LevelMode::All,
                candidates: vec!["dev-approver".into()],
            },
        ],
    }
}

pub const CONFIG_HASH: &str = "5f2b8e0c9a7d4e31b6a0c2d8f4e6a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f3";

/// One sample of every event kind, in declaration order.
pub fn events() -> Vec<EventKind> {
    let mut kinds = approval_events();
    kinds.extend(order_events());
    kinds.extend(group_events());
    kinds.extend(later_events());
    kinds
}

fn approval_events() -> Vec<EventKind> {
    let by = || "dev-operator".to_string();
    let mut updated = sale_config();
    updated.title = "爵士舞体验课（加场）".into();
    vec![
        EventKind::ActivityCreated {
            config: sale_config(),
            by: by(),
        },
        EventKind::ActivityUpdated {
            config: updated,
            by: by(),
        },
        EventKind::ApprovalSubmitted { by: by() },
        EventKind::ApprovalApproved {
            by: "dev-approver".into(),
            remark: "同意".into(),
        },
        EventKind::ApprovalRejected {
            by: "dev-approver-2".into(),
            remark: "价格过低".into(),
        },
        EventKind::ApprovalWithdrawn { by: by() },
        EventKind::ActivityPublished { by: by() },
        EventKind::ActivityUnpublished {
            by: "dev-admin".into(),
        },
        EventKind::ActivityOnline,
        EventKind::ActivityEnded,
    ]
}

fn order_events() -> Vec<EventKind> {
    vec![
        EventKind::InstanceCreated {
            order: 7,
            user: "u-1001".into(),
            request: "r-5f3a".into(),
            source: Source {
                channel: Some("c-wechat".into()),
                referrer: Some("u-2002".into()),
            },
            quantity: 2,
            amount_cents: 1980,
            expires_at_ms: AT_MS + 300_000,
            group: Some(3),
        },
        EventKind::InstancePaid {
            order: 7,
            trade_number: Some("T-20270115-0001".into()),
        },
        EventKind::InstanceCancelled { order: 8 },
        EventKind::InstanceTimeout { order: 9 },
        EventKind::InstanceRefundPending {
            order: 10,
            trade_number: Some("T-20270115-0002".into()),
        },
        EventKind::InstanceRefunded { order: 10 },
        EventKind::InstanceSuccess { order: 11 },
        EventKind::InstanceFailed { order: 12 },
        EventKind::FlashSaleSoldOut,
    ]
}

fn group_events() -> Vec<EventKind> {
    vec![
        EventKind::GroupCreated {
            group: 3,
            leader: "u-1001".into(),
            target: 5,
            expires_at_ms: AT_MS + 7_200_000,
        },
        EventKind::GroupMemberJoined {
            group: 3,
            user: "u-2002".into(),
            order: 13,
        },
        EventKind::GroupMemberLeft {
            group: 3,
            order: 13,
        },
        EventKind::GroupActivated { group: 3 },
        EventKind::GroupFull { group: 3 },
        EventKind::CourseOpen { group: 3 },
        EventKind::GroupFailed { group: 4 },
    ]
}

fn later_events() -> Vec<EventKind> {
    vec![
        EventKind::GrayConfigured {
            config: Arc::new(gray_config()),
            by: "dev-operator".into(),
        },
        EventKind::ApprovalFlowSubmitted {
            by: "dev-operator".into(),
            flow: two_level_flow(),
            config_hash: CONFIG_HASH.into(),
        },
        EventKind::ApprovalVoted {
            by: "dev-approver-2".into(),
            level: 2,
            remark: "第二级同意".into(),
        },
        EventKind::ApprovalLevelAdvanced { level: 2 },
        EventKind::ActivityRolledBack {
            to_version: 1,
            config: Arc::new(sale_config()),
            by: "dev-admin".into(),
            remark: "回滚到首版".into(),
        },
        EventKind::OrdersArchived {
            orders: vec![8, 9, 10],
        },
        EventKind::InstanceFailedTo {
            order: 13,
            status: OrderStatus::RefundPending,
        },
    ]
}

/// `kind` stamped at `AT_MS` plus `offset_ms`.
pub fn at(offset_ms: i64, kind: EventKind) -> Event {
    Event {
        at_ms: AT_MS + offset_ms,
        kind,
    }
}

//! The catalog against the domain: one example of every event kind renders to JSON its
//! type's schema accepts (closed, so an undeclared field fails too), and the type names
//! are exactly the domain's.

use super::*;
use boon::{Compiler, Draft, Schemas, SchemeUrlLoader};
use playcore_actors::domain::{
    ActivityConfig, FlowLevel, GrayConfig, LevelMode, OrderStatus, Rules, Source, TemplateCode,
};
use std::collections::BTreeSet;
use std::sync::Arc;

const ACTIVITY: ActivityId = ActivityId(7);

fn config() -> ActivityConfig {
    ActivityConfig {
        template: TemplateCode::GroupBuy,
        title: "爵士舞体验课".into(),
        store_id: "s1".into(),
        service_id: "dance".into(),
        price_cents: 990,
        unit_name: "份".into(),
        units_per_order: 1,
        stock_total: 100,
        per_user_limit: 2,
        start_at_ms: 1_767_225_600_000,
        end_at_ms: 1_893_456_000_000,
        pay_timeout_seconds: 300,
        rules: Rules {
            group_size: Some(3),
            group_ttl_seconds: None,
            new_user_only: false,
            cities: vec!["上海".into()],
            mutually_exclusive: true,
        },
    }
}

fn flow() -> ApprovalFlow {
    ApprovalFlow {
        levels: vec![
            FlowLevel {
                mode: LevelMode::Count(2),
                candidates: vec!["ann".into(), "bob".into(), "cy".into()],
            },
            FlowLevel {
                mode: LevelMode::Ratio(50),
                candidates: vec!["dee".into(), "eve".into()],
            },
        ],
    }
}

fn gray() -> GrayConfig {
    let mut gray = GrayConfig {
        enabled: true,
        percentage_basis_points: 1250,
        version: 3,
        ..GrayConfig::default()
    };
    gray.whitelist_user_ids.extend(["u2".into(), "u1".into()]);
    gray.rules.cities.excluded.insert("北京".into());
    gray.rules.tags.included.insert("vip".into());
    gray
}

/// Every kind, each once, in the order [`kind_index`] numbers them.
fn examples() -> Vec<EventKind> {
    let by = || "dev-operator".to_string();
    vec![
        EventKind::ActivityCreated {
            config: config(),
            by: by(),
        },
        EventKind::ActivityUpdated {
            config: config(),
            by: by(),
        },
        EventKind::ApprovalSubmitted { by: by() },
        EventKind::ApprovalApproved {
            by: "dev-approver".into(),
            remark: "ok".into(),
        },
        EventKind::ApprovalRejected {
            by: "dev-approver".into(),
            remark: "no".into(),
        },
        EventKind::ApprovalWithdrawn { by: by() },
        EventKind::ActivityPublished { by: by() },
        EventKind::ActivityUnpublished { by: by() },
        EventKind::ActivityOnline,
        EventKind::ActivityEnded,
        EventKind::InstanceCreated {
            order: 42,
            user: "u1".into(),
            request: "r1".into(),
            source: Source {
                channel: Some("c9".into()),
                referrer: None,
            },
            quantity: 2,
            amount_cents: 1980,
            expires_at_ms: 1_795_428_000_000,
            group: Some(3),
        },
        EventKind::InstancePaid {
            order: 42,
            trade_number: Some("T1".into()),
        },
        EventKind::InstanceCancelled { order: 42 },
        EventKind::InstanceTimeout { order: 42 },
        EventKind::InstanceRefundPending {
            order: 42,
            trade_number: None,
        },
        EventKind::InstanceRefunded { order: 42 },
        EventKind::InstanceSuccess { order: 42 },
        EventKind::InstanceFailed { order: 42 },
        EventKind::FlashSaleSoldOut,
        EventKind::GroupCreated {
            group: 3,
            leader: "u1".into(),
            target: 3,
            expires_at_ms: 1_795_500_000_000,
        },
        EventKind::GroupMemberJoined {
            group: 3,
            user: "u2".into(),
            order: 43,
        },
        EventKind::GroupMemberLeft {
            group: 3,
            order: 43,
        },
        EventKind::GroupActivated { group: 3 },
        EventKind::GroupFull { group: 3 },
        EventKind::CourseOpen { group: 3 },
        EventKind::GroupFailed { group: 3 },
        EventKind::GrayConfigured {
            config: Arc::new(gray()),
            by: by(),
        },
        EventKind::ApprovalFlowSubmitted {
            by: by(),
            flow: flow(),
            config_hash: "ab".repeat(32),
        },
        EventKind::ApprovalVoted {
            by: "ann".into(),
            level: 1,
            remark: String::new(),
        },
        EventKind::ApprovalLevelAdvanced { level: 2 },
        EventKind::ActivityRolledBack {
            to_version: 1,
            config: Arc::new(config()),
            by: by(),
            remark: "back".into(),
        },
        EventKind::OrdersArchived {
            orders: vec![1, 2, 5],
        },
        EventKind::InstanceFailedTo {
            order: 42,
            status: OrderStatus::RefundPending,
        },
    ]
}

/// Numbers the kinds without a wildcard: a new kind does not compile until it is given a
/// number here, and then the coverage test fails until [`examples`] holds one of it.
fn kind_index(kind: &EventKind) -> usize {
    match kind {
        EventKind::ActivityCreated { .. } => 0,
        EventKind::ActivityUpdated { .. } => 1,
        EventKind::ApprovalSubmitted { .. } => 2,
        EventKind::ApprovalApproved { .. } => 3,
        EventKind::ApprovalRejected { .. } => 4,
        EventKind::ApprovalWithdrawn { .. } => 5,
        EventKind::ActivityPublished { .. } => 6,
        EventKind::ActivityUnpublished { .. } => 7,
        EventKind::ActivityOnline => 8,
        EventKind::ActivityEnded => 9,
        EventKind::InstanceCreated { .. } => 10,
        EventKind::InstancePaid { .. } => 11,
        EventKind::InstanceCancelled { .. } => 12,
        EventKind::InstanceTimeout { .. } => 13,
        EventKind::InstanceRefundPending { .. } => 14,
        EventKind::InstanceRefunded { .. } => 15,
        EventKind::InstanceSuccess { .. } => 16,
        EventKind::InstanceFailed { .. } => 17,
        EventKind::FlashSaleSoldOut => 18,
        EventKind::GroupCreated { .. } => 19,
        EventKind::GroupMemberJoined { .. } => 20,
        EventKind::GroupMemberLeft { .. } => 21,
        EventKind::GroupActivated { .. } => 22,
        EventKind::GroupFull { .. } => 23,
        EventKind::CourseOpen { .. } => 24,
        EventKind::GroupFailed { .. } => 25,
        EventKind::GrayConfigured { .. } => 26,
        EventKind::ApprovalFlowSubmitted { .. } => 27,
        EventKind::ApprovalVoted { .. } => 28,
        EventKind::ApprovalLevelAdvanced { .. } => 29,
        EventKind::ActivityRolledBack { .. } => 30,
        EventKind::OrdersArchived { .. } => 31,
        EventKind::InstanceFailedTo { .. } => 32,
    }
}

/// The highest number [`kind_index`] gives.
const KIND_INDEX_MAX: usize = 32;

fn render(kind: EventKind) -> Value {
    data_json(
        ACTIVITY,
        &Event {
            at_ms: 1_795_427_700_000,
            kind,
        },
    )
}

/// `schema` with every object that declares properties closed, so a field the wire
/// struct does not declare fails the test (the served schemas stay open for additions).
fn closed(mut schema: Value) -> Value {
    close(&mut schema);
    schema
}

fn close(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.contains_key("properties") {
                object.insert("additionalProperties".into(), Value::Bool(false));
            }
            object.values_mut().for_each(close);
        }
        Value::Array(items) => items.iter_mut().for_each(close),
        _ => {}
    }
}

/// Every type's schema, closed, compiled with boon (no loader reaches a URL).
fn compiled() -> (Schemas, Vec<(&'static str, boon::SchemaIndex)>) {
    let mut compiler = Compiler::new();
    compiler.set_default_draft(Draft::V2020_12);
    compiler.use_loader(Box::new(SchemeUrlLoader::new()));
    let mut schemas = Schemas::new();
    let mut indexes = Vec::new();
    for event_type in types() {
        let location = format!("urn:playcore:event:{}", event_type.name);
        let schema = closed((event_type.schema)());
        compiler
            .add_resource(&location, schema)
            .unwrap_or_else(|error| panic!("{}: {error:#}", event_type.name));
        let index = compiler
            .compile(&location, &mut schemas)
            .unwrap_or_else(|error| panic!("{}: {error:#}", event_type.name));
        indexes.push((event_type.name, index));
    }
    (schemas, indexes)
}

#[test]
fn the_examples_hold_every_kind_once() {
    let indexes: Vec<usize> = examples().iter().map(kind_index).collect();

    assert_eq!(indexes, (0..=KIND_INDEX_MAX).collect::<Vec<_>>());
}

#[test]
fn every_kind_renders_data_its_type_schema_accepts() {
    let (schemas, indexes) = compiled();

    for kind in examples() {
        let name = kind.type_name();
        let data = render(kind);
        let index = indexes.iter().find(|(type_name, _)| *type_name == name);
        let (_, index) = index.unwrap_or_else(|| panic!("{name} is not in the catalog"));
        if let Err(error) = schemas.validate(&data, *index) {
            panic!("{name}: {data} does not match its schema: {error:#}");
        }
    }
}

#[test]
fn a_field_the_schema_does_not_declare_is_refused() {
    let (schemas, indexes) = compiled();
    let (_, index) = indexes[0];
    let mut data = render(examples().remove(0));
    assert!(schemas.validate(&data, index).is_ok(), "{data}");

    data["config"]["secret"] = Value::from(1);

    assert!(schemas.validate(&data, index).is_err(), "{data}");
}

#[test]
fn the_catalog_lists_exactly_the_domain_type_names_in_their_order() {
    let names: Vec<&str> = types().iter().map(|event_type| event_type.name).collect();

    assert_eq!(names, EventKind::TYPE_NAMES);
    let rendered: BTreeSet<&str> = examples().iter().map(EventKind::type_name).collect();
    assert_eq!(rendered, EventKind::TYPE_NAMES.into_iter().collect());
    assert!(is_type("GROUP_FULL"));
    assert!(!is_type("group_full"));
    assert!(!is_type(""));
}

#[test]
fn every_type_has_a_description_and_an_object_schema() {
    for event_type in types() {
        let schema = (event_type.schema)();
        assert!(event_type.description.len() > 40, "{}", event_type.name);
        assert_eq!(schema["type"], "object", "{}", event_type.name);
        assert_eq!(schema["description"], event_type.description);
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{}",
            event_type.name
        );
    }
}

#[test]
fn data_follows_the_api_conventions() {
    let created = render(examples().remove(10));

    assert_eq!(
        created,
        serde_json::json!({
            "orderId": "ord-7-42",
            "userId": "u1",
            "requestId": "r1",
            "quantity": 2,
            "amount": 1980,
            "expiresAt": "2026-11-23T10:00:00.000Z",
            "groupId": "grp-7-3",
            "channelId": "c9",
            "referrerId": null,
        })
    );
    let configured = render(examples().remove(0));
    assert_eq!(configured["config"]["templateCode"], "GROUP_BUY");
    assert_eq!(configured["config"]["price"], 990);
    assert_eq!(configured["config"]["startAt"], "2026-01-01T00:00:00.000Z");
    assert_eq!(
        configured["config"]["rules"]["groupTtlSeconds"],
        Value::Null
    );
    let archived = render(EventKind::OrdersArchived { orders: vec![1, 2] });
    assert_eq!(
        archived["orderIds"],
        serde_json::json!(["ord-7-1", "ord-7-2"])
    );
    assert_eq!(render(EventKind::FlashSaleSoldOut), serde_json::json!({}));
}

#[test]
fn approval_modes_and_gray_sets_are_served_upper_case_and_sorted() {
    let submitted = render(examples().remove(27));
    let levels = &submitted["levels"];

    assert_eq!(levels[0]["mode"], "COUNT");
    assert_eq!(levels[0]["required"], 2);
    assert_eq!(levels[0]["approvalsNeeded"], 2);
    assert_eq!(levels[1]["mode"], "RATIO");
    assert_eq!(levels[1]["percent"], 50);
    assert_eq!(levels[1]["level"], 2);
    assert_eq!(submitted["configHash"], "ab".repeat(32));
    let gray = render(examples().remove(26));
    assert_eq!(
        gray["config"]["whitelistUserIds"],
        serde_json::json!(["u1", "u2"])
    );
    assert_eq!(gray["config"]["percentage"], 12.5);
    assert_eq!(
        gray["config"]["rules"]["cities"]["notIn"],
        serde_json::json!(["北京"])
    );
    assert_eq!(
        gray["config"]["rules"]["tags"]["in"],
        serde_json::json!(["vip"])
    );
}

#[test]
fn both_layouts_of_a_type_render_the_same_fields() {
    let keys = |data: &Value| -> Vec<String> {
        data.as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect()
    };
    let old_submitted = render(EventKind::ApprovalSubmitted { by: "o".into() });
    let new_submitted = render(examples().remove(27));
    assert_eq!(keys(&old_submitted), keys(&new_submitted));
    assert_eq!(old_submitted["configHash"], Value::Null);
    assert_eq!(old_submitted["levels"][0]["mode"], "ANY");
    assert_eq!(
        old_submitted["levels"][0]["candidates"],
        serde_json::json!([])
    );

    let old_failed = render(EventKind::InstanceFailed { order: 1 });
    let new_failed = render(EventKind::InstanceFailedTo {
        order: 1,
        status: OrderStatus::Cancelled,
    });
    assert_eq!(keys(&old_failed), keys(&new_failed));
    assert_eq!(old_failed["status"], Value::Null);
    assert_eq!(new_failed["status"], "CANCELLED");
}

//! The catalog of event types: every type's name, when it fires, the JSON Schema of its
//! `data`, and the rendering of a domain event's `data` in the API's conventions
//! (camelCase fields, upper-case enum values, cents, RFC 3339 times). The contract is
//! written up for consumers in `docs/events.md`.
//!
//! The domain's events keep their serde layout (it is the journal's stored bytes); the
//! `data` served is mapped explicitly from them onto the wire structs of [`wire`], whose
//! schemas are generated from the same definitions. Types whose domain layout changed
//! over time (APPROVAL_SUBMITTED, INSTANCE_FAILED) render every layout with the same
//! fields, `null` where the older layout did not record a value.
//!
//! Schemas are open (`additionalProperties` unset): fields may be added to a type, never
//! removed or changed, so consumers ignore fields they do not know.

mod wire;

use playcore_actors::domain::{ActivityId, ApprovalFlow, Event, EventKind};
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use wire::*;

/// One event type as the catalog lists it.
pub struct EventType {
    /// `INSTANCE_CREATED` …
    pub name: &'static str,
    /// When the event fires, in one paragraph.
    pub description: &'static str,
    /// The JSON Schema (draft 2020-12) of the type's `data`.
    pub schema: fn() -> serde_json::Value,
}

/// The schema of `T` as served: draft 2020-12, describing what is serialized, with the
/// type's description at its root (a wire struct may serve several types).
fn schema_of<T: JsonSchema>(description: &str) -> Value {
    let mut schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    schema["description"] = Value::from(description);
    schema
}

/// Every event type, in a stable order (that of `EventKind::TYPE_NAMES`).
pub fn types() -> &'static [EventType] {
    &TYPES
}

/// Whether `name` is a type the catalog lists.
pub fn is_type(name: &str) -> bool {
    find(name).is_some()
}

/// The type named `name`, if the catalog lists it.
pub fn find(name: &str) -> Option<&'static EventType> {
    types().iter().find(|event_type| event_type.name == name)
}

/// The `data` of `event`, an event of `activity`, as served (in events pages and webhook
/// bodies). The activity is needed for the ids of orders and groups (`ord-7-42`).
pub fn data_json(activity: ActivityId, event: &Event) -> serde_json::Value {
    let order = |number: &u64| OrderRef::of(activity, *number);
    let group = |number: &u64| GroupRef::of(activity, *number);
    // Exhaustive: a new kind does not compile until it says how it is served.
    match &event.kind {
        EventKind::ActivityCreated { config, by } | EventKind::ActivityUpdated { config, by } => {
            to_json(ConfiguredData {
                by,
                config: ConfigData::of(config),
            })
        }
        EventKind::ApprovalSubmitted { by } => to_json(SubmittedData::of(by, default_flow(), None)),
        EventKind::ApprovalFlowSubmitted {
            by,
            flow,
            config_hash,
        } => to_json(SubmittedData::of(by, flow, Some(config_hash))),
        EventKind::ApprovalApproved { by, remark } | EventKind::ApprovalRejected { by, remark } => {
            to_json(DecisionData { by, remark })
        }
        EventKind::ApprovalWithdrawn { by }
        | EventKind::ActivityPublished { by }
        | EventKind::ActivityUnpublished { by } => to_json(ByData { by }),
        EventKind::ActivityOnline | EventKind::ActivityEnded | EventKind::FlashSaleSoldOut => {
            to_json(NoData {})
        }
        EventKind::ApprovalVoted { by, level, remark } => to_json(VotedData {
            by,
            level: *level,
            remark,
        }),
        EventKind::ApprovalLevelAdvanced { level } => to_json(LevelData { level: *level }),
        EventKind::ActivityRolledBack {
            to_version,
            config,
            by,
            remark,
        } => to_json(RolledBackData {
            to_version: *to_version,
            config: ConfigData::of(config),
            by,
            remark,
        }),
        EventKind::GrayConfigured { config, by } => to_json(GrayConfiguredData {
            by,
            config: GrayData::of(config),
        }),
        EventKind::InstanceCreated {
            order: number,
            user,
            request,
            source,
            quantity,
            amount_cents,
            expires_at_ms,
            group: group_number,
        } => to_json(CreatedData {
            order_id: order(number),
            user_id: user,
            request_id: request,
            quantity: *quantity,
            amount: *amount_cents,
            expires_at: Time::of(*expires_at_ms),
            group_id: group_number.as_ref().map(group),
            channel_id: source.channel.as_deref(),
            referrer_id: source.referrer.as_deref(),
        }),
        EventKind::InstancePaid {
            order: number,
            trade_number,
        }
        | EventKind::InstanceRefundPending {
            order: number,
            trade_number,
        } => to_json(PaymentData {
            order_id: order(number),
            trade_no: trade_number.as_deref(),
        }),
        EventKind::InstanceCancelled { order: number }
        | EventKind::InstanceTimeout { order: number }
        | EventKind::InstanceRefunded { order: number }
        | EventKind::InstanceSuccess { order: number } => to_json(OrderData {
            order_id: order(number),
        }),
        EventKind::InstanceFailed { order: number } => to_json(FailedData {
            order_id: order(number),
            status: None,
        }),
        EventKind::InstanceFailedTo {
            order: number,
            status,
        } => to_json(FailedData {
            order_id: order(number),
            status: Some((*status).into()),
        }),
        EventKind::OrdersArchived { orders } => to_json(ArchivedData {
            order_ids: orders.iter().map(order).collect(),
        }),
        EventKind::GroupCreated {
            group: number,
            leader,
            target,
            expires_at_ms,
        } => to_json(GroupCreatedData {
            group_id: group(number),
            leader_id: leader,
            target: *target,
            expires_at: Time::of(*expires_at_ms),
        }),
        EventKind::GroupMemberJoined {
            group: number,
            user,
            order: member,
        } => to_json(MemberJoinedData {
            group_id: group(number),
            user_id: user,
            order_id: order(member),
        }),
        EventKind::GroupMemberLeft {
            group: number,
            order: member,
        } => to_json(MemberLeftData {
            group_id: group(number),
            order_id: order(member),
        }),
        EventKind::GroupActivated { group: number }
        | EventKind::GroupFull { group: number }
        | EventKind::CourseOpen { group: number }
        | EventKind::GroupFailed { group: number } => to_json(GroupData {
            group_id: group(number),
        }),
    }
}

/// The flow `apply` gives a submission recorded without one: one open ANY level.
fn default_flow() -> &'static ApprovalFlow {
    static FLOW: std::sync::LazyLock<ApprovalFlow> = std::sync::LazyLock::new(Default::default);
    &FLOW
}

/// The wire structs hold strings, numbers and lists only: serializing cannot fail.
fn to_json<T: Serialize>(data: T) -> Value {
    serde_json::to_value(data).unwrap_or_default()
}

macro_rules! event_type {
    ($name:literal, $data:ty, $description:literal) => {
        EventType {
            name: $name,
            description: $description,
            schema: || schema_of::<$data>($description),
        }
    };
}

static TYPES: [EventType; EventKind::TYPE_NAMES.len()] = [
    event_type!(
        "ACTIVITY_CREATED",
        ConfiguredData<'static>,
        "An operator created the activity (`POST /admin/v1/activities`); it starts as a \
         DRAFT. `config` is its configuration, version 1."
    ),
    event_type!(
        "ACTIVITY_UPDATED",
        ConfiguredData<'static>,
        "An operator saved a new configuration (`PUT /admin/v1/activities/{id}`), a new \
         version; an approved activity goes back to DRAFT and must be approved again."
    ),
    event_type!(
        "APPROVAL_SUBMITTED",
        SubmittedData<'static>,
        "The configuration was submitted for approval: the activity is PENDING and level 1 \
         of the approval flow (`levels`) starts. `configHash` names the configuration under \
         review. A notification for approvers."
    ),
    event_type!(
        "APPROVAL_APPROVED",
        DecisionData<'static>,
        "The approval that completed the flow's last level: the activity is APPROVED and \
         may be published. A notification for the submitter."
    ),
    event_type!(
        "APPROVAL_REJECTED",
        DecisionData<'static>,
        "An approver rejected the submission (a veto at any level): the activity is \
         REJECTED until it is submitted again. A notification for the submitter."
    ),
    event_type!(
        "APPROVAL_WITHDRAWN",
        ByData<'static>,
        "The submitter withdrew a pending submission: the activity is back to DRAFT."
    ),
    event_type!(
        "ACTIVITY_PUBLISHED",
        ByData<'static>,
        "An operator published the approved activity: it is visible to users, NOT_STARTED \
         before its window and ONLINE inside it (ACTIVITY_ONLINE follows)."
    ),
    event_type!(
        "ACTIVITY_UNPUBLISHED",
        ByData<'static>,
        "An operator took the activity down (OFFLINE): no new orders; orders already \
         taken go on."
    ),
    event_type!(
        "ACTIVITY_ONLINE",
        NoData,
        "The published activity's window opened, or it was published inside its window: \
         users may order."
    ),
    event_type!(
        "ACTIVITY_ENDED",
        NoData,
        "The published activity's window closed (ENDED): no new orders; unpaid orders may \
         still be paid until their deadline."
    ),
    event_type!(
        "INSTANCE_CREATED",
        CreatedData<'static>,
        "A user's grab or group request took an order: its units are reserved and it is \
         PENDING_PAY until `expiresAt`. Fires once per order; a repeated request \
         (same `userId` and `requestId`) fires nothing."
    ),
    event_type!(
        "INSTANCE_PAID",
        PaymentData<'static>,
        "The order was paid in time (mock payment or the provider's notification): PAID, \
         its units sold."
    ),
    event_type!(
        "INSTANCE_CANCELLED",
        OrderData,
        "The user cancelled the unpaid order: CANCELLED, its units back in stock."
    ),
    event_type!(
        "INSTANCE_TIMEOUT",
        OrderData,
        "The order was not paid by its deadline: TIMEOUT, its units back in stock."
    ),
    event_type!(
        "INSTANCE_REFUND_PENDING",
        PaymentData<'static>,
        "Money arrived for an order that can no longer take it (paid after its deadline, \
         or already closed): REFUND_PENDING, the money is to go back. INSTANCE_REFUNDED \
         follows."
    ),
    event_type!(
        "INSTANCE_REFUNDED",
        OrderData,
        "The order's money went back: REFUNDED, once per order."
    ),
    event_type!(
        "INSTANCE_SUCCESS",
        OrderData,
        "The group of this paid member's order succeeded (GROUP_FULL): one per paid member."
    ),
    event_type!(
        "INSTANCE_FAILED",
        FailedData,
        "The group of this member's order failed (GROUP_FAILED): `status` says where the \
         order went, CANCELLED for an unpaid order (its units go back), REFUND_PENDING for \
         a paid one (its money goes back, INSTANCE_REFUNDED follows). `status` is null only \
         for events recorded by earlier builds."
    ),
    event_type!(
        "FLASH_SALE_SOLD_OUT",
        NoData,
        "A flash sale's grab reserved its last available units: the available stock \
         reached zero and further grabs are refused. It fires each time the available \
         stock reaches zero: when units come back (an order cancelled or timed out) and are \
         grabbed again, it fires again. Reserved is not sold: units of an unpaid order may \
         still come back. Group plays never fire it."
    ),
    event_type!(
        "GROUP_CREATED",
        GroupCreatedData<'static>,
        "A user started a group (its leader; the leader's order follows as \
         INSTANCE_CREATED): PENDING until the leader pays, failing if unfilled at \
         `expiresAt`."
    ),
    event_type!(
        "GROUP_MEMBER_JOINED",
        MemberJoinedData<'static>,
        "A user took a seat in a group, with an order (INSTANCE_CREATED), the leader \
         included."
    ),
    event_type!(
        "GROUP_MEMBER_LEFT",
        MemberLeftData,
        "An unpaid member left (the order cancelled or timed out) and freed the seat."
    ),
    event_type!(
        "GROUP_ACTIVATED",
        GroupData,
        "The leader paid: the group is ACTIVE and open for others to join."
    ),
    event_type!(
        "GROUP_FULL",
        GroupData,
        "The group reached its target of paid members: SUCCESS. COURSE_OPEN follows for a \
         class (COURSE_GROUP), then INSTANCE_SUCCESS for each paid member."
    ),
    event_type!(
        "COURSE_OPEN",
        GroupData,
        "A class (COURSE_GROUP) reached its number of paid students and opens; fires with \
         GROUP_FULL."
    ),
    event_type!(
        "GROUP_FAILED",
        GroupData,
        "The group was not full at `expiresAt`: FAILED. INSTANCE_FAILED follows for each \
         member still holding a seat; paid members are refunded exactly once."
    ),
    event_type!(
        "GRAY_CONFIGURED",
        GrayConfiguredData<'static>,
        "An operator replaced the activity's gray release (`PUT \
         /admin/v1/activities/{id}/gray`): `config` is the new one, its `version` one more \
         than before. A notification of a gray change."
    ),
    event_type!(
        "APPROVAL_VOTED",
        VotedData<'static>,
        "An approval that counts towards the current level of the flow without completing \
         the flow (APPROVAL_LEVEL_ADVANCED or APPROVAL_APPROVED follows once the level has \
         its approvals)."
    ),
    event_type!(
        "APPROVAL_LEVEL_ADVANCED",
        LevelData,
        "The previous level of the approval flow is complete: `level` starts, its \
         candidates may act. A notification for them."
    ),
    event_type!(
        "ACTIVITY_ROLLED_BACK",
        RolledBackData<'static>,
        "An operator installed the configuration of an earlier version again as a new \
         version (`POST /admin/v1/activities/{id}/versions/{number}/rollback`); like an \
         edit it sends the activity back for approval."
    ),
    event_type!(
        "ORDERS_ARCHIVED",
        ArchivedData,
        "These finished orders were moved to the cold store to keep memory bounded; they \
         stay readable by id and no status, count or stock changes."
    ),
];

#[cfg(test)]
mod tests;

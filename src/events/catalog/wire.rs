//! The `data` of each event type as served: one struct per layout, serialized with serde
//! and described by schemars from the same definition, so the JSON sent and the schema
//! published cannot disagree. Each struct borrows from the domain event it renders.
//!
//! Field names and formats are the API's (`openapi.json`): camelCase, ids as their text
//! form (`ord-1-1`, `grp-1-1`), upper-case enum values, money as integer cents under the
//! API's names (`price`, `amount`), times RFC 3339 UTC with milliseconds. A field without
//! a value is `null`, never absent, so every layout of a type has the same fields.

use crate::http::dto::{Displayed, Rfc3339};
use playcore_actors::domain::gray::SetRule;
use playcore_actors::domain::{
    ActivityConfig, ApprovalFlow, GrayConfig, GroupId, LevelMode, OrderId, OrderStatus, Rules,
    TemplateCode,
};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use std::borrow::Cow;

/// Declares a newtype serialized as its inner value and described by a fixed schema.
macro_rules! text_type {
    ($(#[$meta:meta])* $name:ident($inner:ty), $schema:tt) => {
        $(#[$meta])*
        #[derive(Serialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }

            fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

text_type!(
    /// A time as the API writes it: RFC 3339, UTC, milliseconds.
    Time(Rfc3339),
    {
        "type": "string",
        "format": "date-time",
        "examples": ["2026-11-23T10:00:00.000Z"]
    }
);

text_type!(
    /// An order's id as the API serves it (`orderId`).
    OrderRef(Displayed<OrderId>),
    {
        "type": "string",
        "pattern": "^ord-[0-9]+-[0-9]+$",
        "examples": ["ord-1-1"]
    }
);

text_type!(
    /// A group's id as the API serves it (`groupId`).
    GroupRef(Displayed<GroupId>),
    {
        "type": "string",
        "pattern": "^grp-[0-9]+-[0-9]+$",
        "examples": ["grp-1-1"]
    }
);

impl Time {
    pub fn of(ms: i64) -> Time {
        Time(Rfc3339(ms))
    }
}

impl OrderRef {
    pub fn of(activity: playcore_actors::domain::ActivityId, number: u64) -> OrderRef {
        OrderRef(Displayed(OrderId { activity, number }))
    }
}

impl GroupRef {
    pub fn of(activity: playcore_actors::domain::ActivityId, number: u64) -> GroupRef {
        GroupRef(Displayed(GroupId { activity, number }))
    }
}

/// An event without fields: `{}`.
#[derive(Serialize, JsonSchema)]
pub struct NoData {}

/// The play template, as `templateCode` in the API.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Template {
    FlashSale,
    GroupBuy,
    CourseGroup,
}

impl From<TemplateCode> for Template {
    fn from(template: TemplateCode) -> Template {
        match template {
            TemplateCode::FlashSale => Template::FlashSale,
            TemplateCode::GroupBuy => Template::GroupBuy,
            TemplateCode::CourseGroup => Template::CourseGroup,
        }
    }
}

/// An order's status, as `status` of an order in the API.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    PendingPay,
    Paid,
    Cancelled,
    Timeout,
    RefundPending,
    Refunded,
}

impl From<OrderStatus> for Status {
    fn from(status: OrderStatus) -> Status {
        match status {
            OrderStatus::PendingPay => Status::PendingPay,
            OrderStatus::Paid => Status::Paid,
            OrderStatus::Cancelled => Status::Cancelled,
            OrderStatus::Timeout => Status::Timeout,
            OrderStatus::RefundPending => Status::RefundPending,
            OrderStatus::Refunded => Status::Refunded,
        }
    }
}

/// An approval level's mode, as `mode` of an approval level in the API.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    /// The first approval decides the level.
    Any,
    /// Every candidate must approve.
    All,
    /// `required` approvals decide the level.
    Count,
    /// `percent` of the candidates (rounded up) must approve.
    Ratio,
}

/// An activity's rules, as `rules` of an activity in the API.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RulesData<'a> {
    /// Paid members a group needs (group plays); null otherwise.
    pub group_size: Option<u32>,
    /// How long a group stays open, in seconds; null: 86400.
    pub group_ttl_seconds: Option<u64>,
    /// Only users without a paid order may order.
    pub new_user_only: bool,
    /// Where the activity is visible and may be ordered; empty: everywhere.
    pub cities: &'a [String],
    /// Users may not hold orders in two such activities whose windows overlap.
    pub mutually_exclusive: bool,
}

/// An activity's configuration, with the names and formats of `ActivityConfig` in the API.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigData<'a> {
    pub template_code: Template,
    pub template_name: &'static str,
    pub title: &'a str,
    pub store_id: &'a str,
    pub service_id: &'a str,
    /// Price of one order, integer cents.
    pub price: u64,
    pub unit_name: &'a str,
    pub units_per_order: u32,
    /// The configured total stock.
    pub stock: u64,
    pub per_user_limit: u32,
    pub start_at: Time,
    pub end_at: Time,
    pub pay_timeout_seconds: u64,
    pub rules: RulesData<'a>,
}

impl<'a> ConfigData<'a> {
    pub fn of(config: &'a ActivityConfig) -> ConfigData<'a> {
        ConfigData {
            template_code: config.template.into(),
            template_name: config.template.name(),
            title: &config.title,
            store_id: &config.store_id,
            service_id: &config.service_id,
            price: config.price_cents,
            unit_name: &config.unit_name,
            units_per_order: config.units_per_order,
            stock: config.stock_total,
            per_user_limit: config.per_user_limit,
            start_at: Time::of(config.start_at_ms),
            end_at: Time::of(config.end_at_ms),
            pay_timeout_seconds: config.pay_timeout_seconds,
            rules: RulesData::of(&config.rules),
        }
    }
}

impl<'a> RulesData<'a> {
    fn of(rules: &'a Rules) -> RulesData<'a> {
        RulesData {
            group_size: rules.group_size,
            group_ttl_seconds: rules.group_ttl_seconds,
            new_user_only: rules.new_user_only,
            cities: &rules.cities,
            mutually_exclusive: rules.mutually_exclusive,
        }
    }
}

/// ACTIVITY_CREATED, ACTIVITY_UPDATED: the configuration as saved.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfiguredData<'a> {
    /// The admin token's name that made the change.
    pub by: &'a str,
    pub config: ConfigData<'a>,
}

/// APPROVAL_WITHDRAWN, ACTIVITY_PUBLISHED, ACTIVITY_UNPUBLISHED.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ByData<'a> {
    /// The admin token's name that acted.
    pub by: &'a str,
}

/// APPROVAL_APPROVED, APPROVAL_REJECTED.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionData<'a> {
    /// The approver's name.
    pub by: &'a str,
    pub remark: &'a str,
}

/// One level of the approval flow a submission goes through.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowLevelData<'a> {
    /// From 1.
    pub level: usize,
    pub mode: Mode,
    /// COUNT only: the approvals needed.
    pub required: Option<u32>,
    /// RATIO only: the percentage of candidates needed.
    pub percent: Option<u32>,
    /// Approvals that complete the level.
    pub approvals_needed: usize,
    /// Names; empty: anyone holding the approver role but the submitter.
    pub candidates: &'a [String],
}

/// APPROVAL_SUBMITTED.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmittedData<'a> {
    /// The submitter's name.
    pub by: &'a str,
    /// SHA-256 (hex) of the configuration under review, as approval records show it;
    /// null for submissions recorded before hashes were kept.
    pub config_hash: Option<&'a str>,
    /// The flow's levels, in order.
    pub levels: Vec<FlowLevelData<'a>>,
}

impl<'a> SubmittedData<'a> {
    pub fn of(by: &'a str, flow: &'a ApprovalFlow, config_hash: Option<&'a str>) -> Self {
        let levels = flow.levels.iter().enumerate().map(|(index, level)| {
            let (mode, required, percent) = match level.mode {
                LevelMode::Any => (Mode::Any, None, None),
                LevelMode::All => (Mode::All, None, None),
                LevelMode::Count(count) => (Mode::Count, Some(count), None),
                LevelMode::Ratio(percent) => (Mode::Ratio, None, Some(percent)),
            };
            FlowLevelData {
                level: index + 1,
                mode,
                required,
                percent,
                approvals_needed: level.mode.required(level.candidates.len()),
                candidates: &level.candidates,
            }
        });
        SubmittedData {
            by,
            config_hash,
            levels: levels.collect(),
        }
    }
}

/// APPROVAL_VOTED.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VotedData<'a> {
    /// The approver's name.
    pub by: &'a str,
    /// The level approved, from 1.
    pub level: u32,
    pub remark: &'a str,
}

/// APPROVAL_LEVEL_ADVANCED.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LevelData {
    /// The level that starts, from 1.
    pub level: u32,
}

/// ACTIVITY_ROLLED_BACK.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolledBackData<'a> {
    /// The version whose configuration was installed again (the new version's
    /// `rolledBackFrom` in the version list).
    pub to_version: u64,
    /// The configuration installed.
    pub config: ConfigData<'a>,
    pub by: &'a str,
    pub remark: &'a str,
}

/// INSTANCE_CREATED.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedData<'a> {
    pub order_id: OrderRef,
    pub user_id: &'a str,
    /// The client's idempotency key of the grab or group request.
    pub request_id: &'a str,
    /// Units reserved.
    pub quantity: u32,
    /// What the order costs, integer cents.
    pub amount: u64,
    /// The pay deadline: unpaid by then, the order times out.
    pub expires_at: Time,
    /// The group it was placed through (group plays); null otherwise.
    pub group_id: Option<GroupRef>,
    /// The H5 page's channel, for attribution.
    pub channel_id: Option<&'a str>,
    /// The referring user, for attribution.
    pub referrer_id: Option<&'a str>,
}

/// INSTANCE_CANCELLED, INSTANCE_TIMEOUT, INSTANCE_REFUNDED, INSTANCE_SUCCESS.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderData {
    pub order_id: OrderRef,
}

/// INSTANCE_PAID, INSTANCE_REFUND_PENDING.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentData<'a> {
    pub order_id: OrderRef,
    /// The payment provider's trade number (`tradeNo` of its notification); null for the
    /// mock payment.
    pub trade_no: Option<&'a str>,
}

/// INSTANCE_FAILED.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedData {
    pub order_id: OrderRef,
    /// Where the order went: CANCELLED (it was unpaid, its units go back) or
    /// REFUND_PENDING (it was paid, its money goes back). Null for events recorded by
    /// builds that left this to the order's status at the time (read the order).
    pub status: Option<Status>,
}

/// GROUP_CREATED.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupCreatedData<'a> {
    pub group_id: GroupRef,
    pub leader_id: &'a str,
    /// Paid members the group needs.
    pub target: u32,
    /// Unfilled by then, the group fails.
    pub expires_at: Time,
}

/// GROUP_MEMBER_JOINED.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberJoinedData<'a> {
    pub group_id: GroupRef,
    pub user_id: &'a str,
    /// The member's order.
    pub order_id: OrderRef,
}

/// GROUP_MEMBER_LEFT.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberLeftData {
    pub group_id: GroupRef,
    /// The member's order (cancelled or timed out).
    pub order_id: OrderRef,
}

/// GROUP_ACTIVATED, GROUP_FULL, COURSE_OPEN, GROUP_FAILED.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupData {
    pub group_id: GroupRef,
}

/// ORDERS_ARCHIVED.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArchivedData {
    /// The orders moved to the cold store, ascending; still readable by id.
    pub order_ids: Vec<OrderRef>,
}

/// One gray rule: the value must be in `in` (when not empty) and not in `notIn`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrayRuleData<'a> {
    /// Sorted.
    #[serde(rename = "in")]
    pub included: Vec<&'a str>,
    /// Sorted.
    pub not_in: Vec<&'a str>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrayRulesData<'a> {
    pub cities: GrayRuleData<'a>,
    pub devices: GrayRuleData<'a>,
    /// In: the user has one of the tags; not in: the user has none of them.
    pub tags: GrayRuleData<'a>,
}

/// A gray release, with the names and formats of `GrayConfig` in the API.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrayData<'a> {
    pub enabled: bool,
    /// Sorted.
    pub whitelist_user_ids: Vec<&'a str>,
    /// Sorted.
    pub whitelist_store_ids: Vec<&'a str>,
    /// 0 to 100, two decimals.
    pub percentage: f64,
    /// 0 to 10,000: `percentage` times 100.
    pub percentage_basis_points: u32,
    pub rules: GrayRulesData<'a>,
    /// +1 per change.
    pub version: u64,
}

impl<'a> GrayData<'a> {
    pub fn of(config: &'a GrayConfig) -> GrayData<'a> {
        GrayData {
            enabled: config.enabled,
            whitelist_user_ids: sorted(&config.whitelist_user_ids),
            whitelist_store_ids: sorted(&config.whitelist_store_ids),
            percentage: f64::from(config.percentage_basis_points) / 100.0,
            percentage_basis_points: config.percentage_basis_points,
            rules: GrayRulesData {
                cities: GrayRuleData::of(&config.rules.cities),
                devices: GrayRuleData::of(&config.rules.devices),
                tags: GrayRuleData::of(&config.rules.tags),
            },
            version: config.version,
        }
    }
}

impl<'a> GrayRuleData<'a> {
    fn of(rule: &'a SetRule) -> GrayRuleData<'a> {
        GrayRuleData {
            included: sorted(&rule.included),
            not_in: sorted(&rule.excluded),
        }
    }
}

/// Sets are hashed in memory; sorted, the same configuration always reads the same.
fn sorted(set: &playcore_actors::domain::gray::FastSet) -> Vec<&str> {
    let mut values: Vec<&str> = set.iter().map(String::as_str).collect();
    values.sort_unstable();
    values
}

/// GRAY_CONFIGURED: the gray release as replaced.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrayConfiguredData<'a> {
    pub by: &'a str,
    pub config: GrayData<'a>,
}

//! Wire types: JSON bodies in and out, camelCase, times as RFC3339 UTC, money in cents.
//! Request bodies become domain types through `TryFrom`-style parsers that name every bad
//! field, so handlers only see valid values.

use crate::form_schema;
use crate::http::error::ApiError;
use chrono::{DateTime, SecondsFormat, Utc};
use playcore_actors::domain::ids::{valid_identifier, USER_ID_LENGTH_MAX};
use playcore_actors::domain::ids::{ActivityId, GroupId, OrderId};
use playcore_actors::domain::state::{ApprovalRecord, GroupStatus, OrderStatus};
use playcore_actors::domain::{check_text, TextKind};
use playcore_actors::domain::{ActivityConfig, ApprovalStatus, Rules, Source, Stock, TemplateCode};
use playcore_actors::domain::{
    ActivityStatus, ApprovalAction, ConfigVersion, VersionAction, VersionHistory,
};
use playcore_actors::domain::{RequestId, TradeNumber, UserId};
use playcore_actors::views::{ActivityView, GroupView, OrderView};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `ms` since the Unix epoch as RFC 3339 UTC with milliseconds, `2026-11-23T10:00:00.000Z`,
/// as chrono writes it. Every reply carries two or three of these, so years 1970..=9999
/// (every time this server makes) are written by hand, without chrono's formatting
/// machinery; others go through chrono.
pub fn rfc3339(ms: i64) -> String {
    Rfc3339(ms).to_string()
}

/// A time in ms since the Unix epoch that displays (and serializes, without allocating) as
/// [`rfc3339`] writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rfc3339(pub i64);

impl Rfc3339 {
    /// The text without `fmt` machinery, for years 1970..=9999 (every time a reply shows).
    pub(crate) fn fast_bytes(self) -> Option<[u8; 24]> {
        const FAST_MS_MAX: i64 = 253_402_300_800_000; // 10000-01-01T00:00:00Z
        (0..FAST_MS_MAX)
            .contains(&self.0)
            .then(|| rfc3339_bytes(self.0))
    }
}

impl std::fmt::Display for Rfc3339 {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(text) = self.fast_bytes() else {
            let time = DateTime::<Utc>::from_timestamp_millis(self.0).unwrap_or_default();
            return formatter.write_str(&time.to_rfc3339_opts(SecondsFormat::Millis, true));
        };
        // Only ASCII digits and separators were written.
        formatter.write_str(std::str::from_utf8(&text).unwrap_or_default())
    }
}

impl Serialize for Rfc3339 {
    /// Three per grab reply: serialized as one string, not through `collect_str`'s
    /// formatter, which showed in profiles of a rush.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.fast_bytes() {
            Some(text) => serializer.serialize_str(std::str::from_utf8(&text).unwrap_or_default()),
            None => serializer.collect_str(self),
        }
    }
}

/// A value serialized as the text its `Display` writes, without an intermediate `String`.
#[derive(Clone, Copy, Debug)]
pub struct Displayed<T>(pub T);

impl<T: std::fmt::Display> Serialize for Displayed<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// [`rfc3339`] of a time in years 1970..=9999. Each field is written digit by digit with
/// constant divisors (a loop over powers of ten showed in profiles of a rush).
fn rfc3339_bytes(ms: i64) -> [u8; 24] {
    let (days, ms_of_day) = (ms / 86_400_000, ms % 86_400_000);
    let (year, month, day) = civil_from_days(days);
    let mut text = *b"0000-00-00T00:00:00.000Z";
    put_digits(&mut text[0..4], year);
    put_digits(&mut text[5..7], month);
    put_digits(&mut text[8..10], day);
    put_digits(&mut text[11..13], ms_of_day / 3_600_000);
    put_digits(&mut text[14..16], ms_of_day / 60_000 % 60);
    put_digits(&mut text[17..19], ms_of_day / 1000 % 60);
    put_digits(&mut text[20..23], ms_of_day % 1000);
    text
}

/// Writes the last `slot.len()` decimal digits of `value` (>= 0) into `slot`.
fn put_digits(slot: &mut [u8], mut value: i64) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Year, month and day of the `days`-th day after 1970-01-01 (days >= 0), by Howard
/// Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub fn parse_time(field: &str, text: &str) -> Result<i64, (String, String)> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.timestamp_millis())
        .map_err(|_| {
            (
                field.to_string(),
                "an RFC3339 time such as 2026-11-23T10:00:00Z".to_string(),
            )
        })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StockDto {
    pub total: u64,
    pub available: u64,
    pub reserved: u64,
    pub sold: u64,
}

impl From<Stock> for StockDto {
    fn from(stock: Stock) -> StockDto {
        StockDto {
            total: stock.total,
            available: stock.available,
            reserved: stock.reserved,
            sold: stock.sold,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RulesDto {
    pub group_size: Option<u32>,
    pub group_ttl_seconds: Option<u64>,
    pub new_user_only: bool,
    pub cities: Vec<String>,
    pub mutually_exclusive: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityDto {
    pub id: String,
    pub template_code: &'static str,
    pub template_name: &'static str,
    pub title: String,
    pub store_id: String,
    pub service_id: String,
    pub price: u64,
    pub unit_name: String,
    pub units_per_order: u32,
    pub per_user_limit: u32,
    pub start_at: String,
    pub end_at: String,
    pub pay_timeout_seconds: u64,
    pub status: ActivityStatus,
    pub approval_status: ApprovalStatus,
    pub rules: RulesDto,
    pub stock: StockDto,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&ActivityView> for ActivityDto {
    fn from(view: &ActivityView) -> ActivityDto {
        let config = &view.config;
        ActivityDto {
            id: view.id.to_string(),
            template_code: config.template.code(),
            template_name: config.template.name(),
            title: config.title.clone(),
            store_id: config.store_id.clone(),
            service_id: config.service_id.clone(),
            price: config.price_cents,
            unit_name: config.unit_name.clone(),
            units_per_order: config.units_per_order,
            per_user_limit: config.per_user_limit,
            start_at: rfc3339(config.start_at_ms),
            end_at: rfc3339(config.end_at_ms),
            pay_timeout_seconds: config.pay_timeout_seconds,
            status: view.status,
            approval_status: view.approval_status,
            rules: RulesDto::from(&config.rules),
            stock: view.stock.into(),
            version: view.version,
            created_at: rfc3339(view.created_at_ms),
            updated_at: rfc3339(view.updated_at_ms),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderDto<'a> {
    pub order_id: Displayed<OrderId>,
    pub activity_id: Displayed<ActivityId>,
    pub user_id: &'a str,
    pub quantity: u32,
    pub amount: u64,
    pub status: OrderStatus,
    pub created_at: Rfc3339,
    pub expires_at: Rfc3339,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<Rfc3339>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<Displayed<GroupId>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer_id: Option<&'a str>,
    /// Shown (as `true`) only for an order read back from the cold store.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
}

/// Borrows the view: the grab's reply is serialized without copying a string.
impl<'a> From<&'a OrderView> for OrderDto<'a> {
    fn from(view: &'a OrderView) -> OrderDto<'a> {
        OrderDto {
            order_id: Displayed(view.id),
            activity_id: Displayed(view.id.activity),
            user_id: &view.user,
            quantity: view.quantity,
            amount: view.amount_cents,
            status: view.status,
            created_at: Rfc3339(view.created_at_ms),
            expires_at: Rfc3339(view.expires_at_ms),
            paid_at: view.paid_at_ms.map(Rfc3339),
            group_id: view.group.map(Displayed),
            channel_id: view.source.channel.as_deref(),
            referrer_id: view.source.referrer.as_deref(),
            archived: view.archived,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressDto {
    pub current: u32,
    pub target: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberDto {
    pub user_id: String,
    pub order_status: OrderStatus,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupDto {
    pub group_id: String,
    pub activity_id: String,
    pub leader_id: String,
    pub status: GroupStatus,
    pub progress: ProgressDto,
    pub members: Vec<MemberDto>,
    pub created_at: String,
    pub expires_at: String,
    pub version: u64,
}

impl From<&GroupView> for GroupDto {
    fn from(view: &GroupView) -> GroupDto {
        let members = view.members.iter().map(|member| MemberDto {
            user_id: member.user.clone(),
            order_status: member.order_status,
        });
        GroupDto {
            group_id: view.id.to_string(),
            activity_id: view.id.activity.to_string(),
            leader_id: view.leader.clone(),
            status: view.status,
            progress: ProgressDto {
                current: view.current,
                target: view.target,
            },
            members: members.collect(),
            created_at: rfc3339(view.created_at_ms),
            expires_at: rfc3339(view.expires_at_ms),
            version: view.version,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRecordDto {
    pub action: ApprovalAction,
    pub by: String,
    pub remark: String,
    pub at: String,
    pub revision: u32,
    /// The level acted on, from 1.
    pub level: u32,
    /// SHA-256 (hex) of the encoded configuration under review.
    pub config_hash: String,
}

impl From<&ApprovalRecord> for ApprovalRecordDto {
    fn from(record: &ApprovalRecord) -> ApprovalRecordDto {
        ApprovalRecordDto {
            action: record.action,
            by: record.by.clone(),
            remark: record.remark.clone(),
            at: rfc3339(record.at_ms),
            revision: record.revision,
            level: record.level,
            config_hash: record.config_hash.clone(),
        }
    }
}

/// Checks a caller-chosen id field.
pub fn identifier(field: &str, value: &str, length_max: usize) -> Result<String, ApiError> {
    if valid_identifier(value, length_max) {
        Ok(value.to_string())
    } else {
        Err(identifier_error(field, length_max))
    }
}

fn identifier_error(field: &str, length_max: usize) -> ApiError {
    ApiError::validation(field, format!("1 to {length_max} visible ASCII characters"))
}

/// A caller's text field, checked by the one text rule ([`check_text`]); the error
/// names `field`.
pub fn text(field: &str, value: &str, kind: TextKind) -> Result<(), ApiError> {
    check_text(value, kind).map_err(|reason| ApiError::validation(field, reason))
}

/// The attribution of an order: the H5 page's channel (`c_id`) and referrer (`u_id`).
pub fn source(channel_id: Option<&str>, referrer_id: Option<&str>) -> Result<Source, ApiError> {
    let optional = |field: &str, value: Option<&str>| {
        value
            .map(|text| identifier(field, text, USER_ID_LENGTH_MAX))
            .transpose()
    };
    Ok(Source {
        channel: optional("channelId", channel_id)?,
        referrer: optional("referrerId", referrer_id)?,
    })
}

/// The client ids are parsed here, once: past the edge they are types that cannot hold an
/// invalid value.
pub fn user_id(value: &str) -> Result<UserId, ApiError> {
    UserId::parse(value).ok_or_else(|| identifier_error("userId", UserId::LENGTH_MAX))
}

pub fn request_id(value: &str) -> Result<RequestId, ApiError> {
    RequestId::parse(value).ok_or_else(|| identifier_error("requestId", RequestId::LENGTH_MAX))
}

pub fn trade_number(value: &str) -> Result<TradeNumber, ApiError> {
    TradeNumber::parse(value).ok_or_else(|| identifier_error("tradeNo", TradeNumber::LENGTH_MAX))
}

/// The admin body of an activity (create and edit). An unknown field is refused, named.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActivityBody {
    pub template_code: String,
    pub title: String,
    pub store_id: String,
    pub service_id: String,
    pub price: i64,
    pub stock: i64,
    pub per_user_limit: i64,
    pub start_at: String,
    pub end_at: String,
    pub pay_timeout_seconds: Option<i64>,
    pub units_per_order: Option<i64>,
    pub unit_name: Option<String>,
    /// Kept as JSON until it passed the template's rules schema (`form_schema`), so an
    /// unknown rule or a wrong type is named by the schema, not lost in a generic error.
    pub rules: Option<Value>,
    /// Shown by the replies beside `templateCode` and derived from it: accepted and
    /// ignored, so a configuration read from a version can be PUT back as is.
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "accepted so that it is not refused as unknown; never read"
    )]
    pub template_name: serde::de::IgnoredAny,
}

/// The rules once the template's schema accepted them: the schema already checked names,
/// types and ranges, so this parse only fails on what the schema cannot see (a whole
/// number written as `3.0`).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RulesBody {
    group_size: Option<u32>,
    group_ttl_seconds: Option<u64>,
    #[serde(default)]
    new_user_only: bool,
    #[serde(default)]
    cities: Vec<String>,
    #[serde(default)]
    mutually_exclusive: bool,
}

impl From<RulesBody> for Rules {
    fn from(body: RulesBody) -> Rules {
        Rules {
            group_size: body.group_size,
            group_ttl_seconds: body.group_ttl_seconds,
            new_user_only: body.new_user_only,
            cities: body.cities,
            mutually_exclusive: body.mutually_exclusive,
        }
    }
}

/// Checks `rules` against the template's schema, then parses them; the errors name
/// `rules.<field>`. Absent or `null` rules are `{}`, and a rule whose value is `null` is
/// absent: the activity and version replies show unset rules as `null`, so what a client
/// read can be sent back as is.
fn parse_rules(template: TemplateCode, rules: Option<Value>) -> Result<Rules, FieldErrors> {
    let rules = match rules {
        None | Some(Value::Null) => Value::Object(serde_json::Map::new()),
        Some(Value::Object(mut fields)) => {
            fields.retain(|_, value| !value.is_null());
            Value::Object(fields)
        }
        Some(rules) => rules,
    };
    form_schema::catalog().validate_rules(template, &rules)?;
    serde_path_to_error::deserialize(rules)
        .map(|body: RulesBody| body.into())
        .map_err(|error| {
            let path = error.path().to_string();
            let field = if path == "." {
                "rules".to_owned()
            } else {
                format!("rules.{path}")
            };
            vec![(field, error.inner().to_string())]
        })
}

type FieldErrors = Vec<(String, String)>;

fn non_negative<T: TryFrom<i64> + Default>(errors: &mut FieldErrors, field: &str, value: i64) -> T {
    match T::try_from(value) {
        Ok(converted) if value >= 0 => converted,
        _ => {
            errors.push((field.to_string(), "out of range".to_string()));
            T::default()
        }
    }
}

impl ActivityBody {
    /// Parses into a configuration, naming every field that fails: types, the template's
    /// rules schema, then the business checks of `ActivityConfig::validate`.
    pub fn into_config(self) -> Result<ActivityConfig, ApiError> {
        let mut errors: FieldErrors = Vec::new();
        let template = TemplateCode::parse(&self.template_code);
        if template.is_none() {
            errors.push((
                "templateCode".into(),
                "one of FLASH_SALE, GROUP_BUY, COURSE_GROUP".into(),
            ));
        }
        // Rules are checked only against a known template's schema; the business checks
        // on rules only run on rules that passed it (defaults would report false errors).
        let rules = match template.map(|template| parse_rules(template, self.rules)) {
            Some(Ok(rules)) => Some(rules),
            Some(Err(rule_errors)) => {
                errors.extend(rule_errors);
                None
            }
            None => None,
        };
        let rules_checked = rules.is_some();
        let template = template.unwrap_or(TemplateCode::FlashSale);
        let start_at_ms = parse_time("startAt", &self.start_at)
            .map_err(|error| errors.push(error))
            .unwrap_or(0);
        let end_at_ms = parse_time("endAt", &self.end_at)
            .map_err(|error| errors.push(error))
            .unwrap_or(0);
        let config = ActivityConfig {
            template,
            unit_name: self
                .unit_name
                .unwrap_or_else(|| template.unit_name().to_string()),
            title: self.title,
            store_id: self.store_id,
            service_id: self.service_id,
            price_cents: non_negative(&mut errors, "price", self.price),
            units_per_order: non_negative(
                &mut errors,
                "unitsPerOrder",
                self.units_per_order.unwrap_or(1),
            ),
            stock_total: non_negative(&mut errors, "stock", self.stock),
            per_user_limit: non_negative(&mut errors, "perUserLimit", self.per_user_limit),
            start_at_ms,
            end_at_ms,
            pay_timeout_seconds: non_negative(
                &mut errors,
                "payTimeoutSeconds",
                self.pay_timeout_seconds.unwrap_or(300),
            ),
            rules: rules.unwrap_or_default(),
        };
        business_checks(&config, rules_checked, &mut errors);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ApiError::validation_fields(errors))
        }
    }
}

/// Adds the business checks' errors on fields not already named; the checks on `rules.*`
/// only when the rules passed the schema.
fn business_checks(config: &ActivityConfig, rules_checked: bool, errors: &mut FieldErrors) {
    for error in config.validate() {
        let is_rule = error.field.starts_with("rules.");
        let known = errors.iter().any(|(field, _)| field == error.field);
        if !known && (rules_checked || !is_rule) {
            errors.push((error.field.to_string(), error.reason));
        }
    }
}

impl From<&Rules> for RulesDto {
    fn from(rules: &Rules) -> RulesDto {
        RulesDto {
            group_size: rules.group_size,
            group_ttl_seconds: rules.group_ttl_seconds,
            new_user_only: rules.new_user_only,
            cities: rules.cities.clone(),
            mutually_exclusive: rules.mutually_exclusive,
        }
    }
}

/// A configuration with the field names and formats of the activity DTO; `stock` is the
/// configured total, as in the create/edit body, so the object can be PUT back as is.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigDto {
    pub template_code: &'static str,
    pub template_name: &'static str,
    pub title: String,
    pub store_id: String,
    pub service_id: String,
    pub price: u64,
    pub unit_name: String,
    pub units_per_order: u32,
    pub stock: u64,
    pub per_user_limit: u32,
    pub start_at: String,
    pub end_at: String,
    pub pay_timeout_seconds: u64,
    pub rules: RulesDto,
}

impl From<&ActivityConfig> for ConfigDto {
    fn from(config: &ActivityConfig) -> ConfigDto {
        ConfigDto {
            template_code: config.template.code(),
            template_name: config.template.name(),
            title: config.title.clone(),
            store_id: config.store_id.clone(),
            service_id: config.service_id.clone(),
            price: config.price_cents,
            unit_name: config.unit_name.clone(),
            units_per_order: config.units_per_order,
            stock: config.stock_total,
            per_user_limit: config.per_user_limit,
            start_at: rfc3339(config.start_at_ms),
            end_at: rfc3339(config.end_at_ms),
            pay_timeout_seconds: config.pay_timeout_seconds,
            rules: RulesDto::from(&config.rules),
        }
    }
}

/// One configuration version in a history list: who made it, how, and what it changed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionDto {
    pub number: u64,
    pub action: VersionAction,
    pub by: String,
    pub at: String,
    /// For a rollback: the version whose configuration it restores.
    pub rolled_back_from: Option<u64>,
    pub remark: String,
    /// SHA-256 (hex) of the encoded configuration, as approval records show it.
    pub config_hash: String,
    /// Whether this is the activity's configuration now.
    pub current: bool,
    /// Fields changed relative to the previous version (API names); empty for version 1,
    /// `null` when the previous version is no longer kept.
    pub changed_fields: Option<Vec<&'static str>>,
    /// The whole configuration: in the detail of one version only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigDto>,
}

impl VersionDto {
    /// Version `version` of `history`, with its configuration when `with_config`.
    pub fn of(history: &VersionHistory, version: &ConfigVersion, with_config: bool) -> VersionDto {
        VersionDto {
            number: version.number,
            action: version.action,
            by: version.by.clone(),
            at: rfc3339(version.at_ms),
            rolled_back_from: version.rolled_back_from,
            remark: version.remark.clone(),
            config_hash: version.config_hash.clone(),
            current: version.number == history.current_number(),
            changed_fields: history.changed_fields(version.number),
            config: with_config.then(|| ConfigDto::from(version.config.as_ref())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(template: &str, rules: Value) -> ActivityBody {
        let mut body = json!({
            "templateCode": template,
            "title": "拼团按摩",
            "storeId": "store-1",
            "serviceId": "svc-1",
            "price": 990,
            "stock": 10,
            "perUserLimit": 1,
            "startAt": "2026-11-23T10:00:00Z",
            "endAt": "2026-11-23T12:00:00Z",
        });
        if !rules.is_null() {
            body["rules"] = rules;
        }
        serde_json::from_value(body).expect("a well-typed body")
    }

    fn error_fields(body: ActivityBody) -> Vec<String> {
        let error = body.into_config().expect_err("refused");
        assert_eq!(error.code(), "VALIDATION_FAILED");
        let fields = error.details().expect("details")["fields"]
            .as_object()
            .expect("fields")
            .keys()
            .cloned()
            .collect();
        fields
    }

    #[test]
    fn valid_rules_become_the_configuration() {
        let rules = json!({"groupSize": 3, "cities": ["上海"], "mutuallyExclusive": true});
        let config = body("GROUP_BUY", rules).into_config().expect("valid");
        assert_eq!(config.rules.group_size, Some(3));
        assert_eq!(config.rules.cities, vec!["上海".to_owned()]);
        assert!(config.rules.mutually_exclusive);
        assert!(!config.rules.new_user_only);
    }

    #[test]
    fn absent_or_null_rules_are_empty_rules() {
        let config = body("FLASH_SALE", Value::Null)
            .into_config()
            .expect("valid");
        assert_eq!(config.rules, Rules::default());
        let config = body("FLASH_SALE", json!(null))
            .into_config()
            .expect("valid");
        assert_eq!(config.rules, Rules::default());
    }

    #[test]
    fn a_schema_error_in_one_rule_reports_no_business_errors_on_the_others() {
        let rules = json!({"groupSize": 3, "cities": [""]});
        assert_eq!(
            error_fields(body("GROUP_BUY", rules)),
            vec!["rules.cities[0]"]
        );
    }

    #[test]
    fn schema_errors_and_business_errors_are_reported_together() {
        let mut activity = body("COURSE_GROUP", json!({"groupSize": 3, "extra": 1}));
        activity.price = 0;
        activity.end_at = activity.start_at.clone();
        let mut fields = error_fields(activity);
        fields.sort();
        assert_eq!(fields, vec!["endAt", "price", "rules.extra"]);
    }

    #[test]
    fn an_unknown_template_does_not_judge_the_rules() {
        let fields = error_fields(body("NO_SUCH_PLAY", json!({"groupSize": 3})));
        assert_eq!(fields, vec!["templateCode"]);
    }

    fn chrono_rfc3339(ms: i64) -> String {
        DateTime::<Utc>::from_timestamp_millis(ms)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        let edges = [
            0,
            1,
            86_399_999,
            86_400_000,
            951_782_400_000,     // 2000-02-29
            1_709_251_199_999,   // 2024-02-29T23:59:59.999Z
            4_107_542_400_000,   // 2100-03-01
            253_402_300_799_999, // 9999-12-31T23:59:59.999Z
            253_402_300_800_000, // year 10000: chrono's path
            -1,                  // before 1970: chrono's path
        ];
        for ms in edges {
            assert_eq!(rfc3339(ms), chrono_rfc3339(ms), "{ms}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_time_is_written_as_chrono_writes_it(ms in -100_000_000_000_000_i64..300_000_000_000_000) {
            proptest::prop_assert_eq!(rfc3339(ms), chrono_rfc3339(ms));
            let serialized = serde_json::to_string(&Rfc3339(ms)).expect("a time serializes");
            proptest::prop_assert_eq!(serialized, format!("\"{}\"", chrono_rfc3339(ms)));
        }
    }

    #[test]
    fn null_rules_are_absent_so_a_reply_can_be_sent_back() {
        let flash_sale = body(
            "FLASH_SALE",
            json!({"groupSize": null, "groupTtlSeconds": null, "cities": ["上海"]}),
        );
        let config = flash_sale.into_config().expect("null rules are absent");
        assert_eq!(config.rules.group_size, None);
        assert_eq!(config.rules.cities, vec!["上海".to_string()]);
        let group_buy = body(
            "GROUP_BUY",
            json!({"groupSize": 3, "groupTtlSeconds": null}),
        );
        let config = group_buy.into_config().expect("an unset ttl is absent");
        assert_eq!(config.rules.group_ttl_seconds, None);
        let missing = error_fields(body("GROUP_BUY", json!({"groupSize": null})));
        assert_eq!(missing, vec!["rules.groupSize"]);
    }

    #[test]
    fn a_whole_number_written_as_a_fraction_is_named() {
        let fields = error_fields(body("GROUP_BUY", json!({"groupSize": 3.0})));
        assert_eq!(fields, vec!["rules.groupSize"]);
    }
}

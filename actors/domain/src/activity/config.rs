//! An activity's configuration and the business checks on it.

use crate::template::{Rules, TemplateCode, GROUP_SIZE_MAX, GROUP_SIZE_MIN};
use crate::text::{check_text, TextKind};
use serde::{Deserialize, Serialize};

/// Bounds that keep a configuration sane (and memory bounded).
pub const TITLE_LENGTH_MAX: usize = 200;
pub const STOCK_MAX: u64 = 100_000_000;
pub const PRICE_CENTS_MAX: u64 = 10_000_000_000;
pub const PER_USER_LIMIT_MAX: u32 = 10_000;
pub const PAY_TIMEOUT_SECONDS_MIN: u64 = 1;
pub const PAY_TIMEOUT_SECONDS_MAX: u64 = 7 * 24 * 3600;
pub const GROUP_TTL_SECONDS_MIN: u64 = 60;
pub const GROUP_TTL_SECONDS_MAX: u64 = 30 * 24 * 3600;
pub const CITIES_MAX: usize = 500;
/// Longest `storeId` and `serviceId`, in bytes.
pub const ID_LENGTH_MAX: usize = 64;
pub const UNITS_PER_ORDER_MAX: u32 = 1000;
/// Longest unit name (件, 份, 课时 …), in characters.
pub const UNIT_NAME_LENGTH_MAX: usize = 16;

/// SHA-256 (hex) of the configuration's canonical encoding, its JSON with the fields in
/// declaration order: what an approval approved and what a version holds, shown to people.
/// Hashes are recorded and shown, never recomputed to compare with recorded ones: those
/// recorded by earlier builds hashed the storage encoding instead, and stay as they are.
pub fn config_hash(config: &ActivityConfig) -> String {
    use sha2::{Digest, Sha256};
    let encoded = serde_json::to_vec(config).unwrap_or_default();
    hex::encode(Sha256::digest(&encoded))
}

/// What an operator configures for a marketing product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityConfig {
    pub template: TemplateCode,
    pub title: String,
    pub store_id: String,
    pub service_id: String,
    pub price_cents: u64,
    pub unit_name: String,
    pub units_per_order: u32,
    pub stock_total: u64,
    pub per_user_limit: u32,
    pub start_at_ms: i64,
    pub end_at_ms: i64,
    pub pay_timeout_seconds: u64,
    pub rules: Rules,
}

/// A configuration field that fails a check, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

fn check(errors: &mut Vec<FieldError>, ok: bool, field: &'static str, reason: &str) {
    if !ok {
        errors.push(FieldError {
            field,
            reason: reason.to_string(),
        });
    }
}

impl ActivityConfig {
    /// Every business check; an empty list means the configuration is valid.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let title_length = self.title.chars().count();
        check(
            &mut errors,
            (1..=TITLE_LENGTH_MAX).contains(&title_length),
            "title",
            "1 to 200 characters",
        );
        check(
            &mut errors,
            !self.store_id.trim().is_empty() && self.store_id.len() <= ID_LENGTH_MAX,
            "storeId",
            "1 to 64 characters",
        );
        check(
            &mut errors,
            !self.service_id.trim().is_empty() && self.service_id.len() <= ID_LENGTH_MAX,
            "serviceId",
            "1 to 64 characters",
        );
        check(
            &mut errors,
            (1..=PRICE_CENTS_MAX).contains(&self.price_cents),
            "price",
            "positive integer cents",
        );
        check(
            &mut errors,
            (1..=STOCK_MAX).contains(&self.stock_total),
            "stock",
            "1 to 100000000",
        );
        check(
            &mut errors,
            (1..=PER_USER_LIMIT_MAX).contains(&self.per_user_limit),
            "perUserLimit",
            "1 to 10000",
        );
        check(
            &mut errors,
            (1..=UNITS_PER_ORDER_MAX).contains(&self.units_per_order),
            "unitsPerOrder",
            "1 to 1000",
        );
        check(
            &mut errors,
            self.end_at_ms > self.start_at_ms,
            "endAt",
            "must be after startAt",
        );
        let pay_range = PAY_TIMEOUT_SECONDS_MIN..=PAY_TIMEOUT_SECONDS_MAX;
        check(
            &mut errors,
            pay_range.contains(&self.pay_timeout_seconds),
            "payTimeoutSeconds",
            "1 to 604800",
        );
        check(
            &mut errors,
            !self.unit_name.is_empty() && self.unit_name.chars().count() <= UNIT_NAME_LENGTH_MAX,
            "unitName",
            "1 to 16 characters",
        );
        self.validate_rules(&mut errors);
        self.validate_text(&mut errors);
        errors
    }

    /// The text rule ([`check_text`]) on every text field not already named by an error.
    fn validate_text(&self, errors: &mut Vec<FieldError>) {
        let fields = [
            ("title", self.title.as_str(), TextKind::Line),
            ("storeId", self.store_id.as_str(), TextKind::Token),
            ("serviceId", self.service_id.as_str(), TextKind::Token),
            ("unitName", self.unit_name.as_str(), TextKind::Line),
        ];
        let cities = self.rules.cities.iter();
        let cities = cities.map(|city| ("rules.cities", city.as_str(), TextKind::Line));
        for (field, text, kind) in fields.into_iter().chain(cities) {
            let named = errors.iter().any(|error| error.field == field);
            if let (false, Err(reason)) = (named, check_text(text, kind)) {
                errors.push(FieldError { field, reason });
            }
        }
    }

    fn validate_rules(&self, errors: &mut Vec<FieldError>) {
        let rules = &self.rules;
        check(
            errors,
            rules.cities.len() <= CITIES_MAX,
            "rules.cities",
            "at most 500 cities",
        );
        if !self.template.is_group() {
            check(
                errors,
                rules.group_size.is_none(),
                "rules.groupSize",
                "only for group templates",
            );
            check(
                errors,
                rules.group_ttl_seconds.is_none(),
                "rules.groupTtlSeconds",
                "only for group templates",
            );
            return;
        }
        let size_ok = rules
            .group_size
            .is_some_and(|size| (GROUP_SIZE_MIN..=GROUP_SIZE_MAX).contains(&size));
        check(errors, size_ok, "rules.groupSize", "required, 2 to 100");
        let ttl_ok = rules
            .group_ttl_seconds
            .is_none_or(|ttl| (GROUP_TTL_SECONDS_MIN..=GROUP_TTL_SECONDS_MAX).contains(&ttl));
        check(errors, ttl_ok, "rules.groupTtlSeconds", "60 to 2592000");
    }

    /// Members a group instance needs (1 for a flash sale, which has no groups).
    pub fn group_size(&self) -> u32 {
        self.rules.group_size.unwrap_or(1)
    }

    pub fn group_ttl_ms(&self) -> i64 {
        let seconds = self
            .rules
            .group_ttl_seconds
            .unwrap_or(crate::template::GROUP_TTL_SECONDS_DEFAULT);
        i64::try_from(seconds).unwrap_or(i64::MAX / 1000) * 1000
    }

    pub fn pay_timeout_ms(&self) -> i64 {
        i64::try_from(self.pay_timeout_seconds).unwrap_or(i64::MAX / 1000) * 1000
    }

    /// Whether the activity is visible in `city` (no city rule: everywhere).
    pub fn visible_in(&self, city: &str) -> bool {
        self.rules.cities.is_empty() || self.rules.cities.iter().any(|allowed| allowed == city)
    }
}

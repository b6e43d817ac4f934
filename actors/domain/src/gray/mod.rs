//! Gray release: which users an activity admits while it is rolled out gradually.
//!
//! [`decide`] is a pure function over an immutable [`GrayConfig`]. The order is fixed:
//!
//! 1. gray release not enabled → everyone is in;
//! 2. the user is on the user whitelist → in;
//! 3. the store is on the store whitelist → in;
//! 4. rules on city, device and user tags: a user failing any rule is out;
//! 5. the bucket: [`bucket`] of the activity and the user, in `0..10_000`, is in when it is
//!    below the percentage in basis points.
//!
//! A user's bucket never changes, so raising the percentage never removes a user who was in.

use crate::ids::ActivityId;
use crate::text::{check_text, TextKind};
use serde::{Deserialize, Serialize};
use std::fmt;

mod configure;

/// A set of strings with O(1) lookups; seeded randomly like
/// [`FastMap`](crate::state::FastMap), so crafted ids cannot force collisions.
pub type FastSet = std::collections::HashSet<String, ahash::RandomState>;

/// The percentage scale: 10,000 basis points are 100 %.
pub const BASIS_POINTS_MAX: u32 = 10_000;
/// Most entries of each whitelist.
pub const WHITELIST_ENTRIES_MAX: usize = 10_000;
/// Most values of one side (in or not in) of one rule.
pub const RULE_VALUES_MAX: usize = 100;
/// Longest value of a whitelist or a rule.
pub const VALUE_LENGTH_MAX: usize = 64;

/// One rule over one attribute: the value must be in `included` (when it is not empty) and
/// must not be in `excluded`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRule {
    pub included: FastSet,
    pub excluded: FastSet,
}

/// The rules of step 4, one per attribute.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrayRules {
    pub cities: SetRule,
    pub devices: SetRule,
    /// Included: the user has at least one of the tags; excluded: the user has none of them.
    pub tags: SetRule,
}

/// An activity's gray release. The default (not enabled) admits everyone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrayConfig {
    pub enabled: bool,
    pub whitelist_user_ids: FastSet,
    pub whitelist_store_ids: FastSet,
    /// 0..=10,000: the API's percentage (0–100, two decimals) times 100.
    pub percentage_basis_points: u32,
    pub rules: GrayRules,
    /// 0 before the first configuration, then incremented by each change.
    pub version: u64,
}

/// What the caller says about the user asking; all but `user` are optional.
#[derive(Clone, Copy, Debug, Default)]
pub struct GrayUser<'a> {
    pub user: &'a str,
    pub store: Option<&'a str>,
    pub city: Option<&'a str>,
    pub device: Option<&'a str>,
    pub tags: &'a [String],
}

/// Why a user is in or out; the variants' order is the decision order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GrayReason {
    Disabled,
    UserWhitelist,
    StoreWhitelist,
    CityRule,
    DeviceRule,
    TagRule,
    Bucket,
}

impl GrayReason {
    /// Every reason, in decision order (indexes of per-reason counters).
    pub const ALL: [GrayReason; 7] = [
        GrayReason::Disabled,
        GrayReason::UserWhitelist,
        GrayReason::StoreWhitelist,
        GrayReason::CityRule,
        GrayReason::DeviceRule,
        GrayReason::TagRule,
        GrayReason::Bucket,
    ];

    pub fn name(self) -> &'static str {
        match self {
            GrayReason::Disabled => "DISABLED",
            GrayReason::UserWhitelist => "USER_WHITELIST",
            GrayReason::StoreWhitelist => "STORE_WHITELIST",
            GrayReason::CityRule => "CITY_RULE",
            GrayReason::DeviceRule => "DEVICE_RULE",
            GrayReason::TagRule => "TAG_RULE",
            GrayReason::Bucket => "BUCKET",
        }
    }

    /// The position in [`GrayReason::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The outcome of [`decide`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrayDecision {
    pub admitted: bool,
    pub reason: GrayReason,
}

impl GrayDecision {
    fn new(admitted: bool, reason: GrayReason) -> GrayDecision {
        GrayDecision { admitted, reason }
    }
}

/// A field that failed validation and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrayFieldError {
    pub field: &'static str,
    pub reason: String,
}

impl fmt::Display for GrayFieldError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.field, self.reason)
    }
}

/// Decides whether `asker` may trade in `activity` under `config`.
pub fn decide(config: &GrayConfig, activity: ActivityId, asker: &GrayUser) -> GrayDecision {
    if !config.enabled {
        return GrayDecision::new(true, GrayReason::Disabled);
    }
    if config.whitelist_user_ids.contains(asker.user) {
        return GrayDecision::new(true, GrayReason::UserWhitelist);
    }
    if asker
        .store
        .is_some_and(|store| config.whitelist_store_ids.contains(store))
    {
        return GrayDecision::new(true, GrayReason::StoreWhitelist);
    }
    if let Some(reason) = failed_rule(&config.rules, asker) {
        return GrayDecision::new(false, reason);
    }
    let admitted = in_percentage(config.percentage_basis_points, activity, asker.user);
    GrayDecision::new(admitted, GrayReason::Bucket)
}

/// The first rule `asker` fails, if any.
fn failed_rule(rules: &GrayRules, asker: &GrayUser) -> Option<GrayReason> {
    if !rules.cities.admits_value(asker.city) {
        return Some(GrayReason::CityRule);
    }
    if !rules.devices.admits_value(asker.device) {
        return Some(GrayReason::DeviceRule);
    }
    if !rules.tags.admits_tags(asker.tags) {
        return Some(GrayReason::TagRule);
    }
    None
}

impl SetRule {
    /// A missing value fails a non-empty `included` and passes `excluded`.
    fn admits_value(&self, value: Option<&str>) -> bool {
        let included =
            self.included.is_empty() || value.is_some_and(|value| self.included.contains(value));
        let excluded = value.is_some_and(|value| self.excluded.contains(value));
        included && !excluded
    }

    fn admits_tags(&self, tags: &[String]) -> bool {
        let included =
            self.included.is_empty() || tags.iter().any(|tag| self.included.contains(tag));
        let excluded = tags.iter().any(|tag| self.excluded.contains(tag));
        included && !excluded
    }

    fn validate(&self, field: &'static str, errors: &mut Vec<GrayFieldError>) {
        for set in [&self.included, &self.excluded] {
            validate_set(field, set, RULE_VALUES_MAX, TextKind::Line, errors);
        }
    }
}

/// No hashing at the two ends of the scale: 0 % admits nobody, 100 % everybody.
fn in_percentage(basis_points: u32, activity: ActivityId, user: &str) -> bool {
    match basis_points {
        0 => false,
        BASIS_POINTS_MAX.. => true,
        1..BASIS_POINTS_MAX => bucket(activity, user) < basis_points,
    }
}

/// The user's stable bucket in `0..10_000`: the MD5 digest of the UTF-8 bytes of
/// `"{activity}:{user}"` (the activity's decimal id), its first 8 bytes read as a
/// big-endian `u64`, modulo 10,000. (The modulo bias is below 10⁻¹⁵.) Hashed in pieces
/// from a stack buffer: no allocation.
pub fn bucket(activity: ActivityId, user: &str) -> u32 {
    use md5::{Digest, Md5};
    let mut buffer = [0u8; DECIMAL_DIGITS_MAX];
    let digest = Md5::new()
        .chain_update(decimal(activity.0, &mut buffer))
        .chain_update(b":")
        .chain_update(user.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(BASIS_POINTS_MAX)) as u32
}

/// Digits of the largest `u64`.
const DECIMAL_DIGITS_MAX: usize = 20;

/// The decimal digits of `value`, written at the end of `buffer`.
fn decimal(mut value: u64, buffer: &mut [u8; DECIMAL_DIGITS_MAX]) -> &[u8] {
    let mut start = DECIMAL_DIGITS_MAX;
    loop {
        start -= 1;
        buffer[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return &buffer[start..];
        }
    }
}

/// The bounds of one set, then the text rule ([`check_text`]) on its entries, as `kind`.
fn validate_set(
    field: &'static str,
    set: &FastSet,
    entries_max: usize,
    kind: TextKind,
    errors: &mut Vec<GrayFieldError>,
) {
    if set.len() > entries_max {
        let reason = format!("at most {entries_max} entries");
        errors.push(GrayFieldError { field, reason });
        return;
    }
    let bad = set
        .iter()
        .any(|value| value.is_empty() || value.len() > VALUE_LENGTH_MAX);
    if bad {
        let reason = format!("entries of 1 to {VALUE_LENGTH_MAX} bytes");
        errors.push(GrayFieldError { field, reason });
        return;
    }
    if let Some(reason) = set.iter().find_map(|value| check_text(value, kind).err()) {
        errors.push(GrayFieldError { field, reason });
    }
}

impl GrayConfig {
    /// Every bound the configuration breaks; empty when it is valid.
    pub fn validate(&self) -> Vec<GrayFieldError> {
        let mut errors = Vec::new();
        if self.percentage_basis_points > BASIS_POINTS_MAX {
            let reason = "from 0 to 100 with at most two decimals".to_string();
            errors.push(GrayFieldError {
                field: "percentage",
                reason,
            });
        }
        let whitelists = [
            ("whitelistUserIds", &self.whitelist_user_ids),
            ("whitelistStoreIds", &self.whitelist_store_ids),
        ];
        for (field, set) in whitelists {
            validate_set(
                field,
                set,
                WHITELIST_ENTRIES_MAX,
                TextKind::Token,
                &mut errors,
            );
        }
        self.rules.cities.validate("rules.cities", &mut errors);
        self.rules.devices.validate("rules.devices", &mut errors);
        self.rules.tags.validate("rules.tags", &mut errors);
        errors
    }
}

/// Builds a set from any strings (tests and the HTTP layer).
pub fn set_of<I, S>(values: I) -> FastSet
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    values.into_iter().map(Into::into).collect()
}

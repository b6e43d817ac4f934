//! Webhook endpoints: what an operator configures (URL, filter, rate limit, payload
//! template), the signing secrets, the validation of create and update bodies, and their
//! storage in the event store's database (tree [`TREE`], one JSON record per endpoint keyed
//! by its id), made durable before a write is answered.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use playcore_actors::domain::text::{check_text, TextKind};
use playcore_actors::domain::ActivityId;
use playcore_snapshots::event_store::EventStore;
use playcore_snapshots::StoreError;

use super::template;
use crate::delivery::{Ordering, Subscription, SubscriptionFilter};
use crate::events::catalog;

/// The tree the endpoints live in.
pub const TREE: &str = "webhook_endpoints";
/// Endpoints at most (each has a delivery task and a cursor that holds retention).
pub const ENDPOINTS_MAX: usize = 1_000;
/// Bounds of an endpoint's fields.
pub const DESCRIPTION_CHARS_MAX: usize = 500;
pub const FILTER_ENTRIES_MAX: usize = 1_000;
pub const STORE_ID_BYTES_MAX: usize = 64;
pub const RATE_LIMIT_PER_SECOND_MAX: u32 = 100_000;
/// The version of the stored record's shape.
const RECORD_FORMAT: u32 = 1;

/// A signing secret; `expires_at_ms` is set on the one a rotation replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    pub secret: String,
    pub expires_at_ms: Option<i64>,
}

/// One endpoint as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub format: u32,
    pub id: String,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub activity_ids: Vec<u64>,
    pub store_ids: Vec<String>,
    pub enabled: bool,
    pub rate_limit_per_second: Option<u32>,
    pub payload_template: Option<Value>,
    /// The current secret first, then the one it replaced while that still signs.
    pub secrets: Vec<Secret>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl Endpoint {
    /// The subscription the delivery engine runs for this endpoint.
    pub fn subscription(&self) -> Subscription {
        Subscription {
            id: self.id.clone(),
            filter: SubscriptionFilter {
                event_types: self.event_types.clone(),
                activity_ids: self.activity_ids.clone(),
                store_ids: self.store_ids.clone(),
            },
            ordering: Ordering::PerActivity,
            enabled: self.enabled,
            rate_limit_per_second: self.rate_limit_per_second,
        }
    }

    /// The secrets that sign at `now_ms`, current first.
    pub fn signing_secrets(&self, now_ms: i64) -> Vec<&str> {
        self.secrets
            .iter()
            .filter(|secret| secret.expires_at_ms.is_none_or(|expires| expires > now_ms))
            .map(|secret| secret.secret.as_str())
            .collect()
    }

    /// Puts `secret` in front; the current one keeps signing until `now_ms + overlap_ms`,
    /// and any older one stops.
    pub fn rotate(&mut self, secret: String, now_ms: i64, overlap_ms: i64) {
        let previous = self.secrets.first().map(|current| Secret {
            secret: current.secret.clone(),
            expires_at_ms: Some(now_ms.saturating_add(overlap_ms)),
        });
        self.secrets = std::iter::once(Secret {
            secret,
            expires_at_ms: None,
        })
        .chain(previous.filter(|_| overlap_ms > 0))
        .collect();
        self.updated_at_ms = now_ms;
    }
}

/// `POST /admin/v1/webhooks/endpoints`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBody {
    pub url: String,
    pub description: String,
    #[serde(default)]
    pub event_types: Vec<String>,
    #[serde(default)]
    pub activity_ids: Vec<String>,
    #[serde(default)]
    pub store_ids: Vec<String>,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub rate_limit_per_second: Option<u32>,
    pub payload_template: Option<Value>,
}

fn enabled_by_default() -> bool {
    true
}

/// `PATCH /admin/v1/webhooks/endpoints/{id}`: absent fields stay; `null` clears the rate
/// limit and the template.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchBody {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub activity_ids: Option<Vec<String>>,
    pub store_ids: Option<Vec<String>>,
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub rate_limit_per_second: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    pub payload_template: Option<Option<Value>>,
}

/// A field that is present (`Some`, holding `None` for `null`) or absent (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The fields that failed, by name.
pub type Problems = Vec<(String, String)>;

/// The checked fields an endpoint is made or changed with (the URL is checked apart, as
/// that check resolves its host).
pub struct Fields {
    pub description: String,
    pub event_types: Vec<String>,
    pub activity_ids: Vec<u64>,
    pub store_ids: Vec<String>,
    pub rate_limit_per_second: Option<u32>,
    pub payload_template: Option<Value>,
}

/// Checks every field but the URL; collects every problem.
pub fn check_fields(
    description: &str,
    event_types: &[String],
    activity_ids: &[String],
    store_ids: &[String],
    rate_limit_per_second: Option<u32>,
    payload_template: Option<&Value>,
) -> Result<Fields, Problems> {
    let mut problems = Problems::new();
    check_description(description, &mut problems);
    let event_types = check_event_types(event_types, &mut problems);
    let activity_ids = check_activity_ids(activity_ids, &mut problems);
    let store_ids = check_store_ids(store_ids, &mut problems);
    if !activity_ids.is_empty() && !store_ids.is_empty() {
        let reason = "activityIds or storeIds, not both";
        problems.push(("storeIds".to_owned(), reason.to_owned()));
    }
    if let Some(rate) = rate_limit_per_second {
        if !(1..=RATE_LIMIT_PER_SECOND_MAX).contains(&rate) {
            let reason = format!("1 to {RATE_LIMIT_PER_SECOND_MAX}");
            problems.push(("rateLimitPerSecond".to_owned(), reason));
        }
    }
    if let Some(Err(reason)) = payload_template.map(template::validate) {
        problems.push(("payloadTemplate".to_owned(), reason));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Fields {
        description: description.to_owned(),
        event_types,
        activity_ids,
        store_ids,
        rate_limit_per_second,
        payload_template: payload_template.cloned(),
    })
}

fn check_description(description: &str, problems: &mut Problems) {
    let reason = if description.chars().count() > DESCRIPTION_CHARS_MAX {
        Some(format!("at most {DESCRIPTION_CHARS_MAX} characters"))
    } else {
        check_text(description, TextKind::Line).err()
    };
    if let Some(reason) = reason {
        problems.push(("description".to_owned(), reason));
    }
}

fn check_list_length(field: &str, length: usize, problems: &mut Problems) -> bool {
    let fits = length <= FILTER_ENTRIES_MAX;
    if !fits {
        let reason = format!("at most {FILTER_ENTRIES_MAX} entries");
        problems.push((field.to_owned(), reason));
    }
    fits
}

fn check_event_types(types: &[String], problems: &mut Problems) -> Vec<String> {
    if !check_list_length("eventTypes", types.len(), problems) {
        return Vec::new();
    }
    let mut checked: Vec<String> = Vec::with_capacity(types.len());
    for (index, name) in types.iter().enumerate() {
        if !catalog::is_type(name) {
            let reason = "an event type of GET /admin/v1/event-types";
            problems.push((format!("eventTypes[{index}]"), reason.to_owned()));
        } else if !checked.contains(name) {
            checked.push(name.clone());
        }
    }
    checked
}

fn check_activity_ids(ids: &[String], problems: &mut Problems) -> Vec<u64> {
    if !check_list_length("activityIds", ids.len(), problems) {
        return Vec::new();
    }
    let mut checked: Vec<u64> = Vec::with_capacity(ids.len());
    for (index, text) in ids.iter().enumerate() {
        match ActivityId::parse(text) {
            Some(id) if !checked.contains(&id.0) => checked.push(id.0),
            Some(_) => {}
            None => {
                let reason = "an activity id (a decimal number)";
                problems.push((format!("activityIds[{index}]"), reason.to_owned()));
            }
        }
    }
    checked
}

fn check_store_ids(ids: &[String], problems: &mut Problems) -> Vec<String> {
    if !check_list_length("storeIds", ids.len(), problems) {
        return Vec::new();
    }
    let mut checked: Vec<String> = Vec::with_capacity(ids.len());
    for (index, id) in ids.iter().enumerate() {
        let reason = if id.is_empty() || id.len() > STORE_ID_BYTES_MAX {
            Some(format!("1 to {STORE_ID_BYTES_MAX} bytes"))
        } else {
            check_text(id, TextKind::Token).err()
        };
        match reason {
            Some(reason) => problems.push((format!("storeIds[{index}]"), reason)),
            None if !checked.contains(id) => checked.push(id.clone()),
            None => {}
        }
    }
    checked
}

/// A new endpoint id: `ep_` and 24 hex digits of random.
pub fn new_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0_u8; 12];
    getrandom::fill(&mut bytes)?;
    Ok(format!("ep_{}", hex::encode(bytes)))
}

/// Whether `id` has the shape [`new_id`] gives (anything else names no endpoint).
pub fn is_id(id: &str) -> bool {
    id.strip_prefix("ep_").is_some_and(|digits| {
        digits.len() == 24 && digits.bytes().all(|byte| byte.is_ascii_hexdigit())
    })
}

/// The endpoints' storage. Cheap to clone.
#[derive(Clone)]
pub struct EndpointStore {
    events: EventStore,
    tree: sled::Tree,
}

#[derive(Debug, thiserror::Error)]
pub enum EndpointStoreError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("storage: {0}")]
    Sled(#[from] sled::Error),
    #[error("endpoint record {id} does not decode: {reason}")]
    Record { id: String, reason: String },
}

impl EndpointStore {
    pub fn open(events: &EventStore) -> Result<EndpointStore, EndpointStoreError> {
        let tree = events.tree(TREE)?;
        Ok(EndpointStore {
            events: events.clone(),
            tree,
        })
    }

    /// Every endpoint, in id order (at start-up; bounded by [`ENDPOINTS_MAX`]).
    pub fn all(&self) -> Result<Vec<Endpoint>, EndpointStoreError> {
        self.page("", ENDPOINTS_MAX + 1)
    }

    /// Up to `limit` endpoints with an id after `after_id`, in id order.
    pub fn page(&self, after_id: &str, limit: usize) -> Result<Vec<Endpoint>, EndpointStoreError> {
        let mut endpoints = Vec::new();
        for item in self.tree.range(after_id.as_bytes()..) {
            let (key, value) = item?;
            if key.as_ref() == after_id.as_bytes() {
                continue;
            }
            if endpoints.len() == limit {
                break;
            }
            endpoints.push(decode(&key, &value)?);
        }
        Ok(endpoints)
    }

    pub fn get(&self, id: &str) -> Result<Option<Endpoint>, EndpointStoreError> {
        match self.tree.get(id.as_bytes())? {
            Some(value) => decode(id.as_bytes(), &value).map(Some),
            None => Ok(None),
        }
    }

    pub fn count(&self) -> usize {
        self.tree.len()
    }

    /// Writes `endpoint` and makes it durable.
    pub fn put(&self, endpoint: &Endpoint) -> Result<(), EndpointStoreError> {
        let value = serde_json::to_vec(endpoint).map_err(|error| EndpointStoreError::Record {
            id: endpoint.id.clone(),
            reason: error.to_string(),
        })?;
        self.tree.insert(endpoint.id.as_bytes(), value)?;
        self.events.flush()?;
        Ok(())
    }

    /// Removes the endpoint and makes that durable; false if there was none.
    pub fn remove(&self, id: &str) -> Result<bool, EndpointStoreError> {
        let removed = self.tree.remove(id.as_bytes())?.is_some();
        self.events.flush()?;
        Ok(removed)
    }
}

fn decode(key: &[u8], value: &[u8]) -> Result<Endpoint, EndpointStoreError> {
    let record = || String::from_utf8_lossy(key).into_owned();
    let endpoint: Endpoint =
        serde_json::from_slice(value).map_err(|error| EndpointStoreError::Record {
            id: record(),
            reason: error.to_string(),
        })?;
    if endpoint.format != RECORD_FORMAT || endpoint.id.as_bytes() != key {
        return Err(EndpointStoreError::Record {
            id: record(),
            reason: format!("format {} under another key or version", endpoint.format),
        });
    }
    Ok(endpoint)
}

/// A new endpoint from checked fields.
pub fn new_endpoint(
    id: String,
    url: String,
    fields: Fields,
    enabled: bool,
    secret: String,
    now_ms: i64,
) -> Endpoint {
    Endpoint {
        format: RECORD_FORMAT,
        id,
        url,
        description: fields.description,
        event_types: fields.event_types,
        activity_ids: fields.activity_ids,
        store_ids: fields.store_ids,
        enabled,
        rate_limit_per_second: fields.rate_limit_per_second,
        payload_template: fields.payload_template,
        secrets: vec![Secret {
            secret,
            expires_at_ms: None,
        }],
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Endpoint {
        let fields = check_fields("", &[], &["1".to_owned()], &[], None, None).expect("valid");
        new_endpoint(
            "ep_000000000000000000000001".to_owned(),
            "https://hooks.example.com/in".to_owned(),
            fields,
            true,
            "whsec_a".to_owned(),
            1_000,
        )
    }

    #[test]
    fn rotation_keeps_the_old_secret_signing_for_the_overlap_only() {
        let mut endpoint = endpoint();
        endpoint.rotate("whsec_b".to_owned(), 2_000, 500);
        assert_eq!(endpoint.signing_secrets(2_499), ["whsec_b", "whsec_a"]);
        assert_eq!(endpoint.signing_secrets(2_500), ["whsec_b"]);
        endpoint.rotate("whsec_c".to_owned(), 2_100, 500);
        assert_eq!(
            endpoint.signing_secrets(2_200),
            ["whsec_c", "whsec_b"],
            "a is gone"
        );
        endpoint.rotate("whsec_d".to_owned(), 3_000, 0);
        assert_eq!(endpoint.signing_secrets(3_000), ["whsec_d"]);
    }

    #[test]
    fn ids_are_ep_and_24_hex_digits() {
        let id = new_id().expect("an id");
        assert!(is_id(&id), "{id}");
        assert_ne!(id, new_id().expect("an id"));
        assert!(!is_id("ep_123"));
        assert!(!is_id("evt_0000000000000000000000ab"));
    }

    #[test]
    fn both_activity_and_store_filters_are_refused() {
        let problems = check_fields("", &[], &["1".to_owned()], &["s1".to_owned()], None, None)
            .err()
            .expect("refused");
        assert_eq!(problems[0].0, "storeIds");
    }

    #[test]
    fn bad_fields_are_named() {
        let problems = check_fields(
            "a\nb",
            &[],
            &["x".to_owned()],
            &[],
            Some(0),
            Some(&serde_json::json!({"t": "{{nope}}"})),
        )
        .err()
        .expect("refused");
        let names: Vec<&str> = problems.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(
            names,
            [
                "description",
                "activityIds[0]",
                "rateLimitPerSecond",
                "payloadTemplate"
            ]
        );
    }
}

//! What the webhook routes answer: an endpoint (never its secrets, which only the create
//! and rotate replies carry), its delivery status, and its messages with their attempts.

use serde::Serialize;
use serde_json::Value;

use playcore_snapshots::event_store::{event_id, EventRecord};

use super::endpoint::Endpoint;
use crate::delivery::{AttemptRecord, BreakerState, Message, MessageState, SubscriptionStatus};
use crate::http::dto::rfc3339;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointDto {
    pub id: String,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub activity_ids: Vec<String>,
    pub store_ids: Vec<String>,
    pub enabled: bool,
    pub rate_limit_per_second: Option<u32>,
    pub payload_template: Option<Value>,
    /// Until when the secret a rotation replaced still signs, while it does.
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusDto>,
}

impl EndpointDto {
    pub fn new(endpoint: &Endpoint, now_ms: i64, status: Option<SubscriptionStatus>) -> Self {
        let previous = endpoint
            .secrets
            .iter()
            .filter_map(|secret| secret.expires_at_ms)
            .find(|expires| *expires > now_ms);
        Self {
            id: endpoint.id.clone(),
            url: endpoint.url.clone(),
            description: endpoint.description.clone(),
            event_types: endpoint.event_types.clone(),
            activity_ids: endpoint.activity_ids.iter().map(u64::to_string).collect(),
            store_ids: endpoint.store_ids.clone(),
            enabled: endpoint.enabled,
            rate_limit_per_second: endpoint.rate_limit_per_second,
            payload_template: endpoint.payload_template.clone(),
            previous_secret_expires_at: previous.map(rfc3339),
            created_at: rfc3339(endpoint.created_at_ms),
            updated_at: rfc3339(endpoint.updated_at_ms),
            status: status.map(StatusDto::from),
        }
    }
}

/// The engine's figures for one endpoint.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDto {
    pub breaker: &'static str,
    pub delivered: u64,
    pub failed_attempts: u64,
    pub dead_lettered: u64,
    pub pending: u64,
    pub lag_events: u64,
    pub lag_seconds: u64,
    /// The event id the cursor stands on (`null` before the first event).
    pub cursor: Option<String>,
    pub disabled_for_failing: bool,
}

impl From<SubscriptionStatus> for StatusDto {
    fn from(status: SubscriptionStatus) -> Self {
        Self {
            breaker: breaker_name(status.breaker),
            delivered: status.delivered,
            failed_attempts: status.failed_attempts,
            dead_lettered: status.dead_lettered,
            pending: status.pending,
            lag_events: status.lag_events,
            lag_seconds: status.lag_seconds,
            cursor: (status.cursor_position > 0).then(|| event_id(status.cursor_position)),
            disabled_for_failing: status.disabled_for_failing,
        }
    }
}

fn breaker_name(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "CLOSED",
        BreakerState::Open => "OPEN",
        BreakerState::HalfOpen => "HALF_OPEN",
    }
}

fn state_name(state: MessageState) -> &'static str {
    match state {
        MessageState::Pending => "PENDING",
        MessageState::Delivered => "DELIVERED",
        MessageState::DeadLettered => "DEAD_LETTERED",
    }
}

/// One event for one endpoint, with what its attempts gave.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDto {
    pub event_id: String,
    /// The event's type, activity and time while the event store still holds it.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub activity_id: Option<String>,
    pub occurred_at: Option<String>,
    pub state: &'static str,
    pub attempts: Vec<AttemptDto>,
}

impl MessageDto {
    pub fn new(message: &Message, event: Option<&EventRecord>) -> Self {
        Self {
            event_id: event_id(message.position),
            event_type: event.map(|event| event.kind.clone()),
            activity_id: event.map(|event| event.activity.to_string()),
            occurred_at: event.map(|event| rfc3339(event.at_ms)),
            state: state_name(message.state),
            attempts: message.attempts.iter().map(AttemptDto::from).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptDto {
    pub attempt: u32,
    pub at: String,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    pub next_attempt_at: Option<String>,
}

impl From<&AttemptRecord> for AttemptDto {
    fn from(record: &AttemptRecord) -> Self {
        Self {
            attempt: record.attempt,
            at: rfc3339(record.at_ms),
            status_code: record.status_code,
            latency_ms: record.latency_ms,
            error: record.error.clone(),
            next_attempt_at: record.next_attempt_at_ms.map(rfc3339),
        }
    }
}

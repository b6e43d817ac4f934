//! `GET /admin/v1/events`: the event history, read from the event store (so it is the same
//! before and after snapshots, journal truncation and restarts). Filters by type (one or a
//! comma-separated list, each a catalog type), activity, store and time range (`from`
//! inclusive, `until` exclusive), paged with `after` (an event id; `nextCursor` of the page
//! before). Any role may read.
//!
//! A client that just got a reply sees its event: the request first waits (at most
//! [`INDEXER_WAIT`]) for the indexer to pass the journal's durable seq as of the request.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use playcore_actors::domain::{ActivityId, Event};
use playcore_snapshots::event_store::{parse_event_id, EventFilter, EventRecord, EventStore, Page};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::core::Core;
use crate::events::catalog;
use crate::http::auth::{Caller, Role};
use crate::http::dto::{parse_time, rfc3339};
use crate::http::envelope;
use crate::http::error::ApiError;
use crate::http::extract::query_limit;

/// Largest page of events.
pub const PAGE_LIMIT_MAX: usize = 1000;
/// Page size when the query names no `limit`.
const PAGE_LIMIT_DEFAULT: usize = 100;
/// Longest wait for the indexer to reach the journal's durable seq of the request.
pub const INDEXER_WAIT: Duration = Duration::from_secs(1);
/// Types one query may name at most.
const TYPES_MAX: usize = 64;
/// Longest `storeId` accepted.
const STORE_ID_BYTES_MAX: usize = 1024;
const AFTER_REASON: &str = "an event id (evt_ and 16 hex digits, nextCursor of a previous page)";

const ANY_ROLE: [Role; 3] = [Role::Operator, Role::Approver, Role::Admin];

pub fn configure(config: &mut web::ServiceConfig) {
    config.route("/admin/v1/events", web::get().to(events));
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventsQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    activity_id: Option<String>,
    store_id: Option<String>,
    from: Option<String>,
    until: Option<String>,
    after: Option<String>,
    /// Text, so a non-number is named.
    limit: Option<String>,
}

/// What a request asks for, validated.
struct PageRequest {
    filter: EventFilter,
    after_position: u64,
    limit: usize,
}

impl EventsQuery {
    fn parse(self) -> Result<PageRequest, ApiError> {
        let activity = match self.activity_id.as_deref() {
            None => None,
            Some(text) => Some(
                ActivityId::parse(text)
                    .ok_or_else(|| ApiError::validation("activityId", "an activity id such as 1"))?
                    .0,
            ),
        };
        let store = match self.store_id {
            Some(store) if store.is_empty() || store.len() > STORE_ID_BYTES_MAX => {
                let reason = format!("a store id of 1 to {STORE_ID_BYTES_MAX} bytes");
                return Err(ApiError::validation("storeId", reason));
            }
            store => store,
        };
        let filter = EventFilter {
            kinds: kinds(self.kind.as_deref())?,
            activity,
            store,
            from_ms: time("from", self.from.as_deref())?,
            until_ms: time("until", self.until.as_deref())?,
        };
        let after_position = match self.after.as_deref() {
            None => 0,
            Some(id) => {
                parse_event_id(id).ok_or_else(|| ApiError::validation("after", AFTER_REASON))?
            }
        };
        let limit = query_limit(self.limit.as_deref(), PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX)?;
        Ok(PageRequest {
            filter,
            after_position,
            limit,
        })
    }
}

/// `type`: one catalog type or a comma-separated list of them.
fn kinds(text: Option<&str>) -> Result<Vec<String>, ApiError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let names: Vec<&str> = text.split(',').map(str::trim).collect();
    let known = names.len() <= TYPES_MAX && names.iter().all(|name| catalog::is_type(name));
    if !known {
        let reason = format!(
            "event types of GET /admin/v1/event-types, one or up to {TYPES_MAX} separated by commas"
        );
        return Err(ApiError::validation("type", reason));
    }
    Ok(names.into_iter().map(str::to_owned).collect())
}

fn time(field: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    text.map(|text| {
        parse_time(field, text).map_err(|(field, reason)| ApiError::validation(field, reason))
    })
    .transpose()
}

/// The event history (durable events only), oldest first.
async fn events(
    core: web::Data<Arc<Core>>,
    caller: Caller,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let request = query.into_inner().parse()?;
    let store = core.event_store.clone();
    wait_for_indexer(&store, core.runtime.journal().durable_seq()).await;
    let page = web::block(move || {
        let page = store.page(&request.filter, request.after_position, request.limit)?;
        Ok::<_, playcore_snapshots::StoreError>(page)
    });
    let page = page
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(envelope::ok(page_json(&page)?))
}

/// Waits until the store indexed `durable_seq`, at most [`INDEXER_WAIT`]; a slow indexer
/// then gives what it has.
async fn wait_for_indexer(store: &EventStore, durable_seq: u64) {
    if store.indexed_seq() >= durable_seq {
        return;
    }
    let mut appended = store.subscribe();
    let caught_up = async {
        while store.indexed_seq() < durable_seq {
            if appended.changed().await.is_err() {
                return;
            }
        }
    };
    if tokio::time::timeout(INDEXER_WAIT, caught_up).await.is_err() {
        tracing::warn!(
            durable_seq,
            indexed_seq = store.indexed_seq(),
            "events page served before the indexer caught up"
        );
    }
}

fn page_json(page: &Page) -> Result<Value, ApiError> {
    let events = page
        .events
        .iter()
        .map(event_json)
        .collect::<Result<Vec<Value>, ApiError>>()?;
    let next_cursor = if page.reached_end {
        None
    } else {
        let last = page
            .events
            .last()
            .map_or(page.scanned_to, |event| event.position);
        Some(playcore_snapshots::event_store::event_id(last))
    };
    Ok(json!({ "events": events, "nextCursor": next_cursor }))
}

/// One event as served (and as webhooks carry it).
pub(crate) fn event_json(record: &EventRecord) -> Result<Value, ApiError> {
    let event: Event = playcore_snapshots::decode(&record.payload).map_err(ApiError::internal)?;
    Ok(json!({
        "id": record.id(),
        "type": record.kind,
        "activityId": record.activity.to_string(),
        "storeId": record.store,
        "occurredAt": rfc3339(record.at_ms),
        "data": catalog::data_json(ActivityId(record.activity), &event),
    }))
}

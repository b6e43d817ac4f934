//! The gray-release admin API: `PUT`/`GET /admin/v1/activities/{id}/gray` and
//! `GET /admin/v1/activities/{id}/gray/decisions`.
//!
//! Every change is a command to the activity actor, so it is versioned and journaled
//! (GRAY_CONFIGURED in the event log) and recorded in the admin audit log
//! (`gray.configure`); reads take the published view, no mailbox hop.

use crate::audit;
use crate::core::outcome;
use crate::core::Core;
use crate::gray::{ActivityDecisions, GrayMonitor, RECENT_DECISIONS_MAX};
use crate::http::auth::{Caller, Role};
use crate::http::dto::rfc3339;
use crate::http::envelope;
use crate::http::error::ApiError;
use crate::http::extract::activity_id;
use crate::http::extract::{query_limit, Json};
use actix_web::{web, HttpResponse};
use playcore_actors::domain::gray::{set_of, GrayRules, SetRule, BASIS_POINTS_MAX};
use playcore_actors::domain::{ActivityId, Command, GrayConfig};
use playcore_actors::SubjectView;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

const ANY_ROLE: [Role; 3] = [Role::Operator, Role::Approver, Role::Admin];
/// Recent decisions listed when the query names no limit.
const DECISIONS_LISTED_DEFAULT: usize = 100;
/// How far a percentage times 100 may be from a whole number (binary rounding of decimals
/// such as 33.33) and still count as having at most two decimals.
const PERCENTAGE_TOLERANCE: f64 = 1e-6;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/admin/v1/activities/{id}/gray", web::put().to(put_gray))
        .route("/admin/v1/activities/{id}/gray", web::get().to(get_gray))
        .route(
            "/admin/v1/activities/{id}/gray/decisions",
            web::get().to(decisions),
        );
}

type CoreData = web::Data<Arc<Core>>;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RuleBody {
    #[serde(default, rename = "in")]
    included: Vec<String>,
    #[serde(default, rename = "notIn")]
    excluded: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RulesBody {
    #[serde(default)]
    cities: RuleBody,
    #[serde(default)]
    devices: RuleBody,
    #[serde(default)]
    tags: RuleBody,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GrayBody {
    enabled: bool,
    #[serde(default)]
    whitelist_user_ids: Vec<String>,
    #[serde(default)]
    whitelist_store_ids: Vec<String>,
    percentage: f64,
    #[serde(default)]
    rules: RulesBody,
}

/// Percent with at most two decimals → basis points, checked without trusting `as` casts.
fn basis_points(percentage: f64) -> Result<u32, ApiError> {
    let scaled = percentage * 100.0;
    let rounded = scaled.round();
    let in_range = (0.0..=f64::from(BASIS_POINTS_MAX)).contains(&rounded);
    if !in_range || (scaled - rounded).abs() > PERCENTAGE_TOLERANCE {
        return Err(ApiError::validation(
            "percentage",
            "a number from 0 to 100 with at most two decimals",
        ));
    }
    Ok(rounded as u32)
}

fn set_rule(body: RuleBody) -> SetRule {
    SetRule {
        included: set_of(body.included),
        excluded: set_of(body.excluded),
    }
}

impl GrayBody {
    fn into_config(self) -> Result<GrayConfig, ApiError> {
        let config = GrayConfig {
            enabled: self.enabled,
            whitelist_user_ids: set_of(self.whitelist_user_ids),
            whitelist_store_ids: set_of(self.whitelist_store_ids),
            percentage_basis_points: basis_points(self.percentage)?,
            rules: GrayRules {
                cities: set_rule(self.rules.cities),
                devices: set_rule(self.rules.devices),
                tags: set_rule(self.rules.tags),
            },
            version: 0,
        };
        let errors = config.validate();
        if errors.is_empty() {
            return Ok(config);
        }
        let fields = errors
            .into_iter()
            .map(|error| (error.field.to_string(), error.reason));
        Err(ApiError::validation_fields(fields))
    }
}

fn sorted(set: &playcore_actors::domain::gray::FastSet) -> Vec<&str> {
    let mut values: Vec<&str> = set.iter().map(String::as_str).collect();
    values.sort_unstable();
    values
}

fn rule_json(rule: &SetRule) -> Value {
    json!({ "in": sorted(&rule.included), "notIn": sorted(&rule.excluded) })
}

/// The stored config as the API shows it; sets are sorted so replies are stable.
fn config_json(id: ActivityId, config: &GrayConfig) -> Value {
    json!({
        "activityId": id.to_string(),
        "enabled": config.enabled,
        "whitelistUserIds": sorted(&config.whitelist_user_ids),
        "whitelistStoreIds": sorted(&config.whitelist_store_ids),
        "percentage": f64::from(config.percentage_basis_points) / 100.0,
        "percentageBasisPoints": config.percentage_basis_points,
        "rules": {
            "cities": rule_json(&config.rules.cities),
            "devices": rule_json(&config.rules.devices),
            "tags": rule_json(&config.rules.tags),
        },
        "version": config.version,
    })
}

async fn put_gray(
    core: CoreData,
    caller: Caller,
    path: web::Path<String>,
    body: Json<GrayBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Operator])?;
    let id = activity_id(&path)?;
    let config = Arc::new(body.into_inner().into_config()?);
    let before = outcome::activity_view(&core, id)?;
    let by = caller.name().to_string();
    let command = Command::ConfigureGray { config, by };
    let answer = outcome::execute(&core, id, command, "activity").await?;
    let stored = match &*answer.subject {
        SubjectView::Activity(view) => Arc::clone(&view.gray),
        _ => outcome::activity_view(&core, id)?.gray.clone(),
    };
    let (before, after) = (config_json(id, &before.gray), config_json(id, &stored));
    audit::record_activity(&core, &caller, "gray.configure", id, before, after.clone()).await?;
    Ok(envelope::ok(after))
}

async fn get_gray(
    core: CoreData,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let id = activity_id(&path)?;
    Ok(envelope::ok(config_json(
        id,
        &outcome::activity_view(&core, id)?.gray,
    )))
}

/// Text, parsed in the handler, so a non-number is named.
#[derive(Deserialize)]
struct DecisionsQuery {
    limit: Option<String>,
}

fn counters_json(decisions: &ActivityDecisions) -> Value {
    let counts = decisions.counts();
    let admitted: u64 = counts.iter().map(|count| count.admitted).sum();
    let refused: u64 = counts.iter().map(|count| count.refused).sum();
    let by_reason: Vec<Value> = counts
        .iter()
        .map(|count| {
            json!({
                "reason": count.reason.name(),
                "admitted": count.admitted,
                "refused": count.refused,
            })
        })
        .collect();
    json!({ "admitted": admitted, "refused": refused, "byReason": by_reason })
}

fn recent_json(decisions: &ActivityDecisions, limit: usize) -> Vec<Value> {
    decisions
        .recent(limit)
        .iter()
        .map(|record| {
            json!({
                "at": rfc3339(record.at_ms),
                "userId": record.user,
                "admitted": record.admitted,
                "reason": record.reason.name(),
                "configVersion": record.config_version,
            })
        })
        .collect()
}

/// Counters since the process started and the newest decisions, newest first. Decisions
/// are recorded only while gray release is enabled.
async fn decisions(
    core: CoreData,
    monitor: web::Data<GrayMonitor>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<DecisionsQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ANY_ROLE)?;
    let id = activity_id(&path)?;
    let limit = query_limit(
        query.limit.as_deref(),
        DECISIONS_LISTED_DEFAULT,
        RECENT_DECISIONS_MAX,
    )?;
    let current = outcome::activity_view(&core, id)?;
    // An activity without recorded decisions reads as zeros.
    let decisions = monitor.activity(id).unwrap_or_default();
    Ok(envelope::ok(json!({
        "activityId": id.to_string(),
        "enabled": current.gray.enabled,
        "configVersion": current.gray.version,
        "counters": counters_json(&decisions),
        "logSkipped": decisions.log_skipped(),
        "untrackedDecisions": monitor.untracked(),
        "recent": recent_json(&decisions, limit),
    })))
}

#[cfg(test)]
mod tests {
    use super::basis_points;

    #[test]
    fn percentages_with_at_most_two_decimals_become_basis_points() {
        let accepted = [
            (0.0, 0),
            (0.01, 1),
            (33.33, 3_333),
            (99.99, 9_999),
            (100.0, 10_000),
        ];
        for (percentage, expected) in accepted {
            assert_eq!(
                basis_points(percentage).ok(),
                Some(expected),
                "{percentage}"
            );
        }
        for refused in [12.345, 0.001, -0.01, 100.01, f64::NAN, f64::INFINITY] {
            assert!(basis_points(refused).is_err(), "{refused}");
        }
    }
}

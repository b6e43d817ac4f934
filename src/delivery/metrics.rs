//! The engine's figures as Prometheus series, one per subscription (label
//! `subscription`), so bounded by the number of subscriptions.

use crate::telemetry::Metrics;

use super::{BreakerState, Deliveries};

impl Deliveries {
    /// Sets the delivery series from every running subscription's status (called when
    /// metrics are rendered), and drops the series of subscriptions removed since.
    pub fn export_metrics(&self, metrics: &Metrics) {
        let statuses = self.statuses();
        {
            let mut exported = super::lock(&self.exported);
            exported.retain(|id| {
                let running = statuses.iter().any(|status| &status.id == id);
                if !running {
                    metrics.remove_labelled("playcore_delivery_", "subscription", id);
                }
                running
            });
            exported.extend(statuses.iter().map(|status| status.id.clone()));
        }
        for status in statuses {
            let labels = [("subscription", status.id.as_str())];
            let counters = [
                (
                    "playcore_delivery_delivered_total",
                    "messages acknowledged, per subscription",
                    status.delivered,
                ),
                (
                    "playcore_delivery_failed_attempts_total",
                    "attempts that failed, per subscription",
                    status.failed_attempts,
                ),
                (
                    "playcore_delivery_dead_lettered_total",
                    "messages dead-lettered, per subscription",
                    status.dead_lettered,
                ),
                (
                    "playcore_delivery_backlog_overflowed_total",
                    "pending messages moved to dead letters because the backlog was full",
                    status.backlog_overflowed,
                ),
            ];
            for (name, help, total) in counters {
                let counter = metrics.counter_with_labels(name, help, &labels);
                counter.add(total.saturating_sub(counter.get()));
            }
            let breaker = match status.breaker {
                BreakerState::Closed => 0,
                BreakerState::HalfOpen => 1,
                BreakerState::Open => 2,
            };
            let gauges = [
                (
                    "playcore_delivery_lag_events",
                    "matching events not yet delivered or dead-lettered, per subscription",
                    status.lag_events,
                ),
                (
                    "playcore_delivery_lag_seconds",
                    "age of the oldest pending message, per subscription",
                    status.lag_seconds,
                ),
                (
                    "playcore_delivery_breaker_state",
                    "circuit breaker per subscription: 0 closed, 1 half-open, 2 open",
                    breaker,
                ),
                (
                    "playcore_delivery_disabled_for_failing",
                    "1 when the subscription was disabled for failing too long",
                    u64::from(status.disabled_for_failing),
                ),
            ];
            for (name, help, value) in gauges {
                let value = i64::try_from(value).unwrap_or(i64::MAX);
                metrics.gauge_with_labels(name, help, &labels).set(value);
            }
        }
    }
}

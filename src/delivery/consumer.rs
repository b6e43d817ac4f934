//! Internal consumers: server components (refunds, fulfillment, the ledger, external
//! sync) that take durable events in order through the same cursor, retry and
//! dead-letter machinery as webhook endpoints.
//!
//! A consumer is a subscription `consumer:<name>` in total order: its next event waits
//! until `handle` returned `Ok` for the previous one (or the previous one was
//! dead-lettered after the retry schedule). `handle` must be idempotent: after a crash
//! the last events may be handed to it again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use playcore_snapshots::event_store::EventRecord;

use super::{AttemptOutcome, AttemptResult, Delivery, Sink, SubscriptionFilter};

/// A component inside the server that consumes events.
pub trait Consumer: Send + Sync + 'static {
    /// Stable across restarts: the subscription's id is `consumer:<name>`.
    fn name(&self) -> &'static str;
    fn filter(&self) -> SubscriptionFilter;
    /// Takes one event; an `Err` is retried on the engine's schedule.
    fn handle(&self, event: &EventRecord) -> impl Future<Output = Result<(), String>> + Send;
}

/// A consumer as a sink.
pub(crate) struct ConsumerSink<C>(pub Arc<C>);

impl<C: Consumer> Sink for ConsumerSink<C> {
    fn deliver(&self, delivery: Delivery) -> Pin<Box<dyn Future<Output = AttemptResult> + Send>> {
        let consumer = Arc::clone(&self.0);
        Box::pin(async move {
            let started = Instant::now();
            let outcome = match consumer.handle(&delivery.event).await {
                Ok(()) => AttemptOutcome::Acknowledged,
                Err(error) => AttemptOutcome::Failed {
                    status_code: None,
                    error,
                },
            };
            AttemptResult {
                outcome,
                latency: started.elapsed(),
            }
        })
    }
}

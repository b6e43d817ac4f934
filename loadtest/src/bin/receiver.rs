//! `playcore-receiver`: a webhook receiver for benchmarks of event delivery.
//!
//! It answers every delivery at once (204), or 503 while it is "down", and keeps what a
//! delivery benchmark needs: how many deliveries and distinct event ids arrived, when the
//! first and the last arrived, the arrival rate per second, and the latency from the
//! event's `timestamp` (when its command was decided, so before it was durable: an upper
//! bound of durable-to-received) to its arrival.
//!
//! ```text
//! playcore-receiver --bind 127.0.0.1:9100
//! curl -s localhost:9100/stats            # figures as JSON
//! curl -s -XPOST localhost:9100/down      # answer 503 from now on
//! curl -s -XPOST localhost:9100/up        # answer 204 again
//! curl -s -XPOST localhost:9100/reset     # forget every figure
//! ```
//!
//! Signatures are not verified here (the black-box test does that with an independent
//! implementation); only loopback addresses are meant to send to it.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::{DateTime, Utc};
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::json;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Distinct ids remembered at most; past it arrivals are still counted.
const DISTINCT_IDS_MAX: usize = 20_000_000;
/// Latencies above this are recorded as this (one hour).
const LATENCY_US_MAX: u64 = 3_600_000_000;

#[derive(Debug, Parser)]
#[command(
    name = "playcore-receiver",
    about = "A webhook receiver that answers at once and measures what arrives."
)]
struct Options {
    /// Address to listen on, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:9100")]
    bind: String,
    /// HTTP worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
}

struct Figures {
    deliveries: u64,
    distinct_ids: HashSet<Box<str>>,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
    per_second: BTreeMap<i64, u64>,
    latency_us: Histogram<u64>,
}

impl Figures {
    fn new() -> Figures {
        Figures {
            deliveries: 0,
            distinct_ids: HashSet::new(),
            first_ms: None,
            last_ms: None,
            per_second: BTreeMap::new(),
            // Three significant digits; the bound is fixed, so creation cannot fail.
            latency_us: Histogram::new_with_bounds(1, LATENCY_US_MAX, 3)
                .expect("constant histogram bounds are valid"),
        }
    }

    fn record(&mut self, id: Option<&str>, occurred_ms: Option<i64>, now_ms: i64) {
        self.deliveries += 1;
        if let Some(id) = id {
            if self.distinct_ids.len() < DISTINCT_IDS_MAX {
                self.distinct_ids.insert(id.into());
            }
        }
        self.first_ms.get_or_insert(now_ms);
        self.last_ms = Some(now_ms);
        *self.per_second.entry(now_ms / 1000).or_default() += 1;
        if let Some(occurred_ms) = occurred_ms {
            let latency_us = u64::try_from(now_ms.saturating_sub(occurred_ms)).unwrap_or(0) * 1000;
            let _ = self.latency_us.record(latency_us.clamp(1, LATENCY_US_MAX));
        }
    }

    fn json(&self) -> serde_json::Value {
        let span_ms = match (self.first_ms, self.last_ms) {
            (Some(first), Some(last)) => last - first,
            _ => 0,
        };
        let rate = if span_ms > 0 {
            self.deliveries as f64 * 1000.0 / span_ms as f64
        } else {
            0.0
        };
        let per_second: Vec<u64> = self.per_second.values().copied().collect();
        json!({
            "deliveries": self.deliveries,
            "distinctIds": self.distinct_ids.len(),
            "firstMs": self.first_ms,
            "lastMs": self.last_ms,
            "spanMs": span_ms,
            "deliveriesPerSecond": rate.round(),
            "perSecond": per_second,
            "latencyMs": {
                "p50": self.latency_us.value_at_quantile(0.50) as f64 / 1000.0,
                "p99": self.latency_us.value_at_quantile(0.99) as f64 / 1000.0,
                "max": self.latency_us.max() as f64 / 1000.0,
            },
        })
    }
}

struct Receiver {
    figures: Mutex<Figures>,
    down: AtomicBool,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// The event's `timestamp` field (RFC 3339), read without parsing the whole body.
fn occurred_ms(body: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("\"timestamp\":\"")? + "\"timestamp\":\"".len();
    let end = start + text[start..].find('"')?;
    let at = DateTime::parse_from_rfc3339(&text[start..end]).ok()?;
    Some(at.timestamp_millis())
}

async fn deliver(
    receiver: web::Data<Receiver>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if receiver.down.load(Ordering::Relaxed) {
        return HttpResponse::new(StatusCode::SERVICE_UNAVAILABLE);
    }
    let id = request
        .headers()
        .get("webhook-id")
        .and_then(|value| value.to_str().ok());
    let occurred = occurred_ms(&body);
    let mut figures = receiver
        .figures
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    figures.record(id, occurred, now_ms());
    HttpResponse::NoContent().finish()
}

async fn stats(receiver: web::Data<Receiver>) -> HttpResponse {
    let figures = receiver
        .figures
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    HttpResponse::Ok().json(figures.json())
}

async fn set_down(receiver: web::Data<Receiver>) -> HttpResponse {
    receiver.down.store(true, Ordering::Relaxed);
    HttpResponse::NoContent().finish()
}

async fn set_up(receiver: web::Data<Receiver>) -> HttpResponse {
    receiver.down.store(false, Ordering::Relaxed);
    HttpResponse::NoContent().finish()
}

async fn reset(receiver: web::Data<Receiver>) -> HttpResponse {
    *receiver
        .figures
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Figures::new();
    HttpResponse::NoContent().finish()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let options = Options::parse();
    let receiver = web::Data::new(Receiver {
        figures: Mutex::new(Figures::new()),
        down: AtomicBool::new(false),
    });
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::clone(&receiver))
            .route("/stats", web::get().to(stats))
            .route("/down", web::post().to(set_down))
            .route("/up", web::post().to(set_up))
            .route("/reset", web::post().to(reset))
            .default_service(web::post().to(deliver))
    })
    .workers(options.workers.max(1))
    .bind(&options.bind)?
    .run()
    .await
}

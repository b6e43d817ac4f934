//! Logging (tracing) and a small metrics registry rendered in the Prometheus text format.
//!
//! The registry is hand-written because what the service needs is small: counters and
//! gauges, optionally labelled, read by a scraper every few seconds. A metric is an
//! `Arc` of one atomic, so updating it on the hot path costs one relaxed atomic add and
//! never takes the registry's lock (only registration and rendering do).

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use tracing_subscriber::EnvFilter;

/// The log filter when `RUST_LOG` is unset or invalid.
const DEFAULT_LOG_FILTER: &str = "info";

/// Installs the global tracing subscriber: filter from `RUST_LOG` (default `info`),
/// human-readable lines on stderr. A second call (tests) is a no-op.
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    // Colours only for a terminal: piped into a file or a log collector they are noise.
    let ansi = std::io::stderr().is_terminal();
    // `try_init` fails only when a subscriber is already installed, which is fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter {
    value: AtomicU64,
}

impl Counter {
    pub fn increment(&self) {
        self.add(1);
    }

    pub fn add(&self, amount: u64) {
        self.value.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (queue depths, the durable watermark …).
#[derive(Debug, Default)]
pub struct Gauge {
    value: AtomicI64,
}

impl Gauge {
    pub fn set(&self, value: i64) {
        self.value.store(value, Ordering::Relaxed);
    }

    pub fn add(&self, amount: i64) {
        self.value.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn increment(&self) {
        self.add(1);
    }

    pub fn decrement(&self) {
        self.add(-1);
    }

    pub fn get(&self) -> i64 {
        self.value.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
        }
    }
}

#[derive(Debug)]
enum Value {
    Counter(Arc<Counter>),
    Gauge(Arc<Gauge>),
}

#[derive(Debug)]
struct Series {
    /// Rendered label set, `{a="b",c="d"}`, or empty.
    labels: String,
    value: Value,
}

#[derive(Debug)]
struct Family {
    name: String,
    help: String,
    kind: Kind,
    series: Vec<Series>,
}

/// HTTP status classes counted by the request-id middleware: 1xx … 5xx.
const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The registry. Registering the same name and labels twice returns the same metric, so
/// components may register what they use without coordinating.
#[derive(Debug)]
pub struct Metrics {
    families: Mutex<Vec<Family>>,
    http_responses_by_class: [Arc<Counter>; 5],
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let families = Mutex::new(Vec::new());
        let mut metrics = Self {
            families,
            http_responses_by_class: Default::default(),
        };
        for (index, class) in STATUS_CLASSES.iter().enumerate() {
            metrics.http_responses_by_class[index] = metrics.counter_with_labels(
                "playcore_http_responses_total",
                "HTTP responses sent, by status class.",
                &[("class", class)],
            );
        }
        let start = metrics.gauge(
            "playcore_process_start_time_seconds",
            "Start time of the process since the Unix epoch, in seconds.",
        );
        start.set(unix_seconds_now());
        metrics
    }

    pub fn counter(&self, name: &str, help: &str) -> Arc<Counter> {
        self.counter_with_labels(name, help, &[])
    }

    pub fn counter_with_labels(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
    ) -> Arc<Counter> {
        match self.register(name, help, Kind::Counter, labels, || {
            Value::Counter(Arc::default())
        }) {
            Value::Counter(counter) => counter,
            Value::Gauge(_) => unreachable!("register checks the kind"),
        }
    }

    pub fn gauge(&self, name: &str, help: &str) -> Arc<Gauge> {
        self.gauge_with_labels(name, help, &[])
    }

    /// Sets each (name, help, value) gauge, saturating values beyond `i64::MAX`.
    pub fn set_levels(&self, levels: &[(&str, &str, u64)]) {
        for (name, help, value) in levels {
            let value = i64::try_from(*value).unwrap_or(i64::MAX);
            self.gauge(name, help).set(value);
        }
    }

    pub fn gauge_with_labels(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Arc<Gauge> {
        match self.register(name, help, Kind::Gauge, labels, || {
            Value::Gauge(Arc::default())
        }) {
            Value::Gauge(gauge) => gauge,
            Value::Counter(_) => unreachable!("register checks the kind"),
        }
    }

    /// Drops the series of the families whose name starts with `name_prefix` that carry
    /// `label="value"`: series labelled by something that no longer exists (a removed
    /// delivery subscription) go with it, so their number stays bounded.
    pub fn remove_labelled(&self, name_prefix: &str, label: &str, value: &str) {
        let wanted = format!("{label}=\"{}\"", escape(value, true));
        let mut families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        for family in families.iter_mut() {
            if family.name.starts_with(name_prefix) {
                family.series.retain(|series| {
                    let pairs = series.labels.trim_start_matches('{').trim_end_matches('}');
                    !pairs.split(',').any(|pair| pair == wanted)
                });
            }
        }
    }

    /// Counts one HTTP response under its status class.
    pub fn record_http_response(&self, status: StatusCode) {
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.http_responses_by_class[class].increment();
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text = String::with_capacity(256 * families.len());
        for family in families.iter() {
            let help = escape(&family.help, false);
            let _ = writeln!(text, "# HELP {} {}", family.name, help);
            let _ = writeln!(text, "# TYPE {} {}", family.name, family.kind.as_str());
            for series in &family.series {
                let _ = match &series.value {
                    Value::Counter(counter) => {
                        writeln!(text, "{}{} {}", family.name, series.labels, counter.get())
                    }
                    Value::Gauge(gauge) => {
                        writeln!(text, "{}{} {}", family.name, series.labels, gauge.get())
                    }
                };
            }
        }
        text
    }

    /// Finds or creates a series. Names and label names are fixed by the code, so a bad
    /// one or a kind clash is a programmer error and panics at registration (startup).
    fn register(
        &self,
        name: &str,
        help: &str,
        kind: Kind,
        labels: &[(&str, &str)],
        create: impl FnOnce() -> Value,
    ) -> Value {
        assert!(is_valid_name(name), "invalid metric name {name:?}");
        for (label, _) in labels {
            assert!(is_valid_name(label), "invalid label name {label:?}");
        }
        let labels = render_labels(labels);
        let mut families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        let index = match families.iter().position(|family| family.name == name) {
            Some(index) => index,
            None => {
                families.push(Family {
                    name: name.to_owned(),
                    help: help.to_owned(),
                    kind,
                    series: Vec::new(),
                });
                families.len() - 1
            }
        };
        let family = &mut families[index];
        assert_eq!(family.kind, kind, "metric {name} registered with two kinds");
        if let Some(series) = family.series.iter().find(|series| series.labels == labels) {
            return series.value.share();
        }
        let value = create();
        let shared = value.share();
        family.series.push(Series { labels, value });
        shared
    }
}

impl Value {
    fn share(&self) -> Value {
        match self {
            Self::Counter(counter) => Self::Counter(Arc::clone(counter)),
            Self::Gauge(gauge) => Self::Gauge(Arc::clone(gauge)),
        }
    }
}

fn is_valid_name(name: &str) -> bool {
    let mut characters = name.chars();
    let first_valid = characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_' || first == ':');
    first_valid && characters.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn render_labels(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}=\"{}\"", escape(value, true)))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// Escapes per the text format: `\` and newline always, `"` in label values.
fn escape(text: &str, is_label_value: bool) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '"' if is_label_value => escaped.push_str("\\\""),
            other => escaped.push(other),
        }
    }
    escaped
}

fn unix_seconds_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_labels() {
        let metrics = Metrics::new();
        metrics.counter("orders_total", "Orders.").add(3);
        metrics
            .gauge_with_labels("queue_depth", "Depth.", &[("queue", "a\"b")])
            .set(-2);
        let text = metrics.render();
        assert!(text.contains("# TYPE orders_total counter\norders_total 3\n"));
        assert!(text.contains("queue_depth{queue=\"a\\\"b\"} -2\n"));
    }

    #[test]
    fn registering_twice_shares_the_metric() {
        let metrics = Metrics::new();
        metrics.counter("hits_total", "Hits.").increment();
        metrics.counter("hits_total", "Hits.").increment();
        assert_eq!(metrics.counter("hits_total", "Hits.").get(), 2);
    }

    #[test]
    fn http_responses_are_counted_by_class() {
        let metrics = Metrics::new();
        metrics.record_http_response(StatusCode::OK);
        metrics.record_http_response(StatusCode::CONFLICT);
        metrics.record_http_response(StatusCode::CREATED);
        let text = metrics.render();
        assert!(text.contains("playcore_http_responses_total{class=\"2xx\"} 2\n"));
        assert!(text.contains("playcore_http_responses_total{class=\"4xx\"} 1\n"));
    }

    #[test]
    fn labelled_series_can_be_removed() {
        let metrics = Metrics::new();
        for id in ["a", "ab"] {
            metrics
                .counter_with_labels("sent_total", "Sent.", &[("subscription", id)])
                .increment();
        }
        metrics.remove_labelled("sent_", "subscription", "a");
        let text = metrics.render();
        assert!(!text.contains("sent_total{subscription=\"a\"}"), "{text}");
        assert!(
            text.contains("sent_total{subscription=\"ab\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    #[should_panic(expected = "invalid metric name")]
    fn bad_names_are_refused() {
        Metrics::new().counter("bad name", "Help.");
    }
}

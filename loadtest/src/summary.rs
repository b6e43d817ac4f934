//! The figures of a run, as plain data: what the recorder produces and the report prints.

use serde::Serialize;
use std::collections::BTreeMap;

/// Latency percentiles of one phase, in microseconds.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencySummary {
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

/// One second of a phase: how many requests completed in it and their latencies.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelinePoint {
    /// Seconds since the phase started (the point covers `[second, second + 1)`).
    pub second: u32,
    pub requests: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// The figures of one phase of a run (one target, one kind of request).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseSummary {
    /// What was measured, e.g. "playcore grab" or "ceiling round trip".
    pub name: String,
    /// The base URL the phase sent to.
    pub target: String,
    /// When the phase started, in milliseconds since the Unix epoch: the timeline's second 0,
    /// to line the run up with server logs and other probes.
    pub started_at_unix_ms: u64,
    pub requests: u64,
    pub elapsed_seconds: f64,
    pub throughput_per_second: f64,
    pub latency: LatencySummary,
    /// Answers counted by error code; successes under "OK", transport failures under
    /// "TRANSPORT".
    pub codes: BTreeMap<String, u64>,
    pub timeline: Vec<TimelinePoint>,
}

/// One check of the verdict.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// What the harness read back from the server after the run, judged.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub passed: bool,
    pub checks: Vec<Check>,
}

/// Side-by-side figures of playcore and the ceiling server, measured in one run.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    /// playcore throughput / ceiling throughput, one value per round.
    pub ratios: Vec<f64>,
    pub ratio_median: f64,
}

/// The wall-clock time of `started` (a moment in the past), in milliseconds since the
/// Unix epoch.
pub fn unix_ms_at(started: std::time::Instant) -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    since_epoch.saturating_sub(started.elapsed()).as_millis() as u64
}

/// Everything a run reports; printed as a table and written as JSON.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub scenario: String,
    /// "closed" (fixed concurrency) or "open" (fixed arrival rate).
    pub loop_mode: String,
    /// The options of the run, as given (seed included), so it can be repeated.
    pub options: serde_json::Value,
    /// Facts about the machine and the date, e.g. {"cores": 2, "date": "2026-11-23"}.
    pub machine: serde_json::Value,
    pub phases: Vec<PhaseSummary>,
    pub comparison: Option<Comparison>,
    pub verdict: Option<Verdict>,
}

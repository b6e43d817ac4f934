//! Per-worker recording of latencies and answers, merged into phase summaries at the end.
//!
//! Each worker owns its HDR histograms, so recording takes no lock. The per-second
//! timeline is the exception: a worker keeps the current second's latencies in a short list
//! and records them into the shared timeline when the second turns, once per second per
//! worker. (A histogram per worker and second, added into the timeline and reset, cost
//! every worker a walk and a wipe of some 3,300 counters at every turn of the second: 256
//! workers' worth landed in the first milliseconds of each second, on the harness thread
//! whose answers are being timed.)

use crate::summary::{unix_ms_at, LatencySummary, PhaseSummary, TimelinePoint};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Latencies above this are recorded as this (an hour: nothing real takes longer).
const LATENCY_US_MAX: u64 = 3_600_000_000;
/// Seconds of timeline kept per kind; later seconds still count in the totals.
pub const TIMELINE_SECONDS_MAX: usize = 3_600;
/// A worker's list of the current second's latencies is recorded into the timeline when
/// it reaches this length, not only when the second turns, so it stays bounded.
const SECOND_SAMPLES_MAX: usize = 1_024;

fn histogram(significant_figures: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, significant_figures)
        .expect("static histogram bounds are valid")
}

use crate::api::{code_slot, slot_code, CODE_SLOTS as SLOTS};

/// The timeline of every kind: kind → second → histogram. Shared by a phase's workers.
pub type Timelines = Arc<Mutex<Vec<Vec<Option<Histogram<u64>>>>>>;

pub fn timelines(kinds: usize) -> Timelines {
    Arc::new(Mutex::new(vec![Vec::new(); kinds]))
}

struct KindRecorder {
    total: Histogram<u64>,
    codes: [u64; SLOTS],
    second: u32,
    /// Latencies (µs) of the current second not yet in the timeline.
    current: Vec<u64>,
}

/// One worker's recording.
pub struct Recorder {
    started: Instant,
    kinds: Vec<KindRecorder>,
    timelines: Timelines,
    last_completion: Instant,
}

impl Recorder {
    pub fn new(kinds: usize, started: Instant, timelines: Timelines) -> Recorder {
        let kind = || KindRecorder {
            total: histogram(3),
            codes: [0; SLOTS],
            second: 0,
            current: Vec::with_capacity(SECOND_SAMPLES_MAX),
        };
        Recorder {
            started,
            kinds: (0..kinds).map(|_| kind()).collect(),
            timelines,
            last_completion: started,
        }
    }

    /// Restarts the clock: seconds of the timeline count from `started`. Recorders are
    /// made before a phase starts (their histograms are large), then started.
    pub fn start(&mut self, started: Instant) {
        self.started = started;
        self.last_completion = started;
    }

    /// Records one answer of `kind` that took `latency` and ended now with `code`.
    pub fn record(&mut self, kind: usize, latency: Duration, code: &str) {
        let now = Instant::now();
        self.last_completion = now;
        let second = now.duration_since(self.started).as_secs() as u32;
        let latency_us = (latency.as_micros() as u64).clamp(1, LATENCY_US_MAX);
        let recorder = &mut self.kinds[kind];
        recorder.total.saturating_record(latency_us);
        recorder.codes[code_slot(code)] += 1;
        if second != recorder.second {
            flush_second(&self.timelines, kind, recorder);
            recorder.second = second;
        }
        recorder.current.push(latency_us);
        if recorder.current.len() >= SECOND_SAMPLES_MAX {
            flush_second(&self.timelines, kind, recorder);
        }
    }

    /// Moves the current seconds into the shared timeline; call when the worker ends.
    pub fn finish(mut self) -> Recorded {
        for (kind, recorder) in self.kinds.iter_mut().enumerate() {
            flush_second(&self.timelines, kind, recorder);
        }
        let codes = self.kinds.iter().map(|k| k.codes).collect();
        Recorded {
            totals: self.kinds.into_iter().map(|k| k.total).collect(),
            codes,
            last_completion: self.last_completion,
        }
    }
}

fn flush_second(timelines: &Timelines, kind: usize, recorder: &mut KindRecorder) {
    if recorder.current.is_empty() {
        return;
    }
    let second = recorder.second as usize;
    if second < TIMELINE_SECONDS_MAX {
        let mut timelines = timelines
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let seconds = &mut timelines[kind];
        if seconds.len() <= second {
            seconds.resize(second + 1, None);
        }
        let slot = seconds[second].get_or_insert_with(|| histogram(2));
        for latency_us in &recorder.current {
            slot.saturating_record(*latency_us);
        }
    }
    recorder.current.clear();
}

/// What one worker recorded, ready to merge.
pub struct Recorded {
    totals: Vec<Histogram<u64>>,
    codes: Vec<[u64; SLOTS]>,
    last_completion: Instant,
}

/// Merges the workers' recordings of one phase into a summary per kind.
pub fn summarize(
    names: &[String],
    target: &str,
    started: Instant,
    recorded: &[Recorded],
    timelines: &Timelines,
) -> Vec<PhaseSummary> {
    let ended = recorded
        .iter()
        .map(|r| r.last_completion)
        .max()
        .unwrap_or(started);
    let elapsed_seconds = ended.duration_since(started).as_secs_f64().max(1e-6);
    let timelines = timelines
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    names
        .iter()
        .enumerate()
        .map(|(kind, name)| {
            let mut total = histogram(3);
            let mut codes = [0u64; SLOTS];
            for worker in recorded {
                total.add(&worker.totals[kind]).ok();
                codes
                    .iter_mut()
                    .zip(worker.codes[kind])
                    .for_each(|(a, b)| *a += b);
            }
            PhaseSummary {
                name: name.clone(),
                target: target.to_owned(),
                started_at_unix_ms: unix_ms_at(started),
                requests: total.len(),
                elapsed_seconds,
                throughput_per_second: total.len() as f64 / elapsed_seconds,
                latency: latency_summary(&total),
                codes: code_counts(&codes),
                timeline: timeline(&timelines[kind]),
            }
        })
        .collect()
}

pub(crate) fn latency_summary(histogram: &Histogram<u64>) -> LatencySummary {
    if histogram.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        p50_us: histogram.value_at_quantile(0.50),
        p90_us: histogram.value_at_quantile(0.90),
        p99_us: histogram.value_at_quantile(0.99),
        p999_us: histogram.value_at_quantile(0.999),
        max_us: histogram.max(),
        mean_us: histogram.mean(),
    }
}

fn code_counts(codes: &[u64; SLOTS]) -> BTreeMap<String, u64> {
    codes
        .iter()
        .enumerate()
        .filter(|(_, count)| **count > 0)
        .map(|(slot, count)| (slot_code(slot).to_owned(), *count))
        .collect()
}

fn timeline(seconds: &[Option<Histogram<u64>>]) -> Vec<TimelinePoint> {
    seconds
        .iter()
        .enumerate()
        .filter_map(|(second, histogram)| Some(timeline_point(second, histogram.as_ref()?)))
        .collect()
}

/// One second of a latency-over-time chart.
pub(crate) fn timeline_point(second: usize, histogram: &Histogram<u64>) -> TimelinePoint {
    TimelinePoint {
        second: second as u32,
        requests: histogram.len(),
        p50_us: histogram.value_at_quantile(0.50),
        p99_us: histogram.value_at_quantile(0.99),
        max_us: histogram.max(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{OK, TRANSPORT};

    #[test]
    fn workers_merge_into_one_summary_per_kind() {
        let started = Instant::now();
        let timelines = timelines(2);
        let mut first = Recorder::new(2, started, timelines.clone());
        let mut second = Recorder::new(2, started, timelines.clone());
        for latency_us in 1..=1000u64 {
            first.record(0, Duration::from_micros(latency_us), OK);
        }
        second.record(0, Duration::from_millis(50), "SOLD_OUT");
        second.record(1, Duration::from_millis(2), TRANSPORT);
        let recorded = [first.finish(), second.finish()];
        let names = ["grab".to_owned(), "pay".to_owned()];
        let summaries = summarize(&names, "http://x", started, &recorded, &timelines);
        assert_eq!(summaries[0].requests, 1001);
        assert_eq!(summaries[0].codes["OK"], 1000);
        assert_eq!(summaries[0].codes["SOLD_OUT"], 1);
        assert!((495..=505).contains(&summaries[0].latency.p50_us));
        assert!(summaries[0].latency.max_us >= 49_000);
        assert_eq!(summaries[1].codes["TRANSPORT"], 1);
        assert_eq!(summaries[0].timeline[0].requests, 1001);
    }
}

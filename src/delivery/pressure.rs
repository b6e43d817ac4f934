//! Yielding to the grab path: while trading appends to the journal faster than
//! [`BUSY_ENTRIES_PER_SECOND`], subscriptions neither read nor send, for at most
//! [`YIELD_MS_MAX`] at a stretch, and catch up once the rush eases. Their events wait in
//! the event store, held by their cursors, so yielding writes nothing.
//!
//! Why: three HTTP exchanges per grab cost the rush a third of its grabs per second even
//! with the engine in the idle scheduling class (the kernel's loopback work and sled's
//! threads run outside it; docs/benchmarks.md). At 2,000 events/s nothing yields.

use std::sync::{Mutex, OnceLock, PoisonError};

/// Journal entries per second above which delivery yields.
pub(crate) const BUSY_ENTRIES_PER_SECOND: u64 = 5_000;
/// How often the rate is sampled.
pub(crate) const SAMPLE_MS: i64 = 100;
/// A subscription yields at most this long at a stretch; past it, it delivers until the
/// rush eases, so a long rush delays events by this much at most.
pub(crate) const YIELD_MS_MAX: i64 = 10_000;

/// Reads the journal's appended seq, when the server set it up.
type Probe = Box<dyn Fn() -> u64 + Send + Sync>;

#[derive(Default)]
pub(crate) struct Pressure {
    probe: OnceLock<Probe>,
    sample: Mutex<Sample>,
}

#[derive(Default)]
struct Sample {
    at_ms: i64,
    seq: u64,
    busy: bool,
}

impl Pressure {
    pub fn set_probe(&self, probe: Probe) {
        let _ = self.probe.set(probe);
    }

    /// Whether trading is busy now (sampled every [`SAMPLE_MS`]).
    pub fn busy(&self, now_ms: i64) -> bool {
        let Some(probe) = self.probe.get() else {
            return false;
        };
        let mut sample = self.sample.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed_ms = now_ms - sample.at_ms;
        if elapsed_ms >= SAMPLE_MS {
            let seq = probe();
            let entries = seq.saturating_sub(sample.seq);
            let elapsed_ms = u64::try_from(elapsed_ms).unwrap_or(u64::MAX);
            sample.busy = sample.at_ms > 0
                && entries.saturating_mul(1_000)
                    > BUSY_ENTRIES_PER_SECOND.saturating_mul(elapsed_ms);
            sample.at_ms = now_ms;
            sample.seq = seq;
        }
        sample.busy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    #[test]
    fn busy_only_above_the_rate_and_only_with_a_probe() {
        let pressure = Pressure::default();
        assert!(!pressure.busy(1_000), "no probe: never busy");
        let seq = Arc::new(AtomicU64::new(0));
        let probed = Arc::clone(&seq);
        pressure.set_probe(Box::new(move || probed.load(Ordering::SeqCst)));
        assert!(
            !pressure.busy(1_000),
            "the first sample only starts the count"
        );
        seq.store(100, Ordering::SeqCst); // 1,000 per second
        assert!(!pressure.busy(1_100));
        seq.store(1_100, Ordering::SeqCst); // 10,000 per second
        assert!(pressure.busy(1_200));
        assert!(pressure.busy(1_250), "kept between samples");
        assert!(!pressure.busy(1_300), "nothing appended since");
    }
}

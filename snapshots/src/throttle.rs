//! Rate limiting of repeated log lines: one [`LogThrottle`] per kind of line (a `static`
//! at the line's call site), so a condition that repeats per request or per tick (a full
//! disk, a failed journal) writes at most one line per interval, carrying the count of
//! the lines it suppressed since the previous one.
//!
//! ```
//! use playcore_snapshots::throttle::LogThrottle;
//! use std::time::Duration;
//!
//! static NOT_QUEUED: LogThrottle = LogThrottle::new(Duration::from_secs(10));
//! if let Some(suppressed) = NOT_QUEUED.admit() {
//!     eprintln!("snapshot not queued ({suppressed} similar lines suppressed)");
//! }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The interval most repeated storage warnings use.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Admits one line per interval; counts the others.
#[derive(Debug)]
pub struct LogThrottle {
    interval_ms: u64,
    /// Milliseconds since [`epoch`] before which no line is admitted.
    next_line_ms: AtomicU64,
    suppressed_count: AtomicU64,
}

impl LogThrottle {
    pub const fn new(interval: Duration) -> LogThrottle {
        LogThrottle {
            interval_ms: interval.as_millis() as u64,
            next_line_ms: AtomicU64::new(0),
            suppressed_count: AtomicU64::new(0),
        }
    }

    /// `Some(lines suppressed since the last admitted one)` when a line may be written
    /// now; `None` when it must not (it is counted).
    pub fn admit(&self) -> Option<u64> {
        self.admit_at(elapsed_ms())
    }

    fn admit_at(&self, now_ms: u64) -> Option<u64> {
        let next_line_ms = self.next_line_ms.load(Ordering::Relaxed);
        let due = now_ms >= next_line_ms;
        if due
            && self
                .next_line_ms
                .compare_exchange(
                    next_line_ms,
                    now_ms + self.interval_ms,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            return Some(self.suppressed_count.swap(0, Ordering::Relaxed));
        }
        self.suppressed_count.fetch_add(1, Ordering::Relaxed);
        None
    }
}

/// Milliseconds since the first throttled line of the process (never 0 after the first
/// call, so a fresh throttle admits its first line at once).
fn elapsed_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = EPOCH.get_or_init(Instant::now);
    epoch.elapsed().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_of_those_suppressed() {
        let throttle = LogThrottle::new(Duration::from_secs(10));
        assert_eq!(throttle.admit_at(0), Some(0), "the first line passes");
        assert_eq!(throttle.admit_at(1), None);
        assert_eq!(throttle.admit_at(9_999), None);
        assert_eq!(throttle.admit_at(10_000), Some(2), "two were suppressed");
        assert_eq!(throttle.admit_at(10_001), None);
        assert_eq!(throttle.admit_at(50_000), Some(1));
    }
}

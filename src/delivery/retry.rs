//! The retry schedule with jitter, and the per-subscription rate limit.

use std::time::Duration;

/// When the attempt after `attempts_spent` failed ones is due, or `None` when the schedule
/// is exhausted (the message is dead-lettered). The delay is the schedule's, ±10 %.
pub(crate) fn next_attempt_at_ms(
    schedule: &[Duration],
    attempts_spent: u32,
    now_ms: i64,
    jitter: &mut Jitter,
) -> Option<i64> {
    let index = usize::try_from(attempts_spent).ok()?.checked_sub(1)?;
    let delay_ms = u64::try_from(schedule.get(index)?.as_millis()).unwrap_or(u64::MAX);
    let spread_ms = delay_ms / 10;
    let jittered_ms = delay_ms - spread_ms + jitter.below(spread_ms.saturating_mul(2) + 1);
    Some(now_ms.saturating_add(i64::try_from(jittered_ms).unwrap_or(i64::MAX)))
}

/// A small xorshift generator: jitter needs spread, not secrecy.
pub(crate) struct Jitter {
    state: u64,
}

impl Jitter {
    pub fn new(seed: u64) -> Jitter {
        Jitter { state: seed | 1 }
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        if bound == 0 {
            0
        } else {
            self.state % bound
        }
    }
}

/// A token bucket refilled at `per_second`, holding at most one second's worth.
pub(crate) struct RateLimit {
    per_second: Option<u32>,
    tokens_milli: u64,
    refilled_at_ms: i64,
}

impl RateLimit {
    pub fn new(per_second: Option<u32>) -> RateLimit {
        let per_second = per_second.filter(|rate| *rate > 0);
        RateLimit {
            per_second,
            tokens_milli: per_second.map_or(0, |rate| u64::from(rate) * 1_000),
            refilled_at_ms: 0,
        }
    }

    pub fn set(&mut self, per_second: Option<u32>) {
        if per_second != self.per_second {
            *self = RateLimit::new(per_second);
        }
    }

    /// Takes a token if one is there; otherwise the time one will be.
    pub fn take(&mut self, now_ms: i64) -> Result<(), i64> {
        let Some(rate) = self.per_second else {
            return Ok(());
        };
        let rate = u64::from(rate);
        let elapsed_ms = u64::try_from(now_ms.saturating_sub(self.refilled_at_ms)).unwrap_or(0);
        self.refilled_at_ms = now_ms;
        // Tokens in thousandths: `rate` per second is `rate` thousandths per millisecond.
        self.tokens_milli = (self.tokens_milli + elapsed_ms.saturating_mul(rate)).min(rate * 1_000);
        if self.tokens_milli >= 1_000 {
            self.tokens_milli -= 1_000;
            return Ok(());
        }
        let missing = 1_000 - self.tokens_milli;
        Err(now_ms + i64::try_from(missing.div_ceil(rate)).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_within_ten_percent_then_stop() {
        let schedule = [Duration::from_secs(5), Duration::from_secs(300)];
        let mut jitter = Jitter::new(42);
        for _ in 0..1_000 {
            let first = next_attempt_at_ms(&schedule, 1, 0, &mut jitter).expect("a retry");
            assert!((4_500..=5_500).contains(&first), "{first}");
            let second = next_attempt_at_ms(&schedule, 2, 0, &mut jitter).expect("a retry");
            assert!((270_000..=330_000).contains(&second), "{second}");
        }
        assert_eq!(next_attempt_at_ms(&schedule, 3, 0, &mut jitter), None);
    }

    #[test]
    fn the_rate_limit_lets_a_second_through_then_paces() {
        let mut limit = RateLimit::new(Some(10));
        for _ in 0..10 {
            assert_eq!(limit.take(1_000), Ok(()));
        }
        assert_eq!(limit.take(1_000), Err(1_100));
        assert_eq!(limit.take(1_100), Ok(()));
        let mut unlimited = RateLimit::new(None);
        assert!((0..10_000).all(|_| unlimited.take(0).is_ok()));
    }
}

//! A keyed GCRA limiter with a hard bound on the keys it holds.
//!
//! governor's keyed store keeps one state per key until `retain_recent` drops the keys
//! whose bucket is full again (they are indistinguishable from a key never seen, so
//! dropping them loses nothing). That housekeeping runs on a timer, but it cannot bound a
//! flood of fresh keys arriving between two runs (1,000,000 device ids in a second). So
//! the keys are also spread over `SHARDS` limiters of `keys_max / SHARDS` keys each: a new
//! key that finds its shard full first has the shard's idle keys dropped, and if the shard
//! is still full, the shard is replaced by an empty one (eviction of a whole shard). The
//! keys evicted that way lose their history and start with a full bucket; an attacker who
//! can mint keys gains nothing by it (a fresh key has a full bucket anyway), and the
//! limits on keys it cannot mint (the client IP) still hold. Keys are 64-bit hashes of
//! the key text (seeded per process), so each key costs the same few dozen bytes.

use std::hash::{BuildHasher, Hash};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::RateLimit;

/// Shards of one keyed limiter: few enough that each holds many keys, enough that an
/// eviction forgets a small share of them.
const SHARDS: usize = 16;

type Shard = DefaultKeyedRateLimiter<u64>;

/// Per-key token buckets of one quota, at most `keys_max` keys.
pub(crate) struct KeyedLimiter {
    quota: Quota,
    shards: Vec<Mutex<Arc<Shard>>>,
    keys_per_shard_max: usize,
    hasher: std::collections::hash_map::RandomState,
    clock: DefaultClock,
}

/// The governor quota of a configured rate, or `None` when the rate is off.
pub(crate) fn quota(rate: RateLimit) -> Option<Quota> {
    let per_second = NonZeroU32::new(rate.per_second)?;
    let burst = NonZeroU32::new(rate.burst)?;
    Some(Quota::per_second(per_second).allow_burst(burst))
}

/// Whole seconds to wait, rounded up, at least 1 (the `Retry-After` value).
pub(crate) fn retry_after_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

impl KeyedLimiter {
    pub(crate) fn new(quota: Quota, keys_max: usize) -> Self {
        let keys_per_shard_max = (keys_max / SHARDS).max(1);
        let shards = (0..SHARDS)
            .map(|_| Mutex::new(Arc::new(Shard::keyed(quota))))
            .collect();
        Self {
            quota,
            shards,
            keys_per_shard_max,
            hasher: std::collections::hash_map::RandomState::new(),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(wait)` when `key` has no token now: how long until it has one.
    pub(crate) fn check(&self, key: impl Hash) -> Result<(), Duration> {
        let hash = self.hasher.hash_one(key);
        let shard = self.shard(hash);
        shard
            .check_key(&hash)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// The shard of `hash`, made room in when `hash` is new and the shard is full.
    fn shard(&self, hash: u64) -> Arc<Shard> {
        let slot = &self.shards[(hash % SHARDS as u64) as usize];
        let mut shard = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if shard.len() >= self.keys_per_shard_max {
            shard.retain_recent();
            if shard.len() >= self.keys_per_shard_max {
                *shard = Arc::new(Shard::keyed(self.quota));
            }
        }
        Arc::clone(&shard)
    }

    /// Drops the keys whose bucket is full again, and the memory they held.
    pub(crate) fn housekeep(&self) {
        for slot in &self.shards {
            let shard = Arc::clone(&slot.lock().unwrap_or_else(PoisonError::into_inner));
            shard.retain_recent();
            shard.shrink_to_fit();
        }
    }

    /// Keys held now, over all shards.
    pub(crate) fn keys_held(&self) -> usize {
        let shards = self.shards.iter();
        shards
            .map(|slot| slot.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(keys_max: usize) -> KeyedLimiter {
        let rate = RateLimit {
            per_second: 1,
            burst: 2,
        };
        KeyedLimiter::new(quota(rate).expect("a quota"), keys_max)
    }

    #[test]
    fn a_key_gets_its_burst_then_a_wait() {
        let limiter = limiter(1_000);
        assert!(limiter.check("user-1").is_ok());
        assert!(limiter.check("user-1").is_ok());
        let wait = limiter.check("user-1").expect_err("the third is refused");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        assert!(
            limiter.check("user-2").is_ok(),
            "another key has its own bucket"
        );
    }

    #[test]
    fn a_million_distinct_keys_stay_within_the_bound() {
        let keys_max = 10_000;
        let limiter = limiter(keys_max);
        for key in 0..1_000_000u64 {
            let _ = limiter.check(key);
        }
        let held = limiter.keys_held();
        assert!(held <= keys_max, "{held} keys held, bound {keys_max}");
        assert!(held > 0);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1_001)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(3)), 3);
    }

    #[test]
    fn off_rates_have_no_quota() {
        assert!(quota(RateLimit::default()).is_none());
    }
}

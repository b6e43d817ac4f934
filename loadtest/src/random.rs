//! The harness's seeded generator: SplitMix64.
//!
//! Written out rather than taken from `rand` on purpose: a seed must draw the same plan on
//! every version of the harness, so that a run can be repeated later, and `rand` does not
//! promise value stability of its generators across releases.

/// A SplitMix64 generator (Steele, Lea and Flood, 2014).
#[derive(Clone, Debug)]
pub struct Random {
    state: u64,
}

impl Random {
    pub fn new(seed: u64) -> Random {
        Random { state: seed }
    }

    /// A generator for item `index` of a stream, independent of the order items are drawn.
    pub fn for_item(seed: u64, stream: u64, index: u64) -> Random {
        let mut mixer = Random::new(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let base = mixer.next_u64();
        Random::new(base ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A number in `0..bound` (`bound` > 0), by Lemire's multiply-shift.
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// True with probability `share` (0.0 to 1.0).
    pub fn chance(&mut self, share: f64) -> bool {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit < share
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for index in (1..items.len()).rev() {
            let other = self.below(index as u64 + 1) as usize;
            items.swap(index, other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_numbers() {
        let first: Vec<u64> = (0..5).map(|_| Random::new(7).next_u64()).collect();
        let mut generator = Random::new(7);
        let second = generator.next_u64();
        assert_eq!(first[0], second);
        assert_ne!(generator.next_u64(), second);
    }

    #[test]
    fn below_stays_in_range_and_chance_follows_the_share() {
        let mut generator = Random::new(1);
        assert!((0..10_000).all(|_| generator.below(7) < 7));
        let hits = (0..100_000).filter(|_| generator.chance(0.25)).count();
        assert!((24_000..26_000).contains(&hits), "{hits}");
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut items: Vec<u32> = (0..1000).collect();
        Random::new(3).shuffle(&mut items);
        assert_ne!(items, (0..1000).collect::<Vec<_>>());
        items.sort_unstable();
        assert_eq!(items, (0..1000).collect::<Vec<_>>());
    }
}

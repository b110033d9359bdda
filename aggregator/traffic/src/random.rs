//! The random source and the few distributions the generator draws from.
//!
//! rand provides only the Xoshiro256++ core; floats, ranges and weighted choices are drawn
//! here, so a seed gives the same traffic whatever rand does to its own samplers.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng as _, SeedableRng as _};

/// 2^-53: turns the top 53 bits of a `u64` into a float in `[0, 1)`.
const UNIT_SCALE: f64 = 1.0 / (1u64 << 53) as f64;

/// Draws from a stream of random `u64`s: the distributions the generator needs.
pub(crate) trait Draw {
    fn next_u64(&mut self) -> u64;

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * UNIT_SCALE
    }

    /// Uniform in `0..n` (`n > 0`), by Lemire's multiply-shift. The bias is below `n / 2^64`,
    /// far under anything the generator's statistics can see.
    fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniformly chosen index into a slice of length `len > 0`.
    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Exponentially distributed with the given mean.
    fn exponential(&mut self, mean: f64) -> f64 {
        // `1 - unit` is in (0, 1], so the logarithm is finite.
        -mean * (1.0 - self.unit()).ln()
    }

    /// A weighted choice from a small table, by linear scan: `weight` reads an entry's
    /// weight. For the long tables, [`Cumulative`] is faster.
    fn pick<T>(&mut self, table: &[T], weight: impl Fn(&T) -> u32) -> usize {
        let total: u64 = table.iter().map(|entry| u64::from(weight(entry))).sum();
        debug_assert!(total > 0, "a weighted table needs a positive total");
        let mut target = self.below(total);
        for (index, entry) in table.iter().enumerate() {
            let entry_weight = u64::from(weight(entry));
            if target < entry_weight {
                return index;
            }
            target -= entry_weight;
        }
        table.len() - 1
    }
}

/// The generator's main random stream.
#[derive(Debug, Clone)]
pub(crate) struct Random(Xoshiro256PlusPlus);

impl Random {
    pub(crate) fn new(seed: u64) -> Self {
        Self(Xoshiro256PlusPlus::seed_from_u64(seed))
    }
}

impl Draw for Random {
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}

/// A small SplitMix64 stream (8 bytes of state): each visit draws its pauses from its own,
/// so its timing can be simulated ahead without disturbing the main stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SmallStream(u64);

impl SmallStream {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }
}

impl Draw for SmallStream {
    fn next_u64(&mut self) -> u64 {
        let output = mix(self.0);
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        output
    }
}

/// 2^64 divided by the golden ratio: SplitMix64's increment.
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// The SplitMix64 finalizer: a cheap, well-mixing bijection on `u64`, used to derive values
/// (visitor hashes, per-day noise) from a key without touching the random stream.
pub(crate) fn mix(mut value: u64) -> u64 {
    value = value.wrapping_add(GOLDEN_GAMMA);
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// A float in `[0, 1)` derived from a hash.
pub(crate) fn unit_of(hash: u64) -> f64 {
    (hash >> 11) as f64 * UNIT_SCALE
}

/// A weighted choice over many entries (pages, countries, platforms) by binary search over
/// cumulative weights.
#[derive(Debug, Clone)]
pub(crate) struct Cumulative {
    bounds: Vec<f64>,
}

impl Cumulative {
    /// Builds the table; weights must be non-negative with a positive sum.
    pub(crate) fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let bounds: Vec<f64> = weights
            .into_iter()
            .map(|weight| {
                debug_assert!(weight >= 0.0);
                total += weight;
                total
            })
            .collect();
        assert!(total > 0.0, "a weighted table needs a positive total");
        Self { bounds }
    }

    fn total(&self) -> f64 {
        self.bounds[self.bounds.len() - 1]
    }

    /// Draws an index.
    pub(crate) fn sample(&self, random: &mut impl Draw) -> usize {
        let target = random.unit() * self.total();
        self.bounds.partition_point(|bound| *bound <= target).min(self.bounds.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_stay_in_range() {
        let mut random = Random::new(7);
        for _ in 0..10_000 {
            assert!(random.below(3) < 3);
            let unit = random.unit();
            assert!((0.0..1.0).contains(&unit));
            assert!(random.exponential(2.0) >= 0.0);
        }
    }

    #[test]
    fn weighted_choices_follow_their_weights() {
        let mut random = Random::new(1);
        let table = [(0, 1u32), (1, 0), (2, 3)];
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[random.pick(&table, |entry| entry.1)] += 1;
        }
        assert_eq!(counts[1], 0);
        let ratio = f64::from(counts[2]) / f64::from(counts[0]);
        assert!((2.7..3.3).contains(&ratio), "{counts:?}");

        let cumulative = Cumulative::new([1.0, 0.0, 3.0]);
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[cumulative.sample(&mut random)] += 1;
        }
        assert_eq!(counts[1], 0);
        let ratio = f64::from(counts[2]) / f64::from(counts[0]);
        assert!((2.7..3.3).contains(&ratio), "{counts:?}");
    }
}

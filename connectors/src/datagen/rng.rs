//! The datagen's random source: SplitMix64, a tiny generator whose whole state is one `u64`.
//!
//! Why not `rand`'s `StdRng`: as Confluent's task, ours re-seeds itself after every record and
//! stores that seed in the record's source offset, so a restarted task goes on with the same
//! sequence. That wants a re-seed that costs nothing (it happens a million times a second with
//! `max.interval=0`) and an algorithm that never changes under us between versions (an offsets
//! file written today must mean the same thing after an upgrade).

/// A SplitMix64 generator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator seeded with `seed` (the same seed gives the same sequence, always).
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// Starts over from `seed`.
    pub fn reseed(&mut self, seed: u64) {
        self.state = seed;
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A double in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A number in `[0, n)` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// An index into a slice of `len` items (`len` > 0).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// An integer in `[min, max)`; `min` when the range is empty.
    pub fn between(&mut self, min: i64, max: i64) -> i64 {
        let span = (i128::from(max) - i128::from(min)).max(0) as u64;
        (i128::from(min) + i128::from(self.below(span))) as i64
    }

    /// A random boolean.
    pub fn coin(&mut self) -> bool {
        self.next_u64() >> 63 == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], Rng::new(43).next_u64());
    }

    #[test]
    fn bounded_numbers_stay_in_bounds() {
        let mut r = Rng::new(7);
        for _ in 0..10_000 {
            let f = r.next_f64();
            assert!((0.0..1.0).contains(&f));
            assert!((-3..4).contains(&r.between(-3, 4)));
            assert!(r.below(10) < 10);
        }
        assert_eq!(r.between(5, 5), 5);
        // the full i64 range does not overflow
        r.between(i64::MIN, i64::MAX);
    }
}

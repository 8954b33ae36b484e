//! Random draws that are pure functions of (seed, step), so that a resumed run draws exactly what
//! an uninterrupted one would have drawn at the same step.

use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

/// Standard normal noise for the reparameterisation, a pure function of (seed, step).
pub(crate) fn noise(seed: u64, step: usize, len: usize) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(mix(seed, step as u64 ^ 0x9e37_79b9_7f4a_7c15));
    (0..len).map(|_| StandardNormal.sample(&mut rng)).collect()
}

pub(crate) fn mix(a: u64, b: u64) -> u64 {
    a.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ b.rotate_left(17)
}

//! How disentangled a representation is, measured against known generative factors
//! (docs/method.md §4): the FactorVAE score (Kim & Mnih 2018) and the mutual information gap
//! (Chen et al. 2018). Both take the representation as a function from factor values to codes,
//! so they run on a model (through rendered images) or, in tests, on a made-up representation.

mod factorvae;
mod mig;

pub use factorvae::{FactorVaeConfig, FactorVaeScore, factorvae_score};
pub use mig::{MigConfig, MigScore, mig, mig_from_samples};

use rand::Rng;

/// Codes of images given by their factor indices: one code (of D values) per image.
pub type Encode<'a> = dyn FnMut(&[Vec<usize>]) -> Vec<Vec<f32>> + 'a;

/// `n` factor vectors drawn uniformly from a grid of `sizes`.
fn sample_factors(rng: &mut impl Rng, sizes: &[usize], n: usize) -> Vec<Vec<usize>> {
    (0..n)
        .map(|_| sizes.iter().map(|&s| rng.random_range(0..s)).collect())
        .collect()
}

/// Encodes `factors` in batches of `batch` (the model's batch size bounds memory).
fn encode_in_batches(
    encode: &mut Encode<'_>,
    factors: &[Vec<usize>],
    batch: usize,
) -> Vec<Vec<f32>> {
    factors.chunks(batch.max(1)).flat_map(encode).collect()
}

#[cfg(test)]
pub(crate) mod test_representations {
    //! Made-up representations with known scores, shared by the two metrics' tests.

    use rand::{SeedableRng, rngs::StdRng};
    use rand_distr::{Distribution, StandardNormal};

    /// z = the factor indices, each scaled and put in another dimension, plus `extra` constant
    /// dimensions (collapsed latents): perfectly disentangled.
    pub fn perfect(sizes: usize, extra: usize) -> impl FnMut(&[Vec<usize>]) -> Vec<Vec<f32>> {
        let order: Vec<usize> = (0..sizes).rev().collect();
        move |factors| {
            factors
                .iter()
                .map(|f| {
                    let mut z: Vec<f32> = order
                        .iter()
                        .enumerate()
                        .map(|(j, &k)| f[k] as f32 * (0.5 + j as f32))
                        .collect();
                    z.extend(std::iter::repeat_n(0.0, extra));
                    z
                })
                .collect()
        }
    }

    /// z independent of the factors: standard normal noise of `dims` dimensions.
    pub fn random(dims: usize, seed: u64) -> impl FnMut(&[Vec<usize>]) -> Vec<Vec<f32>> {
        let mut rng = StdRng::seed_from_u64(seed);
        move |factors| {
            factors
                .iter()
                .map(|_| (0..dims).map(|_| StandardNormal.sample(&mut rng)).collect())
                .collect()
        }
    }
}

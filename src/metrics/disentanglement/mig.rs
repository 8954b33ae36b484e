//! The mutual information gap (Chen et al. 2018): for each factor, the mutual information of its
//! best latent dimension minus that of the second best, over the factor's entropy, averaged over
//! the factors. Latents are discretised into equal-width bins, as disentanglement_lib does.

use rand::{SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

use super::{Encode, encode_in_batches, sample_factors};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MigConfig {
    pub samples: usize,
    pub bins: usize,
    /// Images per call of the representation.
    pub batch: usize,
}

impl Default for MigConfig {
    fn default() -> Self {
        Self {
            samples: 10_000,
            bins: 20,
            batch: 64,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MigScore {
    /// Mean of `per_factor` over the factors with more than one value.
    pub mig: f64,
    /// The normalised gap of every factor (0 for a constant one).
    pub per_factor: Vec<f64>,
}

/// MIG of `encode` over `config.samples` images drawn uniformly from a grid of `sizes`.
pub fn mig(sizes: &[usize], encode: &mut Encode<'_>, config: &MigConfig, seed: u64) -> MigScore {
    let mut rng = StdRng::seed_from_u64(seed);
    let factors = sample_factors(&mut rng, sizes, config.samples);
    let codes = encode_in_batches(encode, &factors, config.batch);
    mig_from_samples(&factors, &codes, sizes, config.bins)
}

/// MIG of paired samples: `factors[n][k]` (indices below `sizes[k]`) and codes `codes[n][j]`.
pub fn mig_from_samples(
    factors: &[Vec<usize>],
    codes: &[Vec<f32>],
    sizes: &[usize],
    bins: usize,
) -> MigScore {
    let dims = codes.first().map_or(0, Vec::len);
    let binned: Vec<Vec<usize>> = (0..dims)
        .map(|j| discretise(codes.iter().map(|z| z[j]), bins))
        .collect();
    let mut per_factor = Vec::with_capacity(sizes.len());
    let mut gaps = Vec::new();
    for (k, &size) in sizes.iter().enumerate() {
        let factor: Vec<usize> = factors.iter().map(|f| f[k]).collect();
        let entropy = entropy(&factor, size);
        if size < 2 || entropy <= 0.0 {
            per_factor.push(0.0);
            continue;
        }
        let mut informations: Vec<f64> = binned
            .iter()
            .map(|z| mutual_information(z, bins, &factor, size))
            .collect();
        informations.sort_by(|a, b| b.total_cmp(a));
        let second = informations.get(1).copied().unwrap_or(0.0);
        let gap = (informations.first().copied().unwrap_or(0.0) - second) / entropy;
        per_factor.push(gap);
        gaps.push(gap);
    }
    MigScore {
        mig: gaps.iter().sum::<f64>() / gaps.len().max(1) as f64,
        per_factor,
    }
}

/// Bin index of every value in `bins` equal-width bins over [min, max] (all in bin 0 when the
/// values are all equal).
fn discretise(values: impl Iterator<Item = f32> + Clone, bins: usize) -> Vec<usize> {
    let (lo, hi) = values
        .clone()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let width = (hi - lo) / bins as f32;
    values
        .map(|v| {
            if width > 0.0 && width.is_finite() {
                (((v - lo) / width) as usize).min(bins - 1)
            } else {
                0
            }
        })
        .collect()
}

/// Entropy (nats) of the empirical distribution of `values` (each below `size`).
fn entropy(values: &[usize], size: usize) -> f64 {
    let mut counts = vec![0usize; size];
    for &v in values {
        counts[v] += 1;
    }
    let n = values.len().max(1) as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

/// Plug-in mutual information (nats) of two discrete samples of equal length.
fn mutual_information(a: &[usize], a_size: usize, b: &[usize], b_size: usize) -> f64 {
    let mut joint = vec![0usize; a_size * b_size];
    let (mut pa, mut pb) = (vec![0usize; a_size], vec![0usize; b_size]);
    for (&x, &y) in a.iter().zip(b) {
        joint[x * b_size + y] += 1;
        pa[x] += 1;
        pb[y] += 1;
    }
    let n = a.len().max(1) as f64;
    let mut information = 0.0;
    for x in 0..a_size {
        for y in 0..b_size {
            let c = joint[x * b_size + y];
            if c > 0 {
                let p = c as f64 / n;
                information += p * (p * n * n / (pa[x] as f64 * pb[y] as f64)).ln();
            }
        }
    }
    information.max(0.0)
}

#[cfg(test)]
mod tests {
    use super::super::test_representations::{perfect, random};
    use super::*;

    #[test]
    fn perfect_representation_scores_one_when_bins_resolve_every_value() {
        // With at most 20 values per factor each value gets a bin of its own; what is left is the
        // plug-in estimator's upward bias on the other dimensions' information, about
        // (bins - 1)(size - 1) / 2N nats.
        let sizes = [3, 6, 20, 16, 16];
        let score = mig(&sizes, &mut perfect(5, 2), &MigConfig::default(), 1);
        assert!(score.mig > 0.98, "{score:?}");
        assert!(score.mig <= 1.0 + 1e-9);
    }

    #[test]
    fn perfect_representation_on_dsprites_reaches_the_binning_ceiling() {
        // 40 orientations and 32 positions in 20 bins keep log 20 of their log 40 and log 32 nats,
        // so the best possible MIG on the dSprites grid is (2 + ln20/ln40 + 2 ln20/ln32) / 5 = 0.91.
        let ceiling = (2.0 + 20f64.ln() / 40f64.ln() + 2.0 * 20f64.ln() / 32f64.ln()) / 5.0;
        let score = mig(
            &[3, 6, 40, 32, 32],
            &mut perfect(5, 0),
            &MigConfig::default(),
            2,
        );
        assert!(
            (score.mig - ceiling).abs() < 0.02,
            "{} vs {ceiling}",
            score.mig
        );
    }

    #[test]
    fn random_representation_scores_near_zero() {
        let score = mig(
            &[3, 6, 40, 32, 32],
            &mut random(10, 3),
            &MigConfig::default(),
            4,
        );
        assert!(score.mig.abs() < 0.02, "{score:?}");
    }

    #[test]
    fn information_and_entropy_by_hand() {
        // Two equally likely values: 1 bit = ln 2 nats; a copy shares all of it, independent
        // values share none.
        let a = [0, 1, 0, 1];
        assert!((entropy(&a, 2) - 2f64.ln()).abs() < 1e-12);
        assert!((mutual_information(&a, 2, &a, 2) - 2f64.ln()).abs() < 1e-12);
        assert!(mutual_information(&a, 2, &[0, 0, 1, 1], 2).abs() < 1e-12);
        assert_eq!(discretise([0.0f32, 0.5, 1.0].into_iter(), 2), vec![0, 1, 1]);
        assert_eq!(discretise([2.0f32, 2.0].into_iter(), 20), vec![0, 0]);
    }
}

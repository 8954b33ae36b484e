//! The FactorVAE score (Kim & Mnih 2018): fix one factor, encode a batch, and see which latent
//! dimension (normalised by its spread over the whole data) varies least; a majority-vote
//! classifier from that dimension to the fixed factor, trained on some votes and scored on others.

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

use super::{Encode, encode_in_batches, sample_factors};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FactorVaeConfig {
    /// Images encoded to measure each dimension's spread over the data.
    pub variance_samples: usize,
    /// Images per vote (all sharing the value of one factor): Kim & Mnih's L.
    pub batch: usize,
    /// Votes that train the classifier.
    pub train_votes: usize,
    /// Votes it is scored on.
    pub eval_votes: usize,
    /// Dimensions whose variance over the data is below this are collapsed and take no part
    /// (a collapsed latent has near-zero spread; an active one, under the N(0, 1) prior, about 1).
    pub collapsed_variance: f64,
}

impl Default for FactorVaeConfig {
    fn default() -> Self {
        Self {
            variance_samples: 10_000,
            batch: 64,
            train_votes: 800,
            eval_votes: 400,
            collapsed_variance: 0.05,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FactorVaeScore {
    /// Accuracy of the majority-vote classifier on the evaluation votes.
    pub score: f64,
    pub train_accuracy: f64,
    /// The dimensions that took part.
    pub active_dims: Vec<usize>,
}

/// The score of the representation `encode` over a factor grid of `sizes`. Only factors with more
/// than one value are fixed; with F such factors, a representation unrelated to them scores
/// 1 / F in expectation. No active dimension scores 0.
pub fn factorvae_score(
    sizes: &[usize],
    encode: &mut Encode<'_>,
    config: &FactorVaeConfig,
    seed: u64,
) -> FactorVaeScore {
    let mut rng = StdRng::seed_from_u64(seed);
    let sample = sample_factors(&mut rng, sizes, config.variance_samples);
    let codes = encode_in_batches(encode, &sample, config.batch);
    let variances = column_variances(&codes);
    let active_dims: Vec<usize> = (0..variances.len())
        .filter(|&j| variances[j] >= config.collapsed_variance)
        .collect();
    let varying: Vec<usize> = (0..sizes.len()).filter(|&k| sizes[k] > 1).collect();
    if active_dims.is_empty() || varying.is_empty() {
        return FactorVaeScore {
            score: 0.0,
            train_accuracy: 0.0,
            active_dims,
        };
    }
    let scales: Vec<f64> = variances.iter().map(|v| v.sqrt()).collect();
    let mut vote = |rng: &mut StdRng| {
        let factor = varying[rng.random_range(0..varying.len())];
        let value = rng.random_range(0..sizes[factor]);
        let mut batch = sample_factors(rng, sizes, config.batch);
        for f in &mut batch {
            f[factor] = value;
        }
        let codes = encode(&batch);
        let normalised: Vec<Vec<f32>> = codes
            .iter()
            .map(|z| {
                z.iter()
                    .zip(&scales)
                    .map(|(v, s)| (*v as f64 / s) as f32)
                    .collect()
            })
            .collect();
        let within = column_variances(&normalised);
        let least = active_dims
            .iter()
            .copied()
            .min_by(|&a, &b| within[a].total_cmp(&within[b]))
            .expect("at least one active dimension");
        (least, factor)
    };
    let train: Vec<(usize, usize)> = (0..config.train_votes).map(|_| vote(&mut rng)).collect();
    let eval: Vec<(usize, usize)> = (0..config.eval_votes).map(|_| vote(&mut rng)).collect();
    let classifier = majority_classifier(&train, variances.len(), sizes.len());
    FactorVaeScore {
        score: accuracy(&classifier, &eval),
        train_accuracy: accuracy(&classifier, &train),
        active_dims,
    }
}

/// For each dimension, the factor it most often voted for (ties: the lower factor index).
fn majority_classifier(votes: &[(usize, usize)], dims: usize, factors: usize) -> Vec<usize> {
    let mut counts = vec![vec![0usize; factors]; dims];
    for &(dim, factor) in votes {
        counts[dim][factor] += 1;
    }
    counts
        .iter()
        .map(|row| {
            (0..factors)
                .max_by_key(|&k| (row[k], std::cmp::Reverse(k)))
                .unwrap_or(0)
        })
        .collect()
}

fn accuracy(classifier: &[usize], votes: &[(usize, usize)]) -> f64 {
    let right = votes
        .iter()
        .filter(|&&(dim, factor)| classifier[dim] == factor)
        .count();
    right as f64 / votes.len().max(1) as f64
}

/// Population variance of each column of `rows`, in f64.
fn column_variances(rows: &[Vec<f32>]) -> Vec<f64> {
    let dims = rows.first().map_or(0, Vec::len);
    let n = rows.len().max(1) as f64;
    (0..dims)
        .map(|j| {
            let mean = rows.iter().map(|r| r[j] as f64).sum::<f64>() / n;
            rows.iter()
                .map(|r| (r[j] as f64 - mean).powi(2))
                .sum::<f64>()
                / n
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_representations::{perfect, random};
    use super::*;

    const DSPRITES: [usize; 5] = [3, 6, 40, 32, 32];

    #[test]
    fn perfect_representation_scores_one() {
        let config = FactorVaeConfig {
            variance_samples: 2000,
            train_votes: 200,
            eval_votes: 200,
            ..Default::default()
        };
        let score = factorvae_score(&DSPRITES, &mut perfect(5, 3), &config, 1);
        assert_eq!(score.score, 1.0);
        assert_eq!(score.train_accuracy, 1.0);
        // The three constant dimensions are pruned.
        assert_eq!(score.active_dims, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn random_representation_scores_chance_over_the_varying_factors() {
        // Votes carry no information, so each evaluation vote is right with probability 1/5
        // (five varying factors, the fixed one drawn uniformly): expectation 0.2, standard
        // deviation sqrt(0.2 * 0.8 / 1000) = 0.013.
        let config = FactorVaeConfig {
            variance_samples: 2000,
            train_votes: 500,
            eval_votes: 1000,
            ..Default::default()
        };
        let score = factorvae_score(&DSPRITES, &mut random(10, 2), &config, 3);
        assert!((score.score - 0.2).abs() < 0.05, "{}", score.score);
        // A constant factor is never fixed: with one of the five constant, chance is 1/4.
        let sizes = [3, 1, 40, 32, 32];
        let score = factorvae_score(&sizes, &mut random(10, 4), &config, 5);
        assert!((score.score - 0.25).abs() < 0.05, "{}", score.score);
    }

    #[test]
    fn all_dimensions_collapsed_scores_zero() {
        let config = FactorVaeConfig {
            variance_samples: 100,
            train_votes: 10,
            eval_votes: 10,
            ..Default::default()
        };
        let mut constant = |f: &[Vec<usize>]| vec![vec![0.3f32; 4]; f.len()];
        let score = factorvae_score(&DSPRITES, &mut constant, &config, 0);
        assert_eq!(score.score, 0.0);
        assert!(score.active_dims.is_empty());
    }

    #[test]
    fn majority_vote_by_hand() {
        let votes = [(0, 2), (0, 2), (0, 1), (1, 0), (2, 1), (2, 0)];
        // Dim 0 -> factor 2; dim 1 -> 0; dim 2 tie between 0 and 1 -> 0; dim 3 unseen -> 0.
        assert_eq!(majority_classifier(&votes, 4, 3), vec![2, 0, 0, 0]);
        assert!((accuracy(&[2, 0, 0, 0], &votes) - 4.0 / 6.0).abs() < 1e-12);
    }
}

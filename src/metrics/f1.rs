//! F1-max: the best F1 score over all thresholds (anomalous = score >= threshold).

use serde::{Deserialize, Serialize};

use super::pool::PixelPool;
use super::rank::{labelled_runs, rank_labelled};

/// The best F1 score and the threshold reaching it (the lowest such threshold on a tie, as
/// `argmax` over `sklearn.metrics.precision_recall_curve`'s increasing thresholds picks).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct F1Max {
    pub f1: f64,
    pub threshold: f32,
}

/// F1-max of `scores` against `labels` (true = anomalous). `None` without any positive label or
/// when the lengths differ.
pub fn f1_max(scores: &[f32], labels: &[bool]) -> Option<F1Max> {
    f1_from_sorted(&rank_labelled(scores, labels)?)
}

impl PixelPool {
    /// Pixel F1-max.
    pub fn f1_max(&self) -> Option<F1Max> {
        f1_from_sorted(&self.sorted)
    }
}

fn f1_from_sorted(sorted: &[u64]) -> Option<F1Max> {
    let positives: u64 = labelled_runs(sorted).map(|(_, (p, _))| p).sum();
    if positives == 0 {
        return None;
    }
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut best: Option<F1Max> = None;
    for (score, (p, n)) in labelled_runs(sorted) {
        tp += p;
        fp += n;
        // F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (TP + FP + P).
        let f1 = 2.0 * tp as f64 / (tp + fp + positives) as f64;
        // Runs come by descending score, so `>=` keeps the lowest threshold among equals.
        if best.is_none_or(|b| f1 >= b.f1) {
            best = Some(F1Max {
                f1,
                threshold: score,
            });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        // Threshold 0.9: tp 1, fp 0 -> 2/3; 0.5 (tie of pos and neg): tp 2, fp 1 -> 4/5;
        // 0.1: tp 2, fp 2 -> 2/3.
        let m = f1_max(&[0.9, 0.5, 0.5, 0.1], &[true, true, false, false]).unwrap();
        assert!((m.f1 - 0.8).abs() < 1e-12);
        assert_eq!(m.threshold, 0.5);
    }

    #[test]
    fn undefined_without_positives() {
        assert_eq!(f1_max(&[0.1, 0.2], &[false, false]), None);
        assert_eq!(f1_max(&[0.1], &[]), None);
    }

    #[test]
    fn equal_f1_keeps_lowest_threshold() {
        // All positive: every threshold down to the lowest gains recall; perfect at 0.2.
        let m = f1_max(&[0.7, 0.2], &[true, true]).unwrap();
        assert_eq!((m.f1, m.threshold), (1.0, 0.2));
    }
}

//! ROC curve and AUROC with tied scores counting one half (as `sklearn.metrics.roc_auc_score`).

use super::curve::CurvePoint;
use super::pool::PixelPool;
use super::rank::{key_f64, labelled_runs, rank_labelled};

/// Area under the ROC curve from the (positives, negatives) count of each run of tied scores,
/// runs in descending score order: the Mann-Whitney statistic with ties counting one half,
/// accumulated exactly in integers. `None` unless both classes occur.
pub(crate) fn auc_from_runs(runs: impl Iterator<Item = (u64, u64)>) -> Option<f64> {
    let (mut pos, mut neg, mut twice_area) = (0u64, 0u64, 0u128);
    for (p, n) in runs {
        // Each negative in the run is outranked by every earlier positive and ties with the
        // run's positives (half each).
        twice_area += u128::from(n) * u128::from(2 * pos + p);
        pos += p;
        neg += n;
    }
    if pos == 0 || neg == 0 {
        return None;
    }
    Some(twice_area as f64 / (2.0 * pos as f64 * neg as f64))
}

/// AUROC of `scores` against `labels` (true = positive/anomalous); ties count one half. `None` if
/// only one class occurs or the lengths differ. NaN ranks by `f32::total_cmp`; check beforehand.
pub fn auroc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let sorted = rank_labelled(scores, labels)?;
    auc_from_runs(labelled_runs(&sorted).map(|(_, counts)| counts))
}

/// [`auroc`] for `f64` scores (image scores such as a latent distance).
pub fn auroc_f64(scores: &[f64], labels: &[bool]) -> Option<f64> {
    if scores.len() != labels.len() {
        return None;
    }
    let mut sorted: Vec<(u64, bool)> = scores
        .iter()
        .zip(labels)
        .map(|(&s, &l)| (u64::MAX - key_f64(s), l))
        .collect();
    sorted.sort_unstable();
    auc_from_runs(sorted.chunk_by(|a, b| a.0 == b.0).map(|run| {
        let p = run.iter().filter(|e| e.1).count() as u64;
        (p, run.len() as u64 - p)
    }))
}

/// ROC curve points (fpr, tpr, threshold), one per run of tied scores in descending score order,
/// after a first point (0, 0) with no threshold. A point's threshold `t` means "positive when
/// score >= t". Empty if only one class occurs or the lengths differ.
pub fn roc_curve(scores: &[f32], labels: &[bool]) -> Vec<CurvePoint> {
    rank_labelled(scores, labels)
        .map(|sorted| roc_from_sorted(&sorted))
        .unwrap_or_default()
}

impl PixelPool {
    /// Pixel AUROC (anomalous = inside any ground-truth region).
    pub fn auroc(&self) -> Option<f64> {
        auc_from_runs(labelled_runs(&self.sorted).map(|(_, counts)| counts))
    }

    /// Pixel ROC curve, as [`roc_curve`].
    pub fn roc_curve(&self) -> Vec<CurvePoint> {
        roc_from_sorted(&self.sorted)
    }
}

fn roc_from_sorted(sorted: &[u64]) -> Vec<CurvePoint> {
    let runs: Vec<(f32, (u64, u64))> = labelled_runs(sorted).collect();
    let pos: u64 = runs.iter().map(|r| r.1.0).sum();
    let neg: u64 = runs.iter().map(|r| r.1.1).sum();
    if pos == 0 || neg == 0 {
        return Vec::new();
    }
    let mut points = Vec::with_capacity(runs.len() + 1);
    points.push(CurvePoint::start());
    let (mut tp, mut fp) = (0u64, 0u64);
    for (score, (p, n)) in runs {
        tp += p;
        fp += n;
        points.push(CurvePoint {
            fpr: fp as f64 / neg as f64,
            y: tp as f64 / pos as f64,
            threshold: Some(score),
        });
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tie_between_classes_counts_half() {
        assert_eq!(auroc(&[0.5, 0.5], &[true, false]), Some(0.5));
        assert_eq!(auroc_f64(&[0.5, 0.5], &[true, false]), Some(0.5));
    }

    #[test]
    fn hand_computed_with_ties() {
        // Pairs (pos, neg): pos {0.8, 0.4, 0.4}, neg {0.4, 0.1}: 2 + (0.5 + 1) + (0.5 + 1) = 5 / 6.
        let s = [0.8, 0.4, 0.4, 0.4, 0.1];
        let l = [true, true, true, false, false];
        let a = auroc(&s, &l).unwrap();
        assert!((a - 5.0 / 6.0).abs() < 1e-12, "{a}");
        let d: Vec<f64> = s.iter().map(|&x| f64::from(x)).collect();
        assert!((auroc_f64(&d, &l).unwrap() - a).abs() < 1e-15);
        let curve = roc_curve(&s, &l);
        let xy: Vec<(f64, f64)> = curve.iter().map(|p| (p.fpr, p.y)).collect();
        assert_eq!(
            xy,
            vec![(0.0, 0.0), (0.0, 1.0 / 3.0), (0.5, 1.0), (1.0, 1.0)]
        );
        assert_eq!(curve[2].threshold, Some(0.4));
    }

    #[test]
    fn one_class_or_bad_lengths_is_none() {
        assert_eq!(auroc(&[0.1, 0.2], &[true, true]), None);
        assert_eq!(auroc(&[], &[]), None);
        assert_eq!(auroc(&[0.1], &[true, false]), None);
        assert!(roc_curve(&[0.1, 0.2], &[false, false]).is_empty());
    }

    #[test]
    fn perfect_and_inverted_and_signed_zero() {
        assert_eq!(auroc(&[2.0, 1.0], &[true, false]), Some(1.0));
        assert_eq!(auroc(&[1.0, 2.0], &[true, false]), Some(0.0));
        assert_eq!(auroc(&[-0.0, 0.0], &[true, false]), Some(0.5));
        assert_eq!(
            auroc(&[f32::INFINITY, 1e30], &[true, false]),
            Some(1.0),
            "infinite scores rank above finite ones"
        );
    }

    #[test]
    fn large_scores_are_not_squashed() {
        // sigmoid(17) and sigmoid(18) tie in f32; raw ranking keeps them apart.
        assert_eq!(auroc(&[18.0, 17.0], &[true, false]), Some(1.0));
    }
}

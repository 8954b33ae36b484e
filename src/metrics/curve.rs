//! Curve points shared by ROC and PRO, the official trapezoid rule with an x limit, and
//! decimation of long curves for storage and plotting.

use serde::{Deserialize, Serialize};

/// One point of a ROC or PRO curve: x is the false-positive rate, y the true-positive rate (ROC)
/// or the per-region overlap (PRO). `threshold` t means "anomalous when score >= t"; it is
/// `None` for the synthetic end points (0, 0) and (1, 1), which no single score produces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub fpr: f64,
    pub y: f64,
    pub threshold: Option<f32>,
}

impl CurvePoint {
    /// The synthetic start point (0, 0).
    pub(crate) fn start() -> Self {
        Self {
            fpr: 0.0,
            y: 0.0,
            threshold: None,
        }
    }

    /// The synthetic end point (1, 1).
    pub(crate) fn end() -> Self {
        Self {
            fpr: 1.0,
            y: 1.0,
            threshold: None,
        }
    }
}

/// Area under `points` (x non-decreasing) from the first point up to `x_max`, by the trapezoid
/// rule, interpolating linearly at `x_max` when no point lies exactly there: the `trapezoid`
/// function of the official MVTec AD evaluation. `None` if `x_max` lies outside the curve.
pub fn area_up_to(points: &[CurvePoint], x_max: f64) -> Option<f64> {
    // Number of points with x <= x_max (Python's bisect_right).
    let end = points.partition_point(|p| p.fpr <= x_max);
    if end == 0 {
        return None;
    }
    let inside = &points[..end];
    let mut area: f64 = inside
        .windows(2)
        .map(|w| 0.5 * (w[1].y + w[0].y) * (w[1].fpr - w[0].fpr))
        .sum();
    if inside[end - 1].fpr != x_max {
        let (a, b) = (points[end - 1], *points.get(end)?);
        let y_at = a.y + (b.y - a.y) * (x_max - a.fpr) / (b.fpr - a.fpr);
        area += 0.5 * (y_at + a.y) * (x_max - a.fpr);
    }
    Some(area)
}

/// At most `max_points` (at least 2) points of `points`, spaced evenly along the curve's length
/// (|dx| + |dy|), always keeping the first and last. Figures are computed before decimation.
pub fn decimate(points: &[CurvePoint], max_points: usize) -> Vec<CurvePoint> {
    let max_points = max_points.max(2);
    if points.len() <= max_points {
        return points.to_vec();
    }
    let step_len = |a: &CurvePoint, b: &CurvePoint| (b.fpr - a.fpr).abs() + (b.y - a.y).abs();
    let total: f64 = points.windows(2).map(|w| step_len(&w[0], &w[1])).sum();
    let spacing = total / (max_points - 2) as f64;
    let last = points.len() - 1;
    let mut kept = vec![points[0]];
    let mut since_kept = 0.0;
    for i in 1..last {
        since_kept += step_len(&points[i - 1], &points[i]);
        if spacing > 0.0 && since_kept >= spacing && kept.len() < max_points - 1 {
            kept.push(points[i]);
            since_kept = 0.0;
        }
    }
    kept.push(points[last]);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(xy: &[(f64, f64)]) -> Vec<CurvePoint> {
        xy.iter()
            .map(|&(fpr, y)| CurvePoint {
                fpr,
                y,
                threshold: None,
            })
            .collect()
    }

    #[test]
    fn trapezoid_with_and_without_interpolation() {
        let c = pts(&[(0.0, 0.0), (0.5, 1.0), (1.0, 1.0)]);
        assert_eq!(area_up_to(&c, 1.0), Some(0.75));
        assert_eq!(area_up_to(&c, 0.5), Some(0.25));
        // Up to 0.25: triangle with height 0.5.
        assert_eq!(area_up_to(&c, 0.25), Some(0.0625));
        assert_eq!(area_up_to(&c, 1.5), None);
        assert_eq!(area_up_to(&c, -0.1), None);
    }

    #[test]
    fn vertical_steps_add_no_area() {
        let c = pts(&[(0.0, 0.0), (0.0, 0.5), (0.2, 0.5), (0.2, 1.0), (1.0, 1.0)]);
        let a = area_up_to(&c, 0.3).unwrap();
        assert!((a - (0.1 + 0.1)).abs() < 1e-15, "{a}");
    }

    #[test]
    fn decimation_bounds_count_and_keeps_ends() {
        let n = 100_000;
        let c: Vec<CurvePoint> = (0..=n)
            .map(|i| {
                let x = i as f64 / n as f64;
                CurvePoint {
                    fpr: x,
                    y: x.sqrt(),
                    threshold: Some(i as f32),
                }
            })
            .collect();
        let d = decimate(&c, 2000);
        assert!(d.len() <= 2000 && d.len() > 1500, "{}", d.len());
        assert_eq!(d.first(), c.first());
        assert_eq!(d.last(), c.last());
        let exact = area_up_to(&c, 1.0).unwrap();
        let approx = area_up_to(&d, 1.0).unwrap();
        assert!((exact - approx).abs() < 1e-4, "{exact} vs {approx}");
        assert_eq!(decimate(&c[..10], 2000), c[..10].to_vec());
    }
}

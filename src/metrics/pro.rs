//! PRO curve (per-region overlap against false-positive rate) and AU-PRO, as the official MVTec AD
//! evaluation computes them: 8-connected regions per image, one point per run of tied scores.

use super::curve::{CurvePoint, area_up_to};
use super::pool::{PixelImage, PixelPool};
use super::rank::{packed_payload, tie_runs};

/// AU-PRO of `images` up to false-positive rate `limit` (in (0, 1]), normalised by `limit`.
/// `None` if there is no ground-truth region or no normal pixel, the limit is out of range, or
/// the input is invalid (see [`PixelPool::new`] for the errors).
pub fn au_pro(images: &[PixelImage], limit: f64) -> Option<f64> {
    PixelPool::new(images).ok()?.au_pro(limit)
}

/// The PRO curve of `images` (see [`PixelPool::pro_curve`]); empty when undefined or invalid.
pub fn pro_curve(images: &[PixelImage]) -> Vec<CurvePoint> {
    PixelPool::new(images)
        .map(|pool| pool.pro_curve())
        .unwrap_or_default()
}

impl PixelPool {
    /// PRO curve: walking pixels by descending score, each normal pixel adds 1/N_normal to the
    /// FPR and each pixel of region k adds 1/(|k| * N_regions) to the PRO; the last point of each
    /// run of tied scores is kept, values are clipped at 1, and (0, 0) and (1, 1) are added.
    /// Empty if there is no region or no normal pixel.
    pub fn pro_curve(&self) -> Vec<CurvePoint> {
        if self.n_regions == 0 || self.n_normal == 0 {
            return Vec::new();
        }
        let n_regions = self.n_regions as f64;
        let n_normal = self.n_normal as f64;
        // Index by global region number; entry 0 (normal) is unused.
        let gain: Vec<f64> = std::iter::once(0.0)
            .chain(self.region_sizes.iter().map(|&s| 1.0 / f64::from(s)))
            .collect();
        let mut points = vec![CurvePoint::start()];
        let (mut fp, mut overlap) = (0u64, 0.0f64);
        for (score, run) in tie_runs(&self.sorted) {
            for &entry in run {
                match packed_payload(entry) {
                    0 => fp += 1,
                    region => overlap += gain[region as usize],
                }
            }
            points.push(CurvePoint {
                fpr: (fp as f64 / n_normal).min(1.0),
                y: (overlap / n_regions).min(1.0),
                threshold: Some(score),
            });
        }
        points.push(CurvePoint::end());
        points
    }

    /// AU-PRO up to `limit` (see [`au_pro`]).
    pub fn au_pro(&self, limit: f64) -> Option<f64> {
        if !(limit > 0.0 && limit <= 1.0) {
            return None;
        }
        area_up_to(&self.pro_curve(), limit).map(|a| a / limit)
    }
}

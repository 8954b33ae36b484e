//! The evaluation entry point: every figure overall and per defect type from scored test images,
//! with notes saying which figures were skipped and why.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::MetricsError;
use super::curve::{CurvePoint, decimate};
use super::pool::{LabelledImage, PixelPool, check_image};
use super::roc::auroc_f64;

/// The defect name of normal test images.
pub const GOOD: &str = "good";

/// Most points kept per stored curve (figures use the exact curves).
pub const MAX_CURVE_POINTS: usize = 2000;

/// One scored test image.
#[derive(Debug, Clone, Copy)]
pub struct ScoredImage<'a> {
    /// Defect type; [`GOOD`] ("good") for normal test images.
    pub defect: &'a str,
    pub width: u32,
    pub height: u32,
    /// Anomaly map at the image's own resolution, row-major, `width * height` long.
    pub scores: &'a [f32],
    /// Ground truth of the same size (true = anomalous). `None`: all normal for a good image;
    /// no ground truth for a defect image (it then counts for image figures only).
    pub mask: Option<&'a [bool]>,
    /// Image-level score; `None` uses the maximum of `scores`.
    pub image_score: Option<f64>,
}

/// The figures of one scope (overall, or the good images plus one defect type). A figure is
/// `None` when it is undefined there (see the evaluation's notes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub pixel_auroc: Option<f64>,
    pub au_pro: Option<f64>,
    pub image_auroc: Option<f64>,
    pub f1_max: Option<f64>,
    /// Pixel threshold reaching `f1_max` (anomalous when score >= threshold).
    pub f1_threshold: Option<f64>,
    /// Images in the scope.
    pub n_images: usize,
    /// Images whose pixels entered the pixel figures (those with ground truth).
    pub n_pixel_images: usize,
}

/// Overall pixel curves, decimated to at most [`MAX_CURVE_POINTS`] points each.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Curves {
    /// Pixel ROC: (fpr, tpr, threshold).
    pub roc: Vec<CurvePoint>,
    /// PRO: (fpr, pro, threshold), over the whole FPR range (AU-PRO uses it up to `pro_limit`).
    pub pro: Vec<CurvePoint>,
}

/// Result of [`evaluate`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// FPR limit of AU-PRO.
    pub pro_limit: f64,
    pub overall: Figures,
    /// Per defect type, each over the good images plus that type's images.
    pub per_defect: BTreeMap<String, Figures>,
    pub curves: Curves,
    /// Human-readable remarks: skipped or undefined figures and why.
    pub notes: Vec<String>,
}

/// Evaluates scored test images (docs/method.md §5): pixel AUROC, AU-PRO up to `pro_limit` (0.3 in the
/// MVTec AD benchmark), image AUROC, pixel F1-max, overall and per defect type. Pixel figures use
/// the good images plus the defect images that have a mask. Scores are ranked raw.
///
/// Errors (naming the image by index and defect) on a score or mask length that is not
/// `width * height`, an empty image, a NaN pixel or image score, or `pro_limit` outside (0, 1].
pub fn evaluate(images: &[ScoredImage], pro_limit: f64) -> Result<Evaluation, MetricsError> {
    if !(pro_limit > 0.0 && pro_limit <= 1.0) {
        return Err(MetricsError::InvalidLimit(pro_limit));
    }
    let mut image_scores = Vec::with_capacity(images.len());
    for (index, im) in images.iter().enumerate() {
        check_image(index, im.defect, im.width, im.height, im.scores, im.mask)?;
        let score = match im.image_score {
            Some(s) if s.is_nan() => {
                return Err(MetricsError::NanImageScore {
                    index,
                    defect: im.defect.to_owned(),
                });
            }
            Some(s) => s,
            None => f64::from(im.scores.iter().copied().fold(f32::NEG_INFINITY, f32::max)),
        };
        image_scores.push(score);
    }
    let is_good = |im: &ScoredImage| im.defect == GOOD;
    let labels: Vec<bool> = images.iter().map(|im| !is_good(im)).collect();

    // Ground truth split into regions once; `None` for defect images without a mask.
    let labelled: Vec<Option<LabelledImage>> = images
        .iter()
        .map(|im| {
            (is_good(im) || im.mask.is_some())
                .then(|| LabelledImage::new(im.width, im.height, im.scores, im.mask))
        })
        .collect();
    let mut offsets = Vec::with_capacity(images.len());
    let mut sizes = Vec::new();
    for l in &labelled {
        offsets.push(sizes.len() as u32);
        if let Some(l) = l {
            sizes.extend_from_slice(&l.sizes);
        }
    }
    let region_sizes: Arc<[u32]> = sizes.into();

    // Each group (good, then each defect type) is sorted once; scopes merge sorted groups.
    let group_pool = |members: &[usize]| -> Result<Option<PixelPool>, MetricsError> {
        let with_truth: Vec<(&LabelledImage, u32)> = members
            .iter()
            .filter_map(|&i| labelled[i].as_ref().map(|l| (l, offsets[i])))
            .collect();
        if with_truth.is_empty() {
            return Ok(None);
        }
        let n_regions = with_truth.iter().map(|(l, _)| l.sizes.len()).sum();
        PixelPool::sorted_group(
            with_truth.iter().copied(),
            Arc::clone(&region_sizes),
            n_regions,
        )
        .map(Some)
    };

    let good: Vec<usize> = (0..images.len()).filter(|&i| !labels[i]).collect();
    let mut defects: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, im) in images.iter().enumerate().filter(|(i, _)| labels[*i]) {
        defects.entry(im.defect).or_default().push(i);
    }

    let mut notes = Vec::new();
    if good.is_empty() {
        notes.push("no good test images: image AUROC is undefined".to_owned());
    }
    if defects.is_empty() {
        notes.push("no defect test images: AUROC, AU-PRO and F1 are undefined".to_owned());
    }

    let good_pool = group_pool(&good)?;
    let mut per_defect = BTreeMap::new();
    let mut defect_pools = Vec::new();
    for (&defect, members) in &defects {
        let scope: Vec<usize> = good.iter().chain(members).copied().collect();
        let mut figures = image_figures(&scope, &image_scores, &labels);
        let n_masked = members.iter().filter(|&&i| labelled[i].is_some()).count();
        let missing = members.len() - n_masked;
        match group_pool(members)? {
            None => notes.push(format!(
                "pixel figures for defect '{defect}' skipped: its {missing} images have no \
                 ground-truth mask"
            )),
            Some(pool) => {
                if missing > 0 {
                    notes.push(format!(
                        "pixel figures for defect '{defect}' use {n_masked} of its {} images: \
                         {missing} have no ground-truth mask",
                        members.len()
                    ));
                }
                let scope_pool = match &good_pool {
                    Some(g) => PixelPool::merged(g, &pool)?,
                    None => pool.clone(),
                };
                pixel_figures(
                    &mut figures,
                    &scope_pool,
                    pro_limit,
                    Some(defect),
                    &mut notes,
                );
                figures.n_pixel_images = good.len() + n_masked;
                defect_pools.push(pool);
            }
        }
        per_defect.insert(defect.to_owned(), figures);
    }

    // Overall: merge the sorted groups pairwise.
    let all: Vec<usize> = (0..images.len()).collect();
    let mut overall = image_figures(&all, &image_scores, &labels);
    let missing: usize = defects
        .values()
        .flatten()
        .filter(|&&i| labelled[i].is_none())
        .count();
    let mut curves = Curves::default();
    if defect_pools.is_empty() {
        if !defects.is_empty() {
            notes.push(
                "overall pixel figures skipped: no defect image has a ground-truth mask".into(),
            );
        }
    } else {
        if missing > 0 {
            notes.push(format!(
                "overall pixel figures leave out {missing} defect images without a ground-truth mask"
            ));
        }
        let mut parts: Vec<PixelPool> = good_pool.into_iter().chain(defect_pools).collect();
        while parts.len() > 1 {
            let mut next = Vec::with_capacity(parts.len().div_ceil(2));
            let mut it = parts.into_iter();
            while let Some(a) = it.next() {
                match it.next() {
                    Some(b) => next.push(PixelPool::merged(&a, &b)?),
                    None => next.push(a),
                }
            }
            parts = next;
        }
        if let Some(pool) = parts.pop() {
            pixel_figures(&mut overall, &pool, pro_limit, None, &mut notes);
            overall.n_pixel_images = images.len() - missing;
            curves.roc = decimate(&pool.roc_curve(), MAX_CURVE_POINTS);
            curves.pro = decimate(&pool.pro_curve(), MAX_CURVE_POINTS);
        }
    }

    Ok(Evaluation {
        pro_limit,
        overall,
        per_defect,
        curves,
        notes,
    })
}

/// Image AUROC and image count of a scope.
fn image_figures(scope: &[usize], image_scores: &[f64], labels: &[bool]) -> Figures {
    let scores: Vec<f64> = scope.iter().map(|&i| image_scores[i]).collect();
    let labels: Vec<bool> = scope.iter().map(|&i| labels[i]).collect();
    Figures {
        image_auroc: auroc_f64(&scores, &labels),
        n_images: scope.len(),
        ..Figures::default()
    }
}

/// Fills the pixel figures of `figures` from `pool`, noting why any is undefined; `defect` names
/// the scope (`None`: overall).
fn pixel_figures(
    figures: &mut Figures,
    pool: &PixelPool,
    pro_limit: f64,
    defect: Option<&str>,
    notes: &mut Vec<String>,
) {
    figures.pixel_auroc = pool.auroc();
    figures.au_pro = pool.au_pro(pro_limit);
    if let Some(best) = pool.f1_max() {
        figures.f1_max = Some(best.f1);
        figures.f1_threshold = Some(f64::from(best.threshold));
    }
    if pool.n_anomalous() == 0 {
        notes.push(format!(
            "pixel figures for {} undefined: the ground-truth masks mark no anomalous pixel",
            scope_name(defect)
        ));
    } else if pool.n_normal() == 0 {
        notes.push(format!(
            "pixel AUROC and AU-PRO for {} undefined: no normal pixel",
            scope_name(defect)
        ));
    }
}

fn scope_name(defect: Option<&str>) -> String {
    match defect {
        None => "the whole test set".to_owned(),
        Some(d) => format!("defect '{d}'"),
    }
}

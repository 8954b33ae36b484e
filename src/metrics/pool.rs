//! The pooled pixel ranking behind the pixel figures: every pixel of every image, tagged with its
//! 8-connected ground-truth region, sorted once by descending score.

use std::sync::Arc;

use image::{GrayImage, Luma};
use imageproc::region_labelling::{Connectivity, connected_components};

use super::MetricsError;
use super::rank::{pack_desc, packed_payload};

/// One image's anomaly map and ground truth, row-major, `width * height` long.
#[derive(Debug, Clone, Copy)]
pub struct PixelImage<'a> {
    pub width: u32,
    pub height: u32,
    pub scores: &'a [f32],
    /// Ground truth (true = anomalous); `None` means all pixels are normal.
    pub mask: Option<&'a [bool]>,
}

/// An image whose ground truth has been split into 8-connected regions.
#[derive(Debug, Clone)]
pub(crate) struct LabelledImage<'a> {
    pub scores: &'a [f32],
    /// Per pixel: 0 for normal, else the region number 1..=sizes.len(); empty if all normal.
    pub labels: Vec<u32>,
    /// Pixel count of each region.
    pub sizes: Vec<u32>,
}

impl<'a> LabelledImage<'a> {
    /// Labels `mask` into 8-connected regions (what the official evaluation gets from
    /// `scipy.ndimage.label` with a 3x3 structure of ones). Lengths must have been checked.
    pub(crate) fn new(width: u32, height: u32, scores: &'a [f32], mask: Option<&[bool]>) -> Self {
        let Some(mask) = mask.filter(|m| m.iter().any(|&p| p)) else {
            return Self {
                scores,
                labels: Vec::new(),
                sizes: Vec::new(),
            };
        };
        let pixels = mask.iter().map(|&p| if p { 255 } else { 0 }).collect();
        let gray = GrayImage::from_raw(width, height, pixels).expect("mask length checked");
        let labels = connected_components(&gray, Connectivity::Eight, Luma([0u8])).into_raw();
        let n_regions = labels.iter().copied().max().unwrap_or(0) as usize;
        let mut sizes = vec![0u32; n_regions];
        for &label in labels.iter().filter(|&&l| l > 0) {
            sizes[label as usize - 1] += 1;
        }
        Self {
            scores,
            labels,
            sizes,
        }
    }
}

/// Checks one image's sizes and scores; `index` and `defect` only serve the error message.
pub(crate) fn check_image(
    index: usize,
    defect: &str,
    width: u32,
    height: u32,
    scores: &[f32],
    mask: Option<&[bool]>,
) -> Result<(), MetricsError> {
    let expected = width as usize * height as usize;
    if scores.len() != expected {
        return Err(MetricsError::ScoreLength {
            index,
            defect: defect.to_owned(),
            width,
            height,
            found: scores.len(),
            expected,
        });
    }
    if let Some(mask) = mask
        && mask.len() != expected
    {
        return Err(MetricsError::MaskLength {
            index,
            defect: defect.to_owned(),
            found: mask.len(),
            expected,
        });
    }
    if expected as u64 >= u64::from(u32::MAX) {
        return Err(MetricsError::TooManyPixels(expected as u64));
    }
    if expected == 0 {
        return Err(MetricsError::EmptyImage {
            index,
            defect: defect.to_owned(),
        });
    }
    if let Some(at) = scores.iter().position(|s| s.is_nan()) {
        return Err(MetricsError::NanScore {
            index,
            defect: defect.to_owned(),
            x: (at % width as usize) as u32,
            y: (at / width as usize) as u32,
        });
    }
    Ok(())
}

/// All pixels of a set of images, sorted by descending score, each tagged with its global
/// ground-truth region (0 = normal pixel). Build it once, then read every pixel figure from it.
#[derive(Debug, Clone)]
pub struct PixelPool {
    /// `pack_desc(score, region)`, ascending = descending score.
    pub(crate) sorted: Vec<u64>,
    /// Pixel count of global region r at index r - 1 (may list regions of images not pooled).
    pub(crate) region_sizes: Arc<[u32]>,
    /// Number of regions among the pooled pixels.
    pub(crate) n_regions: usize,
    pub(crate) n_normal: u64,
}

impl PixelPool {
    /// Pools and ranks `images`. Errors on size mismatches, empty images and NaN scores.
    pub fn new(images: &[PixelImage]) -> Result<Self, MetricsError> {
        for (index, im) in images.iter().enumerate() {
            check_image(index, "", im.width, im.height, im.scores, im.mask)?;
        }
        let labelled: Vec<LabelledImage> = images
            .iter()
            .map(|im| LabelledImage::new(im.width, im.height, im.scores, im.mask))
            .collect();
        Self::from_labelled(labelled.iter())
    }

    /// Pools images already checked and labelled, numbering their regions in order.
    pub(crate) fn from_labelled<'a, 'b: 'a>(
        images: impl Iterator<Item = &'a LabelledImage<'b>> + Clone,
    ) -> Result<Self, MetricsError> {
        let mut offsets = Vec::new();
        let mut region_sizes = Vec::new();
        for im in images.clone() {
            offsets.push(region_sizes.len() as u32);
            region_sizes.extend_from_slice(&im.sizes);
        }
        let region_sizes: Arc<[u32]> = region_sizes.into();
        let n_regions = region_sizes.len();
        Self::sorted_group(images.zip(offsets), region_sizes, n_regions)
    }

    /// Pools `images`, each with the global number of its first region minus one; `n_regions`
    /// is the number of regions among them.
    pub(crate) fn sorted_group<'a, 'b: 'a>(
        images: impl Iterator<Item = (&'a LabelledImage<'b>, u32)> + Clone,
        region_sizes: Arc<[u32]>,
        n_regions: usize,
    ) -> Result<Self, MetricsError> {
        let total: u64 = images.clone().map(|(im, _)| im.scores.len() as u64).sum();
        if total >= u64::from(u32::MAX) {
            return Err(MetricsError::TooManyPixels(total));
        }
        let mut sorted = Vec::with_capacity(total as usize);
        for (im, offset) in images {
            if im.labels.is_empty() {
                sorted.extend(im.scores.iter().map(|&s| pack_desc(s, 0)));
            } else {
                sorted.extend(im.scores.iter().zip(&im.labels).map(|(&s, &l)| {
                    let region = if l == 0 { 0 } else { l + offset };
                    pack_desc(s, region)
                }));
            }
        }
        sorted.sort_unstable();
        let n_normal = sorted.iter().filter(|&&p| packed_payload(p) == 0).count() as u64;
        Ok(Self {
            sorted,
            region_sizes,
            n_regions,
            n_normal,
        })
    }

    /// The pool of both pools' pixels (which must share one region numbering), by a linear merge.
    pub(crate) fn merged(a: &Self, b: &Self) -> Result<Self, MetricsError> {
        let total = a.n_pixels() + b.n_pixels();
        if total >= u64::from(u32::MAX) {
            return Err(MetricsError::TooManyPixels(total));
        }
        let (x, y) = (&a.sorted, &b.sorted);
        let mut sorted = Vec::with_capacity(x.len() + y.len());
        let (mut i, mut j) = (0, 0);
        while i < x.len() && j < y.len() {
            if x[i] <= y[j] {
                sorted.push(x[i]);
                i += 1;
            } else {
                sorted.push(y[j]);
                j += 1;
            }
        }
        sorted.extend_from_slice(&x[i..]);
        sorted.extend_from_slice(&y[j..]);
        Ok(Self {
            sorted,
            region_sizes: Arc::clone(&a.region_sizes),
            n_regions: a.n_regions + b.n_regions,
            n_normal: a.n_normal + b.n_normal,
        })
    }

    /// Number of pooled pixels.
    pub fn n_pixels(&self) -> u64 {
        self.sorted.len() as u64
    }

    /// Number of normal (ground truth 0) pixels.
    pub fn n_normal(&self) -> u64 {
        self.n_normal
    }

    /// Number of anomalous (ground truth 1) pixels.
    pub fn n_anomalous(&self) -> u64 {
        self.n_pixels() - self.n_normal
    }

    /// Number of 8-connected ground-truth regions over all images.
    pub fn n_regions(&self) -> usize {
        self.n_regions
    }
}

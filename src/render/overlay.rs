//! Overlays on a base image: the heat map, the predicted mask's outline and the ground-truth
//! contour.

use image::{GrayImage, Rgba, RgbaImage};
use serde::{Deserialize, Serialize};

use super::colormap::{Colormap, Scale};
use super::contour::{mask_from_threshold, thick_contour};
use crate::map::{FloatMap, resize_bilinear};

/// How [`anomaly_overlay`] draws.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OverlayOptions {
    pub cmap: Colormap,
    /// Heat-map opacity in [0, 1]; 0 shows only the base image.
    pub opacity: f32,
    /// Score range of the colormap; `None`: min-max of this map.
    pub scale: Option<Scale>,
    /// Raw-score threshold of the predicted mask (anomalous when score >= threshold); `None`:
    /// no predicted mask.
    pub threshold: Option<f32>,
    /// Outline colour of the predicted mask.
    pub prediction_colour: [u8; 3],
    /// Contour colour of the ground truth.
    pub truth_colour: [u8; 3],
    /// Outline thickness in pixels of the base image.
    pub line_width: u32,
}

impl Default for OverlayOptions {
    fn default() -> Self {
        Self {
            cmap: Colormap::Turbo,
            opacity: 0.5,
            scale: None,
            threshold: None,
            prediction_colour: [255, 255, 255],
            // Magenta appears in none of the colormaps.
            truth_colour: [255, 0, 255],
            line_width: 2,
        }
    }
}

/// `base` with `map` (resized to the base's size if needed) drawn over it in `cmap` colours at
/// `opacity`; the base's alpha is kept.
pub fn heat_overlay(
    base: &RgbaImage,
    map: &FloatMap,
    cmap: Colormap,
    scale: Scale,
    opacity: f32,
) -> RgbaImage {
    let map = fit_to(map, base);
    let lut = cmap.lut();
    let alpha = if opacity.is_nan() {
        0.0
    } else {
        opacity.clamp(0.0, 1.0)
    };
    let mut out = base.clone();
    for (pixel, &v) in out.pixels_mut().zip(map.as_raw()) {
        let colour = lut[(scale.normalize(v) * 255.0).round() as usize];
        blend(pixel, colour, alpha);
    }
    out
}

/// The full anomaly view: heat map, predicted-mask outline (when `opts.threshold` is set) and
/// ground-truth contour (when given; resized to the base with nearest neighbour if needed).
pub fn anomaly_overlay(
    base: &RgbaImage,
    map: &FloatMap,
    opts: &OverlayOptions,
    ground_truth: Option<&GrayImage>,
) -> RgbaImage {
    let map = fit_to(map, base);
    let scale = opts.scale.unwrap_or_else(|| Scale::of(&map));
    let mut out = heat_overlay(base, &map, opts.cmap, scale, opts.opacity);
    if let Some(threshold) = opts.threshold {
        let (mask, _) = mask_from_threshold(&map, threshold);
        paint(
            &mut out,
            &thick_contour(&mask, opts.line_width),
            opts.prediction_colour,
        );
    }
    if let Some(truth) = ground_truth {
        let truth = if truth.dimensions() == base.dimensions() {
            truth.clone()
        } else {
            image::imageops::resize(
                truth,
                base.width(),
                base.height(),
                image::imageops::FilterType::Nearest,
            )
        };
        paint(
            &mut out,
            &thick_contour(&truth, opts.line_width),
            opts.truth_colour,
        );
    }
    out
}

/// `map` at the size of `base` (PyTorch bilinear), borrowed when it already fits.
fn fit_to<'a>(map: &'a FloatMap, base: &RgbaImage) -> std::borrow::Cow<'a, FloatMap> {
    if map.dimensions() == base.dimensions() {
        std::borrow::Cow::Borrowed(map)
    } else {
        std::borrow::Cow::Owned(resize_bilinear(map, base.width(), base.height()))
    }
}

fn blend(pixel: &mut Rgba<u8>, colour: [u8; 3], alpha: f32) {
    for (c, &over) in pixel.0.iter_mut().zip(&colour) {
        *c = (f32::from(*c) * (1.0 - alpha) + f32::from(over) * alpha).round() as u8;
    }
}

/// Sets the pixels of `img` where `lines` is non-zero to `colour` (opaque).
fn paint(img: &mut RgbaImage, lines: &GrayImage, colour: [u8; 3]) {
    for (pixel, &on) in img.pixels_mut().zip(lines.as_raw()) {
        if on != 0 {
            *pixel = Rgba([colour[0], colour[1], colour[2], 255]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opacity_blends_and_zero_opacity_keeps_base() {
        let base = RgbaImage::from_pixel(2, 2, Rgba([100, 100, 100, 200]));
        let map = FloatMap::from_raw(2, 2, vec![0.0, 1.0, 1.0, 1.0]).unwrap();
        let scale = Scale { lo: 0.0, hi: 1.0 };
        assert_eq!(heat_overlay(&base, &map, Colormap::Gray, scale, 0.0), base);
        let full = heat_overlay(&base, &map, Colormap::Gray, scale, 1.0);
        assert_eq!(full.get_pixel(0, 0), &Rgba([0, 0, 0, 200]));
        assert_eq!(full.get_pixel(1, 0), &Rgba([255, 255, 255, 200]));
        let half = heat_overlay(&base, &map, Colormap::Gray, scale, 0.5);
        assert_eq!(half.get_pixel(1, 1), &Rgba([178, 178, 178, 200]));
    }

    #[test]
    fn small_map_is_resized_to_base() {
        let base = RgbaImage::new(8, 6);
        let map = FloatMap::from_raw(2, 2, vec![0.0, 1.0, 2.0, 3.0]).unwrap();
        let out = heat_overlay(&base, &map, Colormap::Turbo, Scale::of(&map), 1.0);
        assert_eq!(out.dimensions(), (8, 6));
    }

    #[test]
    fn outlines_use_their_colours() {
        let base = RgbaImage::from_pixel(10, 10, Rgba([0, 0, 0, 255]));
        let map = FloatMap::from_fn(10, 10, |x, _| Luma([x as f32]));
        let truth = GrayImage::from_fn(10, 10, |x, y| {
            image::Luma([if (1..4).contains(&x) && (1..4).contains(&y) {
                255
            } else {
                0
            }])
        });
        let opts = OverlayOptions {
            threshold: Some(7.0),
            line_width: 1,
            ..OverlayOptions::default()
        };
        let out = anomaly_overlay(&base, &map, &opts, Some(&truth));
        assert_eq!(out.get_pixel(7, 5), &Rgba([255, 255, 255, 255]));
        assert_eq!(out.get_pixel(1, 1), &Rgba([255, 0, 255, 255]));
        assert_ne!(out.get_pixel(2, 2), &Rgba([255, 0, 255, 255]));
    }

    use image::Luma;
}

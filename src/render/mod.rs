//! Rendering on pixel buffers, shared by exported PNGs and the GUI's textures: colormaps,
//! heat-map overlays, masks and contours, image grids, crash-safe PNG writing, and numbers
//! formatted for people.

mod colormap;
mod contour;
mod grid;
mod number;
mod overlay;

use std::io;
use std::path::Path;

use image::{DynamicImage, ImageFormat, RgbaImage};

pub use crate::map::{FloatMap, load_float_tiff, save_float_tiff_atomic};
pub use colormap::{Colormap, Scale};
pub use contour::{contour, contour_points, mask_from_threshold, thick_contour};
pub use grid::grid;
pub use number::{human, human32};
pub use overlay::{OverlayOptions, anomaly_overlay, heat_overlay};

/// Any decoded image (gray, RGB, 16-bit, ...) as 8-bit RGBA, the base of overlays.
pub fn to_rgba(img: &DynamicImage) -> RgbaImage {
    img.to_rgba8()
}

/// Writes `img` as PNG to `path` atomically (temporary file in the same folder, then rename).
pub fn save_png_atomic(img: &RgbaImage, path: &Path) -> io::Result<()> {
    crate::fsx::write_atomic(path, |w| {
        img.write_to(w, ImageFormat::Png).map_err(io::Error::other)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip_and_gray_to_rgba() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.png");
        let gray =
            DynamicImage::ImageLuma8(image::GrayImage::from_raw(2, 1, vec![10, 200]).unwrap());
        let rgba = to_rgba(&gray);
        assert_eq!(rgba.get_pixel(1, 0).0, [200, 200, 200, 255]);
        save_png_atomic(&rgba, &path).unwrap();
        assert_eq!(image::open(&path).unwrap().to_rgba8(), rgba);
    }
}

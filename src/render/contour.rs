//! Masks from thresholds and their contours (the mask pixels that touch the outside).

use image::{GrayImage, Luma};

use crate::map::FloatMap;

/// The predicted mask of `map` at `threshold` (255 where score >= threshold, else 0; NaN is 0)
/// and its number of mask pixels.
pub fn mask_from_threshold(map: &FloatMap, threshold: f32) -> (GrayImage, usize) {
    let pixels: Vec<u8> = map
        .as_raw()
        .iter()
        .map(|&v| if v >= threshold { 255 } else { 0 })
        .collect();
    let count = pixels.iter().filter(|&&p| p != 0).count();
    let mask = GrayImage::from_raw(map.width(), map.height(), pixels)
        .unwrap_or_else(|| GrayImage::new(map.width(), map.height()));
    (mask, count)
}

/// The contour of `mask` (non-zero = inside): 255 on mask pixels with a non-mask pixel among
/// their 8 neighbours, 0 elsewhere. Outside the image counts as non-mask, so a mask touching the
/// border is closed along it.
pub fn contour(mask: &GrayImage) -> GrayImage {
    let (w, h) = mask.dimensions();
    let inside = |x: i64, y: i64| {
        x >= 0
            && y >= 0
            && x < i64::from(w)
            && y < i64::from(h)
            && mask.get_pixel(x as u32, y as u32)[0] != 0
    };
    GrayImage::from_fn(w, h, |x, y| {
        let (x, y) = (i64::from(x), i64::from(y));
        let edge = inside(x, y) && (-1..=1).any(|dy| (-1..=1).any(|dx| !inside(x + dx, y + dy)));
        Luma([if edge { 255 } else { 0 }])
    })
}

/// The contour of `mask`, `width` pixels thick (grown inwards, so it stays inside the mask):
/// mask pixels within Chebyshev distance `width - 1` of a contour pixel. Width 0 or 1 gives
/// [`contour`].
pub fn thick_contour(mask: &GrayImage, width: u32) -> GrayImage {
    let edge = contour(mask);
    if width <= 1 {
        return edge;
    }
    let grown = dilate_square(&edge, width - 1);
    GrayImage::from_fn(mask.width(), mask.height(), |x, y| {
        let on = grown.get_pixel(x, y)[0] != 0 && mask.get_pixel(x, y)[0] != 0;
        Luma([if on { 255 } else { 0 }])
    })
}

/// Coordinates of the contour pixels of `mask`, row by row.
pub fn contour_points(mask: &GrayImage) -> Vec<(u32, u32)> {
    contour(mask)
        .enumerate_pixels()
        .filter(|(_, _, p)| p[0] != 0)
        .map(|(x, y, _)| (x, y))
        .collect()
}

/// Maximum filter over a (2r+1)^2 square, separably.
fn dilate_square(img: &GrayImage, r: u32) -> GrayImage {
    let (w, h) = img.dimensions();
    let r = i64::from(r);
    let max_along = |get: &dyn Fn(i64) -> u8, len: i64, i: i64| {
        ((i - r).max(0)..=(i + r).min(len - 1))
            .map(get)
            .max()
            .unwrap_or(0)
    };
    let rows = GrayImage::from_fn(w, h, |x, y| {
        Luma([max_along(
            &|xx| img.get_pixel(xx as u32, y)[0],
            i64::from(w),
            i64::from(x),
        )])
    });
    GrayImage::from_fn(w, h, |x, y| {
        Luma([max_along(
            &|yy| rows.get_pixel(x, yy as u32)[0],
            i64::from(h),
            i64::from(y),
        )])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(size: u32, from: u32, to: u32) -> GrayImage {
        GrayImage::from_fn(size, size, |x, y| {
            let inside = (from..to).contains(&x) && (from..to).contains(&y);
            Luma([if inside { 255 } else { 0 }])
        })
    }

    #[test]
    fn threshold_changes_mask_pixel_count() {
        let map = FloatMap::from_raw(3, 1, vec![0.1, 0.5, 0.9]).unwrap();
        assert_eq!(mask_from_threshold(&map, 0.0).1, 3);
        assert_eq!(mask_from_threshold(&map, 0.5).1, 2);
        let (mask, n) = mask_from_threshold(&map, 0.6);
        assert_eq!(n, 1);
        assert_eq!(mask.as_raw(), &vec![0, 0, 255]);
        assert_eq!(mask_from_threshold(&map, 1.0).1, 0);
    }

    #[test]
    fn contour_of_filled_square_is_its_border() {
        let mask = square(10, 2, 7); // 5x5 square at (2..7, 2..7)
        let points = contour_points(&mask);
        assert_eq!(points.len(), 16);
        for (x, y) in points {
            assert!(x == 2 || x == 6 || y == 2 || y == 6, "({x}, {y})");
        }
    }

    #[test]
    fn contour_closes_along_image_border_and_thickens_inwards() {
        let full = square(4, 0, 4);
        assert_eq!(contour_points(&full).len(), 12);
        let mask = square(12, 2, 10); // 8x8
        let thick = thick_contour(&mask, 2);
        let n = thick.as_raw().iter().filter(|&&p| p != 0).count();
        assert_eq!(n, 8 * 8 - 4 * 4);
        assert_eq!(thick_contour(&mask, 1), contour(&mask));
    }

    #[test]
    fn single_pixel_and_empty_masks() {
        assert_eq!(contour_points(&square(5, 2, 3)), vec![(2, 2)]);
        assert!(contour_points(&GrayImage::new(5, 5)).is_empty());
        assert!(contour_points(&GrayImage::new(0, 0)).is_empty());
    }
}

//! Rasterising one sprite: a pixel is on when its centre lies inside the rotated, scaled shape.

use super::{Factors, Shape};

/// Images are 64 x 64.
pub const IMAGE_SIDE: usize = 64;
/// Sprite centres run from this pixel coordinate to `IMAGE_SIDE - CENTRE_MARGIN` (a 32 x 32 grid
/// over most of the image, as in the original, where the largest sprites reach the border).
const CENTRE_MARGIN: f32 = 11.0;
/// Half the side of a square at scale 1: 20 px wide, about a third of the image.
const HALF_EXTENT: f32 = 10.0;

/// Renders one image as `IMAGE_SIDE^2` values in {0, 1}, row-major (y down).
pub fn render(factors: Factors) -> Vec<f32> {
    let mut out = vec![0.0; IMAGE_SIDE * IMAGE_SIDE];
    render_into(factors, &mut out);
    out
}

/// Renders into `out` (`IMAGE_SIDE^2` values, overwritten).
pub fn render_into(factors: Factors, out: &mut [f32]) {
    out.fill(0.0);
    let (px, py) = factors.position();
    let span = IMAGE_SIDE as f32 - 2.0 * CENTRE_MARGIN;
    let (cx, cy) = (CENTRE_MARGIN + px * span, CENTRE_MARGIN + py * span);
    let r = HALF_EXTENT * factors.scale();
    let (sin, cos) = factors.orientation().sin_cos();
    let shape = factors.shape();
    // Every shape lies within 1.5 r of its centre (the square's corner at 45 degrees: 1.42 r).
    let reach = 1.5 * r;
    let range = |c: f32| {
        let lo = (c - reach).floor().max(0.0) as usize;
        let hi = ((c + reach).ceil() as usize).min(IMAGE_SIDE);
        lo..hi
    };
    for y in range(cy) {
        for x in range(cx) {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            // Into the sprite's own frame: rotate by -orientation, measure in units of r.
            let u = (cos * dx + sin * dy) / r;
            let v = (-sin * dx + cos * dy) / r;
            if inside(shape, u, v) {
                out[y * IMAGE_SIDE + x] = 1.0;
            }
        }
    }
}

/// Whether (u, v), in units of the half extent, lies inside the unrotated shape.
fn inside(shape: Shape, u: f32, v: f32) -> bool {
    match shape {
        Shape::Square => u.abs() <= 1.0 && v.abs() <= 1.0,
        // Twice as long as wide.
        Shape::Ellipse => u * u + 4.0 * v * v <= 1.0,
        // (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0 spans x in [-1.14, 1.14], y in [-1, 1.25]: scaled to
        // about the square's extent, centred, point up (y grows downwards in the image).
        Shape::Heart => {
            let (x, y) = (u * 1.15, -v * 1.15 + 0.12);
            let q = x * x + y * y - 1.0;
            q * q * q - x * x * y * y * y <= 0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FACTOR_SIZES, IMAGE_COUNT};
    use super::*;

    fn at(image: &[f32], x: usize, y: usize) -> f32 {
        image[y * IMAGE_SIDE + x]
    }

    #[test]
    fn largest_square_in_the_corner_by_hand() {
        // Centre (11, 11), half side 10: pixel centres 1.5 ..= 20.5 are inside, so pixels 1..=20.
        let image = render(Factors([0, 5, 0, 0, 0]));
        assert_eq!(image.iter().sum::<f32>(), 400.0);
        assert_eq!(at(&image, 1, 1), 1.0);
        assert_eq!(at(&image, 20, 20), 1.0);
        assert_eq!(at(&image, 0, 5), 0.0);
        assert_eq!(at(&image, 21, 5), 0.0);
        assert_eq!(at(&image, 5, 21), 0.0);
    }

    #[test]
    fn smallest_ellipse_at_the_far_corner_by_hand() {
        // Centre (53, 53), semi-axes 5 along x and 2.5 along y.
        let image = render(Factors([1, 0, 0, 31, 31]));
        assert_eq!(at(&image, 53, 53), 1.0);
        // u = 4.5: 0.81 + 4 * 0.01 <= 1.
        assert_eq!(at(&image, 57, 53), 1.0);
        // u = 5.5: outside.
        assert_eq!(at(&image, 58, 53), 0.0);
        // v = 1.5: 0.01 + 4 * 0.09 <= 1; v = 2.5: 0.01 + 1 > 1.
        assert_eq!(at(&image, 53, 54), 1.0);
        assert_eq!(at(&image, 53, 55), 0.0);
        // Area about pi * 5 * 2.5 = 39.3.
        let area = image.iter().sum::<f32>();
        assert!((34.0..=45.0).contains(&area), "{area}");
    }

    #[test]
    fn square_at_90_degrees_equals_square_at_0() {
        for scale in 0..FACTOR_SIZES[1] {
            for (x, y) in [(0, 0), (7, 19), (31, 31), (16, 3)] {
                let upright = render(Factors([0, scale, 0, x, y]));
                // Orientation index 10 is 10 * 9 = 90 degrees; 20 is 180 degrees.
                assert_eq!(render(Factors([0, scale, 10, x, y])), upright);
                assert_eq!(render(Factors([0, scale, 20, x, y])), upright);
            }
        }
        // An ellipse is not symmetric under a quarter turn, but is under a half turn.
        let ellipse = render(Factors([1, 3, 0, 16, 16]));
        assert_ne!(render(Factors([1, 3, 10, 16, 16])), ellipse);
        assert_eq!(render(Factors([1, 3, 20, 16, 16])), ellipse);
    }

    #[test]
    fn every_image_is_binary_and_nonempty_and_shapes_differ() {
        // A stride through the whole grid: every factor value occurs.
        for index in (0..IMAGE_COUNT).step_by(997) {
            let image = render(Factors::from_index(index));
            assert!(image.iter().all(|&v| v == 0.0 || v == 1.0));
            assert!(
                image.iter().sum::<f32>() >= 20.0,
                "image {index} nearly empty"
            );
        }
        let areas: Vec<f32> = (0..3)
            .map(|s| render(Factors([s, 5, 0, 16, 16])).iter().sum())
            .collect();
        // Square 400; ellipse pi * 10 * 5 = 157; heart in between.
        assert_eq!(areas[0], 400.0);
        assert!((140.0..175.0).contains(&areas[1]), "{areas:?}");
        assert!(areas[2] > areas[1] && areas[2] < areas[0], "{areas:?}");
    }

    #[test]
    fn moving_x_moves_the_sprite_right() {
        let columns = |image: &[f32]| -> f32 {
            let mass: f32 = image.iter().sum();
            (0..IMAGE_SIDE * IMAGE_SIDE)
                .map(|p| image[p] * (p % IMAGE_SIDE) as f32)
                .sum::<f32>()
                / mass
        };
        let left = columns(&render(Factors([2, 2, 0, 0, 16])));
        let right = columns(&render(Factors([2, 2, 0, 31, 16])));
        assert!((right - left - 42.0).abs() < 0.5, "{left} {right}");
    }
}

//! dSprites (Matthey et al. 2017), generated: 737,280 binary 64 x 64 images of a square, an
//! ellipse or a heart over the full grid of five factors, rendered on demand from factor indices
//! (docs/method.md §4). Nothing is held in memory but the batch being rendered.

mod gallery;
mod render;
mod stream;

pub use gallery::{
    GALLERY_NAME, GALLERY_ROOT, gallery, gallery_path, is_gallery_path, parse_gallery_path,
    render_image,
};
pub use render::{IMAGE_SIDE, render, render_into};
pub use stream::{BatchStream, DspritesBatch, random_factors};

/// Names of the five factors, in index order.
pub const FACTOR_NAMES: [&str; 5] = ["shape", "scale", "orientation", "pos_x", "pos_y"];
/// Number of values of each factor: shape 3, scale 6, orientation 40, x 32, y 32.
pub const FACTOR_SIZES: [usize; 5] = [3, 6, 40, 32, 32];
/// 3 * 6 * 40 * 32 * 32.
pub const IMAGE_COUNT: usize = 737_280;

/// The three sprite shapes (factor 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Square,
    Ellipse,
    Heart,
}

/// One image of the grid, as the index of each factor's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Factors(pub [usize; 5]);

impl Factors {
    /// The factors of image `index` in the grid's row-major order (shape slowest, y fastest), as
    /// the original file orders its images.
    pub fn from_index(index: usize) -> Self {
        let mut rest = index % IMAGE_COUNT;
        let mut out = [0; 5];
        for (slot, &size) in out.iter_mut().zip(&FACTOR_SIZES).rev() {
            *slot = rest % size;
            rest /= size;
        }
        Self(out)
    }

    /// Inverse of `from_index`.
    pub fn index(&self) -> usize {
        self.0
            .iter()
            .zip(&FACTOR_SIZES)
            .fold(0, |acc, (&v, &size)| acc * size + v)
    }

    pub fn shape(&self) -> Shape {
        [Shape::Square, Shape::Ellipse, Shape::Heart][self.0[0] % 3]
    }

    /// Scale in [0.5, 1]: 6 evenly spaced values.
    pub fn scale(&self) -> f32 {
        0.5 + 0.1 * self.0[1] as f32
    }

    /// Orientation in radians, in [0, 2 pi): 40 evenly spaced values, 9 degrees apart.
    pub fn orientation(&self) -> f32 {
        self.0[2] as f32 * std::f32::consts::TAU / FACTOR_SIZES[2] as f32
    }

    /// Position in [0, 1] along x and y: 32 evenly spaced values each.
    pub fn position(&self) -> (f32, f32) {
        let unit = |i: usize| i as f32 / (FACTOR_SIZES[3] - 1) as f32;
        (unit(self.0[3]), unit(self.0[4]))
    }

    /// The factors' values as the metrics see them: shape as its index, the others as above.
    pub fn values(&self) -> [f32; 5] {
        let (x, y) = self.position();
        [self.0[0] as f32, self.scale(), self.orientation(), x, y]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_round_trips_and_covers_the_grid() {
        assert_eq!(FACTOR_SIZES.iter().product::<usize>(), IMAGE_COUNT);
        for index in [0, 1, 31, 32, 1023, 1024, 40_959, 245_760, IMAGE_COUNT - 1] {
            assert_eq!(Factors::from_index(index).index(), index);
        }
        assert_eq!(Factors::from_index(1).0, [0, 0, 0, 0, 1]);
        assert_eq!(Factors::from_index(32).0, [0, 0, 0, 1, 0]);
        assert_eq!(Factors::from_index(IMAGE_COUNT - 1).0, [2, 5, 39, 31, 31]);
    }

    #[test]
    fn factor_values_span_their_ranges() {
        let last = Factors([2, 5, 39, 31, 31]);
        assert_eq!(Factors([0; 5]).values(), [0.0, 0.5, 0.0, 0.0, 0.0]);
        let v = last.values();
        assert!((v[1] - 1.0).abs() < 1e-6 && v[3] == 1.0 && v[4] == 1.0);
        assert!(v[2] < std::f32::consts::TAU && v[2] > 6.0);
        assert_eq!(last.shape(), Shape::Heart);
    }
}

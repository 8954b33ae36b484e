//! Patch models: a VAE whose input is a small window, trained on random crops of the images and
//! run over whole images window by window, with the windows' maps averaged where they overlap.

use serde::{Deserialize, Serialize};

use crate::map::FloatMap;

/// Largest image side a patch model is run over.
pub const MAX_IMAGE_SIZE: usize = 8192;

/// How a patch model sees a whole image: resized to `image_size`, cut into `window`-pixel
/// windows every `stride` pixels (the last row and column of windows flush with the edge).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiling {
    pub image_size: usize,
    pub window: usize,
    pub stride: usize,
}

impl Tiling {
    /// Windows of `window` pixels over images of `image_size`, overlapping by half.
    pub fn new(image_size: usize, window: usize) -> Self {
        Self {
            image_size,
            window,
            stride: (window / 2).max(1),
        }
    }

    /// Why this tiling does not fit a model with `input_size` px input, if it does not: checked
    /// on every tiling read from a file, before any window is cut.
    pub fn mismatch(&self, input_size: usize) -> Option<String> {
        let fits = self.window == input_size
            && self.window <= self.image_size
            && self.image_size <= MAX_IMAGE_SIZE
            && self.stride >= (self.window / 8).max(1)
            && self.stride <= self.window;
        (!fits).then(|| {
            format!(
                "windows of {} px every {} px over {} px images do not fit a model with {input_size} px \
                 input (expected windows of the input size, images of at most {MAX_IMAGE_SIZE} px, \
                 a stride of an eighth of a window to a whole one)",
                self.window, self.stride, self.image_size
            )
        })
    }

    /// The default window for images of `image_size` and an encoder that halves its input
    /// `stages` times: a quarter of the side, as a multiple of 2^stages, at least 2^stages.
    pub fn default_window(image_size: usize, stages: usize) -> usize {
        let step = 1usize << stages.min(16);
        (image_size / 4 / step * step).max(step)
    }

    /// Top-left corners of every window, row-major.
    pub fn positions(&self) -> Vec<(usize, usize)> {
        let starts = self.starts();
        starts
            .iter()
            .flat_map(|&y| starts.iter().map(move |&x| (x, y)))
            .collect()
    }

    fn starts(&self) -> Vec<usize> {
        let last = self.image_size.saturating_sub(self.window);
        let mut starts: Vec<usize> = (0..=last).step_by(self.stride.max(1)).collect();
        if starts.last() != Some(&last) {
            starts.push(last);
        }
        starts
    }

    /// The window at `(x, y)` of a CHW image of `channels` x `image_size` x `image_size`.
    pub fn crop(&self, image: &[f32], channels: usize, (x, y): (usize, usize)) -> Vec<f32> {
        let (s, w) = (self.image_size, self.window);
        let mut out = Vec::with_capacity(channels * w * w);
        for c in 0..channels {
            for row in y..y + w {
                let start = c * s * s + row * s + x;
                out.extend_from_slice(&image[start..start + w]);
            }
        }
        out
    }

    /// The window at the image's centre: what single-window views (attention, traversal) show.
    pub fn centre(&self) -> (usize, usize) {
        let c = self.image_size.saturating_sub(self.window) / 2;
        (c, c)
    }

    /// The window (top-left corner) whose centre is nearest `(x, y)`, in image-size pixels.
    pub fn nearest(&self, (x, y): (f32, f32)) -> (usize, usize) {
        let half = self.window as f32 / 2.0;
        let distance = |&(px, py): &(usize, usize)| {
            (px as f32 + half - x).powi(2) + (py as f32 + half - y).powi(2)
        };
        self.positions()
            .into_iter()
            .min_by(|a, b| distance(a).total_cmp(&distance(b)))
            .unwrap_or_default()
    }
}

/// Averages window maps into one map of the whole image.
pub struct Stitch {
    tiling: Tiling,
    sum: Vec<f32>,
    count: Vec<f32>,
}

impl Stitch {
    pub fn new(tiling: Tiling) -> Self {
        let n = tiling.image_size * tiling.image_size;
        Self {
            tiling,
            sum: vec![0.0; n],
            count: vec![0.0; n],
        }
    }

    /// Adds the map of the window at `(x, y)` (`window` x `window`).
    pub fn add(&mut self, map: &FloatMap, (x, y): (usize, usize)) {
        let (s, w) = (self.tiling.image_size, self.tiling.window);
        for (q, &v) in map.as_raw().iter().enumerate() {
            let i = (y + q / w) * s + x + q % w;
            self.sum[i] += v;
            self.count[i] += 1.0;
        }
    }

    pub fn finish(self) -> FloatMap {
        let s = self.tiling.image_size as u32;
        let mean = self
            .sum
            .iter()
            .zip(&self.count)
            .map(|(v, n)| if *n > 0.0 { v / n } else { 0.0 })
            .collect();
        FloatMap::from_raw(s, s, mean).expect("image_size squared values")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_window_is_the_one_centred_closest() {
        // 128 px in 32 px windows, stride 16: starts 0, 16, ..., 96; centres 16, 32, ..., 112.
        let t = Tiling::new(128, 32);
        assert_eq!(t.nearest((0.0, 0.0)), (0, 0));
        assert_eq!(t.nearest((127.0, 5.0)), (96, 0));
        // x = 41 is nearest the centre 48 (start 32); y = 70 nearest 64 (start 48).
        assert_eq!(t.nearest((41.0, 70.0)), (32, 48));
        assert_eq!(t.nearest((64.0, 64.0)), t.centre());
    }

    #[test]
    fn windows_cover_the_image_and_end_flush_with_its_edge() {
        let t = Tiling::new(40, 16);
        let starts: Vec<usize> = t.positions().iter().map(|p| p.0).take(5).collect();
        assert_eq!(
            starts,
            vec![0, 8, 16, 24, 0],
            "row-major: the second row starts again at 0"
        );
        assert_eq!(
            t.positions().len(),
            16,
            "starts 0, 8, 16, 24 in each direction"
        );
        let mut covered = vec![false; 40 * 40];
        for (x, y) in t.positions() {
            for q in 0..16 * 16 {
                covered[(y + q / 16) * 40 + x + q % 16] = true;
            }
        }
        assert!(covered.iter().all(|&c| c));
    }

    #[test]
    fn stitching_the_windows_of_an_image_gives_the_image_back() {
        let t = Tiling::new(24, 8);
        // Two channels: crop takes every channel, the stitch here the first.
        let image: Vec<f32> = (0..2 * 24 * 24).map(|i| i as f32).collect();
        let mut stitch = Stitch::new(t);
        for p in t.positions() {
            let window = t.crop(&image, 2, p);
            assert_eq!(window.len(), 2 * 8 * 8);
            assert_eq!(
                window[64],
                image[24 * 24 + p.1 * 24 + p.0],
                "second channel"
            );
            let first = FloatMap::from_raw(8, 8, window[..64].to_vec()).unwrap();
            stitch.add(&first, p);
        }
        assert_eq!(stitch.finish().into_raw(), image[..24 * 24].to_vec());
    }
}

//! In-memory training set: decodes and resizes training images in parallel (undecodable files
//! are skipped and reported), shuffles per epoch and gathers (optionally flipped) batches.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::decode::{channels_of, load_image, to_model_input};
use super::error::DataError;

/// A file left out of the training set and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// Training images as one contiguous buffer of `n` images, each CHW f32 in [0, 1].
#[derive(Debug, Clone)]
pub struct TrainSet {
    /// `n * channels * size * size` values, image after image.
    pub images: Vec<f32>,
    pub n: usize,
    pub channels: usize,
    pub size: u32,
    pub skipped: Vec<Skipped>,
}

impl TrainSet {
    /// Decodes and resizes `paths` to `channels` x `size` x `size`, in path order.
    /// Files that cannot be decoded are skipped (listed in `skipped`, each reason naming its file);
    /// if none is left the error names the folder and how many were skipped.
    /// `progress(done, total)` is called on the calling thread after each file.
    pub fn load(
        paths: &[PathBuf],
        channels: usize,
        size: u32,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<TrainSet, DataError> {
        if channels != 1 && channels != 3 {
            return Err(DataError::InvalidArgument(format!(
                "channels must be 1 or 3, got {channels}"
            )));
        }
        if size == 0 {
            return Err(DataError::InvalidArgument(
                "image size must be at least 1".into(),
            ));
        }
        let total = paths.len();
        let per_image = channels * (size as usize) * (size as usize);
        let mut decoded: Vec<Option<Result<Vec<f32>, DataError>>> =
            (0..total).map(|_| None).collect();

        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            // Each thread holds one decoded image (up to about 400 MB at the pixel cap).
            .clamp(1, 4)
            .min(total.max(1));
        let next = AtomicUsize::new(0);
        let (tx, rx) = mpsc::channel::<(usize, Result<Vec<f32>, DataError>)>();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let tx = tx.clone();
                let next = &next;
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= total {
                            break;
                        }
                        let result =
                            load_image(&paths[i]).map(|img| to_model_input(&img, channels, size));
                        if tx.send((i, result)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            let mut done = 0;
            for (i, result) in rx {
                decoded[i] = Some(result);
                done += 1;
                progress(done, total);
            }
        });

        let mut images = Vec::with_capacity(total * per_image);
        let mut skipped = Vec::new();
        let mut n = 0;
        for (path, result) in paths.iter().zip(decoded) {
            match result {
                Some(Ok(values)) => {
                    debug_assert_eq!(values.len(), per_image);
                    images.extend_from_slice(&values);
                    n += 1;
                }
                Some(Err(e)) => {
                    // Reported by the caller (the CLI prints it, the GUI lists it), once.
                    skipped.push(Skipped {
                        path: path.clone(),
                        reason: e.to_string(),
                    });
                }
                None => skipped.push(Skipped {
                    path: path.clone(),
                    reason: "not loaded (worker stopped)".into(),
                }),
            }
        }
        if n == 0 {
            return Err(DataError::EmptyTrainSet {
                folder: common_folder(paths),
                skipped: skipped.len(),
            });
        }
        Ok(TrainSet {
            images,
            n,
            channels,
            size,
            skipped,
        })
    }

    /// Values of one image (`channels * size * size`, CHW).
    pub fn image(&self, index: usize) -> &[f32] {
        let len = self.image_len();
        &self.images[index * len..(index + 1) * len]
    }

    /// `channels * size * size`.
    pub fn image_len(&self) -> usize {
        self.channels * (self.size as usize) * (self.size as usize)
    }

    /// A permutation of `0..n`, the same for the same `(seed, epoch)`, different across epochs.
    pub fn batch_order(&self, epoch: usize, seed: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.n).collect();
        let mut rng = StdRng::seed_from_u64(mix(seed, epoch as u64));
        order.shuffle(&mut rng);
        order
    }

    /// One random `window`-pixel crop of each image at `indices`, each mirrored left-right or not
    /// when `flip`, all drawn from `seed`: the batches of a patch model.
    pub fn crop_batch(&self, indices: &[usize], window: usize, flip: bool, seed: u64) -> Vec<f32> {
        let s = self.size as usize;
        let window = window.min(s);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(indices.len() * self.channels * window * window);
        for &i in indices {
            let image = self.image(i);
            let x = rng.random_range(0..=s - window);
            let y = rng.random_range(0..=s - window);
            let mirror = flip && rng.random_bool(0.5);
            for c in 0..self.channels {
                for row in y..y + window {
                    let start = c * s * s + row * s + x;
                    let line = &image[start..start + window];
                    if mirror {
                        out.extend(line.iter().rev());
                    } else {
                        out.extend_from_slice(line);
                    }
                }
            }
        }
        out
    }

    /// Gathers the images at `indices` into one `indices.len() * channels * size * size` buffer.
    /// With `flip_seed`, each image is mirrored left-right or not, decided by a hash of
    /// `(flip_seed, image index)`: deterministic, about half of them flipped.
    /// Panics if an index is `>= n` (indices come from [`TrainSet::batch_order`]).
    pub fn batch(&self, indices: &[usize], flip_seed: Option<u64>) -> Vec<f32> {
        let len = self.image_len();
        let s = self.size as usize;
        let mut out = Vec::with_capacity(indices.len() * len);
        for &i in indices {
            assert!(
                i < self.n,
                "batch index {i} out of range: the training set has {} images",
                self.n
            );
            let src = self.image(i);
            let flip = flip_seed.is_some_and(|fs| mix(fs, i as u64) & 1 == 1);
            if flip {
                for row in src.chunks_exact(s) {
                    out.extend(row.iter().rev());
                }
            } else {
                out.extend_from_slice(src);
            }
        }
        out
    }
}

/// Channel count for a set of training images: looks at the first few decodable ones and
/// answers 1 if all of them are gray (gray PNGs, or colour files whose R, G and B are equal
/// everywhere), else 3. With nothing decodable it answers 3.
pub fn detect_channels(paths: &[PathBuf]) -> usize {
    const LOOK_AT: usize = 4;
    let mut seen = 0;
    for path in paths {
        let Ok(img) = load_image(path) else { continue };
        seen += 1;
        if channels_of(&img) == 3 && !is_gray_in_colour(&img) {
            return 3;
        }
        if seen >= LOOK_AT {
            break;
        }
    }
    if seen == 0 { 3 } else { 1 }
}

fn is_gray_in_colour(img: &image::DynamicImage) -> bool {
    match img {
        image::DynamicImage::ImageRgb8(b) => b.pixels().all(|p| p[0] == p[1] && p[1] == p[2]),
        image::DynamicImage::ImageRgba8(b) => b.pixels().all(|p| p[0] == p[1] && p[1] == p[2]),
        image::DynamicImage::ImageRgb16(b) => b.pixels().all(|p| p[0] == p[1] && p[1] == p[2]),
        image::DynamicImage::ImageRgba16(b) => b.pixels().all(|p| p[0] == p[1] && p[1] == p[2]),
        _ => false,
    }
}

/// Parent folder shared by the paths (for messages); the first path's parent, else the path list.
fn common_folder(paths: &[PathBuf]) -> PathBuf {
    let Some(first) = paths.first() else {
        return PathBuf::from("(empty list of training paths)");
    };
    let mut folder: PathBuf = first.parent().map(Path::to_path_buf).unwrap_or_default();
    while !paths.iter().all(|p| p.starts_with(&folder)) {
        if !folder.pop() {
            break;
        }
    }
    folder
}

/// SplitMix64 of a combined seed: independent streams from (seed, stream).
pub(crate) fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed
        ^ stream
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

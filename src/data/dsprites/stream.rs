//! Random training batches rendered on a thread of their own, a few batches ahead, so a training
//! step never waits for data.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, bounded};
use rand::{Rng, SeedableRng, rngs::StdRng};

use super::render::{IMAGE_SIDE, render_into};
use super::{FACTOR_SIZES, Factors};
use crate::data::train_set::mix;

/// Batches rendered ahead of the consumer.
const PREFETCH: usize = 4;

/// One batch: images `[n, 1, 64, 64]` flattened, and the factors of each.
#[derive(Clone, Debug)]
pub struct DspritesBatch {
    pub images: Vec<f32>,
    pub factors: Vec<Factors>,
}

impl DspritesBatch {
    /// Renders the images of `factors`.
    pub fn render(factors: Vec<Factors>) -> Self {
        let plane = IMAGE_SIDE * IMAGE_SIDE;
        let mut images = vec![0.0; factors.len() * plane];
        for (f, out) in factors.iter().zip(images.chunks_mut(plane)) {
            render_into(*f, out);
        }
        Self { images, factors }
    }

    pub fn len(&self) -> usize {
        self.factors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.factors.is_empty()
    }
}

/// An endless stream of batches of images drawn uniformly from the grid. The batch of each step is a
/// function of (seed, step) alone, so a stream started at step k gives what a stream started at 0
/// gives from its k-th batch on (a resumed run sees the batches an uninterrupted one would).
pub struct BatchStream {
    receiver: Option<Receiver<DspritesBatch>>,
    worker: Option<JoinHandle<()>>,
}

impl BatchStream {
    /// Starts rendering the batches of steps `first_step`, `first_step + 1`, ...
    pub fn spawn(batch_size: usize, seed: u64, first_step: usize) -> Self {
        let (sender, receiver) = bounded(PREFETCH);
        let worker = std::thread::Builder::new()
            .name("dsprites-batches".into())
            .spawn(move || {
                for step in first_step.. {
                    let mut rng = StdRng::seed_from_u64(mix(seed, step as u64));
                    let batch = DspritesBatch::render(random_factors(&mut rng, batch_size));
                    // The consumer has gone: stop.
                    if sender.send(batch).is_err() {
                        return;
                    }
                }
            })
            .ok();
        Self {
            receiver: Some(receiver),
            worker,
        }
    }

    /// The next batch (blocks only when the renderer is behind). None if the renderer thread could
    /// not be started or has died.
    pub fn next_batch(&self) -> Option<DspritesBatch> {
        self.receiver.as_ref()?.recv().ok()
    }
}

impl Drop for BatchStream {
    fn drop(&mut self) {
        // Closing the channel ends the renderer's loop at its next send.
        self.receiver.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// `n` images drawn uniformly (with replacement) from the grid.
pub fn random_factors(rng: &mut impl Rng, n: usize) -> Vec<Factors> {
    (0..n)
        .map(|_| Factors(FACTOR_SIZES.map(|size| rng.random_range(0..size))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::render::render;
    use super::*;

    #[test]
    fn batches_match_their_factors_and_repeat_with_the_seed() {
        let a = BatchStream::spawn(5, 7, 0);
        let b = BatchStream::spawn(5, 7, 0);
        let first = a.next_batch().expect("a batch");
        assert_eq!(first.len(), 5);
        assert_eq!(first.images.len(), 5 * 64 * 64);
        for (f, image) in first.factors.iter().zip(first.images.chunks(64 * 64)) {
            assert_eq!(render(*f), image);
        }
        assert_eq!(b.next_batch().expect("a batch").factors, first.factors);
        let second = a.next_batch().expect("a batch");
        assert_ne!(second.factors, first.factors);
        // A stream started at step 1 begins with the second batch.
        let later = BatchStream::spawn(5, 7, 1);
        assert_eq!(later.next_batch().expect("a batch").factors, second.factors);
        // Dropping a stream whose renderer is blocked on a full channel returns.
        drop(a);
    }
}

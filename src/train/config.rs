//! Training hyperparameters, with defaults that keep the latent alive on texture photos.

use crate::tiling::Tiling;
use serde::{Deserialize, Serialize};

use crate::model::ReconLoss;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// Weight of the KL term. With summed squared error, beta acts as the decoder's variance
    /// (2 sigma^2): values well below 1 keep texture VAEs from collapsing.
    pub beta: f64,
    pub recon: ReconLoss,
    /// The KL weight ramps linearly from 0 to beta over this many epochs.
    pub kl_warmup_epochs: usize,
    /// The reparameterisation noise ramps linearly from 0 (a plain autoencoder, z = mu) to its
    /// full scale over this many epochs (0: full noise from the start).
    #[serde(default)]
    pub noise_warmup_epochs: usize,
    /// Per-dimension KL below this many nats is not penalised (0: off).
    pub free_bits: f64,
    /// Random horizontal flips of training images.
    pub flip: bool,
    pub seed: u64,
    /// Write a checkpoint every this many epochs (and always at the end).
    pub checkpoint_every: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 60,
            batch_size: 32,
            lr: 1e-3,
            beta: 0.001,
            recon: ReconLoss::Mse,
            kl_warmup_epochs: 10,
            noise_warmup_epochs: 0,
            free_bits: 0.0,
            flip: true,
            seed: 0,
            checkpoint_every: 5,
        }
    }
}

/// Images seen over a default-length run: on the sample data the latent comes alive after about
/// 2,000 and keeps improving to about 6,000; more costs CPU minutes without helping much.
const DEFAULT_IMAGE_BUDGET: usize = 6000;

/// The same for a VAE over pretrained features: its frozen stages need no training, and on the
/// test sets the rest had learned what it would within 20 epochs of 120 images.
const PRETRAINED_IMAGE_BUDGET: usize = 2400;

impl TrainConfig {
    /// Why these hyperparameters cannot train, if they cannot: NaN or infinite numbers, a
    /// learning rate that is not positive, counts of zero or beyond `MAX_EPOCHS`.
    pub fn mismatch(&self) -> Option<String> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Some(format!(
                "the learning rate is {}; a positive number is needed",
                self.lr
            ));
        }
        for (value, name) in [(self.beta, "beta"), (self.free_bits, "the free bits")] {
            if !(value.is_finite() && value >= 0.0) {
                return Some(format!(
                    "{name} is {value}; a number of 0 or more is needed"
                ));
            }
        }
        for (value, name, max) in [
            (
                self.epochs,
                "the number of epochs",
                super::state::MAX_EPOCHS,
            ),
            (self.batch_size, "the batch size", 1 << 16),
            (
                self.checkpoint_every,
                "the checkpoint interval",
                super::state::MAX_EPOCHS,
            ),
        ] {
            if value == 0 || value > max {
                return Some(format!("{name} is {value}; 1 to {max} is needed"));
            }
        }
        for (value, name) in [
            (self.kl_warmup_epochs, "the KL warm-up"),
            (self.noise_warmup_epochs, "the noise warm-up"),
        ] {
            if value > super::state::MAX_EPOCHS {
                return Some(format!(
                    "{name} is {value} epochs; at most {} is supported",
                    super::state::MAX_EPOCHS
                ));
            }
        }
        None
    }

    /// Default epoch count for `n` training images: about `DEFAULT_IMAGE_BUDGET` images in all,
    /// at least 10 and at most 100 epochs.
    pub fn auto_epochs(n: usize) -> usize {
        DEFAULT_IMAGE_BUDGET.div_ceil(n.max(1)).clamp(10, 100)
    }

    /// Default epoch count for a whole-image VAE over pretrained features on `n` images: about
    /// `PRETRAINED_IMAGE_BUDGET` images in all, at least 10 and at most 100 epochs.
    pub fn auto_epochs_pretrained(n: usize) -> usize {
        PRETRAINED_IMAGE_BUDGET.div_ceil(n.max(1)).clamp(10, 100)
    }

    /// Default epoch count for a patch model on `n` images: the same budget counted in pixels
    /// (as many window pixels as `DEFAULT_IMAGE_BUDGET` images of 128 px), at least 10 and at
    /// most 100 epochs. An epoch holds (image_size / window)^2 windows of each image.
    pub fn auto_epochs_for_windows(n: usize, tiling: Tiling) -> usize {
        let windows = n.max(1) * (tiling.image_size / tiling.window.max(1)).pow(2).max(1);
        let pixels_per_epoch = windows * tiling.window * tiling.window;
        (DEFAULT_IMAGE_BUDGET * 128 * 128)
            .div_ceil(pixels_per_epoch)
            .clamp(10, 100)
    }

    /// The scale of the reparameterisation noise at a fractional epoch.
    pub fn noise_scale(&self, epoch: f64) -> f32 {
        if self.noise_warmup_epochs == 0 {
            1.0
        } else {
            (epoch / self.noise_warmup_epochs as f64).min(1.0) as f32
        }
    }

    /// The KL weight at a fractional epoch, warm-up included.
    pub fn kl_weight(&self, epoch: f64) -> f64 {
        if self.kl_warmup_epochs == 0 {
            self.beta
        } else {
            self.beta * (epoch / self.kl_warmup_epochs as f64).min(1.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_ups_ramp_linearly_then_hold() {
        let config = TrainConfig {
            beta: 0.5,
            kl_warmup_epochs: 4,
            noise_warmup_epochs: 8,
            ..TrainConfig::default()
        };
        assert_eq!(config.kl_weight(0.0), 0.0);
        assert_eq!(config.kl_weight(1.0), 0.125);
        assert_eq!(config.kl_weight(9.0), 0.5);
        assert_eq!(config.noise_scale(0.0), 0.0);
        assert_eq!(config.noise_scale(2.0), 0.25);
        assert_eq!(config.noise_scale(8.5), 1.0);
        let off = TrainConfig {
            kl_warmup_epochs: 0,
            noise_warmup_epochs: 0,
            ..config
        };
        assert_eq!((off.kl_weight(0.0), off.noise_scale(0.0)), (0.5, 1.0));
    }
}

//! The convolutional VAE of SPEC §1: config, network, losses, and weights in PyTorch's layout.

mod config;
mod error;
mod init;
mod loss;
mod vae;
mod weights;

pub use config::VaeConfig;
pub use error::ModelError;
pub use init::init_weights;
pub use loss::{LossTerms, ReconLoss, kl_per_dim, vae_loss};
pub use vae::{Decoder, Encoder, EncoderOutput, Vae};
pub use weights::{
    NamedTensor, NamedTensors, expected_shapes, read_safetensors, write_safetensors,
};

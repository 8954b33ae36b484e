//! The convolutional VAE of docs/method.md §1: config, network, losses, and weights in PyTorch's layout.

pub mod attention_loss;
mod config;
pub mod conv_gemm;
pub mod discriminator;
mod error;
mod init;
pub mod leaky_relu;
mod loss;
pub mod pretrained;
mod vae;
mod weights;

pub use config::VaeConfig;
pub use error::ModelError;
pub use init::init_weights;
pub use loss::{LossTerms, ReconLoss, bernoulli_nll, kl_per_dim, vae_loss};
pub use vae::{Decoder, Encoder, EncoderOutput, Vae};
pub use weights::{
    NamedTensor, NamedTensors, expected_shapes, read_safetensors, write_safetensors,
};

/// A float tensor's values on the host, as f32, row-major.
pub fn to_host<const N: usize>(t: burn::prelude::Tensor<N>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("a float tensor converts to f32")
}

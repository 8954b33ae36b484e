//! FactorVAE's discriminator (Kim & Mnih 2018): an MLP that tells latent codes drawn from the
//! aggregate posterior q(z) from codes whose dimensions were shuffled across the batch (a sample
//! of prod_j q(z_j)). Its logit difference estimates the total correlation.

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

use super::leaky_relu::leaky_relu;
use super::vae::{linear, put};
use super::{ModelError, NamedTensors};

/// Kim & Mnih's LeakyReLU slope.
const SLOPE: f64 = 0.2;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscriminatorConfig {
    pub latent_dim: usize,
    /// Hidden layers and their width: Kim & Mnih use 6 of 1000.
    pub layers: usize,
    pub width: usize,
}

impl DiscriminatorConfig {
    pub fn kim_mnih(latent_dim: usize) -> Self {
        Self {
            latent_dim,
            layers: 6,
            width: 1000,
        }
    }

    /// A network with PyTorch's default initialisation drawn from `seed`.
    pub fn init(&self, seed: u64, device: &Device) -> Discriminator {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut widths = vec![self.latent_dim];
        widths.extend(std::iter::repeat_n(self.width, self.layers));
        widths.push(2);
        let layers = widths
            .windows(2)
            .map(|w| uniform_linear(&mut rng, w[0], w[1], device))
            .collect();
        Discriminator { layers }
    }

    /// Every tensor the network has, by PyTorch name and shape (`layers.{n}.weight` `[out, in]`).
    fn expected_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut widths = vec![self.latent_dim];
        widths.extend(std::iter::repeat_n(self.width, self.layers));
        widths.push(2);
        widths
            .windows(2)
            .enumerate()
            .flat_map(|(n, w)| {
                [
                    (format!("layers.{n}.weight"), vec![w[1], w[0]]),
                    (format!("layers.{n}.bias"), vec![w[1]]),
                ]
            })
            .collect()
    }

    /// The network with the weights `Discriminator::to_tensors` wrote, checked against this
    /// architecture.
    pub fn from_tensors(
        &self,
        tensors: &NamedTensors,
        device: &Device,
    ) -> Result<Discriminator, ModelError> {
        let expected = self.expected_shapes();
        for (name, shape) in &expected {
            let found = tensors.get(name).ok_or_else(|| ModelError::MissingTensor {
                name: name.clone(),
                expected: shape.clone(),
            })?;
            if &found.shape != shape {
                return Err(ModelError::ShapeMismatch {
                    name: name.clone(),
                    expected: shape.clone(),
                    found: found.shape.clone(),
                });
            }
        }
        if let Some(name) = tensors
            .keys()
            .find(|name| !expected.iter().any(|(known, _)| known == *name))
        {
            return Err(ModelError::ExtraTensor { name: name.clone() });
        }
        let get = |name: &str| &tensors[name];
        let layers = (0..=self.layers)
            .map(|n| linear(get, &format!("layers.{n}"), device))
            .collect();
        Ok(Discriminator { layers })
    }
}

#[derive(Module, Debug)]
pub struct Discriminator {
    pub layers: Vec<Linear>,
}

/// Logit index of "drawn from q(z)" and of "dimensions permuted".
const JOINT: usize = 0;
const PERMUTED: usize = 1;

impl Discriminator {
    /// The weights in PyTorch's names and layouts (`layers.{n}.weight` `[out, in]`, `.bias`).
    pub fn to_tensors(&self) -> NamedTensors {
        let mut out = NamedTensors::new();
        for (n, layer) in self.layers.iter().enumerate() {
            let name = format!("layers.{n}");
            put(
                &mut out,
                &name,
                &layer.weight.val().transpose(),
                &layer.bias,
            );
        }
        out
    }

    /// Two logits per code `[n, 2]`: joint, permuted.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        self.layers.iter().enumerate().fold(z, |x, (n, layer)| {
            let y = layer.forward(x);
            if n == last { y } else { leaky_relu(y, SLOPE) }
        })
    }

    /// The total-correlation estimate E[logit_joint - logit_permuted] over codes `z` `[n, D]`
    /// (the density-ratio trick): what the VAE minimises, weighted by gamma.
    pub fn total_correlation(&self, z: Tensor<2>) -> Tensor<1> {
        let logits = self.forward(z);
        let [n, _] = logits.dims();
        let joint = logits.clone().slice([0..n, JOINT..JOINT + 1]);
        let permuted = logits.slice([0..n, PERMUTED..PERMUTED + 1]);
        (joint - permuted).mean()
    }

    /// The discriminator's own loss: cross-entropy of calling `z` joint and `z_permuted` permuted.
    pub fn loss(&self, z: Tensor<2>, z_permuted: Tensor<2>) -> Tensor<1> {
        let [n, _] = z.dims();
        let joint = log_softmax(self.forward(z), 1).slice([0..n, JOINT..JOINT + 1]);
        let permuted =
            log_softmax(self.forward(z_permuted), 1).slice([0..n, PERMUTED..PERMUTED + 1]);
        -(joint.mean() + permuted.mean()) * 0.5
    }
}

/// Codes `z` `[n, D]` with each dimension's column shuffled across the batch by its own
/// permutation (drawn from `rng`): a sample of the product of the marginals.
pub fn permute_dims(z: Tensor<2>, rng: &mut impl Rng) -> Tensor<2> {
    let [n, dims] = z.dims();
    let device = z.device();
    let mut indices = vec![0i64; n * dims];
    for j in 0..dims {
        let mut order: Vec<i64> = (0..n as i64).collect();
        for i in (1..n).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        for (row, &from) in order.iter().enumerate() {
            indices[row * dims + j] = from;
        }
    }
    let indices = Tensor::<2, Int>::from_data(TensorData::new(indices, [n, dims]), &device);
    z.gather(0, indices)
}

fn uniform_linear(rng: &mut StdRng, inputs: usize, outputs: usize, device: &Device) -> Linear {
    let bound = 1.0 / (inputs as f32).sqrt();
    let mut draw =
        |len: usize| -> Vec<f32> { (0..len).map(|_| rng.random_range(-bound..bound)).collect() };
    let weight = Tensor::from_data(
        TensorData::new(draw(inputs * outputs), [inputs, outputs]),
        device,
    );
    let bias = Tensor::from_data(TensorData::new(draw(outputs), [outputs]), device);
    Linear {
        weight: Param::from_tensor(weight),
        bias: Some(Param::from_tensor(bias)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::to_host;

    /// The discriminator's weights on the host, in order (for checks and checkpoints).
    fn discriminator_values(d: &Discriminator) -> Vec<f32> {
        d.layers
            .iter()
            .flat_map(|l| {
                let mut v = to_host(l.weight.val());
                if let Some(b) = &l.bias {
                    v.extend(to_host(b.val()));
                }
                v
            })
            .collect()
    }

    #[test]
    fn shapes_and_permutation_keep_each_column() {
        let device = Device::flex();
        let config = DiscriminatorConfig {
            latent_dim: 3,
            layers: 2,
            width: 8,
        };
        let d = config.init(1, &device);
        assert_eq!(d.layers.len(), 3);
        let values: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let z = Tensor::<2>::from_data(TensorData::new(values, [4, 3]), &device);
        assert_eq!(d.forward(z.clone()).dims(), [4, 2]);
        let mut rng = StdRng::seed_from_u64(2);
        let permuted = to_host(permute_dims(z, &mut rng));
        for j in 0..3 {
            let mut column: Vec<f32> = (0..4).map(|r| permuted[r * 3 + j]).collect();
            column.sort_by(f32::total_cmp);
            let expected: Vec<f32> = (0..4).map(|r| (r * 3 + j) as f32).collect();
            assert_eq!(column, expected, "column {j} is a permutation of itself");
        }
        // Same seed, same network.
        assert_eq!(
            discriminator_values(&config.init(1, &device)),
            discriminator_values(&d)
        );
    }

    #[test]
    fn weights_round_trip_and_other_shapes_are_refused() {
        let device = Device::flex();
        let config = DiscriminatorConfig {
            latent_dim: 3,
            layers: 2,
            width: 8,
        };
        let d = config.init(4, &device);
        let tensors = d.to_tensors();
        assert_eq!(tensors["layers.0.weight"].shape, vec![8, 3]);
        let back = config.from_tensors(&tensors, &device).expect("same shapes");
        assert_eq!(discriminator_values(&back), discriminator_values(&d));
        let wider = DiscriminatorConfig {
            width: 9,
            ..config.clone()
        };
        assert!(matches!(
            wider.from_tensors(&tensors, &device),
            Err(ModelError::ShapeMismatch { .. })
        ));
        for layers in [1, 3] {
            let other = DiscriminatorConfig {
                layers,
                ..config.clone()
            };
            assert!(matches!(
                other.from_tensors(&tensors, &device),
                Err(ModelError::ShapeMismatch { .. })
            ));
        }
        let mut missing = tensors.clone();
        missing.remove("layers.1.bias");
        assert!(matches!(
            config.from_tensors(&missing, &device),
            Err(ModelError::MissingTensor { .. })
        ));
        let mut extra = tensors;
        extra.insert("layers.9.bias".into(), extra["layers.1.bias"].clone());
        assert!(matches!(
            config.from_tensors(&extra, &device),
            Err(ModelError::ExtraTensor { .. })
        ));
    }
}

//! Seeded weight initialisation on the host, as PyTorch's defaults do it, so a seed gives the same
//! network on every backend.

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::{NamedTensor, NamedTensors, VaeConfig, expected_shapes};

/// PyTorch's default init: weights and biases uniform in ±1/sqrt(fan_in), where fan_in is the
/// number of inputs of one output unit (for a transposed conv PyTorch uses weight.size(1) * k * k).
pub fn init_weights(config: &VaeConfig, seed: u64) -> NamedTensors {
    let mut rng = StdRng::seed_from_u64(seed);
    let shapes = expected_shapes(config);
    let mut tensors = NamedTensors::new();
    for pair in shapes.chunks(2) {
        let (weight_name, weight_shape) = &pair[0];
        let (bias_name, bias_shape) = &pair[1];
        let fan_in = if weight_name.starts_with("decoder.deconvs") {
            weight_shape[1] * weight_shape[2] * weight_shape[3]
        } else {
            weight_shape[1..].iter().product()
        };
        let bound = 1.0 / (fan_in as f32).sqrt();
        let mut uniform = |shape: &Vec<usize>| NamedTensor {
            shape: shape.clone(),
            values: (0..shape.iter().product::<usize>())
                .map(|_| rng.random_range(-bound..bound))
                .collect(),
        };
        tensors.insert(weight_name.clone(), uniform(weight_shape));
        tensors.insert(bias_name.clone(), uniform(bias_shape));
    }
    tensors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_and_biases_within_pytorch_bounds() {
        let config = VaeConfig::default_for(1, 32, 4);
        let tensors = init_weights(&config, 3);
        // encoder.fc: fan_in = 128 channels * 2 * 2 positions
        let fc = &tensors["encoder.fc.weight"].values;
        let bound = 1.0 / 512f32.sqrt();
        assert!(fc.iter().all(|v| v.abs() <= bound));
        assert!(
            fc.iter().any(|v| v.abs() > 0.9 * bound),
            "spread over the range"
        );
        assert!(
            tensors["encoder.fc.bias"]
                .values
                .iter()
                .all(|v| v.abs() <= bound)
        );
        // A transposed conv's fan_in is weight.size(1) * k * k.
        let deconv = &tensors["decoder.deconvs.0.weight"];
        let bound = 1.0 / ((deconv.shape[1] * deconv.shape[2] * deconv.shape[3]) as f32).sqrt();
        assert!(deconv.values.iter().all(|v| v.abs() <= bound));
        assert!(deconv.values.iter().any(|v| v.abs() > 0.9 * bound));
        // Same seed, same network; another seed, another one.
        assert_eq!(init_weights(&config, 3)["encoder.fc.weight"].values, *fc);
        assert_ne!(init_weights(&config, 4)["encoder.fc.weight"].values, *fc);
    }
}

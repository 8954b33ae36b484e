//! Adam whose update on burn's flex CPU backend is one pass over each parameter: burn's own
//! step makes about a dozen passes over parameter-sized tensors (each scaling, sum, square, root
//! and division its own), a tenth of a training step for the reference model's 17 million
//! parameters (docs/speed.md). Same formula, same state (`AdamState`, so saved optimizer files
//! load either way) and the same values; other devices go through burn's `Adam` unchanged.

use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, DispatchDevice, Flex, TensorMetadata, backend_extension};
use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::prelude::*;
use burn::tensor::DType;
use rayon::prelude::*;

/// burn's default epsilon, which `AdamConfig` does not expose.
const EPSILON: f32 = 1e-5;

/// Adam with these betas (epsilon 1e-5, no weight decay, as burn's `AdamConfig` by default).
pub fn adam(beta_1: f32, beta_2: f32) -> ModuleOptimizer {
    let config = AdamConfig::new()
        .with_beta_1(beta_1)
        .with_beta_2(beta_2)
        .with_epsilon(EPSILON);
    ModuleOptimizer::from(FusedAdam {
        beta_1,
        beta_2,
        epsilon: EPSILON,
        burn: config.build(),
    })
}

#[derive(Clone)]
struct FusedAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    /// burn's step, for devices other than flex.
    burn: Adam,
}

/// The scalars of one step, as burn's `AdaptiveMomentum` computes them.
#[derive(Clone, Copy, Debug)]
pub struct AdamScalars {
    beta_1: f32,
    beta_2: f32,
    /// sqrt(1 - beta_2^t) / (1 - beta_1^t).
    combined: f32,
    /// epsilon * sqrt(1 - beta_2^t).
    epsilon: f32,
    lr: f32,
}

#[backend_extension(Flex)]
pub trait FusedAdamBackend: Backend {
    /// The parameter, first and second moments after one step from `moment_1` and `moment_2`.
    fn adam_update(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        s: AdamScalars,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

const CHUNK: usize = 1 << 14;

impl FusedAdamBackend for Flex {
    fn adam_update(
        param: FlexTensor,
        grad: FlexTensor,
        moment_1: FlexTensor,
        moment_2: FlexTensor,
        s: AdamScalars,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let shape = param.shape();
        let [param, grad, moment_1, moment_2] =
            [param, grad, moment_1, moment_2].map(|t| t.to_contiguous());
        fn values(t: &FlexTensor) -> rayon::slice::Chunks<'_, f32> {
            let values = t.as_slice::<f32>().expect("a contiguous f32 tensor");
            values.par_chunks(CHUNK)
        }
        let len = shape.num_elements();
        let lengths = [&param, &grad, &moment_1, &moment_2].map(|t| t.shape().num_elements());
        assert!(
            lengths.iter().all(|&l| l == len),
            "Adam's tensors differ in size: {lengths:?}"
        );
        let mut outputs = [(); 3].map(|_| Vec::<f32>::with_capacity(len));
        let [p_out, m_out, v_out] = outputs.each_mut().map(|out| out.spare_capacity_mut());
        p_out
            .par_chunks_mut(CHUNK)
            .zip(m_out.par_chunks_mut(CHUNK))
            .zip(v_out.par_chunks_mut(CHUNK))
            .zip(values(&param).zip(values(&grad)))
            .zip(values(&moment_1).zip(values(&moment_2)))
            .for_each(|((((p_out, m_out), v_out), (p, g)), (m, v))| {
                let outputs = p_out.iter_mut().zip(m_out).zip(v_out);
                let inputs = p.iter().zip(g).zip(m.iter().zip(v));
                for (((p_out, m_out), v_out), ((&p, &g), (&m, &v))) in outputs.zip(inputs) {
                    // The operations of burn's Adam, in its order.
                    let m = m * s.beta_1 + g * (1.0 - s.beta_1);
                    let v = v * s.beta_2 + g * g * (1.0 - s.beta_2);
                    let update = (m * s.combined) / (v.sqrt() + s.epsilon);
                    p_out.write(p - update * s.lr);
                    m_out.write(m);
                    v_out.write(v);
                }
            });
        let [p, m, v] = outputs.map(|mut out| {
            // SAFETY: the loop above wrote every one of the `len` values (all inputs have `len`).
            unsafe { out.set_len(len) };
            FlexTensor::from_data(TensorData::new(out, shape.clone()))
        });
        (p, m, v)
    }
}

fn on_flex<const D: usize>(t: &Tensor<D>) -> bool {
    !t.is_autodiff()
        && matches!(t.device().as_dispatch(), DispatchDevice::Flex(_))
        && t.dtype() == DType::F32
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if !(on_flex(&tensor) && on_flex(&grad)) {
            return self.burn.step(lr, tensor, grad, state);
        }
        let (time, moment_1, moment_2) = match state {
            Some(AdamState { momentum }) => {
                (momentum.time + 1, momentum.moment_1, momentum.moment_2)
            }
            // Zero moments give the first step's burn formula, g (1 - beta), exactly.
            None => (1, tensor.zeros_like(), tensor.zeros_like()),
        };
        let bias_correction_2 = (1.0 - self.beta_2.powi(time as i32)).sqrt();
        let scalars = AdamScalars {
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            combined: bias_correction_2 / (1.0 - self.beta_1.powi(time as i32)),
            epsilon: self.epsilon * bias_correction_2,
            lr: lr as f32,
        };
        let (param, moment_1, moment_2) = <Dispatch as FusedAdamBackend>::adam_update(
            tensor.into_dispatch(),
            grad.into_dispatch(),
            moment_1.into_dispatch(),
            moment_2.into_dispatch(),
            scalars,
        );
        let momentum = AdaptiveMomentumState::new(
            time,
            Tensor::from_dispatch(moment_1),
            Tensor::from_dispatch(moment_2),
        );
        (Tensor::from_dispatch(param), Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::tensor::Bytes;

    use crate::model::to_host;

    /// Three steps of both on the same gradients give the same weights, value for value (betas
    /// of the dSprites discriminator, more values than one chunk); then each continues from the
    /// other's saved state, and the fourth step is the same again.
    #[test]
    fn fused_steps_equal_burns_adam_and_their_saved_states_swap() {
        let device = Device::flex().autodiff();
        let values: Vec<f32> = (0..4 * 300)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        let x = Tensor::<2>::from_data(TensorData::new(values, [4, 300]), &device);
        let model: Linear = LinearConfig::new(300, 70).init(&device);
        let burns = || AdamConfig::new().with_beta_1(0.5).with_beta_2(0.9).init();
        let mut runs = [(model.clone(), adam(0.5, 0.9)), (model, burns())];
        let step = |(model, optimizer): &mut (Linear, ModuleOptimizer)| {
            let loss = model.forward(x.clone()).powf_scalar(2.0).sum();
            let grads = GradientsParams::from_grads(loss.backward(), model);
            *model = optimizer.step(1e-2, model.clone(), grads);
        };
        let weights = |runs: &[(Linear, ModuleOptimizer); 2]| {
            runs.clone().map(|(model, _)| {
                let bias = model.bias.expect("a bias").val();
                [to_host(model.weight.val()), to_host(bias)]
            })
        };
        for _ in 0..3 {
            runs.iter_mut().for_each(step);
        }
        let [ours, theirs] = weights(&runs);
        assert_eq!(ours, theirs);
        let saved = runs
            .clone()
            .map(|(_, optimizer)| optimizer.into_bytes().expect("a saved state"));
        let [our_state, their_state] = saved.map(|bytes| Bytes::from_bytes_vec(bytes.to_vec()));
        runs[0].1 = adam(0.5, 0.9)
            .from_bytes(their_state)
            .expect("burn's state loads");
        runs[1].1 = burns().from_bytes(our_state).expect("our state loads");
        runs.iter_mut().for_each(step);
        let [ours, theirs] = weights(&runs);
        assert_eq!(ours, theirs);
    }
}

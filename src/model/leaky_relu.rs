//! LeakyReLU on burn's flex CPU backend as one pass forward and one backward. burn's autodiff
//! builds it from a comparison, a scaled copy and a masked select, each with its own backward
//! pass (mask_where alone was 5% of a speed_bench profile on flex, docs/speed.md). The values are
//! the same bit for bit: x where x >= 0, else x * slope; the gradient times 1 or slope. Other
//! devices go through burn's own operation.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, Backend, Dispatch, DispatchDevice, Flex, TensorMetadata, backend_extension,
};
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::activation;
use rayon::prelude::*;

/// Elements per parallel task (below it one thread does the whole tensor).
const CHUNK: usize = 1 << 16;

/// `burn::tensor::activation::leaky_relu(x, slope)`, in one pass on flex.
pub fn leaky_relu<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    let device = x.device().without_autodiff();
    if !(matches!(device.as_dispatch(), DispatchDevice::Flex(_)) && x.dtype() == DType::F32) {
        return activation::leaky_relu(x, slope);
    }
    Tensor::from_dispatch(<Dispatch as LeakyReluBackend>::flex_leaky_relu(
        x.into_dispatch(),
        slope as f32,
    ))
}

#[backend_extension(Flex, Autodiff)]
pub trait LeakyReluBackend: Backend {
    /// x where x >= 0, else x * slope.
    fn flex_leaky_relu(x: FloatTensor<Self>, slope: f32) -> FloatTensor<Self>;
}

/// `f` of every element of `x` (and of the same element of `other`), in a new tensor of x's shape.
fn map(
    x: &FlexTensor,
    other: Option<&FlexTensor>,
    f: impl Fn(f32, f32) -> f32 + Sync,
) -> FlexTensor {
    let x = x.to_contiguous();
    let values = x.as_slice::<f32>().expect("a contiguous f32 tensor");
    let other = other.map(FlexTensor::to_contiguous);
    let others = other
        .as_ref()
        .map(|o| o.as_slice::<f32>().expect("a contiguous f32 tensor"));
    let mut out = vec![0.0; values.len()];
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, out)| {
        let start = c * CHUNK;
        let xs = &values[start..start + out.len()];
        match others {
            Some(os) => {
                let os = &os[start..start + out.len()];
                for ((o, &x), &v) in out.iter_mut().zip(xs).zip(os) {
                    *o = f(x, v);
                }
            }
            None => {
                for (o, &x) in out.iter_mut().zip(xs) {
                    *o = f(x, 0.0);
                }
            }
        }
    });
    FlexTensor::from_data(TensorData::new(out, x.shape()))
}

fn forward(x: &FlexTensor, slope: f32) -> FlexTensor {
    map(x, None, |x, _| if x >= 0.0 { x } else { x * slope })
}

impl LeakyReluBackend for Flex {
    fn flex_leaky_relu(x: FlexTensor, slope: f32) -> FlexTensor {
        forward(&x, slope)
    }
}

/// Backward of `flex_leaky_relu`: the output's gradient where x >= 0, times slope elsewhere.
#[derive(Debug)]
struct LeakyReluGrad;

impl Backward<Flex, 1> for LeakyReluGrad {
    type State = (NodeId, f32);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, slope) = ops.state;
        let x: FlexTensor = checkpointer.retrieve_node_output(x);
        if let Some(node) = node_x {
            let dx = map(&x, Some(&grad), |x, g| if x >= 0.0 { g } else { g * slope });
            grads.register::<Flex>(node.id, dx);
        }
    }
}

impl<C: CheckpointStrategy> LeakyReluBackend for Autodiff<Flex, C> {
    fn flex_leaky_relu(x: FloatTensor<Self>, slope: f32) -> FloatTensor<Self> {
        match LeakyReluGrad
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), slope);
                prep.finish(state, forward(x.primitive(), slope))
            }
            OpsKind::UnTracked(prep) => prep.finish(forward(x.primitive(), slope)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// Values and gradients equal burn's bit for bit, zeros and negative zeros included.
    #[test]
    fn equals_burns_leaky_relu_and_its_gradient_exactly() {
        let device = Device::flex().autodiff();
        let mut values: Vec<f32> = (0..3 * 70_001)
            .map(|i| ((i * 7919) % 2001) as f32 / 100.0 - 10.0)
            .collect();
        values[5] = 0.0;
        values[6] = -0.0;
        let x = || {
            Tensor::<2>::from_data(TensorData::new(values.clone(), [3, 70_001]), &device)
                .require_grad()
        };
        let weights = Tensor::<2>::from_data(
            TensorData::new(
                values.iter().map(|v| v.cos()).collect::<Vec<f32>>(),
                [3, 70_001],
            ),
            &device,
        );
        let run = |f: &dyn Fn(Tensor<2>) -> Tensor<2>| {
            let x = x();
            let y = f(x.clone());
            let grads = (y.clone() * weights.clone()).sum().backward();
            (
                y.into_data(),
                x.grad(&grads).expect("a gradient").into_data(),
            )
        };
        let (ours, our_grad) = run(&|x| leaky_relu(x, 0.2));
        let (theirs, their_grad) = run(&|x| activation::leaky_relu(x, 0.2));
        assert_eq!(ours, theirs);
        assert_eq!(our_grad, their_grad);
    }
}

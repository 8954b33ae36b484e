//! The GEMM convolutions and the few-rows linear product as a burn backend extension: the
//! forward products on flex, and their gradients registered with burn's autodiff for flex.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, TensorMetadata, backend_extension};
use burn::tensor::TensorData;

use super::kernels::{self, Geometry};

#[backend_extension(Flex, Autodiff)]
pub trait GemmConvBackend: Backend {
    /// The convolution of `x` `[n, g.channels, g.input]` with `weight` `[out, g.channels,
    /// g.kernel]`, without bias: `[n, out, g.output]`.
    fn gemm_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        g: Geometry,
    ) -> FloatTensor<Self>;

    /// The transposed convolution of `x` `[n, in, g.output]` with `weight` `[in, g.channels,
    /// g.kernel]`, without bias: `[n, g.channels, g.input]` (the input gradient of the
    /// convolution `g`).
    fn gemm_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        g: Geometry,
    ) -> FloatTensor<Self>;

    /// `x` (`[m, k]`, fewer rows than threads) times `weight` (`[k, n]`): a linear layer
    /// without bias.
    fn few_rows_matmul(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// The values of an f32 flex tensor, row-major (copied only where it is not contiguous).
fn with_values<R>(t: &FlexTensor, f: impl FnOnce(&[f32]) -> R) -> R {
    match t.as_slice::<f32>() {
        Some(values) => f(values),
        None => f(t
            .to_contiguous()
            .as_slice::<f32>()
            .expect("a contiguous f32 tensor")),
    }
}

fn tensor(values: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

fn dims(t: &FlexTensor) -> [usize; 4] {
    t.shape().dims()
}

/// Output `[n, out, g.output]` of the convolution.
fn conv_forward(x: &FlexTensor, weight: &FlexTensor, g: &Geometry) -> FlexTensor {
    let (n, out) = (dims(x)[0], dims(weight)[0]);
    let y = with_values(x, |x| {
        with_values(weight, |w| kernels::forward(g, x, n, w, out))
    });
    tensor(y, [n, out, g.output[0], g.output[1]])
}

/// Input gradient `[n, g.channels, g.input]` of the convolution from its output's gradient.
fn conv_input_grad(dy: &FlexTensor, weight: &FlexTensor, g: &Geometry) -> FlexTensor {
    let (n, out) = (dims(dy)[0], dims(weight)[0]);
    let dx = with_values(dy, |dy| {
        with_values(weight, |w| kernels::input_grad(g, dy, n, w, out))
    });
    tensor(dx, [n, g.channels, g.input[0], g.input[1]])
}

/// Weight gradient `[out, g.channels, g.kernel]` of the convolution.
fn conv_weight_grad(x: &FlexTensor, dy: &FlexTensor, g: &Geometry) -> FlexTensor {
    let [n, out, _, _] = dims(dy);
    let dw = with_values(x, |x| {
        with_values(dy, |dy| kernels::weight_grad(g, x, dy, n, out))
    });
    tensor(dw, [out, g.channels, g.kernel[0], g.kernel[1]])
}

/// `conv_forward(x, weight)` and `conv_weight_grad(x, dy)` from one unfolding of `x`.
fn conv_forward_and_weight_grad(
    x: &FlexTensor,
    dy: &FlexTensor,
    weight: &FlexTensor,
    g: &Geometry,
) -> (FlexTensor, FlexTensor) {
    let (n, out) = (dims(x)[0], dims(weight)[0]);
    let (y, dw) = with_values(x, |x| {
        with_values(dy, |dy| {
            with_values(weight, |w| {
                kernels::forward_and_weight_grad(g, x, dy, n, w, out)
            })
        })
    });
    (
        tensor(y, [n, out, g.output[0], g.output[1]]),
        tensor(dw, [out, g.channels, g.kernel[0], g.kernel[1]]),
    )
}

fn few_rows(x: &FlexTensor, weight: &FlexTensor) -> FlexTensor {
    let ([m, _], [_, n]) = (x.shape().dims(), weight.shape().dims());
    let y = with_values(x, |x| {
        with_values(weight, |w| kernels::few_rows_product(x, m, w, n))
    });
    FlexTensor::from_data(TensorData::new(y, [m, n]))
}

impl GemmConvBackend for Flex {
    fn gemm_conv2d(x: FlexTensor, weight: FlexTensor, g: Geometry) -> FlexTensor {
        conv_forward(&x, &weight, &g)
    }

    fn gemm_conv_transpose2d(x: FlexTensor, weight: FlexTensor, g: Geometry) -> FlexTensor {
        conv_input_grad(&x, &weight, &g)
    }

    fn few_rows_matmul(x: FlexTensor, weight: FlexTensor) -> FlexTensor {
        few_rows(&x, &weight)
    }
}

/// Backward of `few_rows_matmul`: dx = dy wᵀ and dw = xᵀ dy, by flex's own products.
#[derive(Debug)]
struct FewRowsBackward;

impl Backward<Flex, 2> for FewRowsBackward {
    type State = (NodeId, NodeId);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let x: FlexTensor = checkpointer.retrieve_node_output(ops.state.0);
        let weight: FlexTensor = checkpointer.retrieve_node_output(ops.state.1);
        if let Some(node) = node_x {
            let dx = Flex::float_matmul(dy.clone(), Flex::float_transpose(weight));
            grads.register::<Flex>(node.id, dx);
        }
        if let Some(node) = node_weight {
            grads.register::<Flex>(node.id, Flex::float_matmul(Flex::float_transpose(x), dy));
        }
    }
}

/// Backward of `gemm_conv2d`: the input and weight gradients of the convolution.
#[derive(Debug)]
struct Conv2dBackward;

impl Backward<Flex, 2> for Conv2dBackward {
    type State = (NodeId, NodeId, Geometry);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, weight, g) = ops.state;
        let x: FlexTensor = checkpointer.retrieve_node_output(x);
        let weight: FlexTensor = checkpointer.retrieve_node_output(weight);
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, conv_input_grad(&dy, &weight, &g));
        }
        if let Some(node) = node_weight {
            grads.register::<Flex>(node.id, conv_weight_grad(&x, &dy, &g));
        }
    }
}

/// Backward of `gemm_conv_transpose2d`: its input gradient is the convolution's output, and
/// its weight gradient the convolution's weight gradient with input and output swapped.
#[derive(Debug)]
struct ConvTranspose2dBackward;

impl Backward<Flex, 2> for ConvTranspose2dBackward {
    type State = (NodeId, NodeId, Geometry);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, weight, g) = ops.state;
        let x: FlexTensor = checkpointer.retrieve_node_output(x);
        let weight: FlexTensor = checkpointer.retrieve_node_output(weight);
        match (node_x, node_weight) {
            (Some(node_x), Some(node_weight)) => {
                let (dx, dw) = conv_forward_and_weight_grad(&dy, &x, &weight, &g);
                grads.register::<Flex>(node_x.id, dx);
                grads.register::<Flex>(node_weight.id, dw);
            }
            (Some(node), None) => grads.register::<Flex>(node.id, conv_forward(&dy, &weight, &g)),
            (None, Some(node)) => grads.register::<Flex>(node.id, conv_weight_grad(&dy, &x, &g)),
            (None, None) => {}
        }
    }
}

impl<C: CheckpointStrategy> GemmConvBackend for Autodiff<Flex, C> {
    fn few_rows_matmul(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        match FewRowsBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight));
                prep.finish(state, few_rows(x.primitive(), weight.primitive()))
            }
            OpsKind::UnTracked(prep) => prep.finish(few_rows(x.primitive(), weight.primitive())),
        }
    }

    fn gemm_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        g: Geometry,
    ) -> FloatTensor<Self> {
        match Conv2dBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight), g);
                let y = conv_forward(x.primitive(), weight.primitive(), &g);
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(conv_forward(x.primitive(), weight.primitive(), &g))
            }
        }
    }

    fn gemm_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        g: Geometry,
    ) -> FloatTensor<Self> {
        match ConvTranspose2dBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight), g);
                let y = conv_input_grad(x.primitive(), weight.primitive(), &g);
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(conv_input_grad(x.primitive(), weight.primitive(), &g))
            }
        }
    }
}

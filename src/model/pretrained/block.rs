//! One MBConv block of EfficientNet-Lite: 1x1 expansion, depthwise convolution, 1x1 projection, residual add.

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu6;

use super::stage::BlockSpec;
use crate::model::{NamedTensor, NamedTensors};

/// Inverted residual block without squeeze-excitation (the "lite" variant). Batch norm is folded
/// into each convolution's weight and bias.
#[derive(Module, Debug)]
pub struct MbConv {
    /// Widens the channels by the expansion ratio (absent in block 0, whose ratio is 1).
    pub expand: Option<Conv2d>,
    /// One filter per channel (`groups` = channels); carries the block's stride.
    pub depthwise: Conv2d,
    /// Narrows to the block's output channels, with no activation after it.
    pub project: Conv2d,
    /// Whether the input is added to the output (stride 1 and equal channels).
    residual: bool,
}

impl MbConv {
    /// Block `n` from weights by source name (`_blocks.{n}._expand_conv.weight`, ...), already
    /// checked against the block table.
    pub(super) fn from_tensors(
        n: usize,
        spec: &BlockSpec,
        tensors: &NamedTensors,
        device: &Device,
    ) -> Self {
        let name = |part: &str| format!("_blocks.{n}.{part}");
        let hidden = spec.c_in * spec.expand;
        Self {
            expand: (spec.expand != 1).then(|| conv(tensors, &name("_expand_conv"), 1, 1, device)),
            depthwise: conv(
                tensors,
                &name("_depthwise_conv"),
                spec.stride,
                hidden,
                device,
            ),
            project: conv(tensors, &name("_project_conv"), 1, 1, device),
            residual: spec.stride == 1 && spec.c_in == spec.c_out,
        }
    }

    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let x = match &self.expand {
            Some(expand) => relu6(expand.forward(input.clone())),
            None => input.clone(),
        };
        let x = self.project.forward(relu6(self.depthwise.forward(x)));
        if self.residual { x + input } else { x }
    }
}

/// The convolution `name` (weight `[out, in / groups, k, k]` and bias) with TensorFlow "SAME"
/// padding, the rule the weights were trained with: output side ceil(n / stride), the odd
/// padding row or column at the bottom or right. burn's `PaddingConfig2d::Same` computes exactly
/// that from each input's size.
pub(super) fn conv(
    tensors: &NamedTensors,
    name: &str,
    stride: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    let weight = &tensors[&format!("{name}.weight")];
    let kernel = weight.shape[3];
    Conv2d {
        weight: param(weight, device),
        bias: Some(param(&tensors[&format!("{name}.bias")], device)),
        stride: [stride, stride],
        kernel_size: [kernel, kernel],
        dilation: [1, 1],
        groups,
        padding: PaddingConfig2d::Same,
    }
}

fn param<const N: usize>(t: &NamedTensor, device: &Device) -> Param<Tensor<N>> {
    let shape: [usize; N] = t
        .shape
        .clone()
        .try_into()
        .expect("shape checked on loading");
    Param::from_tensor(Tensor::from_data(
        TensorData::new(t.values.clone(), shape),
        device,
    ))
}

//! The VAE's convolutions on burn's flex CPU backend computed as im2col + one GEMM per image in
//! all three passes (output, input gradient, weight gradient), and its transposed convolutions
//! as the same products in the other direction. flex computes a convolution's weight gradient
//! as a dilated convolution whose unfolding does not vectorise, and its transposed convolution
//! by scattering (docs/speed.md). Also the linear layers on fewer rows than threads (decoding
//! one latent), as a product whose columns are split over the threads. Other devices, and
//! convolutions with groups, dilation or uneven padding, go through burn's own operations
//! unchanged.

mod flex;
mod kernels;

use burn::backend::{Dispatch, DispatchDevice};
use burn::module::Param;
use burn::nn::Linear;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::DType;

use flex::GemmConvBackend;
pub use kernels::Geometry;

/// `conv.forward(x)`, through the GEMM kernels on flex.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [_, channels, height, width] = x.dims();
    let [kh, kw] = conv.kernel_size;
    let [top, left] = match conv.padding {
        PaddingConfig2d::Valid => [0, 0],
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => {
            [top, left]
        }
        _ => return conv.forward(x),
    };
    let fits = height + 2 * top >= kh && width + 2 * left >= kw;
    if !(on_flex(&x) && fits && plain(conv.dilation, conv.groups)) {
        return conv.forward(x);
    }
    let g = Geometry {
        channels,
        input: [height, width],
        kernel: conv.kernel_size,
        stride: conv.stride,
        padding: [top, left],
        output: [
            (height + 2 * top - kh) / conv.stride[0] + 1,
            (width + 2 * left - kw) / conv.stride[1] + 1,
        ],
    };
    let y = <Dispatch as GemmConvBackend>::gemm_conv2d(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        g,
    );
    with_bias(Tensor::from_dispatch(y), &conv.bias)
}

/// `deconv.forward(x)`, through the GEMM kernels on flex.
pub fn conv_transpose2d(deconv: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let [_, _, height, width] = x.dims();
    let [kh, kw] = deconv.kernel_size;
    let ([sh, sw], [ph, pw], [oh, ow]) = (deconv.stride, deconv.padding, deconv.padding_out);
    let (out_h, out_w) = (
        ((height - 1) * sh + kh + oh).checked_sub(2 * ph),
        ((width - 1) * sw + kw + ow).checked_sub(2 * pw),
    );
    let (Some(out_h), Some(out_w)) = (out_h, out_w) else {
        return deconv.forward(x);
    };
    if !(on_flex(&x) && height > 0 && width > 0 && plain(deconv.dilation, deconv.groups)) {
        return deconv.forward(x);
    }
    // The convolution whose input gradient this transposed convolution is: it reads the
    // output's `weight.dims()[1]` channels and gives `x`'s.
    let g = Geometry {
        channels: deconv.weight.dims()[1],
        input: [out_h, out_w],
        kernel: deconv.kernel_size,
        stride: deconv.stride,
        padding: deconv.padding,
        output: [height, width],
    };
    let y = <Dispatch as GemmConvBackend>::gemm_conv_transpose2d(
        x.into_dispatch(),
        deconv.weight.val().into_dispatch(),
        g,
    );
    with_bias(Tensor::from_dispatch(y), &deconv.bias)
}

/// `linear.forward(x)`, for fewer rows than threads through a product whose columns are
/// split over the threads on flex (a one-row product with a large layer is bound by memory
/// bandwidth, which one thread does not use fully).
pub fn linear(linear: &Linear, x: Tensor<2>) -> Tensor<2> {
    let [rows, _] = x.dims();
    if !on_flex(&x) || rows >= rayon::current_num_threads() {
        return linear.forward(x);
    }
    let y = <Dispatch as GemmConvBackend>::few_rows_matmul(
        x.into_dispatch(),
        linear.weight.val().into_dispatch(),
    );
    let y = Tensor::from_dispatch(y);
    match &linear.bias {
        Some(bias) => y + bias.val().unsqueeze::<2>(),
        None => y,
    }
}

/// Whether `x` is an f32 tensor on flex (with or without autodiff).
fn on_flex<const D: usize>(x: &Tensor<D>) -> bool {
    let device = x.device().without_autodiff();
    matches!(device.as_dispatch(), DispatchDevice::Flex(_)) && x.dtype() == DType::F32
}

/// No dilation and no groups: what the kernels compute.
fn plain(dilation: [usize; 2], groups: usize) -> bool {
    dilation == [1, 1] && groups == 1
}

fn with_bias(y: Tensor<4>, bias: &Option<Param<Tensor<1>>>) -> Tensor<4> {
    match bias {
        Some(bias) => {
            let channels = bias.dims()[0];
            y + bias.val().reshape([1, channels, 1, 1])
        }
        None => y,
    }
}

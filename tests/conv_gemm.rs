//! The GEMM convolutions on flex (src/model/conv_gemm) against burn's own: outputs and the
//! gradients of input, weight and bias, on shapes with stride 1 and 2, padding 0 to 2, kernels
//! of 3 and 4 and odd sides; and against finite differences on one small case.

use burn::module::Param;
use burn::nn::Linear;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::Device;
use rand::{Rng, SeedableRng, rngs::StdRng};
use vaelens::model::conv_gemm::{conv_transpose2d, conv2d, linear};
use vaelens::model::to_host;

fn device() -> Device {
    Device::flex().autodiff()
}

fn random<const D: usize>(shape: [usize; D], rng: &mut StdRng) -> Tensor<D> {
    let len = shape.iter().product();
    let values: Vec<f32> = (0..len).map(|_| rng.random_range(-1.0..1.0)).collect();
    Tensor::from_data(TensorData::new(values, shape), &device())
}

/// One shape to test: batch, input and output channels, height and width of the input,
/// kernel side, stride, padding.
#[derive(Clone, Copy, Debug)]
struct Case {
    n: usize,
    c_in: usize,
    c_out: usize,
    h: usize,
    w: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
}

const CASES: [Case; 6] = [
    Case {
        n: 3,
        c_in: 2,
        c_out: 5,
        h: 16,
        w: 16,
        kernel: 4,
        stride: 2,
        padding: 1,
    },
    Case {
        n: 1,
        c_in: 3,
        c_out: 4,
        h: 9,
        w: 7,
        kernel: 4,
        stride: 2,
        padding: 1,
    },
    Case {
        n: 2,
        c_in: 4,
        c_out: 3,
        h: 8,
        w: 8,
        kernel: 3,
        stride: 1,
        padding: 1,
    },
    Case {
        n: 5,
        c_in: 1,
        c_out: 6,
        h: 11,
        w: 10,
        kernel: 3,
        stride: 2,
        padding: 0,
    },
    Case {
        n: 2,
        c_in: 3,
        c_out: 2,
        h: 6,
        w: 9,
        kernel: 4,
        stride: 1,
        padding: 2,
    },
    Case {
        n: 4,
        c_in: 8,
        c_out: 8,
        h: 5,
        w: 5,
        kernel: 3,
        stride: 2,
        padding: 2,
    },
];

fn conv_of(case: Case, rng: &mut StdRng) -> Conv2d {
    let Case {
        c_in,
        c_out,
        kernel,
        stride,
        padding: p,
        ..
    } = case;
    Conv2d {
        weight: Param::from_tensor(random([c_out, c_in, kernel, kernel], rng)),
        bias: Some(Param::from_tensor(random([c_out], rng))),
        stride: [stride, stride],
        kernel_size: [kernel, kernel],
        dilation: [1, 1],
        groups: 1,
        padding: PaddingConfig2d::Explicit(p, p, p, p),
    }
}

fn deconv_of(case: Case, rng: &mut StdRng) -> ConvTranspose2d {
    let Case {
        c_in,
        c_out,
        kernel,
        stride,
        padding,
        ..
    } = case;
    ConvTranspose2d {
        weight: Param::from_tensor(random([c_in, c_out, kernel, kernel], rng)),
        bias: Some(Param::from_tensor(random([c_out], rng))),
        stride: [stride, stride],
        kernel_size: [kernel, kernel],
        dilation: [1, 1],
        groups: 1,
        padding: [padding, padding],
        padding_out: [stride - 1, 0],
        channels: [c_in, c_out],
    }
}

/// The output and the gradients of (output * r).sum() with respect to the input, weight and
/// bias, all on the host.
type Results = [Vec<f32>; 4];

fn results(
    x: Tensor<4>,
    weight: &Param<Tensor<4>>,
    bias: &Param<Tensor<1>>,
    forward: impl Fn(Tensor<4>) -> Tensor<4>,
    seed: u64,
) -> Results {
    let x = x.require_grad();
    let y = forward(x.clone());
    let r = random(y.dims(), &mut StdRng::seed_from_u64(seed));
    let grads = (y.clone() * r).sum().backward();
    let grad = |t: Tensor<4>| to_host(t.grad(&grads).expect("a gradient"));
    [
        to_host(y),
        grad(x),
        grad(weight.val()),
        to_host(bias.val().grad(&grads).expect("a bias gradient")),
    ]
}

fn assert_close(ours: &Results, theirs: &Results, case: impl std::fmt::Debug) {
    for (what, (a, b)) in ["output", "input grad", "weight grad", "bias grad"]
        .iter()
        .zip(ours.iter().zip(theirs))
    {
        assert_eq!(a.len(), b.len(), "{what} of {case:?}");
        for (i, (a, b)) in a.iter().zip(b).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "{what} [{i}] of {case:?}: {a} vs burn's {b}"
            );
        }
    }
}

#[test]
fn convolution_and_its_gradients_equal_burns() {
    let mut rng = StdRng::seed_from_u64(1);
    for case in CASES {
        let conv = conv_of(case, &mut rng);
        let x = random([case.n, case.c_in, case.h, case.w], &mut rng);
        let bias = conv.bias.as_ref().unwrap();
        let ours = results(x.clone(), &conv.weight, bias, |x| conv2d(&conv, x), 7);
        let theirs = results(x, &conv.weight, bias, |x| conv.forward(x), 7);
        assert_close(&ours, &theirs, case);
    }
}

#[test]
fn transposed_convolution_and_its_gradients_equal_burns() {
    let mut rng = StdRng::seed_from_u64(2);
    for case in CASES {
        let deconv = deconv_of(case, &mut rng);
        let x = random([case.n, case.c_in, case.h, case.w], &mut rng);
        let bias = deconv.bias.as_ref().unwrap();
        let ours = results(
            x.clone(),
            &deconv.weight,
            bias,
            |x| conv_transpose2d(&deconv, x),
            8,
        );
        let theirs = results(x, &deconv.weight, bias, |x| deconv.forward(x), 8);
        assert_close(&ours, &theirs, case);
    }
}

/// (output * r).sum() is linear in the input and in the weight, so a central difference is
/// exact up to rounding.
#[test]
fn gradients_match_finite_differences() {
    let mut rng = StdRng::seed_from_u64(3);
    let case = Case {
        n: 2,
        c_in: 2,
        c_out: 3,
        h: 5,
        w: 6,
        kernel: 3,
        stride: 2,
        padding: 1,
    };
    let conv = conv_of(case, &mut rng);
    let x = random([case.n, case.c_in, case.h, case.w], &mut rng);
    let bias = conv.bias.as_ref().unwrap();
    let [_, dx, dw, _] = results(x.clone(), &conv.weight, bias, |x| conv2d(&conv, x), 0);
    // The r that results() drew from seed 0 for the output's shape, 3 x 3.
    let r = random([case.n, case.c_out, 3, 3], &mut StdRng::seed_from_u64(0));
    let loss = |conv: &Conv2d, x: Tensor<4>| to_host((conv2d(conv, x) * r.clone()).sum())[0];
    let h = 0.25;
    let x_host = to_host(x.clone());
    for i in [0, 7, 29, 59] {
        let nudged = |delta: f32| {
            let mut v = x_host.clone();
            v[i] += delta;
            Tensor::from_data(TensorData::new(v, x.dims()), &device())
        };
        let numeric = (loss(&conv, nudged(h)) - loss(&conv, nudged(-h))) / (2.0 * h);
        assert!(
            (numeric - dx[i]).abs() < 1e-3,
            "input [{i}]: {numeric} vs {}",
            dx[i]
        );
    }
    let w_host = to_host(conv.weight.val());
    for i in [0, 13, 35, 53] {
        let nudged = |delta: f32| {
            let mut v = w_host.clone();
            v[i] += delta;
            Conv2d {
                weight: Param::from_tensor(Tensor::from_data(
                    TensorData::new(v, conv.weight.dims()),
                    &device(),
                )),
                ..conv.clone()
            }
        };
        let numeric = (loss(&nudged(h), x.clone()) - loss(&nudged(-h), x.clone())) / (2.0 * h);
        assert!(
            (numeric - dw[i]).abs() < 1e-3,
            "weight [{i}]: {numeric} vs {}",
            dw[i]
        );
    }
}

/// A linear layer on one row (what decoding one latent does) goes through the product whose
/// columns are split over the threads: its output and the gradients of input, weight and bias
/// equal burn's.
#[test]
fn one_row_linear_and_its_gradients_equal_burns() {
    let mut rng = StdRng::seed_from_u64(4);
    for (inputs, outputs) in [(5, 9), (32, 300), (7, 1)] {
        let layer = Linear {
            weight: Param::from_tensor(random([inputs, outputs], &mut rng)),
            bias: Some(Param::from_tensor(random([outputs], &mut rng))),
        };
        let x = random([1, inputs], &mut rng);
        let r = random([1, outputs], &mut rng);
        let run = |forward: &dyn Fn(Tensor<2>) -> Tensor<2>| {
            let x = x.clone().require_grad();
            let y = forward(x.clone());
            let grads = (y.clone() * r.clone()).sum().backward();
            [
                to_host(y),
                to_host(x.grad(&grads).expect("an input gradient")),
                to_host(layer.weight.val().grad(&grads).expect("a weight gradient")),
                to_host(
                    layer
                        .bias
                        .as_ref()
                        .unwrap()
                        .val()
                        .grad(&grads)
                        .expect("a bias gradient"),
                ),
            ]
        };
        let ours = run(&|x| linear(&layer, x));
        let theirs = run(&|x| layer.forward(x));
        assert_close(&ours, &theirs, [inputs, outputs]);
    }
}

//! EfficientNet-Lite0 feature stages (src/model/pretrained) against PyTorch: each stage's output
//! and the gradients through the stages, for gray and RGB images of even and odd sizes (fixtures
//! made by tests/fixtures/pretrained/make_fixtures.py from the bundled weights); and the stages'
//! parameters stay frozen.

use std::path::PathBuf;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;

use vaelens::model::pretrained::{Lite0Config, Lite0Features, Lite0Stage};
use vaelens::model::{NamedTensor, NamedTensors, read_safetensors, to_host};

const CASES: [&str; 4] = ["gray64", "rgb64", "gray70x54", "rgb70x54"];

/// Numbers in the bundled weights (stem and blocks 0..=10, weights and folded biases).
const PARAMETERS: usize = 692_688;

fn fixtures() -> NamedTensors {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pretrained/expected.safetensors");
    read_safetensors(&path).unwrap().0
}

fn tensor(t: &NamedTensor, device: &Device) -> Tensor<4> {
    let shape: [usize; 4] = t.shape.clone().try_into().unwrap();
    Tensor::from_data(TensorData::new(t.values.clone(), shape), device)
}

fn name(stage: Lite0Stage) -> String {
    format!("stride{}", stage.stride())
}

/// max |got - want| / max |want|, after checking the shapes agree.
fn relative_error(what: &str, got: Tensor<4>, want: &NamedTensor) -> f32 {
    assert_eq!(got.dims().to_vec(), want.shape, "{what}: shape");
    let got = to_host(got);
    let scale = want.values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "{what}: an all-zero reference tests nothing");
    let worst = got
        .iter()
        .zip(&want.values)
        .fold(0.0f32, |m, (g, w)| m.max((g - w).abs()));
    let error = worst / scale;
    println!("{what}: relative error {error:.2e}");
    assert!(
        error < 1e-4,
        "{what}: relative error {error:.2e} (scale {scale})"
    );
    error
}

fn stages(device: &Device) -> Lite0Features {
    Lite0Config::default().init(device).unwrap()
}

#[test]
fn every_stage_matches_pytorch() {
    let device = Device::flex();
    let model = stages(&device);
    let fx = fixtures();
    for case in CASES {
        let input = tensor(&fx[&format!("{case}.input")], &device);
        let outputs = model.forward(input, &Lite0Stage::ALL);
        for (stage, output) in Lite0Stage::ALL.into_iter().zip(outputs) {
            let key = format!("{case}.{}", name(stage));
            assert_eq!(output.dims()[1], stage.channels(), "{key}: channels");
            relative_error(&key, output, &fx[&key]);
        }
    }
}

#[test]
fn shallower_builds_and_requests_agree_with_the_full_pass() {
    let device = Device::flex();
    let fx = fixtures();
    let input = tensor(&fx["rgb70x54.input"], &device);
    let shallow = Lite0Config::new(Lite0Stage::Stride8).init(&device).unwrap();
    assert_eq!(shallow.blocks.len(), 5);
    // Stages in any order, a stage twice.
    let order = [
        Lite0Stage::Stride8,
        Lite0Stage::Stride2,
        Lite0Stage::Stride8,
    ];
    for (stage, output) in order.into_iter().zip(shallow.forward(input, &order)) {
        let key = format!("rgb70x54.{}", name(stage));
        relative_error(&key, output, &fx[&key]);
    }
    // Resuming from stride 4 reaches the same stride-16 maps.
    let full = stages(&device);
    let s4 = tensor(&fx["gray64.stride4"], &device);
    let s16 = full.forward_from(s4, Lite0Stage::Stride4, Lite0Stage::Stride16);
    relative_error("gray64.stride16 from stride4", s16, &fx["gray64.stride16"]);
}

#[test]
#[should_panic(expected = "only blocks 0..=4 were built")]
fn a_stage_beyond_the_build_is_refused() {
    let device = Device::flex();
    let shallow = Lite0Config::new(Lite0Stage::Stride8).init(&device).unwrap();
    shallow.forward(
        Tensor::zeros([1, 1, 32, 32], &device),
        &[Lite0Stage::Stride16],
    );
}

#[test]
#[should_panic(expected = "images have 2 channels")]
fn two_channel_images_are_refused() {
    let device = Device::flex();
    let model = Lite0Config::new(Lite0Stage::Stride2).init(&device).unwrap();
    model.forward(
        Tensor::zeros([1, 2, 16, 16], &device),
        &[Lite0Stage::Stride2],
    );
}

/// The gradient of the summed stride-16 maps reaches the input and the stride-4 maps as in
/// PyTorch, and none of it reaches a parameter, in training mode too.
#[test]
fn gradients_flow_through_the_frozen_stages() {
    let device = Device::flex().autodiff();
    let model = stages(&device);
    assert_eq!(model.num_params(), PARAMETERS);
    let fx = fixtures();
    for case in CASES {
        let input = tensor(&fx[&format!("{case}.input")], &device).require_grad();
        let s16 = model
            .forward(input.clone(), &[Lite0Stage::Stride16])
            .remove(0);
        let grads = s16.sum().backward();
        let grad = input.grad(&grads).expect("the input is a tracked leaf");
        let key = format!("{case}.grad_input");
        relative_error(&key, grad, &fx[&key]);
        let params = GradientsParams::from_grads(grads, &model);
        assert!(
            params.is_empty(),
            "{case}: {} parameters got a gradient",
            params.len()
        );

        let input = tensor(&fx[&format!("{case}.input")], &device);
        let s4 = model.forward(input, &[Lite0Stage::Stride4]).remove(0);
        let s4 = s4.detach().require_grad();
        let s16 = model.forward_from(s4.clone(), Lite0Stage::Stride4, Lite0Stage::Stride16);
        let grad = s4.grad(&s16.sum().backward()).expect("a tracked leaf");
        let key = format!("{case}.grad_stride4");
        relative_error(&key, grad, &fx[&key]);
    }

    let training = model.train();
    let input = tensor(&fx["gray64.input"], &device).require_grad();
    let s16 = training
        .forward(input.clone(), &[Lite0Stage::Stride16])
        .remove(0);
    let grads = s16.sum().backward();
    assert!(input.grad(&grads).is_some());
    assert!(GradientsParams::from_grads(grads, &training).is_empty());
}

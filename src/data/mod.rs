//! Data layer: MVTec-layout discovery, plain image folders, decoding and resizing, masks,
//! in-memory training sets and the synthetic defect generator used for the sample data.

pub mod decode;
pub mod dsprites;
pub mod error;
pub mod layout;
pub mod synth;
pub mod synth_object;
pub mod train_set;

pub use decode::{
    IMAGE_EXTENSIONS, channels_of, is_image_path, load_image, load_mask, to_model_input,
};
pub use error::DataError;
pub use layout::{Category, LayoutKind, TestImage, discover_categories};
pub use synth::{
    DefectKind, SynthConfig, SynthItem, SynthSample, SynthSummary, synth_category, synth_image,
};
pub use synth_object::{ObjectDefect, ObjectShape, synth_object_category, synth_object_image};
pub use train_set::{Skipped, TrainSet, detect_channels};

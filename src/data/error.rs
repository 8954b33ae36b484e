//! Errors of the data layer: every message names the file or folder and what was expected.

use std::path::PathBuf;

/// What the MVTec layout and plain folders look like, repeated in messages about empty or wrong folders.
pub const EXPECTED_LAYOUT: &str = "expected an MVTec category (CAT/train/good/*.png, optional CAT/test/<defect>/*, \
     CAT/ground_truth/<defect>/<stem>_mask.png) or a plain folder of images (png, jpg, jpeg, bmp, tif, tiff)";

/// Everything that can go wrong while finding, decoding or generating image data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: not found")]
    NotFound { path: PathBuf },
    #[error(
        "{path}: the image is {width} x {height} px, more than the {} megapixels vaelens decodes; \
         resize it first",
        crate::data::decode::MAX_IMAGE_PIXELS / 1_000_000
    )]
    TooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
    },

    #[error("{path}: not a directory; {EXPECTED_LAYOUT}")]
    NotADirectory { path: PathBuf },

    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{dir}: no images found; {EXPECTED_LAYOUT}")]
    NoImages { dir: PathBuf },

    #[error("{dir}: {problem}; {EXPECTED_LAYOUT}")]
    WrongLayout { dir: PathBuf, problem: String },

    #[error("{dir} holds several categories; pick one category: {}", categories.join(", "))]
    MultipleCategories {
        dir: PathBuf,
        categories: Vec<String>,
    },

    #[error(
        "no usable training images in {folder}{}; {EXPECTED_LAYOUT}",
        if *skipped > 0 { format!(" ({skipped} file(s) skipped because they could not be decoded)") } else { String::new() }
    )]
    EmptyTrainSet { folder: PathBuf, skipped: usize },

    #[error("{path}: cannot decode image: {reason}")]
    Decode { path: PathBuf, reason: String },

    #[error(
        "mask {mask} is {}x{} but its image {image} is {}x{}; masks must have the image's size",
        mask_size.0, mask_size.1, image_size.0, image_size.1
    )]
    MaskSize {
        mask: PathBuf,
        mask_size: (u32, u32),
        image: PathBuf,
        image_size: (u32, u32),
    },

    #[error("cannot write {path}: {}", strip_path(source, path))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{path}: output folder exists and is not empty; choose a new folder (nothing is overwritten)"
    )]
    OutputNotEmpty { path: PathBuf },

    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// The I/O error's message without a leading "PATH: " that the atomic writer may have added.
fn strip_path(err: &std::io::Error, path: &std::path::Path) -> String {
    let msg = err.to_string();
    let prefix = format!("{}: ", path.display());
    msg.strip_prefix(&prefix).map(str::to_string).unwrap_or(msg)
}

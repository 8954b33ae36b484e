//! Image decoding (8/16-bit gray, RGB, RGBA, palette), conversion to the model's CHW f32 input,
//! and ground-truth masks.

use std::path::Path;

use image::imageops::{self, FilterType};
use image::{ColorType, DynamicImage, ImageBuffer, ImageReader, Luma, Rgb};

use super::error::DataError;

/// File extensions (lower case) recognised as images.
pub const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff"];

/// True when the path has one of [`IMAGE_EXTENSIONS`] (case-insensitive) and is not a hidden file.
pub fn is_image_path(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if name.starts_with('.') {
        return false;
    }
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
        .unwrap_or(false)
}

/// Decodes an image file. The format is taken from the file's content (falling back to the
/// extension); palette PNGs are expanded to RGB(A), 16-bit images keep 16 bits.
pub fn load_image(path: &Path) -> Result<DynamicImage, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::NotFound {
            path: path.to_path_buf(),
        },
        _ => DataError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    if meta.is_dir() {
        return Err(DataError::Decode {
            path: path.to_path_buf(),
            reason: "is a directory, not an image file".into(),
        });
    }
    if meta.len() == 0 {
        return Err(DataError::Decode {
            path: path.to_path_buf(),
            reason: "empty file (0 bytes)".into(),
        });
    }
    let reader = ImageReader::open(path)
        .map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            source: e,
        })?
        .with_guessed_format()
        .map_err(|e| DataError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
    if reader.format().is_none() {
        return Err(DataError::Decode {
            path: path.to_path_buf(),
            reason: "unrecognised image format (expected png, jpeg, bmp or tiff)".into(),
        });
    }
    reader.decode().map_err(|e| DataError::Decode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Number of model channels an image naturally has: 1 for gray and gray+alpha, 3 otherwise.
pub fn channels_of(img: &DynamicImage) -> usize {
    match img.color() {
        ColorType::L8 | ColorType::L16 | ColorType::La8 | ColorType::La16 => 1,
        _ => 3,
    }
}

/// CHW f32 values in [0, 1], resized to `size`x`size` with a triangle (bilinear) filter.
/// The image is converted to f32 before resizing, so 16-bit images keep their precision.
/// Gray to 3 channels replicates the gray value; colour to 1 channel uses Rec. 709 luma;
/// alpha is dropped. `channels` must be 1 or 3 (anything else is treated as 3).
pub fn to_model_input(img: &DynamicImage, channels: usize, size: u32) -> Vec<f32> {
    let (w, h) = (img.width(), img.height());
    let plane = (size as usize) * (size as usize);
    if channels == 1 {
        let gray: ImageBuffer<Luma<f32>, Vec<f32>> = luma32f(img);
        let gray = if (w, h) == (size, size) {
            gray
        } else {
            imageops::resize(&gray, size, size, FilterType::Triangle)
        };
        gray.into_raw()
            .into_iter()
            .map(|v| v.clamp(0.0, 1.0))
            .collect()
    } else {
        let rgb: ImageBuffer<Rgb<f32>, Vec<f32>> = img.to_rgb32f();
        let rgb = if (w, h) == (size, size) {
            rgb
        } else {
            imageops::resize(&rgb, size, size, FilterType::Triangle)
        };
        let raw = rgb.into_raw();
        let mut out = vec![0.0f32; 3 * plane];
        for (p, px) in raw.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * plane + p] = px[c].clamp(0.0, 1.0);
            }
        }
        out
    }
}

/// Gray f32 version of any image (luma for colour images, exact scaling for 16-bit).
fn luma32f(img: &DynamicImage) -> ImageBuffer<Luma<f32>, Vec<f32>> {
    let (w, h) = (img.width(), img.height());
    let data: Vec<f32> = match img {
        DynamicImage::ImageLuma8(b) => b.as_raw().iter().map(|&v| v as f32 / 255.0).collect(),
        DynamicImage::ImageLumaA8(b) => b
            .as_raw()
            .chunks_exact(2)
            .map(|p| p[0] as f32 / 255.0)
            .collect(),
        DynamicImage::ImageLuma16(b) => b.as_raw().iter().map(|&v| v as f32 / 65535.0).collect(),
        DynamicImage::ImageLumaA16(b) => b
            .as_raw()
            .chunks_exact(2)
            .map(|p| p[0] as f32 / 65535.0)
            .collect(),
        other => other
            .to_rgb32f()
            .into_raw()
            .chunks_exact(3)
            .map(|p| 0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2])
            .collect(),
    };
    ImageBuffer::from_raw(w, h, data).expect("buffer length matches image size")
}

/// Loads a ground-truth mask as row-major booleans (value > 127 is defect). The mask must have
/// the size `expected` (width, height) of the image at `image_path`, or the error names both files.
pub fn load_mask(
    path: &Path,
    expected: (u32, u32),
    image_path: &Path,
) -> Result<Vec<bool>, DataError> {
    let img = load_image(path)?;
    if (img.width(), img.height()) != expected {
        return Err(DataError::MaskSize {
            mask: path.to_path_buf(),
            mask_size: (img.width(), img.height()),
            image: image_path.to_path_buf(),
            image_size: expected,
        });
    }
    Ok(img
        .to_luma8()
        .into_raw()
        .into_iter()
        .map(|v| v > 127)
        .collect())
}

//! Image decoding (8/16-bit gray, RGB, RGBA, palette), conversion to the model's CHW f32 input,
//! and ground-truth masks.

use std::path::Path;

use image::imageops::{self, FilterType};
use image::{ColorType, DynamicImage, ImageBuffer, ImageFormat, ImageReader, Luma, Rgb};

use super::error::DataError;

/// File extensions (lower case) recognised as images.
pub const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff"];

/// True when the path has one of [`IMAGE_EXTENSIONS`] (case-insensitive) and is not a hidden file.
/// Names that are not valid UTF-8 count too (the path is kept as the OS gave it).
pub fn is_image_path(path: &Path) -> bool {
    let Some(name) = path.file_name() else {
        return false;
    };
    if name.to_string_lossy().starts_with('.') {
        return false;
    }
    path.extension()
        .map(|e| e.to_string_lossy())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Decodes an image file. The format is taken from the file's content (falling back to the
/// extension); palette PNGs are expanded to RGB(A), 16-bit images keep 16 bits. Paths under the
/// dSprites gallery's virtual root are rendered from the factors they name.
pub fn load_image(path: &Path) -> Result<DynamicImage, DataError> {
    if super::dsprites::is_gallery_path(path) {
        return super::dsprites::parse_gallery_path(path)
            .map(super::dsprites::render_image)
            .ok_or_else(|| DataError::Decode {
                path: path.to_path_buf(),
                reason: "not an image of the dSprites gallery (shape-scaleS-rotR-xX-yY.png)".into(),
            });
    }
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
    let open = || {
        ImageReader::open(path)
            .and_then(|r| r.with_guessed_format())
            .map_err(|e| DataError::Io {
                path: path.to_path_buf(),
                source: e,
            })
    };
    let decode_error = |e: image::ImageError| DataError::Decode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let reader = open()?;
    if reader.format().is_none() {
        return Err(DataError::Decode {
            path: path.to_path_buf(),
            reason: "unrecognised image format (expected png, jpeg, bmp or tiff)".into(),
        });
    }
    let reader_format = reader.format();
    // The header first: a small file can declare a huge image (a decompression bomb).
    let (width, height) = reader.into_dimensions().map_err(decode_error)?;
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(DataError::TooLarge {
            path: path.to_path_buf(),
            width,
            height,
        });
    }
    if reader_format == Some(ImageFormat::Jpeg) && !ends_with_jpeg_marker(path)? {
        return Err(DataError::Decode {
            path: path.to_path_buf(),
            reason: "truncated JPEG (no end-of-image marker)".into(),
        });
    }
    let mut reader = open()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    reader.decode().map_err(decode_error)
}

/// Whether a JPEG file ends with its end-of-image marker (FF D9), allowing a little trailing
/// padding: the decoder fills a truncated file's missing rows silently.
fn ends_with_jpeg_marker(path: &Path) -> Result<bool, DataError> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(64)))
        .map_err(io)?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).map_err(io)?;
    Ok(tail.windows(2).any(|w| w == [0xFF, 0xD9]))
}

/// Most pixels an image may have (a 6000 x 4000 camera frame): decoding and converting one to
/// f32 then takes about 400 MB, so the loader's threads stay well within 2 GB.
pub const MAX_IMAGE_PIXELS: u64 = 24_000_000;
/// Most bytes the decoder may allocate for one image.
const MAX_DECODE_BYTES: u64 = 512 << 20;

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

/// Loads a ground-truth mask as row-major booleans. Defect is at least half the mask's largest
/// value: 255 in MVTec's 0/255 masks, 1 in 0/1 masks, and a gray mask's brighter half (an all-zero
/// mask is all good). The mask must have the size `expected` (width, height) of the image at
/// `image_path`, or the error names both files.
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
    let values = img.to_luma8().into_raw();
    let max = values.iter().copied().max().unwrap_or(0);
    if max == 0 {
        return Ok(vec![false; values.len()]);
    }
    let threshold = max.div_ceil(2);
    Ok(values.into_iter().map(|v| v >= threshold).collect())
}

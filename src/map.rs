//! Float maps (attention and anomaly maps): the buffer type, min-max, PyTorch-exact bilinear
//! resizing, and 32-bit float TIFF reading and writing (what the official MVTec evaluation reads).

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageBuffer, Luma};
use tiff::decoder::{Decoder, DecodingResult};
use tiff::encoder::{TiffEncoder, colortype::Gray32Float};

use crate::fsx::write_atomic;

/// A single-channel `f32` map, row-major.
pub type FloatMap = ImageBuffer<Luma<f32>, Vec<f32>>;

/// Why a map file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: cannot decode: {message}")]
    Decode { path: PathBuf, message: String },
    #[error(
        "{path}: unsupported map ({what}); expected a one-channel 32-bit float TIFF or an 8/16-bit grayscale image"
    )]
    Unsupported { path: PathBuf, what: String },
}

/// Smallest and largest finite value of `map`; (0, 0) when it has none.
pub fn min_max(map: &FloatMap) -> (f32, f32) {
    let (lo, hi) = map
        .as_raw()
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi { (0.0, 0.0) } else { (lo, hi) }
}

/// Resizes `map` to `width` x `height` as PyTorch's
/// `F.interpolate(mode="bilinear", align_corners=False)` does: half-pixel centres, source
/// coordinates below 0 clamped to 0, the upper neighbour clamped at the border, no antialiasing.
/// Coordinates and weights are computed in `f32` as PyTorch's CPU kernel does.
pub fn resize_bilinear(map: &FloatMap, width: u32, height: u32) -> FloatMap {
    let (in_w, in_h) = map.dimensions();
    if (in_w, in_h) == (width, height) {
        return map.clone();
    }
    if in_w == 0 || in_h == 0 {
        return FloatMap::new(width, height);
    }
    let xs = axis_weights(in_w, width);
    let ys = axis_weights(in_h, height);
    let src = map.as_raw();
    let row = |y: usize| &src[y * in_w as usize..(y + 1) * in_w as usize];
    let mut out = Vec::with_capacity(width as usize * height as usize);
    for &(y0, y1, wy0, wy1) in &ys {
        let (r0, r1) = (row(y0), row(y1));
        out.extend(xs.iter().map(|&(x0, x1, wx0, wx1)| {
            wy0 * (wx0 * r0[x0] + wx1 * r0[x1]) + wy1 * (wx0 * r1[x0] + wx1 * r1[x1])
        }));
    }
    FloatMap::from_raw(width, height, out).unwrap_or_else(|| FloatMap::new(width, height))
}

/// Per output index: (lower source index, upper source index, lower weight, upper weight).
fn axis_weights(in_len: u32, out_len: u32) -> Vec<(usize, usize, f32, f32)> {
    let scale = in_len as f32 / out_len as f32;
    (0..out_len)
        .map(|dst| {
            let src = (scale * (dst as f32 + 0.5) - 0.5).max(0.0);
            let i0 = (src as usize).min(in_len as usize - 1);
            let i1 = if i0 + 1 < in_len as usize { i0 + 1 } else { i0 };
            let w1 = src - i0 as f32;
            (i0, i1, 1.0 - w1, w1)
        })
        .collect()
}

/// Writes `map` as an uncompressed one-channel 32-bit float TIFF, atomically.
pub fn save_float_tiff_atomic(map: &FloatMap, path: &Path) -> io::Result<()> {
    write_atomic(path, |w| {
        let mut encoder = TiffEncoder::new(w).map_err(io::Error::other)?;
        encoder
            .write_image::<Gray32Float>(map.width(), map.height(), map.as_raw())
            .map_err(io::Error::other)
    })
}

/// Reads a map: a one-channel TIFF of 32/64-bit floats (values kept as they are) or of 8/16-bit
/// integers (scaled to [0, 1]), or any 8/16-bit grayscale image the `image` crate reads (PNG,
/// ...), scaled to [0, 1]. Colour images are refused: a colour-mapped heat map is not a score.
pub fn load_float_tiff(path: &Path) -> Result<FloatMap, MapError> {
    let is_tiff = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tif") || e.eq_ignore_ascii_case("tiff"));
    if is_tiff {
        load_tiff(path)
    } else {
        load_gray_image(path)
    }
}

fn load_tiff(path: &Path) -> Result<FloatMap, MapError> {
    let decode_err = |e: tiff::TiffError| MapError::Decode {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let file = File::open(path).map_err(|source| MapError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut decoder = Decoder::new(BufReader::new(file)).map_err(decode_err)?;
    let (width, height) = decoder.dimensions().map_err(decode_err)?;
    let colortype = decoder.colortype().map_err(decode_err)?;
    if !matches!(colortype, tiff::ColorType::Gray(_)) {
        return Err(MapError::Unsupported {
            path: path.to_owned(),
            what: format!("colour type {colortype:?}"),
        });
    }
    let values: Vec<f32> = match decoder.read_image().map_err(decode_err)? {
        DecodingResult::F32(v) => v,
        DecodingResult::F64(v) => v.into_iter().map(|x| x as f32).collect(),
        DecodingResult::U8(v) => v.into_iter().map(|x| f32::from(x) / 255.0).collect(),
        DecodingResult::U16(v) => v.into_iter().map(|x| f32::from(x) / 65535.0).collect(),
        _ => {
            return Err(MapError::Unsupported {
                path: path.to_owned(),
                what: format!("sample type of {colortype:?}"),
            });
        }
    };
    let n = values.len();
    FloatMap::from_raw(width, height, values).ok_or_else(|| MapError::Decode {
        path: path.to_owned(),
        message: format!("{n} samples for {width}x{height} pixels"),
    })
}

fn load_gray_image(path: &Path) -> Result<FloatMap, MapError> {
    let img = image::open(path).map_err(|e| match e {
        image::ImageError::IoError(source) => MapError::Io {
            path: path.to_owned(),
            source,
        },
        other => MapError::Decode {
            path: path.to_owned(),
            message: other.to_string(),
        },
    })?;
    match img {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageLuma16(_) => Ok(img.to_luma32f()),
        other => Err(MapError::Unsupported {
            path: path.to_owned(),
            what: format!("{:?}", other.color()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_2x2_to_4x4_matches_pytorch() {
        // torch.nn.functional.interpolate(x, size=(4, 4), mode="bilinear", align_corners=False)
        let map = FloatMap::from_raw(2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        let out = resize_bilinear(&map, 4, 4);
        #[rustfmt::skip]
        let expected = [
            1.0, 1.25, 1.75, 2.0,
            1.5, 1.75, 2.25, 2.5,
            2.5, 2.75, 3.25, 3.5,
            3.0, 3.25, 3.75, 4.0,
        ];
        assert_eq!(out.as_raw().as_slice(), &expected);
    }

    #[test]
    fn bilinear_downsampling_and_odd_sizes() {
        // 4 -> 2: source x = 2 * (d + 0.5) - 0.5 = 0.5, 2.5: means of neighbours.
        let map = FloatMap::from_raw(4, 1, vec![0.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(resize_bilinear(&map, 2, 1).as_raw(), &vec![0.5, 2.5]);
        // 2 -> 3: scale 2/3: sources 0 (clamped from -1/6), 0.5, 7/6 -> clamped neighbour.
        let map = FloatMap::from_raw(2, 1, vec![0.0, 3.0]).unwrap();
        let out = resize_bilinear(&map, 3, 1);
        assert_eq!(out.as_raw()[0], 0.0);
        assert!((out.as_raw()[1] - 1.5).abs() < 1e-6);
        assert_eq!(out.as_raw()[2], 3.0);
        assert_eq!(resize_bilinear(&map, 0, 5).dimensions(), (0, 5));
    }

    #[test]
    fn min_max_ignores_non_finite() {
        let map = FloatMap::from_raw(2, 2, vec![f32::NAN, -1.0, 5.0, f32::INFINITY]).unwrap();
        assert_eq!(min_max(&map), (-1.0, 5.0));
        assert_eq!(min_max(&FloatMap::new(0, 0)), (0.0, 0.0));
    }

    #[test]
    fn float_tiff_round_trip_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map.tiff");
        let values: Vec<f32> = (0..35)
            .map(|i| (i as f32 * 0.37).sin() * 1e3 + f32::EPSILON)
            .collect();
        let map = FloatMap::from_raw(7, 5, values).unwrap();
        save_float_tiff_atomic(&map, &path).unwrap();
        let back = load_float_tiff(&path).unwrap();
        assert_eq!(back.dimensions(), (7, 5));
        assert_eq!(back.as_raw(), map.as_raw());
    }

    #[test]
    fn gray_png_and_tiff_are_scaled_to_unit_range() {
        let dir = tempfile::tempdir().unwrap();
        let gray = image::GrayImage::from_raw(2, 1, vec![0, 255]).unwrap();
        for name in ["g.png", "g.tif"] {
            let path = dir.path().join(name);
            gray.save(&path).unwrap();
            let map = load_float_tiff(&path).unwrap();
            assert_eq!(map.as_raw(), &vec![0.0, 1.0], "{name}");
        }
        let gray16 = ImageBuffer::<Luma<u16>, _>::from_raw(1, 1, vec![65535u16]).unwrap();
        let path = dir.path().join("g16.png");
        gray16.save(&path).unwrap();
        assert_eq!(load_float_tiff(&path).unwrap().as_raw(), &vec![1.0]);
    }

    #[test]
    fn colour_and_missing_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rgb.png");
        image::RgbImage::new(2, 2).save(&path).unwrap();
        let err = load_float_tiff(&path).unwrap_err();
        assert!(matches!(err, MapError::Unsupported { .. }));
        assert!(err.to_string().contains("rgb.png"));
        let err = load_float_tiff(&dir.path().join("none.tiff")).unwrap_err();
        assert!(err.to_string().contains("none.tiff"), "{err}");
    }
}

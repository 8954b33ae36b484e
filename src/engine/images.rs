//! Image files the window asks the worker to read or write, so the window never waits on the disk.

use std::io;
use std::path::Path;

use image::RgbaImage;

use crate::data::{DataError, load_image};
use crate::render::{save_png_atomic, to_rgba};

/// Writes `image` to `path` as a PNG, atomically, creating its folder first.
pub(super) fn write_png(image: &RgbaImage, path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| crate::fsx::with_path(e, dir))?;
    }
    save_png_atomic(image, path)
}

/// The image at `path` as RGBA at its own size.
pub(super) fn read_rgba(path: &Path) -> Result<RgbaImage, DataError> {
    load_image(path).map(|image| to_rgba(&image))
}

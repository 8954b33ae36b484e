//! Image grids: tiles of possibly different sizes laid out in rows, for galleries and exports.

use image::{Rgba, RgbaImage, imageops};

/// Lays `tiles` out row by row, `cols` per row (at least 1), each centred in a cell of the
/// largest tile's size, with `pad` pixels between cells and around the edge, on `background`.
/// No tiles give a 0x0 image.
pub fn grid(tiles: &[RgbaImage], cols: usize, pad: u32, background: Rgba<u8>) -> RgbaImage {
    if tiles.is_empty() {
        return RgbaImage::new(0, 0);
    }
    let cols = cols.clamp(1, tiles.len());
    let rows = tiles.len().div_ceil(cols);
    let cell_w = tiles.iter().map(|t| t.width()).max().unwrap_or(0);
    let cell_h = tiles.iter().map(|t| t.height()).max().unwrap_or(0);
    let width = cols as u32 * (cell_w + pad) + pad;
    let height = rows as u32 * (cell_h + pad) + pad;
    let mut out = RgbaImage::from_pixel(width, height, background);
    for (i, tile) in tiles.iter().enumerate() {
        let (col, row) = ((i % cols) as u32, (i / cols) as u32);
        let x = pad + col * (cell_w + pad) + (cell_w - tile.width()) / 2;
        let y = pad + row * (cell_h + pad) + (cell_h - tile.height()) / 2;
        imageops::replace(&mut out, tile, i64::from(x), i64::from(y));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_take_the_largest_tile_size() {
        let red = RgbaImage::from_pixel(4, 2, Rgba([255, 0, 0, 255]));
        let blue = RgbaImage::from_pixel(2, 6, Rgba([0, 0, 255, 255]));
        let bg = Rgba([0, 0, 0, 0]);
        let g = grid(&[red.clone(), blue.clone(), red], 2, 1, bg);
        // cell 4x6, 2 cols, 2 rows: 2*(4+1)+1 x 2*(6+1)+1
        assert_eq!(g.dimensions(), (11, 15));
        assert_eq!(g.get_pixel(1, 3), &Rgba([255, 0, 0, 255])); // red centred vertically
        assert_eq!(g.get_pixel(1, 1), &bg);
        assert_eq!(g.get_pixel(7, 1), &Rgba([0, 0, 255, 255])); // blue centred horizontally
        assert_eq!(g.get_pixel(6, 1), &bg);
        assert_eq!(grid(&[], 3, 2, bg).dimensions(), (0, 0));
        assert_eq!(grid(&[blue], 0, 0, bg).dimensions(), (2, 6));
    }
}

//! The three products of a 2-D convolution on host f32 arrays (NCHW, contiguous): the output,
//! the input gradient and the weight gradient, each as im2col (or col2im) plus one GEMM per
//! image. A transposed convolution is the same three products with the roles of input and
//! output swapped (see `super::flex`).

use gemm::Parallelism;
use rayon::prelude::*;

/// A convolution without groups or dilation: `channels` input planes of side `input` read by
/// a `kernel` at `stride` with `padding` zeros on each side, giving planes of side `output`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometry {
    pub channels: usize,
    pub input: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub output: [usize; 2],
}

impl Geometry {
    /// Rows of the unfolded input: one per (channel, kernel row, kernel column).
    fn rows(&self) -> usize {
        self.channels * self.kernel[0] * self.kernel[1]
    }

    /// Output positions per plane.
    fn positions(&self) -> usize {
        self.output[0] * self.output[1]
    }

    /// Values of one input image.
    fn image_len(&self) -> usize {
        self.channels * self.input[0] * self.input[1]
    }
}

/// The outputs `o` (of `outputs`) whose input coordinate `o * stride + offset` lies in
/// `0..input`, as a range.
fn inside(outputs: usize, input: usize, stride: usize, offset: isize) -> std::ops::Range<usize> {
    let first = if offset < 0 {
        offset.unsigned_abs().div_ceil(stride)
    } else {
        0
    };
    let end = match input as isize - offset {
        span if span <= 0 => 0,
        span => ((span as usize - 1) / stride + 1).min(outputs),
    };
    first.min(end)..end
}

/// Each kernel tap's view of one image: `cols[(c, i, j), (y, x)] = image[c, y * s + i - p,
/// x * s + j - p]`, zero outside the image.
fn im2col(g: &Geometry, image: &[f32], cols: &mut [f32]) {
    let ([ih, iw], [kh, kw], [sh, sw], [ph, pw], [oh, ow]) =
        (g.input, g.kernel, g.stride, g.padding, g.output);
    for (row, taps) in cols.chunks_exact_mut(oh * ow).enumerate() {
        let (c, i, j) = (row / (kh * kw), row / kw % kh, row % kw);
        let plane = &image[c * ih * iw..(c + 1) * ih * iw];
        let xs = inside(ow, iw, sw, j as isize - pw as isize);
        let ys = inside(oh, ih, sh, i as isize - ph as isize);
        for (y, out) in taps.chunks_exact_mut(ow).enumerate() {
            if !ys.contains(&y) || xs.is_empty() {
                out.fill(0.0);
                continue;
            }
            let source = &plane[(y * sh + i - ph) * iw..][..iw];
            out[..xs.start].fill(0.0);
            out[xs.end..].fill(0.0);
            let first = xs.start * sw + j - pw;
            match sw {
                1 => out[xs.clone()].copy_from_slice(&source[first..first + xs.len()]),
                // A constant stride lets the compiler vectorise the gather.
                2 => gather(&mut out[xs.clone()], &source[first..], 2),
                _ => gather(&mut out[xs.clone()], &source[first..], sw),
            }
        }
    }
}

/// `out[k] = source[k * stride]` for every k.
#[inline(always)]
fn gather(out: &mut [f32], source: &[f32], stride: usize) {
    let mut done = 0;
    for (o, step) in out.iter_mut().zip(source.chunks_exact(stride)) {
        *o = step[0];
        done += 1;
    }
    // The last value may sit in a partial step at the end of `source`.
    if let Some(o) = out.get_mut(done) {
        *o = source[done * stride];
    }
}

/// `target[k * stride] += values[k]` for every k.
#[inline(always)]
fn scatter_add(target: &mut [f32], values: &[f32], stride: usize) {
    let mut done = 0;
    for (step, v) in target.chunks_exact_mut(stride).zip(values) {
        step[0] += *v;
        done += 1;
    }
    if let Some(v) = values.get(done) {
        target[done * stride] += *v;
    }
}

/// The adjoint of `im2col`: adds every tap's value back onto the image position it was read
/// from.
fn col2im_add(g: &Geometry, cols: &[f32], image: &mut [f32]) {
    let ([ih, iw], [kh, kw], [sh, sw], [ph, pw], [oh, ow]) =
        (g.input, g.kernel, g.stride, g.padding, g.output);
    for (row, taps) in cols.chunks_exact(oh * ow).enumerate() {
        let (c, i, j) = (row / (kh * kw), row / kw % kh, row % kw);
        let plane = &mut image[c * ih * iw..(c + 1) * ih * iw];
        let xs = inside(ow, iw, sw, j as isize - pw as isize);
        let ys = inside(oh, ih, sh, i as isize - ph as isize);
        if xs.is_empty() {
            continue;
        }
        for y in ys {
            let target = &mut plane[(y * sh + i - ph) * iw..][..iw];
            let first = xs.start * sw + j - pw;
            let values = &taps[y * ow + xs.start..y * ow + xs.end];
            match sw {
                2 => scatter_add(&mut target[first..], values, 2),
                _ => scatter_add(&mut target[first..], values, sw),
            }
        }
    }
}

/// A matrix view: element (r, c) at `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy)]
struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Mat<'a> {
    fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    fn transposed(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Whether every element lies inside `data`.
    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `dst = a * b` (row-major `[a.rows, b.cols]`), or `dst += a * b` when `accumulate`.
fn matmul(dst: &mut [f32], a: Mat, b: Mat, accumulate: bool, parallelism: Parallelism) {
    assert!(a.cols == b.rows && a.fits() && b.fits() && dst.len() == a.rows * b.cols);
    // SAFETY: the assertion keeps every element gemm reads or writes inside the three slices.
    unsafe {
        gemm::gemm(
            a.rows,
            b.cols,
            a.cols,
            dst.as_mut_ptr(),
            1,
            b.cols as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// With at least one image per thread, images run side by side on single-threaded products;
/// with fewer, the products themselves are spread over the threads.
fn product_parallelism(images: usize) -> Parallelism {
    if images >= rayon::current_num_threads() {
        Parallelism::None
    } else {
        Parallelism::Rayon(0)
    }
}

/// `x` (`[m, k]`) times `w` (`[k, n]`) for fewer rows `m` than threads, `[m, n]`: the columns
/// split over the threads. With one row the product only streams `w` through memory, which
/// one thread (all a threaded GEMM uses for a matrix-vector product) reads at about half the
/// bandwidth that two do (docs/speed.md).
pub fn few_rows_product(x: &[f32], m: usize, w: &[f32], n: usize) -> Vec<f32> {
    let k = x.len() / m.max(1);
    let part = n.div_ceil(rayon::current_num_threads()).max(1);
    let x = Mat::row_major(x, m, k);
    let parts: Vec<Vec<f32>> = (0..n.div_ceil(part))
        .into_par_iter()
        .map(|index| {
            let cols = part.min(n - index * part);
            let w = Mat {
                data: &w[index * part..],
                rows: k,
                cols,
                row_stride: n,
                col_stride: 1,
            };
            let mut y = vec![0.0; m * cols];
            matmul(&mut y, x, w, false, Parallelism::None);
            y
        })
        .collect();
    let mut y = vec![0.0; m * n];
    for (index, values) in parts.iter().enumerate() {
        let cols = values.len() / m.max(1);
        for (row, part_row) in y.chunks_exact_mut(n).zip(values.chunks_exact(cols)) {
            row[index * part..][..cols].copy_from_slice(part_row);
        }
    }
    y
}

/// The convolution of `n` images `x` (`[n, g.channels, input]`) with `weight` (`[out_channels,
/// g.channels, kernel]`): `[n, out_channels, output]`.
pub fn forward(g: &Geometry, x: &[f32], n: usize, weight: &[f32], out_channels: usize) -> Vec<f32> {
    let (rows, positions) = (g.rows(), g.positions());
    let w = Mat::row_major(weight, out_channels, rows);
    let parallelism = product_parallelism(n);
    let mut y = vec![0.0; n * out_channels * positions];
    y.par_chunks_mut(out_channels * positions)
        .zip(x.par_chunks(g.image_len()))
        .for_each_init(
            || vec![0.0; rows * positions],
            |cols, (y, x)| {
                im2col(g, x, cols);
                let cols = Mat::row_major(cols, rows, positions);
                matmul(y, w, cols, false, parallelism);
            },
        );
    y
}

/// The gradient with respect to the input `[n, g.channels, input]` of `forward`, given the
/// output's gradient `dy` (`[n, out_channels, output]`).
pub fn input_grad(
    g: &Geometry,
    dy: &[f32],
    n: usize,
    weight: &[f32],
    out_channels: usize,
) -> Vec<f32> {
    let (rows, positions) = (g.rows(), g.positions());
    let w_t = Mat::row_major(weight, out_channels, rows).transposed();
    let parallelism = product_parallelism(n);
    let mut dx = vec![0.0; n * g.image_len()];
    dx.par_chunks_mut(g.image_len())
        .zip(dy.par_chunks(out_channels * positions))
        .for_each_init(
            || vec![0.0; rows * positions],
            |cols, (dx, dy)| {
                let dy = Mat::row_major(dy, out_channels, positions);
                matmul(cols, w_t, dy, false, parallelism);
                col2im_add(g, cols, dx);
            },
        );
    dx
}

/// The gradient with respect to the weight `[out_channels, g.channels, kernel]` of `forward`,
/// given its input `x` and the output's gradient `dy`.
pub fn weight_grad(g: &Geometry, x: &[f32], dy: &[f32], n: usize, out_channels: usize) -> Vec<f32> {
    unfolded_products(g, x, dy, n, out_channels, None)
}

/// `forward(g, x, n, weight, out_channels)` and `weight_grad(g, x, dy, n, out_channels)` from one
/// unfolding of each image: a transposed convolution's backward pass needs both of the same
/// unfolded output gradient.
pub fn forward_and_weight_grad(
    g: &Geometry,
    x: &[f32],
    dy: &[f32],
    n: usize,
    weight: &[f32],
    out_channels: usize,
) -> (Vec<f32>, Vec<f32>) {
    let mut y = vec![0.0; n * out_channels * g.positions()];
    let dw = unfolded_products(g, x, dy, n, out_channels, Some((weight, &mut y)));
    (y, dw)
}

/// Each thread takes a share of the images, unfolds each one, writes `forward`'s output for it
/// when given the weight and the output, and sums its weight-gradient products; then the
/// shares' sums are added.
fn unfolded_products(
    g: &Geometry,
    x: &[f32],
    dy: &[f32],
    n: usize,
    out_channels: usize,
    forward: Option<(&[f32], &mut [f32])>,
) -> Vec<f32> {
    let (rows, positions) = (g.rows(), g.positions());
    let per_thread = n.div_ceil(rayon::current_num_threads()).max(1);
    let parallelism = product_parallelism(n);
    let (image_len, out_len) = (g.image_len(), out_channels * positions);
    let (weight, outputs): (Option<Mat>, Vec<Option<&mut [f32]>>) = match forward {
        Some((weight, y)) => (
            Some(Mat::row_major(weight, out_channels, rows)),
            y.chunks_mut((per_thread * out_len).max(1))
                .map(Some)
                .collect(),
        ),
        None => (None, (0..n.div_ceil(per_thread)).map(|_| None).collect()),
    };
    outputs
        .into_par_iter()
        .enumerate()
        .map(|(share, mut y)| {
            let mut dw = vec![0.0; out_channels * rows];
            let mut cols = vec![0.0; rows * positions];
            let first = share * per_thread;
            for image in first..(first + per_thread).min(n) {
                im2col(g, &x[image * image_len..(image + 1) * image_len], &mut cols);
                let unfolded = Mat::row_major(&cols, rows, positions);
                if let (Some(weight), Some(y)) = (weight, y.as_deref_mut()) {
                    let k = image - first;
                    let y = &mut y[k * out_len..(k + 1) * out_len];
                    matmul(y, weight, unfolded, false, parallelism);
                }
                let dy = &dy[image * out_len..(image + 1) * out_len];
                let dy = Mat::row_major(dy, out_channels, positions);
                matmul(&mut dw, dy, unfolded.transposed(), true, parallelism);
            }
            dw
        })
        .reduce(
            || vec![0.0; out_channels * rows],
            |mut sum, part| {
                sum.iter_mut().zip(&part).for_each(|(s, p)| *s += p);
                sum
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convolution by its definition, one output value at a time.
    fn direct(g: &Geometry, x: &[f32], n: usize, weight: &[f32], out_channels: usize) -> Vec<f32> {
        let ([ih, iw], [kh, kw], [sh, sw], [ph, pw], [oh, ow]) =
            (g.input, g.kernel, g.stride, g.padding, g.output);
        let mut y = vec![0.0; n * out_channels * oh * ow];
        for b in 0..n {
            for o in 0..out_channels {
                for (yy, xx) in (0..oh).flat_map(|yy| (0..ow).map(move |xx| (yy, xx))) {
                    let mut sum = 0.0;
                    for c in 0..g.channels {
                        for (i, j) in (0..kh).flat_map(|i| (0..kw).map(move |j| (i, j))) {
                            let (iy, ix) = (
                                (yy * sh + i) as isize - ph as isize,
                                (xx * sw + j) as isize - pw as isize,
                            );
                            if iy >= 0 && ix >= 0 && (iy as usize) < ih && (ix as usize) < iw {
                                let v =
                                    x[((b * g.channels + c) * ih + iy as usize) * iw + ix as usize];
                                sum += v * weight[((o * g.channels + c) * kh + i) * kw + j];
                            }
                        }
                    }
                    y[((b * out_channels + o) * oh + yy) * ow + xx] = sum;
                }
            }
        }
        y
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    #[test]
    fn forward_matches_the_definition_with_stride_padding_and_odd_sides() {
        for (stride, padding, kernel, side) in
            [(2, 1, 4, 9), (1, 1, 3, 7), (2, 0, 3, 8), (1, 2, 4, 5)]
        {
            let output = (side + 2 * padding - kernel) / stride + 1;
            let g = Geometry {
                channels: 3,
                input: [side, side + 1],
                kernel: [kernel, kernel],
                stride: [stride, stride],
                padding: [padding, padding],
                output: [output, (side + 1 + 2 * padding - kernel) / stride + 1],
            };
            let (n, co) = (2, 5);
            let x = values(n * g.image_len(), 1);
            let w = values(co * g.rows(), 2);
            let fast = forward(&g, &x, n, &w, co);
            let slow = direct(&g, &x, n, &w, co);
            for (a, b) in fast.iter().zip(&slow) {
                assert!((a - b).abs() < 1e-4, "{a} vs {b} for {g:?}");
            }
        }
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum()
    }

    /// <forward(x, w), dy> = <x, input_grad(dy, w)> = <w, weight_grad(x, dy)>: the gradients
    /// are the adjoints of the forward product in each argument.
    #[test]
    fn gradients_are_the_adjoints_of_forward() {
        let g = Geometry {
            channels: 4,
            input: [10, 9],
            kernel: [4, 4],
            stride: [2, 2],
            padding: [1, 1],
            output: [5, 4],
        };
        let (n, co) = (3, 6);
        let x = values(n * g.image_len(), 3);
        let w = values(co * g.rows(), 4);
        let dy = values(n * co * g.positions(), 5);
        let y = forward(&g, &x, n, &w, co);
        let reference = dot(&y, &dy);
        for other in [
            dot(&x, &input_grad(&g, &dy, n, &w, co)),
            dot(&w, &weight_grad(&g, &x, &dy, n, co)),
        ] {
            assert!(
                (reference - other).abs() < 1e-3 * (1.0 + reference.abs()),
                "{reference} vs {other}"
            );
        }
    }

    #[test]
    fn few_rows_product_matches_the_definition() {
        for (m, k, n) in [(1, 5, 7), (1, 3, 1), (2, 4, 9), (3, 6, 2)] {
            let (x, w) = (values(m * k, 9), values(k * n, 10));
            let y = few_rows_product(&x, m, &w, n);
            for (r, c) in (0..m).flat_map(|r| (0..n).map(move |c| (r, c))) {
                let expected: f32 = (0..k).map(|i| x[r * k + i] * w[i * n + c]).sum();
                assert!(
                    (y[r * n + c] - expected).abs() < 1e-5,
                    "{m}x{k}x{n} at {r},{c}"
                );
            }
        }
    }

    #[test]
    fn the_fused_pass_equals_forward_and_weight_grad() {
        let g = Geometry {
            channels: 3,
            input: [9, 8],
            kernel: [3, 3],
            stride: [2, 2],
            padding: [1, 1],
            output: [5, 4],
        };
        let (n, co) = (5, 4);
        let x = values(n * g.image_len(), 6);
        let w = values(co * g.rows(), 7);
        let dy = values(n * co * g.positions(), 8);
        let (y, dw) = forward_and_weight_grad(&g, &x, &dy, n, &w, co);
        assert_eq!(y, forward(&g, &x, n, &w, co));
        assert_eq!(dw, weight_grad(&g, &x, &dy, n, co));
    }
}

//! Distances from query vectors to their nearest neighbour in a memory of vectors, as matrix
//! products (the memory holds ~10^5 vectors; one query image ~10^3).

use burn::prelude::*;

use crate::model::to_host;

/// Memory rows compared with every query in one product: the `[queries, CHUNK_ROWS]` block of
/// an enlarged 192 px image (2304 queries) then takes 9 MB, near the cache (knn_bench: chunks
/// of 1024 ran 1.7x faster than 4096 and 2.2x faster than 8192).
pub const CHUNK_ROWS: usize = 1024;

/// The Euclidean distance from each query (`[q, channels]` row-major) to its nearest row of
/// `memory` (`[m, channels]`, m > 0).
pub fn nearest_distances(
    queries: &[f32],
    memory: &[f32],
    channels: usize,
    device: &Device,
) -> Vec<f32> {
    nearest_distances_chunked(queries, memory, channels, CHUNK_ROWS, device)
}

/// `nearest_distances`, comparing `chunk_rows` memory rows with every query at a time.
pub fn nearest_distances_chunked(
    queries: &[f32],
    memory: &[f32],
    channels: usize,
    chunk_rows: usize,
    device: &Device,
) -> Vec<f32> {
    let q = queries.len() / channels;
    // ||a - b||^2 = ||a||^2 + (||b||^2 - 2 a.b), and the bracket for every pair is one product
    // of the rows [a, 1] with the columns [-2 b, ||b||^2].
    let augmented: Vec<f32> = queries
        .chunks_exact(channels)
        .flat_map(|a| a.iter().copied().chain(std::iter::once(1.0)))
        .collect();
    let a = Tensor::<2>::from_data(TensorData::new(augmented, [q, channels + 1]), device);
    let mut nearest: Option<Tensor<2>> = None;
    for chunk in memory.chunks(chunk_rows.max(1) * channels) {
        let rows = chunk.len() / channels;
        let mut columns = vec![0.0f32; (channels + 1) * rows];
        for (r, b) in chunk.chunks_exact(channels).enumerate() {
            for (k, v) in b.iter().enumerate() {
                columns[k * rows + r] = -2.0 * v;
            }
            columns[channels * rows + r] = b.iter().map(|v| v * v).sum();
        }
        let b = Tensor::<2>::from_data(TensorData::new(columns, [channels + 1, rows]), device);
        let here = a.clone().matmul(b).min_dim(1);
        nearest = Some(match nearest {
            Some(so_far) => so_far.min_pair(here),
            None => here,
        });
    }
    let Some(nearest) = nearest else {
        return vec![f32::INFINITY; q];
    };
    to_host(nearest)
        .iter()
        .zip(queries.chunks_exact(channels))
        .map(|(partial, a)| {
            let squared = partial + a.iter().map(|v| v * v).sum::<f32>();
            // Rounding can take a (near-)zero squared distance below zero.
            squared.max(0.0).sqrt()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    fn brute_force(queries: &[f32], memory: &[f32], c: usize) -> Vec<f32> {
        queries
            .chunks_exact(c)
            .map(|a| {
                memory
                    .chunks_exact(c)
                    .map(|b| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f32>())
                    .fold(f32::INFINITY, f32::min)
                    .sqrt()
            })
            .collect()
    }

    #[test]
    fn distances_equal_a_brute_force_search_across_chunks() {
        let c = 5;
        let mut rng = StdRng::seed_from_u64(7);
        // More rows than one chunk, so the running minimum over chunks is exercised.
        let memory: Vec<f32> = (0..(CHUNK_ROWS + 37) * c)
            .map(|_| rng.random_range(-3.0..3.0))
            .collect();
        let mut queries: Vec<f32> = (0..11 * c).map(|_| rng.random_range(-3.0..3.0)).collect();
        // One query equal to a memory row of the second chunk: distance 0.
        queries[..c].copy_from_slice(&memory[(CHUNK_ROWS + 5) * c..(CHUNK_ROWS + 6) * c]);
        let device = Device::flex();
        let found = nearest_distances(&queries, &memory, c, &device);
        let expected = brute_force(&queries, &memory, c);
        assert_eq!(found.len(), 11);
        assert!(found[0] < 1e-2, "{}", found[0]);
        for (f, e) in found.iter().zip(&expected) {
            assert!((f - e).abs() < 1e-3 * (1.0 + e), "{f} vs {e}");
        }
    }

    #[test]
    fn an_empty_memory_is_infinitely_far() {
        let found = nearest_distances(&[1.0, 2.0], &[], 2, &Device::flex());
        assert_eq!(found, vec![f32::INFINITY]);
    }
}

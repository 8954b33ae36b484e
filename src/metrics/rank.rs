//! Order-preserving integer keys for scores, so rankings sort as plain integers (fast, total,
//! no comparator) and ties are runs of equal keys.

/// A `u32` whose unsigned order is `f32::total_cmp` order, with `-0.0` mapped onto `0.0`.
pub(crate) fn key_f32(x: f32) -> u32 {
    let bits = (x + 0.0).to_bits();
    if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}

/// Inverse of [`key_f32`].
pub(crate) fn f32_of_key(key: u32) -> f32 {
    let bits = if key & 0x8000_0000 != 0 {
        key & 0x7fff_ffff
    } else {
        !key
    };
    f32::from_bits(bits)
}

/// A `u64` whose unsigned order is `f64::total_cmp` order, with `-0.0` mapped onto `0.0`.
pub(crate) fn key_f64(x: f64) -> u64 {
    let bits = (x + 0.0).to_bits();
    if bits & (1 << 63) != 0 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Packs a score and a 32-bit payload so that ascending `u64` order is descending score order.
pub(crate) fn pack_desc(score: f32, payload: u32) -> u64 {
    (u64::from(!key_f32(score)) << 32) | u64::from(payload)
}

/// The score of a packed entry.
pub(crate) fn packed_score(packed: u64) -> f32 {
    f32_of_key(!((packed >> 32) as u32))
}

/// The payload of a packed entry.
pub(crate) fn packed_payload(packed: u64) -> u32 {
    packed as u32
}

/// Whether two packed entries carry the same score.
pub(crate) fn same_score(a: &u64, b: &u64) -> bool {
    a >> 32 == b >> 32
}

/// Splits entries already sorted by [`pack_desc`] order into runs of tied scores, with the score.
pub(crate) fn tie_runs(sorted: &[u64]) -> impl Iterator<Item = (f32, &[u64])> {
    sorted
        .chunk_by(same_score)
        .map(|run| (packed_score(run[0]), run))
}

/// Scores packed with their label as payload (1 positive, 0 negative), sorted by descending
/// score. `None` when the lengths differ.
pub(crate) fn rank_labelled(scores: &[f32], labels: &[bool]) -> Option<Vec<u64>> {
    if scores.len() != labels.len() {
        return None;
    }
    let mut sorted: Vec<u64> = scores
        .iter()
        .zip(labels)
        .map(|(&s, &l)| pack_desc(s, u32::from(l)))
        .collect();
    sorted.sort_unstable();
    Some(sorted)
}

/// Each run of tied scores of a ranking, in descending score order, with its (positives,
/// negatives) count: payload 0 is negative, anything else (a label, a region) positive.
pub(crate) fn labelled_runs(sorted: &[u64]) -> impl Iterator<Item = (f32, (u64, u64))> {
    tie_runs(sorted).map(|(score, run)| {
        let negatives = run.iter().filter(|&&e| packed_payload(e) == 0).count() as u64;
        (score, (run.len() as u64 - negatives, negatives))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_total_order_and_merge_zeros() {
        let xs = [
            f32::NEG_INFINITY,
            -3.5,
            -1e-30,
            0.0,
            1e-30,
            0.25,
            17.0,
            f32::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(key_f32(w[0]) < key_f32(w[1]), "{w:?}");
            assert!(key_f64(f64::from(w[0])) < key_f64(f64::from(w[1])), "{w:?}");
        }
        assert_eq!(key_f32(-0.0), key_f32(0.0));
        assert_eq!(key_f64(-0.0), key_f64(0.0));
        for x in xs {
            assert_eq!(f32_of_key(key_f32(x)).to_bits(), x.to_bits());
            assert_eq!(packed_score(pack_desc(x, 7)).to_bits(), x.to_bits());
            assert_eq!(packed_payload(pack_desc(x, 7)), 7);
        }
        assert!(pack_desc(2.0, u32::MAX) < pack_desc(1.0, 0));
    }
}

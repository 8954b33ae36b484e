//! `feature-knn`: its memory of training features, its map, and how the memory travels in a
//! checkpoint.

mod common;

use burn::tensor::Device;
use rand::{Rng, SeedableRng, rngs::StdRng};
use vaelens::checkpoint::Checkpoint;
use vaelens::data::TrainSet;
use vaelens::explain::methods::FeatureKnn;
use vaelens::explain::{AnomalyMap, FeatureMemory, MemoryConfig, NormalStats, anomaly_method};

const SIDE: usize = 64;

/// Gray stripes at a random phase with pixel noise: a texture whose training images differ.
fn texture(rng: &mut StdRng) -> Vec<f32> {
    let phase: f32 = rng.random_range(0.0..std::f32::consts::TAU);
    (0..SIDE * SIDE)
        .map(|p| {
            let (x, y) = ((p % SIDE) as f32, (p / SIDE) as f32);
            let stripes = 0.5 + 0.25 * ((x + 0.5 * y) * 0.6 + phase).sin();
            stripes + rng.random_range(-0.05..0.05)
        })
        .collect()
}

fn train_set(n: usize) -> TrainSet {
    let mut rng = StdRng::seed_from_u64(3);
    TrainSet {
        images: (0..n).flat_map(|_| texture(&mut rng)).collect(),
        n,
        channels: 1,
        size: SIDE as u32,
        skipped: Vec::new(),
    }
}

/// An explainer whose statistics hold a memory fitted over `set` (the VAE itself is not used).
fn explainer_with_memory(set: &TrainSet) -> vaelens::explain::Explainer {
    let (model, config, device) = common::tiny_vae();
    let mut stats = common::tiny_stats();
    stats.memory = Some(FeatureMemory::fit(set, MemoryConfig::default(), &device).unwrap());
    vaelens::explain::Explainer::new(model, config, stats, device)
}

fn knn_map(explainer: &vaelens::explain::Explainer, image: &[f32]) -> AnomalyMap {
    explainer.anomaly(&FeatureKnn, image, 0)
}

fn max_where(map: &AnomalyMap, inside: impl Fn(usize, usize) -> bool) -> f32 {
    map.map
        .enumerate_pixels()
        .filter(|(x, y, _)| inside(*x as usize, *y as usize))
        .map(|(_, _, v)| v[0])
        .fold(f32::NEG_INFINITY, f32::max)
}

#[test]
fn a_training_image_is_normal_and_a_pasted_patch_lights_up_where_it_is() {
    let set = train_set(4);
    let explainer = explainer_with_memory(&set);
    let memory = explainer.stats.memory.as_ref().unwrap();
    // 64 px enlarged to 128, stride 8: 16 x 16 positions per image, all kept.
    assert_eq!((memory.rows, memory.channels), (4 * 16 * 16, 40));

    let own = knn_map(&explainer, set.image(1));
    assert_eq!(own.map.dimensions(), (SIDE as u32, SIDE as u32));

    // A bright square pasted onto the same training image.
    let mut patched = set.image(1).to_vec();
    let (x0, y0, w) = (40, 8, 12);
    for y in y0..y0 + w {
        for x in x0..x0 + w {
            patched[y * SIDE + x] = 1.0;
        }
    }
    let foreign = knn_map(&explainer, &patched);
    let near_patch =
        |x: usize, y: usize| x + 4 >= x0 && x < x0 + w + 4 && y + 4 >= y0 && y < y0 + w + 4;
    let at_patch = max_where(&foreign, near_patch);
    let far_from_patch = max_where(&foreign, |x, y| x + 24 < x0 || y > y0 + w + 24);
    // Its own features are in the memory (at f16 precision): a tiny fraction of the patch's.
    assert!(
        own.image_score < 0.05 * foreign.image_score,
        "training image {} vs patched {}",
        own.image_score,
        foreign.image_score
    );
    assert!(
        at_patch > 5.0 * far_from_patch,
        "at the patch {at_patch}, far from it {far_from_patch}"
    );
    assert_eq!(f64::from(at_patch), foreign.image_score);
}

#[test]
fn a_random_subset_is_kept_beyond_the_cap_and_the_same_for_the_same_seed() {
    let channels = 3;
    let rows: Vec<f32> = (0..100 * channels).map(|v| v as f32).collect();
    let config = MemoryConfig {
        max_rows: 10,
        ..MemoryConfig::default()
    };
    let a = FeatureMemory::from_rows(config, channels, rows.clone());
    let b = FeatureMemory::from_rows(config, channels, rows.clone());
    assert_eq!(a.rows, 10);
    assert_eq!(a.values(), b.values());
    // Whole rows are kept: each starts at a multiple of the channel count.
    for row in a.values().chunks(channels) {
        assert_eq!(row[0] as usize % channels, 0);
        assert_eq!((row[1] - row[0], row[2] - row[0]), (1.0, 2.0));
    }
    let other = FeatureMemory::from_rows(MemoryConfig { seed: 1, ..config }, channels, rows);
    assert_ne!(a.values(), other.values());
}

#[test]
fn the_memory_travels_in_the_checkpoint_and_old_checkpoints_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let set = train_set(2);
    let memory = FeatureMemory::fit(&set, MemoryConfig::default(), &Device::flex()).unwrap();
    let mut checkpoint = Checkpoint::untrained(common::tiny_config(), 0);
    let mut stats = NormalStats::prior(common::tiny_config().latent_dim);
    stats.memory = Some(memory.clone());
    checkpoint.stats = Some(stats.clone());
    let path = dir.path().join("with-memory.safetensors");
    checkpoint.save_file(&path, false).unwrap();
    let loaded = Checkpoint::load_file(&path).unwrap();
    // Rounded to f16 when fitted, so the stored rows come back exactly.
    assert_eq!(
        loaded.stats.as_ref().unwrap().memory.as_ref(),
        Some(&memory)
    );
    assert_eq!(loaded.tensors, checkpoint.tensors);
    let explainer = loaded.explainer(&Device::flex()).unwrap();
    assert!(explainer.stats.memory.is_some());

    // Written before the memory existed: loads without one, and the map is flat until fitted.
    let mut old = checkpoint.clone();
    old.stats = Some(NormalStats::prior(common::tiny_config().latent_dim));
    let old_path = dir.path().join("old.safetensors");
    old.save_file(&old_path, false).unwrap();
    let loaded = Checkpoint::load_file(&old_path).unwrap();
    let stats = loaded.stats.as_ref().unwrap();
    assert!(stats.memory.is_none() && stats.incomplete());
    let explainer = loaded.explainer(&Device::flex()).unwrap();
    let knn = anomaly_method("feature-knn").unwrap();
    let flat = explainer.anomaly(knn.as_ref(), set.image(0), 0);
    assert!(flat.map.iter().all(|v| *v == 0.0));
}

#[test]
fn a_memory_named_in_the_metadata_but_missing_from_the_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let set = train_set(1);
    let mut stats = NormalStats::prior(common::tiny_config().latent_dim);
    stats.memory =
        Some(FeatureMemory::fit(&set, MemoryConfig::default(), &Device::flex()).unwrap());
    let mut checkpoint = Checkpoint::untrained(common::tiny_config(), 0);
    checkpoint.stats = Some(stats);
    let path = dir.path().join("cut.safetensors");
    checkpoint.save_file(&path, false).unwrap();
    // Drop the tensor, keep the metadata that names it.
    let (mut tensors, metadata) = vaelens::model::read_safetensors(&path).unwrap();
    tensors.remove("vaelens.feature_memory").unwrap();
    vaelens::model::write_safetensors(&path, &tensors, metadata, false).unwrap();
    let error = Checkpoint::load_file(&path).unwrap_err().to_string();
    assert!(
        error.contains("cut.safetensors") && error.contains("vaelens.feature_memory"),
        "{error}"
    );
}

//! Evaluation speed on about 5 million pixels (MVTec-sized test sets at reduced resolution).

use std::time::Instant;

use rand::{Rng, SeedableRng, rngs::StdRng};
use vaelens::metrics::{ScoredImage, evaluate};

#[test]
fn five_million_pixels_evaluate_quickly() {
    let (w, h, n) = (500u32, 500u32, 20usize);
    let mut rng = StdRng::seed_from_u64(7);
    let maps: Vec<Vec<f32>> = (0..n)
        .map(|_| (0..w * h).map(|_| rng.random::<f32>()).collect())
        .collect();
    let masks: Vec<Vec<bool>> = (0..n)
        .map(|i| {
            (0..w * h)
                .map(|p| i % 2 == 1 && (p % w) / 50 == (p / w) / 50 && (p / w) % 7 != 0)
                .collect()
        })
        .collect();
    let images: Vec<ScoredImage> = (0..n)
        .map(|i| ScoredImage {
            defect: ["good", "crack", "good", "hole"][i % 4],
            width: w,
            height: h,
            scores: &maps[i],
            mask: (i % 2 == 1).then_some(masks[i].as_slice()),
            image_score: None,
        })
        .collect();
    let start = Instant::now();
    let eval = evaluate(&images, 0.3).unwrap();
    let took = start.elapsed();
    eprintln!("evaluate on {} pixels: {took:?}", n as u32 * w * h);
    assert!(eval.overall.au_pro.is_some());
    assert!(eval.curves.roc.len() <= 2000 && eval.curves.pro.len() <= 2000);
    // Generous bound for slow shared CI machines and unoptimised builds.
    assert!(took.as_secs_f64() < 20.0, "{took:?}");
}

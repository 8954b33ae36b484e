//! Agreement with an independent implementation (sklearn and a numpy port of the official MVTec AD
//! AU-PRO) on random maps with many ties: fixture from tests/fixtures/metrics/make_reference.py.

use std::collections::BTreeMap;

use serde::Deserialize;
use vaelens::metrics::{Figures, PixelImage, PixelPool, ScoredImage, evaluate};

const TOL: f64 = 1e-6;

#[derive(Deserialize)]
struct Reference {
    pro_limit: f64,
    images: Vec<RefImage>,
    expected: Expected,
    overall_extra: Extra,
}

#[derive(Deserialize)]
struct RefImage {
    defect: String,
    width: u32,
    height: u32,
    scores: Vec<f32>,
    mask: Option<String>,
}

#[derive(Deserialize)]
struct Expected {
    overall: RefFigures,
    per_defect: BTreeMap<String, RefFigures>,
}

#[derive(Deserialize, Debug)]
struct RefFigures {
    n_images: usize,
    n_pixel_images: usize,
    image_auroc: Option<f64>,
    pixel_auroc: Option<f64>,
    au_pro: Option<f64>,
    f1_max: Option<f64>,
    f1_threshold: Option<f64>,
}

#[derive(Deserialize)]
struct Extra {
    au_pro: BTreeMap<String, f64>,
    pro_curve: Vec<(f64, f64)>,
    roc_curve: Vec<(f64, f64, Option<f64>)>,
}

fn load() -> (Reference, Vec<Option<Vec<bool>>>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/metrics/reference.json"
    );
    let text = std::fs::read_to_string(path).expect("reference.json: run make_reference.py");
    let reference: Reference = serde_json::from_str(&text).expect("reference.json parses");
    let masks = reference
        .images
        .iter()
        .map(|im| {
            im.mask
                .as_ref()
                .map(|m| m.bytes().map(|b| b == b'1').collect())
        })
        .collect();
    (reference, masks)
}

fn assert_close(what: &str, got: Option<f64>, want: Option<f64>) {
    match (got, want) {
        (Some(g), Some(w)) => assert!((g - w).abs() <= TOL, "{what}: got {g}, expected {w}"),
        (None, None) => {}
        _ => panic!("{what}: got {got:?}, expected {want:?}"),
    }
}

fn assert_figures(scope: &str, got: &Figures, want: &RefFigures) {
    assert_eq!(got.n_images, want.n_images, "{scope}: n_images");
    assert_eq!(
        got.n_pixel_images, want.n_pixel_images,
        "{scope}: n_pixel_images"
    );
    assert_close(
        &format!("{scope} image AUROC"),
        got.image_auroc,
        want.image_auroc,
    );
    assert_close(
        &format!("{scope} pixel AUROC"),
        got.pixel_auroc,
        want.pixel_auroc,
    );
    assert_close(&format!("{scope} AU-PRO"), got.au_pro, want.au_pro);
    assert_close(&format!("{scope} F1-max"), got.f1_max, want.f1_max);
    assert_close(
        &format!("{scope} F1 threshold"),
        got.f1_threshold,
        want.f1_threshold,
    );
}

#[test]
fn evaluate_agrees_with_reference_overall_and_per_defect() {
    let (reference, masks) = load();
    let images: Vec<ScoredImage> = reference
        .images
        .iter()
        .zip(&masks)
        .map(|(im, mask)| ScoredImage {
            defect: &im.defect,
            width: im.width,
            height: im.height,
            scores: &im.scores,
            mask: mask.as_deref(),
            image_score: None,
        })
        .collect();
    let eval = evaluate(&images, reference.pro_limit).unwrap();
    assert_figures("overall", &eval.overall, &reference.expected.overall);
    assert_eq!(
        eval.per_defect.keys().collect::<Vec<_>>(),
        reference.expected.per_defect.keys().collect::<Vec<_>>()
    );
    for (defect, want) in &reference.expected.per_defect {
        assert_figures(defect, &eval.per_defect[defect], want);
    }
    // The reference leaves the 'stain' image and both 'unlabelled' images without masks.
    assert!(
        eval.notes
            .iter()
            .any(|n| n.contains("'unlabelled' skipped")),
        "{:?}",
        eval.notes
    );
    assert!(
        eval.notes
            .iter()
            .any(|n| n.contains("'stain' use 2 of its 3")),
        "{:?}",
        eval.notes
    );
    assert!(
        eval.notes.iter().any(|n| n.contains("leave out 3")),
        "{:?}",
        eval.notes
    );
}

#[test]
fn curves_and_other_limits_agree_with_reference() {
    let (reference, masks) = load();
    let pixel_images: Vec<PixelImage> = reference
        .images
        .iter()
        .zip(&masks)
        .filter(|(im, mask)| im.defect == "good" || mask.is_some())
        .map(|(im, mask)| PixelImage {
            width: im.width,
            height: im.height,
            scores: &im.scores,
            mask: mask.as_deref(),
        })
        .collect();
    let pool = PixelPool::new(&pixel_images).unwrap();
    for (limit, want) in &reference.overall_extra.au_pro {
        let limit: f64 = limit.parse().unwrap();
        assert_close(&format!("AU-PRO@{limit}"), pool.au_pro(limit), Some(*want));
    }

    let pro = pool.pro_curve();
    let want = &reference.overall_extra.pro_curve;
    assert_eq!(pro.len(), want.len(), "PRO curve length");
    for (p, &(x, y)) in pro.iter().zip(want) {
        assert!(
            (p.fpr - x).abs() <= 1e-9 && (p.y - y).abs() <= 1e-9,
            "{p:?} vs ({x}, {y})"
        );
    }

    let roc = pool.roc_curve();
    let want = &reference.overall_extra.roc_curve;
    assert_eq!(roc.len(), want.len(), "ROC curve length");
    for (p, &(x, y, t)) in roc.iter().zip(want) {
        assert!(
            (p.fpr - x).abs() <= 1e-12 && (p.y - y).abs() <= 1e-12,
            "{p:?} vs ({x}, {y})"
        );
        assert_eq!(p.threshold.map(f64::from), t, "ROC threshold");
    }
}

//! The worked example of docs/method.md §5 and small hand-computed cases with ties.

use vaelens::metrics::{
    MetricsError, PixelImage, PixelPool, ScoredImage, au_pro, auroc, evaluate, f1_max, pro_curve,
};

const MAP_A: [f32; 9] = [0.9, 0.1, 0.2, 0.3, 0.5, 0.2, 0.1, 0.2, 0.3];
const MASK_A: [bool; 9] = [true, false, false, false, true, true, false, false, false];
const MAP_B: [f32; 9] = [0.5, 0.2, 0.1, 0.1, 0.1, 0.4, 0.3, 0.2, 0.1];

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 5e-7)
}

fn images<'a>(map_a: &'a [f32], mask_a: &'a [bool]) -> [PixelImage<'a>; 2] {
    [
        PixelImage {
            width: 3,
            height: 3,
            scores: map_a,
            mask: Some(mask_a),
        },
        PixelImage {
            width: 3,
            height: 3,
            scores: &MAP_B,
            mask: None,
        },
    ]
}

#[test]
fn spec_worked_example_pixel_figures() {
    let ims = images(&MAP_A, &MASK_A);
    assert!(
        close(au_pro(&ims, 0.3), 0.629630),
        "{:?}",
        au_pro(&ims, 0.3)
    );
    assert!(
        close(au_pro(&ims, 1.0), 0.833333),
        "{:?}",
        au_pro(&ims, 1.0)
    );
    let pool = PixelPool::new(&ims).unwrap();
    assert_eq!(
        pool.n_regions(),
        1,
        "the mask's pixels are one 8-connected region"
    );
    assert!(close(pool.auroc(), 0.833333), "{:?}", pool.auroc());
    let scores: Vec<f32> = MAP_A.iter().chain(&MAP_B).copied().collect();
    let labels: Vec<bool> = MASK_A.iter().chain(&[false; 9]).copied().collect();
    assert!(close(auroc(&scores, &labels), 0.833333));
    let curve = pro_curve(&ims);
    assert_eq!(curve.first().map(|p| (p.fpr, p.y)), Some((0.0, 0.0)));
    assert_eq!(curve.last().map(|p| (p.fpr, p.y)), Some((1.0, 1.0)));
    // One point per distinct score (0.9 0.5 0.4 0.3 0.2 0.1) plus the two ends.
    assert_eq!(curve.len(), 8);
}

#[test]
fn spec_worked_example_four_connected_contrast() {
    // Swapping pixels (1,1) and (2,2) of map A and its mask keeps every score-label pair (so the
    // ranking and pixel AUROC), but the top-left pixel no longer touches the others even
    // diagonally: the 8-connected regions are now those that 4-connectivity gives the original.
    let mut map = MAP_A;
    let mut mask = MASK_A;
    map.swap(4, 8);
    mask.swap(4, 8);
    let ims = images(&map, &mask);
    let pool = PixelPool::new(&ims).unwrap();
    assert_eq!(pool.n_regions(), 2);
    assert!(
        close(au_pro(&ims, 0.3), 0.722222),
        "{:?}",
        au_pro(&ims, 0.3)
    );
    assert!(close(pool.auroc(), 0.833333));
}

#[test]
fn spec_worked_example_through_evaluate() {
    let ims = [
        ScoredImage {
            defect: "crack",
            width: 3,
            height: 3,
            scores: &MAP_A,
            mask: Some(&MASK_A),
            image_score: None,
        },
        ScoredImage {
            defect: "good",
            width: 3,
            height: 3,
            scores: &MAP_B,
            mask: None,
            image_score: None,
        },
    ];
    let eval = evaluate(&ims, 0.3).unwrap();
    for figures in [&eval.overall, &eval.per_defect["crack"]] {
        assert!(close(figures.au_pro, 0.629630));
        assert!(close(figures.pixel_auroc, 0.833333));
        assert_eq!(figures.image_auroc, Some(1.0));
        assert_eq!(figures.n_images, 2);
        assert_eq!(figures.n_pixel_images, 2);
    }
    // F1: threshold 0.5 -> tp 2, fp 1 of 3 positives: 2*2/(3+3) = 2/3; threshold 0.2 ->
    // tp 3, fp 6: 6/12. The best is 2/3 at 0.5.
    assert!(
        close(eval.overall.f1_max, 2.0 / 3.0),
        "{:?}",
        eval.overall.f1_max
    );
    assert_eq!(eval.overall.f1_threshold, Some(f64::from(0.5f32)));
    assert!(eval.notes.is_empty(), "{:?}", eval.notes);
    let json = serde_json::to_string(&eval).unwrap();
    let back: vaelens::metrics::Evaluation = serde_json::from_str(&json).unwrap();
    assert_eq!(back, eval);
}

#[test]
fn ties_count_one_half() {
    assert_eq!(auroc(&[0.5, 0.5], &[true, false]), Some(0.5));
    // Positive 0.3 ties two of three negatives, beats one: (1 + 0.5 + 0.5) / 3.
    let a = auroc(&[0.3, 0.3, 0.3, 0.1], &[true, false, false, false]).unwrap();
    assert!((a - 2.0 / 3.0).abs() < 1e-12);
    let m = f1_max(&[0.5, 0.5], &[true, false]).unwrap();
    assert!((m.f1 - 2.0 / 3.0).abs() < 1e-12);
}

#[test]
fn all_tied_pro_is_the_diagonal() {
    // Every pixel tied: the curve jumps from (0, 0) to (1, 1); up to 0.3 the area is
    // 0.3 * 0.3 / 2, divided by 0.3 gives 0.15.
    let scores = [0.7f32; 4];
    let mask = [true, false, false, false];
    let ims = [PixelImage {
        width: 2,
        height: 2,
        scores: &scores,
        mask: Some(&mask),
    }];
    assert!(close(au_pro(&ims, 0.3), 0.15), "{:?}", au_pro(&ims, 0.3));
    assert!(close(au_pro(&ims, 1.0), 0.5));
}

#[test]
fn defects_without_masks_and_bad_input() {
    let good = [0.1f32, 0.2, 0.1, 0.1];
    let bad = [0.9f32, 0.2, 0.1, 0.3];
    let nan = [0.9f32, f32::NAN, 0.1, 0.3];
    let mk = |defect, scores| ScoredImage {
        defect,
        width: 2,
        height: 2,
        scores,
        mask: None,
        image_score: None,
    };
    let eval = evaluate(&[mk("good", &good), mk("scratch", &bad)], 0.3).unwrap();
    assert_eq!(eval.overall.image_auroc, Some(1.0));
    assert_eq!(eval.overall.pixel_auroc, None);
    assert_eq!(eval.per_defect["scratch"].au_pro, None);
    assert!(
        eval.notes.iter().any(|n| n.contains("'scratch' skipped")),
        "{:?}",
        eval.notes
    );
    assert!(eval.curves.roc.is_empty());

    let err = evaluate(&[mk("good", &good), mk("scratch", &nan)], 0.3).unwrap_err();
    assert_eq!(
        err,
        MetricsError::NanScore {
            index: 1,
            defect: "scratch".into(),
            x: 1,
            y: 0
        }
    );
    let short = ScoredImage {
        width: 3,
        ..mk("good", &good)
    };
    assert!(matches!(
        evaluate(&[short], 0.3),
        Err(MetricsError::ScoreLength { .. })
    ));
    assert!(matches!(
        evaluate(&[], 0.0),
        Err(MetricsError::InvalidLimit(_))
    ));
    let empty = evaluate(&[], 0.3).unwrap();
    assert_eq!(empty.overall.n_images, 0);
    assert!(!empty.notes.is_empty());
}

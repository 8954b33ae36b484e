//! Data layer on bad input: every case gives an error that names the file, never a panic.

use std::fs;
use std::path::{Path, PathBuf};

use image::{GrayImage, Luma};
use vaelens::data::{
    Category, DataError, SynthConfig, TrainSet, load_image, load_mask, synth_category,
};

fn gray(path: &Path, w: u32, h: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    GrayImage::from_fn(w, h, |x, y| Luma([(x * 7 + y * 3) as u8]))
        .save(path)
        .unwrap();
}

fn truncated_png(path: &Path) {
    let src = path.with_extension("full.png");
    GrayImage::from_fn(64, 64, |x, y| Luma([((x * 31) ^ (y * 17)) as u8]))
        .save(&src)
        .unwrap();
    let bytes = fs::read(&src).unwrap();
    fs::remove_file(&src).unwrap();
    fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
}

fn no_progress() -> impl FnMut(usize, usize) {
    |_, _| {}
}

#[test]
fn empty_folder_says_what_was_expected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("empty_cat");
    fs::create_dir(&dir).unwrap();
    let err = Category::discover(&dir).unwrap_err();
    assert!(matches!(err, DataError::NoImages { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("empty_cat") && msg.contains("train/good"),
        "{msg}"
    );
}

#[test]
fn nonexistent_path_is_not_found() {
    let err = Category::discover(Path::new("/definitely/not/here/cat_xyz")).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }));
    assert!(err.to_string().contains("cat_xyz"), "{err}");
    let err = load_image(Path::new("/definitely/not/here/img_xyz.png")).unwrap_err();
    assert!(
        err.to_string().contains("img_xyz.png") && err.to_string().contains("not found"),
        "{err}"
    );
}

#[test]
fn file_given_as_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("image_not_dir.png");
    gray(&f, 4, 4);
    let err = Category::discover(&f).unwrap_err();
    assert!(matches!(err, DataError::NotADirectory { .. }));
    assert!(err.to_string().contains("image_not_dir.png"), "{err}");
}

#[test]
fn truncated_and_fake_pngs_are_skipped_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("train/good");
    gray(&good.join("000.png"), 8, 8);
    gray(&good.join("001.png"), 8, 8);
    truncated_png(&good.join("002_truncated.png"));
    fs::write(good.join("x.png"), "this is a text file, not a PNG").unwrap();
    fs::write(good.join("zero.png"), "").unwrap();

    let cat = Category::discover(tmp.path()).unwrap();
    assert_eq!(cat.train.len(), 5);
    let set = TrainSet::load(&cat.train, 1, 8, &mut no_progress()).unwrap();
    assert_eq!(set.n, 2);
    assert_eq!(set.skipped.len(), 3);
    let reasons: Vec<String> = set.skipped.iter().map(|s| s.reason.clone()).collect();
    assert!(
        set.skipped
            .iter()
            .any(|s| s.path.ends_with("002_truncated.png"))
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("002_truncated.png") && r.contains("cannot decode")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("x.png")), "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("zero.png") && r.contains("empty")),
        "{reasons:?}"
    );

    let err = load_image(&good.join("002_truncated.png")).unwrap_err();
    assert!(matches!(err, DataError::Decode { .. }), "{err:?}");
}

#[test]
fn all_training_images_corrupt_is_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("train/good");
    fs::create_dir_all(&good).unwrap();
    fs::write(good.join("a.png"), "nope").unwrap();
    truncated_png(&good.join("b.png"));
    let cat = Category::discover(tmp.path()).unwrap();
    let err = TrainSet::load(&cat.train, 3, 16, &mut no_progress()).unwrap_err();
    assert!(
        matches!(err, DataError::EmptyTrainSet { skipped: 2, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&good.display().to_string()), "{msg}");
    assert!(msg.contains("2 file(s) skipped"), "{msg}");
    assert!(msg.contains("train/good/*.png"), "{msg}");
}

#[test]
fn empty_train_good_folder() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("train/good")).unwrap();
    let err = Category::discover(tmp.path()).unwrap_err();
    assert!(
        matches!(err, DataError::EmptyTrainSet { skipped: 0, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("good"), "{err}");
    let err = TrainSet::load(&[], 1, 8, &mut no_progress()).unwrap_err();
    assert!(matches!(err, DataError::EmptyTrainSet { .. }));
}

#[test]
fn mask_of_another_size_names_both_files() {
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("test/crack/007.png");
    let mask = tmp.path().join("ground_truth/crack/007_mask.png");
    gray(&img, 16, 12);
    gray(&mask, 8, 8);
    let err = load_mask(&mask, (16, 12), &img).unwrap_err();
    assert!(matches!(err, DataError::MaskSize { .. }));
    let msg = err.to_string();
    assert!(msg.contains("007_mask.png") && msg.contains("8x8"), "{msg}");
    assert!(
        msg.contains("crack/007.png") && msg.contains("16x12"),
        "{msg}"
    );
    let err = load_mask(&tmp.path().join("missing_mask.png"), (16, 12), &img).unwrap_err();
    assert!(err.to_string().contains("missing_mask.png"), "{err}");
}

#[test]
fn train_without_good_is_a_wrong_layout() {
    let tmp = tempfile::tempdir().unwrap();
    gray(&tmp.path().join("train/normal/000.png"), 4, 4);
    let err = Category::discover(tmp.path()).unwrap_err();
    assert!(matches!(err, DataError::WrongLayout { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("train/good") && msg.contains("train/normal"),
        "{msg}"
    );
}

#[test]
fn test_split_without_train_is_a_wrong_layout() {
    let tmp = tempfile::tempdir().unwrap();
    gray(&tmp.path().join("test/good/000.png"), 4, 4);
    let err = Category::discover(tmp.path()).unwrap_err();
    assert!(matches!(err, DataError::WrongLayout { .. }), "{err:?}");
    assert!(err.to_string().contains("train/good"), "{err}");
}

#[test]
fn directory_named_like_an_image() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("folder.png");
    fs::create_dir(&d).unwrap();
    let err = load_image(&d).unwrap_err();
    assert!(err.to_string().contains("folder.png"), "{err}");
    let paths: Vec<PathBuf> = vec![d];
    assert!(TrainSet::load(&paths, 1, 4, &mut no_progress()).is_err());
}

#[test]
fn bad_arguments_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("a.png");
    gray(&p, 4, 4);
    assert!(matches!(
        TrainSet::load(std::slice::from_ref(&p), 2, 4, &mut no_progress()),
        Err(DataError::InvalidArgument(_))
    ));
    assert!(matches!(
        TrainSet::load(&[p], 1, 0, &mut no_progress()),
        Err(DataError::InvalidArgument(_))
    ));
}

#[test]
fn synth_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("keep.txt"), "precious").unwrap();
    let tex =
        image::DynamicImage::ImageLuma8(GrayImage::from_fn(32, 32, |x, y| Luma([(x ^ y) as u8])));
    let cfg = SynthConfig {
        size: 16,
        n_train: 1,
        n_test_good: 1,
        n_per_defect: 1,
        seed: 0,
        rgb: false,
    };
    let err = synth_category(&tex, tmp.path(), &cfg).unwrap_err();
    assert!(matches!(err, DataError::OutputNotEmpty { .. }));
    assert_eq!(
        fs::read_to_string(tmp.path().join("keep.txt")).unwrap(),
        "precious"
    );
    let tiny = image::DynamicImage::ImageLuma8(GrayImage::new(4, 4));
    let err = synth_category(&tiny, &tmp.path().join("new"), &cfg).unwrap_err();
    assert!(err.to_string().contains("4x4"), "{err}");
}

/// A decompression bomb: a valid PNG of 13000 x 13000 px, half a megabyte on disk, is refused
/// from its header with a message naming it, before anything the size of the image is allocated;
/// a training folder holding one skips it and trains on the rest.
#[test]
fn a_huge_image_is_refused_from_its_header() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("train/good");
    gray(&good.join("000.png"), 32, 32);
    let bomb = good.join("bomb.png");
    GrayImage::new(13_000, 13_000).save(&bomb).unwrap();
    assert!(fs::metadata(&bomb).unwrap().len() < 1 << 20);
    let err = load_image(&bomb).unwrap_err();
    assert!(matches!(err, DataError::TooLarge { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("bomb.png") && msg.contains("13000 x 13000"),
        "{msg}"
    );
    let set = TrainSet::load(
        &[good.join("000.png"), bomb.clone()],
        1,
        16,
        &mut no_progress(),
    )
    .unwrap();
    assert_eq!(set.n, 1);
    assert_eq!(set.skipped[0].path, bomb);
}

/// A JPEG cut short decodes without complaint in the decoder (the missing rows are filled in):
/// it is refused by name instead.
#[test]
fn a_truncated_jpeg_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full.jpg");
    image::RgbImage::from_fn(64, 64, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 4) as u8, 99])
    })
    .save(&full)
    .unwrap();
    assert!(load_image(&full).is_ok());
    let bytes = fs::read(&full).unwrap();
    let cut = tmp.path().join("cut.jpg");
    fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let msg = load_image(&cut).unwrap_err().to_string();
    assert!(
        msg.contains("cut.jpg") && msg.contains("truncated"),
        "{msg}"
    );
}

/// Masks of 0/1 or gray values mark their defects (they were read as all good).
#[test]
fn masks_that_are_not_0_255_still_mark_defects() {
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("img.png");
    gray(&image, 4, 2);
    for (name, on) in [("ones.png", 1u8), ("gray.png", 90), ("full.png", 255)] {
        let mask = tmp.path().join(name);
        GrayImage::from_fn(4, 2, |x, _| Luma([if x < 2 { on } else { 0 }]))
            .save(&mask)
            .unwrap();
        let marked = load_mask(&mask, (4, 2), &image).unwrap();
        assert_eq!(
            marked,
            vec![true, true, false, false, true, true, false, false],
            "{name}"
        );
    }
}

/// File names that are not UTF-8 are images like any other (they were dropped silently).
#[cfg(unix)]
#[test]
fn non_utf8_file_names_are_kept() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("cat/train/good");
    gray(&good.join("a.png"), 16, 16);
    let odd = good.join(std::ffi::OsStr::from_bytes(b"caf\xe9.png"));
    gray(&odd, 16, 16);
    let category = Category::discover(&tmp.path().join("cat")).unwrap();
    assert!(category.train.contains(&odd), "{:?}", category.train);
}

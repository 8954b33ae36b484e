//! Data layer: MVTec and plain-folder discovery, decoding of 16-bit / RGBA / palette PNGs,
//! channel detection, training-set batching and the synthetic category generator.

use std::fs;
use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage, ImageBuffer, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use vaelens::data::{
    Category, DataError, DefectKind, LayoutKind, SynthConfig, SynthItem, TrainSet, channels_of,
    detect_channels, discover_categories, load_image, load_mask, synth_category, synth_image,
    to_model_input,
};

fn gray(path: &Path, w: u32, h: u32, v: u8) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    GrayImage::from_fn(w, h, |x, y| Luma([v.wrapping_add((x + y) as u8)]))
        .save(path)
        .unwrap();
}

fn touch(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn mvtec_category_is_discovered_with_masks_and_notes() {
    let tmp = tempfile::tempdir().unwrap();
    let cat = tmp.path().join("bottle");
    gray(&cat.join("train/good/001.png"), 8, 8, 10);
    gray(&cat.join("train/good/000.png"), 8, 8, 20);
    gray(&cat.join("train/good/002.PNG"), 8, 8, 30);
    gray(&cat.join("train/good/.hidden.png"), 8, 8, 30);
    touch(&cat.join("train/good/notes.txt"), b"not an image");
    gray(&cat.join("test/good/000.png"), 8, 8, 40);
    gray(&cat.join("test/good/001.png"), 8, 8, 50);
    gray(&cat.join("test/crack/000.png"), 8, 8, 60);
    gray(&cat.join("test/crack/001.png"), 8, 8, 70);
    gray(&cat.join("test/broken_large/000.png"), 8, 8, 70);
    gray(&cat.join("ground_truth/crack/000_mask.png"), 8, 8, 0);
    gray(&cat.join("ground_truth/broken_large/000_mask.png"), 8, 8, 0);

    let c = Category::discover(&cat).unwrap();
    assert_eq!(c.kind, LayoutKind::Mvtec);
    assert_eq!(c.name, "bottle");
    assert_eq!(names(&c.train), ["000.png", "001.png", "002.PNG"]);
    assert_eq!(c.test.len(), 5);
    assert_eq!(c.defect_types(), ["good", "broken_large", "crack"]);
    assert_eq!(c.train_folder(), cat.join("train/good"));

    let crack = c.test_of("crack");
    assert_eq!(crack.len(), 2);
    assert_eq!(
        crack[0].mask.as_deref(),
        Some(cat.join("ground_truth/crack/000_mask.png").as_path())
    );
    assert_eq!(crack[1].mask, None, "001 has no mask");
    assert!(c.test_of("good").iter().all(|t| t.mask.is_none()));
    assert!(c.test_of("broken_large")[0].mask.is_some());
    let note = c
        .notes
        .iter()
        .find(|n| n.contains("crack"))
        .expect("a note about the missing mask");
    assert!(
        note.contains("001.png") && note.contains("001_mask.png"),
        "{note}"
    );
}

#[test]
fn category_without_test_split_gets_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    gray(&tmp.path().join("train/good/a.png"), 4, 4, 1);
    let c = Category::discover(tmp.path()).unwrap();
    assert_eq!(c.kind, LayoutKind::Mvtec);
    assert_eq!(c.train.len(), 1);
    assert!(c.test.is_empty());
    assert!(
        c.notes.iter().any(|n| n.contains("no test/")),
        "{:?}",
        c.notes
    );
}

#[test]
fn plain_folder_is_all_training() {
    let tmp = tempfile::tempdir().unwrap();
    gray(&tmp.path().join("b.jpg.png"), 4, 4, 1);
    gray(&tmp.path().join("a.png"), 4, 4, 1);
    RgbImage::new(4, 4).save(tmp.path().join("c.BMP")).unwrap();
    RgbImage::new(4, 4).save(tmp.path().join("d.tif")).unwrap();
    touch(&tmp.path().join("readme.md"), b"hi");
    gray(&tmp.path().join("sub/e.png"), 4, 4, 1);
    let c = Category::discover(tmp.path()).unwrap();
    assert_eq!(c.kind, LayoutKind::PlainFolder);
    assert_eq!(names(&c.train), ["a.png", "b.jpg.png", "c.BMP", "d.tif"]);
    assert!(c.test.is_empty());
    assert!(c.defect_types().is_empty());
    assert!(c.notes.iter().any(|n| n.contains("sub")), "{:?}", c.notes);
}

#[test]
fn mvtec_root_with_several_categories_asks_to_pick_one() {
    let tmp = tempfile::tempdir().unwrap();
    gray(&tmp.path().join("screw/train/good/000.png"), 4, 4, 1);
    gray(&tmp.path().join("grid/train/good/000.png"), 4, 4, 1);
    fs::create_dir_all(tmp.path().join("not_a_category")).unwrap();
    touch(&tmp.path().join("license.txt"), b"cc");
    let cats = discover_categories(tmp.path());
    assert_eq!(names(&cats), ["grid", "screw"]);
    let err = Category::discover(tmp.path()).unwrap_err();
    assert!(matches!(err, DataError::MultipleCategories { .. }));
    let msg = err.to_string();
    assert!(msg.contains("pick one category: grid, screw"), "{msg}");
}

#[test]
fn sixteen_bit_gray_png_scales_to_unit_range() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("g16.png");
    let values = [0u16, 257, 32768, 65535];
    ImageBuffer::<Luma<u16>, Vec<u16>>::from_raw(2, 2, values.to_vec())
        .unwrap()
        .save(&path)
        .unwrap();
    let img = load_image(&path).unwrap();
    assert!(matches!(img, DynamicImage::ImageLuma16(_)));
    assert_eq!(channels_of(&img), 1);
    let x = to_model_input(&img, 1, 2);
    for (got, v) in x.iter().zip(values) {
        assert!((got - v as f32 / 65535.0).abs() < 1e-6, "{got} vs {v}");
    }
    assert!((x[1] - 1.0 / 255.0).abs() < 1e-6);
    // gray replicated into 3 channels, CHW
    let x3 = to_model_input(&img, 3, 2);
    assert_eq!(x3.len(), 12);
    for c in 0..3 {
        for p in 0..4 {
            assert!((x3[c * 4 + p] - x[p]).abs() < 1e-6);
        }
    }
}

#[test]
fn rgba_png_decodes_to_three_channels_chw() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rgba.png");
    RgbaImage::from_fn(2, 1, |x, _| {
        if x == 0 {
            Rgba([255, 0, 51, 0])
        } else {
            Rgba([0, 102, 255, 255])
        }
    })
    .save(&path)
    .unwrap();
    let img = load_image(&path).unwrap();
    assert_eq!(channels_of(&img), 3);
    let x = to_model_input(&img, 3, 2);
    // size 2x2 from 2x1: rows identical; check R plane, G plane, B plane of the first row
    let close = |a: f32, b: f32| (a - b).abs() < 1e-4;
    assert!(close(x[0], 1.0) && close(x[1], 0.0), "R {:?}", &x[0..4]);
    assert!(close(x[4], 0.0) && close(x[5], 0.4), "G {:?}", &x[4..8]);
    assert!(close(x[8], 0.2) && close(x[9], 1.0), "B {:?}", &x[8..12]);
    // colour to one channel uses luma
    let y = to_model_input(&img, 1, 2);
    assert!(close(y[0], 0.2126 + 0.0722 * 0.2), "{}", y[0]);
}

/// Minimal PNG writer for an 8-bit palette image (stored deflate blocks), because the image
/// crate only writes palette PNGs through the png crate's lower-level API.
fn palette_png(w: u32, h: u32, palette: &[[u8; 3]], indices: &[u8]) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut raw = Vec::new();
    for row in indices.chunks(w as usize) {
        raw.push(0u8); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = vec![0x78, 0x01];
    z.push(1); // final stored block
    z.extend_from_slice(&(raw.len() as u16).to_le_bytes());
    z.extend_from_slice(&(!(raw.len() as u16)).to_le_bytes());
    z.extend_from_slice(&raw);
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + x as u32) % 65521;
        b = (b + a) % 65521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 3, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"PLTE", &palette.concat());
    chunk(&mut png, b"IDAT", &z);
    chunk(&mut png, b"IEND", &[]);
    png
}

#[test]
fn palette_png_is_expanded_to_rgb() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("pal.png");
    let palette = [[255, 0, 0], [0, 0, 255], [10, 20, 30]];
    fs::write(&path, palette_png(3, 2, &palette, &[0, 1, 2, 2, 1, 0])).unwrap();
    let img = load_image(&path).unwrap();
    assert_eq!(channels_of(&img), 3);
    let rgb = img.to_rgb8();
    assert_eq!(rgb.get_pixel(0, 0), &Rgb([255, 0, 0]));
    assert_eq!(rgb.get_pixel(1, 0), &Rgb([0, 0, 255]));
    assert_eq!(rgb.get_pixel(0, 1), &Rgb([10, 20, 30]));
}

#[test]
fn resizing_averages_with_a_triangle_filter() {
    let img = DynamicImage::ImageLuma8(GrayImage::from_fn(4, 4, |x, _| {
        Luma([if x < 2 { 0 } else { 255 }])
    }));
    let x = to_model_input(&img, 1, 2);
    assert_eq!(x.len(), 4);
    assert!(x[0] < 0.2 && x[1] > 0.8, "{x:?}");
    let up = to_model_input(&img, 3, 8);
    assert_eq!(up.len(), 3 * 64);
    assert!(up.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn channels_are_detected_from_the_first_images() {
    let tmp = tempfile::tempdir().unwrap();
    let g = tmp.path().join("g.png");
    let c = tmp.path().join("c.png");
    let gc = tmp.path().join("gray_in_rgb.png");
    let bad = tmp.path().join("bad.png");
    gray(&g, 4, 4, 9);
    RgbImage::from_fn(4, 4, |x, _| Rgb([x as u8 * 50, 0, 0]))
        .save(&c)
        .unwrap();
    RgbImage::from_fn(4, 4, |x, _| Rgb([x as u8, x as u8, x as u8]))
        .save(&gc)
        .unwrap();
    touch(&bad, b"junk");
    assert_eq!(detect_channels(&[bad.clone(), g.clone()]), 1);
    assert_eq!(detect_channels(&[g.clone(), gc.clone()]), 1);
    assert_eq!(detect_channels(&[g.clone(), c.clone()]), 3);
    assert_eq!(detect_channels(&[c]), 3);
    assert_eq!(detect_channels(&[bad]), 3, "nothing decodable: default 3");
    assert_eq!(detect_channels(&[]), 3);
}

#[test]
fn mask_is_thresholded_row_major() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m.png");
    // Defect is at least half the mask's largest value: 128 of 255 in a 0/255 mask.
    GrayImage::from_raw(3, 1, vec![0, 255, 127])
        .unwrap()
        .save(&m)
        .unwrap();
    assert_eq!(
        load_mask(&m, (3, 1), Path::new("img.png")).unwrap(),
        [false, true, false]
    );
    GrayImage::from_raw(3, 1, vec![0, 128, 127])
        .unwrap()
        .save(&m)
        .unwrap();
    assert_eq!(
        load_mask(&m, (3, 1), Path::new("img.png")).unwrap(),
        [false, true, true]
    );
}

#[test]
fn train_set_loads_shuffles_and_flips_deterministically() {
    let tmp = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = (0..5)
        .map(|i| {
            let p = tmp.path().join(format!("{i}.png"));
            GrayImage::from_fn(4, 4, |x, _| Luma([(i * 40 + x * 10) as u8]))
                .save(&p)
                .unwrap();
            p
        })
        .collect();
    let mut calls = Vec::new();
    let set = TrainSet::load(&paths, 1, 4, &mut |done, total| calls.push((done, total))).unwrap();
    assert_eq!(
        (set.n, set.channels, set.size, set.images.len()),
        (5, 1, 4, 80)
    );
    assert!(set.skipped.is_empty());
    assert_eq!(calls.last(), Some(&(5, 5)));
    assert_eq!(calls.len(), 5);
    // path order kept
    for i in 0..5 {
        assert!((set.image(i)[0] - (i * 40) as f32 / 255.0).abs() < 1e-6);
    }

    let o1 = set.batch_order(0, 42);
    assert_eq!(o1, set.batch_order(0, 42));
    let mut sorted = o1.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 1, 2, 3, 4]);
    assert!(
        (1..20).any(|e| set.batch_order(e, 42) != o1),
        "epochs shuffle differently"
    );

    let plain = set.batch(&[3, 1], None);
    assert_eq!(plain.len(), 32);
    assert_eq!(&plain[..16], set.image(3));
    let f1 = set.batch(&[0, 1, 2, 3, 4], Some(7));
    assert_eq!(f1, set.batch(&[0, 1, 2, 3, 4], Some(7)));
    let mut flipped = 0;
    for i in 0..5 {
        let img = &f1[i * 16..(i + 1) * 16];
        let orig = set.image(i);
        let mirrored: Vec<f32> = orig
            .chunks(4)
            .flat_map(|r| r.iter().rev().copied())
            .collect();
        if img == orig {
            continue;
        }
        assert_eq!(img, mirrored.as_slice());
        flipped += 1;
    }
    let any_seed_flips =
        (0..10).any(|s| set.batch(&[0, 1, 2, 3, 4], Some(s)) != set.batch(&[0, 1, 2, 3, 4], None));
    assert!(flipped > 0 || any_seed_flips);
}

fn texture() -> DynamicImage {
    // a deterministic stand-in for a texture photo: bricks-like stripes plus a gradient
    DynamicImage::ImageLuma8(GrayImage::from_fn(96, 80, |x, y| {
        let mortar = x % 12 == 0 || y % 7 == 0;
        Luma([if mortar {
            200
        } else {
            (60 + (x * 3 + y * 5) % 90) as u8
        }])
    }))
}

fn all_files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn synth_category_is_deterministic_and_well_formed() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        size: 48,
        n_train: 5,
        n_test_good: 3,
        n_per_defect: 4,
        seed: 11,
        rgb: false,
    };
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let summary = synth_category(&texture(), &a, &cfg).unwrap();
    synth_category(&texture(), &b, &cfg).unwrap();
    assert_eq!(summary.files_written, 5 + 3 + 4 * 4 * 2);
    let fa = all_files(&a);
    assert_eq!(
        fa.len(),
        summary.files_written,
        "no temporary files left behind"
    );
    assert_eq!(fa, all_files(&b), "same seed, same bytes");

    let other = tmp.path().join("c");
    synth_category(
        &texture(),
        &other,
        &SynthConfig {
            seed: 12,
            ..cfg.clone()
        },
    )
    .unwrap();
    assert_ne!(fa, all_files(&other), "another seed, other images");

    let c = Category::discover(&a).unwrap();
    assert_eq!(c.kind, LayoutKind::Mvtec);
    assert_eq!(c.train.len(), 5);
    assert_eq!(
        c.defect_types(),
        ["good", "foreign", "hole", "scratch", "stain"]
    );
    assert!(c.notes.is_empty(), "{:?}", c.notes);
    for t in &c.test {
        let img = load_image(&t.path).unwrap();
        assert_eq!((img.width(), img.height()), (48, 48));
        assert_eq!(channels_of(&img), 1);
        match &t.mask {
            None => assert_eq!(t.defect, "good"),
            Some(m) => {
                let mask = load_mask(m, (48, 48), &t.path).unwrap();
                let on = mask.iter().filter(|&&v| v).count();
                assert!(on > 0, "{} has an empty mask", m.display());
                assert!(on < 48 * 48 / 8, "{} covers {on} px", m.display());
                let raw = load_image(m).unwrap().to_luma8();
                assert!(raw.pixels().all(|p| p[0] == 0 || p[0] == 255));
            }
        }
    }
    for p in &c.train {
        let img = load_image(p).unwrap();
        assert_eq!((img.width(), img.height()), (48, 48));
    }
}

#[test]
fn synth_defects_change_only_masked_pixels() {
    let cfg = SynthConfig {
        size: 64,
        n_train: 0,
        n_test_good: 0,
        n_per_defect: 0,
        seed: 3,
        rgb: true,
    };
    for kind in DefectKind::ALL {
        for i in 0..6 {
            let s = synth_image(&texture(), &cfg, SynthItem::Defect(kind, i)).unwrap();
            let mask = s.mask.expect("defect has a mask");
            let (clean, img) = (s.clean.to_rgb8(), s.image.to_rgb8());
            assert_eq!(img.dimensions(), (64, 64));
            let mut changed_in = 0;
            let mut inside = 0;
            for (x, y, m) in mask.enumerate_pixels() {
                let changed = clean.get_pixel(x, y) != img.get_pixel(x, y);
                if m[0] > 0 {
                    inside += 1;
                    changed_in += changed as usize;
                } else {
                    assert!(
                        !changed,
                        "{kind:?} {i}: pixel ({x},{y}) changed outside the mask"
                    );
                }
            }
            let frac = inside as f64 / (64.0 * 64.0);
            assert!(
                (0.001..0.08).contains(&frac),
                "{kind:?} {i}: mask covers {frac}"
            );
            assert!(
                changed_in * 2 >= inside,
                "{kind:?} {i}: only {changed_in} of {inside} masked pixels changed"
            );
        }
    }
    let good = synth_image(&texture(), &cfg, SynthItem::TestGood(0)).unwrap();
    assert!(good.mask.is_none());
    assert_eq!(good.clean.as_bytes(), good.image.as_bytes());
    assert_eq!(channels_of(&good.image), 3);
}

//! Finding images on disk: an MVTec AD category (train/good, test/<defect>, ground_truth masks)
//! or a plain folder of images (all training, no test split).

use std::path::{Path, PathBuf};

use super::decode::is_image_path;
use super::error::DataError;

/// How a category folder is organised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutKind {
    /// `CAT/train/good/*`, `CAT/test/<defect>/*`, `CAT/ground_truth/<defect>/<stem>_mask.png`.
    Mvtec,
    /// A folder of images: all of them are training images, there is no test split.
    PlainFolder,
}

/// One test image with its defect type (`"good"` for normal images) and its mask, if found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestImage {
    pub path: PathBuf,
    pub defect: String,
    pub mask: Option<PathBuf>,
}

/// A discovered data set: training images, test images and notes on what was missing.
#[derive(Debug, Clone)]
pub struct Category {
    pub root: PathBuf,
    pub name: String,
    pub kind: LayoutKind,
    pub train: Vec<PathBuf>,
    pub test: Vec<TestImage>,
    /// Human-readable remarks (missing masks, missing test split, ignored folders).
    pub notes: Vec<String>,
}

impl Category {
    /// Reads `dir` as an MVTec category (it has `train/`) or a plain folder of images.
    /// Paths are sorted, hidden files ignored, extensions matched case-insensitively.
    pub fn discover(dir: &Path) -> Result<Category, DataError> {
        let meta = std::fs::metadata(dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => DataError::NotFound {
                path: dir.to_path_buf(),
            },
            _ => DataError::Io {
                path: dir.to_path_buf(),
                source: e,
            },
        })?;
        if !meta.is_dir() {
            return Err(DataError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        let name = folder_name(dir);
        let train_dir = dir.join("train");
        if train_dir.is_dir() {
            return discover_mvtec(dir, name);
        }
        if train_dir.exists() {
            return Err(DataError::WrongLayout {
                dir: dir.to_path_buf(),
                problem: "train is a file, not a folder".into(),
            });
        }

        let images = list_images(dir)?;
        if images.is_empty() {
            let categories = discover_categories(dir);
            if !categories.is_empty() {
                return Err(DataError::MultipleCategories {
                    dir: dir.to_path_buf(),
                    categories: categories.iter().map(|c| folder_name(c)).collect(),
                });
            }
            if dir.join("test").is_dir() || dir.join("ground_truth").is_dir() {
                return Err(DataError::WrongLayout {
                    dir: dir.to_path_buf(),
                    problem:
                        "has test/ or ground_truth/ but no train/good/ folder of training images"
                            .into(),
                });
            }
            return Err(DataError::NoImages {
                dir: dir.to_path_buf(),
            });
        }
        let mut notes = vec![format!(
            "{}: plain folder of {} images, all used for training; no test split (no train/ folder)",
            dir.display(),
            images.len()
        )];
        let subdirs = list_subdirs(dir)?;
        if !subdirs.is_empty() {
            notes.push(format!(
                "{}: subfolders ignored ({}); only images directly in the folder are used",
                dir.display(),
                subdirs
                    .iter()
                    .map(|d| folder_name(d))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(Category {
            root: dir.to_path_buf(),
            name,
            kind: LayoutKind::PlainFolder,
            train: images,
            test: Vec::new(),
            notes,
        })
    }

    /// Defect types present in the test split, sorted, with `"good"` first when present.
    pub fn defect_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self.test.iter().map(|t| t.defect.clone()).collect();
        types.sort();
        types.dedup();
        if let Some(i) = types.iter().position(|t| t == "good") {
            let good = types.remove(i);
            types.insert(0, good);
        }
        types
    }

    /// Folder the training images come from (`CAT/train/good` or the plain folder itself).
    pub fn train_folder(&self) -> PathBuf {
        match self.kind {
            LayoutKind::Mvtec => self.root.join("train").join("good"),
            LayoutKind::PlainFolder => self.root.clone(),
        }
    }

    /// Test images of one defect type, in path order.
    pub fn test_of(&self, defect: &str) -> Vec<&TestImage> {
        self.test.iter().filter(|t| t.defect == defect).collect()
    }
}

/// Subfolders of `dir` (sorted, not hidden) that are MVTec categories, i.e. have `train/good/`.
/// Useful when the user points at an MVTec root (e.g. `mvtec_anomaly_detection/`). `dir` itself
/// is not included; unreadable folders give an empty list.
pub fn discover_categories(dir: &Path) -> Vec<PathBuf> {
    list_subdirs(dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d.join("train").join("good").is_dir())
        .collect()
}

fn discover_mvtec(dir: &Path, name: String) -> Result<Category, DataError> {
    let good_dir = dir.join("train").join("good");
    if !good_dir.is_dir() {
        let found: Vec<String> = list_subdirs(&dir.join("train"))?
            .iter()
            .map(|d| folder_name(d))
            .collect();
        let problem = if found.is_empty() {
            "has train/ but no train/good/ folder".to_string()
        } else {
            format!(
                "has train/ but no train/good/ folder (found train/{})",
                found.join(", train/")
            )
        };
        return Err(DataError::WrongLayout {
            dir: dir.to_path_buf(),
            problem,
        });
    }
    let train = list_images(&good_dir)?;
    if train.is_empty() {
        return Err(DataError::EmptyTrainSet {
            folder: good_dir,
            skipped: 0,
        });
    }

    let mut notes = Vec::new();
    let mut test = Vec::new();
    let test_dir = dir.join("test");
    if !test_dir.is_dir() {
        notes.push(format!(
            "{}: no test/ folder; training only, no evaluation possible",
            dir.display()
        ));
    } else {
        for defect_dir in list_subdirs(&test_dir)? {
            let defect = folder_name(&defect_dir);
            let images = list_images(&defect_dir)?;
            if images.is_empty() {
                notes.push(format!(
                    "{}: no images, defect type skipped",
                    defect_dir.display()
                ));
                continue;
            }
            let gt_dir = dir.join("ground_truth").join(&defect);
            let mut missing = Vec::new();
            for path in images {
                let mask = if defect == "good" {
                    None
                } else {
                    find_mask(&gt_dir, &path)
                };
                if defect != "good" && mask.is_none() {
                    missing.push(path.clone());
                }
                test.push(TestImage {
                    path,
                    defect: defect.clone(),
                    mask,
                });
            }
            if let Some(first) = missing.first() {
                let stem = first.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                notes.push(format!(
                    "test/{defect}: {} image(s) have no mask (e.g. {} has no {}); pixel-level figures for \
                     '{defect}' are skipped for them, image-level figures still work",
                    missing.len(),
                    first.display(),
                    gt_dir.join(format!("{stem}_mask.png")).display()
                ));
            }
        }
        if test.is_empty() {
            notes.push(format!(
                "{}: no test images; no evaluation possible",
                test_dir.display()
            ));
        }
    }
    Ok(Category {
        root: dir.to_path_buf(),
        name,
        kind: LayoutKind::Mvtec,
        train,
        test,
        notes,
    })
}

/// `<gt_dir>/<stem>_mask.png`, or the same stem with another image extension.
fn find_mask(gt_dir: &Path, image: &Path) -> Option<PathBuf> {
    // Built from the OS's own bytes: names that are not UTF-8 find their masks too.
    let stem = image.file_stem()?;
    let mut png = stem.to_os_string();
    png.push("_mask.png");
    let png = gt_dir.join(png);
    if png.is_file() {
        return Some(png);
    }
    let mut wanted = stem.to_os_string();
    wanted.push("_mask");
    list_images(gt_dir)
        .ok()?
        .into_iter()
        .find(|p| p.file_stem() == Some(wanted.as_os_str()))
}

/// Last component of a path, resolving `.` and `..` where possible.
fn folder_name(dir: &Path) -> String {
    let resolved = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    resolved
        .file_name()
        .or_else(|| dir.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| DataError::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        let path = entry.path();
        let hidden = path
            .file_name()
            .is_none_or(|n| n.to_string_lossy().starts_with('.'));
        if !hidden {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// Image files directly in `dir` (sorted, following symlinks, hidden files skipped).
fn list_images(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    Ok(read_dir_sorted(dir)?
        .into_iter()
        .filter(|p| is_image_path(p) && p.is_file())
        .collect())
}

fn list_subdirs(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    Ok(read_dir_sorted(dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect())
}

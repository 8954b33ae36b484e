//! Where the explorer writes by default: a `vaelens/<category>/` folder beside the opened data
//! set, or, when that folder's parent cannot be written (or the data is the bundled sample
//! inside the source tree), `vaelens/<category>/` in the user's data folder. Paths are absolute,
//! so the window says exactly where a file goes, and they follow the data set the user opens;
//! a path the user typed is left alone.

use std::path::{Path, PathBuf};

/// The default output files and folders for one data set.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputPaths {
    pub root: PathBuf,
}

impl OutputPaths {
    /// Defaults for the category at `category_root` named `name`.
    pub fn for_data(category_root: &Path, name: &str) -> Self {
        let beside = absolute(category_root)
            .parent()
            .filter(|parent| !is_in_source_tree(parent) && can_write_in(parent))
            .map(|parent| parent.join("vaelens").join(name));
        let root = beside.unwrap_or_else(|| user_folder().join(name));
        Self { root }
    }

    /// Defaults before any data set is open.
    pub fn without_data() -> Self {
        Self {
            root: user_folder(),
        }
    }

    pub fn screenshot(&self) -> PathBuf {
        self.root.join("screenshots/vaelens-screenshot.png")
    }

    pub fn report(&self) -> PathBuf {
        self.root.join("exports/report.json")
    }

    pub fn overlay(&self) -> PathBuf {
        self.root.join("exports/overlay.png")
    }

    pub fn overlays(&self) -> PathBuf {
        self.root.join("exports/overlays")
    }

    pub fn traversal_grid(&self) -> PathBuf {
        self.root.join("exports/traversal.png")
    }

    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("model.safetensors")
    }
}

/// Replaces `field` with `new` when it still holds `old` (the previous default) or nothing:
/// a path the user typed stays.
pub fn follow_default(field: &mut String, old: &Path, new: &Path) {
    let text = field.trim();
    if text.is_empty() || Path::new(text) == old {
        *field = new.display().to_string();
    }
}

/// A path typed in the window, made absolute against the working directory.
pub fn typed_path(text: &str) -> PathBuf {
    absolute(Path::new(text.trim()))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `vaelens` in the user's data folder (`$XDG_DATA_HOME`, `~/.local/share`, `%APPDATA%`, ...),
/// or in the working directory where there is none.
fn user_folder() -> PathBuf {
    dirs::data_dir()
        .map(|d| d.join("vaelens"))
        .unwrap_or_else(|| absolute(Path::new("vaelens")))
}

/// The bundled sample data lives in the source tree, which the explorer does not write into.
fn is_in_source_tree(path: &Path) -> bool {
    let source = absolute(Path::new(env!("CARGO_MANIFEST_DIR")));
    absolute(path).starts_with(source)
}

/// Whether a file can be created in `dir` (tried with a file removed at once).
fn can_write_in(dir: &Path) -> bool {
    let probe = dir.join(format!(".vaelens-write-check-{}", std::process::id()));
    let created = std::fs::File::create(&probe).is_ok();
    if created {
        let _ = std::fs::remove_file(&probe);
    }
    created
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_go_beside_the_data_set_and_are_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let category = dir.path().join("bottle");
        std::fs::create_dir_all(&category).unwrap();
        let paths = OutputPaths::for_data(&category, "bottle");
        assert_eq!(paths.root, absolute(dir.path()).join("vaelens/bottle"));
        assert!(paths.overlays().is_absolute());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "nothing written"
        );
    }

    #[test]
    fn the_bundled_sample_data_writes_to_the_user_folder() {
        let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/brick");
        let paths = OutputPaths::for_data(&bundled, "brick");
        assert_eq!(paths.root, user_folder().join("brick"));
        assert!(paths.root.is_absolute());
    }

    #[test]
    fn typed_paths_stay_and_defaults_follow() {
        let (old, new) = (Path::new("/a/x.png"), Path::new("/b/x.png"));
        let mut field = "/a/x.png".to_string();
        follow_default(&mut field, old, new);
        assert_eq!(field, "/b/x.png");
        let mut typed = "/mine/x.png".to_string();
        follow_default(&mut typed, old, new);
        assert_eq!(typed, "/mine/x.png");
        assert!(typed_path("rel/x.png").is_absolute());
    }
}

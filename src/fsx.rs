//! Crash-safe file writing: write to a temporary file in the target's folder, then rename it over
//! the target, so a crash never leaves a half-written file. Errors name the file.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `path` atomically: `write` fills a buffered temporary file next to `path` (same folder,
/// so the final rename stays on one file system); on success the data is flushed, synced and
/// renamed over `path`. On any error the temporary file is removed and `path` is left untouched.
/// The folder must exist. An existing `path` is replaced: callers decide whether that is wanted.
pub fn write_atomic<F>(path: &Path, write: F) -> io::Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
{
    let tmp = temp_path_for(path)?;
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut writer = BufWriter::new(file);
        write(&mut writer)?;
        writer.flush()?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if let Err(err) = result {
        let _ = fs::remove_file(&tmp);
        return Err(with_path(err, path));
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically (see [`write_atomic`]).
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(path, |w| w.write_all(bytes))
}

/// Creates `dir` if needed and checks that a file can be written in it, so that work whose
/// results go there fails before it starts rather than after. The error names the folder once
/// (or the file that stands where a folder is needed).
pub fn ensure_writable_dir(dir: &Path) -> io::Result<()> {
    if let Some(file) = dir.ancestors().find(|a| a.is_file()) {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{} is a file, not a folder", file.display()),
        ));
    }
    fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
    let probe = temp_path_for(&dir.join("write-check"))?;
    File::create(&probe).map_err(|e| with_path(e, dir))?;
    fs::remove_file(&probe).map_err(|e| with_path(e, &probe))
}

/// Removes the temporary files that interrupted atomic writes of `path` left behind.
pub fn remove_stale_temps(path: &Path) -> io::Result<()> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(());
    };
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(with_path(e, dir)),
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            fs::remove_file(entry.path()).map_err(|e| with_path(e, &entry.path()))?;
        }
    }
    Ok(())
}

/// Adds the file name to an I/O error's message, keeping its kind.
pub fn with_path(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

/// A fresh hidden name in the folder of `path`: `.NAME.tmp-PID-N`.
fn temp_path_for(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a file path", path.display()),
        )
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp_name = format!(".{}.tmp-{}-{n}", name.to_string_lossy(), std::process::id());
    Ok(path.with_file_name(tmp_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_bytes_atomic(&path, b"first").unwrap();
        write_bytes_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_write_keeps_old_file_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keep.txt");
        write_bytes_atomic(&path, b"old").unwrap();
        let err = write_atomic(&path, |_| Err(io::Error::other("boom"))).unwrap_err();
        assert!(err.to_string().contains("keep.txt"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_file_where_a_folder_is_needed_is_named_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        fs::write(&file, b"").unwrap();
        for wanted in [file.clone(), file.join("below")] {
            let message = ensure_writable_dir(&wanted).unwrap_err().to_string();
            assert_eq!(
                message,
                format!("{} is a file, not a folder", file.display()),
                "{message}"
            );
        }
        ensure_writable_dir(&dir.path().join("new/folder")).unwrap();
        assert!(dir.path().join("new/folder").is_dir());
        assert_eq!(
            fs::read_dir(dir.path().join("new/folder")).unwrap().count(),
            0
        );
    }

    #[test]
    fn missing_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no_such_dir").join("x.bin");
        assert!(write_bytes_atomic(&path, b"x").is_err());
    }
}

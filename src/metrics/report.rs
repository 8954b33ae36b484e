//! Writing an evaluation to disk: the report as JSON and the overall curves as CSV, atomically.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::curve::CurvePoint;
use super::evaluate::Evaluation;
use crate::fsx::write_atomic;

/// Writes the overall curves as `roc.csv` (fpr,tpr,threshold) and `pro.csv` (fpr,pro,threshold).
/// `dir_or_prefix` is a folder (an existing one, or a path ending in a separator) or a file-name
/// prefix: `out/bottle` gives `out/bottle_roc.csv` and `out/bottle_pro.csv` (a prefix ending in
/// `_`, `-` or `.`, such as `out/bottle_`, is used as it is: `out/bottle_roc.csv`). The synthetic end
/// points have an empty threshold. Existing files are replaced. Returns the paths written.
pub fn write_curves_csv(eval: &Evaluation, dir_or_prefix: &Path) -> io::Result<Vec<PathBuf>> {
    let as_dir = dir_or_prefix.is_dir()
        || dir_or_prefix
            .as_os_str()
            .to_string_lossy()
            .ends_with(std::path::is_separator);
    let path_for = |name: &str| -> PathBuf {
        if as_dir {
            dir_or_prefix.join(format!("{name}.csv"))
        } else {
            let mut p = dir_or_prefix.as_os_str().to_owned();
            let joined = p.to_string_lossy().ends_with(['_', '-', '.']);
            p.push(format!("{}{name}.csv", if joined { "" } else { "_" }));
            PathBuf::from(p)
        }
    };
    let files = [
        (path_for("roc"), "fpr,tpr,threshold", &eval.curves.roc),
        (path_for("pro"), "fpr,pro,threshold", &eval.curves.pro),
    ];
    let mut written = Vec::with_capacity(files.len());
    for (path, header, points) in files {
        write_atomic(&path, |w| write_curve(w, header, points))?;
        written.push(path);
    }
    Ok(written)
}

/// Writes `eval` as pretty JSON to `path`, atomically.
pub fn write_evaluation_json(eval: &Evaluation, path: &Path) -> io::Result<()> {
    write_atomic(path, |w| {
        serde_json::to_writer_pretty(&mut *w, eval).map_err(io::Error::other)?;
        w.write_all(b"\n")
    })
}

fn write_curve(w: &mut impl Write, header: &str, points: &[CurvePoint]) -> io::Result<()> {
    writeln!(w, "{header}")?;
    for p in points {
        match p.threshold {
            Some(t) => writeln!(w, "{},{},{}", p.fpr, p.y, t)?,
            None => writeln!(w, "{},{},", p.fpr, p.y)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{ScoredImage, evaluate};

    #[test]
    fn curves_csv_in_folder_and_with_prefix() {
        let scores = [0.9f32, 0.1, 0.5, 0.1];
        let mask = [true, false, false, false];
        let images = [ScoredImage {
            defect: "crack",
            width: 2,
            height: 2,
            scores: &scores,
            mask: Some(&mask),
            image_score: None,
        }];
        let eval = evaluate(&images, 0.3).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let written = write_curves_csv(&eval, dir.path()).unwrap();
        assert_eq!(
            written,
            vec![dir.path().join("roc.csv"), dir.path().join("pro.csv")]
        );
        let roc = std::fs::read_to_string(&written[0]).unwrap();
        assert_eq!(
            roc,
            "fpr,tpr,threshold\n0,0,\n0,1,0.9\n0.3333333333333333,1,0.5\n1,1,0.1\n"
        );
        let pro = std::fs::read_to_string(&written[1]).unwrap();
        assert!(pro.starts_with("fpr,pro,threshold\n0,0,\n") && pro.ends_with("1,1,\n"));
        let prefixed = write_curves_csv(&eval, &dir.path().join("bottle")).unwrap();
        assert_eq!(prefixed[1], dir.path().join("bottle_pro.csv"));
        let prefixed = write_curves_csv(&eval, &dir.path().join("report_recon_")).unwrap();
        assert_eq!(prefixed[0], dir.path().join("report_recon_roc.csv"));
        write_evaluation_json(&eval, &dir.path().join("eval.json")).unwrap();
        let text = std::fs::read_to_string(dir.path().join("eval.json")).unwrap();
        let back: Evaluation = serde_json::from_str(&text).unwrap();
        assert_eq!(back, eval);
    }
}

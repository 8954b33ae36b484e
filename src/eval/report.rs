//! The evaluation report: top-level figures of the default method, per defect type, one block
//! per method, curves as CSV beside it, and a table for humans.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{BASELINE_PREFIX, EvalError, ScoredTest};
use crate::metrics::{Evaluation, Figures, ScoredImage, evaluate, write_curves_csv};

/// Upper FPR limit of AU-PRO.
pub const PRO_LIMIT: f64 = 0.3;

/// One method's figures, overall and per defect type.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct MethodBlock {
    #[serde(flatten)]
    pub overall: Figures,
    pub per_defect: BTreeMap<String, Figures>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Report {
    /// The method whose figures stand at top level.
    pub method: String,
    #[serde(flatten)]
    pub overall: Figures,
    pub per_defect: BTreeMap<String, Figures>,
    /// Every method's block (for `eval --run`); empty for scored map folders.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub methods: BTreeMap<String, MethodBlock>,
    /// Maps that need no model (ids starting `baseline-`), which every method must beat.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub baselines: BTreeMap<String, MethodBlock>,
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stage: Option<usize>,
}

impl Report {
    /// Scores each method (`method_ids[m]` names `tests[..].maps[m]`).
    pub fn build(
        tests: &[ScoredTest],
        method_ids: &[&str],
        notes: Vec<String>,
        stage: Option<usize>,
    ) -> Result<(Self, Vec<Evaluation>), EvalError> {
        let evaluations = (0..method_ids.len())
            .map(|m| {
                evaluate(&scored_images(tests, m), PRO_LIMIT).map_err(|e| EvalError::Metrics {
                    method: method_ids[m].to_string(),
                    image: e.image_index().map(|i| tests[i].path.clone()),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<Evaluation>, EvalError>>()?;
        let mut all_notes = notes;
        for (id, evaluation) in method_ids.iter().zip(&evaluations) {
            for note in &evaluation.notes {
                let note = format!("{id}: {note}");
                if !all_notes.contains(&note) {
                    all_notes.push(note);
                }
            }
        }
        let mut methods = BTreeMap::new();
        let mut baselines = BTreeMap::new();
        if method_ids.len() > 1 || stage.is_some() {
            for (id, e) in method_ids.iter().zip(&evaluations) {
                let block = MethodBlock {
                    overall: e.overall.clone(),
                    per_defect: e.per_defect.clone(),
                };
                let group = if id.starts_with(BASELINE_PREFIX) {
                    &mut baselines
                } else {
                    &mut methods
                };
                group.insert(id.to_string(), block);
            }
        }
        let report = Self {
            method: method_ids[0].to_string(),
            overall: evaluations[0].overall.clone(),
            per_defect: evaluations[0].per_defect.clone(),
            methods,
            baselines,
            notes: all_notes,
            stage,
        };
        Ok((report, evaluations))
    }

    /// Writes the report as JSON (atomically) and the curves beside it; returns the curve files.
    pub fn write(
        &self,
        path: &Path,
        method_ids: &[&str],
        evaluations: &[Evaluation],
    ) -> std::io::Result<Vec<PathBuf>> {
        let json = serde_json::to_vec_pretty(self).expect("report serialises");
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| crate::fsx::with_path(e, dir))?;
        crate::fsx::write_bytes_atomic(path, &json)?;
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        let mut written = Vec::new();
        for (id, evaluation) in method_ids.iter().zip(evaluations) {
            written.extend(write_curves_csv(
                evaluation,
                &dir.join(format!("{stem}_{id}_")),
            )?);
        }
        Ok(written)
    }

    /// A plain-text table: one row per method and defect type.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<20} {:<14} {:>7} {:>7} {:>7} {:>7} {:>5}",
            "method", "defect", "P-AUROC", "AU-PRO", "I-AUROC", "F1-max", "n"
        );
        let blocks: Vec<(String, MethodBlock)> = if self.methods.is_empty() {
            vec![(
                self.method.clone(),
                MethodBlock {
                    overall: self.overall.clone(),
                    per_defect: self.per_defect.clone(),
                },
            )]
        } else {
            self.methods
                .iter()
                .chain(&self.baselines)
                .map(|(id, b)| (id.clone(), b.clone()))
                .collect()
        };
        for (id, block) in blocks {
            let rows = std::iter::once(("(all)".to_string(), &block.overall))
                .chain(block.per_defect.iter().map(|(d, f)| (d.clone(), f)));
            for (defect, f) in rows {
                let _ = writeln!(
                    out,
                    "{:<20} {:<14} {:>7} {:>7} {:>7} {:>7} {:>5}",
                    id,
                    defect,
                    cell(f.pixel_auroc),
                    cell(f.au_pro),
                    cell(f.image_auroc),
                    cell(f.f1_max),
                    f.n_images
                );
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }
}

fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.4}"))
}

/// The metrics' view of method `m`'s maps.
fn scored_images(tests: &[ScoredTest], m: usize) -> Vec<ScoredImage<'_>> {
    tests
        .iter()
        .map(|t| ScoredImage {
            defect: &t.defect,
            width: t.width,
            height: t.height,
            scores: &t.maps[m].scores,
            mask: t.mask.as_deref(),
            image_score: Some(t.maps[m].image_score),
        })
        .collect()
}

//! The evaluation report: top-level figures of the default method, per defect type, one block
//! per method, curves as CSV beside it, and a table for humans.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{BASELINE_PREFIX, EvalError, ScoredTest};
use crate::explain::MethodId;
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
    /// Scores each method of `method_ids` (the first stands at top level) from the maps the
    /// tests carry under its id; returns the report and every method's evaluation.
    pub fn build(
        tests: &[ScoredTest],
        method_ids: &[MethodId],
        notes: Vec<String>,
        stage: Option<usize>,
    ) -> Result<(Self, BTreeMap<MethodId, Evaluation>), EvalError> {
        let Some(&lead) = method_ids.first() else {
            return Err(EvalError::NoMethods);
        };
        let mut evaluations = BTreeMap::new();
        for &id in method_ids {
            let evaluation = evaluate(&scored_images(tests, id)?, PRO_LIMIT).map_err(|e| {
                EvalError::Metrics {
                    method: id.to_string(),
                    image: e.image_index().map(|i| tests[i].path.clone()),
                    reason: e.to_string(),
                }
            })?;
            evaluations.insert(id, evaluation);
        }
        let mut all_notes = notes;
        for id in method_ids {
            for note in &evaluations[id].notes {
                let note = format!("{id}: {note}");
                if !all_notes.contains(&note) {
                    all_notes.push(note);
                }
            }
        }
        let mut methods = BTreeMap::new();
        let mut baselines = BTreeMap::new();
        if method_ids.len() > 1 || stage.is_some() {
            for (id, e) in &evaluations {
                let block = MethodBlock {
                    overall: e.overall.clone(),
                    per_defect: e.per_defect.clone(),
                };
                let group = if id.as_str().starts_with(BASELINE_PREFIX) {
                    &mut baselines
                } else {
                    &mut methods
                };
                group.insert(id.to_string(), block);
            }
        }
        let report = Self {
            method: lead.to_string(),
            overall: evaluations[&lead].overall.clone(),
            per_defect: evaluations[&lead].per_defect.clone(),
            methods,
            baselines,
            notes: all_notes,
            stage,
        };
        Ok((report, evaluations))
    }

    /// Writes the report as JSON (atomically) and every method's curves beside it; returns the
    /// curve files.
    pub fn write(
        &self,
        path: &Path,
        evaluations: &BTreeMap<MethodId, Evaluation>,
    ) -> std::io::Result<Vec<PathBuf>> {
        let json = serde_json::to_vec_pretty(self).expect("report serialises");
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| crate::fsx::with_path(e, dir))?;
        crate::fsx::write_bytes_atomic(path, &json)?;
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        let mut written = Vec::new();
        for (id, evaluation) in evaluations {
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

/// The metrics' view of the maps of method `id`; an error names a test without one.
fn scored_images(tests: &[ScoredTest], id: MethodId) -> Result<Vec<ScoredImage<'_>>, EvalError> {
    tests
        .iter()
        .map(|t| {
            let map = t.maps.get(&id).ok_or_else(|| EvalError::Metrics {
                method: id.to_string(),
                image: Some(t.path.clone()),
                reason: "the image has no map of this method".into(),
            })?;
            Ok(ScoredImage {
                defect: &t.defect,
                width: t.width,
                height: t.height,
                scores: &map.scores,
                mask: t.mask.as_deref(),
                image_score: Some(map.image_score),
            })
        })
        .collect()
}

//! Metrics panel: the evaluation table (overall and per defect type), ROC and PRO curves with the
//! anomaly panel's threshold marked (one threshold, shared), F1-max's threshold as a one-click
//! suggestion, and the report export.

use eframe::egui;
use egui_plot::{Legend, Line, Plot, PlotPoints, Points, VLine};

use super::anomaly::AnomalyPanel;
use super::output_paths;
use super::shared::{Action, Shared, Write};
use crate::metrics::{CurvePoint, Figures};
use crate::render::{human, human32};

pub struct MetricsPanel;

/// The curve point whose threshold is the closest at or above `threshold` (the operating point
/// "anomalous when score >= threshold" reaches), or the last point.
pub fn point_at(curve: &[CurvePoint], threshold: f32) -> Option<CurvePoint> {
    curve
        .iter()
        .filter(|p| p.threshold.is_some_and(|t| t >= threshold))
        .min_by(|a, b| {
            a.threshold
                .unwrap_or(0.0)
                .total_cmp(&b.threshold.unwrap_or(0.0))
        })
        .or_else(|| curve.first())
        .copied()
}

fn cell(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), human)
}

fn row(ui: &mut egui::Ui, name: &str, f: &Figures) {
    ui.label(name);
    ui.label(cell(f.pixel_auroc));
    ui.label(cell(f.au_pro));
    ui.label(cell(f.image_auroc));
    ui.label(cell(f.f1_max));
    ui.label(f.f1_threshold.map_or("-".into(), human));
    ui.label(f.n_images.to_string());
    ui.end_row();
}

impl MetricsPanel {
    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared, anomaly: &mut AnomalyPanel) {
        let Some(set) = shared.scored.clone() else {
            ui.label(match shared.scoring {
                Some((done, total)) => format!("Scoring the test set: {done}/{total}..."),
                None => {
                    "No evaluation yet: it needs a model and a data set with a test split.".into()
                }
            });
            return;
        };
        ui.horizontal_wrapped(|ui| {
            ui.label("Method");
            for &id in &set.method_ids {
                let summary = crate::explain::anomaly_method(id.as_str()).map(|m| m.summary());
                ui.selectable_value(&mut anomaly.method, id, id.as_str())
                    .on_hover_text(summary.unwrap_or("a baseline"));
            }
            ui.separator();
            ui.label(format!("encoder stage {}", set.stage));
        });
        let Some(evaluation) = set.evaluations.get(&anomaly.method) else {
            ui.label("No figures for this method.");
            for note in &set.notes {
                ui.label(format!("note: {note}"));
            }
            return;
        };
        egui::Grid::new("figures").striped(true).show(ui, |ui| {
            for h in [
                "scope",
                "pixel AUROC",
                "AU-PRO@0.3",
                "image AUROC",
                "F1-max",
                "F1 threshold",
                "images",
            ] {
                ui.strong(h);
            }
            ui.end_row();
            row(ui, "(all)", &evaluation.overall);
            for (defect, f) in &evaluation.per_defect {
                row(ui, defect, f);
            }
        });
        let threshold = anomaly.threshold();
        ui.horizontal(|ui| {
            if let Some(t) = threshold {
                ui.label(format!(
                    "Current threshold: {} (shared with the Anomaly panel)",
                    human32(t)
                ));
            }
            if let Some(f1) = evaluation.overall.f1_threshold
                && ui
                    .button(format!("Use F1-max threshold ({})", human(f1)))
                    .on_hover_text("The threshold with the best pixel F1 over the test set")
                    .clicked()
            {
                anomaly.set_threshold(f1 as f32);
            }
            ui.separator();
            super::textures::labelled(
                ui,
                "Report file",
                egui::TextEdit::singleline(&mut shared.report_path).desired_width(220.0),
            )
            .on_hover_text("The JSON report; the ROC and PRO curves go beside it as CSV");
            if ui
                .button("Write report (JSON + CSV curves)")
                .on_hover_text("The same report as `vaelens eval --report`")
                .clicked()
            {
                let path = output_paths::typed_path(&shared.report_path);
                shared.actions.push(Action::Write(Write::Report(path)));
            }
        });
        let curves = &evaluation.curves;
        let width = (ui.available_width() / 2.0 - 10.0).max(200.0);
        let height = (ui.available_height() - 60.0).max(200.0);
        ui.horizontal_top(|ui| {
            for (title, curve, limit) in [
                ("Pixel ROC", &curves.roc, None),
                ("PRO", &curves.pro, Some(evaluation.pro_limit)),
            ] {
                ui.vertical(|ui| {
                    ui.strong(title);
                    let points: PlotPoints = curve.iter().map(|p| [p.fpr, p.y]).collect();
                    let marker = threshold.and_then(|t| point_at(curve, t));
                    Plot::new(title)
                        .width(width)
                        .height(height)
                        .legend(Legend::default())
                        .x_axis_label("false-positive rate")
                        .include_x(0.0)
                        .include_x(1.0)
                        .include_y(0.0)
                        .include_y(1.0)
                        .show(ui, |plot| {
                            plot.line(Line::new(title, points));
                            if let Some(limit) = limit {
                                plot.vline(
                                    VLine::new("FPR limit", limit).color(egui::Color32::GRAY),
                                );
                            }
                            if let Some(p) = marker {
                                plot.points(
                                    Points::new("threshold", vec![[p.fpr, p.y]])
                                        .radius(6.0)
                                        .color(egui::Color32::from_rgb(255, 200, 0)),
                                );
                            }
                        });
                    if let Some(p) = marker {
                        ui.small(format!(
                            "at the threshold: FPR {}, {} {}",
                            human(p.fpr),
                            if limit.is_some() { "PRO" } else { "TPR" },
                            human(p.y)
                        ));
                    }
                });
            }
        });
        for note in &set.notes {
            ui.small(format!("note: {note}"));
        }
    }
}

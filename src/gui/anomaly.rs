//! Anomaly panel: the selected test image's anomaly map (`gradcam-diff`, `gradcam-mu`, `recon`)
//! as a heat-map overlay, a threshold turning it into a predicted mask drawn live with the
//! ground-truth contour, per-image figures, and exports. The overlay is drawn by
//! `export::overlay_on`, the very code `vaelens export` uses.

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;
use image::RgbaImage;

use super::attention::colormap_combo;
use super::shared::{Action, Shared, Write};
use super::textures;
use crate::engine::ScoredSet;
use crate::eval::ScoredTest;
use crate::export::overlay_on;
use crate::map::FloatMap;
use crate::render::{Colormap, OverlayOptions, mask_from_threshold};

#[derive(Clone, PartialEq)]
struct RenderKey {
    set: usize,
    test: usize,
    method: usize,
    threshold: u32,
    cmap: Colormap,
    opacity_pct: u32,
    show_truth: bool,
}

/// Figures of the selected image at the current threshold.
#[derive(Debug, Clone, Default)]
pub struct ImageFigures {
    pub predicted_pixels: usize,
    pub truth_pixels: usize,
    pub overlap: usize,
    pub image_score: f64,
}

pub struct AnomalyPanel {
    /// Index into `ScoredSet::method_ids`.
    pub method: usize,
    /// Threshold per method (scores differ in scale between methods).
    pub thresholds: Vec<f32>,
    /// Score range per method over the test set: the slider's range.
    pub ranges: Vec<(f32, f32)>,
    pub cmap: Colormap,
    pub opacity: f32,
    pub show_truth: bool,
    pub figures: Option<ImageFigures>,
    pub export_path: String,
    pub export_dir: String,
    texture: Option<egui::TextureHandle>,
    original: Option<(usize, egui::TextureHandle)>,
    /// The selected test image as RGBA, so threshold drags do not re-read it from disk.
    base: Option<(std::path::PathBuf, RgbaImage)>,
    rendered: Option<RenderKey>,
}

impl Default for AnomalyPanel {
    fn default() -> Self {
        Self {
            method: 0,
            thresholds: Vec::new(),
            ranges: Vec::new(),
            cmap: Colormap::Turbo,
            opacity: 0.5,
            show_truth: true,
            figures: None,
            export_path: "exports/overlay.png".into(),
            export_dir: "exports/overlays".into(),
            texture: None,
            original: None,
            base: None,
            rendered: None,
        }
    }
}

impl AnomalyPanel {
    /// New maps: thresholds start at each method's F1-max threshold (or mid-range).
    pub fn on_scored(&mut self, set: &ScoredSet) {
        self.ranges = (0..set.method_ids.len())
            .map(|m| {
                let (lo, hi) = set
                    .tests
                    .iter()
                    .flat_map(|t| t.maps[m].scores.iter().copied())
                    .filter(|v| v.is_finite())
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
                        (lo.min(v), hi.max(v))
                    });
                if lo <= hi { (lo, hi) } else { (0.0, 1.0) }
            })
            .collect();
        self.thresholds = (0..set.method_ids.len())
            .map(|m| {
                set.evaluations
                    .get(m)
                    .and_then(|e| e.overall.f1_threshold)
                    .map(|t| t as f32)
                    .unwrap_or_else(|| 0.5 * (self.ranges[m].0 + self.ranges[m].1))
            })
            .collect();
        if self.method >= set.method_ids.len() {
            self.method = 0;
        }
        self.rendered = None;
    }

    pub fn threshold(&self) -> Option<f32> {
        self.thresholds.get(self.method).copied()
    }

    pub fn set_threshold(&mut self, t: f32) {
        if let Some(slot) = self.thresholds.get_mut(self.method) {
            *slot = t;
        }
    }

    pub fn overlay_options(&self) -> OverlayOptions {
        OverlayOptions {
            cmap: self.cmap,
            opacity: self.opacity,
            threshold: self.threshold(),
            ..OverlayOptions::default()
        }
    }

    fn selected_test<'a>(shared: &Shared, set: &'a ScoredSet) -> Option<(usize, &'a ScoredTest)> {
        let path = shared.selected.as_ref()?;
        set.tests.iter().enumerate().find(|(_, t)| &t.path == path)
    }

    /// The overlay of the selected image as exported (ground truth included when shown).
    pub fn current_overlay(&mut self, shared: &Shared) -> Option<RgbaImage> {
        let set = shared.scored.as_ref()?;
        let (_, test) = Self::selected_test(shared, set)?;
        if self
            .base
            .as_ref()
            .is_none_or(|(path, _)| path != &test.path)
        {
            let image = crate::data::load_image(&test.path).ok()?;
            self.base = Some((test.path.clone(), crate::render::to_rgba(&image)));
        }
        let (_, base) = self.base.as_ref()?;
        let options = self.overlay_options();
        overlay_on(base, test, self.method, &options, self.show_truth).ok()
    }

    fn figures(&self, test: &ScoredTest) -> ImageFigures {
        let scores = &test.maps[self.method];
        let map = FloatMap::from_raw(test.width, test.height, scores.scores.clone())
            .unwrap_or_else(|| FloatMap::new(test.width, test.height));
        let threshold = self.threshold().unwrap_or(f32::INFINITY);
        let (mask, predicted_pixels) = mask_from_threshold(&map, threshold);
        let (truth_pixels, overlap) = match &test.mask {
            Some(truth) => (
                truth.iter().filter(|&&t| t).count(),
                truth
                    .iter()
                    .zip(mask.as_raw())
                    .filter(|&(&t, &p)| t && p != 0)
                    .count(),
            ),
            None => (0, 0),
        };
        ImageFigures {
            predicted_pixels,
            truth_pixels,
            overlap,
            image_score: scores.image_score,
        }
    }

    fn render(
        &mut self,
        ctx: &egui::Context,
        shared: &mut Shared,
        set: &Arc<ScoredSet>,
        index: usize,
    ) {
        let key = RenderKey {
            set: Arc::as_ptr(set) as usize,
            test: index,
            method: self.method,
            threshold: self.threshold().unwrap_or(0.0).to_bits(),
            cmap: self.cmap,
            opacity_pct: (self.opacity * 100.0).round() as u32,
            show_truth: self.show_truth,
        };
        if self.rendered.as_ref() == Some(&key) {
            return;
        }
        let test = &set.tests[index];
        self.figures = Some(self.figures(test));
        match self.current_overlay(shared) {
            Some(img) => match &mut self.texture {
                Some(tex) => tex.set(textures::color_image(&img), egui::TextureOptions::LINEAR),
                None => self.texture = Some(textures::texture(ctx, "anomaly:overlay", &img)),
            },
            None => shared.error(format!("{}: cannot draw the overlay", test.path.display())),
        }
        if (self.original.as_ref().is_none_or(|(i, _)| *i != index)
            || self.rendered.as_ref().is_none_or(|r| r.set != key.set))
            && let Ok(img) = crate::data::load_image(&test.path)
        {
            let tex = textures::texture(ctx, "anomaly:original", &crate::render::to_rgba(&img));
            self.original = Some((index, tex));
        }
        self.rendered = Some(key);
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &mut Shared) {
        let Some(set) = shared.scored.clone() else {
            ui.label(match (&shared.model, &shared.data, shared.scoring) {
                (None, _, _) => {
                    "No model: train one in the Training panel or load a checkpoint.".to_string()
                }
                (_, Some(d), _) if d.category.test.is_empty() => {
                    "This data set has no test split (CAT/test/<defect>/): nothing to inspect."
                        .to_string()
                }
                (_, _, Some((done, total))) => {
                    format!("Computing anomaly maps: {done}/{total} test images...")
                }
                _ => "Waiting for anomaly maps...".to_string(),
            });
            return;
        };
        ui.horizontal_wrapped(|ui| {
            ui.label("Map");
            for (m, id) in set.method_ids.iter().enumerate() {
                ui.selectable_value(&mut self.method, m, *id);
            }
            ui.separator();
            colormap_combo(ui, &mut self.cmap);
            ui.add(egui::Slider::new(&mut self.opacity, 0.0..=1.0).text("Opacity"));
            ui.checkbox(&mut self.show_truth, "Ground-truth contour");
        });
        if let (Some(&(lo, hi)), Some(t)) = (
            self.ranges.get(self.method),
            self.thresholds.get_mut(self.method),
        ) {
            ui.horizontal(|ui| {
                ui.spacing_mut().slider_width = 420.0;
                ui.add(
                    egui::Slider::new(t, lo..=hi)
                        .text("Threshold")
                        .custom_formatter(|v, _| format!("{v:.4e}")),
                );
                if let Some(f1) = set
                    .evaluations
                    .get(self.method)
                    .and_then(|e| e.overall.f1_threshold)
                    && ui.button(format!("F1-max threshold ({f1:.4e})")).clicked()
                {
                    *t = f1 as f32;
                }
            });
        }
        let Some((index, test)) = Self::selected_test(shared, &set) else {
            ui.label("Pick a test image on the left (Up/Down step through them).");
            return;
        };
        let test = test.clone();
        self.render(ui.ctx(), shared, &set, index);
        ui.horizontal_top(|ui| {
            let side = (ui.available_height() - 80.0).clamp(200.0, 520.0);
            ui.vertical(|ui| {
                ui.strong("Image");
                if let Some((_, tex)) = &self.original {
                    textures::show(ui, tex, side * 0.6);
                }
            });
            ui.vertical(|ui| {
                ui.strong(format!(
                    "{} overlay: white = predicted mask, magenta = ground truth",
                    set.method_ids[self.method]
                ));
                if let Some(tex) = &self.texture {
                    textures::show(ui, tex, side);
                }
            });
            ui.vertical(|ui| {
                ui.strong("This image");
                ui.label(format!("{} / {}", test.defect, test.stem()));
                ui.label(format!("{} x {} px", test.width, test.height));
                if let Some(f) = &self.figures {
                    ui.label(format!("image score: {:.4e}", f.image_score));
                    ui.label(format!("predicted pixels: {}", f.predicted_pixels));
                    if test.mask.is_some() {
                        ui.label(format!("ground-truth pixels: {}", f.truth_pixels));
                        let union = f.predicted_pixels + f.truth_pixels - f.overlap;
                        ui.label(format!(
                            "IoU: {:.3}",
                            f.overlap as f64 / union.max(1) as f64
                        ));
                        ui.label(format!(
                            "pixel recall: {:.3}",
                            f.overlap as f64 / f.truth_pixels.max(1) as f64
                        ));
                    } else if test.defect == "good" {
                        ui.label("normal image: every predicted pixel is a false positive");
                    } else {
                        ui.label("no ground-truth mask");
                    }
                }
                ui.label("Image scores per method:");
                for (m, id) in set.method_ids.iter().enumerate() {
                    ui.label(format!("  {id}: {:.4e}", test.maps[m].image_score));
                }
                ui.separator();
                ui.strong("Export");
                textures::labelled(
                    ui,
                    "Overlay file",
                    egui::TextEdit::singleline(&mut self.export_path).desired_width(220.0),
                );
                if ui.button("Save this overlay (PNG)").clicked() {
                    let path = PathBuf::from(self.export_path.trim());
                    shared.actions.push(Action::Write(Write::Overlay(path)));
                }
                textures::labelled(
                    ui,
                    "Overlay folder",
                    egui::TextEdit::singleline(&mut self.export_dir).desired_width(220.0),
                );
                if ui.button("Export all test overlays").clicked() {
                    let dir = PathBuf::from(self.export_dir.trim());
                    shared.actions.push(Action::Write(Write::AllOverlays(dir)));
                }
                if let Some((done, total)) = shared.export {
                    ui.add(
                        egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                            .text(format!("{done}/{total}")),
                    );
                }
            });
        });
    }
}

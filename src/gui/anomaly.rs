//! Anomaly panel: the selected test image's anomaly map (`gradcam-diff`, `gradcam-mu`, `recon`)
//! as a heat-map overlay, a threshold turning it into a predicted mask drawn live with the
//! ground-truth contour, per-image figures, and exports; below it, the paper's map and the default
//! map side by side. Overlays are drawn by `export::overlay_on`, the very code `vaelens export` uses.

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;
use image::RgbaImage;

use super::attention::colormap_combo;
use super::shared::{Action, Shared, Write};
use super::textures;
use crate::engine::ScoredSet;
use crate::eval::ScoredTest;
use crate::explain::{DEFAULT_METHOD, anomaly_method};
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

impl ImageFigures {
    /// Intersection over union of the predicted and the ground-truth masks.
    pub fn iou(&self) -> f64 {
        let union = self.predicted_pixels + self.truth_pixels - self.overlap;
        self.overlap as f64 / union.max(1) as f64
    }
}

/// An overlay on screen, its figures, and what it was drawn from.
#[derive(Default)]
struct Overlay {
    texture: Option<egui::TextureHandle>,
    figures: Option<ImageFigures>,
    drawn: Option<RenderKey>,
}

/// The paper's map (SPEC §3 Eq. 4; its overall attention map `gradcam-mu` when Eq. 4 is itself
/// the default) and the default map, as indices into `set.method_ids`.
fn compared_methods(set: &ScoredSet) -> Option<[usize; 2]> {
    let paper = if DEFAULT_METHOD == "gradcam-diff" {
        "gradcam-mu"
    } else {
        "gradcam-diff"
    };
    let find = |id| set.method_ids.iter().position(|m| *m == id);
    Some([find(paper)?, find(DEFAULT_METHOD)?])
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
    /// Show the paper's map and the default map side by side.
    pub compare: bool,
    pub export_path: String,
    pub export_dir: String,
    /// The selected method's overlay, then the two compared maps.
    overlays: [Overlay; 3],
    /// The selected test image, keyed by scored set and test index.
    original: Option<((usize, usize), egui::TextureHandle)>,
    /// The selected test image as RGBA, so threshold drags do not re-read it from disk.
    base: Option<(std::path::PathBuf, RgbaImage)>,
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
            compare: true,
            export_path: "exports/overlay.png".into(),
            export_dir: "exports/overlays".into(),
            overlays: Default::default(),
            original: None,
            base: None,
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
        self.overlays = Default::default();
    }

    pub fn threshold(&self) -> Option<f32> {
        self.thresholds.get(self.method).copied()
    }

    pub fn set_threshold(&mut self, t: f32) {
        if let Some(slot) = self.thresholds.get_mut(self.method) {
            *slot = t;
        }
    }

    /// Figures of the selected image and method at the current threshold, once drawn.
    pub fn figures(&self) -> Option<&ImageFigures> {
        self.overlays[0].figures.as_ref()
    }

    pub fn overlay_options(&self) -> OverlayOptions {
        self.options_for(self.method)
    }

    fn options_for(&self, m: usize) -> OverlayOptions {
        OverlayOptions {
            cmap: self.cmap,
            opacity: self.opacity,
            threshold: self.thresholds.get(m).copied(),
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
        self.overlay_of(test, self.method)
    }

    /// The overlay of map `m` of `test`, at that method's threshold.
    fn overlay_of(&mut self, test: &ScoredTest, m: usize) -> Option<RgbaImage> {
        if self
            .base
            .as_ref()
            .is_none_or(|(path, _)| path != &test.path)
        {
            let image = crate::data::load_image(&test.path).ok()?;
            self.base = Some((test.path.clone(), crate::render::to_rgba(&image)));
        }
        let (_, base) = self.base.as_ref()?;
        overlay_on(base, test, m, &self.options_for(m), self.show_truth).ok()
    }

    fn figures_of(&self, test: &ScoredTest, m: usize) -> ImageFigures {
        let scores = &test.maps[m];
        let map = FloatMap::from_raw(test.width, test.height, scores.scores.clone())
            .unwrap_or_else(|| FloatMap::new(test.width, test.height));
        let threshold = self.thresholds.get(m).copied().unwrap_or(f32::INFINITY);
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

    /// Redraws the overlays on screen whose method, threshold or look changed.
    fn render(
        &mut self,
        ctx: &egui::Context,
        shared: &mut Shared,
        set: &Arc<ScoredSet>,
        index: usize,
    ) {
        let test = &set.tests[index];
        let shown = (Arc::as_ptr(set) as usize, index);
        if self.original.as_ref().is_none_or(|(key, _)| *key != shown)
            && let Ok(img) = crate::data::load_image(&test.path)
        {
            let tex = textures::texture(ctx, "anomaly:original", &crate::render::to_rgba(&img));
            self.original = Some((shown, tex));
        }
        let compared = compared_methods(set).filter(|_| self.compare);
        let methods = std::iter::once(self.method).chain(compared.into_iter().flatten());
        for (slot, m) in methods.enumerate() {
            let key = RenderKey {
                set: shown.0,
                test: index,
                method: m,
                threshold: self.thresholds.get(m).copied().unwrap_or(0.0).to_bits(),
                cmap: self.cmap,
                opacity_pct: (self.opacity * 100.0).round() as u32,
                show_truth: self.show_truth,
            };
            if self.overlays[slot].drawn.as_ref() == Some(&key) {
                continue;
            }
            let figures = self.figures_of(test, m);
            let img = self.overlay_of(test, m);
            let overlay = &mut self.overlays[slot];
            overlay.figures = Some(figures);
            overlay.drawn = Some(key);
            match (img, &mut overlay.texture) {
                (None, _) => {
                    shared.error(format!("{}: cannot draw the overlay", test.path.display()))
                }
                (Some(img), Some(tex)) => {
                    tex.set(textures::color_image(&img), egui::TextureOptions::LINEAR)
                }
                (Some(img), None) => {
                    overlay.texture = Some(textures::texture(ctx, format!("anomaly:{slot}"), &img))
                }
            }
        }
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
            ui.checkbox(&mut self.compare, "Compare paper's map with default");
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
        let compared = compared_methods(&set).filter(|_| self.compare);
        ui.horizontal_top(|ui| {
            let height = ui.available_height() - 80.0;
            // Leaves the comparison row below about 45% of the height.
            let side = if compared.is_some() {
                0.55 * height
            } else {
                height
            }
            .clamp(200.0, 520.0);
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
                if let Some(tex) = &self.overlays[0].texture {
                    textures::show(ui, tex, side);
                }
            });
            ui.vertical(|ui| {
                ui.strong("This image");
                ui.label(format!("{} / {}", test.defect, test.stem()));
                ui.label(format!("{} x {} px", test.width, test.height));
                if let Some(f) = self.figures() {
                    ui.label(format!("image score: {:.4e}", f.image_score));
                    ui.label(format!("predicted pixels: {}", f.predicted_pixels));
                    if test.mask.is_some() {
                        ui.label(format!("ground-truth pixels: {}", f.truth_pixels));
                        ui.label(format!("IoU: {:.3}", f.iou()));
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
        let Some(compared) = compared else {
            return;
        };
        ui.separator();
        let captions = [
            format!(
                "paper's map: {} (stage {})",
                set.method_ids[compared[0]], set.stage
            ),
            format!("default map: {}", set.method_ids[compared[1]]),
        ];
        ui.horizontal_top(|ui| {
            let side = (ui.available_height() - 50.0).clamp(160.0, 400.0);
            for ((m, overlay), caption) in
                compared.into_iter().zip(&self.overlays[1..]).zip(captions)
            {
                ui.vertical(|ui| {
                    let summary = anomaly_method(set.method_ids[m]).map(|a| a.summary());
                    ui.strong(caption)
                        .on_hover_text(summary.unwrap_or_default());
                    if let Some(tex) = &overlay.texture {
                        textures::show(ui, tex, side);
                    }
                    if let Some(f) = &overlay.figures {
                        let hits = match test.mask {
                            Some(_) => format!("IoU {:.3}", f.iou()),
                            None => format!("{} px flagged", f.predicted_pixels),
                        };
                        ui.label(format!(
                            "score {:.3e}, threshold {:.3e}, {hits}",
                            f.image_score, self.thresholds[m]
                        ));
                    }
                });
            }
        });
    }
}
